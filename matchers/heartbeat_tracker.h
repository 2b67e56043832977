// Per-host heartbeat: notices when a host stops sending (rsyslogd killed,
// forwarding cut), when it comes back, when a host is new, and when a host's
// clock jumps, and when a host floods.
//
// One HeartbeatTracker per worker thread. Hosts are sharded by
// HostShard(host, num_shards) (common/host_shard.h); a tracker only ever sees
// the hosts of its shard and only loads those from the state files.
//
// Cost: Observe is O(1) (one probe of a flat hash index by the host's
// HostKey, hashed once per message by the Router, a few float adds) and does not allocate for a
// known host once its last_message buffer has grown to the longest line it sends. Memory is about
// 450 bytes per host plus its last line, bounded by max_hosts. Deadlines live in a lazy min-heap
// (DeadlineQueue): a host costs one O(log n) heap push per threshold period, and Tick only looks at
// the hosts whose deadline has passed.
#ifndef KONSEKI_MATCHERS_HEARTBEAT_TRACKER_H_
#define KONSEKI_MATCHERS_HEARTBEAT_TRACKER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/clock_step_watch.h"
#include "common/damaged_file.h"
#include "common/host_key.h"
#include "common/message.h"
#include "common/metrics.h"
#include "common/status.h"
#include "matchers/deadline_queue.h"
#include "matchers/heartbeat_index.h"
#include "matchers/heartbeat_state.h"
#include "matchers/sequence_watch.h"

namespace konseki::matchers {

// One entry of heartbeat.overrides.
struct HeartbeatOverride {
  // heartbeat.overrides[].host: exact host name (case-insensitive).
  std::string host;
  // heartbeat.overrides[].host_pattern: shell glob (fnmatch, case-insensitive),
  // e.g. "laptop-*". Used when host is empty. The first matching override wins.
  std::string host_pattern;
  // heartbeat.overrides[].silence_after_secs: fixed threshold for matching
  // hosts. 0 means never alert silence for them (still tracked).
  double silence_after_secs = 0;
};

// Config keys (heartbeat.<name>) map one to one onto the fields; all times
// are seconds. The threshold of a host is, in order of precedence:
//   1. the first matching override's silence_after_secs;
//   2. silence_after_secs when > 0 (one fixed threshold for everyone);
//   3. learned: clamp(multiplier * cadence, floor_secs, ceiling_secs), where
//      cadence comes from CadenceEstimator (time-weighted high quantile of
//      the host's gaps). While a host has been watched for less than
//      learning_secs, the threshold is at least
//      clamp(multiplier * initial_cadence_secs, floor_secs, ceiling_secs),
//      so a new host's first quiet night is learned, not alarmed.
struct HeartbeatOptions {
  // heartbeat.silence_after_secs: > 0: fixed threshold for all hosts; 0: learn.
  double silence_after_secs = 0;
  // heartbeat.multiplier: learned threshold = multiplier * cadence.
  double multiplier = 3.0;
  // heartbeat.floor_secs: lowest learned threshold.
  double floor_secs = 300;
  // heartbeat.ceiling_secs: highest learned threshold (24 h): every host is
  // reported after a day of silence whatever its habits. Hosts that are
  // silent for hours every night without immark need this high to stay
  // quiet; lower it to be told about every long silence instead.
  double ceiling_secs = 86400;
  // heartbeat.initial_cadence_secs: assumed cadence while learning (rsyslog
  // immark's default MARK interval).
  double initial_cadence_secs = 1200;
  // heartbeat.learning_secs: how much of a host's life must be watched before
  // the learned threshold is trusted alone (one day: covers a night).
  double learning_secs = 86400;
  // heartbeat.cadence_quantile: share of a host's time that normal gaps cover;
  // gaps covering less than 1 - quantile of its time are taken as outliers.
  double cadence_quantile = 0.99;
  // heartbeat.cadence_half_life_secs: how fast old gaps are forgotten (7 days).
  double cadence_half_life_secs = 604800;
  // heartbeat.overrides: per-host or per-pattern thresholds.
  std::vector<HeartbeatOverride> overrides;
  // heartbeat.expected_hosts: hosts that must report. One that never does is
  // alerted silent one threshold after start. Such hosts never raise host.new.
  std::vector<std::string> expected_hosts;
  // heartbeat.clock_jump_tolerance_secs: how far a host's timestamps may go
  // back, or ahead of the receive time, before host.clock_jump. 0 disables.
  double clock_jump_tolerance_secs = 300;
  // heartbeat.clock_jump_alert_interval_secs: at most one host.clock_jump per
  // host per this interval (a host with two clocks would alert every line).
  double clock_jump_alert_interval_secs = 3600;
  // heartbeat.state_dir: where heartbeat.<shard>.state files live; empty
  // disables persistence. Created (0750, with missing parents) if missing.
  std::string state_dir;
  // heartbeat.save_interval_secs: Tick saves the state this often, on the
  // worker thread: ~360 bytes per host, then one write + fsync (10,000 hosts:
  // 3.6 MB, ~10 ms of CPU plus the fsync). 0: only when SaveState is called.
  double save_interval_secs = 300;
  // heartbeat.startup_grace_secs: after konseki starts, nobody is declared
  // silent before max(host threshold, startup_grace_secs) has passed.
  double startup_grace_secs = 0;
  // heartbeat.stall_secs: if Tick was not called for this long (process
  // stopped, VM paused, worker stuck) the missed time is not the hosts' fault:
  // the tracker restarts its grace period instead of alerting everyone.
  double stall_secs = 30;
  // heartbeat.forget_after_secs: a host silent this long (and not expected)
  // is dropped from the state. 0: never.
  double forget_after_secs = 30 * 86400;
  // heartbeat.new_host_alerts: raise host.new for hosts never seen before.
  bool new_host_alerts = true;
  // heartbeat.new_host_learning_secs: when there was no saved state (first
  // run), hosts first seen within this time after start are the known fleet:
  // no host.new for them.
  double new_host_learning_secs = 3600;
  // heartbeat.new_host_alerts_per_minute: per tracker; beyond it host.new is
  // counted as suppressed (spoofed UDP senders cannot flood). 0: unlimited.
  // The same rate, in a bucket of its own, bounds host.silent of hosts that
  // sent a single message: a flood of spoofed names would otherwise come
  // back as one silence alert per name a threshold later.
  double new_host_alerts_per_minute = 60;
  // heartbeat.stop_link_secs: a syslog.stopped message this close to (or
  // after) the host's last message makes the following silence "preceded by
  // a stop message" (severity critical instead of high).
  double stop_link_secs = 60;
  // heartbeat.shutdown_link_secs: a system.shutdown message (a reboot or
  // power-off announced) this close to (or after) the host's last message
  // makes the following silence planned: host.silent at medium, whatever
  // stop message came with it.
  double shutdown_link_secs = 900;
  // heartbeat.suspend_max_secs: a system.suspend line (the host announced
  // it goes to sleep) within shutdown_link_secs of the host's last message
  // makes the following silence host.silent at low (not when a logger's
  // stop line or a high alert is linked to it too: a real suspend stops no
  // logger). Anyone who can write to the host's log can write that line,
  // so the silence is told once more, at medium, when it has lasted this
  // long without the host coming back. 0: a suspend line changes nothing.
  double suspend_max_secs = 259200;
  // heartbeat.max_hosts: hosts tracked over all shards (each shard takes
  // ceil(max_hosts / num_shards)); further hosts are refused and counted,
  // unless a transient host can give its slot (transient_host_secs).
  size_t max_hosts = 100000;
  // heartbeat.transient_host_secs: when max_hosts is reached, a host that
  // has sent a single message and nothing for this long (and is neither
  // expected nor named by an override) gives its slot to the new host, the
  // oldest such host first. Host names are the senders' to choose: without
  // this, one flood of spoofed names fills the table for forget_after_secs
  // and no real host added after it is watched. 0: never evict.
  double transient_host_secs = 600;
  // heartbeat.max_host_metrics: konseki_host_last_seen_timestamp_seconds
  // series over all shards (silent hosts first).
  size_t max_host_metrics = kDefaultMaxHostSeries;
  // heartbeat.max_last_message_bytes: how much of a host's last line is kept.
  size_t max_last_message_bytes = 512;
  // heartbeat.max_senders_per_host: distinct sender addresses kept per host
  // (the console's `konseki hosts` lists them); past it the least recently
  // seen address is forgotten, so a host relayed or spoofed from many
  // addresses costs at most this many strings.
  size_t max_senders_per_host = 8;
  // heartbeat.alert_link_secs: a high or critical alert about a host (a
  // rule's or a correlation's: a root login from outside, a brute force
  // that succeeded, a web shell, a crash) this close before its last
  // message makes the silence that follows critical ("after <sign>"): an
  // intruder's kill -9 of the logger leaves no stop line. 0 disables.
  double alert_link_secs = 1800;
  // heartbeat.sender_change_secs: a host watched at least this long whose
  // lines start coming from an address it never used (not among its
  // remembered senders), while none of its earlier addresses sends for
  // this long, raises host.sender_changed (with the next line from the new
  // address after this long): a killed logger whose host name another
  // machine keeps "alive" with forged lines, or a renumbered host or relay.
  // A line from any other address meanwhile (dual-stack, several
  // interfaces, a second relay) ends the watch without an alert. Rate-limited
  // like host.new (new_host_alerts_per_minute). 0 disables.
  double sender_change_secs = 600;
  // heartbeat.same_sender_secs: host.silent alerts of hosts whose last
  // lines came from one sender this close together name each other, and
  // two or more such hosts raise one host.relay_silent for the sender
  // (app/relay_silence.h; the tracker itself does not read it). 0: off.
  double same_sender_secs = 5;
  // heartbeat.metrics_interval_secs: how often Tick refreshes the per-host
  // last-seen snapshot (an O(hosts) pass).
  double metrics_interval_secs = 10;
  // host.flood: a host whose messages within flood_window_secs number at
  // least flood_min_messages (the absolute floor: 10,000 in 10 s is 1,000
  // a second) and come at flood_multiplier times its own learned rate or
  // more (so a host that is always that busy is not flagged). The learned
  // rate is the host's messages over the time watched, older windows
  // weighing less with cadence_half_life_secs; a host is judged once it
  // has one window of history (a host that floods from its first line is
  // host.new's). 0 flood_min_messages disables.
  double flood_min_messages = 10000;
  // heartbeat.flood_window_secs: the window the floor counts in; at the
  // end of each a host's count goes into its learned rate.
  double flood_window_secs = 10;
  // heartbeat.flood_multiplier: how far above its learned rate a host must be.
  double flood_multiplier = 50;
  // heartbeat.flood_alert_interval_secs: at most one host.flood per host per
  // this interval (a flood lasting hours is one alert an hour).
  double flood_alert_interval_secs = 3600;
  // heartbeat.sequence_gap: log.gap when a sender's RFC 5424 meta
  // sequenceId steps forward or back by more than this with no start of
  // its logger in between (matchers/sequence_watch.h). 0 disables.
  double sequence_gap = 100;
  // heartbeat.sequence_alert_interval_secs: at most one log.gap per host
  // and sender per this long (the next says how many it held).
  double sequence_alert_interval_secs = 3600;
};

// One tracked host as the console shows it (HeartbeatTracker::HostsReader).
struct HostRow {
  std::string name;
  std::string sender;         // address of its last message
  int64_t first_seen_ns = 0;  // receive times, ns since the epoch (0: never)
  int64_t last_seen_ns = 0;
  double cadence_secs = 0;           // learned cadence (0 before the first gap)
  double threshold_secs = 0;         // silence threshold now (0: never alerts)
  bool seen = false;                 // false: expected, never reported
  bool expected = false;             // listed in heartbeat.expected_hosts
  bool silent = false;               // host.silent fired and it has not come back
  bool silent_after_stop = false;    // ... and a stop message preceded the silence
  uint64_t messages_today = 0;       // messages received since 00:00 UTC
  std::vector<std::string> senders;  // distinct sender addresses, most recent first
  double rate_per_sec = 0;           // learned usual message rate (host.flood; 0: none yet)
  int64_t last_flood_ns = 0;         // last host.flood (0: none since konseki started)
};

// Checks ranges (multiplier > 0, floor <= ceiling, quantile in (0, 1], ...).
// The message names the offending key.
Status ValidateHeartbeatOptions(const HeartbeatOptions& options);

// Not thread-safe: owned and called by one worker thread. The gauge callback
// it registers reads a snapshot (refreshed by Tick) under its own mutex and
// stays valid after the tracker is destroyed (it then reports nothing).
//
// Metrics (unlabelled gauges are sums over all shards):
//   konseki_hosts_tracked, konseki_hosts_silent (gauges)
//   konseki_host_last_seen_timestamp_seconds{host} (callback gauge)
//   konseki_heartbeat_messages_total (added up by Tick)
//   konseki_heartbeat_dropped_total{reason=max_hosts|no_host|host_too_long}
//   konseki_heartbeat_alerts_total{sign} (log.gap too)
//   konseki_heartbeat_suppressed_alerts_total{sign,reason=first_run|rate_limit}
//     (host.flood: rate_limit, one per window over the floor)
//   konseki_heartbeat_errors_total{reason=state_save|state_load|state_parse}
//   konseki_heartbeat_state_saves_total, konseki_heartbeat_forgotten_hosts_total,
//   konseki_heartbeat_evicted_hosts_total, konseki_heartbeat_stalls_total
class HeartbeatTracker {
 public:
  // clock, sink and metrics must outlive the tracker. sink.Emit is called
  // from the caller's thread inside Observe/NoteStopMessage/Tick.
  // own_clock (may be null; shared by every tracker, must outlive them):
  // the steps of konseki's own wall clock, taken out of the receive times
  // host.clock_jump compares the hosts' timestamps with, so a step of the
  // log host's clock is not blamed on every sender (the server raises
  // konseki.clock_jump for it). A message whose timestamp looks like a jump
  // makes the tracker Refresh it first (a step in the last second, before
  // the server's tick saw it).
  // Precondition: shard < num_shards (num_shards 0 is taken as 1).
  HeartbeatTracker(const HeartbeatOptions& options, size_t shard, size_t num_shards,
                   const Clock& clock, AlertSink& sink, MetricsRegistry& metrics,
                   ClockStepWatch* own_clock = nullptr);
  ~HeartbeatTracker();
  HeartbeatTracker(const HeartbeatTracker&) = delete;
  HeartbeatTracker& operator=(const HeartbeatTracker&) = delete;

  // Per message of a host of this shard. Uses host(), sender, received,
  // has_timestamp/timestamp, raw, app_name, procid. The views need only live
  // during the call.
  void Observe(const Message& msg);
  // The same, with msg.host()'s key computed by the caller (the worker has
  // it from the Router: no hashing here). Precondition: host.name ==
  // msg.host() and host.hash == HostKeyHash(host.name).
  // same_origin: the caller knows that the previous call of this tracker
  // (Observe, or NoteStopMessage observing a new host) was for a message
  // of the same host, spelt the same, from the same sender
  // (Batch::Entry::same_origin, app/batch_queues.h). Then the host's
  // record is not looked up again nor its sender compared; the result is
  // the same (bench/RESULTS.md, issue 17: ~100 instructions per message).
  void Observe(const Message& msg, const HostKey& host, bool same_origin = false);

  // The worker's batch: from BeginBatch to EndBatch the bytes of every
  // message given to Observe stay valid (they are the batch's), so a host's
  // last line is copied once per run of its lines (at another host's line,
  // at EndBatch, or before anything reads it: Tick, SaveState, a slot's
  // reuse) instead of once per line (issue 17: ~40 instructions and a
  // 256-byte copy per message). Outside a batch Observe copies at once.
  void BeginBatch() { batch_open_ = true; }
  void EndBatch() {
    FlushLastLine();
    batch_open_ = false;
  }

  // When the rule engine gave msg the sign syslog.stopped; before or after
  // Observe(msg) for the same message. A host not yet known is observed here.
  void NoteStopMessage(const Message& msg);
  // The same for a line the rule engine gave the sign system.shutdown.
  void NoteShutdownMessage(const Message& msg);
  // The same for a line the rule engine gave the sign system.suspend.
  void NoteSuspendMessage(const Message& msg);
  // A line that says the host is up (a boot, a logger started: the rule's
  // heartbeat_boot) after its announced shutdown: the announcement has had
  // its reboot, and no longer makes the next silence planned. So does the
  // host resuming after a silence. Its sender's sequenceId starts a new
  // count (heartbeat.sequence_gap): call before Observe of the line.
  void NoteBootMessage(const Message& msg);
  // An alert the rules or correlations raised (any severity; only high and
  // critical ones about a tracked host of this shard are kept): see
  // alert_link_secs. Looks the host up by name.
  void NoteAlert(const Alert& alert);

  // At least once a second and after idle waits: fires due host.silent
  // alerts, judges the message rate of the hosts that sent since the last
  // Tick (host.flood; O(those hosts)), saves the state every save_interval_secs and refreshes
  // metrics.
  void Tick();

  // A replay of log files (test-rules, matchers/offline_analyzer.h), not a
  // live watch: the input is a slice of the hosts' lives, so a host's first
  // line in it is not its first ever, and what it did before is unknown.
  // Then a host's silence is judged only once the input has shown it
  // logging for at least as long as the threshold it would be judged by
  // (its last line at least that long after its first), and only when
  // something in the input says why it matters: a stop line, an announced
  // shutdown or a high alert about the host linked to its last line
  // (stop_link_secs, shutdown_link_secs, alert_link_secs). A file shows
  // only the lines its writer kept, and a host's quiet evening was learned
  // by the server over earlier nights the file does not hold: a host that
  // sent a few lines, a burst, logs twice a day or only when people work is
  // not silent for want of a history; one that took a root login and
  // stopped, or whose logger stopped, is. host.new is not raised (every
  // host is new to a replay). Call before the first Observe.
  void set_replay(bool replay) { replay_ = replay; }

  // Writes this shard's hosts to state_dir/heartbeat.<shard>.state
  // atomically. Ok and no-op when state_dir is empty.
  Status SaveState();

  // Call once, before the first Observe. Reads every heartbeat.*.state in
  // state_dir and keeps the hosts of this shard (the newest record of a host
  // wins when several files hold it, e.g. after a change of worker count).
  // A missing directory or file is a first run (Ok). Unreadable files are an
  // error; malformed lines are skipped and counted (state_parse). A damaged
  // file (empty, bad first line, malformed lines, no end line) keeps the
  // hosts read intact and appends one entry per file to *damaged (if
  // given), counting every record of the file, not only this shard's, so
  // the trackers of all shards report the same file alike.
  Status LoadState(std::vector<DamagedFile>* damaged = nullptr);

  // Copies this shard's hosts as of the last snapshot (Tick refreshes it
  // every metrics_interval_secs) into *out. The function is thread-safe,
  // takes only the snapshot's mutex (never touched by Observe) and stays
  // valid after the tracker is destroyed (it then appends nothing).
  using HostsReader = std::function<void(std::vector<HostRow>*)>;
  HostsReader Hosts() const;

  // When the previous run last saved the state: the newest modification
  // time of the state files LoadState read (every save_interval_secs and at
  // the stop); the epoch when none was read. With the time this tracker
  // was made, konseki's own downtime (app::WorkerOptions::own_down_from).
  TimePoint previous_save() const { return TimePoint(Duration(previous_save_ns_)); }
  TimePoint started() const { return TimePoint(Duration(start_ns_)); }

  // Introspection for tests and tools.
  size_t hosts_tracked() const { return index_.size(); }
  size_t hosts_silent() const { return silent_count_; }
  // Current threshold in seconds for a tracked host (0: never alerts), or -1
  // when the host is unknown.
  double ThresholdSecs(std::string_view host) const;
  // Learned cadence in seconds (0 before the first gap), -1 when unknown.
  double CadenceSecs(std::string_view host) const;
  // Entries in the deadline heap (live and stale).
  size_t deadline_entries() const { return deadlines_.size(); }
  // The earliest instant a Tick could have work (a silence, a forget
  // check; possibly a stale entry, which that Tick drops), or
  // TimePoint::max() when none: a replay (test-rules) that moves the clock
  // in jumps ticks there first, so a silence is judged when it was due.
  TimePoint NextDue() const {
    return deadlines_.empty() ? TimePoint::max() : TimePoint(Duration(deadlines_.Top().due_ns));
  }

 private:
  static constexpr size_t kInlineName = 40;
  struct Slot {
    int64_t armed_due_ns = kNotArmed;  // due time of the live heap entry
    double override_secs = -1;         // >= 0 when an override matches
    uint32_t unchecked = 0;            // messages since the threshold was last recomputed
    // host.flood: messages since flood_window_ns (Observe's one increment,
    // on the record's first cache line, in unchecked's padding).
    uint32_t flood_count = 0;
    int64_t today = 0;  // UTC day (days since the epoch) of messages_today
    uint64_t messages_today = 0;
    bool expected = false;
    bool live = false;
    // Its entry in transients_ (0: none). Entries whose slot was reused
    // carry an older sequence and are skipped.
    uint64_t transient_seq = 0;
    // Its silence (it sent a single message) was not alerted: rate limit.
    // It is forgotten at its forget time, not alerted then.
    bool silence_suppressed = false;
    // A copy of state.name when it fits, so a lookup confirms the name on
    // the record's first cache line; 0: compare state.name.
    uint8_t name_len = 0;
    char name[kInlineName];
    HostState state;
    // host.flood, read by Tick only (after state: Observe's lines stay
    // where they were): the start of the window (the Tick before its first
    // message; 0: none yet), the Tick that last judged it (a slot freed and
    // reused may be listed twice), whether this window alerted (or was
    // rate-limited), and the learned rate: decayed messages over decayed
    // seconds up to rate_at_ns. Not saved: relearned after a restart.
    uint32_t flood_tick = 0;
    bool flood_flagged = false;
    int64_t flood_window_ns = 0;
    int64_t rate_at_ns = 0;
    double rate_messages = 0;
    double rate_secs = 0;
    int64_t flood_alert_ns = 0;
  };

  // Observe recomputes a host's threshold (to re-arm early when it dropped)
  // every this many messages; Tick recomputes it at every re-arm anyway.
  static constexpr uint32_t kRecheckEvery = 16;
  struct Snapshot;

  static constexpr int64_t kNotArmed = INT64_MAX;

  // The slot of a tracked host, or HeartbeatIndex::kNone. Case-insensitive
  // (ASCII letters); the index is keyed by HostKeyHash, so a known host
  // costs one probe and a comparison of its name, no hashing.
  uint32_t Lookup(const HostKey& host) const;
  // Returns the slot of a new host, or -1 when max_hosts is reached.
  int64_t AddHost(std::string_view name);
  // A host that sent one message so far (transient_host_secs).
  bool IsTransient(const Slot& s) const;
  // Queues a new host as a candidate for eviction.
  void NoteTransient(uint32_t slot);
  // Frees the slot of the oldest transient host silent for
  // transient_host_secs (any transient host when `any_age`); false if there
  // is none.
  bool EvictTransient(int64_t now_ns, bool any_age = false);
  // A new host found the table full: a host refused before (its name's
  // hash among the last refused) may take a single-message host's slot
  // however young (a flood of names that each send one line must not keep
  // a real host that sends several out); else it is refused, counted,
  // remembered, and heartbeat.max_hosts_reached raised (once an hour).
  int64_t AddWhenFull(const HostKey& key, const Message& msg);
  // Takes a token of a per-minute alert bucket (new_host_alerts_per_minute).
  bool TakeAlertToken(double* tokens, int64_t* tokens_at_ns, int64_t now_ns);
  void RemoveHost(uint32_t slot);
  double ThresholdFor(const Slot& s) const;
  // Deadline of a non-silent host under threshold t (> 0).
  int64_t DueFor(const Slot& s, double threshold_secs) const;
  void Arm(uint32_t slot, int64_t due_ns);
  void ArmForgetCheck(uint32_t slot);
  // repeat: s is the previous call's slot (Observe's same_origin). Then a
  // line with the previous checked line's timestamp and receive time is not
  // checked again: TrackClock would change nothing and find no jump (it
  // took that offset in the first time).
  void CheckClock(Slot& s, const Message& msg, bool repeat);
  // One line's vote for the host's home sender (HostState::home_votes);
  // h.sender is the line's sender.
  static void VoteHomeSender(HostState& h);
  // Adds the gap since the host's previous message to its cadence.
  void LearnGap(HostState& h, int64_t now_ns);
  void FireSilent(Slot& s, int64_t now_ns, double threshold_secs);
  // prev_seen_ns: last message before the gap, 0 if none ever;
  // prev_ts_ns: the host's newest own timestamp before msg, 0 if none;
  // threshold_secs: the threshold its silence was judged by.
  void FireResumed(Slot& s, const Message& msg, int64_t prev_seen_ns, int64_t prev_ts_ns,
                   double threshold_secs);
  void FireNew(Slot& s, const Message& msg);
  // host.flood: Tick's pass over the hosts that sent since the last one
  // (flood_active_). prev_tick_ns: when the Tick before ran.
  void CheckFloods(int64_t now_ns, int64_t prev_tick_ns);
  void JudgeFlood(Slot& s, int64_t now_ns);
  // The window's count into the host's learned rate; the window ends.
  void FoldRate(Slot& s, int64_t now_ns) const;
  double UsualRate(const Slot& s) const;
  // The sender watch of heartbeat.sender_change_secs: started, ended or
  // fired for a message from a sender other than the host's last one
  // (before NoteSender), or checked for a line from the watched address.
  void WatchSenderChange(HostState& h, const Message& msg, int64_t now_ns);
  void FireSenderChanged(Slot& s, const Message& msg, int64_t now_ns);
  bool StopLinked(const Slot& s) const;
  // A high or critical alert within alert_link_secs before the last message.
  bool AlertLinked(const Slot& s) const;
  // A system.shutdown line within shutdown_link_secs of the last message.
  bool ShutdownLinked(const Slot& s) const;
  // A system.suspend line within shutdown_link_secs of the last message
  // (suspend_max_secs > 0).
  bool SuspendLinked(const Slot& s) const;
  // The suspended host's silence reached suspend_max_secs: host.silent
  // again, at medium.
  void FireSuspendOverdue(Slot& s, int64_t now_ns);
  // The host's record for NoteStopMessage / NoteShutdownMessage, observing
  // a host not yet known; null if refused.
  HostState* StateFor(const Message& msg);
  // Copies the pending last line (BeginBatch) into its host's last_message.
  void FlushLastLine();
  void Emit(Alert& alert);
  void PublishSnapshot();
  void CompactDeadlines();
  bool MergeLoaded(HostState&& loaded);

  const HeartbeatOptions options_;
  const size_t shard_;
  const size_t num_shards_;
  const Clock& clock_;
  AlertSink& sink_;
  ClockStepWatch* const own_clock_;  // not owned; may be null
  const size_t max_hosts_;           // this shard's share

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  HeartbeatIndex index_;  // host name -> slot
  // The slot the last Observe call ended on (HeartbeatIndex::kNone: none,
  // or freed since): what a same_origin call observes.
  uint32_t last_slot_ = HeartbeatIndex::kNone;
  // The host timestamp and receive time (ns) CheckClock last gave
  // TrackClock for last_slot_; valid only while checked_valid_.
  int64_t checked_ts_ns_ = 0;
  int64_t checked_received_ns_ = 0;
  bool checked_valid_ = false;
  DeadlineQueue deadlines_;
  SequenceWatch sequence_;  // heartbeat.sequence_gap, this shard's hosts

  int64_t start_ns_;       // construction time
  int64_t watch_from_ns_;  // start, or the end of the last stall
  int64_t last_tick_ns_ = 0;
  int64_t last_save_ns_;
  int64_t last_snapshot_ns_ = 0;
  bool state_loaded_ = false;     // a saved state was found: unknown hosts are news
  int64_t previous_save_ns_ = 0;  // see previous_save()
  double new_host_tokens_;
  int64_t new_host_tokens_at_ns_;
  double sender_change_tokens_;
  int64_t sender_change_tokens_at_ns_;
  double transient_silent_tokens_;
  int64_t transient_silent_tokens_at_ns_;
  // Hosts added by a message, in the order they came: the eviction
  // candidates (slot, Slot::transient_seq). Hosts that sent a second
  // message are dropped from the front as it reaches them, and the deque is
  // compacted when stale entries outnumber the hosts.
  std::deque<std::pair<uint32_t, uint64_t>> transients_;
  uint64_t next_transient_seq_ = 1;
  // Hashes of the hosts refused last for want of a slot (AddWhenFull),
  // direct-mapped: a flood overwrites them, a host sending again soon
  // finds its own.
  static constexpr size_t kRefusedSlots = 4096;
  std::vector<uint64_t> refused_;
  // Slots whose flood_count went from 0 to 1 (Observe), or whose window is
  // still open (Tick): what CheckFloods looks at. The other list is its
  // spare, swapped in each Tick.
  std::vector<uint32_t> flood_active_;
  std::vector<uint32_t> flood_checking_;
  uint32_t flood_tick_ = 0;
  int64_t full_alert_ns_ = 0;         // the last heartbeat.max_hosts_reached
  uint64_t refused_since_alert_ = 0;  // hosts refused since then
  size_t silent_count_ = 0;
  bool replay_ = false;  // set_replay
  // BeginBatch..EndBatch: the slot whose last line is pending_line_ (a view
  // of the batch's bytes), not yet copied into its last_message; kNone when
  // none is pending.
  bool batch_open_ = false;
  uint32_t pending_slot_ = HeartbeatIndex::kNone;
  std::string_view pending_line_;
  double published_tracked_ = 0;
  double published_silent_ = 0;

  // konseki_heartbeat_* counters (the header's metric list), one struct so
  // the constructor registers them in one place.
  struct Counters {
    Counter* messages;
    Counter* dropped_max_hosts;
    Counter* dropped_no_host;
    Counter* dropped_host_too_long;
    Counter* alerts_silent;
    Counter* alerts_resumed;
    Counter* alerts_new;
    Counter* alerts_clock_jump;
    Counter* alerts_sender_changed;
    Counter* alerts_flood;
    Counter* alerts_sequence_gap;
    Counter* suppressed_flood;
    Counter* suppressed_sender_changed;
    Counter* suppressed_new_first_run;
    Counter* suppressed_new_rate_limit;
    Counter* suppressed_clock_jump;
    Counter* suppressed_silent_transient;
    Counter* errors_save;
    Counter* errors_load;
    Counter* errors_parse;
    Counter* saves;
    Counter* forgotten;
    Counter* evicted;
    Counter* stalls;
  };
  Counters counters_{};

  std::shared_ptr<Snapshot> snapshot_;
  // The snapshot before the last, filled again in place by PublishSnapshot
  // and swapped in: its strings keep their capacity, so a refresh of
  // unchanged hosts allocates nothing.
  std::vector<Sample> spare_samples_;
  std::vector<HostRow> spare_hosts_;
  Gauge* hosts_tracked_;
  Gauge* hosts_silent_;
  uint64_t unflushed_messages_ = 0;  // observed since the last Tick
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_HEARTBEAT_TRACKER_H_
