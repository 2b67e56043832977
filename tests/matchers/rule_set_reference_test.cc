// RuleSet (Hyperscan databases split by program, RE2 extraction) against the
// plainest possible matcher over every real-world corpus line: for each rule
// in order, RE2 on the program, each `match` expression with RE2, then the
// first `extract` that matches (each, with `extract_all`), over the text
// with its hex-encoded audit values decoded when it is an audit record
// (IsAuditRecord, DecodeAuditRecord: RuleSet tells audit records by a
// Hyperscan expression and the program). Any change to
// how RuleSet partitions, scans or extracts must give exactly the same hits
// and fields.
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "matchers/audit_hex.h"
#include "matchers/lazy_re2.h"
#include "matchers/rule_loader.h"
#include "matchers/rule_set.h"
#include "receiver/parser.h"
#include "tests/testing/corpus_lines.h"
#include "tests/testing/source_dir.h"

namespace konseki::matchers {
namespace {

// One rule the slow, obvious way.
class ReferenceRule {
 public:
  explicit ReferenceRule(const Rule& rule) : rule_(rule) {
    if (!rule.program.empty()) {
      program_ = std::make_unique<RE2>("(?:" + rule.program + ")", Re2Options(false));
    }
    for (const auto& m : rule.match) {
      match_.push_back(std::make_unique<RE2>(m, Re2Options(rule.case_sensitive)));
    }
    for (const auto& e : rule.extract) {
      extract_.push_back(std::make_unique<RE2>(e, Re2Options(rule.case_sensitive)));
    }
  }

  bool Ok() const {
    bool ok = program_ == nullptr || program_->ok();
    for (const auto& re : match_) ok = ok && re->ok();
    for (const auto& re : extract_) ok = ok && re->ok();
    return ok;
  }

  // "" if the rule does not hit, else "id field=value ...". `text`: the
  // message's text, `sd`: its structured data.
  std::string Hit(std::string_view app, std::string_view procid, std::string_view message,
                  std::string_view sd) const {
    // pid: a line with a PROCID must carry the rule's.
    if (!rule_.pid.empty() && !procid.empty() && procid != rule_.pid) return "";
    // empty_message: a line with text is not the rule's.
    if (rule_.empty_message && message.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      return "";
    }
    // text: the part of the message the rule reads.
    const std::string_view text = rule_.text == Rule::Text::kStructuredData ? sd : message;
    // program_except: the whole name or its last component, without case.
    const std::string_view last =
        app.substr(app.rfind('/') == std::string_view::npos ? 0 : app.rfind('/') + 1);
    for (const std::string& name : rule_.program_except) {
      for (std::string_view n : {app, last}) {
        if (n.size() == name.size() &&
            std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a)) == b;
            })) {
          return "";
        }
      }
    }
    if (program_ != nullptr && !RE2::FullMatch(app, *program_)) {
      // A program logging under its path is its last component.
      const size_t slash = app.rfind('/');
      if (slash == std::string_view::npos || slash + 1 == app.size() ||
          !RE2::FullMatch(app.substr(slash + 1), *program_)) {
        return "";
      }
    }
    bool hit = false;
    for (const auto& re : match_) hit = hit || RE2::PartialMatch(text, *re);
    if (!hit) return "";
    std::string out = rule_.id;
    re2::StringPiece groups[32];
    for (const auto& re : extract_) {
      const int n = re->NumberOfCapturingGroups() + 1;
      if (!re->Match(text, 0, text.size(), RE2::UNANCHORED, groups, n)) continue;
      for (const auto& [index, name] : re->CapturingGroupNames()) {
        // Address fields hold an IPv4-mapped address as the IPv4 one
        // (RuleSet's documented normalisation, UnmappedIpv4).
        if (groups[index].data() != nullptr) {
          const std::string_view v(groups[index].data(), groups[index].size());
          out += " " + name + "=" + std::string(UnmappedIpv4(name, v));
        }
      }
      if (!rule_.extract_all) break;  // else every extract adds its fields
    }
    return out;
  }

 private:
  const Rule& rule_;
  std::unique_ptr<RE2> program_;
  std::vector<std::unique_ptr<RE2>> match_;
  std::vector<std::unique_ptr<RE2>> extract_;
};

std::string Describe(const RuleHit& hit) {
  std::string out = hit.rule->id;
  for (const auto& [name, value] : hit.fields) out += " " + name + "=" + value;
  return out;
}

TEST(RuleSetReferenceTest, SameHitsAndFieldsAsPerRuleRe2OnEveryCorpusLine) {
  const std::vector<std::string> lines = testing::CorpusLines(KONSEKI_CORPUS_DIR);
  if (lines.empty()) {
    GTEST_SKIP() << "corpus not found at " << KONSEKI_CORPUS_DIR
                 << " (it lives in shared/ beside the checkout; user checkouts lack it)";
  }
  auto rules = LoadRuleDir(konseki::testing::TestSourceDir() + "/patterns");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  auto set = RuleSet::Compile(*rules);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  std::vector<ReferenceRule> reference;
  for (const Rule& r : (*set)->rules()) {
    reference.emplace_back(r);
    ASSERT_TRUE(reference.back().Ok()) << r.id;
  }
  auto scratch = (*set)->NewScratch();
  ASSERT_TRUE(scratch.ok());
  const receiver::Parser parser;
  std::vector<RuleHit> hits;
  size_t total = 0;
  size_t decoded_lines = 0;
  for (const std::string& line : lines) {
    Message msg;
    parser.Parse(line, TimePoint(std::chrono::seconds(1'767'225'600)), &msg);
    std::string_view text = msg.format == MessageFormat::kUnparsed ? msg.raw : msg.msg;
    AuditBuffers decoded;
    if (IsAuditRecord(text, msg.app_name) && DecodeAuditRecord(text, &decoded)) {
      text = decoded.text;
      ++decoded_lines;
    }
    std::vector<std::string> want;
    for (const ReferenceRule& r : reference) {
      if (std::string h = r.Hit(msg.app_name, msg.procid, text, msg.structured_data); !h.empty()) {
        want.push_back(std::move(h));
      }
    }
    (*set)->Match(msg, **scratch, &hits);
    std::vector<std::string> got;
    for (const RuleHit& h : hits) got.push_back(Describe(h));
    EXPECT_EQ(got, want) << line;
    total += got.size();
  }
  EXPECT_GT(total, 1000u);       // the corpus is mostly attacks: a real comparison
  EXPECT_GT(decoded_lines, 0u);  // the corpus has audit records with hex values
}

}  // namespace
}  // namespace konseki::matchers
