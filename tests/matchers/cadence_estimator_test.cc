#include "matchers/cadence_estimator.h"

#include <gtest/gtest.h>

#include <array>
#include <limits>

namespace konseki::matchers {
namespace {

constexpr double kWeek = 7 * 86400.0;

// Feeds gaps of `gap` seconds for `span` seconds starting at *now.
void Feed(CadenceEstimator* c, double* now, double gap, double span) {
  for (double t = 0; t < span; t += gap) {
    *now += gap;
    c->AddGap(gap, *now, kWeek);
  }
}

TEST(CadenceEstimatorTest, BucketsArePowersOfTwo) {
  EXPECT_EQ(CadenceEstimator::BucketOf(0), 0);
  EXPECT_EQ(CadenceEstimator::BucketOf(0.99), 0);
  EXPECT_EQ(CadenceEstimator::BucketOf(1), 1);
  EXPECT_EQ(CadenceEstimator::BucketOf(1.99), 1);
  EXPECT_EQ(CadenceEstimator::BucketOf(2), 2);
  EXPECT_EQ(CadenceEstimator::BucketOf(600), 10);
  EXPECT_EQ(CadenceEstimator::BucketOf(1e9), CadenceEstimator::kBuckets - 1);
  EXPECT_EQ(CadenceEstimator::BucketOf(std::numeric_limits<double>::quiet_NaN()), 0);
}

TEST(CadenceEstimatorTest, NoGapMeansNoCadence) {
  CadenceEstimator c;
  EXPECT_EQ(c.CadenceSecs(0.99), 0);
  c.AddGap(0, 100, kWeek);
  c.AddGap(-5, 100, kWeek);
  EXPECT_EQ(c.CadenceSecs(0.99), 0);
  EXPECT_EQ(c.observed_secs(), 0);
}

TEST(CadenceEstimatorTest, SteadyGapsGiveTheirPeriod) {
  CadenceEstimator c;
  double now = 1e9;
  Feed(&c, &now, 1200, 2 * 86400);
  EXPECT_NEAR(c.CadenceSecs(0.99), 1200, 1);
  EXPECT_NEAR(c.observed_secs(), 2 * 86400, 1200);
}

TEST(CadenceEstimatorTest, BurstyHostCadenceIsTheQuietGapNotTheMedian) {
  CadenceEstimator c;
  double now = 1e9;
  for (int cycle = 0; cycle < 200; ++cycle) {
    for (int i = 0; i < 49; ++i) {
      now += 0.1;
      c.AddGap(0.1, now, kWeek);
    }
    now += 600;
    c.AddGap(600, now, kWeek);
  }
  EXPECT_NEAR(c.CadenceSecs(0.99), 600, 1);
}

TEST(CadenceEstimatorTest, RareOutlierBelowTheQuantileIsIgnored) {
  CadenceEstimator c;
  double now = 1e9;
  Feed(&c, &now, 60, 3 * 86400);
  now += 3600;
  c.AddGap(3600, now, kWeek);  // one network blip
  Feed(&c, &now, 60, 4 * 86400);
  // 3600 s out of 7 days is 0.6% of the time: below 1 - 0.99.
  EXPECT_NEAR(c.CadenceSecs(0.99), 60, 1);
  // With a stricter quantile the blip counts.
  EXPECT_NEAR(c.CadenceSecs(0.999), 3600, 1);
}

TEST(CadenceEstimatorTest, QuietNightsAreKeptByABusyDayHost) {
  CadenceEstimator c;
  double now = 1e9;
  for (int day = 0; day < 5; ++day) {
    Feed(&c, &now, 10, 16 * 3600);   // busy day
    Feed(&c, &now, 1200, 8 * 3600);  // night: only MARKs
  }
  EXPECT_NEAR(c.CadenceSecs(0.99), 1200, 1);
  EXPECT_NEAR(c.CadenceSecs(0.5), 10, 0.1);
}

TEST(CadenceEstimatorTest, OldHabitsFadeWithTheHalfLife) {
  CadenceEstimator c;
  double now = 1e9;
  Feed(&c, &now, 1200, kWeek);
  EXPECT_NEAR(c.CadenceSecs(0.99), 1200, 1);
  Feed(&c, &now, 10, kWeek);
  EXPECT_NEAR(c.CadenceSecs(0.99), 1200, 1);  // still 1/3 of the decayed time
  Feed(&c, &now, 10, 6 * kWeek);
  // 1200-s gaps now weigh about 2^-7 / (1 - 2^-7) < 1% of the time.
  EXPECT_NEAR(c.CadenceSecs(0.99), 10, 0.1);
}

TEST(CadenceEstimatorTest, RestoreRejectsNegativeAndNonFiniteValues) {
  CadenceEstimator c;
  std::array<float, CadenceEstimator::kBuckets> time{}, square{};
  time[10] = 600;
  square[10] = 360000;
  ASSERT_TRUE(c.RestoreFrom(time, square, 600, 1e9));
  EXPECT_NEAR(c.CadenceSecs(0.99), 600, 0.01);
  std::array<float, CadenceEstimator::kBuckets> bad = time;
  bad[3] = -1;
  EXPECT_FALSE(c.RestoreFrom(bad, square, 600, 1e9));
  bad[3] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(c.RestoreFrom(bad, square, 600, 1e9));
  EXPECT_FALSE(c.RestoreFrom(time, square, -1, 1e9));
  EXPECT_NEAR(c.CadenceSecs(0.99), 600, 0.01);  // unchanged by failed restores
}

}  // namespace
}  // namespace konseki::matchers
