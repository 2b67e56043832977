// RuleSet::Match must not allocate once warm, also when the number of hits
// changes from message to message (a line with two hits, then none, then
// one): the hits dropped from the end of the caller's vector leave their
// field buffers in the Scratch for the next hits. Counted with the global
// operator new replacement of tests/testing/alloc_counter.h.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "matchers/rule_set.h"
#include "tests/testing/alloc_counter.h"

namespace konseki::matchers {
namespace {

Rule MakeRule(std::string id, std::string match, std::string extract) {
  Rule r;
  r.id = std::move(id);
  r.sign = "ssh.auth_failure";
  r.title = r.id;
  r.match = {std::move(match)};
  r.extract = {std::move(extract)};
  r.file = "test.yaml";
  r.match_lines = {1};
  return r;
}

Message Msg(std::string_view text) {
  Message m;
  m.raw = text;
  m.format = MessageFormat::kRfc3164;
  m.app_name = "sshd";
  m.msg = text;
  return m;
}

// Matches `messages` once to warm `scratch` and `hits` up, then 100 times
// more: the allocations of those 100 passes; *total sums their hits.
template <size_t N>
uint64_t AllocationsOnceWarm(const RuleSet& set, RuleSet::Scratch& scratch,
                             const Message (&messages)[N], std::vector<RuleHit>* hits,
                             size_t* total) {
  for (const Message& m : messages) set.Match(m, scratch, hits);
  const uint64_t before = testing::AllocationCount();
  for (int pass = 0; pass < 100; ++pass) {
    for (const Message& m : messages) {
      set.Match(m, scratch, hits);
      *total += hits->size();
    }
  }
  return testing::AllocationCount() - before;
}

TEST(RuleSetAllocTest, ChangingHitCountsReuseFieldBuffers) {
  std::vector<Rule> rules;
  rules.push_back(MakeRule("failed", "Failed password for ",
                           R"(for (?P<user>\S+) from (?P<src_ip>\S+) port (?P<port>\d+))"));
  rules.push_back(MakeRule("invalid", "invalid user ", R"(invalid user (?P<invalid_user>\S+))"));
  auto set = RuleSet::Compile(std::move(rules));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  auto scratch = (*set)->NewScratch();
  ASSERT_TRUE(scratch.ok());
  // Field values longer than the small-string buffer, so a dropped hit's
  // strings would have to be allocated again.
  const std::string two =
      "Failed password for invalid user administrator-account-name from "
      "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff port 4242424242 ssh2";
  const std::string one =
      "Failed password for administrator-account-name from "
      "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff port 4242424242 ssh2";
  const std::string none = "Accepted publickey for somebody-else-entirely from 192.0.2.1";
  const Message messages[] = {Msg(two), Msg(none), Msg(one), Msg(two), Msg(none), Msg(two)};
  std::vector<RuleHit> hits;
  size_t total = 0;
  EXPECT_EQ(AllocationsOnceWarm(**set, **scratch, messages, &hits, &total), 0u);
  EXPECT_EQ(total, 100u * (2 + 0 + 1 + 2 + 0 + 2));
  (*set)->Match(Msg(two), **scratch, &hits);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[1].fields.size(), 1u);
  EXPECT_EQ(hits[1].fields[0].second, "administrator-account-name");
}

// The structured-data rules' scan, confirmation and caseless extraction
// (their own lowered copy of the SD) allocate nothing once warm either.
TEST(RuleSetAllocTest, StructuredDataRulesAllocateNothingOnceWarm) {
  std::vector<Rule> rules;
  rules.push_back(MakeRule("text", "Failed password for ", R"(for (?P<user>\S+))"));
  Rule sd = MakeRule("sd", R"(\beventid="4625")", R"re(\btargetusername="(?P<user>[^"\\]+)")re");
  sd.text = Rule::Text::kStructuredData;
  sd.prefilter = {"EventID="};
  sd.prefilter_lines = {1};
  rules.push_back(std::move(sd));
  auto set = RuleSet::Compile(std::move(rules));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  auto scratch = (*set)->NewScratch();
  ASSERT_TRUE(scratch.ok());
  const std::string text = "Failed password for administrator-account-name from 192.0.2.1";
  Message both = Msg(text);
  both.format = MessageFormat::kRfc5424;
  both.structured_data =
      R"([NXLOG@14506 EventID="4625" TargetUserName="administrator-account-name-in-sd"])";
  Message sd_only = both;
  sd_only.msg = "";
  const Message messages[] = {both, Msg(text), sd_only, Msg("nothing")};
  std::vector<RuleHit> hits;
  size_t total = 0;
  EXPECT_EQ(AllocationsOnceWarm(**set, **scratch, messages, &hits, &total), 0u);
  EXPECT_EQ(total, 100u * (2 + 1 + 1 + 0));
  (*set)->Match(sd_only, **scratch, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].fields[0].second, "administrator-account-name-in-sd");
}

// A line with a hex-encoded audit value is decoded into the scratch's
// buffer and scanned again: nothing allocated once warm.
TEST(RuleSetAllocTest, AuditHexDecodingAllocatesNothingOnceWarm) {
  std::vector<Rule> rules;
  rules.push_back(MakeRule("cmd", R"(\bcmd="[^"]*shadow)", R"re(\bcmd="(?P<command>[^"]*)")re"));
  auto set = RuleSet::Compile(std::move(rules));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  auto scratch = (*set)->NewScratch();
  ASSERT_TRUE(scratch.ok());
  const std::string hex =
      "type=USER_CMD msg=audit(1796644260.216:400168): pid=7719 uid=48 msg='cwd=\"/var/www\" "
      "cmd=636174202F6574632F736861646F77202F6574632F7061737377642F2F2F2F2F2F2F2F "
      "exe=\"/usr/bin/sudo\" "
      "res=success'";
  const std::string short_hex =
      "type=EXECVE msg=audit(1.2:3): argc=2 a0=\"cat\" a1=2F746D702F612062";
  // An EXECVE record without hex: its cmdline="..." built and scanned.
  const std::string execve =
      "type=EXECVE msg=audit(1.2:4): argc=3 a0=\"cat\" a1=\"/etc/shadow\" a2=\"/etc/passwd\"";
  const Message messages[] = {Msg(hex), Msg("nothing"), Msg(short_hex), Msg(execve), Msg(hex)};
  std::vector<RuleHit> hits;
  size_t total = 0;
  EXPECT_EQ(AllocationsOnceWarm(**set, **scratch, messages, &hits, &total), 0u);
  EXPECT_EQ(total, 100u * 2);
}

// A rule's `unless` (RE2 on its hits, caseless: the lowered copy) drops
// some hits and keeps others without allocating once warm.
TEST(RuleSetAllocTest, UnlessAllocatesNothingOnceWarm) {
  std::vector<Rule> rules;
  Rule with_literal = MakeRule("lit", "Failed password for ", R"(for (?P<user>\S+))");
  with_literal.unless = "AH00128: |AH01618: ";
  rules.push_back(std::move(with_literal));
  Rule anchored = MakeRule("anchored", "invalid user ", R"(invalid user (?P<invalid_user>\S+))");
  anchored.unless = R"(^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[\w+\] \d+#\d+: )";
  rules.push_back(std::move(anchored));
  auto set = RuleSet::Compile(std::move(rules));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  auto scratch = (*set)->NewScratch();
  ASSERT_TRUE(scratch.ok());
  const std::string real =
      "Failed password for invalid user administrator-account-name from 192.0.2.1 port 22 ssh2";
  const std::string forged_apache =
      "[core:info] [pid 1] ah00128: File does not exist: /var/www/html/Failed password for "
      "invalid user administrator-account-name";
  const std::string forged_nginx =
      "2026/12/07 10:00:01 [error] 1234#1234: *56 open() \"/usr/share/nginx/html/Failed "
      "password for invalid user administrator-account-name\" failed (2: No such file)";
  const Message messages[] = {Msg(real), Msg(forged_apache), Msg(forged_nginx), Msg("nothing"),
                              Msg(real)};
  std::vector<RuleHit> hits;
  size_t total = 0;
  EXPECT_EQ(AllocationsOnceWarm(**set, **scratch, messages, &hits, &total), 0u);
  // real: both; Apache's: the anchored rule only; nginx's: the literal one only.
  EXPECT_EQ(total, 100u * (2 + 1 + 1 + 0 + 2));
}

}  // namespace
}  // namespace konseki::matchers
