#include "receiver/local_zone.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include "receiver/parser.h"

namespace konseki::receiver {
namespace {

TimePoint Utc(int64_t secs) { return TimePoint(std::chrono::seconds(secs)); }

// Europe/Berlin: CET (+01:00) until 2025-03-30 01:00 UTC, then CEST (+02:00)
// until 2025-10-26 01:00 UTC.
constexpr int64_t kSpringChange = 1743296400;  // 2025-03-30T01:00:00Z
constexpr int64_t kAutumnChange = 1761440400;  // 2025-10-26T01:00:00Z

class LocalZoneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = getenv("TZ");
    had_tz_ = old != nullptr;
    if (had_tz_) old_tz_ = old;
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    time_t probe = static_cast<time_t>(kSpringChange);
    struct tm tm;
    localtime_r(&probe, &tm);
    if (tm.tm_gmtoff != 7200)
      GTEST_SKIP() << "no tzdata for Europe/Berlin (apt-get install tzdata)";
  }
  void TearDown() override {
    if (had_tz_) {
      setenv("TZ", old_tz_.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  bool had_tz_ = false;
  std::string old_tz_;
};

TEST_F(LocalZoneTest, OffsetFollowsTheZoneRulesHourByHour) {
  LocalZone z;
  EXPECT_EQ(z.OffsetAt(Utc(kSpringChange - 1)), 3600);
  EXPECT_EQ(z.OffsetAt(Utc(kSpringChange)), 7200);
  EXPECT_EQ(z.OffsetAt(Utc(kSpringChange - 1)), 3600);  // from the cache
  EXPECT_EQ(z.OffsetAt(Utc(kAutumnChange - 1)), 7200);
  EXPECT_EQ(z.OffsetAt(Utc(kAutumnChange)), 3600);
}

TEST_F(LocalZoneTest, Rfc3164StampsAcrossTheSpringChangeAreBothRight) {
  LocalZone zone;
  ParserOptions o;
  o.default_utc_offset_secs = 3600;  // what a start in winter resolved
  o.local_zone = &zone;
  Parser p(o);
  Message m;
  // Written at 01:30 CET (00:30 UTC), received after the change.
  p.Parse("<13>Mar 30 01:30:00 web1 app: before", Utc(kSpringChange + 300), &m);
  ASSERT_TRUE(m.has_timestamp);
  EXPECT_EQ(m.timestamp, Utc(kSpringChange - 1800));
  // Written at 03:30 CEST (01:30 UTC).
  p.Parse("<13>Mar 30 03:30:00 web1 app: after", Utc(kSpringChange + 1900), &m);
  EXPECT_EQ(m.timestamp, Utc(kSpringChange + 1800));
  // Months later in summer: still +02:00, not the +01:00 of the start.
  p.Parse("<13>Jul  1 12:00:00 web1 app: summer", Utc(1751371200 + 5), &m);
  EXPECT_EQ(m.timestamp, Utc(1751364000));  // 2025-07-01T10:00:00Z
}

TEST_F(LocalZoneTest, AutumnRepeatedHourFollowsTheOffsetAtReception) {
  LocalZone zone;
  ParserOptions o;
  o.local_zone = &zone;
  Parser p(o);
  Message m;
  // 02:30 happens twice; received at 00:31 UTC (CEST) it is 00:30 UTC.
  p.Parse("<13>Oct 26 02:30:00 web1 app: x", Utc(kAutumnChange - 1740), &m);
  EXPECT_EQ(m.timestamp, Utc(kAutumnChange - 1800));
  // Received at 01:31 UTC (CET) it is 01:30 UTC.
  p.Parse("<13>Oct 26 02:30:00 web1 app: x", Utc(kAutumnChange + 1860), &m);
  EXPECT_EQ(m.timestamp, Utc(kAutumnChange + 1800));
}

}  // namespace
}  // namespace konseki::receiver
