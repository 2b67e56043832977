// The log host's time zone with its rules (daylight saving included), for
// RFC 3164 timestamps, which carry no zone: "Mar 30 03:30:00" means 01:30
// UTC in Berlin in summer time and 02:30 UTC an hour earlier in winter time.
// Resolving the offset once at start-up made every such stamp an hour off
// after a change until a restart (issue #14, item 3).
//
// The offset of each UTC hour is computed once (localtime_r) and kept in a
// small lock-free cache, so the data path costs a relaxed atomic load per
// message. The zone is the process's (TZ, /etc/localtime) as read at the
// first use; changing it needs a restart, as with every daemon.
#ifndef KONSEKI_RECEIVER_LOCAL_ZONE_H_
#define KONSEKI_RECEIVER_LOCAL_ZONE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace konseki::receiver {

// A named zone (parser.timezones' "America/New_York") is read once from
// the system's zoneinfo (TZif, RFC 8536: $TZDIR or /usr/share/zoneinfo) and
// answers from its transitions with the same per-hour cache; after the
// file's last transition (2037 in Debian's "fat" files) the last offset
// holds.
//
// Thread-safe (const methods, atomics). Not copyable.
class LocalZone {
 public:
  // The process's zone (localtime_r).
  LocalZone() = default;
  // The zone `name` ("Asia/Tokyo") from the zoneinfo directory; an error
  // naming it when it is not a zone name or its file is missing or not TZif.
  static StatusOr<std::unique_ptr<LocalZone>> Load(std::string_view name);
  LocalZone(const LocalZone&) = delete;
  LocalZone& operator=(const LocalZone&) = delete;

  // Seconds east of UTC in force at `t`.
  int OffsetAt(TimePoint t) const;

  // `t` was computed from a local wall-clock time assuming the zone was
  // `assumed_offset_secs` ahead of UTC (the offset at reception); returns
  // the instant that wall time really is under the zone's rules. In the hour
  // an autumn change repeats, the reading consistent with the offset at
  // reception is kept (messages arrive close to their stamps); a wall time
  // that does not exist (the spring gap) is kept as computed.
  TimePoint FixOffset(TimePoint t, int assumed_offset_secs) const;

 private:
  // The offset of the UTC hour starting at `hour * 3600` (uncached).
  int Compute(int64_t hour) const;

  // Named zones only: transition instants (ascending) and the offset in
  // force from each; before the first, initial_offset_.
  bool named_ = false;
  std::vector<int64_t> transitions_;
  std::vector<int32_t> offsets_;
  int32_t initial_offset_ = 0;
  static constexpr size_t kSlots = 64;
  // hour since the epoch << 20 | (offset + kBias); 0 = empty.
  static constexpr int64_t kBias = 1 << 19;
  mutable std::array<std::atomic<uint64_t>, kSlots> cache_{};
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_LOCAL_ZONE_H_
