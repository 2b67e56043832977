// The worker path of the pipeline, assembled as app/server.cc assembles it
// for one worker: Parser → Router (as a listener thread calls it) →
// BatchQueues → Worker with its Archive, the bundled rule packs, the host
// correlator and the heartbeat tracker. For tests and benchmarks that count
// what the path costs per message (allocations, time) with realistic lines;
// alerts go to a counting sink, so what is counted ends at the worker.
//
//   WorkerPathOptions options;
//   options.dir = tmp.path();
//   auto path = WorkerPath::Create(options);
//   path.value()->Push(lines, "192.0.2.1", 64);
//   path.value()->WaitProcessed(lines.size());
#ifndef KONSEKI_TESTS_TESTING_WORKER_PATH_H_
#define KONSEKI_TESTS_TESTING_WORKER_PATH_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "app/batch_queues.h"
#include "app/host_gap_sink.h"
#include "app/router.h"
#include "app/rule_slot.h"
#include "app/worker.h"
#include "common/alert.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"
#include "receiver/parser.h"

namespace konseki::testing {

struct WorkerPathOptions {
  // Required: a private folder for the archive and the state files.
  std::string dir;
  // Rule packs; empty: the bundled ones (all of them).
  std::string rules_dir;
  // Host correlations and the heartbeat tracker, as with the default config.
  bool correlation = true;
  bool heartbeat = true;
  // The worker runs to completion (app/worker.h): Push processes the batches
  // it closes on the calling thread while the worker is idle, as the server
  // does with one worker on one CPU.
  bool run_to_completion = false;
  // The worker starts only at StartWorker(): what is pushed before waits in
  // its queue (up to the queue limit, 8 MiB), so a test can fill the batch
  // pool with as many batches as that push needed.
  bool start_paused = false;
};

// Counts alerts; Emit does not allocate. Thread-safe.
class CountingAlertSink final : public AlertSink {
 public:
  void Emit(const Alert&) override { count_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> count_{0};
};

// Push and WaitProcessed from one thread (the "listener"); the worker runs on
// its own (with run_to_completion, mostly on the listener's). Not copyable. Stops the worker on
// destruction.
class WorkerPath {
 public:
  static StatusOr<std::unique_ptr<WorkerPath>> Create(const WorkerPathOptions& options);
  ~WorkerPath();
  WorkerPath(const WorkerPath&) = delete;
  WorkerPath& operator=(const WorkerPath&) = delete;

  // Pushes every line as one frame from `sender`, flushing the Router after
  // each `per_read` frames, which share one receive time (what a TCP read
  // does). Waits for queue room as the TCP listener does.
  void Push(const std::vector<std::string>& lines, std::string_view sender, size_t per_read);
  // Waits until the worker has processed `total` messages since Create;
  // false after `timeout`.
  bool WaitProcessed(uint64_t total,
                     std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  uint64_t processed() const { return processed_->Value(); }
  // Starts a worker created with start_paused (once).
  void StartWorker();
  uint64_t alerts() const { return alerts_.count(); }
  MetricsRegistry& metrics() { return metrics_; }

 private:
  WorkerPath() = default;
  Status Init(const WorkerPathOptions& options);

  MetricsRegistry metrics_;
  SystemClock clock_;
  receiver::Parser parser_;
  CountingAlertSink alerts_;
  app::RuleSlot rules_;
  std::unique_ptr<app::BatchQueues> queues_;
  std::unique_ptr<app::Router> router_;
  std::unique_ptr<app::Worker> worker_;
  Counter* processed_ = nullptr;
  bool started_ = false;
};

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_TESTING_WORKER_PATH_H_
