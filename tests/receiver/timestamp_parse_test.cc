#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <string_view>

#include "common/utc_time.h"
#include "receiver/timestamp.h"

namespace konseki::receiver {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(DaysFromCivilTest, AgreesWithTimegmOverCenturies) {
  for (int y = 1900; y <= 2200; y += 7) {
    for (unsigned m = 1; m <= 12; ++m) {
      for (unsigned d = 1; d <= DaysInMonth(y, m); d += 3) {
        const TimePoint expected = UtcTime(y, static_cast<int>(m), static_cast<int>(d), 0, 0, 0);
        EXPECT_EQ(DaysFromCivil(y, m, d) * 86400, expected.time_since_epoch() / seconds(1))
            << y << "-" << m << "-" << d;
      }
    }
  }
}

TEST(DaysInMonthTest, LeapRules) {
  EXPECT_EQ(DaysInMonth(2024, 2), 29u);
  EXPECT_EQ(DaysInMonth(2026, 2), 28u);
  EXPECT_EQ(DaysInMonth(1900, 2), 28u);
  EXPECT_EQ(DaysInMonth(2000, 2), 29u);
  EXPECT_EQ(DaysInMonth(2026, 4), 30u);
  EXPECT_EQ(DaysInMonth(2026, 13), 0u);
}

TEST(ReadIsoTimestampTest, Rfc3339Forms) {
  TimePoint t;
  EXPECT_EQ(ReadIsoTimestamp("1985-04-12T23:20:50.52Z", 0, &t), 23u);
  EXPECT_EQ(t, UtcTime(1985, 4, 12, 23, 20, 50) + nanoseconds(520'000'000));
  EXPECT_EQ(ReadIsoTimestamp("1996-12-19T16:39:57-08:00", 0, &t), 25u);
  EXPECT_EQ(t, UtcTime(1996, 12, 20, 0, 39, 57));
  EXPECT_EQ(ReadIsoTimestamp("2026-11-23t08:00:00.123456789123+09:00 rest", 0, &t), 38u);
  EXPECT_EQ(t, UtcTime(2026, 11, 22, 23, 0, 0) + nanoseconds(123456789));
  EXPECT_EQ(ReadIsoTimestamp("2026-11-23 08:00:00+0530", 0, &t), 24u);
  EXPECT_EQ(t, UtcTime(2026, 11, 23, 2, 30, 0));
  EXPECT_EQ(ReadIsoTimestamp("2026-11-23 08:00:00-07", 0, &t), 22u);
  EXPECT_EQ(t, UtcTime(2026, 11, 23, 15, 0, 0));
}

TEST(ReadIsoTimestampTest, NoZoneUsesDefaultOffset) {
  TimePoint t;
  EXPECT_EQ(ReadIsoTimestamp("2026-11-23 08:00:00 host", -3600, &t), 19u);
  EXPECT_EQ(t, UtcTime(2026, 11, 23, 9, 0, 0));
}

TEST(ReadIsoTimestampTest, RejectsOutOfRangeAndShortForms) {
  TimePoint t;
  for (const std::string_view bad :
       {"2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
        "2026-11-23T24:00:00Z", "2026-11-23T23:60:00Z", "2026-11-23T23:59:61Z",
        "2026-11-23X08:00:00Z", "2026-11-23T08:00:0", "2026-11-23T08:00:00.Z",
        "2026-11-23T08:00:00+2", "2026-11-23T08:00:00+25:00", "26-11-23T08:00:00Z",
        "0003-10-11T22:14:15Z", "9999-12-31T23:59:59Z", ""}) {
    EXPECT_EQ(ReadIsoTimestamp(bad, 0, &t), 0u) << bad;
  }
}

// Each file format at its daemon's own wording; 9 h ahead of UTC as local.
TEST(ReadFileLineTimeTest, EachFormatAtItsOwnStamp) {
  constexpr int kTokyo = 9 * 3600;
  const TimePoint at_10 = UtcTime(2026, 12, 3, 1, 0, 1);  // 10:00:01 in Tokyo
  struct Case {
    std::string_view line;
    TimePoint want;
  } cases[] = {
      {"203.0.113.5 - - [03/Dec/2026:10:00:01 +0900] \"GET / HTTP/1.1\" 200 512", at_10},
      {"2001:db8::5 - bob [03/Dec/2026:01:00:01 +0000] \"POST /wp-login.php HTTP/2.0\" 200 9",
       at_10},
      {"blog.example:443 198.51.100.7 - - [02/Dec/2026:20:00:01 -0500] \"GET / HTTP/1.1\" 200 1",
       at_10},  // vhost_combined
      {"203.0.113.5 - - [03/Dec/2026:10:00:01.250 +0900] \"GET / HTTP/1.1\" 200 5",
       at_10 + std::chrono::milliseconds(250)},
      {"[Thu Dec 03 10:00:01.123456 2026] [core:error] [pid 812:tid 9] [client 203.0.113.5:4711] "
       "AH00126: Invalid URI in request GET /..%2f..%2fetc/passwd HTTP/1.1",
       at_10 + microseconds(123456)},
      {"[Thu Dec 03 10:00:01 2026] [error] [client 203.0.113.5] File does not exist: /var/www/x",
       at_10},
      {"2026/12/03 10:00:01 [error] 812#812: *1 open() \"/usr/share/nginx/html/x\" failed (2: No "
       "such file or directory), client: 203.0.113.5",
       at_10},
      {"[03-Dec-2026 10:00:01] WARNING: [pool www] child 4711 exited on signal 11 (SIGSEGV) after "
       "1.5 seconds from start",
       at_10},
      {"[03-Dec-2026 01:00:01 UTC] PHP Warning:  include(../../etc/passwd): Failed to open stream",
       at_10},
      {"[03-Dec-2026 10:00:01 Asia/Tokyo] PHP Fatal error:  Uncaught Error", at_10},
      {"type=SYSCALL msg=audit(1796259601.123:456): arch=c000003e syscall=59 success=yes",
       at_10 + std::chrono::milliseconds(123)},
      {"node=web1 type=EXECVE msg=audit(1796259601.123:456): argc=2 a0=\"id\"",
       at_10 + std::chrono::milliseconds(123)},
      {"1796259601.123    412 192.0.2.9 TCP_MISS/200 5120 GET http://example.com/ - "
       "HIER_DIRECT/93.184.216.34 text/html",
       at_10 + std::chrono::milliseconds(123)},
      {"2026-12-03 10:00:01,500 INFO worker started", at_10 + std::chrono::milliseconds(500)},
      {"2026-12-03T01:00:01Z worker started", at_10},
      {"[2026-12-03 10:00:01] production.ERROR: boom", at_10},
  };
  for (const Case& c : cases) {
    TimePoint t;
    ASSERT_TRUE(ReadFileLineTime(c.line, kTokyo, &t)) << c.line;
    EXPECT_EQ(t, c.want) << c.line;
  }
}

TEST(ReadFileLineTimeTest, LinesWithoutAStampOfTheseFormatsAreLeftAlone) {
  const TimePoint before = UtcTime(2000, 1, 1, 0, 0, 0);
  for (std::string_view line : {
           "",
           "plain text with no stamp",
           "203.0.113.5 - - [33/Dec/2026:10:00:01 +0900] \"GET / HTTP/1.1\" 200 5",  // day 33
           "203.0.113.5 - - [03/Foo/2026:10:00:01 +0900] \"GET / HTTP/1.1\" 200 5",  // month
           "203.0.113.5 - - [03/Dec/2026:10:00:01 +0900 \"GET / HTTP/1.1\" 200 5",   // no ']'
           "203.0.113.5 - -[03/Dec/2026:10:00:01 +0900] \"GET / HTTP/1.1\" 200 5",   // no space
           "[Thu Feb 30 10:00:01 2026] [error] no such day",
           "2026/13/03 10:00:01 [error] month 13",
           "[2026-12-03 10:00:01 production.ERROR: no bracket closes the stamp",
           "type=SYSCALL msg=audit(17647236.1:456): too few digits",
           "12345 is not a squid stamp",
           "2026-12-03T01:00:01Zworker",
       }) {
    TimePoint t = before;
    EXPECT_FALSE(ReadFileLineTime(line, 0, &t)) << line;
    EXPECT_EQ(t, before) << line;
  }
}

TEST(ReadBsdTimestampTest, DayForms) {
  BsdTimestamp b;
  EXPECT_EQ(ReadBsdTimestamp("Nov  3 07:05:09 host", &b), 15u);
  EXPECT_EQ(b.month, 11u);
  EXPECT_EQ(b.day, 3u);
  EXPECT_EQ(b.hour, 7u);
  EXPECT_EQ(b.minute, 5u);
  EXPECT_EQ(b.second, 9u);
  EXPECT_EQ(b.year, 0);
  EXPECT_EQ(ReadBsdTimestamp("Nov 3 07:05:09", &b), 14u);
  EXPECT_EQ(ReadBsdTimestamp("nov 03 07:05:09", &b), 15u);
  EXPECT_EQ(b.day, 3u);
  EXPECT_EQ(ReadBsdTimestamp("Dec 31 23:59:60", &b), 15u);
}

TEST(ReadBsdTimestampTest, OptionalYearAndFraction) {
  BsdTimestamp b;
  EXPECT_EQ(ReadBsdTimestamp("2015 Nov 13 13:40:01 ether", &b), 20u);
  EXPECT_EQ(b.year, 2015);
  EXPECT_EQ(ReadBsdTimestamp("Nov 13 2015 13:40:01", &b), 20u);
  EXPECT_EQ(b.year, 2015);
  EXPECT_EQ(ReadBsdTimestamp("Mar  1 18:46:11.123: %SYS", &b), 19u);
  EXPECT_EQ(b.nanos, 123'000'000u);
}

TEST(ReadBsdTimestampTest, RejectsMalformed) {
  BsdTimestamp b;
  for (const std::string_view bad :
       {"Foo 23 08:00:00", "Nov 32 08:00:00", "Nov 00 08:00:00", "Feb 30 08:00:00",
        "Nov 23 8:00:00", "Nov 23 08:00", "Nov   3 08:00:00", "Nov23 08:00:00", "Nov 23  08:00:00",
        "No", ""}) {
    EXPECT_EQ(ReadBsdTimestamp(bad, &b), 0u) << bad;
  }
}

TEST(ResolveBsdTimestampTest, ExplicitYearIgnoresReception) {
  BsdTimestamp b;
  ASSERT_GT(ReadBsdTimestamp("2015 Nov 13 13:40:01", &b), 0u);
  TimePoint t;
  ASSERT_TRUE(ResolveBsdTimestamp(b, UtcTime(2026, 1, 1, 0, 0, 0), 3600, hours(24 * 31), &t));
  EXPECT_EQ(t, UtcTime(2015, 11, 13, 12, 40, 1));
}

TEST(ResolveBsdTimestampTest, NeverBeyondMaxFutureOverAYearOfReceptions) {
  // For every reception day of a year and a spread of stamps, the chosen
  // instant is within (received - 1 year, received + max_future].
  const Duration max_future = hours(24 * 31);
  TimePoint t;
  for (int day = 0; day < 366; day += 5) {
    const TimePoint received = UtcTime(2026, 1, 1, 12, 0, 0) + hours(24 * day);
    for (unsigned month = 1; month <= 12; ++month) {
      BsdTimestamp b;
      b.month = month;
      b.day = 28;
      b.hour = 6;
      ASSERT_TRUE(ResolveBsdTimestamp(b, received, 0, max_future, &t));
      EXPECT_LE(t, received + max_future);
      EXPECT_GT(t, received - hours(24 * 366) + max_future - hours(24 * 31));
    }
  }
}

}  // namespace
}  // namespace konseki::receiver
