// What the control socket answers: `status` (one screen about the running
// daemon) and `hosts` (every host the heartbeat tracks), as JSON documents
// built from the live metrics, the queues, the alert tally and the heartbeat
// trackers' snapshots. Also owns the reload-result gauges.
//
// Answer shapes (keys are stable; the console commands and tests read them):
//   status: {"version", "pid", "start_time", "uptime_secs", "config",
//            "listeners": [{"name", "bound", "transport", "connections",
//                           "received_messages", "messages_per_sec"}],
//            "drops": [{"stage", "reason", "messages"}],
//            "queue": {"workers", "max_bytes_per_worker", "max_fill", "blocked_workers"},
//            "archive": {"dir", "free_bytes", "total_bytes", "written_messages",
//                        "write_errors", "blocked"},
//            "rules": {"loaded", "dir", "last_reload": {"time", "ok", "error"}},
//            "alerts": {"file", "last_hour": {<severity>: n}, "last_day": {...}},
//            "hosts": {"tracked", "silent", "silent_hosts": [name...],
//                      "flooding", "flooding_hosts": [name...]}}
//            (silent_hosts: the first kStatusSilentNames, in name order;
//            "silent" counts them all; flooding: hosts whose host.flood
//            was within the hour, the same way)
//   hosts:  {"time", "hosts": [{"name", "sender", "first_seen", "last_seen",
//            "cadence_secs", "threshold_secs", "state", "expected",
//            "messages_today", "rate_per_sec", "last_flood"}]}
//            (rate_per_sec: the learned usual rate host.flood compares with)
//   Times are Unix seconds (numbers); 0 means never.
#ifndef KONSEKI_APP_STATUS_SERVICE_H_
#define KONSEKI_APP_STATUS_SERVICE_H_

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "app/alert_tally.h"
#include "app/batch_queues.h"
#include "app/config.h"
#include "app/json_value.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "matchers/heartbeat_tracker.h"

namespace konseki::app {

// How many silent host names a status answer carries: senders choose how
// many hosts there are (a flood of invented names), the one-screen status
// must not grow with them; `konseki hosts --silent` lists them all.
inline constexpr size_t kStatusSilentNames = 10;

// Everything the service reads. All pointers must outlive the service.
struct StatusSources {
  const Config* config = nullptr;
  MetricsRegistry* metrics = nullptr;
  const BatchQueues* queues = nullptr;
  const AlertTally* tally = nullptr;
  const Clock* clock = nullptr;
  // Measures uptime_secs: a clock that never steps (only differences are
  // read). nullptr: CLOCK_BOOTTIME, which a `date -s` or an NTP step does
  // not move and which counts a suspend. The wall clock (`clock`) gives
  // start_time only: uptime from it went negative ("up -") when the log
  // host's clock was set back past the start (prod23).
  const Clock* uptime_clock = nullptr;
  std::vector<matchers::HeartbeatTracker::HostsReader> hosts;  // one per tracker
  // Per configured listener: its metric label (address as configured) and
  // the address actually bound, in config order.
  std::vector<std::pair<std::string, std::string>> listeners;
  std::string rules_dir;  // as resolved (the bundled packs when empty in the config)
};

// Where konseki keeps its state (heartbeat files, the control socket):
// HeartbeatStateDir (app/config.h), by default <archive.dir>/.state.
inline std::string StateDir(const Config& config) { return HeartbeatStateDir(config); }
// <StateDir>/konseki.sock.
std::string ControlSocketPath(const Config& config);

// A host's state as `konseki hosts` prints it: "ok", "silent", "stopped"
// (silent after a stop message), "new" (first seen within the last day) or
// "expected-never-seen".
std::string HostStateName(const matchers::HostRow& row, int64_t now_ns);

// One host of the "hosts" answer as a JSON object, appended to *out: name,
// sender, senders, first_seen, last_seen (Unix seconds), cadence_secs,
// threshold_secs, state, expected, messages_today. Written as text, not as a
// libfastjson tree: a tree costs ~4 KB a host, and the daemon kept that
// memory after answering for 100,000 hosts.
void AppendHostJson(const matchers::HostRow& row, int64_t now_ns, std::string* out);
// A JSON number (shortest form that reads back the same; non-finite: 0).
void AppendJsonNumber(double v, std::string* out);

// Thread-safe: Tick and NoteReload come from the main thread, Handle from
// the control socket's thread; one mutex guards the rate samples and the
// reload result (control plane only, never taken on the data path).
//
// Metrics: konseki_reload_success (1 if the last rule load succeeded, 0 if
// it failed and the previous rules stay), konseki_reload_timestamp_seconds
// (Unix time of that load; start-up counts as the first).
class StatusService {
 public:
  explicit StatusService(StatusSources sources);
  StatusService(const StatusService&) = delete;
  StatusService& operator=(const StatusService&) = delete;

  // About once a second: samples the listeners' counters for messages/s
  // (averaged over the last 10 s).
  void Tick();
  // The result of a rule (re)load; error is empty on success.
  void NoteReload(bool ok, const std::string& error);

  // The control socket handler: "status", "hosts" or an {"error"} document.
  std::string Handle(std::string_view request);

  JsonValue Status();
  // {"time": T, "hosts": [AppendHostJson of each host, by name]}.
  std::string HostsJson();

 private:
  struct RateSample {
    int64_t ns;
    std::vector<double> received;  // per listener
  };
  std::vector<double> ReceivedPerListener(const std::vector<MetricValue>& snap) const;
  JsonValue Listeners(const std::vector<MetricValue>& snap);
  JsonValue Archive(const std::vector<MetricValue>& snap) const;
  JsonValue Queue() const;
  JsonValue Alerts() const;
  JsonValue Rules();

  const StatusSources src_;
  int64_t UptimeClockNs() const;

  const int64_t start_ns_;
  const int64_t uptime_start_ns_;  // UptimeClockNs() at construction
  Gauge* reload_success_;
  Gauge* reload_time_;
  std::mutex mu_;  // guards samples_ and the last_reload_* fields
  std::deque<RateSample> samples_;
  int64_t last_reload_ns_;
  bool last_reload_ok_ = true;
  std::string last_reload_error_;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_STATUS_SERVICE_H_
