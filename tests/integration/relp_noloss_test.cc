// THE no-loss test: a real rsyslogd forwards numbered messages with omrelp to
// konseki's relp:// listener while konseki is killed with SIGKILL several
// times mid-stream and restarted on the same port. Since konseki acknowledges
// a message only after it is in the archive, omrelp keeps and resends every
// unacknowledged one: at the end every number must be in the archive.
// Duplicates are allowed (RELP is at-least-once) and are counted.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

constexpr char kRsyslogd[] = "/usr/sbin/rsyslogd";
constexpr char kOmrelp[] = "/usr/lib/x86_64-linux-gnu/rsyslog/omrelp.so";
constexpr char kHost[] = "relp-noloss-host";

std::string KonsekiConfig(const TempDir& dir, int relp_port) {
  return "listen: [relp://127.0.0.1:" + std::to_string(relp_port) +
         "]\n"
         "archive: {dir: " +
         dir.File("archive") +
         "}\n"
         "alerts: {stdout: false}\nmetrics: {listen: ''}\nworkers: 2\n"
         "heartbeat: {state_dir: " +
         dir.File("state") + "}\n";
}

TEST(RelpNoLossTest, EveryMessageSurvivesRepeatedSigkillOfKonseki) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram(kRsyslogd)) GTEST_SKIP() << "rsyslogd not installed (apt-get install rsyslog)";
  if (!std::filesystem::exists(kOmrelp)) {
    GTEST_SKIP() << "omrelp not installed (apt-get install rsyslog-relp)";
  }
  TempDir dir;
  const int relp_port = FreeTcpPort();
  const std::string config = KonsekiConfig(dir, relp_port);
  // Each konseki run gets its own dir for config and logs (Konseki::Start
  // looks for "ready" in its stderr file: a previous run's line must not
  // count); the archive stays in `dir`.
  std::vector<std::unique_ptr<TempDir>> run_dirs;
  run_dirs.push_back(std::make_unique<TempDir>());
  auto konseki = std::make_unique<Konseki>();
  std::string err;
  ASSERT_TRUE(konseki->Start(*run_dirs.back(), config, &err)) << err;

  const int in_tcp = FreeTcpPort();
  std::filesystem::create_directories(dir.File("rs"));
  // A big in-memory action queue, retried forever every second: rsyslog keeps
  // whatever konseki did not acknowledge and resends it after a restart.
  std::ofstream(dir.File("rsyslog.conf"))
      << RsyslogTcpToRelpConfig(dir.File("rs"), in_tcp, relp_port);
  ChildProcess rs;
  ASSERT_TRUE(
      rs.Start({kRsyslogd, "-n", "-f", dir.File("rsyslog.conf"), "-i", dir.File("rsyslog.pid")},
               dir.File("rsyslogd")));
  int fd = -1;
  ASSERT_TRUE(WaitFor([&] { return (fd = ConnectTcp(in_tcp)) >= 0; })) << rs.Stderr();

  // The feeder streams the numbers for ~2 s (chunks of 50, 5 ms apart) while
  // konseki is interrupted at 20/40/60 % (SIGKILL) and 80 % (a graceful
  // SIGTERM, which must finish promptly with a RELP sender connected).
  constexpr int kTotal = 20000;
  constexpr int kChunk = 50;
  std::atomic<int> sent{0};
  std::thread feeder([&] {
    for (int i = 0; i < kTotal; i += kChunk) {
      std::string text;
      for (int j = i; j < i + kChunk; ++j) {
        text += "<13>Nov 23 08:00:00 " + std::string(kHost) + " app[1]: seq=" + std::to_string(j) +
                " end\n";
      }
      if (send(fd, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) {
        return;
      }
      sent.store(i + kChunk);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // pacing, not waiting
    }
  });
  const std::string archive = dir.File("archive");
  int kills = 0;
  int mid_stream = 0;
  for (int k = 1; k <= 4; ++k) {
    const size_t target = static_cast<size_t>(kTotal / 5 * k);
    const bool reached =
        WaitFor([&] { return CountSeqs(archive, kHost, kTotal).distinct >= target; },
                std::chrono::seconds(20));
    if (!reached) {
      ADD_FAILURE() << "stuck at " << CountSeqs(archive, kHost, kTotal).distinct << "\n"
                    << rs.Stderr() << konseki->process().Stderr();
      break;
    }
    if (sent.load() < kTotal) ++mid_stream;
    if (k < 4) {
      konseki->process().Kill();
      ++kills;
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      const int status = konseki->process().Signal(SIGTERM);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n"
                                                                 << konseki->process().Stderr();
      EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(8));
    }
    run_dirs.push_back(std::make_unique<TempDir>());
    konseki = std::make_unique<Konseki>();
    if (!konseki->Start(*run_dirs.back(), config, &err)) {
      ADD_FAILURE() << err;
      break;
    }
  }
  feeder.join();
  ASSERT_EQ(sent.load(), kTotal);
  close(fd);

  SeqCounts c;
  const bool all = WaitFor(
      [&] {
        c = CountSeqs(archive, kHost, kTotal);
        return c.distinct == static_cast<size_t>(kTotal);
      },
      std::chrono::seconds(30));
  std::printf(
      "relp no-loss: %d messages, %d SIGKILLs + 1 SIGTERM (%d while the feeder ran), %zu distinct "
      "in the archive, %zu duplicates\n",
      kTotal, kills, mid_stream, c.distinct, c.duplicates);
  EXPECT_GE(mid_stream, 1) << "the interruptions all came after the stream: nothing was tested";
  EXPECT_EQ(kills, 3);
  if (!all) {
    std::string missing;
    int shown = 0;
    for (int i = 0; i < kTotal && shown < 20; ++i) {
      if (c.times[static_cast<size_t>(i)] == 0) {
        missing += " " + std::to_string(i);
        ++shown;
      }
    }
    ADD_FAILURE() << kTotal - static_cast<int>(c.distinct) << " messages lost, first:" << missing
                  << "\n"
                  << rs.Stderr();
  }
  const int status = konseki->process().Signal(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n"
                                                             << konseki->process().Stderr();
  rs.Signal(SIGTERM);
}

}  // namespace
}  // namespace konseki::testing
