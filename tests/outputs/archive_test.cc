#include "outputs/archive.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/host_key.h"
#include "common/host_shard.h"
#include "common/message.h"
#include "common/metrics.h"
#include "outputs/host_path.h"
#include "tests/testing/host_key_collisions.h"

namespace konseki::outputs {
namespace {

namespace fs = std::filesystem;

// 2023-11-14T22:13:20Z
constexpr int64_t kBaseSecs = 1'700'000'000;

TimePoint At(int64_t secs, int64_t micros = 0) {
  return TimePoint(std::chrono::seconds(secs) + std::chrono::microseconds(micros));
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t ModeOf(const fs::path& p) {
  struct stat st;
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/archive_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    options_.dir = (root_ / "archive").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<Archive> OpenArchive() {
    auto a = Archive::Open(options_, clock_, metrics_);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? std::move(a).value() : nullptr;
  }

  static Message Msg(std::string_view host, std::string_view raw, TimePoint received,
                     std::string_view sender = "192.0.2.7") {
    Message m;
    m.raw = raw;
    m.hostname = host;
    m.sender = sender;
    m.received = received;
    return m;
  }

  double Errors(const char* reason) {
    return metrics_.ValueOf("konseki_archive_write_errors_total", {{"reason", reason}});
  }

  double SyncErrors() { return metrics_.ValueOf("konseki_archive_sync_errors_total"); }

  // A file where worker 0's overflow folder would be: with a host's folder
  // blocked the same way, the archive as a whole cannot write that host's
  // lines (one host's folder alone diverts them there instead).
  fs::path BlockOverflow() {
    fs::path p = fs::path(options_.dir) / OverflowFolder(0);
    fs::create_directories(options_.dir);
    std::ofstream(p) << "in the way";
    return p;
  }

  fs::path root_;
  ArchiveOptions options_;
  FakeClock clock_;
  MetricsRegistry metrics_;
};

TEST(ArchiveEscapeTest, ControlCharactersBecomeOctalLikeRsyslog) {
  std::string out;
  AppendEscaped(std::string_view("a\nb\rc\0d\te\x7f"
                                 "f\x1b#",
                                 13),
                &out);
  EXPECT_EQ(out, "a#012b#015c#000d#011e#177f#033#");
}

TEST(ArchiveEscapeTest, Utf8AndHighBytesPassUntouched) {
  std::string jp =
      "\xe3\x83\xad\xe3\x82\xb0\xe3\x82\xa4\xe3\x83\xb3\xe5\xa4\xb1\xe6\x95\x97";  // ログイン失敗
  std::string out;
  AppendEscaped(jp + " \xff\xfe", &out);
  EXPECT_EQ(out, jp + " \xff\xfe");
}

// What AppendEscaped must produce, one byte at a time: control bytes and
// DEL as #ooo, everything else as is.
std::string EscapedReference(std::string_view in) {
  std::string out;
  for (unsigned char c : in) {
    if (c < 0x20 || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "#%03o", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

TEST(ArchiveEscapeTest, MatchesBytewiseReferenceAtEveryPosition) {
  // The escaper skips 8 clean bytes at a time: put each special byte at each
  // offset of a long clean string, next to bytes that look almost special.
  const std::string clean = "abc \x20\x7e\x80\xff!~ defghij klmnopq";
  for (unsigned char special : {0x00, 0x01, 0x09, 0x0a, 0x1f, 0x7f}) {
    for (size_t pos = 0; pos <= clean.size(); ++pos) {
      std::string in = clean;
      in.insert(in.begin() + pos, static_cast<char>(special));
      std::string out;
      AppendEscaped(in, &out);
      ASSERT_EQ(out, EscapedReference(in)) << "byte " << int(special) << " at " << pos;
    }
  }
  std::string out;
  AppendEscaped(clean, &out);
  EXPECT_EQ(out, clean);
}

TEST(ArchiveEscapeTest, MatchesBytewiseReferenceForEveryLengthAndPair) {
  // The escaper scans sixteen bytes at a time and reads the last partial
  // block as the overlapping final sixteen bytes: every length around the
  // block size, every byte value at the edges, and two specials at once.
  for (size_t len = 0; len <= 50; ++len) {
    std::string base;
    for (size_t i = 0; i < len; ++i) base.push_back(static_cast<char>(0x20 + (i * 37) % 0x5f));
    std::string out;
    AppendEscaped(base, &out);
    ASSERT_EQ(out, base) << "len " << len;
    for (size_t pos = 0; pos < len; ++pos) {
      for (int c = 0; c < 256; ++c) {
        if (pos != 0 && pos != len - 1 && pos != 15 && pos != 16 && c % 17 != 0 && c != 0x7f &&
            c != 0x1f && c != 0x20) {
          continue;  // every value at the edges, a sample elsewhere
        }
        std::string in = base;
        in[pos] = static_cast<char>(c);
        out = "prefix";
        AppendEscaped(in, &out);
        ASSERT_EQ(out, "prefix" + EscapedReference(in))
            << "len " << len << " byte " << c << " at " << pos;
      }
      for (size_t pos2 = pos + 1; pos2 < len; ++pos2) {
        std::string in = base;
        in[pos] = '\n';
        in[pos2] = '\x7f';
        out.clear();
        AppendEscaped(in, &out);
        ASSERT_EQ(out, EscapedReference(in)) << "len " << len << " at " << pos << " and " << pos2;
      }
    }
  }
}

TEST(ArchiveEscapeTest, LineFormat) {
  Message m;
  m.raw = "<34>Oct 11 22:14:15 mymachine su: 'su root' failed\n";
  m.sender = "::1";
  m.received = At(kBaseSecs, 123456);
  std::string out;
  AppendArchiveLine(m, &out);
  EXPECT_EQ(out,
            "2023-11-14T22:13:20.123456Z ::1 <34>Oct 11 22:14:15 mymachine su: 'su root' "
            "failed#012\n");
  m.sender = "";
  out.clear();
  AppendArchiveLine(m, &out);
  EXPECT_EQ(out.substr(0, 30), "2023-11-14T22:13:20.123456Z - ");
}

TEST(ArchiveEscapeTest, SyncPolicyNames) {
  SyncPolicy p;
  ASSERT_TRUE(ParseSyncPolicy("batch", &p));
  EXPECT_EQ(p, SyncPolicy::kBatch);
  ASSERT_TRUE(ParseSyncPolicy("none", &p));
  EXPECT_STREQ(SyncPolicyName(p), "none");
  EXPECT_FALSE(ParseSyncPolicy("always", &p));
  EXPECT_EQ(ArchiveOptions().sync, SyncPolicy::kInterval);
}

TEST_F(ArchiveTest, WritesOneLinePerMessageIntoHostAndDayFile) {
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Append(Msg("Web01", "first\tline", At(kBaseSecs, 1))).ok());
  ASSERT_TRUE(a->Append(Msg("web01", "second", At(kBaseSecs + 1, 2))).ok());
  // Buffered until Flush.
  fs::path file = fs::path(options_.dir) / "web01" / "2023-11-14.log";
  EXPECT_EQ(ReadFile(file), "");
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(ReadFile(file),
            "2023-11-14T22:13:20.000001Z 192.0.2.7 first#011line\n"
            "2023-11-14T22:13:21.000002Z 192.0.2.7 second\n");
  EXPECT_EQ(metrics_.ValueOf("konseki_archive_written_messages_total"), 2);
  EXPECT_EQ(metrics_.ValueOf("konseki_archive_written_bytes_total"),
            static_cast<double>(fs::file_size(file)));
}

TEST_F(ArchiveTest, TimestampsMatchTheReferenceFormat) {
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  // Seconds go forward, back and repeat; micros hit both ends.
  const int64_t offsets_us[] = {
      0,          999'999,
      1'000'000,  1'000'001,
      500,        59'999'999,
      60'000'000, 3'000'000,
      3'000'000,  86'399'999'999 - 1'700'000'000'000'000 % 86'400'000'000};
  std::string want;
  for (int64_t off : offsets_us) {
    Message m = Msg("h", "t", At(kBaseSecs, off));
    AppendArchiveLine(m, &want);
    ASSERT_TRUE(a->Append(m).ok());
  }
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(ReadFile(fs::path(options_.dir) / "h" / "2023-11-14.log"), want);
}

TEST_F(ArchiveTest, HostFallsBackToSender) {
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Append(Msg("", "no header", At(kBaseSecs), "2001:db8::1")).ok());
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_TRUE(fs::exists(fs::path(options_.dir) / "2001:db8::1" / "2023-11-14.log"));
}

TEST_F(ArchiveTest, HostileHostNamesStayInsideTheArchive) {
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  const std::string nul("a\0b", 3);
  const std::string long_name(1000, 'x');
  for (std::string_view h :
       {std::string_view("../etc"), std::string_view(".."), std::string_view("."),
        std::string_view("/"), std::string_view("a/b"), std::string_view(nul),
        std::string_view(long_name), std::string_view("../../../../tmp/evil")}) {
    ASSERT_TRUE(a->Append(Msg(h, "x", At(kBaseSecs))).ok()) << h;
  }
  ASSERT_TRUE(a->Flush().ok());
  // Everything is exactly one level below the archive dir, and nothing else
  // appeared next to it.
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(options_.dir)) {
    fs::path rel = fs::relative(e.path(), options_.dir);
    if (e.is_regular_file()) {
      ++files;
      EXPECT_EQ(std::distance(rel.begin(), rel.end()), 2) << rel;
    }
  }
  EXPECT_EQ(files, 8u);
  std::vector<fs::path> top;
  for (const auto& e : fs::directory_iterator(root_)) top.push_back(e.path().filename());
  EXPECT_EQ(top, std::vector<fs::path>{"archive"});
  EXPECT_TRUE(fs::exists(fs::path(options_.dir) / "%2e.%2fetc" / "2023-11-14.log"));
}

TEST_F(ArchiveTest, FilesAre0640AndFolders0750) {
  options_.dir = (root_ / "deep" / "archive").string();
  // A strict umask must not change the modes (and a lax one would not either).
  const mode_t old_umask = umask(077);
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  Status st = a->Append(Msg("h1", "x", At(kBaseSecs)));
  Status fl = a->Flush();
  umask(old_umask);
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(fl.ok());
  EXPECT_EQ(ModeOf(root_ / "deep"), 0750u);
  EXPECT_EQ(ModeOf(options_.dir), 0750u);
  EXPECT_EQ(ModeOf(fs::path(options_.dir) / "h1"), 0750u);
  EXPECT_EQ(ModeOf(fs::path(options_.dir) / "h1" / "2023-11-14.log"), 0640u);
}

TEST_F(ArchiveTest, UtcMidnightStartsTheNextFile) {
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  // 2023-11-14 ends 1'700'006'400 - 1.
  const int64_t midnight = 1'700'006'400;
  ASSERT_TRUE(a->Append(Msg("h", "before", At(midnight - 1, 999'999))).ok());
  ASSERT_TRUE(a->Append(Msg("h", "after", At(midnight))).ok());
  ASSERT_TRUE(a->Append(Msg("h", "later", At(midnight + 86'399))).ok());
  ASSERT_TRUE(a->Flush().ok());
  fs::path dir = fs::path(options_.dir) / "h";
  EXPECT_EQ(ReadFile(dir / "2023-11-14.log"), "2023-11-14T23:59:59.999999Z 192.0.2.7 before\n");
  EXPECT_EQ(ReadFile(dir / "2023-11-15.log"),
            "2023-11-15T00:00:00.000000Z 192.0.2.7 after\n"
            "2023-11-15T23:59:59.000000Z 192.0.2.7 later\n");
  EXPECT_EQ(a->open_files(), 1u);
}

TEST_F(ArchiveTest, LruKeepsOpenFilesUnderTheCapAndLosesNothing) {
  options_.max_open_files = 4;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  const int kHosts = 11, kRounds = 5;
  for (int r = 0; r < kRounds; ++r) {
    for (int h = 0; h < kHosts; ++h) {
      std::string raw = "round " + std::to_string(r);
      ASSERT_TRUE(a->Append(Msg("host" + std::to_string(h), raw, At(kBaseSecs + r))).ok());
      ASSERT_LE(a->open_files(), 4u);
    }
  }
  ASSERT_TRUE(a->Flush().ok());
  for (int h = 0; h < kHosts; ++h) {
    std::string want;
    for (int r = 0; r < kRounds; ++r) {
      want +=
          FormatRfc3339Micros(At(kBaseSecs + r)) + " 192.0.2.7 round " + std::to_string(r) + "\n";
    }
    EXPECT_EQ(ReadFile(fs::path(options_.dir) / ("host" + std::to_string(h)) / "2023-11-14.log"),
              want);
  }
  EXPECT_EQ(metrics_.ValueOf("konseki_archive_written_messages_total"), kHosts * kRounds);
}

// Runs of lines of one host (the archive skips the lookup for the same host
// as the line before) while the LRU recycles entries for other hosts.
TEST_F(ArchiveTest, RunsOfOneHostLandInItsFileWhileEntriesAreRecycled) {
  options_.max_open_files = 2;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  const int kHosts = 5, kRounds = 4, kRun = 3;
  for (int r = 0; r < kRounds; ++r) {
    for (int h = 0; h < kHosts; ++h) {
      for (int i = 0; i < kRun; ++i) {
        ASSERT_TRUE(
            a->Append(Msg("h" + std::to_string(h), "r" + std::to_string(r), At(kBaseSecs))).ok());
      }
    }
  }
  ASSERT_TRUE(a->Flush().ok());
  for (int h = 0; h < kHosts; ++h) {
    std::string want;
    for (int r = 0; r < kRounds; ++r) {
      for (int i = 0; i < kRun; ++i) {
        want += FormatRfc3339Micros(At(kBaseSecs)) + " 192.0.2.7 r" + std::to_string(r) + "\n";
      }
    }
    EXPECT_EQ(ReadFile(fs::path(options_.dir) / ("h" + std::to_string(h)) / "2023-11-14.log"),
              want);
  }
}

// Many hosts interleaved line by line, more than the archive's host cache
// keeps with 7 open files (64 slots) and more than max_open_files (entries
// recycled), with two spellings of each name (one folder) and the sender
// changing: every line in its host's file, in order, with its own sender.
TEST_F(ArchiveTest, InterleavedHostsAndSendersLandInTheirFiles) {
  const std::string root = options_.dir;
  for (size_t max_open : {size_t{7}, size_t{256}}) {
    options_.dir = root + "/open" + std::to_string(max_open);
    options_.max_open_files = max_open;
    auto a = OpenArchive();
    ASSERT_TRUE(a);
    const int kHosts = 150, kRounds = 3;
    for (int r = 0; r < kRounds; ++r) {
      for (int h = 0; h < kHosts; ++h) {
        const std::string name = (r % 2 == 0 ? "host-" : "HOST-") + std::to_string(h);
        const std::string sender = h % 3 == 0 ? "192.0.2.7" : "2001:db8::" + std::to_string(h);
        ASSERT_TRUE(a->Append(Msg(name, "r" + std::to_string(r), At(kBaseSecs + r), sender)).ok());
      }
    }
    ASSERT_TRUE(a->Flush().ok());
    for (int h = 0; h < kHosts; ++h) {
      const std::string sender = h % 3 == 0 ? "192.0.2.7" : "2001:db8::" + std::to_string(h);
      std::string want;
      for (int r = 0; r < kRounds; ++r) {
        want +=
            FormatRfc3339Micros(At(kBaseSecs + r)) + " " + sender + " r" + std::to_string(r) + "\n";
      }
      EXPECT_EQ(ReadFile(fs::path(options_.dir) / ("host-" + std::to_string(h)) / "2023-11-14.log"),
                want)
          << "host " << h << ", max_open_files " << max_open;
    }
  }
}

// The host cache is an open-addressing table by HostKey hash, and the file
// cache recycles entries past max_open_files: names that share the whole
// hash or only its slot bits, names longer than the cache keeps, and entries
// recycled between two lines of one host must each find their own file.
TEST_F(ArchiveTest, HostCacheKeepsCollidingAndRecycledHostsApart) {
  const std::string root = options_.dir;
  std::vector<std::string> names = konseki::testing::CollidingHostNames(0xffffffffu, 2);
  for (const std::string& n : konseki::testing::CollidingHostNames(63, 4, "slot-")) {
    names.push_back(n);
  }
  names.push_back(std::string(60, 'L') + "1");  // longer than a cache slot keeps
  names.push_back(std::string(60, 'L') + "2");
  std::vector<std::string> order;
  for (const std::string& n : names) order.insert(order.end(), {n, n});  // runs of one host
  for (int r = 0; r < 3; ++r) order.insert(order.end(), names.begin(), names.end());
  order.insert(order.end(), names.rbegin(), names.rend());
  for (size_t max_open : {size_t{2}, size_t{256}}) {
    options_.dir = root + "/open" + std::to_string(max_open);
    options_.max_open_files = max_open;
    auto a = OpenArchive();
    ASSERT_TRUE(a);
    std::map<std::string, std::string> want;
    for (size_t i = 0; i < order.size(); ++i) {
      const std::string raw = "line" + std::to_string(i);
      ASSERT_TRUE(a->Append(Msg(order[i], raw, At(kBaseSecs)), HostKey::Of(order[i])).ok());
      want[order[i]] += FormatRfc3339Micros(At(kBaseSecs)) + " 192.0.2.7 " + raw + "\n";
    }
    ASSERT_TRUE(a->Flush().ok());
    for (const auto& [name, lines] : want) {
      EXPECT_EQ(ReadFile(fs::path(options_.dir) / SanitizedHost(name) / "2023-11-14.log"), lines)
          << name << ", max_open_files " << max_open;
    }
  }
}

// Batch::Entry::same_origin: a line of the host and sender of the line
// before takes that line's entry and sender text without comparing; a new
// day still opens the next file, and the run's last line hands over to a
// line that is not of the same origin.
TEST_F(ArchiveTest, SameOriginLinesFollowTheLineBefore) {
  options_.max_open_files = 2;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  auto append = [&](const std::string& host, const std::string& sender, const std::string& raw,
                    TimePoint t, bool same_origin) {
    Message m = Msg(host, raw, t);
    m.sender = sender;
    return a->Append(m, HostKey::Of(host), same_origin).ok();
  };
  ASSERT_TRUE(append("web1", "192.0.2.7", "a1", At(kBaseSecs), false));
  ASSERT_TRUE(append("web1", "192.0.2.7", "a2", At(kBaseSecs), true));
  ASSERT_TRUE(append("web1", "192.0.2.7", "a3", At(kBaseSecs + 86400), true));
  ASSERT_TRUE(append("db1", "192.0.2.8", "b1", At(kBaseSecs + 86400), false));
  ASSERT_TRUE(append("db1", "192.0.2.8", "b2", At(kBaseSecs + 86400), true));
  ASSERT_TRUE(append("mail1", "192.0.2.9", "c1", At(kBaseSecs + 86400), false));
  ASSERT_TRUE(append("web1", "192.0.2.7", "a4", At(kBaseSecs + 86400), false));
  ASSERT_TRUE(append("web1", "192.0.2.7", "a5", At(kBaseSecs + 86400), true));
  ASSERT_TRUE(a->Flush().ok());
  const fs::path dir(options_.dir);
  const std::string day1 = FormatRfc3339Micros(At(kBaseSecs));
  const std::string day2 = FormatRfc3339Micros(At(kBaseSecs + 86400));
  EXPECT_EQ(ReadFile(dir / "web1" / "2023-11-14.log"),
            day1 + " 192.0.2.7 a1\n" + day1 + " 192.0.2.7 a2\n");
  EXPECT_EQ(ReadFile(dir / "web1" / "2023-11-15.log"),
            day2 + " 192.0.2.7 a3\n" + day2 + " 192.0.2.7 a4\n" + day2 + " 192.0.2.7 a5\n");
  EXPECT_EQ(ReadFile(dir / "db1" / "2023-11-15.log"),
            day2 + " 192.0.2.8 b1\n" + day2 + " 192.0.2.8 b2\n");
  EXPECT_EQ(ReadFile(dir / "mail1" / "2023-11-15.log"), day2 + " 192.0.2.9 c1\n");
}

// The entry a host's previous line used is recycled for another host before
// its next line (max_open_files 2): the next line must not follow a
// remembered pointer into the other host's file.
TEST_F(ArchiveTest, EntryRecycledBetweenTwoLinesOfOneHost) {
  options_.max_open_files = 2;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  const char* const kOrder[] = {"a", "a", "b", "c", "a", "A", "c", "b", "b", "a"};
  std::map<std::string, std::string> want;
  for (size_t i = 0; i < std::size(kOrder); ++i) {
    const std::string raw = "line" + std::to_string(i);
    ASSERT_TRUE(a->Append(Msg(kOrder[i], raw, At(kBaseSecs))).ok());
    want[SanitizedHost(kOrder[i])] +=
        FormatRfc3339Micros(At(kBaseSecs)) + " 192.0.2.7 " + raw + "\n";
    ASSERT_LE(a->open_files(), 2u);
  }
  ASSERT_TRUE(a->Flush().ok());
  ASSERT_EQ(want.size(), 3u);
  for (const auto& [folder, lines] : want) {
    EXPECT_EQ(ReadFile(fs::path(options_.dir) / folder / "2023-11-14.log"), lines) << folder;
  }
}

// More raw spellings than 3/4 of the host cache's slots (256 slots for 128
// open files) with no entry recycled: the cache starts afresh and every
// line still lands in its host's file.
TEST_F(ArchiveTest, HostCacheStartsAfreshWhenFull) {
  options_.max_open_files = 128;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  const int kHosts = 100;
  const char* const kSpellings[] = {"host-", "HOST-", "Host-"};
  std::map<int, std::string> want;
  for (int r = 0; r < 6; ++r) {
    for (int h = 0; h < kHosts; ++h) {
      const std::string name = kSpellings[(r + h) % 3] + std::to_string(h);
      const std::string raw = "r" + std::to_string(r);
      ASSERT_TRUE(a->Append(Msg(name, raw, At(kBaseSecs + r))).ok());
      want[h] += FormatRfc3339Micros(At(kBaseSecs + r)) + " 192.0.2.7 " + raw + "\n";
    }
  }
  ASSERT_TRUE(a->Flush().ok());
  for (int h = 0; h < kHosts; ++h) {
    EXPECT_EQ(ReadFile(fs::path(options_.dir) / ("host-" + std::to_string(h)) / "2023-11-14.log"),
              want[h])
        << h;
  }
  EXPECT_EQ(a->open_files(), static_cast<size_t>(kHosts));
}

TEST_F(ArchiveTest, FullBufferIsWrittenWithoutFlush) {
  options_.buffer_bytes = 256;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  std::string raw(100, 'm');
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(a->Append(Msg("h", raw, At(kBaseSecs))).ok());
  EXPECT_GE(fs::file_size(fs::path(options_.dir) / "h" / "2023-11-14.log"), 256u);
  EXPECT_LT(a->buffered_bytes(), 256u + 200u);
}

// The worker's writes find their blocks reserved ahead (fallocate,
// FALLOC_FL_KEEP_SIZE): a write that needs new blocks waits behind
// writeback's allocation on ext4 (bench/RESULTS.md). What is reserved past
// the end is given back when the file closes, and the bytes are the same.
TEST_F(ArchiveTest, BlocksAreReservedAheadOfTheWritesAndGivenBackAtClose) {
  {
    fs::create_directories(root_);
    const std::string probe = (root_ / "probe").string();
    const int fd = open(probe.c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    const bool supported = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20) == 0;
    close(fd);
    fs::remove(probe);
    if (!supported) GTEST_SKIP() << "no fallocate(2) on " << root_;
  }
  options_.buffer_bytes = 64 * 1024;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  const fs::path file = fs::path(options_.dir) / "h" / "2023-11-14.log";
  const std::string raw(200, 'm');
  std::string expected;
  auto allocated = [&file] {
    struct stat st;
    EXPECT_EQ(stat(file.c_str(), &st), 0);
    return static_cast<uint64_t>(st.st_blocks) * 512;
  };
  uint64_t most_ahead = 0;
  for (int round = 0; round < 80; ++round) {
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(a->Append(Msg("h", raw, At(kBaseSecs))).ok());
      expected += "2023-11-14T22:13:20.000000Z 192.0.2.7 " + raw + "\n";
    }
    ASSERT_TRUE(a->Flush().ok());
    ASSERT_EQ(fs::file_size(file), expected.size());
    // Open: the written bytes' blocks and some reserved past them, never
    // more than the largest reservation (4 MiB) and a batch.
    const uint64_t blocks = allocated();
    ASSERT_GE(blocks, expected.size()) << "round " << round;
    EXPECT_LE(blocks, expected.size() + 4 * 1024 * 1024 + 64 * 1024) << "round " << round;
    most_ahead = std::max(most_ahead, blocks - expected.size());
  }
  // The reservation grew with the file: a batch (24 KB) needed a new one
  // at first, a chunk of 1 MiB or more at the end.
  EXPECT_GE(most_ahead, 1024u * 1024u);
  a->Reopen();  // closes every file (SIGHUP)
  EXPECT_EQ(fs::file_size(file), expected.size());
  EXPECT_LT(allocated(), expected.size() + 8192);
  EXPECT_EQ(ReadFile(file), expected);
  // Reopened, the file goes on where it ended.
  ASSERT_TRUE(a->Append(Msg("h", "tail", At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Flush().ok());
  a.reset();
  expected += "2023-11-14T22:13:20.000000Z 192.0.2.7 tail\n";
  EXPECT_EQ(ReadFile(file), expected);
  EXPECT_LT(allocated(), expected.size() + 8192);
}

TEST_F(ArchiveTest, HugeLinesAreWrittenWholeAndDoNotPinMemory) {
  options_.buffer_bytes = 1024;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  std::string huge(64 * 1024, '\n');  // 4x longer once escaped
  ASSERT_TRUE(a->Append(Msg("h", huge, At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Append(Msg("h", "small", At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Flush().ok());
  std::string text = ReadFile(fs::path(options_.dir) / "h" / "2023-11-14.log");
  ASSERT_EQ(text.size(), 2 * (38 + 1) + 4 * huge.size() + 5);
  EXPECT_EQ(text.substr(38, 8), "#012#012");
  EXPECT_EQ(text.substr(text.size() - 6), "small\n");
  // The buffer went back to its normal size once written.
  EXPECT_LE(a->buffer_capacity_bytes(), 2 * (1024u + 8 * 1024u));
}

TEST_F(ArchiveTest, ReopenAfterRenameCreatesANewFile) {
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  fs::path file = fs::path(options_.dir) / "h" / "2023-11-14.log";
  ASSERT_TRUE(a->Append(Msg("h", "one", At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Flush().ok());
  fs::rename(file, file.string() + ".1");  // logrotate
  ASSERT_TRUE(a->Append(Msg("h", "two", At(kBaseSecs))).ok());
  a->Reopen();  // SIGHUP: "two" still goes to the old file, which was open
  ASSERT_TRUE(a->Append(Msg("h", "three", At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(ReadFile(file.string() + ".1"),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 one\n"
            "2023-11-14T22:13:20.000000Z 192.0.2.7 two\n");
  EXPECT_EQ(ReadFile(file), "2023-11-14T22:13:20.000000Z 192.0.2.7 three\n");
  EXPECT_EQ(ModeOf(file), 0640u);
}

TEST_F(ArchiveTest, ReopenAfterTheWholeArchiveDirWasMoved) {
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Append(Msg("h", "one", At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Flush().ok());
  fs::rename(options_.dir, root_ / "old");
  a->Reopen();
  ASSERT_TRUE(a->Append(Msg("h", "two", At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(ReadFile(fs::path(options_.dir) / "h" / "2023-11-14.log"),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 two\n");
}

TEST_F(ArchiveTest, RemovedArchiveDirIsRecreatedOnRetry) {
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Append(Msg("h1", "one", At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Flush().ok());
  fs::remove_all(options_.dir);
  EXPECT_FALSE(a->Append(Msg("h2", "two", At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(ReadFile(fs::path(options_.dir) / "h2" / "2023-11-14.log"),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 two\n");
  EXPECT_EQ(ModeOf(options_.dir), 0750u);
}

TEST_F(ArchiveTest, UnwritablePathKeepsDataAndRecovers) {
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  // A regular file where the host folder should be: open fails (ENOTDIR),
  // and where the overflow folder should be.
  fs::path host_dir = fs::path(options_.dir) / "h";
  { std::ofstream(host_dir) << "in the way"; }
  const fs::path overflow = BlockOverflow();
  Status st = a->Append(Msg("h", "kept one", At(kBaseSecs)));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("h/2023-11-14.log"), std::string::npos) << st.ToString();
  // Blocked until the next Flush: no retry (and no new error) per message.
  EXPECT_TRUE(a->Append(Msg("h", "kept two", At(kBaseSecs))).ok());
  EXPECT_EQ(Errors("path"), 2);  // the host's folder, then the overflow folder
  EXPECT_FALSE(a->Flush().ok());
  EXPECT_EQ(Errors("path"), 4);
  EXPECT_GT(a->buffered_bytes(), 0u);
  EXPECT_TRUE(a->TakeDiverted().empty());

  fs::remove(host_dir);
  fs::remove(overflow);
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(ReadFile(host_dir / "2023-11-14.log"),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 kept one\n"
            "2023-11-14T22:13:20.000000Z 192.0.2.7 kept two\n");
  EXPECT_EQ(a->buffered_bytes(), 0u);
  EXPECT_EQ(metrics_.ValueOf("konseki_dropped_messages_total",
                             {{"stage", "archive"}, {"reason", "buffer_full"}}),
            0);
}

TEST_F(ArchiveTest, DiskFullKeepsDataAndRecovers) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "/dev/full is missing";
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  fs::path host_dir = fs::path(options_.dir) / "h";
  fs::create_directories(host_dir);
  fs::path file = host_dir / "2023-11-14.log";
  fs::create_symlink("/dev/full", file);  // every write fails with ENOSPC

  ASSERT_TRUE(a->Append(Msg("h", "one", At(kBaseSecs))).ok());  // opened, buffered
  Status st = a->Flush();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("No space"), std::string::npos) << st.ToString();
  EXPECT_EQ(Errors("no_space"), 1);
  EXPECT_TRUE(a->Append(Msg("h", "two", At(kBaseSecs))).ok());
  EXPECT_FALSE(a->Flush().ok());
  EXPECT_EQ(Errors("no_space"), 2);

  fs::remove(file);  // space again
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(ReadFile(file),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 one\n"
            "2023-11-14T22:13:20.000000Z 192.0.2.7 two\n");
  EXPECT_EQ(metrics_.ValueOf("konseki_archive_written_messages_total"), 2);
}

TEST_F(ArchiveTest, PendingCapDropsAndCountsPastTheLimit) {
  options_.max_pending_bytes = 500;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  fs::path host_dir = fs::path(options_.dir) / "h";
  { std::ofstream(host_dir) << "in the way"; }
  const fs::path overflow = BlockOverflow();
  std::string raw(62, 'x');  // 27 + 1 + 9 + 1 + 62 + 1 = 101 bytes a line
  int kept = 0, dropped = 0;
  for (int i = 0; i < 20; ++i) {
    Status st = a->Append(Msg("h", raw, At(kBaseSecs)));
    if (a->buffered_bytes() == static_cast<size_t>(101 * (kept + 1))) {
      ++kept;
    } else {
      EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
      ++dropped;
    }
  }
  EXPECT_EQ(kept, 4);
  EXPECT_EQ(dropped, 16);
  EXPECT_LE(a->buffered_bytes(), options_.max_pending_bytes);
  EXPECT_EQ(metrics_.ValueOf("konseki_dropped_messages_total",
                             {{"stage", "archive"}, {"reason", "buffer_full"}}),
            16);
  fs::remove(host_dir);
  fs::remove(overflow);
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(fs::file_size(host_dir / "2023-11-14.log"), 404u);
}

TEST_F(ArchiveTest, DataOfAnEvictedUnwritableFileIsRetriedByFlush) {
  options_.max_open_files = 1;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  fs::path bad = fs::path(options_.dir) / "bad";
  { std::ofstream(bad) << "in the way"; }
  const fs::path overflow = BlockOverflow();
  EXPECT_FALSE(a->Append(Msg("bad", "stranded", At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Append(Msg("good", "fine", At(kBaseSecs))).ok());  // evicts "bad"
  EXPECT_FALSE(a->Flush().ok());
  fs::remove(bad);
  fs::remove(overflow);
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(ReadFile(bad / "2023-11-14.log"), "2023-11-14T22:13:20.000000Z 192.0.2.7 stranded\n");
  EXPECT_EQ(ReadFile(fs::path(options_.dir) / "good" / "2023-11-14.log"),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 fine\n");
}

// One host's folder that cannot be opened (here a file in its place:
// ENOTDIR; a restore that left it root's gives EACCES) does not hold the
// archive back: that host's lines go to the overflow folder, reported once,
// every other host is written as before, and the host's own folder is
// tried again a minute later.
TEST_F(ArchiveTest, OneHostsUnwritableFolderDivertsItsLinesAndIsRetried) {
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  fs::create_directories(options_.dir);
  const fs::path host_dir = fs::path(options_.dir) / "restored";
  { std::ofstream(host_dir) << "in the way"; }
  EXPECT_TRUE(a->Append(Msg("restored", "one", At(kBaseSecs))).ok());
  EXPECT_TRUE(a->Append(Msg("other", "fine", At(kBaseSecs))).ok());
  EXPECT_TRUE(a->Append(Msg("restored", "two", At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Flush().ok());
  const std::vector<Archive::DivertedHost> d = a->TakeDiverted();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].host, "restored");
  EXPECT_EQ(d[0].folder, OverflowFolder(0));
  EXPECT_NE(d[0].error.find("restored/2023-11-14.log"), std::string::npos) << d[0].error;
  const fs::path overflow_file = fs::path(options_.dir) / OverflowFolder(0) / "2023-11-14.log";
  EXPECT_EQ(ReadFile(overflow_file),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 one\n"
            "2023-11-14T22:13:20.000000Z 192.0.2.7 two\n");
  EXPECT_EQ(ReadFile(fs::path(options_.dir) / "other" / "2023-11-14.log"),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 fine\n");
  EXPECT_EQ(metrics_.ValueOf("konseki_archive_diverted_total"), 1);
  EXPECT_EQ(metrics_.ValueOf("konseki_archive_overflow_messages_total"), 2);
  EXPECT_EQ(Errors("path"), 1);

  // Still in the way a minute later: tried again, diverted again, not
  // reported again.
  clock_.Advance(std::chrono::seconds(61));
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_TRUE(a->Append(Msg("restored", "three", At(kBaseSecs + 61))).ok());
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_TRUE(a->TakeDiverted().empty());
  EXPECT_EQ(metrics_.ValueOf("konseki_archive_diverted_total"), 2);
  EXPECT_EQ(Errors("path"), 2);

  // Fixed: within the minute the next line goes to the host's own folder.
  fs::remove(host_dir);
  EXPECT_TRUE(a->Append(Msg("restored", "still diverted", At(kBaseSecs + 62))).ok());
  clock_.Advance(std::chrono::seconds(61));
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_TRUE(a->Append(Msg("restored", "home", At(kBaseSecs + 123))).ok());
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(ReadFile(host_dir / "2023-11-14.log"), "2023-11-14T22:15:23.000000Z 192.0.2.7 home\n");
  EXPECT_NE(ReadFile(overflow_file).find("still diverted"), std::string::npos);
  EXPECT_TRUE(a->TakeDiverted().empty());
}

TEST_F(ArchiveTest, DestructorWritesEverything) {
  {
    auto a = OpenArchive();
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->Append(Msg("h", "bye", At(kBaseSecs))).ok());
  }
  EXPECT_EQ(ReadFile(fs::path(options_.dir) / "h" / "2023-11-14.log"),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 bye\n");
}

TEST_F(ArchiveTest, SyncPoliciesFlushAndSyncWithoutError) {
  for (SyncPolicy p : {SyncPolicy::kNone, SyncPolicy::kInterval, SyncPolicy::kBatch}) {
    options_.sync = p;
    auto a = OpenArchive();
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->Append(Msg("h", SyncPolicyName(p), At(kBaseSecs))).ok());
    ASSERT_TRUE(a->Flush().ok());
    clock_.Advance(std::chrono::seconds(options_.sync_interval_secs));
    ASSERT_TRUE(a->Flush().ok());
    ASSERT_TRUE(a->Sync().ok());
  }
  EXPECT_EQ(SyncErrors(), 0);
  EXPECT_EQ(ReadFile(fs::path(options_.dir) / "h" / "2023-11-14.log"),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 none\n"
            "2023-11-14T22:13:20.000000Z 192.0.2.7 interval\n"
            "2023-11-14T22:13:20.000000Z 192.0.2.7 batch\n");
}

// With archive.sync: interval the fsync runs on a background thread (it used
// to stall the worker long enough to drop UDP datagrams): a Flush() past the
// interval requests one, and it completes without the caller waiting.
TEST_F(ArchiveTest, IntervalSyncRunsInTheBackground) {
  options_.sync = SyncPolicy::kInterval;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Append(Msg("h", "one", At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(a->background_syncs(), 0u);  // the interval has not passed
  clock_.Advance(std::chrono::seconds(options_.sync_interval_secs));
  ASSERT_TRUE(a->Flush().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (a->background_syncs() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(a->background_syncs(), 1u);
  ASSERT_TRUE(a->Flush().ok());  // within the new interval: no second request
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(a->background_syncs(), 1u);
  EXPECT_EQ(SyncErrors(), 0);
}

TEST_F(ArchiveTest, OtherPoliciesStartNoBackgroundSync) {
  for (SyncPolicy p : {SyncPolicy::kNone, SyncPolicy::kBatch}) {
    options_.sync = p;
    auto a = OpenArchive();
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->Append(Msg("h", "x", At(kBaseSecs))).ok());
    clock_.Advance(std::chrono::seconds(options_.sync_interval_secs));
    ASSERT_TRUE(a->Flush().ok());
    EXPECT_EQ(a->background_syncs(), 0u);
  }
}

// After a crash a day file can end inside a line; the next line must not be
// glued to the fragment.
TEST_F(ArchiveTest, TornLastLineIsCompletedBeforeTheNextLine) {
  const fs::path host_dir = fs::path(options_.dir) / "h";
  fs::create_directories(host_dir);
  { std::ofstream(host_dir / "2023-11-14.log") << "2023-11-14T22:13:19.000000Z 192.0.2.7 torn"; }
  { std::ofstream(host_dir / "2023-11-15.log") << "2023-11-15T00:00:00.000000Z - whole\n"; }
  {
    auto a = OpenArchive();
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->Append(Msg("h", "next", At(kBaseSecs))).ok());
    ASSERT_TRUE(a->Append(Msg("h", "day two", At(kBaseSecs + 86'400))).ok());
    ASSERT_TRUE(a->Flush().ok());
  }
  EXPECT_EQ(ReadFile(host_dir / "2023-11-14.log"),
            "2023-11-14T22:13:19.000000Z 192.0.2.7 torn\n"
            "2023-11-14T22:13:20.000000Z 192.0.2.7 next\n");
  EXPECT_EQ(ReadFile(host_dir / "2023-11-15.log"),
            "2023-11-15T00:00:00.000000Z - whole\n"
            "2023-11-15T22:13:20.000000Z 192.0.2.7 day two\n");
  EXPECT_EQ(metrics_.ValueOf("konseki_archive_torn_lines_total"), 1);
}

// A write the archive itself left half done (the file size limit cut it) is
// completed by the retry, not split by a torn-line newline.
TEST_F(ArchiveTest, OwnPartialWriteIsContinuedNotSplit) {
  options_.sync = SyncPolicy::kNone;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  const std::string raw(62, 'x');  // 101-byte lines
  ASSERT_TRUE(a->Append(Msg("h", raw, At(kBaseSecs))).ok());
  ASSERT_TRUE(a->Append(Msg("h", raw, At(kBaseSecs))).ok());
  rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 150;  // the second line is cut after 49 bytes
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  Status st = a->Flush();
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(st.ok());
  const fs::path file = fs::path(options_.dir) / "h" / "2023-11-14.log";
  ASSERT_EQ(fs::file_size(file), 150u);
  ASSERT_TRUE(a->Flush().ok());
  const std::string line = "2023-11-14T22:13:20.000000Z 192.0.2.7 " + raw + "\n";
  EXPECT_EQ(ReadFile(file), line + line);
  EXPECT_EQ(metrics_.ValueOf("konseki_archive_torn_lines_total"), 0);
}

// fsync/syncfs fail on demand (root ignores chmod, so a permission error
// cannot make them fail in a test).
class FailingSyncOps : public SyncOps {
 public:
  int Fsync(int fd) override { return fail.load() ? EIO : SyncOps::Fsync(fd); }
  int Syncfs(int fd) override { return fail.load() ? EIO : SyncOps::Syncfs(fd); }
  std::atomic<bool> fail{true};
};

TEST_F(ArchiveTest, FailedBatchSyncIsNotAFailedWrite) {
  FailingSyncOps ops;
  options_.sync = SyncPolicy::kBatch;
  options_.sync_ops = &ops;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->TakeSyncOutcome().has_value());
  ASSERT_TRUE(a->Append(Msg("h", "one", At(kBaseSecs))).ok());
  EXPECT_TRUE(a->Flush().ok());  // written: not a write error
  std::optional<Status> outcome = a->TakeSyncOutcome();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(outcome->ok());
  EXPECT_NE(outcome->message().find("fsync"), std::string::npos) << outcome->ToString();
  EXPECT_FALSE(a->TakeSyncOutcome().has_value());  // taken
  EXPECT_EQ(SyncErrors(), 1);
  for (const char* r : {"no_space", "permission", "path", "too_many_files", "other"}) {
    EXPECT_EQ(Errors(r), 0) << r;
  }
  ASSERT_TRUE(a->Append(Msg("h", "two", At(kBaseSecs))).ok());
  EXPECT_TRUE(a->Flush().ok());
  EXPECT_EQ(ReadFile(fs::path(options_.dir) / "h" / "2023-11-14.log"),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 one\n"
            "2023-11-14T22:13:20.000000Z 192.0.2.7 two\n");
  ops.fail = false;
  EXPECT_TRUE(a->Flush().ok());
  outcome = a->TakeSyncOutcome();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->ok()) << outcome->ToString();
}

TEST_F(ArchiveTest, FailedBackgroundSyncIsCountedAndReportedApart) {
  FailingSyncOps ops;
  options_.sync = SyncPolicy::kInterval;
  options_.sync_ops = &ops;
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Append(Msg("h", "one", At(kBaseSecs))).ok());
  clock_.Advance(std::chrono::seconds(options_.sync_interval_secs));
  EXPECT_TRUE(a->Flush().ok());  // requests a background sync
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (a->background_syncs() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(a->background_syncs(), 1u);
  EXPECT_TRUE(a->Flush().ok());  // the failure does not come back as a write error
  std::optional<Status> outcome = a->TakeSyncOutcome();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_NE(outcome->message().find("syncfs"), std::string::npos) << outcome->ToString();
  EXPECT_EQ(SyncErrors(), 1);
  EXPECT_EQ(Errors("other"), 0);
}

// Lines (newlines) in every file below dir, and the host folders (not
// %overflow-*) directly in it.
struct TreeCount {
  size_t lines = 0;
  size_t host_folders = 0;
  size_t overflow_lines = 0;
};
TreeCount CountTree(const fs::path& dir) {
  TreeCount c;
  for (const auto& e : fs::directory_iterator(dir)) {
    const bool overflow = e.path().filename().string().rfind("%overflow-", 0) == 0;
    if (e.is_directory() && !overflow) ++c.host_folders;
    for (const auto& f : fs::recursive_directory_iterator(e.path())) {
      if (!f.is_regular_file()) continue;
      const std::string text = ReadFile(f.path());
      const size_t n = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
      c.lines += n;
      if (overflow) c.overflow_lines += n;
    }
  }
  return c;
}

// Issue #10 item 5: 8,192 spoofed hosts with 8 KiB messages over two
// workers' archives (4,096 open files each, as when max_open_files is
// raised): the buffers stay within the shared budget, no more than max_hosts
// folders are created, nothing is lost, and idle buffers are given back.
// Before the budget each archive reserved 72 KiB per open file: 2 x 4,096 x
// 72 KiB = 576 MiB for this load.
TEST_F(ArchiveTest, SpoofedHostFloodStaysWithinTheBufferBudgetAndTheHostCap) {
  ArchiveBudgetOptions bo;
  bo.buffer_bytes = 4 << 20;
  bo.max_hosts = 1000;
  auto budget = std::make_shared<ArchiveBudget>(bo);
  options_.budget = budget;
  options_.max_open_files = 4096;
  options_.sync = SyncPolicy::kNone;
  std::vector<std::unique_ptr<Archive>> archives;
  for (size_t w = 0; w < 2; ++w) {
    options_.worker = w;
    archives.push_back(OpenArchive());
    ASSERT_TRUE(archives.back());
  }
  const std::string raw(8 * 1024, 'x');
  constexpr int kHosts = 8192;
  for (int i = 0; i < kHosts; ++i) {
    const std::string host = "spoof-" + std::to_string(i);
    ASSERT_TRUE(archives[HostShard(host, 2)]->Append(Msg(host, raw, At(kBaseSecs))).ok());
  }
  for (auto& a : archives) ASSERT_TRUE(a->Flush().ok());
  // One line per worker may be in flight past the budget while written through.
  const size_t slack = 2 * 2 * (raw.size() + 128);
  std::printf("buffer budget %zu bytes: peak %zu, after flush %zu; host folders %zu\n",
              bo.buffer_bytes, budget->peak_buffer_bytes(), budget->buffer_bytes(),
              budget->hosts());
  EXPECT_LE(budget->peak_buffer_bytes(), bo.buffer_bytes + slack);
  EXPECT_EQ(budget->hosts(), bo.max_hosts);
  int alerts = 0;
  for (auto& a : archives) alerts += a->TakeHostCapReached();
  for (auto& a : archives) alerts += a->TakeHostCapReached();
  EXPECT_EQ(alerts, 1);

  const TreeCount c = CountTree(options_.dir);
  EXPECT_EQ(c.host_folders, bo.max_hosts);
  EXPECT_EQ(c.lines, static_cast<size_t>(kHosts));
  EXPECT_EQ(c.overflow_lines, static_cast<size_t>(kHosts) - bo.max_hosts);
  EXPECT_EQ(metrics_.ValueOf("konseki_archive_overflow_messages_total"),
            static_cast<double>(kHosts - bo.max_hosts));

  // Quiet hosts give their buffers back.
  clock_.Advance(options_.buffer_idle_release);
  for (auto& a : archives) ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(budget->buffer_bytes(), 0u);
  EXPECT_EQ(metrics_.ValueOf("konseki_archive_buffer_bytes"), 0);
  archives.clear();
  EXPECT_EQ(budget->buffer_bytes(), 0u);
}

TEST_F(ArchiveTest, HostCapCountsFoldersAlreadyThere) {
  for (const char* h : {"old1", "old2"}) fs::create_directories(fs::path(options_.dir) / h);
  ArchiveBudgetOptions bo;
  bo.max_hosts = 3;
  options_.budget = std::make_shared<ArchiveBudget>(bo);
  ASSERT_TRUE(options_.budget->CountExistingHosts(options_.dir).ok());
  EXPECT_EQ(options_.budget->hosts(), 2u);
  auto a = OpenArchive();
  ASSERT_TRUE(a);
  // Whether each line went to the overflow folder (correlation alerts name
  // that file for it).
  std::vector<bool> in_overflow;
  for (const char* h : {"new1", "new2", "old1"}) {
    ASSERT_TRUE(a->Append(Msg(h, h, At(kBaseSecs))).ok());
    in_overflow.push_back(a->LastLineInOverflow());
  }
  EXPECT_EQ(in_overflow, (std::vector<bool>{false, true, false}));
  ASSERT_TRUE(a->Append(Msg("new2", "again", At(kBaseSecs))).ok());
  EXPECT_TRUE(a->LastLineInOverflow());
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_TRUE(fs::exists(fs::path(options_.dir) / "new1" / "2023-11-14.log"));
  EXPECT_FALSE(fs::exists(fs::path(options_.dir) / "new2"));
  EXPECT_EQ(ReadFile(fs::path(options_.dir) / "%overflow-0" / "2023-11-14.log"),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 new2\n"
            "2023-11-14T22:13:20.000000Z 192.0.2.7 again\n");
  EXPECT_EQ(ReadFile(fs::path(options_.dir) / "old1" / "2023-11-14.log"),
            "2023-11-14T22:13:20.000000Z 192.0.2.7 old1\n");
  EXPECT_TRUE(a->TakeHostCapReached());
  EXPECT_FALSE(a->TakeHostCapReached());
}

TEST_F(ArchiveTest, OpenFailsClearlyWhenTheDirIsAFile) {
  { std::ofstream(root_ / "file") << "x"; }
  options_.dir = (root_ / "file" / "archive").string();
  auto a = Archive::Open(options_, clock_, metrics_);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find(options_.dir), std::string::npos) << a.status().ToString();

  options_.dir = "";
  EXPECT_EQ(Archive::Open(options_, clock_, metrics_).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace konseki::outputs
