// End-to-end correlation: the real konseki binary, util-linux logger as the
// sender, the bundled correlations (issue #12).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/konseki_process.h"
#include "tests/testing/loopback.h"

namespace konseki::testing {
namespace {

std::string Config(const TempDir& dir, const std::string& correlation) {
  return "listen:\n  - udp://127.0.0.1:0\n  - tcp://127.0.0.1:0\n"
         "archive:\n  dir: " +
         dir.File("archive") + "\nalerts:\n  file: " + dir.File("alerts.jsonl") +
         "\n  stdout: false\nworkers: 2\nmetrics:\n  listen: 127.0.0.1:0\n"
         "heartbeat:\n  state_dir: " +
         dir.File("state") + "\ncorrelation:\n" + correlation;
}

// Lines of alerts.jsonl whose sign is `sign`.
std::vector<std::string> AlertsWithSign(const TempDir& dir, const std::string& sign) {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(dir.File("alerts.jsonl")));
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"sign\":\"" + sign + "\"") != std::string::npos) out.push_back(line);
  }
  return out;
}

class CorrelationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
    if (!HaveProgram("/usr/bin/logger")) GTEST_SKIP() << "util-linux logger not installed";
  }
  void StartKonseki(const std::string& correlation) {
    std::string err;
    ASSERT_TRUE(k_.Start(dir_, Config(dir_, correlation), &err)) << err;
  }
  // One line from logger over TCP (in order), as program[pid]; returns when
  // logger has sent it and exited.
  void Log(const std::string& program, int pid, const std::string& text) {
    ChildProcess p;
    ASSERT_TRUE(p.Start(
        {"/usr/bin/logger", "--server", "127.0.0.1", "--port", std::to_string(k_.Port("tcp")),
         "--tcp", "--rfc3164", "-t", program, "--id=" + std::to_string(pid), text},
        dir_.File("logger")));
    ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
  }

  // After the first konseki stopped (or was killed): a second one on the same
  // state dir, a success of `ip` over TCP, and the brute-force-then-success
  // alert that only the first run's saved failures can complete.
  void RestartThenSuccessCompletesTheSequence(const std::string& cfg, int pid,
                                              const std::string& ip) {
    // The child's logs are appended to: move the first run's away, or the
    // second start would read the first's "ready" and ports.
    std::filesystem::rename(dir_.File("konseki.err"), dir_.File("konseki.1.err"));
    std::filesystem::rename(dir_.File("konseki.out"), dir_.File("konseki.1.out"));
    Konseki second;
    std::string err;
    ASSERT_TRUE(second.Start(dir_, Config(dir_, cfg), &err)) << err;
    ChildProcess p;
    ASSERT_TRUE(p.Start(
        {"/usr/bin/logger", "--server", "127.0.0.1", "--port", std::to_string(second.Port("tcp")),
         "--tcp", "--rfc3164", "-t", "sshd", "--id=" + std::to_string(pid),
         "Accepted password for admin from " + ip + " port 2 ssh2"},
        dir_.File("logger")));
    ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(dir_, "ssh.bruteforce_success").empty(); }))
        << second.process().Stderr();
  }

  TempDir dir_;
  Konseki k_;
};

TEST_F(CorrelationTest, BruteForceIsOneAlertAndItsSuccessIsCriticalWithinASecond) {
  StartKonseki("  session_min_observed_secs: 0\n");
  for (int i = 0; i < 12; ++i) {
    Log("sshd", 2000 + i,
        "Failed password for root from 203.0.113.50 port " + std::to_string(40000 + i) + " ssh2");
  }
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(dir_, "ssh.bruteforce").empty(); }));
  Log("sshd", 2100, "Accepted password for root from 203.0.113.50 port 41000 ssh2");
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(dir_, "ssh.bruteforce_success").empty(); }));
  // The bound: the critical alert within 1 s of sending the success.
  EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(1));

  // Stop konseki: every alert is written; then count.
  EXPECT_EQ(k_.process().Signal(SIGTERM), 0);
  const auto bf = AlertsWithSign(dir_, "ssh.bruteforce");
  ASSERT_EQ(bf.size(), 1u);
  EXPECT_THAT(bf[0], ::testing::HasSubstr("\"src_ip\":\"203.0.113.50\""));
  EXPECT_THAT(bf[0], ::testing::HasSubstr("\"count\":8"));
  EXPECT_THAT(bf[0], ::testing::HasSubstr("\"members\":[{\"host\":"));
  const auto success = AlertsWithSign(dir_, "ssh.bruteforce_success");
  ASSERT_EQ(success.size(), 1u);
  EXPECT_THAT(success[0], ::testing::HasSubstr("\"severity\":\"critical\""));
  // The failures are inputs only: no alert each.
  EXPECT_THAT(AlertsWithSign(dir_, "ssh.auth_failure"), ::testing::IsEmpty());
}

// rsyslog's repeat reduction writes one line for the failures a connection
// repeated: they count as what they stand for, on the host and across the
// fleet (ssh.bruteforce_success runs on the fleet thread).
TEST_F(CorrelationTest, ARepeatedLineCountsEveryFailureItStandsFor) {
  StartKonseki("  session_min_observed_secs: 0\n");
  const std::string failure = "Failed password for root from 203.0.113.51 port 40000 ssh2";
  Log("sshd", 3000, failure);
  Log("sshd", 3000, "message repeated 7 times: [ " + failure + "]");
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(dir_, "ssh.bruteforce").empty(); }));
  Log("sshd", 3001, "Accepted password for root from 203.0.113.51 port 41000 ssh2");
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(dir_, "ssh.bruteforce_success").empty(); }));
  EXPECT_EQ(k_.process().Signal(SIGTERM), 0);
  const auto bf = AlertsWithSign(dir_, "ssh.bruteforce");
  ASSERT_EQ(bf.size(), 1u);
  EXPECT_THAT(bf[0], ::testing::HasSubstr("\"count\":8"));
  EXPECT_THAT(AlertsWithSign(dir_, "ssh.bruteforce_success")[0],
              ::testing::HasSubstr("\"count\":8"));
}

// The older repeat notices carry no text: "last message repeated N times"
// stands for N more of the host's line before it. Here as FreeBSD's
// syslogd writes it (program "syslogd") and as syslog-ng's suppress() does
// (the line's program, its text's first 20 bytes quoted).
TEST_F(CorrelationTest, ANoticeOfRepeatsCountsTheHostsLineBeforeItAgain) {
  StartKonseki("  session_min_observed_secs: 0\n");
  const std::string failure = "Failed password for root from 203.0.113.52 port 40000 ssh2";
  Log("sshd", 3000, failure);
  Log("syslogd", 700, "last message repeated 3 times");
  Log("sshd", 3000, failure);
  Log("sshd", 3000,
      "Last message 'Failed password for ' repeated 3 times, suppressed by syslog-ng on loghost");
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(dir_, "ssh.bruteforce").empty(); }));
  EXPECT_EQ(k_.process().Signal(SIGTERM), 0);
  const auto bf = AlertsWithSign(dir_, "ssh.bruteforce");
  ASSERT_EQ(bf.size(), 1u);
  EXPECT_THAT(bf[0], ::testing::HasSubstr("\"count\":8"));
}

// A notice repeats the line right before it only: after another line of the
// host (here one without hits) it counts nothing, and neither does a notice
// under another program's tag (rsyslog's old form keeps the line's tag).
TEST_F(CorrelationTest, ANoticeAfterAnotherLineOfTheHostCountsNothing) {
  StartKonseki("  session_min_observed_secs: 0\n");
  const std::string failure = "Failed password for root from 203.0.113.53 port 40000 ssh2";
  Log("sshd", 3000, failure);
  Log("cron", 900, "(CRON) info (No MTA installed, discarding output)");
  Log("syslogd", 700, "last message repeated 9 times");
  Log("sshd", 3001, failure);
  Log("named", 800, "last message repeated 9 times");
  Log("sshd", 3002, "Accepted password for root from 203.0.113.53 port 41000 ssh2");
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(dir_, "ssh.login").empty(); }));
  EXPECT_EQ(k_.process().Signal(SIGTERM), 0);
  EXPECT_TRUE(AlertsWithSign(dir_, "ssh.bruteforce").empty());
  EXPECT_TRUE(AlertsWithSign(dir_, "ssh.bruteforce_success").empty());
}

TEST_F(CorrelationTest, LoginFromLoopbackIsALocalSource) {
  StartKonseki("  session_min_observed_secs: 0\n");
  Log("sshd", 3000, "Accepted publickey for alice from 192.0.2.77 port 50000 ssh2");
  Log("sshd", 3001, "Accepted password for alice from 127.0.0.1 port 50001 ssh2");
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(dir_, "login.local_source").empty(); }));
  EXPECT_EQ(k_.process().Signal(SIGTERM), 0);
  const auto local = AlertsWithSign(dir_, "login.local_source");
  ASSERT_EQ(local.size(), 1u);
  EXPECT_THAT(local[0], ::testing::HasSubstr("\"src_ip\":\"127.0.0.1\""));
}

// A login as a service account is one login.system_account in place of the
// line's own alert (su.success, sshd.accepted), however many lines the login
// writes (sshd's, pam_unix's and systemd-logind's here); a su to root keeps
// its alert.
TEST_F(CorrelationTest, ServiceAccountLoginIsOneAlertInPlaceOfTheLinesOwn) {
  StartKonseki("  session_min_observed_secs: 0\n");
  Log("su", 5000,
      "pam_unix(su-l:session): session opened for user postgres(uid=116) by alice(uid=1000)");
  Log("sshd", 5001,
      "Accepted publickey for www-data from 192.0.2.90 port 50000 ssh2: ED25519 SHA256:abc");
  Log("sshd", 5001, "pam_unix(sshd:session): session opened for user www-data(uid=33) by (uid=0)");
  Log("systemd-logind", 5002, "New session 31 of user www-data.");
  Log("sshd", 5003,
      "Accepted publickey for alice from 192.0.2.91 port 50001 ssh2: ED25519 SHA256:abc");
  Log("su", 5004, "(to root) alice on pts/0");
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(dir_, "su.success").empty(); }));
  EXPECT_EQ(k_.process().Signal(SIGTERM), 0);
  const auto logins = AlertsWithSign(dir_, "login.system_account");
  ASSERT_EQ(logins.size(), 2u);
  EXPECT_THAT(logins[0], ::testing::HasSubstr("\"target_user\":\"postgres\""));
  EXPECT_THAT(logins[1], ::testing::HasSubstr("\"user\":\"www-data\""));
  const auto su = AlertsWithSign(dir_, "su.success");
  ASSERT_EQ(su.size(), 1u);
  EXPECT_THAT(su[0], ::testing::HasSubstr("(to root) alice"));
  // alice's login keeps its own (info) alert; www-data's gave way.
  const auto ssh = AlertsWithSign(dir_, "ssh.login");
  ASSERT_EQ(ssh.size(), 1u);
  EXPECT_THAT(ssh[0], ::testing::HasSubstr("\"user\":\"alice\""));
}

TEST_F(CorrelationTest, SessionCloseWithoutOpenWhileWatched) {
  StartKonseki("  session_min_observed_secs: 0\n");
  Log("sshd", 4000, "pam_unix(sshd:session): session opened for user bob(uid=1001) by (uid=0)");
  Log("sshd", 4000, "pam_unix(sshd:session): session closed for user bob");
  Log("sshd", 4001, "pam_unix(sshd:session): session closed for user mallory");
  // The close waits late_open_secs (120) for an open delivered late; a
  // stop raises it as written.
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the lines reach the worker
  EXPECT_THAT(AlertsWithSign(dir_, "session.close_without_open"), ::testing::IsEmpty());
  EXPECT_EQ(k_.process().Signal(SIGTERM), 0);
  const auto unpaired = AlertsWithSign(dir_, "session.close_without_open");
  ASSERT_EQ(unpaired.size(), 1u);
  EXPECT_THAT(unpaired[0], ::testing::HasSubstr("\"pid\":4001"));
  EXPECT_THAT(unpaired[0], ::testing::HasSubstr("\"waited_secs\":120"));
}

TEST_F(CorrelationTest, StateSurvivesARestart) {
  const std::string cfg = "  session_min_observed_secs: 0\n";
  StartKonseki(cfg);
  for (int i = 0; i < 5; ++i) {
    Log("sshd", 5000 + i, "Failed password for admin from 198.51.100.60 port 1 ssh2");
  }
  // The failures are in (archived) before konseki stops and saves.
  ASSERT_TRUE(WaitFor([&] {
    size_t n = 0;
    for (const std::string& l : ReadAllLines(dir_.File("archive"))) {
      n += l.find("198.51.100.60") != std::string::npos;
    }
    return n == 5;
  }));
  EXPECT_EQ(k_.process().Signal(SIGTERM), 0);
  EXPECT_TRUE(AlertsWithSign(dir_, "ssh.bruteforce_success").empty());
  RestartThenSuccessCompletesTheSequence(cfg, 5100, "198.51.100.60");
}

// A crash (SIGKILL: no clean stop, no final save) loses at most what came
// after the last periodic save: with save_interval_secs 1, the failures are in
// the saved state once the fleet's state file counts them, and a success after the
// restart still completes the brute-force sequence.
TEST_F(CorrelationTest, StateSavedPeriodicallySurvivesSigkill) {
  const std::string cfg = "  session_min_observed_secs: 0\n  save_interval_secs: 1\n";
  StartKonseki(cfg);
  for (int i = 0; i < 5; ++i) {
    Log("sshd", 6000 + i, "Failed password for admin from 198.51.100.61 port 1 ssh2");
  }
  // The fleet's saved state holds all five failures of the source: the
  // ssh.bruteforce_success key line (K, id, fingerprint, touched, key, first,
  // last, count, alerted, open, times, ...) with the five failures' times.
  const auto saved = [&] {
    std::istringstream in(ReadFile(dir_.File("state/correlation.fleet.state")));
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> f;
      std::istringstream fields(line);
      for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
      if (f.size() > 7 && f[0] == "K" && f[1] == "ssh.bruteforce_success" &&
          f[4].find("198.51.100.61") != std::string::npos &&
          std::count(f[10].begin(), f[10].end(), ',') == 4) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(WaitFor(saved)) << ReadFile(dir_.File("state/correlation.fleet.state"));
  k_.process().Kill();
  EXPECT_TRUE(AlertsWithSign(dir_, "ssh.bruteforce_success").empty());
  RestartThenSuccessCompletesTheSequence(cfg, 6100, "198.51.100.61");
}

// The fleet tester's S5: the same account created from a root shell on
// three hosts (each host's line on its worker, the fleet thread joins them)
// is one high fleet.change naming the hosts, beside each host's medium;
// the same account created by Ansible's user module on three other hosts
// is each host's low and no fleet alert (the hosts' correlations said so).
TEST_F(CorrelationTest, TheSameAccountCreatedOnThreeHostsIsOneFleetAlertUnlessAnsibleMadeIt) {
  StartKonseki("  session_min_observed_secs: 0\n");
  std::string wire;
  for (const std::string host : {"app5", "app6", "app7"}) {
    wire += "<85>Dec  4 14:05:06 " + host +
            " sudo:   deploy : TTY=unknown ; PWD=/home/deploy ; USER=root ; COMMAND=/bin/sh -c "
            "echo BECOME-SUCCESS-yednrvrdvqoxoqmlzbcugaodnkjmqbqt ; /usr/bin/python3 "
            "/home/deploy/.ansible/tmp/ansible-tmp-1796393104.52-24318-480/AnsiballZ_user.py\n";
    wire += "<86>Dec  4 14:05:08 " + host +
            " useradd[138863]: new user: name=mkato, UID=1012, GID=1012, home=/home/mkato, "
            "shell=/bin/bash, from=none\n";
  }
  int pid = 3311;
  for (const std::string host : {"ua1", "ua2", "ua3"}) {
    wire += "<86>Dec  6 00:43:40 " + host + " useradd[" + std::to_string(pid++) +
            "]: new user: name=sysbk, UID=1001, GID=1001, home=/home/sysbk, shell=/bin/bash, "
            "from=/dev/pts/0\n";
  }
  const int fd = ConnectTcp(k_.Port("tcp"));
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, wire));
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(dir_, "fleet.change").empty(); }))
      << ReadFile(dir_.File("alerts.jsonl"));
  ASSERT_TRUE(WaitFor([&] { return AlertsWithSign(dir_, "account.change").size() >= 6; }))
      << ReadFile(dir_.File("alerts.jsonl"));
  EXPECT_EQ(k_.process().Signal(SIGTERM), 0);
  const auto fleet = AlertsWithSign(dir_, "fleet.change");
  ASSERT_EQ(fleet.size(), 1u) << ReadFile(dir_.File("alerts.jsonl"));
  EXPECT_THAT(fleet[0], ::testing::HasSubstr("\"rule\":\"accounts.user_added.fleet\""));
  EXPECT_THAT(fleet[0], ::testing::HasSubstr("\"severity\":\"high\""));
  EXPECT_THAT(fleet[0], ::testing::HasSubstr("\"user\":\"sysbk\""));
  EXPECT_THAT(fleet[0], ::testing::HasSubstr("\"host_values\":\"ua1,ua2,ua3\""));
  int low = 0, medium = 0;
  for (const std::string& a : AlertsWithSign(dir_, "account.change")) {
    if (a.find("\"severity\":\"low\"") != std::string::npos) {
      EXPECT_THAT(a, ::testing::HasSubstr("\"rule\":\"accounts.change.config_mgmt\""));
      ++low;
    } else {
      EXPECT_THAT(a, ::testing::HasSubstr("\"severity\":\"medium\""));
      EXPECT_THAT(a, ::testing::HasSubstr("sysbk"));
      ++medium;
    }
  }
  EXPECT_EQ(low, 3);
  EXPECT_EQ(medium, 3);
}

// A sender with no resolvable name puts its address in HOSTNAME (RFC 5424
// 6.2.4; rsyslog and journald forwarding, 3164 senders alike): that address
// is the host's own, so a login from it is a login from the host itself
// (memory20 ls06: it was ssh.login's info). Both hosts send through one
// address here (a relay's: nobody's own), so only the names can tell.
const char kAddressNamedHosts[] =
    "<38>1 2026-12-06T02:16:10+09:00 192.0.2.16 sshd 4410 - - Accepted password for ubuntu "
    "from 192.0.2.16 port 41266 ssh2\n"
    "<38>Dec  6 02:17:10 192.0.2.17 sshd[4411]: Accepted password for ubuntu from 192.0.2.17 "
    "port 41267 ssh2\n"
    "<38>Dec  6 02:18:10 192.0.2.17 sshd[4412]: Accepted password for ubuntu from 192.0.2.99 "
    "port 41268 ssh2\n";

// The two hosts' alerts, in either order (two workers).
void ExpectTwoLocalSources(std::vector<std::string> local) {
  ASSERT_EQ(local.size(), 2u);
  std::sort(local.begin(), local.end(), [](const std::string& a, const std::string& b) {
    return a.find("192.0.2.16") != std::string::npos && b.find("192.0.2.16") == std::string::npos;
  });
  EXPECT_THAT(local[0], ::testing::HasSubstr("\"src_ip\":\"192.0.2.16\""));
  EXPECT_THAT(local[1], ::testing::HasSubstr("\"src_ip\":\"192.0.2.17\""));
  for (const std::string& a : local) {
    EXPECT_THAT(a, ::testing::HasSubstr("\"matched\":\"host_address\""));
    EXPECT_THAT(a, ::testing::HasSubstr("\"severity\":\"high\""));
  }
}

TEST_F(CorrelationTest, AHostNamedByItsAddressLogsInFromItself) {
  StartKonseki("  session_min_observed_secs: 0\n");
  const int fd = ConnectTcp(k_.Port("tcp"));
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(
      SendAll(fd, std::string("<13>Dec  6 02:15:00 web9 app: same sender\n") + kAddressNamedHosts));
  close(fd);
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(dir_.File("alerts.jsonl")).find("192.0.2.99") != std::string::npos &&
           AlertsWithSign(dir_, "login.local_source").size() >= 2;
  })) << ReadFile(dir_.File("alerts.jsonl"));
  EXPECT_EQ(k_.process().Signal(SIGTERM), 0);
  ExpectTwoLocalSources(AlertsWithSign(dir_, "login.local_source"));
}

TEST(CorrelationCliTest, TestRulesReadsAnAddressInHostnameAsTheHostsOwn) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  std::ofstream(dir.File("lines.log")) << kAddressNamedHosts;
  ChildProcess t;
  ASSERT_TRUE(
      t.Start({KonsekiBinary(), "test-rules", "--json", dir.File("lines.log")}, dir.File("tr")));
  ASSERT_TRUE(WaitFor([&] { return !t.running(); }, std::chrono::seconds(90)));
  std::vector<std::string> local;
  std::istringstream in(t.Stdout());
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"sign\":\"login.local_source\"") != std::string::npos &&
        line.find("\"alert\":false") == std::string::npos) {
      local.push_back(line);
    }
  }
  ExpectTwoLocalSources(local);
}

}  // namespace
}  // namespace konseki::testing
