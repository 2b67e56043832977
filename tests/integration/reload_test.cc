// SIGHUP on a running konseki: a new rule file takes effect without losing
// a connection or a message; an invalid rule file leaves the old rules in
// force and raises an alert saying why; the archive is reopened after
// logrotate moved it.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

namespace fs = std::filesystem;

void Send(int fd, const std::string& s) { ASSERT_TRUE(SendAll(fd, s)); }

constexpr char kNewRule[] = R"(pack: local
rules:
  - id: local.canary
    sign: local.canary
    title: Canary line seen
    severity: high
    description: A line the admin asked to be told about.
    match: 'canary-[0-9]+ tripped'
    extract: 'canary-(?P<id>[0-9]+) tripped'
    examples:
      match:
        - line: "Nov 23 08:00:00 h app: canary-7 tripped"
          fields: {id: "7"}
      no_match:
        - "Nov 23 08:00:00 h app: canary resting"
)";

TEST(ReloadTest, SighupSwapsRulesKeepsConnectionsAndRefusesBadRules) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string rules = dir.File("rules");
  fs::create_directories(rules);
  fs::copy(std::string(KONSEKI_SOURCE_DIR) + "/patterns", rules, fs::copy_options::recursive);
  const std::string alerts = dir.File("alerts.jsonl");
  const std::string archive = dir.File("archive");
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tcp://127.0.0.1:0]\n"
                      "rules: {dir: " +
                          rules +
                          "}\n"
                          "archive: {dir: " +
                          archive +
                          "}\n"
                          "alerts: {file: " +
                          alerts +
                          ", stdout: false}\n"
                          "metrics: {listen: ''}\nworkers: 2\n",
                      &err))
      << err;
  int fd = ConnectTcp(k.Port("tcp"));
  ASSERT_GE(fd, 0);
  Send(fd, "<13>Nov 23 08:00:00 h1 app: canary-1 tripped\n");
  ASSERT_TRUE(WaitFor([&] { return ArchiveLines(archive, "h1").size() == 1; }));
  EXPECT_EQ(ReadFile(alerts).find("local.canary"), std::string::npos);

  // logrotate moves today's file away, then konseki is told.
  fs::path day = fs::directory_iterator(archive + "/h1")->path();
  fs::rename(day, day.string() + ".1");
  std::ofstream(rules + "/local.yaml") << kNewRule;
  ASSERT_EQ(kill(k.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] { return k.process().Stderr().find("reloaded") != std::string::npos; },
                      kCompileTimeout))
      << k.process().Stderr();

  // Same connection, new rule in force, new archive file.
  Send(fd, "<13>Nov 23 08:00:01 h1 app: canary-2 tripped\n");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(alerts).find("local.canary") != std::string::npos; }))
      << ReadFile(alerts);
  EXPECT_THAT(ReadFile(alerts), ::testing::HasSubstr("\"id\":2"));
  // The worker writes its buffers when its queue pauses (idle_flush_delay),
  // so the new file may exist a moment before the line is in it.
  ASSERT_TRUE(WaitFor([&] { return ReadFile(day.string()).find("canary-2") != std::string::npos; }))
      << ReadFile(day.string());
  EXPECT_THAT(ReadFile(day.string() + ".1"), ::testing::HasSubstr("canary-1"));

  // A broken rule: the old set stays, an alert says why.
  std::ofstream(rules + "/broken.yaml")
      << "pack: broken\nrules:\n  - id: broken.one\n    sign: crash\n    title: t\n"
         "    severity: high\n    description: d\n    match: '(unclosed'\n";
  ASSERT_EQ(kill(k.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(alerts).find("konseki.rules_invalid") != std::string::npos;
  })) << ReadFile(alerts);
  EXPECT_THAT(ReadFile(alerts), ::testing::HasSubstr("broken.yaml"));
  Send(fd, "<13>Nov 23 08:00:02 h1 app: canary-3 tripped\n");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(alerts).find("\"id\":3") != std::string::npos; }))
      << ReadFile(alerts);
  close(fd);
  EXPECT_TRUE(k.process().running());
}

// logrotate moved the alert file's folder away and did not recreate it (or
// made it unwritable): the reopen on SIGHUP fails. That must be said (an
// alert and konseki_reload_errors_total{what="alerts_file"}), and alerts go
// on into the old file rather than nowhere.
TEST(ReloadTest, FailedAlertFileReopenIsAlertedCountedAndKeepsTheOldFile) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string alerts = dir.File("alerts/alerts.jsonl");
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tcp://127.0.0.1:0]\n"
                      "archive: {dir: " +
                          dir.File("archive") +
                          "}\n"
                          "alerts: {file: " +
                          alerts +
                          ", stdout: false}\n"
                          "metrics: {listen: 127.0.0.1:0}\n",
                      &err))
      << err;
  fs::rename(dir.File("alerts"), dir.File("alerts.rotated"));
  const std::string old_file = dir.File("alerts.rotated/alerts.jsonl");
  kill(k.process().pid(), SIGHUP);
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(old_file).find("konseki.alerts_reopen_failed") != std::string::npos;
  })) << "no alert in the old file:\n"
      << ReadFile(old_file) << "\n"
      << k.process().Stderr();
  EXPECT_EQ(SumMetric(FetchMetrics(k.MetricsPort()), "konseki_reload_errors_total",
                      "what=\"alerts_file\""),
            1);
  EXPECT_NE(k.process().Stderr().find("cannot reopen the alert file"), std::string::npos);
  EXPECT_FALSE(fs::exists(alerts)) << "the folder was not recreated behind the admin's back";
}

}  // namespace
}  // namespace konseki::testing

namespace konseki::testing {
namespace {

// "Mmm dd HH:MM:SS" of `t` shifted by `offset_secs` (an RFC 3164 stamp).
std::string BsdStamp(time_t t, int offset_secs) {
  t += offset_secs;
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%b %e %H:%M:%S", &tm);
  return buf;
}

std::string Rfc3339Second(time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

// parser.timezones: a sender's zone applies to its stamps; a config with an
// unknown zone does not start, and on SIGHUP it is refused (an alert says
// which entry) while the running map stays in force.
TEST(ReloadTest, SenderZonesApplyAndABadZoneIsRefusedOnStartAndOnSighup) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string rules = dir.File("rules");
  fs::create_directories(rules);
  std::ofstream(rules + "/local.yaml") << kNewRule;
  const std::string alerts = dir.File("alerts.jsonl");
  const std::string base = "listen: [tcp://127.0.0.1:0]\nrules: {dir: " + rules +
                           "}\narchive: {dir: " + dir.File("archive") +
                           "}\nalerts: {file: " + alerts +
                           ", stdout: false}\nmetrics: {listen: ''}\n";
  const std::string bad_zone =
      "parser:\n  timezone: \"+09:00\"\n  timezones: [{hosts: [us-legacy], zone: Mars/Olympus}]\n";
  {
    Konseki refused;
    std::string err;
    EXPECT_FALSE(refused.Start(dir, base + bad_zone, &err));
    EXPECT_THAT(err + refused.process().Stderr(), ::testing::HasSubstr("Mars/Olympus"));
  }
  Konseki k;
  std::string err;
  const std::string good =
      "parser:\n  timezone: \"+09:00\"\n  timezones: [{hosts: [us-legacy], zone: \"-05:00\"}]\n";
  ASSERT_TRUE(k.Start(dir, base + good, &err)) << err;
  int fd = ConnectTcp(k.Port("tcp"));
  ASSERT_GE(fd, 0);
  const time_t event = time(nullptr) - 60;
  Send(fd, "<13>" + BsdStamp(event, -5 * 3600) + " us-legacy app: canary-1 tripped\n");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(alerts).find("\"id\":1") != std::string::npos; }))
      << ReadFile(alerts);
  EXPECT_THAT(ReadFile(alerts), ::testing::HasSubstr("\"time\":\"" + Rfc3339Second(event)));

  std::ofstream(dir.File("konseki.yaml")) << base + bad_zone + "allow_root: true\n";
  ASSERT_EQ(kill(k.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(alerts).find("konseki.config_invalid") != std::string::npos;
  })) << ReadFile(alerts)
      << k.process().Stderr();
  EXPECT_THAT(ReadFile(alerts), ::testing::HasSubstr("parser.timezones[0]: time zone 'Mars"));
  Send(fd, "<13>" + BsdStamp(event + 1, -5 * 3600) + " us-legacy app: canary-2 tripped\n");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(alerts).find("\"id\":2") != std::string::npos; }))
      << ReadFile(alerts);
  EXPECT_THAT(ReadFile(alerts), ::testing::HasSubstr("\"time\":\"" + Rfc3339Second(event + 1)));
  close(fd);
  EXPECT_TRUE(k.process().running());
}

}  // namespace
}  // namespace konseki::testing
