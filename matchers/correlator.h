// The correlation engine: rule hits in, correlation alerts out.
//
//   auto c = Correlator::Create(pack, options, metrics);   // once per pack (and at SIGHUP)
//   c->ObserveHost(msg.host(), msg.sender, msg.received);  // every message
//   for (hit of the message) {
//     HitEvent e = ...;                                    // rule id, sign, fields, times
//     c->Process(e, &alerts);                              // appends correlation alerts
//   }
//   c->OnHostGap(host);                                    // host.silent from the heartbeat
//   c->Tick(now);                                          // expiry and periodic save
//
// Correlations are data (matchers/correlation.h); this class runs the six
// kinds generically. An alert of a correlation is itself fed back as an input
// (sequence can start from a correlation); the loader refuses cycles.
//
// Threading: not thread-safe. One Correlator per thread that owns its keys:
// each worker runs one over the host-scoped correlations of its hosts, and
// one fleet thread runs one over the fleet-scoped ones (options.run_host /
// run_fleet). Wants() is const over immutable tables and may be called from
// any thread. The correlations' definitions (the RulePack given to Create)
// are shared by the correlators built from it and only read after Create.
//
// Time: windows run on event time (the message's stamp, or its receive time
// when it has none). A stamp more than max_future_secs ahead of the receive
// time or max_past_secs behind it is replaced by the receive time and counted
// (konseki_correlation_clamped_total{reason}), so one bad clock cannot poison
// a key. Lines out of order within a window are placed by their stamp. Host
// watching (unpaired) and learning (first_seen) run on receive time.
//
// Memory: each correlation keeps at most max_keys (its own, or
// max_keys_per_rule) keys, and all together at most options.max_keys; the
// least recently used key of the inserting correlation goes first
// (konseki_correlation_evictions_total{rule}). A key costs ~430 heap bytes
// with the bundled packs, key text and values included
// (bench/correlator_bench.cc). Hosts are capped by max_hosts the same way.
//
// Metrics: konseki_correlation_hits_total, konseki_correlation_alerts_total{rule},
// konseki_correlation_evictions_total{rule}, konseki_correlation_clamped_total{reason},
// konseki_correlation_keys{correlator} (gauge, refreshed by Tick).
#ifndef KONSEKI_MATCHERS_CORRELATOR_H_
#define KONSEKI_MATCHERS_CORRELATOR_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/damaged_file.h"
#include "common/host_key.h"
#include "common/message.h"
#include "common/metrics.h"
#include "common/status.h"
#include "matchers/beacon_score.h"
#include "matchers/correlation.h"
#include "matchers/rule_loader.h"
#include "matchers/rule_set.h"
#include "matchers/work_hours.h"

namespace konseki::matchers {

using Fields = std::vector<std::pair<std::string, std::string>>;

// One input: a rule hit (or a correlation alert fed back). Views need only
// live during Process.
struct HitEvent {
  std::string_view input_id;  // rule or correlation id
  std::string_view sign;
  const Fields* fields = nullptr;
  std::string_view host;
  std::string_view sender;
  std::string_view program;
  std::string_view pid;
  std::string_view raw;  // the line, for the alert's message
  TimePoint event_time;  // the message's stamp, or its receive time
  TimePoint received;
  // Hits of one message share a non-zero number: a correlation takes at most
  // one hit per message (two rules of one sign on one line count once).
  uint64_t message_seq = 0;
  // How many events the line stands for (Message::repeats: a sender's
  // "message repeated N times"): threshold and sequence count each.
  uint32_t repeats = 1;
  // The rule's dedupe_secs (matchers/rule.h): a hit identical to one of the
  // same rule taken less than this many seconds before (receive time) is a
  // resent line, not taken again; 0: every hit counts.
  uint32_t dedupe_secs = 0;
  // The rule's severity: a `supersedes` correlation takes the place of the
  // rule's alert only when its own severity is not lower.
  Severity severity = Severity::kInfo;
  // >= 0: the archive wrote the line to that worker's overflow folder, not
  // the host's (AlertMember::overflow_worker); set by the worker after
  // archiving it.
  int32_t overflow_worker = -1;
  // The id of the host correlation whose alert took the place of this
  // hit's rule alert (`supersedes`; with `replaces`, a correlation that
  // knows the line is routine: an admin's or Ansible's useradd); empty when
  // none. Set by the host correlator for the fleet correlations (which
  // run after it) and readable by them as the field `superseded_by`.
  std::string_view superseded_by;
  // The event's local time (parser.timezone) and whether it falls within
  // correlation.working_hours, read as the pseudo-fields hour, weekday and
  // work_hours; set by Process from the clamped event time when some
  // correlation reads them (hour < 0 otherwise: the fields are empty).
  LocalTime local;
};

// The input of one rule hit on msg (views into msg and hit). Event time is
// msg.timestamp (the receive time when the line has no stamp).
HitEvent MakeHitEvent(const Message& msg, const RuleHit& hit, uint64_t message_seq);

// A correlation's alert as the input of another correlation (views into a;
// message_seq 0: an alert is not a line).
HitEvent AlertHitEvent(const Alert& a);

// A generated name's stem, what "field|stem" reads: the value without its
// trailing run of digits and hex letters (one digit at least) and the
// - _ . before it: "build-880091" -> "build", "ci728" -> "ci",
// "runner_3fa9c2" -> "runner". Empty when nothing is cut or less than two
// characters are left ("alice", "u7").
std::string_view NameStem(std::string_view v);

// correlation.overrides.<id>: per-rule windows and counts; < 0 keeps the pack's.
struct CorrelationOverride {
  double window_secs = -1;
  double count = -1;
  double quiet_secs = -1;
  double min_observed_secs = -1;
  double learning_secs = -1;
  double established_count = -1;  // 0 switches it off
  double established_secs = -1;
};

struct CorrelatorOptions {
  // correlation.learning_days (14) in seconds: first_seen rules stay silent
  // while a host has been watched for less than this.
  double learning_secs = 14 * 86400.0;
  // correlation.session_min_observed_secs: default min_observed_secs of
  // unpaired rules.
  double session_min_observed_secs = 86400;
  // correlation.system_accounts: added to the set named system_accounts.
  std::vector<std::string> system_accounts;
  // correlation.host_addresses: host -> its own addresses (beside the sender
  // addresses konseki saw for the host).
  std::map<std::string, std::vector<std::string>> host_addresses;
  // correlation.max_keys: keys over all correlations of this correlator
  // (each worker and the fleet thread has one). A key costs ~430 heap bytes
  // with the bundled packs (bench/correlator_bench.cc): ~110 MB at the cap.
  size_t max_keys = 250'000;
  // correlation.max_keys_per_rule: default per-correlation cap.
  size_t max_keys_per_rule = 100'000;
  // Hosts remembered (watch start, learning start, addresses, learned sets).
  size_t max_hosts = 100'000;
  std::map<std::string, CorrelationOverride> overrides;
  // Event-time clamping (see the header comment).
  double max_future_secs = 300;
  double max_past_secs = 7 * 86400.0;
  // network: (app/config.cc). Replaces the values of the packs' sets of
  // these names (network.internal -> "internal", network.no_outbound ->
  // "no_outbound", network.beacon.allow -> "beacon_allow"); values are
  // names, globs, addresses or CIDRs. A set no pack defines is ignored.
  std::map<std::string, std::vector<std::string>> set_values;
  // Every beacon correlation (< 0 or 0: the pack's): network.beacon.score,
  // .min_connections, .window_secs, .max_pairs.
  double beacon_score = -1;
  double beacon_min_connections = -1;
  double beacon_window_secs = -1;
  size_t beacon_max_pairs = 0;
  double beacon_burst_secs = -1;  // network.beacon.burst_secs
  // network.beacon.weights: of the score's parts (matchers/beacon_score.h).
  BeaconWeights beacon_weights;
  // network.drop_severity: direction -> severity or "none" (count only), for
  // the direction correlations of sign firewall.drop; directions not given
  // keep the pack's.
  std::map<std::string, std::string> drop_severity;
  // correlation.working_hours: what the pseudo-field work_hours calls
  // working time (matchers/work_hours.h; default Monday to Friday,
  // 07:00-21:00).
  WorkHours work_hours;
  // parser.timezone, for the pseudo-fields hour, weekday and work_hours:
  // local_zone when "local" (not owned; must outlive the correlator), else
  // utc_offset_secs east of UTC. test-rules and check-rules without a config
  // read the stamps in UTC, as their parser does.
  const receiver::LocalZone* local_zone = nullptr;
  int utc_offset_secs = 0;
  // Member lines (archive locations) per alert.
  size_t max_members = 20;
  // Which correlations this instance runs.
  bool run_host = true;
  bool run_fleet = true;
  // State file (empty: none) and how often Tick saves it (0: only SaveState).
  std::string state_file;
  double save_interval_secs = 300;
  // The correlator label of konseki_correlation_keys ("worker0", "fleet").
  std::string name = "correlator";
};

// Which hits the correlations of one scope take (by id or sign, including
// the learners of the sets they use): lets a worker route only those hits to
// the fleet thread. Immutable once built; thread-safe.
class InputFilter {
 public:
  InputFilter() = default;
  InputFilter(const RulePack& pack, KeyScope scope);
  bool Wants(std::string_view input_id, std::string_view sign) const;
  bool empty() const { return ids_.empty() && signs_.empty(); }

 private:
  std::set<std::string, std::less<>> ids_;
  std::set<std::string, std::less<>> signs_;
};

class Correlator {
 public:
  // Compiles the pack's correlations and sets (RE2 conditions, CIDRs,
  // overrides). Errors name the correlation. metrics must outlive it.
  // The correlator keeps `pack` and reads its definitions in place, so the
  // correlators built from one pack (the fleet thread's and each worker's)
  // share one copy of them: the pack must not change once given here (its
  // `rules` are not read and may be empty). A definition the site's
  // settings change (overrides, network.beacon, network.drop_severity) is
  // copied into this correlator alone. A reload (SIGHUP) builds new
  // correlators over a new pack; the old pack lives while a correlator
  // built from it does.
  static StatusOr<std::unique_ptr<Correlator>> Create(std::shared_ptr<const RulePack> pack,
                                                      const CorrelatorOptions& options,
                                                      MetricsRegistry& metrics);
  // The same over a copy of the pack's correlations and sets (tools, tests).
  static StatusOr<std::unique_ptr<Correlator>> Create(const RulePack& pack,
                                                      const CorrelatorOptions& options,
                                                      MetricsRegistry& metrics);
  ~Correlator();
  Correlator(const Correlator&) = delete;
  Correlator& operator=(const Correlator&) = delete;

  // True if some correlation (or set) of this instance takes hits of this
  // rule or correlation id or of this sign.
  bool Wants(std::string_view input_id, std::string_view sign) const;

  // Per message (before its hits): notes that the host is watched (from now
  // on, if it was not) and the sender address it came from. O(1), and nothing
  // at all for a run of messages of one host and sender.
  void ObserveHost(std::string_view host, std::string_view sender, TimePoint received);
  // The same with the host's key computed by the caller (the worker has it
  // from the Router: no hashing here). Precondition: host.hash ==
  // HostKeyHash(host.name).
  void ObserveHost(const HostKey& host, std::string_view sender, TimePoint received);

  // The host went silent (host.silent): sessions opened meanwhile may have
  // been missed, so its watch restarts with its next message.
  void OnHostGap(std::string_view host);

  // Runs every correlation that takes this hit; appends the alerts raised
  // (including those of correlations fed by them) to *out. True if one of
  // them has `supersedes`: the hit's own rule alert is then redundant and
  // the caller leaves it out.
  bool Process(const HitEvent& hit, std::vector<Alert>* out);
  // After Process returned true: the id of the (first) correlation whose
  // alert took the hit's place, for HitEvent::superseded_by; valid while
  // this correlator lives. Empty after a Process that returned false.
  std::string_view superseded_by() const;

  // Appends the alerts whose wait ended by `now` (unpaired late_open_secs:
  // a close that no late open answered), with Alert::decided = now; with
  // `all`, every waiting alert (the end of test-rules' input). Call about
  // once a second (the worker's housekeeping) and per line (test-rules).
  void TakeDue(TimePoint now, std::vector<Alert>* out, bool all = false);
  // The Alert::origin_seq of alerts held from the next Process calls
  // (OfflineAnalyzer's line numbers; 0: none).
  void set_origin_seq(uint64_t seq);

  // Drops expired keys, refreshes the keys gauge and saves the state every
  // save_interval_secs. Call about once a second.
  void Tick(TimePoint now);

  // Moves over the state of every correlation whose definition is unchanged
  // (same id, same parameters), and of the hosts (SIGHUP reload).
  void TakeStateFrom(Correlator& old);

  // The whole state as text / back. Load keeps only the correlations whose
  // definition is unchanged; a konseki restart is a gap for every host
  // (watches restart), learning periods and learned sets survive.
  std::string SerializeState() const;
  // A text that is not a state (bad first line) is an error and loads
  // nothing; malformed lines are skipped and counted in *skipped (if given).
  Status LoadStateText(std::string_view text, size_t* skipped = nullptr);
  // To/from options.state_file, atomically (temp file + rename). A missing
  // file is a first run (Ok). A file that cannot be read is an error. A
  // damaged file (empty, not a state, malformed lines) is not: what it holds
  // intact is loaded, and one entry appended to *damaged (if given) says
  // what was wrong and lost;
  // the caller sets the file aside (common/damaged_file.h) and reports it.
  Status SaveState();
  Status LoadState(std::vector<DamagedFile>* damaged = nullptr);

  size_t live_keys() const;
  size_t correlations() const;

 private:
  struct Impl;
  explicit Correlator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_CORRELATOR_H_
