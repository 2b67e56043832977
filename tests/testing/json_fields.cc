#include "tests/testing/json_fields.h"

#include <libfastjson/json.h>

namespace konseki::testing {

std::string JsonString(const std::string& json, const char* key) {
  fjson_object* root = fjson_tokener_parse(json.c_str());
  if (root == nullptr) return "<invalid json>";
  fjson_object* v = nullptr;
  std::string out = "<missing>";
  if (fjson_object_object_get_ex(root, key, &v)) out = fjson_object_get_string(v);
  fjson_object_put(root);
  return out;
}

}  // namespace konseki::testing
