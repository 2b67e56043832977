#include "common/clock.h"

#include <gtest/gtest.h>

namespace konseki {
namespace {

TEST(ClockTest, FormatsRfc3339WithMicrosecondsInUtc) {
  TimePoint t(std::chrono::seconds(1'700'000'000) + std::chrono::microseconds(123456) +
              std::chrono::nanoseconds(789));
  EXPECT_EQ(FormatRfc3339Micros(t), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(FormatUtcDate(t), "2023-11-14");
}

TEST(ClockTest, FakeClockOnlyMovesWhenTold) {
  FakeClock clock;
  TimePoint start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(std::chrono::seconds(5));
  EXPECT_EQ(clock.Now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace konseki
