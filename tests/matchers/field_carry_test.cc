#include "matchers/field_carry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "matchers/rule_loader.h"
#include "matchers/rule_set.h"
#include "receiver/parser.h"

namespace konseki::matchers {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// PostgreSQL's two lines: the connection names the client, the failure of
// the same backend pid does not.
constexpr char kPack[] = R"y(pack: t
rules:
  - id: t.connection
    sign: net.connection
    title: c
    severity: info
    alert: false
    description: d
    match: 'connection received: host='
    extract: 'connection received: host=(?P<src_ip>\S+)'
    remember: {name: client, key: [pid], fields: [src_ip], secs: 60}
    examples: {match: ["x"]}
  - id: t.failure
    sign: auth.failure
    title: f
    severity: medium
    alert: false
    description: d
    match: 'authentication failed for user'
    extract:
      - 'from (?P<src_ip>[0-9.]+)'
      - 'user "(?P<user>[^"]*)"'
    recall: {name: client, key: [pid], fields: [src_ip]}
    examples: {match: ["x"]}
)y";

TimePoint At(int secs) { return TimePoint(std::chrono::seconds(1'767'225'600 + secs)); }

class FieldCarryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rules = LoadRuleText(kPack, "t.yaml");
    ASSERT_TRUE(rules.ok()) << rules.status().ToString();
    auto ignore = AlertIgnore::Create({"192.0.2.0/24"}, {});
    ASSERT_TRUE(ignore.ok());
    auto set = RuleSet::Compile(std::move(*rules), std::move(*ignore));
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    set_ = *set;
    auto scratch = set_->NewScratch();
    ASSERT_TRUE(scratch.ok());
    scratch_ = std::move(*scratch);
  }

  // The hits of `line` after the carry, received at `t`.
  std::vector<RuleHit> Feed(const std::string& line, int t) {
    line_ = line;
    parser_.Parse(line_, At(t), &msg_);
    msg_.received = At(t);
    std::vector<RuleHit> hits;
    set_->Match(msg_, *scratch_, &hits);
    carry_.Apply(msg_, set_->ignore(), &hits);
    return hits;
  }

  std::shared_ptr<const RuleSet> set_;
  std::unique_ptr<RuleSet::Scratch> scratch_;
  receiver::Parser parser_;
  std::string line_;
  Message msg_;
  FieldCarry carry_;
};

TEST_F(FieldCarryTest, ALaterLineOfTheSamePidTakesTheRememberedField) {
  Feed("<30>Dec  3 14:00:00 db2 postgres[2101]: connection received: host=203.0.113.77", 0);
  Feed("<30>Dec  3 14:00:00 db2 postgres[2102]: connection received: host=203.0.113.78", 0);
  std::vector<RuleHit> hits = Feed(
      "<30>Dec  3 14:00:01 db2 postgres[2101]: password authentication failed for user "
      "\"postgres\"",
      1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_THAT(hits[0].fields,
              UnorderedElementsAre(Pair("user", "postgres"), Pair("src_ip", "203.0.113.77")));
  EXPECT_FALSE(hits[0].ignored);
  // Another pid, another host: nothing remembered for them.
  hits = Feed("<30>Dec  3 14:00:02 db2 postgres[2199]: authentication failed for user \"a\"", 2);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_THAT(hits[0].fields, UnorderedElementsAre(Pair("user", "a")));
  hits = Feed("<30>Dec  3 14:00:02 db3 postgres[2101]: authentication failed for user \"a\"", 2);
  EXPECT_THAT(hits[0].fields, UnorderedElementsAre(Pair("user", "a")));
  EXPECT_EQ(carry_.size(), 2u);
}

TEST_F(FieldCarryTest, TheLinesOwnValueWinsAndARememberedOneExpires) {
  Feed("<30>Dec  3 14:00:00 db2 postgres[7]: connection received: host=203.0.113.77", 0);
  std::vector<RuleHit> hits = Feed(
      "<30>Dec  3 14:00:01 db2 postgres[7]: authentication failed for user from 198.51.100.1", 1);
  EXPECT_THAT(hits[0].fields, UnorderedElementsAre(Pair("src_ip", "198.51.100.1")));
  hits = Feed("<30>Dec  3 14:01:00 db2 postgres[7]: authentication failed for user \"b\"", 60);
  EXPECT_THAT(hits[0].fields,
              UnorderedElementsAre(Pair("user", "b"), Pair("src_ip", "203.0.113.77")));
  // secs: 60 after the connection line: gone.
  hits = Feed("<30>Dec  3 14:01:01 db2 postgres[7]: authentication failed for user \"b\"", 61);
  EXPECT_THAT(hits[0].fields, UnorderedElementsAre(Pair("user", "b")));
}

TEST_F(FieldCarryTest, ACarriedSourceInRulesIgnoreMakesTheHitIgnored) {
  Feed("<30>Dec  3 14:00:00 db2 postgres[8]: connection received: host=192.0.2.5", 0);
  std::vector<RuleHit> hits =
      Feed("<30>Dec  3 14:00:01 db2 postgres[8]: authentication failed for user \"c\"", 1);
  EXPECT_THAT(hits[0].fields, UnorderedElementsAre(Pair("user", "c"), Pair("src_ip", "192.0.2.5")));
  EXPECT_TRUE(hits[0].ignored);
}

TEST_F(FieldCarryTest, AFullTableDropsThePastFirstThenTheOldestHalf) {
  for (size_t i = 0; i < FieldCarry::kMaxEntries; ++i) {
    Feed("<30>Dec  3 14:00:00 db2 postgres[" + std::to_string(i + 1) +
             "]: connection received: host=203.0.113.9",
         0);
  }
  EXPECT_EQ(carry_.size(), FieldCarry::kMaxEntries);
  // Past their 60 s: all dropped, none counted as evicted.
  Feed("<30>Dec  3 14:02:00 db2 postgres[999999]: connection received: host=203.0.113.9", 120);
  EXPECT_EQ(carry_.size(), 1u);
  EXPECT_EQ(carry_.evicted(), 0u);
  for (size_t i = 1; i < FieldCarry::kMaxEntries; ++i) {
    Feed("<30>Dec  3 14:02:00 db2 postgres[" + std::to_string(i + 1) +
             "]: connection received: host=203.0.113.9",
         120 + static_cast<int>(i % 30));
  }
  Feed("<30>Dec  3 14:03:00 db2 postgres[1999999]: connection received: host=203.0.113.9", 150);
  EXPECT_GT(carry_.evicted(), 0u);
  EXPECT_LT(carry_.size(), FieldCarry::kMaxEntries);
  // The latest is kept.
  std::vector<RuleHit> hits =
      Feed("<30>Dec  3 14:03:01 db2 postgres[1999999]: authentication failed for user \"d\"", 151);
  EXPECT_THAT(hits[0].fields,
              UnorderedElementsAre(Pair("user", "d"), Pair("src_ip", "203.0.113.9")));
}

// An empty key is the host alone: cloud-init's boot stage, then useradd, a
// child of another pid with no field in common.
TEST(FieldCarryHostKeyTest, AnEmptyKeyCarriesToAnyLaterLineOfTheHost) {
  auto rules = LoadRuleText(R"y(pack: t
rules:
  - id: t.stage
    sign: system.boot
    title: s
    severity: info
    alert: false
    description: d
    program: cloud-init
    match: 'running '
    extract: 'running (?P<stage>\S+)'
    remember: {name: boot, key: [], fields: [stage], secs: 600}
    examples: {match: ["x"]}
  - id: t.useradd
    sign: account.change
    title: u
    severity: medium
    description: d
    match: 'new user: name='
    extract: 'name=(?P<user>[^,]+)'
    recall: {name: boot, key: [], fields: [stage]}
    examples: {match: ["x"]}
)y",
                            "t.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  auto set = RuleSet::Compile(std::move(*rules));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  auto scratch = (*set)->NewScratch();
  ASSERT_TRUE(scratch.ok());
  receiver::Parser parser;
  FieldCarry carry;
  auto feed = [&](const std::string& line, int t) {
    Message msg;
    parser.Parse(line, At(t), &msg);
    msg.received = At(t);
    std::vector<RuleHit> hits;
    (*set)->Match(msg, **scratch, &hits);
    carry.Apply(msg, (*set)->ignore(), &hits);
    return hits;
  };
  feed("<30>Dec  5 08:02:09 vm1 cloud-init[518]: running init", 0);
  std::vector<RuleHit> hits =
      feed("<38>Dec  5 08:02:10 vm1 useradd[561]: new user: name=ubuntu,", 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_THAT(hits[0].fields, UnorderedElementsAre(Pair("user", "ubuntu"), Pair("stage", "init")));
  // Another host, and the same host past secs: nothing.
  hits = feed("<38>Dec  5 08:02:10 vm2 useradd[561]: new user: name=ubuntu,", 1);
  EXPECT_THAT(hits[0].fields, UnorderedElementsAre(Pair("user", "ubuntu")));
  hits = feed("<38>Dec  5 08:12:10 vm1 useradd[900]: new user: name=sysupd,", 601);
  EXPECT_THAT(hits[0].fields, UnorderedElementsAre(Pair("user", "sysupd")));
}

std::string PackWith(const std::string& remember, const std::string& recall) {
  return std::string(R"(pack: t
rules:
  - id: t.a
    sign: net.connection
    title: c
    severity: info
    description: d
    match: 'aaa'
    extract: 'aaa (?P<src_ip>\S+) (?P<conn>\d+)'
)") + remember +
         R"(
    examples: {match: ["x"]}
  - id: t.b
    sign: auth.failure
    title: f
    severity: medium
    description: d
    match: 'bbb'
)" + recall +
         R"(
    examples: {match: ["x"]}
)";
}

TEST(FieldCarryLoaderTest, ErrorsNameTheRuleAndWhatIsWrong) {
  auto compile = [](const std::string& text) -> Status {
    auto rules = LoadRuleText(text, "t.yaml");
    if (!rules.ok()) return rules.status();
    auto set = RuleSet::Compile(std::move(*rules));
    return set.ok() ? Status::Ok() : set.status();
  };
  EXPECT_TRUE(compile(PackWith("    remember: {name: c, key: conn, fields: src_ip}",
                               "    recall: {name: c, key: [conn], fields: [src_ip]}"))
                  .ok());
  EXPECT_THAT(
      compile(PackWith("", "    recall: {name: c, key: [conn], fields: [src_ip]}")).message(),
      HasSubstr("recall: no rule remembers \"c\""));
  EXPECT_THAT(compile(PackWith("    remember: {name: c, key: [conn], fields: [src_ip]}",
                               "    recall: {name: c, key: [host, pid], fields: [src_ip]}"))
                  .message(),
              HasSubstr("key has 2 fields, the remember of \"c\" in rule t.a has 1"));
  EXPECT_THAT(
      compile(PackWith("    remember: {name: c, key: [conn], fields: [conn]}", "")).message(),
      HasSubstr("\"conn\" is empty or also in key (rule t.a)"));
  EXPECT_THAT(compile(PackWith("    remember: {name: c, key: [conn]}", "")).message(),
              HasSubstr("key 'remember.fields': missing (rule t.a)"));
  EXPECT_THAT(
      compile(PackWith("    remember: {name: c, key: [conn], fields: [src_ip], secs: 0}", ""))
          .message(),
      HasSubstr("remember.secs"));
  EXPECT_THAT(compile(PackWith("", "    recall: {name: c, key: [conn], fields: [src_ip], secs: 5}"))
                  .message(),
              HasSubstr("recall.secs"));
  EXPECT_THAT(compile(PackWith("    remember: [conn]", "")).message(),
              HasSubstr("expected a mapping {name, key, fields, secs} (rule t.a)"));
}

}  // namespace
}  // namespace konseki::matchers
