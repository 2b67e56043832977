// What the daemon tells systemd (sd_notify) and Prometheus at start and
// around a reload: READY/RELOADING/STOPPING/WATCHDOG on NOTIFY_SOCKET, rule
// and sign counters at 0 from the start, process_* metrics, the reload
// result gauges, expected hosts that never reported.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// A datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ~NotifySocket() { close(fd_); }
  // Everything received so far, datagrams separated by '|'.
  const std::string& Drain() {
    char buf[4096];
    for (ssize_t n; (n = recv(fd_, buf, sizeof buf, 0)) > 0;) got_ += std::string(buf, n) + "|";
    return got_;
  }

 private:
  std::string path_;
  int fd_;
  std::string got_;
};

TEST(DaemonSignalsIntegrationTest, NotifiesSystemdAndExportsSeriesFromTheStart) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string rules = dir.File("rules");
  fs::create_directories(rules);
  fs::copy(std::string(KONSEKI_SOURCE_DIR) + "/patterns", rules, fs::copy_options::recursive);
  NotifySocket notify(dir.File("notify"));
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(
      dir,
      "listen: [udp://127.0.0.1:0]\n"
      "archive: {dir: " +
          dir.File("archive") +
          "}\n"
          "alerts: {file: " +
          dir.File("alerts.jsonl") +
          ", stdout: false}\n"
          "rules: {dir: " +
          rules +
          "}\n"
          "metrics: {listen: '127.0.0.1:0'}\n"
          "heartbeat: {expected_hosts: [db9], state_dir: " +
          dir.File("state") + "}\n",
      &err, {"/usr/bin/env", "NOTIFY_SOCKET=" + dir.File("notify"), "WATCHDOG_USEC=1000000"}))
      << err;
  ASSERT_TRUE(WaitFor([&] { return notify.Drain().find("WATCHDOG=1") != std::string::npos; }))
      << notify.Drain();
  EXPECT_THAT(notify.Drain(), HasSubstr("READY=1"));

  const std::string m = FetchMetrics(k.MetricsPort());
  // A rule that never matched, and the signs that can alert: present, at 0.
  // An input-only rule's sign (ssh.auth_failure) raises no alert: no series.
  EXPECT_THAT(m, HasSubstr("konseki_rule_matches_total{rule=\"sshd.failed_auth\"} 0"));
  EXPECT_THAT(m, HasSubstr("konseki_alerts_total{severity=\"low\",sign=\"su.success\"} 0"));
  EXPECT_THAT(m, HasSubstr("konseki_alerts_total{severity=\"medium\",sign=\"ssh.bruteforce\"} 0"));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("sign=\"ssh.auth_failure\"")));
  EXPECT_GT(SumMetric(m, "process_resident_memory_bytes"), 1e6);
  EXPECT_GT(SumMetric(m, "process_open_fds"), 3);
  EXPECT_GT(SumMetric(m, "process_start_time_seconds"), 1.7e9);
  EXPECT_THAT(m, HasSubstr("process_cpu_seconds_total "));
  EXPECT_EQ(SumMetric(m, "konseki_reload_success"), 1);
  EXPECT_EQ(SumMetric(m, "konseki_host_expected_never_seen", "host=\"db9\""), 1);

  // A broken rule file: the reload fails, the gauge says so, with its time.
  const double before = SumMetric(m, "konseki_reload_timestamp_seconds");
  std::ofstream(rules + "/broken.yaml") << "rules:\n  - id: x\n    match: '('\n";
  kill(k.process().pid(), SIGHUP);
  ASSERT_TRUE(WaitFor(
      [&] { return SumMetric(FetchMetrics(k.MetricsPort()), "konseki_reload_success") == 0; }));
  EXPECT_GE(SumMetric(FetchMetrics(k.MetricsPort()), "konseki_reload_timestamp_seconds"), before);
  ASSERT_TRUE(WaitFor([&] { return notify.Drain().find("RELOADING=1") != std::string::npos; }));
  fs::remove(rules + "/broken.yaml");
  kill(k.process().pid(), SIGHUP);
  ASSERT_TRUE(WaitFor(
      [&] { return SumMetric(FetchMetrics(k.MetricsPort()), "konseki_reload_success") == 1; }));

  ASSERT_EQ(k.process().Signal(SIGTERM), 0);
  EXPECT_THAT(notify.Drain(), HasSubstr("STOPPING=1"));
}

// Every long-lived thread carries a name, so `top -H`, `ps -L -o comm` and
// perf tell the listeners, workers and outputs apart.
TEST(DaemonSignalsIntegrationTest, ThreadsAreNamedForTopAndPerf) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]\nworkers: 2\n"
                      "metrics: {listen: '127.0.0.1:0'}\n" +
                          ArchiveAndAlertsConfig(dir),
                      &err))
      << err;
  // Each thread names itself when it starts running, which may be just after
  // the daemon says it is ready: read the names until every one is there.
  std::multiset<std::string> names;
  const std::string task = "/proc/" + std::to_string(k.process().pid()) + "/task";
  const auto read_names = [&] {
    names.clear();
    for (const fs::directory_entry& t : fs::directory_iterator(task)) {
      std::string comm = ReadFile(t.path().string() + "/comm");
      if (!comm.empty() && comm.back() == '\n') comm.pop_back();
      names.insert(comm);
    }
    return names.count("udp " + std::to_string(k.Port("udp"))) == 1 &&
           names.count("tcp " + std::to_string(k.Port("tcp"))) == 1 &&
           names.count("worker 0") == 1 && names.count("worker 1") == 1 &&
           names.count("retention") == 1 && names.count("metrics") >= 1;
  };
  WaitFor(read_names);
  std::string all;
  for (const std::string& n : names) all += "[" + n + "]";
  EXPECT_EQ(names.count("udp " + std::to_string(k.Port("udp"))), 1u) << all;
  EXPECT_EQ(names.count("tcp " + std::to_string(k.Port("tcp"))), 1u) << all;
  EXPECT_EQ(names.count("worker 0"), 1u) << all;
  EXPECT_EQ(names.count("worker 1"), 1u) << all;
  EXPECT_GE(names.count("metrics"), 1u) << all;
  EXPECT_EQ(names.count("retention"), 1u) << all;
  ASSERT_EQ(k.process().Signal(SIGTERM), 0);
}

// A restart or a SIGHUP with unchanged packs reads the compiled rule
// database from CACHE_DIRECTORY instead of compiling it again; a changed
// pack is compiled (and cached beside it).
TEST(DaemonSignalsIntegrationTest, RestartAndReloadReadTheCompiledRulesFromTheCache) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string rules = dir.File("rules.d");
  fs::create_directories(rules);
  const std::string config = "listen: [udp://127.0.0.1:0]\nmetrics: {listen: '127.0.0.1:0'}\n" +
                             ArchiveAndAlertsConfig(dir) + "rules: {local_dir: " + rules + "}\n";
  const std::string cache = dir.File("cache");
  std::string err;
  {
    Konseki k;
    k.set_cache_dir(cache);
    ASSERT_TRUE(k.Start(dir, config, &err)) << err;
    EXPECT_THAT(k.process().Stderr(), HasSubstr("rules compiled ("));
    ASSERT_EQ(k.process().Signal(SIGTERM), 0);
  }
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(cache)) files += e.path().extension() == ".hsdb";
  // The bundled packs' two databases: the message text's and the
  // structured-data rules' (windows.yaml's NXLog SD rules).
  EXPECT_EQ(files, 2u);

  // The same archive and state, its own log (Start appends to the folder's).
  TempDir second;
  Konseki k;
  k.set_cache_dir(cache);
  ASSERT_TRUE(k.Start(second, config, &err)) << err;
  EXPECT_THAT(k.process().Stderr(), HasSubstr("their compiled database read from " + cache));
  EXPECT_THAT(k.process().Stderr(), Not(HasSubstr("rules compiled (")));

  // A new site rule: compiled, and the reload says so.
  std::ofstream(rules + "/site.yaml")
      << "rules:\n  - id: site.canary\n    sign: site.canary\n    title: canary\n"
         "    severity: medium\n    description: a line the test writes\n"
         "    match: 'konseki cache canary'\n"
         "    examples:\n      match:\n        - \"Dec  7 02:00:00 h app: konseki cache canary\"\n"
         "      no_match:\n        - \"Dec  7 02:00:00 h app: konseki cache\"\n";
  kill(k.process().pid(), SIGHUP);
  ASSERT_TRUE(WaitFor([&] {
    return k.process().Stderr().find("rules compiled (") != std::string::npos;
  })) << k.process().Stderr();
  // Back to the packs of the start: read from the cache again.
  fs::remove(rules + "/site.yaml");
  kill(k.process().pid(), SIGHUP);
  ASSERT_TRUE(WaitFor([&] {
    const std::string e = k.process().Stderr();
    const size_t first = e.find("their compiled database read from");
    return first != std::string::npos &&
           e.find("their compiled database read from", first + 1) != std::string::npos;
  })) << k.process().Stderr();
  ASSERT_EQ(k.process().Signal(SIGTERM), 0);
}

// The unit's ExecStartPre (check-config) compiles the packs into the cache
// that its ExecStart then reads back: one compile per start, not two.
TEST(DaemonSignalsIntegrationTest, CheckConfigLeavesTheCompiledRulesForTheDaemon) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string config = "listen: [udp://127.0.0.1:0]\nmetrics: {listen: '127.0.0.1:0'}\n" +
                             ArchiveAndAlertsConfig(dir);
  const std::string conf = dir.Write("check.yaml", config + "allow_root: true\n");
  const std::string cache = dir.File("cache");
  ChildProcess check;
  ASSERT_TRUE(check.Start({KonsekiBinary(), "check-config", conf}, dir.File("check"),
                          {{"CACHE_DIRECTORY", cache}}));
  ASSERT_TRUE(WaitFor([&] { return !check.running(); }, std::chrono::seconds(60)));
  ASSERT_EQ(check.exit_code(), 0) << check.Stderr();
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(cache)) files += e.path().extension() == ".hsdb";
  // The bundled packs' two databases: the message text's and the
  // structured-data rules' (windows.yaml's NXLog SD rules).
  EXPECT_EQ(files, 2u);

  Konseki k;
  k.set_cache_dir(cache);
  std::string err;
  ASSERT_TRUE(k.Start(dir, config, &err)) << err;
  EXPECT_THAT(k.process().Stderr(), HasSubstr("their compiled database read from " + cache));
  ASSERT_EQ(k.process().Signal(SIGTERM), 0);
}

}  // namespace
}  // namespace konseki::testing
