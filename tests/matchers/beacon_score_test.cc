#include "matchers/beacon_score.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace konseki::matchers {
namespace {

// Deterministic uniform numbers in [-1, 1).
class Lcg {
 public:
  explicit Lcg(uint64_t seed) : s_(seed) {}
  double Next() {
    s_ = s_ * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(s_ >> 11) / static_cast<double>(1ull << 53) * 2 - 1;
  }

 private:
  uint64_t s_;
};

BeaconScore Score(std::vector<double> gaps, std::vector<double> sizes = {}) {
  std::vector<double> scratch;
  return ScoreBeacon(&gaps, &sizes, BeaconWeights(), &scratch);
}

TEST(BowleySkewTest, SymmetricDataHasNoSkew) {
  EXPECT_DOUBLE_EQ(BowleySkew({10, 20, 30, 40, 50, 60, 70, 80}), 0);
}

TEST(BowleySkewTest, RightSkewIsPositiveWhenTheQuartilesAreTenApart) {
  // Q1 = 20, Q2 = 25, Q3 = 70 (halves without the middle, as RITA's stats).
  EXPECT_NEAR(BowleySkew({10, 20, 20, 30, 70, 80}), (20.0 + 70 - 50) / 50, 1e-12);
}

TEST(BowleySkewTest, NarrowQuartilesAndAMedianOnAQuartileCountAsNoSkew) {
  EXPECT_DOUBLE_EQ(BowleySkew({100, 101, 102, 103, 104, 105}), 0);  // < 10 and < Q2/5
  EXPECT_DOUBLE_EQ(BowleySkew({10, 10, 10, 10, 90, 95}), 0);        // Q2 == Q1
}

TEST(BowleySkewTest, ShortGapsAreNotExcusedWhenTheirQuartilesAreFarApartForTheirSize) {
  // Q1 = 2, Q2 = 2.5, Q3 = 7: less than 10 apart, but twice the median.
  EXPECT_NEAR(BowleySkew({1, 2, 2, 3, 7, 8}), (2 + 7 - 5.0) / 5, 1e-12);
}

TEST(ScoreBeaconTest, PoissonArrivalsSecondsApartStayBelowTheThreshold) {
  // A busy client's connections to one CDN: random arrivals, ~6 s apart.
  Lcg r(5);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<double> gaps;
    for (int i = 0; i < 32; ++i) gaps.push_back(2 - 6 * std::log((r.Next() + 1) / 2 + 1e-12));
    EXPECT_LT(Score(gaps).score, 0.8) << trial;
  }
}

TEST(MedianAbsoluteDeviationTest, IsTheMedianDistanceToTheMedian) {
  std::vector<double> scratch;
  EXPECT_DOUBLE_EQ(MedianAbsoluteDeviation({1, 1, 2, 2, 4, 6, 9}, &scratch), 1);
}

TEST(ScoreBeaconTest, APerfectBeaconScoresOne) {
  BeaconScore s = Score(std::vector<double>(30, 60.0), std::vector<double>(31, 512));
  EXPECT_DOUBLE_EQ(s.score, 1);
  EXPECT_DOUBLE_EQ(s.period_secs, 60);
  EXPECT_DOUBLE_EQ(s.jitter_secs, 0);
  EXPECT_DOUBLE_EQ(s.interval, 1);
  EXPECT_DOUBLE_EQ(s.count, 1);
  EXPECT_DOUBLE_EQ(s.size, 1);
}

TEST(ScoreBeaconTest, ThreePercentJitterStaysAboveTheThreshold) {
  Lcg r(1);
  std::vector<double> gaps;
  for (int i = 0; i < 32; ++i) gaps.push_back(60 * (1 + 0.03 * r.Next()));
  BeaconScore s = Score(gaps);
  EXPECT_GE(s.score, 0.95);
  EXPECT_NEAR(s.period_secs, 60, 2);
  EXPECT_LT(s.jitter_secs, 1.8);
  EXPECT_LT(s.size, 0);  // no sizes: no size part
}

TEST(ScoreBeaconTest, AMissedCallLowersOnlyTheCountPart) {
  std::vector<double> gaps(19, 300.0);
  gaps.push_back(600);  // one call missed
  BeaconScore s = Score(gaps);
  EXPECT_DOUBLE_EQ(s.interval, 1);
  EXPECT_NEAR(s.count, 20 * 300.0 / (19 * 300 + 600), 1e-9);
  EXPECT_GE(s.score, 0.8);
}

TEST(ScoreBeaconTest, BurstsAfterLongPausesScoreLow) {
  // A person: quick requests, then an hour away, again and again.
  std::vector<double> gaps;
  Lcg r(7);
  for (int burst = 0; burst < 5; ++burst) {
    for (int i = 0; i < 6; ++i) gaps.push_back(3 + 2 * r.Next());
    gaps.push_back(3600 + 900 * r.Next());
  }
  std::vector<double> sizes;
  for (int i = 0; i < 36; ++i) sizes.push_back(20000 + 19000 * r.Next());
  BeaconScore s = Score(gaps, sizes);
  EXPECT_LT(s.count, 0.1);
  EXPECT_LT(s.score, 0.6);
}

TEST(ScoreBeaconTest, IrregularSizesLowerTheScore) {
  Lcg r(3);
  std::vector<double> regular, irregular;
  for (int i = 0; i < 32; ++i) {
    regular.push_back(4096 + 10 * r.Next());
    irregular.push_back(50000 + 49000 * r.Next());
  }
  BeaconScore a = Score(std::vector<double>(31, 60.0), regular);
  BeaconScore b = Score(std::vector<double>(31, 60.0), irregular);
  EXPECT_GT(a.size, 0.95);
  EXPECT_LT(b.size, 0.8);
  EXPECT_LT(b.score, a.score);
}

TEST(ScoreBeaconTest, GapsDrawnUniformlyAtRandomStayBelowTheThreshold) {
  // Symmetric (no skew) and with every "call" made: only the MAD part tells
  // them from a beacon (see kGapMadFactor).
  Lcg r(11);
  std::vector<double> gaps;
  for (int i = 0; i < 32; ++i) gaps.push_back(300 + 299 * r.Next());
  BeaconScore s = Score(gaps);
  EXPECT_GT(s.count, 0.8);
  EXPECT_LT(s.score, 0.75);
}

TEST(ScoreBeaconTest, TooFewGapsScoreZero) { EXPECT_EQ(Score({60, 60}).score, 0); }

TEST(ScoreBeaconTest, WeightsWithoutSizesAreRenormalised) {
  std::vector<double> gaps(19, 300.0);
  gaps.push_back(600);
  std::vector<double> g = gaps, sizes, scratch;
  BeaconWeights w;
  w.interval = 0.5;
  w.count = 0.5;
  BeaconScore s = ScoreBeacon(&g, &sizes, w, &scratch);
  EXPECT_NEAR(s.score, (1 + s.count) / 2, 0.001);
}

}  // namespace
}  // namespace konseki::matchers
