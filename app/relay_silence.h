// Links the host.silent alerts of hosts behind one sender (a relay) and
// tells a relay that died from one whose own logging went quiet (live21 F4).
//
// The heartbeat trackers are per worker and hosts are sharded by name, so
// the hosts behind one relay are judged by different threads with nothing
// linking them. This sink sits between the trackers (their HostGapSinks)
// and the alert fan-out, shared by every worker. Every alert passes
// through; for a host.silent alert it looks at the other hosts whose last
// line came from the same sender (alert.sender), in the trackers'
// snapshots (HeartbeatTracker::Hosts: refreshed every
// heartbeat.metrics_interval_secs, so at most that old):
//   - hosts whose last line came within same_sender_secs of this host's,
//     or after it or less than their own cadence before it and that have
//     been quiet since ("stopped together": a relay that dies leaves each
//     host's last line up to that host's spacing before it), are named in
//     the alert (same_sender_silent, same_sender_silent_count);
//   - hosts from that sender seen after this host's last line plus
//     same_sender_secs, and not quiet since (for less than half of this
//     host's silence or than their own cadence), mean the sender still
//     forwards (sender_alive, sender_alive_hosts). When the silent host is the sender's own (its
//     address is listed for it in correlation.host_addresses), it is the
//     relay's own logging that went quiet, not its forwarding: high is
//     lowered to low;
//   - when two or more hosts (the relay's own name counts) stopped
//     together and the sender forwards nothing else, one host.relay_silent
//     (high) names them, once per outage of that sender. Each host keeps
//     its own host.silent: admins route and silence alerts per host, and the
//     worker's correlator reads them (HostGapSink).
//
// Cost: nothing per message. The snapshots are copied at most once a
// second, only while host.silent alerts come (O(hosts) then).
//
// Used by the server (app/server.cc) and by test-rules (app/rule_tool.cc,
// over its replay's heartbeat alerts when --sender names the sender).
//
// Threading: Emit is thread-safe (any worker's tracker); a mutex guards the
// copied rows and the recent silences. `next` must be thread-safe. Readers
// are set before the workers start (SetReaders).
#ifndef KONSEKI_APP_RELAY_SILENCE_H_
#define KONSEKI_APP_RELAY_SILENCE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "matchers/heartbeat_tracker.h"

namespace konseki::app {

struct RelaySilenceOptions {
  // heartbeat.same_sender_secs: hosts of one sender whose last lines came
  // this close together stopped together. 0: no grouping (alerts pass
  // through unchanged).
  double same_sender_secs = 5;
  // correlation.host_addresses: host -> its own addresses. A host listed
  // with a sender address is that sender's own host (the relay's name).
  std::map<std::string, std::vector<std::string>> host_addresses;
  // Hosts named in an alert's lists (the counts are exact).
  size_t max_names = 20;
  // Silences remembered (the recent host.silent alerts, oldest dropped).
  size_t max_recent = 4096;
};

class RelaySilence final : public AlertSink {
 public:
  // next and metrics must outlive this. Time is the alerts' own (the
  // trackers' clock): nothing here reads a clock.
  RelaySilence(const RelaySilenceOptions& options, AlertSink& next, MetricsRegistry& metrics);
  RelaySilence(const RelaySilence&) = delete;
  RelaySilence& operator=(const RelaySilence&) = delete;

  // The trackers' snapshot readers. Call before any Emit.
  void SetReaders(std::vector<matchers::HeartbeatTracker::HostsReader> readers);

  void Emit(const Alert& alert) override;

 private:
  struct Silence {
    std::string key;   // lower-case host
    std::string host;  // as the alert spelt it
    std::string sender;
    int64_t last_seen_ns;
  };
  // One relay alert per outage: the newest last line of its hosts.
  struct RelayOutage {
    int64_t stopped_ns;
    int64_t alerted_ns;
  };

  // Under mu_. Alerts to emit after `alert` (with its fields added).
  void Judge(Alert& alert, std::vector<Alert>* extra);
  // Copies the snapshots when the copy is a second old or more.
  void RefreshRows(int64_t now_ns);

  const RelaySilenceOptions options_;
  AlertSink& next_;
  Counter* relay_alerts_;
  std::map<std::string, std::string> owner_of_;  // address -> host (as configured)

  std::mutex mu_;  // guards everything below
  std::vector<matchers::HeartbeatTracker::HostsReader> readers_;
  // The snapshots' seen hosts by lower-case sender, rebuilt by RefreshRows:
  // an alert looks at its sender's hosts only.
  struct Peer {
    std::string key;   // lower-case host
    std::string name;  // as the tracker spells it
    int64_t last_seen_ns;
    double cadence_secs;  // its learned spacing (0: not known yet)
  };
  std::vector<matchers::HostRow> rows_;  // RefreshRows' buffer
  std::unordered_map<std::string, std::vector<Peer>> by_sender_;
  int64_t rows_at_ns_ = 0;
  std::deque<Silence> recent_;
  std::map<std::string, RelayOutage> outages_;  // by sender
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_RELAY_SILENCE_H_
