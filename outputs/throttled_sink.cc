#include "outputs/throttled_sink.h"

#include <vector>

namespace konseki::outputs {

ThrottledSink::ThrottledSink(AlertSink& inner, const Clock& clock,
                             const ThrottledSinkOptions& options, MetricsRegistry& registry)
    : inner_(inner), clock_(clock), options_(options), registry_(registry) {}

ThrottledSink::Window& ThrottledSink::Current(Window& w, TimePoint now) const {
  if (w.sent == 0 || now - w.start >= options_.window || now < w.start) {
    w.start = now;
    w.sent = 0;
  }
  return w;
}

void ThrottledSink::PruneHosts(TimePoint now) {
  // A full table under a storm of new (spoofed) hosts would otherwise be
  // scanned on every alert; once per tenth of a window is enough.
  if (now >= last_prune_ && now - last_prune_ < options_.window / 10) return;
  last_prune_ = now;
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    if (now - it->second.start >= options_.window) {
      it = hosts_.erase(it);
    } else {
      ++it;
    }
  }
}

void ThrottledSink::AttachSummary(uint64_t n, TimePoint since, Alert* alert) {
  alert->fields.emplace_back("suppressed", std::to_string(n));
  alert->fields.emplace_back("suppressed_since", FormatRfc3339Micros(since));
  alert->title += " (+" + std::to_string(n) + " suppressed)";
}

void ThrottledSink::Emit(const Alert& alert) {
  const TimePoint now = clock_.Now();
  uint64_t summary = 0;
  TimePoint since;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto rit = rules_.find(alert.rule);
    if (rit == rules_.end()) {
      rit = rules_.emplace(alert.rule, RuleState{}).first;
      rit->second.suppressed_total = registry_.GetCounter(
          "konseki_alert_notifications_throttled_total",
          "Alerts not notified because of throttling (still archived and counted).",
          {{"rule", alert.rule}});
    }
    RuleState& rule = rit->second;
    Window& rule_window = Current(rule.window, now);

    Window* host_window = nullptr;
    auto key = std::make_pair(alert.rule, alert.host);
    auto hit = hosts_.find(key);
    if (hit == hosts_.end() && hosts_.size() >= options_.max_tracked_hosts) PruneHosts(now);
    if (hit != hosts_.end()) {
      host_window = &Current(hit->second, now);
    } else if (hosts_.size() < options_.max_tracked_hosts) {
      host_window = &hosts_.emplace(std::move(key), Window{now, 0}).first->second;
    }

    const bool pass = rule_window.sent < options_.max_per_rule &&
                      (host_window == nullptr || host_window->sent < options_.max_per_rule_host);
    if (!pass) {
      if (rule.suppressed == 0) {
        rule.first_suppressed = now;
        rule.worst = alert.severity;
      }
      ++rule.suppressed;
      if (alert.severity > rule.worst) rule.worst = alert.severity;
      rule.last_suppressed = alert;
      rule.suppressed_total->Inc();
      return;
    }
    ++rule_window.sent;
    if (host_window != nullptr) ++host_window->sent;
    summary = rule.suppressed;
    since = rule.first_suppressed;
    rule.suppressed = 0;
  }
  if (summary == 0) {
    inner_.Emit(alert);
    return;
  }
  Alert out = alert;
  AttachSummary(summary, since, &out);
  inner_.Emit(out);
}

void ThrottledSink::Flush() {
  const TimePoint now = clock_.Now();
  std::vector<Alert> summaries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, rule] : rules_) {
      if (rule.suppressed == 0 || now - rule.window.start < options_.window) continue;
      Alert s;
      s.time = now;
      s.received = now;
      s.rule = id;
      s.sign = rule.last_suppressed.sign;
      s.severity = rule.worst;
      s.title = "Suppressed alerts of rule " + id + ", last from " + rule.last_suppressed.host;
      s.host = rule.last_suppressed.host;
      AttachSummary(rule.suppressed, rule.first_suppressed, &s);
      summaries.push_back(std::move(s));
      // The summary opens the rule's next window as one notification.
      rule.window.start = now;
      rule.window.sent = 1;
      rule.suppressed = 0;
      rule.last_suppressed = Alert{};
    }
  }
  for (const Alert& s : summaries) inner_.Emit(s);
}

}  // namespace konseki::outputs
