// The parser chain: try RFC 5424, fall back to RFC 3164 (as real senders
// write it), fall back to an unparsed message kept whole. Then what a relay
// or an old syslogd wrapped around the daemon's text comes off msg (raw keeps
// every byte): a log file's whole line sent as the text (rsyslog imfile:
// tag, pid, text and stamp are the line's), rsyslog's "message repeated N
// times: [text]" (msg = text, repeats = N) and Solaris' "[ID 800047
// auth.notice] " prefix. Pure: no I/O, no allocation, no clock (year
// inference uses the receive time).
#ifndef KONSEKI_RECEIVER_PARSER_H_
#define KONSEKI_RECEIVER_PARSER_H_

#include <cstdint>
#include <string_view>

#include "common/clock.h"
#include "common/message.h"
#include "receiver/local_zone.h"

namespace konseki::receiver {

class TimestampCache;
class ZoneMap;

struct ParserOptions {
  // Offset from UTC, in seconds, assumed for RFC 3164 timestamps that carry
  // no zone ("Mar  7 18:53:20"). The app sets it to the host's local offset.
  int default_utc_offset_secs = 0;
  // parser.timezone: local. When set, zoneless RFC 3164 stamps get the
  // offset the zone's rules give for their wall time (daylight saving
  // included) instead of default_utc_offset_secs. Not owned; must outlive
  // the parser.
  const LocalZone* local_zone = nullptr;
  // parser.timezones: senders whose zoneless RFC 3164 stamps are read in
  // another zone than the two above (by the line's HOST or the sender's
  // network; receiver/zone_map.h). Null or empty: none. Not owned; must
  // outlive the parser.
  const ZoneMap* zones = nullptr;
  // Check that parsed messages are valid UTF-8 and set ParseIssue::kInvalidUtf8
  // (a count hint only: bytes are never altered) when they are not and no
  // other issue was found. Costs one pass over the bytes.
  bool validate_utf8 = true;
};

// Thread-safe (const, stateless apart from options).
class Parser {
 public:
  explicit Parser(const ParserOptions& options = {}) : options_(options) {}

  // Never fails. Fills every field of *out except sender (the caller's);
  // all views point into `bytes`, which must outlive *out. `received` is
  // stored in out->received and used for year inference and as the
  // timestamp when the header has none.
  void Parse(std::string_view bytes, TimePoint received, Message* out) const {
    Parse(bytes, received, nullptr, out);
  }
  // The same, with the timestamps this thread read lately in `cache` (may be
  // null): a line stamped as a recent one skips reading its stamp. The
  // result is the same with and without it. One cache per thread.
  void Parse(std::string_view bytes, TimePoint received, TimestampCache* cache,
             Message* out) const {
    out->sender = {};
    ParseKeepingSender(bytes, received, cache, out);
  }
  // The same for a line from peer `sender` (address text; out->sender is
  // set to it), which options.zones may map to a zone of its own.
  void Parse(std::string_view bytes, TimePoint received, std::string_view sender,
             TimestampCache* cache, Message* out) const {
    out->sender = sender;
    ParseKeepingSender(bytes, received, cache, out);
  }

  const ParserOptions& options() const { return options_; }

 private:
  // Parse with out->sender kept (four arguments: all in registers).
  void ParseKeepingSender(std::string_view bytes, TimePoint received, TimestampCache* cache,
                          Message* out) const;

  ParserOptions options_;
};

// A repeat notice: the text a syslogd writes, after N lines identical to the
// one before, in place of them; it names the earlier line only by being
// the host's next (app/worker.cc replays that line N times):
//   "last message repeated 5 times"          sysklogd, BSD syslogd (FreeBSD
//                                            as program "syslogd"), rsyslog's
//                                            old form under the line's own tag
//   "--- last message repeated 1 time ---"   macOS syslogd
//   "Last message 'Failed password for ' repeated 5 times, suppressed by
//    syslog-ng on HOST"                      syslog-ng's suppress(): the first
//                                            20 bytes of the line's text
// `msg` is a Message's msg (one leading space is skipped). On a notice:
// true, *count = N (>= 1), *quoted = syslog-ng's quoted text (else empty).
bool ReadRepeatNotice(std::string_view msg, uint32_t* count, std::string_view* quoted);

// Whether `msg` can be a repeat notice at all: it starts with "last",
// "Last" or "--- last" (after one space): a byte or two compared, for
// every line, before ReadRepeatNotice reads it.
inline bool MayBeRepeatNotice(std::string_view msg) {
  auto starts = [](char c) { return (c | 0x20) == 'l' || c == '-'; };
  return !msg.empty() && (starts(msg[0]) || (msg[0] == ' ' && msg.size() > 1 && starts(msg[1])));
}

// Whether a notice (`quoted` from ReadRepeatNotice) can stand for
// `earlier`, its host's line before it (the caller compares the hosts):
// under the same program unless the notice's tag is syslogd's (FreeBSD) or
// absent (sysklogd), and with syslog-ng's quoted start of the text.
bool RepeatNoticeFits(const Message& notice, const Message& earlier, std::string_view quoted);

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_PARSER_H_
