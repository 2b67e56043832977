// An independent reference for expected instants in parser tests: libc
// timegm(3), not the parser's own date arithmetic.
#ifndef KONSEKI_TESTS_RECEIVER_UTC_TIME_H_
#define KONSEKI_TESTS_RECEIVER_UTC_TIME_H_

#include <time.h>

#include <chrono>

#include "common/clock.h"

namespace konseki::receiver {

// y-mo-d h:mi:s UTC.
inline TimePoint Utc(int y, int mo, int d, int h, int mi, int s) {
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return TimePoint(std::chrono::seconds(timegm(&tm)));
}

}  // namespace konseki::receiver

#endif  // KONSEKI_TESTS_RECEIVER_UTC_TIME_H_
