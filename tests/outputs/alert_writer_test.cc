#include "outputs/alert_writer.h"

#include <gtest/gtest.h>
#include <libfastjson/json.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace konseki::outputs {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> ReadLines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string TitleOf(const std::string& line) {
  fjson_object* o = fjson_tokener_parse(line.c_str());
  if (!o) return "<unparsable>";
  fjson_object* t = nullptr;
  std::string s = fjson_object_object_get_ex(o, "title", &t) ? fjson_object_get_string(t) : "";
  fjson_object_put(o);
  return s;
}

class AlertWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/alert_writer_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  static Alert MakeAlert(std::string title, Severity sev = Severity::kHigh) {
    Alert a;
    a.sign = "ssh.auth_failure";
    a.severity = sev;
    a.title = std::move(title);
    a.message = "raw\nline";
    return a;
  }

  fs::path root_;
  MetricsRegistry metrics_;
};

TEST_F(AlertWriterTest, AppendsOneJsonLinePerAlertImmediately) {
  AlertWriterOptions o;
  o.path = (root_ / "alerts.json").string();
  { std::ofstream(o.path) << "{\"previous\":1}\n"; }
  auto w = AlertWriter::Open(o, metrics_);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  (*w)->Emit(MakeAlert("first"));
  // No flush call exists: the line is in the file as soon as Emit returns.
  auto lines = ReadLines(o.path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"previous\":1}");
  EXPECT_EQ(TitleOf(lines[1]), "first");
  (*w)->Emit(MakeAlert("second", Severity::kLow));
  lines = ReadLines(o.path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(TitleOf(lines[2]), "second");
  EXPECT_EQ(metrics_.ValueOf("konseki_alerts_total",
                             {{"sign", "ssh.auth_failure"}, {"severity", "high"}}),
            1);
  EXPECT_EQ(
      metrics_.ValueOf("konseki_alerts_total", {{"sign", "ssh.auth_failure"}, {"severity", "low"}}),
      1);
}

TEST_F(AlertWriterTest, OpenFailsWithThePathInTheMessage) {
  AlertWriterOptions o;
  o.path = (root_ / "missing" / "alerts.json").string();
  auto w = AlertWriter::Open(o, metrics_);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kIoError);
  EXPECT_NE(w.status().message().find(o.path), std::string::npos) << w.status().ToString();
}

TEST_F(AlertWriterTest, NoFileNoStdoutStillCounts) {
  auto w = AlertWriter::Open(AlertWriterOptions(), metrics_);
  ASSERT_TRUE(w.ok());
  (*w)->Emit(MakeAlert("x", Severity::kCritical));
  EXPECT_EQ(metrics_.ValueOf("konseki_alerts_total",
                             {{"sign", "ssh.auth_failure"}, {"severity", "critical"}}),
            1);
}

TEST_F(AlertWriterTest, WritesToStdoutDescriptor) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  AlertWriterOptions o;
  o.to_stdout = true;
  o.stdout_fd = fds[1];
  auto w = AlertWriter::Open(o, metrics_);
  ASSERT_TRUE(w.ok());
  (*w)->Emit(MakeAlert("to stdout"));
  close(fds[1]);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) got.append(buf, n);
  close(fds[0]);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), '\n');
  EXPECT_EQ(TitleOf(got.substr(0, got.size() - 1)), "to stdout");
}

TEST_F(AlertWriterTest, WriteErrorsAreCounted) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "/dev/full is missing";
  AlertWriterOptions o;
  o.path = "/dev/full";
  auto w = AlertWriter::Open(o, metrics_);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  (*w)->Emit(MakeAlert("lost"));
  (*w)->Emit(MakeAlert("lost"));
  EXPECT_EQ(metrics_.ValueOf("konseki_alert_write_errors_total"), 2);
}

// A file left ending in part of a line (a crash, a full disk before the
// restart): the next alert starts on a line of its own, so `konseki alerts`
// loses only the fragment, not the alert after it.
TEST_F(AlertWriterTest, AFragmentLeftAtTheEndDoesNotSwallowTheNextAlert) {
  AlertWriterOptions o;
  o.path = (root_ / "alerts.jsonl").string();
  {
    std::ofstream f(o.path);
    f << "{\"time\":\"2026-12-07T07:34:48Z\",\"host\":\"af117\",\"mess";
  }
  auto w = AlertWriter::Open(o, metrics_);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  (*w)->Emit(MakeAlert("after the fragment"));
  const auto lines = ReadLines(o.path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(TitleOf(lines[0]), "<unparsable>");
  EXPECT_EQ(TitleOf(lines[1]), "after the fragment");
}

// A write cut short by the file system (here RLIMIT_FSIZE; a full disk or
// quota alike) leaves part of the alert; once writes succeed again the next
// alert is whole, on its own line.
TEST_F(AlertWriterTest, AShortWriteDoesNotSwallowTheAlertAfterIt) {
  AlertWriterOptions o;
  o.path = (root_ / "alerts.jsonl").string();
  auto w = AlertWriter::Open(o, metrics_);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  (*w)->Emit(MakeAlert("whole"));
  const auto size = static_cast<rlim_t>(fs::file_size(o.path));
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved;
  small.rlim_cur = size + 40;  // room for part of the next line only
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  (*w)->Emit(MakeAlert("cut short"));
  (*w)->Emit(MakeAlert("lost while full"));
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &saved), 0);
  signal(SIGXFSZ, old_handler);
  EXPECT_EQ(fs::file_size(o.path), size + 40);
  (*w)->Emit(MakeAlert("after the disk had room again"));
  const auto lines = ReadLines(o.path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(TitleOf(lines[0]), "whole");
  EXPECT_EQ(TitleOf(lines[1]), "<unparsable>");  // the fragment, alone
  EXPECT_EQ(TitleOf(lines[2]), "after the disk had room again");
  EXPECT_EQ(metrics_.ValueOf("konseki_alert_write_errors_total"), 2);
}

TEST_F(AlertWriterTest, ReopenAfterRenameWritesToANewFile) {
  AlertWriterOptions o;
  o.path = (root_ / "alerts.json").string();
  auto w = AlertWriter::Open(o, metrics_);
  ASSERT_TRUE(w.ok());
  (*w)->Emit(MakeAlert("before"));
  fs::rename(o.path, o.path + ".1");
  ASSERT_TRUE((*w)->Reopen().ok());
  (*w)->Emit(MakeAlert("after"));
  auto old_lines = ReadLines(o.path + ".1");
  auto new_lines = ReadLines(o.path);
  ASSERT_EQ(old_lines.size(), 1u);
  ASSERT_EQ(new_lines.size(), 1u);
  EXPECT_EQ(TitleOf(old_lines[0]), "before");
  EXPECT_EQ(TitleOf(new_lines[0]), "after");
}

TEST_F(AlertWriterTest, ConcurrentEmittersNeverInterleaveLines) {
  AlertWriterOptions o;
  o.path = (root_ / "alerts.json").string();
  auto w = AlertWriter::Open(o, metrics_);
  ASSERT_TRUE(w.ok());
  AlertWriter* writer = w->get();
  const int kThreads = 8, kPerThread = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([writer, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Long titles make a torn write visible.
        writer->Emit(
            MakeAlert(std::to_string(t) + ":" + std::to_string(i) + std::string(2000, 'p')));
      }
    });
  }
  // Reopen concurrently too: it must not lose or tear lines.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(writer->Reopen().ok());
  for (auto& th : threads) th.join();
  auto lines = ReadLines(o.path);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<std::string> titles;
  for (const auto& l : lines) titles.insert(TitleOf(l).substr(0, 16));
  EXPECT_EQ(titles.count("<unparsable>"), 0u);
  std::set<std::string> want;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      want.insert(
          (std::to_string(t) + ":" + std::to_string(i) + std::string(2000, 'p')).substr(0, 16));
    }
  }
  EXPECT_EQ(titles, want);
  EXPECT_EQ(metrics_.ValueOf("konseki_alerts_total",
                             {{"sign", "ssh.auth_failure"}, {"severity", "high"}}),
            kThreads * kPerThread);
}

}  // namespace
}  // namespace konseki::outputs
