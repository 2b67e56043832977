// A civil date and time in UTC as an instant, by libc timegm(3). For the
// control plane (the console's date arguments), tests and benchmarks; the
// parsers have their own allocation-free date arithmetic
// (receiver/timestamp.h), which the tests check against this one.
#ifndef KONSEKI_COMMON_UTC_TIME_H_
#define KONSEKI_COMMON_UTC_TIME_H_

#include <chrono>
#include <cstdint>

#include "common/clock.h"

namespace konseki {

// y-mo-d h:mi:s UTC in seconds since the epoch. Fields out of range roll
// over as timegm rolls them (Feb 30 is Mar 2).
int64_t UtcUnixSeconds(int y, int mo, int d, int h, int mi, int s);

// The same instant as a TimePoint.
inline TimePoint UtcTime(int y, int mo, int d, int h, int mi, int s) {
  return TimePoint(std::chrono::seconds(UtcUnixSeconds(y, mo, d, h, mi, s)));
}

}  // namespace konseki

#endif  // KONSEKI_COMMON_UTC_TIME_H_
