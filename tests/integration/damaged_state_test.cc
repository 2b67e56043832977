// A damaged state file (correlation, heartbeat) or a torn spool does not
// stop konseki from starting: a log receiver that refuses to start (and, with
// Restart=on-failure, loops) receives nothing. The file is set aside as
// <file>.corrupt-<UTC time>, what it held intact is kept, and each file gets
// a log line, a konseki.state_corrupt alert and a count in
// konseki_state_files_damaged_total (scen13 prod findings 1 and 2).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

namespace fs = std::filesystem;

std::string Config(const TempDir& dir) {
  return "listen:\n  - tcp://127.0.0.1:0\n"
         "archive:\n  dir: " +
         dir.File("archive") + "\nalerts:\n  file: " + dir.File("alerts.jsonl") +
         "\n  stdout: false\nworkers: 2\nmetrics:\n  listen: 127.0.0.1:0\n"
         "heartbeat:\n  state_dir: " +
         dir.File("state") + "\n";
}

std::vector<std::string> AlertsWithSign(const TempDir& dir, const std::string& sign) {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(dir.File("alerts.jsonl")));
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"sign\":\"" + sign + "\"") != std::string::npos) out.push_back(line);
  }
  return out;
}

std::vector<std::string> SetAside(const TempDir& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir.File("state"))) {
    if (e.path().filename().string().find(".corrupt-") != std::string::npos) {
      out.push_back(e.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(DamagedStateTest, DamagedStateAndATornSpoolAreSetAsideAndTheDaemonStarts) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  {
    Konseki k;
    std::string err;
    ASSERT_TRUE(k.Start(dir, Config(dir), &err)) << err;
    const int fd = ConnectTcp(k.Port("tcp"));
    ASSERT_GE(fd, 0);
    std::string lines;
    for (int i = 0; i < 20; ++i) {
      lines += "<38>Dec  5 10:00:00 host" + std::to_string(i) + " test[1]: hello\n";
    }
    for (int i = 0; i < 6; ++i) {
      lines +=
          "<38>Dec  5 10:00:00 web1 sshd[2]: Failed password for root from 203.0.113.7 "
          "port 22 ssh2\n";
    }
    ASSERT_TRUE(SendAll(fd, lines));
    close(fd);
    ASSERT_TRUE(WaitFor([&] { return ReadAllLines(dir.File("archive")).size() >= 26; }));
    EXPECT_EQ(k.process().Signal(SIGTERM), 0);
  }
  fs::rename(dir.File("konseki.err"), dir.File("konseki.1.err"));
  fs::rename(dir.File("konseki.out"), dir.File("konseki.1.out"));
  ASSERT_TRUE(fs::exists(dir.File("state/correlation.0.state")));
  ASSERT_TRUE(fs::exists(dir.File("state/heartbeat.0.state")));
  size_t damaged = 0;
  // Garbage, as after a disk error.
  std::ofstream(dir.File("state/correlation.0.state"), std::ios::trunc)
      << "\x8f\x01\xfe garbage \x02\n\x7f";
  ++damaged;
  // Zero length, as a power loss leaves it on some file systems.
  if (fs::exists(dir.File("state/correlation.fleet.state"))) {
    std::ofstream(dir.File("state/correlation.fleet.state"), std::ios::trunc);
    ++damaged;
  }
  // Cut in half: the hosts before the cut stay known.
  const std::string hb = ReadFile(dir.File("state/heartbeat.0.state"));
  std::ofstream(dir.File("state/heartbeat.0.state"), std::ios::trunc)
      << hb.substr(0, hb.size() / 2);
  ++damaged;
  // A spool torn in its only record: 100 lines written, cut after line 39.
  std::string data;
  for (int i = 0; i < 100; ++i)
    data += "Dec  5 10:00:00 torn1 prog: seq=" + std::to_string(i) + "\n";
  const int64_t day = static_cast<int64_t>(std::time(nullptr)) / 86400;
  const std::string spool = "konseki-spool 1\ntorn1 " + std::to_string(day) + " 100 0 " +
                            std::to_string(data.size()) + "\n" +
                            data.substr(0, data.find("seq=40") + 2);
  fs::create_directories(dir.File("state/spool"));
  std::ofstream(dir.File("state/spool/worker-0.spool"), std::ios::binary) << spool;
  ++damaged;

  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir, Config(dir), &err)) << err;
  EXPECT_TRUE(k.process().running());
  ASSERT_TRUE(WaitFor([&] {
    return AlertsWithSign(dir, "konseki.state_corrupt").size() >= damaged;
  })) << k.process().Stderr();
  const std::vector<std::string> alerts = AlertsWithSign(dir, "konseki.state_corrupt");
  EXPECT_EQ(alerts.size(), damaged);
  for (const std::string& a : alerts) {
    EXPECT_NE(a.find("\"severity\":\"high\""), std::string::npos) << a;
    EXPECT_NE(a.find(".corrupt-"), std::string::npos) << a;
  }
  const std::vector<std::string> aside = SetAside(dir);
  EXPECT_EQ(aside.size(), damaged);
  EXPECT_FALSE(fs::exists(dir.File("state/spool/worker-0.spool")));
  const std::string log = k.process().Stderr();
  EXPECT_NE(log.find("heartbeat state file " + dir.File("state/heartbeat.0.state") + " is damaged"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("correlation state file " + dir.File("state/correlation.0.state")),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("spool state file"), std::string::npos) << log;
  // The 40 intact lines of the torn spool are archived, the cut one is not.
  ASSERT_TRUE(WaitFor([&] { return ArchiveLines(dir.File("archive"), "torn1").size() >= 40; }));
  EXPECT_EQ(ArchiveLines(dir.File("archive"), "torn1").size(), 40u);
  EXPECT_EQ(SumMetric(FetchMetrics(k.MetricsPort()), "konseki_state_files_damaged_total"),
            static_cast<double>(damaged));
  // And it receives.
  const int fd = ConnectTcp(k.Port("tcp"));
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "<38>Dec  5 10:00:01 after1 test[1]: after the start\n"));
  close(fd);
  EXPECT_TRUE(WaitFor([&] { return ArchiveLines(dir.File("archive"), "after1").size() == 1; }));
  // A clean stop saves whole files again: the next start finds nothing.
  EXPECT_EQ(k.process().Signal(SIGTERM), 0);
  fs::rename(dir.File("konseki.err"), dir.File("konseki.2.err"));
  fs::rename(dir.File("konseki.out"), dir.File("konseki.2.out"));
  Konseki again;
  ASSERT_TRUE(again.Start(dir, Config(dir), &err)) << err;
  EXPECT_EQ(again.process().Stderr().find("is damaged"), std::string::npos)
      << again.process().Stderr();
  EXPECT_EQ(again.process().Signal(SIGTERM), 0);
  EXPECT_EQ(AlertsWithSign(dir, "konseki.state_corrupt").size(), damaged);
}

}  // namespace
}  // namespace konseki::testing
