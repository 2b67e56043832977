// The drain phase of a stream listener's stop (protocols without acks:
// tcp://, tls://): after it stops accepting, the listener keeps reading its
// open connections until every sender has closed, or no connection delivered a byte for kQuiet, or
// the stop deadline passes. What a sender wrote and closed before the stop is
// then all read (before, a stop read at most 16 x 64 KiB per connection and
// discarded the rest of the kernel's buffer).
//
// The quiet rule keeps a stop short when senders hold connections open and
// have nothing more to send (rsyslog forwarders do): a sender that is still
// writing delivers bytes well within kQuiet, and rounds spent waiting for the
// pipeline (backpressure) do not count as quiet.
//
// Real (steady) time, not the listener's injected Clock: the deadline bounds
// how long a process stop takes. Used by one listener thread.
#ifndef KONSEKI_RECEIVER_STOP_DRAIN_H_
#define KONSEKI_RECEIVER_STOP_DRAIN_H_

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace konseki::receiver {

class StopDrain {
 public:
  using SteadyClock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kQuiet{1000};

  // timeout: longest drain after Begin(); zero closes every connection at
  // once (what was not read yet is lost).
  explicit StopDrain(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  // The stop was requested, the kernel's accept queue taken and the listen
  // socket closed: starts the drain.
  void Begin() {
    active_ = true;
    last_progress_ = SteadyClock::now();
    deadline_ = last_progress_ + timeout_;
  }
  bool active() const { return active_; }

  // After each round: progress = bytes were read, or the round waited for
  // the pipeline.
  void Round(bool progress) {
    if (active_ && progress) last_progress_ = SteadyClock::now();
  }

  // True once the listener should close what is left and end.
  bool Done(size_t open_connections) const {
    if (!active_) return false;
    if (open_connections == 0) return true;
    const auto now = SteadyClock::now();
    return now >= deadline_ || now - last_progress_ >= kQuiet;
  }

  // An epoll timeout (ms, -1 = none) shortened so Done() is re-checked in time.
  int Clamp(int timeout_ms) const {
    if (!active_) return timeout_ms;
    const auto now = SteadyClock::now();
    const auto until = std::min(deadline_, last_progress_ + kQuiet);
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    const int ms = static_cast<int>(std::clamp<long long>(left, 0, 1000));
    return timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
  }

 private:
  const std::chrono::milliseconds timeout_;
  bool active_ = false;
  SteadyClock::time_point deadline_;
  SteadyClock::time_point last_progress_;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_STOP_DRAIN_H_
