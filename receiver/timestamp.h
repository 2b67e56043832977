// Syslog timestamp readers: RFC 3339 / ISO 8601 ("2026-11-23T08:00:00.123+09:00",
// "2020-03-23 06:47:42.801612-0700") and BSD ("Nov 23 08:00:00", "Nov  3 ...",
// "2015 Nov 13 ..."), with year inference for the BSD form. Pure functions over
// bytes: no allocation, no clock, no locale. Thread-safe.
//
// Every reader takes the remaining input as a string_view, never reads past its
// end, and on success returns the number of bytes consumed (0 = not a timestamp).
#ifndef KONSEKI_RECEIVER_TIMESTAMP_H_
#define KONSEKI_RECEIVER_TIMESTAMP_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/clock.h"

namespace konseki::receiver {

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day 1..31).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

// Days in `month` (1..12) of `year`.
unsigned DaysInMonth(int64_t year, unsigned month);

// Reads "YYYY-MM-DD" then 'T'/'t'/' ' then "hh:mm:ss", an optional fraction
// (".1" to ".123456789"; further digits are read and ignored), and an optional
// zone ("Z", "+hh:mm", "+hhmm", "+hh"). Without a zone, the local time is taken
// to be `default_utc_offset_secs` ahead of UTC. Fields are range-checked
// (year 1900..2200, month, day of that month, hour < 24, minute < 60,
// second <= 60).
// Returns the bytes consumed and sets *out, or returns 0.
size_t ReadIsoTimestamp(std::string_view s, int default_utc_offset_secs, TimePoint* out);

// A BSD (RFC 3164) date and time without a year, or with one when the sender
// wrote it ("2015 Nov 13 13:40:01", "Nov 13 2015 13:40:01").
struct BsdTimestamp {
  int year = 0;        // 0 when the sender gave none
  unsigned month = 0;  // 1..12
  unsigned day = 0;    // 1..31
  unsigned hour = 0, minute = 0, second = 0;
  uint32_t nanos = 0;  // from an optional ".123" after the seconds
};

// Reads "Mmm dd hh:mm:ss" where dd is "23", " 3" (the usual double space),
// "03" or "3"; month names are case-insensitive English abbreviations. Also
// accepts a year before ("2015 Nov 13 ...") or after the day ("Nov 13 2015
// ..."), and a fraction after the seconds. Returns bytes consumed or 0.
size_t ReadBsdTimestamp(std::string_view s, BsdTimestamp* out);

// Turns a BSD timestamp into a point in time. The wall clock is taken to be
// `utc_offset_secs` ahead of UTC. When the year is missing, picks the latest
// year in which the stamp is at most `max_future` ahead of `received`, so a
// December stamp received in January lands in the previous year and a stamp
// never lies more than `max_future` in the future. Feb 29 only lands in leap
// years. Returns false if no year fits (the day does not exist, or the year is
// outside 1900..2200).
bool ResolveBsdTimestamp(const BsdTimestamp& bsd, TimePoint received, int utc_offset_secs,
                         Duration max_future, TimePoint* out);

// The receive times [from, until) over which ResolveBsdTimestamp gives one
// answer for one stamp and offset.
struct ReceivedSpan {
  TimePoint from = TimePoint::min();
  TimePoint until = TimePoint::max();
  bool Contains(TimePoint t) const { return t >= from && t < until; }
};

// ResolveBsdTimestamp, and in *span (when not null) the receive times around `received` for
// which it returns the same *out (everything when the stamp has a year;
// otherwise bounded by the sender's local new year before and after
// `received` and by the instants where a stamp of an adjacent year comes
// within or goes out of `max_future`), so a cache can reuse the answer.
bool ResolveBsdTimestamp(const BsdTimestamp& bsd, TimePoint received, int utc_offset_secs,
                         Duration max_future, TimePoint* out, ReceivedSpan* span);

// The time a line written straight to a log file, with no syslog header,
// carries in its own format (a file replayed through test-rules: each line
// at its own instant, not at the moment the file was read):
//   203.0.113.5 - - [03/Dec/2026:10:00:01 +0900] "GET / ...   Apache / nginx
//                   access logs (CLF %t, $time_local; a fraction allowed)
//   [Thu Dec 03 10:00:01.123456 2026] [core:error] ...          Apache 2.4 error log
//   [Thu Dec 03 10:00:01 2026] [error] ...                      Apache 2.2
//   2026/12/03 10:00:01 [error] 812#812: ...                    nginx error log
//   [03-Dec-2026 10:00:01] WARNING: [pool www] ...              php-fpm
//   [03-Dec-2026 10:00:01 UTC] PHP Warning: ...                 PHP error_log
//   type=SYSCALL msg=audit(1764756001.123:456): ...             auditd's audit.log
//   1764756001.123    123 192.0.2.9 TCP_MISS/200 ...            squid's access.log
//   2026-12-03T10:00:01.5+09:00 ..., 2026-12-03 10:00:01,123 ... ISO 8601 first
// Stamps without a zone are local time `local_utc_offset_secs` ahead of UTC
// (PHP's "UTC" is read as such). Returns false when the line starts with
// none of these (the CLF stamp is looked for in its first 512 bytes).
bool ReadFileLineTime(std::string_view line, int local_utc_offset_secs, TimePoint* out);

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_TIMESTAMP_H_
