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

TEST(ClockJumpTest, StepBackBeyondToleranceIsBackwardsOnceTheClockRunsOnFromThere) {
  HostState h;
  TrackClock(10000 * kSec, 10000 * kSec, kTol, &h);
  EXPECT_TRUE(TrackClock(9800 * kSec, 10001 * kSec, kTol, &h).kind.empty());  // within tolerance
  EXPECT_TRUE(TrackClock(9000 * kSec, 10002 * kSec, kTol, &h).kind.empty());  // held
  EXPECT_TRUE(TrackClock(9001 * kSec, 10003 * kSec, kTol, &h).kind.empty());
  // A minute later the stamps still run 1,002 s behind: the clock was set back.
  ClockJump j = TrackClock(9061 * kSec, 10063 * kSec, kTol, &h);
  EXPECT_EQ(j.kind, "backwards");
  EXPECT_EQ(j.jump_ns, 1000 * kSec);
  EXPECT_EQ(j.previous_ts_ns, 10000 * kSec);
  EXPECT_TRUE(TrackClock(9121 * kSec, 10123 * kSec, kTol, &h).kind.empty());  // once
}

TEST(ClockJumpTest, OlderLinesAfterNewerOnesCatchingUpAreNoJump) {
  // Live lines, then another path's (or a replayed story's) older lines,
  // sent as fast as the link takes them.
  HostState h;
  TrackClock(50000 * kSec, 50000 * kSec, kTol, &h);
  for (int i = 0; i <= 20; ++i) {
    EXPECT_TRUE(TrackClock((10000 + i * 1800) * kSec, (50001 + i) * kSec, kTol, &h).kind.empty())
        << i;
  }
  EXPECT_TRUE(TrackClock(50100 * kSec, 50100 * kSec, kTol, &h).kind.empty());
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

TEST(ClockJumpTest, ABacklogCatchingUpWithTheReceiveTimeIsNoJump) {
  // A forwarder's queue after an outage (or a replay): a quiet host's five
  // hours, a line every half hour, received within ten seconds, then live
  // lines.
  HostState h;
  for (int i = 0; i <= 10; ++i) {
    EXPECT_TRUE(TrackClock((10000 + i * 1800) * kSec, (28000 + i) * kSec, kTol, &h).kind.empty())
        << i;
  }
  EXPECT_TRUE(TrackClock(28011 * kSec, 28011 * kSec, kTol, &h).kind.empty());
  // A clock that then runs ahead of the receive time still is one.
  EXPECT_EQ(TrackClock(28800 * kSec, 28012 * kSec, kTol, &h).kind, "forward");
}

TEST(ClockJumpTest, AClockSetRightAfterAStepBackIsNoSecondJump) {
  HostState h;
  TrackClock(10000 * kSec, 10000 * kSec, kTol, &h);
  EXPECT_TRUE(TrackClock(6400 * kSec, 10010 * kSec, kTol, &h).kind.empty());
  EXPECT_EQ(TrackClock(6470 * kSec, 10080 * kSec, kTol, &h).kind, "backwards");
  EXPECT_TRUE(TrackClock(10090 * kSec, 10090 * kSec, kTol, &h).kind.empty());  // set right
}

TEST(ClockJumpTest, AClockBehindFromItsFirstLineIsBehindOnceItsOffsetHoldsAMinute) {
  // live21 F3: ntp-slow, every stamp 3 h behind the receive time, a line
  // every 5 s: no backlog catches up that slowly.
  HostState h;
  for (int i = 0; i < 12; ++i) {
    EXPECT_TRUE(TrackClock((10000 + i * 5) * kSec, (20800 + i * 5) * kSec, kTol, &h).kind.empty())
        << i;
  }
  ClockJump j = TrackClock(10060 * kSec, 20861 * kSec, kTol, &h);  // a minute on, 1 s of jitter
  EXPECT_EQ(j.kind, "behind");
  EXPECT_EQ(j.jump_ns, 10801 * kSec);
  EXPECT_EQ(j.offset_ns, -10801 * kSec);
  EXPECT_EQ(j.previous_ts_ns, -1);
  EXPECT_TRUE(TrackClock(10125 * kSec, 20925 * kSec, kTol, &h).kind.empty());  // once
  // Set right, then slow again: a second time.
  EXPECT_TRUE(TrackClock(21000 * kSec, 21000 * kSec, kTol, &h).kind.empty());
  EXPECT_TRUE(TrackClock(10200 * kSec, 21001 * kSec, kTol, &h).kind.empty());
  EXPECT_TRUE(TrackClock(10259 * kSec, 21060 * kSec, kTol, &h).kind.empty()) << "held (step back)";
  EXPECT_EQ(TrackClock(10261 * kSec, 21062 * kSec, kTol, &h).kind, "backwards");
  EXPECT_TRUE(TrackClock(10330 * kSec, 21130 * kSec, kTol, &h).kind.empty()) << "told as backwards";
}

TEST(ClockJumpTest, ABacklogStampedHoursBehindThatCatchesUpIsNotBehind) {
  // A forwarder's queue of three hours, a line every 5 s, drained over two
  // minutes of receive time (far slower than rsyslog drains it), then live.
  HostState h;
  const int64_t rx0 = 30000 * kSec;
  for (int i = 0; i < 2160; ++i) {
    const int64_t ts = rx0 - 10800 * kSec + i * 5 * kSec;
    const int64_t rx = rx0 + i * (120 * kSec / 2160);
    ASSERT_TRUE(TrackClock(ts, rx, kTol, &h).kind.empty()) << i;
  }
  for (int i = 0; i < 30; ++i) {
    const int64_t t = rx0 + (120 + i * 5) * kSec;
    ASSERT_TRUE(TrackClock(t, t, kTol, &h).kind.empty()) << i;
  }
  // A delay that shrinks by 20 s a minute (just inside the steady band) for
  // over a minute is taken for a slow clock: the band is what tells them.
  HostState slow;
  for (int i = 0; i <= 13; ++i) {
    const int64_t rx = rx0 + i * 5 * kSec;
    const ClockJump j = TrackClock(rx - 10800 * kSec + i * kSec * 5 / 3, rx, kTol, &slow);
    EXPECT_EQ(j.kind, i == 12 ? "behind" : "") << i;
  }
}

}  // namespace
}  // namespace konseki::matchers
