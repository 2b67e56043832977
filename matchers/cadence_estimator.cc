#include "matchers/cadence_estimator.h"

#include <bit>
#include <cmath>
#include <cstdint>

namespace konseki::matchers {

int CadenceEstimator::BucketOf(double gap_secs) {
  if (!(gap_secs >= 1.0)) return 0;
  if (gap_secs >= static_cast<double>(uint64_t{1} << (kBuckets - 2))) return kBuckets - 1;
  return static_cast<int>(std::bit_width(static_cast<uint64_t>(gap_secs)));
}

void CadenceEstimator::Decay(double now_secs, double half_life_secs) {
  if (decayed_at_secs_ == 0 || half_life_secs <= 0) {
    decayed_at_secs_ = now_secs;
    return;
  }
  double elapsed = now_secs - decayed_at_secs_;
  if (elapsed < half_life_secs / 32) return;
  float factor = static_cast<float>(std::exp2(-elapsed / half_life_secs));
  float total = 0;
  for (Bucket& b : buckets_) {
    b.time *= factor;
    b.square *= factor;
    // Forget buckets that have faded to nothing so their mean cannot be a
    // ratio of two denormals.
    if (b.time < 1e-6f) b.time = b.square = 0;
    total += b.time;
  }
  total_ = total;
  decayed_at_secs_ = now_secs;
}

void CadenceEstimator::AddGap(double gap_secs, double now_secs, double half_life_secs) {
  if (!(gap_secs > 0) || !std::isfinite(gap_secs)) return;
  Decay(now_secs, half_life_secs);
  Bucket& b = buckets_[BucketOf(gap_secs)];
  float g = static_cast<float>(gap_secs);
  b.time += g;
  b.square += g * g;
  total_ += g;
  observed_secs_ += gap_secs;
}

double CadenceEstimator::CadenceSecs(double quantile) const {
  if (total_ <= 0) return 0;
  double target = (1.0 - quantile) * static_cast<double>(total_);
  double acc = 0;
  for (int i = kBuckets - 1; i >= 0; --i) {
    const Bucket& b = buckets_[i];
    if (b.time <= 0) continue;
    acc += b.time;
    if (acc >= target) return static_cast<double>(b.square) / static_cast<double>(b.time);
  }
  // Only float rounding gets here: fall back to the lowest non-empty bucket.
  for (const Bucket& b : buckets_) {
    if (b.time > 0) return static_cast<double>(b.square) / static_cast<double>(b.time);
  }
  return 0;
}

std::array<float, CadenceEstimator::kBuckets> CadenceEstimator::time_weights() const {
  std::array<float, kBuckets> out;
  for (int b = 0; b < kBuckets; ++b) out[b] = buckets_[b].time;
  return out;
}

std::array<float, CadenceEstimator::kBuckets> CadenceEstimator::square_weights() const {
  std::array<float, kBuckets> out;
  for (int b = 0; b < kBuckets; ++b) out[b] = buckets_[b].square;
  return out;
}

bool CadenceEstimator::RestoreFrom(const std::array<float, kBuckets>& time,
                                   const std::array<float, kBuckets>& square, double observed_secs,
                                   double decayed_at_secs) {
  float total = 0;
  for (int b = 0; b < kBuckets; ++b) {
    if (!std::isfinite(time[b]) || !std::isfinite(square[b]) || time[b] < 0 || square[b] < 0) {
      return false;
    }
    total += time[b];
  }
  if (!std::isfinite(observed_secs) || observed_secs < 0 || !std::isfinite(decayed_at_secs) ||
      decayed_at_secs < 0) {
    return false;
  }
  for (int b = 0; b < kBuckets; ++b) buckets_[b] = Bucket{time[b], square[b]};
  total_ = total;
  observed_secs_ = observed_secs;
  decayed_at_secs_ = decayed_at_secs;
  return true;
}

}  // namespace konseki::matchers
