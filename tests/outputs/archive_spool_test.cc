#include "outputs/archive_spool.h"

#include <gtest/gtest.h>
#include <unistd.h>

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
