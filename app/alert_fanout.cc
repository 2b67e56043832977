#include "app/alert_fanout.h"

#include "outputs/exec_sink.h"
#include "outputs/syslog_forwarder.h"
#include "outputs/webhook_sink.h"

namespace konseki::app {
namespace {

// "alerts.syslog <name>: <what>" for a sink that cannot start.
Status Named(std::string_view key, const std::string& name, const Status& st) {
  return Status(st.code(), std::string(key) + " " + name + ": " + st.message());
}

}  // namespace

AlertFanout::~AlertFanout() = default;

StatusOr<std::unique_ptr<AlertFanout>> AlertFanout::Create(const Config& config, AlertSink& record,
                                                           const Clock& clock,
                                                           MetricsRegistry& metrics) {
  std::unique_ptr<AlertFanout> f(new AlertFanout(record));
  auto add = [&](std::unique_ptr<AlertSink> sink, const outputs::FilteredSinkOptions& filter) {
    f->multi_.targets.push_back(std::make_unique<outputs::FilteredSink>(*sink, filter));
    f->sinks_.push_back(std::move(sink));
  };
  for (const auto& c : config.alerts_syslog) {
    auto s = outputs::SyslogForwarder::Create(c.options, metrics);
    if (!s.ok()) return Named("alerts.syslog", c.options.name, s.status());
    add(std::move(s).value(), c.filter);
  }
  for (const auto& c : config.alerts_webhook) {
    auto s = outputs::WebhookSink::Create(c.options, metrics);
    if (!s.ok()) return Named("alerts.webhook", c.options.name, s.status());
    add(std::move(s).value(), c.filter);
  }
  for (const auto& c : config.alerts_exec) {
    auto s = outputs::ExecSink::Create(c.options, metrics, &clock);
    if (!s.ok()) return Named("alerts.exec", c.options.name, s.status());
    add(std::move(s).value(), c.filter);
  }
  if (!f->sinks_.empty()) {
    f->throttle_ =
        std::make_unique<outputs::ThrottledSink>(f->multi_, clock, config.alerts_throttle, metrics);
  }
  return f;
}

void AlertFanout::Emit(const Alert& alert) {
  record_.Emit(alert);
  if (throttle_) throttle_->Emit(alert);
}

void AlertFanout::Tick() {
  if (throttle_) throttle_->Flush();
}

}  // namespace konseki::app
