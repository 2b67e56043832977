#include "matchers/clock_jump.h"

#include <gtest/gtest.h>

namespace konseki::matchers {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kTol = 300 * kSec;

TEST(ClockJumpTest, FirstTimestampAheadOfReceiveTimeIsAJumpLateOneIsNot) {
  HostState late;
  EXPECT_TRUE(TrackClock(1000 * kSec, 2000 * kSec, kTol, &late).kind.empty());
  HostState ahead;
  ClockJump j = TrackClock(2000 * kSec, 1000 * kSec, kTol, &ahead);
  EXPECT_EQ(j.kind, "ahead");
  EXPECT_EQ(j.jump_ns, 1000 * kSec);
  EXPECT_EQ(j.previous_ts_ns, -1);
}

TEST(ClockJumpTest, StepBackBeyondToleranceIsBackwardsThenTheTrackRestarts) {
  HostState h;
  TrackClock(10000 * kSec, 10000 * kSec, kTol, &h);
  EXPECT_TRUE(TrackClock(9800 * kSec, 10001 * kSec, kTol, &h).kind.empty());  // within tolerance
  ClockJump j = TrackClock(9000 * kSec, 10002 * kSec, kTol, &h);
  EXPECT_EQ(j.kind, "backwards");
  EXPECT_EQ(j.jump_ns, 1000 * kSec);
  EXPECT_EQ(j.previous_ts_ns, 10000 * kSec);
  EXPECT_TRUE(TrackClock(9001 * kSec, 10003 * kSec, kTol, &h).kind.empty());
}

TEST(ClockJumpTest, OffsetRisingPastTheHighestSeenIsForward) {
  HostState h;
  TrackClock(10000 * kSec, 10000 * kSec, kTol, &h);
  // Queued lines arrive late: smaller offsets, no jump.
  EXPECT_TRUE(TrackClock(10000 * kSec, 10100 * kSec, kTol, &h).kind.empty());
  ClockJump j = TrackClock(10700 * kSec, 10200 * kSec, kTol, &h);
  EXPECT_EQ(j.kind, "forward");
  EXPECT_EQ(j.jump_ns, 500 * kSec);
  EXPECT_EQ(j.offset_ns, 500 * kSec);
}

}  // namespace
}  // namespace konseki::matchers
