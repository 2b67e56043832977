#include "app/alert_tally.h"

#include <gtest/gtest.h>

namespace konseki::app {
namespace {

struct CountingSink : AlertSink {
  void Emit(const Alert&) override { ++n; }
  int n = 0;
};

Alert Of(Severity s) {
  Alert a;
  a.severity = s;
  return a;
}

TEST(AlertTallyTest, CountsBySeverityInTheWindowAndPassesEveryAlertOn) {
  FakeClock clock;
  CountingSink next;
  AlertTally tally(next, clock);
  tally.Emit(Of(Severity::kHigh));
  clock.Advance(std::chrono::hours(2));
  tally.Emit(Of(Severity::kHigh));
  tally.Emit(Of(Severity::kCritical));
  tally.Emit(Of(Severity::kInfo));
  EXPECT_EQ(next.n, 4);
  AlertTally::Counts hour = tally.Last(std::chrono::hours(1));
  EXPECT_EQ(hour[static_cast<size_t>(Severity::kHigh)], 1u);
  EXPECT_EQ(hour[static_cast<size_t>(Severity::kCritical)], 1u);
  EXPECT_EQ(hour[static_cast<size_t>(Severity::kInfo)], 1u);
  AlertTally::Counts day = tally.Last(std::chrono::hours(24));
  EXPECT_EQ(day[static_cast<size_t>(Severity::kHigh)], 2u);
  // A day later the ring's buckets are reused, not added to.
  clock.Advance(std::chrono::hours(24));
  tally.Emit(Of(Severity::kLow));
  day = tally.Last(std::chrono::hours(24));
  EXPECT_EQ(day[static_cast<size_t>(Severity::kHigh)], 0u);
  EXPECT_EQ(day[static_cast<size_t>(Severity::kLow)], 1u);
}

TEST(AlertTallyTest, SeedCountsAlertsFromBeforeTheStartInTheirMinuteWithinTheDay) {
  FakeClock clock;
  CountingSink next;
  AlertTally tally(next, clock);
  const double now = 1'700'000'000;
  tally.Seed(now - 30 * 60, Severity::kHigh);
  tally.Seed(now - 30 * 60 + 1, Severity::kHigh);
  tally.Seed(now - 2 * 3600, Severity::kCritical);
  tally.Seed(now - 25 * 3600, Severity::kCritical);  // older than a day
  tally.Seed(now + 120, Severity::kLow);             // not yet
  tally.Emit(Of(Severity::kHigh));
  EXPECT_EQ(next.n, 1);  // seeds are counted, not passed on
  AlertTally::Counts hour = tally.Last(std::chrono::hours(1));
  EXPECT_EQ(hour[static_cast<size_t>(Severity::kHigh)], 3u);
  EXPECT_EQ(hour[static_cast<size_t>(Severity::kCritical)], 0u);
  EXPECT_EQ(hour[static_cast<size_t>(Severity::kLow)], 0u);
  AlertTally::Counts day = tally.Last(std::chrono::hours(24));
  EXPECT_EQ(day[static_cast<size_t>(Severity::kCritical)], 1u);
  EXPECT_EQ(day[static_cast<size_t>(Severity::kHigh)], 3u);
}

}  // namespace
}  // namespace konseki::app
