// The analyzer without sockets, archive or threads: lines in, rule hits and
// correlation alerts out, as the server would raise them. Used by
// check-rules (correlation examples), test-rules and tests.
//
//   auto a = OfflineAnalyzer::Create(rules, pack, options);
//   a->Feed(line, "192.0.2.1", &hits, &alerts);   // per line, in order
//
// Event time is the line's stamp, and the line is taken as received at that
// instant (files carry no receive time), so windows and learning periods run
// on the stamps whatever the reading speed. A stamp without a year (RFC 3164)
// takes the year that puts it at most a month after the reference instant:
// by default 2026-01-01, so that examples give the same results every day;
// test-rules sets a file's modification time (its last line was written
// then). A line without a syslog header, as a web server, PHP, auditd or
// squid writes its own file, is read at the stamp its format carries
// (receiver::ReadFileLineTime), so a day's access log replays over the day;
// the server, which gets such lines as they are written, uses their
// receive time. A repeat notice ("last message repeated 5 times",
// receiver::ReadRepeatNotice) right after a line of its host with hits is
// that line again, 5 times, as in the server (app/worker.cc): the notice's
// hits, message() and correlation input are that line's, with repeats = 5
// and the notice's stamp. A gap in a sender's RFC 5424 sequenceId is
// alerted (log.gap) as the server's heartbeat does (heartbeat.sequence_gap
// at its default).
//
// With EnableHeartbeat, the server's heartbeat tracker (host.silent and its
// kin, matchers/heartbeat_tracker.h) runs too, on the file's clock: each
// line is received at its stamp, and the clock is the latest stamp seen so
// far (a line stamped before it is received at the clock, for the tracker
// only: the file is in receive order). When a line moves the clock on, the tracker is ticked at
// every deadline it passes (so a silence is judged at the instant it was due, as the server's
// once-a-second tick would) and at the new time; Finish ticks once more at the end of the input.
// Its alerts come in *alerts before the line's own, with origin_seq the line they are about (for
// host.silent, the host's last line). Not thread-safe.
#ifndef KONSEKI_MATCHERS_OFFLINE_ANALYZER_H_
#define KONSEKI_MATCHERS_OFFLINE_ANALYZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/message.h"
#include "common/metrics.h"
#include "matchers/alert_hold.h"
#include "matchers/alert_pending.h"
#include "matchers/correlator.h"
#include "matchers/field_carry.h"
#include "matchers/heartbeat_tracker.h"
#include "matchers/rule_set.h"
#include "matchers/sequence_watch.h"
#include "receiver/parser.h"

namespace konseki::matchers {

class OfflineAnalyzer {
 public:
  static constexpr TimePoint kDefaultReference =
      TimePoint(std::chrono::seconds(1'767'225'600));  // 2026-01-01T00:00:00Z

  // `rules` must have been compiled from pack.rules. The parser is copied.
  static StatusOr<std::unique_ptr<OfflineAnalyzer>> Create(
      std::shared_ptr<const RuleSet> rules, const RulePack& pack, const CorrelatorOptions& options,
      const receiver::Parser& parser = receiver::Parser());

  // Parses `line` (sender: the address it came from, may be empty), runs the
  // rules and the correlations. *hits gets this line's rule hits, *alerts
  // this line's correlation alerts (both cleared first).
  void Feed(std::string_view line, std::string_view sender, std::vector<RuleHit>* hits,
            std::vector<Alert>* alerts);
  // The number the next lines go by: the alerts a line causes carry it in
  // Alert::origin_seq, also when they are raised under a later line or by
  // Finish (a wait for an answer), so a caller that numbers its input
  // (test-rules) can name the line. 0 (the default): not numbered.
  void set_line_seq(uint64_t seq) { line_seq_ = seq; }
  // The instant year-less stamps are read against (see above).
  void set_reference(TimePoint reference) { reference_ = reference; }
  // The last line's parse (views into the last line, or for a repeat
  // notice into the line it repeats).
  const Message& message() const { return msg_; }
  // Per hit of the last line: a correlation with `supersedes` alerted on it,
  // so the server raises no alert of the rule's own for it.
  // Also true for a hit whose alert the rule's quiet_secs held (held()).
  const std::vector<bool>& superseded() const { return superseded_; }
  // Per hit of the last line: its rule's quiet_secs held its alert (an alert
  // of the same sign from the host came shortly before).
  const std::vector<bool>& held() const { return held_; }
  // Per hit of the last line: its rule's alert waits for an answer
  // (pending_secs); it comes later in *alerts of the line that decides it,
  // or of Finish. Also true in superseded().
  const std::vector<bool>& pending() const { return pending_; }
  // The end of the input: alerts still waiting for an answer go unanswered,
  // and the heartbeat ticks once more (*alerts cleared first).
  void Finish(std::vector<Alert>* alerts);
  // Runs the heartbeat tracker (see above) with `options`, as the server's
  // heartbeat section gives them, except that nothing is loaded or saved
  // (state_dir is ignored) and stall_secs is 0: the file's clock has no
  // stalls of konseki's own (a gap in the stamps is the hosts' silence).
  // Its own log.gap is off: this analyzer raises that already. No
  // host.clock_jump: with the stamp as the receive time there is no clock
  // to judge a host's by. The tracker runs as a replay
  // (HeartbeatTracker::set_replay: no host.new, a silence judged only once
  // the input showed the host logging for that long). Call before
  // the first Feed. Fails on options ValidateHeartbeatOptions refuses.
  Status EnableHeartbeat(const HeartbeatOptions& options);
  // The heartbeat tracker's snapshot of its hosts (HeartbeatTracker::Hosts,
  // refreshed every metrics_interval_secs of the file's clock), for the
  // relay grouping test-rules runs over the heartbeat's alerts
  // (app/relay_silence.h). Nothing before the tracker starts (the first
  // stamped line) or without EnableHeartbeat. The reader refers to this
  // analyzer: call it while the analyzer lives, on its thread.
  HeartbeatTracker::HostsReader HeartbeatHosts() const;
  Correlator& correlator() { return *correlator_; }
  const RuleSet& rules() const { return *rules_; }

 private:
  OfflineAnalyzer() = default;
  // heartbeat.sequence_gap's log.gap (its defaults), as the server's
  // heartbeat raises it: appended to *alerts.
  void CheckSequence(const Message& line, const std::vector<RuleHit>& hits,
                     std::vector<Alert>* alerts);
  // The heartbeat on the file's clock: moves it to `now` (if later),
  // ticking at every deadline on the way; the tracker's alerts go to
  // *alerts.
  void AdvanceHeartbeat(TimePoint now, std::vector<Alert>* alerts);
  // After the rules and correlations of msg_: the high alerts of the line
  // (its hits, and *alerts from line_alerts_from on), its stop, shutdown
  // and boot hits (hits null: none, a repeat notice), then `line` as
  // received, as the worker tells the tracker (app/worker.cc).
  void ObserveHeartbeat(const Message& line, const std::vector<RuleHit>* hits,
                        std::vector<Alert>* alerts, size_t line_alerts_from);
  // The tracker's alerts since the last call into *alerts, each with the
  // line it is about.
  void TakeHeartbeatAlerts(std::vector<Alert>* alerts);
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<RuleSet::Scratch> scratch_;
  receiver::Parser parser_;
  MetricsRegistry metrics_;  // the correlator's counters (not exported)
  std::unique_ptr<Correlator> correlator_;
  Message msg_;
  std::vector<bool> superseded_;
  std::vector<bool> held_;
  AlertHold hold_;
  FieldCarry carry_;  // rules' remember / recall
  SequenceWatch sequence_{SequenceWatchOptions()};
  std::vector<bool> pending_;
  PendingAlerts pending_alerts_;
  PendingAlerts::Decisions decided_;
  TimePoint reference_ = kDefaultReference;
  uint64_t seq_ = 0;
  uint64_t line_seq_ = 0;  // set_line_seq
  // Each host's last line, for repeat notices; `hit`: it had rule hits. A
  // notice that stood for it leaves it in place.
  struct EarlierLine {
    std::string line;
    std::string sender;
    bool hit = false;
  };
  std::unordered_map<std::string, EarlierLine> earlier_;
  // EnableHeartbeat: the tracker is made at the first stamped line (its
  // start is the file's first instant).
  class CollectSink final : public AlertSink {
   public:
    void Emit(const Alert& alert) override { alerts.push_back(alert); }
    std::vector<Alert> alerts;
  };
  bool heartbeat_on_ = false;
  HeartbeatOptions heartbeat_options_;
  FakeClock heartbeat_clock_;
  CollectSink heartbeat_sink_;
  MetricsRegistry heartbeat_metrics_;  // not exported
  std::unique_ptr<HeartbeatTracker> heartbeat_;
  // Each host's last line number (set_line_seq), by its name in lower
  // case: what its host.silent is about.
  std::unordered_map<std::string, uint64_t> heartbeat_last_line_;
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_OFFLINE_ANALYZER_H_
