#include "app/json_value.h"

#include <libfastjson/json.h>
#include <libfastjson/json_object_iterator.h>

#include <climits>
#include <cstdlib>

#include "common/utf8.h"

namespace konseki::app {
namespace {

fjson_object* NewString(std::string_view s) {
  std::string valid;
  AppendValidUtf8(s, &valid);
  int len = valid.size() > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(valid.size());
  return fjson_object_new_string_len(valid.data(), len);
}

fjson_object* Field(fjson_object* obj, std::string_view key) {
  if (obj == nullptr || fjson_object_get_type(obj) != fjson_type_object) return nullptr;
  fjson_object* v = nullptr;
  if (!fjson_object_object_get_ex(obj, std::string(key).c_str(), &v)) return nullptr;
  return v;
}

}  // namespace

JsonValue::~JsonValue() {
  if (obj_ != nullptr) fjson_object_put(obj_);
}

JsonValue::JsonValue(const JsonValue& o) : obj_(o.obj_ ? fjson_object_get(o.obj_) : nullptr) {}

JsonValue& JsonValue::operator=(const JsonValue& o) {
  if (this != &o) {
    fjson_object* n = o.obj_ ? fjson_object_get(o.obj_) : nullptr;
    if (obj_ != nullptr) fjson_object_put(obj_);
    obj_ = n;
  }
  return *this;
}

JsonValue JsonValue::Object() { return JsonValue(fjson_object_new_object()); }
JsonValue JsonValue::Array() { return JsonValue(fjson_object_new_array()); }

StatusOr<JsonValue> JsonValue::Parse(std::string_view text) {
  fjson_tokener* tok = fjson_tokener_new();
  if (tok == nullptr) return Status::Internal("out of memory");
  int len = text.size() > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(text.size());
  fjson_object* obj = fjson_tokener_parse_ex(tok, text.data(), len);
  fjson_tokener_error err = fjson_tokener_get_error(tok);
  size_t used = static_cast<size_t>(tok->char_offset);
  fjson_tokener_free(tok);
  if (err != fjson_tokener_success || obj == nullptr) {
    if (obj != nullptr) fjson_object_put(obj);
    return Status::InvalidArgument(
        std::string("invalid JSON: ") +
        fjson_tokener_error_desc(err == fjson_tokener_success ? fjson_tokener_continue : err));
  }
  JsonValue v(obj);
  if (text.find_first_not_of(" \t\r\n", used) != std::string_view::npos) {
    return Status::InvalidArgument("invalid JSON: text after the value");
  }
  return v;
}

JsonValue& JsonValue::Add(std::string_view key, fjson_object* owned) {
  if (obj_ == nullptr) obj_ = fjson_object_new_object();
  std::string k;
  AppendValidUtf8(key, &k);
  fjson_object_object_add(obj_, k.c_str(), owned);
  return *this;
}

JsonValue& JsonValue::Set(std::string_view key, const JsonValue& v) {
  return Add(key, v.obj_ ? fjson_object_get(v.obj_) : nullptr);
}
JsonValue& JsonValue::Set(std::string_view key, std::string_view v) {
  return Add(key, NewString(v));
}
JsonValue& JsonValue::Set(std::string_view key, int64_t v) {
  return Add(key, fjson_object_new_int64(v));
}
JsonValue& JsonValue::Set(std::string_view key, double v) {
  return Add(key, fjson_object_new_double(v));
}
JsonValue& JsonValue::Set(std::string_view key, bool v) {
  return Add(key, fjson_object_new_boolean(v ? 1 : 0));
}

JsonValue& JsonValue::Append(const JsonValue& v) {
  if (obj_ == nullptr) obj_ = fjson_object_new_array();
  fjson_object_array_add(obj_, v.obj_ ? fjson_object_get(v.obj_) : nullptr);
  return *this;
}
JsonValue& JsonValue::Append(std::string_view v) {
  if (obj_ == nullptr) obj_ = fjson_object_new_array();
  fjson_object_array_add(obj_, NewString(v));
  return *this;
}

bool JsonValue::is_object() const {
  return obj_ != nullptr && fjson_object_get_type(obj_) == fjson_type_object;
}
bool JsonValue::is_array() const {
  return obj_ != nullptr && fjson_object_get_type(obj_) == fjson_type_array;
}
bool JsonValue::is_string() const {
  return obj_ != nullptr && fjson_object_get_type(obj_) == fjson_type_string;
}
bool JsonValue::Has(std::string_view key) const { return Field(obj_, key) != nullptr; }

JsonValue JsonValue::Get(std::string_view key) const {
  fjson_object* v = Field(obj_, key);
  return v ? JsonValue(fjson_object_get(v)) : JsonValue();
}

std::string JsonValue::Str(std::string_view key, std::string_view fallback) const {
  fjson_object* v = Field(obj_, key);
  if (v == nullptr) return std::string(fallback);
  return JsonValue(fjson_object_get(v)).AsString();
}

double JsonValue::Num(std::string_view key, double fallback) const {
  fjson_object* v = Field(obj_, key);
  if (v == nullptr) return fallback;
  switch (fjson_object_get_type(v)) {
    case fjson_type_int:
    case fjson_type_double:
      return fjson_object_get_double(v);
    case fjson_type_string: {
      // Alert files written before numbers were numbers hold "12".
      const char* s = fjson_object_get_string(v);
      char* end = nullptr;
      double d = std::strtod(s, &end);
      return end != s && *end == '\0' ? d : fallback;
    }
    default:
      return fallback;
  }
}

int64_t JsonValue::Int(std::string_view key, int64_t fallback) const {
  return static_cast<int64_t>(Num(key, static_cast<double>(fallback)));
}

bool JsonValue::Bool(std::string_view key, bool fallback) const {
  fjson_object* v = Field(obj_, key);
  if (v == nullptr || fjson_object_get_type(v) != fjson_type_boolean) return fallback;
  return fjson_object_get_boolean(v) != 0;
}

std::string JsonValue::AsString() const {
  if (obj_ == nullptr) return "";
  if (fjson_object_get_type(obj_) == fjson_type_string) {
    return std::string(fjson_object_get_string(obj_),
                       static_cast<size_t>(fjson_object_get_string_len(obj_)));
  }
  return Dump();
}

size_t JsonValue::size() const {
  return is_array() ? static_cast<size_t>(fjson_object_array_length(obj_)) : 0;
}

JsonValue JsonValue::At(size_t i) const {
  if (i >= size()) return JsonValue();
  fjson_object* v = fjson_object_array_get_idx(obj_, static_cast<int>(i));
  return v ? JsonValue(fjson_object_get(v)) : JsonValue();
}

std::vector<std::string> JsonValue::Keys() const {
  std::vector<std::string> keys;
  if (!is_object()) return keys;
  fjson_object_iterator it = fjson_object_iter_begin(obj_);
  const fjson_object_iterator end = fjson_object_iter_end(obj_);
  for (; !fjson_object_iter_equal(&it, &end); fjson_object_iter_next(&it)) {
    keys.emplace_back(fjson_object_iter_peek_name(&it));
  }
  return keys;
}

std::string JsonValue::Dump() const {
  if (obj_ == nullptr) return "null";
  return fjson_object_to_json_string_ext(obj_, FJSON_TO_STRING_PLAIN);
}

}  // namespace konseki::app
