#include "outputs/alert_json.h"

#include <libfastjson/json.h>

#include <climits>
#include <cstdlib>
#include <memory>

#include "common/utf8.h"
#include "outputs/archive_budget.h"
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

// True for text that is a JSON number as written: -?(0|[1-9][0-9]*)(.[0-9]+)?
// ([eE][+-]?[0-9]+)?, at most 20 characters ("0022", "1.", "+1" and "NaN"
// stay strings: their text would change).
bool IsJsonNumber(std::string_view v, bool* integer) {
  if (v.empty() || v.size() > 20) return false;
  size_t i = v[0] == '-' ? 1 : 0;
  auto digits = [&] {
    size_t start = i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
    return i - start;
  };
  const size_t int_start = i;
  const size_t int_digits = digits();
  if (int_digits == 0 || (int_digits > 1 && v[int_start] == '0')) return false;
  *integer = true;
  if (i < v.size() && v[i] == '.') {
    ++i;
    if (digits() == 0) return false;
    *integer = false;
  }
  if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
    if (digits() == 0) return false;
    *integer = false;
  }
  return i == v.size();
}

// A process id that fits an int64: 1 to 18 digits, no sign, no leading zero
// (those would not be written back as received).
bool IsPid(std::string_view v) {
  bool integer = false;
  return v.size() <= 18 && !v.empty() && v[0] != '-' && IsJsonNumber(v, &integer) && integer;
}

// A field value as JSON: numbers and booleans typed, the rest strings.
JsonPtr Typed(std::string_view v, std::string* scratch) {
  if (v == "true" || v == "false") return JsonPtr(fjson_object_new_boolean(v == "true"));
  bool integer = false;
  if (IsJsonNumber(v, &integer)) {
    scratch->assign(v);
    if (integer && v.size() <= 18) {
      return JsonPtr(fjson_object_new_int64(std::strtoll(scratch->c_str(), nullptr, 10)));
    }
    // Written back exactly as received.
    return JsonPtr(
        fjson_object_new_double_s(std::strtod(scratch->c_str(), nullptr), scratch->c_str()));
  }
  return String(v, scratch);
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
  // One type per key for typed consumers (a SIEM's index mapping): "pid" is
  // always a number, "procid" always a string, and a line without one has
  // neither key.
  if (IsPid(a.pid)) {
    Add(obj.get(), "pid", Typed(a.pid, &scratch), &scratch);
  } else if (!a.pid.empty() && a.pid != "-") {
    Add(obj.get(), "procid", String(a.pid, &scratch), &scratch);
  }
  JsonPtr fields(fjson_object_new_object());
  for (const auto& [name, value] : a.fields) {
    // One "host" per alert: the log host. A rule's field of that name (the
    // remote peer in tcpd or postfix lines) is written as remote_host.
    Add(fields.get(), name == "host" ? std::string_view("remote_host") : std::string_view(name),
        Typed(value, &scratch), &scratch);
  }
  Add(obj.get(), "fields", std::move(fields), &scratch);
  Add(obj.get(), "message", String(a.message, &scratch), &scratch);
  if (a.decided != TimePoint{}) {
    // Raised after its line (a wait for an answer): the line that caused
    // it, named as such, and when the wait ended.
    Add(obj.get(), "decided", String(FormatRfc3339Micros(a.decided), &scratch), &scratch);
    JsonPtr origin(fjson_object_new_object());
    Add(origin.get(), "host", String(a.host, &scratch), &scratch);
    Add(origin.get(), "time", String(FormatRfc3339Micros(a.time), &scratch), &scratch);
    Add(origin.get(), "received", String(FormatRfc3339Micros(a.received), &scratch), &scratch);
    Add(origin.get(), "message", String(a.message, &scratch), &scratch);
    Add(obj.get(), "origin", std::move(origin), &scratch);
  }
  if (!a.members.empty()) {
    // Where each line of a correlation alert is in the archive.
    JsonPtr members(fjson_object_new_array());
    for (const AlertMember& m : a.members) {
      JsonPtr member(fjson_object_new_object());
      Add(member.get(), "host", String(m.host, &scratch), &scratch);
      // The folder the archive really wrote the line to: a host past
      // archive.max_hosts has no folder of its own.
      const std::string folder = m.overflow_worker >= 0
                                     ? OverflowFolder(static_cast<size_t>(m.overflow_worker))
                                     : SanitizedHost(m.host);
      Add(member.get(), "file", String(folder + "/" + FormatUtcDate(m.received) + ".log", &scratch),
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
