// A small owning handle on a libfastjson value, for the control socket's
// answers and the console commands (which also read alerts.jsonl). Strings
// are made valid UTF-8 on the way in (common/utf8.h), so a host name
// with stray bytes cannot produce invalid JSON.
#ifndef KONSEKI_APP_JSON_VALUE_H_
#define KONSEKI_APP_JSON_VALUE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct fjson_object;

namespace konseki::app {

// Copyable (copies share the value: libfastjson reference counting). Not
// thread-safe. A default-constructed JsonValue is JSON null. Getters on a
// missing key or a value of another type return the fallback.
class JsonValue {
 public:
  JsonValue() = default;
  ~JsonValue();
  JsonValue(const JsonValue& o);
  JsonValue& operator=(const JsonValue& o);

  static JsonValue Object();
  static JsonValue Array();
  // One JSON document (trailing whitespace allowed).
  static StatusOr<JsonValue> Parse(std::string_view text);

  // Object setters (the value replaces an existing key).
  JsonValue& Set(std::string_view key, const JsonValue& v);
  JsonValue& Set(std::string_view key, std::string_view v);
  JsonValue& Set(std::string_view key, const char* v) { return Set(key, std::string_view(v)); }
  JsonValue& Set(std::string_view key, const std::string& v) {
    return Set(key, std::string_view(v));
  }
  JsonValue& Set(std::string_view key, int64_t v);
  JsonValue& Set(std::string_view key, uint64_t v) { return Set(key, static_cast<int64_t>(v)); }
  JsonValue& Set(std::string_view key, int v) { return Set(key, static_cast<int64_t>(v)); }
  JsonValue& Set(std::string_view key, double v);
  JsonValue& Set(std::string_view key, bool v);
  // Array append.
  JsonValue& Append(const JsonValue& v);
  JsonValue& Append(std::string_view v);

  bool is_null() const { return obj_ == nullptr; }
  bool is_object() const;
  bool is_array() const;
  bool is_string() const;
  bool Has(std::string_view key) const;
  JsonValue Get(std::string_view key) const;  // null when missing
  std::string Str(std::string_view key, std::string_view fallback = "") const;
  double Num(std::string_view key, double fallback = 0) const;
  int64_t Int(std::string_view key, int64_t fallback = 0) const;
  bool Bool(std::string_view key, bool fallback = false) const;
  // This value as a string (numbers and booleans rendered as JSON).
  std::string AsString() const;
  size_t size() const;  // array length (0 for anything else)
  JsonValue At(size_t i) const;
  // Keys of an object, in insertion order.
  std::vector<std::string> Keys() const;

  // Compact JSON on one line.
  std::string Dump() const;

 private:
  explicit JsonValue(fjson_object* owned) : obj_(owned) {}
  JsonValue& Add(std::string_view key, fjson_object* owned);
  fjson_object* obj_ = nullptr;  // one reference owned
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_JSON_VALUE_H_
