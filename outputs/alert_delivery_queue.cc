#include "outputs/alert_delivery_queue.h"

#include <algorithm>

#include "common/log.h"
#include "common/thread_name.h"

namespace konseki::outputs {
namespace {

constexpr char kDeliveredHelp[] = "Alerts delivered by an alert sink.";
constexpr char kFailuresHelp[] =
    "Failed alert delivery attempts (an alert may fail and then be delivered on retry).";
constexpr char kDroppedHelp[] = "Alerts an alert sink gave up on, by reason.";

}  // namespace

std::chrono::milliseconds Backoff::Next() {
  const std::chrono::milliseconds now = std::min(next_, max_);
  next_ = std::min(max_, next_ * 2);
  if (next_.count() == 0) next_ = std::chrono::milliseconds(1);
  return now;
}

AlertDeliveryQueue::AlertDeliveryQueue(std::string sink, const AlertDeliveryQueueOptions& options,
                                       MetricsRegistry& registry)
    : sink_(std::move(sink)),
      options_(options),
      registry_(registry),
      delivered_(
          registry.GetCounter("konseki_alert_deliveries_total", kDeliveredHelp, {{"sink", sink_}})),
      dropped_queue_full_(registry.GetCounter("konseki_alert_delivery_dropped_total", kDroppedHelp,
                                              {{"sink", sink_}, {"reason", "queue_full"}})),
      depth_(registry.GetGauge("konseki_alert_delivery_queue_depth",
                               "Alerts waiting in an alert sink's queue.", {{"sink", sink_}})) {}

AlertDeliveryQueue::~AlertDeliveryQueue() { Stop(); }

void AlertDeliveryQueue::Start(DeliverFn deliver, IdleFn idle,
                               std::chrono::milliseconds idle_interval) {
  deliver_ = std::move(deliver);
  idle_ = std::move(idle);
  idle_interval_ = idle_interval;
  thread_ = std::thread([this] { Run(); });
}

bool AlertDeliveryQueue::Push(const Alert& alert) {
  // Copy outside the lock: the pipeline thread holds the mutex only for the
  // push itself.
  Alert copy = alert;
  bool closing = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closing_ && queue_.size() < options_.capacity) {
      queue_.push_back(std::move(copy));
      depth_->Set(static_cast<double>(queue_.size()));
      work_cv_.notify_one();
      return true;
    }
    closing = closing_;
  }
  if (closing) {
    CountDropped("shutdown");
  } else {
    dropped_queue_full_->Inc();
    NoteTrouble(true, "queue_full");
  }
  return false;
}

void AlertDeliveryQueue::Run() {
  SetThreadName("alerts " + sink_);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (queue_.empty() && !closing_) {
      if (idle_) {
        work_cv_.wait_for(lock, idle_interval_,
                          [&] { return !queue_.empty() || closing_ || aborting_; });
      } else {
        work_cv_.wait(lock, [&] { return !queue_.empty() || closing_ || aborting_; });
      }
    }
    if (aborting_) break;
    if (queue_.empty()) {
      if (closing_) break;
      lock.unlock();
      idle_();
      lock.lock();
      continue;
    }
    Alert alert = std::move(queue_.front());
    queue_.pop_front();
    depth_->Set(static_cast<double>(queue_.size()));
    busy_ = true;
    lock.unlock();

    DeliveryResult r = deliver_(alert);
    switch (r.outcome) {
      case DeliveryOutcome::kDelivered:
        CountDelivered();
        break;
      case DeliveryOutcome::kDropped:
        CountDropped(r.drop_reason);
        break;
      case DeliveryOutcome::kPending:
        break;
    }
    if (idle_) idle_();

    lock.lock();
    busy_ = false;
    drain_cv_.notify_all();
  }
  const size_t abandoned = queue_.size();
  queue_.clear();
  depth_->Set(0);
  finished_ = true;
  drain_cv_.notify_all();
  lock.unlock();
  if (abandoned > 0)
    Labelled("konseki_alert_delivery_dropped_total", kDroppedHelp, "shutdown")->Inc(abandoned);
  if (idle_) idle_();
}

void AlertDeliveryQueue::RequestStop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return;
  closing_ = true;
  drain_deadline_ = std::chrono::steady_clock::now() + options_.drain_timeout;
  work_cv_.notify_all();
}

void AlertDeliveryQueue::Stop(const std::function<void()>& interrupt) {
  RequestStop();
  std::unique_lock<std::mutex> lock(mu_);
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    drain_cv_.wait_until(lock, drain_deadline_, [&] { return queue_.empty() && !busy_; });
    aborting_ = true;
    work_cv_.notify_all();
    // Again until the thread is out: a delivery that had not yet started its
    // request when interrupt first ran would otherwise wait out its timeout.
    while (interrupt && !finished_) {
      lock.unlock();
      interrupt();
      lock.lock();
      drain_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return finished_; });
    }
    lock.unlock();
    thread_.join();
  }
}

std::chrono::steady_clock::time_point AlertDeliveryQueue::DrainDeadline() const {
  std::lock_guard<std::mutex> lock(mu_);
  return drain_deadline_;
}

bool AlertDeliveryQueue::Sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  work_cv_.wait_for(lock, d, [&] { return aborting_; });
  return !aborting_;
}

bool AlertDeliveryQueue::Aborting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return aborting_;
}

size_t AlertDeliveryQueue::Depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

Counter* AlertDeliveryQueue::Labelled(std::string_view family, std::string_view help,
                                      std::string_view reason) {
  std::string key(family);
  key += '/';
  key += reason;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = reason_counters_.find(key); it != reason_counters_.end()) return it->second;
  }
  Counter* c =
      registry_.GetCounter(family, help, {{"sink", sink_}, {"reason", std::string(reason)}});
  std::lock_guard<std::mutex> lock(mu_);
  reason_counters_.emplace(std::move(key), c);
  return c;
}

void AlertDeliveryQueue::CountFailure(std::string_view reason) {
  Labelled("konseki_alert_delivery_failures_total", kFailuresHelp, reason)->Inc();
  NoteTrouble(false, reason);
}

void AlertDeliveryQueue::CountDropped(std::string_view reason) {
  Labelled("konseki_alert_delivery_dropped_total", kDroppedHelp, reason)->Inc();
  if (reason != "shutdown") NoteTrouble(true, reason);
}

// One log line a minute per sink (the rest counted into the next), and
// on_health at the first alert given up.
void AlertDeliveryQueue::NoteTrouble(bool dropped, std::string_view reason) {
  bool tell = false;
  {
    std::lock_guard<std::mutex> lock(health_mu_);
    const auto now = std::chrono::steady_clock::now();
    if (last_log_ == std::chrono::steady_clock::time_point{} ||
        now - last_log_ >= std::chrono::minutes(1)) {
      Log(LogLevel::kWarning,
          "alert sink %s: %s (%.*s); %llu more failures since the last such line", sink_.c_str(),
          dropped ? "alert given up" : "delivery attempt failed", static_cast<int>(reason.size()),
          reason.data(), static_cast<unsigned long long>(unlogged_));
      last_log_ = now;
      unlogged_ = 0;
    } else {
      ++unlogged_;
    }
    if (dropped) {
      ++dropped_while_failing_;
      if (!failing_) {
        failing_ = true;
        tell = true;
      }
    }
  }
  if (tell && options_.on_health) options_.on_health(sink_, true, reason, 1);
}

void AlertDeliveryQueue::NoteDelivered() {
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(health_mu_);
    if (!failing_) return;
    failing_ = false;
    dropped = dropped_while_failing_;
    dropped_while_failing_ = 0;
  }
  Log(LogLevel::kInfo, "alert sink %s: delivering again (%llu alerts given up meanwhile)",
      sink_.c_str(), static_cast<unsigned long long>(dropped));
  if (options_.on_health) options_.on_health(sink_, false, {}, dropped);
}

}  // namespace konseki::outputs
