// A worker thread: takes batches for the hosts it owns, rebuilds each
// frame's Message from the parse the Router carried in the batch, writes it
// to the archive, runs the rules, the host-scoped correlations and the
// detectors, hands the hits fleet correlations take to the fleet thread, and
// alerts to the (thread-safe) alert sink.
#ifndef KONSEKI_APP_WORKER_H_
#define KONSEKI_APP_WORKER_H_

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "app/batch_queues.h"
#include "app/fleet_correlator.h"
#include "app/host_gap_sink.h"
#include "app/rule_slot.h"
#include "app/truncation_watch.h"
#include "common/alert.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/host_key.h"
#include "common/metrics.h"
#include "matchers/alert_hold.h"
#include "matchers/alert_pending.h"
#include "matchers/correlator.h"
#include "matchers/field_carry.h"
#include "matchers/heartbeat_tracker.h"
#include "matchers/rule_set.h"
#include "outputs/archive.h"
#include "receiver/parser.h"

namespace konseki::app {

struct WorkerOptions {
  size_t index = 0;
  // Flush (and so, with archive.sync: batch, fsync) after every batch.
  bool flush_each_batch = false;
  // fsync the archive at shutdown (archive.sync is interval or batch).
  bool sync_at_stop = true;
  // Longest time a message waits in the archive's buffers while busy.
  Duration flush_interval = std::chrono::seconds(1);
  // When the queue runs empty the worker waits this long (real time) for
  // the next batch before it flushes: a stream that keeps coming is
  // written in full buffers (one write(2) per host per buffer_bytes, not
  // one per batch), and a line of a stream that stopped reaches its file
  // this long after the worker took it.
  std::chrono::microseconds idle_flush_delay{2000};
  // With nothing to flush, an idle worker still ticks the heartbeat tracker
  // and the correlator this often (real time). Without run_to_completion
  // also how soon an idle worker notices RequestStop and RequestReopen.
  std::chrono::microseconds idle_tick{100'000};
  // Run to completion: the worker is the BatchRunner of its queue
  // (BatchQueues::SetRunner, by the caller), so the listener thread that
  // closes a batch processes it while the worker is idle, with no hand-off
  // and no wake-up of the worker's thread. That thread then sleeps on a
  // timer each run pushes back (idle flush, idle housekeeping) and wakes
  // for queued batches (the runner was busy), stop and reopen. For one
  // worker on one CPU, where the hand-off was a context switch each way
  // per batch (bench/RESULTS.md, issue 17).
  bool run_to_completion = false;
  // After RequestStop, how long a worker whose archive cannot be written
  // keeps retrying before it saves what it holds to the spool
  // (Archive::Spool, archived at the next start). Config stop_timeout_secs
  // (applied after the listeners' own drain, which has the same bound).
  Duration stop_timeout = std::chrono::seconds(5);
  // Options of the host correlator (its state file, caps, config keys), to
  // rebuild it at reload.
  matchers::CorrelatorOptions correlation;
  // Where the alerts still waiting for an answer (pending_secs) are kept
  // across a crash (empty: not kept); read at start, with `pending_extra`
  // (files of workers a smaller worker count no longer has), which are then
  // removed.
  std::string pending_file;
  std::vector<std::string> pending_extra;
  // konseki's own last downtime: from the last save of the heartbeat state
  // before it stopped (HeartbeatTracker::previous_save) to this start; the
  // epoch: not known (a first run, no heartbeat). A rule hit with
  // own_downtime_severity on a line whose own stamp falls in it, give or
  // take own_down_margin (the sender's and the log host's clocks, the
  // listeners opening after the start), is raised at that severity.
  TimePoint own_down_from{};
  TimePoint own_down_until{};
  Duration own_down_margin = std::chrono::seconds(60);
};

// Everything a worker uses but does not own. All must outlive the worker.
struct WorkerDeps {
  BatchQueues* queues;
  // Parses only frames the Router could not carry a parse for.
  const receiver::Parser* parser;
  const RuleSlot* rules;
  AlertSink* alerts;  // thread-safe
  MetricsRegistry* metrics;
  const Clock* clock;
  // The fleet correlation thread; nullptr when no fleet correlation runs.
  FleetCorrelator* fleet = nullptr;
};

// Thread-safety: Start, RequestStop, Join and the destructor from one
// control thread; RequestReopen from any thread; TryRun and Wake
// (BatchRunner) from any thread while the worker runs. All processing
// state is guarded by one mutex, which the worker's thread holds except
// while it waits; with run_to_completion a listener thread takes it (never
// waiting for it) to process a batch.
class Worker final : public BatchRunner {
 public:
  // Takes ownership of the archive, the tracker (nullptr = heartbeat off),
  // the sink the tracker emits to (nullptr with no tracker) and the
  // correlator of the host-scoped correlations (nullptr = correlation off;
  // built and loaded by the caller with the slot's current correlations).
  Worker(const WorkerOptions& options, const WorkerDeps& deps,
         std::unique_ptr<outputs::Archive> archive,
         std::unique_ptr<matchers::HeartbeatTracker> heartbeat,
         std::unique_ptr<HostGapSink> heartbeat_sink = nullptr,
         std::unique_ptr<matchers::Correlator> correlator = nullptr);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void Start();
  // Asks the thread to finish: it drains its queue first. Join waits.
  void RequestStop();
  void Join();
  // After Join: messages neither archived nor spooled (the archive could not
  // be written by the stop deadline and neither could the spool). The
  // process should exit non-zero; the worker logged how many and why.
  uint64_t lost_at_stop() const { return lost_at_stop_; }
  // Asks the thread to reopen its archive files (SIGHUP, logrotate).
  void RequestReopen();

  // BatchRunner (run_to_completion only; BatchQueues calls them).
  bool TryRun(Batch& batch) override;
  void Wake() override;

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  void Run();
  // The next batch for this worker, or nullptr once `wait` passed since the
  // last batch or idle housekeeping (last_active_), or stop was asked.
  // Called with lock held; releases it while waiting.
  Batch* NextBatch(std::unique_lock<std::mutex>& lock);
  // How long after last_active_ the worker does its idle housekeeping:
  // idle_flush_delay when lines wait in the archive's buffers, else
  // idle_tick.
  std::chrono::microseconds IdleWait() const;
  // run_to_completion: makes the timer fire at `when` (now if past).
  void ArmTimer(SteadyTime when);
  void Process(Batch& batch);
  void Housekeeping(bool idle);
  // Flushes the archive; on success releases pending acks and unblocks, on
  // failure blocks this worker. Raises archive.write_failed (critical) when
  // an episode starts and archive.write_resumed (info) when it ends.
  void FlushArchive();
  // Takes the archive's sync outcome: raises archive.sync_failed (critical)
  // when a sync fails after a success (or at the first failure) and
  // archive.sync_resumed (info) at the next success. Never blocks reading:
  // the data was written, only its durability is unconfirmed. Returns false
  // while syncs fail.
  bool CheckSync();
  // A message cut at max_message_bytes: counted per sender, and the
  // konseki.message_truncated alert (app/truncation_watch.h).
  // cause: why the listener cut it (common/frame.h); each cause has its own
  // watch, so a stalled sender's alert does not hold back a padded line's.
  void NoteTruncated(const Message& msg, TruncationCause cause);
  void EmitArchiveAlert(const char* sign, Severity severity, const std::string& title,
                        std::vector<std::pair<std::string, std::string>> fields);
  void ReleaseAcks();
  // At the end of Run: takes what is still queued into the archive, writes
  // it out, and if that still fails saves it to the spool.
  void StopArchive();
  void RefreshRules();
  // A new rule generation: a new correlator for its correlations, with the
  // state of the unchanged ones.
  void RefreshCorrelator();
  // Host hits of one message into the correlators: fills
  // correlation_alerts_ and, when there are hits, superseded_ (after the
  // rules). host is msg.host()'s key; same_origin is the batch entry's.
  void Correlate(const Message& msg, const HostKey& host, bool same_origin);
  // The rule alerts of the message's hits (not ignored, not input-only, not
  // superseded by a correlation's alert, not held by the rule's quiet_secs),
  // then its correlation alerts.
  void EmitAlerts(const Message& msg);
  // The rule's own_downtime_severity when msg's own stamp falls within
  // konseki's own last downtime (WorkerOptions::own_down_from), else none.
  std::optional<Severity> OwnDowntimeSeverity(const Message& msg, const matchers::Rule& rule) const;
  // Lowers a to `severity` and says konseki itself was down then.
  void MarkOwnDowntime(Severity severity, Alert* a) const;
  void CorrelationHousekeeping(TimePoint now);
  // What a line's hits tell the heartbeat (bits of RunRules' result).
  static constexpr unsigned kStopLine = 1;      // a rule with heartbeat_stop
  static constexpr unsigned kShutdownLine = 2;  // a rule with heartbeat_shutdown
  static constexpr unsigned kBootLine = 4;      // a rule with heartbeat_boot
  static constexpr unsigned kSuspendLine = 8;   // a rule with heartbeat_suspend
  // The rules on one message: per-rule counters, correlation, alerts.
  // Returns kStopLine / kShutdownLine bits.
  unsigned RunRules(const Message& msg, const HostKey& host, bool same_origin);
  // A repeat notice (receiver::ReadRepeatNotice) from `host`: when the
  // host's line before it (`previous`, from last_lines_) is the line
  // hit_lines_ kept, that line runs the rules again as `count` lines
  // (Message::repeats), stamped as the notice. `line` is the notice's number.
  void ReplayRepeated(const Message& notice, const HostKey& host, uint64_t previous, uint64_t line,
                      uint32_t count, std::string_view quoted);
  // konseki_alerts_ignored_total{rule}: matches rules.ignore silenced;
  // konseki_alerts_superseded_total{rule}: rule alerts a correlation's
  // alert took the place of; konseki_alerts_held_total{rule}: rule alerts
  // held by quiet_secs.
  Counter* RuleCounter(std::unordered_map<std::string, Counter*>* counters, const char* name,
                       const char* help, const std::string& rule);

  WorkerOptions options_;
  WorkerDeps deps_;
  std::unique_ptr<outputs::Archive> archive_;
  std::unique_ptr<HostGapSink> heartbeat_sink_;  // outlives heartbeat_ (declared first)
  std::unique_ptr<matchers::HeartbeatTracker> heartbeat_;

  uint64_t rules_generation_ = ~uint64_t{0};
  std::shared_ptr<const matchers::RuleSet> rules_;
  std::unique_ptr<matchers::RuleSet::Scratch> scratch_;
  std::vector<matchers::RuleHit> hits_;
  std::unordered_map<std::string, Counter*> rule_counters_;
  std::unordered_map<std::string, Counter*> ignored_counters_;
  std::unordered_map<std::string, Counter*> superseded_counters_;
  std::unordered_map<std::string, Counter*> held_counters_;
  std::vector<bool> superseded_;  // per hits_ entry
  matchers::AlertHold hold_;      // rules' quiet_secs
  matchers::FieldCarry carry_;    // rules' remember / recall
  uint64_t carry_evicted_ = 0;    // carry_.evicted() counted
  Counter* carry_evictions_;
  matchers::PendingAlerts pending_;                 // rules' pending_secs
  matchers::PendingAlerts::Decisions pending_out_;  // answered or expired
  // options_.pending_file: pending_'s changes() when last written, and when.
  uint64_t pending_saved_changes_ = 0;
  TimePoint pending_saved_at_;
  void LoadPending();
  // Writes pending_file (at most once a second; removed when nothing waits).
  void SavePending(TimePoint now, bool now_or_never);
  std::unordered_map<std::string, Counter*> answered_counters_;
  // Raises pending_out_'s alerts (counting the answered ones) and clears it.
  void EmitPending();
  // Emits a rule's or correlation's alert; a high or critical one is also
  // noted by the heartbeat (HeartbeatTracker::NoteAlert).
  void Raise(const Alert& a);

  std::unique_ptr<matchers::Correlator> correlator_;
  matchers::InputFilter fleet_inputs_;
  std::vector<Alert> correlation_alerts_;
  std::vector<Alert> due_alerts_;  // the correlator's TakeDue, per housekeeping
  uint64_t correlator_generation_ = 0;
  // The correlator's ObserveHost was given the host and sender of the
  // batch's previous entry, and observing them again would change nothing:
  // no hit since. Most lines of a batch are one host's; the lookup cost ~60
  // instructions each, and comparing host and sender to tell ~40 (the
  // Router compares once for everyone: Batch::Entry::same_origin).
  bool observed_ = false;
  uint64_t message_seq_ = 0;
  // The worker whose overflow folder the archive wrote the current line to
  // (options_.index), or -1: its host's own folder (or no archive).
  int32_t line_overflow_ = -1;
  // For repeat notices ("last message repeated 5 times": sysklogd, BSD
  // syslogd, syslog-ng's suppress()), which name the line they repeat only
  // by coming next from its host. line_seq_ numbers the lines this worker
  // ran the rules on (from 1). last_lines_: each host's last line number,
  // one slot per host hash (a slot another host took since reads as
  // unknown, and nothing is replayed). hit_lines_: each host's last line
  // with hits, kept whole (copied only for lines with hits) to be parsed and
  // matched again. Fixed sizes: 16 KiB and 256 lines' bytes per worker.
  struct LastLine {
    uint32_t hash = 0;
    uint64_t line = 0;  // 0: none
  };
  struct HitLine {
    uint32_t hash = 0;
    uint64_t line = 0;
    std::string raw;
    std::string sender;
  };
  static constexpr size_t kLastLineSlots = 1024;
  static constexpr size_t kHitLineSlots = 256;
  std::vector<LastLine> last_lines_;
  std::vector<HitLine> hit_lines_;
  uint64_t line_seq_ = 0;
  Message replayed_;
  TimePoint last_correlation_tick_;

  Counter* processed_;
  Counter* archive_errors_;
  // Indexed by TruncationCause.
  std::array<Counter*, kTruncationCauses> truncated_seen_;
  std::array<Counter*, kTruncationCauses> truncated_senders_;
  std::array<TruncationWatch, kTruncationCauses> truncation_;
  std::vector<Counter*> parse_issue_counters_;

  TimePoint last_flush_;
  bool dirty_ = false;           // appended since the last flush
  bool blocked_ = false;         // the last flush failed: take no batches
  TimePoint blocked_since_;      // first failed flush of the current episode
  uint64_t failed_flushes_ = 0;  // in the current episode
  bool sync_failing_ = false;    // the last sync failed
  uint64_t failed_syncs_ = 0;    // in the current sync episode
  TimePoint sync_failing_since_;
  // Acks waiting for the next successful flush, in arrival order.
  std::vector<std::pair<AckSink*, uint64_t>> pending_acks_;
  std::vector<uint64_t> ack_scratch_;

  std::string last_write_error_;  // of the last failed flush
  uint64_t lost_at_stop_ = 0;

  std::atomic<bool> stop_{false};
  std::atomic<bool> reopen_{false};
  std::thread thread_;

  // Guards everything above but options_, deps_ and the atomics: whoever
  // processes (the worker's thread, or a listener thread in TryRun) holds
  // it.
  std::mutex mu_;
  bool running_ = false;    // the thread runs and takes batches (guarded by mu_)
  SteadyTime last_active_;  // the last batch or idle housekeeping (guarded by mu_)
  // run_to_completion: the worker's thread sleeps on this timerfd
  // (CLOCK_MONOTONIC, absolute): TryRun pushes it back after each batch,
  // Wake and the requests make it fire now. -1 otherwise.
  int timer_fd_ = -1;
  // run_to_completion: an eventfd Wake and the requests write, polled with
  // timer_fd_. -1 otherwise.
  int wake_fd_ = -1;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_WORKER_H_
