// Reading what the sinks sent: one string member of a JSON object text.
#ifndef KONSEKI_TESTS_TESTING_JSON_FIELDS_H_
#define KONSEKI_TESTS_TESTING_JSON_FIELDS_H_

#include <string>

namespace konseki::testing {

// The string value of `key` in the JSON object `json` (numbers and booleans
// as JSON text), "<missing>" when absent, "<invalid json>" when json does
// not parse.
std::string JsonString(const std::string& json, const char* key);

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_TESTING_JSON_FIELDS_H_
