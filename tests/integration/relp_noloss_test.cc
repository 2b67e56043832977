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
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

constexpr char kRsyslogd[] = "/usr/sbin/rsyslogd";
constexpr char kOmrelp[] = "/usr/lib/x86_64-linux-gnu/rsyslog/omrelp.so";
constexpr char kHost[] = "relp-noloss-host";

int FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// How often each sequence number is in the archive.
struct SeqCounts {
  std::vector<int> times;
  size_t distinct = 0;
  size_t duplicates = 0;
};

SeqCounts CountSeqs(const std::string& archive, int total) {
  SeqCounts c;
  c.times.assign(static_cast<size_t>(total), 0);
  for (const std::string& line : ArchiveLines(archive, kHost)) {
    size_t p = line.find(" seq=");
    if (p == std::string::npos) continue;
    int n = std::atoi(line.c_str() + p + 5);
    if (n < 0 || n >= total) continue;
    if (c.times[static_cast<size_t>(n)]++ == 0) {
      ++c.distinct;
    } else {
      ++c.duplicates;
    }
  }
  return c;
}

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
  auto konseki = std::make_unique<Konseki>();
  std::string err;
  ASSERT_TRUE(konseki->Start(dir, config, &err)) << err;

  const int in_tcp = FreeTcpPort();
  std::filesystem::create_directories(dir.File("rs"));
  // A big in-memory action queue, retried forever every second: rsyslog keeps
  // whatever konseki did not acknowledge and resends it after a restart.
  std::ofstream(dir.File("rsyslog.conf"))
      << "global(workDirectory=\"" << dir.File("rs") << "\")\n"
      << "module(load=\"imtcp\")\nmodule(load=\"omrelp\")\n"
      << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << in_tcp << "\" ruleset=\"fwd\")\n"
      << "ruleset(name=\"fwd\") { action(type=\"omrelp\" target=\"127.0.0.1\" port=\"" << relp_port
      << "\" timeout=\"5\" conn.timeout=\"2\" queue.type=\"LinkedList\" queue.size=\"200000\" "
         "action.resumeRetryCount=\"-1\" action.resumeInterval=\"1\") }\n";
  ChildProcess rs;
  ASSERT_TRUE(
      rs.Start({kRsyslogd, "-n", "-f", dir.File("rsyslog.conf"), "-i", dir.File("rsyslog.pid")},
               dir.File("rsyslogd")));
  int fd = -1;
  ASSERT_TRUE(WaitFor([&] { return (fd = Connect(in_tcp)) >= 0; })) << rs.Stderr();

  constexpr int kParts = 4;  // a SIGKILL inside each of the first three
  constexpr int kPerPart = 5000;
  constexpr int kTotal = kParts * kPerPart;
  const std::string archive = dir.File("archive");
  int kills = 0;
  for (int part = 0; part < kParts; ++part) {
    std::string text;
    for (int i = part * kPerPart; i < (part + 1) * kPerPart; ++i) {
      text += "<13>Nov 23 08:00:00 " + std::string(kHost) + " app[1]: seq=" + std::to_string(i) +
              " end\n";
    }
    ASSERT_EQ(send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
    if (part == kParts - 1) break;
    // Kill while this part is still streaming in.
    const size_t target = static_cast<size_t>(part * kPerPart + kPerPart / 3);
    ASSERT_TRUE(WaitFor([&] { return CountSeqs(archive, kTotal).distinct >= target; },
                        std::chrono::seconds(20)))
        << "stuck at " << CountSeqs(archive, kTotal).distinct << "\n"
        << rs.Stderr() << konseki->process().Stderr();
    konseki->process().Kill();
    ++kills;
    konseki = std::make_unique<Konseki>();
    ASSERT_TRUE(konseki->Start(dir, config, &err)) << err;
  }
  close(fd);

  SeqCounts c;
  const bool all = WaitFor(
      [&] {
        c = CountSeqs(archive, kTotal);
        return c.distinct == static_cast<size_t>(kTotal);
      },
      std::chrono::seconds(30));
  std::printf(
      "relp no-loss: %d messages, %d SIGKILLs, %zu distinct in the archive, %zu duplicates\n",
      kTotal, kills, c.distinct, c.duplicates);
  EXPECT_EQ(kills, kParts - 1);
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
  konseki->process().Signal(SIGTERM);
  rs.Signal(SIGTERM);
}

}  // namespace
}  // namespace konseki::testing
