// The site's rules on a running konseki (rules.local_dir, disable, severity,
// ignore): real `logger` senders over TCP, alerts read from the alert file,
// counts from /metrics; a SIGHUP picks up a changed site pack and a changed
// rules: section. check-config refuses a rule id no pack has.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/konseki_process.h"
#include "tests/testing/loopback.h"

namespace konseki::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string SitePack(const std::string& match) {
  return "pack: site\nrules:\n  - id: site.canary\n    sign: local.canary\n"
         "    title: Canary tripped\n    severity: high\n    description: d\n"
         "    match: '" +
         match + "'\n    examples:\n      match: [\"Nov 23 08:00:00 h app: canary-1 tripped\"]\n";
}

std::string Config(const TempDir& dir, const std::string& disable) {
  return "listen: [tcp://127.0.0.1:0]\n"
         "archive: {dir: " +
         dir.File("archive") + "}\nalerts: {file: " + dir.File("alerts.jsonl") +
         ", stdout: false}\nmetrics: {listen: 127.0.0.1:0}\nworkers: 1\n"
         "rules:\n  local_dir: " +
         dir.File("site") + "\n  disable: [" + disable +
         "]\n  severity: {sshd.accepted: critical}\n"
         "  ignore: {sources: [10.0.5.0/24], users: [nagios]}\n";
}

// One line through util-linux logger over TCP (RFC 3164, as most hosts send).
void Log(int port, const std::string& tag, const std::string& text, const TempDir& dir) {
  ChildProcess p;
  ASSERT_TRUE(p.Start({"/usr/bin/logger", "--tcp", "--rfc3164", "--server", "127.0.0.1", "--port",
                       std::to_string(port), "-t", tag, text},
                      dir.File("logger")));
  ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
}

double Metric(const Konseki& k, const std::string& name, const std::string& rule) {
  return SumMetric(FetchMetrics(k.MetricsPort()), name, "rule=\"" + rule + "\"");
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// NXLog's to_syslog_ietf after delete($Message) (winjson23 s08): the whole
// event in [NXLOG@14506 ...], no text. Through the real TCP listener and
// parser, the shipped structured-data rule and a site's own one read it; the
// same element with the rendered text is the text rule's alone (one event,
// one hit), and the same words in an RFC 3164 text are no SD rule's.
TEST(LocalRulesTest, StructuredDataRulesReadTheStructuredDataOfRfc5424Lines) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  std::filesystem::create_directories(dir.File("site"));
  std::ofstream(dir.File("site/site.yaml"))
      << "pack: site\nrules:\n  - id: site.sa_failed\n    sign: local.sa_failed\n"
         "    title: sa failed\n    severity: high\n    description: d\n"
         "    text: structured_data\n"
         "    match: '\\bEventID=\"4625\"\\s.*\\bTargetUserName=\"sa\"'\n"
         "    extract: '\\bIpAddress=\"(?P<src_ip>[^\"]*)\"'\n"
         "    examples:\n      match: ['<11>1 2026-12-07T05:30:00+09:00 h app 1 - "
         "[x@1 EventID=\"4625\" TargetUserName=\"sa\"]']\n";
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir, Config(dir, ""), &err)) << err;
  const std::string sd =
      "[NXLOG@14506 Keywords=\"-9218868437227405312\" EventType=\"AUDIT_FAILURE\" "
      "EventID=\"4625\" Channel=\"Security\" Category=\"Logon\" SubjectUserSid=\"S-1-0-0\" "
      "SubjectUserName=\"-\" TargetUserSid=\"S-1-0-0\" TargetUserName=\"sa\" "
      "TargetDomainName=\"\" Status=\"0xc000006d\" FailureReason=\"%%2313\" "
      "SubStatus=\"0xc000006a\" LogonType=\"3\" LogonProcessName=\"NtLmSsp \" "
      "WorkstationName=\"-\" IpAddress=\"203.0.113.172\" IpPort=\"0\" "
      "SourceModuleName=\"eventlog\" SourceModuleType=\"im_msvistalog\"]";
  const std::string header =
      "<11>1 2026-12-07T05:30:00.126108+09:00 SQL01.corp.example "
      "Microsoft-Windows-Security-Auditing 640 - ";
  const std::string text =
      " An account failed to log on.  Subject:  Security ID:  S-1-0-0  Account Name:  -  "
      "Account Domain:  -  Logon ID:  0x0  Logon Type:   3  Account For Which Logon Failed:  "
      "Security ID:  S-1-0-0  Account Name:  sa  Account Domain:    Failure Information:  "
      "Failure Reason:  Unknown user name or bad password.  Status:   0xC000006D  Sub Status:  "
      "0xC000006A  Process Information:  Caller Process ID: 0x0  Caller Process Name: -  "
      "Network Information:  Workstation Name: -  Source Network Address: 203.0.113.172  "
      "Source Port:  0";
  const int fd = ConnectTcp(k.Port("tcp"));
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, header + sd + "\n" + header + sd + text + "\n" +
                              "<11>Dec  7 05:30:02 SQL01 app[1]: " + sd + "\n"));
  close(fd);
  const std::string alerts = dir.File("alerts.jsonl");
  ASSERT_TRUE(WaitFor([&] {
    return Metric(k, "konseki_rule_matches_total", "windows.sd.logon_failed") == 1 &&
           Metric(k, "konseki_rule_matches_total", "windows.logon_failed") == 1 &&
           Metric(k, "konseki_rule_matches_total", "site.sa_failed") == 2;
  })) << ReadFile(alerts)
      << FetchMetrics(k.MetricsPort());
  const std::string got = ReadFile(alerts);
  EXPECT_THAT(got, HasSubstr("\"rule\":\"windows.sd.logon_failed\""));
  EXPECT_THAT(got, HasSubstr("\"user\":\"sa\""));
  EXPECT_THAT(got, HasSubstr("\"src_ip\":\"203.0.113.172\""));
  EXPECT_EQ(Count(got, "\"rule\":\"site.sa_failed\""), 2u);
}

TEST(LocalRulesTest, SitePacksAndOverridesApplyAndReloadOnSighup) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram("/usr/bin/logger")) GTEST_SKIP() << "util-linux logger not installed";
  TempDir dir;
  std::filesystem::create_directories(dir.File("site"));
  std::ofstream(dir.File("site/site.yaml")) << SitePack("canary-[0-9]+ tripped");
  // prod23: not a regular file: skipped, but logged once per load and counted.
  ASSERT_EQ(mkfifo(dir.File("site/fifo.yaml").c_str(), 0600), 0);
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir, Config(dir, "sudo.not_in_sudoers"), &err)) << err;
  const int port = k.Port("tcp");
  const std::string alerts = dir.File("alerts.jsonl");

  // (SSH failures are correlation inputs only, so logins show the overrides.)
  const std::string refused =
      "mallory : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/ls";
  Log(port, "sudo", refused, dir);
  Log(port, "sshd", "Accepted publickey for carol from 10.0.5.7 port 2222 ssh2", dir);
  Log(port, "sshd", "Accepted publickey for nagios from 192.0.2.11 port 2222 ssh2", dir);
  Log(port, "sshd", "Accepted publickey for bob from 192.0.2.10 port 2222 ssh2", dir);
  Log(port, "app", "canary-1 tripped", dir);
  ASSERT_TRUE(WaitFor([&] {
    return Metric(k, "konseki_rule_matches_total", "sshd.accepted") == 3 &&
           Metric(k, "konseki_rule_matches_total", "site.canary") == 1 &&
           Count(ReadFile(alerts), "\"rule\":\"sshd.accepted\"") == 1 &&
           Count(ReadFile(alerts), "\"rule\":\"site.canary\"") == 1;
  })) << ReadFile(alerts)
      << FetchMetrics(k.MetricsPort());
  const std::string first = ReadFile(alerts);
  EXPECT_EQ(Count(k.process().Stderr(), "rule pack files skipped, not regular files"), 1)
      << k.process().Stderr();
  EXPECT_THAT(k.process().Stderr(), HasSubstr("fifo.yaml (a FIFO)"));
  EXPECT_EQ(SumMetric(FetchMetrics(k.MetricsPort()), "konseki_rule_files_skipped_total", ""), 1);
  // Severity override in the alert; ignored source and user: counted, no alert.
  EXPECT_THAT(first, HasSubstr("\"rule\":\"sshd.accepted\",\"sign\":\"ssh.login\","
                               "\"severity\":\"critical\""));
  EXPECT_THAT(first, HasSubstr("bob"));
  EXPECT_THAT(first, Not(HasSubstr("carol")));
  EXPECT_THAT(first, Not(HasSubstr("nagios")));
  EXPECT_EQ(Metric(k, "konseki_alerts_ignored_total", "sshd.accepted"), 2);
  // The disabled rule is not loaded at all: no match, no alert.
  EXPECT_THAT(first, Not(HasSubstr("mallory")));
  EXPECT_EQ(Metric(k, "konseki_rule_matches_total", "sudo.not_in_sudoers"), 0);
  EXPECT_THAT(first, HasSubstr("\"rule\":\"site.canary\""));

  // The admin widens the site rule and enables sudo.not_in_sudoers again.
  std::ofstream(dir.File("site/site.yaml")) << SitePack("canary-[0-9]+ (?:tripped|sprung)");
  std::ofstream(dir.File("konseki.yaml")) << Config(dir, "");
  ASSERT_EQ(kill(k.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(
      WaitFor([&] { return Count(k.process().Stderr(), "reloaded") >= 1; }, kCompileTimeout))
      << k.process().Stderr();
  EXPECT_EQ(Count(k.process().Stderr(), "rule pack files skipped, not regular files"), 2);
  EXPECT_EQ(SumMetric(FetchMetrics(k.MetricsPort()), "konseki_rule_files_skipped_total", ""), 2);
  Log(port, "app", "canary-2 sprung", dir);
  Log(port, "sudo", refused, dir);
  ASSERT_TRUE(WaitFor([&] {
    return Count(ReadFile(alerts), "\"rule\":\"site.canary\"") == 2 &&
           Count(ReadFile(alerts), "\"rule\":\"sudo.not_in_sudoers\"") == 1;
  })) << ReadFile(alerts)
      << k.process().Stderr();
  const std::string after = ReadFile(alerts);
  EXPECT_THAT(after, HasSubstr("canary-2 sprung"));
  EXPECT_THAT(after, HasSubstr("\"rule\":\"sudo.not_in_sudoers\""));

  // A reload that names an unknown rule keeps the rules in force and says why.
  std::ofstream(dir.File("konseki.yaml")) << Config(dir, "sshd.acepted");
  ASSERT_EQ(kill(k.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(alerts).find("konseki.rules_invalid") != std::string::npos;
  })) << ReadFile(alerts);
  EXPECT_THAT(ReadFile(alerts), HasSubstr("no rule has id 'sshd.acepted'"));
  Log(port, "app", "canary-3 sprung", dir);
  ASSERT_TRUE(WaitFor([&] { return ReadFile(alerts).find("canary-3") != std::string::npos; }));
}

// A restart of rsyslog, as systemd and rsyslogd write it: four matches of
// the sign syslog.stopped, one alert (the rules' quiet_secs); the other
// three are counted as held. The alert waits for the logger's start
// (pending_secs) and, answered, is raised at low.
TEST(LocalRulesTest, AnEpisodesLinesRaiseOneAlertAndTheRestAreCountedAsHeld) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram("/usr/bin/logger")) GTEST_SKIP() << "util-linux logger not installed";
  TempDir dir;
  std::filesystem::create_directories(dir.File("site"));
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir, Config(dir, ""), &err)) << err;
  const int port = k.Port("tcp");
  const std::string alerts = dir.File("alerts.jsonl");
  Log(port, "systemd", "Stopping System Logging Service...", dir);
  Log(port, "rsyslogd",
      "[origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"612\" "
      "x-info=\"https://www.rsyslog.com\"] exiting on signal 15.",
      dir);
  Log(port, "systemd", "rsyslog.service: Deactivated successfully.", dir);
  Log(port, "systemd", "Stopped System Logging Service.", dir);
  Log(port, "rsyslogd",
      "[origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"9012\" "
      "x-info=\"https://www.rsyslog.com\"] start",
      dir);
  ASSERT_TRUE(WaitFor([&] {
    return Metric(k, "konseki_rule_matches_total", "syslog.systemd_logging_unit_stopped") == 3 &&
           Metric(k, "konseki_rule_matches_total", "syslog.rsyslogd_exiting") == 1 &&
           Metric(k, "konseki_alerts_held_total", "syslog.systemd_logging_unit_stopped") == 2 &&
           Metric(k, "konseki_alerts_held_total", "syslog.rsyslogd_exiting") == 1;
  })) << FetchMetrics(k.MetricsPort());
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(alerts).find("Stopping System Logging Service") != std::string::npos;
  })) << ReadFile(alerts);
  const std::string text = ReadFile(alerts);
  EXPECT_EQ(Count(text, "\"sign\":\"syslog.stopped\""), 1u) << text;
  EXPECT_THAT(text, HasSubstr("Stopping System Logging Service..."));
  EXPECT_THAT(text, HasSubstr("\"severity\":\"low\""));
  EXPECT_THAT(text, HasSubstr("\"answered_by\":\"syslog.daemon_started\""));
  EXPECT_EQ(Metric(k, "konseki_alerts_answered_total", "syslog.systemd_logging_unit_stopped"), 1);
}

// A correlation that takes a waiting rule's place (supersedes: true on a
// pending_secs rule's hit) takes its wait and hold too: root's password
// login from outside, then a restart of rsyslog is one log.tamper alert
// (log.stopped_after_compromise), answered by the start and raised at low;
// the stop rule's own alert is superseded and its other lines are held.
TEST(LocalRulesTest, ACorrelationInAWaitingRulesPlaceWaitsForTheAnswerToo) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram("/usr/bin/logger")) GTEST_SKIP() << "util-linux logger not installed";
  TempDir dir;
  std::filesystem::create_directories(dir.File("site"));
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir, Config(dir, ""), &err)) << err;
  const int port = k.Port("tcp");
  const std::string alerts = dir.File("alerts.jsonl");
  Log(port, "sshd", "Accepted password for root from 198.51.100.20 port 50000 ssh2", dir);
  Log(port, "systemd", "Stopping System Logging Service...", dir);
  Log(port, "systemd", "Stopped System Logging Service.", dir);
  Log(port, "rsyslogd",
      "[origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"9012\" "
      "x-info=\"https://www.rsyslog.com\"] start",
      dir);
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(alerts).find("\"sign\":\"log.tamper\"") != std::string::npos;
  })) << ReadFile(alerts);
  const std::string text = ReadFile(alerts);
  EXPECT_EQ(Count(text, "\"sign\":\"log.tamper\""), 1u) << text;
  EXPECT_EQ(Count(text, "\"sign\":\"syslog.stopped\""), 0u) << text;
  EXPECT_THAT(text, HasSubstr("\"answered_by\":\"syslog.daemon_started\""));
  // Raised when the start answered it, it names the stop line that caused it.
  const size_t at = text.find("\"sign\":\"log.tamper\"");
  const std::string tamper = text.substr(at, text.find('\n', at) - at);
  EXPECT_THAT(tamper, HasSubstr("\"decided\":\""));
  EXPECT_THAT(tamper, HasSubstr("Stopping System Logging Service...\"}"));
  EXPECT_THAT(tamper, HasSubstr("\"origin\":{\"host\":\""));
  EXPECT_EQ(Metric(k, "konseki_alerts_superseded_total", "syslog.systemd_logging_unit_stopped"), 1)
      << FetchMetrics(k.MetricsPort());
  EXPECT_EQ(Metric(k, "konseki_alerts_held_total", "syslog.systemd_logging_unit_stopped"), 1)
      << FetchMetrics(k.MetricsPort());
}

// A PostgreSQL with the packaged log_line_prefix (no %h) and
// log_connections: each backend's failure takes the client from its
// "connection received" line by the pid (remember / recall), so eight
// failures from one address are auth.bruteforce by source, not the
// per-server auth.bruteforce.no_source.
TEST(LocalRulesTest, AFailureTakesTheClientFromItsConnectionLineByPid) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram("/usr/bin/logger")) GTEST_SKIP() << "util-linux logger not installed";
  TempDir dir;
  std::filesystem::create_directories(dir.File("site"));
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir, Config(dir, ""), &err)) << err;
  const int port = k.Port("tcp");
  const std::string alerts = dir.File("alerts.jsonl");
  for (int i = 0; i < 8; ++i) {
    const std::string pid = std::to_string(3101 + i);
    for (const std::string& text :
         {"[3-1] 2026-12-05 01:00:00.101 UTC [" + pid +
              "] LOG:  connection received: host=203.0.113.77 port=" + std::to_string(40001 + i),
          "[4-1] 2026-12-05 01:00:00.120 UTC [" + pid +
              "] postgres@postgres FATAL:  password authentication failed for user \"postgres\""}) {
      ChildProcess p;
      ASSERT_TRUE(p.Start({"/usr/bin/logger", "--tcp", "--rfc3164", "--server", "127.0.0.1",
                           "--port", std::to_string(port), "-t", "postgres", "--id=" + pid, text},
                          dir.File("logger")));
      ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
    }
  }
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(alerts).find("\"sign\":\"auth.bruteforce\"") != std::string::npos;
  })) << ReadFile(alerts);
  const std::string text = ReadFile(alerts);
  EXPECT_THAT(text, HasSubstr("\"rule\":\"auth.bruteforce.host\""));
  EXPECT_THAT(text, HasSubstr("\"src_ip\":\"203.0.113.77\""));
  EXPECT_THAT(text, Not(HasSubstr("auth.bruteforce.no_source")));
  EXPECT_EQ(Metric(k, "konseki_rule_matches_total", "postgresql.connection_received"), 8);
  EXPECT_THAT(FetchMetrics(k.MetricsPort()),
              HasSubstr("konseki_carry_evictions_total{worker=\"0\"} 0"));
}

// A site rule whose alert waits 2 s for an answer (pending_secs): alone, it
// is raised as written once the 2 s have passed (the worker's housekeeping,
// no line needed); answered by a logger's start (the bundled
// syslog.logging_started) within them, it is dropped and counted.
TEST(LocalRulesTest, AnAlertThatWaitsIsRaisedUnansweredOrDroppedAnswered) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram("/usr/bin/logger")) GTEST_SKIP() << "util-linux logger not installed";
  TempDir dir;
  std::filesystem::create_directories(dir.File("site"));
  std::string pack = SitePack("canary-[0-9]+ tripped");
  pack += "    pending_secs: 2\n    answered_by: [syslog.started]\n";
  std::ofstream(dir.File("site/site.yaml")) << pack;
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir, Config(dir, ""), &err)) << err;
  const int port = k.Port("tcp");
  const std::string alerts = dir.File("alerts.jsonl");
  Log(port, "app", "canary-1 tripped", dir);
  ASSERT_TRUE(WaitFor([&] { return ReadFile(alerts).find("canary-1") != std::string::npos; }))
      << ReadFile(alerts);
  EXPECT_THAT(ReadFile(alerts), HasSubstr("\"waited_secs\":2"));
  EXPECT_THAT(ReadFile(alerts), HasSubstr("\"severity\":\"high\""));
  // Raised 2 s after its line, it names that line as its origin and says
  // when its wait ended.
  EXPECT_THAT(ReadFile(alerts), HasSubstr("\"decided\":\""));
  EXPECT_THAT(ReadFile(alerts), HasSubstr("\"origin\":{\"host\":\""));
  EXPECT_THAT(ReadFile(alerts), HasSubstr("canary-1 tripped\"}}"));

  Log(port, "app", "canary-2 tripped", dir);
  Log(port, "systemd", "Started System Logging Service.", dir);
  ASSERT_TRUE(WaitFor([&] {
    return Metric(k, "konseki_alerts_answered_total", "site.canary") == 1;
  })) << FetchMetrics(k.MetricsPort());
  // Past its 2 s, and a later line through the same worker: still nothing.
  sleep(3);
  Log(port, "app", "canary-3 tripped", dir);
  ASSERT_TRUE(WaitFor([&] { return ReadFile(alerts).find("canary-3") != std::string::npos; }))
      << ReadFile(alerts);
  EXPECT_THAT(ReadFile(alerts), Not(HasSubstr("canary-2"))) << ReadFile(alerts);
  EXPECT_EQ(Count(ReadFile(alerts), "\"rule\":\"site.canary\""), 2u) << ReadFile(alerts);
}

// A waiting alert survives a SIGKILL (prod15: a crash within a logger
// stop's minute lost its alert): the worker keeps what waits in
// <state>/pending.N.state; the next start raises it, unanswered, as written.
TEST(LocalRulesTest, AnAlertThatWaitsSurvivesASigkill) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram("/usr/bin/logger")) GTEST_SKIP() << "util-linux logger not installed";
  TempDir dir;
  std::filesystem::create_directories(dir.File("site"));
  std::string pack = SitePack("canary-[0-9]+ tripped");
  pack += "    pending_secs: 4\n    answered_by: [syslog.started]\n";
  std::ofstream(dir.File("site/site.yaml")) << pack;
  const std::string alerts = dir.File("alerts.jsonl");
  const std::string waiting = dir.File("archive/.state/pending.0.state");
  {
    Konseki k;
    std::string err;
    ASSERT_TRUE(k.Start(dir, Config(dir, ""), &err)) << err;
    Log(k.Port("tcp"), "app", "canary-7 tripped", dir);
    ASSERT_TRUE(WaitFor([&] { return ReadFile(waiting).find("canary-7") != std::string::npos; }));
    k.process().Kill();
  }
  EXPECT_EQ(ReadFile(alerts).find("canary-7"), std::string::npos) << ReadFile(alerts);
  Konseki again;
  std::string err;
  ASSERT_TRUE(again.Start(dir, Config(dir, ""), &err)) << err;
  ASSERT_TRUE(WaitFor([&] { return ReadFile(alerts).find("canary-7") != std::string::npos; }))
      << ReadFile(alerts);
  EXPECT_THAT(ReadFile(alerts), HasSubstr("\"waited_secs\":4"));
  EXPECT_EQ(Count(ReadFile(alerts), "\"rule\":\"site.canary\""), 1u) << ReadFile(alerts);
  // The line it waited for is still named, after the restart too.
  EXPECT_THAT(ReadFile(alerts), HasSubstr("canary-7 tripped\"}}"));
  // Raised: nothing waits, the file is gone.
  ASSERT_TRUE(WaitFor([&] { return !std::filesystem::exists(waiting); }));
}

TEST(LocalRulesTest, CheckConfigRefusesAnUnknownRuleIdWithFileAndLine) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string conf = dir.File("k.yaml");
  std::ofstream(conf) << "listen: [tcp://127.0.0.1:0]\nallow_root: true\narchive: {dir: "
                      << dir.File("archive") << "}\nrules:\n  disable:\n    - sshd.accepted\n"
                      << "    - sshd.no_such_rule\n";
  ChildProcess p;
  ASSERT_TRUE(p.Start({KonsekiBinary(), "check-config", conf}, dir.File("check")));
  ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
  EXPECT_EQ(p.Stdout().find("OK"), std::string::npos) << p.Stdout();
  EXPECT_THAT(p.Stderr(),
              HasSubstr(conf + ":7: key 'rules.disable': no rule has id 'sshd.no_such_rule'"));
}

}  // namespace
}  // namespace konseki::testing
