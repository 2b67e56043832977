// Where every alert goes: the alert file/stdout (always, unthrottled) and the
// notifying sinks (syslog to a SIEM, webhooks, programs such as mail), each
// behind its own filter and all behind one throttle, so a brute-force storm
// becomes a handful of notifications while the file keeps everything.
#ifndef KONSEKI_APP_ALERT_FANOUT_H_
#define KONSEKI_APP_ALERT_FANOUT_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"
#include "common/alert.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"
#include "outputs/filtered_sink.h"
#include "outputs/throttled_sink.h"

namespace konseki::app {

// Thread-safe (every part is), and Emit never waits for a notifying sink
// (docs/alert_delivery.md). `record` must outlive the fanout. Destroying it
// stops the sinks, each after at most its queue.drain_timeout (alerts still
// held are counted as dropped, reason="shutdown").
class AlertFanout final : public AlertSink {
 public:
  static StatusOr<std::unique_ptr<AlertFanout>> Create(const Config& config, AlertSink& record,
                                                       const Clock& clock,
                                                       MetricsRegistry& metrics);
  ~AlertFanout() override;

  void Emit(const Alert& alert) override;
  // Sends the throttle's summaries of storms that ended. Call about once a
  // second or minute.
  void Tick();
  size_t notifying_sinks() const { return sinks_.size(); }

 private:
  // Passes each alert to every filter in turn.
  class Multi final : public AlertSink {
   public:
    void Emit(const Alert& alert) override {
      for (auto& s : targets) s->Emit(alert);
    }
    std::vector<std::unique_ptr<outputs::FilteredSink>> targets;
  };

  // An alert.delivery_failed / _resumed and the sink it is about.
  struct Notice {
    std::string sink;
    Alert alert;
  };

  AlertFanout(AlertSink& record, const Clock& clock) : record_(record), clock_(clock) {}
  // A notifying sink started giving alerts up, or delivers again: an alert
  // about it to the file and to the other notifying sinks. Runs on the
  // thread that saw it: a delivery thread, or for a full queue the thread
  // that emitted (a worker), so it must never wait. Pushing the notice into
  // another sink whose queue is full makes that sink fail too, and its own
  // OnSinkHealth runs nested in this one: so a notice is queued under
  // health_mu_ and emitted with no lock held, by whichever thread is not
  // already emitting notices (the nested call only queues).
  void OnSinkHealth(const std::string& sink, bool failing, std::string_view reason,
                    uint64_t dropped);
  void EmitNotice(const Notice& notice);

  AlertSink& record_;
  const Clock& clock_;
  std::mutex health_mu_;  // guards the four below
  // Signalled when emitting_notices_ turns false (the destructor waits).
  std::condition_variable health_cv_;
  bool closing_ = false;           // the sinks are about to go: notices are dropped
  bool emitting_notices_ = false;  // a thread is emitting notices_ (outside the lock)
  // Notices waiting for that thread. At most two per sink and failure
  // episode (failing, then resumed), each emitted as soon as the emitting
  // thread gets to it.
  std::deque<Notice> notices_;
  std::vector<std::string> names_;  // parallel to multi_.targets
  // Each sink's RequestStop: the destructor starts every sink's drain time
  // at once, so stopping takes one drain_timeout, not one per sink.
  std::vector<std::function<void()>> request_stops_;
  // Destroyed in reverse order: throttle, then filters, then the sinks.
  std::vector<std::unique_ptr<AlertSink>> sinks_;
  Multi multi_;
  std::unique_ptr<outputs::ThrottledSink> throttle_;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_ALERT_FANOUT_H_
