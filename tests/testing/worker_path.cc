#include "tests/testing/worker_path.h"

#include <thread>
#include <utility>

#include "app/server.h"
#include "matchers/correlator.h"
#include "matchers/heartbeat_tracker.h"
#include "outputs/archive.h"

namespace konseki::testing {

StatusOr<std::unique_ptr<WorkerPath>> WorkerPath::Create(const WorkerPathOptions& options) {
  std::unique_ptr<WorkerPath> p(new WorkerPath());
  if (Status st = p->Init(options); !st.ok()) return st;
  return p;
}

Status WorkerPath::Init(const WorkerPathOptions& options) {
  auto loaded = app::LoadRulesAndCorrelations(options.rules_dir, matchers::RuleOverrides());
  if (!loaded.ok()) return loaded.status();
  rules_.Set(std::move(loaded->rules), std::move(loaded->correlations));
  // One worker, with the server's default queue limit.
  queues_ = std::make_unique<app::BatchQueues>(1, size_t{8} << 20, metrics_);
  router_ = std::make_unique<app::Router>(*queues_, parser_, /*drop_when_full=*/false);

  outputs::ArchiveOptions arch;
  arch.dir = options.dir + "/archive";
  auto archive = outputs::Archive::Open(arch, clock_, metrics_);
  if (!archive.ok()) return archive.status();
  std::unique_ptr<matchers::HeartbeatTracker> tracker;
  std::unique_ptr<app::HostGapSink> gaps;
  if (options.heartbeat) {
    gaps = std::make_unique<app::HostGapSink>(alerts_);
    tracker = std::make_unique<matchers::HeartbeatTracker>(matchers::HeartbeatOptions(), 0, 1,
                                                           clock_, *gaps, metrics_);
  }
  app::WorkerOptions wo;
  wo.run_to_completion = options.run_to_completion;
  std::unique_ptr<matchers::Correlator> correlator;
  if (options.correlation && rules_.correlations()) {
    wo.correlation.state_file = options.dir + "/correlation.0.state";
    auto c = matchers::Correlator::Create(*rules_.correlations(), wo.correlation, metrics_);
    if (!c.ok()) return c.status();
    correlator = std::move(c).value();
  }
  app::WorkerDeps deps{queues_.get(), &parser_, &rules_, &alerts_, &metrics_, &clock_};
  worker_ = std::make_unique<app::Worker>(wo, deps, std::move(archive).value(), std::move(tracker),
                                          std::move(gaps), std::move(correlator));
  processed_ =
      metrics_.GetCounter("konseki_processed_messages_total",
                          "Messages parsed, archived and analysed, per worker.", {{"worker", "0"}});
  if (options.run_to_completion) queues_->SetRunner(0, worker_.get());
  if (!options.start_paused) StartWorker();
  return Status::Ok();
}

void WorkerPath::StartWorker() {
  if (started_) return;
  started_ = true;
  worker_->Start();
}

WorkerPath::~WorkerPath() {
  if (router_) router_->Flush();
  if (worker_ && started_) {
    worker_->RequestStop();
    worker_->Join();
  }
}

void WorkerPath::Push(const std::vector<std::string>& lines, std::string_view sender,
                      size_t per_read) {
  Frame f;
  f.sender = sender;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i % per_read == 0) {
      router_->Flush();
      // TCP backpressure: read again only while every worker has room.
      while (!router_->HasCapacity()) std::this_thread::sleep_for(std::chrono::microseconds(100));
      f.received = clock_.Now();
    }
    f.bytes = lines[i];
    router_->Push(f);
  }
  router_->Flush();
}

bool WorkerPath::WaitProcessed(uint64_t total, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (processed() < total) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace konseki::testing
