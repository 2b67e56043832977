#include "outputs/archive_spool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/message.h"
#include "common/metrics.h"
#include "outputs/archive.h"

namespace konseki::outputs {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ArchiveSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/spool_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(ArchiveSpoolTest, RoundTripsRecordsByteForByte) {
  std::vector<SpoolRecord> in = {
      {"web01", 19'675, "a line\nwith #012 and \xff bytes\n", 2, false},
      {"%overflow-1", -3, "rest of a cut line\n", 1, true},
      {"%none", 0, "", 0, false},
  };
  const std::string path = SpoolPath((root_ / "spool").string(), 1);
  EXPECT_EQ(path, (root_ / "spool" / "worker-1.spool").string());
  ASSERT_TRUE(WriteSpool(path, in).ok());
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  std::vector<SpoolRecord> out;
  ASSERT_TRUE(ReadSpool(path, &out).ok());
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].folder, in[i].folder);
    EXPECT_EQ(out[i].day, in[i].day);
    EXPECT_EQ(out[i].data, in[i].data);
    EXPECT_EQ(out[i].messages, in[i].messages);
    EXPECT_EQ(out[i].continues, in[i].continues);
  }
}

TEST_F(ArchiveSpoolTest, DamagedFilesAreRefusedWithFileAndOffset) {
  const std::string path = (root_ / "worker-0.spool").string();
  for (const std::string& text :
       {std::string("not a spool"), std::string("konseki-spool 1\nh 1 1 0 100\nshort"),
        std::string("konseki-spool 1\n../etc 1 1 0 2\nx\n"),
        std::string("konseki-spool 1\nh x 1 0 2\nx\n")}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    std::vector<SpoolRecord> out;
    Status st = ReadSpool(path, &out);
    EXPECT_FALSE(st.ok()) << text;
    EXPECT_NE(st.message().find(path), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find("byte"), std::string::npos) << st.ToString();
    EXPECT_TRUE(out.empty());
  }
}

// A spool torn by a crash or a disk error: every intact record and the
// complete lines of the cut one are read; the rest is reported, not fatal.
TEST_F(ArchiveSpoolTest, ATornSpoolYieldsItsIntactRecordsAndLines) {
  const std::string path = (root_ / "worker-0.spool").string();
  std::string lines;
  for (int i = 0; i < 10; ++i) lines += "line " + std::to_string(i) + "\n";
  ASSERT_TRUE(
      WriteSpool(path, {{"a", 1, "first\nsecond\n", 2, false}, {"b", 1, lines, 10, false}}).ok());
  const std::string whole = ReadFile(path);
  // Cut in the middle of "line 6".
  const size_t cut = whole.find("line 6") + 3;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << whole.substr(0, cut);
  std::vector<SpoolRecord> out;
  EXPECT_FALSE(ReadSpool(path, &out).ok());  // without *damaged: refused, as before
  EXPECT_TRUE(out.empty());
  std::vector<DamagedFile> damaged;
  ASSERT_TRUE(ReadSpool(path, &out, &damaged).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].data, "first\nsecond\n");
  EXPECT_EQ(out[0].messages, 2u);
  EXPECT_EQ(out[1].folder, "b");
  EXPECT_EQ(out[1].data, "line 0\nline 1\nline 2\nline 3\nline 4\nline 5\n");
  EXPECT_EQ(out[1].messages, 6u);
  ASSERT_EQ(damaged.size(), 1u);
  EXPECT_EQ(damaged[0].path, path);
  EXPECT_NE(damaged[0].lost.find("the last 3 bytes (4 messages)"), std::string::npos)
      << damaged[0].lost;
  EXPECT_NE(damaged[0].lost.find("the 8 messages before it"), std::string::npos) << damaged[0].lost;
  // Garbage after the first record: that record is kept.
  const size_t second = whole.find("b 1 10");
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      << whole.substr(0, second) << "\x01\xff garbage\n";
  out.clear();
  damaged.clear();
  ASSERT_TRUE(ReadSpool(path, &out, &damaged).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, "first\nsecond\n");
  ASSERT_EQ(damaged.size(), 1u);
  // Empty: nothing, reported.
  std::ofstream(path, std::ios::binary | std::ios::trunc);
  out.clear();
  damaged.clear();
  ASSERT_TRUE(ReadSpool(path, &out, &damaged).ok());
  EXPECT_TRUE(out.empty());
  ASSERT_EQ(damaged.size(), 1u);
  EXPECT_NE(damaged[0].what.find("empty file"), std::string::npos);
}

// The archive takes back what a torn spool holds intact, writes it, and
// sets the file aside as <file>.corrupt-<UTC time>.
TEST_F(ArchiveSpoolTest, ArchiveWritesTheIntactLinesOfATornSpoolAndSetsItAside) {
  FakeClock clock;
  clock.Set(TimePoint(std::chrono::seconds(1'700'000'000)));
  MetricsRegistry metrics;
  ArchiveOptions o;
  o.dir = (root_ / "archive").string();
  o.spool_dir = (root_ / "state" / "spool").string();
  o.sync = SyncPolicy::kNone;
  const std::string path = SpoolPath(o.spool_dir, 0);
  std::string lines;
  for (int i = 0; i < 100; ++i) lines += "seq=" + std::to_string(i) + "\n";
  ASSERT_TRUE(WriteSpool(path, {{"web01", 19'675, lines, 100, false}}).ok());
  const std::string whole = ReadFile(path);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << whole.substr(0, whole.size() / 2);
  {
    auto a = Archive::Open(o, clock, metrics);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    const uint64_t loaded = (*a)->spooled_messages_loaded();
    EXPECT_GT(loaded, 40u);
    EXPECT_LT(loaded, 55u);
    ASSERT_EQ((*a)->damaged_spool_files().size(), 1u);
    const DamagedFile& d = (*a)->damaged_spool_files()[0];
    EXPECT_EQ(d.path, path);
    EXPECT_EQ(d.moved_to, path + ".corrupt-20231114T221320Z");
    EXPECT_TRUE(fs::exists(d.moved_to));
    EXPECT_FALSE(fs::exists(path));
    ASSERT_TRUE((*a)->Flush().ok());
    std::string archived;
    for (const auto& e : fs::recursive_directory_iterator(o.dir)) {
      if (e.is_regular_file() && e.path().extension() == ".log") archived += ReadFile(e.path());
    }
    EXPECT_EQ(static_cast<uint64_t>(std::count(archived.begin(), archived.end(), '\n')), loaded);
    EXPECT_EQ(archived.substr(0, 12), "seq=0\nseq=1\n");
  }
}

TEST_F(ArchiveSpoolTest, WorkersTakeOverTheFilesOfWorkersThatAreGone) {
  const std::string dir = (root_ / "spool").string();
  for (size_t w : {0, 1, 2, 5}) ASSERT_TRUE(WriteSpool(SpoolPath(dir, w), {}).ok());
  EXPECT_EQ(SpoolFilesFor(dir, 0, 2),
            (std::vector<std::string>{SpoolPath(dir, 0), SpoolPath(dir, 2)}));
  EXPECT_EQ(SpoolFilesFor(dir, 1, 2),
            (std::vector<std::string>{SpoolPath(dir, 1), SpoolPath(dir, 5)}));
  EXPECT_TRUE(SpoolFilesFor((root_ / "none").string(), 0, 1).empty());
}

// What an archive that cannot write holds at the stop goes to the spool; the
// next archive opened on the spool writes it and removes the file.
TEST_F(ArchiveSpoolTest, HeldLinesSurviveTheStopThroughTheSpool) {
  FakeClock clock;
  MetricsRegistry metrics;
  ArchiveOptions o;
  o.dir = (root_ / "archive").string();
  o.spool_dir = (root_ / "state" / "spool").string();
  o.sync = SyncPolicy::kNone;
  const TimePoint t(std::chrono::seconds(1'700'000'000));
  {
    auto a = Archive::Open(o, clock, metrics);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    fs::create_directories(o.dir);
    std::ofstream(fs::path(o.dir) / "h") << "in the way";  // open fails: ENOTDIR
    // and so does the overflow folder's (else h's lines would go there)
    std::ofstream(fs::path(o.dir) / OverflowFolder(0)) << "in the way";
    for (const char* raw : {"one", "two", "three"}) {
      Message m;
      m.raw = raw;
      m.hostname = "h";
      m.sender = "192.0.2.7";
      m.received = t;
      (*a)->Append(m);
    }
    EXPECT_FALSE((*a)->Flush().ok());
    EXPECT_EQ((*a)->held_messages(), 3u);
    StatusOr<uint64_t> n = (*a)->Spool();
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(*n, 3u);
    EXPECT_EQ((*a)->held_messages(), 0u);
  }
  EXPECT_EQ(metrics.ValueOf("konseki_dropped_messages_total",
                            {{"stage", "archive"}, {"reason", "shutdown"}}),
            0);
  const std::string spool = SpoolPath(o.spool_dir, 0);
  ASSERT_TRUE(fs::exists(spool));

  fs::remove(fs::path(o.dir) / "h");
  fs::remove(fs::path(o.dir) / OverflowFolder(0));
  auto b = Archive::Open(o, clock, metrics);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*b)->spooled_messages_loaded(), 3u);
  ASSERT_TRUE((*b)->Flush().ok());
  EXPECT_EQ(ReadFile(fs::path(o.dir) / "h" / "2023-11-14.log"),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 one\n"
            "2023-11-14T22:13:20.000000Z 192.0.2.7 two\n"
            "2023-11-14T22:13:20.000000Z 192.0.2.7 three\n");
  EXPECT_FALSE(fs::exists(spool));
}

}  // namespace
}  // namespace konseki::outputs
