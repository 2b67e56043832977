#include "app/console/alert_log.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

namespace konseki::app::console {
namespace {

std::string Line(const std::string& received, const std::string& sev, const std::string& sign,
                 const std::string& host) {
  return R"({"time":")" + received + R"(","received":")" + received + R"(","host":")" + host +
         R"(","rule":"r","sign":")" + sign + R"(","severity":")" + sev +
         R"(","title":"t","fields":{"user":"root","port":22}})";
}

// Two alerts of 2023-11-1<d>, at 00:00 and 12:00 UTC, from host "day<d>".
std::string Day(int d) {
  const std::string date = "2023-11-1" + std::to_string(d);
  return Line(date + "T00:00:00Z", "high", "s", "day" + std::to_string(d)) + "\n" +
         Line(date + "T12:00:00Z", "high", "s", "day" + std::to_string(d)) + "\n";
}

// Every alert of the log that passes `f`, as the console commands see them.
std::vector<AlertRecord> Read(const std::string& path, const AlertFilter& f, size_t* bad,
                              Status* status = nullptr) {
  std::vector<AlertRecord> v;
  auto log = AlertLog::Open(path, f.since);
  if (status != nullptr) *status = log.ok() ? Status::Ok() : log.status();
  if (!log.ok()) return v;
  (*log)->ForEach(f, [&](const AlertRecord& a, std::string_view) { v.push_back(a); });
  *bad = (*log)->malformed();
  return v;
}

// Writes `text` gzip-compressed, as logrotate's compress does.
void WriteGzip(const std::string& path, const std::string& text) {
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())),
            static_cast<int>(text.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
}

class AlertLogTest : public ::testing::Test {
 protected:
  AlertLogTest() {
    char tmpl[] = "/tmp/konseki-alog-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/alerts.jsonl";
  }
  ~AlertLogTest() override { std::filesystem::remove_all(dir_); }
  void Append(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::app) << text;
  }
  std::string dir_;
  std::string path_;
};

TEST_F(AlertLogTest, ReadsRotatedThenCurrentFileFilteredAndSkipsMalformedLines) {
  Append(path_ + ".1", Line("2023-11-14T22:00:00Z", "high", "ssh.auth_failure", "web1") + "\n");
  Append(path_, Line("2023-11-14T22:10:00Z", "low", "ssh.login", "web1") + "\nnot json\n" +
                    Line("2023-11-14T22:12:00Z", "critical", "host.silent", "DB1") + "\n");
  size_t bad = 0;
  AlertFilter all;
  auto v = Read(path_, all, &bad);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].sign, "ssh.auth_failure");
  EXPECT_EQ(v[2].severity, Severity::kCritical);
  EXPECT_EQ(v[0].json.Get("fields").Int("port"), 22);
  EXPECT_EQ(bad, 1u);

  AlertFilter f;
  f.sign = "ssh.*";
  EXPECT_EQ(Read(path_, f, &bad).size(), 2u);
  f = AlertFilter();
  f.host = "db1";
  EXPECT_EQ(Read(path_, f, &bad).size(), 1u);
  f = AlertFilter();
  f.min_severity = Severity::kHigh;
  EXPECT_EQ(Read(path_, f, &bad).size(), 2u);
  f = AlertFilter();
  f.since = 1700000000 - 200;  // 22:13:20 - 200 s = 22:10:00
  EXPECT_EQ(Read(path_, f, &bad).size(), 2u);
  Status st;
  Read(dir_ + "/none", all, &bad, &st);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
}

// What could not be read is named by file: malformed lines of a rotation
// were reported as the current file's, and a truncated .gz rotation ended
// without a word (a day of alerts missing from `alerts --since 1w`).
TEST_F(AlertLogTest, NotesNameTheFileOfMalformedLinesAndADamagedRotation) {
  // .2.gz cut in the middle, as a full disk during logrotate's compress leaves it.
  std::string day;
  for (int i = 0; i < 2000; ++i) day += Day(2);
  WriteGzip(path_ + ".2.gz.whole", day);
  const auto whole = std::filesystem::file_size(path_ + ".2.gz.whole");
  std::filesystem::copy_file(path_ + ".2.gz.whole", path_ + ".2.gz");
  std::filesystem::resize_file(path_ + ".2.gz", whole / 2);
  std::filesystem::remove(path_ + ".2.gz.whole");
  Append(path_ + ".1", Day(3) + "{\"time\":\"2023-11-13T23:00:00Z\",\"sev\n");
  Append(path_, Day(4));
  auto log = AlertLog::Open(path_, 0);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  size_t n = 0;
  (*log)->ForEach(AlertFilter(), [&](const AlertRecord&, std::string_view) { ++n; });
  EXPECT_GT(n, 4u);
  EXPECT_LT(n, 4000u + 4u);
  const std::vector<std::string>& notes = (*log)->notes();
  ASSERT_GE(notes.size(), 2u);
  bool damaged = false, malformed_in_1 = false;
  for (const std::string& note : notes) {
    damaged |= note.starts_with(path_ + ".2.gz is damaged (zlib: ");
    malformed_in_1 |= note.starts_with("skipped ") && note.ends_with("in " + path_ + ".1");
    EXPECT_FALSE(note.ends_with("in " + path_)) << note;  // the current file is fine
  }
  EXPECT_TRUE(damaged) << ::testing::PrintToString(notes);
  EXPECT_TRUE(malformed_in_1) << ::testing::PrintToString(notes);
}

TEST_F(AlertLogTest, EveryPassReadsTheLinesThatWereThereAtOpen) {
  Append(path_, Line("2023-11-14T22:10:00Z", "low", "ssh.login", "web1") + "\n" +
                    Line("2023-11-14T22:11:00Z", "low", "ssh.login", "web2"));  // no line end yet
  auto log = AlertLog::Open(path_, 0);
  ASSERT_TRUE(log.ok()) << log.status().message();
  Append(path_, "\n" + Line("2023-11-14T22:12:00Z", "low", "ssh.login", "web3") + "\n");
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<std::string> hosts, lines;
    (*log)->ForEach(AlertFilter(), [&](const AlertRecord& a, std::string_view line) {
      hosts.push_back(a.host);
      lines.emplace_back(line);
    });
    EXPECT_EQ(hosts, (std::vector<std::string>{"web1", "web2"})) << "pass " << pass;
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1], Line("2023-11-14T22:11:00Z", "low", "ssh.login", "web2"));
    EXPECT_EQ((*log)->malformed(), 0u);
  }
}

// dist/konseki.logrotate: daily, compress, delaycompress: alerts.jsonl,
// .1 (yesterday), .2.gz, .3.gz, ... Each file here holds one day, 2023-11-14
// back to 11-11, two alerts at 00:00 and 12:00 UTC.
TEST_F(AlertLogTest, ReadsTheRotatedFilesPlainOrGzipAsFarBackAsTheWindowAsks) {
  Append(path_, Day(4));
  Append(path_ + ".1", Day(3));
  WriteGzip(path_ + ".2.gz", Day(2));
  WriteGzip(path_ + ".3.gz", Day(1));
  const double d14 = 1699920000;  // 2023-11-14T00:00:00Z
  auto hosts_and_files = [&](double since, std::vector<std::string>* files, double* back) {
    std::vector<std::string> hosts;
    auto log = AlertLog::Open(path_, since);
    EXPECT_TRUE(log.ok()) << log.status().message();
    if (!log.ok()) return hosts;
    AlertFilter f;
    f.since = since;
    (*log)->ForEach(f, [&](const AlertRecord& a, std::string_view) { hosts.push_back(a.host); });
    *files = (*log)->files();
    *back = (*log)->reaches_back_only_to();
    return hosts;
  };
  std::vector<std::string> files;
  double back = -1;
  // Within today's file: yesterday's is not even opened.
  EXPECT_EQ(hosts_and_files(d14 + 3600, &files, &back), (std::vector<std::string>{"day4"}));
  EXPECT_EQ(files, (std::vector<std::string>{path_}));
  EXPECT_EQ(back, 0);
  // From 11-12 06:00: .2.gz (11-12) holds the start; .3.gz is not needed.
  EXPECT_EQ(hosts_and_files(d14 - 2 * 86400 + 6 * 3600, &files, &back),
            (std::vector<std::string>{"day2", "day3", "day3", "day4", "day4"}));
  EXPECT_EQ(files, (std::vector<std::string>{path_ + ".2.gz", path_ + ".1", path_}));
  EXPECT_EQ(back, 0);
  // A week: every file, and the oldest does not reach back that far.
  EXPECT_EQ(hosts_and_files(d14 - 7 * 86400, &files, &back).size(), 8u);
  EXPECT_EQ(files.front(), path_ + ".3.gz");
  EXPECT_EQ(back, d14 - 3 * 86400);
}

// logrotate with dateext (RHEL's, Fedora's and SUSE's default, and Debian's
// when uncommented in /etc/logrotate.conf): alerts.jsonl-20231113,
// -20231112.gz, ... Read as the numbered ones, by the time of their first
// alert; a change of naming (numbered files older than the dated ones) keeps
// the order; other files beside the log are not alert files.
TEST_F(AlertLogTest, ReadsDateextRotationsAndMixedNamesInTimeOrder) {
  Append(path_, Day(4));
  Append(path_ + "-20231114", Day(3));  // rotated this morning, compressed tomorrow
  WriteGzip(path_ + "-20231113.gz", Day(2));
  WriteGzip(path_ + ".1.gz", Day(1));  // before dateext was turned on
  WriteGzip(path_ + ".2.gz", Day(0));
  Append(path_ + ".tmp", Day(9));
  Append(path_ + "-old", Day(9));
  Append(dir_ + "/other.jsonl-20231113", Day(9));
  const double d14 = 1699920000;  // 2023-11-14T00:00:00Z
  auto open = [&](double since, std::vector<std::string>* hosts) {
    auto log = AlertLog::Open(path_, since);
    EXPECT_TRUE(log.ok()) << log.status().message();
    if (!log.ok()) return std::vector<std::string>();
    AlertFilter f;
    f.since = since;
    (*log)->ForEach(f, [&](const AlertRecord& a, std::string_view) { hosts->push_back(a.host); });
    EXPECT_EQ((*log)->reaches_back_only_to(), 0);
    return (*log)->files();
  };
  std::vector<std::string> hosts;
  EXPECT_EQ(open(d14 - 2 * 86400 + 6 * 3600, &hosts),
            (std::vector<std::string>{path_ + "-20231113.gz", path_ + "-20231114", path_}));
  EXPECT_EQ(hosts, (std::vector<std::string>{"day2", "day3", "day3", "day4", "day4"}));
  hosts.clear();
  EXPECT_EQ(open(d14 - 4 * 86400 + 6 * 3600, &hosts),
            (std::vector<std::string>{path_ + ".2.gz", path_ + ".1.gz", path_ + "-20231113.gz",
                                      path_ + "-20231114", path_}));
  EXPECT_EQ(hosts.size(), 9u);
  EXPECT_EQ(hosts.front(), "day0");
}

TEST_F(AlertLogTest, FollowerReturnsNewLinesAndSurvivesRotationAndTruncation) {
  Append(path_, "old\n");
  FileFollower f(path_);
  EXPECT_TRUE(f.Poll().empty());
  Append(path_, "a\nb");
  EXPECT_EQ(f.Poll(), (std::vector<std::string>{"a"}));
  Append(path_, "\n");
  EXPECT_EQ(f.Poll(), (std::vector<std::string>{"b"}));
  // logrotate (rename + a new file): the last lines of the old file, then
  // the new one from its start.
  Append(path_, "c\n");
  std::filesystem::rename(path_, path_ + ".1");
  Append(path_, "d\n");
  EXPECT_EQ(f.Poll(), (std::vector<std::string>{"c", "d"}));
  // copytruncate (seen when the file is shorter than what was read).
  std::filesystem::resize_file(path_, 0);
  EXPECT_TRUE(f.Poll().empty());
  Append(path_, "e\n");
  EXPECT_EQ(f.Poll(), (std::vector<std::string>{"e"}));
}

TEST_F(AlertLogTest, FollowerWaitsForAMissingFile) {
  FileFollower f(path_);
  EXPECT_TRUE(f.Poll().empty());
  Append(path_, "first\n");
  EXPECT_EQ(f.Poll(), (std::vector<std::string>{"first"}));
}

}  // namespace
}  // namespace konseki::app::console
