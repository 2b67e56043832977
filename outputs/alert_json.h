// One alert as one line of JSON (JSON Lines), built with libfastjson.
#ifndef KONSEKI_OUTPUTS_ALERT_JSON_H_
#define KONSEKI_OUTPUTS_ALERT_JSON_H_

#include <string>
#include <string_view>

#include "common/alert.h"
#include "common/utf8.h"

namespace konseki::outputs {

// A single-line JSON object without trailing newline and without spaces:
//   {"time":"2026-11-23T08:08:42.123456Z","received":"...","host":"...",
//    "sender":"...","rule":"...","sign":"...","severity":"high","title":"...",
//    "program":"...","pid":4242,"fields":{"user":"root","port":22,...},"message":"...",
//    "members":[{"host":"web1","file":"web1/2026-11-23.log","received":"..."},...]}
// members (correlation alerts only, absent otherwise) locate each line of the
// alert in the archive: <archive.dir>/<file>, at <received>; <file> is in
// the overflow folder ("%overflow-0/2026-11-23.log") for a line the archive
// wrote there (AlertMember::overflow_worker).
// An alert raised after its line, when a wait for an answer ended
// (Alert::decided: a rule's pending_secs, or a correlation's alert in such
// a rule's place), also has
//   "decided":"2026-11-23T08:09:42.123456Z",
//   "origin":{"host":"web1","time":"...","received":"...","message":"..."}
// (after "message"): the line that caused it, the same as the alert's own
// time, received, host and message, which are always that line's, and the
// instant its wait ended (the answering line's receive time, or
// pending_secs after the line). Neither key is present on an alert raised
// on its own line.
// Times are RFC 3339 UTC with microseconds. Every other key is always
// present (empty strings when unknown). Each key has one JSON type whatever
// the line held, so a typed consumer (a SIEM's index mapping) never gets two:
// "pid" is a number and is present only when the line has a numeric process
// id ("sshd[811]:"); a non-numeric one (RFC 5424 PROCID "worker.1", "[abc]")
// is the string "procid" instead; a line without one ("sshd:", RFC 5424 "-")
// has neither key. Field values that are JSON numbers as written
// ("22", "-1", "301.5", not "0022") and "true"/"false" are JSON numbers and
// booleans, so jq and SIEMs compare them as such. The only "host" is the log host: a rule
// field named host is written as remote_host. When a field name repeats, the
// last value wins.
//
// The output is always valid UTF-8 JSON whatever the alert holds: control
// characters are escaped by libfastjson ("\n", "\u0001"), and because
// libfastjson copies other bytes verbatim and stops at NUL, every invalid
// UTF-8 sequence (stray continuation byte, overlong form, surrogate, code
// point above U+10FFFF, truncated sequence) and every NUL byte is replaced by
// U+FFFD before encoding. The raw bytes stay in the archive.
std::string AlertToJson(const Alert& alert);

// The replacement of invalid UTF-8 is AppendValidUtf8 (common/utf8.h).

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ALERT_JSON_H_
