// Site packs and overrides on top of the bundled packs (rules.local_dir,
// disable, severity, ignore): what loads, what fires, what is refused.
#include "matchers/rule_packs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "receiver/parser.h"
#include "tests/testing/source_dir.h"

namespace konseki::matchers {
namespace {

using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/konseki_rule_packs_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Sub(const std::string& name) const {
    std::filesystem::create_directories(path_ + "/" + name);
    return path_ + "/" + name;
  }

 private:
  std::string path_;
};

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string OneRule(const std::string& id, const std::string& match,
                    const std::string& extra = "") {
  return "rules:\n  - id: " + id +
         "\n    sign: ssh.auth_failure\n    title: t\n    severity: medium\n"
         "    description: d\n    match: '" +
         match + "'\n    extract: 'for (?P<user>\\S+) from (?P<src_ip>\\S+)'\n" + extra +
         "    examples:\n      match: [\"Jan  1 00:00:00 h sshd: " + match +
         " for u from 192.0.2.1\"]\n";
}

class RulePacksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bundled_ = dir_.Sub("bundled");
    local_ = dir_.Sub("local");
    Write(bundled_ + "/a.yaml",
          OneRule("b.failed", "Failed password") + OneRule("b.invalid", "Invalid user").substr(7));
    o_.local_dir = local_;
    o_.local_dir_where = "k.yaml:3: key 'rules.local_dir'";
  }
  // The ids of the rules that hit `line`, and the first hit's alert.
  std::vector<std::string> Hits(const RuleSet& set, const std::string& line, Alert* first = nullptr,
                                bool* ignored = nullptr) {
    receiver::Parser parser;
    Message msg;
    parser.Parse(line, TimePoint(), &msg);
    auto scratch = set.NewScratch();
    std::vector<RuleHit> hits;
    set.Match(msg, **scratch, &hits);
    std::vector<std::string> ids;
    for (const RuleHit& h : hits) ids.push_back(h.rule->id);
    if (!hits.empty() && first != nullptr) *first = MakeAlert(msg, hits[0]);
    if (!hits.empty() && ignored != nullptr) *ignored = hits[0].ignored;
    return ids;
  }

  TempDir dir_;
  std::string bundled_, local_;
  RuleOverrides o_;
};

TEST_F(RulePacksTest, SitePacksLoadAfterTheBundledOnes) {
  Write(local_ + "/site.yaml", OneRule("site.canary", "canary tripped"));
  auto rules = LoadRulePacks(bundled_, o_);
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  ASSERT_EQ(rules->size(), 3u);
  EXPECT_EQ((*rules)[2].id, "site.canary");
}

TEST_F(RulePacksTest, AnEmptySiteFolderIsFineAMissingOneIsNot) {
  EXPECT_TRUE(LoadRulePacks(bundled_, o_).ok());
  o_.local_dir = local_ + "/nope";
  auto rules = LoadRulePacks(bundled_, o_);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("k.yaml:3: key 'rules.local_dir'"));
  EXPECT_THAT(rules.status().message(), HasSubstr("does not exist"));
}

// prod23: a FIFO, a symlink to a device and a dangling symlink named like
// packs were skipped without a word. They are still not read (a FIFO would
// block the load), but the load names each with what it is; a symlink to a
// regular pack is followed; other names are no packs and not listed.
TEST_F(RulePacksTest, PackNamedEntriesThatAreNotRegularFilesAreListedAsSkipped) {
  Write(local_ + "/site.yaml", OneRule("site.canary", "canary tripped"));
  Write(local_ + "/README", "not a pack");
  ASSERT_EQ(::mkfifo((local_ + "/fifo.yaml").c_str(), 0600), 0);
  std::filesystem::create_symlink("/dev/null", local_ + "/null.yaml");
  std::filesystem::create_symlink(local_ + "/gone", local_ + "/dangling.yml");
  std::filesystem::create_symlink(local_ + "/site.yaml", local_ + "/link.yaml.off");
  auto pack = LoadRulePackSet(bundled_, o_);
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  EXPECT_EQ(pack->rules.size(), 3u);
  EXPECT_THAT(pack->skipped_files,
              ::testing::ElementsAre(local_ + "/dangling.yml (a symlink to nothing)",
                                     local_ + "/fifo.yaml (a FIFO)",
                                     local_ + "/null.yaml (a symlink to a character device)"));
  // Only skipped entries: no site rule (allowed), and still listed.
  std::filesystem::remove(local_ + "/site.yaml");
  pack = LoadRulePackSet(bundled_, o_);
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  EXPECT_EQ(pack->rules.size(), 2u);
  EXPECT_EQ(pack->skipped_files.size(), 3u);
}

TEST_F(RulePacksTest, ReusingABundledIdNeedsReplace) {
  Write(local_ + "/site.yaml", OneRule("b.failed", "Failed publickey"));
  auto rules = LoadRulePacks(bundled_, o_);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr(local_ + "/site.yaml:2"));
  EXPECT_THAT(rules.status().message(), HasSubstr(bundled_ + "/a.yaml:2"));
  EXPECT_THAT(rules.status().message(), HasSubstr("replace: true"));
}

TEST_F(RulePacksTest, ReplaceTakesTheBundledRulesPlace) {
  Write(local_ + "/site.yaml", OneRule("b.failed", "Failed publickey", "    replace: true\n"));
  auto set = CompileRulePacks(bundled_, o_);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ((*set)->rules().size(), 2u);
  EXPECT_THAT(Hits(**set, "Jan  1 00:00:00 h sshd: Failed publickey for u from 192.0.2.1"),
              ::testing::ElementsAre("b.failed"));
  EXPECT_TRUE(Hits(**set, "Jan  1 00:00:00 h sshd: Failed password for u from 192.0.2.1").empty());
}

TEST_F(RulePacksTest, ReplaceOfAnUnknownIdOrInABundledPackIsRefused) {
  Write(local_ + "/site.yaml", OneRule("b.faild", "Failed publickey", "    replace: true\n"));
  auto rules = LoadRulePacks(bundled_, o_);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("no bundled rule has id b.faild"));

  std::filesystem::remove(local_ + "/site.yaml");
  Write(bundled_ + "/z.yaml", OneRule("b.other", "other", "    replace: true\n"));
  rules = LoadRulePacks(bundled_, o_);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("only a site pack"));
}

TEST_F(RulePacksTest, ADisabledRuleDoesNotFire) {
  const std::string line = "Jan  1 00:00:00 h sshd: Failed password for u from 192.0.2.1";
  auto before = CompileRulePacks(bundled_, o_);
  ASSERT_TRUE(before.ok());
  EXPECT_THAT(Hits(**before, line), ::testing::ElementsAre("b.failed"));
  o_.disable.push_back({"b.failed", "k.yaml:5: key 'rules.disable'"});
  auto after = CompileRulePacks(bundled_, o_);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ((*after)->FindRule("b.failed"), nullptr);
  EXPECT_TRUE(Hits(**after, line).empty());
  EXPECT_THAT(Hits(**after, "Jan  1 00:00:00 h sshd: Invalid user for u from 192.0.2.1"),
              ::testing::ElementsAre("b.invalid"));
}

// answered_by may name a rule by id; disabling that rule leaves the waiting
// rule alerting at once, and an answer no rule gives is refused.
TEST_F(RulePacksTest, ARuleIdInAnsweredByAndItsRuleDisabled) {
  Write(local_ + "/site.yaml", OneRule("site.added", "account added",
                                       "    pending_secs: 600\n    answered_by: [site.deleted]\n"
                                       "    answer_key: [user]\n") +
                                   OneRule("site.deleted", "account deleted").substr(7));
  auto set = CompileRulePacks(bundled_, o_);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  const Rule* deleted = (*set)->FindRule("site.deleted");
  ASSERT_NE(deleted, nullptr);
  EXPECT_TRUE(deleted->answers_pending);
  EXPECT_FALSE((*set)->FindRule("b.failed")->answers_pending);  // same sign, not named

  o_.disable.push_back({"site.deleted", "k.yaml:5"});
  set = CompileRulePacks(bundled_, o_);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  const Rule* added = (*set)->FindRule("site.added");
  EXPECT_EQ(added->pending_secs, 0);
  EXPECT_TRUE(added->answered_by.empty());

  o_.disable.clear();
  Write(local_ + "/site.yaml", OneRule("site.added", "account added",
                                       "    pending_secs: 600\n    answered_by: [site.delted]\n"));
  set = CompileRulePacks(bundled_, o_);
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(),
              HasSubstr("answered_by: \"site.delted\" is no rule's sign or id"));
  // A typo of a fixed sign is no rule's sign or id either.
  Write(local_ + "/site.yaml", OneRule("site.added", "account added",
                                       "    pending_secs: 600\n    answered_by: [system.bot]\n"));
  set = CompileRulePacks(bundled_, o_);
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(),
              HasSubstr("answered_by: \"system.bot\" is no rule's sign or id"));
}

TEST_F(RulePacksTest, SeverityOverrideShowsInTheAlert) {
  o_.severity.push_back({"b.failed", Severity::kCritical, "k.yaml:7: key 'rules.severity'"});
  auto set = CompileRulePacks(bundled_, o_);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  Alert a;
  ASSERT_EQ(Hits(**set, "Jan  1 00:00:00 h sshd: Failed password for u from 192.0.2.1", &a).size(),
            1u);
  EXPECT_EQ(a.severity, Severity::kCritical);
  EXPECT_EQ((*set)->FindRule("b.invalid")->severity, Severity::kMedium);
}

TEST_F(RulePacksTest, UnknownIdsNameWhereTheyWereWritten) {
  o_.disable.push_back({"b.nope", "k.yaml:5: key 'rules.disable'"});
  auto rules = LoadRulePacks(bundled_, o_);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(),
              HasSubstr("k.yaml:5: key 'rules.disable': no rule has id 'b.nope'"));
  o_.disable.clear();
  o_.severity.push_back({"b.typo", Severity::kHigh, "k.yaml:9: key 'rules.severity'"});
  rules = LoadRulePacks(bundled_, o_);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(),
              HasSubstr("k.yaml:9: key 'rules.severity': no rule has id 'b.typo'"));
}

TEST_F(RulePacksTest, SiteRulesCanBeDisabledAndReweightedToo) {
  Write(local_ + "/site.yaml", OneRule("site.canary", "canary tripped"));
  o_.severity.push_back({"site.canary", Severity::kLow, "k.yaml:7"});
  auto rules = LoadRulePacks(bundled_, o_);
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ(rules->back().severity, Severity::kLow);
}

// disable and severity take correlation ids as well (the bundled packs').
TEST_F(RulePacksTest, CorrelationsCanBeDisabledAndReweighted) {
  const std::string patterns = konseki::testing::TestSourceDir() + "/patterns";
  RuleOverrides o;
  o.disable.push_back({"ssh.spray", "k.yaml:5"});
  o.severity.push_back({"ssh.bruteforce.host", Severity::kHigh, "k.yaml:6"});
  auto pack = LoadRulePackSet(patterns, o);
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  bool spray = false, bruteforce = false;
  for (const Correlation& c : pack->correlations) {
    if (c.id == "ssh.spray") spray = true;
    if (c.id == "ssh.bruteforce.host") {
      bruteforce = true;
      EXPECT_EQ(c.severity, Severity::kHigh);
    }
  }
  EXPECT_FALSE(spray);
  EXPECT_TRUE(bruteforce);
}

// A site pack holds rules only: a correlation there is refused, not dropped.
TEST_F(RulePacksTest, ACorrelationInASitePackIsRefused) {
  Write(local_ + "/site.yaml",
        OneRule("site.canary", "canary tripped") +
            "correlations:\n  - id: site.burst\n    sign: ssh.bruteforce\n    title: t\n"
            "    severity: high\n    description: d\n    kind: threshold\n"
            "    on: [site.canary]\n    key: [src_ip]\n    count: 2\n"
            "    window_secs: 60\n    examples:\n      - lines:\n"
            "          - \"Jan  1 00:00:00 h sshd: canary tripped for u from 192.0.2.1\"\n"
            "          - \"Jan  1 00:00:01 h sshd: canary tripped for u from 192.0.2.1\"\n"
            "        alerts:\n          - sign: ssh.bruteforce\n");
  auto pack = LoadRulePackSet(bundled_, o_);
  ASSERT_FALSE(pack.ok());
  EXPECT_THAT(pack.status().message(), HasSubstr("site packs (rules.local_dir) hold rules only"));
}

TEST_F(RulePacksTest, IgnoredSourceOrUserMarksTheHitNotTheRule) {
  o_.ignore_sources = {"10.0.5.0/24", "2001:db8::/32"};
  o_.ignore_users = {"nagios"};
  auto set = CompileRulePacks(bundled_, o_);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  bool ignored = false;
  const std::string head = "Jan  1 00:00:00 h sshd: Failed password for ";
  ASSERT_EQ(Hits(**set, head + "u from 10.0.5.77", nullptr, &ignored).size(), 1u);
  EXPECT_TRUE(ignored);
  ASSERT_EQ(Hits(**set, head + "u from 2001:db8::9", nullptr, &ignored).size(), 1u);
  EXPECT_TRUE(ignored);
  ASSERT_EQ(Hits(**set, head + "nagios from 192.0.2.1", nullptr, &ignored).size(), 1u);
  EXPECT_TRUE(ignored);
  ASSERT_EQ(Hits(**set, head + "u from 10.0.6.1", nullptr, &ignored).size(), 1u);
  EXPECT_FALSE(ignored);
  // Exact names: another account that merely contains the name still alerts.
  ASSERT_EQ(Hits(**set, head + "nagios2 from 192.0.2.1", nullptr, &ignored).size(), 1u);
  EXPECT_FALSE(ignored);
}

TEST_F(RulePacksTest, ABadIgnoreEntryIsAnError) {
  o_.ignore_sources = {"10.0.5.1/24"};
  auto set = CompileRulePacks(bundled_, o_);
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(), HasSubstr("rules.ignore"));
}

}  // namespace
}  // namespace konseki::matchers
