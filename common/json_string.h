// The tree's one hand-written JSON string writer, for output built without
// libfastjson (check-rules / test-rules --json lines). Structured documents
// go through libfastjson (outputs/alert_json.h, app/json_value.h).
#ifndef KONSEKI_COMMON_JSON_STRING_H_
#define KONSEKI_COMMON_JSON_STRING_H_

#include <string>
#include <string_view>

namespace konseki {

// Appends s to *out as a quoted JSON string. Valid UTF-8 passes through;
// control characters (NUL included) and DEL are escaped; each byte of an
// invalid sequence becomes \ufffd, so the output is valid JSON whatever a sender
// wrote.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace konseki

#endif  // KONSEKI_COMMON_JSON_STRING_H_
