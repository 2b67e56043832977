#include "app/alert_tally.h"

#include <algorithm>
#include <cmath>

namespace konseki::app {

int64_t AlertTally::MinuteNow() const {
  return std::chrono::duration_cast<std::chrono::minutes>(clock_.Now().time_since_epoch()).count();
}

void AlertTally::Emit(const Alert& alert) {
  const int64_t m = MinuteNow();
  {
    std::lock_guard<std::mutex> lock(mu_);
    Bucket& b = ring_[static_cast<size_t>(((m % kMinutes) + kMinutes) % kMinutes)];
    if (b.minute != m) {
      b.minute = m;
      b.n = {};
    }
    const size_t sev = std::min(static_cast<size_t>(alert.severity), kSeverities - 1);
    ++b.n[sev];
  }
  next_.Emit(alert);
}

void AlertTally::Seed(double received_unix_secs, Severity severity) {
  const int64_t m = static_cast<int64_t>(std::floor(received_unix_secs / 60));
  const int64_t now = MinuteNow();
  if (m > now || m <= now - kMinutes) return;
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = ring_[static_cast<size_t>(((m % kMinutes) + kMinutes) % kMinutes)];
  if (b.minute > m) return;  // counts a later minute already: this one is gone
  if (b.minute < m) {
    b.minute = m;
    b.n = {};
  }
  ++b.n[std::min(static_cast<size_t>(severity), kSeverities - 1)];
}

AlertTally::Counts AlertTally::Last(std::chrono::seconds window) const {
  const int64_t minutes = std::clamp<int64_t>((window.count() + 59) / 60, 1, kMinutes);
  const int64_t now = MinuteNow();
  Counts out{};
  std::lock_guard<std::mutex> lock(mu_);
  for (const Bucket& b : ring_) {
    if (b.minute > now - minutes && b.minute <= now) {
      for (size_t i = 0; i < kSeverities; ++i) out[i] += b.n[i];
    }
  }
  return out;
}

}  // namespace konseki::app
