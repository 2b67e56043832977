#include "app/worker.h"

#include <cstdio>

#include "common/message.h"

namespace konseki::app {
namespace {

constexpr const char* kIssueNames[] = {"none",          "empty",     "bad_pri",
                                       "bad_timestamp", "no_header", "bad_structured_data",
                                       "invalid_utf8"};

}  // namespace

Worker::Worker(const WorkerOptions& options, const WorkerDeps& deps,
               std::unique_ptr<outputs::Archive> archive,
               std::unique_ptr<matchers::HeartbeatTracker> heartbeat)
    : options_(options),
      deps_(deps),
      archive_(std::move(archive)),
      heartbeat_(std::move(heartbeat)) {
  std::string w = std::to_string(options_.index);
  processed_ = deps_.metrics->GetCounter("konseki_processed_messages_total",
                                         "Messages parsed, archived and analysed, per worker.",
                                         {{"worker", w}});
  archive_errors_ = deps_.metrics->GetCounter(
      "konseki_worker_archive_errors_total",
      "Archive appends or flushes that reported an error (data kept and retried).",
      {{"worker", w}});
  truncated_seen_ = deps_.metrics->GetCounter(
      "konseki_processed_truncated_messages_total",
      "Truncated messages (longer than max_message_bytes) that reached a worker.");
  for (size_t i = 0; i < std::size(kIssueNames); ++i) {
    parse_issue_counters_.push_back(
        i == 0 ? nullptr
               : deps_.metrics->GetCounter("konseki_parse_errors_total",
                                           "Messages with a parse problem, by reason (the "
                                           "message is still archived and analysed).",
                                           {{"reason", kIssueNames[i]}}));
  }
}

Worker::~Worker() {
  RequestStop();
  Join();
}

void Worker::Start() {
  last_flush_ = deps_.clock->Now();
  thread_ = std::thread([this] { Run(); });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
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
    std::fprintf(stderr, "konseki: worker %zu: %s\n", options_.index,
                 scratch.status().ToString().c_str());
    return;
  }
  rules_ = std::move(rules);
  scratch_ = std::move(scratch).value();
}

void Worker::Run() {
  const size_t w = options_.index;
  for (;;) {
    Batch* batch = deps_.queues->Dequeue(w, std::chrono::milliseconds(100));
    if (batch != nullptr) {
      Process(*batch);
      deps_.queues->Release(batch);
      Housekeeping(deps_.queues->Depth(w) == 0);
      continue;
    }
    if (stop_.load(std::memory_order_acquire) && deps_.queues->Depth(w) == 0) break;
    Housekeeping(true);
  }
  if (archive_) {
    if (!archive_->Flush().ok()) archive_errors_->Inc();
    if (options_.sync_at_stop && !archive_->Sync().ok()) archive_errors_->Inc();
  }
  if (heartbeat_) {
    if (Status s = heartbeat_->SaveState(); !s.ok()) {
      std::fprintf(stderr, "konseki: worker %zu: %s\n", options_.index, s.ToString().c_str());
    }
  }
}

void Worker::Process(Batch& batch) {
  RefreshRules();
  Message msg;
  for (const Batch::Entry& e : batch.entries) {
    deps_.parser->Parse(batch.frame(e), e.received, &msg);
    msg.sender = batch.sender(e);
    if (msg.issue != ParseIssue::kNone) {
      parse_issue_counters_[static_cast<size_t>(msg.issue)]->Inc();
    }
    if (e.truncated) truncated_seen_->Inc();
    if (archive_ && !archive_->Append(msg).ok()) archive_errors_->Inc();

    bool stop_message = false;
    if (rules_) {
      hits_.clear();
      rules_->Match(msg, *scratch_, &hits_);
      for (const matchers::RuleHit& hit : hits_) {
        auto it = rule_counters_.find(hit.rule->id);
        if (it == rule_counters_.end()) {
          it = rule_counters_
                   .emplace(hit.rule->id,
                            deps_.metrics->GetCounter("konseki_rule_matches_total",
                                                      "Messages matched, per rule.",
                                                      {{"rule", hit.rule->id}}))
                   .first;
        }
        it->second->Inc();
        if (hit.rule->sign == "syslog.stopped") stop_message = true;
        deps_.alerts->Emit(matchers::MakeAlert(msg, hit));
      }
    }
    if (heartbeat_) {
      if (stop_message) heartbeat_->NoteStopMessage(msg);
      heartbeat_->Observe(msg);
    }
  }
  processed_->Inc(batch.entries.size());
  dirty_ = true;
  if (archive_ && options_.flush_each_batch) {
    if (!archive_->Flush().ok()) archive_errors_->Inc();
    dirty_ = false;
    last_flush_ = deps_.clock->Now();
  }
}

void Worker::Housekeeping(bool idle) {
  TimePoint now = deps_.clock->Now();
  if (reopen_.exchange(false, std::memory_order_acq_rel) && archive_) archive_->Reopen();
  // Flush when idle or at least every flush_interval; also every second while
  // nothing arrives, so data held back by a write error is retried.
  if (archive_ && ((idle && dirty_) || now - last_flush_ >= options_.flush_interval)) {
    if (!archive_->Flush().ok()) archive_errors_->Inc();
    last_flush_ = now;
    dirty_ = false;
  }
  if (heartbeat_) heartbeat_->Tick();
}

}  // namespace konseki::app
