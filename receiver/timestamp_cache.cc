#include "receiver/timestamp_cache.h"

#include <cstring>

#include "receiver/parser.h"

namespace konseki::receiver {

namespace {

// a[0, n) == b[0, n) for n >= 8, eight bytes at a time (the last word
// overlaps the one before): a stamp is 14 to 25 bytes, and a call to memcmp
// cost as much as the rest of a lookup.
bool SameBytes(const char* a, const char* b, size_t n) {
  uint64_t x, y;
  for (size_t i = 0; i + 8 < n; i += 8) {
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    if (x != y) return false;
  }
  std::memcpy(&x, a + n - 8, 8);
  std::memcpy(&y, b + n - 8, 8);
  return x == y;
}

}  // namespace

size_t TimestampCache::Find(std::string_view text, MessageFormat format,
                            const ParserOptions& options, TimePoint received, TimePoint* t) const {
  for (unsigned k = 0; k < 2; ++k) {
    const Entry& e = entries_[newest_ ^ k];
    const size_t n = e.length;
    if (n == 0 || text.size() < n || (text.size() > n && text[n] != ' ')) continue;
    if (e.format != format || e.zone != options.local_zone ||
        e.default_utc_offset_secs != options.default_utc_offset_secs ||
        !e.span.Contains(received) || !SameBytes(text.data(), e.text, n)) {
      continue;
    }
    *t = e.t;
    return n;
  }
  return 0;
}

void TimestampCache::Store(std::string_view stamp, MessageFormat format,
                           const ParserOptions& options, const ReceivedSpan& span, TimePoint t) {
  if (stamp.size() < kMinText || stamp.size() > kMaxText) return;
  // A stamp with a fraction seldom repeats (RFC 5424 senders such as
  // rsyslog write microseconds): keeping it would cost a copy per line and
  // evict the whole-second stamps that do repeat.
  if (t.time_since_epoch() % std::chrono::seconds(1) != Duration::zero()) return;
  newest_ ^= 1;
  Entry& e = entries_[newest_];
  e.t = t;
  e.span = span;
  e.format = format;
  e.zone = options.local_zone;
  e.default_utc_offset_secs = options.default_utc_offset_secs;
  e.length = static_cast<uint8_t>(stamp.size());
  std::memcpy(e.text, stamp.data(), stamp.size());
}

}  // namespace konseki::receiver
