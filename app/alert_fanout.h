// Where every alert goes: the alert file/stdout (always, unthrottled) and the
// notifying sinks (syslog to a SIEM, webhooks, programs such as mail), each
// behind its own filter and all behind one throttle, so a brute-force storm
// becomes a handful of notifications while the file keeps everything.
#ifndef KONSEKI_APP_ALERT_FANOUT_H_
#define KONSEKI_APP_ALERT_FANOUT_H_

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

// Thread-safe (every part is). `record` must outlive the fanout.
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

  AlertFanout(AlertSink& record, const Clock& clock) : record_(record), clock_(clock) {}
  // A notifying sink started giving alerts up, or delivers again: an alert
  // about it to the file and to the other notifying sinks.
  void OnSinkHealth(const std::string& sink, bool failing, std::string_view reason,
                    uint64_t dropped);

  AlertSink& record_;
  const Clock& clock_;
  // Guards the sinks' use by OnSinkHealth against the destructor.
  std::mutex health_mu_;
  bool closing_ = false;
  std::vector<std::string> names_;  // parallel to multi_.targets
  // Destroyed in reverse order: throttle, then filters, then the sinks.
  std::vector<std::unique_ptr<AlertSink>> sinks_;
  Multi multi_;
  std::unique_ptr<outputs::ThrottledSink> throttle_;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_ALERT_FANOUT_H_
