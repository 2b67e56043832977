#include "common/clock_step_watch.h"

#include <time.h>

#include <cstdlib>

namespace konseki {
namespace {

int64_t ReadNs(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class SystemClocks final : public ClockStepWatch::Source {
 public:
  ClockStepWatch::Reading Read() const override {
    ClockStepWatch::Reading r;
    r.steady_ns = ReadNs(CLOCK_BOOTTIME);
    r.wall_ns = ReadNs(CLOCK_REALTIME);
    return r;
  }
};

}  // namespace

const ClockStepWatch::Source& ClockStepWatch::SystemSource() {
  static const SystemClocks kClocks;  // stateless
  return kClocks;
}

ClockStepWatch::ClockStepWatch(const Source& source, int64_t threshold_ns)
    : source_(source), threshold_ns_(threshold_ns) {
  const Reading r = source_.Read();
  base_offset_ = offset_ = r.wall_ns - r.steady_ns;
  last_steady_ = r.steady_ns;
  Publish(0, 0, r.steady_ns, r.steady_ns, false);
}

void ClockStepWatch::Publish(int64_t offset, int64_t prev_offset, int64_t step_steady,
                             int64_t last_steady, bool stepped) {
  seq_.fetch_add(1, std::memory_order_acq_rel);  // odd: being written
  pub_offset_.store(offset, std::memory_order_relaxed);
  pub_prev_offset_.store(prev_offset, std::memory_order_relaxed);
  pub_step_steady_.store(step_steady, std::memory_order_relaxed);
  pub_last_steady_.store(last_steady, std::memory_order_relaxed);
  pub_stepped_.store(stepped, std::memory_order_relaxed);
  seq_.fetch_add(1, std::memory_order_release);
}

std::optional<ClockStepWatch::Step> ClockStepWatch::Refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  const Reading r = source_.Read();
  const int64_t offset = r.wall_ns - r.steady_ns;
  const int64_t change = offset - offset_;
  std::optional<Step> step;
  const bool stepped = std::llabs(change) > threshold_ns_;
  if (stepped) {
    step = Step{change, r.wall_ns - change, r.wall_ns};
    steps_.push_back(*step);
    Publish(offset - base_offset_, offset_ - base_offset_, last_steady_, r.steady_ns, true);
  } else {
    Publish(offset - base_offset_, pub_prev_offset_.load(std::memory_order_relaxed),
            pub_step_steady_.load(std::memory_order_relaxed), r.steady_ns,
            pub_stepped_.load(std::memory_order_relaxed));
  }
  offset_ = offset;
  last_steady_ = r.steady_ns;
  return step;
}

std::vector<ClockStepWatch::Step> ClockStepWatch::TakeSteps() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Step> out;
  out.swap(steps_);
  return out;
}

int64_t ClockStepWatch::Unstep(int64_t received_ns) const {
  int64_t offset, prev, step_steady, last_steady;
  bool stepped;
  for (;;) {
    const uint64_t s1 = seq_.load(std::memory_order_acquire);
    if (s1 & 1) continue;
    offset = pub_offset_.load(std::memory_order_relaxed);
    prev = pub_prev_offset_.load(std::memory_order_relaxed);
    step_steady = pub_step_steady_.load(std::memory_order_relaxed);
    last_steady = pub_last_steady_.load(std::memory_order_relaxed);
    stepped = pub_stepped_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq_.load(std::memory_order_relaxed) == s1) break;
  }
  if (stepped) {
    // Its steady time if it was read under the current offset.
    const int64_t steady = received_ns - offset - base_offset_;
    if (steady < step_steady - kSlackNs || steady > last_steady + kSlackNs) {
      return received_ns - prev;
    }
  }
  return received_ns - offset;
}

}  // namespace konseki
