// SimpleRegex against RE2 (Latin-1, the rule options): the same match and
// the same groups, on hand-written cases where backtracking order matters,
// and for every extract and prefilter confirmation of every shipped pack on
// every example line of every pack and on every corpus line.
#include "matchers/simple_regex.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <memory>
#include <string>
#include <vector>

#include "matchers/lazy_re2.h"
#include "matchers/rule_loader.h"
#include "receiver/parser.h"
#include "tests/testing/corpus_lines.h"
#include "tests/testing/source_dir.h"

namespace konseki::matchers {
namespace {

// "" when both agree, else what each found.
std::string Compare(const RE2& re, const SimpleRegex& simple, std::string_view text) {
  const int n = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> want(n), got(n);
  const bool re2_hit = re.Match(text, 0, text.size(), RE2::UNANCHORED, want.data(), n);
  std::string lowered(text);
  for (char& c : lowered) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const SimpleRegex::Result r = simple.Search(text, got.data(), n, lowered);
  if (r == SimpleRegex::Result::kGaveUp) return "";  // RuleSet asks RE2 then
  auto describe = [&](bool hit, const std::vector<re2::StringPiece>& g) {
    if (!hit) return std::string("no match");
    std::string out;
    for (int i = 0; i < n; ++i) {
      out += g[i].data() == nullptr ? std::string(" -")
                                    : " " + std::to_string(g[i].data() - text.data()) + "+" +
                                          std::to_string(g[i].size());
    }
    return out;
  };
  const std::string a = describe(re2_hit, want);
  const std::string b = describe(r == SimpleRegex::Result::kMatch, got);
  return a == b ? "" : "RE2" + a + " / SimpleRegex" + b;
}

struct Case {
  std::string pattern;
  bool case_sensitive;
  std::string text;
};

TEST(SimpleRegexTest, SameMatchAndGroupsAsRe2WhereBacktrackingOrderMatters) {
  const std::vector<Case> cases = {
      {"rhost=(?P<ip>\\S*)(?:\\s+user=(?P<user>\\S+))?", false, "x RHOST=1.2.3.4  user=root"},
      {"rhost=(?P<ip>\\S*)(?:\\s+user=(?P<user>\\S+))?", false, "rhost= user"},
      {"user (?P<u>.*) from (?P<ip>\\S+)", false, "user a from b from c"},
      {"user (?P<u>.*?) from (?P<ip>\\S+)", false, "user a from b from c"},
      {"(?P<a>a|ab)(?P<b>c|bcd)", true, "abcd"},
      {"(?P<a>a*?)(?P<b>a*)$", true, "aaa"},
      {"^(?:sshd: )?Failed (?P<m>[\\w/-]+) for (?P<u>\\S+)", false, "sshd: FAILED password for x"},
      {"\\bIN=(?P<in>\\S*) OUT=", true, "XIN=a OUT= IN=eth0 OUT="},
      {"[^a-c]+", false, "ABCdef"},
      {"[A-Z_]+", false, "abc_DEF"},
      {"x{2,3}?y", true, "xxxxy"},
      {"(?P<p>\\d{1,3})\\.(?P<q>\\d+)$", true, "1234.5 12.34"},
      {"a(?:b|)c", true, "ac abc"},
      {"\\x27(?P<q>[^\\x27]*)\\x27", true, "'it' 'x'"},
      {"foo\\Bbar|foo", true, "foobar"},
      {"(?:x)??y", true, "xy"},
      {"", true, "abc"},
      {"$", true, "abc"},
  };
  for (const Case& c : cases) {
    const RE2 re(c.pattern, Re2Options(c.case_sensitive));
    ASSERT_TRUE(re.ok()) << c.pattern;
    const auto simple = SimpleRegex::Compile(c.pattern, c.case_sensitive);
    ASSERT_NE(simple, nullptr) << c.pattern;
    EXPECT_EQ(simple->groups(), re.NumberOfCapturingGroups()) << c.pattern;
    EXPECT_EQ(Compare(re, *simple, c.text), "") << c.pattern << " on " << c.text;
  }
}

TEST(SimpleRegexTest, LeavesToRe2WhatItDoesNotKnow) {
  for (const char* p : {"(?i)a", "(?-i:a)b", "(?:ab)+", "(?:ab)*", "(?:ab){2}", "\\pL",
                        "[[:alpha:]]", "\\Aa", "a\\z", "x{", "\xc3\xa9", "(?<n>a)", "a**"}) {
    EXPECT_EQ(SimpleRegex::Compile(p, false), nullptr) << p;
  }
}

TEST(SimpleRegexTest, GivesUpInsteadOfBacktrackingWithoutEnd) {
  const auto simple = SimpleRegex::Compile(
      "(?:a?)(?:a?)(?:a?)(?:a?)(?:a?)(?:a?)(?:a?)(?:a?)"
      "(?:a?)(?:a?)(?:a?)(?:a?)(?:a?)(?:a?)(?:a?)(?:a?)"
      "(?:a?)(?:a?)(?:a?)(?:a?)aaaaaaaaaaaaaaaaaaaab",
      true);
  ASSERT_NE(simple, nullptr);
  re2::StringPiece g[1];
  EXPECT_EQ(simple->Search(std::string(20, 'a'), g, 1), SimpleRegex::Result::kGaveUp);
}

// Every extract and every confirmation (`match` of a rule with a
// prefilter: what RuleSet searches with RE2 after a hit) that SimpleRegex
// takes, on the message text of every example line and every corpus line.
TEST(SimpleRegexTest, SameAsRe2ForEveryPackExpressionOnEveryExampleAndCorpusLine) {
  auto rules = LoadRuleDir(konseki::testing::TestSourceDir() + "/patterns");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  std::vector<std::string> lines;
  for (const Rule& r : *rules) {
    for (const RuleExample& e : r.examples_match) lines.push_back(e.line);
    for (const RuleExample& e : r.examples_no_match) lines.push_back(e.line);
  }
  const size_t examples = lines.size();
  for (std::string& l : testing::CorpusLines(KONSEKI_CORPUS_DIR)) lines.push_back(std::move(l));
  const receiver::Parser parser;
  std::vector<std::string> texts;
  for (const std::string& line : lines) {
    Message msg;
    parser.Parse(line, TimePoint(std::chrono::seconds(1'767'225'600)), &msg);
    texts.emplace_back(msg.format == MessageFormat::kUnparsed ? msg.raw : msg.msg);
    if (!msg.structured_data.empty()) texts.emplace_back(msg.structured_data);
  }
  size_t expressions = 0, simple_ones = 0, failures = 0;
  for (const Rule& r : *rules) {
    std::vector<std::string> exprs = r.extract;
    if (!r.prefilter.empty()) exprs.insert(exprs.end(), r.match.begin(), r.match.end());
    for (const std::string& p : exprs) {
      ++expressions;
      const auto simple = SimpleRegex::Compile(p, r.case_sensitive);
      if (simple == nullptr) continue;
      ++simple_ones;
      const RE2 re(p, Re2Options(r.case_sensitive));
      ASSERT_TRUE(re.ok()) << p;
      ASSERT_EQ(simple->groups(), re.NumberOfCapturingGroups()) << p;
      for (const std::string& t : texts) {
        const std::string diff = Compare(re, *simple, t);
        if (!diff.empty() && ++failures <= 20)
          ADD_FAILURE() << r.id << ": " << p << "\n" << t << "\n" << diff;
      }
    }
  }
  EXPECT_EQ(failures, 0u);
  std::printf(
      "%zu of %zu extract and confirmation expressions are simple; %zu example lines, %zu "
      "texts\n",
      simple_ones, expressions, examples, texts.size());
  EXPECT_GT(simple_ones, expressions / 2);
}

}  // namespace
}  // namespace konseki::matchers
