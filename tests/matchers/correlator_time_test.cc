// The event's local time as correlations read it: hour, weekday and
// work_hours (matchers/work_hours.h), in the parser's zone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "matchers/correlator.h"
#include "tests/matchers/correlator_test_util.h"

namespace konseki::matchers {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;

// kT0 is Sunday 2025-06-15 15:06:40 UTC: Monday 00:06:40 at +09:00.
constexpr int kTokyo = 9 * 3600;
// Seconds after kT0 of Monday hh:mm (+09:00), plus days.
double Jst(int hh, int mm, int days = 0) {
  return days * 86400.0 + hh * 3600.0 + mm * 60.0 - 400.0;
}

Correlation NightLogin() {
  Correlation c = Membership("night", Sign("ssh.login"), "user", {"alice"});
  c.where = {{"hour", "0[0-5]"}};
  return c;
}

TEST(CorrelatorTimeTest, WhereReadsTheHourInTheParsersZone) {
  CorrelatorOptions o;
  o.utc_offset_secs = kTokyo;
  Driver d(Pack({NightLogin()}), o);
  auto night = d.Hit("sshd.accepted", "ssh.login", {{"user", "alice"}}, "db1", Jst(1, 34));
  ASSERT_THAT(night, SizeIs(1));
  EXPECT_EQ(FieldOf(night[0], "local_time"), "mon 01:34");
  EXPECT_EQ(FieldOf(night[0], "work_hours"), "no");
  EXPECT_THAT(d.Hit("sshd.accepted", "ssh.login", {{"user", "alice"}}, "db1", Jst(10, 0)),
              IsEmpty());
  // The same instants read in UTC: 16:34 and 01:00 (Sunday, Monday).
  Driver utc(Pack({NightLogin()}));
  EXPECT_THAT(utc.Hit("sshd.accepted", "ssh.login", {{"user", "alice"}}, "db1", Jst(1, 34)),
              IsEmpty());
  EXPECT_THAT(utc.Hit("sshd.accepted", "ssh.login", {{"user", "alice"}}, "db1", Jst(10, 0)),
              SizeIs(1));
}

// A stamp the windows replace by the receive time (too far ahead) is read
// at the receive time here too: a host's wrong clock cannot move a login
// into the night or out of it.
TEST(CorrelatorTimeTest, AClampedStampReadsTheReceiveTimesHour) {
  CorrelatorOptions o;
  o.utc_offset_secs = kTokyo;
  Driver d(Pack({NightLogin()}), o);
  // Stamped Tuesday 02:00, received Monday 22:00: four hours ahead.
  EXPECT_THAT(d.Hit("sshd.accepted", "ssh.login", {{"user", "alice"}}, "db1", Jst(2, 0, 1),
                    /*rx=*/Jst(22, 0)),
              IsEmpty());
  // Stamped Monday 13:00, received eight days later at 03:00.
  EXPECT_THAT(d.Hit("sshd.accepted", "ssh.login", {{"user", "alice"}}, "db1", Jst(13, 0),
                    /*rx=*/Jst(3, 0, 8)),
              SizeIs(1));
}

// work_hours follows correlation.working_hours; severity_if reads it.
TEST(CorrelatorTimeTest, SeverityIfReadsWorkHoursAsTheSiteSetsThem) {
  Correlation c = Membership("sw", Sign("sudo.command"), "user", {"bob"});
  c.severity = Severity::kHigh;
  Correlation::SeverityIf day;
  day.severity = Severity::kLow;
  day.where = {{"work_hours", "yes"}};
  c.severity_if = {day};
  CorrelatorOptions o;
  o.utc_offset_secs = kTokyo;
  Driver office(Pack({c}), o);
  auto hit = [](Driver& d, double t) {
    auto a = d.Hit("sudo.command", "sudo.command", {{"user", "bob"}}, "db1", t);
    return a.size() == 1 ? a[0].severity : Severity::kInfo;
  };
  EXPECT_EQ(hit(office, Jst(10, 0)), Severity::kLow);      // Monday morning
  EXPECT_EQ(hit(office, Jst(3, 0)), Severity::kHigh);      // Monday 03:00
  EXPECT_EQ(hit(office, Jst(10, 0, 5)), Severity::kHigh);  // Saturday
  // A plant that works nights, every day.
  o.work_hours.days = 0b1111111;
  o.work_hours.shifts = {Shift{18 * 60, 8 * 60}};
  Driver plant(Pack({c}), o);
  EXPECT_EQ(hit(plant, Jst(3, 0)), Severity::kLow);
  EXPECT_EQ(hit(plant, Jst(3, 0, 5)), Severity::kLow);
  EXPECT_EQ(hit(plant, Jst(12, 0)), Severity::kHigh);
}

// first_seen over [work_hours] per user: the first night-time login of a
// user whose history is day-time only; an account that works at night
// (a backup job's) learns "no" from its first logins.
TEST(CorrelatorTimeTest, AFirstNightAfterADaytimeHistoryIsNew) {
  Correlation c = Corr("first_night", CorrelationKind::kFirstSeen);
  c.on = {Sign("ssh.login")};
  c.key = {"user"};
  c.first_values = {FieldRef{"work_hours", ""}};
  c.new_keys = false;
  c.established_count = 5;
  c.established_secs = 3 * 86400;
  CorrelatorOptions o;
  o.utc_offset_secs = kTokyo;
  Driver d(Pack({c}), o);
  auto login = [&](const std::string& user, double t) {
    return d.Hit("sshd.accepted", "ssh.login", {{"user", user}}, "db1", t);
  };
  for (int day = 0; day < 5; ++day) {  // Monday to Friday
    EXPECT_THAT(login("alice", Jst(9, 30, day)), IsEmpty());
    EXPECT_THAT(login("backup", Jst(2, 10, day)), IsEmpty());
    EXPECT_THAT(login("backup", Jst(3, 10, day)), IsEmpty());
  }
  auto night = login("alice", Jst(1, 34, 5));
  ASSERT_THAT(night, SizeIs(1));
  EXPECT_EQ(FieldOf(night[0], "local_time"), "sat 01:34");
  EXPECT_THAT(login("alice", Jst(2, 34, 5)), IsEmpty());  // known now
  EXPECT_THAT(login("backup", Jst(2, 10, 5)), IsEmpty());
}

// A correlation that reads no time: no local time computed, none in its
// alerts, and the pseudo-fields are empty to its conditions.
TEST(CorrelatorTimeTest, CorrelationsWithoutTimeConditionsDoNotNameIt) {
  Correlation c = NightLogin();
  c.where.clear();
  Driver d(Pack({c}));
  auto a = d.Hit("sshd.accepted", "ssh.login", {{"user", "alice"}}, "db1", 0);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "local_time"), "<none>");
  // A rule's own field of that name wins over the pseudo-field.
  Correlation own = NightLogin();
  Driver d2(Pack({own}));
  EXPECT_THAT(d2.Hit("x", "ssh.login", {{"user", "alice"}, {"hour", "03"}}, "db1", 0), SizeIs(1));
}

// severity_if reads the time of the hit that completed the alert, at any
// depth: a success kept until its failures came late is read at its own
// stamp (it was read with no time: work_hours empty), and a correlation
// fed by an alert fed by another reads its input's.
TEST(CorrelatorTimeTest, SeverityIfReadsTheTimeOfTheCompletingHitAtAnyDepth) {
  CorrelatorOptions o;
  o.utc_offset_secs = kTokyo;
  Correlation::SeverityIf day;
  day.severity = Severity::kLow;
  day.where = {{"work_hours", "yes"}};
  Correlation seq = Corr("seq", CorrelationKind::kSequence);
  seq.after = {Sign("ssh.auth_failure")};
  seq.on = {Sign("ssh.login")};
  seq.key = {"src_ip"};
  seq.count = 2;
  seq.window_secs = 600;
  seq.severity = Severity::kHigh;
  seq.severity_if = {day};
  Driver d(Pack({seq}), o);
  const Fields src = {{"src_ip", "192.0.2.7"}};
  EXPECT_THAT(d.Hit("s", "ssh.login", src, "web1", Jst(10, 0)), IsEmpty());
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", src, "web1", Jst(9, 58), Jst(10, 1)), IsEmpty());
  auto a = d.Hit("f", "ssh.auth_failure", src, "web1", Jst(9, 59), Jst(10, 2));
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].severity, Severity::kLow);
  EXPECT_EQ(FieldOf(a[0], "local_time"), "mon 10:00");

  // login (depth 0) -> first (depth 1) -> spread (depth 2).
  Correlation login = Membership("login", Sign("ssh.login"), "user", {"alice"});
  login.severity = Severity::kInfo;
  Correlation first = Corr("first", CorrelationKind::kThreshold);
  first.on = {Id("login")};
  first.key = {"user"};
  first.count = 1;
  first.window_secs = 60;
  first.severity = Severity::kInfo;
  Correlation spread = Membership("spread", Id("first"), "user", {"alice"});
  spread.severity = Severity::kHigh;
  spread.severity_if = {day};
  Driver chain(Pack({login, first, spread}), o);
  auto severity = [&](double t) {
    for (const Alert& x : chain.Hit("acc", "ssh.login", {{"user", "alice"}}, "db1", t)) {
      if (x.rule == "spread") return x.severity;
    }
    return Severity::kInfo;
  };
  EXPECT_EQ(severity(Jst(10, 0)), Severity::kLow);
  EXPECT_EQ(severity(Jst(3, 0, 1)), Severity::kHigh);
}

}  // namespace
}  // namespace konseki::matchers
