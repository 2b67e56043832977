#include "matchers/beacon_score.h"

#include <algorithm>
#include <cmath>

namespace konseki::matchers {
namespace {

// Median of sorted[lo, hi).
double MedianOf(const std::vector<double>& v, size_t lo, size_t hi) {
  const size_t n = hi - lo;
  if (n == 0) return 0;
  const size_t mid = lo + n / 2;
  return n % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

struct Parts {
  double skew_score = 0;
  double mad_score = 0;
  double median = 0;
  double mad = 0;
  double skew = 0;
};

Parts Statistics(const std::vector<double>& sorted, double default_mad_score, double mad_factor,
                 std::vector<double>* scratch) {
  Parts p;
  p.skew = BowleySkew(sorted);
  p.skew_score = 1 - std::fabs(p.skew);
  p.median = SortedMedian(sorted);
  p.mad = MedianAbsoluteDeviation(sorted, scratch);
  p.mad_score = default_mad_score;
  if (p.median >= 1) p.mad_score = std::max(0.0, 1 - mad_factor * p.mad / p.median);
  return p;
}

}  // namespace

double SortedMedian(const std::vector<double>& sorted) {
  return MedianOf(sorted, 0, sorted.size());
}

double BowleySkew(const std::vector<double>& sorted) {
  const size_t n = sorted.size();
  if (n < 3) return 0;
  const double q1 = MedianOf(sorted, 0, n / 2);
  const double q2 = MedianOf(sorted, 0, n);
  const double q3 = MedianOf(sorted, (n + 1) / 2, n);
  const double den = q3 - q1;
  // RITA ignores the skew of quartiles less than 10 s apart (a few seconds
  // of jitter at a long period); for gaps of a few seconds that would excuse
  // any traffic, so only when they are also close relative to the median.
  if ((den < 10 && den < q2 / 5) || q2 == q1 || q2 == q3) return 0;
  return (q1 + q3 - 2 * q2) / den;
}

double MedianAbsoluteDeviation(const std::vector<double>& sorted, std::vector<double>* scratch) {
  const double median = SortedMedian(sorted);
  scratch->clear();
  for (double v : sorted) scratch->push_back(std::fabs(v - median));
  std::sort(scratch->begin(), scratch->end());
  return SortedMedian(*scratch);
}

BeaconScore ScoreBeacon(std::vector<double>* gaps, std::vector<double>* sizes,
                        const BeaconWeights& weights, std::vector<double>* scratch) {
  BeaconScore out;
  if (gaps->size() < 3) return out;
  std::sort(gaps->begin(), gaps->end());
  const Parts g = Statistics(*gaps, 1, kGapMadFactor, scratch);
  out.interval = (g.skew_score + g.mad_score) / 2;
  out.period_secs = g.median;
  out.jitter_secs = g.mad;
  out.skew = g.skew;
  double span = 0;
  for (double x : *gaps) span += x;
  out.count = span > 0 ? std::min(1.0, static_cast<double>(gaps->size()) * g.median / span) : 0;
  double total = weights.interval + weights.count;
  double sum = weights.interval * out.interval + weights.count * out.count;
  if (!sizes->empty()) {
    std::sort(sizes->begin(), sizes->end());
    const Parts s = Statistics(*sizes, 0, 1, scratch);
    out.size = (s.skew_score + s.mad_score) / 2;
    total += weights.size;
    sum += weights.size * out.size;
  }
  out.score = total > 0 ? std::round(sum / total * 1000) / 1000 : 0;
  return out;
}

}  // namespace konseki::matchers
