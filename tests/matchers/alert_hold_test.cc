#include "matchers/alert_hold.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace konseki::matchers {
namespace {

Rule MakeRule(const std::string& sign, Severity severity, int quiet_secs) {
  Rule r;
  r.id = sign + ".rule";
  r.sign = sign;
  r.severity = severity;
  r.quiet_secs = quiet_secs;
  return r;
}

TimePoint At(int secs) { return TimePoint(std::chrono::seconds(1'767'225'600 + secs)); }

TEST(AlertHoldTest, TheLinesOfOneEpisodeAlertOnce) {
  AlertHold hold;
  const Rule stop = MakeRule("syslog.stopped", Severity::kMedium, 300);
  EXPECT_FALSE(hold.Held("web1", stop, At(0)));    // Stopping System Logging Service...
  EXPECT_TRUE(hold.Held("web1", stop, At(0)));     // exiting on signal 15
  EXPECT_TRUE(hold.Held("web1", stop, At(1)));     // Deactivated successfully
  EXPECT_TRUE(hold.Held("web1", stop, At(1)));     // Stopped System Logging Service
  EXPECT_FALSE(hold.Held("web1", stop, At(302)));  // 301 s without one: a new episode
}

TEST(AlertHoldTest, TheHoldLastsWhileTheLinesKeepComing) {
  AlertHold hold;
  const Rule lost = MakeRule("log.lost", Severity::kMedium, 300);
  EXPECT_FALSE(hold.Held("db1", lost, At(0)));
  // A flood writes "Suppressed ..." every 30 s for an hour: one alert.
  for (int t = 30; t <= 3600; t += 30) EXPECT_TRUE(hold.Held("db1", lost, At(t))) << t;
  EXPECT_FALSE(hold.Held("db1", lost, At(3600 + 301)));
}

TEST(AlertHoldTest, OtherHostsAndOtherSignsAreTheirOwnEpisodes) {
  AlertHold hold;
  const Rule stop = MakeRule("syslog.stopped", Severity::kMedium, 300);
  const Rule down = MakeRule("system.shutdown", Severity::kMedium, 300);
  EXPECT_FALSE(hold.Held("web1", stop, At(0)));
  EXPECT_FALSE(hold.Held("web2", stop, At(0)));
  EXPECT_FALSE(hold.Held("web1", down, At(0)));
  EXPECT_TRUE(hold.Held("web2", stop, At(10)));
  EXPECT_EQ(hold.size(), 3u);
}

TEST(AlertHoldTest, AMoreSevereLineAlertsAndThenHoldsTheRest) {
  AlertHold hold;
  const Rule rsyslog = MakeRule("syslog.stopped", Severity::kMedium, 300);
  const Rule auditd = MakeRule("syslog.stopped", Severity::kHigh, 300);
  EXPECT_FALSE(hold.Held("web1", rsyslog, At(0)));
  EXPECT_FALSE(hold.Held("web1", auditd, At(5)));  // auditd stopped too: worth its alert
  EXPECT_TRUE(hold.Held("web1", auditd, At(6)));
  EXPECT_TRUE(hold.Held("web1", rsyslog, At(7)));
}

// `sudo reboot`: system.shutdown's alert; rsyslog's and auditd's stops
// after it are held, auditd's high too; a stop on another host, or long
// after the reboot, alerts.
TEST(AlertHoldTest, AnAnnouncingSignHoldsWhatFollowsWhateverItsSeverity) {
  AlertHold hold;
  const Rule down = MakeRule("system.shutdown", Severity::kMedium, 300);
  Rule rsyslog = MakeRule("syslog.stopped", Severity::kMedium, 300);
  rsyslog.quiet_after = {"system.shutdown"};
  Rule auditd = MakeRule("syslog.stopped", Severity::kHigh, 300);
  auditd.quiet_after = {"system.shutdown"};
  EXPECT_FALSE(hold.Held("web1", down, At(0)));
  EXPECT_TRUE(hold.Held("web1", down, At(0)));  // logind: System is rebooting.
  EXPECT_TRUE(hold.Held("web1", auditd, At(1)));
  EXPECT_TRUE(hold.Held("web1", rsyslog, At(1)));
  EXPECT_FALSE(hold.Held("web2", rsyslog, At(1)));
  // The rsyslog stop's own episode goes on: it holds its next line even
  // after the shutdown's has ended.
  EXPECT_TRUE(hold.Held("web1", rsyslog, At(250)));
  EXPECT_TRUE(hold.Held("web1", rsyslog, At(500)));
  EXPECT_FALSE(hold.Held("web1", auditd, At(2000)));  // no reboot announced it
  // Without quiet_after, a more severe stop after a shutdown alerts.
  const Rule plain = MakeRule("syslog.stopped", Severity::kHigh, 300);
  EXPECT_FALSE(hold.Held("web3", down, At(0)));
  EXPECT_FALSE(hold.Held("web3", plain, At(1)));
}

TEST(AlertHoldTest, LinesALittleOutOfOrderBelongToTheEpisode) {
  AlertHold hold;
  const Rule typo = MakeRule("sudo.violation", Severity::kMedium, 300);
  EXPECT_FALSE(hold.Held("web1", typo, At(100)));
  EXPECT_TRUE(hold.Held("web1", typo, At(98)));     // audit's line, stamped earlier
  EXPECT_FALSE(hold.Held("web1", typo, At(-300)));  // far before: another episode
}

TEST(AlertHoldTest, EachRuleUsesItsOwnQuietTime) {
  AlertHold hold;
  const Rule brief = MakeRule("sudo.violation", Severity::kMedium, 10);
  EXPECT_FALSE(hold.Held("web1", brief, At(0)));
  EXPECT_TRUE(hold.Held("web1", brief, At(10)));
  EXPECT_FALSE(hold.Held("web1", brief, At(21)));
}

// quiet_key: one crash's lines (the kernel's segfault of pid 4521, its
// core dump) are one alert; the next crash (another pid) is its own; a line
// without the field is not held; `pid` falls back to the line's PROCID.
TEST(AlertHoldTest, TheQuietKeyKeepsOneAlertPerValue) {
  AlertHold hold;
  Rule segv = MakeRule("crash", Severity::kHigh, 300);
  segv.quiet_key = {"pid"};
  Rule core = segv;
  core.id = "systemd.coredump";
  Message msg;
  msg.hostname = "shell";
  msg.received = At(0);
  auto hit = [](const Rule* r, std::vector<std::pair<std::string, std::string>> fields) {
    RuleHit h;
    h.rule = r;
    h.fields = std::move(fields);
    return h;
  };
  EXPECT_FALSE(hold.Held(msg, hit(&segv, {{"program", "hw3"}, {"pid", "4521"}})));
  msg.received = At(1);
  EXPECT_TRUE(hold.Held(msg, hit(&core, {{"pid", "4521"}, {"program", "hw3"}})));
  EXPECT_FALSE(hold.Held(msg, hit(&segv, {{"program", "hw3"}, {"pid", "4530"}})));
  EXPECT_FALSE(hold.Held(msg, hit(&segv, {{"program", "hw3"}})));  // no pid: alerts
  EXPECT_FALSE(hold.Held(msg, hit(&segv, {{"program", "hw3"}})));
  msg.procid = "777";  // the line's own pid
  EXPECT_FALSE(hold.Held(msg, hit(&segv, {})));
  EXPECT_TRUE(hold.Held(msg, hit(&segv, {})));
}

// Lines without a header (an Apache error log relayed raw) name no
// program: they hold under the empty one, apart from a named program's.
TEST(AlertHoldTest, HeaderlessLinesHoldUnderTheEmptyProgram) {
  AlertHold hold;
  Rule crash = MakeRule("crash", Severity::kHigh, 3600);
  crash.quiet_key = {"program"};
  Message msg;
  msg.hostname = "web7";
  msg.received = At(0);
  RuleHit h;
  h.rule = &crash;
  EXPECT_FALSE(hold.Held(msg, h));
  msg.received = At(5);
  EXPECT_TRUE(hold.Held(msg, h));
  msg.app_name = "apache2";
  EXPECT_FALSE(hold.Held(msg, h));
  EXPECT_TRUE(hold.Held(msg, h));
}

TEST(AlertHoldTest, AFullTableDropsWhatIsADayOld) {
  AlertHold hold;
  const Rule stop = MakeRule("syslog.stopped", Severity::kMedium, 300);
  for (size_t i = 0; i < AlertHold::kMaxEntries; ++i) {
    ASSERT_FALSE(hold.Held("h" + std::to_string(i), stop, At(0)));
  }
  EXPECT_EQ(hold.size(), AlertHold::kMaxEntries);
  EXPECT_FALSE(hold.Held("late", stop, At(2 * 86400)));
  EXPECT_EQ(hold.size(), 1u);
  EXPECT_TRUE(hold.Held("late", stop, At(2 * 86400 + 1)));
}

}  // namespace
}  // namespace konseki::matchers
