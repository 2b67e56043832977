// The network kinds: beacon (reservoir, once per window, caps, state) and
// direction (classification, counters, severities), and the value sets with
// globs and CIDRs that where_in / unless_in use.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "matchers/correlator.h"
#include "tests/matchers/correlator_test_util.h"

namespace konseki::matchers {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;

ValueSet Set(const std::string& id, std::vector<std::string> values) {
  ValueSet s;
  s.id = id;
  s.values = std::move(values);
  return s;
}

Correlation BeaconCorr() {
  Correlation c = Corr("beacon", CorrelationKind::kBeacon);
  c.on = {Sign("net.connection")};
  c.key = {"src_ip", "dst", "dst_port"};
  c.window_secs = 86400;
  c.count = 20;
  c.score = 0.8;
  c.reservoir = 32;
  c.unless_in = {SetCondition{{"dst", "dst_port"}, "beacon_allow"}};
  return c;
}

Fields Conn(const std::string& src, const std::string& dst, const std::string& port = "443") {
  return {{"src_ip", src}, {"dst", dst}, {"dst_port", port}};
}

// Calls `n` connections of src -> dst every `period` seconds from `start`,
// the i-th shifted by jitter(i); returns the alerts.
template <typename J>
std::vector<Alert> Calls(Driver& d, const std::string& src, const std::string& dst, int n,
                         double period, double start, J jitter) {
  std::vector<Alert> all;
  for (int i = 0; i < n; ++i) {
    for (Alert& a :
         d.Hit("fw", "net.connection", Conn(src, dst), "gw1", start + i * period + jitter(i))) {
      all.push_back(std::move(a));
    }
  }
  return all;
}

double Wobble(int i) { return (i * 7919 % 13 - 6) * 0.25; }  // within +-1.5 s

TEST(BeaconTest, ARegularCallerAlertsOnceAtTheTwentiethCallWithItsParts) {
  Driver d(Pack({BeaconCorr()}, {Set("beacon_allow", {})}));
  auto first = Calls(d, "10.0.0.23", "203.0.113.7", 19, 60, 0, Wobble);
  EXPECT_THAT(first, IsEmpty());
  auto alerts = Calls(d, "10.0.0.23", "203.0.113.7", 1, 60, 19 * 60, Wobble);
  ASSERT_THAT(alerts, SizeIs(1));
  const Alert& a = alerts[0];
  EXPECT_EQ(a.sign, "test.beacon");
  EXPECT_EQ(FieldOf(a, "src_ip"), "10.0.0.23");
  EXPECT_EQ(FieldOf(a, "dst"), "203.0.113.7");
  EXPECT_EQ(FieldOf(a, "count"), "20");
  EXPECT_NEAR(std::stod(FieldOf(a, "period")), 60, 2);
  EXPECT_GE(std::stod(FieldOf(a, "score")), 0.8);
  EXPECT_NE(FieldOf(a, "score_interval"), "<none>");
  EXPECT_NE(FieldOf(a, "score_count"), "<none>");
  EXPECT_EQ(FieldOf(a, "score_size"), "<none>");  // no size field
  // Once per pair per window: a day of further calls says nothing more...
  EXPECT_THAT(Calls(d, "10.0.0.23", "203.0.113.7", 1400, 60, 20 * 60, Wobble), IsEmpty());
  // ...and the next window alerts again.
  EXPECT_THAT(Calls(d, "10.0.0.23", "203.0.113.7", 60, 60, 1420 * 60, Wobble), SizeIs(1));
}

// A bot asking every minute for a fresh random name under its own domain:
// keyed on the name, each name is one lookup; keyed on `query|domain`, one
// beacon to example.co.jp. The alert names the last name and the domain.
TEST(BeaconTest, RandomNamesUnderOneDomainAreOneDestinationByDomain) {
  Correlation c = Corr("beacon", CorrelationKind::kBeacon);
  c.on = {Sign("net.dns_query")};
  c.key = {"src_ip", "query|domain"};
  c.window_secs = 86400;
  c.count = 20;
  c.score = 0.8;
  c.reservoir = 32;
  Driver d(Pack({c}));
  std::vector<Alert> all;
  for (int i = 0; i < 20; ++i) {
    // a8f3, k29d, ...: four characters that differ at every call.
    std::string label = {static_cast<char>('a' + i % 26), static_cast<char>('0' + (i * 7) % 10),
                         static_cast<char>('a' + (i * 11) % 26), 'x'};
    const std::string name = label + ".evil.Example.co.jp.";
    for (Alert& a : d.Hit("dns", "net.dns_query", {{"src_ip", "10.0.0.23"}, {"query", name}}, "ns1",
                          i * 60 + Wobble(i))) {
      all.push_back(std::move(a));
    }
  }
  ASSERT_THAT(all, SizeIs(1));
  EXPECT_EQ(FieldOf(all[0], "query_domain"), "example.co.jp");
  EXPECT_EQ(FieldOf(all[0], "query"), "t3bx.evil.Example.co.jp.");
  EXPECT_EQ(FieldOf(all[0], "count"), "20");

  // Reverse lookups and addresses key as they are: twenty PTR names of one
  // /8 are twenty keys, not a beacon to "10.in-addr.arpa".
  Driver r(Pack({c}));
  for (int i = 0; i < 20; ++i) {
    const std::string name = std::to_string(i) + ".0.0.10.in-addr.arpa";
    EXPECT_THAT(
        r.Hit("dns", "net.dns_query", {{"src_ip", "10.0.0.23"}, {"query", name}}, "ns1", i * 60.0),
        IsEmpty());
  }
}

TEST(BeaconTest, ANearPerfectBeaconAlertsFromEarlyCountAnIrregularOneWaitsForCount) {
  Correlation c = BeaconCorr();
  c.early_count = 12;
  c.early_score = 0.95;
  Driver d(Pack({c}, {Set("beacon_allow", {})}));
  // Every 60 s within +-1.5 s: news at the twelfth call.
  EXPECT_THAT(Calls(d, "10.0.0.23", "203.0.113.7", 11, 60, 0, Wobble), IsEmpty());
  auto a = Calls(d, "10.0.0.23", "203.0.113.7", 1, 60, 11 * 60, Wobble);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "count"), "12");
  // Gaps of 48-72 s, a tenth off the median on the whole (score ~0.9):
  // nothing before the twentieth call, then the ordinary threshold.
  const double gaps[] = {60, 52, 66, 71, 55, 60, 49, 63, 68, 57,
                         61, 50, 72, 58, 64, 54, 67, 48, 62};
  double t = 0;
  std::vector<Alert> early;
  for (double g : gaps) {
    for (Alert& x : d.Hit("fw", "net.connection", Conn("10.0.0.24", "203.0.113.8"), "gw1", t)) {
      early.push_back(std::move(x));
    }
    t += g;
  }
  EXPECT_THAT(early, IsEmpty());
  auto at20 = d.Hit("fw", "net.connection", Conn("10.0.0.24", "203.0.113.8"), "gw1", t);
  ASSERT_THAT(at20, SizeIs(1));
  EXPECT_LT(std::stod(FieldOf(at20[0], "score")), 0.95);
}

TEST(BeaconTest, CallsOfOneSecondBurstCountOnceAndIrregularCallersStaySilent) {
  Driver d(Pack({BeaconCorr()}, {Set("beacon_allow", {})}));
  // Two connections per call, 0.5 s apart: still a 60 s beacon.
  auto pairs = [](int i) { return (i % 2) * -29.5; };
  EXPECT_THAT(Calls(d, "10.0.0.1", "198.51.100.1", 44, 30, 0, pairs), SizeIs(1));
  // Random gaps between 1 and 600 s.
  uint64_t s = 42;
  double t = 0;
  std::vector<Alert> irregular;
  for (int i = 0; i < 200; ++i) {
    s = s * 6364136223846793005ull + 1;
    t += 1 + static_cast<double>(s >> 40) / (1ull << 24) * 599;
    for (Alert& a : d.Hit("fw", "net.connection", Conn("10.0.0.2", "198.51.100.2"), "gw1", t)) {
      irregular.push_back(a);
    }
  }
  EXPECT_THAT(irregular, IsEmpty());
}

TEST(BeaconTest, AllowListedDestinationsAndPortsAreSkipped) {
  Driver d(Pack({BeaconCorr()}, {Set("beacon_allow", {"192.0.2.0/24", "*.debian.org", "123"})}));
  EXPECT_THAT(Calls(d, "10.0.0.3", "192.0.2.55", 40, 60, 0, Wobble), IsEmpty());
  EXPECT_THAT(Calls(d, "10.0.0.3", "deb.debian.org", 40, 60, 0, Wobble), IsEmpty());
  std::vector<Alert> ntp;
  for (int i = 0; i < 40; ++i) {
    for (Alert& a :
         d.Hit("fw", "net.connection", Conn("10.0.0.3", "198.51.100.9", "123"), "gw1", i * 64.0)) {
      ntp.push_back(a);
    }
  }
  EXPECT_THAT(ntp, IsEmpty());
  EXPECT_THAT(Calls(d, "10.0.0.3", "198.51.100.10", 40, 60, 0, Wobble), SizeIs(1));
}

TEST(BeaconTest, ConfiguredSetValuesReplaceThePacksAndBeaconOptionsApply) {
  CorrelatorOptions o;
  o.set_values["beacon_allow"] = {"203.0.113.7"};
  o.beacon_min_connections = 10;
  Driver d(Pack({BeaconCorr()}, {Set("beacon_allow", {"198.51.100.0/24"})}), o);
  EXPECT_THAT(Calls(d, "10.0.0.4", "203.0.113.7", 40, 60, 0, Wobble), IsEmpty());
  EXPECT_THAT(Calls(d, "10.0.0.4", "198.51.100.3", 10, 60, 0, Wobble), SizeIs(1));
}

TEST(BeaconTest, PairsAreCappedWithCountedEviction) {
  Correlation c = BeaconCorr();
  c.max_keys = 100;
  Driver d(Pack({c}, {Set("beacon_allow", {})}));
  for (int i = 0; i < 1000; ++i) {
    d.Hit("fw", "net.connection",
          Conn("10.0.0.5", "198.51.100." + std::to_string(i % 250), std::to_string(1000 + i)),
          "gw1", i);
  }
  EXPECT_EQ(d.c().live_keys(), 100u);
  EXPECT_EQ(d.metrics().ValueOf("konseki_correlation_evictions_total", {{"rule", "beacon"}}), 900);
}

TEST(BeaconTest, TheReservoirSurvivesSaveAndLoad) {
  RulePack pack = Pack({BeaconCorr()}, {Set("beacon_allow", {})});
  Driver a(pack);
  EXPECT_THAT(Calls(a, "10.0.0.6", "203.0.113.70", 19, 60, 0, Wobble), IsEmpty());
  const std::string state = a.c().SerializeState();
  Driver b(pack);
  ASSERT_TRUE(b.c().LoadStateText(state).ok());
  EXPECT_THAT(Calls(b, "10.0.0.6", "203.0.113.70", 1, 60, 19 * 60, Wobble), SizeIs(1));
  // A corrupt ring index is refused, not trusted.
  std::string bad = state;
  const size_t tab = bad.rfind('\t');
  bad.replace(tab + 1, bad.find(',', tab) - tab - 1, "99");
  Driver c(pack);
  ASSERT_TRUE(c.c().LoadStateText(bad).ok());
  EXPECT_EQ(c.c().live_keys(), 0u);
}

Correlation DropDirection() {
  Correlation c = Corr("drops", CorrelationKind::kDirection);
  c.sign = "firewall.drop";
  c.on = {Id("drop")};
  c.src_field = "src_ip";
  c.dst_field = "dst_ip";
  c.in_field = "in";
  c.out_field = "out";
  c.set = "internal";
  c.alert_direction[static_cast<int>(Direction::kOutbound)] = true;
  c.alert_direction[static_cast<int>(Direction::kInternal)] = true;
  c.direction_severity[static_cast<int>(Direction::kInternal)] = Severity::kMedium;
  c.metric = "konseki_firewall_drops_total";
  return c;
}

Fields Drop(const std::string& in, const std::string& out, const std::string& src,
            const std::string& dst) {
  return {{"in", in}, {"out", out}, {"src_ip", src}, {"dst_ip", dst}};
}

TEST(DirectionTest, InboundDropsAreCountedOutboundAndInternalOnesAlert) {
  Driver d(Pack({DropDirection()}, {Set("internal", {"10.0.0.0/8", "fc00::/7"})}));
  // Inbound to the host itself (no OUT=) and forwarded to an internal host.
  EXPECT_THAT(
      d.Hit("drop", "firewall.drop", Drop("eth0", "", "198.51.100.1", "203.0.113.5"), "web1", 1),
      IsEmpty());
  EXPECT_THAT(
      d.Hit("drop", "firewall.drop", Drop("eth0", "eth1", "198.51.100.1", "10.0.0.8"), "gw1", 2),
      IsEmpty());
  // From the host itself (no IN=) to the internet: outbound, high.
  auto out =
      d.Hit("drop", "firewall.drop", Drop("", "eth0", "203.0.113.5", "198.51.100.1"), "web1", 3);
  ASSERT_THAT(out, SizeIs(1));
  EXPECT_EQ(FieldOf(out[0], "direction"), "outbound");
  EXPECT_EQ(out[0].severity, Severity::kHigh);
  EXPECT_EQ(FieldOf(out[0], "dst_ip"), "198.51.100.1");
  // Between internal networks (IPv6 ULA, full netfilter notation): medium.
  auto internal = d.Hit("drop", "firewall.drop",
                        Drop("eth1", "eth2", "fd00:0000:0000:0000:0000:0000:0000:0005",
                             "fd00:0000:0000:0000:0000:0000:0000:0009"),
                        "gw1", 4);
  ASSERT_THAT(internal, SizeIs(1));
  EXPECT_EQ(FieldOf(internal[0], "direction"), "internal");
  EXPECT_EQ(internal[0].severity, Severity::kMedium);
  // Public to public through a router: transit, counted only.
  EXPECT_THAT(
      d.Hit("drop", "firewall.drop", Drop("eth0", "eth1", "198.51.100.1", "192.0.2.1"), "gw1", 5),
      IsEmpty());
  auto& m = d.metrics();
  const std::string name = "konseki_firewall_drops_total";
  EXPECT_EQ(m.ValueOf(name, {{"host", "web1"}, {"direction", "inbound"}}), 1);
  EXPECT_EQ(m.ValueOf(name, {{"host", "gw1"}, {"direction", "inbound"}}), 1);
  EXPECT_EQ(m.ValueOf(name, {{"host", "web1"}, {"direction", "outbound"}}), 1);
  EXPECT_EQ(m.ValueOf(name, {{"host", "gw1"}, {"direction", "internal"}}), 1);
  EXPECT_EQ(m.ValueOf(name, {{"host", "gw1"}, {"direction", "transit"}}), 1);
}

// quiet_secs: one alert per key (here source and destination) until that
// long without a drop of it; every drop is still counted.
TEST(DirectionTest, QuietSecsHoldsRepeatedDropsOfOneKey) {
  Correlation c = DropDirection();
  c.key = {"src_ip", "dst_ip"};
  c.quiet_secs = 600;
  Driver d(Pack({c}, {Set("internal", {"10.0.0.0/8"})}));
  auto drop = [&](const std::string& dst, double t) {
    return d.Hit("drop", "firewall.drop", Drop("", "eth0", "10.0.0.5", dst), "web1", t);
  };
  EXPECT_THAT(drop("198.51.100.1", 0), SizeIs(1));
  for (int i = 1; i <= 30; ++i) EXPECT_THAT(drop("198.51.100.1", 60.0 * i), IsEmpty());
  EXPECT_THAT(drop("198.51.100.2", 1900), SizeIs(1));        // another destination
  EXPECT_THAT(drop("198.51.100.1", 1800 + 601), SizeIs(1));  // ten quiet minutes later
  EXPECT_EQ(d.metrics().ValueOf("konseki_firewall_drops_total",
                                {{"host", "web1"}, {"direction", "outbound"}}),
            33);
}

// The direction is part of the quiet key: a source's internal sweep does
// not hold its outbound drop, and one source is one alert per direction.
TEST(DirectionTest, QuietSecsPerSourceHoldsASweepButNotAnotherDirection) {
  Correlation c = DropDirection();
  c.key = {"src_ip"};
  c.quiet_secs = 600;
  Driver d(Pack({c}, {Set("internal", {"10.0.0.0/8"})}));
  auto drop = [&](const std::string& src, const std::string& dst, double t) {
    return d.Hit("drop", "firewall.drop", Drop("eth1", "eth2", src, dst), "gw1", t);
  };
  EXPECT_THAT(drop("10.0.3.44", "10.0.1.1", 0), SizeIs(1));
  for (int i = 2; i <= 14; ++i)
    EXPECT_THAT(drop("10.0.3.44", "10.0.1." + std::to_string(i), i), IsEmpty());
  auto out = drop("10.0.3.44", "198.51.100.9", 20);
  ASSERT_THAT(out, SizeIs(1));
  EXPECT_EQ(FieldOf(out[0], "direction"), "outbound");
  EXPECT_THAT(drop("10.0.3.45", "10.0.1.1", 21), SizeIs(1));  // another source
  EXPECT_THAT(drop("10.0.3.44", "10.0.1.20", 14 + 601), SizeIs(1));
}

// `in:SET` remembers whether the value was in the set, not the value: a
// port the internet reaches learns "outside" once; alert_unless_in keeps a
// new inside source from alerting while it still teaches the key.
TEST(FirstSeenNetTest, InSetTupleAlertsOnTheFirstOutsideSourceOfAnInsidePort) {
  Correlation c = Corr("svc", CorrelationKind::kFirstSeen);
  c.on = {Id("conn")};
  c.key = {"dst", "dst_port"};
  c.first_values = {FieldRef{"src_ip", "in:internal"}};
  c.alert_unless_in = {SetCondition{{"src_ip"}, "internal"}};
  c.new_keys = false;
  c.learning_secs = 1000;
  Driver d(Pack({c}, {Set("internal", {"10.0.0.0/8"})}));
  auto conn = [&](const std::string& src, const std::string& port, double t) {
    return d.Hit("conn", "net.connection",
                 {{"src_ip", src}, {"dst", "10.0.1.20"}, {"dst_port", port}}, "db1", t);
  };
  EXPECT_THAT(conn("10.0.1.10", "5432", 0), IsEmpty());       // the key's first tuple
  EXPECT_THAT(conn("10.0.1.11", "5432", 10), IsEmpty());      // inside again: no news
  EXPECT_THAT(conn("198.51.100.1", "443", 20), IsEmpty());    // another port, outside first
  EXPECT_THAT(conn("198.51.100.2", "5432", 999), IsEmpty());  // learning: remembered
  EXPECT_THAT(conn("10.0.1.10", "443", 1001), IsEmpty());     // new inside source of 443
  EXPECT_THAT(conn("203.0.113.7", "443", 1002), IsEmpty());   // outside known for 443
  EXPECT_THAT(conn("203.0.113.8", "5432", 1003), IsEmpty());  // learned during learning
  EXPECT_THAT(conn("10.0.1.12", "22", 1004), IsEmpty());
  auto a = conn("185.225.74.19", "22", 1005);
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "src_ip"), "185.225.74.19");  // the value, not its class
  EXPECT_EQ(FieldOf(a[0], "dst_port"), "22");
  EXPECT_THAT(conn("185.225.74.20", "22", 1006), IsEmpty());
}

TEST(DirectionTest, DropSeverityFromTheConfigAppliesToFirewallDrops) {
  CorrelatorOptions o;
  o.drop_severity = {{"inbound", "low"}, {"internal", "none"}};
  Driver d(Pack({DropDirection()}, {Set("internal", {"10.0.0.0/8"})}), o);
  auto in =
      d.Hit("drop", "firewall.drop", Drop("eth0", "", "198.51.100.1", "203.0.113.5"), "web1", 1);
  ASSERT_THAT(in, SizeIs(1));
  EXPECT_EQ(in[0].severity, Severity::kLow);
  EXPECT_THAT(
      d.Hit("drop", "firewall.drop", Drop("eth1", "eth2", "10.0.0.1", "10.0.0.2"), "gw1", 2),
      IsEmpty());
}

TEST(DirectionTest, WhereInMatchesAnyFieldByNameGlobOrCidr) {
  Correlation c = DropDirection();
  c.id = "unexpected";
  c.sign = "test.unexpected";
  c.on = {Id("conn")};
  c.metric.clear();
  c.dst_field = "dst";
  c.where_in = {SetCondition{{"host", "src_ip"}, "no_outbound"}};
  c.add_fields = {{"blocked", "false"}};
  c.alert_direction[static_cast<int>(Direction::kInternal)] = false;
  Driver d(
      Pack({c}, {Set("internal", {"10.0.0.0/8"}), Set("no_outbound", {"db-*", "10.0.5.0/24"})}));
  auto conn = [&](const std::string& host, const std::string& src, const std::string& dst) {
    return d.Hit("conn", "net.connection",
                 {{"in", ""}, {"out", "eth0"}, {"src_ip", src}, {"dst", dst}}, host, 1);
  };
  EXPECT_THAT(conn("DB-7", "10.0.4.1", "198.51.100.1"), SizeIs(1));  // host glob, any case
  EXPECT_THAT(conn("gw", "10.0.5.9", "evil.example"), SizeIs(1));  // source CIDR; a name is outside
  EXPECT_THAT(conn("web1", "10.0.4.1", "198.51.100.1"), IsEmpty());  // not listed
  EXPECT_THAT(conn("db-7", "10.0.4.1", "10.0.9.9"), IsEmpty());      // internal destination
  auto a = conn("db-1", "10.0.4.1", "198.51.100.1");
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(FieldOf(a[0], "blocked"), "false");
}

}  // namespace
}  // namespace konseki::matchers
