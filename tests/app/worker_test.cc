#include "app/worker.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/router.h"
#include "outputs/archive_syncer.h"
#include "tests/testing/recording_alert_sink.h"
#include "tests/testing/wait_for.h"

namespace konseki::app {
namespace {

using konseki::testing::WaitFor;

namespace fs = std::filesystem;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class CountingAcks : public AckSink {
 public:
  void Acknowledge(const uint64_t*, size_t count) override {
    acked += count;
    // Acks are released by the flush after processing, on the thread
    // that processed.
    if (std::this_thread::get_id() == caller) on_caller += count;
  }
  std::atomic<size_t> acked{0};
  std::atomic<size_t> on_caller{0};
  std::thread::id caller = std::this_thread::get_id();
};

// fsync/syncfs fail on demand: root ignores chmod, so a test cannot make the
// disk refuse a sync through permissions.
class FailingSyncOps : public outputs::SyncOps {
 public:
  int Fsync(int fd) override { return fail.load() ? EIO : SyncOps::Fsync(fd); }
  int Syncfs(int fd) override { return fail.load() ? EIO : SyncOps::Syncfs(fd); }
  std::atomic<bool> fail{true};
};

// Param: the worker runs to completion (app/worker.h), as the server runs
// one worker on one CPU; else its thread takes every batch from the queue.
class WorkerTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/worker_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    worker_.reset();
    fs::remove_all(root_);
  }

  void StartWorker(outputs::ArchiveOptions arch, WorkerOptions wo = {}) {
    arch.dir = (root_ / "archive").string();
    auto a = outputs::Archive::Open(arch, clock_, metrics_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    wo.flush_each_batch = arch.sync == outputs::SyncPolicy::kBatch;
    wo.run_to_completion = GetParam();
    WorkerDeps deps{&queues_, &parser_, &rules_, &alerts_, &metrics_, &clock_};
    worker_ = std::make_unique<Worker>(wo, deps, std::move(a).value(), nullptr);
    if (wo.run_to_completion) queues_.SetRunner(0, worker_.get());
    worker_->Start();
  }

  // One frame of host w1 (or `host`), flushed as a batch of its own.
  void Send(int seq, Router& router, const std::string& host = "w1") {
    const std::string line = "<13>Nov 23 08:00:00 " + host + " app[1]: seq=" + std::to_string(seq);
    Frame f;
    f.bytes = line;
    f.sender = "192.0.2.1";
    f.received = clock_.Now();
    // A frame someone waits an ack for is flushed with its batch (RELP).
    f.ack_cookie = acked_frames_ ? static_cast<uint64_t>(seq) + 1 : 0;
    ASSERT_TRUE(router.Push(f));
    router.Flush();
  }
  void Send(int seq) { Send(seq, router_); }

  // The archived lines of `host`, in file order.
  std::vector<std::string> Archived(const std::string& host = "w1") {
    std::vector<std::string> lines;
    if (!fs::is_directory(root_ / "archive" / host)) return lines;
    for (const auto& e : fs::directory_iterator(root_ / "archive" / host)) {
      std::ifstream in(e.path());
      for (std::string l; std::getline(in, l);) lines.push_back(l);
    }
    return lines;
  }
  size_t ArchivedLines() { return Archived().size(); }

  // The worker's counter itself: read right after a Flush, before a woken
  // worker thread could have processed the batch.
  double Processed() {
    static constexpr char kName[] = "konseki_processed_messages_total";
    if (processed_ == nullptr) processed_ = metrics_.GetCounter(kName, "", {{"worker", "0"}});
    return static_cast<double>(processed_->Value());
  }

  bool acked_frames_ = true;
  Counter* processed_ = nullptr;
  fs::path root_;
  MetricsRegistry metrics_;
  SystemClock clock_;
  BatchQueues queues_{1, 1 << 20, metrics_};
  receiver::Parser parser_;
  RuleSlot rules_;
  konseki::testing::RecordingAlertSink alerts_;
  CountingAcks acks_;
  Router router_{queues_, parser_, false, &acks_};
  std::unique_ptr<Worker> worker_;
};

// A failed fsync is not a failed write: one archive.sync_failed per episode,
// no archive.write_failed, reading goes on (the queue is not blocked). With
// archive.sync: batch, acknowledgements wait for a sync that succeeds.
TEST_P(WorkerTest, FailedSyncAlertsOnceAndDoesNotStopReading) {
  FailingSyncOps ops;
  outputs::ArchiveOptions arch;
  arch.sync = outputs::SyncPolicy::kBatch;
  arch.sync_ops = &ops;
  StartWorker(arch);
  for (int i = 0; i < 5; ++i) {
    Send(i);
    ASSERT_TRUE(WaitFor([&] { return ArchivedLines() == static_cast<size_t>(i + 1); }));
  }
  EXPECT_EQ(alerts_.Count("archive.sync_failed"), 1u);
  EXPECT_EQ(alerts_.Count("archive.write_failed"), 0u);
  EXPECT_TRUE(queues_.HasRoom(0));  // not blocked: TCP and RELP keep reading
  EXPECT_EQ(acks_.acked.load(), 0u);
  EXPECT_GE(metrics_.ValueOf("konseki_archive_sync_errors_total"), 5);

  ops.fail = false;
  Send(5);
  ASSERT_TRUE(WaitFor([&] { return acks_.acked.load() == 6; }));
  EXPECT_EQ(alerts_.Count("archive.sync_resumed"), 1u);
  EXPECT_EQ(alerts_.Count("archive.sync_failed"), 1u);
  EXPECT_EQ(alerts_.Count("archive.write_failed"), 0u);
}

// Run to completion: the thread that closes the batch processes it, so it is
// done (archived in the buffers, counted) when Flush returns.
TEST_P(WorkerTest, RunToCompletionProcessesOnTheClosingThread) {
  WorkerOptions wo;
  if (GetParam()) {
    // The worker's thread sleeps (it would take the batches it finds the
    // runner busy with, now and then). The queue's worker notices the stop
    // only at these.
    wo.idle_flush_delay = std::chrono::hours(1);
    wo.idle_tick = std::chrono::hours(1);
  }
  StartWorker(outputs::ArchiveOptions(), wo);
  constexpr int kBatches = 200;
  int done_on_return = 0;
  for (int i = 0; i < kBatches; ++i) {
    Send(i);  // acked: flushed and acknowledged by whoever processes it
    if (Processed() == i + 1) ++done_on_return;
    ASSERT_TRUE(WaitFor([&] { return acks_.acked.load() == static_cast<size_t>(i + 1); }));
  }
  if (GetParam()) {
    // Only a batch that met the worker's thread awake (at its start) went
    // through the queue.
    EXPECT_GE(acks_.on_caller.load(), static_cast<size_t>(kBatches) * 9 / 10);
    EXPECT_GE(done_on_return, kBatches * 9 / 10);
  } else {
    EXPECT_EQ(acks_.on_caller.load(), 0u);
  }
}

// A line of a stream that stops reaches its file idle_flush_delay later, and
// not before: while the stream goes on it waits in the buffer (one write per
// pause, not per batch). The flush interval is an hour, and with run to
// completion the idle tick too: then only the timer each batch pushes back
// can flush.
TEST_P(WorkerTest, IdleFlushComesAfterTheStreamStops) {
  WorkerOptions wo;
  wo.flush_interval = std::chrono::hours(1);
  // (The queue's worker also notices RequestStop only at its idle tick.)
  if (GetParam()) wo.idle_tick = std::chrono::hours(1);
  wo.idle_flush_delay = std::chrono::seconds(1);
  StartWorker(outputs::ArchiveOptions(), wo);
  acked_frames_ = false;
  // A first line and its idle flush: then the worker's thread sleeps with
  // nothing to flush (until the idle tick), and the stream below is taken
  // by the sending thread alone.
  Send(0);
  ASSERT_TRUE(WaitFor([&] { return ArchivedLines() == 1; }));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 1; i <= 20; ++i) {
    Send(i);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Checked only if the stream took less than the delay (a stalled machine
  // may flush in a pause the test did not mean).
  if (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(800)) {
    EXPECT_EQ(ArchivedLines(), 1u) << "flushed while the stream went on";
  }
  ASSERT_TRUE(WaitFor([&] { return ArchivedLines() == 21; }));
  const auto done = std::chrono::steady_clock::now() - start;
  EXPECT_GE(done, std::chrono::seconds(1));
}

// The archive cannot be written: the worker blocks, takes no batch (run to
// completion declines too, so TCP stops reading instead of the lines piling
// up in the archive's buffers), acknowledges nothing; once it can write
// again every line lands, in order, and is acknowledged.
TEST_P(WorkerTest, BlockedArchiveQueuesBatchesAndKeepsTheirOrder) {
  StartWorker(outputs::ArchiveOptions());
  // Neither the host's folder nor the overflow folder (where one host's
  // unwritable folder sends its lines) can be created: files hold their names.
  { std::ofstream(root_ / "archive" / "w1") << "in the way\n"; }
  { std::ofstream(root_ / "archive" / outputs::OverflowFolder(0)) << "in the way\n"; }
  Router relp{queues_, parser_, false, &acks_};
  Send(0, relp);
  ASSERT_TRUE(WaitFor([&] { return !queues_.HasRoom(0); }));
  // The queue's worker blocks before it is Done with the batch that failed.
  ASSERT_TRUE(WaitFor([&] { return queues_.InFlight(0) == 0; }));
  EXPECT_FALSE(relp.HasCapacity());
  for (int i = 1; i < 4; ++i) Send(i, relp);
  EXPECT_EQ(queues_.InFlight(0), 3u) << "processed while blocked";
  // Nor does the worker's thread take them (it retries every 200 ms).
  EXPECT_FALSE(WaitFor([&] { return queues_.InFlight(0) < 3; }, std::chrono::milliseconds(500)))
      << "taken while blocked";
  EXPECT_EQ(acks_.acked.load(), 0u);
  EXPECT_EQ(alerts_.Count("archive.write_failed"), 1u);

  fs::remove(root_ / "archive" / "w1");
  fs::remove(root_ / "archive" / outputs::OverflowFolder(0));
  ASSERT_TRUE(WaitFor([&] { return ArchivedLines() == 4 && acks_.acked.load() == 4; }));
  EXPECT_TRUE(queues_.HasRoom(0));
  for (int i = 4; i < 8; ++i) Send(i, relp);
  ASSERT_TRUE(WaitFor([&] { return acks_.acked.load() == 8; }));
  const std::vector<std::string> lines = Archived();
  ASSERT_EQ(lines.size(), 8u);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_TRUE(EndsWith(lines[i], "seq=" + std::to_string(i))) << lines[i];
  }
}

// Two listener threads feed the one worker at once: each finds it busy now
// and then (the other runs, the worker's thread flushes) and queues; a
// batch it closes later must still not overtake one it queued.
TEST_P(WorkerTest, TwoListenersKeepEachHostsOrder) {
  WorkerOptions wo;
  wo.idle_flush_delay = std::chrono::microseconds(200);  // the thread runs often
  StartWorker(outputs::ArchiveOptions(), wo);
  constexpr int kLines = 10000;
  auto listener = [&](const std::string& host) {
    Router r{queues_, parser_, false};
    for (int i = 0; i < kLines; ++i) Send(i, r, host);
  };
  std::thread a(listener, "ha");
  std::thread b(listener, "hb");
  a.join();
  b.join();
  ASSERT_TRUE(WaitFor([&] { return Processed() == 2 * kLines; }));
  worker_->RequestStop();
  worker_->Join();
  for (const std::string host : {"ha", "hb"}) {
    const std::vector<std::string> lines = Archived(host);
    ASSERT_EQ(lines.size(), static_cast<size_t>(kLines)) << host;
    for (int i = 0; i < kLines; ++i) {
      ASSERT_TRUE(EndsWith(lines[i], "seq=" + std::to_string(i)))
          << host << " line " << i << ": " << lines[i];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Handoff, WorkerTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "RunToCompletion" : "Queue";
                         });

}  // namespace
}  // namespace konseki::app
