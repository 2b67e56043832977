// Correlator::Process allocates nothing for hits that add no state: values
// looked up in sets (membership, where_in) and first_seen tuples the key has
// already seen. Counted with the global operator new replacement of
// tests/testing/alloc_counter.h (its own binary: it counts every operator
// new of the process).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/host_key.h"
#include "matchers/correlator.h"
#include "tests/matchers/correlator_test_util.h"
#include "tests/testing/alloc_counter.h"

namespace konseki::matchers {
namespace {

// Feeds `c` hits of one host and program, cycling through `fields`: `warm`
// hits first (first sights: state, alerts), then `measured` hits whose
// allocations are counted (returned) and whose alerts are added to
// *alerts when given. Stamps rise by 1 s while warming, 1 ms after.
struct Feeder {
  Correlator& c;
  const std::vector<Fields>& fields;
  std::string host;
  std::string program;
  std::string sign;
  std::string pid;

  uint64_t Allocations(int warm, int measured, size_t* alerts = nullptr) {
    std::vector<Alert> out;
    out.reserve(8);
    const HostKey key = HostKey::Of(host);
    auto feed = [&](int i, double t) {
      HitEvent e;
      e.input_id = program;
      e.sign = sign;
      e.fields = &fields[static_cast<size_t>(i) % fields.size()];
      e.host = host;
      e.sender = "192.0.2.250";
      e.program = program;
      e.pid = pid;
      e.event_time = At(t);
      e.received = At(t);
      e.message_seq = static_cast<uint64_t>(i) + 1;
      c.ObserveHost(key, e.sender, e.received);
      out.clear();
      c.Process(e, &out);
    };
    for (int i = 0; i < warm; ++i) feed(i, i);
    const uint64_t before = testing::AllocationCount();
    for (int i = warm; i < warm + measured; ++i) {
      feed(i, warm + i * 0.001);
      if (alerts != nullptr) *alerts += out.size();
    }
    return testing::AllocationCount() - before;
  }
};

TEST(CorrelatorAllocTest, KnownValuesInSetLookupsAndFirstSeenTuplesDoNotAllocate) {
  // membership of the user in a set with values, a glob and a learner
  Correlation sys = Corr("sys", CorrelationKind::kMembership);
  sys.on = {Sign("sudo.command")};
  sys.field = "user";
  sys.set = "system_accounts";
  // where_in on the same set: the threshold never counts an admin
  Correlation burst = Corr("burst", CorrelationKind::kThreshold);
  burst.on = {Sign("sudo.command")};
  burst.key = {"user"};
  burst.count = 5;
  burst.window_secs = 60;
  burst.where_in = {SetCondition{{"user"}, "system_accounts"}};
  // first_seen of (user lowered, source network) per host
  Correlation first = Corr("first", CorrelationKind::kFirstSeen);
  first.on = {Sign("sudo.command")};
  first.key = {"host"};
  first.first_values = {FieldRef{"user", "lower"}, FieldRef{"src_ip", "net"}};
  first.learning_secs = 0;
  ValueSet set;
  set.id = "system_accounts";
  set.values = {"www-data", "svc-*"};
  set.learn = {SetLearner{{Id("useradd")}, "user", {{"shell", ".*/nologin"}}}};
  RulePack pack = Pack({sys, burst, first}, {set});
  MetricsRegistry metrics;
  auto made = Correlator::Create(pack, {}, metrics);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Correlator& c = **made;

  // Account names past the small-string buffer, as a directory's are: a
  // lower-case copy of each in a string of its own allocated.
  const std::vector<Fields> fields = {
      {{"user", "Administrator.Of.The.Web.Farm"}, {"src_ip", "203.0.113.40"}},
      {{"user", "deployment-automation-account"}, {"src_ip", "198.51.100.7"}},
  };
  size_t alerts = 0;
  Feeder feeder{c, fields, "bastion01", "sudo", "sudo.command", "4242"};
  EXPECT_EQ(feeder.Allocations(8, 2000, &alerts), 0u);
  EXPECT_EQ(alerts, 0u);
}

// `|domain` in a key and in a first_seen tuple: a fresh random name under a
// known domain at every hit (a beacon's a8f3.evil.example.co.jp, ...) reads
// the list into the correlator's scratch, no string of its own.
TEST(CorrelatorAllocTest, TheDomainTransformDoesNotAllocateOnceWarm) {
  Correlation first = Corr("first", CorrelationKind::kFirstSeen);
  first.on = {Sign("net.dns_query")};
  first.key = {"src_ip", "query|domain"};
  first.first_values = {FieldRef{"query", "domain"}};
  first.learning_secs = 0;
  MetricsRegistry metrics;
  auto made = Correlator::Create(Pack({first}), {}, metrics);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Correlator& c = **made;
  std::vector<Fields> fields;
  for (int i = 0; i < 64; ++i) {
    fields.push_back({{"src_ip", "10.0.0.41"},
                      {"query", "r" + std::to_string(i * 7919) + ".c2-relay.evil.Example.co.jp."}});
  }
  Feeder feeder{c, fields, "ns1", "named", "net.dns_query", "812"};
  EXPECT_EQ(feeder.Allocations(4, 2000), 0u);
}

// `|country` in a key and in a first_seen tuple: each hit's address is
// looked up in the databases in memory; no string of its own.
TEST(CorrelatorAllocTest, TheCountryTransformDoesNotAllocateOnceWarm) {
  Correlation first = Corr("first", CorrelationKind::kFirstSeen);
  first.on = {Sign("ssh.login")};
  first.key = {"user", "src_ip|country"};
  first.first_values = {FieldRef{"src_ip", "country"}};
  first.learning_secs = 0;
  MetricsRegistry metrics;
  auto made = Correlator::Create(Pack({first}), {}, metrics);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Correlator& c = **made;
  // JP, US, DE, a mapped JP address, JP and US over IPv6, private ones.
  const std::vector<std::string> addresses = {
      "133.242.0.1", "8.8.8.8",         "185.220.101.47", "::ffff:210.130.1.1",
      "2001:218::1", "2001:4860::8888", "10.0.0.5",       "fe80::1%eth0"};
  std::vector<Fields> fields;
  for (const std::string& a : addresses) fields.push_back({{"src_ip", a}, {"user", "alice"}});
  Feeder feeder{c, fields, "bastion", "sshd", "ssh.login", "812"};
  EXPECT_EQ(feeder.Allocations(16, 2000), 0u);
}

// A distinct count of `src_ip|country` (impossible travel): each hit's
// country is read into the correlator's buffer and found among the key's
// values; no string of its own. Warmed past the key's bound of members
// (their vector's last growth is the key's state, not a hit's).
TEST(CorrelatorAllocTest, ADistinctCountOfCountriesDoesNotAllocateOnceWarm) {
  const Correlation travel =
      Distinct("travel", Sign("ssh.login"), {"user"}, "src_ip|country", 10, 7200);
  MetricsRegistry metrics;
  auto made = Correlator::Create(Pack({travel}), {}, metrics);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Correlator& c = **made;
  const std::vector<std::string> addresses = {"133.242.0.1", "8.8.8.8",        "185.220.101.47",
                                              "2001:218::1", "10.0.0.5",       "fe80::1%eth0",
                                              "210.130.1.1", "2001:4860::8888"};
  std::vector<Fields> fields;
  for (const std::string& a : addresses) fields.push_back({{"src_ip", a}, {"user", "alice"}});
  Feeder feeder{c, fields, "vpn1", "openvpn", "ssh.login", "812"};
  EXPECT_EQ(feeder.Allocations(64, 2000), 0u);
}

// where_equal over two addresses (IPv6 spellings parsed on the stack) and
// a first_seen tuple of the server an address belongs to (`|host`, names
// past the small-string buffer): a known server's login is read into the
// correlator's scratch.
TEST(CorrelatorAllocTest, FieldPairsAndTheHostTransformDoNotAllocateOnceWarm) {
  Correlation own = Membership("own", Sign("auth.login"), "user", {"nobody-at-all"});
  own.where_equal = {FieldPair{"src_ip", "local_ip"}};
  Correlation first = Corr("first", CorrelationKind::kFirstSeen);
  first.on = {Sign("auth.login")};
  first.scope = KeyScope::kFleet;
  first.key = {"host"};
  first.first_values = {FieldRef{"src_ip", "host"}};
  first.learning_secs = 0;
  CorrelatorOptions options;
  options.host_addresses = {{"backup-server-01.datacenter.example", {"2001:db8::9"}},
                            {"deployment-controller.datacenter.example", {"10.0.0.21"}}};
  MetricsRegistry metrics;
  auto made = Correlator::Create(Pack({own, first}), options, metrics);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Correlator& c = **made;
  const std::vector<Fields> fields = {
      {{"user", "alice"}, {"src_ip", "2001:DB8::9"}, {"local_ip", "2001:db8:0::25"}},
      {{"user", "bob"}, {"src_ip", "10.0.0.21"}, {"local_ip", "10.0.0.25"}},
      {{"user", "carol"}, {"src_ip", "::ffff:10.0.0.25"}, {"local_ip", "10.0.0.25"}},
  };
  size_t alerts = 0;
  Feeder feeder{c, fields, "db01", "dovecot", "auth.login", "812"};
  EXPECT_EQ(feeder.Allocations(6, 2000, &alerts), 0u);
  EXPECT_EQ(alerts, 0u);
}

}  // namespace
}  // namespace konseki::matchers
