// ThrottledSink: an AlertSink decorator that keeps a storm of identical
// alerts (an SSH brute force: thousands of auth failures a minute) from
// becoming thousands of mails. Put it in front of the notifying sinks
// (ExecSink, WebhookSink, SyslogForwarder), not in front of the archive.
//
// Per rule, time is cut into fixed windows of options.window starting at the
// first alert. Within a window an alert is passed on only while both
//   - its (rule, host) pair has had fewer than max_per_rule_host
//     notifications, and
//   - its rule has had fewer than max_per_rule notifications (all hosts),
// otherwise it is suppressed and counted. The next alert of that rule that
// passes carries the count of suppressed ones: a field
// ("suppressed", "<n>") and " (+<n> suppressed)" appended to its title. So
// nothing is hidden without a trace, and a storm yields a handful of
// notifications per window.
//
// A storm that simply stops would leave its count unreported; Flush(), called
// periodically by the owner (say every minute), emits one summary alert per
// rule whose window is over with suppressed alerts pending.
//
// Memory: one entry per rule, plus at most max_tracked_hosts (rule, host)
// entries; past that, expired entries are pruned and, if still full, new
// pairs are limited by the per-rule cap only. Hostnames come from senders,
// so this bound matters.
//
// Counts konseki_alert_notifications_throttled_total{rule}.
//
// Thread-safe: Emit and Flush may be called from any thread; one mutex
// guards the state, and the inner sink is called outside it. The inner sink,
// the clock and the registry must outlive this object.
#ifndef KONSEKI_OUTPUTS_THROTTLED_SINK_H_
#define KONSEKI_OUTPUTS_THROTTLED_SINK_H_

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "common/alert.h"
#include "common/clock.h"
#include "common/metrics.h"

namespace konseki::outputs {

struct ThrottledSinkOptions {
  std::chrono::seconds window{600};
  // Notifications per (rule, host) per window.
  int max_per_rule_host = 3;
  // Notifications per rule per window, all hosts together.
  int max_per_rule = 10;
  // (rule, host) pairs remembered; see the class comment.
  size_t max_tracked_hosts = 10000;
};

class ThrottledSink final : public AlertSink {
 public:
  ThrottledSink(AlertSink& inner, const Clock& clock, const ThrottledSinkOptions& options,
                MetricsRegistry& registry);
  ThrottledSink(const ThrottledSink&) = delete;
  ThrottledSink& operator=(const ThrottledSink&) = delete;

  void Emit(const Alert& alert) override;
  // Emits a summary alert for each rule whose window has ended with
  // suppressed alerts not yet reported.
  void Flush();

 private:
  struct Window {
    TimePoint start;
    int sent = 0;
  };
  struct RuleState {
    Window window;
    uint64_t suppressed = 0;  // since the last notification of this rule
    TimePoint first_suppressed;
    Alert last_suppressed;  // template for Flush()'s summary
    Severity worst = Severity::kInfo;
    Counter* suppressed_total = nullptr;
  };
  // Starts a new window if the current one is over. Returns the window.
  Window& Current(Window& w, TimePoint now) const;
  void PruneHosts(TimePoint now);
  static void AttachSummary(uint64_t n, TimePoint since, Alert* alert);

  AlertSink& inner_;
  const Clock& clock_;
  const ThrottledSinkOptions options_;
  MetricsRegistry& registry_;

  std::mutex mu_;  // guards rules_ and hosts_
  std::map<std::string, RuleState, std::less<>> rules_;
  std::map<std::pair<std::string, std::string>, Window> hosts_;
  TimePoint last_prune_{};
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_THROTTLED_SINK_H_
