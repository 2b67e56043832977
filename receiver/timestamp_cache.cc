#include "receiver/timestamp_cache.h"

#include <cstring>

#include "common/same_bytes.h"
#include "receiver/parser.h"

namespace konseki::receiver {

namespace {

constexpr size_t kIsoSeconds = 19;  // "YYYY-MM-DDThh:mm:ss", the fraction after

// An RFC 3339 / ISO stamp ("2026-": a BSD stamp with a year has a space at
// [4]); its fraction, if any, starts at kIsoSeconds.
bool IsIso(std::string_view s) { return s.size() >= kIsoSeconds && s[4] == '-'; }

bool HasIsoFraction(std::string_view s) {
  return s.size() > kIsoSeconds && (s[kIsoSeconds] == '.' || s[kIsoSeconds] == ',');
}

// The fraction at s[kIsoSeconds] as ReadIsoTimestamp reads it: nine digits
// kept, more read and dropped. Returns the bytes it takes, 0 without a digit.
size_t ReadNanos(std::string_view s, uint32_t* nanos) {
  size_t p = kIsoSeconds + 1;
  uint32_t v = 0;
  int digits = 0;
  for (; p < s.size() && s[p] >= '0' && s[p] <= '9'; ++p) {
    if (digits < 9) {
      v = v * 10 + static_cast<uint32_t>(s[p] - '0');
      ++digits;
    }
  }
  if (digits == 0) return 0;
  for (; digits < 9; ++digits) v *= 10;
  *nanos = v;
  return p - kIsoSeconds;
}

}  // namespace

size_t TimestampCache::Find(std::string_view text, MessageFormat format,
                            const ParserOptions& options, TimePoint received, TimePoint* t) const {
  for (unsigned k = 0; k < 2; ++k) {
    const Entry& e = entries_[newest_ ^ k];
    const size_t n = e.length;
    if (n == 0 || e.format != format || e.zone != options.local_zone ||
        e.default_utc_offset_secs != options.default_utc_offset_secs ||
        !e.span.Contains(received)) {
      continue;
    }
    if (e.iso && HasIsoFraction(text)) {
      if (!SameBytes8(text.data(), e.text, kIsoSeconds)) continue;  // another second
      if (const size_t len = FindWithFraction(e, text, t); len > 0) return len;
      continue;
    }
    if (text.size() < n || (text.size() > n && text[n] != ' ') ||
        !SameBytes8(text.data(), e.text, n)) {
      continue;
    }
    *t = e.t;
    return n;
  }
  return 0;
}

size_t TimestampCache::FindWithFraction(const Entry& e, std::string_view text, TimePoint* t) {
  // The entry's second with a fraction (RFC 5424 senders write
  // microseconds): the same bytes before and after it, plus the fraction.
  const size_t n = e.length;
  uint32_t nanos = 0;
  const size_t fraction = ReadNanos(text, &nanos);
  const size_t len = n + fraction;
  if (fraction == 0 || text.size() < len || (text.size() > len && text[len] != ' ') ||
      std::memcmp(text.data() + kIsoSeconds + fraction, e.text + kIsoSeconds, n - kIsoSeconds) !=
          0) {
    return 0;
  }
  *t = e.t + Duration(nanos);
  return len;
}

void TimestampCache::Store(std::string_view stamp, MessageFormat format,
                           const ParserOptions& options, const ReceivedSpan& span, TimePoint t) {
  // An ISO stamp is kept without its fraction, as its whole second, which
  // the next lines of that second share whatever their fraction.
  std::string_view tail;
  if (IsIso(stamp) && HasIsoFraction(stamp)) {
    // t is the second (the zone offset is whole seconds) plus the fraction.
    size_t end = kIsoSeconds + 1;
    while (end < stamp.size() && stamp[end] >= '0' && stamp[end] <= '9') ++end;
    tail = stamp.substr(end);
    stamp = stamp.substr(0, kIsoSeconds);
    t = std::chrono::floor<std::chrono::seconds>(t);
  } else if (t.time_since_epoch() % std::chrono::seconds(1) != Duration::zero()) {
    // Another stamp with a fraction seldom repeats (Cisco's milliseconds):
    // keeping it would cost a copy per line and evict the whole-second
    // stamps that do repeat.
    return;
  }
  const size_t n = stamp.size() + tail.size();
  if (n < kMinText || n > kMaxText) return;
  newest_ ^= 1;
  Entry& e = entries_[newest_];
  e.t = t;
  e.span = span;
  e.format = format;
  e.zone = options.local_zone;
  e.default_utc_offset_secs = options.default_utc_offset_secs;
  e.iso = IsIso(stamp);
  e.length = static_cast<uint8_t>(n);
  std::memcpy(e.text, stamp.data(), stamp.size());
  std::memcpy(e.text + stamp.size(), tail.data(), tail.size());
}

}  // namespace konseki::receiver
