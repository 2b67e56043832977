#include "app/search_command.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "outputs/seal_format.h"

namespace konseki::app {
namespace {

class SearchCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/search_cmd_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(outputs::ParseDayName("2025-12-10", &today_));
    std::filesystem::create_directories(dir_ + "/h1");
    std::ofstream(dir_ + "/h1/2025-12-01.log")
        << "2025-12-01T00:00:01.000000Z 192.0.2.1 <38>Dec  1 00:00:01 h1 sshd[7]: Failed "
           "password for root from 198.51.100.7 port 2222 ssh2\n"
           "2025-12-01T00:00:02.000000Z 192.0.2.1 <38>Dec  1 00:00:02 h1 cron[7]: Failed "
           "password for root from 198.51.100.7 port 2222 ssh2\n"
           "2025-12-01T00:00:03.000000Z 192.0.2.1 <38>Dec  1 00:00:03 h1 sshd[7]: Accepted "
           "password for bob from 198.51.100.8 port 2222 ssh2\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // TZ=Asia/Tokyo (UTC+9, no DST) while it lives; the old TZ after.
  struct TokyoTime {
    TokyoTime() : had(getenv("TZ") != nullptr), old(had ? getenv("TZ") : "") {
      setenv("TZ", "Asia/Tokyo", 1);
      tzset();
    }
    ~TokyoTime() {
      if (had) {
        setenv("TZ", old.c_str(), 1);
      } else {
        unsetenv("TZ");
      }
      tzset();
    }
    bool had;
    std::string old;
  };
  // Lines the last Run printed.
  long lines() const {
    const std::string out = out_.str();
    return std::count(out.begin(), out.end(), '\n');
  }
  int Run(SearchCommand c) {
    c.dir = dir_;
    if (c.now == 0) c.now = static_cast<double>(today_) * 86400 + 43200;  // noon UTC
    c.rules_dir = std::string(KONSEKI_SOURCE_DIR) + "/patterns";
    out_.str("");
    err_.str("");
    return RunSearch(c, out_, err_);
  }
  // `konseki index` over dir_ on a "today" after the day file's day: exit
  // status; its output in index_out_ (its errors in index_err_).
  int Index() {
    IndexCommand ic;
    ic.dir = dir_;
    ic.today = today_;
    index_out_.str("");
    index_err_.str("");
    return RunIndex(ic, index_out_, index_err_);
  }
  std::string dir_;
  std::ostringstream out_, err_, index_out_, index_err_;
  int64_t today_ = 0;
};

TEST_F(SearchCommandTest, SignUsesTheRulesIncludingTheirProgramFilter) {
  SearchCommand c;
  c.sign = "ssh.auth_failure";
  ASSERT_EQ(Run(c), 0) << err_.str();
  // The cron line has the same words, but the rule is for sshd only.
  EXPECT_EQ(out_.str().find("cron["), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("sshd[7]: Failed password"), std::string::npos) << out_.str();
  c.sign = "ssh.login";
  ASSERT_EQ(Run(c), 0) << err_.str();
  EXPECT_NE(out_.str().find("Accepted password for bob"), std::string::npos) << out_.str();
}

TEST_F(SearchCommandTest, ExitStatusAndErrors) {
  SearchCommand c;
  c.patterns = {"no such thing"};
  EXPECT_EQ(Run(c), 1);
  c.patterns = {"Accepted", "port 2222"};
  EXPECT_EQ(Run(c), 0);
  const std::string out = out_.str();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3);
  // Patterns matching the empty string list every line, as grep -E does.
  for (const char* p : {"^", ".*", "x?", "sshd|"}) {
    c.patterns = {p};
    EXPECT_EQ(Run(c), 0) << p << ": " << err_.str();
    EXPECT_EQ(out_.str(), out) << p;
  }
  c.patterns.clear();
  c.sign = "no.such.sign";
  EXPECT_EQ(Run(c), 2);
  EXPECT_NE(err_.str().find("ssh.auth_failure"), std::string::npos) << err_.str();
  c.sign.clear();
  c.patterns = {"x"};
  c.since = "last tuesday";
  EXPECT_EQ(Run(c), 2);
}

// An archive that cannot be read is an error (exit 2, saying why), never
// "no match" (exit 1): a user outside the daemon's group, a mistyped --dir,
// a host folder that cannot be opened (here a symlink loop, which refuses
// root too; a folder of mode 0700 owned by another user does the same).
TEST_F(SearchCommandTest, AnArchiveOrHostFolderThatCannotBeReadIsAnError) {
  SearchCommand c;
  c.patterns = {"Accepted"};
  const std::string archive = dir_;
  for (const std::string& bad : {archive + "/no-such-folder", archive + "/loop"}) {
    std::filesystem::create_directory_symlink(archive + "/loop", archive + "/loop");
    for (const char* host : {"*", "h1"}) {
      c.host_glob = host;
      dir_ = bad;
      EXPECT_EQ(Run(c), 2) << bad << " --host " << host << ": " << err_.str();
      EXPECT_NE(err_.str().find("cannot read the archive folder " + bad), std::string::npos)
          << err_.str();
      dir_ = archive;
    }
    std::filesystem::remove(archive + "/loop");
  }
  // One host folder unreadable: the others are searched and printed, and the
  // exit status says the search was not complete.
  std::filesystem::create_directory_symlink(archive + "/h2", archive + "/h2");
  c.host_glob = "*";
  EXPECT_EQ(Run(c), 2) << err_.str();
  EXPECT_EQ(lines(), 1);
  EXPECT_NE(err_.str().find("cannot read host folder " + archive + "/h2"), std::string::npos)
      << err_.str();
}

// --since/--until read as `konseki alerts --since` reads them: local time
// unless a zone is given (an archive line's own stamp ends in Z).
TEST_F(SearchCommandTest, SinceAndUntilAreLocalTimeUnlessAZoneIsGiven) {
  const TokyoTime tz;  // UTC+9, no DST
  SearchCommand c;
  c.patterns = {"password"};
  for (const char* since : {"2025-12-01T09:00:02", "2025-12-01 09:00:02", "2025-12-01T00:00:02Z",
                            "2025-12-01T09:00:02+09:00", "2025-11-30T23:00:02-01:00"}) {
    c.since = since;
    EXPECT_EQ(Run(c), 0) << since << ": " << err_.str();
    EXPECT_EQ(lines(), 2) << since << ": " << out_.str();
  }
  c.until = "2025-12-01T09:00:03";
  EXPECT_EQ(Run(c), 0) << err_.str();
  EXPECT_EQ(lines(), 1) << out_.str();
  c.until.clear();
  c.since = "2025-12-01";  // local midnight: 2025-11-30T15:00Z, all three
  EXPECT_EQ(Run(c), 0) << err_.str();
  EXPECT_EQ(lines(), 3) << out_.str();
  for (const char* bad : {"2025-02-30", "2025-12-01T24:00", "2025-12-01T10:00+25:00"}) {
    c.since = bad;
    EXPECT_EQ(Run(c), 2) << bad;
    EXPECT_NE(err_.str().find("local time unless it ends in Z"), std::string::npos) << err_.str();
  }
}

// What `konseki alerts --since` takes (one parser, console::ParseSince):
// durations back from now, today and yesterday (local midnight), fractions.
TEST_F(SearchCommandTest, SinceTakesWhatAlertsSinceTakes) {
  const TokyoTime tz;  // UTC+9, no DST
  SearchCommand c;
  c.patterns = {"password"};
  // 2025-12-01T00:00:03.5Z: the lines are at :01, :02 and :03.
  c.now = 1764547203.5;
  c.since = "2s";
  EXPECT_EQ(Run(c), 0) << err_.str();
  EXPECT_EQ(lines(), 2) << out_.str();
  c.since = "1h";
  EXPECT_EQ(Run(c), 0) << err_.str();
  EXPECT_EQ(lines(), 3) << out_.str();
  c.since = "2025-12-01T00:00:02.5Z";
  EXPECT_EQ(Run(c), 0) << err_.str();
  EXPECT_EQ(lines(), 1) << out_.str();
  c.since = "today";  // 2025-12-01T00:00+09:00
  c.until = "2s";
  EXPECT_EQ(Run(c), 0) << err_.str();
  EXPECT_EQ(lines(), 1) << out_.str();
  c.until = "2026-01-01";  // --until may be after now
  EXPECT_EQ(Run(c), 0) << err_.str();
  EXPECT_EQ(lines(), 3) << out_.str();
  c.until.clear();
  c.now += 15 * 3600;  // 2025-12-02T00:00:03.5+09:00: the lines were yesterday
  EXPECT_EQ(Run(c), 1) << err_.str();
  c.since = "yesterday";
  EXPECT_EQ(Run(c), 0) << err_.str();
  EXPECT_EQ(lines(), 3) << out_.str();
  c.since = "2025-12-03";
  EXPECT_EQ(Run(c), 2);
  EXPECT_NE(err_.str().find("--since: '2025-12-03' (2025-12-03 00:00:00) is in the future"),
            std::string::npos)
      << err_.str();
  c.since = "last tuesday";
  EXPECT_EQ(Run(c), 2);
  EXPECT_NE(err_.str().find("neither a duration (90s, 30m, 1h, 2d, 1w) nor a start time"),
            std::string::npos)
      << err_.str();
}

// --host takes the name alerts and `konseki hosts` show as well as the
// folder's (encoded) name; a name no folder has is said, and exits 2.
TEST_F(SearchCommandTest, HostIsFoundByTheNameAlertsShowOrByItsFolder) {
  const std::pair<const char*, const char*> hosts[] = {
      {"WEB-01", "web-01"}, {"caf\xc3\xa9", "caf%c3%a9"}, {"lost+found", "lost%2bfound"}};
  for (const auto& [host, folder] : hosts) {
    std::filesystem::create_directories(dir_ + "/" + folder);
    std::ofstream(dir_ + "/" + folder + "/2025-12-01.log")
        << "2025-12-01T00:00:05.000000Z 192.0.2.5 <38>Dec  1 00:00:05 " << host
        << " canary[1]: CANARY of " << folder << "\n";
  }
  SearchCommand c;
  c.patterns = {"CANARY"};
  for (const auto& [host, folder] : hosts) {
    for (const char* name : {host, folder}) {
      c.host_glob = name;
      ASSERT_EQ(Run(c), 0) << name << ": " << err_.str();
      EXPECT_EQ(out_.str(), "2025-12-01T00:00:05.000000Z 192.0.2.5 <38>Dec  1 00:00:05 " +
                                std::string(host) + " canary[1]: CANARY of " + folder + "\n")
          << name;
    }
  }
  c.host_glob = "Web-*";
  ASSERT_EQ(Run(c), 0) << err_.str();
  EXPECT_NE(out_.str().find("CANARY of web-01"), std::string::npos) << out_.str();
  // A host that has a folder but no such line: no match (1), nothing said.
  c.host_glob = "WEB-01";
  c.patterns = {"no such line"};
  EXPECT_EQ(Run(c), 1);
  EXPECT_EQ(err_.str(), "");
  // A host no folder stands for: exit 2, said.
  c.host_glob = "WEB-02";
  EXPECT_EQ(Run(c), 2);
  EXPECT_NE(err_.str().find("no host folder in " + dir_ +
                            " is named 'WEB-02' (as alerts and `konseki hosts` name hosts, or "
                            "by folder name): no such host in the archive"),
            std::string::npos)
      << err_.str();
}

TEST_F(SearchCommandTest, IndexCommandThenSearchNotesAStaleIndexAndNoIndexScansAll) {
  ASSERT_EQ(Index(), 0) << index_err_.str();
  EXPECT_NE(index_out_.str().find("1 indexes written, 0 current"), std::string::npos)
      << index_out_.str();
  ASSERT_EQ(Index(), 0);
  EXPECT_NE(index_out_.str().find("0 indexes written, 1 current"), std::string::npos)
      << index_out_.str();
  SearchCommand c;
  c.patterns = {"Accepted password"};
  c.stats = true;
  c.today = today_;
  ASSERT_EQ(Run(c), 0) << err_.str();
  EXPECT_NE(err_.str().find("index: 1 files"), std::string::npos) << err_.str();
  EXPECT_EQ(err_.str().find("note:"), std::string::npos) << err_.str();
  std::ofstream(dir_ + "/h1/2025-12-01.log", std::ios::app)
      << "2025-12-01T00:00:04.000000Z 192.0.2.1 <38>sshd[7]: Accepted password for eve\n";
  ASSERT_EQ(Run(c), 0);
  EXPECT_NE(out_.str().find("for eve"), std::string::npos) << out_.str();
  EXPECT_NE(err_.str().find("note: stale index"), std::string::npos) << err_.str();
  c.no_index = true;
  ASSERT_EQ(Run(c), 0);
  EXPECT_NE(out_.str().find("for eve"), std::string::npos) << out_.str();
  EXPECT_EQ(err_.str().find("note:"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("index: 0 files"), std::string::npos) << err_.str();
  std::filesystem::remove(dir_ + "/h1/2025-12-01.log.idx");
  c.no_index = false;
  ASSERT_EQ(Run(c), 0);
  EXPECT_NE(err_.str().find("note: 1 day file(s) without an index"), std::string::npos)
      << err_.str();
}

TEST_F(SearchCommandTest, AnIndexOfTheFirstFormatIsNotedThenRewrittenByIndex) {
  // What konseki wrote before KSIDX002 (its content does not matter: the
  // version is read first).
  std::ofstream(dir_ + "/h1/2025-12-01.log.idx") << "KSIDX001" << std::string(300, '\x01');
  SearchCommand c;
  c.patterns = {"Accepted password"};
  c.today = today_;
  ASSERT_EQ(Run(c), 0) << err_.str();
  EXPECT_NE(out_.str().find("for bob"), std::string::npos) << out_.str();
  EXPECT_NE(err_.str().find("note: index " + dir_ +
                            "/h1/2025-12-01.log.idx is of another format version (001"),
            std::string::npos)
      << err_.str();
  ASSERT_EQ(Index(), 0) << index_err_.str();
  EXPECT_NE(index_out_.str().find("1 indexes written, 0 current"), std::string::npos)
      << index_out_.str();
  c.stats = true;
  ASSERT_EQ(Run(c), 0);
  EXPECT_EQ(err_.str().find("note:"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("index: 1 files"), std::string::npos) << err_.str();
}

// A host past archive.max_hosts has its lines in %overflow-<worker>/ among
// others: --host finds them by the host each line names (or its sender
// when the header names none), through the index too.
TEST_F(SearchCommandTest, HostFindsItsLinesInTheOverflowFolders) {
  std::filesystem::create_directories(dir_ + "/%overflow-0");
  std::ofstream(dir_ + "/%overflow-0/2025-12-01.log")
      << "2025-12-01T00:00:04.000000Z 192.0.2.9 <13>Dec  1 00:00:04 spoof1 x: Accepted nothing\n"
         "2025-12-01T00:00:05.000000Z 203.0.113.5 <38>Dec  1 00:00:05 WEB7 sshd[9]: Accepted "
         "password for root from 203.0.113.50 port 5000 ssh2\n"
         "2025-12-01T00:00:06.000000Z 203.0.113.6 <38>sshd[9]: Accepted headerless\n"
         // The daemon saw "web8<ESC>": its folder is web8%1b.
         "2025-12-01T00:00:07.000000Z 192.0.2.8 <13>Dec  1 00:00:07 web8#033 x: Accepted esc\n";
  SearchCommand c;
  c.patterns = {"Accepted"};
  c.host_glob = "web7";
  ASSERT_EQ(Run(c), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "2025-12-01T00:00:05.000000Z 203.0.113.5 <38>Dec  1 00:00:05 WEB7 sshd[9]: Accepted "
            "password for root from 203.0.113.50 port 5000 ssh2\n");
  c.host_glob = "203.0.113.6";  // no host in the header: the sender's folder
  ASSERT_EQ(Run(c), 0) << err_.str();
  EXPECT_NE(out_.str().find("Accepted headerless"), std::string::npos) << out_.str();
  c.host_glob = "web8%1b";
  ASSERT_EQ(Run(c), 0) << err_.str();
  EXPECT_NE(out_.str().find("Accepted esc"), std::string::npos) << out_.str();
  c.host_glob = "h*";  // h1's own folder, nothing from the overflow
  ASSERT_EQ(Run(c), 0) << err_.str();
  EXPECT_EQ(out_.str().find("WEB7"), std::string::npos) << out_.str();
  c.host_glob = "spoof9";
  EXPECT_EQ(Run(c), 1) << out_.str();
  EXPECT_NE(err_.str().find("note: no host folder is named 'spoof9'; the 1 overflow folder(s) "
                            "(hosts past archive.max_hosts) hold no matching line of it"),
            std::string::npos)
      << err_.str();
  // Indexed (a closed day), with a time window so the index is consulted.
  ASSERT_EQ(Index(), 0) << index_err_.str();
  c.host_glob = "web7";
  c.since = "2025-12-01";
  c.stats = true;
  ASSERT_EQ(Run(c), 0) << err_.str();
  EXPECT_NE(out_.str().find("WEB7 sshd[9]"), std::string::npos) << out_.str();
  EXPECT_NE(err_.str().find("index: 1 files"), std::string::npos) << err_.str();
}

// On a terminal the archive's bytes >= 0x80 that are C1 controls (kept as
// received) and any raw control byte are escaped; into a pipe, byte for byte.
TEST_F(SearchCommandTest, OnATerminalC1ControlsAreEscaped) {
  std::ofstream(dir_ + "/h1/2025-12-01.log", std::ios::app)
      << "2025-12-01T00:00:04.000000Z 192.0.2.1 <38>sshd[7]: Accepted \xc2\x9b"
         "2J \x9b"
         "2J "
         "caf\xc3\xa9 #033\n";
  SearchCommand c;
  c.patterns = {"Accepted"};
  c.host_glob = "h1";
  ASSERT_EQ(Run(c), 0) << err_.str();
  EXPECT_NE(out_.str().find("Accepted \xc2\x9b"
                            "2J \x9b"
                            "2J caf\xc3\xa9 #033\n"),
            std::string::npos);
  c.terminal = true;
  ASSERT_EQ(Run(c), 0) << err_.str();
  EXPECT_NE(out_.str().find("Accepted #302#2332J #2332J caf\xc3\xa9 #033\n"), std::string::npos)
      << out_.str();
}

}  // namespace
}  // namespace konseki::app
