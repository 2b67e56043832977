// A real rsyslogd, started by the test with its own config in a temp dir,
// forwards to konseki with omfwd: TCP octet-counted RFC 5424 and UDP in the
// traditional format. Every message must land in the archive once, under the
// host name it was written with.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

constexpr char kRsyslogd[] = "/usr/sbin/rsyslogd";

class RsyslogForwardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
    if (!HaveProgram(kRsyslogd)) GTEST_SKIP() << "rsyslogd not installed (apt-get install rsyslog)";
  }
  // rsyslogd in the foreground on `body` (modules, inputs, rulesets), with
  // its own work directory in the test's.
  bool StartRsyslog(const std::string& body) {
    std::filesystem::create_directories(dir_.File("rs"));
    std::ofstream(dir_.File("rsyslog.conf"))
        << "global(workDirectory=\"" << dir_.File("rs") << "\")\n"
        << body;
    return rs_.Start(
        {kRsyslogd, "-n", "-f", dir_.File("rsyslog.conf"), "-i", dir_.File("rsyslog.pid")},
        dir_.File("rsyslogd"));
  }

  // konseki on one TCP listener, its alerts in `alerts`.
  bool StartKonsekiOnTcp(const std::string& alerts) {
    return k_.Start(dir_,
                    "listen: ['tcp://127.0.0.1:0']\narchive: {dir: " + dir_.File("archive") +
                        "}\nalerts: {file: " + alerts +
                        ", stdout: false}\nmetrics: {listen: ''}\n"
                        "heartbeat: {state_dir: " +
                        dir_.File("state") + "}\n",
                    &err_);
  }

  TempDir dir_;
  Konseki k_;
  std::string err_;
  ChildProcess rs_;
};

TEST_F(RsyslogForwardTest, OmfwdTcpOctetCountedAndUdpTraditionalArriveOnce) {
  ASSERT_TRUE(k_.Start(dir_,
                       // The allow lists let the local rsyslogd in (see the
                       // refusal test below for the other side).
                       "listen:\n"
                       "  - {uri: 'udp://127.0.0.1:0', allow: [127.0.0.0/8]}\n"
                       "  - {uri: 'tcp://127.0.0.1:0', allow: ['127.0.0.1/32', '::1/128']}\n"
                       "archive: {dir: " +
                           dir_.File("archive") +
                           "}\n"
                           "alerts: {stdout: false}\nmetrics: {listen: ''}\nworkers: 2\n"
                           "heartbeat: {state_dir: " +
                           dir_.File("state") + "}\n",
                       &err_))
      << err_;

  const int in_tcp = FreeTcpPort();
  const int in_udp_fwd = FreeTcpPort();
  std::ostringstream conf;
  conf << "module(load=\"imtcp\")\n"
       << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << in_tcp
       << "\" ruleset=\"tcpfwd\")\n"
       << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << in_udp_fwd
       << "\" ruleset=\"udpfwd\")\n"
       << "ruleset(name=\"tcpfwd\") { action(type=\"omfwd\" target=\"127.0.0.1\" port=\""
       << k_.Port("tcp")
       << "\" protocol=\"tcp\" TCP_Framing=\"octet-counted\" "
          "template=\"RSYSLOG_SyslogProtocol23Format\") }\n"
       << "ruleset(name=\"udpfwd\") { action(type=\"omfwd\" target=\"127.0.0.1\" port=\""
       << k_.Port("udp")
       << "\" protocol=\"udp\" template=\"RSYSLOG_TraditionalForwardFormat\") }\n";
  ASSERT_TRUE(StartRsyslog(conf.str()));
  int a = -1, b = -1;
  ASSERT_TRUE(WaitFor([&] {
    if (a < 0) a = ConnectTcp(in_tcp);
    if (b < 0) b = ConnectTcp(in_udp_fwd);
    return a >= 0 && b >= 0;
  })) << rs_.Stderr();

  const int kCount = 500;
  std::string to_tcp, to_udp;
  for (int i = 0; i < kCount; ++i) {
    to_tcp += "<13>Nov 23 08:00:00 rs-tcp-host app[1]: via=tcp seq=" + std::to_string(i) + " end\n";
    to_udp += "<13>Nov 23 08:00:00 rs-udp-host app[1]: via=udp seq=" + std::to_string(i) + " end\n";
  }
  ASSERT_EQ(send(a, to_tcp.data(), to_tcp.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(to_tcp.size()));
  // UDP has no flow control: pace it so loopback does not drop.
  for (size_t off = 0; off < to_udp.size();) {
    size_t end = to_udp.find('\n', off) + 1;
    ASSERT_GT(send(b, to_udp.data() + off, end - off, MSG_NOSIGNAL), 0);
    off = end;
    if (off % 50 == 0) usleep(1000);
  }
  close(a);
  close(b);

  const std::string archive = dir_.File("archive");
  ASSERT_TRUE(WaitFor(
      [&] {
        return CountInArchive(archive, "rs-tcp-host", "via=tcp") >= kCount &&
               CountInArchive(archive, "rs-udp-host", "via=udp") >= kCount;
      },
      std::chrono::seconds(30)))
      << "tcp " << CountInArchive(archive, "rs-tcp-host", "via=tcp") << " udp "
      << CountInArchive(archive, "rs-udp-host", "via=udp") << "\n"
      << rs_.Stderr();
  for (int i = 0; i < kCount; ++i) {
    std::string s = " seq=" + std::to_string(i) + " end";
    EXPECT_EQ(CountInArchive(archive, "rs-tcp-host", "via=tcp" + s), 1u) << i;
    EXPECT_EQ(CountInArchive(archive, "rs-udp-host", "via=udp" + s), 1u) << i;
  }
  // The RFC 5424 form really was RFC 5424 on the wire.
  EXPECT_NE(ArchiveLines(archive, "rs-tcp-host")[0].find("<13>1 "), std::string::npos)
      << ArchiveLines(archive, "rs-tcp-host")[0];
}

// rsyslog's documented forwarding templates end in "\n", which omfwd sends
// inside the octet count. That newline is framing: archived, it would be
// "#012" at the end of every line.
TEST_F(RsyslogForwardTest, TemplateNewlineInsideTheOctetCountIsNotArchived) {
  ASSERT_TRUE(k_.Start(dir_,
                       "listen: ['tcp://127.0.0.1:0']\narchive: {dir: " + dir_.File("archive") +
                           "}\nalerts: {stdout: false}\nmetrics: {listen: ''}\n"
                           "heartbeat: {state_dir: " +
                           dir_.File("state") + "}\n",
                       &err_))
      << err_;
  const int in_tcp = FreeTcpPort();
  std::ostringstream conf;
  conf << "module(load=\"imtcp\")\n"
       << "template(name=\"fwd\" type=\"string\" string=\"<%PRI%>%TIMESTAMP:::date-rfc3339% "
          "%HOSTNAME% %syslogtag:1:32%%msg:::sp-if-no-1st-sp%%msg%\\n\")\n"
       << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << in_tcp << "\" ruleset=\"fwd\")\n"
       << "ruleset(name=\"fwd\") { action(type=\"omfwd\" target=\"127.0.0.1\" port=\""
       << k_.Port("tcp")
       << "\" protocol=\"tcp\" TCP_Framing=\"octet-counted\" template=\"fwd\") }\n";
  ASSERT_TRUE(StartRsyslog(conf.str()));
  int a = -1;
  ASSERT_TRUE(WaitFor([&] { return (a = ConnectTcp(in_tcp)) >= 0; })) << rs_.Stderr();
  const int kCount = 50;
  std::string out;
  for (int i = 0; i < kCount; ++i) {
    out += "<13>Nov 23 08:00:00 rs-nl-host app[1]: seq=" + std::to_string(i) + " end\n";
  }
  ASSERT_EQ(send(a, out.data(), out.size(), MSG_NOSIGNAL), static_cast<ssize_t>(out.size()));
  close(a);
  const std::string archive = dir_.File("archive");
  ASSERT_TRUE(WaitFor([&] { return CountInArchive(archive, "rs-nl-host", " end") >= kCount; },
                      std::chrono::seconds(30)))
      << CountInArchive(archive, "rs-nl-host", " end") << "\n"
      << rs_.Stderr();
  for (const std::string& line : ArchiveLines(archive, "rs-nl-host")) {
    EXPECT_THAT(line, ::testing::EndsWith(" end")) << line;
    EXPECT_THAT(line, ::testing::Not(::testing::HasSubstr("#012"))) << line;
  }
}

TEST_F(RsyslogForwardTest, SenderOutsideTheAllowListIsRefusedAndAlerted) {
  const std::string alerts = dir_.File("alerts.jsonl");
  ASSERT_TRUE(k_.Start(dir_,
                       "listen: [{uri: 'tcp://127.0.0.1:0', allow: [192.0.2.0/24]}]\n"
                       "archive: {dir: " +
                           dir_.File("archive") +
                           "}\n"
                           "alerts: {file: " +
                           alerts + ", stdout: false}\nmetrics: {listen: ''}\n",
                       &err_))
      << err_;
  const int in_tcp = FreeTcpPort();
  std::ostringstream conf;
  conf << "module(load=\"imtcp\")\n"
       << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << in_tcp << "\" ruleset=\"fwd\")\n"
       << "ruleset(name=\"fwd\") { action(type=\"omfwd\" target=\"127.0.0.1\" port=\""
       << k_.Port("tcp") << "\" protocol=\"tcp\" TCP_Framing=\"octet-counted\") }\n";
  ASSERT_TRUE(StartRsyslog(conf.str()));
  int a = -1;
  ASSERT_TRUE(WaitFor([&] { return (a = ConnectTcp(in_tcp)) >= 0; })) << rs_.Stderr();
  const std::string line = "<13>Nov 23 08:00:00 outsider app[1]: let me in\n";
  ASSERT_EQ(send(a, line.data(), line.size(), MSG_NOSIGNAL), static_cast<ssize_t>(line.size()));
  close(a);
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(alerts).find("receiver.refused") != std::string::npos;
  })) << ReadFile(alerts)
      << rs_.Stderr();
  EXPECT_THAT(ReadFile(alerts), ::testing::HasSubstr("\"src_ip\":\"127.0.0.1\""));
  EXPECT_TRUE(ArchiveLines(dir_.File("archive"), "outsider").empty());
}

// docs/senders.md's rsyslog forwarding (RSYSLOG_SyslogProtocol23Format)
// writes "%STRUCTURED-DATA% %msg%", and the MSG of a line rsyslog read as
// RFC 3164 starts with its TAG's space: "- -  Accepted password ...". The
// rules anchored at the text's start must still see the daemon's line.
TEST_F(RsyslogForwardTest, Rfc5424TemplateOfRfc3164LinesRaisesTheAnchoredRules) {
  const std::string alerts = dir_.File("alerts.jsonl");
  ASSERT_TRUE(StartKonsekiOnTcp(alerts)) << err_;
  const int in_tcp = FreeTcpPort();
  std::ostringstream conf;
  conf << "module(load=\"imtcp\")\n"
       << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << in_tcp << "\" ruleset=\"fwd\")\n"
       << "ruleset(name=\"fwd\") { action(type=\"omfwd\" target=\"127.0.0.1\" port=\""
       << k_.Port("tcp")
       << "\" protocol=\"tcp\" TCP_Framing=\"octet-counted\" "
          "template=\"RSYSLOG_SyslogProtocol23Format\") }\n";
  ASSERT_TRUE(StartRsyslog(conf.str()));
  int a = -1;
  ASSERT_TRUE(WaitFor([&] { return (a = ConnectTcp(in_tcp)) >= 0; })) << rs_.Stderr();
  const std::string lines =
      "<38>Nov 23 08:00:00 rs5424 sshd[900]: Accepted password for www-data from 203.0.113.70 "
      "port 40000 ssh2\n"
      "<86>Nov 23 08:00:01 rs5424 useradd[901]: new user: name=backdoor, UID=0, GID=0, "
      "home=/root, shell=/bin/bash\n";
  ASSERT_EQ(send(a, lines.data(), lines.size(), MSG_NOSIGNAL), static_cast<ssize_t>(lines.size()));
  close(a);
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string got = ReadFile(alerts);
        return got.find("\"sign\":\"login.system_account\"") != std::string::npos &&
               got.find("\"rule\":\"accounts.uid0_account\"") != std::string::npos;
      },
      std::chrono::seconds(30)))
      << ReadFile(alerts) << rs_.Stderr();
  // It was the two-space form on the wire. Alerts go out as the lines are
  // matched, the archive at its next flush: wait for it.
  std::vector<std::string> archived;
  ASSERT_TRUE(WaitFor([&] {
    archived = ArchiveLines(dir_.File("archive"), "rs5424");
    return !archived.empty();
  }));
  EXPECT_THAT(archived[0], ::testing::HasSubstr(" - -  Accepted password")) << archived[0];
}

// rsyslog's imfile tailing an auth.log and forwarding it with a tag: each
// file line, header and all, arrives as the text of rsyslog's own message.
// The rules must still see sshd's line (program, pid, text): a brute force in
// the file is an ssh.bruteforce on the host.
TEST_F(RsyslogForwardTest, ImfileForwardedAuthLogIsReadAsSshdsLines) {
  const std::string alerts = dir_.File("alerts.jsonl");
  ASSERT_TRUE(StartKonsekiOnTcp(alerts)) << err_;
  {
    std::ofstream log(dir_.File("auth.log"));
    for (int i = 0; i < 10; ++i) {
      log << "Nov 23 08:00:0" << i << " filehost sshd[" << 700 + i
          << "]: Failed password for root from 203.0.113.61 port " << 40000 + i << " ssh2\n";
    }
  }
  std::ostringstream conf;
  conf << "module(load=\"imfile\")\n"
       << "input(type=\"imfile\" File=\"" << dir_.File("auth.log")
       << "\" Tag=\"auth:\" ruleset=\"fwd\")\n"
       << "ruleset(name=\"fwd\") { action(type=\"omfwd\" target=\"127.0.0.1\" port=\""
       << k_.Port("tcp")
       << "\" protocol=\"tcp\" TCP_Framing=\"octet-counted\" "
          "template=\"RSYSLOG_TraditionalForwardFormat\") }\n";
  ASSERT_TRUE(StartRsyslog(conf.str()));
  ASSERT_TRUE(WaitFor([&] { return ReadFile(alerts).find("ssh.bruteforce") != std::string::npos; },
                      std::chrono::seconds(30)))
      << ReadFile(alerts) << rs_.Stderr();
  EXPECT_THAT(ReadFile(alerts), ::testing::HasSubstr("\"src_ip\":\"203.0.113.61\""));
  EXPECT_THAT(ReadFile(alerts), ::testing::HasSubstr("\"program\":\"sshd\""));
  // The archive keeps what rsyslog sent: its header and tag around the line,
  // under rsyslog's host name (this machine's).
  std::string all;
  EXPECT_TRUE(WaitFor([&] {
    all.clear();
    for (const auto& host : std::filesystem::directory_iterator(dir_.File("archive"))) {
      for (const std::string& l : ArchiveLines(dir_.File("archive"), host.path().filename())) {
        all += l + "\n";
      }
    }
    return all.find("auth: Nov 23 08:00:00 filehost sshd[700]: Failed") != std::string::npos;
  })) << all;
}

}  // namespace
}  // namespace konseki::testing
