// Test double for konseki::FrameSink: records copies of every frame and lets a
// test switch capacity, refuse pushes, or hold the listener thread in Push.
#ifndef KONSEKI_TESTS_RECEIVER_CAPTURING_FRAME_SINK_H_
#define KONSEKI_TESTS_RECEIVER_CAPTURING_FRAME_SINK_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/frame.h"

namespace konseki::receiver {

struct CapturedFrame {
  std::string bytes;
  std::string sender;
  uint16_t listener_id = 0;
  bool truncated = false;
  TruncationCause cause = TruncationCause::kTooLong;  // why, when truncated
};

// Thread-safe: the listener thread pushes while the test thread inspects.
class CapturingFrameSink : public FrameSink {
 public:
  bool Push(const Frame& frame) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (!capacity_.load()) ++pushes_without_capacity_;
    ++waiting_;
    cv_.wait(lock, [this] { return gate_open_; });
    --waiting_;
    if (refuse_) {
      ++refused_;
      return false;
    }
    frames_.push_back({std::string(frame.bytes), std::string(frame.sender), frame.listener_id,
                       frame.truncated, frame.truncation_cause});
    cv_.notify_all();
    return true;
  }
  void Flush() override {
    std::lock_guard<std::mutex> lock(mu_);
    flushed_ = frames_.size();
    flushes_.fetch_add(1);
  }
  bool HasCapacity() const override { return capacity_.load(); }

  void SetCapacity(bool c) { capacity_.store(c); }
  void SetRefuse(bool r) {
    std::lock_guard<std::mutex> lock(mu_);
    refuse_ = r;
  }
  // A closed gate makes Push wait (simulates a stalled pipeline).
  void SetGate(bool open) {
    std::lock_guard<std::mutex> lock(mu_);
    gate_open_ = open;
    cv_.notify_all();
  }

  // Waits until at least n frames were captured; false on timeout.
  bool WaitForCount(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return frames_.size() >= n; });
  }
  std::vector<CapturedFrame> frames() const {
    std::lock_guard<std::mutex> lock(mu_);
    return frames_;
  }
  size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return frames_.size();
  }
  // Pushes waiting at the closed gate (the pushing thread is stuck there).
  int waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }
  uint64_t pushes_without_capacity() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pushes_without_capacity_;
  }
  uint64_t refused() const {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_;
  }
  uint64_t flushes() const { return flushes_.load(); }
  // Frames captured before the last Flush(): what a real sink would have
  // handed on by now.
  size_t flushed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return flushed_;
  }

 private:
  mutable std::mutex mu_;  // guards everything below but the atomics
  std::condition_variable cv_;
  std::vector<CapturedFrame> frames_;
  bool refuse_ = false;
  bool gate_open_ = true;
  int waiting_ = 0;
  uint64_t pushes_without_capacity_ = 0;
  uint64_t refused_ = 0;
  size_t flushed_ = 0;
  std::atomic<bool> capacity_{true};
  std::atomic<uint64_t> flushes_{0};
};

// Polls cond every millisecond until it holds or the timeout passes.
inline bool WaitUntil(const std::function<bool()>& cond,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace konseki::receiver

#endif  // KONSEKI_TESTS_RECEIVER_CAPTURING_FRAME_SINK_H_
