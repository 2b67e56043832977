#include "outputs/alert_json.h"

#include <libfastjson/json.h>

#include <climits>
#include <memory>

#include "common/utf8.h"
#include "outputs/host_path.h"

namespace konseki::outputs {
namespace {

struct JsonPut {
  void operator()(fjson_object* o) const { fjson_object_put(o); }
};
// Owns one reference to an fjson_object.
using JsonPtr = std::unique_ptr<fjson_object, JsonPut>;

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
  if (!a.members.empty()) {
    // Where each line of a correlation alert is in the archive.
    JsonPtr members(fjson_object_new_array());
    for (const AlertMember& m : a.members) {
      JsonPtr member(fjson_object_new_object());
      Add(member.get(), "host", String(m.host, &scratch), &scratch);
      Add(member.get(), "file",
          String(SanitizedHost(m.host) + "/" + FormatUtcDate(m.received) + ".log", &scratch),
          &scratch);
      Add(member.get(), "received", String(FormatRfc3339Micros(m.received), &scratch), &scratch);
      fjson_object_array_add(members.get(), member.release());
    }
    Add(obj.get(), "members", std::move(members), &scratch);
  }
  // The returned text is owned by obj.
  return std::string(fjson_object_to_json_string_ext(obj.get(), FJSON_TO_STRING_PLAIN));
}

}  // namespace konseki::outputs
