// Per-sign recall and precision of the shipped packs on an evaluation set of
// lines written the way the daemons write them (testdata/sign_eval.tsv, see
// its header for where the lines come from). Every line of a sign must raise
// exactly one alert, of that sign; every benign line must raise nothing.
//
// What is judged is sign recognition, so an input-only rule (alert: false)
// counts like an alerting one: the SSH failure rules are inputs of the
// brute-force correlations but still recognize ssh.auth_failure, one hit per
// line. Hits of the session halves (session.open / session.close) are not
// judged: no such line is a sign by itself (a benign sudo or cron session
// opens one), only a close without its open is (session.close_without_open,
// a correlation); their rules must be input-only.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "matchers/rule_loader.h"
#include "matchers/rule_set.h"
#include "receiver/parser.h"
#include "tests/testing/source_dir.h"

namespace konseki::matchers {
namespace {

const std::string kEvalFile =
    konseki::testing::TestSourceDir() + "/tests/matchers/testdata/sign_eval.tsv";
const std::string kPatterns = konseki::testing::TestSourceDir() + "/patterns";

// Events that are inputs of correlations and no sign by themselves: the
// session halves, and connections (net.connection: every netfilter LOG
// line, drops included, is one; issue #15), resolver queries
// (net.dns_query) and access-log 404s (web.not_found: a scanner's probe
// answered 404 is one too, beside its web.probe).
bool IsSessionHalf(const std::string& sign) {
  return sign == "session.open" || sign == "session.close" || sign == "session.switch" ||
         sign == "net.connection" || sign == "net.dns_query" || sign == "web.not_found" ||
         sign == "boot.trace";  // a line written while a host boots (its uptime)
}

struct EvalRow {
  std::string sign;  // "-" for a benign line
  std::string line;
  int line_no = 0;
};

std::vector<EvalRow> ReadEvalSet() {
  std::vector<EvalRow> rows;
  std::ifstream in(kEvalFile);
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    if (text.empty() || text[0] == '#') continue;
    const size_t tab = text.find('\t');
    if (tab == std::string::npos) continue;
    rows.push_back({text.substr(0, tab), text.substr(tab + 1), n});
  }
  return rows;
}

// The shipped packs, compiled once per test.
class RuleSignEvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::vector<Rule>> rules = LoadRuleDir(kPatterns);
    ASSERT_TRUE(rules.ok()) << rules.status().ToString();
    auto set = RuleSet::Compile(std::move(rules).value());
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    set_ = *set;
    auto scratch = set_->NewScratch();
    ASSERT_TRUE(scratch.ok());
    scratch_ = std::move(scratch).value();
  }
  std::shared_ptr<const RuleSet> set_;
  std::unique_ptr<RuleSet::Scratch> scratch_;
};

TEST_F(RuleSignEvalTest, EverySignLineHitsItsSignAndBenignLinesHitNothing) {
  const std::vector<EvalRow> rows = ReadEvalSet();
  ASSERT_GT(rows.size(), 150u) << "cannot read " << kEvalFile;
  const std::shared_ptr<const RuleSet>& set = set_;

  const receiver::Parser parser;
  Message msg;
  std::vector<RuleHit> hits;
  std::map<std::string, std::pair<int, int>> per_sign;  // sign -> {right, total}
  for (const EvalRow& row : rows) {
    parser.Parse(row.line, TimePoint(std::chrono::seconds(1'767'225'600)), &msg);
    set->Match(msg, *scratch_, &hits);
    std::erase_if(hits, [](const RuleHit& h) { return IsSessionHalf(h.rule->sign); });
    std::string got;
    for (const RuleHit& h : hits)
      got += (got.empty() ? "" : ", ") + h.rule->id + " (" + h.rule->sign + ")";
    auto& [right, total] = per_sign[row.sign];
    ++total;
    if (row.sign == "-") {
      // Inputs of correlations only (alert: false) raise nothing by
      // themselves: an admin's sudo useradd feeds a learned set.
      std::erase_if(hits, [](const RuleHit& h) { return !h.rule->alert; });
      EXPECT_TRUE(hits.empty()) << "benign line " << row.line_no << " raised " << got << "\n  "
                                << row.line;
      if (hits.empty()) ++right;
      continue;
    }
    const bool ok = hits.size() == 1 && hits[0].rule->sign == row.sign;
    EXPECT_TRUE(ok) << "line " << row.line_no << " wants " << row.sign << ", got "
                    << (got.empty() ? "nothing" : got) << "\n  " << row.line;
    if (ok) ++right;
  }
  for (const auto& [sign, counts] : per_sign) {
    std::cout << "  " << sign << ": " << counts.first << "/" << counts.second << "\n";
  }
  // Every sign the shipped rules raise is judged on a few lines at least.
  // (Signs raised only by correlations, not by a rule, are not looked at.)
  for (const Rule& rule : set->rules()) {
    if (IsSessionHalf(rule.sign)) {
      EXPECT_FALSE(rule.alert) << rule.id << ": a session half or connection must be an input only";
      continue;
    }
    EXPECT_GE(per_sign[rule.sign].second, 3) << "too few lines for " << rule.sign;
  }
}

// The signs of the rows, as konseki reads them: "-" when nothing but session
// halves hit, else the sorted rule signs.
std::string SignsOf(const std::vector<RuleHit>& hits) {
  std::vector<std::string> signs;
  for (const RuleHit& h : hits) {
    if (!IsSessionHalf(h.rule->sign)) signs.push_back(h.rule->sign);
  }
  std::sort(signs.begin(), signs.end());
  std::string out;
  for (const std::string& x : signs) out += (out.empty() ? "" : ",") + x;
  return out.empty() ? "-" : out;
}

// docs/senders.md has rsyslog forward with RSYSLOG_SyslogProtocol23Format:
// "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG" where APP-NAME is
// the TAG cut at its first '/' (postfix/smtpd -> postfix) and MSG keeps the
// space that ended the TAG ("- -  Failed ..."). Every row with a header and
// a tag, re-written the way that template writes it, must read as the same
// signs. (Rows rsyslog would mangle are skipped: no header, no host, or a
// TAG that is a path, which has no APP-NAME in that form.)
TEST_F(RuleSignEvalTest, RowsForwardedWithRsyslogsRfc5424TemplateReadTheSame) {
  const std::vector<EvalRow> rows = ReadEvalSet();
  const std::shared_ptr<const RuleSet>& set = set_;
  const receiver::Parser parser;
  const TimePoint received(std::chrono::seconds(1'767'225'600));
  Message msg;
  std::vector<RuleHit> hits;
  int compared = 0;
  for (const EvalRow& row : rows) {
    parser.Parse(row.line, received, &msg);
    if (msg.format != MessageFormat::kRfc3164 || msg.issue != ParseIssue::kNone ||
        msg.hostname.empty() || msg.app_name.empty() || msg.app_name[0] == '/' ||
        msg.repeats != 1) {
      continue;
    }
    set->Match(msg, *scratch_, &hits);
    const std::string direct = SignsOf(hits);
    const std::string app(msg.app_name.substr(0, msg.app_name.find('/')));
    const std::string forwarded =
        "<38>1 2026-01-03T10:00:00+00:00 " + std::string(msg.hostname) + " " + app + " " +
        (msg.procid.empty() ? "-" : std::string(msg.procid)) + " - -  " + std::string(msg.msg);
    Message fwd;
    parser.Parse(forwarded, received, &fwd);
    set->Match(fwd, *scratch_, &hits);
    EXPECT_EQ(SignsOf(hits), direct)
        << "line " << row.line_no << "\n  " << row.line << "\n  " << forwarded;
    ++compared;
  }
  std::cout << "  " << compared << " rows compared in the forwarded form\n";
  EXPECT_GT(compared, 900);
}

}  // namespace
}  // namespace konseki::matchers
