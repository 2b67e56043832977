#include "matchers/rule_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace konseki::matchers {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] = R"(pack: test
rules:
  - id: t.one
    sign: ssh.auth_failure
    title: One
    severity: high
    description: what to check
    program: sshd|sshd-session
    match:
      - 'Failed password'
      - 'Invalid user'
    extract: 'for (?P<user>\S+)'
    case_sensitive: true
    examples:
      match:
        - line: "a line"
          fields: {user: root, port: "22"}
        - "another line"
      no_match:
        - "third line"
  - id: t.two
    sign: crash
    title: Two
    severity: info
    description: d
    match: 'segfault'
    examples:
      match: ["x"]
)";

TEST(LoadRuleTextTest, ReadsEveryKey) {
  StatusOr<std::vector<Rule>> rules = LoadRuleText(kGood, "good.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  ASSERT_EQ(rules->size(), 2u);
  const Rule& r = (*rules)[0];
  EXPECT_EQ(r.id, "t.one");
  EXPECT_EQ(r.sign, "ssh.auth_failure");
  EXPECT_EQ(r.title, "One");
  EXPECT_EQ(r.severity, Severity::kHigh);
  EXPECT_EQ(r.description, "what to check");
  EXPECT_EQ(r.program, "sshd|sshd-session");
  EXPECT_THAT(r.match, ::testing::ElementsAre("Failed password", "Invalid user"));
  EXPECT_THAT(r.match_lines, ::testing::ElementsAre(10, 11));
  EXPECT_THAT(r.extract, ::testing::ElementsAre("for (?P<user>\\S+)"));
  EXPECT_TRUE(r.case_sensitive);
  EXPECT_EQ(r.file, "good.yaml");
  EXPECT_EQ(r.line, 3);
  ASSERT_EQ(r.examples_match.size(), 2u);
  EXPECT_EQ(r.examples_match[0].line, "a line");
  EXPECT_EQ(r.examples_match[0].source_line, 16);
  using Field = std::pair<std::string, std::string>;
  EXPECT_THAT(r.examples_match[0].fields,
              ::testing::ElementsAre(Field{"user", "root"}, Field{"port", "22"}));
  EXPECT_EQ(r.examples_match[1].line, "another line");
  ASSERT_EQ(r.examples_no_match.size(), 1u);
  EXPECT_EQ(r.examples_no_match[0].line, "third line");
  EXPECT_FALSE((*rules)[1].case_sensitive);
  EXPECT_TRUE((*rules)[1].program.empty());
}

// Replaces the first occurrence of `from` in kGood.
std::string Edit(const std::string& from, const std::string& to) {
  std::string s = kGood;
  const size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  return s.replace(p, from.size(), to);
}

std::string ErrorOf(const std::string& text) {
  StatusOr<std::vector<Rule>> rules = LoadRuleText(text, "f.yaml");
  EXPECT_FALSE(rules.ok());
  return rules.ok() ? "" : rules.status().message();
}

TEST(LoadRuleTextTest, HeartbeatStopDefaultsToTheStoppedSignAndCanBeSet) {
  auto stop_of = [](const std::string& text) {
    StatusOr<std::vector<Rule>> rules = LoadRuleText(text, "f.yaml");
    EXPECT_TRUE(rules.ok()) << rules.status().ToString();
    return rules.ok() && (*rules)[0].heartbeat_stop;
  };
  EXPECT_FALSE(stop_of(kGood));
  EXPECT_TRUE(stop_of(Edit("sign: ssh.auth_failure", "sign: syslog.stopped")));
  EXPECT_FALSE(
      stop_of(Edit("sign: ssh.auth_failure", "sign: syslog.stopped\n    heartbeat_stop: false")));
  EXPECT_TRUE(stop_of(Edit("sign: ssh.auth_failure", "sign: crash\n    heartbeat_stop: true")));
}

TEST(LoadRuleTextTest, UnknownKeyNamesFileLineAndKey) {
  EXPECT_THAT(ErrorOf(Edit("    title: One\n", "    title: One\n    tittle: x\n")),
              HasSubstr("f.yaml:6: key 'tittle': unknown key in rule"));
  EXPECT_THAT(ErrorOf(Edit("pack: test", "pak: test")),
              HasSubstr("f.yaml:1: key 'pak': unknown key"));
  EXPECT_THAT(ErrorOf(Edit("        - line: \"a line\"", "        - lines: \"a line\"")),
              HasSubstr("f.yaml:16: key 'lines': unknown key in example"));
}

TEST(LoadRuleTextTest, ProgramExceptIsANameOrListOfNamesInLowerCase) {
  auto rules = LoadRuleText(
      Edit("    program: sshd|sshd-session\n", "    program_except: [CRON, logrotate]\n"),
      "f.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ((*rules)[0].program_except, (std::vector<std::string>{"cron", "logrotate"}));
  EXPECT_TRUE((*rules)[1].program_except.empty());
  EXPECT_THAT(
      ErrorOf(Edit("    program: sshd|sshd-session\n", "    program_except: /usr/sbin/cron\n")),
      HasSubstr("f.yaml:8: key 'program_except': a program name without '/' or "
                "spaces, not \"/usr/sbin/cron\" (rule t.one)"));
}

TEST(LoadRuleTextTest, UnlessIsOneExpressionAndAnAliasSharesIt) {
  auto rules =
      LoadRuleText(Edit("    program: sshd|sshd-session\n", "    unless: &forged 'AH00128: '\n") +
                       "    unless: *forged\n",
                   "f.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ((*rules)[0].unless, "AH00128: ");
  EXPECT_EQ((*rules)[0].unless_line, 8);
  EXPECT_EQ((*rules)[1].unless, "AH00128: ");
  EXPECT_THAT(ErrorOf(Edit("    program: sshd|sshd-session\n", "    unless: ''\n")),
              HasSubstr("f.yaml:8: key 'unless': empty expression in rule t.one"));
  EXPECT_THAT(ErrorOf(Edit("    program: sshd|sshd-session\n", "    unless: [a, b]\n")),
              HasSubstr("f.yaml:8: key 'unless': "));
}

TEST(LoadRuleTextTest, PidIsDigits) {
  auto rules = LoadRuleText(Edit("    program: sshd|sshd-session\n", "    pid: '1'\n"), "f.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ((*rules)[0].pid, "1");
  EXPECT_TRUE((*rules)[1].pid.empty());
  EXPECT_THAT(ErrorOf(Edit("    program: sshd|sshd-session\n", "    pid: one\n")),
              HasSubstr("f.yaml:8: key 'pid': a process id in digits, not \"one\" (rule t.one)"));
}

// A hold key a hit cannot carry turned the hold off without a word (two
// bundled rules had `quiet_key: host`: a scanner's twelve lines were twelve
// high alerts).
TEST(LoadRuleTextTest, QuietKeyNamesWhatAHitCarries) {
  const std::string quiet = "    quiet_secs: 300\n";
  for (const char* key : {"[user]", "[program, pid]", "user"}) {
    auto rules = LoadRuleText(
        Edit("    program: sshd|sshd-session\n", quiet + "    quiet_key: " + key + "\n"), "f.yaml");
    EXPECT_TRUE(rules.ok()) << key << ": " << rules.status().ToString();
  }
  EXPECT_THAT(ErrorOf(Edit("    program: sshd|sshd-session\n", quiet + "    quiet_key: host\n")),
              HasSubstr("f.yaml:9: key 'quiet_key': \"host\" is not a field of rule t.one"));
  EXPECT_THAT(
      ErrorOf(Edit("    program: sshd|sshd-session\n", quiet + "    quiet_key: [user, src_ip]\n")),
      HasSubstr("\"src_ip\" is not a field of rule t.one"));
}

TEST(LoadRuleTextTest, QuietAfterNamesOtherSignsAndNeedsQuietSecs) {
  const std::string quiet = "    quiet_secs: 300\n";
  auto rules = LoadRuleText(
      Edit("    program: sshd|sshd-session\n", quiet + "    quiet_after: system.shutdown\n"),
      "f.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ((*rules)[0].quiet_after, (std::vector<std::string>{"system.shutdown"}));
  EXPECT_TRUE((*rules)[1].quiet_after.empty());
  EXPECT_THAT(
      ErrorOf(Edit("    program: sshd|sshd-session\n", "    quiet_after: [system.shutdown]\n")),
      HasSubstr("f.yaml:8: key 'quiet_after': needs quiet_secs (rule t.one)"));
  EXPECT_THAT(ErrorOf(Edit("    program: sshd|sshd-session\n",
                           quiet + "    quiet_after: [system.shutdwn]\n")),
              HasSubstr("key 'quiet_after': unknown sign \"system.shutdwn\""));
  EXPECT_THAT(ErrorOf(Edit("    program: sshd|sshd-session\n",
                           quiet + "    quiet_after: [ssh.auth_failure]\n")),
              HasSubstr("key 'quiet_after': names the rule's own sign (rule t.one)"));
}

TEST(LoadRuleTextTest, OwnDowntimeSeverityIsLowerThanTheRules) {
  const std::string at = "    program: sshd|sshd-session\n";
  auto rules = LoadRuleText(Edit(at, "    own_downtime_severity: low\n"), "f.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ((*rules)[0].own_downtime_severity, Severity::kLow);
  EXPECT_FALSE((*rules)[1].own_downtime_severity.has_value());
  EXPECT_THAT(ErrorOf(Edit(at, "    own_downtime_severity: high\n")),
              HasSubstr("key 'own_downtime_severity': \"high\": use a severity lower than the "
                        "rule's (rule t.one)"));
  EXPECT_THAT(ErrorOf(Edit(at, "    own_downtime_severity: lo\n")),
              HasSubstr("key 'own_downtime_severity'"));
}

TEST(LoadRuleTextTest, PendingSecsWaitsForOtherSignsAtNoHigherSeverity) {
  const std::string at = "    program: sshd|sshd-session\n";
  auto rules = LoadRuleText(Edit(at,
                                 "    pending_secs: 60\n    answered_by: [syslog.started]\n"
                                 "    answered_severity: low\n"),
                            "f.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ((*rules)[0].pending_secs, 60);
  EXPECT_EQ((*rules)[0].answered_by, (std::vector<std::string>{"syslog.started"}));
  EXPECT_EQ((*rules)[0].answered_severity, Severity::kLow);
  EXPECT_EQ((*rules)[1].pending_secs, 0);
  // Without answered_severity an answered alert is dropped; "none" says so.
  auto drop = LoadRuleText(Edit(at,
                                "    pending_secs: 5\n    answered_by: system.boot\n"
                                "    answered_severity: none\n"),
                           "f.yaml");
  ASSERT_TRUE(drop.ok()) << drop.status().ToString();
  EXPECT_FALSE((*drop)[0].answered_severity.has_value());
  EXPECT_THAT(ErrorOf(Edit(at, "    pending_secs: 60\n")),
              HasSubstr("pending_secs and answered_by go together (rule t.one)"));
  EXPECT_THAT(ErrorOf(Edit(at, "    answered_by: [system.boot]\n")),
              HasSubstr("pending_secs and answered_by go together (rule t.one)"));
  EXPECT_THAT(ErrorOf(Edit(at, "    pending_secs: 0\n    answered_by: [system.boot]\n")),
              HasSubstr("key 'pending_secs'"));
  EXPECT_THAT(ErrorOf(Edit(at, "    pending_secs: 9\n    answered_by: [System.Boot]\n")),
              HasSubstr("key 'answered_by': sign \"System.Boot\" must be lower-case words"));
  // A name in a fixed namespace may be a rule's id (sudo.firewall_off):
  // loaded, and RuleSet::Compile refuses it when no rule has it
  // (RulePacksTest.ARuleIdInAnsweredByAndItsRuleDisabled).
  auto ns = LoadRuleText(Edit(at, "    pending_secs: 9\n    answered_by: [sudo.firewall_off]\n"),
                         "f.yaml");
  ASSERT_TRUE(ns.ok()) << ns.status().ToString();
  EXPECT_EQ((*ns)[0].answered_by, (std::vector<std::string>{"sudo.firewall_off"}));
  EXPECT_THAT(ErrorOf(Edit(at, "    pending_secs: 9\n    answered_by: [ssh.auth_failure]\n")),
              HasSubstr("key 'answered_by': names the rule's own sign or id (rule t.one)"));
  EXPECT_THAT(ErrorOf(Edit(at, "    pending_secs: 9\n    answered_by: [t.one]\n")),
              HasSubstr("key 'answered_by': names the rule's own sign or id (rule t.one)"));
  // A rule's id answers too (RuleSet::Compile checks that one exists), and
  // answer_key names the fields the answer must share.
  auto keyed = LoadRuleText(Edit(at,
                                 "    pending_secs: 3600\n    answered_by: [t.two]\n"
                                 "    answer_key: [user, src_ip]\n"),
                            "f.yaml");
  ASSERT_TRUE(keyed.ok()) << keyed.status().ToString();
  EXPECT_EQ((*keyed)[0].answered_by, (std::vector<std::string>{"t.two"}));
  EXPECT_EQ((*keyed)[0].answer_key, (std::vector<std::string>{"user", "src_ip"}));
  EXPECT_THAT(ErrorOf(Edit(at,
                           "    pending_secs: 9\n    answered_by: [t.two]\n"
                           "    answer_key: [user, user]\n")),
              HasSubstr("key 'answer_key': \"user\": a field name, once (rule t.one)"));
  EXPECT_THAT(ErrorOf(Edit(at, "    answer_key: [user]\n")),
              HasSubstr("pending_secs and answered_by go together (rule t.one)"));
  EXPECT_THAT(ErrorOf(Edit(at,
                           "    pending_secs: 9\n    answered_by: [system.boot]\n"
                           "    answered_severity: critical\n")),
              HasSubstr("use none or a severity no higher than the rule's (rule t.one)"));
  EXPECT_THAT(ErrorOf(Edit(at,
                           "    pending_secs: 9\n    answered_by: [system.boot]\n"
                           "    alert: false\n")),
              HasSubstr("an input rule (alert: false) raises no alert to wait (rule t.one)"));
}

TEST(LoadRuleTextTest, BadValuesAreErrors) {
  EXPECT_THAT(ErrorOf(Edit("severity: high", "severity: urgent")),
              HasSubstr("f.yaml:6: key 'severity': unknown severity \"urgent\" in rule t.one"));
  EXPECT_THAT(
      ErrorOf(Edit("sign: ssh.auth_failure", "sign: ssh.failure")),
      HasSubstr("f.yaml:4: key 'sign': unknown sign \"ssh.failure\" in the fixed namespace"));
  EXPECT_THAT(ErrorOf(Edit("sign: ssh.auth_failure", "sign: Local.Thing")),
              HasSubstr("f.yaml:4: key 'sign': sign \"Local.Thing\" must be lower-case words"));
  // A sign of one's own namespace is fine.
  EXPECT_TRUE(LoadRuleText(Edit("sign: ssh.auth_failure", "sign: local.canary"), "f.yaml").ok());
  EXPECT_THAT(ErrorOf(Edit("case_sensitive: true", "case_sensitive: yes please")),
              HasSubstr("f.yaml:13: key 'case_sensitive': expected true or false"));
  EXPECT_THAT(ErrorOf(Edit("title: One", "title: [a, b]")),
              HasSubstr("f.yaml:5: key 'title': expected a string, found a list"));
  EXPECT_THAT(ErrorOf(Edit("      match: [\"x\"]", "      no_match: [\"x\"]")),
              HasSubstr("key 'examples': a rule needs at least one `match` example"));
  EXPECT_THAT(ErrorOf(Edit("    match: 'segfault'\n", "")),
              HasSubstr("f.yaml:21: key 'match': missing required key in rule"));
  EXPECT_THAT(ErrorOf("rules: [\n"), HasSubstr("f.yaml:2: YAML syntax error"));
  EXPECT_THAT(ErrorOf(""), HasSubstr("empty rule file"));
}

TEST(LoadRuleTextTest, TextIsMessageOrStructuredData) {
  StatusOr<std::vector<Rule>> plain = LoadRuleText(kGood, "f.yaml");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ((*plain)[0].text, Rule::Text::kMessage);
  EXPECT_FALSE((*plain)[0].empty_message);
  StatusOr<std::vector<Rule>> sd = LoadRuleText(
      Edit("case_sensitive: true", "text: structured_data\n    empty_message: true"), "f.yaml");
  ASSERT_TRUE(sd.ok()) << sd.status().ToString();
  EXPECT_EQ((*sd)[0].text, Rule::Text::kStructuredData);
  EXPECT_TRUE((*sd)[0].empty_message);
  EXPECT_EQ((*sd)[1].text, Rule::Text::kMessage);
  StatusOr<std::vector<Rule>> msg =
      LoadRuleText(Edit("case_sensitive: true", "text: message"), "f.yaml");
  ASSERT_TRUE(msg.ok()) << msg.status().ToString();
  EXPECT_EQ((*msg)[0].text, Rule::Text::kMessage);
  EXPECT_THAT(ErrorOf(Edit("case_sensitive: true", "text: sd")),
              HasSubstr("f.yaml:13: key 'text': \"sd\": use message (the default) or "
                        "structured_data (rule t.one)"));
}

TEST(LoadRuleTextTest, PrefilterIsAStringOrListWithLines) {
  StatusOr<std::vector<Rule>> rules =
      LoadRuleText(Edit("    extract: 'for",
                        "    prefilter:\n      - 'password'\n      - 'user'\n    extract: 'for"),
                   "f.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_THAT((*rules)[0].prefilter, ::testing::ElementsAre("password", "user"));
  EXPECT_THAT((*rules)[0].prefilter_lines, ::testing::ElementsAre(13, 14));
  EXPECT_TRUE((*rules)[1].prefilter.empty());
  rules =
      LoadRuleText(Edit("    extract: 'for", "    prefilter: 'word'\n    extract: 'for"), "f.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_THAT((*rules)[0].prefilter, ::testing::ElementsAre("word"));
  EXPECT_THAT(ErrorOf(Edit("    extract: 'for", "    prefilter: ''\n    extract: 'for")),
              HasSubstr("f.yaml:12: key 'prefilter': empty expression in rule t.one"));
}

TEST(LoadRuleTextTest, DuplicateIdInOneFile) {
  EXPECT_THAT(ErrorOf(Edit("id: t.two", "id: t.one")),
              HasSubstr("f.yaml:21: key 'id': duplicate rule id t.one (first defined at line 3)"));
}

class RuleDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "konseki_rdir_XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::string dir_;
};

TEST_F(RuleDirTest, LoadsYamlFilesInNameOrderAndIgnoresOthers) {
  Write("b.yaml", kGood);
  std::string a = kGood;
  a.replace(a.find("id: t.one"), 9, "id: a.one");
  a.replace(a.find("id: t.two"), 9, "id: a.two");
  Write("a.yml", a);
  Write("README.md", "not rules");
  StatusOr<std::vector<Rule>> rules = LoadRuleDir(dir_);
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  ASSERT_EQ(rules->size(), 4u);
  EXPECT_EQ((*rules)[0].id, "a.one");
  EXPECT_EQ((*rules)[2].id, "t.one");
  EXPECT_EQ((*rules)[2].file, dir_ + "/b.yaml");
}

TEST_F(RuleDirTest, DuplicateIdAcrossFilesNamesBothPlaces) {
  Write("a.yaml", kGood);
  Write("b.yaml", kGood);
  StatusOr<std::vector<Rule>> rules = LoadRuleDir(dir_);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(),
              HasSubstr(dir_ + "/b.yaml:3: key 'id': duplicate rule id t.one (first defined at " +
                        dir_ + "/a.yaml:3)"));
}

TEST_F(RuleDirTest, EmptyOrMissingDirectoryIsAnError) {
  EXPECT_EQ(LoadRuleDir(dir_).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(LoadRuleDir(dir_ + "/missing").status().code(), StatusCode::kNotFound);
}

TEST(DefaultRulesDirTest, EnvironmentWinsThenSourceTree) {
  ASSERT_EQ(setenv("KONSEKI_RULES_DIR", "/opt/rules", 1), 0);
  EXPECT_EQ(DefaultRulesDir(), "/opt/rules");
  ASSERT_EQ(unsetenv("KONSEKI_RULES_DIR"), 0);
  EXPECT_EQ(DefaultRulesDir(), std::string(KONSEKI_SOURCE_DIR) + "/patterns");
}

TEST(ShippedPacksTest, LoadAndCoverEverySign) {
  StatusOr<RulePack> pack = LoadPackDir(std::string(KONSEKI_SOURCE_DIR) + "/patterns");
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  for (std::string_view sign : kSigns) {
    const bool covered = std::any_of(pack->rules.begin(), pack->rules.end(),
                                     [&](const Rule& r) { return r.sign == sign; }) ||
                         std::any_of(pack->correlations.begin(), pack->correlations.end(),
                                     [&](const Correlation& c) { return c.sign == sign; });
    EXPECT_TRUE(covered) << "no rule or correlation raises " << sign;
  }
}

}  // namespace
}  // namespace konseki::matchers
