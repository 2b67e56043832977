// A real rsyslogd with immark (one MARK a second) forwards to konseki; the
// test kills it with SIGKILL (no last message) and konseki must say the host
// went silent within its threshold plus a second, then that it resumed when
// rsyslogd is started again. A clean stop (SIGTERM: "exiting on signal 15")
// must be linked to the silence that follows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/konseki_process.h"
#include "tests/testing/loopback.h"

namespace konseki::testing {
namespace {

constexpr char kRsyslogd[] = "/usr/sbin/rsyslogd";
constexpr int kThresholdSecs = 3;

std::vector<std::string> AlertsWithSign(const std::string& file, const std::string& sign) {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(file));
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("\"sign\":\"" + sign + "\"") != std::string::npos) out.push_back(line);
  }
  return out;
}

std::string Field(const std::string& json, const std::string& key) {
  std::smatch m;
  // Strings are quoted; numbers and booleans are not (outputs/alert_json.h).
  std::regex re("\"" + key + "\":(?:\"([^\"]*)\"|([^,}\"]*))");
  if (std::regex_search(json, m, re)) return m[1].matched ? m[1].str() : m[2].str();
  return "";
}

class RsyslogSender {
 public:
  RsyslogSender(const TempDir& dir, int konseki_tcp_port) : dir_(dir) {
    std::filesystem::create_directories(dir.File("rs"));
    std::ofstream(dir.File("rsyslog.conf"))
        << "global(workDirectory=\"" << dir.File("rs") << "\" processInternalMessages=\"on\")\n"
        << "module(load=\"immark\" interval=\"1\")\n"
        << "action(type=\"omfwd\" target=\"127.0.0.1\" port=\"" << konseki_tcp_port
        << "\" protocol=\"tcp\" TCP_Framing=\"octet-counted\" "
           "template=\"RSYSLOG_SyslogProtocol23Format\")\n";
  }
  bool Start() {
    proc_ = std::make_unique<ChildProcess>();
    std::filesystem::remove(dir_.File("rsyslog.pid"));
    return proc_->Start(
        {kRsyslogd, "-n", "-f", dir_.File("rsyslog.conf"), "-i", dir_.File("rsyslog.pid")},
        dir_.File("rsyslogd"));
  }
  ChildProcess& proc() { return *proc_; }

 private:
  const TempDir& dir_;
  std::unique_ptr<ChildProcess> proc_;
};

TEST(HeartbeatIntegrationTest, KilledRsyslogdIsReportedSilentThenResumed) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram(kRsyslogd)) GTEST_SKIP() << "rsyslogd not installed (apt-get install rsyslog)";
  TempDir dir;
  Konseki k;
  std::string err;
  const std::string alerts = dir.File("alerts.jsonl");
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tcp://127.0.0.1:0]\n"
                      "archive: {dir: " +
                          dir.File("archive") +
                          "}\n"
                          "alerts: {file: " +
                          alerts +
                          ", stdout: false}\n"
                          "metrics: {listen: ''}\nworkers: 2\n"
                          "heartbeat:\n  silence_after_secs: " +
                          std::to_string(kThresholdSecs) +
                          "\n  startup_grace_secs: 0\n  state_dir: " + dir.File("state") + "\n",
                      &err))
      << err;

  RsyslogSender rs(dir, k.Port("tcp"));
  ASSERT_TRUE(rs.Start());
  // Wait for a few marks so the host is known.
  std::string host;
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& l : ReadAllLines(dir.File("archive"))) {
      if (l.find("-- MARK --") != std::string::npos) return true;
    }
    return false;
  })) << rs.proc().Stderr();

  rs.proc().Kill();  // SIGKILL: no last message
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(alerts, "host.silent").empty(); },
                      std::chrono::seconds(kThresholdSecs + 10)))
      << ReadFile(alerts);
  std::string silent = AlertsWithSign(alerts, "host.silent")[0];
  // Reported within the threshold plus one second of the last message.
  int silence = std::stoi(Field(silent, "silence_secs"));
  EXPECT_GE(silence, kThresholdSecs);
  EXPECT_LE(silence, kThresholdSecs + 1) << silent;
  EXPECT_EQ(Field(silent, "preceded_by_stop"), "false");
  EXPECT_THAT(Field(silent, "last_message"), ::testing::HasSubstr("MARK"));
  EXPECT_EQ(AlertsWithSign(alerts, "host.silent").size(), 1u) << "one alert per outage";

  ASSERT_TRUE(rs.Start());
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(alerts, "host.resumed").empty(); }))
      << ReadFile(alerts);
  std::string resumed = AlertsWithSign(alerts, "host.resumed")[0];
  EXPECT_EQ(Field(resumed, "host"), Field(silent, "host"));
  EXPECT_GE(std::stod(Field(resumed, "gap_secs")), kThresholdSecs);

  // A clean stop leaves "exiting on signal 15": the silence is linked to it.
  int status = rs.proc().Signal(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_TRUE(WaitFor([&] { return AlertsWithSign(alerts, "host.silent").size() >= 2; },
                      std::chrono::seconds(kThresholdSecs + 10)))
      << ReadFile(alerts);
  std::string after_stop = AlertsWithSign(alerts, "host.silent")[1];
  EXPECT_EQ(Field(after_stop, "preceded_by_stop"), "true") << after_stop;
  EXPECT_EQ(Field(after_stop, "severity"), "critical");
  // The stop line's alert waits 60 s for a restart (pending_secs). This
  // rsyslogd's own start (the same x-pid) came seconds before its stop and
  // is no restart (fleet13): nothing answers, and the alert goes at medium.
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(alerts, "syslog.stopped").empty(); },
                      std::chrono::seconds(90)))
      << ReadFile(alerts);
  const std::string stopped = AlertsWithSign(alerts, "syslog.stopped")[0];
  EXPECT_EQ(Field(stopped, "severity"), "medium") << stopped;
  EXPECT_EQ(Field(stopped, "waited_secs"), "60") << stopped;
}

// prod18 #3 through the daemon: the log host's own wall clock set back 2 h
// and then set right (libfaketime on konseki only, the monotonic clocks
// untouched, as with `date -s`) while two hosts send with correct stamps.
// konseki says its own clock jumped, each way, and blames no sender.
TEST(HeartbeatIntegrationTest, LogHostClockStepIsKonsekiClockJumpNotTheSenders) {
  constexpr char kFaketime[] = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (access(kFaketime, R_OK) != 0) GTEST_SKIP() << "libfaketime not installed (apt faketime)";
  TempDir dir;
  const std::string ft = dir.File("faketime");
  std::ofstream(ft) << "+0\n";
  Konseki k;
  std::string err;
  const std::string alerts = dir.File("alerts.jsonl");
  ASSERT_TRUE(k.Start(
      dir,
      "listen: [udp://127.0.0.1:0]\narchive: {dir: " + dir.File("archive") +
          "}\nalerts: {file: " + alerts +
          ", stdout: false}\nmetrics: {listen: ''}\nworkers: 2\n"
          "parser: {timezone: UTC}\nheartbeat: {state_dir: " +
          dir.File("state") + "}\n",
      &err,
      {"/usr/bin/env", std::string("LD_PRELOAD=") + kFaketime, "FAKETIME_TIMESTAMP_FILE=" + ft,
       "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1"}))
      << err;
  const int port = k.Port("udp");
  int n = 0;
  // Both hosts, stamped with the real time (this process is not faked).
  auto send_for = [&](std::chrono::milliseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
      const auto now = std::chrono::system_clock::now();
      const time_t t = std::chrono::system_clock::to_time_t(now);
      struct tm tm;
      gmtime_r(&t, &tm);
      char stamp[32];
      strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
      for (const char* host : {"alpha", "beta"}) {
        SendUdp(port, std::string("<13>1 ") + stamp + " " + host + " app - - - tick " +
                          std::to_string(n));
      }
      ++n;
      usleep(100'000);
    }
  };
  auto steps = [&] { return AlertsWithSign(alerts, "konseki.clock_jump"); };
  send_for(std::chrono::milliseconds(2000));
  std::ofstream(ft, std::ios::trunc) << "-7200\n";
  send_for(std::chrono::milliseconds(3000));
  ASSERT_TRUE(WaitFor([&] { return steps().size() >= 1; })) << ReadFile(alerts);
  std::ofstream(ft, std::ios::trunc) << "+0\n";
  send_for(std::chrono::milliseconds(3000));
  ASSERT_TRUE(WaitFor([&] { return steps().size() >= 2; })) << ReadFile(alerts);
  send_for(std::chrono::milliseconds(1000));
  const std::vector<std::string> s = steps();
  ASSERT_EQ(s.size(), 2u) << ReadFile(alerts);
  EXPECT_EQ(Field(s[0], "severity"), "high");
  EXPECT_EQ(Field(s[0], "host"), "konseki");
  EXPECT_EQ(Field(s[0], "kind"), "back");
  EXPECT_NEAR(std::stoi(Field(s[0], "jump_secs")), 7200, 1) << s[0];
  EXPECT_EQ(Field(s[1], "kind"), "forward");
  EXPECT_TRUE(AlertsWithSign(alerts, "host.clock_jump").empty()) << ReadFile(alerts);
  EXPECT_NE(k.process().Stderr().find("own clock jumped back by"), std::string::npos);
}

// Through the whole server (rules, worker, heartbeat): one host announces a
// reboot (systemd-logind) before its rsyslogd stops, another only stops.
// The first silence is planned (medium), the second critical.
TEST(HeartbeatIntegrationTest, AnnouncedRebootMakesTheSilenceThatFollowsPlanned) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  Konseki k;
  std::string err;
  const std::string alerts = dir.File("alerts.jsonl");
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tcp://127.0.0.1:0]\narchive: {dir: " + dir.File("archive") +
                          "}\nalerts: {file: " + alerts +
                          ", stdout: false}\nmetrics: {listen: ''}\nworkers: 2\n"
                          "heartbeat:\n  silence_after_secs: " +
                          std::to_string(kThresholdSecs) +
                          "\n  startup_grace_secs: 0\n  state_dir: " + dir.File("state") + "\n",
                      &err))
      << err;
  std::string wire;
  for (const std::string host : {"node1", "node2"}) {
    wire += "<30>Dec  4 10:00:00 " + host + " systemd[1]: Started Session 4 of User alice.\n";
  }
  wire += "<38>Dec  4 10:00:01 node1 systemd-logind[712]: System is rebooting.\n";
  for (const std::string host : {"node1", "node2"}) {
    wire += "<46>Dec  4 10:00:02 " + host +
            " rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"601\" "
            "x-info=\"https://www.rsyslog.com\"] exiting on signal 15.\n";
  }
  const int fd = ConnectTcp(k.Port("tcp"));
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, wire));
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return AlertsWithSign(alerts, "host.silent").size() >= 2; },
                      std::chrono::seconds(kThresholdSecs + 10)))
      << ReadFile(alerts);
  for (const std::string& a : AlertsWithSign(alerts, "host.silent")) {
    EXPECT_EQ(Field(a, "preceded_by_stop"), "true") << a;
    if (Field(a, "host") == "node1") {
      EXPECT_EQ(Field(a, "severity"), "medium") << a;
      EXPECT_EQ(Field(a, "planned_shutdown"), "true") << a;
      EXPECT_THAT(Field(a, "shutdown_message"), ::testing::HasSubstr("System is rebooting."));
    } else {
      EXPECT_EQ(Field(a, "host"), "node2") << a;
      EXPECT_EQ(Field(a, "severity"), "critical") << a;
      EXPECT_EQ(Field(a, "planned_shutdown"), "false") << a;
    }
  }
}

// Through the whole server: an intruder logs in as root from outside and
// kill -9s the logger (no stop line): the silence is critical, "after" the
// login's alert; a host that only stops is high.
TEST(HeartbeatIntegrationTest, ASilenceSoonAfterARootLoginFromOutsideIsCritical) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  Konseki k;
  std::string err;
  const std::string alerts = dir.File("alerts.jsonl");
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tcp://127.0.0.1:0]\narchive: {dir: " + dir.File("archive") +
                          "}\nalerts: {file: " + alerts +
                          ", stdout: false}\nmetrics: {listen: ''}\nworkers: 2\n"
                          "heartbeat:\n  silence_after_secs: " +
                          std::to_string(kThresholdSecs) +
                          "\n  startup_grace_secs: 0\n  state_dir: " + dir.File("state") + "\n",
                      &err))
      << err;
  std::string wire;
  for (const std::string host : {"node3", "node4"}) {
    wire += "<30>Dec  4 10:00:00 " + host + " systemd[1]: Started Session 4 of User alice.\n";
  }
  wire +=
      "<38>Dec  4 10:00:01 node3 sshd[812]: Accepted password for root from 203.0.113.9 port "
      "50022 ssh2\n";
  const int fd = ConnectTcp(k.Port("tcp"));
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, wire));
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return AlertsWithSign(alerts, "host.silent").size() >= 2; },
                      std::chrono::seconds(kThresholdSecs + 10)))
      << ReadFile(alerts);
  for (const std::string& a : AlertsWithSign(alerts, "host.silent")) {
    EXPECT_EQ(Field(a, "preceded_by_stop"), "false") << a;
    if (Field(a, "host") == "node3") {
      EXPECT_EQ(Field(a, "severity"), "critical") << a;
      EXPECT_FALSE(Field(a, "after_alert").empty()) << a;
      EXPECT_THAT(Field(a, "title"), ::testing::HasSubstr(" after ")) << a;
    } else {
      EXPECT_EQ(Field(a, "host"), "node4") << a;
      EXPECT_EQ(Field(a, "severity"), "high") << a;
      EXPECT_EQ(Field(a, "after_alert"), "") << a;
    }
  }
}

// The fleet tester's S10: a host that sends a line every half second, then
// 50,000 lines as fast as TCP takes them, then its usual line again: one
// host.flood (medium) naming the counts; the quiet host beside it and the
// busy host at its usual rate raise none.
TEST(HeartbeatIntegrationTest, AHostFloodingFarAboveItsUsualRateIsOneFloodAlert) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  Konseki k;
  std::string err;
  const std::string alerts = dir.File("alerts.jsonl");
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tcp://127.0.0.1:0]\narchive: {dir: " + dir.File("archive") +
                          "}\nalerts: {file: " + alerts +
                          ", stdout: false}\nmetrics: {listen: ''}\nworkers: 2\n"
                          "heartbeat:\n  flood_window_secs: 2\n  flood_min_messages: 20000\n"
                          "  state_dir: " +
                          dir.File("state") + "\n",
                      &err))
      << err;
  const int fd = ConnectTcp(k.Port("tcp"));
  ASSERT_GE(fd, 0);
  const std::string chatty =
      "<86>Dec  6 00:44:00 chatty su(pam_unix)[21416]: session opened for user cyrus by (uid=0)\n";
  std::string busy;
  for (int i = 0; i < 500; ++i)
    busy += "<30>Dec  6 00:44:00 busy app[7]: request " + std::to_string(i) + "\n";
  // Five seconds of history: chatty twice a second, busy 1,000 a second.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(SendAll(fd, chatty + "<30>Dec  6 00:44:00 quiet cron[9]: tick\n" + busy));
    usleep(500 * 1000);
  }
  std::string flood;
  for (int i = 0; i < 50000; ++i) flood += chatty;
  ASSERT_TRUE(SendAll(fd, flood));
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(SendAll(fd, chatty + busy));
    usleep(500 * 1000);
  }
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(alerts, "host.flood").empty(); },
                      std::chrono::seconds(10)))
      << ReadFile(alerts);
  close(fd);
  // Let a second window pass: no second alert for the same flood.
  usleep(2500 * 1000);
  const auto floods = AlertsWithSign(alerts, "host.flood");
  ASSERT_EQ(floods.size(), 1u) << ReadFile(alerts);
  EXPECT_EQ(Field(floods[0], "host"), "chatty");
  EXPECT_EQ(Field(floods[0], "severity"), "medium");
  EXPECT_EQ(Field(floods[0], "rule"), "heartbeat.flood");
  EXPECT_GE(std::stoi(Field(floods[0], "messages")), 20000) << floods[0];
  EXPECT_GT(std::stod(Field(floods[0], "times_usual")), 50) << floods[0];
  EXPECT_THAT(Field(floods[0], "title"), ::testing::HasSubstr("chatty is flooding")) << floods[0];
  // `konseki status` names it for the hour, once the hosts' snapshot is
  // refreshed (every 10 s).
  std::string status;
  const std::string command = KonsekiBinary() + " status -c " + dir.File("konseki.yaml") + " 2>&1";
  EXPECT_TRUE(WaitFor(
      [&] {
        status.clear();
        FILE* p = popen(command.c_str(), "r");
        if (p == nullptr) return false;
        char buf[4096];
        for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) status.append(buf, n);
        return pclose(p) == 0 &&
               status.find("1 flooded in the last hour: chatty") != std::string::npos;
      },
      std::chrono::seconds(30)))
      << status;
}

// RFC 3339 UTC stamp of t, to the second.
std::string Stamp(std::chrono::system_clock::time_point t) {
  const time_t secs = std::chrono::system_clock::to_time_t(t);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// live21 F2: rsyslog's forwarder says its action was suspended when konseki
// stops; with a queue it delivers that line (and every other) once konseki
// is back. Stamped while konseki itself was down, it is konseki's own
// restart seen from the sender: low, saying so. The same line stamped
// before the downtime is a loss konseki did not cause: medium.
TEST(HeartbeatIntegrationTest, ASuspendedForwardStampedWhileKonsekiWasDownIsLow) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string alerts = dir.File("alerts.jsonl");
  const std::string config = "listen: [udp://127.0.0.1:0]\n" + ArchiveAndAlertsConfig(dir) +
                             "metrics: {listen: ''}\nworkers: 1\n"
                             "heartbeat:\n  state_dir: " +
                             dir.File("state") + "\n";
  std::string err;
  {
    Konseki first;
    ASSERT_TRUE(first.Start(dir, config, &err)) << err;
    SendUdp(first.Port("udp"), "<78>1 " + Stamp(std::chrono::system_clock::now()) +
                                   " app1 CRON 3066 - - (root) CMD (run-parts /etc/cron.hourly)");
    ASSERT_TRUE(WaitFor([&] { return CountInArchive(dir.File("archive"), "app1", "CMD") == 1; }));
    ASSERT_EQ(first.process().Signal(SIGTERM), 0);  // saves the heartbeat state
  }
  const auto down = std::chrono::system_clock::now();
  // Its own folder for the config and the log (Port reads the log): the
  // archive and the state are the first one's.
  TempDir run2;
  Konseki second;
  ASSERT_TRUE(second.Start(run2, config, &err)) << err;
  const std::string suspended =
      " app1 rsyslogd - - - action 'action-0-builtin:omfwd' suspended (module "
      "'builtin:omfwd'), retry 0. There should be messages before this one giving the reason for "
      "suspension. [v8.2302.0 try https://www.rsyslog.com/e/2007 ]";
  SendUdp(second.Port("udp"), "<43>1 " + Stamp(down) + suspended);
  ASSERT_TRUE(WaitFor([&] { return AlertsWithSign(alerts, "log.lost").size() == 1; }))
      << ReadFile(alerts);
  // An hour before konseki stopped: the forwarder's own trouble, delivered late.
  SendUdp(second.Port("udp"), "<43>1 " + Stamp(down - std::chrono::hours(1)) + suspended);
  ASSERT_TRUE(WaitFor([&] { return AlertsWithSign(alerts, "log.lost").size() == 2; }))
      << ReadFile(alerts);
  const std::vector<std::string> lost = AlertsWithSign(alerts, "log.lost");
  EXPECT_EQ(Field(lost[0], "severity"), "low") << lost[0];
  EXPECT_EQ(Field(lost[0], "konseki_down"), "true") << lost[0];
  EXPECT_THAT(Field(lost[0], "title"), ::testing::HasSubstr("while konseki itself was down"));
  EXPECT_NE(Field(lost[0], "konseki_down_from"), "");
  EXPECT_EQ(Field(lost[1], "severity"), "medium") << lost[1];
  EXPECT_EQ(Field(lost[1], "konseki_down"), "") << lost[1];
}

// live21 F4 with real peers: a relay rsyslogd (imtcp in, omfwd TCP out, its
// own host name relay1, no immark) forwards three hosts to konseki. Its own
// logging goes quiet while it forwards: relay1's silence is low, the relay
// alive. Then it is killed (SIGKILL): h1..h3 stop in the same second, each
// host.silent names the other two, and one host.relay_silent names them.
TEST(HeartbeatIntegrationTest, HostsBehindAKilledRelayAreLinkedAndTheRelayNamedOnce) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram(kRsyslogd)) GTEST_SKIP() << "rsyslogd not installed (apt-get install rsyslog)";
  TempDir dir;
  Konseki k;
  std::string err;
  const std::string alerts = dir.File("alerts.jsonl");
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tcp://127.0.0.1:0]\n" + ArchiveAndAlertsConfig(dir) +
                          "metrics: {listen: ''}\nworkers: 2\n"
                          "heartbeat:\n  silence_after_secs: 3\n  startup_grace_secs: 0\n"
                          "  metrics_interval_secs: 0.5\n  same_sender_secs: 2\n"
                          "  overrides: [{host: relay1, silence_after_secs: 8}]\n"
                          "  state_dir: " +
                          dir.File("state") +
                          "\ncorrelation:\n  host_addresses: {relay1: [127.0.0.1]}\n",
                      &err))
      << err;

  const int relay_in = FreeTcpPort();
  std::filesystem::create_directories(dir.File("rs"));
  std::ofstream(dir.File("relay.conf"))
      << "global(workDirectory=\"" << dir.File("rs")
      << "\" processInternalMessages=\"on\" localHostname=\"relay1\")\n"
      << "module(load=\"imtcp\")\n"
      << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << relay_in << "\")\n"
      << "action(type=\"omfwd\" target=\"127.0.0.1\" port=\"" << k.Port("tcp")
      << "\" protocol=\"tcp\" TCP_Framing=\"octet-counted\" "
         "template=\"RSYSLOG_SyslogProtocol23Format\")\n";
  ChildProcess relay;
  ASSERT_TRUE(
      relay.Start({kRsyslogd, "-n", "-f", dir.File("relay.conf"), "-i", dir.File("relay.pid")},
                  dir.File("relay")));
  std::vector<int> fds;
  for (int h = 0; h < 3; ++h) {
    int fd = -1;
    ASSERT_TRUE(WaitFor([&] { return (fd = ConnectTcp(relay_in)) >= 0; })) << relay.Stderr();
    fds.push_back(fd);
  }
  // The three hosts log every 300 ms (RFC 5424, their own names) until
  // the relay is gone.
  std::atomic<bool> stop{false};
  std::thread hosts([&] {
    for (int n = 0; !stop.load(); ++n) {
      char stamp[32];
      const time_t now = time(nullptr);
      struct tm tm;
      gmtime_r(&now, &tm);
      strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
      for (int h = 0; h < 3; ++h) {
        const std::string line = "<14>1 " + std::string(stamp) + " h" + std::to_string(h + 1) +
                                 " app 100 - - tick " + std::to_string(n) + "\n";
        if (!SendAll(fds[h], line)) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // pacing
    }
  });
  struct Join {
    std::atomic<bool>& stop;
    std::thread& t;
    std::vector<int>& fds;
    ~Join() {
      stop.store(true);
      if (t.joinable()) t.join();
      for (int fd : fds) close(fd);
    }
  } join{stop, hosts, fds};

  // relay1 said only its start line; its forwarding goes on.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const std::string& a : AlertsWithSign(alerts, "host.silent")) {
          if (Field(a, "host") == "relay1") return true;
        }
        return false;
      },
      std::chrono::seconds(30)))
      << ReadFile(alerts) << relay.Stderr();
  std::string own;
  for (const std::string& a : AlertsWithSign(alerts, "host.silent")) {
    if (Field(a, "host") == "relay1") own = a;
  }
  EXPECT_EQ(Field(own, "severity"), "low") << own;
  EXPECT_EQ(Field(own, "sender_alive"), "true") << own;
  EXPECT_EQ(Field(own, "sender_alive_hosts"), "3") << own;
  EXPECT_EQ(Field(own, "sender_host"), "relay1") << own;
  EXPECT_TRUE(AlertsWithSign(alerts, "host.relay_silent").empty()) << ReadFile(alerts);

  relay.Kill();  // SIGKILL: the relay and everything behind it stop at once
  ASSERT_TRUE(WaitFor([&] { return AlertsWithSign(alerts, "host.silent").size() >= 4; },
                      std::chrono::seconds(20)))
      << ReadFile(alerts);
  ASSERT_TRUE(WaitFor([&] { return !AlertsWithSign(alerts, "host.relay_silent").empty(); },
                      std::chrono::seconds(5)))
      << ReadFile(alerts);
  for (const std::string& a : AlertsWithSign(alerts, "host.silent")) {
    const std::string host = Field(a, "host");
    if (host == "relay1") continue;
    EXPECT_EQ(Field(a, "severity"), "high") << a;
    EXPECT_EQ(Field(a, "same_sender_silent_count"), "2") << a;
    EXPECT_EQ(Field(a, "sender_alive"), "false") << a;
    EXPECT_EQ(Field(a, "same_sender_silent").find(host), std::string::npos) << a;
  }
  const auto relay_alerts = AlertsWithSign(alerts, "host.relay_silent");
  ASSERT_EQ(relay_alerts.size(), 1u) << ReadFile(alerts);
  EXPECT_EQ(Field(relay_alerts[0], "host"), "relay1") << relay_alerts[0];
  EXPECT_EQ(Field(relay_alerts[0], "severity"), "high") << relay_alerts[0];
  EXPECT_EQ(Field(relay_alerts[0], "hosts"), "h1, h2, h3") << relay_alerts[0];
  EXPECT_EQ(Field(relay_alerts[0], "host_count"), "3") << relay_alerts[0];
}

}  // namespace
}  // namespace konseki::testing
