#include "matchers/correlator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "common/host_key.h"
#include "tests/matchers/correlator_test_util.h"
#include "tests/testing/host_key_collisions.h"

namespace konseki::matchers {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

Correlation Threshold(uint32_t count, double window) {
  Correlation c = Corr("bf", CorrelationKind::kThreshold);
  c.on = {Sign("ssh.auth_failure")};
  c.key = {"src_ip"};
  c.count = count;
  c.window_secs = window;
  c.summary_fields = {"user"};
  return c;
}

Fields Src(const std::string& ip, const std::string& user = "root") {
  return {{"src_ip", ip}, {"user", user}};
}

// ---- threshold ----

TEST(ThresholdTest, OneAlertAtTheNthHitOfABurst) {
  Driver d(Pack({Threshold(8, 120)}));
  for (int i = 0; i < 7; ++i) {
    EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("203.0.113.7"), "web1", i * 5), IsEmpty());
  }
  auto alerts = d.Hit("r", "ssh.auth_failure", Src("203.0.113.7", "admin"), "web1", 35);
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].sign, "test.bf");
  EXPECT_EQ(alerts[0].rule, "bf");
  EXPECT_EQ(FieldOf(alerts[0], "src_ip"), "203.0.113.7");
  EXPECT_EQ(FieldOf(alerts[0], "count"), "8");
  EXPECT_EQ(FieldOf(alerts[0], "user_values"), "root,admin");
  EXPECT_EQ(FieldOf(alerts[0], "first_time"), FormatRfc3339Micros(At(0)));
  EXPECT_EQ(FieldOf(alerts[0], "last_time"), FormatRfc3339Micros(At(35)));
  ASSERT_THAT(alerts[0].members, SizeIs(8));
  EXPECT_EQ(alerts[0].members[0].host, "web1");
  EXPECT_EQ(alerts[0].members[0].received, At(0));
  // The burst goes on: no second alert.
  for (int i = 0; i < 50; ++i) {
    EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("203.0.113.7"), "web1", 40 + i), IsEmpty());
  }
}

// rsyslog's "message repeated 6 times: [...]" is six failures, not one.
TEST(ThresholdTest, ALineStandingForNEventsCountsN) {
  Driver d(Pack({Threshold(8, 120)}));
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("203.0.113.7"), "web1", 0), IsEmpty());
  EXPECT_THAT(d.Repeats(6).Hit("r", "ssh.auth_failure", Src("203.0.113.7"), "web1", 30), IsEmpty());
  auto alerts = d.Hit("r", "ssh.auth_failure", Src("203.0.113.7"), "web1", 31);
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(FieldOf(alerts[0], "count"), "8");
  ASSERT_THAT(alerts[0].members, SizeIs(3));  // the three lines
  // The burst goes on: a repeat line adds its events to the count only.
  EXPECT_THAT(d.Repeats(40).Hit("r", "ssh.auth_failure", Src("203.0.113.7"), "web1", 32),
              IsEmpty());
  // One line standing for more than `count` events alerts by itself.
  alerts = d.Repeats(100).Hit("r", "ssh.auth_failure", Src("198.51.100.1"), "web1", 33);
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(FieldOf(alerts[0], "count"), "8");
  // Two events are not eight.
  EXPECT_THAT(d.Repeats(2).Hit("r", "ssh.auth_failure", Src("198.51.100.2"), "web1", 34),
              IsEmpty());
}

// Dovecot's "Disconnected (auth failed, 3 attempts in 14 secs)" is three
// guesses in one line: with weight_field the hit counts its number.
TEST(ThresholdTest, AWeightFieldCountsTheNumberTheLineReports) {
  Correlation c = Threshold(8, 600);
  c.weight_field = "attempts";
  Driver d(Pack({c}));
  auto tried = [](const std::string& ip, const std::string& n) {
    Fields f = Src(ip, "ann");
    f.emplace_back("attempts", n);
    return f;
  };
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", tried("203.0.113.7", "3"), "mx", 0), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", tried("203.0.113.7", "3"), "mx", 30), IsEmpty());
  auto alerts = d.Hit("r", "ssh.auth_failure", tried("203.0.113.7", "2"), "mx", 60);
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(FieldOf(alerts[0], "count"), "8");
  ASSERT_THAT(alerts[0].members, SizeIs(3));  // the three lines
  // The burst goes on: the count adds the numbers.
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", tried("203.0.113.7", "5"), "mx", 61), IsEmpty());
  // No number, not a number, 0 or 1: the line counts one.
  const std::string other = "198.51.100.1";
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src(other), "mx", 100), IsEmpty());
  for (const char* n : {"x", "0", "-4", "3 ", "", "99999999999999"}) {
    EXPECT_THAT(d.Hit("r", "ssh.auth_failure", tried(other, n), "mx", 101), IsEmpty()) << n;
  }
  alerts = d.Hit("r", "ssh.auth_failure", tried(other, "1"), "mx", 102);
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(FieldOf(alerts[0], "count"), "8");
  // A line's repeats multiply its number.
  EXPECT_THAT(d.Repeats(2).Hit("r", "ssh.auth_failure", tried("198.51.100.2", "3"), "mx", 200),
              IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", tried("198.51.100.2", "2"), "mx", 201), SizeIs(1));
  // Without weight_field the number is just a field.
  Driver plain(Pack({Threshold(8, 600)}));
  EXPECT_THAT(plain.Hit("r", "ssh.auth_failure", tried("203.0.113.9", "50"), "mx", 0), IsEmpty());
}

// A garbled or hostile number counts at most kMaxHitWeight.
TEST(ThresholdTest, AWeightIsCapped) {
  Correlation c = Threshold(250, 600);
  c.weight_field = "attempts";
  Driver d(Pack({c}));
  Fields f = Src("203.0.113.7");
  f.emplace_back("attempts", "4000000000");
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", f, "mx", 0), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", f, "mx", 1), IsEmpty());
  auto alerts = d.Hit("r", "ssh.auth_failure", f, "mx", 2);
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(kMaxHitWeight, 100u);
}

TEST(ThresholdTest, WindowEdgeIsInclusive) {
  Driver d(Pack({Threshold(2, 10)}));
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 0), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 10), SizeIs(1));
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.2"), "h", 100), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.2"), "h", 110.001), IsEmpty());
}

TEST(ThresholdTest, ReArmsAfterAQuietGapOnly) {
  Correlation c = Threshold(3, 60);
  c.quiet_secs = 300;
  Driver d(Pack({c}));
  int alerts = 0;
  for (double t : {0.0, 1.0, 2.0, 200.0, 201.0, 202.0, 600.0, 601.0, 602.0}) {
    alerts += static_cast<int>(d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", t).size());
  }
  // 200-202 is within 300 s of the burst's last hit (2): same burst.
  EXPECT_EQ(alerts, 2);
}

TEST(ThresholdTest, OutOfOrderHitsArePlacedByTheirStamp) {
  Driver d(Pack({Threshold(3, 60)}));
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 100), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 50, 101), IsEmpty());
  auto a = d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 95, 102);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "first_time"), FormatRfc3339Micros(At(50)));
  // A late line older than the window does not complete a burst.
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.2"), "h", 100), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.2"), "h", 30, 101), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.2"), "h", 95, 102), IsEmpty());
}

TEST(ThresholdTest, KeysArePerHostAndKeyFieldAndNeedTheField) {
  Driver d(Pack({Threshold(2, 60)}));
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "web1", 0), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "web2", 1), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.2"), "web1", 2), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", {{"user", "x"}}, "web1", 3), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", {{"user", "x"}}, "web1", 4), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.other", Src("192.0.2.1"), "web1", 5), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "WEB1", 6), SizeIs(1));
}

TEST(ThresholdTest, FarStampsAreClampedToTheReceiveTimeAndCounted) {
  Driver d(Pack({Threshold(2, 60)}));
  // A stamp a day ahead would otherwise sit outside every later window.
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 86400, 0), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 10), SizeIs(1));
  EXPECT_EQ(d.metrics().ValueOf("konseki_correlation_clamped_total", {{"reason", "future"}}), 1);
  d.Hit("r", "ssh.auth_failure", Src("192.0.2.9"), "h", 0, 30 * 86400);
  EXPECT_EQ(d.metrics().ValueOf("konseki_correlation_clamped_total", {{"reason", "past"}}), 1);
}

TEST(ThresholdTest, TwoHitsOfOneMessageCountOnce) {
  Driver d(Pack({Threshold(2, 60)}));
  Fields f = Src("192.0.2.1");
  HitEvent e;
  e.input_id = "a";
  e.sign = "ssh.auth_failure";
  e.fields = &f;
  e.host = "h";
  e.event_time = e.received = At(0);
  e.message_seq = 7;
  std::vector<Alert> out;
  d.c().Process(e, &out);
  e.input_id = "b";  // a second rule of the same sign on the same line
  d.c().Process(e, &out);
  EXPECT_THAT(out, IsEmpty());
}

// ---- distinct ----

// One source trying several accounts.
Correlation UserEnumeration(uint32_t count, double window) {
  return Distinct("enum", Sign("ssh.auth_failure"), {"src_ip"}, "user", count, window);
}

TEST(DistinctTest, CountsDistinctValuesOnceAndAlertsOncePerBurst) {
  Driver d(Pack({UserEnumeration(3, 60)}));
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.5", "a"), "h", 0), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.5", "a"), "h", 1), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.5", "b"), "h", 2), IsEmpty());
  auto a = d.Hit("r", "ssh.auth_failure", Src("192.0.2.5", "c"), "h", 3);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "user_values"), "a,b,c");
  EXPECT_EQ(FieldOf(a[0], "count"), "3");
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.5", "d"), "h", 4), IsEmpty());
}

TEST(DistinctTest, ValuesOutsideTheWindowDoNotCount) {
  Driver d(Pack({UserEnumeration(3, 60)}));
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.5", "a"), "h", 0), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.5", "b"), "h", 61), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.5", "c"), "h", 62), IsEmpty());
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.5", "a"), "h", 63), SizeIs(1));
}

// `field: src_ip|country` (impossible travel): the countries of one
// account's logins are counted, not their addresses: two Japanese ISPs are
// one value, an address without a country ("--": private, documentation,
// a host name) none; a German address is the second. The alert names the
// countries (src_ip_country_values).
TEST(DistinctTest, ACountryFieldCountsCountriesNotAddresses) {
  Driver d(Pack({Distinct("travel", Sign("ssh.login"), {"user"}, "src_ip|country", 2, 7200)}));
  auto login = [&](const std::string& ip, double t) {
    return d.Hit("a", "ssh.login", {{"src_ip", ip}, {"user", "alice"}}, "h", t);
  };
  EXPECT_THAT(login("133.242.0.1", 0), IsEmpty());
  EXPECT_THAT(login("210.130.1.1", 60), IsEmpty());
  EXPECT_THAT(login("2001:218::1", 120), IsEmpty());
  EXPECT_THAT(login("10.0.0.5", 180), IsEmpty());
  EXPECT_THAT(login("203.0.113.5", 240), IsEmpty());
  EXPECT_THAT(login("gw.example.jp", 300), IsEmpty());
  auto a = login("185.220.101.47", 2400);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "src_ip_country_values"), "DE,JP");
  EXPECT_EQ(FieldOf(a[0], "user"), "alice");
}

// `field: src_ip|net`: the /24s (/64s) are counted; three addresses of one
// /24 are one value, as a key's |net reads them.
TEST(DistinctTest, ANetFieldCountsNetworks) {
  Driver d(Pack({Distinct("nets", Sign("ssh.auth_failure"), {"user"}, "src_ip|net", 3, 600)}));
  auto fail = [&](const std::string& ip, double t) {
    return d.Hit("a", "ssh.auth_failure", {{"src_ip", ip}, {"user", "root"}}, "h", t);
  };
  EXPECT_THAT(fail("192.0.2.1", 0), IsEmpty());
  EXPECT_THAT(fail("192.0.2.2", 1), IsEmpty());
  EXPECT_THAT(fail("192.0.2.3", 2), IsEmpty());
  EXPECT_THAT(fail("2001:db8:1:2::5", 3), IsEmpty());
  EXPECT_THAT(fail("2001:db8:1:2::6", 4), IsEmpty());
  auto a = fail("198.51.100.7", 5);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "src_ip_net_values"), "192.0.2.0/24,198.51.100.0/24,2001:db8:1:2::/64");
}

// withdrawn_by: a source whose failure is followed by that account's login
// from it (a typo) stops counting; a guess never ends in a login.
Correlation Withdrawable(uint32_t count) {
  Correlation c = Distinct("spread", Sign("ssh.auth_failure"), {}, "src_ip", count, 21600);
  c.withdrawn_by.on = {Id("login")};
  c.withdrawn_by.same = {"user", "src_ip"};
  c.withdrawn_by.within_secs = 1800;
  return c;
}

TEST(DistinctTest, WithdrawnByALaterLoginOfTheSameUserAndSourceNoLongerCounts) {
  Driver d(Pack({Withdrawable(3)}));
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.1", "s1"), "h", 0), IsEmpty());
  EXPECT_THAT(d.Hit("login", "ssh.login", Src("192.0.2.1", "s1"), "h", 5), IsEmpty());
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.2", "s2"), "h", 60), IsEmpty());
  EXPECT_THAT(d.Hit("login", "ssh.login", Src("192.0.2.2", "s2"), "h", 600), IsEmpty());
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.3", "root"), "h", 700), IsEmpty());
  // Two typos withdrawn: a third and a fourth source make only two.
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.4", "admin"), "h", 800), IsEmpty());
  auto a = d.Hit("f", "ssh.auth_failure", Src("192.0.2.5", "test"), "h", 900);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "src_ip_values"), "192.0.2.3,192.0.2.4,192.0.2.5");
  EXPECT_EQ(d.metrics().ValueOf("konseki_correlation_withdrawn_total", {{"rule", "spread"}}), 2);
}

TEST(DistinctTest, WithdrawalNeedsEverySameFieldTheWindowAndALaterLogin) {
  Driver d(Pack({Withdrawable(3)}));
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.1", "s1"), "h", 1000);
  // Another account from that source, that account from another source,
  // a login before the failure, one after within_secs, another host's:
  // none withdraws it.
  d.Hit("login", "ssh.login", Src("192.0.2.1", "s9"), "h", 1001);
  d.Hit("login", "ssh.login", Src("192.0.2.9", "s1"), "h", 1002);
  d.Hit("login", "ssh.login", Src("192.0.2.1", "s1"), "h", 999);
  d.Hit("login", "ssh.login", Src("192.0.2.1", "s1"), "h", 2801);
  d.Hit("login", "ssh.login", Src("192.0.2.1", "s1"), "other", 1003);
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.2", "root"), "h", 2900);
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.3", "root"), "h", 3000), SizeIs(1));
}

TEST(DistinctTest, AnAlertAlreadyRaisedStaysAndARetriedSourceCountsAgain) {
  Driver d(Pack({Withdrawable(2)}));
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.1", "s1"), "h", 0);
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.2", "s2"), "h", 10), SizeIs(1));
  EXPECT_THAT(d.Hit("login", "ssh.login", Src("192.0.2.1", "s1"), "h", 20), IsEmpty());
  EXPECT_EQ(d.metrics().ValueOf("konseki_correlation_withdrawn_total", {{"rule", "spread"}}), 0);

  Driver e(Pack({Withdrawable(2)}));
  e.Hit("f", "ssh.auth_failure", Src("192.0.2.1", "s1"), "h", 0);
  e.Hit("login", "ssh.login", Src("192.0.2.1", "s1"), "h", 5);
  // The same source fails again as another name: a member again, whose
  // own event (root) the earlier login does not answer.
  e.Hit("f", "ssh.auth_failure", Src("192.0.2.1", "root"), "h", 100);
  EXPECT_THAT(e.Hit("f", "ssh.auth_failure", Src("192.0.2.2", "admin"), "h", 200), SizeIs(1));
}

// The members' hashes are saved with their values: a typo before a
// restart is withdrawn by its login after it.
TEST(DistinctTest, WithdrawableMembersSurviveARestart) {
  const RulePack pack = Pack({Withdrawable(2)});
  std::string text;
  {
    Driver d(pack);
    d.Hit("f", "ssh.auth_failure", Src("192.0.2.1", "s1"), "h", 0);
    text = d.c().SerializeState();
  }
  Driver d(pack);
  ASSERT_TRUE(d.c().LoadStateText(text).ok());
  EXPECT_EQ(d.c().SerializeState(), text);
  d.Hit("login", "ssh.login", Src("192.0.2.1", "s1"), "h", 10);
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.2", "root"), "h", 20), IsEmpty());
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.3", "root"), "h", 30), SizeIs(1));
}

// quiet_key: the accounts of one host guessed from several sources each
// are one alert per host every quiet_secs (from the alert), not one per
// account; a held account stays quiet until its own quiet gap, and the
// host's next alert says how many bursts the hold took (`held`).
TEST(DistinctTest, QuietKeyHoldsTheBurstsOfOtherKeysAndCountsThem) {
  Correlation c = UserEnumeration(2, 600);
  c.key = {"user"};
  c.field = "src_ip";
  c.quiet_secs = 3600;
  c.quiet_key = {"host"};
  Driver d(Pack({c}));
  auto guess = [&](const std::string& user, const std::string& ip, double t,
                   const std::string& host = "h") {
    return d.Hit("r", "ssh.auth_failure", Src(ip, user), host, t);
  };
  EXPECT_THAT(guess("alice", "192.0.2.1", 0), IsEmpty());
  auto a = guess("alice", "192.0.2.2", 10);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "user"), "alice");
  EXPECT_EQ(FieldOf(a[0], "held"), "<none>");
  for (const char* user : {"bob", "carol"}) {
    EXPECT_THAT(guess(user, "192.0.2.3", 20), IsEmpty()) << user;
    EXPECT_THAT(guess(user, "192.0.2.4", 30), IsEmpty()) << user;
  }
  EXPECT_THAT(guess("bob", "192.0.2.5", 40), IsEmpty());  // bob's burst goes on, held
  guess("dave", "192.0.2.1", 50, "h2");
  EXPECT_THAT(guess("dave", "192.0.2.2", 60, "h2"), SizeIs(1));  // another host: its own
  // An hour after the alert (however many bursts came since): the next.
  guess("erin", "192.0.2.1", 3600);
  a = guess("erin", "192.0.2.2", 3610);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "user"), "erin");
  EXPECT_EQ(FieldOf(a[0], "held"), "2");
}

// ---- sequence ----

Correlation Sequence(uint32_t count, double window) {
  Correlation c = Corr("bfs", CorrelationKind::kSequence);
  c.after = {Sign("ssh.auth_failure")};
  c.on = {Sign("ssh.login")};
  c.key = {"src_ip"};
  c.scope = KeyScope::kFleet;
  c.count = count;
  c.window_secs = window;
  return c;
}

// equal_after: B's field against A's. A sudo line names who ran usermod
// (user) and the account it changed (account, the key); the grant names
// the account (user). {user: user}: only a sudoer's grant to herself.
TEST(SequenceTest, EqualAfterComparesAFieldOfBWithAFieldOfA) {
  Correlation c = Corr("self", CorrelationKind::kSequence);
  c.after = {Sign("sudo.usermod")};
  c.after_key = {"account|lower"};
  c.on = {Sign("group.added")};
  c.key = {"user|lower"};
  c.equal_after = {{"user", "user"}};
  c.window_secs = 60;
  c.count = 1;
  Driver d(Pack({c}));
  auto sudo = [&](const std::string& by, const std::string& account, double t) {
    return d.Hit("s", "sudo.usermod", {{"user", by}, {"account", account}}, "h", t);
  };
  auto grant = [&](const std::string& user, double t) {
    return d.Hit("g", "group.added", {{"user", user}}, "h", t);
  };
  sudo("alice", "bob", 0);
  EXPECT_THAT(grant("bob", 1), IsEmpty());  // alice's grant to bob
  sudo("Alice", "alice", 10);
  auto a = grant("alice", 11);  // to herself (case aside)
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "user"), "alice");
  d.Hit("s", "sudo.usermod", {{"account", "carol"}}, "h", 20);  // no user: no part
  EXPECT_THAT(grant("carol", 21), IsEmpty());
}

TEST(SequenceTest, BAfterEnoughAWithinTheWindowAlertsOnce) {
  Driver d(Pack({Sequence(3, 3600)}));
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "web1", 0);
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "web2", 10);
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("192.0.2.7"), "web2", 20), IsEmpty());
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "web2", 30);
  auto a = d.Hit("s", "ssh.login", Src("192.0.2.7"), "web2", 3600);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "count"), "3");
  EXPECT_EQ(a[0].host, "web2");
  ASSERT_THAT(a[0].members, SizeIs(4));  // three failures (two hosts) and the login
  EXPECT_EQ(a[0].members[0].host, "web1");
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("192.0.2.7"), "web2", 3601), IsEmpty());
}

// time24 r1: the success came first; the failures stamped before it come
// later (a forwarder's queue). The last B per key is kept for the window:
// the A hit that completes the count raises the alert, at B's time.
TEST(SequenceTest, FailuresArrivingAfterTheSuccessTheyLedToAreLinked) {
  Driver d(Pack({Sequence(3, 600)}));
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("192.0.2.7"), "web1", 240, 240), IsEmpty());
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", 0, 250), IsEmpty());
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", 12, 251), IsEmpty());
  auto a = d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", 24, 252);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "count"), "3");
  EXPECT_EQ(a[0].host, "web1");  // the login's alert
  EXPECT_EQ(a[0].time, At(240));
  // Consumed: more late failures raise nothing.
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", 36, 253), IsEmpty());
}

// The kept B is not in the state file; its key saves and loads as an empty
// one.
TEST(SequenceTest, AKeptSuccessLeavesALoadableState) {
  const RulePack pack = Pack({Sequence(2, 600)});
  std::string text;
  {
    Driver d(pack);
    d.Hit("s", "ssh.login", Src("192.0.2.7"), "web1", 100);
    text = d.c().SerializeState();
  }
  Driver d(pack);
  size_t skipped = 0;
  ASSERT_TRUE(d.c().LoadStateText(text, &skipped).ok());
  EXPECT_EQ(skipped, 0u);
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", 90, 110);
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", 95, 111), IsEmpty());
}

// Failures stamped after the success are no lead-up to it; a success kept
// longer than the window (receive time) is forgotten.
TEST(SequenceTest, LateFailuresAfterTheSuccessOrPastTheWindowAreNotLinked) {
  Driver d(Pack({Sequence(2, 600)}));
  d.Hit("s", "ssh.login", Src("192.0.2.7"), "web1", 100, 100);
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", 101, 110), IsEmpty());
  EXPECT_THAT(d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", 102, 111), IsEmpty());
  Driver late(Pack({Sequence(2, 600)}));
  late.Hit("s", "ssh.login", Src("192.0.2.8"), "web1", 100, 100);
  EXPECT_THAT(late.Hit("f", "ssh.auth_failure", Src("192.0.2.8"), "db1", 50, 800), IsEmpty());
  EXPECT_THAT(late.Hit("f", "ssh.auth_failure", Src("192.0.2.8"), "db1", 60, 801), IsEmpty());
}

// time24 r3: each failure delivered twice (a RELP/TCP resend: the same
// bytes). With the rule's dedupe_secs the copy is not counted; without, it
// is (the rule's choice: web access lines repeat for real).
TEST(SequenceTest, AResentFailureCountsOnceWithDedupe) {
  Driver d(Pack({Sequence(4, 600)}));
  for (double t : {0.0, 12.0, 24.0}) {
    d.Dedupe(600).Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", t);
    d.Dedupe(600).Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", t, t + 1);
  }
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("192.0.2.7"), "db1", 40), IsEmpty());
  EXPECT_EQ(d.metrics().ValueOf("konseki_correlation_resent_total", {}), 3);
  // A fourth, different failure completes the count.
  d.Dedupe(600).Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", 41);
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("192.0.2.7"), "db1", 42), SizeIs(1));
  // A sender's repeat notice is the line again, counted: it and the next
  // copy of the line are no resend.
  Driver notice(Pack({Sequence(4, 600)}));
  notice.Dedupe(600).Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", 0);
  notice.Dedupe(600).Repeats(2).Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", 0);
  notice.Dedupe(600).Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", 0);
  EXPECT_THAT(notice.Hit("s", "ssh.login", Src("192.0.2.7"), "db1", 40), SizeIs(1));
  Driver no(Pack({Sequence(4, 600)}));
  for (double t : {0.0, 12.0}) {
    no.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", t);
    no.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "db1", t, t + 1);
  }
  EXPECT_THAT(no.Hit("s", "ssh.login", Src("192.0.2.7"), "db1", 40), SizeIs(1));
}

// Two correlations of one sign completed by one line are one finding: the
// more severe alert is kept (the first of equals), the other counted as
// merged. Another sign's alert from the same line stays.
TEST(SequenceTest, OneLineCompletingTwoOfOneSignRaisesTheMoreSevere) {
  Correlation by_source = Sequence(3, 3600);
  by_source.sign = "test.success";
  by_source.severity = Severity::kHigh;
  Correlation by_user = Corr("bfu", CorrelationKind::kSequence);
  by_user.after = {Sign("ssh.auth_failure")};
  by_user.on = {Sign("ssh.login")};
  by_user.key = {"host", "user"};
  by_user.scope = KeyScope::kFleet;
  by_user.count = 3;
  by_user.window_secs = 3600;
  by_user.sign = "test.success";
  by_user.severity = Severity::kCritical;
  Correlation other = Sequence(3, 3600);
  other.id = "other";
  other.sign = "test.other";
  Driver d(Pack({by_source, by_user, other}));
  for (int i = 0; i < 3; ++i) d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "web1", i);
  auto a = d.Hit("s", "ssh.login", Src("192.0.2.7"), "web1", 10);
  ASSERT_THAT(a, SizeIs(2));
  EXPECT_EQ(a[0].rule, "bfu");
  EXPECT_EQ(a[0].severity, Severity::kCritical);
  EXPECT_EQ(a[1].rule, "other");
  EXPECT_EQ(d.metrics().ValueOf("konseki_correlation_alerts_merged_total", {}), 1);
  // Apart, each alerts on its own: a login as another user from the
  // guessing source (bfs), then one as the guessed user from elsewhere (bfu).
  for (int i = 0; i < 3; ++i)
    d.Hit("f", "ssh.auth_failure", Src("192.0.2.8", "bob"), "web2", 20 + i);
  a = d.Hit("s", "ssh.login", Src("192.0.2.8", "dave"), "web2", 30);
  ASSERT_THAT(a, SizeIs(2));
  EXPECT_EQ(a[0].rule, "bfs");
  EXPECT_EQ(a[1].rule, "other");
  for (int i = 0; i < 3; ++i)
    d.Hit("f", "ssh.auth_failure", Src("192.0.2.9", "erin"), "web2", 40 + i);
  a = d.Hit("s", "ssh.login", Src("198.51.100.1", "erin"), "web2", 50);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].rule, "bfu");
  EXPECT_EQ(d.metrics().ValueOf("konseki_correlation_alerts_merged_total", {}), 1);
}

// A host correlation and a fleet one of one sign completed by one line are
// not merged where one process runs both: the server raises the fleet
// thread's alert apart from the worker's, and test-rules shows what it does.
TEST(SequenceTest, AHostAndAFleetAlertOfOneSignBothStay) {
  Correlation fleet = Sequence(3, 3600);
  fleet.sign = "test.success";
  Correlation host = Sequence(3, 3600);
  host.id = "bfs.host";
  host.scope = KeyScope::kHost;
  host.sign = "test.success";
  host.severity = Severity::kCritical;
  Driver d(Pack({fleet, host}));
  for (int i = 0; i < 3; ++i) d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "web1", i);
  auto a = d.Hit("s", "ssh.login", Src("192.0.2.7"), "web1", 10);
  ASSERT_THAT(a, SizeIs(2));
  EXPECT_EQ(a[0].rule, "bfs.host");
  EXPECT_EQ(a[1].rule, "bfs");
  EXPECT_EQ(d.metrics().ValueOf("konseki_correlation_alerts_merged_total", {}), 0);
}

// quiet_secs on a sequence: one alert per key until that long without
// another completed run; a held run is consumed (its A hits count no more).
TEST(SequenceTest, QuietSecsHoldsTheNextRunsOfTheKey) {
  Correlation c = Sequence(3, 3600);
  c.quiet_secs = 86400;
  Driver d(Pack({c}));
  auto run = [&](int at) {
    for (int i = 0; i < 3; ++i) d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "web1", at + i);
    return d.Hit("s", "ssh.login", Src("192.0.2.7"), "web1", at + 10).size();
  };
  EXPECT_EQ(run(0), 1u);
  EXPECT_EQ(run(3600), 0u);       // an hour later: held
  EXPECT_EQ(run(3600 * 20), 0u);  // within a day of the last held run
  EXPECT_EQ(d.Hit("s", "ssh.login", Src("192.0.2.7"), "web1", 3600 * 20 + 20).size(), 0u);
  EXPECT_EQ(run(3600 * 20 + 86400 + 60), 1u);  // a day without one: alerts again
  // Another key is its own.
  for (int i = 0; i < 3; ++i) d.Hit("f", "ssh.auth_failure", Src("192.0.2.8"), "web1", 3600 + i);
  EXPECT_EQ(d.Hit("s", "ssh.login", Src("192.0.2.8"), "web1", 3620).size(), 1u);
}

// after_unless filters the A hits only: refused keys are no guesses, but
// a key login is a B hit all the same.
TEST(SequenceTest, AfterUnlessLeavesOutAHitsOnly) {
  Correlation c = Sequence(3, 3600);
  c.after_unless = {{"method", "(?:publickey|hostbased|none)"}};
  Driver d(Pack({c}));
  auto fail = [&](const std::string& method, double t) {
    return d.Hit("f", "ssh.auth_failure", {{"src_ip", "192.0.2.1"}, {"method", method}}, "h", t);
  };
  auto login = [&](const std::string& method, double t) {
    return d.Hit("a", "ssh.login", {{"src_ip", "192.0.2.1"}, {"method", method}}, "h", t);
  };
  fail("publickey", 0);
  fail("publickey", 1);
  fail("none", 2);
  fail("hostbased", 3);
  EXPECT_THAT(login("publickey", 10), IsEmpty());
  fail("password", 20);
  fail("keyboard-interactive/pam", 21);
  fail("password", 22);
  auto a = login("publickey", 30);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "count"), "3");
}

// sole_value: a run whose every A hit named B's user, no more than
// max_count of them, takes the lower severity and names the user; one A hit
// naming another user or none, or one too many, keeps the correlation's.
TEST(SequenceTest, SoleValueLowersTheSeverityOfARunOfOneUsersFailures) {
  Correlation c = Sequence(3, 3600);
  c.severity = Severity::kCritical;
  c.sole_value = {"user", 4, Severity::kHigh};
  Driver d(Pack({c}));
  auto fail = [&](const std::string& ip, const std::string& user, double t) {
    Fields f = {{"src_ip", ip}};
    if (!user.empty()) f.emplace_back("user", user);
    return d.Hit("f", "ssh.auth_failure", f, "h", t);
  };
  auto login = [&](const std::string& ip, const std::string& user, double t) {
    return d.Hit("a", "ssh.login", {{"src_ip", ip}, {"user", user}}, "h", t);
  };
  fail("192.0.2.1", "Mori", 0);
  fail("192.0.2.1", "mori", 1);
  fail("192.0.2.1", "mori", 2);
  auto one = login("192.0.2.1", "mori", 10);
  ASSERT_THAT(one, SizeIs(1));
  EXPECT_EQ(one[0].severity, Severity::kHigh);
  EXPECT_EQ(FieldOf(one[0], "sole_user"), "mori");

  fail("192.0.2.2", "ueda", 100);
  fail("192.0.2.2", "kudo", 101);  // another account among them
  fail("192.0.2.2", "ueda", 102);
  auto mixed = login("192.0.2.2", "ueda", 110);
  ASSERT_THAT(mixed, SizeIs(1));
  EXPECT_EQ(mixed[0].severity, Severity::kCritical);
  EXPECT_EQ(FieldOf(mixed[0], "sole_user"), "<none>");

  fail("192.0.2.3", "sato", 200);
  fail("192.0.2.3", "", 201);  // SMTP AUTH's failure names nobody
  fail("192.0.2.3", "sato", 202);
  EXPECT_EQ(login("192.0.2.3", "sato", 210).at(0).severity, Severity::kCritical);

  for (int i = 0; i < 5; ++i) fail("192.0.2.4", "ito", 300 + i);  // one more than max_count
  EXPECT_EQ(login("192.0.2.4", "ito", 310).at(0).severity, Severity::kCritical);

  // Another user's failure outside the window does not count against it.
  fail("192.0.2.5", "abe", 400);
  for (int i = 0; i < 3; ++i) fail("192.0.2.5", "oda", 5000 + i);
  EXPECT_EQ(login("192.0.2.5", "oda", 5010).at(0).severity, Severity::kHigh);
}

// sole_value on a `field` sequence's network: distinct failing addresses
// all in the login's /16 (a carrier's pool a phone moves through) take the
// lower severity and name the network; one address outside it, or more
// than max_count of them, keeps the correlation's (benign31 S04).
TEST(SequenceTest, SoleNetworkLowersARunOfAddressesInTheLoginsPool) {
  Correlation c = Sequence(4, 43200);
  c.severity = Severity::kHigh;
  c.key = {"user"};
  c.scope = KeyScope::kHost;
  c.field = "src_ip";
  c.sole_value = {"src_ip", 6, Severity::kLow, /*by_network=*/true, /*wide=*/true};
  Driver d(Pack({c}));
  auto fail = [&](const std::string& ip, double t) {
    return d.Hit("f", "ssh.auth_failure", {{"src_ip", ip}, {"user", "yoshida"}}, "h", t);
  };
  auto login = [&](const std::string& ip, double t) {
    return d.Hit("a", "ssh.login", {{"src_ip", ip}, {"user", "yoshida"}}, "h", t);
  };
  for (int i = 0; i < 5; ++i) fail("49.98." + std::to_string(100 + i) + ".17", 600.0 * i);
  auto pool = login("49.98.103.44", 4000);
  ASSERT_THAT(pool, SizeIs(1));
  EXPECT_EQ(pool[0].severity, Severity::kLow);
  EXPECT_EQ(FieldOf(pool[0], "sole_src_ip_net"), "49.98.0.0/16");

  for (int i = 0; i < 4; ++i) fail("49.98." + std::to_string(100 + i) + ".17", 10000.0 + i);
  fail("203.0.113.9", 10010);  // a source outside the pool
  auto mixed = login("49.98.101.17", 10020);
  ASSERT_THAT(mixed, SizeIs(1));
  EXPECT_EQ(mixed[0].severity, Severity::kHigh);

  for (int i = 0; i < 7; ++i) fail("49.98." + std::to_string(100 + i) + ".18", 20000.0 + i);
  auto many = login("49.98.100.18", 20020);  // seven addresses, max_count 6
  ASSERT_THAT(many, SizeIs(1));
  EXPECT_EQ(many[0].severity, Severity::kHigh);
}

// sole_value on a network without `field`: every A hit from B's /16, the
// address changing (a phone in its carrier's pool), takes the lower
// severity; one A hit from elsewhere keeps the correlation's.
TEST(SequenceTest, SoleNetworkWithoutFieldComparesEachHitsNetwork) {
  Correlation c = Sequence(4, 3600);
  c.key = {"user"};
  c.severity = Severity::kHigh;
  c.sole_value = {"src_ip", 20, Severity::kLow, /*by_network=*/true, /*wide=*/true};
  Driver d(Pack({c}));
  auto fail = [&](const std::string& ip, double t) {
    return d.Hit("f", "ssh.auth_failure", {{"src_ip", ip}, {"user", "suzuki"}}, "h", t);
  };
  auto login = [&](const std::string& ip, double t) {
    return d.Hit("a", "ssh.login", {{"src_ip", ip}, {"user", "suzuki"}}, "h", t);
  };
  for (int i = 0; i < 5; ++i) fail("49.98.10" + std::to_string(i) + ".7", 60.0 * i);
  auto pool = login("49.98.102.44", 400);
  ASSERT_THAT(pool, SizeIs(1));
  EXPECT_EQ(pool[0].severity, Severity::kLow);
  EXPECT_EQ(FieldOf(pool[0], "sole_src_ip_net"), "49.98.0.0/16");

  for (int i = 0; i < 4; ++i) fail("49.98.10" + std::to_string(i) + ".7", 1000.0 + i);
  fail("198.51.100.9", 1010);
  EXPECT_EQ(login("49.98.102.44", 1020).at(0).severity, Severity::kHigh);
}

// min_gap_secs: B alerts only when the last A hit is that long before it;
// a B inside the gap neither alerts nor uses up the A hits.
TEST(SequenceTest, MinGapWantsTheLastAHitThatLongBeforeB) {
  Correlation c = Sequence(3, 86400);
  c.min_gap_secs = 3600;
  Driver d(Pack({c}));
  auto fail = [&](double t) {
    return d.Hit("f", "ssh.auth_failure", {{"src_ip", "192.0.2.1"}}, "h", t);
  };
  auto login = [&](double t) { return d.Hit("a", "ssh.login", {{"src_ip", "192.0.2.1"}}, "h", t); };
  fail(0);
  fail(10);
  fail(20);
  EXPECT_THAT(login(1000), IsEmpty());  // 980 s after the last guess
  fail(2000);
  EXPECT_THAT(login(5000), IsEmpty());  // 3000 s
  auto a = login(5700);                 // 3700 s
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "count"), "4");
}

// A key field with |net: the addresses of one /24 (/64) share a key, and
// the alert names the network as <field>_net.
TEST(SequenceTest, AKeyOnTheNetworkJoinsNeighbouringAddresses) {
  Correlation c = Corr("net", CorrelationKind::kSequence);
  c.after = {Sign("ssh.auth_failure")};
  c.on = {Sign("ssh.login")};
  c.key = {"src_ip|net"};
  c.scope = KeyScope::kFleet;
  c.field = "src_ip";
  c.count = 3;
  c.window_secs = 3600;
  Driver d(Pack({c}));
  auto fail = [&](const std::string& ip, double t) {
    return d.Hit("f", "ssh.auth_failure", {{"src_ip", ip}}, "h", t);
  };
  auto login = [&](const std::string& ip, double t) {
    return d.Hit("a", "ssh.login", {{"src_ip", ip}}, "h2", t);
  };
  fail("198.51.100.11", 0);
  fail("198.51.100.12", 10);
  fail("203.0.113.13", 20);  // another network: its own key
  EXPECT_THAT(login("198.51.100.14", 30), IsEmpty());
  fail("198.51.100.13", 40);
  EXPECT_THAT(login("203.0.113.14", 50), IsEmpty());
  auto a = login("198.51.100.14", 60);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "src_ip_net"), "198.51.100.0/24");
  EXPECT_EQ(FieldOf(a[0], "src_ip"), "198.51.100.14");
  fail("2001:db8:1:2::a", 70);
  fail("2001:db8:1:2::b", 71);
  fail("2001:db8:1:2::c", 72);
  auto v6 = login("2001:db8:1:2::99", 80);
  ASSERT_THAT(v6, SizeIs(1));
  EXPECT_EQ(FieldOf(v6[0], "src_ip_net"), "2001:db8:1:2::/64");
}

TEST(SequenceTest, ARepeatedALineCountsItsEvents) {
  Driver d(Pack({Sequence(3, 3600)}));
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "web1", 0);
  d.Repeats(2).Hit("f", "ssh.auth_failure", Src("192.0.2.7"), "web1", 10);
  auto a = d.Hit("s", "ssh.login", Src("192.0.2.7"), "web1", 20);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "count"), "3");
  // A repeated B is still one alert.
  d.Repeats(5).Hit("f", "ssh.auth_failure", Src("192.0.2.8"), "web1", 30);
  EXPECT_THAT(d.Repeats(3).Hit("s", "ssh.login", Src("192.0.2.8"), "web1", 40), SizeIs(1));
}

TEST(SequenceTest, AWeightFieldCountsTheNumberOfAnAHit) {
  Correlation c = Sequence(5, 600);
  c.weight_field = "attempts";
  Driver d(Pack({c}));
  Fields f = Src("192.0.2.7");
  f.emplace_back("attempts", "3");
  d.Hit("f", "ssh.auth_failure", f, "mx", 0);
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("192.0.2.7"), "mx", 5), IsEmpty());
  d.Hit("f", "ssh.auth_failure", f, "mx", 10);
  auto a = d.Hit("s", "ssh.login", Src("192.0.2.7"), "mx", 20);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "count"), "6");
}

TEST(SequenceTest, AOutsideTheWindowOrAfterBDoesNotCount) {
  Driver d(Pack({Sequence(2, 100)}));
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.8"), "h", 0);
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.8"), "h", 50);
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("192.0.2.8"), "h", 100.5), IsEmpty());
  // A line stamped after B (out of order) is not "before" it.
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.9"), "h", 10);
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.9"), "h", 30, 20);
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("192.0.2.9"), "h", 20), IsEmpty());
}

TEST(SequenceTest, ACanBeACorrelation) {
  Correlation bf = Threshold(2, 60);
  bf.id = "bf";
  bf.sign = "test.burst";
  Correlation seq = Sequence(1, 600);
  seq.after = {Id("bf")};
  seq.scope = KeyScope::kHost;
  Driver d(Pack({bf, seq}));
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.10"), "h", 0);
  auto burst = d.Hit("f", "ssh.auth_failure", Src("192.0.2.10"), "h", 1);
  ASSERT_THAT(burst, SizeIs(1));
  auto a = d.Hit("s", "ssh.login", Src("192.0.2.10"), "h", 100);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].rule, "bfs");
}

// With `field`: `count` distinct values among the A hits, and B's value one
// of them or in the same /24 or /64 (a spray, then a login from it).
TEST(SequenceTest, WithAFieldCountsDistinctValuesAndWantsBsValueAmongThem) {
  Correlation c = Sequence(5, 3600);
  c.key = {"user"};
  c.field = "src_ip";
  Driver d(Pack({c}));
  for (int i = 1; i <= 4; ++i) {
    d.Hit("f", "ssh.auth_failure", Src("198.51.100." + std::to_string(i), "admin"), "h", i);
    d.Hit("f", "ssh.auth_failure", Src("198.51.100." + std::to_string(i), "admin"), "h", i + 10);
  }
  // Eight failures but four sources: no alert.
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("198.51.100.1", "admin"), "h", 20), IsEmpty());
  d.Hit("f", "ssh.auth_failure", Src("203.0.113.9", "admin"), "h", 30);
  // Five sources now; a login from elsewhere (the user at home) is none of them.
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("192.0.2.50", "admin"), "h", 40), IsEmpty());
  // One from the same /24 as a source is.
  auto a = d.Hit("s", "ssh.login", Src("203.0.113.77", "admin"), "h", 50);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "user"), "admin");
  EXPECT_EQ(FieldOf(a[0], "src_ip"), "203.0.113.77");
  EXPECT_EQ(FieldOf(a[0], "count"), "5");
  EXPECT_EQ(FieldOf(a[0], "src_ip_values"),
            "198.51.100.1,198.51.100.2,198.51.100.3,198.51.100.4,203.0.113.9");
  // IPv6: the /64.
  for (int i = 1; i <= 5; ++i) {
    d.Hit("f", "ssh.auth_failure", Src("2001:db8:1:2::" + std::to_string(i), "oracle"), "h",
          100 + i);
  }
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("2001:db8:1:3::9", "oracle"), "h", 120), IsEmpty());
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("2001:db8:1:2::99", "oracle"), "h", 121), SizeIs(1));
}

// ---- unpaired ----

Correlation Unpaired() {
  Correlation c = Corr("cwo", CorrelationKind::kUnpaired);
  c.after = {Sign("session.open")};
  c.on = {Sign("session.close")};
  c.key = {"pid"};
  c.min_observed_secs = 3600;
  return c;
}

TEST(UnpairedTest, CloseWithoutOpenAlertsOnlyOnceTheHostWasWatchedLongEnough) {
  Driver d(Pack({Unpaired()}));
  d.Hit("x", "other", {}, "h", 0);
  EXPECT_THAT(d.Hit("c", "session.close", {}, "h", 3599), IsEmpty());
  auto a = d.Hit("c", "session.close", {}, "h", 3600);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "pid"), "1");
  EXPECT_EQ(FieldOf(a[0], "watched_since"), FormatRfc3339Micros(At(0)));
  // Paired: nothing.
  d.Hit("o", "session.open", {}, "h", 4000);
  EXPECT_THAT(d.Hit("c", "session.close", {}, "h", 4001), IsEmpty());
}

// duration_field: the close says how long its session lasted. Begun during
// the watch (more than 300 s after its start), its open should have come:
// alerted at once, long before min_observed_secs, naming when it began.
// Begun before the watch (or in its first 300 s) it is never one, however
// long the watch; a close without a duration is judged as before.
TEST(UnpairedTest, ACloseWhoseDurationSaysItBeganDuringTheWatchAlertsAtOnce) {
  Correlation c = Unpaired();
  c.key = {"user"};
  c.min_observed_secs = 86400;
  c.duration_field = "duration";
  Driver d(Pack({c}));
  auto close = [&](const std::string& user, const std::string& duration, double t) {
    Fields f = {{"user", user}};
    if (!duration.empty()) f.emplace_back("duration", duration);
    return d.Hit("c", "session.close", f, "h", t);
  };
  d.Hit("x", "other", {}, "h", 0);
  auto a = close("alice", "0h:40m:00s", 3600);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "user"), "alice");
  EXPECT_EQ(FieldOf(a[0], "session_began"), FormatRfc3339Micros(At(1200)));
  EXPECT_THAT(close("bob", "2h:00m:00s", 3600), IsEmpty());  // began before the watch
  EXPECT_THAT(close("carol", "0:58:00", 3600), IsEmpty());   // in its first 300 s
  EXPECT_THAT(close("frank", "soon", 3700), IsEmpty());      // no duration: 3700 s watched
  EXPECT_THAT(close("ivan", "3000", 3700), SizeIs(1));       // seconds
  // A day and more watched: a 30 h session began before it, still nothing;
  // a close without a duration is min_observed_secs' as before.
  EXPECT_THAT(close("dave", "1d 6h:00m:00s", 100000), IsEmpty());
  EXPECT_THAT(close("erin", "", 100000), SizeIs(1));
  EXPECT_THAT(close("hana", "1d 2h:03m:04s", 100000), SizeIs(1));  // began at 6216
  // Paired: nothing.
  d.Hit("o", "session.open", {{"user", "gina"}}, "h", 5000);
  EXPECT_THAT(close("gina", "1000", 6000), IsEmpty());
}

TEST(UnpairedTest, AHostGapRestartsTheWatchUnlessTheRuleIgnoresGaps) {
  Correlation boot = Unpaired();
  boot.id = "boot";
  boot.key = {};
  boot.reset_on_host_gap = false;
  boot.on = {Sign("system.boot")};
  boot.after = {Sign("system.shutdown")};
  Driver d(Pack({Unpaired(), boot}));
  d.Hit("x", "other", {}, "h", 0);
  d.c().OnHostGap("h");
  d.Hit("x", "other", {}, "h", 5000);
  EXPECT_THAT(d.Hit("c", "session.close", {}, "h", 6000), IsEmpty());
  EXPECT_THAT(d.Hit("c", "session.close", {}, "h", 8600), SizeIs(1));
  EXPECT_THAT(d.Hit("b", "system.boot", {}, "h", 5001), SizeIs(1));
}

TEST(UnpairedTest, EvictingAnOpenRestartsTheHostsWatch) {
  CorrelatorOptions o;
  o.max_keys_per_rule = 2;
  Driver d(Pack({Unpaired()}), o);
  d.Hit("x", "other", {}, "h", 0);
  auto open = [&](const std::string& pid, double t) {
    Fields f = {{"pid", pid}};
    return d.Hit("o", "session.open", f, "h", t);
  };
  open("10", 4000);
  open("11", 4001);
  open("12", 4002);  // evicts 10: its close must not look unpaired
  EXPECT_EQ(d.metrics().ValueOf("konseki_correlation_evictions_total", {{"rule", "cwo"}}), 1);
  EXPECT_THAT(d.Hit("c", "session.close", {{"pid", "10"}}, "h", 4003), IsEmpty());
}

// time24 r4: a close resent (same key, same stamp) finds its open taken by
// the first copy: covered. A close of the key with another stamp is not.
TEST(UnpairedTest, AResentCloseIsCoveredByTheOpenItsFirstCopyTook) {
  Driver d(Pack({Unpaired()}));
  d.Hit("x", "other", {}, "h", 0);
  d.Hit("o", "session.open", {{"pid", "7"}}, "h", 4000);
  EXPECT_THAT(d.Hit("c", "session.close", {{"pid", "7"}}, "h", 4600), IsEmpty());
  EXPECT_THAT(d.Hit("c", "session.close", {{"pid", "7"}}, "h", 4600, 4660), IsEmpty());
  EXPECT_THAT(d.Hit("c", "session.close", {{"pid", "7"}}, "h", 9000), SizeIs(1));
}

// time24 r5: the open (stamped before its close) arrives after it. With
// late_open_secs the close waits that long (receive time) for it; an open
// stamped after the close answers nothing; a close nothing answers is
// raised when its wait ends (TakeDue), decided then.
TEST(UnpairedTest, ACloseWaitsLateOpenSecsForAnOpenDeliveredLate) {
  Correlation c = Unpaired();
  c.late_open_secs = 120;
  Driver d(Pack({c}));
  d.Hit("x", "other", {}, "h", 0);
  EXPECT_THAT(d.Hit("c", "session.close", {{"pid", "7"}}, "h", 4060), IsEmpty());
  EXPECT_THAT(d.Hit("o", "session.open", {{"pid", "7"}}, "h", 4000, 4070), IsEmpty());
  std::vector<Alert> due;
  d.c().TakeDue(At(5000), &due, true);
  EXPECT_THAT(due, IsEmpty());
  EXPECT_THAT(d.Hit("c", "session.close", {{"pid", "8"}}, "h", 6000), IsEmpty());
  d.c().TakeDue(At(6119), &due);
  EXPECT_THAT(due, IsEmpty());
  d.c().TakeDue(At(6120), &due);
  ASSERT_THAT(due, SizeIs(1));
  EXPECT_EQ(FieldOf(due[0], "pid"), "8");
  EXPECT_EQ(FieldOf(due[0], "waited_secs"), "120");
  EXPECT_EQ(due[0].decided, At(6120));
  due.clear();
  d.Hit("c", "session.close", {{"pid", "9"}}, "h", 7000);
  d.Hit("o", "session.open", {{"pid", "9"}}, "h", 7001, 7002);
  d.c().TakeDue(At(7200), &due);
  EXPECT_THAT(due, SizeIs(1));
}

// window_secs: an open covers every close of its key within that long
// after it (sudo -u postgres crontab -e: BEGIN EDIT, REPLACE, END EDIT);
// quiet_secs: one alert per key until that long without a close.
TEST(UnpairedTest, AWindowedOpenCoversEveryCloseWithinItAndQuietHoldsRepeats) {
  Correlation c = Corr("cron", CorrelationKind::kUnpaired);
  c.after = {Sign("session.open")};
  c.on = {Sign("cron.change")};
  c.key = {"user"};
  c.min_observed_secs = 0;
  c.window_secs = 3600;
  c.quiet_secs = 600;
  Driver d(Pack({c}));
  auto edit = [&](const std::string& user, double t) {
    return d.Hit("crontab", "cron.change", {{"user", user}}, "h", t);
  };
  ASSERT_THAT(edit("www-data", 0), SizeIs(1));   // no switch to www-data: alert
  EXPECT_THAT(edit("www-data", 40), IsEmpty());  // the same edit's REPLACE: held
  d.Hit("sudo", "session.open", {{"user", "postgres"}}, "h", 100);
  EXPECT_THAT(edit("postgres", 100), IsEmpty());
  EXPECT_THAT(edit("postgres", 260), IsEmpty());  // still covered: the open stays
  EXPECT_THAT(edit("postgres", 3700), IsEmpty());
  ASSERT_THAT(edit("postgres", 3701), SizeIs(1));  // an hour after the switch
  EXPECT_THAT(edit("postgres", 3800), IsEmpty());  // held
  EXPECT_THAT(edit("postgres", 4401), SizeIs(1));  // 601 s quiet: alerts again
  EXPECT_THAT(edit("www-data", 5000), SizeIs(1));
}

// where_in reads what a host taught a set (`learn:`), as membership does:
// an account useradd made with a nologin shell is a service account there.
TEST(UnpairedTest, WhereInSetsIncludeWhatTheHostLearned) {
  Correlation c = Corr("cron", CorrelationKind::kUnpaired);
  c.after = {Sign("session.open")};
  c.on = {Sign("cron.change")};
  c.key = {"user"};
  c.min_observed_secs = 0;
  c.where_in = {SetCondition{{"user"}, "system_accounts"}};
  ValueSet set;
  set.id = "system_accounts";
  set.values = {"www-data"};
  set.learn = {SetLearner{{Id("useradd")}, "user", {{"shell", ".*/nologin"}}}};
  Driver d(Pack({c}, {set}));
  auto edit = [&](const std::string& user, const std::string& host) {
    return d.Hit("crontab", "cron.change", {{"user", user}}, host, 10);
  };
  EXPECT_THAT(edit("alice", "web1"), IsEmpty());
  EXPECT_THAT(edit("svc", "web1"), IsEmpty());
  d.Hit("useradd", "account.change", {{"user", "svc"}, {"shell", "/usr/sbin/nologin"}}, "web1", 1);
  EXPECT_THAT(edit("svc", "web1"), SizeIs(1));
  EXPECT_THAT(edit("svc", "web2"), IsEmpty());  // learned per host
  EXPECT_THAT(edit("WWW-DATA", "web2"), SizeIs(1));
}

// `ordered`: a close numbered above an open received in the current watch
// alerts before min_observed_secs; below every such open it never alerts
// (it began before them); from another prefix, or after the watch
// restarted, it waits for min_observed_secs as before.
TEST(UnpairedTest, OrderedKeysProveAMissingOpenWithinTheWatch) {
  Correlation ordered = Unpaired();
  ordered.key = {"session"};
  ordered.ordered = true;
  Driver d(Pack({ordered}));
  auto open = [&](const std::string& id, double t) {
    return d.Hit("o", "session.open", {{"session", id}}, "h", t);
  };
  auto close = [&](const std::string& id, double t) {
    return d.Hit("c", "session.close", {{"session", id}}, "h", t);
  };
  open("40", 0);
  open("c5", 1);
  EXPECT_THAT(close("12", 10), IsEmpty());  // older than the watch
  EXPECT_THAT(close("40", 20), IsEmpty());  // paired
  auto a = close("41", 30);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "session"), "41");
  EXPECT_EQ(FieldOf(a[0], "earlier_open_received"), "40");
  EXPECT_THAT(close("c7", 40), SizeIs(1));  // after c5
  EXPECT_THAT(close("x9", 41), IsEmpty());  // a prefix never opened
  EXPECT_THAT(close("not-a-number", 42), IsEmpty());
  open("38", 50);  // the lowest open of the watch goes down
  EXPECT_THAT(close("39", 60), SizeIs(1));

  d.c().OnHostGap("h");
  d.Hit("x", "other", {}, "h", 100);  // a new watch: what it received before is stale
  EXPECT_THAT(close("45", 110), IsEmpty());
  open("50", 120);
  EXPECT_THAT(close("51", 130), SizeIs(1));
  // Watched 3,700 s: a close below every open of this watch began before
  // them (a session older than the watch); one of a prefix not opened in
  // this watch falls to the time rule.
  EXPECT_THAT(close("46", 3800), IsEmpty());
  EXPECT_THAT(close("c2", 3801), SizeIs(1));
}

// `ordered` on Windows' logon ids: "0x" and a hex number from one per-boot
// counter (memory26 A18: 4634 for 0x7c3e91a after an open 0x5a1f000 of the
// watch; an id below every open began before the watch). The case of the
// hex digits does not matter.
TEST(UnpairedTest, OrderedHexLogonIdsProveAMissingOpen) {
  Correlation ordered = Unpaired();
  ordered.key = {"logon_id|lower"};  // NXLog's JSON writes 0x5a1f000, the text 0x5A1F000
  ordered.ordered = true;
  Driver d(Pack({ordered}));
  auto open = [&](const std::string& id, double t) {
    return d.Hit("o", "session.open", {{"logon_id", id}}, "h", t);
  };
  auto close = [&](const std::string& id, double t) {
    return d.Hit("c", "session.close", {{"logon_id", id}}, "h", t);
  };
  open("0x5a1f000", 0);
  EXPECT_THAT(close("0x3e7a12", 10), IsEmpty());   // older than the watch
  EXPECT_THAT(close("0x5A1F000", 20), IsEmpty());  // paired, the text's upper case
  auto a = close("0x7c3e91a", 30);                 // above the open: 9 < a in hex
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "earlier_open_received"), "0x5a1f000");
  EXPECT_THAT(close("0x5a1effa", 40), IsEmpty());  // below it (decimal digits alone said above)
  EXPECT_THAT(close("0xzz", 41), IsEmpty());       // not a number
}

// restart_on: a boot (Windows 4608) starts the host's logon ids again. The
// order is learned afresh from the next open, so a close above it is a
// missing open at once; without restart_on the low open after the boot is
// a wrap and ends the proof for the watch (win27's left item). Another
// host's boot forgets nothing of this one.
TEST(UnpairedTest, RestartOnStartsTheCounterOrderAgain) {
  for (bool restart : {false, true}) {
    Correlation ordered = Unpaired();
    ordered.key = {"logon_id"};
    ordered.ordered = true;
    if (restart) ordered.restart_on = {Sign("system.boot")};
    Driver d(Pack({ordered}));
    auto open = [&](const std::string& id, const std::string& host, double t) {
      return d.Hit("o", "session.open", {{"logon_id", id}}, host, t);
    };
    auto close = [&](const std::string& id, const std::string& host, double t) {
      return d.Hit("c", "session.close", {{"logon_id", id}}, host, t);
    };
    open("0x5a1f000", "h", 0);
    open("0x5a1f000", "g", 0);
    d.Hit("b", "system.boot", {}, "h", 100);
    open("0x3e8a0", "h", 110);                           // the first logon after the boot
    EXPECT_THAT(close("0x3e000", "h", 115), IsEmpty());  // below it: from before
    EXPECT_THAT(close("0x3f000", "h", 120), SizeIs(restart ? 1 : 0)) << restart;
    EXPECT_THAT(close("0x5a1f100", "g", 130), SizeIs(1)) << restart;  // g did not boot
  }
}

// `ordered` with a key of several fields: the last is the counter (a pid),
// one sequence per host whatever the others (the program) say. After the
// counter wraps (an open below half the highest, as pids do at pid_max) a
// higher number proves nothing until the next watch.
TEST(UnpairedTest, OrderedPidsProveAMissingOpenAcrossProgramsUntilTheyWrap) {
  Correlation ordered = Unpaired();
  ordered.key = {"program", "pid"};
  ordered.ordered = true;
  Driver d(Pack({ordered}));
  auto open = [&](const std::string& program, const std::string& pid, double t) {
    return d.Hit("o", "session.open", {{"program", program}, {"pid", pid}}, "h", t);
  };
  auto close = [&](const std::string& program, const std::string& pid, double t) {
    return d.Hit("c", "session.close", {{"program", program}, {"pid", pid}}, "h", t);
  };
  open("sshd", "2000", 0);
  EXPECT_THAT(close("sshd", "2000", 5), IsEmpty());  // paired
  EXPECT_THAT(close("sshd", "1500", 6), IsEmpty());  // older than the watch
  EXPECT_THAT(close("CRON", "1900", 7), IsEmpty());
  EXPECT_THAT(close("CRON", "2050", 8), SizeIs(1));  // forked after sshd 2000
  auto a = close("sshd", "2100", 10);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "program"), "sshd");
  EXPECT_EQ(FieldOf(a[0], "pid"), "2100");
  EXPECT_EQ(FieldOf(a[0], "earlier_open_received"), "2000");
  EXPECT_THAT(d.Hit("c", "session.close", {{"program", "sshd"}, {"pid", "2200"}}, "H", 11),
              SizeIs(1));    // the host in another case
  open("sshd", "1990", 20);  // a slower login: out of order, not a wrap
  EXPECT_THAT(close("sshd", "2300", 21), SizeIs(1));
  open("sshd", "4000000", 30);
  open("sshd", "350", 40);  // pid_max reached: the pids start again
  EXPECT_THAT(close("sshd", "3000", 50), IsEmpty());
  EXPECT_THAT(close("sshd", "400", 60), IsEmpty());
  EXPECT_THAT(close("sshd", "5000", 3700), SizeIs(1));  // watched an hour: the time rule
  d.c().OnHostGap("h");
  d.Hit("x", "other", {}, "h", 4000);
  open("sshd", "700", 4010);  // a new watch: counted afresh
  EXPECT_THAT(close("sshd", "800", 4020), SizeIs(1));
  // Watched over an hour: pids below every open of the watch (no wrap
  // seen) are sessions from before it, the time rule does not judge them.
  EXPECT_THAT(close("sshd", "600", 8000), IsEmpty());
  EXPECT_THAT(close("CRON", "650", 8001), IsEmpty());
}

// quiet_key: the hold after an alert is per host and program while the
// pairing is per program and pid. A forwarder dropping lines makes one
// alert per host and program every quiet_secs (from the alert, however
// steady the loss), and the next one says how many closes it held.
TEST(UnpairedTest, QuietKeyHoldsAlertsPerCoarserKeyAndCountsThem) {
  Correlation c = Unpaired();
  c.key = {"program", "pid"};
  c.ordered = true;
  c.quiet_secs = 3600;
  c.quiet_key = {"program"};
  Driver d(Pack({c}));
  auto open = [&](const std::string& program, const std::string& pid, double t) {
    return d.Hit("o", "session.open", {{"program", program}, {"pid", pid}}, "h", t);
  };
  auto close = [&](const std::string& program, const std::string& pid, double t,
                   const std::string& host = "h") {
    return d.Hit("c", "session.close", {{"program", program}, {"pid", pid}}, host, t);
  };
  open("CRON", "100", 0);
  auto a = close("CRON", "200", 300);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "held"), "<none>");  // none held before the first
  // Every five minutes another lost open: held, though each one comes
  // within quiet_secs of the last (the hold does not slide).
  for (int i = 1; i <= 11; ++i) {
    EXPECT_THAT(close("CRON", std::to_string(200 + i), 300 + 300.0 * i), IsEmpty()) << i;
  }
  EXPECT_THAT(close("sshd", "300", 400), SizeIs(1));  // another program: its own hold
  EXPECT_THAT(d.Hit("o", "session.open", {{"program", "CRON"}, {"pid", "50"}}, "h2", 0), IsEmpty());
  EXPECT_THAT(close("CRON", "60", 500, "h2"), SizeIs(1));  // another host: its own hold
  a = close("CRON", "300", 3900);                          // an hour after the alert
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "pid"), "300");
  EXPECT_EQ(FieldOf(a[0], "held"), "11");
  EXPECT_THAT(close("CRON", "301", 4000), IsEmpty());
}

// Hosts are found by their HostKey hash: two names with the same hash are
// two hosts, each with its own watch and gaps; any spelling finds a host.
TEST(HostsTest, HostsWhoseKeysCollideAreWatchedApart) {
  const std::vector<std::string> names = konseki::testing::CollidingHostNames(0xffffffffu, 2);
  ASSERT_EQ(HostKeyHash(names[0]), HostKeyHash(names[1]));
  Driver d(Pack({Unpaired()}));
  d.Hit("x", "other", {}, names[0], 0);
  d.Hit("x", "other", {}, names[1], 3000);
  EXPECT_THAT(d.Hit("c", "session.close", {}, names[0], 3600), SizeIs(1));
  EXPECT_THAT(d.Hit("c", "session.close", {}, names[1], 3600), IsEmpty());  // watched 600 s
  d.c().OnHostGap(names[1]);
  d.Hit("x", "other", {}, names[1], 7000);  // its watch restarts here
  EXPECT_THAT(d.Hit("c", "session.close", {}, names[1], 7100), IsEmpty());
  // The gap of one is not the other's, in any case.
  std::string upper = names[0];
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_THAT(d.Hit("c", "session.close", {}, upper, 7100), SizeIs(1));
  d.c().OnHostGap(upper);
  d.Hit("x", "other", {}, names[0], 7200);
  EXPECT_THAT(d.Hit("c", "session.close", {}, names[0], 7300), IsEmpty());
}

// Past correlation.max_hosts a host is evicted; the next message of an
// evicted host (also right after its eviction) records it afresh.
TEST(HostsTest, HostsEvictedBetweenTwoMessagesComeBackAfresh) {
  CorrelatorOptions o;
  o.max_hosts = 3;
  Driver d(Pack({Unpaired()}), o);
  std::vector<std::string> names = konseki::testing::CollidingHostNames(0xffffffffu, 2);
  for (const char* n : {"a", "b", "c", "d", "e"}) names.push_back(n);
  double t = 0;
  for (int r = 0; r < 5; ++r) {
    for (const std::string& n : names) {
      d.Hit("x", "other", {}, n, t);
      d.Hit("x", "other", {}, n, t);  // the same host again, after it may have evicted one
      t += 1;
    }
  }
  // 7 hosts through a table of 3: at least 4 evictions (any host goes, so
  // how many more depends on which), at most one per new host and round.
  const double evictions =
      d.metrics().ValueOf("konseki_correlation_evictions_total", {{"rule", "hosts"}});
  EXPECT_GE(evictions, 4);
  EXPECT_LE(evictions, 5 * 7 - 3);
  // The last host was recorded by its last messages: watched from then.
  EXPECT_THAT(d.Hit("c", "session.close", {}, "e", t + 3000), IsEmpty());
  EXPECT_THAT(d.Hit("c", "session.close", {}, "e", t + 3600), SizeIs(1));
}

// ---- membership ----

TEST(MembershipTest, ValuesCidrsSetsAndLearnedValues) {
  Correlation local = Corr("local", CorrelationKind::kMembership);
  local.on = {Sign("ssh.login")};
  local.field = "src_ip";
  local.cidrs = {"127.0.0.0/8", "::1/128"};
  local.host_addresses = true;
  Correlation sys = Corr("sys", CorrelationKind::kMembership);
  sys.on = {Sign("ssh.login")};
  sys.field = "user";
  sys.set = "system_accounts";
  sys.unless = {{"by", "root"}};
  ValueSet set;
  set.id = "system_accounts";
  set.values = {"www-data"};
  set.learn = {SetLearner{{Id("useradd")}, "user", {{"shell", ".*/nologin"}}}};
  CorrelatorOptions o;
  o.system_accounts = {"Oracle"};
  o.host_addresses = {{"web1", {"198.51.100.5"}}};
  Driver d(Pack({local, sys}, {set}), o);
  auto login = [&](const std::string& ip, const std::string& user, const std::string& host,
                   const std::string& sender = "192.0.2.250", const std::string& by = "") {
    return d.Hit("acc", "ssh.login", {{"src_ip", ip}, {"user", user}, {"by", by}}, host, 0, -1,
                 sender);
  };
  EXPECT_THAT(login("127.0.0.2", "alice", "web1"), SizeIs(1));
  EXPECT_THAT(login("::ffff:127.0.0.1", "alice", "web1"), SizeIs(1));
  EXPECT_THAT(login("::1", "alice", "web1"), SizeIs(1));
  EXPECT_THAT(login("198.51.100.5", "alice", "web1"), SizeIs(1));  // configured
  EXPECT_THAT(login("192.0.2.250", "alice", "web1"), SizeIs(1));   // web1's sender
  EXPECT_THAT(login("192.0.2.251", "alice", "web1"), IsEmpty());
  auto www = login("192.0.2.9", "WWW-DATA", "web1");
  ASSERT_THAT(www, SizeIs(1));
  EXPECT_EQ(FieldOf(www[0], "matched"), "set:system_accounts");
  EXPECT_THAT(login("192.0.2.9", "oracle", "web1"), SizeIs(1));  // correlation.system_accounts
  EXPECT_THAT(login("192.0.2.9", "www-data", "web1", "192.0.2.250", "root"), IsEmpty());
  EXPECT_THAT(login("192.0.2.9", "svc", "web1"), IsEmpty());
  d.Hit("useradd", "account.change", {{"user", "svc"}, {"shell", "/usr/sbin/nologin"}}, "web1", 1);
  auto svc = login("192.0.2.9", "svc", "web1");
  ASSERT_THAT(svc, SizeIs(1));
  EXPECT_EQ(FieldOf(svc[0], "matched"), "learned:system_accounts");
  EXPECT_THAT(login("192.0.2.9", "svc", "web2"), IsEmpty());  // learned per host
  // The host in another case is the same host, with what it learned.
  auto upper = login("192.0.2.9", "svc", "WEB1");
  ASSERT_THAT(upper, SizeIs(1));
  EXPECT_EQ(FieldOf(upper[0], "matched"), "learned:system_accounts");
}

// "field|stem" reads a generated name without its number, in learn: and in
// a membership's field: a host that deleted build-880091 knows build-880107.
TEST(MembershipTest, AStemFieldMatchesTheNamesOfOneGenerator) {
  EXPECT_EQ(NameStem("build-880091"), "build");
  EXPECT_EQ(NameStem("ci728"), "ci");
  EXPECT_EQ(NameStem("runner_3fa9c2"), "runner");
  EXPECT_EQ(NameStem("Job.17"), "Job");
  EXPECT_EQ(NameStem("alice"), "");   // nothing cut
  EXPECT_EQ(NameStem("backup"), "");  // no digit
  EXPECT_EQ(NameStem("u7"), "");      // one letter left
  EXPECT_EQ(NameStem("12345"), "");   // nothing left
  Correlation c = Corr("job", CorrelationKind::kMembership);
  c.on = {Id("useradd")};
  c.key = {"user"};
  c.field = "user|stem";
  c.set = "stems";
  ValueSet set;
  set.id = "stems";
  set.learn = {SetLearner{{Id("deleted_same_day")}, "user|stem", {}}};
  Driver d(Pack({c}, {set}));
  auto add = [&](const std::string& user, const std::string& host = "ci3") {
    return d.Hit("useradd", "account.change", {{"user", user}}, host, 2);
  };
  EXPECT_THAT(add("build-880091"), IsEmpty());
  d.Hit("deleted_same_day", "account.change", {{"user", "build-880091"}}, "ci3", 1);
  d.Hit("deleted_same_day", "account.change", {{"user", "alice"}}, "ci3", 1);  // no stem
  auto next = add("BUILD-880107");
  ASSERT_THAT(next, SizeIs(1));
  EXPECT_EQ(FieldOf(next[0], "user_stem"), "BUILD");
  EXPECT_EQ(FieldOf(next[0], "matched"), "learned:stems");
  EXPECT_THAT(add("build-880108", "web1"), IsEmpty());  // learned per host
  EXPECT_THAT(add("sysupdate"), IsEmpty());
  EXPECT_THAT(add("alice2"), IsEmpty());
}

// A set with max_learned keeps the values each host taught it last: the
// addresses its DHCP client holds now, not one it gave up since.
// A membership's named set reads its globs and CIDRs too, as where_in does.
TEST(MembershipTest, ASetsGlobsAndCidrsCount) {
  Correlation c = Corr("tr", CorrelationKind::kMembership);
  c.on = {Sign("cron.change")};
  c.field = "unit";
  c.set = "transient";
  ValueSet set;
  set.id = "transient";
  set.values = {"run-*", "10.9.0.0/16", "exact.timer"};
  Driver d(Pack({c}, {set}));
  auto hit = [&](const std::string& unit) {
    return d.Hit("t", "cron.change", {{"unit", unit}}, "h", 0).size();
  };
  EXPECT_EQ(hit("run-r5d0c3a1.timer"), 1u);
  EXPECT_EQ(hit("RUN-u91.timer"), 1u);
  EXPECT_EQ(hit("exact.timer"), 1u);
  EXPECT_EQ(hit("10.9.3.4"), 1u);
  EXPECT_EQ(hit("logrotate.timer"), 0u);
  EXPECT_EQ(hit("10.8.3.4"), 0u);
}

// severity_if: the first entry whose conditions all hold on the line sets
// the alert's severity; otherwise the correlation's own.
// severity_if of a correlation whose input is another correlation's alert
// (an OpenVPN login is openvpn.peer_login's) reads that alert, as it reads
// the line for a rule's hit: it was not read at all.
TEST(MembershipTest, SeverityIfReadsTheAlertOfACorrelationItTakes) {
  Correlation login = Corr("peer_login", CorrelationKind::kMembership);
  login.sign = "auth.login";
  login.on = {Sign("vpn.connection")};
  login.field = "user";
  login.values = {"alice", "bob"};
  login.severity = Severity::kInfo;
  Correlation watch = Corr("watch", CorrelationKind::kMembership);
  watch.sign = "test.watch";
  watch.on = {Sign("auth.login")};
  watch.field = "user";
  watch.values = {"alice", "bob"};
  watch.severity = Severity::kMedium;
  Correlation::SeverityIf high;
  high.severity = Severity::kHigh;
  high.where = {{"user", "alice"}};
  watch.severity_if = {high};
  Driver d(Pack({login, watch}));
  auto severity = [&](const std::string& user) {
    for (const Alert& a : d.Hit("vpn", "vpn.connection", {{"user", user}}, "vpn1", 0)) {
      if (a.rule == "watch") return a.severity;
    }
    return Severity::kInfo;
  };
  EXPECT_EQ(severity("alice"), Severity::kHigh);
  EXPECT_EQ(severity("bob"), Severity::kMedium);
}

TEST(MembershipTest, SeverityIfTakesTheFirstEntryWhoseConditionsAllHold) {
  Correlation sys = Membership("sys", Sign("ssh.login"), "user", {"nagios", "www-data"});
  sys.severity = Severity::kHigh;
  Correlation::SeverityIf low;
  low.severity = Severity::kLow;
  low.where = {{"method", "publickey"}, {"user", "nagios"}};
  low.where_in = {SetCondition{{"src_ip"}, "internal"}};
  Correlation::SeverityIf medium;
  medium.severity = Severity::kMedium;
  medium.where = {{"user", "nagios"}};
  sys.severity_if = {low, medium};
  ValueSet internal;
  internal.id = "internal";
  internal.values = {"10.0.0.0/8"};
  Driver d(Pack({sys}, {internal}));
  auto login = [&](const std::string& ip, const std::string& user, const std::string& method) {
    auto a =
        d.Hit("acc", "ssh.login", {{"src_ip", ip}, {"user", user}, {"method", method}}, "db1", 0);
    return a.size() == 1 ? a[0].severity : Severity::kInfo;
  };
  EXPECT_EQ(login("10.0.8.5", "nagios", "publickey"), Severity::kLow);
  EXPECT_EQ(login("10.0.8.5", "nagios", "password"), Severity::kMedium);
  EXPECT_EQ(login("203.0.113.8", "nagios", "publickey"), Severity::kMedium);
  EXPECT_EQ(login("10.0.8.5", "www-data", "publickey"), Severity::kHigh);
}

TEST(MembershipTest, ABoundedLearnedSetKeepsWhatWasLearnedLast) {
  Correlation local = Corr("local", CorrelationKind::kMembership);
  local.on = {Sign("ssh.login")};
  local.field = "src_ip";
  local.set = "own";
  ValueSet set;
  set.id = "own";
  set.max_learned = 2;
  set.learn = {SetLearner{{Id("lease")}, "addr", {}}};
  Driver d(Pack({local}, {set}));
  auto lease = [&](const std::string& ip, double t) {
    d.Hit("lease", "net.address", {{"addr", ip}}, "ws1", t);
  };
  auto login = [&](const std::string& ip, double t) {
    return d.Hit("acc", "ssh.login", {{"src_ip", ip}}, "ws1", t, -1, "192.0.2.250");
  };
  lease("192.168.7.21", 0);
  lease("192.168.7.40", 1);
  lease("192.168.7.21", 2);  // renewed: learned last again
  lease("10.0.0.5", 3);      // a third address: 192.168.7.40 goes
  EXPECT_THAT(login("192.168.7.21", 10), SizeIs(1));
  EXPECT_THAT(login("10.0.0.5", 11), SizeIs(1));
  EXPECT_THAT(login("192.168.7.40", 12), IsEmpty());
}

// A login from one of the host's own addresses (login.local_source's shape).
Correlation OwnAddressLogin() {
  Correlation local = Corr("local", CorrelationKind::kMembership);
  local.on = {Sign("ssh.login")};
  local.field = "src_ip";
  local.host_addresses = true;
  return local;
}

TEST(MembershipTest, ASenderAddressSharedByHostsIsARelayNotTheirOwn) {
  Driver d(Pack({OwnAddressLogin()}));
  d.Hit("x", "other", {}, "web1", 0, -1, "10.0.0.1");
  EXPECT_THAT(d.Hit("a", "ssh.login", {{"src_ip", "10.0.0.1"}}, "web1", 1, -1, "10.0.0.1"),
              SizeIs(1));
  d.Hit("x", "other", {}, "web2", 2, -1, "10.0.0.1");
  EXPECT_THAT(d.Hit("a", "ssh.login", {{"src_ip", "10.0.0.1"}}, "web1", 3, -1, "10.0.0.1"),
              IsEmpty());
}

// memory20 ls06: a host with no resolvable name forwards with its address
// in HOSTNAME (RFC 5424 6.2.4; rsyslog and 3164 senders alike). That
// address is its own even when its lines come through a relay.
TEST(MembershipTest, AHostNamedByItsAddressOwnsThatAddress) {
  Driver d(Pack({OwnAddressLogin()}));
  auto login = [&](const std::string& ip, const std::string& host) {
    return d.Hit("a", "ssh.login", {{"src_ip", ip}}, host, 0, -1, "10.0.0.1");
  };
  auto v4 = login("192.0.2.16", "192.0.2.16");
  ASSERT_THAT(v4, SizeIs(1));
  EXPECT_EQ(FieldOf(v4[0], "matched"), "host_address");
  EXPECT_THAT(login("2001:DB8::16", "2001:db8::16"), SizeIs(1));  // compared as addresses
  EXPECT_THAT(login("192.0.2.17", "192.0.2.16"), IsEmpty());
  EXPECT_THAT(login("192.0.2.16", "web16"), IsEmpty());
  EXPECT_THAT(login("192.0.2.16", "192.0.2.160"), IsEmpty());
  // The relay 10.0.0.1 sends for several hosts: nobody's own; the names
  // still are.
  EXPECT_THAT(login("10.0.0.1", "192.0.2.16"), IsEmpty());
  EXPECT_THAT(login("192.0.2.16", "192.0.2.16"), SizeIs(1));
}

// ---- `|host` keys and after_key: a login from another watched host ----

// A fleet sequence: an outside login on host X (A, keyed by X's name),
// then a login whose source is X's own address (B, keyed by the host that
// owns src_ip).
Correlation Lateral() {
  Correlation c = Corr("lateral", CorrelationKind::kSequence);
  c.scope = KeyScope::kFleet;
  c.after = {Id("outside")};
  c.on = {Id("acc")};
  c.after_key = {"host|lower"};
  c.key = {"src_ip|host"};
  c.set = "own";
  c.count = 1;
  c.window_secs = 3600;
  return c;
}

ValueSet OwnAddresses() {
  ValueSet set;
  set.id = "own";
  set.max_learned = 2;
  set.learn = {SetLearner{{Id("lease")}, "addr", {}}};
  return set;
}

TEST(HostKeyTest, ALoginFromAnotherHostsLearnedAddressTakesThatHostsAHits) {
  Driver d(Pack({Lateral()}, {OwnAddresses()}));
  auto lease = [&](const std::string& host, const std::string& ip, double t) {
    d.Hit("lease", "net.address", {{"addr", ip}}, host, t, -1, "");
  };
  auto login = [&](const std::string& host, const std::string& ip, double t) {
    return d.Hit("acc", "ssh.login", {{"src_ip", ip}, {"user", "jdoe"}}, host, t, -1, "");
  };
  lease("Web03", "10.20.1.13", 0);
  lease("app02", "10.20.2.22", 1);
  // Before any outside login on web03: nothing to follow.
  EXPECT_THAT(login("app02", "10.20.1.13", 10), IsEmpty());
  d.Hit("outside", "ssh.login", {{"src_ip", "91.240.118.52"}}, "web03", 100, -1, "");
  // From web03 itself (login.local_source's), from an address no host
  // owns: no part of it.
  EXPECT_THAT(login("WEB03", "10.20.1.13", 110), IsEmpty());
  EXPECT_THAT(login("app02", "10.20.9.9", 120), IsEmpty());
  auto a = login("app02", "10.20.1.13", 200);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].host, "app02");
  EXPECT_EQ(FieldOf(a[0], "src_ip"), "10.20.1.13");
  EXPECT_EQ(FieldOf(a[0], "src_ip_host"), "web03");
  EXPECT_EQ(FieldOf(a[0], "count"), "1");
  // The run is spent; a new outside login on app02 is app02's key.
  EXPECT_THAT(login("db01", "10.20.1.13", 300), IsEmpty());
  d.Hit("outside", "ssh.login", {{"src_ip", "91.240.118.52"}}, "app02", 400, -1, "");
  EXPECT_THAT(login("db01", "10.20.1.13", 410), IsEmpty());
  EXPECT_THAT(login("db01", "10.20.2.22", 420), SizeIs(1));
}

// ---- carry_fields: a later correlation keys on the completing hit ----

// A VPN login after guessing (fleet sequence keyed by the outside address)
// whose alert carries the tunnel address the VPN gave the session; then a
// fleet sequence from that alert, keyed on the tunnel address, to the
// servers' logins from it.
RulePack TunnelPack(bool carry) {
  Correlation guessed = Corr("guessed", CorrelationKind::kSequence);
  guessed.scope = KeyScope::kFleet;
  guessed.after = {Id("fail")};
  guessed.on = {Id("vpnlogin")};
  guessed.key = {"src_ip"};
  guessed.count = 3;
  guessed.window_secs = 600;
  if (carry) guessed.carry_fields = {"tunnel_ip", "user", "src_ip", "absent"};
  Correlation lateral = Corr("tunnel_lateral", CorrelationKind::kSequence);
  lateral.scope = KeyScope::kFleet;
  lateral.after = {Id("guessed")};
  lateral.after_key = {"tunnel_ip"};
  lateral.on = {Id("acc")};
  lateral.key = {"src_ip"};
  lateral.count = 1;
  lateral.window_secs = 28800;
  return Pack({guessed, lateral});
}

TEST(CarryFieldsTest, AnAlertCarriesTheCompletingHitsFieldsForALaterKey) {
  Driver d(TunnelPack(true));
  for (int i = 0; i < 3; ++i) {
    d.Hit("fail", "auth.failure", {{"src_ip", "185.220.101.47"}, {"user", "yamada"}}, "fgt",
          i * 7.0);
  }
  auto up =
      d.Hit("vpnlogin", "auth.login",
            {{"src_ip", "185.220.101.47"}, {"user", "yamada"}, {"tunnel_ip", "10.212.134.200"}},
            "fgt", 100);
  ASSERT_THAT(up, SizeIs(1));
  EXPECT_EQ(up[0].rule, "guessed");
  EXPECT_EQ(FieldOf(up[0], "tunnel_ip"), "10.212.134.200");
  EXPECT_EQ(FieldOf(up[0], "user"), "yamada");
  // A key field of the same name is not repeated; an absent field is not
  // made up.
  EXPECT_EQ(std::count_if(up[0].fields.begin(), up[0].fields.end(),
                          [](const auto& kv) { return kv.first == "src_ip"; }),
            1);
  EXPECT_EQ(FieldOf(up[0], "absent"), "<none>");
  auto login = [&](const std::string& host, const std::string& ip, double t) {
    return d.Hit("acc", "ssh.login", {{"src_ip", ip}, {"user", "yamada"}}, host, t);
  };
  // Another address of the pool: no part of it.
  EXPECT_THAT(login("app01", "10.212.134.201", 200), IsEmpty());
  auto a = login("app01", "10.212.134.200", 300);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].rule, "tunnel_lateral");
  EXPECT_EQ(a[0].host, "app01");
  EXPECT_EQ(FieldOf(a[0], "src_ip"), "10.212.134.200");
}

TEST(CarryFieldsTest, WithoutCarryFieldsTheAlertHasNoTunnelAddressToKeyOn) {
  Driver d(TunnelPack(false));
  for (int i = 0; i < 3; ++i) {
    d.Hit("fail", "auth.failure", {{"src_ip", "185.220.101.47"}}, "fgt", i * 7.0);
  }
  auto up = d.Hit("vpnlogin", "auth.login",
                  {{"src_ip", "185.220.101.47"}, {"tunnel_ip", "10.212.134.200"}}, "fgt", 100);
  ASSERT_THAT(up, SizeIs(1));
  EXPECT_EQ(FieldOf(up[0], "tunnel_ip"), "<none>");
  EXPECT_THAT(d.Hit("acc", "ssh.login", {{"src_ip", "10.212.134.200"}}, "app01", 300), IsEmpty());
}

TEST(HostKeyTest, AnAddressMovesWithItsLeaseAndASenderAddressNamesItsHost) {
  Driver d(Pack({Lateral()}, {OwnAddresses()}));
  auto login = [&](const std::string& host, const std::string& ip, double t) {
    return d.Hit("acc", "ssh.login", {{"src_ip", ip}}, host, t, -1, "");
  };
  d.Hit("lease", "net.address", {{"addr", "10.0.0.5"}}, "ws1", 0, -1, "");
  d.Hit("lease", "net.address", {{"addr", "10.0.0.5"}}, "ws2", 1, -1, "");  // the lease moved
  d.Hit("outside", "ssh.login", {{"src_ip", "203.0.113.1"}}, "ws1", 2, -1, "");
  EXPECT_THAT(login("db1", "10.0.0.5", 10), IsEmpty());  // ws2's now
  d.Hit("outside", "ssh.login", {{"src_ip", "203.0.113.1"}}, "ws2", 11, -1, "");
  EXPECT_THAT(login("db1", "10.0.0.5", 12), SizeIs(1));
  // A host known only by the address it sends from (no lease line).
  d.Hit("x", "other", {}, "gw7", 20, -1, "192.0.2.77");
  d.Hit("outside", "ssh.login", {{"src_ip", "203.0.113.2"}}, "gw7", 21, -1, "192.0.2.77");
  auto a = login("db1", "192.0.2.77", 30);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "src_ip_host"), "gw7");
  // A sender address two hosts share is a relay: nobody's.
  d.Hit("x", "other", {}, "gw8", 40, -1, "192.0.2.77");
  d.Hit("outside", "ssh.login", {{"src_ip", "203.0.113.2"}}, "gw7", 41, -1, "192.0.2.77");
  EXPECT_THAT(login("db1", "192.0.2.77", 50), IsEmpty());
}

TEST(HostKeyTest, AHostNamedByItsAddressIsThatAddresssHost) {
  Driver d(Pack({Lateral()}, {OwnAddresses()}));
  // Relayed (no sender of its own), named by its address in HOSTNAME.
  d.Hit("outside", "ssh.login", {{"src_ip", "203.0.113.1"}}, "192.0.2.16", 0, -1, "10.0.0.1");
  auto a = d.Hit("acc", "ssh.login", {{"src_ip", "192.0.2.16"}}, "db1", 10, -1, "10.0.0.1");
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "src_ip_host"), "192.0.2.16");
}

TEST(HostKeyTest, ConfiguredAddressesNameTheirHostAndLearnedOnesSurviveARestart) {
  CorrelatorOptions o;
  o.host_addresses = {{"Bastion", {"10.9.9.9"}}};
  RulePack pack = Pack({Lateral()}, {OwnAddresses()});
  std::string text;
  {
    Driver d(pack, o);
    d.Hit("outside", "ssh.login", {{"src_ip", "203.0.113.1"}}, "bastion", 0, -1, "");
    EXPECT_THAT(d.Hit("acc", "ssh.login", {{"src_ip", "10.9.9.9"}}, "db1", 10, -1, ""), SizeIs(1));
    d.Hit("lease", "net.address", {{"addr", "10.0.0.5"}}, "ws1", 20, -1, "");
    text = d.c().SerializeState();
  }
  Driver d(pack, o);
  ASSERT_TRUE(d.c().LoadStateText(text).ok());
  d.Hit("outside", "ssh.login", {{"src_ip", "203.0.113.1"}}, "ws1", 30, -1, "");
  EXPECT_THAT(d.Hit("acc", "ssh.login", {{"src_ip", "10.0.0.5"}}, "db1", 40, -1, ""), SizeIs(1));
}

TEST(SequenceTest, AfterUnlessInLeavesOutAHitsOnly) {
  Correlation c = Sequence(1, 3600);
  c.after_unless_in = {SetCondition{{"src_ip"}, "lan"}};
  ValueSet lan;
  lan.id = "lan";
  lan.values = {"10.0.0.0/8"};
  Driver d(Pack({c}, {lan}));
  d.Hit("f", "ssh.auth_failure", Src("10.1.2.3"), "h", 0);
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("10.1.2.3"), "h", 10), IsEmpty());
  d.Hit("f", "ssh.auth_failure", Src("10.1.2.3"), "h", 20);
  d.Hit("f", "ssh.auth_failure", Src("192.0.2.1"), "h", 21);
  // B from the LAN still completes a run (the set is on A hits only).
  Correlation keyed = Sequence(1, 3600);
  keyed.id = "keyed";
  keyed.after_unless_in = c.after_unless_in;
  keyed.key = {"user"};
  Driver k(Pack({keyed}, {lan}));
  k.Hit("f", "ssh.auth_failure", Src("192.0.2.1", "bob"), "h", 0);
  EXPECT_THAT(k.Hit("s", "ssh.login", Src("10.1.2.3", "bob"), "h", 10), SizeIs(1));
  EXPECT_THAT(d.Hit("s", "ssh.login", Src("192.0.2.1"), "h", 30), SizeIs(1));
}

// ---- first_seen ----

Correlation FirstSeenNet() {
  Correlation c = Corr("net", CorrelationKind::kFirstSeen);
  c.on = {Sign("ssh.login")};
  c.key = {"user"};
  c.first_values = {FieldRef{"src_ip", "net"}};
  c.learning_secs = 1000;
  return c;
}

TEST(FirstSeenTest, SilentWhileLearningThenNewNetworksAlert) {
  Driver d(Pack({FirstSeenNet()}));
  auto login = [&](const std::string& ip, double t) {
    return d.Hit("a", "ssh.login", {{"src_ip", ip}, {"user", "alice"}}, "h", t);
  };
  EXPECT_THAT(login("192.0.2.1", 0), IsEmpty());
  EXPECT_THAT(login("198.51.100.1", 999), IsEmpty());  // learning: remembered, no alert
  EXPECT_THAT(login("198.51.100.77", 1001), IsEmpty());
  EXPECT_THAT(login("192.0.2.200", 1002), IsEmpty());
  auto a = login("203.0.113.9", 1003);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "src_ip"), "203.0.113.0/24");
  auto v6 = login("2001:db8:1:2:3:4:5:6", 1004);
  ASSERT_THAT(v6, SizeIs(1));
  EXPECT_EQ(FieldOf(v6[0], "src_ip"), "2001:db8:1:2::/64");
  EXPECT_THAT(login("2001:db8:1:2::99", 1005), IsEmpty());
}

// `src_ip|country`: a user's logins from Japan, then one from Germany is
// news; a new Japanese ISP is not, nor is an address without a country
// (private, documentation, a host name: "--" takes no part). The alert names
// the address and its country.
TEST(FirstSeenTest, ANewCountryAlertsAndAddressesWithoutOneTakeNoPart) {
  Correlation c = Corr("country", CorrelationKind::kFirstSeen);
  c.on = {Sign("ssh.login")};
  c.key = {"user"};
  c.first_values = {FieldRef{"src_ip", "country"}};
  c.learning_secs = 1000;
  Driver d(Pack({c}));
  auto login = [&](const std::string& ip, double t) {
    return d.Hit("a", "ssh.login", {{"src_ip", ip}, {"user", "alice"}}, "h", t);
  };
  EXPECT_THAT(login("133.242.0.1", 0), IsEmpty());     // learning: JP
  EXPECT_THAT(login("210.130.1.1", 1001), IsEmpty());  // another JP ISP
  EXPECT_THAT(login("2001:218::1", 1002), IsEmpty());  // JP over IPv6
  EXPECT_THAT(login("10.0.0.5", 1003), IsEmpty());
  EXPECT_THAT(login("203.0.113.5", 1004), IsEmpty());
  EXPECT_THAT(login("gw.example.jp", 1005), IsEmpty());
  auto a = login("185.220.101.47", 1006);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "src_ip"), "185.220.101.47");
  EXPECT_EQ(FieldOf(a[0], "src_ip_country"), "DE");
  EXPECT_EQ(FieldOf(a[0], "known_count"), "3");
  EXPECT_THAT(login("185.220.100.1", 1007), IsEmpty());  // DE is known now
  auto us = login("::ffff:8.8.8.8", 1008);
  ASSERT_THAT(us, SizeIs(1));
  EXPECT_EQ(FieldOf(us[0], "src_ip_country"), "US");
}

// `src_ip|country` in a key: the hits of one country share one key, which
// the alert names beside the address.
TEST(ThresholdTest, ACountryKeyCountsOneCountrysAddressesTogether) {
  Correlation c = Corr("burst", CorrelationKind::kThreshold);
  c.on = {Sign("ssh.fail")};
  c.key = {"src_ip|country"};
  c.window_secs = 60;
  c.count = 3;
  Driver d(Pack({c}));
  auto fail = [&](const std::string& ip, double t) {
    return d.Hit("f", "ssh.fail", {{"src_ip", ip}, {"user", "root"}}, "h", t);
  };
  EXPECT_THAT(fail("185.220.101.47", 0), IsEmpty());
  EXPECT_THAT(fail("133.242.0.1", 1), IsEmpty());
  EXPECT_THAT(fail("185.220.100.1", 2), IsEmpty());
  auto a = fail("2a0b:f4c2::1", 3);  // a DE IPv6 block
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "src_ip"), "2a0b:f4c2::1");
  EXPECT_EQ(FieldOf(a[0], "src_ip_country"), "DE");
}

TEST(FirstSeenTest, NewKeysAlertUnlessTheRuleSaysNot) {
  Correlation c = FirstSeenNet();
  c.learning_secs = 0;
  Correlation quiet = c;
  quiet.id = "quiet";
  quiet.sign = "test.quiet";  // of its own: one line's alerts of one sign merge
  quiet.new_keys = false;
  Driver d(Pack({c, quiet}));
  d.Hit("x", "other", {}, "h", 0);
  auto a = d.Hit("a", "ssh.login", {{"src_ip", "192.0.2.1"}, {"user", "bob"}}, "h", 10);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].rule, "net");
  auto b = d.Hit("a", "ssh.login", {{"src_ip", "198.51.100.1"}, {"user", "bob"}}, "h", 11);
  EXPECT_THAT(b, SizeIs(2));
}

TEST(FirstSeenTest, AnEstablishedKeyNeedsNoLearningPeriodByItsLinesOwnStamps) {
  Correlation c = FirstSeenNet();
  c.learning_secs = 14 * 86400.0;
  c.established_count = 5;
  c.established_secs = 43200;
  Driver d(Pack({c}));
  // A forwarder's replay: two days of stamps received within seconds.
  const double day = 86400;
  auto login = [&](const std::string& user, const std::string& ip, double t, double rx) {
    return d.Hit("a", "ssh.login", {{"src_ip", ip}, {"user", user}}, "h", 5 * day + t,
                 7 * day + rx);
  };
  for (int i = 0; i < 4; ++i) EXPECT_THAT(login("alice", "192.0.2.1", i * 0.4 * day, i), IsEmpty());
  // Four sightings over 1.2 days: not yet established.
  EXPECT_THAT(login("alice", "198.51.100.1", 1.3 * day, 4), IsEmpty());
  // Five earlier sightings over 1.3 days now: a new network is news.
  auto a = login("alice", "203.0.113.9", 1.5 * day, 5);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "src_ip"), "203.0.113.0/24");
  EXPECT_EQ(FieldOf(a[0], "known_count"), "5");
  EXPECT_EQ(FieldOf(a[0], "known_since"), FormatRfc3339Micros(At(5 * day)));
  EXPECT_THAT(login("alice", "203.0.113.10", 1.5 * day + 60, 6), IsEmpty());  // known now
  // Many sightings within a few hours are no history.
  for (int i = 0; i < 9; ++i) EXPECT_THAT(login("bob", "192.0.2.7", i * 1800, 10 + i), IsEmpty());
  EXPECT_THAT(login("bob", "203.0.113.77", 5 * 3600, 20), IsEmpty());
  // correlation.overrides.net.established_count: 0 leaves the learning period alone.
  CorrelatorOptions o;
  o.overrides["net"].established_count = 0;
  Driver off(Pack({c}), o);
  for (int i = 0; i < 6; ++i) {
    off.Hit("a", "ssh.login", {{"src_ip", "192.0.2.1"}, {"user", "alice"}}, "h",
            5 * day + i * day / 4, 7 * day + i);
  }
  EXPECT_THAT(off.Hit("a", "ssh.login", {{"src_ip", "203.0.113.9"}, {"user", "alice"}}, "h",
                      6.6 * day, 7 * day + 9),
              IsEmpty());
}

// ---- memory ----

TEST(EvictionTest, AFloodOfSpoofedSourcesStaysWithinTheCaps) {
  CorrelatorOptions o;
  o.max_keys_per_rule = 1000;
  o.max_keys = 1500;
  Correlation other = UserEnumeration(5, 900);
  Driver d(Pack({Threshold(8, 120), other}), o);
  for (int i = 0; i < 100000; ++i) {
    const std::string ip = "10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) +
                           "." + std::to_string(i & 255);
    d.Hit("r", "ssh.auth_failure", Src(ip), "h", i * 0.001);
    ASSERT_LE(d.c().live_keys(), 1500u);
  }
  EXPECT_EQ(d.c().live_keys(), 1500u);
  const double ev = d.metrics().ValueOf("konseki_correlation_evictions_total", {{"rule", "bf"}}) +
                    d.metrics().ValueOf("konseki_correlation_evictions_total", {{"rule", "enum"}});
  EXPECT_EQ(ev, 200000 - 1500);
  d.c().Tick(At(100));
  EXPECT_EQ(d.metrics().ValueOf("konseki_correlation_keys", {{"correlator", "correlator"}}), 1500);
}

// The first key of a correlation that holds none, with the other
// correlations at the total cap, takes a key from the one holding the most
// (the soak once saw 601 live keys against correlation.max_keys 600).
TEST(EvictionTest, AFirstKeyAtTheTotalCapTakesOneFromTheLargest) {
  CorrelatorOptions o;
  o.max_keys_per_rule = 100;
  o.max_keys = 3;
  Correlation other = Corr("other", CorrelationKind::kThreshold);
  other.on = {Id("o")};
  other.key = {"src_ip"};
  other.count = 5;
  other.window_secs = 60;
  Driver d(Pack({Threshold(8, 120), other}), o);
  for (int i = 1; i <= 3; ++i) {
    d.Hit("r", "ssh.auth_failure", Src("192.0.2." + std::to_string(i)), "h", i);
  }
  EXPECT_EQ(d.c().live_keys(), 3u);
  d.Hit("o", "test.input", Src("198.51.100.1"), "h", 4);
  EXPECT_EQ(d.c().live_keys(), 3u);
  EXPECT_EQ(d.metrics().ValueOf("konseki_correlation_evictions_total", {{"rule", "bf"}}), 1);
}

TEST(EvictionTest, TickDropsExpiredKeys) {
  Driver d(Pack({Threshold(8, 120)}));
  d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 0);
  d.Hit("r", "ssh.auth_failure", Src("192.0.2.2"), "h", 500);
  d.c().Tick(At(700));
  EXPECT_EQ(d.c().live_keys(), 1u);
}

// ---- state ----

TEST(StateTest, SaveAndLoadCarryWindowsLearningAndSets) {
  ValueSet set;
  set.id = "system_accounts";
  set.learn = {SetLearner{{Id("useradd")}, "user", {}}};
  Correlation sys = Corr("sys", CorrelationKind::kMembership);
  sys.on = {Sign("ssh.login")};
  sys.field = "user";
  sys.set = "system_accounts";
  RulePack pack = Pack({Threshold(3, 600), FirstSeenNet(), Unpaired(), sys}, {set});
  std::string text;
  {
    Driver d(pack);
    d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 0);
    d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 1);
    d.Hit("a", "ssh.login", {{"src_ip", "192.0.2.1"}, {"user", "alice"}}, "h", 2);
    d.Hit("useradd", "account.change", {{"user", "svc"}}, "h", 3);
    d.Hit("o", "session.open", {{"pid", "77"}}, "h", 4);
    text = d.c().SerializeState();
  }
  Driver d(pack);
  ASSERT_TRUE(d.c().LoadStateText(text).ok());
  EXPECT_EQ(d.c().SerializeState(), text);
  // The third failure completes the burst begun before the restart.
  EXPECT_THAT(d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 5), SizeIs(1));
  // Learning started at the first line (t = 0) and is over at 1000.
  EXPECT_THAT(d.Hit("a", "ssh.login", {{"src_ip", "192.0.2.9"}, {"user", "alice"}}, "h", 1001),
              IsEmpty());
  EXPECT_THAT(d.Hit("a", "ssh.login", {{"src_ip", "198.51.100.9"}, {"user", "alice"}}, "h", 1002),
              Contains(::testing::Field(&Alert::rule, "net")));
  EXPECT_THAT(d.Hit("a", "ssh.login", {{"src_ip", "192.0.2.1"}, {"user", "svc"}}, "h", 1003),
              Contains(::testing::Field(&Alert::rule, "sys")));
  // A restart is a gap: an unknown close waits for an hour of watching from
  // the first line after it (t = 5). The open survived.
  EXPECT_THAT(d.Hit("c", "session.close", {{"pid", "78"}}, "h", 1004), IsEmpty());
  EXPECT_THAT(d.Hit("c", "session.close", {{"pid", "79"}}, "h", 3605), SizeIs(1));
  EXPECT_THAT(d.Hit("c", "session.close", {{"pid", "77"}}, "h", 5000), IsEmpty());
}

TEST(StateTest, AChangedCorrelationStartsAfresh) {
  std::string text;
  {
    Driver d(Pack({Threshold(3, 600)}));
    d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 0);
    d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 1);
    text = d.c().SerializeState();
  }
  Driver d(Pack({Threshold(4, 600)}));
  ASSERT_TRUE(d.c().LoadStateText(text).ok());
  EXPECT_EQ(d.c().live_keys(), 0u);
  EXPECT_FALSE(d.c().LoadStateText("garbage\n").ok());
}

TEST(StateTest, MalformedLinesAndHostileKeysAreSafe) {
  Driver d(Pack({Threshold(3, 600)}));
  d.Hit("r", "ssh.auth_failure", Src("a\tb\nc%d,e;f@g"), "h\x1f", 0);
  std::string text = d.c().SerializeState();
  Driver e(Pack({Threshold(3, 600)}));
  ASSERT_TRUE(e.c().LoadStateText(text + "K\tbroken\n\tH\n").ok());
  EXPECT_EQ(e.c().SerializeState(), text);
}

// A line the archive wrote to an overflow folder (a host past
// archive.max_hosts) is a member there, also after a restart: the alert
// names the file the line is really in.
TEST(StateTest, MembersInAnOverflowFolderKeepItAcrossARestart) {
  Driver d(Pack({Threshold(3, 600)}));
  d.InOverflow(2).Hit("r", "ssh.auth_failure", Src("192.0.2.9"), "late1", 0);
  // The host's folder could be written again (a diverted host).
  d.Hit("r", "ssh.auth_failure", Src("192.0.2.9"), "late1", 1);
  const std::string text = d.c().SerializeState();
  // A state written before the field (three parts per member) still loads.
  Driver old(Pack({Threshold(3, 600)}));
  std::string before = text;
  ASSERT_NE(before.find("@2;"), std::string::npos) << text;
  before.replace(before.find("@2;"), 2, "");
  ASSERT_TRUE(old.c().LoadStateText(before).ok());
  EXPECT_EQ(old.c().live_keys(), 1u);
  Driver e(Pack({Threshold(3, 600)}));
  ASSERT_TRUE(e.c().LoadStateText(text).ok());
  EXPECT_EQ(e.c().SerializeState(), text);
  auto a = e.InOverflow(2).Hit("r", "ssh.auth_failure", Src("192.0.2.9"), "late1", 2);
  ASSERT_THAT(a, SizeIs(1));
  ASSERT_THAT(a[0].members, SizeIs(3));
  EXPECT_EQ(a[0].members[0].host, "late1");
  EXPECT_EQ(a[0].members[0].overflow_worker, 2);
  EXPECT_EQ(a[0].members[1].host, "late1");
  EXPECT_EQ(a[0].members[1].overflow_worker, -1);
  EXPECT_EQ(a[0].members[2].overflow_worker, 2);
}

TEST(StateTest, FileRoundTripIsAtomicAndAMissingFileIsAFirstRun) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("corr_state_" + std::to_string(getpid())))
          .string();
  std::filesystem::create_directories(dir);
  CorrelatorOptions o;
  o.state_file = dir + "/correlation.state";
  Driver d(Pack({Threshold(3, 600)}), o);
  EXPECT_TRUE(d.c().LoadState().ok());
  d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 0);
  ASSERT_TRUE(d.c().SaveState().ok());
  EXPECT_FALSE(std::filesystem::exists(o.state_file + ".tmp"));
  Driver e(Pack({Threshold(3, 600)}), o);
  ASSERT_TRUE(e.c().LoadState().ok());
  EXPECT_EQ(e.c().live_keys(), 1u);
  std::filesystem::remove_all(dir);
}

// A power loss can leave the file empty, a disk error garbage: the daemon
// must start (a receiver that refuses to start receives nothing), with what
// the file holds intact, and say what was lost.
TEST(StateTest, ADamagedFileLoadsWhatIsIntactAndSaysWhatWasLost) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("corr_bad_" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  CorrelatorOptions o;
  o.state_file = dir + "/correlation.0.state";
  Driver d(Pack({Threshold(3, 600)}), o);
  d.Hit("r", "ssh.auth_failure", Src("192.0.2.1"), "h", 0);
  d.Hit("r", "ssh.auth_failure", Src("192.0.2.2"), "h", 0);
  ASSERT_TRUE(d.c().SaveState().ok());
  std::string good;
  {
    std::ifstream in(o.state_file, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  for (const std::string& text : {std::string(), std::string("\x8f\x01garbage\xff\n\x02")}) {
    std::ofstream(o.state_file, std::ios::binary | std::ios::trunc) << text;
    Driver e(Pack({Threshold(3, 600)}), o);
    std::vector<DamagedFile> damaged;
    ASSERT_TRUE(e.c().LoadState(&damaged).ok());
    EXPECT_EQ(e.c().live_keys(), 0u);
    ASSERT_EQ(damaged.size(), 1u);
    EXPECT_EQ(damaged[0].path, o.state_file);
    EXPECT_EQ(damaged[0].what.empty(), false);
    EXPECT_NE(damaged[0].lost.find("all of it"), std::string::npos) << damaged[0].lost;
  }
  // Cut in the middle of its last key: the first key is kept.
  const size_t last_key = good.rfind("\nK\t");
  ASSERT_NE(last_key, std::string::npos);
  std::ofstream(o.state_file, std::ios::binary | std::ios::trunc) << good.substr(0, last_key + 10);
  Driver f(Pack({Threshold(3, 600)}), o);
  std::vector<DamagedFile> damaged;
  ASSERT_TRUE(f.c().LoadState(&damaged).ok());
  EXPECT_EQ(f.c().live_keys(), 1u);
  ASSERT_EQ(damaged.size(), 1u);
  EXPECT_NE(damaged[0].what.find("1 malformed lines"), std::string::npos) << damaged[0].what;
  // An intact file reports nothing.
  std::ofstream(o.state_file, std::ios::binary | std::ios::trunc) << good;
  Driver g(Pack({Threshold(3, 600)}), o);
  damaged.clear();
  ASSERT_TRUE(g.c().LoadState(&damaged).ok());
  EXPECT_EQ(g.c().live_keys(), 2u);
  EXPECT_TRUE(damaged.empty());
  std::filesystem::remove_all(dir);
}

TEST(ReloadTest, UnchangedCorrelationsKeepTheirStateChangedOnesStartAfresh) {
  Correlation keep = Threshold(3, 600);
  Correlation change = UserEnumeration(3, 600);
  Driver old(Pack({keep, change}));
  old.Hit("r", "ssh.auth_failure", Src("192.0.2.1", "a"), "h", 0);
  old.Hit("r", "ssh.auth_failure", Src("192.0.2.1", "b"), "h", 1);
  change.count = 4;
  Driver d(Pack({keep, change}));
  d.c().TakeStateFrom(old.c());
  auto a = d.Hit("r", "ssh.auth_failure", Src("192.0.2.1", "c"), "h", 2);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].rule, "bf");
}

// ---- superseded_by: a fleet correlation leaves out the lines a host
// correlation judged routine ----

// A host membership that replaces the line's alert for the accounts it
// knows (an admin's, Ansible's), and a fleet distinct over hosts that
// leaves those lines out.
RulePack ExplainedAccountsPack() {
  Correlation explain = Membership("explain", Id("useradd"), "user", {"mkato"});
  explain.severity = Severity::kLow;
  explain.supersedes = explain.replaces = true;
  Correlation fleet = Distinct("fleet", Id("useradd"), {"user"}, "host", 3, 1800);
  fleet.scope = KeyScope::kFleet;
  fleet.unless = {{"superseded_by", "explain"}};
  return Pack({explain, fleet});
}

TEST(SupersededByTest, OneProcessRunningBothScopesLeavesOutTheExplainedLines) {
  Driver d(ExplainedAccountsPack());
  const char* hosts[] = {"ua1", "ua2", "ua3"};
  for (int i = 0; i < 3; ++i) {
    auto a = d.Hit("useradd", "account.change", {{"user", "mkato"}}, hosts[i], i * 10);
    ASSERT_THAT(a, SizeIs(1));
    EXPECT_EQ(a[0].rule, "explain");
    EXPECT_EQ(d.c().superseded_by(), "explain");
  }
  std::vector<Alert> last;
  for (int i = 0; i < 3; ++i) {
    last = d.Hit("useradd", "account.change", {{"user", "sysbk"}}, hosts[i], 100 + i * 10);
    EXPECT_EQ(d.c().superseded_by(), "");
  }
  ASSERT_THAT(last, SizeIs(1));
  EXPECT_EQ(last[0].rule, "fleet");
  EXPECT_EQ(FieldOf(last[0], "host_values"), "ua1,ua2,ua3");
}

// The pack's order does not matter: one process runs every host
// correlation before any fleet one, as the server's fleet thread sees them.
TEST(SupersededByTest, AFleetCorrelationListedFirstStillSeesTheHostsJudgement) {
  RulePack pack = ExplainedAccountsPack();
  std::reverse(pack.correlations.begin(), pack.correlations.end());
  ASSERT_EQ(pack.correlations.front().id, "fleet");
  Driver d(pack);
  std::vector<Alert> last;
  for (const char* h : {"ub1", "ub2", "ub3"}) {
    last = d.Hit("useradd", "account.change", {{"user", "mkato"}}, h, 0);
    ASSERT_THAT(last, SizeIs(1));
    EXPECT_EQ(last[0].rule, "explain");
  }
}

// A membership that judges a crash line by its program holds its alert
// for an hour; the held lines are still its findings, so the crash rule's
// own alert stays out for them too (a superseded alert starts no hold of
// the rule's: without this the second crash came back at the rule's
// severity).
TEST(SupersededByTest, AMembershipHeldByItsQuietStillTakesTheLinesPlace) {
  Correlation judge = Membership("judge", Id("segv"), "program", {"su"});
  judge.severity = Severity::kHigh;
  judge.supersedes = true;
  judge.key = {"program"};
  judge.quiet_secs = 3600;
  Driver d(Pack({judge}));
  auto a = d.Hit("segv", "crash", {{"program", "su"}}, "h", 0);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(d.c().superseded_by(), "judge");
  EXPECT_THAT(d.Hit("segv", "crash", {{"program", "su"}}, "h", 60), IsEmpty());
  EXPECT_EQ(d.c().superseded_by(), "judge");
  EXPECT_THAT(d.Hit("segv", "crash", {{"program", "bash"}}, "h", 70), IsEmpty());
  EXPECT_EQ(d.c().superseded_by(), "");
  // After an hour without a crash of su the next one alerts again.
  EXPECT_THAT(d.Hit("segv", "crash", {{"program", "su"}}, "h", 3800), SizeIs(1));
}

// As the server runs them: the worker's host correlator, then the fleet
// thread's, the hit carrying the host's superseded_by.
TEST(SupersededByTest, TheFleetCorrelatorReadsTheHitsSupersededBy) {
  const RulePack pack = ExplainedAccountsPack();
  MetricsRegistry metrics;
  CorrelatorOptions host_only, fleet_only;
  host_only.run_fleet = false;
  fleet_only.run_host = false;
  auto host = Correlator::Create(pack, host_only, metrics);
  auto fleet = Correlator::Create(pack, fleet_only, metrics);
  ASSERT_TRUE(host.ok() && fleet.ok());
  std::vector<Alert> fleet_alerts;
  auto feed = [&](const std::string& user, const std::string& h, double t) {
    Fields fields = {{"user", user}};
    HitEvent e;
    e.input_id = "useradd";
    e.sign = "account.change";
    e.fields = &fields;
    e.host = h;
    e.event_time = e.received = At(t);
    std::vector<Alert> out;
    if ((*host)->Process(e, &out)) e.superseded_by = (*host)->superseded_by();
    (*fleet)->Process(e, &fleet_alerts);
  };
  for (const char* h : {"a1", "a2", "a3"}) feed("mkato", h, 0);
  EXPECT_THAT(fleet_alerts, IsEmpty());
  for (const char* h : {"a1", "a2", "a3"}) feed("sysbk", h, 10);
  ASSERT_THAT(fleet_alerts, SizeIs(1));
  EXPECT_EQ(FieldOf(fleet_alerts[0], "user"), "sysbk");
}

// first_seen over ['src_ip|host'] keyed by the target host (fleet): the
// memory of which servers log in where. A server's new lease is the same
// server; an address no watched host owns, and the host's own, take no
// part; each host learns over its own period (from its first hit), not
// the fleet's.
TEST(HostKeyTest, AFirstSeenTupleOfTheServerAnAddressBelongsTo) {
  Correlation c = Corr("server_source", CorrelationKind::kFirstSeen);
  c.scope = KeyScope::kFleet;
  c.on = {Id("acc")};
  c.key = {"host"};
  c.first_values = {FieldRef{"src_ip", "host"}};
  c.set = "own";
  c.learning_secs = 1000;
  Driver d(Pack({c}, {OwnAddresses()}));
  auto lease = [&](const std::string& host, const std::string& ip, double t) {
    d.Hit("lease", "net.address", {{"addr", ip}}, host, t, -1, "");
  };
  auto login = [&](const std::string& host, const std::string& ip, double t) {
    return d.Hit("acc", "ssh.login", {{"src_ip", ip}, {"user", "jdoe"}}, host, t, -1, "");
  };
  lease("backup1", "10.0.0.9", 0);
  lease("web1", "10.0.0.21", 0);
  lease("db01", "10.0.0.30", 0);
  // db01's learning period.
  EXPECT_THAT(login("db01", "10.0.0.9", 10), IsEmpty());
  // backup1 from a new lease is backup1; a workstation's address and
  // db01's own are no server of the fleet.
  lease("backup1", "10.0.0.10", 1500);
  EXPECT_THAT(login("db01", "10.0.0.10", 1600), IsEmpty());
  EXPECT_THAT(login("db01", "10.0.5.77", 1700), IsEmpty());
  EXPECT_THAT(login("db01", "10.0.0.30", 1710), IsEmpty());
  auto a = login("db01", "10.0.0.21", 1800);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "host"), "db01");
  EXPECT_EQ(FieldOf(a[0], "src_ip"), "10.0.0.21");
  EXPECT_EQ(FieldOf(a[0], "src_ip_host"), "web1");
  EXPECT_THAT(login("db01", "10.0.0.21", 1900), IsEmpty());
  // db02, first seen at 2000, learns until 3000 though the fleet's
  // period is over.
  lease("db02", "10.0.0.31", 2000);
  EXPECT_THAT(login("db02", "10.0.0.21", 2100), IsEmpty());
  ASSERT_THAT(login("db02", "10.0.0.9", 3100), SizeIs(1));
}

// where_equal / unless_equal compare two fields of one hit (Dovecot's
// rip= and lip=): ASCII case aside, two spellings of one address are
// equal, a missing or empty field equals nothing.
TEST(MembershipTest, WhereEqualComparesTwoFieldsOfOneHit) {
  Correlation c = Membership("own", Sign("auth.login"), "user", {"bob"});
  c.where_equal = {FieldPair{"src_ip", "local_ip"}};
  Correlation u = c;
  u.where_equal.clear();
  u.unless_equal = {FieldPair{"src_ip", "local_ip"}};
  Driver where(Pack({c}));
  Driver unless(Pack({u}));
  auto hits = [](Driver& d, const std::string& rip, const std::string& lip) {
    Fields f = {{"user", "bob"}, {"src_ip", rip}};
    if (!lip.empty()) f.emplace_back("local_ip", lip);
    return d.Hit("dovecot.login", "auth.login", f, "mx1", 0).size();
  };
  for (auto [rip, lip, equal] : std::vector<std::tuple<std::string, std::string, bool>>{
           {"10.0.0.5", "10.0.0.5", true},
           {"10.0.0.5", "10.0.0.6", false},
           {"10.0.0.5", "10.0.0.50", false},
           {"2001:DB8::25", "2001:db8:0::25", true},
           {"::ffff:10.0.0.5", "10.0.0.5", true},
           {"2001:db8::25", "2001:db8::26", false},
           {"Mail.Example.org", "mail.example.ORG", true},
           {"10.0.0.5", "", false},
       }) {
    EXPECT_EQ(hits(where, rip, lip), equal ? 1u : 0u) << rip << " " << lip;
    EXPECT_EQ(hits(unless, rip, lip), equal ? 0u : 1u) << rip << " " << lip;
  }
  // Against a pseudo-field, and in severity_if.
  Correlation s = Membership("sev", Sign("auth.login"), "user", {"bob"});
  s.severity = Severity::kMedium;
  Correlation::SeverityIf low;
  low.severity = Severity::kLow;
  low.where_equal = {FieldPair{"src_ip", "sender"}};
  s.severity_if = {low};
  Driver sev(Pack({s}));
  auto a = sev.Hit("r", "auth.login", {{"user", "bob"}, {"src_ip", "192.0.2.250"}}, "mx1", 0);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].severity, Severity::kLow);
  a = sev.Hit("r", "auth.login", {{"user", "bob"}, {"src_ip", "192.0.2.251"}}, "mx1", 1);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].severity, Severity::kMedium);
}

}  // namespace
}  // namespace konseki::matchers
