#include "outputs/archive_search.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "outputs/retention.h"
#include "tests/outputs/seal_test_util.h"

namespace konseki::outputs {
namespace {

namespace fs = std::filesystem;

class ArchiveSearchTest : public SealFixture {
 protected:
  std::vector<std::string> Search(SearchOptions o, Status* st = nullptr) {
    o.root = dir_;
    auto s = ArchiveSearch::Create(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    std::vector<std::string> lines;
    SearchStats stats;
    Status r = (*s)->Run([&](std::string_view l) { lines.emplace_back(l); }, &stats);
    if (st) *st = r;
    EXPECT_EQ(stats.matches, lines.size());
    return lines;
  }
  // "...<13>TEXT" -> TEXT
  static std::vector<std::string> Texts(const std::vector<std::string>& lines) {
    std::vector<std::string> out;
    for (const std::string& l : lines) out.push_back(l.substr(l.find("<13>") + 4));
    return out;
  }
};

TEST_F(ArchiveSearchTest, ManyPatternsOneOrderAcrossHostsAndCompressedDays) {
  Log("web01", "a Failed password for root");
  Advance(1);
  Log("db02", "b Invalid user admin");
  Advance(1);
  Log("web01", "c nothing to see");
  Advance(86400);
  Log("db02", "d Failed password for bob");
  Advance(1);
  Log("web01", "e Invalid user guest");
  ASSERT_TRUE(archive_->Flush().ok());
  // The first day compressed, as retention leaves it.
  for (const char* h : {"web01", "db02"}) {
    const std::string p = Path(std::string(h) + "/2025-12-01.log");
    ASSERT_TRUE(CompressFile(p, p + ".zst", 3).ok());
    fs::remove(p);
  }
  SearchOptions o;
  o.patterns = {"Failed password", "Invalid user [a-z]+"};
  EXPECT_EQ(Texts(Search(o)),
            (std::vector<std::string>{"a Failed password for root", "b Invalid user admin",
                                      "d Failed password for bob", "e Invalid user guest"}));
  o.host_glob = "web*";
  EXPECT_EQ(Texts(Search(o)),
            (std::vector<std::string>{"a Failed password for root", "e Invalid user guest"}));
  o.host_glob = "*";
  ASSERT_TRUE(NormalizeSearchTime("2025-12-02", &o.since));
  EXPECT_EQ(Texts(Search(o)),
            (std::vector<std::string>{"d Failed password for bob", "e Invalid user guest"}));
  o.since.clear();
  ASSERT_TRUE(NormalizeSearchTime("2025-12-01T00:00:11", &o.until));
  EXPECT_EQ(Texts(Search(o)), (std::vector<std::string>{"a Failed password for root"}));
}

TEST_F(ArchiveSearchTest, CaseAnchorsAndEveryLineOnce) {
  Log("web01", "x FAILED twice: failed failed");
  Log("web01", "y last");
  ASSERT_TRUE(archive_->Flush().ok());
  SearchOptions o;
  o.patterns = {"failed"};
  EXPECT_EQ(Search(o).size(), 1u);  // one line, though it matches three times
  o.patterns = {"FAILED", "failed"};
  EXPECT_EQ(Search(o).size(), 1u);
  o.patterns = {"y last$"};
  EXPECT_EQ(Texts(Search(o)), (std::vector<std::string>{"y last"}));
  o.patterns = {"^2025-12-01T00:00:10"};
  EXPECT_EQ(Search(o).size(), 2u);
  o.patterns = {"fAiLeD TWICE"};
  EXPECT_TRUE(Search(o).empty());
  o.caseless = true;
  EXPECT_EQ(Search(o).size(), 1u);
}

TEST_F(ArchiveSearchTest, BadPatternNamesIt) {
  SearchOptions o;
  o.root = dir_;
  o.patterns = {"ok", "bad(["};
  auto s = ArchiveSearch::Create(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("bad(["), std::string::npos);
}

TEST(SearchTimeTest, Normalizes) {
  std::string t;
  ASSERT_TRUE(NormalizeSearchTime("2025-12-01", &t));
  EXPECT_EQ(t, "2025-12-01T00:00:00.000000Z");
  ASSERT_TRUE(NormalizeSearchTime("2025-12-01T10:20", &t));
  EXPECT_EQ(t, "2025-12-01T10:20:00.000000Z");
  ASSERT_TRUE(NormalizeSearchTime("2025-12-01 10:20:30.5Z", &t));
  EXPECT_EQ(t, "2025-12-01T10:20:30.500000Z");
  EXPECT_FALSE(NormalizeSearchTime("yesterday", &t));
  EXPECT_FALSE(NormalizeSearchTime("2025-12-01X10", &t));
}

}  // namespace
}  // namespace konseki::outputs
