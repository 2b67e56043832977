// The beacon score of one (source, destination, port) pair: how regular its
// connections are, in the manner of RITA (activecm/rita, analysis/beacons.go
// for the interval and size statistics; RITA v4's connection-count part for
// the count). Pure: numbers in, numbers out; no state, no allocation beyond
// the caller's scratch.
//
//   interval = (skew_score + mad_score) / 2 over the gaps between calls
//     skew_score = 1 - |Bowley skewness| = 1 - |(Q1 + Q3 - 2 Q2) / (Q3 - Q1)|,
//                  taken as 0 skew when Q2 equals Q1 or Q3, or the quartiles
//                  are close: Q3 - Q1 < 10 (RITA) and < Q2 / 5 (konseki: RITA's
//                  absolute 10 s alone excuses all traffic with gaps of a few
//                  seconds, Poisson arrivals included, which then reached 0.8)
//     mad_score  = 1 - 2 MAD / median, at least 0; 1 when median < 1. RITA v5
//                  takes 1 - MAD / median, but it has histogram and duration
//                  parts beside; without them gaps drawn uniformly at random
//                  (MAD = median / 2, no skew, every call "made") would score
//                  0.83 and alert. Twice as strict, they score 0.67, while a
//                  beacon with 10% jitter (MAD = 5% of the period) keeps 0.9.
//   count    = min(1, gaps * median / span): the calls made against the calls a
//              beacon of that period would make over the span the kept gaps
//              cover (1 = none missed; a person's bursts after long pauses ~0)
//   size     = (skew_score + mad_score) / 2 over the connection sizes, the
//              MAD part as RITA's: 1 - MAD / median (0 when the median size is
//              under 1 byte)
//   score    = weights.interval * interval + weights.count * count
//              + weights.size * size, the weights renormalised to sum 1 when
//              there are no sizes
#ifndef KONSEKI_MATCHERS_BEACON_SCORE_H_
#define KONSEKI_MATCHERS_BEACON_SCORE_H_

#include <vector>

namespace konseki::matchers {

// The strictness of the gaps' MAD part (see above).
inline constexpr double kGapMadFactor = 2;

struct BeaconWeights {
  double interval = 0.5;
  double count = 0.25;
  double size = 0.25;
};

struct BeaconScore {
  double score = 0;     // 0..1
  double interval = 0;  // the parts, 0..1
  double count = 0;
  double size = -1;        // < 0: no sizes given
  double period_secs = 0;  // median gap
  double jitter_secs = 0;  // median absolute deviation of the gaps
  double skew = 0;         // Bowley skewness of the gaps
};

// Bowley (quartile) skewness of sorted data with RITA's guards, and its
// score 1 - |skew|. Quartiles as montanaflynn/stats Quartile (medians of
// the lower and upper halves, the middle value left out for odd sizes).
double BowleySkew(const std::vector<double>& sorted);
// Median of sorted data (mean of the two middle values for even sizes).
double SortedMedian(const std::vector<double>& sorted);
// Median absolute deviation about the median; *scratch is overwritten.
double MedianAbsoluteDeviation(const std::vector<double>& sorted, std::vector<double>* scratch);

// Scores gaps (seconds, each > 0; at least 3) and sizes (bytes; may be
// empty). Both vectors are sorted in place; scratch is working space.
BeaconScore ScoreBeacon(std::vector<double>* gaps, std::vector<double>* sizes,
                        const BeaconWeights& weights, std::vector<double>* scratch);

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_BEACON_SCORE_H_
