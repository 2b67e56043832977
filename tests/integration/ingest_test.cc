// End-to-end: the real konseki binary, real senders (util-linux logger, a
// real rsyslogd started by the test), every message in the archive once.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

std::string BaseConfig(const TempDir& dir) {
  return "listen:\n  - udp://127.0.0.1:0\n  - tcp://127.0.0.1:0\n"
         "archive:\n  dir: " +
         dir.File("archive") +
         "\n"
         "alerts:\n  file: " +
         dir.File("alerts.jsonl") +
         "\n  stdout: false\n"
         "workers: 2\n"
         "metrics:\n  listen: 127.0.0.1:0\n"
         "heartbeat:\n  state_dir: " +
         dir.File("state") + "\n";
}

// Lines in the archive of `host` that contain `needle`.
std::string LocalHostName() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  std::string h(buf);
  for (char& c : h) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return h;
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
    std::string err;
    ASSERT_TRUE(k_.Start(dir_, BaseConfig(dir_), &err)) << err;
    archive_ = dir_.File("archive");
  }
  TempDir dir_;
  Konseki k_;
  std::string archive_;
};

TEST_F(IngestTest, LoggerOverEveryFramingArrivesExactlyOnce) {
  if (!HaveProgram("/usr/bin/logger")) GTEST_SKIP() << "util-linux logger not installed";
  const std::string host = LocalHostName();
  struct Mode {
    std::vector<std::string> args;
    std::string tag;
  } modes[] = {
      {{"--udp", "--rfc3164"}, "udp3164"},
      {{"--udp", "--rfc5424"}, "udp5424"},
      {{"--tcp", "--rfc3164"}, "tcplf3164"},
      {{"--tcp", "--rfc5424", "--octet-count"}, "tcpoct5424"},
  };
  const int kPerMode = 50;
  for (const Mode& m : modes) {
    bool udp = m.args[0] == "--udp";
    for (int i = 0; i < kPerMode; ++i) {
      std::vector<std::string> argv = {"/usr/bin/logger",
                                       "--server",
                                       "127.0.0.1",
                                       "--port",
                                       std::to_string(k_.Port(udp ? "udp" : "tcp")),
                                       "-t",
                                       "itest"};
      argv.insert(argv.end(), m.args.begin(), m.args.end());
      argv.push_back("mode=" + m.tag + " seq=" + std::to_string(i) + " end");
      ChildProcess p;
      ASSERT_TRUE(p.Start(argv, dir_.File("logger")));
      ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
    }
  }
  for (const Mode& m : modes) {
    ASSERT_TRUE(WaitFor([&] {
      return CountInArchive(archive_, host, "mode=" + m.tag) >= kPerMode;
    })) << m.tag
        << ": " << CountInArchive(archive_, host, "mode=" + m.tag) << " of " << kPerMode;
    for (int i = 0; i < kPerMode; ++i) {
      EXPECT_EQ(
          CountInArchive(archive_, host, "mode=" + m.tag + " seq=" + std::to_string(i) + " end"),
          1u)
          << m.tag << " seq " << i;
    }
  }
}

TEST_F(IngestTest, ArchiveLineHasReceiveTimeSenderAndEscapedRaw) {
  int fd = ConnectTcp(k_.Port("tcp"));
  ASSERT_GE(fd, 0);
  std::string msg = "<13>Nov 23 08:00:00 web1 app[7]: tab\there 日本語";
  ASSERT_TRUE(SendAll(fd, std::to_string(msg.size()) + " " + msg));
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return !ArchiveLines(archive_, "web1").empty(); }));
  std::string line = ArchiveLines(archive_, "web1")[0];
  EXPECT_THAT(line, ::testing::MatchesRegex(
                        R"(^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z 127\.0\.0\.1 .*)"));
  EXPECT_THAT(line, ::testing::EndsWith("web1 app[7]: tab#011here 日本語"));
}

TEST_F(IngestTest, HostileInputNeitherCrashesNorStopsOtherSenders) {
  // A silent client and a half-sent message hold connections open.
  int silent = ConnectTcp(k_.Port("tcp"));
  ASSERT_GE(silent, 0);
  int half = ConnectTcp(k_.Port("tcp"));
  ASSERT_TRUE(SendAll(half, "<13>Nov 23 08:00:00 half app: never finish"));
  // A 1 GB octet count followed by a bit of data.
  int huge = ConnectTcp(k_.Port("tcp"));
  ASSERT_TRUE(
      SendAll(huge, "1000000000 <13>Nov 23 08:00:00 huge app: " + std::string(100000, 'A')));
  // A 1 MB line without newline, then a good message on the same connection.
  int big = ConnectTcp(k_.Port("tcp"));
  ASSERT_TRUE(SendAll(big, "<13>Nov 23 08:00:00 bigline app: " + std::string(1 << 20, 'B') +
                               "\n<13>Nov 23 08:00:00 bigline app: after-the-big-one\n"));
  // Binary garbage, NUL bytes, invalid UTF-8 and a path-traversal hostname.
  int junk = ConnectTcp(k_.Port("tcp"));
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 7919) & 0xff);
  // NUL ends a frame in LF framing (RFC 6587 senders use it as a
  // terminator), so an embedded NUL travels in an octet-counted frame.
  const std::string with_nul("<13>Nov 23 08:00:00 nul app: a\0b", 32);
  ASSERT_TRUE(SendAll(junk, garbage + "\n<13>Nov 23 08:00:00 ../../etc app: traversal\n" +
                                "<13>Nov 23 08:00:00 utf app: \xff\xfe\xc3\x28\n" +
                                std::to_string(with_nul.size()) + " " + with_nul));
  SendUdp(k_.Port("udp"), std::string("\0\0\0\xff", 4));

  // Meanwhile a normal sender keeps flowing.
  int good = ConnectTcp(k_.Port("tcp"));
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(SendAll(good, "<13>Nov 23 08:00:00 good app: n=" + std::to_string(i) + "\n"));
  }
  ASSERT_TRUE(WaitFor([&] { return CountInArchive(archive_, "good", "app: n=") == 200; }))
      << CountInArchive(archive_, "good", "app: n=");
  ASSERT_TRUE(
      WaitFor([&] { return CountInArchive(archive_, "bigline", "after-the-big-one") == 1; }));
  ASSERT_TRUE(WaitFor([&] { return CountInArchive(archive_, "utf", "app: ") == 1; }));
  ASSERT_TRUE(WaitFor([&] { return CountInArchive(archive_, "nul", "a#000b") == 1; }));
  EXPECT_TRUE(k_.process().running());
  // Nothing escaped the archive dir.
  EXPECT_FALSE(std::filesystem::exists(dir_.File("etc")));
  // Every archive file is <archive>/<one sanitised component>/<date>.log
  // (a sanitised name may contain dots, never a separator).
  for (const auto& e : std::filesystem::recursive_directory_iterator(archive_)) {
    auto rel = std::filesystem::relative(e.path(), archive_);
    if (*rel.begin() == ".state") continue;
    EXPECT_LE(std::distance(rel.begin(), rel.end()), 2) << e.path();
    EXPECT_NE(rel.begin()->string(), "..") << e.path();
  }
  std::set<std::string> top;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    top.insert(e.path().filename().string());
  }
  EXPECT_EQ(top, (std::set<std::string>{"alerts.jsonl", "archive", "konseki.err", "konseki.out",
                                        "konseki.yaml", "state"}));
  // Memory stays bounded (1 GB announced, 1 MB lines): well under 300 MB.
  std::string status = ReadFile("/proc/" + std::to_string(k_.process().pid()) + "/status");
  auto pos = status.find("VmHWM:");
  ASSERT_NE(pos, std::string::npos);
  long hwm_kb = std::stol(status.substr(pos + 6));
  EXPECT_LT(hwm_kb, 300 * 1024) << "peak RSS " << hwm_kb << " kB";
  for (int fd : {silent, half, huge, big, junk, good}) close(fd);
}

TEST_F(IngestTest, SigtermDrainsEverythingIntoTheArchive) {
  int fd = ConnectTcp(k_.Port("tcp"));
  const int kCount = 100000;
  std::string buf;
  for (int i = 0; i < kCount; ++i) {
    buf += "<13>Nov 23 08:00:00 drain app: n=" + std::to_string(i) + "\n";
  }
  ASSERT_TRUE(SendAll(fd, buf));
  shutdown(fd, SHUT_WR);
  // Wait until konseki has read the whole stream (the connection is closed by
  // it on EOF), then stop it at once: what is queued must still be archived.
  char c;
  ASSERT_TRUE(WaitFor([&] { return recv(fd, &c, 1, MSG_DONTWAIT) == 0; }));
  close(fd);
  int status = k_.process().Signal(SIGTERM, std::chrono::seconds(20));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(CountInArchive(archive_, "drain", "app: n="), static_cast<size_t>(kCount));
}

TEST_F(IngestTest, RuleHitsBecomeJsonAlertLines) {
  int fd = ConnectTcp(k_.Port("tcp"));
  ASSERT_TRUE(SendAll(
      fd,
      "<38>Nov 23 08:00:00 gw sshd[4242]: refused connect from 203.0.113.9 (203.0.113.9)\n"
      "<22>Nov 23 08:00:01 mx postfix/smtpd[99]: NOQUEUE: reject: RCPT from unknown[198.51.100.4]: "
      "554 5.7.1 <x@example.net>: Relay access denied; from=<a@b.c> to=<x@example.net> "
      "proto=ESMTP helo=<h>\n"
      "<13>Nov 23 08:00:02 gw app: an ordinary line\n"));
  close(fd);
  const std::string alerts = dir_.File("alerts.jsonl");
  ASSERT_TRUE(WaitFor([&] {
    std::string a = ReadFile(alerts);
    return a.find("tcpd.refused") != std::string::npos &&
           a.find("mail.relay_denied") != std::string::npos;
  })) << ReadFile(alerts);
  std::string a = ReadFile(alerts);
  EXPECT_THAT(a, ::testing::HasSubstr("\"src_ip\""));
  EXPECT_THAT(a, ::testing::HasSubstr("203.0.113.9"));
  EXPECT_EQ(a.find("ordinary"), std::string::npos);
}

TEST(ListenerOrderTest, TcpListedBeforeUdpBothDeliverAndCount) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  Konseki k;
  std::string err;
  // TCP listed before UDP: UDP must still drop-and-count (not stall) and TCP
  // must never drop, so each listener needs its own router.
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tcp://127.0.0.1:0, udp://127.0.0.1:0]\n"
                      "archive: {dir: " +
                          dir.File("archive") +
                          "}\n"
                          "alerts: {stdout: false}\nmetrics: {listen: '127.0.0.1:0'}\n",
                      &err))
      << err;
  SendUdp(k.Port("udp"), "<13>Nov 23 08:00:00 viaudp app: hello");
  int fd = ConnectTcp(k.Port("tcp"));
  ASSERT_TRUE(SendAll(fd, "<13>Nov 23 08:00:00 viatcp app: hello\n"));
  close(fd);
  const std::string archive = dir.File("archive");
  ASSERT_TRUE(WaitFor([&] {
    return ArchiveLines(archive, "viaudp").size() == 1 &&
           ArchiveLines(archive, "viatcp").size() == 1;
  }));
  std::string metrics;
  ASSERT_TRUE(WaitFor([&] {
    int m = ConnectTcp(k.MetricsPort());
    SendAll(m, "GET /metrics HTTP/1.0\r\n\r\n");
    std::string body;
    char buf[4096];
    ssize_t n;
    while ((n = recv(m, buf, sizeof buf, 0)) > 0) body.append(buf, static_cast<size_t>(n));
    close(m);
    metrics = body;
    return body.find("konseki_received_messages_total") != std::string::npos;
  }));
  EXPECT_THAT(metrics, ::testing::HasSubstr("transport=\"udp\"} 1"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("transport=\"tcp\"} 1"));
}

TEST(AllowlistTest, SenderOutsideTheAllowlistIsRefusedCountedAndAlerted) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen:\n"
                      "  - {uri: 'tcp://127.0.0.1:0', allow: [10.0.0.0/8]}\n"
                      "  - {uri: 'udp://127.0.0.1:0', allow: [127.0.0.0/8]}\n"
                      "archive: {dir: " +
                          dir.File("archive") +
                          "}\n"
                          "alerts: {file: " +
                          dir.File("alerts.jsonl") +
                          ", stdout: false}\n"
                          "metrics: {listen: ''}\n",
                      &err))
      << err;
  int fd = ConnectTcp(k.Port("tcp"));
  if (fd >= 0) {
    SendAll(fd, "<13>Nov 23 08:00:00 intruder app: should not be archived\n");
    close(fd);
  }
  SendUdp(k.Port("udp"), "<13>Nov 23 08:00:00 insider app: allowed");
  const std::string archive = dir.File("archive");
  ASSERT_TRUE(WaitFor([&] { return ArchiveLines(archive, "insider").size() == 1; }));
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(dir.File("alerts.jsonl")).find("receiver.refused") != std::string::npos;
  })) << ReadFile(dir.File("alerts.jsonl"));
  EXPECT_THAT(ReadFile(dir.File("alerts.jsonl")), ::testing::HasSubstr("127.0.0.1"));
  EXPECT_TRUE(ArchiveLines(archive, "intruder").empty());
}

// Messages the kernel dropped because konseki's UDP buffer overflowed are
// not only a counter: konseki.messages_lost (high) says how many and why,
// once per five minutes while it goes on.
TEST(LossAlertTest, KernelDropsOfAFloodRaiseMessagesLost) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen: [udp://127.0.0.1:0]\nudp: {receive_buffer_bytes: 4096}\n"
                      "metrics: {listen: '127.0.0.1:0'}\n" +
                          ArchiveAndAlertsConfig(dir),
                      &err))
      << err;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(k.Port("udp")));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string line =
      "<13>Nov 23 08:00:00 flood app: a line of a flood, padded to two hundred bytes "
      "................................................................................";
  // Bursts faster than one thread reads, until the kernel has dropped some
  // (with a 4 KiB buffer the first burst nearly always does).
  double dropped = 0;
  const std::string kernel = "stage=\"kernel\"";
  for (int round = 0; round < 50 && dropped == 0; ++round) {
    for (int i = 0; i < 20000; ++i) {
      sendto(fd, line.data(), line.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    }
    WaitFor([&] {
      dropped = SumMetric(FetchMetrics(k.MetricsPort()), "konseki_dropped_messages_total", kernel);
      return dropped > 0;
    });
  }
  close(fd);
  ASSERT_GT(dropped, 0) << "the kernel never dropped: nothing to alert";
  std::string alerts;
  ASSERT_TRUE(WaitFor([&] {
    alerts = ReadFile(dir.File("alerts.jsonl"));
    return alerts.find("konseki.messages_lost") != std::string::npos;
  })) << alerts;
  EXPECT_THAT(alerts, ::testing::HasSubstr("\"severity\":\"high\""));
  EXPECT_THAT(alerts, ::testing::HasSubstr("\"kernel.udp_receive_buffer\":"));
  EXPECT_THAT(alerts, ::testing::HasSubstr("konseki lost "));
}

TEST(CliTest, CheckConfigNamesTheBadKey) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  std::ofstream(dir.File("bad.yaml")) << "listen: [udp://127.0.0.1:0]\nworkerz: 2\n";
  ChildProcess p;
  ASSERT_TRUE(p.Start({KonsekiBinary(), "check-config", dir.File("bad.yaml")}, dir.File("cc")));
  ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
  EXPECT_THAT(p.Stderr(), ::testing::HasSubstr("bad.yaml:2"));
  EXPECT_THAT(p.Stderr(), ::testing::HasSubstr("workerz"));

  std::ofstream(dir.File("good.yaml")) << "listen: [udp://127.0.0.1:0]\nallow_root: true\n";
  ChildProcess q;
  ASSERT_TRUE(q.Start({KonsekiBinary(), "check-config", dir.File("good.yaml")}, dir.File("cg")));
  ASSERT_TRUE(WaitFor([&] { return !q.running(); }));
  EXPECT_THAT(q.Stdout(), ::testing::HasSubstr("OK"));

  // prod18: an exec sink whose program is not there (the daemon would not
  // start) is an error; a signs: entry no rule raises (a typo) a warning,
  // while real signs, families and konseki's own pass quietly.
  std::ofstream(dir.File("exec.yaml")) << "listen: [udp://127.0.0.1:0]\nallow_root: true\n"
                                          "alerts:\n  exec:\n    - {argv: [/nonexistent/pager]}\n";
  ChildProcess e;
  ASSERT_TRUE(e.Start({KonsekiBinary(), "check-config", dir.File("exec.yaml")}, dir.File("ce")));
  ASSERT_TRUE(WaitFor([&] { return !e.running(); }));
  EXPECT_NE(e.exit_code(), 0);
  EXPECT_THAT(e.Stderr(), ::testing::HasSubstr("/nonexistent/pager"));
  std::ofstream(dir.File("signs.yaml"))
      << "listen: [udp://127.0.0.1:0]\nallow_root: true\n"
         "alerts:\n  exec:\n    - {argv: [/bin/true], signs: [ssh.logins, ssh.login, ssh.*, "
         "konseki.messages_lost, host.silent]}\n";
  ChildProcess w;
  ASSERT_TRUE(w.Start({KonsekiBinary(), "check-config", dir.File("signs.yaml")}, dir.File("cw")));
  ASSERT_TRUE(WaitFor([&] { return !w.running(); }));
  EXPECT_EQ(w.exit_code(), 0) << w.Stderr();
  EXPECT_THAT(w.Stderr(), ::testing::HasSubstr("'ssh.logins' is raised by no loaded rule"));
  EXPECT_THAT(w.Stderr(), ::testing::Not(::testing::HasSubstr("'ssh.login'")));
  EXPECT_THAT(w.Stderr(), ::testing::Not(::testing::HasSubstr("'ssh.*'")));
  EXPECT_THAT(w.Stderr(), ::testing::Not(::testing::HasSubstr("'konseki.messages_lost'")));
  EXPECT_THAT(w.Stderr(), ::testing::Not(::testing::HasSubstr("'host.silent'")));

  if (geteuid() == 0) {
    // As root, a config without user: (or allow_root: true) is refused.
    std::ofstream(dir.File("root.yaml")) << "listen: [udp://127.0.0.1:0]\n";
    ChildProcess r;
    ASSERT_TRUE(r.Start({KonsekiBinary(), "check-config", dir.File("root.yaml")}, dir.File("cr")));
    ASSERT_TRUE(WaitFor([&] { return !r.running(); }));
    EXPECT_THAT(r.Stderr(), ::testing::HasSubstr("user"));
  }
}

TEST(CliTest, CheckRulesPassesOnTheShippedPacksAndTestRulesFindsSigns) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  ChildProcess check;
  ASSERT_TRUE(check.Start({KonsekiBinary(), "check-rules"}, dir.File("cr")));
  // check-rules compiles every pack and runs every example (~3,750): 5 s of
  // CPU, three times that on a machine loaded by other builds. The wait is
  // a hang detector, not a timing bound.
  ASSERT_TRUE(WaitFor([&] { return !check.running(); }, std::chrono::seconds(90)));
  EXPECT_THAT(check.Stdout() + check.Stderr(), ::testing::Not(::testing::HasSubstr("FAIL")));

  std::ofstream(dir.File("auth.log"))
      << "Nov 23 08:00:00 gw sshd[1]: Failed password for root from 203.0.113.5 port 22 ssh2\n"
      << "Nov 23 08:00:01 gw sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
         "COMMAND=/usr/bin/id\n"
      << "Nov 23 08:00:02 gw sshd[1]: Failed password for root from 203.0.113.5 port 22 ssh2\n";
  ChildProcess t;
  ASSERT_TRUE(
      t.Start({KonsekiBinary(), "test-rules", "--json", dir.File("auth.log")}, dir.File("tr")));
  ASSERT_TRUE(WaitFor([&] { return !t.running(); }, std::chrono::seconds(90)));
  std::string out = t.Stdout();
  size_t lines = 0;
  for (char c : out) lines += c == '\n';
  // The routine sudo line is an input only (sudo.command, alert false).
  EXPECT_EQ(lines, 3u) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("\"line\":1"));
  EXPECT_THAT(out, ::testing::HasSubstr("\"line\":2,\"rule\":\"sudo.command\""));
  EXPECT_THAT(out, ::testing::HasSubstr("\"line\":3"));
  EXPECT_THAT(out, ::testing::HasSubstr("ssh.auth_failure"));
  EXPECT_THAT(out, ::testing::HasSubstr("203.0.113.5"));

  ChildProcess v;
  ASSERT_TRUE(v.Start({KonsekiBinary(), "--version"}, dir.File("v")));
  ASSERT_TRUE(WaitFor([&] { return !v.running(); }));
  EXPECT_THAT(v.Stdout(), ::testing::StartsWith("konseki "));
}

}  // namespace
}  // namespace konseki::testing
