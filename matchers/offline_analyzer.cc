#include "matchers/offline_analyzer.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/ascii.h"
#include "receiver/local_zone.h"
#include "receiver/timestamp.h"

namespace konseki::matchers {
namespace {

// How far before the file's clock a line may be stamped while the input
// still reads as a timeline for the heartbeat replay: relays' and queues'
// usual disorder (minutes), not a file of lines from unrelated hours.
constexpr Duration kReplayTimelineSlack = std::chrono::hours(1);

}  // namespace
StatusOr<std::unique_ptr<OfflineAnalyzer>> OfflineAnalyzer::Create(
    std::shared_ptr<const RuleSet> rules, const RulePack& pack, const CorrelatorOptions& options,
    const receiver::Parser& parser) {
  std::unique_ptr<OfflineAnalyzer> a(new OfflineAnalyzer());
  a->rules_ = std::move(rules);
  a->parser_ = parser;
  auto scratch = a->rules_->NewScratch();
  if (!scratch.ok()) return scratch.status();
  a->scratch_ = std::move(scratch).value();
  CorrelatorOptions o = options;
  o.state_file.clear();
  auto c = Correlator::Create(pack, o, a->metrics_);
  if (!c.ok()) return c.status();
  a->correlator_ = std::move(c).value();
  return a;
}

void OfflineAnalyzer::Feed(std::string_view line, std::string_view sender,
                           std::vector<RuleHit>* hits, std::vector<Alert>* alerts) {
  alerts->clear();
  parser_.Parse(line, reference_, sender, nullptr, &msg_);
  if (!msg_.has_timestamp && msg_.issue == ParseIssue::kNoHeader) {
    // A line of a web server's, PHP's, auditd's or squid's own file: its
    // own stamp, where the server would have the (live) receive time.
    const receiver::ParserOptions& o = parser_.options();
    const int offset =
        o.local_zone != nullptr ? o.local_zone->OffsetAt(reference_) : o.default_utc_offset_secs;
    if (receiver::ReadFileLineTime(msg_.msg, offset, &msg_.timestamp)) msg_.has_timestamp = true;
  }
  msg_.received = msg_.has_timestamp ? msg_.timestamp : reference_;
  // The line as received (a repeat notice's own sequenceId, not the
  // repeated line's), for the sequence watch and the heartbeat after the
  // rules.
  Message received = msg_;
  if (heartbeat_on_ && heartbeat_ && msg_.has_timestamp &&
      msg_.received + kReplayTimelineSlack < heartbeat_clock_.Now()) {
    // A line stamped more than an hour before the file's clock: the input
    // is no timeline (a file of sample lines from many days and hosts,
    // logs concatenated host by host, an hour's backlog flushed late), and
    // the silences its clock would show are nobody's: no heartbeat for the
    // rest of it (the alerts it already raised stand).
    heartbeat_on_ = false;
    heartbeat_.reset();
  }
  if (heartbeat_on_) {
    if (msg_.has_timestamp) AdvanceHeartbeat(msg_.received, alerts);
    // A line stamped before the file's clock (or not at all) came when the
    // clock says: the file is in the order its lines were received (a host
    // whose lines carry two zones is not silent between them).
    if (heartbeat_) received.received = std::max(received.received, heartbeat_clock_.Now());
  }
  const size_t line_alerts_from = alerts->size();
  // Alerts that waited for an answer until before this line (server: the
  // worker's housekeeping, by the clock).
  decided_.clear();
  pending_alerts_.Expire(msg_.received, &decided_);
  uint32_t count = 0;
  std::string_view quoted;
  bool repeated = false;  // the rules read the line a notice repeats
  // By the host's name as written: a notice comes from the syslogd that
  // wrote the line it repeats, with the same name.
  EarlierLine& earlier = earlier_[std::string(msg_.host())];
  if (receiver::MayBeRepeatNotice(msg_.msg) &&
      receiver::ReadRepeatNotice(msg_.msg, &count, &quoted)) {
    // The rules read the line the notice stands for, not the notice.
    const Message notice = msg_;
    bool fits = false;
    if (earlier.hit) {
      // msg_ views `earlier` until the next Feed, which parses first.
      parser_.Parse(earlier.line, reference_, earlier.sender, nullptr, &msg_);
      fits = receiver::RepeatNoticeFits(notice, msg_, quoted);
    }
    if (!fits) {
      msg_ = notice;
      earlier.hit = false;  // the host's line before the next one is this notice
      hits->clear();
      superseded_.clear();
      held_.clear();
      pending_.clear();
      alerts->insert(alerts->end(), decided_.alerts.begin(), decided_.alerts.end());
      correlator_->ObserveHost(msg_.host(), msg_.sender, msg_.received);
      if (heartbeat_) ObserveHeartbeat(received, nullptr, alerts, line_alerts_from);
      CheckSequence(received, *hits, alerts);
      return;
    }
    msg_.timestamp = notice.timestamp;
    msg_.has_timestamp = notice.has_timestamp;
    msg_.received = notice.received;
    msg_.repeats = count;
    rules_->Match(msg_, *scratch_, hits);
    repeated = true;
  } else {
    rules_->Match(msg_, *scratch_, hits);
    earlier.line.assign(line);
    earlier.sender.assign(sender);
    earlier.hit = !hits->empty();
  }
  if (!hits->empty() && rules_->has_carry()) carry_.Apply(msg_, rules_->ignore(), hits);
  correlator_->ObserveHost(msg_.host(), msg_.sender, msg_.received);
  correlator_->set_origin_seq(line_seq_);
  ++seq_;
  superseded_.assign(hits->size(), false);
  for (size_t i = 0; i < hits->size(); ++i) {
    const RuleHit& h = (*hits)[i];
    if (h.ignored) continue;  // rules.ignore: no correlation input
    HitEvent e = MakeHitEvent(msg_, h, seq_);
    const size_t before = alerts->size();
    superseded_[i] = correlator_->Process(e, alerts);
    for (size_t k = before; k < alerts->size(); ++k) (*alerts)[k].origin_seq = line_seq_;
    // A correlation's alert in a waiting rule's place waits and holds as
    // the rule's would (as the worker does).
    if (superseded_[i] && pending_alerts_.DeferInPlaceOf(msg_, h, alerts, before, &decided_) &&
        h.rule->quiet_secs > 0) {
      hold_.Held(msg_, h);
    }
  }
  // After the correlations, as the server's worker: a superseded alert
  // neither starts nor extends a hold.
  held_.assign(hits->size(), false);
  for (size_t i = 0; i < hits->size(); ++i) {
    const RuleHit& h = (*hits)[i];
    if (h.ignored || !h.rule->alert || superseded_[i] || h.rule->quiet_secs <= 0) continue;
    if (hold_.Held(msg_, h)) superseded_[i] = held_[i] = true;
  }
  // Then the alerts that wait for an answer (matchers/alert_pending.h), as
  // the worker: this line's answers first, then its own alerts wait.
  pending_.assign(hits->size(), false);
  for (const RuleHit& h : *hits) {
    if (!h.ignored && h.rule->answers_pending) {
      pending_alerts_.Answer(msg_, h, &decided_);
    }
  }
  for (size_t i = 0; i < hits->size(); ++i) {
    const RuleHit& h = (*hits)[i];
    if (h.ignored || !h.rule->alert || superseded_[i] || h.rule->pending_secs <= 0) continue;
    Alert alert = MakeAlert(msg_, h);
    alert.origin_seq = line_seq_;
    pending_alerts_.Defer(msg_, h, std::move(alert), &decided_);
    superseded_[i] = pending_[i] = true;
  }
  alerts->insert(alerts->end(), decided_.alerts.begin(), decided_.alerts.end());
  // Closes whose wait for a late open ended (late_open_secs), as the
  // worker's housekeeping raises them.
  correlator_->TakeDue(msg_.received, alerts);
  // As the worker: a notice is observed as itself, and says nothing of a
  // stop, shutdown or boot (the line it repeats did, once).
  if (heartbeat_) ObserveHeartbeat(received, repeated ? nullptr : hits, alerts, line_alerts_from);
  CheckSequence(received, *hits, alerts);
}

Status OfflineAnalyzer::EnableHeartbeat(const HeartbeatOptions& options) {
  HeartbeatOptions o = options;
  o.state_dir.clear();
  o.stall_secs = 0;
  o.sequence_gap = 0;
  // The stamp is the receive time here: no clock can be judged against it
  // (a file whose lines of one host go back, e.g. two sources in two zones
  // merged, is no clock set back).
  o.clock_jump_tolerance_secs = 0;
  if (Status s = ValidateHeartbeatOptions(o); !s.ok()) return s;
  heartbeat_options_ = std::move(o);
  heartbeat_on_ = true;
  return Status::Ok();
}

HeartbeatTracker::HostsReader OfflineAnalyzer::HeartbeatHosts() const {
  return [this](std::vector<HostRow>* rows) {
    if (heartbeat_) heartbeat_->Hosts()(rows);
  };
}

void OfflineAnalyzer::AdvanceHeartbeat(TimePoint now, std::vector<Alert>* alerts) {
  if (!heartbeat_) {
    // The file's first instant is the tracker's start (its first run: the
    // hosts of the first new_host_learning_secs are the known fleet).
    heartbeat_clock_.Set(now);
    heartbeat_ = std::make_unique<HeartbeatTracker>(heartbeat_options_, 0, 1, heartbeat_clock_,
                                                    heartbeat_sink_, heartbeat_metrics_);
    heartbeat_->set_replay(true);
    return;
  }
  if (now <= heartbeat_clock_.Now()) return;  // the clock never goes back
  // Each deadline passed on the way, at its instant: a silence is judged
  // when it was due, not when the next line happens to come.
  for (TimePoint due = heartbeat_->NextDue(); due <= now; due = heartbeat_->NextDue()) {
    heartbeat_clock_.Set(std::max(due, heartbeat_clock_.Now()));
    heartbeat_->Tick();
  }
  heartbeat_clock_.Set(now);
  heartbeat_->Tick();
  TakeHeartbeatAlerts(alerts);
}

void OfflineAnalyzer::ObserveHeartbeat(const Message& line, const std::vector<RuleHit>* hits,
                                       std::vector<Alert>* alerts, size_t line_alerts_from) {
  // The high alerts this line raised (its rules' that the server would
  // raise now, its correlations', the waits it ended), as the worker's
  // Raise tells the tracker.
  for (size_t i = line_alerts_from; i < alerts->size(); ++i) {
    if ((*alerts)[i].severity >= Severity::kHigh) heartbeat_->NoteAlert((*alerts)[i]);
  }
  if (hits != nullptr) {
    for (size_t i = 0; i < hits->size(); ++i) {
      const RuleHit& h = (*hits)[i];
      if (h.ignored || !h.rule->alert || superseded_[i] || h.rule->severity < Severity::kHigh) {
        continue;
      }
      heartbeat_->NoteAlert(MakeAlert(msg_, h));
    }
  }
  heartbeat_last_line_[AsciiLower(line.host())] = line_seq_;
  if (hits != nullptr) {
    bool stop = false, shutdown = false, suspend = false, boot = false;
    for (const RuleHit& h : *hits) {
      stop |= h.rule->heartbeat_stop;
      shutdown |= h.rule->heartbeat_shutdown;
      suspend |= h.rule->heartbeat_suspend;
      boot |= h.rule->heartbeat_boot;
    }
    if (stop) heartbeat_->NoteStopMessage(line);
    if (shutdown) heartbeat_->NoteShutdownMessage(line);
    if (suspend) heartbeat_->NoteSuspendMessage(line);
    if (boot) heartbeat_->NoteBootMessage(line);
  }
  heartbeat_->Observe(line);
  TakeHeartbeatAlerts(alerts);
}

void OfflineAnalyzer::TakeHeartbeatAlerts(std::vector<Alert>* alerts) {
  for (Alert& a : heartbeat_sink_.alerts) {
    // A replay's resumption is the input's gap as much as the host's (a
    // file of sample lines from two days, a writer's cut): low, where the
    // server's is medium; the silence it ends carries the finding.
    if (a.sign == "host.resumed" && a.severity > Severity::kLow) a.severity = Severity::kLow;
    auto it = heartbeat_last_line_.find(AsciiLower(a.host));
    a.origin_seq = it != heartbeat_last_line_.end() ? it->second : 0;
    alerts->push_back(std::move(a));
  }
  heartbeat_sink_.alerts.clear();
}

void OfflineAnalyzer::CheckSequence(const Message& line, const std::vector<RuleHit>& hits,
                                    std::vector<Alert>* alerts) {
  if (line.structured_data.empty()) return;
  const HostKey host = HostKey::Of(line.host());
  // As the worker: a boot or logger start line restarts the count first.
  for (const RuleHit& h : hits) {
    if (h.rule->heartbeat_boot) {
      sequence_.NoteLoggerStart(host, line.sender);
      break;
    }
  }
  const int64_t now = line.received.time_since_epoch().count();
  if (const SequenceGap gap = sequence_.Observe(host, line.sender, line.structured_data, now);
      gap.alert) {
    alerts->push_back(SequenceGapAlert(gap, line, SequenceWatchOptions().max_gap));
  }
}

void OfflineAnalyzer::Finish(std::vector<Alert>* alerts) {
  alerts->clear();
  decided_.clear();
  // The last line's time: the input ended then.
  pending_alerts_.Flush(msg_.received, &decided_);
  alerts->insert(alerts->end(), decided_.alerts.begin(), decided_.alerts.end());
  correlator_->TakeDue(msg_.received, alerts, true);
  if (heartbeat_) {
    heartbeat_->Tick();
    TakeHeartbeatAlerts(alerts);
  }
}

}  // namespace konseki::matchers
