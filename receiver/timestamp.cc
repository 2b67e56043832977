#include "receiver/timestamp.h"

#include <algorithm>
#include <chrono>

namespace konseki::receiver {
namespace {

// Years a TimePoint (int64 nanoseconds since 1970, good for 1678..2261) holds
// with room for any zone offset; stamps outside are unreadable, not wrapped.
constexpr int64_t kMinYear = 1900;
constexpr int64_t kMaxYear = 2200;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at s[pos..]; false if short or not digits.
bool ReadFixedDigits(std::string_view s, size_t pos, size_t n, unsigned* out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (!IsDigit(c)) return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  *out = v;
  return true;
}

// Reads ".ddd..." at s[*pos]; keeps up to 9 digits as nanoseconds, skips the
// rest. Leaves *pos alone when there is no fraction. False on "." without
// digits.
bool ReadFraction(std::string_view s, size_t* pos, uint32_t* nanos) {
  *nanos = 0;
  if (*pos >= s.size() || (s[*pos] != '.' && s[*pos] != ',')) return true;
  size_t p = *pos + 1;
  uint32_t v = 0;
  int digits = 0;
  while (p < s.size() && IsDigit(s[p])) {
    if (digits < 9) {
      v = v * 10 + static_cast<uint32_t>(s[p] - '0');
      ++digits;
    }
    ++p;
  }
  if (p == *pos + 1) return false;
  for (int i = digits; i < 9; ++i) v *= 10;
  *nanos = v;
  *pos = p;
  return true;
}

// "hh:mm:ss" at s[pos..], range-checked (second may be 60: leap second).
bool ReadClock(std::string_view s, size_t pos, unsigned* h, unsigned* m, unsigned* sec) {
  if (pos + 8 > s.size() || s[pos + 2] != ':' || s[pos + 5] != ':') return false;
  if (!ReadFixedDigits(s, pos, 2, h) || !ReadFixedDigits(s, pos + 3, 2, m) ||
      !ReadFixedDigits(s, pos + 6, 2, sec)) {
    return false;
  }
  return *h < 24 && *m < 60 && *sec <= 60;
}

// Case-insensitive English month abbreviation; 0 if none.
unsigned MonthFromName(std::string_view s, size_t pos) {
  if (pos + 3 > s.size()) return 0;
  const auto lower = [](char c) { return static_cast<char>(c | 0x20); };
  const char a = lower(s[pos]), b = lower(s[pos + 1]), c = lower(s[pos + 2]);
  static constexpr char kNames[] = "janfebmaraprmayjunjulaugsepoctnovdec";
  for (unsigned i = 0; i < 12; ++i) {
    if (kNames[i * 3] == a && kNames[i * 3 + 1] == b && kNames[i * 3 + 2] == c) return i + 1;
  }
  return 0;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

TimePoint MakeTime(int64_t days, unsigned h, unsigned m, unsigned s, uint32_t nanos,
                   int64_t offset_secs) {
  const int64_t secs = days * 86400 + h * 3600 + m * 60 + s - offset_secs;
  return TimePoint(std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos));
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // H. Hinnant's days_from_civil: exact for the proleptic Gregorian calendar.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

unsigned DaysInMonth(int64_t year, unsigned month) {
  static constexpr unsigned char kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 0;
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

size_t ReadIsoTimestamp(std::string_view s, int default_utc_offset_secs, TimePoint* out) {
  // YYYY-MM-DD?hh:mm:ss is 19 bytes.
  if (s.size() < 19 || s[4] != '-' || s[7] != '-') return 0;
  unsigned year, month, day;
  if (!ReadFixedDigits(s, 0, 4, &year) || !ReadFixedDigits(s, 5, 2, &month) ||
      !ReadFixedDigits(s, 8, 2, &day)) {
    return 0;
  }
  if (year < kMinYear || year > kMaxYear) return 0;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return 0;
  const char sep = s[10];
  if (sep != 'T' && sep != 't' && sep != ' ') return 0;
  unsigned h, m, sec;
  if (!ReadClock(s, 11, &h, &m, &sec)) return 0;
  size_t pos = 19;
  uint32_t nanos;
  if (!ReadFraction(s, &pos, &nanos)) return 0;

  int64_t offset = default_utc_offset_secs;
  if (pos < s.size()) {
    const char z = s[pos];
    if (z == 'Z' || z == 'z') {
      offset = 0;
      ++pos;
    } else if (z == '+' || z == '-') {
      unsigned oh, om = 0;
      if (!ReadFixedDigits(s, pos + 1, 2, &oh)) return 0;
      size_t p = pos + 3;
      if (p < s.size() && s[p] == ':') {
        if (!ReadFixedDigits(s, p + 1, 2, &om)) return 0;
        p += 3;
      } else if (ReadFixedDigits(s, p, 2, &om)) {
        p += 2;
      }
      if (oh > 23 || om > 59) return 0;
      offset = static_cast<int64_t>(oh * 3600 + om * 60) * (z == '-' ? -1 : 1);
      pos = p;
    }
  }
  *out = MakeTime(DaysFromCivil(year, month, day), h, m, sec, nanos, offset);
  return pos;
}

size_t ReadBsdTimestamp(std::string_view s, BsdTimestamp* out) {
  BsdTimestamp t;
  size_t pos = 0;
  unsigned v;
  // Optional leading year: "2015 Nov 13 13:40:01".
  if (s.size() > 5 && s[4] == ' ' && ReadFixedDigits(s, 0, 4, &v)) {
    t.year = static_cast<int>(v);
    pos = 5;
  }
  t.month = MonthFromName(s, pos);
  if (t.month == 0) return 0;
  pos += 3;
  if (pos >= s.size() || s[pos] != ' ') return 0;
  ++pos;
  // Day: "23", " 3" (RFC 3164's padding), "03" or "3" followed by a space.
  if (pos < s.size() && s[pos] == ' ') ++pos;
  if (pos >= s.size() || !IsDigit(s[pos])) return 0;
  t.day = static_cast<unsigned>(s[pos++] - '0');
  if (pos < s.size() && IsDigit(s[pos])) t.day = t.day * 10 + static_cast<unsigned>(s[pos++] - '0');
  if (t.day < 1 || t.day > 31 || t.day > DaysInMonth(2000, t.month)) return 0;
  if (pos >= s.size() || s[pos] != ' ') return 0;
  ++pos;
  // Optional year after the day: "Nov 13 2015 13:40:01".
  if (t.year == 0 && pos + 5 <= s.size() && s[pos + 4] == ' ' && ReadFixedDigits(s, pos, 4, &v)) {
    t.year = static_cast<int>(v);
    pos += 5;
  }
  if (!ReadClock(s, pos, &t.hour, &t.minute, &t.second)) return 0;
  pos += 8;
  if (!ReadFraction(s, &pos, &t.nanos)) return 0;
  *out = t;
  return pos;
}

namespace {

// ResolveBsdTimestamp, with the span only when kSpan (the parse without a
// cache does not pay for it).
template <bool kSpan>
bool Resolve(const BsdTimestamp& bsd, TimePoint received, int utc_offset_secs, Duration max_future,
             TimePoint* out, ReceivedSpan* span) {
  if (kSpan) *span = ReceivedSpan();
  if (bsd.year != 0) {
    if (bsd.year < kMinYear || bsd.year > kMaxYear) return false;
    if (bsd.day > DaysInMonth(bsd.year, bsd.month)) return false;
    *out = MakeTime(DaysFromCivil(bsd.year, bsd.month, bsd.day), bsd.hour, bsd.minute, bsd.second,
                    bsd.nanos, utc_offset_secs);
    return true;
  }
  // The sender's wall-clock year at reception.
  const int64_t local_secs =
      std::chrono::floor<std::chrono::seconds>(received.time_since_epoch()).count() +
      utc_offset_secs;
  int64_t local_days = local_secs / 86400;
  if (local_secs % 86400 < 0) --local_days;
  // civil_from_days, year only.
  const int64_t z = local_days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = static_cast<int64_t>(yoe) + era * 400 + (month <= 2);

  // The candidates below depend on `year` only: the answer holds while the
  // sender's local year stays the same (local_secs is whole seconds, so these
  // bounds are exact) ...
  if (kSpan) {
    span->from = MakeTime(DaysFromCivil(year, 1, 1), 0, 0, 0, 0, utc_offset_secs);
    span->until = MakeTime(DaysFromCivil(year + 1, 1, 1), 0, 0, 0, 0, utc_offset_secs);
  }
  const TimePoint limit = received + max_future;
  for (int64_t y = year + 1; y >= year - 4; --y) {
    if (y < kMinYear || y > kMaxYear) continue;
    if (bsd.day > DaysInMonth(y, bsd.month)) continue;  // Feb 29 outside leap years
    const TimePoint t = MakeTime(DaysFromCivil(y, bsd.month, bsd.day), bsd.hour, bsd.minute,
                                 bsd.second, bsd.nanos, utc_offset_secs);
    if (t <= limit) {
      // ... while this candidate stays within max_future of reception ...
      if (kSpan) span->from = std::max(span->from, t - max_future);
      *out = t;
      return true;
    }
    // ... and while the later ones stay beyond it (the nearest bounds them).
    if (kSpan) span->until = std::min(span->until, t - max_future);
  }
  return false;
}

}  // namespace

bool ResolveBsdTimestamp(const BsdTimestamp& bsd, TimePoint received, int utc_offset_secs,
                         Duration max_future, TimePoint* out) {
  return Resolve<false>(bsd, received, utc_offset_secs, max_future, out, nullptr);
}

bool ResolveBsdTimestamp(const BsdTimestamp& bsd, TimePoint received, int utc_offset_secs,
                         Duration max_future, TimePoint* out, ReceivedSpan* span) {
  if (span == nullptr) return Resolve<false>(bsd, received, utc_offset_secs, max_future, out, span);
  return Resolve<true>(bsd, received, utc_offset_secs, max_future, out, span);
}

namespace {

// "SECONDS.FRACTION" (9 or 10 digits, then '.' and 1 to 9 digits) at
// s[pos..], followed by `end` ('\0': a space or the end of s).
bool ReadEpoch(std::string_view s, size_t pos, char end, TimePoint* out) {
  size_t p = pos;
  int64_t secs = 0;
  while (p < s.size() && IsDigit(s[p]) && p - pos < 10) secs = secs * 10 + (s[p++] - '0');
  if (p - pos < 9) return false;
  uint32_t nanos;
  if (p >= s.size() || s[p] != '.' || !ReadFraction(s, &p, &nanos)) return false;
  if (end == '\0' ? (p < s.size() && s[p] != ' ') : (p >= s.size() || s[p] != end)) return false;
  *out = TimePoint(std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos));
  return true;
}

// A day, month and year read from a file line's stamp; false when the day
// does not exist or the year is out of range.
bool ValidDate(unsigned year, unsigned month, unsigned day) {
  return year >= kMinYear && year <= kMaxYear && month >= 1 && month <= 12 && day >= 1 &&
         day <= DaysInMonth(year, month);
}

// "dd/Mon/yyyy:hh:mm:ss[.frac][ +hhmm]]" at s[pos..] (CLF's %t without its '[').
bool ReadClfStamp(std::string_view s, size_t pos, int local_offset, TimePoint* out) {
  unsigned day, year, h, m, sec;
  if (!ReadFixedDigits(s, pos, 2, &day) || pos + 20 > s.size() || s[pos + 2] != '/' ||
      s[pos + 6] != '/' || s[pos + 11] != ':') {
    return false;
  }
  const unsigned month = MonthFromName(s, pos + 3);
  if (!ReadFixedDigits(s, pos + 7, 4, &year) || !ValidDate(year, month, day) ||
      !ReadClock(s, pos + 12, &h, &m, &sec)) {
    return false;
  }
  size_t p = pos + 20;
  uint32_t nanos;
  if (!ReadFraction(s, &p, &nanos)) return false;
  int64_t offset = local_offset;
  if (p + 6 <= s.size() && s[p] == ' ' && (s[p + 1] == '+' || s[p + 1] == '-')) {
    unsigned oh, om;
    if (!ReadFixedDigits(s, p + 2, 2, &oh) || !ReadFixedDigits(s, p + 4, 2, &om) || oh > 23 ||
        om > 59) {
      return false;
    }
    offset = static_cast<int64_t>(oh * 3600 + om * 60) * (s[p + 1] == '-' ? -1 : 1);
    p += 6;
  }
  if (p >= s.size() || s[p] != ']') return false;
  *out = MakeTime(DaysFromCivil(year, month, day), h, m, sec, nanos, offset);
  return true;
}

// "[Www Mmm dd hh:mm:ss[.frac] yyyy]" (Apache's error log, ctime's order).
bool ReadApacheErrorStamp(std::string_view s, int local_offset, TimePoint* out) {
  if (s.size() < 26 || s[0] != '[' || s[4] != ' ' || s[8] != ' ' || s[11] != ' ') return false;
  const unsigned month = MonthFromName(s, 5);
  unsigned day, h, m, sec, year;
  if (month == 0 || !ReadFixedDigits(s, 9, 2, &day) || !ReadClock(s, 12, &h, &m, &sec)) {
    return false;
  }
  size_t p = 20;
  uint32_t nanos;
  if (!ReadFraction(s, &p, &nanos) || p + 6 > s.size() || s[p] != ' ' ||
      !ReadFixedDigits(s, p + 1, 4, &year) || s[p + 5] != ']' || !ValidDate(year, month, day)) {
    return false;
  }
  *out = MakeTime(DaysFromCivil(year, month, day), h, m, sec, nanos, local_offset);
  return true;
}

// "yyyy/mm/dd hh:mm:ss " (nginx's error log).
bool ReadNginxErrorStamp(std::string_view s, int local_offset, TimePoint* out) {
  unsigned year, month, day, h, m, sec;
  if (s.size() < 20 || s[4] != '/' || s[7] != '/' || s[10] != ' ' || s[19] != ' ' ||
      !ReadFixedDigits(s, 0, 4, &year) || !ReadFixedDigits(s, 5, 2, &month) ||
      !ReadFixedDigits(s, 8, 2, &day) || !ValidDate(year, month, day) ||
      !ReadClock(s, 11, &h, &m, &sec)) {
    return false;
  }
  *out = MakeTime(DaysFromCivil(year, month, day), h, m, sec, 0, local_offset);
  return true;
}

// "[dd-Mmm-yyyy hh:mm:ss]" or "[dd-Mmm-yyyy hh:mm:ss ZONE]" (php-fpm, PHP's
// error_log; only the zone "UTC" is read, others are taken as local).
bool ReadPhpStamp(std::string_view s, int local_offset, TimePoint* out) {
  unsigned day, year, h, m, sec;
  if (s.size() < 22 || s[0] != '[' || s[3] != '-' || s[7] != '-' || s[12] != ' ' ||
      !ReadFixedDigits(s, 1, 2, &day) || !ReadFixedDigits(s, 8, 4, &year) ||
      !ReadClock(s, 13, &h, &m, &sec)) {
    return false;
  }
  const unsigned month = MonthFromName(s, 4);
  if (!ValidDate(year, month, day)) return false;
  int64_t offset = local_offset;
  if (s[21] == ' ') {
    const size_t close = s.find(']', 22);
    if (close == std::string_view::npos || close > 22 + 64) return false;
    if (s.substr(22, close - 22) == "UTC") offset = 0;
  } else if (s[21] != ']') {
    return false;
  }
  *out = MakeTime(DaysFromCivil(year, month, day), h, m, sec, 0, offset);
  return true;
}

bool ReadFileLineTimeInto(std::string_view line, int local_utc_offset_secs, TimePoint* out) {
  if (line.empty()) return false;
  const char c = line[0];
  if (c == '[') {
    if (ReadApacheErrorStamp(line, local_utc_offset_secs, out) ||
        ReadPhpStamp(line, local_utc_offset_secs, out)) {
      return true;
    }
    const size_t n = ReadIsoTimestamp(line.substr(1), local_utc_offset_secs, out);
    return n != 0 && n + 1 < line.size() && line[n + 1] == ']';
  }
  if (IsDigit(c)) {
    if (ReadNginxErrorStamp(line, local_utc_offset_secs, out)) return true;
    if (const size_t n = ReadIsoTimestamp(line, local_utc_offset_secs, out);
        n != 0 && (n == line.size() || line[n] == ' ' || line[n] == '\t')) {
      return true;
    }
    if (ReadEpoch(line, 0, '\0', out)) return true;  // squid
  }
  // auditd: "type=T msg=audit(S.ms:serial): ", after "node=NAME " when
  // the node name is logged.
  if (c == 't' || c == 'n') {
    const size_t at = line.substr(0, 160).find(" msg=audit(");
    if (at != std::string_view::npos) return ReadEpoch(line, at + 11, ':', out);
  }
  // CLF: "%h %l %u [stamp]" (vhost and port first in vhost_combined).
  const std::string_view head = line.substr(0, 512);
  for (size_t at = head.find('['); at != std::string_view::npos; at = head.find('[', at + 1)) {
    if (at > 0 && line[at - 1] == ' ' && ReadClfStamp(line, at + 1, local_utc_offset_secs, out)) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool ReadFileLineTime(std::string_view line, int local_utc_offset_secs, TimePoint* out) {
  TimePoint t;  // *out is left alone when the line has no stamp
  if (!ReadFileLineTimeInto(line, local_utc_offset_secs, &t)) return false;
  *out = t;
  return true;
}

}  // namespace konseki::receiver
