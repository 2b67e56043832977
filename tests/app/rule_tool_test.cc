#include "app/rule_tool.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace konseki::app {
namespace {

using konseki::testing::TempDir;

using ::testing::HasSubstr;

using ::testing::Not;

const std::string kPatterns = std::string(KONSEKI_SOURCE_DIR) + "/patterns";
const std::string kTestdata = std::string(KONSEKI_SOURCE_DIR) + "/tests/matchers/testdata";

// test-rules over `log` with the shipped packs, JSON output.
TestRulesOptions Json(const std::string& log) {
  TestRulesOptions opts;
  opts.rules_dir = kPatterns;
  opts.files = {log};
  opts.json = true;
  return opts;
}

// The same with correlations on.
TestRulesOptions JsonWithCorrelations(const std::string& log) {
  TestRulesOptions opts = Json(log);
  opts.correlate = true;
  return opts;
}

TEST(RunCheckRulesTest, EveryShippedRuleExamplePasses) {
  std::ostringstream out, err;
  const int rc = RunCheckRules(kPatterns, out, err);
  EXPECT_EQ(rc, 0) << err.str();
  EXPECT_EQ(err.str(), "");
  EXPECT_THAT(out.str(), HasSubstr(" 0 failures"));
}

// The tools keep compiled rules in $XDG_CACHE_HOME/konseki: a second run
// on the same packs reads them back (the file's time is refreshed), with the
// same verdict; a broken copy there is compiled again, not used.
TEST(RunCheckRulesTest, TheCompiledRulesAreKeptInXdgCacheHome) {
  TempDir dir;
  const std::string pack = dir.File("pack");
  std::filesystem::create_directories(pack);
  std::ofstream(pack + "/p.yaml") << R"y(rules:
  - id: t.refused
    sign: tcpd.refused
    title: t
    severity: low
    description: d
    match: 'refused connect from \S+'
    examples:
      match:
        - "Jan  1 00:00:00 h sshd[1]: refused connect from 192.0.2.1 (192.0.2.1)"
      no_match:
        - "Jan  1 00:00:00 h sshd[1]: connect from 192.0.2.1 (192.0.2.1)"
)y";
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old == nullptr ? "" : old;
  setenv("XDG_CACHE_HOME", dir.File("xdg").c_str(), 1);
  const std::string cache = dir.File("xdg/konseki");
  auto files = [&] {
    std::vector<std::filesystem::path> found;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(cache, ec)) {
      if (e.path().extension() == ".hsdb") found.push_back(e.path());
    }
    return found;
  };
  std::ostringstream out1, err1;
  EXPECT_EQ(RunCheckRules(pack, out1, err1), 0) << err1.str();
  ASSERT_EQ(files().size(), 1u);
  const std::filesystem::path db = files()[0];
  std::filesystem::last_write_time(db,
                                   std::filesystem::last_write_time(db) - std::chrono::hours(1));
  const auto before = std::filesystem::last_write_time(db);
  std::ostringstream out2, err2;
  EXPECT_EQ(RunCheckRules(pack, out2, err2), 0) << err2.str();
  EXPECT_EQ(out2.str(), out1.str());
  EXPECT_GT(std::filesystem::last_write_time(db), before);  // read back: refreshed
  std::ofstream(db, std::ios::trunc) << "not a database";
  std::ostringstream out3, err3;
  EXPECT_EQ(RunCheckRules(pack, out3, err3), 0) << err3.str();
  EXPECT_EQ(out3.str(), out1.str());
  EXPECT_GT(std::filesystem::file_size(db), 1000u);  // compiled again and replaced
  if (old == nullptr) {
    unsetenv("XDG_CACHE_HOME");
  } else {
    setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  }
}

TEST(RunCheckRulesTest, ReportsAFailingExampleWithFileLineAndRule) {
  TempDir dir;
  dir.Write("bad.yaml", R"(rules:
  - id: t.failed
    sign: ssh.auth_failure
    title: t
    severity: low
    description: d
    program: sshd
    match: 'Failed password for '
    extract: 'for (?P<user>\S+) from'
    examples:
      match:
        - line: "Jan  1 00:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2"
          fields: {user: admin}
        - "Jan  1 00:00:00 h sshd[1]: Accepted password for root from 192.0.2.1 port 22 ssh2"
      no_match:
        - "Jan  1 00:00:00 h sshd[1]: Failed password for bob from 192.0.2.1 port 22 ssh2"
)");
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckRules(dir.path(), out, err), 1);
  const std::string file = dir.path() + "/bad.yaml";
  EXPECT_THAT(err.str(),
              HasSubstr(file + ":12: rule t.failed: field user = \"root\", want \"admin\""));
  EXPECT_THAT(err.str(), HasSubstr(file + ":14: rule t.failed: match example does not hit"));
  EXPECT_THAT(err.str(), HasSubstr(file + ":16: rule t.failed: no_match example hits"));
  EXPECT_THAT(out.str(), HasSubstr("3 failures"));
}

TEST(RunCheckRulesTest, ReportsAMatchExampleThatAlsoHitsAnotherRule) {
  TempDir dir;
  const char* rule = R"(  - id: %s
    sign: crash
    title: t
    severity: low
    description: d
    match: 'segfault'
    examples:
      match: ["Jan  1 00:00:00 h kernel: a[1]: segfault at 0 ip 0 sp 0 error 4"]
)";
  char buf[1024];
  std::string text = "rules:\n";
  snprintf(buf, sizeof buf, rule, "t.one");
  text += buf;
  snprintf(buf, sizeof buf, rule, "t.two");
  text += buf;
  dir.Write("dup.yaml", text);
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckRules(dir.path(), out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("rule t.one: match example also hits rule t.two"));
}

TEST(RunCheckRulesTest, CompileErrorNamesFileLineAndRule) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckRules(kTestdata + "/bad_expression", out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr(kTestdata + "/bad_expression/bad.yaml:17: rule "
                                               "test.unbalanced: match: Hyperscan cannot compile"));
}

TEST(RunTestRulesTest, PrintsMatchesAndSummary) {
  TempDir dir;
  const std::string log = dir.Write("auth.log",
                                    "# a comment line is skipped\n"
                                    "Mar  7 18:53:20 bar sshd[1556]: Accepted password for rda "
                                    "from 192.0.2.113 port 52100 ssh2\n"
                                    "\n"
                                    "Mar  7 18:53:21 bar sshd[1557]: Server listening on 0.0.0.0\n"
                                    "Mar  7 18:53:22 bar sshd[1558]: Invalid user x from "
                                    "192.0.2.9 port 1\r\n"
                                    "<86>1 2026-03-07T18:53:23.000Z bar sudo 77 - - "
                                    "   eve : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; "
                                    "USER=root ; COMMAND=/bin/sh\n");
  TestRulesOptions opts;
  opts.rules_dir = kPatterns;
  opts.files = {log};
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr(log + ":2: sshd.accepted [ssh.login] method=password user=rda "
                                         "src_ip=192.0.2.113 src_net24=192.0.2 src_net16=192.0 "
                                         "port=52100"));
  EXPECT_THAT(out.str(), HasSubstr(log + ":5: sshd.invalid_user [ssh.auth_failure] user=x"));
  EXPECT_THAT(out.str(), HasSubstr(log + ":6: sudo.not_in_sudoers [sudo.violation] user=eve"));
  EXPECT_THAT(out.str(), HasSubstr("Lines: 4 read, 2 skipped (empty or #), 3 matched, 3 matches"));
  EXPECT_THAT(out.str(), HasSubstr("  1\tsshd.accepted [ssh.login]"));
}

// A repeat notice is the host's line before it again (as in the server):
// the notice's matches and the brute force it completes are that line's.
// After another line of the host, or under another program, it is nothing.
TEST(RunTestRulesTest, ARepeatNoticeIsTheHostsLineBeforeIt) {
  TempDir dir;
  const std::string log = dir.Write(
      "auth.log",
      "Mar  7 18:53:20 bar sshd[1556]: Failed password for root from 192.0.2.7 port 4 ssh2\n"
      "Mar  7 18:53:21 bar syslogd: last message repeated 7 times\n"
      "Mar  7 18:53:22 foo sshd[20]: Failed password for root from 192.0.2.8 port 4 ssh2\n"
      "Mar  7 18:53:23 foo cron[21]: (CRON) INFO (Running @reboot jobs)\n"
      "Mar  7 18:53:24 foo syslogd: last message repeated 7 times\n"
      "Mar  7 18:53:25 foo sshd[20]: Failed password for root from 192.0.2.8 port 4 ssh2\n"
      "Mar  7 18:53:26 foo named[22]: last message repeated 7 times\n");
  TestRulesOptions opts;
  opts.rules_dir = kPatterns;
  opts.files = {log};
  opts.correlate = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr(log + ":2: sshd.failed_auth [ssh.auth_failure] method=password "
                                         "user=root src_ip=192.0.2.7"));
  EXPECT_THAT(out.str(), HasSubstr(log + ":2: => ssh.bruteforce.host [ssh.bruteforce] medium "
                                         "host=bar src_ip=192.0.2.7 count=8"));
  EXPECT_THAT(out.str(), ::testing::Not(HasSubstr(log + ":5:")));
  EXPECT_THAT(out.str(), ::testing::Not(HasSubstr(log + ":7:")));
  EXPECT_THAT(out.str(), ::testing::Not(HasSubstr("src_ip=192.0.2.8 count=")));
}

// `sudo systemctl stop firewalld` is sudo.firewall_off's medium at once;
// systemd's stop lines a second later are the same stop, answered by the
// sudo line (low, answered_by names the rule, in the fixed namespace
// "sudo"). A stop with no sudo line and no start waits and stays medium.
TEST(RunTestRulesTest, AFirewallStoppedThroughSudoIsOneMedium) {
  TempDir dir;
  const std::string log = dir.Write(
      "syslog",
      "Dec  4 22:31:00 web01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
      "COMMAND=/usr/bin/systemctl stop firewalld\n"
      "Dec  4 22:31:01 web01 systemd[1]: Stopping firewalld - dynamic firewall daemon...\n"
      "Dec  4 22:31:02 web01 systemd[1]: Stopped firewalld - dynamic firewall daemon.\n"
      "Dec  4 22:31:03 web02 systemd[1]: Stopped firewalld - dynamic firewall daemon.\n"
      "Dec  4 22:33:00 web02 CRON[6]: (root) CMD (true)\n");
  TestRulesOptions opts = Json(log);
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  std::map<std::string, int> raised;  // "rule severity host" of the alerts raised
  std::istringstream lines(out.str());
  for (std::string l; std::getline(lines, l);) {
    if (l.find("\"alert\":false") != std::string::npos ||
        l.find("\"superseded\":true") != std::string::npos) {
      continue;
    }
    auto value = [&](const std::string& key) {
      const size_t at = l.find("\"" + key + "\":\"");
      if (at == std::string::npos) return std::string();
      const size_t from = at + key.size() + 4;
      return l.substr(from, l.find('"', from) - from);
    };
    ++raised[value("rule") + " " + value("severity") + " " + value("host")];
  }
  EXPECT_EQ(raised, (std::map<std::string, int>{{"sudo.firewall_off medium web01", 1},
                                                {"systemd.firewall_stopped low web01", 1},
                                                {"systemd.firewall_stopped medium web02", 1}}))
      << out.str();
}

// An endpoint agent's stop waits 30 minutes for the start of the same unit
// (pending_secs 1800, answer_key [unit]): web5's restart and app3's
// restart by systemd after a kill are answered and raise nothing; web7's
// admin starts it again after 25 minutes, answered too. web6's stop is
// answered neither by another unit's start nor by another agent's: it is
// raised high, 30 minutes after its first line, once, under the line
// whose stamp passed the deadline.
TEST(RunTestRulesTest, AnAgentStoppedAndNotStartedAgainWithinHalfAnHourIsRaised) {
  TempDir dir;
  const std::string log = dir.Write(
      "syslog",
      "Dec  7 02:10:00 web5 systemd[1]: Stopping falcon-sensor.service - CrowdStrike Falcon "
      "Sensor...\n"
      "Dec  7 02:10:01 web5 systemd[1]: falcon-sensor.service: Deactivated successfully.\n"
      "Dec  7 02:10:01 web5 systemd[1]: Stopped falcon-sensor.service - CrowdStrike Falcon "
      "Sensor.\n"
      "Dec  7 02:10:03 web5 systemd[1]: Started falcon-sensor.service - CrowdStrike Falcon "
      "Sensor.\n"
      "Dec  7 02:11:00 web6 systemd[1]: falcon-sensor.service: Deactivated successfully.\n"
      "Dec  7 02:11:00 web6 systemd[1]: Stopped falcon-sensor.service - CrowdStrike Falcon "
      "Sensor.\n"
      "Dec  7 02:12:00 web6 systemd[1]: Started logrotate.service - Rotate log files.\n"
      "Dec  7 02:13:00 web6 systemd[1]: Started mdatp.service - Microsoft Defender for Endpoint.\n"
      "Dec  7 02:20:00 app3 systemd[1]: mdatp.service: Failed with result 'signal'.\n"
      "Dec  7 02:20:01 app3 systemd[1]: mdatp.service: Scheduled restart job, restart counter is "
      "at "
      "1.\n"
      "Dec  7 02:30:00 web7 systemd[1]: Stopped wazuh-agent.service - Wazuh agent.\n"
      "Dec  7 02:55:00 web7 systemd[1]: Started wazuh-agent.service - Wazuh agent.\n"
      "Dec  7 03:00:00 web6 CRON[1]: (root) CMD (true)\n");
  TestRulesOptions opts = Json(log);
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  std::vector<std::string> raised;
  std::istringstream lines(out.str());
  for (std::string l; std::getline(lines, l);) {
    if (l.find("systemd.security_agent") == std::string::npos ||
        l.find("\"alert\":false") != std::string::npos) {
      continue;
    }
    raised.push_back(l);
  }
  ASSERT_EQ(raised.size(), 1u) << out.str();
  EXPECT_THAT(raised[0], HasSubstr("\"line\":12,\"rule\":\"systemd.security_agent_stopped\""));
  EXPECT_THAT(raised[0], HasSubstr("\"severity\":\"high\",\"host\":\"web6\""));
  EXPECT_THAT(raised[0], HasSubstr("\"unit\":\"falcon-sensor.service\",\"waited_secs\":\"1800\""));
  EXPECT_THAT(raised[0], HasSubstr("\"origin_line_no\":5"));
}

// A logger's stop waits 60 s for its start (pending_secs): web1's restart
// is answered by rsyslogd's start a second later and raised at low under
// that line; web2's stop is not, and goes as written under the line whose
// stamp passed its 60 s; web3's and web5's at the end of the input (web5's
// own start 20 s before its stop answers nothing: the same x-pid).
TEST(RunTestRulesTest, AStopWaitsForTheLoggersStartAndIsRaisedWhereDecided) {
  TempDir dir;
  const std::string log = dir.Write(
      "syslog",
      "Mar  7 10:00:00 web1 rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" "
      "x-pid=\"612\" x-info=\"https://www.rsyslog.com\"] exiting on signal 15.\n"
      "Mar  7 10:00:00 web2 rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" "
      "x-pid=\"613\" x-info=\"https://www.rsyslog.com\"] exiting on signal 15.\n"
      "Mar  7 10:00:01 web1 rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" "
      "x-pid=\"9012\" x-info=\"https://www.rsyslog.com\"] start\n"
      "Mar  7 10:00:30 web2 CRON[5]: (root) CMD (true)\n"
      "Mar  7 10:01:00 web4 CRON[6]: (root) CMD (true)\n"
      "Mar  7 10:01:05 web3 systemd[1]: Stopped System Logging Service.\n"
      // fleet13: the logger's own start 20 s before its stop is no restart.
      "Mar  7 10:01:10 web5 rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" "
      "x-pid=\"700\" x-info=\"https://www.rsyslog.com\"] start\n"
      "Mar  7 10:01:30 web5 rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" "
      "x-pid=\"700\" x-info=\"https://www.rsyslog.com\"] exiting on signal 15.\n");
  TestRulesOptions opts;
  opts.rules_dir = kPatterns;
  opts.files = {log};
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr(log + ":1: syslog.rsyslogd_exiting [syslog.stopped] pid=612 signo=15 "
                                    "(pending: its alert waits 60 s for an answer)"));
  EXPECT_THAT(text, HasSubstr(log + ":3: => syslog.rsyslogd_exiting [syslog.stopped] low "
                                    "host=web1 pid=612 signo=15 answered_by=syslog.daemon_started "
                                    "answered_within_secs=1 (the alert that waited)"));
  EXPECT_THAT(text, HasSubstr(log + ":5: => syslog.rsyslogd_exiting [syslog.stopped] medium "
                                    "host=web2 pid=613 signo=15 waited_secs=60 (the alert that "
                                    "waited)"));
  EXPECT_THAT(text, HasSubstr(log + ":8: => syslog.systemd_logging_unit_stopped [syslog.stopped] "
                                    "medium host=web3"));
  EXPECT_THAT(text, HasSubstr(log + ":8: => syslog.rsyslogd_exiting [syslog.stopped] medium "
                                    "host=web5 pid=700 signo=15 waited_secs=60 (the alert that "
                                    "waited)"));
  EXPECT_THAT(text, HasSubstr("4 alerts that waited for an answer"));

  opts.json = true;
  std::ostringstream json, err2;
  ASSERT_EQ(RunTestRules(opts, json, err2), 0) << err2.str();
  EXPECT_THAT(json.str(), HasSubstr("\"line\":1,\"rule\":\"syslog.rsyslogd_exiting\""));
  EXPECT_THAT(json.str(), HasSubstr("\"alert\":false,\"superseded\":true,\"pending\":true}"));
  EXPECT_THAT(
      json.str(),
      HasSubstr("{\"file\":\"" + log +
                "\",\"line\":5,\"rule\":\"syslog.rsyslogd_exiting\",\"sign\":"
                "\"syslog.stopped\",\"severity\":\"medium\",\"host\":\"web2\",\"program\":"
                "\"rsyslogd\",\"fields\":{\"pid\":\"613\",\"signo\":\"15\",\"waited_secs\":\"60\"},"
                "\"waited\":true,\"decided\":\""));
  // It names the line that caused it: line 2, web2's stop, 60 s earlier.
  EXPECT_THAT(json.str(),
              HasSubstr("T10:01:00.000000Z\",\"origin_line_no\":2,\"origin\":{\"file\":\"" + log +
                        "\",\"line_no\":2,\"host\":\"web2\",\"time\":\""));
  EXPECT_THAT(json.str(),
              HasSubstr("T10:00:00.000000Z\",\"message\":\"Mar  7 10:00:00 web2 rsyslogd: [origin "
                        "software=\\\"rsyslogd\\\" swVersion=\\\"8.2302.0\\\" x-pid=\\\"613\\\""));
  EXPECT_THAT(text, HasSubstr("(the alert that waited)\n    caused by " + log +
                              ":2: Mar  7 10:00:00 web2 rsyslogd: "));
}

// An alert decided after its wait names the line that caused it, in every
// file of the input: the stop after a root login (log.stopped_after_compromise
// in the logger rule's place) waits for the logger's start, none comes, and
// the alert raised under the next file's line says file 1, line 2; the
// answered stop of web2 names its own line too. A correlation raised on its
// own line names that line.
TEST(RunTestRulesTest, AnAlertRaisedLaterNamesItsOriginLine) {
  TempDir dir;
  const std::string first = dir.Write(
      "a.log",
      "Nov 29 02:44:10 api sshd[51220]: Accepted password for root from 193.42.33.14 port 40412 "
      "ssh2\n"
      "Nov 29 02:45:02 api systemd[1]: Stopped System Logging Service.\n"
      "# a comment keeps its line number\n"
      "Nov 29 02:45:10 web2 rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" "
      "x-pid=\"613\" x-info=\"https://www.rsyslog.com\"] exiting on signal 15.\n");
  const std::string second = dir.Write(
      "b.log",
      "Nov 29 02:45:11 web2 rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" "
      "x-pid=\"9012\" x-info=\"https://www.rsyslog.com\"] start\n"
      "Nov 29 02:48:00 api CRON[6]: (root) CMD (true)\n");
  TestRulesOptions opts = JsonWithCorrelations(first);
  opts.files.push_back(second);
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  std::istringstream lines(out.str());
  std::string compromise, stop, web2;
  for (std::string l; std::getline(lines, l);) {
    if (l.find("\"alert\":false") != std::string::npos) continue;
    if (l.find("log.stopped_after_compromise") != std::string::npos) compromise = l;
    if (l.find("\"host\":\"web2\"") != std::string::npos) web2 = l;
    if (l.find("\"rule\":\"syslog.systemd_logging_unit_stopped\"") != std::string::npos) stop = l;
  }
  ASSERT_FALSE(compromise.empty()) << out.str();
  EXPECT_THAT(compromise, HasSubstr("{\"file\":\"" + second + "\",\"line\":2,"));
  EXPECT_THAT(compromise, HasSubstr("\"origin_line_no\":2,\"origin\":{\"file\":\"" + first +
                                    "\",\"line_no\":2,\"host\":\"api\",\"time\":\""));
  EXPECT_THAT(compromise, HasSubstr("\"message\":\"Nov 29 02:45:02 api systemd[1]: Stopped System "
                                    "Logging Service.\"}}"));
  // Decided when syslog.systemd_logging_unit_stopped's wait (120 s) ran out.
  EXPECT_THAT(compromise, HasSubstr("T02:47:02.000000Z\",\"origin_line_no\""));
  EXPECT_TRUE(stop.empty()) << stop;  // the correlation's alert took its place
  ASSERT_FALSE(web2.empty()) << out.str();
  EXPECT_THAT(web2, HasSubstr("{\"file\":\"" + second + "\",\"line\":1,"));
  EXPECT_THAT(web2, HasSubstr("\"severity\":\"low\""));
  EXPECT_THAT(web2, HasSubstr("T02:45:11.000000Z\",\"origin_line_no\":4,\"origin\":{\"file\":\"" +
                              first + "\",\"line_no\":4,\"host\":\"web2\""));
}

// (sshd.invalid_user is an input of correlations only: "alert":false.)
TEST(RunTestRulesTest, JsonModeWritesOneEscapedObjectPerMatch) {
  TempDir dir;
  const std::string log = dir.Write(
      "a\"b.log",
      "Mar  7 18:53:20 bar sshd[1]: Invalid user we\"ird\\\x01\xff from 192.0.2.9 port 7\n"
      "Mar  7 18:53:20 bar sshd[1]: Server listening\n"
      "Mar  7 18:53:20 bar sshd[1]: Invalid user caf\xc3\xa9 from 192.0.2.10\n");
  TestRulesOptions opts = Json(log);
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  std::string escaped_file = log;
  escaped_file.replace(escaped_file.find('"'), 1, "\\\"");
  EXPECT_EQ(out.str(),
            "{\"file\":\"" + escaped_file +
                "\",\"line\":1,\"rule\":\"sshd.invalid_user\",\"sign\":\"ssh.auth_failure\","
                "\"severity\":\"low\",\"host\":\"bar\",\"program\":\"sshd\","
                "\"fields\":{\"user\":\"we\\\"ird\\\\\\u0001\\ufffd\","
                "\"src_ip\":\"192.0.2.9\",\"port\":\"7\"},\"alert\":false}\n"
                "{\"file\":\"" +
                escaped_file +
                "\",\"line\":3,\"rule\":\"sshd.invalid_user\",\"sign\":\"ssh.auth_failure\","
                "\"severity\":\"low\",\"host\":\"bar\",\"program\":\"sshd\","
                "\"fields\":{\"user\":\"caf\xc3\xa9\","
                "\"src_ip\":\"192.0.2.10\"},\"alert\":false}\n");
  EXPECT_THAT(err.str(), HasSubstr("Lines: 3 read"));
}

// A line without a host (busybox syslogd -R, OpenBSD's without -h, FreeBSD's
// own) is the sender's, as in the server: --sender names the rule's alert
// as it names the correlation's.
TEST(RunTestRulesTest, ALineWithoutAHostIsTheSendersInEveryRecord) {
  TempDir dir;
  const std::string log = dir.Write(
      "hostless.log",
      "<38>Dec  6 06:10:09 sshd[4250]: Accepted password for root from 203.0.113.50 port 41010 "
      "ssh2\n");
  TestRulesOptions opts = JsonWithCorrelations(log);
  opts.sender = "192.0.2.21";
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("\"sign\":\"ssh.login\",\"severity\":\"high\","
                                   "\"host\":\"192.0.2.21\""));
  EXPECT_THAT(out.str(), Not(HasSubstr("\"host\":\"\"")));
}

// A correlation keyed on fields the hit also has names each field once
// (network15: src_ip and dst_port twice in one JSON object, which strict
// parsers reject).
TEST(RunTestRulesTest, ACorrelationAlertNamesEachFieldOnce) {
  TempDir dir;
  const std::string log = dir.Write(
      "fwd.log",
      "Dec  5 16:20:00 gw1 kernel: [915600.000000] FWD-NEW: IN=eth2 OUT=eth0 "
      "MAC=52:54:00:3a:11:02:52:54:00:9c:7e:41:08:00 SRC=10.0.1.40 DST=203.0.113.66 LEN=60 "
      "TOS=0x00 PREC=0x00 TTL=64 ID=29892 DF PROTO=TCP SPT=53533 DPT=4444 WINDOW=1024 RES=0x00 "
      "SYN URGP=0\n");
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(JsonWithCorrelations(log), out, err), 0) << err.str();
  std::istringstream lines(out.str());
  size_t correlations = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"correlation\":true") == std::string::npos) continue;
    ++correlations;
    for (const char* key : {"\"src_ip\":", "\"dst_port\":"}) {
      const size_t first = line.find(key);
      ASSERT_NE(first, std::string::npos) << line;
      EXPECT_EQ(line.find(key, first + 1), std::string::npos) << key << " twice: " << line;
    }
  }
  EXPECT_GT(correlations, 0u) << out.str();
}

// test-rules --config: the config's rules: section applies as in the
// server (disabled rule absent, severity changed, ignored hits marked).
TEST(RunTestRulesTest, SiteOverridesApplyAsInTheServer) {
  TempDir dir;
  const std::string log = dir.Write(
      "auth.log",
      "Mar  7 18:53:20 bar sshd[1]: Accepted password for rda from 192.0.2.113 port 5 ssh2\n"
      "Mar  7 18:53:22 bar sshd[1]: Invalid user x from 10.0.5.9 port 7\n"
      "Mar  7 18:53:22 bar sshd[1]: Invalid user y from 192.0.2.9 port 7\n");
  TestRulesOptions opts;
  opts.rules_dir = kPatterns;
  opts.files = {log};
  opts.overrides.disable = {{"sshd.accepted", "k.yaml:3"}};
  opts.overrides.severity = {{"sshd.invalid_user", Severity::kHigh, "k.yaml:4"}};
  opts.overrides.ignore_sources = {"10.0.5.0/24"};
  opts.json = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), Not(HasSubstr("sshd.accepted")));
  EXPECT_THAT(out.str(), HasSubstr("\"line\":2,\"rule\":\"sshd.invalid_user\",\"sign\":"
                                   "\"ssh.auth_failure\",\"severity\":\"high\""));
  // sshd.invalid_user is an input of correlations (alert: false).
  EXPECT_THAT(out.str(), HasSubstr("\"src_ip\":\"10.0.5.9\",\"port\":\"7\"},\"alert\":false,"
                                   "\"ignored\":true}"));
  EXPECT_THAT(out.str(), HasSubstr("\"src_ip\":\"192.0.2.9\",\"port\":\"7\"},\"alert\":false}"));
  EXPECT_THAT(err.str(), HasSubstr("(1 ignored by rules.ignore)"));

  opts.overrides.disable = {{"sshd.acceptd", "k.yaml:3: key 'rules.disable'"}};
  std::ostringstream out2, err2;
  EXPECT_EQ(RunTestRules(opts, out2, err2), 1);
  EXPECT_THAT(err2.str(),
              HasSubstr("k.yaml:3: key 'rules.disable': no rule has id 'sshd.acceptd'"));
}

// rules.ignore works like fail2ban's ignoreip: an ignored source's failures
// feed no correlation, so a burst of them is no ssh.bruteforce.
TEST(RunTestRulesTest, IgnoredHitsFeedNoCorrelation) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 10; ++i) {
    text += "Mar  7 18:53:" + std::to_string(10 + i) +
            " bar sshd[1]: Failed password for root from 10.0.5.9 port 7 ssh2\n";
  }
  const std::string log = dir.Write("auth.log", text);
  TestRulesOptions opts = JsonWithCorrelations(log);
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("\"sign\":\"ssh.bruteforce\""));

  opts.overrides.ignore_sources = {"10.0.5.0/24"};
  std::ostringstream out2, err2;
  ASSERT_EQ(RunTestRules(opts, out2, err2), 0) << err2.str();
  EXPECT_THAT(out2.str(), Not(HasSubstr("\"correlation\":true")));
  EXPECT_THAT(err2.str(), HasSubstr("(10 ignored by rules.ignore)"));
}

// A correlation with `supersedes` (login.system_account.su) takes the place
// of the line's own alert: test-rules marks that hit, as the server leaves
// its alert out; su to root by a user keeps its alert.
TEST(RunTestRulesTest, HitsWhoseAlertACorrelationSupersedesAreMarked) {
  TempDir dir;
  const std::string log =
      dir.Write("su.log",
                "Mar  6 11:06:00 web1 su[202]: pam_unix(su-l:session): session opened for user "
                "postgres(uid=116) by bob(uid=1001)\n"
                "Mar  6 11:07:00 web1 su[203]: (to root) bob on pts/0\n");
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(JsonWithCorrelations(log), out, err), 0) << err.str();
  std::istringstream lines(out.str());
  std::vector<std::string> su;
  for (std::string l; std::getline(lines, l);) {
    if (l.find("\"sign\":\"su.success\"") != std::string::npos) su.push_back(l);
  }
  ASSERT_EQ(su.size(), 2u) << out.str();
  EXPECT_THAT(su[0], HasSubstr("\"alert\":false,\"superseded\":true"));
  EXPECT_THAT(su[1], Not(HasSubstr("superseded")));
  EXPECT_THAT(su[1], Not(HasSubstr("\"alert\":false")));
  EXPECT_THAT(out.str(), HasSubstr("\"sign\":\"login.system_account\""));
}

// A correlation with `replaces` takes the place of the line's alert even
// when less severe: useradd's medium line for an account an admin created
// with sudo at a terminal is accounts.user_added.admin, low; the same
// account name created on another host without such a line stays medium.
TEST(RunTestRulesTest, AReplacingCorrelationLowersTheLinesAlert) {
  TempDir dir;
  const std::string log = dir.Write(
      "auth.log",
      "Dec  3 10:15:33 app12 sudo[8001]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
      "COMMAND=/usr/sbin/adduser --gecos 'Dan Ek' dan\n"
      "Dec  3 10:15:34 app12 useradd[8011]: new user: name=dan, UID=1007, GID=1007, "
      "home=/home/dan, shell=/bin/bash, from=/dev/pts/0\n"
      "Dec  3 10:20:00 app13 useradd[8012]: new user: name=dan, UID=1007, GID=1007, "
      "home=/home/dan, shell=/bin/bash, from=none\n");
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(JsonWithCorrelations(log), out, err), 0) << err.str();
  std::istringstream lines(out.str());
  std::vector<std::string> added;
  for (std::string l; std::getline(lines, l);) {
    if (l.find("\"rule\":\"accounts.user_added") != std::string::npos) added.push_back(l);
  }
  ASSERT_EQ(added.size(), 3u) << out.str();
  EXPECT_THAT(added[0], HasSubstr("\"line\":2,"));
  EXPECT_THAT(added[0], HasSubstr("\"superseded\":true"));
  EXPECT_THAT(added[1], HasSubstr("\"rule\":\"accounts.user_added.admin\""));
  EXPECT_THAT(added[1], HasSubstr("\"severity\":\"low\""));
  EXPECT_THAT(added[2], HasSubstr("\"line\":3,"));
  EXPECT_THAT(added[2], HasSubstr("\"severity\":\"medium\""));
  EXPECT_THAT(added[2], Not(HasSubstr("superseded")));
}

// A restart of rsyslog writes four syslog.stopped lines: one alert (the
// rules' quiet_secs), the others marked held; a second restart ten minutes
// later is an episode of its own, and auditd stopping (high) in the middle
// of the first still alerts.
TEST(RunTestRulesTest, OneAlertPerEpisodeTheRestHeld) {
  TempDir dir;
  const std::string restart =
      "Mar  6 11:0%d:00 web1 systemd[1]: Stopping System Logging Service...\n"
      "Mar  6 11:0%d:00 web1 rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" "
      "x-pid=\"612\" x-info=\"https://www.rsyslog.com\"] exiting on signal 15.\n"
      "Mar  6 11:0%d:01 web1 systemd[1]: rsyslog.service: Deactivated successfully.\n"
      "Mar  6 11:0%d:01 web1 systemd[1]: Stopped System Logging Service.\n";
  auto at = [&](int minute) {
    std::string s = restart;
    for (size_t p; (p = s.find("%d")) != std::string::npos;)
      s.replace(p, 2, std::to_string(minute));
    return s;
  };
  const std::string log = dir.Write(
      "restart.log", at(0) +
                         "Mar  6 11:00:02 web1 systemd[1]: Stopping Security Auditing Service...\n"
                         "Mar  6 11:00:02 web1 auditd[700]: The audit daemon is exiting.\n" +
                         at(9));
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(JsonWithCorrelations(log), out, err), 0) << err.str();
  std::istringstream lines(out.str());
  std::vector<std::string> alerted, held, pending;
  for (std::string l; std::getline(lines, l);) {
    if (l.find("\"sign\":\"syslog.stopped\"") == std::string::npos) continue;
    if (l.find("\"pending\":true") != std::string::npos) {
      pending.push_back(l);
      continue;
    }
    (l.find("\"held\":true") != std::string::npos ? held : alerted).push_back(l);
  }
  // The raised ones wait for the loggers' start (pending_secs): none comes,
  // so each goes 60 s later, under the line that passed its time (line 7
  // at 11:09 for the first two) or at the end.
  ASSERT_EQ(pending.size(), 3u) << out.str();
  EXPECT_THAT(pending[0], HasSubstr("\"line\":1,"));
  EXPECT_THAT(pending[1], HasSubstr("audit.daemon_stopped"));
  EXPECT_THAT(pending[2], HasSubstr("\"line\":7,"));
  ASSERT_EQ(alerted.size(), 3u) << out.str();
  EXPECT_THAT(alerted[0], HasSubstr("\"line\":7,\"rule\":\"syslog.systemd_logging_unit_stopped\""));
  EXPECT_THAT(alerted[1], HasSubstr("\"line\":7,\"rule\":\"audit.daemon_stopped\""));
  EXPECT_THAT(alerted[2], HasSubstr("\"line\":10,"));
  for (const std::string& l : alerted) EXPECT_THAT(l, HasSubstr("\"waited\":true"));
  EXPECT_EQ(held.size(), 7u) << out.str();
  for (const std::string& l : held)
    EXPECT_THAT(l, HasSubstr("\"alert\":false,\"superseded\":true"));
  for (const std::string& l : alerted) EXPECT_THAT(l, Not(HasSubstr("\"alert\":false")));
}

// `sudo reboot` on RHEL 9: one alert (the shutdown); the loggers and
// auditd stopping after it are held (quiet_after), auditd's high too. The
// same stops without a shutdown before them alert.
TEST(RunTestRulesTest, APlannedRebootAlertsOnceTheStopsAfterItAreHeld) {
  TempDir dir;
  const std::string stops =
      "Dec  3 06:00:01 rhel9 systemd[1]: Stopping Security Auditing Service...\n"
      "Dec  3 06:00:01 rhel9 auditd[780]: The audit daemon is exiting.\n"
      "Dec  3 06:00:01 rhel9 kernel: audit: type=1305 audit(1796277601.123:700): op=set "
      "audit_pid=0 old=780 auid=4294967295 ses=4294967295 res=1\n"
      "Dec  3 06:00:01 rhel9 systemd[1]: Stopped Security Auditing Service.\n"
      "Dec  3 06:00:01 rhel9 systemd[1]: Stopping System Logging Service...\n"
      "Dec  3 06:00:01 rhel9 rsyslogd[1102]: [origin software=\"rsyslogd\" "
      "swVersion=\"8.2102.0-117.el9\" x-pid=\"1102\" x-info=\"https://www.rsyslog.com\"] exiting "
      "on signal 15.\n"
      "Dec  3 06:00:02 rhel9 systemd-journald[650]: Journal stopped\n";
  const std::string reboot =
      "Dec  3 06:00:00 rhel9 sudo[5001]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
      "COMMAND=/usr/sbin/reboot\n"
      "Dec  3 06:00:00 rhel9 systemd-logind[801]: System is rebooting.\n";
  auto raised = [&](const std::string& text) {
    std::ostringstream out, err;
    EXPECT_EQ(RunTestRules(JsonWithCorrelations(dir.Write("messages", text)), out, err), 0)
        << err.str();
    std::vector<std::string> alerts;
    std::istringstream lines(out.str());
    for (std::string l; std::getline(lines, l);) {
      if (l.find("\"severity\":\"info\"") != std::string::npos) continue;
      if (l.find("\"pending\":true") != std::string::npos) continue;  // raised later
      if (l.find("\"held\":true") == std::string::npos) alerts.push_back(l);
    }
    return alerts;
  };
  const std::vector<std::string> planned = raised(reboot + stops);
  ASSERT_EQ(planned.size(), 1u);  // low: a planned reboot is routine, on record
  EXPECT_THAT(planned[0], HasSubstr("\"sign\":\"system.shutdown\""));
  EXPECT_THAT(planned[0], HasSubstr("\"severity\":\"low\""));
  const std::vector<std::string> unannounced = raised(stops);
  ASSERT_EQ(unannounced.size(), 2u);  // the first stop, and auditd's more severe one
  EXPECT_THAT(unannounced[0], HasSubstr("\"sign\":\"syslog.stopped\""));
  EXPECT_THAT(unannounced[1], HasSubstr("\"severity\":\"high\""));
}

// Year-less stamps are read against the file's modification time: a burst
// from Jan 31 23:59 to Feb 1 00:00 in a log last written in February 2027
// stays one burst in 2027 (against a fixed reference the February lines
// would fall a year back and split it).
TEST(RunTestRulesTest, YearOfBsdStampsFollowsTheFileModificationTime) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 10; ++i) {
    text += (i < 5 ? "Jan 31 23:59:5" : "Feb  1 00:00:0") + std::to_string(i) +
            " bar sshd[1]: Failed password for root from 10.0.5.9 port 7 ssh2\n";
  }
  const std::string log = dir.Write("auth.log", text);
  const timespec feb2027[2] = {{1801526400, 0}, {1801526400, 0}};  // 2027-02-02
  ASSERT_EQ(utimensat(AT_FDCWD, log.c_str(), feb2027, 0), 0);
  const TestRulesOptions opts = JsonWithCorrelations(log);
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("\"sign\":\"ssh.bruteforce\""));
  EXPECT_THAT(out.str(), HasSubstr("2027-01-31T23:59:5"));
  EXPECT_THAT(out.str(), Not(HasSubstr("2025-")));
}

// A web server's own access log, replayed: each line at its [stamp], so
// 25 login posts over two hours are no burst, and the same 25 within a
// minute are (read at the file's modification time, both were one burst).
TEST(RunTestRulesTest, HeaderlessAccessLogLinesRunAtTheirOwnStamps) {
  TempDir dir;
  auto posts = [](int seconds_apart) {
    std::string text;
    for (int i = 0; i < 25; ++i) {
      const int t = i * seconds_apart;
      char stamp[32];
      std::snprintf(stamp, sizeof stamp, "03/Dec/2026:%02d:%02d:%02d", 10 + t / 3600, t / 60 % 60,
                    t % 60);
      text += std::string("203.0.113.5 - - [") + stamp +
              " +0900] \"POST /wp-login.php HTTP/1.1\" 200 4523 \"-\" \"Mozilla/5.0\"\n";
    }
    return text;
  };
  for (const auto& [seconds_apart, burst] : {std::pair{300, false}, std::pair{2, true}}) {
    const std::string log = dir.Write("access.log", posts(seconds_apart));
    std::ostringstream out, err;
    ASSERT_EQ(RunTestRules(JsonWithCorrelations(log), out, err), 0) << err.str();
    if (burst) {
      EXPECT_THAT(out.str(), HasSubstr("\"sign\":\"web.bruteforce\""));
      EXPECT_THAT(out.str(), HasSubstr("\"first_time\":\"2026-12-03T01:00:00"));
    } else {
      EXPECT_THAT(out.str(), Not(HasSubstr("\"sign\":\"web.bruteforce\""))) << out.str();
    }
  }
}

TEST(RunTestRulesTest, ReportsProgressOnStderr) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 5; ++i)
    text += "Mar  7 18:53:22 bar sshd[1]: Invalid user x from 192.0.2.9\n";
  const std::string log = dir.Write("big.log", text);
  TestRulesOptions opts;
  opts.rules_dir = kPatterns;
  opts.files = {log};
  opts.progress_every_lines = 2;
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0);
  EXPECT_EQ(err.str(), "test-rules: " + log + ": 2 lines, 1 matches so far\n" +
                           "test-rules: " + log + ": 4 lines, 3 matches so far\n");
}

TEST(RunTestRulesTest, MissingFileAndMissingRulesAreErrors) {
  std::ostringstream out, err;
  TestRulesOptions opts;
  opts.rules_dir = kPatterns;
  opts.files = {"/nonexistent/konseki.log"};
  EXPECT_EQ(RunTestRules(opts, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("cannot open /nonexistent/konseki.log: No such file"));

  opts.rules_dir = "/nonexistent/patterns";
  std::ostringstream out2, err2;
  EXPECT_EQ(RunTestRules(opts, out2, err2), 1);
  EXPECT_THAT(err2.str(), HasSubstr("/nonexistent/patterns"));
  EXPECT_THAT(out2.str(), Not(HasSubstr("Lines:")));
}

TEST(RunTestRulesTest, UnreadableFileSaysPermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads any file";
  TempDir dir;
  const std::string log = dir.Write("secret.log", "x\n");
  std::filesystem::permissions(log, std::filesystem::perms::none);
  TestRulesOptions opts;
  opts.rules_dir = kPatterns;
  opts.files = {log};
  std::ostringstream out, err;
  EXPECT_EQ(RunTestRules(opts, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("cannot open " + log + ": Permission denied"));
}

// Two sshd failures, one sshd line nothing matches, one cron line nothing
// matches, one sudo violation.
std::string WriteMixedLog(const TempDir& dir) {
  return dir.Write("mixed.log",
                   "Mar  7 18:53:20 bar sshd[1]: Failed password for root from 192.0.2.1 port 22 "
                   "ssh2\n"
                   "Mar  7 18:53:21 bar sshd[1]: Server listening on 0.0.0.0 port 22.\n"
                   "Mar  7 18:53:22 bar CRON[2]: (CRON) info (No MTA installed, discarding "
                   "output)\n"
                   "Mar  7 18:53:23 bar sshd[3]: Invalid user x from 192.0.2.9 port 1\n"
                   "Mar  7 18:53:24 bar sudo:  eve : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; "
                   "USER=root ; COMMAND=/bin/sh\n");
}

TEST(RunTestRulesTest, SummaryPrintsOnlyCountsPerRuleAndSign) {
  TempDir dir;
  TestRulesOptions opts;
  opts.rules_dir = kPatterns;
  opts.files = {WriteMixedLog(dir)};
  opts.summary = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), Not(HasSubstr("mixed.log:")));
  EXPECT_THAT(out.str(), HasSubstr("Lines: 5 read, 0 skipped (empty or #), 3 matched, 3 matches"));
  EXPECT_THAT(out.str(), HasSubstr("  1\tsshd.failed_auth [ssh.auth_failure]\n"));
  EXPECT_THAT(out.str(), HasSubstr("Signs:\n  2\tssh.auth_failure\n  1\tsudo.violation\n"));
}

TEST(RunTestRulesTest, MissedPrintsTheUnmatchedLinesOptionallyOfOneProgram) {
  TempDir dir;
  const std::string log = WriteMixedLog(dir);
  TestRulesOptions opts;
  opts.rules_dir = kPatterns;
  opts.files = {log};
  opts.missed = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), log +
                           ":2: Mar  7 18:53:21 bar sshd[1]: Server listening on 0.0.0.0 port "
                           "22.\n" +
                           log +
                           ":3: Mar  7 18:53:22 bar CRON[2]: (CRON) info (No MTA installed, "
                           "discarding output)\n");
  EXPECT_THAT(err.str(), HasSubstr("2 missed shown"));

  opts.missed_program = "cron";  // the TAG is "CRON": compared ignoring case
  std::ostringstream out2, err2;
  ASSERT_EQ(RunTestRules(opts, out2, err2), 0) << err2.str();
  EXPECT_EQ(out2.str(), log +
                            ":3: Mar  7 18:53:22 bar CRON[2]: (CRON) info (No MTA installed, "
                            "discarding output)\n");
}

// A line can carry terminal controls (an OSC title, a C1 CSI, DEL): the
// text output and --explain print them as the archive writes them ("#033"),
// JSON escapes DEL and C1 as well as C0.
TEST(RunTestRulesTest, TerminalControlsFromTheLinesArePrintedEscaped) {
  TempDir dir;
  const std::string line =
      "Mar  7 18:53:20 bar sshd[1]: Failed password for ro\x1b]2;x\x07ot\x7f\xc2\x9b from "
      "192.0.2.9 port 7 ssh2";
  const std::string log = dir.Write("esc.log", line + "\n");
  TestRulesOptions opts;
  opts.rules_dir = kPatterns;
  opts.files = {log};
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("user=ro#033]2;x#007ot#177#302#233 src_ip=192.0.2.9"));
  EXPECT_THAT(out.str(), HasSubstr("Failed password for ro#033]2;x#007ot#177#302#233 from"));
  EXPECT_THAT(out.str(), Not(HasSubstr("\x1b")));
  EXPECT_THAT(out.str(), Not(HasSubstr("\x7f")));
  EXPECT_THAT(out.str(), Not(HasSubstr("\xc2\x9b")));

  opts.json = true;
  std::ostringstream json, json_err;
  ASSERT_EQ(RunTestRules(opts, json, json_err), 0) << json_err.str();
  EXPECT_THAT(json.str(), HasSubstr("\"user\":\"ro\\u001b]2;x\\u0007ot\\u007f\\u009b\""));

  opts.json = false;
  opts.missed = true;
  const std::string missed_log = dir.Write("missed.log", "Mar  7 18:53:21 bar x[1]: a\x1b[2Jb\n");
  opts.files = {missed_log};
  std::ostringstream missed, missed_err;
  ASSERT_EQ(RunTestRules(opts, missed, missed_err), 0) << missed_err.str();
  EXPECT_EQ(missed.str(), missed_log + ":1: Mar  7 18:53:21 bar x[1]: a#033[2Jb\n");

  ExplainOptions explain;
  explain.rules_dir = kPatterns;
  explain.line = line;
  std::ostringstream text, text_err;
  ASSERT_EQ(RunExplain(explain, text, text_err), 0) << text_err.str();
  EXPECT_THAT(text.str(), HasSubstr("message:         Failed password for ro#033]2;x#007ot#177"));
  EXPECT_THAT(text.str(), Not(HasSubstr("\x1b")));
}

TEST(RunExplainTest, TextShowsTheParsedHeaderAndEachMatchWithFields) {
  ExplainOptions opts;
  opts.rules_dir = kPatterns;
  opts.line =
      "<38>Mar  7 18:53:20 bar sshd[1556]: Failed password for root from 192.0.2.1 "
      "port 22 ssh2";
  std::ostringstream out, err;
  ASSERT_EQ(RunExplain(opts, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("format:          rfc3164\n"));
  EXPECT_THAT(out.str(), HasSubstr("pri:             38 (facility 4, severity 6)\n"));
  EXPECT_THAT(out.str(), HasSubstr("host:            bar\n"));
  EXPECT_THAT(out.str(), HasSubstr("program:         sshd\n"));
  EXPECT_THAT(out.str(), HasSubstr("tag:             sshd[1556]:\n"));
  EXPECT_THAT(out.str(), HasSubstr("pid:             1556\n"));
  EXPECT_THAT(out.str(), HasSubstr("message:         Failed password for root from"));
  EXPECT_THAT(out.str(),
              HasSubstr("rules:           1 match\n  sshd.failed_auth [ssh.auth_failure] "
                        "low: method=password user=root src_ip=192.0.2.1 port=22"));
}

// A file line forwarded by imfile, holding a repeat line: the parts are the
// inner line's, the tag is the daemon's, and the count shows.
TEST(RunExplainTest, ShowsTheDaemonsLineInsideWhatTheSenderWrapped) {
  ExplainOptions opts;
  opts.rules_dir = kPatterns;
  opts.line =
      "<133>Nov 23 08:29:59 web1 auth: Nov 20 07:48:43 web1 sshd[24490]: message repeated 3 "
      "times: [ Failed password for root from 203.0.113.5 port 44911 ssh2]";
  std::ostringstream out, err;
  ASSERT_EQ(RunExplain(opts, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("program:         sshd\n"));
  EXPECT_THAT(out.str(), HasSubstr("tag:             sshd[24490]:\n"));
  EXPECT_THAT(out.str(), HasSubstr("message:         Failed password for root from 203.0.113.5 "
                                   "port 44911 ssh2\nrepeated:        3 times"));
  EXPECT_THAT(out.str(), HasSubstr("sshd.failed_auth [ssh.auth_failure]"));
  opts.json = true;
  std::ostringstream json, err2;
  ASSERT_EQ(RunExplain(opts, json, err2), 0) << err2.str();
  EXPECT_THAT(json.str(), HasSubstr("\"tag\":\"sshd[24490]:\""));
  EXPECT_THAT(json.str(), HasSubstr("\"repeats\":3,\"matches\""));
}

// A stamp without a year is this year's, as the server would read it now.
TEST(RunExplainTest, AStampWithoutAYearIsReadAsReceivedNow) {
  const time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  struct tm tm;
  gmtime_r(&now, &tm);
  char stamp[32], day[16];
  strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
  strftime(day, sizeof day, "%Y-%m-%d", &tm);
  ExplainOptions opts;
  opts.rules_dir = kPatterns;
  opts.line = std::string("<38>") + stamp + " web1 app[1]: hello";
  std::ostringstream out, err;
  ASSERT_EQ(RunExplain(opts, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr(std::string("time:            ") + day + "T")) << out.str();
}

TEST(RunExplainTest, JsonHasEveryParsedPartAndNullPriWithoutOne) {
  ExplainOptions opts;
  opts.rules_dir = kPatterns;
  opts.json = true;
  opts.line =
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
      "[exampleSDID@32473 iut=\"3\"] An application event";
  std::ostringstream out, err;
  ASSERT_EQ(RunExplain(opts, out, err), 0) << err.str();
  EXPECT_EQ(out.str(),
            "{\"format\":\"rfc5424\",\"issue\":\"none\",\"pri\":165,\"facility\":20,"
            "\"severity\":5,\"time\":\"2003-10-11T22:14:15.003000Z\",\"time_from_header\":true,"
            "\"host\":\"mymachine.example.com\",\"program\":\"evntslog\",\"tag\":\"evntslog\","
            "\"pid\":\"\","
            "\"msgid\":\"ID47\",\"structured_data\":\"[exampleSDID@32473 iut=\\\"3\\\"]\","
            "\"message\":\"An application event\",\"matches\":[]}\n");

  opts.line = "plain text";
  std::ostringstream out2, err2;
  ASSERT_EQ(RunExplain(opts, out2, err2), 0) << err2.str();
  EXPECT_THAT(out2.str(),
              HasSubstr("\"format\":\"unparsed\",\"issue\":\"no_header\",\"pri\":null,"));
}

// "Dec  3 01:02:00" for a number of minutes since Dec 1 00:00, for the
// heartbeat tests' files (read against a modification time of Dec 4 2026).
std::string DecStamp(int minutes) {
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "Dec %2d %02d:%02d:00", 1 + minutes / 1440, minutes / 60 % 24,
                minutes % 60);
  return stamp;
}

std::string WriteDecLog(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string log = dir.Write(name, text);
  const timespec dec4[2] = {{1796342400, 0}, {1796342400, 0}};  // 2026-12-04T00:00:00Z
  EXPECT_EQ(utimensat(AT_FDCWD, log.c_str(), dec4, 0), 0);
  return log;
}

// The heartbeat on the file's stamps (time24's 10-host-stops-after-root,
// stories22's bastion01): web1 logs every 10 min, takes a root password
// login from outside at 02:05 and then nothing more, while web2 goes on
// till 05:00. Its silence is judged when it was due, one learning
// threshold (3600 s) after its last line, critical after the login's high
// alert, about that last line; without the heartbeat there is none.
// web1 logs every 10 min, a root login at 02:05, then nothing; web2 logs
// every 10 min for five hours. With `late_at` >= 0, a line of web3 stamped
// two hours before the file's clock comes at that minute. Returns the file;
// *accepted_line is the login's line.
std::string HostStopsAfterRootLogin(const TempDir& dir, int late_at, int* accepted_line) {
  std::string text;
  int lines = 0;
  for (int m = 0; m <= 300; m += 5) {
    if (m % 10 == 0 && m <= 120) {
      text += DecStamp(m) + " web1 CRON[" + std::to_string(100 + m) + "]: (root) CMD (true)\n";
      ++lines;
    }
    if (m == 125) {
      text += DecStamp(m) +
              " web1 sshd[800]: Accepted password for root from 203.0.113.9 port 40000 ssh2\n";
      *accepted_line = ++lines;
    }
    if (m == late_at) {
      text += DecStamp(m - 120) + " web3 CRON[900]: (root) CMD (true)\n";
      ++lines;
    }
    if (m % 10 == 0) {
      text += DecStamp(m) + " web2 CRON[" + std::to_string(500 + m) + "]: (root) CMD (true)\n";
      ++lines;
    }
  }
  return WriteDecLog(dir, "syslog", text);
}

// The --json records of test-rules' heartbeat over `log`.
std::vector<std::string> HeartbeatRecords(TestRulesOptions* opts, std::string* err_text) {
  opts->heartbeat = true;
  std::ostringstream out, err;
  EXPECT_EQ(RunTestRules(*opts, out, err), 0) << err.str();
  *err_text = err.str();
  std::istringstream records(out.str());
  std::vector<std::string> heartbeat;
  for (std::string l; std::getline(records, l);) {
    if (l.find("\"heartbeat\":true") != std::string::npos) heartbeat.push_back(l);
  }
  return heartbeat;
}

TEST(RunTestRulesTest, AHostThatStopsIsSilentOnTheFilesClock) {
  TempDir dir;
  int accepted_line = 0;
  const std::string log = HostStopsAfterRootLogin(dir, -1, &accepted_line);
  TestRulesOptions opts = JsonWithCorrelations(log);
  std::string err_text;
  const std::vector<std::string> heartbeat = HeartbeatRecords(&opts, &err_text);
  ASSERT_EQ(heartbeat.size(), 1u);
  EXPECT_THAT(heartbeat[0], HasSubstr("\"rule\":\"heartbeat.silent\",\"sign\":\"host.silent\","
                                      "\"severity\":\"critical\",\"host\":\"web1\""));
  EXPECT_THAT(heartbeat[0], HasSubstr("\"last_seen\":\"2026-12-01T02:05:00.000000Z\""));
  EXPECT_THAT(heartbeat[0], HasSubstr("\"after_alert\":\"ssh.login\""));
  EXPECT_THAT(heartbeat[0],
              HasSubstr("\"heartbeat\":true,\"time\":\"2026-12-01T03:05:00.000000Z\""));
  EXPECT_THAT(heartbeat[0], HasSubstr("\"origin_line_no\":" + std::to_string(accepted_line) + ","));
  EXPECT_THAT(err_text, HasSubstr("1 heartbeat alerts"));
  EXPECT_THAT(err_text, HasSubstr("Heartbeat:\n  1\thost.silent\n"));

  opts.json = false;
  std::ostringstream text_out, err2;
  ASSERT_EQ(RunTestRules(opts, text_out, err2), 0) << err2.str();
  EXPECT_THAT(text_out.str(), HasSubstr(": => heartbeat.silent [host.silent] critical host=web1 "));
  EXPECT_THAT(text_out.str(), HasSubstr(" at 2026-12-01T03:05:00.000000Z\n    about " + log + ":" +
                                        std::to_string(accepted_line) + "\n"));

  opts.heartbeat = false;  // --no-heartbeat
  std::ostringstream off, err3;
  ASSERT_EQ(RunTestRules(opts, off, err3), 0) << err3.str();
  EXPECT_THAT(off.str(), Not(HasSubstr("host.silent")));
}

// A host that logs twice a day (db1: 06:00 and 18:00 over three days) and
// one that sent a single burst (fw1) are not silent in a replay: the input
// never showed them logging for as long as the silence they would be
// blamed for (the server, watching from their first line ever, learns
// them; a replay starts in the middle of their lives). Nor is a host new
// for coming after the input's first hour.

// A line stamped more than an hour before the file's clock: the input is
// no timeline (sample lines of unrelated hours), and the replay judges no
// silence from there on.
TEST(RunTestRulesTest, AFileThatIsNoTimelineStopsTheHeartbeat) {
  TempDir dir;
  int accepted_line = 0;
  const std::string log = HostStopsAfterRootLogin(dir, 150, &accepted_line);
  TestRulesOptions opts = JsonWithCorrelations(log);
  std::string err_text;
  EXPECT_THAT(HeartbeatRecords(&opts, &err_text), ::testing::IsEmpty());
}

// The host that stopped comes back: its resumption is low in a replay.
TEST(RunTestRulesTest, AResumptionInAReplayIsLow) {
  TempDir dir;
  int accepted_line = 0;
  const std::string story = HostStopsAfterRootLogin(dir, -1, &accepted_line);
  std::string text;
  {
    std::ifstream in(story);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  text += DecStamp(305) + " web1 CRON[999]: (root) CMD (true)\n";
  TestRulesOptions opts = JsonWithCorrelations(WriteDecLog(dir, "syslog2", text));
  std::string err_text;
  const std::vector<std::string> heartbeat = HeartbeatRecords(&opts, &err_text);
  ASSERT_EQ(heartbeat.size(), 2u);
  EXPECT_THAT(heartbeat[0], HasSubstr("\"sign\":\"host.silent\",\"severity\":\"critical\""));
  EXPECT_THAT(heartbeat[1], HasSubstr("\"sign\":\"host.resumed\",\"severity\":\"low\""));
}
TEST(RunTestRulesTest, AHostThatLogsRarelyIsNotSilentOnTheFilesClock) {
  TempDir dir;
  std::string text;
  for (int m = 0; m < 3 * 1440; m += 30) {
    text += DecStamp(m) + " web2 CRON[" + std::to_string(m) + "]: (root) CMD (true)\n";
    if (m % 720 == 360) {
      text += DecStamp(m) + " db1 CRON[" + std::to_string(m + 1) + "]: (root) CMD (true)\n";
    }
    if (m == 540) {
      for (int i = 0; i < 5; ++i) {
        text += DecStamp(m) +
                " fw1 kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.7 "
                "DST=192.0.2.10 LEN=60 PROTO=TCP SPT=4000" +
                std::to_string(i) + " DPT=22\n";
      }
    }
  }
  const std::string log = WriteDecLog(dir, "syslog", text);
  TestRulesOptions opts = JsonWithCorrelations(log);
  opts.heartbeat = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), Not(HasSubstr("\"heartbeat\":true"))) << out.str();
  EXPECT_THAT(err.str(), Not(HasSubstr("Heartbeat:")));
}

// heartbeat31 a11: relay1 (10.0.0.5) forwards web1 (a line a minute) and
// db1 (every 5 min) and logs itself every 5 min; at 02:00:11 its rsyslog
// stops. The hosts' last lines are spread by their own spacing (web1
// 02:00:05, db1 02:00:19), and nothing comes from the sender for 2.5 h.
// With `relay_alive` web1 and db1 go on through it (only the relay's own
// logger stopped). Every line came from 10.0.0.5 (--sender).
std::string RelayStops(const TempDir& dir, bool relay_alive) {
  auto stamp = [](int secs) {
    char s[32];
    std::snprintf(s, sizeof s, "Dec  1 %02d:%02d:%02d", secs / 3600, secs / 60 % 60, secs % 60);
    return std::string(s);
  };
  std::string text;
  const int stop = 2 * 3600 + 11;
  for (int t = 0; t < 5 * 3600; t += 60) {
    const bool down = t > stop && t < 4 * 3600 + 1800;
    if (!down || relay_alive) {
      text += stamp(t + 5) + " web1 CRON[" + std::to_string(1000 + t) + "]: (root) CMD (true)\n";
    }
    if (t % 300 == 0 && !down) {
      text += stamp(t + 11) + " relay1 named[811]: resolver priming query complete: success\n";
    }
    if (t == 2 * 3600) {
      text += stamp(stop) +
              " relay1 rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2112.0\" "
              "x-pid=\"801\" x-info=\"https://www.rsyslog.com\"] exiting on signal 15.\n";
    }
    if (t % 300 == 0 && (!down || relay_alive)) {
      text += stamp(t + 19) + " db1 postgres[1123]: [3-1] LOG:  checkpoint starting: time\n";
    }
  }
  return WriteDecLog(dir, relay_alive ? "alive" : "dead", text);
}

TEST(RunTestRulesTest, ARelayThatStopsIsOneRelayAlertNamingItsHosts) {
  TempDir dir;
  TestRulesOptions opts = JsonWithCorrelations(RelayStops(dir, false));
  opts.sender = "10.0.0.5";
  opts.correlation.host_addresses["relay1"] = {"10.0.0.5"};
  std::string err_text;
  const std::vector<std::string> heartbeat = HeartbeatRecords(&opts, &err_text);
  std::vector<std::string> relay;
  for (const std::string& r : heartbeat) {
    if (r.find("\"sign\":\"host.relay_silent\"") != std::string::npos) relay.push_back(r);
  }
  ASSERT_EQ(relay.size(), 1u) << err_text;
  EXPECT_THAT(relay[0], HasSubstr("\"rule\":\"heartbeat.relay_silent\",\"sign\":\"host.relay_"
                                  "silent\",\"severity\":\"high\",\"host\":\"relay1\""));
  EXPECT_THAT(relay[0], HasSubstr("\"hosts\":\"db1, relay1, web1\""));
  EXPECT_THAT(relay[0], HasSubstr("\"first_stopped\":\"2026-12-01T02:00:05.000000Z\""));
  EXPECT_THAT(relay[0], HasSubstr("\"last_stopped\":\"2026-12-01T02:00:19.000000Z\""));
  // relay1's own silence (its stop line: critical) names the others.
  EXPECT_THAT(heartbeat[0], HasSubstr("\"sign\":\"host.silent\",\"severity\":\"critical\","
                                      "\"host\":\"relay1\""));
  EXPECT_THAT(heartbeat[0], HasSubstr("\"same_sender_silent\":\"db1, web1\""));
  EXPECT_THAT(heartbeat[0], HasSubstr("\"sender_alive\":\"false\""));
  EXPECT_THAT(err_text, HasSubstr("  1\thost.relay_silent\n"));

  // Without --sender there is no sender to group by.
  opts.sender.clear();
  EXPECT_THAT(HeartbeatRecords(&opts, &err_text),
              Not(::testing::Contains(HasSubstr("host.relay_silent"))));
}

TEST(RunTestRulesTest, ARelayWhoseOwnLoggerStoppedButForwardsIsNoRelayAlert) {
  TempDir dir;
  TestRulesOptions opts = JsonWithCorrelations(RelayStops(dir, true));
  opts.sender = "10.0.0.5";
  std::string err_text;
  const std::vector<std::string> heartbeat = HeartbeatRecords(&opts, &err_text);
  ASSERT_FALSE(heartbeat.empty()) << err_text;
  EXPECT_THAT(heartbeat, Not(::testing::Contains(HasSubstr("host.relay_silent"))));
  EXPECT_THAT(heartbeat[0], HasSubstr("\"host\":\"relay1\""));
  EXPECT_THAT(heartbeat[0], HasSubstr("\"sender_alive\":\"true\""));
}

}  // namespace
}  // namespace konseki::app
