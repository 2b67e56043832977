#include "outputs/archive_file_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace konseki::outputs {
namespace {

// The cache alone, with recording callbacks standing in for the Archive's
// file handling.
class ArchiveFileCacheTest : public ::testing::Test {
 protected:
  ArchiveFileCacheTest() { Make(3, 16 * 1024, 1 << 20); }
  void Make(size_t entries, size_t buffer_bytes, size_t budget_bytes) {
    ArchiveBudgetOptions bo;
    bo.buffer_bytes = budget_bytes;
    budget_ = std::make_shared<ArchiveBudget>(bo);
    cache_ = std::make_unique<ArchiveFileCache>(
        entries, buffer_bytes, budget_, clock_,
        [this](ArchiveEntry* e) { closed_.emplace_back(e->host); },
        [this](ArchiveEntry* e) {
          written_.emplace_back(e->host);
          e->buf.clear();
        });
  }
  FakeClock clock_;
  std::shared_ptr<ArchiveBudget> budget_;
  std::unique_ptr<ArchiveFileCache> cache_;
  std::vector<std::string> closed_, written_;
};

TEST_F(ArchiveFileCacheTest, FindsTheSameEntryAndRecyclesTheLeastRecentlyUsed) {
  ArchiveEntry* a = cache_->FindOrCreate("a");
  EXPECT_EQ(a->host, "a");
  EXPECT_EQ(a->day, kNoArchiveDay);
  cache_->FindOrCreate("b");
  cache_->FindOrCreate("c");
  EXPECT_EQ(cache_->FindOrCreate("a"), a);  // a is now the most recent; b the least
  a->day = 7;
  ArchiveEntry* d = cache_->FindOrCreate("d");
  EXPECT_EQ(closed_, std::vector<std::string>{"b"});
  EXPECT_EQ(d->host, "d");
  EXPECT_EQ(d->day, kNoArchiveDay);  // the recycled node starts afresh
  EXPECT_EQ(cache_->FindOrCreate("a")->day, 7);
  int n = 0;
  cache_->ForEach([&](const ArchiveEntry&) { ++n; });
  EXPECT_EQ(n, 3);
}

TEST_F(ArchiveFileCacheTest, BuffersGrowByDoublingAndAreChargedToTheBudget) {
  ArchiveEntry* a = cache_->FindOrCreate("a");
  ASSERT_TRUE(cache_->ReserveBuffer(a, 100));
  EXPECT_GE(a->buf.capacity(), 4096u);
  EXPECT_EQ(budget_->buffer_bytes(), a->charged);
  a->buf.assign(a->buf.capacity(), 'x');
  const size_t before = a->charged;
  ASSERT_TRUE(cache_->ReserveBuffer(a, 1));
  EXPECT_GE(a->charged, 2 * before);
  EXPECT_EQ(budget_->buffer_bytes(), a->charged);
  a->buf.clear();
  cache_->ReleaseBuffer(a);
  EXPECT_EQ(a->charged, 0u);
  EXPECT_EQ(budget_->buffer_bytes(), 0u);
}

TEST_F(ArchiveFileCacheTest, AFullBudgetWritesOutTheColdestOtherBuffers) {
  Make(4, 16 * 1024, 20 * 1024);
  ArchiveEntry* cold = cache_->FindOrCreate("cold");
  ASSERT_TRUE(cache_->ReserveBuffer(cold, 12 * 1024));
  cold->buf = "pending lines";
  cold->fd = 99;  // open: its buffer can be written out
  ArchiveEntry* hot = cache_->FindOrCreate("hot");
  ASSERT_TRUE(cache_->ReserveBuffer(hot, 12 * 1024));
  EXPECT_EQ(written_, std::vector<std::string>{"cold"});
  EXPECT_EQ(cold->charged, 0u);
  EXPECT_EQ(budget_->buffer_bytes(), hot->charged);
  // Nothing left to free: a buffer that cannot fit is refused.
  EXPECT_FALSE(cache_->ReserveBuffer(hot, 64 * 1024));
}

TEST_F(ArchiveFileCacheTest, IdleEmptyBuffersAreFreedTouchedOnesKept) {
  ArchiveEntry* idle = cache_->FindOrCreate("idle");
  ArchiveEntry* busy = cache_->FindOrCreate("busy");
  ASSERT_TRUE(cache_->ReserveBuffer(idle, 100));
  ASSERT_TRUE(cache_->ReserveBuffer(busy, 100));
  cache_->ReleaseIdleBuffers(std::chrono::seconds(60));
  EXPECT_GT(idle->charged, 0u);  // not idle for 60 s yet
  clock_.Advance(std::chrono::seconds(61));
  busy->touched = true;
  cache_->ReleaseIdleBuffers(std::chrono::seconds(60));
  EXPECT_EQ(idle->charged, 0u);
  EXPECT_GT(busy->charged, 0u);
  EXPECT_EQ(budget_->buffer_bytes(), busy->charged);
}

}  // namespace
}  // namespace konseki::outputs
