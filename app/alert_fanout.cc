#include "app/alert_fanout.h"

#include "outputs/exec_sink.h"
#include "outputs/syslog_forwarder.h"
#include "outputs/webhook_sink.h"

namespace konseki::app {
namespace {

outputs::FilteredSinkOptions FilterFrom(const SinkFilterConfig& f) {
  outputs::FilteredSinkOptions o;
  ParseSeverity(f.min_severity, &o.min_severity);  // validated by the config loader
  o.signs = f.signs;
  return o;
}

std::chrono::milliseconds Millis(double secs) {
  return std::chrono::milliseconds(static_cast<int64_t>(secs * 1000));
}

}  // namespace

AlertFanout::~AlertFanout() = default;

StatusOr<std::unique_ptr<AlertFanout>> AlertFanout::Create(const Config& config, AlertSink& record,
                                                           const Clock& clock,
                                                           MetricsRegistry& metrics) {
  std::unique_ptr<AlertFanout> f(new AlertFanout(record));
  auto add = [&](std::unique_ptr<AlertSink> sink, const SinkFilterConfig& filter) {
    f->multi_.targets.push_back(std::make_unique<outputs::FilteredSink>(*sink, FilterFrom(filter)));
    f->sinks_.push_back(std::move(sink));
  };
  for (const SyslogSinkConfig& c : config.alerts_syslog) {
    outputs::SyslogForwarderOptions o;
    o.name = c.name;
    o.host = c.host;
    o.port = static_cast<uint16_t>(c.port);
    o.transport =
        c.transport == "tcp" ? outputs::SyslogTransport::kTcp : outputs::SyslogTransport::kUdp;
    o.octet_counting = c.octet_counting;
    o.facility = c.facility;
    o.queue.capacity = c.queue_capacity;
    auto s = outputs::SyslogForwarder::Create(o, metrics);
    if (!s.ok())
      return Status(s.status().code(), "alerts.syslog " + c.name + ": " + s.status().message());
    add(std::move(s).value(), c.filter);
  }
  for (const WebhookSinkConfig& c : config.alerts_webhook) {
    outputs::WebhookSinkOptions o;
    o.name = c.name;
    o.url = c.url;
    o.headers = c.headers;
    o.timeout = Millis(c.timeout_secs);
    o.max_attempts = c.max_attempts;
    o.queue.capacity = c.queue_capacity;
    auto s = outputs::WebhookSink::Create(o, metrics);
    if (!s.ok())
      return Status(s.status().code(), "alerts.webhook " + c.name + ": " + s.status().message());
    add(std::move(s).value(), c.filter);
  }
  for (const ExecSinkConfig& c : config.alerts_exec) {
    outputs::ExecSinkOptions o;
    o.name = c.name;
    o.argv = c.argv;
    o.timeout = Millis(c.timeout_secs);
    o.max_children = c.max_children;
    o.queue.capacity = c.queue_capacity;
    auto s = outputs::ExecSink::Create(o, metrics, &clock);
    if (!s.ok())
      return Status(s.status().code(), "alerts.exec " + c.name + ": " + s.status().message());
    add(std::move(s).value(), c.filter);
  }
  if (!f->sinks_.empty()) {
    outputs::ThrottledSinkOptions t;
    t.window = std::chrono::seconds(static_cast<int64_t>(config.alerts_throttle.window_secs));
    t.max_per_rule_host = config.alerts_throttle.max_per_rule_host;
    t.max_per_rule = config.alerts_throttle.max_per_rule;
    f->throttle_ = std::make_unique<outputs::ThrottledSink>(f->multi_, clock, t, metrics);
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
