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

AlertFanout::~AlertFanout() {
  std::unique_lock<std::mutex> lock(health_mu_);
  // The sinks stop after this: their last failures tell nobody. A notice
  // being emitted now finishes first (its pushes never wait).
  closing_ = true;
  health_cv_.wait(lock, [&] { return !emitting_notices_; });
  lock.unlock();
  for (const auto& request_stop : request_stops_) request_stop();
}

void AlertFanout::OnSinkHealth(const std::string& sink, bool failing, std::string_view reason,
                               uint64_t dropped) {
  Notice n{sink, {}};
  Alert& a = n.alert;
  a.time = a.received = clock_.Now();
  a.host = "konseki";
  a.rule = "konseki.alert_delivery";
  a.fields.emplace_back("sink", sink);
  if (failing) {
    a.sign = "alert.delivery_failed";
    a.severity = Severity::kHigh;
    a.title = "alert sink " + sink +
              " gives alerts up: the people or systems it notifies are not told (see konseki's "
              "log and konseki_alert_delivery_dropped_total)";
    a.fields.emplace_back("reason", std::string(reason));
  } else {
    a.sign = "alert.delivery_resumed";
    a.severity = Severity::kLow;
    a.title = "alert sink " + sink + " delivers again";
    a.fields.emplace_back("dropped", std::to_string(dropped));
  }
  std::unique_lock<std::mutex> lock(health_mu_);
  if (closing_) return;
  notices_.push_back(std::move(n));
  if (emitting_notices_) return;  // that thread (perhaps this one, further up) emits it
  emitting_notices_ = true;
  while (!notices_.empty() && !closing_) {
    const Notice next = std::move(notices_.front());
    notices_.pop_front();
    lock.unlock();
    EmitNotice(next);
    lock.lock();
  }
  notices_.clear();
  emitting_notices_ = false;
  health_cv_.notify_all();
}

void AlertFanout::EmitNotice(const Notice& notice) {
  record_.Emit(notice.alert);
  // The other notifying sinks (not the failing one: it would fail again),
  // past their filters but not the throttle: one alert per episode.
  for (size_t i = 0; i < multi_.targets.size(); ++i) {
    if (names_[i] != notice.sink) multi_.targets[i]->Emit(notice.alert);
  }
}

StatusOr<std::unique_ptr<AlertFanout>> AlertFanout::Create(const Config& config, AlertSink& record,
                                                           const Clock& clock,
                                                           MetricsRegistry& metrics) {
  std::unique_ptr<AlertFanout> f(new AlertFanout(record, clock));
  AlertFanout* self = f.get();
  const outputs::DeliveryHealthFn health = [self](const std::string& sink, bool failing,
                                                  std::string_view reason, uint64_t dropped) {
    self->OnSinkHealth(sink, failing, reason, dropped);
  };
  auto add = [&](auto sink, const outputs::FilteredSinkOptions& filter, const std::string& name) {
    f->multi_.targets.push_back(std::make_unique<outputs::FilteredSink>(*sink, filter));
    f->names_.push_back(name);
    f->request_stops_.push_back([s = sink.get()] { s->RequestStop(); });
    f->sinks_.push_back(std::move(sink));
  };
  for (const auto& c : config.alerts_syslog) {
    auto o = c.options;
    o.queue.on_health = health;
    auto s = outputs::SyslogForwarder::Create(o, metrics);
    if (!s.ok()) return Named("alerts.syslog", c.options.name, s.status());
    add(std::move(s).value(), c.filter, c.options.name);
  }
  for (const auto& c : config.alerts_webhook) {
    auto o = c.options;
    o.queue.on_health = health;
    auto s = outputs::WebhookSink::Create(o, metrics);
    if (!s.ok()) return Named("alerts.webhook", c.options.name, s.status());
    add(std::move(s).value(), c.filter, c.options.name);
  }
  for (const auto& c : config.alerts_exec) {
    auto o = c.options;
    o.queue.on_health = health;
    auto s = outputs::ExecSink::Create(o, metrics, &clock);
    if (!s.ok()) return Named("alerts.exec", c.options.name, s.status());
    add(std::move(s).value(), c.filter, c.options.name);
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
