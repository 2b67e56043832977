#include "common/clock_step_watch.h"

#include <gtest/gtest.h>

#include <atomic>

namespace konseki {
namespace {

constexpr int64_t kSec = 1'000'000'000;

// Both clocks, moved by the test: Run advances both, Step only the wall.
class FakeClocks final : public ClockStepWatch::Source {
 public:
  ClockStepWatch::Reading Read() const override { return {wall_.load(), steady_.load()}; }
  void Run(int64_t secs) {
    wall_ += secs * kSec;
    steady_ += secs * kSec;
  }
  void Step(int64_t secs) { wall_ += secs * kSec; }
  int64_t wall() const { return wall_.load(); }

 private:
  std::atomic<int64_t> wall_{1'765'000'000 * kSec};
  std::atomic<int64_t> steady_{5000 * kSec};
};

TEST(ClockStepWatchTest, ClocksRunningTogetherAreNoStepAndUnstepIsIdentity) {
  FakeClocks c;
  ClockStepWatch w(c);
  for (int i = 0; i < 10; ++i) {
    c.Run(1);
    EXPECT_FALSE(w.Refresh().has_value());
  }
  EXPECT_TRUE(w.TakeSteps().empty());
  EXPECT_EQ(w.Unstep(c.wall()), c.wall());
}

TEST(ClockStepWatchTest, SmallAdjustmentsAreTakenInSilently) {
  FakeClocks c;
  ClockStepWatch w(c);
  c.Run(1);
  c.Step(-3);  // under the 5 s threshold
  EXPECT_FALSE(w.Refresh().has_value());
  EXPECT_EQ(w.Unstep(c.wall()), c.wall() + 3 * kSec);
}

TEST(ClockStepWatchTest, StepBackIsSeenWithHowFarAndTakenOutOfReceiveTimes) {
  FakeClocks c;
  ClockStepWatch w(c);
  c.Run(10);
  w.Refresh();
  const int64_t before_step = c.wall();  // a message read just before the step
  c.Run(1);
  c.Step(-7200);
  const int64_t after_step = c.wall();  // and one just after, before any Refresh
  // Not seen yet: nothing is taken out.
  EXPECT_EQ(w.Unstep(after_step), after_step);
  auto s = w.Refresh();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->jump_ns, -7200 * kSec);
  EXPECT_EQ(s->wall_before_ns - s->wall_after_ns, 7200 * kSec);
  EXPECT_EQ(s->wall_after_ns, after_step);
  auto steps = w.TakeSteps();
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].jump_ns, -7200 * kSec);
  EXPECT_TRUE(w.TakeSteps().empty());
  // Both map onto one timeline, one second apart.
  EXPECT_EQ(w.Unstep(after_step), after_step + 7200 * kSec);
  EXPECT_EQ(w.Unstep(before_step), before_step);
  EXPECT_EQ(w.Unstep(after_step) - w.Unstep(before_step), 1 * kSec);
  // Later readings go on on the same timeline.
  c.Run(30);
  w.Refresh();
  EXPECT_EQ(w.Unstep(c.wall()), c.wall() + 7200 * kSec);
}

TEST(ClockStepWatchTest, StepForwardAndSetRightAgain) {
  FakeClocks c;
  ClockStepWatch w(c);
  c.Run(5);
  w.Refresh();
  const int64_t before_step = c.wall();
  c.Step(36000);
  auto s = w.Refresh();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->jump_ns, 36000 * kSec);
  EXPECT_EQ(w.Unstep(c.wall()), c.wall() - 36000 * kSec);
  EXPECT_EQ(w.Unstep(before_step), before_step);  // queued across the step
  c.Run(70);
  w.Refresh();
  c.Step(-36000);
  s = w.Refresh();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->jump_ns, -36000 * kSec);
  EXPECT_EQ(w.Unstep(c.wall()), c.wall());
  EXPECT_EQ(w.TakeSteps().size(), 2u);
}

}  // namespace
}  // namespace konseki
