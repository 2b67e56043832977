// Steps of the log host's own wall clock (a `date -s`, a VM restored from a
// snapshot, a bad NTP source), seen by comparing CLOCK_REALTIME with
// CLOCK_BOOTTIME between readings: the two advance together (NTP slews by
// parts per million), so a change of their difference beyond a threshold
// is the wall clock stepped. Receive times, archive day files and seal
// epochs follow the wall clock; a detector that compares a sender's
// timestamps with the receive time (host.clock_jump) would otherwise blame
// every sender for a step of konseki's own clock.
//
// Usage:
//   ClockStepWatch watch(ClockStepWatch::SystemSource());
//   // once a second (the server's tick): alert konseki.clock_jump
//   watch.Refresh();
//   for (const ClockStepWatch::Step& s : watch.TakeSteps()) ...
//   // per message, in a detector comparing with the receive time:
//   int64_t rx = watch.Unstep(received_ns);
//
// Thread-safety: every method may be called from any thread. Refresh and
// TakeSteps take a mutex; Unstep is lock-free (a sequence lock over the
// last step) and never allocates. Not copyable.
#ifndef KONSEKI_COMMON_CLOCK_STEP_WATCH_H_
#define KONSEKI_COMMON_CLOCK_STEP_WATCH_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace konseki {

class ClockStepWatch {
 public:
  // Both clocks read at one moment, in ns.
  struct Reading {
    int64_t wall_ns = 0;    // CLOCK_REALTIME (Unix time)
    int64_t steady_ns = 0;  // CLOCK_BOOTTIME (runs on through a suspend, never steps)
  };
  // Where the readings come from; tests give a fake. Thread-safe.
  class Source {
   public:
    virtual ~Source() = default;
    virtual Reading Read() const = 0;
  };
  // clock_gettime(CLOCK_REALTIME) and clock_gettime(CLOCK_BOOTTIME).
  static const Source& SystemSource();

  struct Step {
    int64_t jump_ns = 0;         // > 0: the wall clock went forward; < 0: back
    int64_t wall_before_ns = 0;  // what the wall clock would read now without the step
    int64_t wall_after_ns = 0;   // what it reads
  };

  // Default threshold: a step of more than 5 s. Smaller changes are taken
  // in silently (the offset follows them).
  static constexpr int64_t kDefaultThresholdNs = 5'000'000'000;

  // source must outlive the watch. Takes the first reading: the timeline
  // Unstep maps to is the wall clock as it reads now, run on by the steady
  // clock.
  explicit ClockStepWatch(const Source& source, int64_t threshold_ns = kDefaultThresholdNs);
  ClockStepWatch(const ClockStepWatch&) = delete;
  ClockStepWatch& operator=(const ClockStepWatch&) = delete;

  // Reads both clocks. A change of (wall - steady) since the last reading
  // beyond the threshold is a step: returned, and kept for TakeSteps.
  std::optional<Step> Refresh();
  // The steps Refresh saw since the last call, oldest first.
  std::vector<Step> TakeSteps();

  // A receive time (wall clock, read a moment ago) on the timeline without
  // the steps seen so far: received_ns minus the sum of the steps in force
  // when it was read. A time read just before the last step (a message
  // queued across it) is told apart by where it falls on the steady clock
  // under the current offset: before the step, or after the last reading
  // (plus kSlackNs), it belongs to the offset before the step. A step not
  // yet seen by Refresh is not taken out: callers that find a jump Refresh
  // and ask again.
  int64_t Unstep(int64_t received_ns) const;

  // How far a receive time may fall outside [step, last reading] on the
  // steady clock and still count as read under the current offset.
  static constexpr int64_t kSlackNs = 2'000'000'000;

 private:
  void Publish(int64_t offset, int64_t prev_offset, int64_t step_steady, int64_t last_steady,
               bool stepped);

  const Source& source_;
  const int64_t threshold_ns_;
  int64_t base_offset_ = 0;  // wall - steady at construction
  std::mutex mu_;            // guards the writers' side below and steps_
  int64_t offset_ = 0;       // wall - steady at the last reading
  int64_t last_steady_ = 0;
  std::vector<Step> steps_;
  // Read by Unstep under the sequence lock (odd while being written).
  std::atomic<uint64_t> seq_{0};
  std::atomic<int64_t> pub_offset_{0};       // offset_ - base_offset_
  std::atomic<int64_t> pub_prev_offset_{0};  // the same before the last step
  std::atomic<int64_t> pub_step_steady_{0};  // steady time of the reading before the last step
  std::atomic<int64_t> pub_last_steady_{0};  // steady time of the last reading
  std::atomic<bool> pub_stepped_{false};     // a step was seen
};

}  // namespace konseki

#endif  // KONSEKI_COMMON_CLOCK_STEP_WATCH_H_
