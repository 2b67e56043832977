// The last timestamps the Parser read on one thread, so a line carrying the
// same stamp text as a recent one skips reading and resolving it. Senders
// stamp whole seconds, so at any real rate most lines repeat a recent stamp;
// reading an RFC 3164 stamp and guessing its year cost ~520 instructions per
// line in the Router (issue 17, callgrind on bench/worker_bench), a hit ~60.
// RFC 5424 senders that write fractions (rsyslog: microseconds) share the
// second: an ISO stamp is kept without its fraction and found with any.
//
// An entry holds the stamp's exact bytes, the parser settings that give them
// their meaning (local zone, default offset), the instant they resolved to,
// and the receive times for which that answer holds (the year guess and the
// local zone's offset depend on the receive time; see ReceivedSpan). A hit
// is exactly what reading the stamp again would give:
// tests/receiver/timestamp_cache_test.cc parses the same lines with and
// without a cache and compares.
//
// Not thread-safe: one per thread (each Router owns one).
#ifndef KONSEKI_RECEIVER_TIMESTAMP_CACHE_H_
#define KONSEKI_RECEIVER_TIMESTAMP_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/clock.h"
#include "common/message.h"
#include "receiver/timestamp.h"
#include "receiver/zone_map.h"

namespace konseki::receiver {

class LocalZone;
struct ParserOptions;

class TimestampCache {
 public:
  // Stamps outside these lengths are read every time (none is shorter than
  // "Dec 2 08:00:00"; whole-second stamps are at most 25 bytes:
  // "2026-11-23T08:00:00+09:00").
  static constexpr size_t kMinText = 8;
  static constexpr size_t kMaxText = 40;

  // If `text` starts with a stamp stored for `format` under these options
  // whose span holds `received`, and the stamp is followed by the end of
  // `text` or a space, returns the stamp's length and sets *t. An ISO stamp
  // is found with any fraction after its seconds ("...T08:00:00.123456Z"
  // for a stored "...T08:00:00Z"). Otherwise returns 0. (The two formats
  // read stamps differently: an RFC 3164 stamp may take a ':' after it.)
  size_t Find(std::string_view text, MessageFormat format, const ParserOptions& options,
              TimePoint received, TimePoint* t) const;

  // Remembers that `stamp`, read under `options` and followed by a space or
  // the end of its line, is the instant `t` for every receive time in
  // `span`. Precondition: that is what the parser reads for such a line (the
  // stamp's bytes and the space after them decide the reading). Replaces the
  // older of the two entries. An ISO stamp is kept as its whole second
  // (fraction removed); another stamp that is not a whole second is not kept
  // (it seldom repeats), nor one longer than kMaxText.
  void Store(std::string_view stamp, MessageFormat format, const ParserOptions& options,
             const ReceivedSpan& span, TimePoint t);

  // The thread's memo of parser.timezones' last sender network match.
  ZoneMap::Memo& zone_memo() { return zone_memo_; }

 private:
  struct Entry {
    TimePoint t;
    ReceivedSpan span;
    const LocalZone* zone = nullptr;
    int default_utc_offset_secs = 0;
    MessageFormat format = MessageFormat::kUnparsed;
    bool iso = false;    // text is an ISO stamp without its fraction
    uint8_t length = 0;  // 0: empty
    char text[kMaxText];
  };
  // Find for an ISO entry and a text with a fraction after the same second
  // (its first 19 bytes are the entry's).
  static size_t FindWithFraction(const Entry& e, std::string_view text, TimePoint* t);

  // Two entries: senders whose clocks are a second apart, interleaved in one
  // UDP wake-up, do not evict each other on every line.
  Entry entries_[2];
  uint8_t newest_ = 0;
  ZoneMap::Memo zone_memo_;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_TIMESTAMP_CACHE_H_
