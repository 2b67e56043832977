#include "receiver/local_zone.h"

#include <time.h>

namespace konseki::receiver {

int LocalZone::OffsetAt(TimePoint t) const {
  const int64_t secs = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  const int64_t hour = secs >= 0 ? secs / 3600 : (secs - 3599) / 3600;
  std::atomic<uint64_t>& slot = cache_[static_cast<uint64_t>(hour) % kSlots];
  const uint64_t entry = slot.load(std::memory_order_relaxed);
  if (entry != 0 && static_cast<int64_t>(entry >> 20) == hour) {
    return static_cast<int>(static_cast<int64_t>(entry & ((1 << 20) - 1)) - kBias);
  }
  // Zone changes happen on whole UTC hours in every zone in use today, so
  // one lookup per hour is exact for all its seconds.
  time_t tt = static_cast<time_t>(hour * 3600);
  struct tm tm;
  localtime_r(&tt, &tm);
  const int offset = static_cast<int>(tm.tm_gmtoff);
  if (hour >= 0 && hour < (int64_t{1} << 43)) {
    slot.store((static_cast<uint64_t>(hour) << 20) | static_cast<uint64_t>(offset + kBias),
               std::memory_order_relaxed);
  }
  return offset;
}

TimePoint LocalZone::FixOffset(TimePoint t, int assumed_offset_secs) const {
  const int first = OffsetAt(t);
  if (first == assumed_offset_secs) return t;
  // Same wall time under the offset in force around it.
  const TimePoint moved = t + std::chrono::seconds(assumed_offset_secs - first);
  if (OffsetAt(moved) == first) return moved;
  return t;  // a wall time in the spring gap: no instant has it
}

}  // namespace konseki::receiver
