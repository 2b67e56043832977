#include "matchers/hs_compile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hs/hs.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "matchers/rule_set.h"
#include "tests/testing/temp_dir.h"

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

// The cache's files in dir (rules-*.hsdb), sorted.
std::vector<std::string> CacheFiles(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(HsCacheTest, ASecondCompileOfTheSameExpressionsIsReadBackInBothModes) {
  testing::TempDir tmp;
  const HsExpressions in =
      Expressions({"refused connect from \\S+", "^Failed password for", "segfault at [0-9a-f]+"});
  for (HsCompileIn where : {HsCompileIn::kChildProcess, HsCompileIn::kThisProcess}) {
    HsCache cache;
    cache.dir = tmp.File(where == HsCompileIn::kChildProcess ? "child/cache" : "here/cache");
    HsCompileError refused;
    hs_database* first = nullptr;
    ASSERT_TRUE(CompileHsDatabase(in, where, &first, &refused, &cache).ok());
    EXPECT_FALSE(cache.hit);
    EXPECT_EQ(cache.problem, "");
    ASSERT_EQ(CacheFiles(cache.dir).size(), 1u);
    hs_database* second = nullptr;
    ASSERT_TRUE(CompileHsDatabase(in, where, &second, &refused, &cache).ok());
    EXPECT_TRUE(cache.hit);
    EXPECT_EQ(cache.problem, "");
    for (const std::string& line :
         {std::string("refused connect from 203.0.113.9"), std::string("Failed password for root"),
          std::string("x Failed password for root"), std::string("segfault at 7f00 ip 0")}) {
      EXPECT_EQ(Scan(second, line), Scan(first, line)) << line;
    }
    EXPECT_THAT(Scan(second, "refused connect from a; segfault at 0"),
                ::testing::ElementsAre(0, 2));
    hs_free_database(first);
    hs_free_database(second);
  }
}

TEST(HsCacheTest, OtherExpressionsOrFlagsAreAnotherFileAndOnlyTheNewestFourStay) {
  testing::TempDir tmp;
  HsCache cache;
  cache.dir = tmp.File("cache");
  HsCompileError refused;
  HsExpressions caseless = Expressions({"alpha", "beta"});
  HsExpressions exact = caseless;
  exact.flags.assign(2, HS_FLAG_SINGLEMATCH);
  hs_database* db = nullptr;
  ASSERT_TRUE(CompileHsDatabase(caseless, HsCompileIn::kThisProcess, &db, &refused, &cache).ok());
  hs_free_database(db);
  ASSERT_TRUE(CompileHsDatabase(exact, HsCompileIn::kThisProcess, &db, &refused, &cache).ok());
  EXPECT_FALSE(cache.hit);  // same expressions, other flags: not the caseless database
  EXPECT_TRUE(Scan(db, "ALPHA").empty());
  hs_free_database(db);
  EXPECT_EQ(CacheFiles(cache.dir).size(), 2u);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(CompileHsDatabase(Expressions({"gamma" + std::to_string(i)}),
                                  HsCompileIn::kThisProcess, &db, &refused, &cache)
                    .ok());
    hs_free_database(db);
  }
  EXPECT_EQ(CacheFiles(cache.dir).size(), HsCache::kKeep);
  // The newest stay: the last set is read back.
  ASSERT_TRUE(
      CompileHsDatabase(Expressions({"gamma4"}), HsCompileIn::kThisProcess, &db, &refused, &cache)
          .ok());
  EXPECT_TRUE(cache.hit);
  hs_free_database(db);
}

TEST(HsCacheTest, ADamagedOrForeignFileIsCompiledAgainAndReplaced) {
  testing::TempDir tmp;
  HsCache cache;
  cache.dir = tmp.File("cache");
  HsCompileError refused;
  const HsExpressions a = Expressions({"alpha [0-9]+"});
  const HsExpressions b = Expressions({"beta [0-9]+"});
  hs_database* db = nullptr;
  ASSERT_TRUE(CompileHsDatabase(b, HsCompileIn::kThisProcess, &db, &refused, &cache).ok());
  hs_free_database(db);
  const std::string b_file = cache.dir + "/" + CacheFiles(cache.dir)[0];
  const std::string b_bytes = Slurp(b_file);
  std::filesystem::remove(b_file);
  ASSERT_TRUE(CompileHsDatabase(a, HsCompileIn::kThisProcess, &db, &refused, &cache).ok());
  hs_free_database(db);
  const std::string a_file = cache.dir + "/" + CacheFiles(cache.dir)[0];
  const std::string a_bytes = Slurp(a_file);

  // b's file under a's name (a hash collision, or a file of another
  // version): its key differs, so a is compiled, not b's database used.
  std::ofstream(a_file, std::ios::binary | std::ios::trunc) << b_bytes;
  ASSERT_TRUE(CompileHsDatabase(a, HsCompileIn::kChildProcess, &db, &refused, &cache).ok());
  EXPECT_FALSE(cache.hit);
  EXPECT_THAT(Scan(db, "alpha 7 beta 8"), ::testing::ElementsAre(0));
  hs_free_database(db);
  EXPECT_EQ(Slurp(a_file), a_bytes);  // replaced by a's own

  // One byte of the database flipped, and a file cut short: both compiled again.
  std::string flipped = a_bytes;
  flipped[flipped.size() - 100] ^= 0x40;
  std::ofstream(a_file, std::ios::binary | std::ios::trunc) << flipped;
  ASSERT_TRUE(CompileHsDatabase(a, HsCompileIn::kThisProcess, &db, &refused, &cache).ok());
  EXPECT_FALSE(cache.hit);
  hs_free_database(db);
  std::ofstream(a_file, std::ios::binary | std::ios::trunc) << a_bytes.substr(0, 200);
  ASSERT_TRUE(CompileHsDatabase(a, HsCompileIn::kThisProcess, &db, &refused, &cache).ok());
  EXPECT_FALSE(cache.hit);
  EXPECT_THAT(Scan(db, "alpha 7"), ::testing::ElementsAre(0));
  hs_free_database(db);
  EXPECT_EQ(Slurp(a_file), a_bytes);
}

TEST(HsCacheTest, AFolderThatCannotBeMadeIsAProblemNotAFailure) {
  testing::TempDir tmp;
  const std::string file = tmp.Write("plain", "not a folder\n");
  HsCache cache;
  cache.dir = file + "/cache";
  HsCompileError refused;
  hs_database* db = nullptr;
  ASSERT_TRUE(
      CompileHsDatabase(Expressions({"alpha"}), HsCompileIn::kChildProcess, &db, &refused, &cache)
          .ok());
  EXPECT_FALSE(cache.hit);
  EXPECT_THAT(cache.problem, ::testing::HasSubstr(file));
  EXPECT_THAT(Scan(db, "alpha"), ::testing::ElementsAre(0));
  hs_free_database(db);
}

// A file with a's key and checksum but a database that matches nothing
// of a's is taken as a's: only the permissions keep such a file out.
TEST(HsCacheTest, AFolderOrFileOthersMayWriteIsNotTrusted) {
  testing::TempDir tmp;
  HsCache cache;
  cache.dir = tmp.File("cache");
  HsCompileError refused;
  const HsExpressions a = Expressions({"alpha [0-9]+"});
  hs_database* db = nullptr;
  ASSERT_TRUE(CompileHsDatabase(a, HsCompileIn::kThisProcess, &db, &refused, &cache).ok());
  hs_free_database(db);
  const std::string file = cache.dir + "/" + CacheFiles(cache.dir)[0];
  const std::string bytes = Slurp(file);
  namespace fs = std::filesystem;

  // The folder writable by its group, then by all with the sticky bit:
  // neither read nor written, and the problem says why.
  for (fs::perms mode : {fs::perms(0770), fs::perms(01777)}) {
    fs::permissions(cache.dir, mode);
    ASSERT_TRUE(CompileHsDatabase(a, HsCompileIn::kChildProcess, &db, &refused, &cache).ok());
    EXPECT_FALSE(cache.hit);
    EXPECT_THAT(cache.problem, ::testing::HasSubstr(cache.dir + " is writable by users other"));
    EXPECT_THAT(Scan(db, "alpha 7"), ::testing::ElementsAre(0));
    hs_free_database(db);
    EXPECT_EQ(CacheFiles(cache.dir).size(), 1u);
  }
  fs::permissions(cache.dir, fs::perms(0750));
  ASSERT_TRUE(CompileHsDatabase(a, HsCompileIn::kThisProcess, &db, &refused, &cache).ok());
  EXPECT_TRUE(cache.hit);
  EXPECT_EQ(cache.problem, "");
  hs_free_database(db);

  // The file writable by others: compiled again and replaced by one that is not.
  fs::permissions(file, fs::perms(0666));
  ASSERT_TRUE(CompileHsDatabase(a, HsCompileIn::kThisProcess, &db, &refused, &cache).ok());
  EXPECT_FALSE(cache.hit);
  hs_free_database(db);
  EXPECT_EQ((fs::status(file).permissions() & (fs::perms::group_write | fs::perms::others_write)),
            fs::perms::none);
  EXPECT_EQ(Slurp(file), bytes);
  ASSERT_TRUE(CompileHsDatabase(a, HsCompileIn::kThisProcess, &db, &refused, &cache).ok());
  EXPECT_TRUE(cache.hit);
  hs_free_database(db);
}

TEST(HsCacheTest, ARefusedExpressionIsRefusedWithACacheToo) {
  testing::TempDir tmp;
  HsCache cache;
  cache.dir = tmp.File("cache");
  HsCompileError refused;
  hs_database* db = nullptr;
  const Status st = CompileHsDatabase(Expressions({"ok", "a{2,1}"}), HsCompileIn::kChildProcess,
                                      &db, &refused, &cache);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.expression, 1);
  EXPECT_EQ(db, nullptr);
  EXPECT_TRUE(CacheFiles(cache.dir).empty());
}

TEST(HsCacheTest, LoadCachedFindsWhatACompileStoredAndNeverCompiles) {
  testing::TempDir tmp;
  HsCache cache;
  cache.dir = tmp.File("cache");
  const HsExpressions in = Expressions({"refused connect from \\S+", "segfault at [0-9a-f]+"});
  hs_database* db = nullptr;
  EXPECT_FALSE(LoadCachedHsDatabase(in, &cache, &db));
  EXPECT_EQ(db, nullptr);
  EXPECT_FALSE(cache.hit);
  EXPECT_TRUE(CacheFiles(cache.dir).empty());  // a miss stores nothing
  HsCompileError refused;
  hs_database* compiled = nullptr;
  ASSERT_TRUE(CompileHsDatabase(in, HsCompileIn::kThisProcess, &compiled, &refused, &cache).ok());
  ASSERT_TRUE(LoadCachedHsDatabase(in, &cache, &db));
  EXPECT_TRUE(cache.hit);
  EXPECT_EQ(cache.problem, "");
  EXPECT_THAT(Scan(db, "refused connect from a; segfault at 0"), ::testing::ElementsAre(0, 1));
  hs_free_database(db);
  hs_free_database(compiled);
  db = nullptr;
  EXPECT_FALSE(LoadCachedHsDatabase(Expressions({"other"}), &cache, &db));
  EXPECT_EQ(db, nullptr);
}

// RuleSet::Compile reads a cached database before it builds the
// extractors (the start-up peak): a rule set whose database is cached
// reports the same extractor error as one compiled without a cache, and a
// good one reports the hit.
TEST(HsCacheTest, ARuleSetReadFromTheCacheReportsTheSameErrors) {
  testing::TempDir tmp;
  HsCache cache;
  cache.dir = tmp.File("cache");
  auto rules = [](const std::string& extract) {
    std::vector<Rule> r{MakeRule("local.ok", {"canary"}, 3),
                        MakeRule("local.user", {"Failed password for"}, 10)};
    r[1].extract = {extract};
    return r;
  };
  auto good = RuleSet::Compile(rules("for (?P<user>\\S+)"), {}, HsCompileIn::kThisProcess, &cache);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_FALSE(cache.hit);
  auto again = RuleSet::Compile(rules("for (?P<user>\\S+)"), {}, HsCompileIn::kThisProcess, &cache);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(cache.hit);
  EXPECT_EQ(cache.problem, "");

  const std::string broken = "for (?P<user>\\S+";
  auto without = RuleSet::Compile(rules(broken), {}, HsCompileIn::kThisProcess);
  auto cached = RuleSet::Compile(rules(broken), {}, HsCompileIn::kThisProcess, &cache);
  ASSERT_FALSE(without.ok());
  ASSERT_FALSE(cached.ok());
  EXPECT_EQ(cached.status().code(), without.status().code());
  EXPECT_EQ(cached.status().message(), without.status().message());
  EXPECT_THAT(cached.status().message(),
              ::testing::StartsWith("local.yaml:10: rule local.user: extract: RE2: "));
}

}  // namespace
}  // namespace konseki::matchers
