// konseki alerts and report over a large alert file: what they print, and
// that their memory does not grow with the number of alerts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "app/console/console_commands.h"
#include "matchers/heartbeat_state.h"

namespace konseki::app::console {
namespace {

using ::testing::HasSubstr;

constexpr double kNow = 1700000000;  // 2023-11-14T22:13:20Z

// An alert line as konseki writes one (about 400 bytes, like a real file).
std::string Line(double received, const std::string& sev, const std::string& sign,
                 const std::string& host, int i) {
  char stamp[40];
  const time_t t = static_cast<time_t>(received);
  struct tm tm;
  gmtime_r(&t, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(R"({"time":")") + stamp + R"(","received":")" + stamp + R"(","host":")" +
         host + R"(","sender":"192.0.2.7","program":"sshd","rule":"r)" + std::to_string(i % 7) +
         R"(","sign":")" + sign + R"(","severity":")" + sev +
         R"(","title":"refused connect from a host","fields":{"src_ip":"203.0.113.)" +
         std::to_string(i % 250) + R"(","user":"root"},"message":"sshd[4242]: refused )" +
         R"(connect from 203.0.113.9 (203.0.113.9) number )" + std::to_string(i) +
         R"(","file":"web1/2023-11-14.log"})";
}

// Peak resident memory (kB) since the last ResetPeak.
int64_t StatusKb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(std::strlen(key)));
  }
  return -1;
}
void ResetPeak() { std::ofstream("/proc/self/clear_refs") << "5"; }

class AlertsCommandTest : public ::testing::Test {
 protected:
  AlertsCommandTest() {
    char tmpl[] = "/tmp/konseki-acmd-XXXXXX";
    dir_ = mkdtemp(tmpl);
    env_.config.alerts_file = dir_ + "/alerts.jsonl";
    env_.config.archive.dir = dir_ + "/archive";
    env_.config.heartbeat.options.state_dir = dir_ + "/state";
    env_.out = &out_;
    env_.err = &err_;
    env_.now = kNow;
  }
  ~AlertsCommandTest() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::ostringstream out_, err_;
  ConsoleEnv env_;
};

// An ostream that drops what it is given (the output of a million lines
// must not be what the test measures).
class NullStream : public std::ostream {
 public:
  NullStream() : std::ostream(&buf_) {}

 private:
  struct Buf : std::streambuf {
    int overflow(int c) override { return c; }
    std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
  } buf_;
};

TEST_F(AlertsCommandTest, AlertsAndReportKeepMemoryFlatWhateverTheNumberOfAlerts) {
  // 60,000 alerts of the last 20 hours: held as objects (5 KB each) they
  // took over 300 MB; streamed, a few MB.
  constexpr int kAlerts = 60000;
  {
    std::ofstream f(env_.config.alerts_file);
    for (int i = 0; i < kAlerts; ++i) {
      f << Line(kNow - 72000 + i, i % 3 ? "medium" : "high", "tcpd.refused",
                "h" + std::to_string(i % 5000), i)
        << "\n";
    }
  }
  NullStream null;
  env_.out = &null;
  struct Case {
    const char* what;
    std::function<int()> run;
  };
  AlertsOptions table, json;
  json.json = true;
  const std::vector<Case> cases = {
      {"alerts", [&] { return RunAlerts(env_, table); }},
      {"alerts --json", [&] { return RunAlerts(env_, json); }},
      {"report", [&] { return BuildReport(env_, kNow - 86400).ok() ? 0 : 1; }},
  };
  for (const Case& c : cases) {
    ResetPeak();
    const int64_t before = StatusKb("VmRSS:");
    ASSERT_EQ(c.run(), 0) << c.what << ": " << err_.str();
    const int64_t peak = StatusKb("VmHWM:");
    ASSERT_GT(before, 0);
    EXPECT_LT(peak - before, 48 * 1024)
        << c.what << ": peak RSS grew by " << peak - before << " kB over " << kAlerts << " alerts";
  }
}

TEST_F(AlertsCommandTest, TableColumnsAreAsWideAsTheWidestCellAndJsonCopiesTheLines) {
  const std::string a = Line(kNow - 60, "high", "tcpd.refused", "web1", 1);
  const std::string b = Line(kNow - 30, "critical", "account.change", "a-much-longer-host", 2);
  std::ofstream(env_.config.alerts_file) << a << "\n" << b << "\n";
  AlertsOptions o;
  ASSERT_EQ(RunAlerts(env_, o), 0) << err_.str();
  std::istringstream lines(out_.str());
  std::string header, row1, row2;
  std::getline(lines, header);
  std::getline(lines, row1);
  std::getline(lines, row2);
  EXPECT_THAT(header, ::testing::StartsWith("TIME "));
  // The HOST column starts at the same place in every row, TITLE after the
  // longest host name.
  EXPECT_EQ(header.find("HOST"), row1.find("web1"));
  EXPECT_EQ(header.find("HOST"), row2.find("a-much-longer-host"));
  EXPECT_EQ(header.find("SENDER"), header.find("HOST") + std::strlen("a-much-longer-host") + 2);
  EXPECT_EQ(header.find("SENDER"), row1.find("192.0.2.7"));
  EXPECT_EQ(header.find("TITLE"), header.find("SENDER") + std::strlen("192.0.2.7") + 2);
  EXPECT_EQ(row1.find("refused connect"), header.find("TITLE"));

  out_.str("");
  o.json = true;
  ASSERT_EQ(RunAlerts(env_, o), 0) << err_.str();
  EXPECT_EQ(out_.str(), a + "\n" + b + "\n");
}

TEST_F(AlertsCommandTest, ReportListsTheLatestAccountChangesAndCountsTheEarlierOnes) {
  {
    std::ofstream f(env_.config.alerts_file);
    for (int i = 0; i < 70; ++i) {
      f << Line(kNow - 3600 + i, "critical", "account.change", "web" + std::to_string(i), i)
        << "\n";
    }
  }
  auto report = BuildReport(env_, kNow - 86400);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_THAT(*report, HasSubstr("Alerts: 70\n"));
  EXPECT_THAT(*report, HasSubstr("account.change                   70  (critical)"));
  const size_t from = report->find("\nAccount changes\n");
  const size_t to = report->find("\nCron and kernel module changes\n");
  ASSERT_NE(from, std::string::npos);
  const std::string listed = report->substr(from, to - from);
  EXPECT_THAT(listed, HasSubstr("(20 earlier not listed: konseki alerts --sign account.change"));
  EXPECT_THAT(listed, HasSubstr("  web69  "));
  EXPECT_THAT(listed, HasSubstr("  web20  "));
  EXPECT_THAT(listed, ::testing::Not(HasSubstr("  web19  ")));
}

// Each section cut to its top names says how many it left out and what
// they count together (README: "the rest counted together").
TEST_F(AlertsCommandTest, ReportCountsTheHostsSignsAndSourcesPastItsTopLists) {
  {
    std::ofstream f(env_.config.alerts_file);
    // 3000 hosts with one failure each (sources 203.0.113.0-249), the first
    // twice; 40 signs.
    for (int i = 0; i < 3000; ++i) {
      char host[16];
      std::snprintf(host, sizeof host, "fh%04d", i);
      f << Line(kNow - 3600 + i % 600, "low", "t" + std::to_string(i % 40) + ".auth_failure", host,
                i)
        << "\n";
    }
    f << Line(kNow - 60, "low", "t0.auth_failure", "fh0000", 0) << "\n";
  }
  auto report = BuildReport(env_, kNow - 86400);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_THAT(*report, HasSubstr("Alerts: 3001\n"));
  // 30 hosts shown (fh0000 with 2, then 29 with 1): 2970 more with one each.
  EXPECT_THAT(*report, HasSubstr("    fh0029                            1\n    2970 more hosts "
                                 "(2970 alerts)\n"));
  // 30 of 40 signs shown, each with 75 (t0 76): 10 more with 750.
  EXPECT_THAT(*report, HasSubstr("    10 more signs (750 alerts)\n"));
  // 10 of 250 sources shown, 12 failures each (203.0.113.0 13): 240 more.
  EXPECT_THAT(*report, HasSubstr("  240 more sources (2880 failures)\n"));
}

// A new host whose name came from two addresses (prod15: a forger sent
// under web01's name after web01's own lines): the report lists both, not
// the forger's alone as where web01 was "first seen from".
TEST_F(AlertsCommandTest, ReportListsEverySenderOfANewHostNamedFromTwoAddresses) {
  std::ofstream(env_.config.alerts_file)
      << Line(kNow - 60, "high", "ssh.login", "web01", 1) << "\n";
  std::filesystem::create_directories(env_.config.heartbeat.options.state_dir);
  std::string text;
  matchers::HostState forged;
  forged.name = "web01";
  matchers::NoteSender("127.0.0.1", 8, &forged);
  matchers::NoteSender("127.0.0.2", 8, &forged);
  forged.seen = true;
  forged.first_seen_ns = static_cast<int64_t>((kNow - 600) * 1e9);
  forged.last_seen_ns = static_cast<int64_t>((kNow - 60) * 1e9);
  matchers::AppendHostStateLine(forged, &text);
  matchers::HostState one;
  one.name = "db02";
  matchers::NoteSender("192.0.2.8", 8, &one);
  one.seen = true;
  one.first_seen_ns = forged.first_seen_ns;
  one.last_seen_ns = forged.last_seen_ns;
  matchers::AppendHostStateLine(one, &text);
  std::ofstream(env_.config.heartbeat.options.state_dir + "/heartbeat.0.state") << text;
  auto report = BuildReport(env_, kNow - 86400);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_THAT(*report, ::testing::ContainsRegex("web01: new, first seen [^\n]*, senders \\(latest "
                                                "first\\): 127\\.0\\.0\\.2, 127\\.0\\.0\\.1"));
  EXPECT_THAT(*report,
              ::testing::ContainsRegex("db02: new, first seen [^\n]* from 192\\.0\\.2\\.8\n"));
}

// A week of logrotate (daily, compress, delaycompress): today's file, .1,
// then .2.gz to .6.gz, ten alerts each from its own day.
TEST_F(AlertsCommandTest, AlertsAndReportReadTheCompressedRotationsTheWindowNeeds) {
  for (int d = 0; d < 7; ++d) {
    std::string text;
    for (int i = 0; i < 10; ++i) {
      text += Line(kNow - d * 86400 - 3600 + i, "critical", "account.change", "h", i) + "\n";
    }
    const std::string& base = env_.config.alerts_file;
    if (d < 2) {
      std::ofstream(d == 0 ? base : base + ".1") << text;
      continue;
    }
    gzFile gz = gzopen((base + "." + std::to_string(d) + ".gz").c_str(), "wb");
    ASSERT_NE(gz, nullptr);
    gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
    ASSERT_EQ(gzclose(gz), Z_OK);
  }
  AlertsOptions o;
  o.json = true;
  o.since = "1w";
  ASSERT_EQ(RunAlerts(env_, o), 0) << err_.str();
  const std::string out = out_.str();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 70);
  // Six days and an hour is all the files hold: said, naming the oldest.
  EXPECT_THAT(err_.str(), HasSubstr("the alert files reach back only to " +
                                    FormatLocalTime(kNow - 6 * 86400 - 3600) + " (" +
                                    env_.config.alerts_file + ".6.gz, the oldest kept)"));
  out_.str("");
  err_.str("");
  o.since = "3d";
  ASSERT_EQ(RunAlerts(env_, o), 0) << err_.str();
  const std::string three_days = out_.str();
  EXPECT_EQ(std::count(three_days.begin(), three_days.end(), '\n'), 30);
  EXPECT_EQ(err_.str(), "");

  auto report = BuildReport(env_, kNow - 7 * 86400);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_THAT(*report, HasSubstr("Alerts: 70\n  (the alert files reach back only to "));
}

}  // namespace
}  // namespace konseki::app::console
