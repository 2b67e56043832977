// Start-up errors name the config file and line, and check-config rejects
// what start-up would reject without binding anything.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

TEST(StartupErrorsTest, BindFailureNamesTheConfigFileAndLine) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  // A port someone else holds.
  int holder = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(holder, 1), 0);
  socklen_t len = sizeof a;
  getsockname(holder, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string uri = "tcp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  TempDir dir;
  Konseki k;
  std::string err;
  EXPECT_FALSE(k.Start(dir,
                       "listen:\n  - udp://127.0.0.1:0\n  - " + uri +
                           "\narchive: {dir: " + dir.File("archive") + "}\nmetrics: {listen: ''}\n",
                       &err));
  EXPECT_NE(err.find(dir.File("konseki.yaml") + ":3: listen " + uri), std::string::npos) << err;
  close(holder);
}

// One konseki per archive: a second one on the same archive.dir (its own
// ports and state) refuses to start with exit 1, naming the lock file and
// the holder's pid, also after the holder's SIGHUP; seal-setup refuses too.
// Once the holder stops, the archive is free.
TEST(StartupErrorsTest, SecondKonsekiOnTheSameArchiveIsRefusedNamingTheHolder) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  TempDir dir2;
  const std::string archive = dir.File("archive");
  const std::string config = "listen: [tcp://127.0.0.1:0]\narchive: {dir: " + archive +
                             "}\nalerts: {stdout: false}\nmetrics: {listen: ''}\n"
                             "allow_root: true\n";
  Konseki first;
  std::string err;
  ASSERT_TRUE(first.Start(dir, config, &err)) << err;
  ASSERT_EQ(kill(first.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(
      WaitFor([&] { return first.process().Stderr().find("reloaded") != std::string::npos; },
              kCompileTimeout));
  {
    const std::string conf = dir2.File("konseki.yaml");
    std::ofstream(conf) << config;
    ChildProcess second;
    ASSERT_TRUE(second.Start({KonsekiBinary(), "--config", conf}, dir2.File("second")));
    const int status = second.Signal(0, std::chrono::seconds(60));  // signal 0: just wait
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    const std::string err = second.Stderr();
    EXPECT_NE(
        err.find("the archive " + archive +
                 " is in use by another konseki (konseki daemon, config " +
                 dir.File("konseki.yaml") + ", pid " + std::to_string(first.process().pid()) + ")"),
        std::string::npos)
        << err;
    EXPECT_NE(err.find(archive + "/.state/lock is locked"), std::string::npos) << err;
    EXPECT_EQ(err.find("ready"), std::string::npos) << err;
  }
  {
    const std::string conf = dir2.File("setup.yaml");
    std::ofstream(conf) << config;
    ChildProcess p;
    ASSERT_TRUE(p.Start({KonsekiBinary(), "seal-setup", "--config", conf}, dir2.File("setup")));
    const int status = p.Signal(0, std::chrono::seconds(60));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    EXPECT_NE(p.Stderr().find("in use by another konseki"), std::string::npos) << p.Stderr();
  }
  EXPECT_EQ(first.process().Signal(SIGTERM), 0) << first.process().Stderr();
  TempDir dir3;
  Konseki third;
  EXPECT_TRUE(third.Start(dir3, config, &err)) << err;
}

// One konseki per state folder too (prod16 F1): a second one with its own
// archive but the first one's heartbeat.state_dir would answer for it on the
// control socket and write its state into the first one's files. It exits 1
// naming the state folder's lock, the holder's pid and config; the console
// commands, which take no lock, still answer for the running one.
TEST(StartupErrorsTest, SecondKonsekiOnTheSameStateDirIsRefusedNamingTheHolder) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  TempDir dir2;
  const std::string state = dir.File("state");
  const auto config = [&](const TempDir& d) {
    return "listen: [udp://127.0.0.1:0]\narchive: {dir: " + d.File("archive") +
           "}\nheartbeat: {state_dir: " + state +
           "}\nalerts: {stdout: false}\nmetrics: {listen: ''}\nallow_root: true\n";
  };
  Konseki first;
  std::string err;
  ASSERT_TRUE(first.Start(dir, config(dir), &err)) << err;
  const std::string conf2 = dir2.File("second.yaml");
  std::ofstream(conf2) << config(dir2);
  {
    ChildProcess second;
    ASSERT_TRUE(second.Start({KonsekiBinary(), "--config", conf2}, dir2.File("second")));
    const int status = second.Signal(0, std::chrono::seconds(60));  // signal 0: just wait
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    const std::string err = second.Stderr();
    EXPECT_NE(
        err.find(conf2 + ":3: key 'heartbeat.state_dir': the state folder " + state +
                 " is in use by another konseki (konseki daemon, config " +
                 dir.File("konseki.yaml") + ", pid " + std::to_string(first.process().pid()) + ")"),
        std::string::npos)
        << err;
    EXPECT_NE(err.find(state + "/state.lock is locked"), std::string::npos) << err;
    EXPECT_EQ(err.find("ready"), std::string::npos) << err;
  }
  {
    ChildProcess status;
    ASSERT_TRUE(status.Start({KonsekiBinary(), "status", "-c", dir.File("konseki.yaml")},
                             dir.File("status")));
    ASSERT_TRUE(WaitFor([&] { return !status.running(); }));
    EXPECT_EQ(status.exit_code(), 0) << status.Stderr();
    EXPECT_NE(status.Stdout().find("pid " + std::to_string(first.process().pid())),
              std::string::npos)
        << status.Stdout();
  }
  EXPECT_EQ(first.process().Signal(SIGTERM), 0) << first.process().Stderr();
  Konseki third;
  EXPECT_TRUE(third.Start(dir2, config(dir2), &err)) << err;
}

TEST(StartupErrorsTest, CheckConfigRejectsMissingTlsFilesNamingTheKey) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string conf = dir.File("k.yaml");
  std::ofstream(conf) << "listen: [tls://127.0.0.1:0]\nallow_root: true\n"
                      << "archive: {dir: " << dir.File("archive") << "}\n"
                      << "tls:\n  cert_file: " << dir.File("missing.pem")
                      << "\n  key_file: " << dir.File("missing.key") << "\n";
  ChildProcess p;
  ASSERT_TRUE(p.Start({KonsekiBinary(), "check-config", conf}, dir.File("check")));
  ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
  EXPECT_EQ(p.Stdout().find("OK"), std::string::npos) << p.Stdout();
  EXPECT_NE(p.Stderr().find(conf + ":5: key 'tls.cert_file'"), std::string::npos) << p.Stderr();
  EXPECT_NE(p.Stderr().find("missing.pem"), std::string::npos) << p.Stderr();
}

TEST(StartupErrorsTest, CheckConfigNamesTheKeyFileLineWhenOnlyTheKeyIsMissing) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string conf = dir.File("k.yaml");
  std::ofstream(dir.File("cert.pem")) << "not read: the key is checked for existence first\n";
  std::ofstream(conf) << "listen: [tls://127.0.0.1:6514]\nallow_root: true\n"
                      << "archive: {dir: " << dir.File("archive") << "}\n"
                      << "tls:\n  cert_file: " << dir.File("cert.pem")
                      << "\n  key_file: " << dir.File("missing.key") << "\n";
  ChildProcess p;
  ASSERT_TRUE(p.Start({KonsekiBinary(), "check-config", conf}, dir.File("check")));
  ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
  EXPECT_EQ(p.exit_code(), 1);
  EXPECT_NE(p.Stderr().find(conf + ":6: key 'tls.key_file': tls.key_file " +
                            dir.File("missing.key") + ": No such file"),
            std::string::npos)
      << p.Stderr();
}

// A listener on port 0 would get a random port no sender knows: check-config
// says so, naming the line (and still passes: the daemon runs on port 0 and
// logs the port it got, which is how the tests use it).
TEST(StartupErrorsTest, CheckConfigWarnsAboutListenPortZero) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string conf = dir.File("k.yaml");
  std::ofstream(conf) << "listen:\n  - udp://127.0.0.1:0\nallow_root: true\n"
                      << "metrics: {listen: ''}\narchive: {dir: " << dir.File("archive") << "}\n";
  ChildProcess p;
  ASSERT_TRUE(p.Start({KonsekiBinary(), "check-config", conf}, dir.File("check")));
  ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
  EXPECT_EQ(p.exit_code(), 0) << p.Stderr();
  EXPECT_NE(p.Stderr().find("warning: " + conf + ":2: key 'listen': udp://127.0.0.1:0: port 0"),
            std::string::npos)
      << p.Stderr();
}

// README: every command that reads a config takes it as -c FILE or
// --config FILE; check-config took only the positional FILE.
TEST(StartupErrorsTest, CheckConfigTakesTheFileAsDashCOrConfigToo) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string conf = dir.File("k.yaml");
  std::ofstream(conf) << "listen:\n  - udp://127.0.0.1:5514\nallow_root: true\n"
                      << "metrics: {listen: ''}\narchive: {dir: " << dir.File("archive") << "}\n";
  const std::vector<std::vector<std::string>> forms = {{"check-config", conf},
                                                       {"check-config", "-c", conf},
                                                       {"check-config", "--config", conf},
                                                       {"-c", conf, "check-config"}};
  for (size_t i = 0; i < forms.size(); ++i) {
    ChildProcess p;
    std::vector<std::string> argv = {KonsekiBinary()};
    argv.insert(argv.end(), forms[i].begin(), forms[i].end());
    ASSERT_TRUE(p.Start(argv, dir.File("check" + std::to_string(i))));
    ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
    EXPECT_EQ(p.exit_code(), 0) << forms[i][1] << ": " << p.Stderr();
    EXPECT_NE(p.Stdout().find(conf + ": OK"), std::string::npos) << p.Stdout();
  }
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"check-config"},
                                              {"check-config", "-c", conf, dir.File("other")}}) {
    ChildProcess p;
    std::vector<std::string> argv = {KonsekiBinary()};
    argv.insert(argv.end(), bad.begin(), bad.end());
    ASSERT_TRUE(p.Start(argv, dir.File("bad")));
    ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
    EXPECT_EQ(p.exit_code(), 2) << p.Stderr();
    EXPECT_NE(p.Stderr().find("konseki check-config: "), std::string::npos) << p.Stderr();
  }
}

// docs/rules.md: test-rules --config ... --explain runs "exactly as the
// server would with that config", parser.timezone included.
TEST(StartupErrorsTest, TestRulesExplainAppliesTheConfigsParserTimezone) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string conf = dir.File("k.yaml");
  std::ofstream(conf) << "listen: [udp://127.0.0.1:5514]\nparser: {timezone: \"+02:00\"}\n"
                      << "archive: {dir: " << dir.File("archive") << "}\n";
  ChildProcess p;
  ASSERT_TRUE(p.Start({KonsekiBinary(), "test-rules", "-c", conf, "--explain",
                       "<13>Jul 10 12:00:00 h1 sshd[12]: Failed password for root from "
                       "203.0.113.9 port 4242 ssh2"},
                      dir.File("explain")));
  ASSERT_TRUE(WaitFor([&] { return !p.running(); }, std::chrono::seconds(60)));
  EXPECT_EQ(p.exit_code(), 0) << p.Stderr();
  EXPECT_NE(p.Stdout().find("-07-10T10:00:00"), std::string::npos) << p.Stdout();
}

// Usage errors exit 2 with CLI11's message; -c is --config everywhere.
TEST(StartupErrorsTest, UsageErrorsExit2AndEveryCommandTakesDashC) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string conf = dir.File("k.yaml");
  std::ofstream(conf) << "listen: [udp://127.0.0.1:5514]\narchive: {dir: " << dir.File("archive")
                      << "}\n";
  auto run = [&](const std::vector<std::string>& args, const std::string& name) {
    ChildProcess p;
    std::vector<std::string> argv = {KonsekiBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    EXPECT_TRUE(p.Start(argv, dir.File(name)));
    EXPECT_TRUE(WaitFor([&] { return !p.running(); }));
    return std::make_pair(p.exit_code(), p.Stderr());
  };
  auto r = run({"search", "--bogus", "x"}, "bogus");
  EXPECT_EQ(r.first, 2);
  EXPECT_NE(r.second.find("--bogus"), std::string::npos) << r.second;
  r = run({"alerts", "--since"}, "nosince");
  EXPECT_EQ(r.first, 2) << r.second;
  r = run({"no-such-command"}, "nocmd");
  EXPECT_EQ(r.first, 2) << r.second;
  r = run({"--version"}, "version");
  EXPECT_EQ(r.first, 0) << r.second;
  std::filesystem::create_directories(dir.File("archive"));
  // An empty archive: no match (1), not a usage error.
  r = run({"search", "-c", conf, "x"}, "search");
  EXPECT_EQ(r.first, 1) << r.second;
  // --since as `alerts --since` takes it (it was "bad time", exit 2).
  for (const char* since : {"1h", "today", "yesterday"}) {
    r = run({"search", "-c", conf, "--since", since, "x"}, std::string("since-") + since);
    EXPECT_EQ(r.first, 1) << since << ": " << r.second;
  }
  // --host as alerts and `konseki hosts` name the host, or its folder; a
  // name no folder has is exit 2, not "no match".
  std::filesystem::create_directories(dir.File("archive/web-01"));
  std::ofstream(dir.File("archive/web-01/2025-12-01.log"))
      << "2025-12-01T00:00:05.000000Z 192.0.2.5 <38>Dec  1 00:00:05 WEB-01 x[1]: CANARY\n";
  for (const char* host : {"WEB-01", "web-01"}) {
    r = run({"search", "-c", conf, "--host", host, "CANARY"}, std::string("host-") + host);
    EXPECT_EQ(r.first, 0) << host << ": " << r.second;
  }
  r = run({"search", "-c", conf, "--host", "WEB-02", "CANARY"}, "host-none");
  EXPECT_EQ(r.first, 2) << r.second;
  EXPECT_NE(r.second.find("no such host in the archive"), std::string::npos) << r.second;
  // An archive never sealed: verify fails (1), not a usage error.
  r = run({"verify", "-c", conf, dir.File("archive")}, "verify");
  EXPECT_EQ(r.first, 1) << r.second;
  r = run({"index", "-c", conf}, "index");
  EXPECT_EQ(r.first, 0) << r.second;
  r = run({"test-rules", "-c", conf, "--explain", "x"}, "testrules");
  EXPECT_NE(r.first, 2) << r.second;
}

// systemd.exec(5): JOURNAL_STREAM is "<dev>:<ino>" of the stream systemd
// connected to stderr. Here the test's .err file plays the journal.
std::string JournalStreamOf(const std::string& path) {
  std::ofstream(path, std::ios::app).flush();
  struct stat st = {};
  stat(path.c_str(), &st);
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

TEST(StartupErrorsTest, UnderTheJournalStderrLinesCarrySdDaemonPriorities) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string conf = dir.File("k.yaml");
  std::ofstream(conf) << "listen: [udp://127.0.0.1:0]\nallow_root: true\nmetrics: {listen: ''}\n"
                      << "archive: {dir: " << dir.File("archive") << "}\n"
                      << "heartbeat: {state_dir: " << dir.File("state") << "}\n";
  ChildProcess daemon;
  ASSERT_TRUE(daemon.Start({KonsekiBinary(), "--config", conf}, dir.File("run"),
                           {{"JOURNAL_STREAM", JournalStreamOf(dir.File("run.err"))}}));
  ASSERT_TRUE(WaitFor([&] { return daemon.Stderr().find("ready") != std::string::npos; }))
      << daemon.Stderr();
  EXPECT_EQ(daemon.Signal(SIGTERM), 0);
  std::istringstream lines(daemon.Stderr());
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    EXPECT_EQ(line.rfind("<6>", 0), 0u) << line;  // start-up and stop are info
  }
  EXPECT_GE(n, 3);

  const std::string bad = dir.File("bad.yaml");
  std::ofstream(bad) << "listen: [udp://127.0.0.1:0]\nnosuchkey: 1\n";
  ChildProcess failing;
  ASSERT_TRUE(failing.Start({KonsekiBinary(), "--config", bad}, dir.File("bad"),
                            {{"JOURNAL_STREAM", JournalStreamOf(dir.File("bad.err"))}}));
  ASSERT_TRUE(WaitFor([&] { return !failing.running(); }));
  EXPECT_EQ(failing.Stderr().rfind("<3>konseki: " + bad + ":2", 0), 0u) << failing.Stderr();
}

TEST(StartupErrorsTest, JournalStreamOfAnotherFileMeansNoPrefix) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string bad = dir.File("bad.yaml");
  std::ofstream(bad) << "listen: [udp://127.0.0.1:0]\nnosuchkey: 1\n";
  ChildProcess p;
  // Inherited from a unit by a command whose stderr is not the journal.
  ASSERT_TRUE(p.Start({KonsekiBinary(), "--config", bad}, dir.File("bad"),
                      {{"JOURNAL_STREAM", JournalStreamOf(dir.File("elsewhere"))}}));
  ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
  EXPECT_EQ(p.Stderr().rfind("konseki: " + bad + ":2", 0), 0u) << p.Stderr();
}

}  // namespace
}  // namespace konseki::testing
