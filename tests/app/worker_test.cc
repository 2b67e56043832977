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

class CountingAcks : public AckSink {
 public:
  void Acknowledge(const uint64_t*, size_t count) override { acked += count; }
  std::atomic<size_t> acked{0};
};

// fsync/syncfs fail on demand: root ignores chmod, so a test cannot make the
// disk refuse a sync through permissions.
class FailingSyncOps : public outputs::SyncOps {
 public:
  int Fsync(int fd) override { return fail.load() ? EIO : SyncOps::Fsync(fd); }
  int Syncfs(int fd) override { return fail.load() ? EIO : SyncOps::Syncfs(fd); }
  std::atomic<bool> fail{true};
};

class WorkerTest : public ::testing::Test {
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

  void StartWorker(outputs::ArchiveOptions arch) {
    arch.dir = (root_ / "archive").string();
    auto a = outputs::Archive::Open(arch, clock_, metrics_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    WorkerOptions wo;
    wo.flush_each_batch = arch.sync == outputs::SyncPolicy::kBatch;
    WorkerDeps deps{&queues_, &parser_, &rules_, &alerts_, &metrics_, &clock_};
    worker_ = std::make_unique<Worker>(wo, deps, std::move(a).value(), nullptr);
    worker_->Start();
  }

  void Send(int seq) {
    const std::string line = "<13>Nov 23 08:00:00 w1 app[1]: seq=" + std::to_string(seq);
    Frame f;
    f.bytes = line;
    f.sender = "192.0.2.1";
    f.received = clock_.Now();
    f.ack_cookie = static_cast<uint64_t>(seq) + 1;
    ASSERT_TRUE(router_.Push(f));
    router_.Flush();
  }

  size_t ArchivedLines() {
    size_t n = 0;
    if (!fs::exists(root_ / "archive" / "w1")) return 0;
    for (const auto& e : fs::directory_iterator(root_ / "archive" / "w1")) {
      std::ifstream in(e.path());
      for (std::string l; std::getline(in, l);) ++n;
    }
    return n;
  }

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
TEST_F(WorkerTest, FailedSyncAlertsOnceAndDoesNotStopReading) {
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

}  // namespace
}  // namespace konseki::app
