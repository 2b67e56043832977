#include "matchers/heartbeat_tracker.h"

#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <utility>

#include "common/host_key.h"
#include "common/host_shard.h"
#include "common/make_dirs.h"
#include "matchers/clock_jump.h"

namespace konseki::matchers {
namespace {

constexpr size_t kMaxHostLength = 255;  // DNS limit; longer "hosts" are junk
constexpr double kNsPerSec = 1e9;
constexpr int64_t kNsPerDay = int64_t{86400} * 1000000000;

int64_t Ns(TimePoint t) { return t.time_since_epoch().count(); }
int64_t SecsToNs(double secs) {
  if (!(secs > 0)) return 0;
  if (secs > 9e9) return INT64_MAX / 4;  // ~290 years: "never" without overflow
  return static_cast<int64_t>(secs * kNsPerSec);
}
double NsToSecs(int64_t ns) { return static_cast<double>(ns) * (1 / kNsPerSec); }
TimePoint FromNs(int64_t ns) { return TimePoint(Duration(ns)); }

// A host's last line into its buffer. A line that fits (the host's longer
// lines grew it) is copied in place: assign's aliasing and capacity checks
// cost more than copying 256 bytes.
inline void CopyLastLine(std::string_view line, std::string* to) {
  if (line.size() <= to->capacity()) {
    to->resize(line.size());
    if (!line.empty()) std::memcpy(to->data(), line.data(), line.size());
  } else {
    to->assign(line);
  }
}

std::string FormatSecs(double secs, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, secs);
  return buf;
}

// The fields every alert about a host starts with: when, whose, from which
// sender, what (rule heartbeat.WHAT, sign host.WHAT) and how serious.
Alert HostAlert(TimePoint at, const std::string& host, std::string_view sender,
                std::string_view what, Severity severity) {
  Alert a;
  a.time = a.received = at;
  a.host = host;
  a.sender.assign(sender);
  a.rule.assign("heartbeat.").append(what);
  a.sign.assign("host.").append(what);
  a.severity = severity;
  return a;
}

}  // namespace

struct HeartbeatTracker::Snapshot {
  std::mutex mu;                // guards samples and hosts
  std::vector<Sample> samples;  // konseki_host_last_seen_timestamp_seconds of this shard
  std::vector<HostRow> hosts;   // every live host of this shard
};

Status ValidateHeartbeatOptions(const HeartbeatOptions& o) {
  auto bad = [](const std::string& m) { return Status::InvalidArgument("heartbeat." + m); };
  if (o.silence_after_secs < 0) return bad("silence_after_secs must be >= 0 (0: learn)");
  if (!(o.multiplier > 0)) return bad("multiplier must be > 0");
  if (!(o.floor_secs > 0)) return bad("floor_secs must be > 0");
  if (!(o.ceiling_secs >= o.floor_secs)) return bad("ceiling_secs must be >= floor_secs");
  if (!(o.initial_cadence_secs > 0)) return bad("initial_cadence_secs must be > 0");
  if (o.learning_secs < 0) return bad("learning_secs must be >= 0");
  if (!(o.cadence_quantile > 0 && o.cadence_quantile <= 1)) {
    return bad("cadence_quantile must be in (0, 1]");
  }
  if (!(o.cadence_half_life_secs > 0)) return bad("cadence_half_life_secs must be > 0");
  for (size_t i = 0; i < o.overrides.size(); ++i) {
    const HeartbeatOverride& ov = o.overrides[i];
    std::string where = "overrides[" + std::to_string(i) + "]";
    if (ov.host.empty() == ov.host_pattern.empty()) {
      return bad(where + ": give exactly one of host and host_pattern");
    }
    if (ov.silence_after_secs < 0) return bad(where + ".silence_after_secs must be >= 0");
  }
  for (size_t i = 0; i < o.expected_hosts.size(); ++i) {
    if (o.expected_hosts[i].empty() || o.expected_hosts[i].size() > kMaxHostLength) {
      return bad("expected_hosts[" + std::to_string(i) + "] must be 1 to 255 bytes");
    }
  }
  if (o.clock_jump_tolerance_secs < 0) return bad("clock_jump_tolerance_secs must be >= 0");
  if (o.save_interval_secs < 0) return bad("save_interval_secs must be >= 0");
  if (o.startup_grace_secs < 0) return bad("startup_grace_secs must be >= 0");
  if (o.stall_secs < 0) return bad("stall_secs must be >= 0");
  if (o.suspend_max_secs < 0) return bad("suspend_max_secs must be >= 0");
  if (o.forget_after_secs < 0) return bad("forget_after_secs must be >= 0");
  if (o.transient_host_secs < 0) return bad("transient_host_secs must be >= 0");
  if (o.sender_change_secs < 0) return bad("sender_change_secs must be >= 0");
  if (o.same_sender_secs < 0) return bad("same_sender_secs must be >= 0");
  if (o.alert_link_secs < 0) return bad("alert_link_secs must be >= 0");
  if (o.max_hosts == 0) return bad("max_hosts must be > 0");
  if (o.flood_min_messages < 0) return bad("flood_min_messages must be >= 0 (0: no host.flood)");
  if (!(o.flood_window_secs >= 1)) return bad("flood_window_secs must be >= 1");
  if (!(o.flood_multiplier >= 1)) {
    return bad("flood_multiplier must be >= 1 (a host's rate times its own usual rate)");
  }
  if (o.flood_alert_interval_secs < 0) return bad("flood_alert_interval_secs must be >= 0");
  if (!(o.sequence_gap >= 0 && o.sequence_gap <= kMaxSequenceId)) {
    return bad("sequence_gap must be in 0..2147483647 (0: no log.gap)");
  }
  if (o.sequence_alert_interval_secs < 0) return bad("sequence_alert_interval_secs must be >= 0");
  return Status::Ok();
}

HeartbeatTracker::HeartbeatTracker(const HeartbeatOptions& options, size_t shard, size_t num_shards,
                                   const Clock& clock, AlertSink& sink, MetricsRegistry& metrics,
                                   ClockStepWatch* own_clock)
    : options_(options),
      shard_(shard),
      num_shards_(num_shards == 0 ? 1 : num_shards),
      clock_(clock),
      sink_(sink),
      own_clock_(own_clock),
      max_hosts_((options.max_hosts + num_shards_ - 1) / num_shards_),
      sequence_(SequenceWatchOptions{
          static_cast<uint32_t>(std::clamp<double>(options.sequence_gap, 0, kMaxSequenceId)),
          options.sequence_alert_interval_secs, max_hosts_}),
      snapshot_(std::make_shared<Snapshot>()) {
  start_ns_ = watch_from_ns_ = last_save_ns_ = new_host_tokens_at_ns_ =
      transient_silent_tokens_at_ns_ = sender_change_tokens_at_ns_ = Ns(clock_.Now());
  new_host_tokens_ = transient_silent_tokens_ = sender_change_tokens_ =
      std::max(1.0, options_.new_host_alerts_per_minute);

  hosts_tracked_ = metrics.GetGauge("konseki_hosts_tracked", "Hosts tracked by the heartbeat.");
  hosts_silent_ = metrics.GetGauge("konseki_hosts_silent",
                                   "Hosts silent longer than their threshold (alerted, not back).");
  counters_.messages = metrics.GetCounter("konseki_heartbeat_messages_total",
                                          "Messages observed by the heartbeat tracker.");
  const char* dropped_help = "Messages the heartbeat could not track, by reason.";
  counters_.dropped_max_hosts = metrics.GetCounter("konseki_heartbeat_dropped_total", dropped_help,
                                                   {{"reason", "max_hosts"}});
  counters_.dropped_no_host =
      metrics.GetCounter("konseki_heartbeat_dropped_total", dropped_help, {{"reason", "no_host"}});
  counters_.dropped_host_too_long = metrics.GetCounter("konseki_heartbeat_dropped_total",
                                                       dropped_help, {{"reason", "host_too_long"}});
  const char* alerts_help = "Heartbeat alerts emitted, by sign.";
  counters_.alerts_silent =
      metrics.GetCounter("konseki_heartbeat_alerts_total", alerts_help, {{"sign", "host.silent"}});
  counters_.alerts_resumed =
      metrics.GetCounter("konseki_heartbeat_alerts_total", alerts_help, {{"sign", "host.resumed"}});
  counters_.alerts_new =
      metrics.GetCounter("konseki_heartbeat_alerts_total", alerts_help, {{"sign", "host.new"}});
  counters_.alerts_clock_jump = metrics.GetCounter("konseki_heartbeat_alerts_total", alerts_help,
                                                   {{"sign", "host.clock_jump"}});
  counters_.alerts_sender_changed = metrics.GetCounter(
      "konseki_heartbeat_alerts_total", alerts_help, {{"sign", "host.sender_changed"}});
  counters_.alerts_flood =
      metrics.GetCounter("konseki_heartbeat_alerts_total", alerts_help, {{"sign", "host.flood"}});
  counters_.alerts_sequence_gap =
      metrics.GetCounter("konseki_heartbeat_alerts_total", alerts_help, {{"sign", "log.gap"}});
  const char* suppressed_help = "Heartbeat alerts not emitted, by sign and reason.";
  counters_.suppressed_flood =
      metrics.GetCounter("konseki_heartbeat_suppressed_alerts_total", suppressed_help,
                         {{"sign", "host.flood"}, {"reason", "rate_limit"}});
  counters_.suppressed_sender_changed =
      metrics.GetCounter("konseki_heartbeat_suppressed_alerts_total", suppressed_help,
                         {{"sign", "host.sender_changed"}, {"reason", "rate_limit"}});
  counters_.suppressed_new_first_run =
      metrics.GetCounter("konseki_heartbeat_suppressed_alerts_total", suppressed_help,
                         {{"sign", "host.new"}, {"reason", "first_run"}});
  counters_.suppressed_new_rate_limit =
      metrics.GetCounter("konseki_heartbeat_suppressed_alerts_total", suppressed_help,
                         {{"sign", "host.new"}, {"reason", "rate_limit"}});
  counters_.suppressed_clock_jump =
      metrics.GetCounter("konseki_heartbeat_suppressed_alerts_total", suppressed_help,
                         {{"sign", "host.clock_jump"}, {"reason", "rate_limit"}});
  counters_.suppressed_silent_transient =
      metrics.GetCounter("konseki_heartbeat_suppressed_alerts_total", suppressed_help,
                         {{"sign", "host.silent"}, {"reason", "single_message_rate_limit"}});
  const char* errors_help = "Heartbeat state file errors, by reason.";
  counters_.errors_save =
      metrics.GetCounter("konseki_heartbeat_errors_total", errors_help, {{"reason", "state_save"}});
  counters_.errors_load =
      metrics.GetCounter("konseki_heartbeat_errors_total", errors_help, {{"reason", "state_load"}});
  counters_.errors_parse = metrics.GetCounter("konseki_heartbeat_errors_total", errors_help,
                                              {{"reason", "state_parse"}});
  counters_.saves =
      metrics.GetCounter("konseki_heartbeat_state_saves_total", "Heartbeat state files written.");
  counters_.forgotten = metrics.GetCounter("konseki_heartbeat_forgotten_hosts_total",
                                           "Hosts dropped after forget_after_secs of silence.");
  counters_.evicted = metrics.GetCounter(
      "konseki_heartbeat_evicted_hosts_total",
      "Single-message hosts whose slot went to a new host when max_hosts was reached.");
  counters_.stalls =
      metrics.GetCounter("konseki_heartbeat_stalls_total",
                         "Times Tick was late by more than stall_secs (grace restarted).");
  metrics.AddGaugeCallback("konseki_host_last_seen_timestamp_seconds",
                           "Receive time of each host's last message (capped, silent hosts first).",
                           [snap = snapshot_](std::vector<Sample>* out) {
                             std::lock_guard<std::mutex> lock(snap->mu);
                             out->insert(out->end(), snap->samples.begin(), snap->samples.end());
                           });

  for (const std::string& host : options_.expected_hosts) {
    if (HostShard(host, num_shards_) != shard_ ||
        Lookup(HostKey::Of(host)) != HeartbeatIndex::kNone)
      continue;
    int64_t slot = AddHost(host);
    if (slot < 0) {
      counters_.dropped_max_hosts->Inc();
      continue;
    }
    slots_[slot].expected = true;
    double t = ThresholdFor(slots_[slot]);
    if (t > 0) Arm(static_cast<uint32_t>(slot), DueFor(slots_[slot], t));
  }
  PublishSnapshot();
}

HeartbeatTracker::~HeartbeatTracker() {
  counters_.messages->Inc(unflushed_messages_);
  hosts_tracked_->Add(-published_tracked_);
  hosts_silent_->Add(-published_silent_);
  std::lock_guard<std::mutex> lock(snapshot_->mu);
  snapshot_->samples.clear();
  snapshot_->hosts.clear();
}

uint32_t HeartbeatTracker::Lookup(const HostKey& host) const {
  return index_.Find(host.hash, [&](uint32_t slot) {
    const Slot& s = slots_[slot];
    return HostNamesEqual(
        s.name_len != 0 ? std::string_view(s.name, s.name_len) : std::string_view(s.state.name),
        host.name);
  });
}

int64_t HeartbeatTracker::AddHost(std::string_view name) {
  if (index_.size() >= max_hosts_) return -1;
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s = Slot();
  s.live = true;
  s.state.name.assign(name);
  if (name.size() <= kInlineName) {
    std::memcpy(s.name, name.data(), name.size());
    s.name_len = static_cast<uint8_t>(name.size());
  }
  for (const HeartbeatOverride& o : options_.overrides) {
    bool match = !o.host.empty()
                     ? HostNamesEqual(o.host, name)
                     : fnmatch(o.host_pattern.c_str(), s.state.name.c_str(), FNM_CASEFOLD) == 0;
    if (match) {
      s.override_secs = o.silence_after_secs;
      break;
    }
  }
  index_.Insert(HostKeyHash(s.state.name), slot);
  return slot;
}

void HeartbeatTracker::FlushLastLine() {
  if (pending_slot_ == HeartbeatIndex::kNone) return;
  CopyLastLine(pending_line_, &slots_[pending_slot_].state.last_message);
  pending_slot_ = HeartbeatIndex::kNone;
}

void HeartbeatTracker::RemoveHost(uint32_t slot) {
  if (slot == last_slot_) last_slot_ = HeartbeatIndex::kNone;
  if (slot == pending_slot_) pending_slot_ = HeartbeatIndex::kNone;  // its line goes with it
  Slot& s = slots_[slot];
  if (s.state.silent) --silent_count_;
  index_.Erase(HostKeyHash(s.state.name), slot);
  s = Slot();
  free_slots_.push_back(slot);
}

bool HeartbeatTracker::IsTransient(const Slot& s) const {
  return s.live && s.state.seen && s.state.last_seen_ns == s.state.first_seen_ns && !s.expected &&
         s.override_secs < 0;
}

void HeartbeatTracker::NoteTransient(uint32_t slot) {
  if (options_.transient_host_secs <= 0) return;
  slots_[slot].transient_seq = next_transient_seq_;
  transients_.emplace_back(slot, next_transient_seq_++);
  if (transients_.size() <= 2 * index_.size() + 1024) return;
  // Mostly entries of hosts that sent again or are gone: keep the others.
  std::erase_if(transients_, [this](const std::pair<uint32_t, uint64_t>& e) {
    const Slot& t = slots_[e.first];
    return t.transient_seq != e.second || !IsTransient(t);
  });
}

bool HeartbeatTracker::EvictTransient(int64_t now_ns, bool any_age) {
  if (options_.transient_host_secs <= 0) return false;
  const int64_t min_quiet_ns = SecsToNs(options_.transient_host_secs);
  while (!transients_.empty()) {
    const auto [slot, seq] = transients_.front();
    const Slot& t = slots_[slot];
    if (t.transient_seq != seq || !IsTransient(t)) {
      transients_.pop_front();  // gone, reused, or sent again: not a candidate
      continue;
    }
    // The front is the oldest single-message host: if it is too young, so
    // are the others.
    if (!any_age && now_ns - t.state.last_seen_ns < min_quiet_ns) return false;
    transients_.pop_front();
    RemoveHost(slot);
    counters_.evicted->Inc();
    return true;
  }
  return false;
}

int64_t HeartbeatTracker::AddWhenFull(const HostKey& key, const Message& msg) {
  const int64_t now = Ns(msg.received);
  if (EvictTransient(now)) return AddHost(key.name);
  if (refused_.empty()) refused_.assign(kRefusedSlots, 0);
  uint64_t& seen = refused_[key.hash % kRefusedSlots];
  const uint64_t mark = key.hash | 1;  // 0 is "empty"
  if (seen == mark && EvictTransient(now, /*any_age=*/true)) {
    seen = 0;
    return AddHost(key.name);
  }
  seen = mark;
  counters_.dropped_max_hosts->Inc();
  ++refused_since_alert_;
  if (full_alert_ns_ != 0 && now - full_alert_ns_ < SecsToNs(3600)) return -1;
  full_alert_ns_ = now;
  Alert a;
  a.time = a.received = msg.received;
  a.host = "konseki";
  a.rule = "heartbeat.max_hosts";
  a.sign = "heartbeat.max_hosts_reached";
  a.severity = Severity::kHigh;
  a.title =
      "the heartbeat's host table is full (heartbeat.max_hosts): new hosts are not watched, so "
      "their logs stopping raises no host.silent; a flood of invented host names, or max_hosts "
      "too low for the fleet";
  a.fields = {{"shard", std::to_string(shard_)},
              {"max_hosts", std::to_string(options_.max_hosts)},
              {"refused", std::to_string(refused_since_alert_)},
              {"refused_host", std::string(key.name)},
              {"sender", std::string(msg.sender)}};
  refused_since_alert_ = 0;
  Emit(a);
  return -1;
}

bool HeartbeatTracker::TakeAlertToken(double* tokens, int64_t* tokens_at_ns, int64_t now_ns) {
  const double per_min = options_.new_host_alerts_per_minute;
  if (per_min <= 0) return true;
  if (now_ns > *tokens_at_ns) {
    *tokens =
        std::min(std::max(1.0, per_min), *tokens + NsToSecs(now_ns - *tokens_at_ns) / 60 * per_min);
    *tokens_at_ns = now_ns;
  }
  if (*tokens < 1) return false;
  *tokens -= 1;
  return true;
}

double HeartbeatTracker::ThresholdFor(const Slot& s) const {
  if (s.override_secs >= 0) return s.override_secs;
  if (options_.silence_after_secs > 0) return options_.silence_after_secs;
  const CadenceEstimator& c = s.state.cadence;
  double cadence = c.CadenceSecs(options_.cadence_quantile);
  double learned =
      std::clamp(options_.multiplier * cadence, options_.floor_secs, options_.ceiling_secs);
  if (cadence <= 0 || c.observed_secs() < options_.learning_secs) {
    double prior = std::clamp(options_.multiplier * options_.initial_cadence_secs,
                              options_.floor_secs, options_.ceiling_secs);
    learned = std::max(learned, prior);
  }
  return learned;
}

int64_t HeartbeatTracker::DueFor(const Slot& s, double threshold_secs) const {
  int64_t t = SecsToNs(threshold_secs);
  int64_t after_start = watch_from_ns_ + std::max(t, SecsToNs(options_.startup_grace_secs));
  if (!s.state.seen) return after_start;
  return std::max(s.state.last_seen_ns + t, after_start);
}

void HeartbeatTracker::Arm(uint32_t slot, int64_t due_ns) {
  slots_[slot].armed_due_ns = due_ns;
  deadlines_.Push(due_ns, slot);
}

void HeartbeatTracker::ArmForgetCheck(uint32_t slot) {
  const Slot& s = slots_[slot];
  if (options_.forget_after_secs <= 0 || s.expected || !s.state.seen) return;
  Arm(slot, std::max(s.state.last_seen_ns, watch_from_ns_) + SecsToNs(options_.forget_after_secs));
}

void HeartbeatTracker::Observe(const Message& msg) { Observe(msg, HostKey::Of(msg.host())); }

void HeartbeatTracker::Observe(const Message& msg, const HostKey& key, bool same_origin) {
  const int64_t now = Ns(msg.received);
  uint32_t slot;
  bool is_new = false;
  // The record of the previous call's host, which holds its sender.
  const bool repeat = same_origin && last_slot_ != HeartbeatIndex::kNone;
  if (repeat) {
    slot = last_slot_;
  } else {
    last_slot_ = HeartbeatIndex::kNone;
    const std::string_view host = key.name;
    if (host.empty()) {
      counters_.dropped_no_host->Inc();
      return;
    }
    if (host.size() > kMaxHostLength) {
      counters_.dropped_host_too_long->Inc();
      return;
    }
    if (uint32_t found = Lookup(key); found != HeartbeatIndex::kNone) {
      slot = found;
    } else {
      int64_t added = AddHost(host);
      if (added < 0) added = AddWhenFull(key, msg);
      if (added < 0) return;
      slot = static_cast<uint32_t>(added);
      is_new = true;
      NoteTransient(slot);
    }
    last_slot_ = slot;
  }
  ++unflushed_messages_;  // an atomic add per message would wait for the stores before it
  Slot& s = slots_[slot];
  HostState& h = s.state;
  if (const int64_t day = now / kNsPerDay; day != s.today) {
    s.today = day;
    s.messages_today = 0;
  }
  ++s.messages_today;
  // host.flood: a count per message; Tick judges the rate.
  if (++s.flood_count == 1 && options_.flood_min_messages > 0) flood_active_.push_back(slot);

  const bool was_seen = h.seen;
  const int64_t prev_seen_ns = h.last_seen_ns;
  // A host's second message (later than its first): it is no longer
  // transient, and its deadline (a forget check if its silence alert was
  // rate-limited) must be recomputed now.
  const bool second = was_seen && prev_seen_ns == h.first_seen_ns && now > prev_seen_ns;
  if (second) s.silence_suppressed = false;
  // The threshold its silence was judged by, before the gap is learned.
  const double silent_threshold = h.silent ? ThresholdFor(s) : 0;
  if (!h.seen) {
    h.seen = true;
    h.first_seen_ns = h.last_seen_ns = now;
  } else if (now > h.last_seen_ns) {
    LearnGap(h, now);
    h.last_seen_ns = now;
  }
  if (!repeat && h.sender != msg.sender) {
    if (was_seen && options_.sender_change_secs > 0) WatchSenderChange(h, msg, now);
    NoteSender(msg.sender, options_.max_senders_per_host, &h);
    h.sender_is_home = h.sender == h.home_sender;
  }
  VoteHomeSender(h);
  // Watching implies this line is from the watched address: any other
  // ended the watch above.
  if (h.move_since_ns != 0 && now - h.move_since_ns >= SecsToNs(options_.sender_change_secs)) {
    FireSenderChanged(s, msg, now);
  }
  // Every line of a host replaces its last message; in a batch only the
  // last of a run of the host's lines is copied (BeginBatch).
  const std::string_view line = msg.raw.substr(0, options_.max_last_message_bytes);
  if (batch_open_) {
    if (pending_slot_ != slot) FlushLastLine();
    pending_slot_ = slot;
    pending_line_ = line;
  } else {
    CopyLastLine(line, &h.last_message);
  }
  // The host's newest own stamp before this line (host.resumed compares it).
  const int64_t prev_ts_ns = h.has_ts ? h.last_ts_ns : 0;
  // The line before was this host's with the same stamp and receive time
  // (a read's lines of one second): CheckClock would return at once, and
  // its call cost more than this test (~30 instructions per line).
  if (!(repeat && checked_valid_ && msg.has_timestamp && Ns(msg.timestamp) == checked_ts_ns_ &&
        now == checked_received_ns_ && options_.clock_jump_tolerance_secs > 0)) {
    CheckClock(s, msg, repeat);
  }
  if (!msg.structured_data.empty()) {
    if (const SequenceGap gap = sequence_.Observe(key, msg.sender, msg.structured_data, now);
        gap.alert) {
      Alert a = SequenceGapAlert(gap, msg, static_cast<uint32_t>(options_.sequence_gap));
      Emit(a);
    }
  }

  const bool resumed = h.silent;
  if (resumed) {
    FireResumed(s, msg, was_seen ? prev_seen_ns : 0, prev_ts_ns, silent_threshold);
  } else if (is_new && !s.expected) {
    FireNew(s, msg);
  }

  // The live heap entry is never later than the true deadline unless the
  // threshold dropped; catch that every kRecheckEvery messages (the scan of
  // the cadence buckets is the costliest part of a message).
  if (!is_new && !resumed && !second && s.armed_due_ns != kNotArmed &&
      ++s.unchecked < kRecheckEvery) {
    return;
  }
  s.unchecked = 0;
  double threshold = ThresholdFor(s);
  if (threshold > 0) {
    int64_t due = DueFor(s, threshold);
    if (due < s.armed_due_ns) Arm(slot, due);
  } else if (s.armed_due_ns == kNotArmed) {
    ArmForgetCheck(slot);
  }
}

void HeartbeatTracker::LearnGap(HostState& h, int64_t now) {
  // Time konseki itself was down or stalled is not the host's silence.
  const int64_t learn_from = std::max(h.last_seen_ns, watch_from_ns_);
  if (now <= learn_from) return;
  double gap = NsToSecs(now - learn_from);
  // After learning, an outage we alerted on teaches nothing beyond the
  // host's usual cadence: otherwise silencing a host once would buy a
  // longer leash the next time. Gaps below the threshold are learned in
  // full, so slow changes of habit are still followed.
  if (h.silent && h.cadence.observed_secs() >= options_.learning_secs) {
    gap = std::min(gap, std::max(1.0, h.cadence.CadenceSecs(options_.cadence_quantile)));
  }
  h.cadence.AddGap(gap, NsToSecs(now), options_.cadence_half_life_secs);
}

HostState* HeartbeatTracker::StateFor(const Message& msg) {
  const HostKey key = HostKey::Of(msg.host());
  uint32_t slot = Lookup(key);
  if (slot == HeartbeatIndex::kNone) {
    // Called before Observe for a host's very first line: observe it now
    // (the Observe that follows is then a no-op apart from the counter).
    Observe(msg, key);
    slot = Lookup(key);
    if (slot == HeartbeatIndex::kNone) return nullptr;  // refused (no host, max_hosts)
  }
  return &slots_[slot].state;
}

void HeartbeatTracker::NoteStopMessage(const Message& msg) {
  HostState* h = StateFor(msg);
  if (h == nullptr) return;
  h->stop_seen = true;
  h->stop_time_ns = Ns(msg.received);
  h->stop_message.assign(msg.raw.substr(0, options_.max_last_message_bytes));
}

void HeartbeatTracker::NoteShutdownMessage(const Message& msg) {
  HostState* h = StateFor(msg);
  if (h == nullptr) return;
  h->shutdown_time_ns = Ns(msg.received);
  h->shutdown_message.assign(msg.raw.substr(0, options_.max_last_message_bytes));
}

void HeartbeatTracker::NoteSuspendMessage(const Message& msg) {
  HostState* h = StateFor(msg);
  if (h == nullptr) return;
  h->suspend_time_ns = Ns(msg.received);
  h->suspend_message.assign(msg.raw.substr(0, options_.max_last_message_bytes));
}

void HeartbeatTracker::NoteBootMessage(const Message& msg) {
  sequence_.NoteLoggerStart(HostKey::Of(msg.host()), msg.sender);
  HostState* h = StateFor(msg);
  if (h == nullptr) return;
  const int64_t at = Ns(msg.received);
  // A boot or a wake-up answers the announcement before it (not one after).
  if (h->shutdown_time_ns != 0 && at >= h->shutdown_time_ns) {
    h->shutdown_time_ns = 0;
    h->shutdown_message.clear();
  }
  if (h->suspend_time_ns != 0 && at >= h->suspend_time_ns) {
    h->suspend_time_ns = 0;
    h->suspend_message.clear();
  }
}

bool HeartbeatTracker::ShutdownLinked(const Slot& s) const {
  const HostState& h = s.state;
  return h.seen && h.shutdown_time_ns != 0 &&
         h.shutdown_time_ns >= h.last_seen_ns - SecsToNs(options_.shutdown_link_secs);
}

bool HeartbeatTracker::SuspendLinked(const Slot& s) const {
  const HostState& h = s.state;
  return options_.suspend_max_secs > 0 && h.seen && h.suspend_time_ns != 0 &&
         h.suspend_time_ns >= h.last_seen_ns - SecsToNs(options_.shutdown_link_secs);
}

void HeartbeatTracker::NoteAlert(const Alert& alert) {
  if (options_.alert_link_secs <= 0 || alert.severity < Severity::kHigh || alert.host.empty() ||
      alert.sign.starts_with("host.")) {
    return;
  }
  const uint32_t slot = Lookup(HostKey::Of(alert.host));
  if (slot == HeartbeatIndex::kNone) return;
  HostState& h = slots_[slot].state;
  h.alert_time_ns = Ns(alert.received);
  h.alert_sign = alert.sign;
  h.alert_title = alert.title;
}

bool HeartbeatTracker::AlertLinked(const Slot& s) const {
  const HostState& h = s.state;
  return h.seen && h.alert_time_ns != 0 &&
         h.alert_time_ns >= h.last_seen_ns - SecsToNs(options_.alert_link_secs);
}

bool HeartbeatTracker::StopLinked(const Slot& s) const {
  const HostState& h = s.state;
  return h.seen && h.stop_seen &&
         h.stop_time_ns >= h.last_seen_ns - SecsToNs(options_.stop_link_secs);
}

void HeartbeatTracker::CheckClock(Slot& s, const Message& msg, bool repeat) {
  if (options_.clock_jump_tolerance_secs <= 0 || !msg.has_timestamp) {
    checked_valid_ = false;
    return;
  }
  HostState& h = s.state;
  const int64_t raw_received = Ns(msg.received);
  const int64_t ts = Ns(msg.timestamp);
  if (repeat && checked_valid_ && ts == checked_ts_ns_ && raw_received == checked_received_ns_) {
    return;
  }
  checked_ts_ns_ = ts;
  checked_received_ns_ = raw_received;
  checked_valid_ = true;
  const int64_t tolerance = SecsToNs(options_.clock_jump_tolerance_secs);
  // The receive time without konseki's own clock steps: every host's
  // offset moves when the log host's clock steps, and that is no host's
  // jump. A line that looks like one may have been received right after a
  // step the watch has not read yet: read the clocks and look again.
  int64_t received = raw_received;
  if (own_clock_ != nullptr) {
    received = own_clock_->Unstep(raw_received);
    const int64_t offset = ts - received;
    // A clock behind is read again once, when its minute of proof is over.
    const bool looks_behind = offset < -tolerance && h.behind_rx_ns != 0 && !h.behind_told &&
                              received - h.behind_rx_ns >= kBackConfirmNs;
    const bool looks_like_jump =
        looks_behind ||
        (h.has_ts ? (ts < h.last_ts_ns - tolerance || offset > h.offset_baseline_ns + tolerance)
                  : offset > tolerance);
    if (looks_like_jump) {
      own_clock_->Refresh();
      received = own_clock_->Unstep(raw_received);
    }
  }
  const ClockJump j = TrackClock(ts, received, tolerance, &h);
  if (j.kind.empty()) return;
  // At most one alert per interval per sender address, and kClockAlertSenders
  // per host, one of them kept for the host's home sender (the address most
  // of its lines come from): any sender may write any host name, and forged
  // lines from other addresses must not silence the host's own jump for the
  // interval. (After a restart the saved last alert's sender is unknown:
  // the interval holds for all.)
  const int64_t interval = SecsToNs(options_.clock_jump_alert_interval_secs);
  const auto hash = [](std::string_view a) { return std::hash<std::string_view>()(a) | 1; };
  const uint64_t sender = hash(msg.sender);
  const uint64_t home = hash(h.home_sender);
  int live = 0, others_live = 0, reuse = 0;
  bool limited = false;
  for (int i = 0; i < HostState::kClockAlertSenders; ++i) {
    if (h.clock_alert_ns[i] != 0 && received - h.clock_alert_ns[i] < interval) {
      ++live;
      if (h.clock_alert_sender[i] != home) ++others_live;
      limited = limited || h.clock_alert_sender[i] == sender;
    }
    if (h.clock_alert_ns[i] < h.clock_alert_ns[reuse]) reuse = i;
  }
  if (live == 0 && h.last_clock_alert_ns != 0 && received - h.last_clock_alert_ns < interval) {
    limited = true;  // alerted before a restart: sender unknown
  }
  // The others' share, and the host's total (home may have moved within
  // the interval: the old home's alert then counts as another's).
  if (sender != home && others_live >= HostState::kClockAlertSenders - 1) limited = true;
  if (limited || live >= HostState::kClockAlertSenders) {
    counters_.suppressed_clock_jump->Inc();
    return;
  }
  h.clock_alert_sender[reuse] = sender;
  h.clock_alert_ns[reuse] = received;
  h.last_clock_alert_ns = received;

  Alert a = HostAlert(msg.received, h.name, msg.sender, "clock_jump", Severity::kMedium);
  const std::string kind(j.kind);
  std::string secs = FormatSecs(NsToSecs(j.jump_ns), 0);
  if (kind == "ahead") {
    a.title = "clock of " + h.name + " is " + secs + " s ahead of the receive time";
  } else if (kind == "behind") {
    a.title = "clock of " + h.name + " is " + secs + " s behind the receive time";
  } else {
    a.title = "clock of " + h.name + " jumped " + kind + " by " + secs + " s";
  }
  a.program.assign(msg.app_name);
  a.pid.assign(msg.procid);
  a.fields = {{"kind", kind},
              {"jump_secs", secs},
              {"host_timestamp", FormatRfc3339Micros(msg.timestamp)},
              {"received", FormatRfc3339Micros(msg.received)},
              {"offset_secs", FormatSecs(NsToSecs(j.offset_ns), 0)},
              {"tolerance_secs", FormatSecs(options_.clock_jump_tolerance_secs, 0)},
              {"sender", std::string(msg.sender)}};
  if (j.previous_ts_ns >= 0) {
    a.fields.emplace_back("previous_host_timestamp", FormatRfc3339Micros(FromNs(j.previous_ts_ns)));
  }
  a.message.assign(msg.raw);
  Emit(a);
}

void HeartbeatTracker::VoteHomeSender(HostState& h) {
  if (h.home_votes == 0) {
    h.home_sender = h.sender;
    h.sender_is_home = true;
    h.home_votes = 1;
  } else if (h.sender_is_home) {
    if (h.home_votes < HostState::kHomeVotesMax) ++h.home_votes;
  } else {
    --h.home_votes;
  }
}

void HeartbeatTracker::FireNew(Slot& s, const Message& msg) {
  if (!options_.new_host_alerts || replay_) return;
  const int64_t now = Ns(msg.received);
  if (!state_loaded_ && now - start_ns_ < SecsToNs(options_.new_host_learning_secs)) {
    counters_.suppressed_new_first_run->Inc();
    return;
  }
  if (!TakeAlertToken(&new_host_tokens_, &new_host_tokens_at_ns_, now)) {
    counters_.suppressed_new_rate_limit->Inc();
    return;
  }
  const HostState& h = s.state;
  Alert a = HostAlert(msg.received, h.name, h.sender, "new", Severity::kMedium);
  a.title = "first message ever from " + h.name + " (sender " + h.sender + ")";
  a.program.assign(msg.app_name);
  a.pid.assign(msg.procid);
  a.fields = {{"first_seen", FormatRfc3339Micros(msg.received)}, {"sender", h.sender}};
  a.message.assign(msg.raw);
  Emit(a);
}

void HeartbeatTracker::WatchSenderChange(HostState& h, const Message& msg, int64_t now_ns) {
  if (msg.sender.empty()) return;
  if (h.move_since_ns != 0) {
    // An address other than the watched one sent (the last sender is the
    // watched one while watching): the host uses several, no move.
    h.move_since_ns = 0;
    h.move_sender.clear();
    h.move_from.clear();
    return;
  }
  if (h.sender.empty() || now_ns - h.first_seen_ns < SecsToNs(options_.sender_change_secs)) return;
  if (std::find(h.senders.begin(), h.senders.end(), msg.sender) != h.senders.end()) return;
  h.move_since_ns = now_ns;
  h.move_sender.assign(msg.sender);
  h.move_from = h.sender;
}

void HeartbeatTracker::FireSenderChanged(Slot& s, const Message& msg, int64_t now_ns) {
  HostState& h = s.state;
  const int64_t since_ns = h.move_since_ns;
  h.move_since_ns = 0;
  if (!TakeAlertToken(&sender_change_tokens_, &sender_change_tokens_at_ns_, now_ns)) {
    counters_.suppressed_sender_changed->Inc();
    return;
  }
  // The logger's stop line shortly before the first line from the new
  // address: the host's own logger ended and another machine speaks for it.
  const bool stop = h.stop_seen && h.stop_time_ns <= since_ns &&
                    since_ns - h.stop_time_ns <=
                        SecsToNs(std::max(options_.stop_link_secs, options_.sender_change_secs));
  std::string earlier;
  for (const std::string& sender : h.senders) {
    if (sender == h.move_sender) continue;
    if (!earlier.empty()) earlier += ',';
    earlier += sender;
  }
  const std::string quiet = FormatSecs(NsToSecs(now_ns - since_ns), 0);
  Alert a = HostAlert(msg.received, h.name, h.move_sender, "sender_changed",
                      stop ? Severity::kCritical : Severity::kMedium);
  a.title = h.name + "'s lines come from " + h.move_sender + " since " +
            FormatRfc3339Micros(FromNs(since_ns)) + "; nothing from " + h.move_from + " for " +
            quiet + " s";
  if (stop) a.title += " after a syslog stop message";
  a.program.assign(msg.app_name);
  a.pid.assign(msg.procid);
  a.fields = {{"sender", h.move_sender},     {"previous_sender", h.move_from},
              {"previous_senders", earlier}, {"since", FormatRfc3339Micros(FromNs(since_ns))},
              {"quiet_secs", quiet},         {"preceded_by_stop", stop ? "true" : "false"}};
  if (stop) a.fields.emplace_back("stop_message", h.stop_message);
  h.move_sender.clear();
  h.move_from.clear();
  a.message.assign(msg.raw);
  Emit(a);
}

void HeartbeatTracker::FireResumed(Slot& s, const Message& msg, int64_t prev_seen_ns,
                                   int64_t prev_ts_ns, double threshold_secs) {
  HostState& h = s.state;
  const int64_t gap_ns = Ns(msg.received) - (prev_seen_ns != 0 ? prev_seen_ns : start_ns_);
  // The silence in the host's own stamps: its first line after it against
  // its last one before. A delivery outage (network cut, log host down, a
  // stopped forwarder with a queue) leaves the host's clock gap short: it
  // logged on and its queued lines come now; a host that was down itself
  // (or its logger) shows the whole silence in its stamps too.
  const bool stamps = msg.has_timestamp && prev_ts_ns != 0 && prev_seen_ns != 0;
  const int64_t stamp_gap_ns = stamps ? Ns(msg.timestamp) - prev_ts_ns : 0;
  // By the measure that made it silent, its own clock shows no silence.
  const bool logged_on = stamps && NsToSecs(stamp_gap_ns) < threshold_secs;
  h.silent = false;
  --silent_count_;
  // The silence an announced shutdown explained is over: the next one is
  // not planned by it (nor by a stop line before this one).
  h.shutdown_time_ns = 0;
  h.shutdown_message.clear();
  h.suspend_time_ns = 0;
  h.suspend_message.clear();
  h.suspend_silent = false;
  h.stop_seen = false;
  h.alert_time_ns = 0;  // that silence was told; the next one stands alone
  Alert a = HostAlert(msg.received, h.name, h.sender, "resumed", Severity::kMedium);
  std::string gap = FormatSecs(NsToSecs(gap_ns), 0);
  a.title = h.name + " resumed after " + gap + " s of silence";
  const std::string stamp_gap = stamps ? FormatSecs(NsToSecs(stamp_gap_ns), 0) : "unknown";
  if (logged_on) {
    a.title += "; its first line is stamped " + stamp_gap +
               " s after its last one: the host logged on, its lines came late";
  }
  a.program.assign(msg.app_name);
  a.pid.assign(msg.procid);
  a.fields = {
      {"gap_secs", gap},
      {"last_seen", prev_seen_ns != 0 ? FormatRfc3339Micros(FromNs(prev_seen_ns)) : "never"},
      {"preceded_by_stop", h.silent_after_stop ? "true" : "false"},
      {"host_stamp_gap_secs", stamp_gap},
      {"logged_during_silence", !stamps     ? "unknown"
                                : logged_on ? "true"
                                            : "false"}};
  if (stamps) {
    a.fields.emplace_back("last_host_timestamp", FormatRfc3339Micros(FromNs(prev_ts_ns)));
    a.fields.emplace_back("host_timestamp", FormatRfc3339Micros(msg.timestamp));
  }
  h.silent_after_stop = false;
  a.message.assign(msg.raw);
  Emit(a);
}

void HeartbeatTracker::FireSilent(Slot& s, int64_t now_ns, double threshold_secs) {
  HostState& h = s.state;
  const bool stop = StopLinked(s);
  // A reboot or power-off the host announced: planned, but a host that
  // stays down is still news (medium), and its lines may say otherwise.
  const bool planned = ShutdownLinked(s);
  // A host that stops logging soon after a high alert about it: what an
  // intruder's kill -9 of the logger looks like (no stop line). Even an
  // announced reboot then is no longer routine.
  const bool after_alert = AlertLinked(s);
  // A suspend the host announced (a laptop's lid closed): routine, low,
  // unless its logger's stop line or a high alert came with it (a real
  // suspend stops no logger; one written by an intruder after a root login
  // stays critical), or it was also a shutdown (medium). Told again at
  // medium after suspend_max_secs (FireSuspendOverdue).
  const bool suspended = SuspendLinked(s) && !planned && !stop && !after_alert;
  h.suspend_silent = suspended;
  h.silent = true;
  h.silent_after_stop = stop;
  ++silent_count_;
  const int64_t since = h.seen ? h.last_seen_ns : start_ns_;
  std::string silence = FormatSecs(NsToSecs(now_ns - since), 0);
  std::string threshold = FormatSecs(threshold_secs, 0);
  double cadence = h.cadence.CadenceSecs(options_.cadence_quantile);

  Alert a = HostAlert(FromNs(now_ns), h.name, h.sender, "silent",
                      after_alert ? (planned ? Severity::kHigh : Severity::kCritical)
                      : planned   ? Severity::kMedium
                      : stop      ? Severity::kCritical
                      : suspended ? Severity::kLow
                                  : Severity::kHigh);
  if (h.seen) {
    a.title = h.name + " silent for " + silence + " s (threshold " + threshold + " s)";
    if (planned) {
      a.title += " after an announced shutdown";
    } else if (suspended) {
      a.title += " after an announced suspend";
    } else if (stop) {
      a.title += " after a syslog stop message";
    }
    if (after_alert) a.title += (planned || stop ? " and " : " after ") + h.alert_sign;
  } else {
    a.title = "expected host " + h.name + " has not reported for " + silence + " s";
  }
  const char* source = s.override_secs >= 0                                 ? "override"
                       : options_.silence_after_secs > 0                    ? "fixed"
                       : h.cadence.observed_secs() < options_.learning_secs ? "learning"
                                                                            : "learned";
  a.fields = {{"last_seen", h.seen ? FormatRfc3339Micros(FromNs(h.last_seen_ns)) : "never"},
              {"silence_secs", silence},
              {"expected_cadence_secs", FormatSecs(cadence, 1)},
              {"threshold_secs", threshold},
              {"threshold_source", source},
              {"preceded_by_stop", stop ? "true" : "false"}};
  if (stop) a.fields.emplace_back("stop_message", h.stop_message);
  a.fields.emplace_back("planned_shutdown", planned ? "true" : "false");
  if (planned) a.fields.emplace_back("shutdown_message", h.shutdown_message);
  a.fields.emplace_back("suspended", suspended ? "true" : "false");
  if (suspended) a.fields.emplace_back("suspend_message", h.suspend_message);
  a.fields.emplace_back("after_alert", after_alert ? h.alert_sign : "");
  if (after_alert) {
    a.fields.emplace_back("after_alert_time", FormatRfc3339Micros(FromNs(h.alert_time_ns)));
    a.fields.emplace_back("after_alert_title", h.alert_title);
  }
  a.fields.emplace_back("last_message", h.last_message);
  Emit(a);
}

void HeartbeatTracker::FireSuspendOverdue(Slot& s, int64_t now_ns) {
  HostState& h = s.state;
  h.suspend_silent = false;
  const std::string silence = FormatSecs(NsToSecs(now_ns - h.last_seen_ns), 0);
  Alert a = HostAlert(FromNs(now_ns), h.name, h.sender, "silent", Severity::kMedium);
  a.title = h.name + " still silent " + silence +
            " s after an announced suspend (heartbeat.suspend_max_secs " +
            FormatSecs(options_.suspend_max_secs, 0) + " s): it has not woken up";
  a.fields = {{"last_seen", FormatRfc3339Micros(FromNs(h.last_seen_ns))},
              {"silence_secs", silence},
              {"suspended", "true"},
              {"suspend_overdue", "true"},
              {"suspend_max_secs", FormatSecs(options_.suspend_max_secs, 0)},
              {"suspend_message", h.suspend_message},
              {"last_message", h.last_message}};
  Emit(a);
}

void HeartbeatTracker::Emit(Alert& alert) {
  if (alert.sign == "host.silent") {
    counters_.alerts_silent->Inc();
  } else if (alert.sign == "host.resumed") {
    counters_.alerts_resumed->Inc();
  } else if (alert.sign == "host.new") {
    counters_.alerts_new->Inc();
  } else if (alert.sign == "host.sender_changed") {
    counters_.alerts_sender_changed->Inc();
  } else if (alert.sign == "host.flood") {
    counters_.alerts_flood->Inc();
  } else if (alert.sign == "log.gap") {
    counters_.alerts_sequence_gap->Inc();
  } else if (alert.sign == "heartbeat.max_hosts_reached") {
    // counted by konseki_heartbeat_dropped_total{reason="max_hosts"}
  } else {
    counters_.alerts_clock_jump->Inc();
  }
  sink_.Emit(alert);
}

void HeartbeatTracker::Tick() {
  FlushLastLine();  // the silence and flood alerts quote it
  const int64_t now = Ns(clock_.Now());
  const int64_t prev_tick_ns = last_tick_ns_ != 0 ? last_tick_ns_ : start_ns_;
  if (last_tick_ns_ != 0 && options_.stall_secs > 0 &&
      now - last_tick_ns_ > SecsToNs(options_.stall_secs)) {
    watch_from_ns_ = now;
    counters_.stalls->Inc();
  }
  last_tick_ns_ = now;
  if (unflushed_messages_ != 0) {
    counters_.messages->Inc(unflushed_messages_);
    unflushed_messages_ = 0;
  }

  while (!deadlines_.empty() && deadlines_.Top().due_ns <= now) {
    DeadlineQueue::Entry e = deadlines_.Top();
    deadlines_.Pop();
    if (e.slot >= slots_.size()) continue;
    Slot& s = slots_[e.slot];
    if (!s.live || s.armed_due_ns != e.due_ns) continue;  // stale entry
    s.armed_due_ns = kNotArmed;
    double threshold = ThresholdFor(s);
    if (s.state.silent && s.state.suspend_silent) {
      // Told at low for an announced suspend: once more when it lasts.
      const int64_t overdue = s.state.last_seen_ns + SecsToNs(options_.suspend_max_secs);
      if (overdue > now) {
        Arm(e.slot, overdue);
        continue;
      }
      FireSuspendOverdue(s, now);
      ArmForgetCheck(e.slot);
      continue;
    }
    if (s.state.silent || threshold <= 0 || s.silence_suppressed) {
      if (options_.forget_after_secs > 0 && !s.expected && s.state.seen &&
          now - s.state.last_seen_ns >= SecsToNs(options_.forget_after_secs)) {
        RemoveHost(e.slot);
        counters_.forgotten->Inc();
      } else {
        ArmForgetCheck(e.slot);
      }
      continue;
    }
    int64_t due = DueFor(s, threshold);
    if (due > now) {
      Arm(e.slot, due);
      continue;
    }
    if (replay_ && s.state.seen &&
        (s.state.last_seen_ns - s.state.first_seen_ns < SecsToNs(threshold) ||
         !(StopLinked(s) || ShutdownLinked(s) || SuspendLinked(s) || AlertLinked(s)))) {
      // Its rhythm is not known from the input (set_replay): unarmed, so
      // its next line arms it again (a replay forgets no host).
      continue;
    }
    if (IsTransient(s) &&
        !TakeAlertToken(&transient_silent_tokens_, &transient_silent_tokens_at_ns_, now)) {
      // Not marked silent: its next message is not a "resumed".
      counters_.suppressed_silent_transient->Inc();
      s.silence_suppressed = true;
      ArmForgetCheck(e.slot);
      continue;
    }
    FireSilent(s, now, threshold);
    if (s.state.suspend_silent) {
      Arm(e.slot, s.state.last_seen_ns + SecsToNs(options_.suspend_max_secs));
    } else {
      ArmForgetCheck(e.slot);
    }
  }
  if (deadlines_.size() > 2 * index_.size() + 1024) CompactDeadlines();
  if (!flood_active_.empty()) CheckFloods(now, prev_tick_ns);

  if (now - last_snapshot_ns_ >= SecsToNs(options_.metrics_interval_secs)) PublishSnapshot();
  if (options_.save_interval_secs > 0 && !options_.state_dir.empty() &&
      now - last_save_ns_ >= SecsToNs(options_.save_interval_secs)) {
    last_save_ns_ = now;
    (void)SaveState();  // failures are counted in konseki_heartbeat_errors_total
  }
}

void HeartbeatTracker::CheckFloods(int64_t now_ns, int64_t prev_tick_ns) {
  ++flood_tick_;
  flood_checking_.swap(flood_active_);
  const int64_t window_ns = SecsToNs(options_.flood_window_secs);
  for (const uint32_t slot : flood_checking_) {
    if (slot >= slots_.size()) continue;
    Slot& s = slots_[slot];
    if (!s.live || s.flood_count == 0 || s.flood_tick == flood_tick_) continue;
    s.flood_tick = flood_tick_;
    // Its first message came after the last Tick.
    if (s.flood_window_ns == 0) s.flood_window_ns = std::min(prev_tick_ns, now_ns);
    if (!s.flood_flagged && s.flood_count >= options_.flood_min_messages) JudgeFlood(s, now_ns);
    if (now_ns - s.flood_window_ns >= window_ns) {
      FoldRate(s, now_ns);  // a new window with its next message
    } else {
      flood_active_.push_back(slot);
    }
  }
  flood_checking_.clear();
}

double HeartbeatTracker::UsualRate(const Slot& s) const {
  return s.rate_secs > 0 ? s.rate_messages / s.rate_secs : 0;
}

void HeartbeatTracker::JudgeFlood(Slot& s, int64_t now_ns) {
  // The usual rate is learned from the windows before this one; a host with
  // none yet could be one that is always this busy.
  if (s.rate_secs < options_.flood_window_secs) return;
  const double secs = std::max(NsToSecs(now_ns - s.flood_window_ns), 1.0);
  const double rate = s.flood_count / secs;
  const double usual = UsualRate(s);
  if (rate < options_.flood_multiplier * usual) return;
  s.flood_flagged = true;
  if (s.flood_alert_ns != 0 &&
      now_ns - s.flood_alert_ns < SecsToNs(options_.flood_alert_interval_secs)) {
    counters_.suppressed_flood->Inc();
    return;
  }
  s.flood_alert_ns = now_ns;
  const HostState& h = s.state;
  const std::string count = std::to_string(s.flood_count);
  const std::string window = FormatSecs(secs, 0);
  const std::string times = usual > 0 ? FormatSecs(rate / usual, 0) : "";
  Alert a = HostAlert(FromNs(now_ns), h.name, h.sender, "flood", Severity::kMedium);
  a.title = h.name + " is flooding: " + count + " messages in " + window + " s (" +
            FormatSecs(rate, 0) + "/s" +
            (usual > 0 ? ", " + times + "x its usual " + FormatSecs(usual, 2) + "/s)"
                       : ", it usually sends nothing)");
  a.fields = {{"messages", count},
              {"window_secs", window},
              {"rate_per_sec", FormatSecs(rate, 1)},
              {"usual_rate_per_sec", FormatSecs(usual, 3)},
              {"times_usual", times},
              {"min_messages", FormatSecs(options_.flood_min_messages, 0)},
              {"multiplier", FormatSecs(options_.flood_multiplier, 0)},
              {"messages_today", std::to_string(s.messages_today)},
              {"sender", h.sender},
              {"last_message", h.last_message}};
  a.message = h.last_message;
  Emit(a);
}

void HeartbeatTracker::FoldRate(Slot& s, int64_t now_ns) const {
  const int64_t from = s.rate_at_ns != 0 ? s.rate_at_ns : s.flood_window_ns;
  const double secs = NsToSecs(std::max<int64_t>(now_ns - from, 0));
  const double keep = std::exp2(-secs / options_.cadence_half_life_secs);
  s.rate_messages = s.rate_messages * keep + s.flood_count;
  s.rate_secs = s.rate_secs * keep + secs;
  s.rate_at_ns = now_ns;
  s.flood_count = 0;
  s.flood_window_ns = 0;
  s.flood_flagged = false;
}

void HeartbeatTracker::CompactDeadlines() {
  deadlines_.Clear();
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].live && slots_[i].armed_due_ns != kNotArmed) {
      deadlines_.Push(slots_[i].armed_due_ns, i);
    }
  }
}

void HeartbeatTracker::PublishSnapshot() {
  last_snapshot_ns_ = Ns(clock_.Now());
  double tracked = static_cast<double>(index_.size());
  double silent = static_cast<double>(silent_count_);
  hosts_tracked_->Add(tracked - published_tracked_);
  hosts_silent_->Add(silent - published_silent_);
  published_tracked_ = tracked;
  published_silent_ = silent;

  size_t cap = (options_.max_host_metrics + num_shards_ - 1) / num_shards_;
  std::vector<Sample>& samples = spare_samples_;
  size_t n = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const Slot& s : slots_) {
      if (n >= cap) break;
      if (!s.live || !s.state.seen || s.state.silent != (pass == 0)) continue;
      if (n == samples.size()) samples.emplace_back();
      Sample& out = samples[n++];
      out.labels.resize(1);
      out.labels[0].first = "host";
      out.labels[0].second = s.state.name;
      out.value = NsToSecs(s.state.last_seen_ns);
    }
  }
  samples.resize(n);
  std::vector<HostRow>& hosts = spare_hosts_;
  n = 0;
  const int64_t today = last_snapshot_ns_ / kNsPerDay;
  for (const Slot& s : slots_) {
    if (!s.live) continue;
    const HostState& h = s.state;
    if (n == hosts.size()) hosts.emplace_back();
    HostRow& row = hosts[n++];
    row.name = h.name;
    row.sender = h.sender;
    row.first_seen_ns = h.first_seen_ns;
    row.last_seen_ns = h.last_seen_ns;
    row.cadence_secs = h.cadence.CadenceSecs(options_.cadence_quantile);
    row.threshold_secs = ThresholdFor(s);
    row.seen = h.seen;
    row.expected = s.expected;
    row.silent = h.silent;
    row.silent_after_stop = h.silent_after_stop;
    row.messages_today = s.today == today ? s.messages_today : 0;
    row.rate_per_sec = UsualRate(s);
    row.last_flood_ns = s.flood_alert_ns;
    row.senders = h.senders;
  }
  hosts.resize(n);
  std::lock_guard<std::mutex> lock(snapshot_->mu);
  snapshot_->samples.swap(samples);
  snapshot_->hosts.swap(hosts);
}

HeartbeatTracker::HostsReader HeartbeatTracker::Hosts() const {
  return [snap = snapshot_](std::vector<HostRow>* out) {
    std::lock_guard<std::mutex> lock(snap->mu);
    out->insert(out->end(), snap->hosts.begin(), snap->hosts.end());
  };
}

Status HeartbeatTracker::SaveState() {
  FlushLastLine();
  if (options_.state_dir.empty()) return Status::Ok();
  if (Status st = MakeDirs(options_.state_dir, 0750); !st.ok()) {
    counters_.errors_save->Inc();
    return Status::IoError("heartbeat: state_dir: " + st.message());
  }
  std::string data;
  data.reserve(index_.size() * 400 + 64);
  data.append(kStateFileHeader);
  data.push_back('\n');
  size_t n = 0;
  for (const Slot& s : slots_) {
    if (!s.live) continue;
    AppendHostStateLine(s.state, &data);
    ++n;
  }
  data.append("end " + std::to_string(n) + "\n");
  Status st = WriteFileAtomically(options_.state_dir + "/" + StateFileName(shard_), data);
  if (st.ok()) {
    counters_.saves->Inc();
  } else {
    counters_.errors_save->Inc();
  }
  return st;
}

bool HeartbeatTracker::MergeLoaded(HostState&& loaded) {
  if (uint32_t found = Lookup(HostKey::Of(loaded.name)); found != HeartbeatIndex::kNone) {
    Slot& s = slots_[found];
    if (s.state.seen && (!loaded.seen || s.state.last_seen_ns >= loaded.last_seen_ns)) {
      return false;
    }
    if (s.state.silent) --silent_count_;
    std::string name = std::move(s.state.name);  // the index key's spelling
    s.state = std::move(loaded);
    s.state.name = std::move(name);
    if (s.state.silent) ++silent_count_;
    return true;
  }
  int64_t slot = AddHost(loaded.name);
  if (slot < 0) {
    counters_.dropped_max_hosts->Inc();
    return false;
  }
  Slot& s = slots_[slot];
  std::string name = std::move(s.state.name);
  s.state = std::move(loaded);
  s.state.name = std::move(name);
  if (s.state.silent) ++silent_count_;
  return true;
}

Status HeartbeatTracker::LoadState(std::vector<DamagedFile>* damaged) {
  if (options_.state_dir.empty()) return Status::Ok();
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator dir(options_.state_dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return Status::Ok();
    counters_.errors_load->Inc();
    return Status::IoError("heartbeat: cannot list state_dir " + options_.state_dir + ": " +
                           ec.message());
  }
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : dir) {
    std::string name = entry.path().filename().string();
    if (IsStateFileName(name)) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());

  Status result;
  std::string data;
  for (const std::string& path : files) {
    Status st = ReadFileToString(path, &data);
    if (!st.ok()) {
      counters_.errors_load->Inc();
      if (result.ok()) result = st;
      continue;
    }
    DamagedFile bad;
    bad.path = path;
    std::string_view rest = data;
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos || rest.substr(0, nl) != kStateFileHeader) {
      counters_.errors_parse->Inc();
      bad.what = data.empty() ? "empty file"
                              : "not a heartbeat state (first line is not \"" +
                                    std::string(kStateFileHeader) + "\")";
      bad.lost = "all of it (" + std::to_string(data.size()) + " bytes): its hosts are unknown";
      if (damaged != nullptr) damaged->push_back(std::move(bad));
      continue;
    }
    rest.remove_prefix(nl + 1);
    state_loaded_ = true;
    // Saved at every save_interval_secs and at the stop: the newest file's
    // time is when the previous run last saved (app: its downtime began).
    if (struct stat st{}; ::stat(path.c_str(), &st) == 0) {
      const int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
      previous_save_ns_ = std::max(previous_save_ns_, mtime);
    }
    size_t records = 0;
    size_t malformed = 0;
    bool ended = false;
    std::string end_count;
    while (!rest.empty()) {
      nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      if (line.starts_with("end ")) {
        end_count = line.substr(4);
        ended = end_count == std::to_string(records);
        break;
      }
      ++records;
      HostState loaded;
      if (!ParseHostStateLine(line, &loaded) || loaded.name.size() > kMaxHostLength) {
        counters_.errors_parse->Inc();
        ++malformed;
        continue;
      }
      if (HostShard(loaded.name, num_shards_) != shard_) continue;
      MergeLoaded(std::move(loaded));
    }
    if (!ended) counters_.errors_parse->Inc();  // truncated or edited by hand
    if (ended && malformed == 0) continue;
    const size_t intact = records - malformed;
    if (!ended && end_count.empty()) {
      // A file cut short (its last line is usually cut too).
      bad.what = "cut short (no end line) after " + std::to_string(records) + " host lines";
      bad.lost = "the host records after the " + std::to_string(intact) +
                 " read intact (how many is not known)";
    } else if (!ended) {
      bad.what =
          "its end line says " + end_count + " host records, " + std::to_string(records) + " found";
      bad.lost = malformed == 0 ? std::string("none known (the hosts found are loaded)")
                                : std::to_string(malformed) + " malformed host records";
    } else {
      bad.what = std::to_string(malformed) + " malformed host records";
      bad.lost = "those " + std::to_string(malformed) + " hosts; the other " +
                 std::to_string(intact) + " are loaded";
    }
    if (damaged != nullptr) damaged->push_back(std::move(bad));
  }

  std::vector<std::pair<int64_t, uint32_t>> transient;  // (last seen, slot)
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (!s.live) continue;
    double threshold = ThresholdFor(s);
    if (s.state.silent || threshold <= 0) {
      ArmForgetCheck(i);
    } else {
      Arm(i, DueFor(s, threshold));
    }
    if (IsTransient(s) && s.transient_seq == 0) transient.emplace_back(s.state.last_seen_ns, i);
  }
  // Saved single-message hosts stay eviction candidates, oldest first.
  std::sort(transient.begin(), transient.end());
  for (const auto& [seen, slot] : transient) NoteTransient(slot);
  PublishSnapshot();
  return result;
}

double HeartbeatTracker::ThresholdSecs(std::string_view host) const {
  uint32_t slot = Lookup(HostKey::Of(host));
  return slot == HeartbeatIndex::kNone ? -1 : ThresholdFor(slots_[slot]);
}

double HeartbeatTracker::CadenceSecs(std::string_view host) const {
  uint32_t slot = Lookup(HostKey::Of(host));
  return slot == HeartbeatIndex::kNone
             ? -1
             : slots_[slot].state.cadence.CadenceSecs(options_.cadence_quantile);
}

}  // namespace konseki::matchers
