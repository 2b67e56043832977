// Time is injected everywhere (heartbeats, windows, year inference, archive
// file dates) so tests drive a FakeClock and never sleep.
#ifndef KONSEKI_COMMON_CLOCK_H_
#define KONSEKI_COMMON_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace konseki {

// Wall-clock time with nanosecond resolution (UTC, Unix epoch).
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;
using Duration = std::chrono::nanoseconds;

// Thread-safe: Now() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
};

// A clock that only moves when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::seconds(1'700'000'000)))
      : ns_(start.time_since_epoch().count()) {}
  TimePoint Now() const override {
    return TimePoint(Duration(ns_.load(std::memory_order_acquire)));
  }
  void Set(TimePoint t) { ns_.store(t.time_since_epoch().count(), std::memory_order_release); }
  void Advance(Duration d) { ns_.fetch_add(d.count(), std::memory_order_acq_rel); }

 private:
  std::atomic<int64_t> ns_;
};

// RFC 3339 in UTC with microseconds: "2026-11-23T08:08:42.123456Z".
std::string FormatRfc3339Micros(TimePoint t);
// Appends the same to *out without a temporary string (hot path).
void AppendRfc3339Micros(TimePoint t, std::string* out);
// "YYYY-MM-DD" of t in UTC.
std::string FormatUtcDate(TimePoint t);

}  // namespace konseki

#endif  // KONSEKI_COMMON_CLOCK_H_
