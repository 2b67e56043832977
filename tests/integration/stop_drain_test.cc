// A stop must not lose what was sent (issue 10 item 6): senders write a lot
// over several TCP connections and close; konseki is SIGTERMed right after.
// Everything they sent is in the archive. Before the fix the stop read at most
// 16 x 64 KiB per connection and dropped the rest of the kernel's buffers.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

TEST(StopDrainTest, SigtermRightAfterSendersCloseArchivesEverythingTheySent) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen: ['tcp://127.0.0.1:0']\narchive: {dir: " + dir.File("archive") +
                          "}\nalerts: {stdout: false}\nmetrics: {listen: ''}\nworkers: 2\n"
                          "heartbeat: {state_dir: " +
                          dir.File("state") + "}\n",
                      &err))
      << err;
  const int kConns = 4;
  const int kPer = 50000;  // 200,000 lines, ~2.8 MB per connection
  std::atomic<int> sent{0};
  std::vector<std::thread> senders;
  for (int c = 0; c < kConns; ++c) {
    senders.emplace_back([&, c] {
      const std::string host = "drain" + std::to_string(c);
      std::string wire;
      wire.reserve(kPer * 64);
      for (int i = 0; i < kPer; ++i) {
        wire += "<13>Dec  1 12:00:00 " + host + " app: seq=" + std::to_string(i) + " end\n";
      }
      const int fd = ConnectTcp(k.Port("tcp"));
      if (fd >= 0 && SendAll(fd, wire)) sent += kPer;
      if (fd >= 0) close(fd);
    });
  }
  for (std::thread& t : senders) t.join();
  // Written into the kernel and closed: now stop, before konseki read it all.
  const int status = k.process().Signal(SIGTERM, std::chrono::seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << status << k.process().Stderr();
  EXPECT_EQ(WEXITSTATUS(status), 0) << k.process().Stderr();
  ASSERT_EQ(sent.load(), kConns * kPer);
  size_t archived = 0;
  for (int c = 0; c < kConns; ++c) {
    const SeqCounts counts = CountSeqs(dir.File("archive"), "drain" + std::to_string(c), kPer);
    EXPECT_EQ(counts.distinct, static_cast<size_t>(kPer)) << "drain" << c;
    EXPECT_EQ(counts.duplicates, 0u) << "drain" << c;
    archived += counts.distinct;
  }
  std::printf("sent %d lines, archived %zu, lost %zu\n", kConns * kPer, archived,
              static_cast<size_t>(kConns * kPer) - archived);
}

}  // namespace
}  // namespace konseki::testing
