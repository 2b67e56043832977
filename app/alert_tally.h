// Counts the alerts of the last 24 hours by severity, for `konseki status`,
// and passes each one on unchanged. It sits in front of the alert record
// (file/stdout), so it sees every alert, throttled or not.
#ifndef KONSEKI_APP_ALERT_TALLY_H_
#define KONSEKI_APP_ALERT_TALLY_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

#include "common/alert.h"
#include "common/clock.h"

namespace konseki::app {

// Thread-safe. Emit takes a mutex for a few adds: alerts are rare events,
// not the per-message path. Memory is fixed: one bucket per minute of a day.
class AlertTally final : public AlertSink {
 public:
  static constexpr size_t kSeverities = 5;  // Severity::kInfo .. kCritical
  using Counts = std::array<uint64_t, kSeverities>;

  // `next` and `clock` must outlive the tally.
  AlertTally(AlertSink& next, const Clock& clock) : next_(next), clock_(clock) {}
  AlertTally(const AlertTally&) = delete;
  AlertTally& operator=(const AlertTally&) = delete;

  // Counts the alert at the clock's minute, then passes it to `next`.
  void Emit(const Alert& alert) override;

  // Counts an alert raised before this start (read back from the alert
  // file, so `status` agrees with `konseki alerts` after a restart) at the
  // minute it was received: ignored unless that minute is in the last day
  // and its bucket has not been reused since. Does not pass it on.
  void Seed(double received_unix_secs, Severity severity);
  // While the alert file of before this start is still being read (Seed),
  // the counts are partial; status says so.
  void SetSeeding(bool seeding) { seeding_.store(seeding, std::memory_order_relaxed); }
  bool seeding() const { return seeding_.load(std::memory_order_relaxed); }

  // Alerts per severity (indexed by Severity) counted in the current minute
  // and the whole minutes before it that fit in `window` (at most 24 h).
  Counts Last(std::chrono::seconds window) const;

 private:
  static constexpr int64_t kMinutes = 24 * 60;
  struct Bucket {
    int64_t minute = -1;  // minutes since the epoch this bucket counts
    Counts n{};
  };
  int64_t MinuteNow() const;

  AlertSink& next_;
  const Clock& clock_;
  mutable std::mutex mu_;  // guards ring_
  std::array<Bucket, kMinutes> ring_;
  std::atomic<bool> seeding_{false};
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_ALERT_TALLY_H_
