#include "app/worker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "common/log.h"
#include "common/message.h"
#include "common/thread_name.h"
#include "matchers/heartbeat_state.h"
#include "receiver/parse_issue.h"

namespace konseki::app {

Worker::Worker(const WorkerOptions& options, const WorkerDeps& deps,
               std::unique_ptr<outputs::Archive> archive,
               std::unique_ptr<matchers::HeartbeatTracker> heartbeat,
               std::unique_ptr<HostGapSink> heartbeat_sink,
               std::unique_ptr<matchers::Correlator> correlator)
    : options_(options),
      deps_(deps),
      archive_(std::move(archive)),
      heartbeat_sink_(std::move(heartbeat_sink)),
      heartbeat_(std::move(heartbeat)),
      correlator_(std::move(correlator)) {
  // The correlator was built for the slot's current generation.
  correlator_generation_ = deps_.rules->generation();
  LoadPending();
  last_lines_.resize(kLastLineSlots);
  hit_lines_.resize(kHitLineSlots);
  if (auto pack = deps_.rules->correlations(); pack && deps_.fleet != nullptr) {
    fleet_inputs_ = matchers::InputFilter(*pack, matchers::KeyScope::kFleet);
  }
  std::string w = std::to_string(options_.index);
  processed_ = deps_.metrics->GetCounter("konseki_processed_messages_total",
                                         "Messages parsed, archived and analysed, per worker.",
                                         {{"worker", w}});
  archive_errors_ = deps_.metrics->GetCounter(
      "konseki_worker_archive_errors_total",
      "Archive appends or flushes that reported an error (data kept and retried).",
      {{"worker", w}});
  carry_evictions_ = deps_.metrics->GetCounter(
      "konseki_carry_evictions_total",
      "Fields remembered for a later line (a rule's remember: a client's address per "
      "connection) dropped before their time because the worker's table was full.",
      {{"worker", w}});
  for (size_t i = 0; i < kTruncationCauses; ++i) {
    const Labels reason = {{"reason", TruncationReason(static_cast<TruncationCause>(i))}};
    truncated_seen_[i] = deps_.metrics->GetCounter(
        "konseki_processed_truncated_messages_total",
        "Truncated messages that reached a worker, by why they were cut: max_message_bytes, "
        "stalled_frame (tcp.partial_frame_timeout_secs), incomplete_frame (closed first).",
        reason);
    truncated_senders_[i] = deps_.metrics->GetCounter(
        "konseki_truncated_senders_total",
        "Senders whose messages were cut, by why (each raised konseki.message_truncated; a "
        "sender counts again once forgotten: past 1024 others per worker).",
        reason);
  }
  for (size_t i = 0; i < kParseIssueCount; ++i) {
    parse_issue_counters_.push_back(
        i == 0
            ? nullptr
            : deps_.metrics->GetCounter(
                  "konseki_parse_errors_total",
                  "Messages with a parse problem, by reason (the "
                  "message is still archived and analysed).",
                  {{"reason", std::string(receiver::ParseIssueName(static_cast<ParseIssue>(i)))}}));
  }
  if (options_.run_to_completion) {
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (timer_fd_ < 0 || wake_fd_ < 0) {
      // Not fatal: batches then go through the queue, as with several workers.
      Log(LogLevel::kWarning, "worker %zu: no timerfd/eventfd (%s): batches go through the queue",
          options_.index, std::strerror(errno));
      if (timer_fd_ >= 0) close(timer_fd_);
      if (wake_fd_ >= 0) close(wake_fd_);
      timer_fd_ = wake_fd_ = -1;
    }
  }
}

Worker::~Worker() {
  RequestStop();
  Join();
  if (timer_fd_ >= 0) close(timer_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void Worker::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_flush_ = deps_.clock->Now();
    last_active_ = std::chrono::steady_clock::now();
    running_ = true;
  }
  thread_ = std::thread([this] { Run(); });
}

void Worker::RequestStop() {
  stop_.store(true, std::memory_order_release);
  Wake();
}

void Worker::RequestReopen() {
  reopen_.store(true, std::memory_order_release);
  Wake();
}

void Worker::Wake() {
  if (wake_fd_ < 0) return;
  const uint64_t one = 1;
  // Fails only when the counter is about to overflow: a wake is pending.
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void Worker::ArmTimer(SteadyTime when) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch());
  itimerspec spec{};
  // 0 would disarm: a time in the past fires at once.
  const int64_t n = std::max<int64_t>(ns.count(), 1);
  spec.it_value.tv_sec = static_cast<time_t>(n / 1'000'000'000);
  spec.it_value.tv_nsec = static_cast<long>(n % 1'000'000'000);
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

std::chrono::microseconds Worker::IdleWait() const {
  return dirty_ ? options_.idle_flush_delay : options_.idle_tick;
}

bool Worker::TryRun(Batch& batch) {
  if (timer_fd_ < 0) return false;
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  // Queued batches (or one the thread took and is processing) come first:
  // they hold older lines of the same hosts.
  if (!lock.owns_lock() || !running_ || blocked_ || stop_.load(std::memory_order_acquire) ||
      deps_.queues->InFlight(options_.index) != 0) {
    return false;
  }
  Process(batch);
  Housekeeping(false);
  last_active_ = std::chrono::steady_clock::now();
  // Pushed back after every batch: while the stream goes on the thread
  // sleeps; when it stops, the thread flushes idle_flush_delay later.
  ArmTimer(last_active_ + IdleWait());
  return true;
}

Batch* Worker::NextBatch(std::unique_lock<std::mutex>& lock) {
  const size_t w = options_.index;
  if (timer_fd_ < 0) {
    const std::chrono::microseconds wait = IdleWait();
    lock.unlock();
    Batch* batch = deps_.queues->Dequeue(w, wait);
    lock.lock();
    return batch;
  }
  // Batches are taken with the lock held, so TryRun, which holds it too,
  // never sees one that was dequeued and not processed.
  for (;;) {
    // A TryRun while we waited may have found the archive unwritable: Run
    // then retries it and takes nothing meanwhile.
    if (blocked_) return nullptr;
    if (Batch* batch = deps_.queues->Dequeue(w, std::chrono::microseconds(0))) return batch;
    // Run stops once the queue is empty; its housekeeping applies a reopen.
    if (stop_.load(std::memory_order_acquire) || reopen_.load(std::memory_order_acquire)) {
      return nullptr;
    }
    const SteadyTime deadline = last_active_ + IdleWait();
    if (std::chrono::steady_clock::now() >= deadline) return nullptr;
    ArmTimer(deadline);
    lock.unlock();
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {timer_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) > 0) {
      // Both are non-blocking: a timer TryRun re-armed meanwhile reads nothing.
      for (const pollfd& p : fds) {
        uint64_t count;
        const ssize_t n = p.revents != 0 ? read(p.fd, &count, sizeof(count)) : 0;
        (void)n;
      }
    }
    lock.lock();
  }
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

Counter* Worker::RuleCounter(std::unordered_map<std::string, Counter*>* counters, const char* name,
                             const char* help, const std::string& rule) {
  auto it = counters->find(rule);
  if (it == counters->end()) {
    it = counters->emplace(rule, deps_.metrics->GetCounter(name, help, {{"rule", rule}})).first;
  }
  return it->second;
}

void Worker::RefreshRules() {
  uint64_t gen = deps_.rules->generation();
  if (gen == rules_generation_) return;
  rules_generation_ = gen;
  auto rules = deps_.rules->Get();
  if (!rules) {
    rules_.reset();
    scratch_.reset();
    return;
  }
  auto scratch = rules->NewScratch();
  if (!scratch.ok()) {
    // Keep the previous rules: a scratch allocation failure is not a reason
    // to stop analysing.
    Log(LogLevel::kError, "worker %zu: %s", options_.index, scratch.status().ToString().c_str());
    return;
  }
  rules_ = std::move(rules);
  scratch_ = std::move(scratch).value();
  if (gen != correlator_generation_) RefreshCorrelator();
}

void Worker::RefreshCorrelator() {
  correlator_generation_ = deps_.rules->generation();
  auto pack = deps_.rules->correlations();
  fleet_inputs_ = pack && deps_.fleet != nullptr
                      ? matchers::InputFilter(*pack, matchers::KeyScope::kFleet)
                      : matchers::InputFilter();
  if (!correlator_ || !pack) return;  // correlation off (or no packs)
  auto next = matchers::Correlator::Create(pack, options_.correlation, *deps_.metrics);
  if (!next.ok()) {
    Log(LogLevel::kError, "worker %zu: correlations: %s", options_.index,
        next.status().ToString().c_str());
    return;
  }
  (*next)->TakeStateFrom(*correlator_);
  // Closes waiting for a late open in the old correlator go now, as
  // written: its held alerts do not move over (none lost at a reload).
  due_alerts_.clear();
  correlator_->TakeDue(deps_.clock->Now(), &due_alerts_, true);
  for (const Alert& a : due_alerts_) Raise(a);
  correlator_ = std::move(next).value();
}

void Worker::Correlate(const Message& msg, const HostKey& host_key, bool same_origin) {
  correlation_alerts_.clear();
  const bool host = correlator_ != nullptr;
  if (host && !(observed_ && same_origin)) {
    correlator_->ObserveHost(host_key, msg.sender, msg.received);
    observed_ = true;
  }
  if (hits_.empty()) return;  // most lines: nothing to correlate, nothing superseded
  observed_ = false;          // a hit may restart the host's watch
  superseded_.assign(hits_.size(), false);
  if (!host && fleet_inputs_.empty()) return;
  // Unique across workers: hits of one message count once per correlation.
  const uint64_t seq = (uint64_t{options_.index + 1} << 48) | (++message_seq_ & ((1ull << 48) - 1));
  for (size_t i = 0; i < hits_.size(); ++i) {
    const matchers::RuleHit& hit = hits_[i];
    if (hit.ignored) continue;  // rules.ignore: no correlation input either
    matchers::HitEvent e = matchers::MakeHitEvent(msg, hit, seq);
    e.overflow_worker = line_overflow_;
    if (host && correlator_->Wants(e.input_id, e.sign)) {
      const size_t before = correlation_alerts_.size();
      superseded_[i] = correlator_->Process(e, &correlation_alerts_);
      if (superseded_[i]) e.superseded_by = correlator_->superseded_by();
      // A correlation's alert that took the place of a waiting rule's alert
      // takes its wait and its hold too: a logger stop after a compromise
      // sign that the logger's restart answers is raised at the rule's
      // answered_severity.
      if (superseded_[i] &&
          pending_.DeferInPlaceOf(msg, hit, &correlation_alerts_, before, &pending_out_) &&
          hit.rule->quiet_secs > 0) {
        hold_.Held(msg, hit);
      }
    }
    if (fleet_inputs_.Wants(e.input_id, e.sign)) deps_.fleet->Push(FleetHit::From(e));
  }
}

void Worker::EmitAlerts(const Message& msg) {
  for (size_t i = 0; i < hits_.size(); ++i) {
    const matchers::RuleHit& hit = hits_[i];
    // Input-only rules (alert: false) feed correlations and counters.
    if (hit.ignored || !hit.rule->alert) continue;
    if (superseded_[i]) {
      RuleCounter(&superseded_counters_, "konseki_alerts_superseded_total",
                  "Rule matches whose alert a correlation's alert on the same line took the "
                  "place of (supersedes: true).",
                  hit.rule->id)
          ->Inc();
      continue;
    }
    // A line the sender wrote while konseki itself was down, about konseki
    // being gone (own_downtime_severity): lowered, and held as lowered.
    const std::optional<Severity> lowered = OwnDowntimeSeverity(msg, *hit.rule);
    if (hit.rule->quiet_secs > 0 && hold_.Held(msg, hit, lowered)) {
      RuleCounter(&held_counters_, "konseki_alerts_held_total",
                  "Rule matches that raised no alert: an alert of the same sign from the same "
                  "host came less than the rule's quiet_secs before (one alert per episode).",
                  hit.rule->id)
          ->Inc();
      continue;
    }
    Alert a = matchers::MakeAlert(msg, hit);
    if (lowered) MarkOwnDowntime(*lowered, &a);
    if (hit.rule->pending_secs > 0) {
      pending_.Defer(msg, hit, std::move(a), &pending_out_);
      continue;
    }
    Raise(a);
  }
  if (!pending_out_.empty()) EmitPending();
  for (const Alert& a : correlation_alerts_) {
    Raise(a);
    // A host correlation's alert may feed a fleet correlation.
    if (fleet_inputs_.Wants(a.rule, a.sign)) {
      deps_.fleet->Push(FleetHit::From(matchers::AlertHitEvent(a)));
    }
  }
}

std::optional<Severity> Worker::OwnDowntimeSeverity(const Message& msg,
                                                    const matchers::Rule& rule) const {
  if (!rule.own_downtime_severity || !msg.has_timestamp || options_.own_down_from == TimePoint{} ||
      options_.own_down_until == TimePoint{} ||
      msg.timestamp < options_.own_down_from - options_.own_down_margin ||
      msg.timestamp > options_.own_down_until + options_.own_down_margin) {
    return std::nullopt;
  }
  return std::min(*rule.own_downtime_severity, rule.severity);
}

void Worker::MarkOwnDowntime(Severity severity, Alert* a) const {
  a->severity = severity;
  a->fields.emplace_back("konseki_down", "true");
  a->fields.emplace_back("konseki_down_from", FormatRfc3339Micros(options_.own_down_from));
  a->fields.emplace_back("konseki_down_until", FormatRfc3339Micros(options_.own_down_until));
  a->title += " (while konseki itself was down)";
}

// Inlined in Process, where it runs for every line.
[[gnu::always_inline]] inline unsigned Worker::RunRules(const Message& msg, const HostKey& host,
                                                        bool same_origin) {
  unsigned heartbeat_bits = 0;
  // Not cleared first: Match recycles the RuleHits already in hits_ (and
  // their fields' strings) and resizes it; clearing freed them, so every
  // hit allocated its fields again.
  rules_->Match(msg, *scratch_, &hits_);
  if (!hits_.empty() && rules_->has_carry()) {
    carry_.Apply(msg, rules_->ignore(), &hits_);
    if (carry_.evicted() != carry_evicted_) {
      carry_evictions_->Inc(carry_.evicted() - carry_evicted_);
      carry_evicted_ = carry_.evicted();
    }
  }
  for (const matchers::RuleHit& hit : hits_) {
    auto it = rule_counters_.find(hit.rule->id);
    if (it == rule_counters_.end()) {
      it = rule_counters_
               .emplace(hit.rule->id, deps_.metrics->GetCounter("konseki_rule_matches_total",
                                                                "Messages matched, per rule.",
                                                                {{"rule", hit.rule->id}}))
               .first;
    }
    it->second->Inc();
    if (hit.rule->heartbeat_stop) heartbeat_bits |= kStopLine;
    if (hit.rule->heartbeat_shutdown) heartbeat_bits |= kShutdownLine;
    if (hit.rule->heartbeat_boot) heartbeat_bits |= kBootLine;
    if (hit.rule->heartbeat_suspend) heartbeat_bits |= kSuspendLine;
    if (hit.rule->answers_pending && !hit.ignored) {
      pending_.Answer(msg, hit, &pending_out_);
    }
    if (hit.ignored) {
      // rules.ignore: counted, but no alert and no correlation input
      // (as fail2ban's ignoreip never bans).
      RuleCounter(&ignored_counters_, "konseki_alerts_ignored_total",
                  "Rule matches that raised no alert: their src_ip or user is in "
                  "rules.ignore.",
                  hit.rule->id)
          ->Inc();
    }
  }
  Correlate(msg, host, same_origin);
  // Alerts come from hits (correlations only raise theirs on a hit).
  if (!hits_.empty()) EmitAlerts(msg);
  return heartbeat_bits;
}

void Worker::ReplayRepeated(const Message& notice, const HostKey& host, uint64_t previous,
                            uint64_t line, uint32_t count, std::string_view quoted) {
  HitLine& kept = hit_lines_[host.hash % kHitLineSlots];
  if (kept.hash != host.hash || kept.line != previous) return;  // no hits, or not kept
  deps_.parser->Parse(kept.raw, notice.received, kept.sender, nullptr, &replayed_);
  replayed_.sender = kept.sender;
  // The same host (not another with the same hash), program and text.
  if (!HostNamesEqual(replayed_.host(), host.name) ||
      !receiver::RepeatNoticeFits(notice, replayed_, quoted)) {
    return;
  }
  // The repeats happened between the line and the notice: the notice's
  // time is when the last of them had happened.
  replayed_.timestamp = notice.timestamp;
  replayed_.has_timestamp = notice.has_timestamp;
  replayed_.received = notice.received;
  replayed_.repeats = count;
  RunRules(replayed_, host, false);
  // A later notice (sysklogd writes one every 30 s while the repeats go on)
  // follows this one: it repeats the same line.
  kept.line = line;
}

void Worker::Raise(const Alert& a) {
  deps_.alerts->Emit(a);
  // A high alert about a host makes its silence soon after critical.
  if (heartbeat_ && a.severity >= Severity::kHigh) heartbeat_->NoteAlert(a);
}

void Worker::EmitPending() {
  for (const std::string& rule : pending_out_.answered) {
    RuleCounter(&answered_counters_, "konseki_alerts_answered_total",
                "Rule alerts that waited for an answer (pending_secs) and got it: raised at "
                "the rule's answered_severity, or not at all.",
                rule)
        ->Inc();
  }
  for (const Alert& a : pending_out_.alerts) Raise(a);
  pending_out_.clear();
}

// Alerts that waited when the process died (SIGKILL, a crash) wait on:
// those past their time are raised as written at the first housekeeping.
void Worker::LoadPending() {
  if (options_.pending_file.empty()) return;
  std::vector<std::string> files = options_.pending_extra;
  files.insert(files.begin(), options_.pending_file);
  for (const std::string& path : files) {
    std::string text;
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) continue;  // none waited
    if (Status s = matchers::ReadFileToString(path, &text); !s.ok()) {
      Log(LogLevel::kError, "worker %zu: alerts waiting for an answer: %s", options_.index,
          s.ToString().c_str());
      continue;
    }
    if (!pending_.Load(text)) {
      const std::string aside = path + ".damaged";
      const bool moved = std::rename(path.c_str(), aside.c_str()) == 0;
      Log(LogLevel::kError,
          "worker %zu: %s is not a file of alerts waiting for an answer; %s, starting without it",
          options_.index, path.c_str(), moved ? ("moved to " + aside).c_str() : "left in place");
      continue;
    }
    if (path != options_.pending_file) std::remove(path.c_str());
  }
  if (pending_.waiting() > 0) {
    Log(LogLevel::kInfo, "worker %zu: %zu alerts waiting for an answer from before the restart",
        options_.index, pending_.waiting());
  }
  pending_saved_changes_ = pending_.changes();
}

void Worker::SavePending(TimePoint now, bool now_or_never) {
  if (options_.pending_file.empty() || pending_.changes() == pending_saved_changes_) return;
  if (!now_or_never && now - pending_saved_at_ < std::chrono::seconds(1)) return;
  pending_saved_at_ = now;
  pending_saved_changes_ = pending_.changes();
  if (pending_.waiting() == 0) {
    std::remove(options_.pending_file.c_str());
    return;
  }
  if (Status s = matchers::WriteFileAtomically(options_.pending_file, pending_.Save()); !s.ok()) {
    Log(LogLevel::kError, "worker %zu: alerts waiting for an answer: %s", options_.index,
        s.ToString().c_str());
  }
}

void Worker::CorrelationHousekeeping(TimePoint now) {
  if (pending_.waiting() > 0) {
    pending_.Expire(now, &pending_out_);
    if (!pending_out_.empty()) EmitPending();
  }
  SavePending(now, false);
  if (!correlator_) return;
  if (heartbeat_sink_) {
    for (const std::string& host : heartbeat_sink_->TakeGaps()) correlator_->OnHostGap(host);
  }
  if (now - last_correlation_tick_ < std::chrono::seconds(1)) return;
  last_correlation_tick_ = now;
  correlator_->Tick(now);
  // Closes whose wait for a late open ended (late_open_secs).
  due_alerts_.clear();
  correlator_->TakeDue(now, &due_alerts_);
  for (const Alert& a : due_alerts_) {
    Raise(a);
    if (fleet_inputs_.Wants(a.rule, a.sign)) {
      deps_.fleet->Push(FleetHit::From(matchers::AlertHitEvent(a)));
    }
  }
}

void Worker::Run() {
  const size_t w = options_.index;
  SetThreadName("worker " + std::to_string(w));
  std::unique_lock<std::mutex> lock(mu_);
  std::optional<std::chrono::steady_clock::time_point> stop_deadline;
  for (;;) {
    if (blocked_) {
      // The archive cannot be written: take no more batches (TCP and RELP
      // stop reading, UDP drops and counts) and retry a few times a second;
      // when asked to stop, until the stop deadline.
      if (stop_.load(std::memory_order_acquire)) {
        const auto now = std::chrono::steady_clock::now();
        if (!stop_deadline) stop_deadline = now + options_.stop_timeout;
        if (now >= *stop_deadline) break;
      }
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      lock.lock();
      FlushArchive();
      if (heartbeat_) heartbeat_->Tick();
      continue;
    }
    // Flushing as soon as the queue ran empty cost a write(2) per host for
    // every batch whenever the worker kept up with its listener (most of
    // the time: a TCP read or a UDP wake-up makes one batch per worker).
    // Now the flush waits for a pause of idle_flush_delay in the stream.
    Batch* batch = NextBatch(lock);
    if (batch != nullptr) {
      Process(*batch);
      deps_.queues->Release(batch);
      deps_.queues->Done(w);
      Housekeeping(false);
      last_active_ = std::chrono::steady_clock::now();
      continue;
    }
    if (blocked_) continue;  // by a TryRun while this thread waited
    if (stop_.load(std::memory_order_acquire) && deps_.queues->Depth(w) == 0) break;
    Housekeeping(true);
    last_active_ = std::chrono::steady_clock::now();
  }
  running_ = false;  // TryRun declines from now on: what comes is queued
  if (archive_) StopArchive();
  // Alerts still waiting for their answer go now, as written: none is lost.
  pending_.Flush(deps_.clock->Now(), &pending_out_);
  if (!pending_out_.empty()) EmitPending();
  SavePending(deps_.clock->Now(), true);  // nothing waits: the file goes
  if (heartbeat_) {
    if (Status s = heartbeat_->SaveState(); !s.ok()) {
      Log(LogLevel::kError, "worker %zu: %s", options_.index, s.ToString().c_str());
    }
  }
  if (correlator_) {
    // Closes still waiting for a late open go now, as written (none lost).
    due_alerts_.clear();
    correlator_->TakeDue(deps_.clock->Now(), &due_alerts_, true);
    for (const Alert& a : due_alerts_) Raise(a);
    if (Status s = correlator_->SaveState(); !s.ok()) {
      Log(LogLevel::kError, "worker %zu: %s", options_.index, s.ToString().c_str());
    }
  }
}

void Worker::StopArchive() {
  // Batches a blocked worker did not take are held too.
  while (Batch* batch = deps_.queues->Dequeue(options_.index, std::chrono::microseconds(0))) {
    Process(*batch);
    deps_.queues->Release(batch);
    deps_.queues->Done(options_.index);
  }
  FlushArchive();
  if (!blocked_) {
    if (options_.sync_at_stop && !archive_->Sync().ok()) archive_errors_->Inc();
    return;
  }
  const uint64_t held = archive_->held_messages();
  if (held == 0) return;
  StatusOr<uint64_t> spooled = archive_->Spool();
  if (spooled.ok()) {
    Log(LogLevel::kWarning,
        "worker %zu: the archive still cannot be written at the stop deadline "
        "(%s): %llu messages saved to %s, archived at the next start",
        options_.index, last_write_error_.c_str(), static_cast<unsigned long long>(*spooled),
        archive_->spool_path().c_str());
    return;
  }
  lost_at_stop_ = held;
  Log(LogLevel::kError,
      "worker %zu: LOST %llu messages at the stop: the archive cannot be "
      "written (%s) and the spool could not be saved (%s)",
      options_.index, static_cast<unsigned long long>(held), last_write_error_.c_str(),
      spooled.status().ToString().c_str());
}

void Worker::Process(Batch& batch) {
  RefreshRules();
  // A reopen asked for before this batch arrived applies to it (logrotate
  // renamed the files: new lines belong in new files).
  if (reopen_.exchange(false, std::memory_order_acq_rel) && archive_) archive_->Reopen();
  Message msg;
  bool append_failed = false;
  observed_ = false;  // what it stood for was a line of another batch
  // The batch's bytes outlive the loop: the heartbeat copies a host's last
  // line once per run of its lines.
  if (heartbeat_) heartbeat_->BeginBatch();
  for (const Batch::Entry& e : batch.entries) {
    // The host's key, for the archive, the correlator and the heartbeat:
    // hashed by the Router, not here (one hash per message, not three).
    HostKey host;
    // Only with the Router's parse: the host it compared is msg.host().
    const bool same_origin = e.parsed && e.same_origin;
    if (e.parsed) {
      e.header.Unpack(batch.frame(e), e.received, batch.sender(e), &msg);
      host = HostKey{msg.host(), e.host_hash};
    } else {
      deps_.parser->Parse(batch.frame(e), e.received, batch.sender(e), nullptr, &msg);
      msg.sender = batch.sender(e);
      host = HostKey::Of(msg.host());
    }
    if (msg.issue != ParseIssue::kNone) {
      parse_issue_counters_[static_cast<size_t>(msg.issue)]->Inc();
    }
    if (e.truncated) {
      truncated_seen_[static_cast<size_t>(e.truncation_cause)]->Inc();
      NoteTruncated(msg, e.truncation_cause);
    }
    line_overflow_ = -1;
    if (archive_) {
      Status st = archive_->Append(msg, host, same_origin);
      if (archive_->LastLineInOverflow()) line_overflow_ = static_cast<int32_t>(options_.index);
      if (!st.ok()) {
        archive_errors_->Inc();
        append_failed = true;
      }
      // A line the archive refused (its error buffer is full) is not stored:
      // it must not be acknowledged, so the sender keeps it.
      if (e.ack_cookie != 0 && st.code() != StatusCode::kUnavailable) {
        pending_acks_.push_back({batch.ack_sink, e.ack_cookie});
      }
    } else if (e.ack_cookie != 0) {
      pending_acks_.push_back({batch.ack_sink, e.ack_cookie});
    }

    unsigned heartbeat_bits = 0;
    if (rules_) {
      const uint64_t line = ++line_seq_;
      LastLine& last = last_lines_[host.hash % kLastLineSlots];
      const uint64_t previous = last.hash == host.hash ? last.line : 0;
      last = {host.hash, line};
      // A notice is the syslogd's text, not the daemon's, so the rules do
      // not read it (syslog-ng's quotes the line's first 20 bytes: "Failed
      // password for " would count as one more failure); the line it
      // repeats does.
      uint32_t count;
      std::string_view quoted;
      if (receiver::MayBeRepeatNotice(msg.msg) &&
          receiver::ReadRepeatNotice(msg.msg, &count, &quoted)) {
        if (previous != 0) ReplayRepeated(msg, host, previous, line, count, quoted);
      } else {
        heartbeat_bits = RunRules(msg, host, same_origin);
        if (!hits_.empty()) {
          HitLine& kept = hit_lines_[host.hash % kHitLineSlots];
          kept.hash = host.hash;
          kept.line = line;
          kept.raw.assign(msg.raw);
          kept.sender.assign(msg.sender);
        }
      }
    }
    if (heartbeat_) {
      if (heartbeat_bits & kStopLine) heartbeat_->NoteStopMessage(msg);
      if (heartbeat_bits & kShutdownLine) heartbeat_->NoteShutdownMessage(msg);
      if (heartbeat_bits & kSuspendLine) heartbeat_->NoteSuspendMessage(msg);
      if (heartbeat_bits & kBootLine) heartbeat_->NoteBootMessage(msg);
      heartbeat_->Observe(msg, host, same_origin);
    }
  }
  if (heartbeat_) heartbeat_->EndBatch();
  processed_->Inc(batch.entries.size());
  dirty_ = true;
  // Senders waiting for acknowledgements get them right after this batch is
  // written (one write, and one fsync with archive.sync: batch, for the whole
  // batch: group commit).
  // After a failed write, flush now rather than within flush_interval: the
  // flush fails too and blocks this worker before later batches pile up in
  // the archive's buffers (and are dropped past max_pending_bytes).
  if (options_.flush_each_batch || !pending_acks_.empty() || append_failed) FlushArchive();
}

void Worker::EmitArchiveAlert(const char* sign, Severity severity, const std::string& title,
                              std::vector<std::pair<std::string, std::string>> fields) {
  Alert a;
  a.time = a.received = last_flush_;
  a.host = "konseki";
  a.rule = "konseki.archive";
  a.sign = sign;
  a.severity = severity;
  a.title = title;
  a.fields.emplace_back("worker", std::to_string(options_.index));
  for (auto& f : fields) a.fields.push_back(std::move(f));
  deps_.alerts->Emit(a);
}

void Worker::NoteTruncated(const Message& msg, TruncationCause cause) {
  const size_t i = static_cast<size_t>(cause);
  const TruncationWatch::Verdict v = truncation_[i].Note(msg.sender, msg.received);
  if (v.new_sender) truncated_senders_[i]->Inc();
  if (!v.alert) return;
  // What came past max_message_bytes is neither archived nor read by the
  // rules: a sender can pad a line to push its incriminating end out. A
  // stalled or closed frame's rest is not lost that way: if it came, it is
  // its own line (prod19b finding 2).
  Alert a;
  a.time = a.received = msg.received;
  a.host = std::string(msg.host());
  a.sender = std::string(msg.sender);
  a.rule = "konseki.receive";
  a.sign = "konseki.message_truncated";
  a.severity = Severity::kLow;
  switch (cause) {
    case TruncationCause::kTooLong:
      a.title =
          "A message longer than max_message_bytes was cut: its end is neither archived nor "
          "read by the rules (one alert per sender per hour)";
      break;
    case TruncationCause::kStalled:
      a.title =
          "A sender stopped in the middle of a message for tcp.partial_frame_timeout_secs: "
          "what had arrived was archived and matched as it was; the rest, if it came later, "
          "was archived as a line of its own under the sender's address (one alert per "
          "sender per hour)";
      break;
    case TruncationCause::kCut:
      a.title =
          "A connection closed (konseki's stop, a timeout or an eviction, or a sender's "
          "octet-counted frame short of its count) in the middle of a message: what had "
          "arrived was archived and matched as it was; the rest never arrived (one alert per "
          "sender per hour)";
      break;
  }
  a.program = std::string(msg.app_name);
  a.pid = std::string(msg.procid);
  a.fields.emplace_back("reason", TruncationReason(cause));
  a.fields.emplace_back("kept_bytes", std::to_string(msg.raw.size()));
  a.fields.emplace_back("truncated_messages", std::to_string(v.messages));
  // The line's start, enough to find it in the archive (the archive has it all).
  constexpr size_t kShown = 200;
  a.message = std::string(msg.raw.substr(0, kShown));
  Raise(a);
}

bool Worker::CheckSync() {
  std::optional<Status> outcome = archive_->TakeSyncOutcome();
  if (!outcome.has_value()) return !sync_failing_;
  if (!outcome->ok()) {
    ++failed_syncs_;
    if (!sync_failing_) {
      sync_failing_ = true;
      sync_failing_since_ = last_flush_;
      failed_syncs_ = 1;
      EmitArchiveAlert("archive.sync_failed", Severity::kCritical,
                       "The archive's data cannot be synced to disk (fsync/syncfs failed): "
                       "lines are written but a power cut may lose them; konseki goes on reading",
                       {{"error", outcome->message()}});
      Log(LogLevel::kError, "worker %zu: archive sync failed: %s", options_.index,
          outcome->ToString().c_str());
    }
    return false;
  }
  if (sync_failing_) {
    sync_failing_ = false;
    const double secs = std::chrono::duration<double>(last_flush_ - sync_failing_since_).count();
    EmitArchiveAlert(
        "archive.sync_resumed", Severity::kInfo, "The archive syncs to disk again",
        {{"failing_secs", std::to_string(secs)}, {"failed_syncs", std::to_string(failed_syncs_)}});
    Log(LogLevel::kInfo, "worker %zu: archive syncs again after %.1f s", options_.index, secs);
  }
  return true;
}

void Worker::FlushArchive() {
  Status st = archive_ ? archive_->Flush() : Status::Ok();
  last_flush_ = deps_.clock->Now();
  // A failed sync is not a failed write: it is reported on its own and does
  // not hold senders back.
  const bool synced = archive_ ? CheckSync() : true;
  if (archive_ && archive_->TakeHostCapReached()) {
    EmitArchiveAlert("archive.max_hosts_reached", Severity::kHigh,
                     "archive.max_hosts reached: lines of new hosts go to the overflow folder "
                     "(a flood of spoofed host names, or raise archive.max_hosts)",
                     {{"folder", outputs::OverflowFolder(options_.index)}});
    Log(LogLevel::kWarning, "worker %zu: archive.max_hosts reached; new hosts go to %s/",
        options_.index, outputs::OverflowFolder(options_.index).c_str());
  }
  if (archive_) {
    for (const outputs::Archive::DivertedHost& d : archive_->TakeDiverted()) {
      EmitArchiveAlert("archive.host_unwritable", Severity::kHigh,
                       "A host's archive folder cannot be written (its owner or mode changed, "
                       "or something else took its place): its lines go to the overflow folder "
                       "(konseki search --host finds them there) until it can, retried every "
                       "minute; every other host is archived as before",
                       {{"folder_host", d.host}, {"error", d.error}, {"folder", d.folder}});
    }
  }
  if (!st.ok()) {
    archive_errors_->Inc();
    last_write_error_ = st.ToString();
    if (!blocked_) {
      blocked_ = true;
      blocked_since_ = last_flush_;
      failed_flushes_ = 0;
      deps_.queues->SetBlocked(options_.index, true);
      EmitArchiveAlert("archive.write_failed", Severity::kCritical,
                       "The archive cannot be written: konseki stops reading TCP and RELP senders, "
                       "withholds RELP acknowledgements and drops UDP (counted) until it can write",
                       {{"error", st.message()}});
      Log(LogLevel::kError, "worker %zu: archive blocked: %s", options_.index,
          st.ToString().c_str());
    }
    ++failed_flushes_;
    return;
  }
  dirty_ = false;
  if (blocked_) {
    blocked_ = false;
    deps_.queues->SetBlocked(options_.index, false);
    // An admin paged by write_failed needs to know it is over (and need not
    // go and check): say so, with how long senders were held back.
    const double secs = std::chrono::duration<double>(last_flush_ - blocked_since_).count();
    EmitArchiveAlert(
        "archive.write_resumed", Severity::kInfo,
        "The archive can be written again: konseki reads senders and acknowledges RELP again",
        {{"blocked_secs", std::to_string(secs)},
         {"failed_flushes", std::to_string(failed_flushes_)}});
    Log(LogLevel::kInfo, "worker %zu: archive writable again after %.1f s", options_.index, secs);
  }
  // With archive.sync: batch an acknowledgement promises the line is on
  // disk: hold acks while the fsync fails (they go out after the next
  // successful one).
  if (options_.flush_each_batch && !synced) return;
  ReleaseAcks();
}

void Worker::ReleaseAcks() {
  // Hand the cookies over per sink, in order (usually one sink per batch).
  size_t i = 0;
  while (i < pending_acks_.size()) {
    AckSink* sink = pending_acks_[i].first;
    ack_scratch_.clear();
    while (i < pending_acks_.size() && pending_acks_[i].first == sink) {
      ack_scratch_.push_back(pending_acks_[i].second);
      ++i;
    }
    if (sink != nullptr) sink->Acknowledge(ack_scratch_.data(), ack_scratch_.size());
  }
  pending_acks_.clear();
}

void Worker::Housekeeping(bool idle) {
  TimePoint now = deps_.clock->Now();
  if (reopen_.exchange(false, std::memory_order_acq_rel) && archive_) archive_->Reopen();
  // Flush when idle or at least every flush_interval, so a line never waits
  // in a buffer for long.
  if ((idle && dirty_) || now - last_flush_ >= options_.flush_interval) FlushArchive();
  if (heartbeat_) heartbeat_->Tick();
  CorrelationHousekeeping(now);
}

}  // namespace konseki::app
