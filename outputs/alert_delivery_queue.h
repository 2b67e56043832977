// AlertDeliveryQueue: the machinery shared by the alert sinks that deliver to
// the outside world
// (SyslogForwarder, WebhookSink, ExecSink): a bounded queue drained by one
// delivery thread, an exponential backoff, and the delivery metrics.
//
// The promise to the pipeline: Emit() never waits on the network, a child
// process or a retry. It copies the alert into the queue under a mutex held
// for a push; a full queue drops the alert and counts it.
//
// Metrics, each labelled with the sink's name (SinkName, e.g. "syslog"):
//   konseki_alert_deliveries_total{sink}            alerts delivered
//   konseki_alert_delivery_failures_total{sink,reason}  failed attempts
//                                                   (one alert may fail, then succeed)
//   konseki_alert_delivery_dropped_total{sink,reason}   alerts given up:
//       queue_full, retries_exhausted, permanent_error (not retried: a 4xx
//       answer, a command that failed), shutdown
//   konseki_alert_delivery_queue_depth{sink}        alerts waiting
#ifndef KONSEKI_OUTPUTS_ALERT_DELIVERY_QUEUE_H_
#define KONSEKI_OUTPUTS_ALERT_DELIVERY_QUEUE_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/alert.h"
#include "common/metrics.h"

namespace konseki::outputs {

// Turns an alert into the bytes a sink sends. The default everywhere is
// AlertToJson (outputs/alert_json.h). Must be thread-safe.
using AlertEncoder = std::function<std::string(const Alert&)>;

// Told when a sink starts giving alerts up (`failing` true: the first
// drop after a delivery, with its reason) and when it delivers again
// (`failing` false, `dropped` the alerts given up meanwhile). Called on the
// sink's delivery thread, or for queue_full on the thread that pushed (a
// pipeline thread: it must not wait), with none of the queue's locks held.
// Must be thread-safe. It may Push into this queue or another one; a Push
// into a full queue of a sink already failing does not call it again, but
// one into a full queue of a sink not yet failing does, nested in this
// call, so it must not hold a lock that the nested call takes
// (app/alert_fanout.cc queues its notices for that reason).
using DeliveryHealthFn = std::function<void(const std::string& sink, bool failing,
                                            std::string_view reason, uint64_t dropped)>;

struct AlertDeliveryQueueOptions {
  DeliveryHealthFn on_health;  // optional

  // Alerts waiting for delivery; past it new alerts are dropped
  // (reason="queue_full"). Alerts are small and rare, so this is generous.
  size_t capacity = 1000;
  // At shutdown, how long queued alerts may still be delivered before the
  // rest is dropped (reason="shutdown") and retries are abandoned. Counted
  // from RequestStop (or Stop, if it comes first).
  std::chrono::milliseconds drain_timeout{2000};
};

// Exponential backoff: initial, 2x initial, ... capped at max. Not
// thread-safe (one per delivery thread).
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max), next_(initial) {}
  std::chrono::milliseconds Next();  // the wait to use now; doubles the next one
  void Reset() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_, max_, next_;
};

enum class DeliveryOutcome {
  kDelivered,  // counted in deliveries_total
  kDropped,    // counted in dropped_total{reason}
  kPending,    // the sink reports the outcome later (ExecSink: at child exit)
};

struct DeliveryResult {
  DeliveryOutcome outcome = DeliveryOutcome::kDelivered;
  std::string drop_reason;  // for kDropped
  static DeliveryResult Delivered() { return {}; }
  static DeliveryResult Dropped(std::string reason) {
    return {DeliveryOutcome::kDropped, std::move(reason)};
  }
  static DeliveryResult Pending() { return {DeliveryOutcome::kPending, {}}; }
};

// A bounded queue of alerts and the thread that hands them, one at a time,
// to a delivery function. Owned by a sink as its LAST member so it stops (and
// joins) before the members the delivery function uses are destroyed.
//
// Thread-safety: Push, RequestStop, Stop and the Count* methods are
// thread-safe. Sleep and
// Stopping are meant for the delivery function (delivery thread).
class AlertDeliveryQueue {
 public:
  using DeliverFn = std::function<DeliveryResult(const Alert&)>;
  using IdleFn = std::function<void()>;

  // sink names the label value; registry must outlive the queue.
  AlertDeliveryQueue(std::string sink, const AlertDeliveryQueueOptions& options,
                     MetricsRegistry& registry);
  ~AlertDeliveryQueue();  // Stop()
  AlertDeliveryQueue(const AlertDeliveryQueue&) = delete;
  AlertDeliveryQueue& operator=(const AlertDeliveryQueue&) = delete;

  // Starts the delivery thread. idle (optional) runs on the delivery thread
  // at least every idle_interval while the queue is empty, and after each
  // delivery. Call once.
  void Start(DeliverFn deliver, IdleFn idle = nullptr,
             std::chrono::milliseconds idle_interval = std::chrono::milliseconds(50));

  // Never blocks on delivery. False if the alert was dropped (queue full or
  // stopping).
  bool Push(const Alert& alert);

  // Stops accepting (later Pushes are dropped, reason="shutdown") and starts
  // the drain time; returns at once, so that the owner of several sinks
  // lets them drain together. Idempotent.
  void RequestStop();
  // RequestStop(), then lets queued alerts be delivered until the drain time
  // is over, abandons the rest (counted, reason="shutdown"), calls interrupt
  // (optional; on this thread while the delivery thread may be in a
  // delivery: it must cut that delivery short, e.g. shut its socket down),
  // and joins. Idempotent.
  void Stop(const std::function<void()>& interrupt = nullptr);
  // When the drain time ends: RequestStop's time + drain_timeout (the
  // steady clock's epoch before RequestStop).
  std::chrono::steady_clock::time_point DrainDeadline() const;

  // For the delivery function: waits d, or less if the queue is being
  // stopped past its drain time. Returns false when the caller must give up.
  bool Sleep(std::chrono::milliseconds d);
  // True once the drain time is over: abandon retries.
  bool Aborting() const;

  void CountDelivered() {
    delivered_->Inc();
    NoteDelivered();
  }
  void CountFailure(std::string_view reason);
  void CountDropped(std::string_view reason);

  const std::string& sink() const { return sink_; }
  size_t Depth() const;

 private:
  void Run();
  Counter* Labelled(std::string_view family, std::string_view help, std::string_view reason);

  const std::string sink_;
  const AlertDeliveryQueueOptions options_;
  MetricsRegistry& registry_;
  Counter* delivered_;
  Counter* dropped_queue_full_;
  Gauge* depth_;

  DeliverFn deliver_;
  IdleFn idle_;
  std::chrono::milliseconds idle_interval_{50};

  mutable std::mutex mu_;             // guards everything below
  std::condition_variable work_cv_;   // wakes the delivery thread
  std::condition_variable drain_cv_;  // wakes Stop(): queue drained, thread finished
  std::deque<Alert> queue_;
  bool busy_ = false;      // an alert is being delivered
  bool closing_ = false;   // Push refuses; thread exits once drained
  bool aborting_ = false;  // drain time over
  bool stopped_ = false;
  bool finished_ = false;                                   // the delivery thread left its loop
  std::chrono::steady_clock::time_point drain_deadline_{};  // set with closing_
  std::map<std::string, Counter*, std::less<>> reason_counters_;
  std::thread thread_;
  // Health (on_health) and the rate limit of the log lines about failures.
  std::mutex health_mu_;
  bool failing_ = false;
  uint64_t dropped_while_failing_ = 0;
  std::chrono::steady_clock::time_point last_log_{};
  uint64_t unlogged_ = 0;
  void NoteTrouble(bool dropped, std::string_view reason);
  void NoteDelivered();
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ALERT_DELIVERY_QUEUE_H_
