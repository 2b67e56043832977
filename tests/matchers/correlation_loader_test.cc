#include "matchers/correlation_loader.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/rule_tool.h"
#include "matchers/rule_loader.h"

namespace konseki::matchers {
namespace {

using app::RunCheckRules;
using app::RunTestRules;
using app::TestRulesOptions;

using ::testing::HasSubstr;

constexpr char kRule[] = R"(rules:
  - id: t.fail
    sign: ssh.auth_failure
    title: t
    severity: low
    description: d
    alert: false
    program: sshd
    match: 'Failed password for '
    extract: 'for (?P<user>\S+) from (?P<src_ip>\S+)'
    examples:
      match: ["Mar  1 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2"]
)";

constexpr char kCorrelation[] = R"(correlations:
  - id: t.burst
    sign: ssh.bruteforce
    title: burst
    severity: medium
    description: d
    kind: threshold
    on: [t.fail]
    key: [src_ip]
    window_secs: 60
    count: 2
    examples:
      - lines:
          - "Mar  1 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2"
          - "Mar  1 10:00:30 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2"
        alerts:
          - sign: ssh.bruteforce
            fields: {src_ip: 192.0.2.1, count: "2"}
)";

StatusOr<RulePack> Load(const std::string& text) { return LoadPackText(text, "p.yaml"); }

// kRule and kCorrelation with the correlation's kind, inputs, key, window
// and count replaced by `body` (another kind's keys).
std::string WithBody(const std::string& body) {
  std::string text = std::string(kRule) + kCorrelation;
  const std::string kind =
      "    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: 2";
  text.replace(text.find(kind), kind.size(), body);
  return text;
}

TEST(CorrelationLoaderTest, ReadsEveryKeyOfACorrelation) {
  auto pack = Load(std::string(kRule) + kCorrelation);
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  ASSERT_EQ(pack->correlations.size(), 1u);
  const Correlation& c = pack->correlations[0];
  EXPECT_EQ(c.id, "t.burst");
  EXPECT_EQ(c.kind, CorrelationKind::kThreshold);
  EXPECT_EQ(c.scope, KeyScope::kHost);
  EXPECT_EQ(c.count, 2u);
  EXPECT_EQ(c.window_secs, 60);
  EXPECT_EQ(c.line, 14);
  ASSERT_EQ(c.examples.size(), 1u);
  EXPECT_EQ(c.examples[0].lines.size(), 2u);
  EXPECT_FALSE(pack->rules[0].alert);
}

TEST(CorrelationLoaderTest, ReadsWeightField) {
  std::string text = std::string(kRule) + kCorrelation;
  const std::string at = "    count: 2\n";
  text.replace(text.find(at), at.size(), at + "    weight_field: attempts\n");
  auto pack = Load(text);
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  EXPECT_EQ(pack->correlations[0].weight_field, "attempts");
}

TEST(CorrelationLoaderTest, KeysAndFirstSeenTakeTheDomainTransform) {
  std::string text = std::string(kRule) + kCorrelation;
  const std::string at = "    key: [src_ip]\n";
  text.replace(text.find(at), at.size(), "    key: [src_ip, user|domain]\n");
  auto pack = Load(text);
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  EXPECT_EQ(pack->correlations[0].key, (std::vector<std::string>{"src_ip", "user|domain"}));
}

TEST(CorrelationLoaderTest, KeysAndFirstSeenTakeTheCountryTransform) {
  std::string text = std::string(kRule) + kCorrelation;
  const std::string at = "    key: [src_ip]\n";
  text.replace(text.find(at), at.size(), "    key: [src_ip|country]\n");
  auto pack = Load(text);
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  EXPECT_EQ(pack->correlations[0].key, (std::vector<std::string>{"src_ip|country"}));
}

TEST(CorrelationLoaderTest, ASetConditionMayNameSeveralSets) {
  std::string text = std::string(kRule) + kCorrelation;
  const std::string at = "    count: 2\n";
  text.replace(text.find(at), at.size(),
               at + "    unless_in: {src_ip: [internal, seen], \"user,src_ip\": gone}\n");
  auto pack = Load(text);
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  const std::vector<SetCondition>& u = pack->correlations[0].unless_in;
  ASSERT_EQ(u.size(), 3u);
  EXPECT_EQ(u[0].set, "internal");
  EXPECT_EQ(u[1].set, "seen");
  EXPECT_EQ(u[1].fields, std::vector<std::string>{"src_ip"});
  EXPECT_EQ(u[2].set, "gone");
  EXPECT_EQ(u[2].fields, (std::vector<std::string>{"user", "src_ip"}));
}

TEST(CorrelationLoaderTest, ReadsCarryFieldsAndRefusesATransform) {
  std::string text = std::string(kRule) + kCorrelation;
  const std::string at = "    count: 2\n";
  text.replace(text.find(at), at.size(), at + "    carry_fields: [user, host]\n");
  auto pack = Load(text);
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  EXPECT_EQ(pack->correlations[0].carry_fields, (std::vector<std::string>{"user", "host"}));
  text.replace(text.find("[user, host]"), 12, "[user|lower]");
  auto bad = Load(text);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().ToString(), HasSubstr("\"user|lower\" is not a field name"));
}

// where_equal, unless_equal and severity_if's where_equal read two
// fields of one hit; first_seen takes |host in the fleet, with the learned
// set it reads.
TEST(CorrelationLoaderTest, ReadsFieldPairsAndAFirstSeenHostTuple) {
  std::string text = std::string(kRule) + kCorrelation;
  const std::string at = "    count: 2\n";
  text.replace(text.find(at), at.size(),
               at + "    where_equal: {src_ip: user}\n    unless_equal: {user: host}\n"
                    "    severity_if: [{severity: low, where_equal: {src_ip: sender}}]\n");
  auto pack = Load(text);
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  const Correlation& c = pack->correlations[0];
  ASSERT_EQ(c.where_equal.size(), 1u);
  EXPECT_EQ(c.where_equal[0].field, "src_ip");
  EXPECT_EQ(c.where_equal[0].other, "user");
  ASSERT_EQ(c.unless_equal.size(), 1u);
  EXPECT_EQ(c.unless_equal[0].other, "host");
  ASSERT_EQ(c.severity_if.size(), 1u);
  ASSERT_EQ(c.severity_if[0].where_equal.size(), 1u);
  EXPECT_EQ(c.severity_if[0].where_equal[0].other, "sender");

  const std::string fs = WithBody(
      "    kind: first_seen\n    scope: fleet\n    on: [t.fail]\n    key: [host]\n"
      "    first_seen: ['src_ip|host']\n    set: own");
  auto first = Load(fs);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->correlations[0].first_values.size(), 1u);
  EXPECT_EQ(first->correlations[0].first_values[0].transform, "host");
  EXPECT_EQ(first->correlations[0].set, "own");
}

struct BadCase {
  std::string replace;
  std::string with;
  std::string error;
};

TEST(CorrelationLoaderTest, ErrorsNameFileLineAndKey) {
  const std::vector<BadCase> cases = {
      {"kind: threshold", "kind: leaky", "p.yaml:19: key 'kind': unknown kind \"leaky\""},
      {"    count: 2\n", "", "p.yaml:14: key 'count': kind threshold needs count"},
      {"    window_secs: 60", "    window_secs: 60\n    field: user",
       "p.yaml:23: key 'field': not a parameter of kind threshold"},
      {"    key: [src_ip]", "    key: [src_ip]\n    scope: planet",
       "p.yaml:22: key 'scope': expected host or fleet"},
      {"    count: 2", "    count: 0", "p.yaml:23: key 'count': value 0 out of range"},
      {"sign: ssh.bruteforce\n    title: burst", "sign: ssh.bruteforces\n    title: burst",
       "unknown sign \"ssh.bruteforces\" in the fixed namespace \"ssh\""},
      {"        alerts:\n          - sign: ssh.bruteforce\n            fields: {src_ip: 192.0.2.1, "
       "count: \"2\"}\n",
       "        alerts: []\n", "a correlation needs a case that raises an alert"},
      {"    on: [t.fail]", "    on: [t.fail]\n    where: {user: '('}",
       "p.yaml:21: key 'where': field user: bad pattern"},
      {"    on: [t.fail]", "    on: [t.fail]\n    colour: blue",
       "p.yaml:21: key 'colour': unknown key in correlation"},
      {"    window_secs: 60", "    window_secs: 60\n    ordered: true",
       "p.yaml:23: key 'ordered': not a parameter of kind threshold"},
      {"    key: [src_ip]", "    key: [src_ip|upper]",
       "p.yaml:21: key 'key': \"src_ip|upper\" is not a field, field|net, field|lower, "
       "field|domain, field|country or field|host"},
      {"    key: [src_ip]", "    key: [src_ip|host]",
       "p.yaml:21: key 'key': field|host needs scope: fleet (correlation t.burst)"},
      // A kind's field is read as it is, or as name|stem: |lower there
      // matched nothing (scen12 services). A distinct count's takes the
      // transforms of one value (net, net16, lower, domain, country), not
      // |host nor an unknown one, and says so with its line.
      {"    window_secs: 60", "    window_secs: 60\n    duration_field: duration",
       "p.yaml:23: key 'duration_field': not a parameter of kind threshold"},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: unpaired\n    on: [t.fail]\n    after: [t.fail]\n    key: [src_ip]\n"
       "    duration_field: 'duration|net'",
       "p.yaml:23: key 'duration_field': \"duration|net\": the name of the close's field that says "
       "how long its session lasted (correlation t.burst)"},
      {"kind: threshold", "kind: distinct\n    field: 'src_ip|host'",
       "p.yaml:20: key 'field': \"src_ip|host\": a field name, or name|TRANSFORM with net, net16, "
       "lower, domain, country or stem"},
      {"kind: threshold", "kind: distinct\n    field: 'src_ip|upper'",
       "key 'field': \"src_ip|upper\": a field name, or name|TRANSFORM"},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]",
       "    kind: sequence\n    on: [t.fail]\n    after: [t.fail]\n    scope: fleet\n"
       "    key: [src_ip|host]\n    after_key: [host, user]",
       "key 'after_key': needs as many fields as key (correlation t.burst)"},
      {"    window_secs: 60", "    window_secs: 60\n    after_key: [host]",
       "p.yaml:23: key 'after_key': not a parameter of kind threshold"},
      {"    window_secs: 60", "    window_secs: 60\n    after_unless_in: {src_ip: internal}",
       "p.yaml:23: key 'after_unless_in': not a parameter of kind threshold"},
      {"    window_secs: 60", "    window_secs: 60\n    alert_unless_in: {src_ip: internal}",
       "p.yaml:23: key 'alert_unless_in': not a parameter of kind threshold"},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: first_seen\n    on: [t.fail]\n    key: [user]\n    first_seen: [src_ip|in]",
       "key 'first_seen': unknown transform \"in\" (use net, net16, lower, domain, country, host "
       "or in:SET)"},
      // |host in a first_seen tuple reads the fleet's hosts: fleet only.
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: first_seen\n    on: [t.fail]\n    key: [host]\n    first_seen: [src_ip|host]",
       "p.yaml:22: key 'first_seen': src_ip|host needs scope: fleet (correlation t.burst)"},
      // where_equal / unless_equal: a mapping of two distinct field names.
      {"    window_secs: 60", "    window_secs: 60\n    where_equal: [src_ip, user]",
       "p.yaml:23: key 'where_equal': expected a mapping of field: other_field ({rip: lip}), "
       "found a list (correlation t.burst)"},
      {"    window_secs: 60", "    window_secs: 60\n    unless_equal: {src_ip: src_ip}",
       "p.yaml:23: key 'unless_equal': compares src_ip with itself; name two fields (correlation "
       "t.burst)"},
      {"    window_secs: 60", "    window_secs: 60\n    where_equal: {src_ip: 'local_ip|net'}",
       "p.yaml:23: key 'where_equal': \"local_ip|net\": a field name, or name|stem (correlation "
       "t.burst)"},
      {"    window_secs: 60", "    window_secs: 60\n    where_equal: {src_ip: [a, b]}",
       "key 'where_equal': expected field: other_field, two field names (correlation t.burst)"},
      {"    window_secs: 60",
       "    window_secs: 60\n    severity_if: [{severity: low, where_equal: {user: user}}]",
       "key 'where_equal': compares user with itself; name two fields (correlation t.burst)"},
      {"    window_secs: 60", "    window_secs: 60\n    after_unless: {method: publickey}",
       "p.yaml:23: key 'after_unless': not a parameter of kind threshold"},
      {"    window_secs: 60", "    window_secs: 60\n    severity_if: [{severity: low}]",
       "key 'severity_if': an entry needs where, where_in or where_equal (correlation t.burst)"},
      {"    window_secs: 60",
       "    window_secs: 60\n    severity_if: [{severity: dire, where: {user: root}}]",
       "key 'severity_if': unknown severity \"dire\" (correlation t.burst)"},
      {"    window_secs: 60", "    window_secs: 60\n    severity_if: [{where: {user: root}}]",
       "key 'severity_if': an entry needs severity (correlation t.burst)"},
      {"    window_secs: 60", "    window_secs: 60\n    replaces: true",
       "key 'replaces': needs supersedes: true (correlation t.burst)"},
      {"    window_secs: 60", "    window_secs: 60\n    unless_in: {src_ip: []}",
       "p.yaml:23: key 'unless_in': expected a set name or a list of set names"},
      {"    window_secs: 60", "    window_secs: 60\n    min_gap_secs: 600",
       "p.yaml:23: key 'min_gap_secs': not a parameter of kind threshold"},
      {"    window_secs: 60", "    window_secs: 60\n    sole_value: {field: user}",
       "p.yaml:23: key 'sole_value': not a parameter of kind threshold"},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: sequence\n    after: [t.fail]\n    on: [t.fail]\n    key: [src_ip]\n"
       "    window_secs: 60\n    count: 2\n    sole_value: {field: user, max_count: 5}",
       "key 'sole_value': needs field:, max_count: and severity:"},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: sequence\n    after: [t.fail]\n    on: [t.fail]\n    key: [src_ip]\n"
       "    window_secs: 60\n    count: 2\n"
       "    sole_value: {field: user, max_count: 5, severity: urgent}",
       "key 'severity': unknown severity \"urgent\""},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: sequence\n    after: [t.fail]\n    on: [t.fail]\n    key: [host]\n"
       "    field: src_ip\n    window_secs: 60\n    count: 2\n"
       "    sole_value: {field: user, max_count: 5, severity: low}",
       "takes sole_value: on its network (src_ip|net or src_ip|net16)"},
      {"            fields: {src_ip: 192.0.2.1, ",
       "            severity: dire\n            fields: {src_ip: 192.0.2.1, ",
       "key 'severity': unknown severity \"dire\""},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: unpaired\n    after: [t.fail]\n    on: [t.fail]\n    key: []\n"
       "    ordered: true",
       "p.yaml:23: key 'ordered': needs a key whose last field is the counter"},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: unpaired\n    after: [t.fail]\n    on: [t.fail]\n    key: [pid]\n"
       "    restart_on: [t.fail]",
       "key 'restart_on': restarts an ordered counter: needs ordered: true"},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: distinct\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2\n    field: user\n    weight_field: attempts",
       "key 'weight_field': not a parameter of kind distinct"},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: sequence\n    after: [t.fail]\n    on: [t.fail]\n    key: [user]\n"
       "    window_secs: 60\n    count: 2\n    field: src_ip\n    weight_field: attempts",
       "key 'weight_field': a sequence with field: counts distinct values"},
      {"    window_secs: 60", "    window_secs: 60\n    weight_field: ''",
       "key 'weight_field': must name a field"},
      {"    window_secs: 60", "    window_secs: 60\n    quiet_key: [src_ip]",
       "p.yaml:23: key 'quiet_key': not a parameter of kind threshold"},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: unpaired\n    after: [t.fail]\n    on: [t.fail]\n    key: [program, pid]\n"
       "    quiet_key: [program]",
       "key 'quiet_key': keys the hold of quiet_secs, which is missing (correlation t.burst)"},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: unpaired\n    after: [t.fail]\n    on: [t.fail]\n    key: [program, pid]\n"
       "    quiet_secs: 3600\n    quiet_key: [program, pid]",
       "key 'quiet_key': needs at least one field, and other fields than key"},
      {"    kind: threshold\n    on: [t.fail]\n    key: [src_ip]\n    window_secs: 60\n    count: "
       "2",
       "    kind: unpaired\n    after: [t.fail]\n    on: [t.fail]\n    key: [program, pid]\n"
       "    quiet_secs: 3600\n    quiet_key: [program|lower]",
       "key 'quiet_key': \"program|lower\": a field name (correlation t.burst)"},
  };
  for (const BadCase& c : cases) {
    std::string text = std::string(kRule) + kCorrelation;
    size_t at = text.find(c.replace);
    ASSERT_NE(at, std::string::npos) << c.replace;
    text.replace(at, c.replace.size(), c.with);
    auto pack = Load(text);
    ASSERT_FALSE(pack.ok()) << c.with;
    EXPECT_THAT(pack.status().message(), HasSubstr(c.error));
  }
}

// quiet_key on a distinct: the hold of many keys' bursts by fields they
// share (one alert per host a day for the accounts guessed on it).
TEST(CorrelationLoaderTest, ReadsADistinctQuietKey) {
  const std::string text = WithBody(
      "    kind: distinct\n    on: [t.fail]\n    key: [user]\n    field: src_ip\n"
      "    window_secs: 60\n    count: 2\n    quiet_secs: 86400\n    quiet_key: [host]");
  auto pack = Load(text);
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  EXPECT_EQ(pack->correlations[0].quiet_key, (std::vector<std::string>{"host"}));
  // Without quiet_secs, or keyed as the key itself, it holds nothing.
  std::string no_secs = text;
  no_secs.replace(no_secs.find("    quiet_secs: 86400\n"), 22, "");
  EXPECT_THAT(Load(no_secs).status().message(),
              HasSubstr("p.yaml:25: key 'quiet_key': keys the hold of quiet_secs, which is "
                        "missing (correlation t.burst)"));
  std::string same = text;
  same.replace(same.find("quiet_key: [host]"), 17, "quiet_key: [user]");
  EXPECT_THAT(Load(same).status().message(),
              HasSubstr("key 'quiet_key': needs at least one field, and other fields than key"));
}

// equal_after: {B_FIELD: A_FIELD}, the same name on both sides allowed.
TEST(CorrelationLoaderTest, ReadsEqualAfter) {
  const std::string body =
      "    kind: sequence\n    after: [t.fail]\n    on: [t.fail]\n    key: [src_ip]\n"
      "    window_secs: 60\n    count: 1\n    equal_after: ";
  auto pack = Load(WithBody(body + "{user: user}"));
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  ASSERT_EQ(pack->correlations[0].equal_after.size(), 1u);
  EXPECT_EQ(pack->correlations[0].equal_after[0].field, "user");
  EXPECT_EQ(pack->correlations[0].equal_after[0].other, "user");
  EXPECT_THAT(Load(WithBody(body + "[user, user]")).status().message(),
              HasSubstr("p.yaml:25: key 'equal_after': expected a mapping of on_field: "
                        "after_field ({user: user}), found a list (correlation t.burst)"));
  EXPECT_THAT(Load(WithBody(body + "{user: 'user|lower'}")).status().message(),
              HasSubstr("key 'equal_after': \"user|lower\": a field name (correlation t.burst)"));
  EXPECT_THAT(Load(WithBody("    kind: distinct\n    on: [t.fail]\n    key: [src_ip]\n"
                            "    field: user\n    equal_after: {user: user}"))
                  .status()
                  .message(),
              HasSubstr("key 'equal_after': not a parameter of kind distinct"));
}

class PackDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "konseki_corr_XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::string dir_;
};

// A where_equal field that no input extracts could never be compared
// ({rip: lpi}): refused, naming the correlation's line.
TEST_F(PackDirTest, AFieldPairMustNameFieldsTheInputsCarry) {
  Write("a.yaml", kRule);
  // b.yaml: kCorrelation of `kind` with `after_key` after its key.
  auto load = [&](const std::string& after_key, const std::string& kind = "threshold") {
    std::string corr = kCorrelation;
    corr.replace(corr.find("kind: threshold"), 15, "kind: " + kind);
    corr.replace(corr.find("    key: [src_ip]"), 17, "    key: [src_ip]\n" + after_key);
    Write("b.yaml", corr);
    return LoadPackDir(dir_).status();
  };
  EXPECT_THAT(load("    where_equal: {src_ip: lip}").message(),
              HasSubstr("b.yaml:2: key 'where_equal': correlation t.burst: where_equal field lip "
                        "is extracted by none of the correlation's inputs"));
  EXPECT_THAT(load("    severity_if: [{severity: low, where_equal: {user: usr}}]").message(),
              HasSubstr("severity_if field usr is extracted by none"));
  // A quiet_key field no hit carries would hold nothing.
  EXPECT_THAT(
      load("    field: user\n    quiet_secs: 600\n    quiet_key: [lip]", "distinct").message(),
      HasSubstr("b.yaml:2: key 'quiet_key': correlation t.burst: quiet_key field lip is "
                "extracted by none of the correlation's inputs"));
  // equal_after's A field must be one of the after: inputs'.
  EXPECT_THAT(load("    after: [t.fail]\n    equal_after: {user: account}", "sequence").message(),
              HasSubstr("b.yaml:2: key 'equal_after': correlation t.burst: equal_after field "
                        "account is extracted by none of the after: inputs"));
  // Extracted fields and pseudo-fields are fine.
  const Status ok = load("    unless_equal: {user: host}");
  EXPECT_TRUE(ok.ok()) << ok.ToString();
}

TEST_F(PackDirTest, InputsMustExistAndCorrelationsMayNotLoop) {
  Write("a.yaml", kRule);
  std::string corr = kCorrelation;
  Write("b.yaml", corr.replace(corr.find("[t.fail]"), 8, "[t.nothing]"));
  EXPECT_THAT(LoadPackDir(dir_).status().message(),
              HasSubstr("b.yaml:2: key 'on': correlation t.burst: no rule or correlation has id "
                        "t.nothing"));
  corr = kCorrelation;
  Write("b.yaml", corr.replace(corr.find("[t.fail]"), 8, "[sign:nope.none]"));
  EXPECT_THAT(LoadPackDir(dir_).status().message(), HasSubstr("no rule or correlation has sign"));
  corr = kCorrelation;
  Write("b.yaml", corr.replace(corr.find("[t.fail]"), 8, "[t.fail, t.burst]"));
  EXPECT_THAT(LoadPackDir(dir_).status().message(), HasSubstr("part of a cycle"));
  corr = kCorrelation;
  corr.replace(corr.find("    key: [src_ip]"), 17, "    key: [src_ip]\n    scope: fleet");
  std::string host_corr = kCorrelation;
  host_corr.replace(host_corr.find("t.burst"), 7, "t.second");
  host_corr.replace(host_corr.find("[t.fail]"), 8, "[t.burst]");
  Write("b.yaml", corr);
  Write("c.yaml", host_corr);
  EXPECT_THAT(LoadPackDir(dir_).status().message(),
              HasSubstr("host-scoped correlation t.second cannot take the fleet-scoped t.burst"));
  std::filesystem::remove(dir_ + "/c.yaml");
  EXPECT_TRUE(LoadPackDir(dir_).ok()) << LoadPackDir(dir_).status().ToString();
}

// withdrawn_by (kind distinct): its keys, its inputs, and `same` fields
// that both the members' inputs and the withdrawing ones extract.
TEST_F(PackDirTest, WithdrawnByIsReadAndCheckedAgainstItsInputs) {
  const std::string login = R"(
  - id: t.login
    sign: ssh.login
    title: t
    severity: info
    description: d
    alert: false
    program: sshd
    match: 'Accepted password for '
    extract: 'for (?P<user>\S+) from (?P<src_ip>\S+) port (?P<port>\d+)'
    examples:
      match: ["Mar  1 10:00:00 h sshd[1]: Accepted password for root from 192.0.2.1 port 1 ssh2"]
)";
  Write("a.yaml", kRule + login);
  std::string corr = kCorrelation;
  corr.replace(corr.find("kind: threshold"), 15, "kind: distinct\n    field: src_ip");
  corr.replace(corr.find("    key: [src_ip]\n"), 18, "");
  auto with = [&](const std::string& w) {
    std::string text = corr;
    text.replace(text.find("    window_secs: 60"), 19, "    window_secs: 60\n" + w);
    Write("b.yaml", text);
    return LoadPackDir(dir_);
  };
  auto ok = with("    withdrawn_by: {on: [t.login], same: [user, src_ip], within_secs: 1800}");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  const Correlation::WithdrawnBy& w = ok.value().correlations[0].withdrawn_by;
  ASSERT_EQ(w.on.size(), 1u);
  EXPECT_EQ(w.on[0].id, "t.login");
  EXPECT_EQ(w.same, (std::vector<std::string>{"user", "src_ip"}));
  EXPECT_EQ(w.within_secs, 1800);
  EXPECT_TRUE(
      with("    withdrawn_by: {on: [sign:ssh.login], same: [user, pid], within_secs: 60}").ok());
  EXPECT_THAT(with("    withdrawn_by: {on: [t.login], same: [user], within_secs: 60, colour: red}")
                  .status()
                  .message(),
              HasSubstr("key 'withdrawn_by.colour': unknown key in withdrawn_by"));
  EXPECT_THAT(with("    withdrawn_by: {on: [t.login], same: [user]}").status().message(),
              HasSubstr("needs on:, same: and within_secs: (correlation t.burst)"));
  EXPECT_THAT(
      with("    withdrawn_by: {on: [t.login], same: [], within_secs: 60}").status().message(),
      HasSubstr("needs one to eight fields"));
  EXPECT_THAT(with("    withdrawn_by: {on: [t.login], same: [src_ip|net], within_secs: 60}")
                  .status()
                  .message(),
              HasSubstr("\"src_ip|net\": a field name, without transform"));
  EXPECT_THAT(
      with("    withdrawn_by: {on: [t.login], same: [user], within_secs: 0}").status().message(),
      HasSubstr("key 'within_secs': value 0 out of range"));
  EXPECT_THAT(
      with("    withdrawn_by: {on: [t.logn], same: [user], within_secs: 60}").status().message(),
      HasSubstr("correlation t.burst: no rule or correlation has id t.logn"));
  EXPECT_THAT(with("    withdrawn_by: {on: [sign:ssh.nope], same: [user], within_secs: 60}")
                  .status()
                  .message(),
              HasSubstr("no rule or correlation has sign ssh.nope"));
  EXPECT_THAT(
      with("    withdrawn_by: {on: [t.login], same: [port], within_secs: 60}").status().message(),
      HasSubstr("withdrawn_by.same field port is extracted by none of the correlation's "
                "inputs (on:)"));
  EXPECT_THAT(
      with("    withdrawn_by: {on: [t.fail], same: [tty], within_secs: 60}").status().message(),
      HasSubstr("withdrawn_by.same field tty is extracted by none of the correlation's"));
  // Only kind distinct takes it.
  Write("b.yaml", std::string(kCorrelation)
                      .replace(std::string(kCorrelation).find("    window_secs: 60"), 19,
                               "    window_secs: 60\n    withdrawn_by: {on: [t.login], same: "
                               "[user], within_secs: 60}"));
  EXPECT_THAT(LoadPackDir(dir_).status().message(),
              HasSubstr("key 'withdrawn_by': not a parameter of kind threshold"));
}

// A set learns from rules and host-scoped correlations that exist: a typo
// in learn's on: would otherwise learn nothing, silently.
TEST_F(PackDirTest, ASetLearnsOnlyFromInputsThatExist) {
  Write("a.yaml", kRule);
  Write("b.yaml", kCorrelation);
  auto set = [&](const std::string& on) {
    Write("c.yaml", "pack: s\nsets:\n  - id: seen\n    learn:\n      - on: [" + on +
                        "]\n        field: src_ip\n");
    return LoadPackDir(dir_).status();
  };
  EXPECT_TRUE(set("t.fail").ok()) << set("t.fail").ToString();
  EXPECT_TRUE(set("t.burst").ok()) << set("t.burst").ToString();
  EXPECT_THAT(set("t.flail").message(),
              HasSubstr("c.yaml:3: key 'learn': set seen: no rule or correlation has id t.flail"));
  EXPECT_THAT(set("sign:nope.none").message(), HasSubstr("no rule has sign nope.none"));
  std::string fleet = kCorrelation;
  fleet.replace(fleet.find("    key: [src_ip]"), 17, "    key: [src_ip]\n    scope: fleet");
  Write("b.yaml", fleet);
  EXPECT_THAT(set("t.burst").message(),
              HasSubstr("cannot learn from the fleet-scoped correlation t.burst"));
}

TEST_F(PackDirTest, CheckRulesRunsCorrelationExamplesAndReportsWrongOnes) {
  Write("a.yaml", std::string(kRule) + kCorrelation);
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckRules(dir_, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("1 rules, 1 correlations, 2 examples, 0 failures"));

  std::string wrong = std::string(kRule) + kCorrelation;
  wrong.replace(wrong.find("count: \"2\""), 10, "count: \"3\"");
  Write("a.yaml", wrong);
  std::ostringstream out2, err2;
  EXPECT_EQ(RunCheckRules(dir_, out2, err2), 1);
  EXPECT_THAT(err2.str(), HasSubstr("a.yaml:29: correlation t.burst: field count = \"2\", want "
                                    "\"3\""));

  std::string silent = std::string(kRule) + kCorrelation;
  silent.replace(silent.find("Mar  1 10:00:30"), 15, "Mar  1 10:05:30");
  Write("a.yaml", silent);
  std::ostringstream out3, err3;
  EXPECT_EQ(RunCheckRules(dir_, out3, err3), 1);
  EXPECT_THAT(err3.str(), HasSubstr("expected alert ssh.bruteforce was not raised"));
}

TEST_F(PackDirTest, TestRulesPrintsHitsAndCorrelationAlertsAsJson) {
  Write("a.yaml", std::string(kRule) + kCorrelation);
  Write("log.txt",
        "Mar  1 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2\n"
        "Mar  1 10:00:30 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2\n");
  // Year-less stamps take the file's year: last written 2025-03-02.
  const timespec written[2] = {{1740873600, 0}, {1740873600, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (dir_ + "/log.txt").c_str(), written, 0), 0);
  TestRulesOptions opts;
  opts.rules_dir = dir_;
  opts.json = true;
  opts.correlate = true;
  opts.files = {dir_ + "/log.txt"};
  std::ostringstream out, err;
  ASSERT_EQ(RunTestRules(opts, out, err), 0) << err.str();
  const std::string f = "{\"file\":\"" + dir_ + "/log.txt\",";
  EXPECT_EQ(out.str(),
            f +
                "\"line\":1,\"rule\":\"t.fail\",\"sign\":\"ssh.auth_failure\",\"severity\":"
                "\"low\",\"host\":\"h\",\"program\":\"sshd\",\"fields\":{\"user\":\"root\","
                "\"src_ip\":\"192.0.2.1\"},\"alert\":false}\n" +
                f +
                "\"line\":2,\"rule\":\"t.fail\",\"sign\":\"ssh.auth_failure\",\"severity\":"
                "\"low\",\"host\":\"h\",\"program\":\"sshd\",\"fields\":{\"user\":\"root\","
                "\"src_ip\":\"192.0.2.1\"},\"alert\":false}\n" +
                f +
                "\"line\":2,\"rule\":\"t.burst\",\"sign\":\"ssh.bruteforce\",\"severity\":"
                "\"medium\",\"host\":\"h\",\"program\":\"sshd\",\"fields\":{\"src_ip\":\"192.0.2."
                "1\",\"count\":\"2\","
                "\"first_time\":\"2025-03-01T10:00:00.000000Z\",\"last_time\":\"2025-03-01T10:00:"
                "30.000000Z\"},\"correlation\":true,\"origin_line_no\":2,\"origin\":" +
                f +
                "\"line_no\":2,\"host\":\"h\",\"time\":\"2025-03-01T10:00:30.000000Z\","
                "\"message\":\"Mar  1 10:00:30 h sshd[1]: Failed password for root from 192.0.2.1 "
                "port 1 ssh2\"}}\n");
  EXPECT_THAT(err.str(), HasSubstr("1 correlation alerts"));
  // Without correlations: the hits only.
  opts.correlate = false;
  std::ostringstream out2, err2;
  ASSERT_EQ(RunTestRules(opts, out2, err2), 0);
  EXPECT_THAT(out2.str(), ::testing::Not(HasSubstr("t.burst")));
}

TEST_F(PackDirTest, InputOnlyRulesMayShareALineWithAlertingRules) {
  std::string second = kRule;
  second.replace(second.find("t.fail"), 6, "t.fail2");
  second.replace(second.find("    alert: false\n"), 17, "");
  Write("a.yaml", kRule);
  Write("b.yaml", second);
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckRules(dir_, out, err), 0) << err.str();
  Write("a.yaml", second.replace(second.find("t.fail2"), 7, "t.fail3"));
  std::ostringstream out2, err2;
  EXPECT_EQ(RunCheckRules(dir_, out2, err2), 1);
  EXPECT_THAT(err2.str(), HasSubstr("one line must raise one alert"));
}

}  // namespace
}  // namespace konseki::matchers
