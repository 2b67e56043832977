#include "matchers/alert_pending.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace konseki::matchers {
namespace {

TimePoint At(int secs) { return TimePoint(std::chrono::seconds(1'767'225'600 + secs)); }

Rule Stop(bool raise) {
  Rule r;
  r.id = "syslog.rsyslogd_exiting";
  r.sign = "syslog.stopped";
  r.severity = Severity::kMedium;
  r.pending_secs = 60;
  r.answered_by = {"syslog.started", "system.boot"};
  if (raise) r.answered_severity = Severity::kLow;
  return r;
}

Rule Start() {
  Rule r;
  r.id = "syslog.daemon_started";
  r.sign = "system.boot";
  r.severity = Severity::kInfo;
  r.answers_pending = true;
  return r;
}

// A line of `host` at `t` and the hit of `rule` on it.
struct Line {
  Line(const std::string& host, int t, const Rule& rule) : host(host) {
    msg.hostname = this->host;
    msg.received = At(t);
    msg.timestamp = At(t);
    hit.rule = &rule;
  }
  std::string host;
  Message msg;
  RuleHit hit;
  Alert alert() const { return MakeAlert(msg, hit); }
};

std::string Field(const Alert& a, const std::string& name) {
  for (const auto& [k, v] : a.fields) {
    if (k == name) return v;
  }
  return "(none)";
}

TEST(PendingAlertsTest, AStartAfterTheStopAnswersItAtTheLowerSeverity) {
  PendingAlerts p;
  const Rule stop = Stop(true), start = Start();
  PendingAlerts::Decisions out;
  Line s("web1", 0, stop);
  p.Defer(s.msg, s.hit, s.alert(), &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(p.waiting(), 1u);
  Line up("web1", 2, start);
  p.Answer(up.msg, up.hit, &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].severity, Severity::kLow);
  EXPECT_EQ(out.alerts[0].rule, "syslog.rsyslogd_exiting");
  EXPECT_EQ(Field(out.alerts[0], "answered_by"), "syslog.daemon_started");
  EXPECT_EQ(Field(out.alerts[0], "answered_within_secs"), "2");
  ASSERT_EQ(out.answered.size(), 1u);
  EXPECT_EQ(out.answered[0], "syslog.rsyslogd_exiting");
  EXPECT_EQ(p.waiting(), 0u);
}

TEST(PendingAlertsTest, AStartJustBeforeTheStopAnswersItAtOnce) {
  // The journal's catch-up after a restart: systemd's "Stopped ..." comes
  // after the new rsyslogd's "start".
  PendingAlerts p;
  const Rule stop = Stop(true), start = Start();
  PendingAlerts::Decisions out;
  Line up("WEB1", 100, start);
  p.Answer(up.msg, up.hit, &out);
  EXPECT_TRUE(out.empty());
  Line s("web1", 101, stop);
  p.Defer(s.msg, s.hit, s.alert(), &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].severity, Severity::kLow);
  EXPECT_EQ(Field(out.alerts[0], "answered_within_secs"), "1");
  EXPECT_EQ(p.waiting(), 0u);
}

// fleet13: rsyslogd's own start (x-pid 30360) 21 s before its own
// "exiting on signal 15" (x-pid 30360), and no start after: a logger
// stopped, not restarted. The same process's earlier line answers nothing;
// another process's (the restarted logger's) still does.
TEST(PendingAlertsTest, TheSameProcesssEarlierStartDoesNotAnswerItsStop) {
  PendingAlerts p;
  const Rule stop = Stop(true), start = Start();
  PendingAlerts::Decisions out;
  Line up("mail2", 100, start);
  up.hit.fields = {{"pid", "30360"}};
  p.Answer(up.msg, up.hit, &out);
  Line s("mail2", 121, stop);
  s.hit.fields = {{"pid", "30360"}, {"signo", "15"}};
  p.Defer(s.msg, s.hit, s.alert(), &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(p.waiting(), 1u);
  p.Expire(At(181), &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].severity, Severity::kMedium);
  EXPECT_EQ(Field(out.alerts[0], "waited_secs"), "60");

  // A start of another process (the restarted logger) answers.
  out.clear();
  Line s2("mail3", 210, stop);
  s2.hit.fields = {{"pid", "700"}};
  p.Defer(s2.msg, s2.hit, s2.alert(), &out);
  EXPECT_TRUE(out.empty());
  Line up3("mail3", 211, start);
  up3.hit.fields = {{"pid", "701"}};
  p.Answer(up3.msg, up3.hit, &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].severity, Severity::kLow);
  EXPECT_EQ(p.waiting(), 0u);

  // The header's pid is not the process a line is about: systemd[1]
  // writes a unit's start and, later, its stop.
  out.clear();
  Line up4("mail4", 300, start);
  up4.msg.procid = "1";
  p.Answer(up4.msg, up4.hit, &out);
  Line s4("mail4", 310, stop);
  s4.msg.procid = "1";
  p.Defer(s4.msg, s4.hit, s4.alert(), &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].severity, Severity::kLow);
}

TEST(PendingAlertsTest, AnUnansweredAlertGoesAsWrittenWhenItsTimeIsUp) {
  PendingAlerts p;
  const Rule stop = Stop(true), start = Start();
  PendingAlerts::Decisions out;
  Line s("web1", 0, stop);
  p.Defer(s.msg, s.hit, s.alert(), &out);
  p.Expire(At(59), &out);
  EXPECT_TRUE(out.empty());
  // Another host's start answers nothing here.
  Line other("web2", 30, start);
  p.Answer(other.msg, other.hit, &out);
  EXPECT_TRUE(out.empty());
  p.Expire(At(60), &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].severity, Severity::kMedium);
  EXPECT_EQ(Field(out.alerts[0], "waited_secs"), "60");
  EXPECT_TRUE(out.answered.empty());
  // A start long after it (a logger back after an hour) answers nothing.
  out.clear();
  Line late("web1", 3600, start);
  p.Answer(late.msg, late.hit, &out);
  EXPECT_TRUE(out.empty());
}

TEST(PendingAlertsTest, AnAnsweredAlertWithoutAnsweredSeverityIsDroppedAndCounted) {
  PendingAlerts p;
  const Rule stop = Stop(false), start = Start();
  PendingAlerts::Decisions out;
  Line s("db1", 0, stop);
  p.Defer(s.msg, s.hit, s.alert(), &out);
  Line up("db1", 1, start);
  p.Answer(up.msg, up.hit, &out);
  EXPECT_TRUE(out.alerts.empty());
  ASSERT_EQ(out.answered.size(), 1u);
  p.Expire(At(120), &out);
  EXPECT_TRUE(out.alerts.empty());
}

TEST(PendingAlertsTest, AStartAnswersOnlyTheSignsThatWaitForIt) {
  PendingAlerts p;
  Rule crash = Stop(true);
  crash.id = "crash.rule";
  crash.sign = "crash";
  crash.answered_by = {"syslog.started"};  // not system.boot
  const Rule start = Start();              // system.boot
  PendingAlerts::Decisions out;
  Line s("web1", 0, crash);
  p.Defer(s.msg, s.hit, s.alert(), &out);
  Line up("web1", 1, start);
  p.Answer(up.msg, up.hit, &out);
  EXPECT_TRUE(out.empty());
  p.Flush(At(5), &out);  // the end of a replay: raised unanswered
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].severity, Severity::kMedium);
  EXPECT_EQ(p.waiting(), 0u);
}

Rule UserAdded() {
  Rule r;
  r.id = "accounts.user_added";
  r.sign = "account.change";
  r.severity = Severity::kMedium;
  r.pending_secs = 3600;
  r.answered_by = {"accounts.user_deleted"};  // a rule's id
  r.answer_key = {"user"};
  return r;
}

Rule UserDeleted() {
  Rule r;
  r.id = "accounts.user_deleted";
  r.sign = "account.change";
  r.severity = Severity::kMedium;
  r.answers_pending = true;
  return r;
}

TEST(PendingAlertsTest, AnAnswerKeyWantsTheSameValuesAndARuleIdAnswersByItself) {
  PendingAlerts p;
  const Rule added = UserAdded(), deleted = UserDeleted();
  Rule chfn;  // the same sign, another rule: no answer
  chfn.id = "accounts.info_changed";
  chfn.sign = "account.change";
  chfn.answers_pending = false;
  PendingAlerts::Decisions out;
  Line a1("ci3", 0, added);
  a1.hit.fields = {{"user", "build-1"}};
  p.Defer(a1.msg, a1.hit, a1.alert(), &out);
  Line a2("ci3", 5, added);
  a2.hit.fields = {{"user", "sysupdate"}};
  p.Defer(a2.msg, a2.hit, a2.alert(), &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(p.waiting(), 2u);
  // Another account's deletion, and another host's, answer neither.
  Line d0("ci3", 100, deleted);
  d0.hit.fields = {{"user", "build-0"}};
  p.Answer(d0.msg, d0.hit, &out);
  Line d9("ci4", 101, deleted);
  d9.hit.fields = {{"user", "build-1"}};
  p.Answer(d9.msg, d9.hit, &out);
  EXPECT_TRUE(out.empty());
  // build-1's own deletion answers its creation (dropped: no answered_severity).
  Line d1("ci3", 204, deleted);
  d1.hit.fields = {{"user", "build-1"}};
  p.Answer(d1.msg, d1.hit, &out);
  EXPECT_TRUE(out.alerts.empty());
  ASSERT_EQ(out.answered.size(), 1u);
  EXPECT_EQ(out.answered[0], "accounts.user_added");
  EXPECT_EQ(p.waiting(), 1u);
  // sysupdate is never deleted: medium, an hour late.
  out.clear();
  p.Expire(At(3605), &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(Field(out.alerts[0], "user"), "sysupdate");
  EXPECT_EQ(out.alerts[0].severity, Severity::kMedium);
}

TEST(PendingAlertsTest, AKeyedAnswerComesAfterAndAHitWithoutTheKeyGoesAtOnce) {
  PendingAlerts p;
  Rule added = UserAdded();
  added.answered_severity = Severity::kLow;
  const Rule deleted = UserDeleted();
  PendingAlerts::Decisions out;
  // userdel bob, then useradd bob (the name taken over): the deletion
  // before it is no answer; bob's next deletion is.
  Line d("ci3", 10, deleted);
  d.hit.fields = {{"user", "bob"}};
  p.Answer(d.msg, d.hit, &out);
  Line same("ci3", 20, added);
  same.hit.fields = {{"user", "bob"}};
  p.Defer(same.msg, same.hit, same.alert(), &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(p.waiting(), 1u);
  Line d2("ci3", 80, deleted);
  d2.hit.fields = {{"user", "bob"}};
  p.Answer(d2.msg, d2.hit, &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].severity, Severity::kLow);
  EXPECT_EQ(Field(out.alerts[0], "answered_by"), "accounts.user_deleted");
  EXPECT_EQ(Field(out.alerts[0], "answered_within_secs"), "60");
  out.clear();
  Line nokey("ci3", 30, added);  // no user field: nothing to wait for
  p.Defer(nokey.msg, nokey.hit, nokey.alert(), &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].severity, Severity::kMedium);
  EXPECT_EQ(p.waiting(), 0u);
}

// What waits, saved and loaded by a new process (a crash's restart): each
// alert whole (any byte of the sender's text), still answerable, and raised
// as written when its time is up.
TEST(PendingAlertsTest, SavedWaitingAlertsLoadWholeAndStillWaitForTheirAnswer) {
  const Rule stop = Stop(true), start = Start();
  PendingAlerts before;
  PendingAlerts::Decisions out;
  Line a("web1", 0, stop), b("db2", 5, stop);
  Alert odd = a.alert();
  odd.message = "rsyslogd: 12:ab \n\x1f\xff exiting on signal 15";
  odd.fields = {{"pid", "612"}, {"empty", ""}, {"colon:key", "7: 8 "}};
  odd.members.push_back(AlertMember{"web1", At(0), 1});
  odd.sender = "192.0.2.7";
  before.Defer(a.msg, a.hit, odd, &out);
  before.Defer(b.msg, b.hit, b.alert(), &out);
  ASSERT_EQ(before.waiting(), 2u);
  const uint64_t changes = before.changes();
  const std::string text = before.Save();

  PendingAlerts after;
  ASSERT_TRUE(after.Load(text));
  EXPECT_EQ(after.waiting(), 2u);
  EXPECT_EQ(after.Save(), text);
  EXPECT_EQ(before.changes(), changes);  // Save changes nothing
  Line up("db2", 30, start);
  after.Answer(up.msg, up.hit, &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].host, "db2");
  EXPECT_EQ(out.alerts[0].severity, Severity::kLow);
  out.clear();
  after.Expire(At(61), &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  const Alert& got = out.alerts[0];
  EXPECT_EQ(got.message, odd.message);
  EXPECT_EQ(got.sender, "192.0.2.7");
  EXPECT_EQ(got.rule, "syslog.rsyslogd_exiting");
  EXPECT_EQ(got.severity, Severity::kMedium);
  EXPECT_EQ(got.time, odd.time);
  ASSERT_EQ(got.members.size(), 1u);
  EXPECT_EQ(got.members[0].overflow_worker, 1);
  EXPECT_EQ(Field(got, "colon:key"), "7: 8 ");
  EXPECT_EQ(Field(got, "empty"), "");
  EXPECT_EQ(Field(got, "waited_secs"), "60");
}

TEST(PendingAlertsTest, TextThatIsNoSaveLoadsNothing) {
  const Rule stop = Stop(false);
  PendingAlerts p;
  PendingAlerts::Decisions out;
  Line a("web1", 0, stop);
  p.Defer(a.msg, a.hit, a.alert(), &out);
  const std::string text = p.Save();
  PendingAlerts q;
  EXPECT_FALSE(q.Load("hello\n"));
  EXPECT_FALSE(q.Load(text.substr(0, text.size() - 9)));  // cut short
  std::string bad = text;
  bad[bad.find("syslog.stopped") - 3] = '9';  // a length that runs past its token
  EXPECT_FALSE(q.Load(bad));
  EXPECT_EQ(q.waiting(), 0u);
  EXPECT_TRUE(q.Load(text));
  EXPECT_EQ(q.waiting(), 1u);
}

TEST(PendingAlertsTest, AWaitedAlertKeepsItsLineAndSaysWhenItsWaitEnded) {
  // Raised under a later line or by the clock, the alert still names the
  // line that caused it (time, received, host, message): decided says when.
  PendingAlerts p;
  const Rule stop = Stop(true), start = Start();
  PendingAlerts::Decisions out;
  Line s("web1", 10, stop);
  s.msg.raw = "Jan  1 00:00:10 web1 rsyslogd: exiting on signal 15.";
  Alert waiting = s.alert();
  waiting.message = std::string(s.msg.raw);
  waiting.origin_seq = 7;
  p.Defer(s.msg, s.hit, waiting, &out);
  Line up("web1", 13, start);
  p.Answer(up.msg, up.hit, &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].decided, At(13));
  EXPECT_EQ(out.alerts[0].received, At(10));
  EXPECT_EQ(out.alerts[0].time, At(10));
  EXPECT_EQ(out.alerts[0].host, "web1");
  EXPECT_EQ(out.alerts[0].message, s.msg.raw);
  EXPECT_EQ(out.alerts[0].origin_seq, 7u);
  out.clear();
  // Unanswered: its wait ended pending_secs after its line, whenever the
  // clock came by.
  Line s2("web2", 20, stop);
  p.Defer(s2.msg, s2.hit, s2.alert(), &out);
  p.Expire(At(95), &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].decided, At(80));
  EXPECT_EQ(out.alerts[0].received, At(20));
  out.clear();
  // Cut short by the end of the input.
  Line s3("web3", 30, stop);
  p.Defer(s3.msg, s3.hit, s3.alert(), &out);
  p.Flush(At(40), &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].decided, At(40));
  // An alert answered before it came is raised on its own line: no wait.
  out.clear();
  Line up4("web4", 50, start);
  p.Answer(up4.msg, up4.hit, &out);
  Line s4("web4", 51, stop);
  p.Defer(s4.msg, s4.hit, s4.alert(), &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].decided, TimePoint{});
}

TEST(PendingAlertsTest, PastItsCapAnAlertGoesAtOnceAndNothingIsLost) {
  PendingAlerts p;
  const Rule stop = Stop(true);
  PendingAlerts::Decisions out;
  std::vector<std::unique_ptr<Line>> lines;
  for (size_t i = 0; i <= PendingAlerts::kMaxPending; ++i) {
    lines.push_back(std::make_unique<Line>("h" + std::to_string(i), 0, stop));
    p.Defer(lines.back()->msg, lines.back()->hit, lines.back()->alert(), &out);
  }
  EXPECT_EQ(p.waiting(), PendingAlerts::kMaxPending);
  EXPECT_EQ(out.alerts.size(), 1u);
  p.Flush(At(1), &out);
  EXPECT_EQ(out.alerts.size(), PendingAlerts::kMaxPending + 1);
}

}  // namespace
}  // namespace konseki::matchers
