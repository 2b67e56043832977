// How long a host normally stays quiet, learned from the gaps between its
// messages. One instance per host, ~180 bytes, O(1) per message.
//
// The estimate is time-weighted: each gap is counted by its length, so a host
// that sends bursts of 50 lines and then stays quiet for 10 minutes spends
// >99% of its time in 10-minute gaps, and its cadence is 10 minutes (a
// per-message median would say "a few milliseconds" and alarm every burst).
// Gaps are kept in 20 power-of-two buckets ([0,1s), [1,2s), [2,4s) ...
// [2^18 s, inf)); each bucket holds the decayed sum of its gaps (the time
// spent in such gaps) and the decayed sum of their squares. The cadence is the
// time-weighted mean gap of the highest bucket that, together with the buckets
// above it, holds at least (1 - quantile) of all the time: with quantile 0.99,
// gaps that cover less than 1% of the host's time (a one-off network blip) are
// ignored, while a nightly pattern of 20-minute MARKs (a third of the day) is
// kept. Old gaps fade with a half-life, so a host that changes its habits is
// re-learned within a few half-lives.
//
// Not thread-safe; a value type owned by the host's tracker.
#ifndef KONSEKI_MATCHERS_CADENCE_ESTIMATOR_H_
#define KONSEKI_MATCHERS_CADENCE_ESTIMATOR_H_

#include <array>

namespace konseki::matchers {

class CadenceEstimator {
 public:
  static constexpr int kBuckets = 20;

  // Records a gap of gap_secs (>= 0) that ended at now_secs (any monotone
  // seconds scale, e.g. Unix time). Decay by half_life_secs is applied lazily,
  // at most every half_life_secs / 32 of host time, so the cost stays O(1).
  void AddGap(double gap_secs, double now_secs, double half_life_secs);

  // The time-weighted mean gap of the bucket selected by quantile (0 < q <= 1),
  // or 0 when no gap has been recorded yet.
  double CadenceSecs(double quantile) const;

  // Total length of all gaps ever recorded (not decayed): how much of the
  // host's life we have watched. Used to end the learning period.
  double observed_secs() const { return observed_secs_; }

  // Bucket index of a gap: 0 for < 1 s, then floor(log2(gap)) + 1, capped.
  static int BucketOf(double gap_secs);

  // Raw state, for the state file. RestoreFrom rejects negative or
  // non-finite numbers and then leaves the estimator unchanged.
  std::array<float, kBuckets> time_weights() const;
  std::array<float, kBuckets> square_weights() const;
  double decayed_at_secs() const { return decayed_at_secs_; }
  bool RestoreFrom(const std::array<float, kBuckets>& time,
                   const std::array<float, kBuckets>& square, double observed_secs,
                   double decayed_at_secs);

 private:
  void Decay(double now_secs, double half_life_secs);

  // A bucket's two sums side by side: one cache line touched per gap.
  struct Bucket {
    float time = 0;    // decayed sum of gaps (seconds)
    float square = 0;  // decayed sum of gap^2
  };

  float total_ = 0;  // sum of the time sums, refreshed at each decay
  double observed_secs_ = 0;
  double decayed_at_secs_ = 0;  // host time of the last decay step, 0 before the first gap
  std::array<Bucket, kBuckets> buckets_{};
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_CADENCE_ESTIMATOR_H_
