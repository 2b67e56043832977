// SyslogForwarder: RFC 5424 formatting, delivery over real UDP and TCP
// sockets the test binds on loopback, and a real rsyslogd parsing it.
#include "outputs/syslog_forwarder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libfastjson/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/json_fields.h"
#include "tests/testing/sample_alert.h"
#include "tests/testing/stop_child.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait_for.h"

extern char** environ;

namespace konseki::outputs {
namespace {

using konseki::testing::JsonString;
using konseki::testing::SampleAlert;
using konseki::testing::WaitFor;

using ::testing::HasSubstr;
using ::testing::StartsWith;

// --- RFC 5424 formatting ------------------------------------------------------

TEST(SyslogFormatTest, BuildsAnRfc5424LineWithStructuredDataAndJsonMsg) {
  SyslogForwarderOptions options;
  options.facility = 10;  // authpriv
  Alert a = SampleAlert();
  a.host = "evil\"]host\\\nx";
  const std::string line = FormatSyslog5424(a, "{\"k\":1}", options, "collector box", "77");
  // PRI 10*8 + 3 (high → err) = 83; hostname space replaced; SD values escaped.
  EXPECT_EQ(line,
            "<83>1 2023-11-14T22:13:20.123456Z collector_box konseki 77 alert "
            "[konseki@32473 sign=\"ssh.login\" rule=\"ssh-accepted\" severity=\"high\" "
            "host=\"evil\\\"\\]host\\\\?x\"] {\"k\":1}");
}

TEST(SyslogFormatTest, MapsEverySeverity) {
  SyslogForwarderOptions options;
  options.facility = 16;  // local0 = 128
  const std::pair<Severity, const char*> cases[] = {{Severity::kCritical, "<130>"},
                                                    {Severity::kHigh, "<131>"},
                                                    {Severity::kMedium, "<132>"},
                                                    {Severity::kLow, "<133>"},
                                                    {Severity::kInfo, "<134>"}};
  for (const auto& [sev, pri] : cases) {
    Alert a = SampleAlert();
    a.severity = sev;
    EXPECT_THAT(FormatSyslog5424(a, "{}", options, "h", "1"), StartsWith(pri));
  }
}

TEST(SyslogForwarderTest, CreateRejectsImpossibleOptions) {
  MetricsRegistry registry;
  SyslogForwarderOptions o;
  EXPECT_FALSE(SyslogForwarder::Create(o, registry).ok());  // no host
  o.host = "127.0.0.1";
  o.port = 0;
  EXPECT_FALSE(SyslogForwarder::Create(o, registry).ok());
  o.port = 514;
  o.facility = 24;
  EXPECT_FALSE(SyslogForwarder::Create(o, registry).ok());
}

// --- real sockets ---------------------------------------------------------------

// A loopback socket of the given type bound to a free port.
struct Bound {
  int fd = -1;
  uint16_t port = 0;
  ~Bound() {
    if (fd >= 0) close(fd);
  }
};

void BindLoopback(int type, uint16_t port, Bound* b) {
  b->fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  ASSERT_GE(b->fd, 0);
  int yes = 1;
  setsockopt(b->fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(b->fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << strerror(errno);
  socklen_t len = sizeof a;
  getsockname(b->fd, reinterpret_cast<sockaddr*>(&a), &len);
  b->port = ntohs(a.sin_port);
  if (type == SOCK_STREAM) {
    ASSERT_EQ(listen(b->fd, 8), 0);
  }
}

// Waits up to 5 s for fd to be readable.
bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 5000) == 1;
}

std::string RecvDatagram(int fd) {
  if (!Readable(fd)) return "<timeout>";
  char buf[65536];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  return n < 0 ? "<error>" : std::string(buf, static_cast<size_t>(n));
}

// Reads RFC 6587 octet-counted frames from a stream until `count` are read.
std::vector<std::string> ReadOctetCounted(int fd, size_t count) {
  std::vector<std::string> frames;
  std::string buf;
  while (frames.size() < count) {
    size_t sp = buf.find(' ');
    if (sp != std::string::npos) {
      const size_t len = std::stoul(buf.substr(0, sp));
      if (buf.size() >= sp + 1 + len) {
        frames.push_back(buf.substr(sp + 1, len));
        buf.erase(0, sp + 1 + len);
        continue;
      }
    }
    if (!Readable(fd)) break;
    char tmp[4096];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) break;
    buf.append(tmp, static_cast<size_t>(n));
  }
  return frames;
}

std::string JsonPart(const std::string& line) {
  const size_t brace = line.find("] {");
  return brace == std::string::npos ? "" : line.substr(brace + 2);
}

TEST(SyslogForwarderTest, SendsEachAlertAsOneUdpDatagram) {
  Bound collector;
  ASSERT_NO_FATAL_FAILURE(BindLoopback(SOCK_DGRAM, 0, &collector));
  MetricsRegistry registry;
  SyslogForwarderOptions o;
  o.host = "127.0.0.1";
  o.port = collector.port;
  o.transport = SyslogTransport::kUdp;
  o.hostname = "konseki-host";
  auto fwd = SyslogForwarder::Create(o, registry);
  ASSERT_TRUE(fwd.ok()) << fwd.status().ToString();

  (*fwd)->Emit(SampleAlert("ssh-accepted"));
  (*fwd)->Emit(SampleAlert("sudo-root"));
  const std::string first = RecvDatagram(collector.fd);
  const std::string second = RecvDatagram(collector.fd);
  EXPECT_THAT(first, StartsWith("<83>1 2023-11-14T22:13:20.123456Z konseki-host konseki "));
  EXPECT_THAT(first, HasSubstr("[konseki@32473 sign=\"ssh.login\" rule=\"ssh-accepted\""));
  EXPECT_EQ(JsonString(JsonPart(first), "rule"), "ssh-accepted");
  EXPECT_EQ(JsonString(JsonPart(first), "host"), "web-1");
  EXPECT_EQ(JsonString(JsonPart(second), "rule"), "sudo-root");
  EXPECT_TRUE(WaitFor([&] {
    return registry.ValueOf("konseki_alert_deliveries_total", {{"sink", "syslog"}}) == 2;
  }));
}

TEST(SyslogForwarderTest, TcpUsesOctetCountingAndReconnectsAfterTheCollectorRestarts) {
  Bound collector;
  ASSERT_NO_FATAL_FAILURE(BindLoopback(SOCK_STREAM, 0, &collector));
  const uint16_t port = collector.port;
  MetricsRegistry registry;
  SyslogForwarderOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.transport = SyslogTransport::kTcp;
  o.initial_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(50);
  o.max_attempts = 1000;
  auto fwd = SyslogForwarder::Create(o, registry);
  ASSERT_TRUE(fwd.ok());

  (*fwd)->Emit(SampleAlert("first"));
  ASSERT_TRUE(Readable(collector.fd));
  int conn = accept(collector.fd, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  auto frames = ReadOctetCounted(conn, 1);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_THAT(frames[0], StartsWith("<83>1 "));
  EXPECT_EQ(JsonString(JsonPart(frames[0]), "rule"), "first");

  // The collector goes away: connection and listener closed.
  close(conn);
  close(collector.fd);
  collector.fd = -1;
  (*fwd)->Emit(SampleAlert("while-down"));
  ASSERT_TRUE(WaitFor([&] {
    return registry.ValueOf("konseki_alert_delivery_failures_total",
                            {{"sink", "syslog"}, {"reason", "connect"}}) >= 2;
  })) << registry.RenderPrometheus();

  // It comes back on the same port: the waiting alert arrives, then new ones.
  Bound again;
  ASSERT_NO_FATAL_FAILURE(BindLoopback(SOCK_STREAM, port, &again));
  ASSERT_TRUE(Readable(again.fd));
  conn = accept(again.fd, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  (*fwd)->Emit(SampleAlert("after"));
  frames = ReadOctetCounted(conn, 2);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(JsonString(JsonPart(frames[0]), "rule"), "while-down");
  EXPECT_EQ(JsonString(JsonPart(frames[1]), "rule"), "after");
  close(conn);
  EXPECT_TRUE(WaitFor([&] {
    return registry.ValueOf("konseki_alert_deliveries_total", {{"sink", "syslog"}}) == 3;
  }));
}

TEST(SyslogForwarderTest, GivesUpAfterMaxAttemptsAndCountsTheDrop) {
  // A TCP port nobody listens on: bind, note the port, close.
  uint16_t port;
  {
    Bound b;
    ASSERT_NO_FATAL_FAILURE(BindLoopback(SOCK_STREAM, 0, &b));
    port = b.port;
  }
  MetricsRegistry registry;
  SyslogForwarderOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.transport = SyslogTransport::kTcp;
  o.name = "syslog-dead";
  o.max_attempts = 3;
  o.initial_backoff = std::chrono::milliseconds(1);
  auto fwd = SyslogForwarder::Create(o, registry);
  ASSERT_TRUE(fwd.ok());
  (*fwd)->Emit(SampleAlert());
  ASSERT_TRUE(WaitFor([&] {
    return registry.ValueOf("konseki_alert_delivery_dropped_total",
                            {{"sink", "syslog-dead"}, {"reason", "retries_exhausted"}}) == 1;
  }));
  EXPECT_EQ(registry.ValueOf("konseki_alert_delivery_failures_total",
                             {{"sink", "syslog-dead"}, {"reason", "connect"}}),
            3);
  EXPECT_EQ(registry.ValueOf("konseki_alert_deliveries_total", {{"sink", "syslog-dead"}}), 0);
}

TEST(SyslogForwarderTest, LfFramingForOldReceivers) {
  Bound collector;
  ASSERT_NO_FATAL_FAILURE(BindLoopback(SOCK_STREAM, 0, &collector));
  MetricsRegistry registry;
  SyslogForwarderOptions o;
  o.host = "localhost";
  o.port = collector.port;
  o.transport = SyslogTransport::kTcp;
  o.octet_counting = false;
  auto fwd = SyslogForwarder::Create(o, registry);
  ASSERT_TRUE(fwd.ok());
  Alert a = SampleAlert();
  a.message = "line one\nline two";  // must not split the frame
  (*fwd)->Emit(a);
  ASSERT_TRUE(Readable(collector.fd));
  int conn = accept(collector.fd, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  std::string got;
  while (got.find('\n') == std::string::npos && Readable(conn)) {
    char tmp[4096];
    ssize_t n = recv(conn, tmp, sizeof tmp, 0);
    if (n <= 0) break;
    got.append(tmp, static_cast<size_t>(n));
  }
  close(conn);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.find('\n'), got.size() - 1);
  EXPECT_THAT(got, StartsWith("<83>1 "));
  EXPECT_EQ(JsonString(JsonPart(got.substr(0, got.size() - 1)), "message"), "line one\nline two");
}

// --- a real rsyslog parses what we send ----------------------------------

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// rsyslogd -n with its own config in a temp dir, killed by pid at the end.
class Rsyslog {
 public:
  ~Rsyslog() { konseki::testing::StopChild(pid_); }
  bool Start(uint16_t tcp_port, uint16_t udp_port) {
    if (tmp_.path().empty()) return false;
    dir_ = tmp_.path();
    std::ofstream(dir_ / "rsyslog.conf")
        << "global(workDirectory=\"" << dir_.string() << "\")\n"
        << "module(load=\"imtcp\")\nmodule(load=\"imudp\")\n"
        << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << tcp_port << "\")\n"
        << "input(type=\"imudp\" address=\"127.0.0.1\" port=\"" << udp_port << "\")\n"
        << "template(name=\"fields\" type=\"string\" string=\"%app-name%|%msgid%|"
           "%syslogfacility-text%|%syslogseverity-text%|%structured-data%|%msg%\\n\")\n"
        << "action(type=\"omfile\" file=\"" << (dir_ / "out.log").string()
        << "\" template=\"fields\")\n";
    const std::string conf = (dir_ / "rsyslog.conf").string();
    const std::string pidfile = (dir_ / "rsyslog.pid").string();
    const std::string log = (dir_ / "rsyslog.log").string();
    std::vector<std::string> argv = {"/usr/sbin/rsyslogd", "-n", "-f", conf, "-i", pidfile};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) pid_ = -1;
    return rc == 0;
  }
  // Lines rsyslog wrote so far.
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    std::stringstream ss(ReadFile(dir_ / "out.log"));
    for (std::string line; std::getline(ss, line);) lines.push_back(line);
    return lines;
  }
  std::string Log() const { return ReadFile(dir_ / "rsyslog.log"); }

 private:
  konseki::testing::TempDir tmp_;  // removed after the destructor stopped rsyslogd
  fs::path dir_;
  pid_t pid_ = -1;
};

TEST(SyslogForwarderRsyslogTest, RsyslogParsesOurRfc5424OverTcpAndUdp) {
  if (access("/usr/sbin/rsyslogd", X_OK) != 0) {
    GTEST_SKIP() << "rsyslogd not installed (Debian package rsyslog); skipping the interop test";
  }
  // Free ports: bind, note, close (rsyslog binds them right after).
  uint16_t tcp_port, udp_port;
  {
    Bound t, u;
    ASSERT_NO_FATAL_FAILURE(BindLoopback(SOCK_STREAM, 0, &t));
    ASSERT_NO_FATAL_FAILURE(BindLoopback(SOCK_DGRAM, 0, &u));
    tcp_port = t.port;
    udp_port = u.port;
  }
  Rsyslog rsyslog;
  ASSERT_TRUE(rsyslog.Start(tcp_port, udp_port));

  MetricsRegistry registry;
  SyslogForwarderOptions tcp;
  tcp.host = "127.0.0.1";
  tcp.port = tcp_port;
  tcp.transport = SyslogTransport::kTcp;
  tcp.name = "tcp";
  // rsyslog takes a moment to listen: the forwarder's reconnect covers it.
  tcp.initial_backoff = std::chrono::milliseconds(20);
  tcp.max_backoff = std::chrono::milliseconds(100);
  tcp.max_attempts = 100;
  auto tcp_fwd = SyslogForwarder::Create(tcp, registry);
  ASSERT_TRUE(tcp_fwd.ok());
  Alert a = SampleAlert("ssh-root-login");
  a.host = "db \"1\"]";  // needs SD escaping
  a.message = "Accepted publickey for root\nfrom 203.0.113.9";
  (*tcp_fwd)->Emit(a);
  ASSERT_TRUE(WaitFor([&] { return rsyslog.Lines().size() == 1; }, std::chrono::seconds(10)))
      << rsyslog.Log() << registry.RenderPrometheus();

  // UDP is fire-and-forget: send until rsyslog has one (its socket may not
  // be bound yet on the first datagrams).
  SyslogForwarderOptions udp = tcp;
  udp.port = udp_port;
  udp.transport = SyslogTransport::kUdp;
  udp.name = "udp";
  udp.facility = 16;
  auto udp_fwd = SyslogForwarder::Create(udp, registry);
  ASSERT_TRUE(udp_fwd.ok());
  Alert b = SampleAlert("sudo-root");
  b.severity = Severity::kCritical;
  ASSERT_TRUE(WaitFor(
      [&] {
        if (rsyslog.Lines().size() >= 2) return true;
        (*udp_fwd)->Emit(b);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return false;
      },
      std::chrono::seconds(10)))
      << rsyslog.Log();

  const std::vector<std::string> lines = rsyslog.Lines();
  auto fields = [](const std::string& line) {
    std::vector<std::string> f;
    size_t start = 0;
    for (int i = 0; i < 5; ++i) {
      size_t bar = line.find('|', start);
      if (bar == std::string::npos) break;
      f.push_back(line.substr(start, bar - start));
      start = bar + 1;
    }
    // The SD itself contains no '|' here; the rest is MSG.
    f.push_back(line.substr(start));
    return f;
  };
  auto t = fields(lines[0]);
  ASSERT_EQ(t.size(), 6u) << lines[0];
  EXPECT_EQ(t[0], "konseki");
  EXPECT_EQ(t[1], "alert");
  EXPECT_EQ(t[2], "authpriv");
  EXPECT_EQ(t[3], "err");
  EXPECT_EQ(t[4],
            "[konseki@32473 sign=\"ssh.login\" rule=\"ssh-root-login\" severity=\"high\" "
            "host=\"db \\\"1\\\"\\]\"]");
  EXPECT_EQ(JsonString(t[5], "rule"), "ssh-root-login") << t[5];
  EXPECT_EQ(JsonString(t[5], "host"), "db \"1\"]");
  EXPECT_EQ(JsonString(t[5], "message"), "Accepted publickey for root\nfrom 203.0.113.9");

  auto u = fields(lines[1]);
  ASSERT_EQ(u.size(), 6u) << lines[1];
  EXPECT_EQ(u[2], "local0");
  EXPECT_EQ(u[3], "crit");
  EXPECT_EQ(JsonString(u[5], "rule"), "sudo-root") << u[5];
}

}  // namespace
}  // namespace konseki::outputs
