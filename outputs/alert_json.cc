#include "outputs/alert_json.h"

#include <libfastjson/json.h>

#include <climits>
#include <memory>

namespace konseki::outputs {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

struct JsonPut {
  void operator()(fjson_object* o) const { fjson_object_put(o); }
};
// Owns one reference to an fjson_object.
using JsonPtr = std::unique_ptr<fjson_object, JsonPut>;

// Length of the valid UTF-8 sequence starting at p[0] (n bytes available),
// or 0 when it is invalid (or NUL, which libfastjson cannot carry).
size_t ValidSequence(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  if (c == 0) return 0;
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // no overlong
    if (c == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    return 0;
  }
  if (n < 2 || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if (i >= n || (p[i] & 0xC0) != 0x80) return 0;
  }
  return len;
}

// Bytes of the maximal invalid subpart at p (at least 1): a lead byte plus
// the continuation bytes that were still acceptable.
size_t InvalidSubpart(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  unsigned char lo = 0x80, hi = 0xBF;
  size_t len;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 1;
  }
  size_t i = 1;
  if (i < n && p[i] >= lo && p[i] <= hi) {
    ++i;
    while (i < len && i < n && (p[i] & 0xC0) == 0x80) ++i;
  }
  return i;
}

JsonPtr String(std::string_view s, std::string* scratch) {
  scratch->clear();
  AppendValidUtf8(s, scratch);
  int len =
      scratch->size() > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(scratch->size());
  return JsonPtr(fjson_object_new_string_len(scratch->data(), len));
}

void Add(fjson_object* obj, std::string_view key, JsonPtr value, std::string* scratch) {
  scratch->clear();
  AppendValidUtf8(key, scratch);
  // object_add takes over the reference.
  fjson_object_object_add(obj, scratch->c_str(), value.release());
}

}  // namespace

void AppendValidUtf8(std::string_view s, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t start = 0;
  size_t i = 0;
  while (i < n) {
    if (p[i] >= 0x01 && p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = ValidSequence(p + i, n - i);
    if (len > 0) {
      i += len;
      continue;
    }
    out->append(s.data() + start, i - start);
    out->append(kReplacement);
    i += InvalidSubpart(p + i, n - i);
    start = i;
  }
  out->append(s.data() + start, n - start);
}

std::string AlertToJson(const Alert& a) {
  std::string scratch;
  JsonPtr obj(fjson_object_new_object());
  Add(obj.get(), "time", String(FormatRfc3339Micros(a.time), &scratch), &scratch);
  Add(obj.get(), "received", String(FormatRfc3339Micros(a.received), &scratch), &scratch);
  Add(obj.get(), "host", String(a.host, &scratch), &scratch);
  Add(obj.get(), "sender", String(a.sender, &scratch), &scratch);
  Add(obj.get(), "rule", String(a.rule, &scratch), &scratch);
  Add(obj.get(), "sign", String(a.sign, &scratch), &scratch);
  Add(obj.get(), "severity", String(SeverityName(a.severity), &scratch), &scratch);
  Add(obj.get(), "title", String(a.title, &scratch), &scratch);
  Add(obj.get(), "program", String(a.program, &scratch), &scratch);
  Add(obj.get(), "pid", String(a.pid, &scratch), &scratch);
  JsonPtr fields(fjson_object_new_object());
  for (const auto& [name, value] : a.fields) {
    Add(fields.get(), name, String(value, &scratch), &scratch);
  }
  Add(obj.get(), "fields", std::move(fields), &scratch);
  Add(obj.get(), "message", String(a.message, &scratch), &scratch);
  // The returned text is owned by obj.
  return std::string(fjson_object_to_json_string_ext(obj.get(), FJSON_TO_STRING_PLAIN));
}

}  // namespace konseki::outputs
