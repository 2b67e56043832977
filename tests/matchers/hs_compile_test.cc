#include "matchers/hs_compile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hs/hs.h>

#include <algorithm>
#include <string>
#include <vector>

#include "matchers/rule_set.h"

namespace konseki::matchers {
namespace {

HsExpressions Expressions(std::vector<std::string> exprs) {
  HsExpressions in;
  in.expressions = std::move(exprs);
  in.flags.assign(in.expressions.size(), HS_FLAG_SINGLEMATCH | HS_FLAG_CASELESS);
  return in;
}

// Ids of the expressions that match text.
std::vector<unsigned> Scan(const hs_database* db, const std::string& text) {
  hs_scratch_t* scratch = nullptr;
  EXPECT_EQ(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
  std::vector<unsigned> ids;
  hs_scan(
      db, text.data(), static_cast<unsigned>(text.size()), 0, scratch,
      [](unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
        static_cast<std::vector<unsigned>*>(ctx)->push_back(id);
        return 0;
      },
      &ids);
  hs_free_scratch(scratch);
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST(HsCompileTest, ChildDatabaseMatchesLikeOneCompiledHere) {
  const HsExpressions in =
      Expressions({"refused connect from \\S+", "^Failed password for", "segfault at [0-9a-f]+"});
  hs_database* here = nullptr;
  hs_database* child = nullptr;
  HsCompileError refused;
  ASSERT_TRUE(CompileHsDatabase(in, HsCompileIn::kThisProcess, &here, &refused).ok());
  ASSERT_TRUE(CompileHsDatabase(in, HsCompileIn::kChildProcess, &child, &refused).ok());
  ASSERT_NE(child, nullptr);
  size_t here_bytes = 0, child_bytes = 0;
  ASSERT_EQ(hs_database_size(here, &here_bytes), HS_SUCCESS);
  ASSERT_EQ(hs_database_size(child, &child_bytes), HS_SUCCESS);
  EXPECT_EQ(child_bytes, here_bytes);
  for (const std::string& line :
       {std::string("REFUSED CONNECT FROM 203.0.113.9"), std::string("Failed password for root"),
        std::string("x Failed password for root"), std::string("app[9]: segfault at 7f00 ip 0"),
        std::string("nothing here")}) {
    EXPECT_EQ(Scan(child, line), Scan(here, line)) << line;
  }
  EXPECT_THAT(Scan(child, "refused connect from a; segfault at 0"), ::testing::ElementsAre(0, 2));
  hs_free_database(here);
  hs_free_database(child);
}

TEST(HsCompileTest, RefusalNamesTheSameExpressionInBothPlaces) {
  const HsExpressions in = Expressions({"fine", "broken (group", "fine too"});
  for (HsCompileIn where : {HsCompileIn::kThisProcess, HsCompileIn::kChildProcess}) {
    hs_database* db = nullptr;
    HsCompileError refused;
    Status st = CompileHsDatabase(in, where, &db, &refused);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_EQ(db, nullptr);
    EXPECT_EQ(refused.expression, 1);
    EXPECT_EQ(refused.message, "Missing close parenthesis for group started at index 7.");
  }
}

Rule MakeRule(std::string id, std::vector<std::string> match, int line) {
  Rule r;
  r.id = std::move(id);
  r.sign = r.id;
  r.file = "local.yaml";
  r.line = line;
  r.match = std::move(match);
  for (size_t i = 0; i < r.match.size(); ++i)
    r.match_lines.push_back(line + 1 + static_cast<int>(i));
  return r;
}

TEST(HsCompileTest, RuleSetErrorIsTheSameWhenCompiledInAChild) {
  auto rules = [] {
    return std::vector<Rule>{MakeRule("local.ok", {"canary"}, 3),
                             MakeRule("local.bad", {"ok too", "a{2,1}"}, 10)};
  };
  auto here = RuleSet::Compile(rules(), {}, HsCompileIn::kThisProcess);
  auto child = RuleSet::Compile(rules(), {}, HsCompileIn::kChildProcess);
  ASSERT_FALSE(here.ok());
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), here.status().code());
  EXPECT_EQ(child.status().message(), here.status().message());
  // The rule's second expression, on its own line.
  EXPECT_THAT(child.status().message(),
              ::testing::StartsWith("local.yaml:12: rule local.bad: match: Hyperscan cannot "
                                    "compile \"a{2,1}\": "));
}

}  // namespace
}  // namespace konseki::matchers
