// A real rsyslogd (omfwd with the gtls stream driver, x509/name auth, the
// konseki.test name pinned as permitted peer) forwards messages over TLS to a
// tls:// StreamListener (TlsTransport) running in this process with a
// capturing sink. Every message must arrive exactly once; under mutual TLS
// rsyslog presents its client certificate, and one whose name is not
// permitted is refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "common/clock.h"
#include "common/metrics.h"
#include "receiver/stream_listener.h"
#include "receiver/tls_connection.h"
#include "receiver/tls_context.h"
#include "tests/integration/konseki_process.h"
#include "tests/receiver/capturing_frame_sink.h"
#include "tests/receiver/tls_test_util.h"

namespace konseki::testing {
namespace {

using receiver::CapturingFrameSink;
using receiver::ListenAddress;
using receiver::StreamListener;
using receiver::StreamListenerOptions;
using receiver::TlsContext;
using receiver::TlsOptions;
using receiver::TlsTransport;
using receiver::testing::CertFiles;
using receiver::testing::ConnectLoopback;
using receiver::testing::TestPki;

constexpr char kRsyslogd[] = "/usr/sbin/rsyslogd";

// rsyslog-gnutls installs lmnsd_gtls.so under /usr/lib/<multiarch>/rsyslog.
bool HaveGtlsDriver() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib", ec)) {
    if (std::filesystem::exists(e.path() / "rsyslog" / "lmnsd_gtls.so", ec)) return true;
  }
  return std::filesystem::exists("/usr/lib/rsyslog/lmnsd_gtls.so", ec);
}

uint16_t FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class RsyslogTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveProgram(kRsyslogd)) GTEST_SKIP() << "rsyslogd not installed (apt-get install rsyslog)";
    if (!HaveGtlsDriver()) {
      GTEST_SKIP() << "rsyslog's gtls driver not installed (apt-get install rsyslog-gnutls)";
    }
    TestPki p(dir_.path());
    ASSERT_TRUE(p.MakeCa("ca", "konseki test CA", &ca_) &&
                p.MakeLeaf("server", "konseki.test", "konseki.test", ca_, &server_) &&
                p.MakeLeaf("client", "rs1", "rs1.clients.test", ca_, &client_) &&
                p.MakeLeaf("intruder", "intruder", "intruder.other.test", ca_, &intruder_))
        << p.error();
  }

  void StartListener(bool mutual) {
    TlsOptions o;
    o.cert_file = server_.cert;
    o.key_file = server_.key;
    o.ca_file = ca_.cert;
    o.mutual = mutual;
    if (mutual) o.permitted_peers = {"*.clients.test"};
    auto ctx = TlsContext::Create(o);
    ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
    context_ = std::move(ctx).value();
    auto addr = ListenAddress::Parse("tls://127.0.0.1:0");
    ASSERT_TRUE(addr.ok());
    name_ = addr->ToString();
    auto l = StreamListener::Bind(*addr, StreamListenerOptions{}, 0, metrics_, clock_,
                                  std::make_unique<TlsTransport>(*context_, metrics_, name_));
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    listener_ = std::move(l).value();
    listener_->Start(&sink_);
  }

  // Starts rsyslogd with imtcp on a free port, forwarding over TLS to the
  // listener with `client` as its own certificate. Returns the imtcp port.
  uint16_t StartRsyslog(const CertFiles& client) { return StartRsyslog(client, listener_->port()); }
  // The same, forwarding to 127.0.0.1:target.
  uint16_t StartRsyslog(const CertFiles& client, uint16_t target) {
    const uint16_t in = FreeTcpPort();
    std::filesystem::create_directories(dir_.File("rs"));
    std::ofstream(dir_.File("rsyslog.conf"))
        << "global(workDirectory=\"" << dir_.File("rs") << "\"\n"
        << "  DefaultNetstreamDriver=\"gtls\"\n"
        << "  DefaultNetstreamDriverCAFile=\"" << ca_.cert << "\"\n"
        << "  DefaultNetstreamDriverCertFile=\"" << client.cert << "\"\n"
        << "  DefaultNetstreamDriverKeyFile=\"" << client.key << "\")\n"
        << "module(load=\"imtcp\")\n"
        << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << in << "\" ruleset=\"fwd\")\n"
        << "ruleset(name=\"fwd\") {\n"
        << "  action(type=\"omfwd\" protocol=\"tcp\" target=\"127.0.0.1\" port=\"" << target
        << "\"\n"
        << "    StreamDriver=\"gtls\" StreamDriverMode=\"1\" StreamDriverAuthMode=\"x509/name\"\n"
        << "    StreamDriverPermittedPeers=\"konseki.test\" TCP_Framing=\"octet-counted\"\n"
        << "    template=\"RSYSLOG_SyslogProtocol23Format\"\n"
        << "    action.resumeRetryCount=\"-1\" action.resumeInterval=\"1\")\n"
        << "}\n";
    EXPECT_TRUE(rsyslog_.Start(
        {kRsyslogd, "-n", "-f", dir_.File("rsyslog.conf"), "-i", dir_.File("rsyslog.pid")},
        dir_.File("rsyslogd")));
    return in;
  }

  // Sends n numbered lines into rsyslog's imtcp input.
  void SendThroughRsyslog(uint16_t in, int n, const std::string& tag) {
    int fd = -1;
    ASSERT_TRUE(WaitFor([&] { return (fd = ConnectLoopback(in)) >= 0; })) << rsyslog_.Stderr();
    std::string wire;
    for (int i = 0; i < n; ++i) {
      wire += "<13>Nov 23 08:00:00 rs-host app[1]: " + tag + " seq=" + std::to_string(i) + " end\n";
    }
    ASSERT_EQ(send(fd, wire.data(), wire.size(), MSG_NOSIGNAL), static_cast<ssize_t>(wire.size()));
    close(fd);
  }

  void ExpectEachOnce(int n, const std::string& tag) {
    std::map<std::string, int> seen;
    for (const auto& f : sink_.frames()) {
      const size_t at = f.bytes.find(tag + " seq=");
      if (at == std::string::npos) continue;
      const size_t end = f.bytes.find(" end", at);
      ASSERT_NE(end, std::string::npos) << f.bytes;
      ++seen[f.bytes.substr(at, end + 4 - at)];
      // RFC 5424 on the wire, as the template says. The template ends the
      // message with LF inside the octet count: framing, dropped (as
      // rsyslog's receiver does), not archived as "#012".
      EXPECT_EQ(f.bytes.rfind("<13>1 ", 0), 0u) << f.bytes;
      EXPECT_NE(f.bytes.back(), '\n') << f.bytes;
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ((seen[tag + " seq=" + std::to_string(i) + " end"]), 1) << i;
    }
  }

  void TearDown() override {
    if (rsyslog_.running()) rsyslog_.Signal(SIGTERM);
    if (listener_) listener_->Stop();
  }

  double Metric(const std::string& name, const std::string& reason = "") {
    Labels l = {{"listener", name_}};
    if (!reason.empty()) l.emplace_back("reason", reason);
    return metrics_.ValueOf(name, l);
  }

  TempDir dir_;
  CertFiles ca_, server_, client_, intruder_;
  SystemClock clock_;
  MetricsRegistry metrics_;
  CapturingFrameSink sink_;
  std::unique_ptr<TlsContext> context_;
  std::unique_ptr<StreamListener> listener_;
  std::string name_;
  ChildProcess rsyslog_;
};

TEST_F(RsyslogTlsTest, OmfwdGtlsOctetCountedArrivesExactlyOnce) {
  StartListener(/*mutual=*/false);
  const uint16_t in = StartRsyslog(client_);
  const int kCount = 2000;
  SendThroughRsyslog(in, kCount, "via=tls");
  ASSERT_TRUE(sink_.WaitForCount(kCount, std::chrono::seconds(15))) << sink_.count() << "\n"
                                                                    << rsyslog_.Stderr();
  ExpectEachOnce(kCount, "via=tls");
  EXPECT_GE(Metric("konseki_tls_handshakes_total"), 1);
}

TEST_F(RsyslogTlsTest, MutualAuthAcceptsRsyslogClientCertificate) {
  StartListener(/*mutual=*/true);
  const uint16_t in = StartRsyslog(client_);
  const int kCount = 1000;
  SendThroughRsyslog(in, kCount, "via=mtls");
  ASSERT_TRUE(sink_.WaitForCount(kCount, std::chrono::seconds(15))) << sink_.count() << "\n"
                                                                    << rsyslog_.Stderr();
  ExpectEachOnce(kCount, "via=mtls");
  EXPECT_EQ(Metric("konseki_tls_handshake_failures_total", "no_peer_cert"), 0);
  EXPECT_EQ(Metric("konseki_tls_handshake_failures_total", "peer_not_permitted"), 0);
}

TEST_F(RsyslogTlsTest, MutualAuthRefusesRsyslogWithNameNotPermitted) {
  StartListener(/*mutual=*/true);
  const uint16_t in = StartRsyslog(intruder_);
  SendThroughRsyslog(in, 10, "via=intruder");
  ASSERT_TRUE(WaitFor([&] {
    return Metric("konseki_tls_handshake_failures_total", "peer_not_permitted") >= 1;
  })) << rsyslog_.Stderr();
  EXPECT_EQ(sink_.count(), 0u);
}

// The konseki binary with `allow:` on its tls:// listener: rsyslogd from an
// address outside the list is closed before the handshake (counted and
// alerted, nothing archived); from an allowed address all of it is archived.
class RsyslogTlsAllowTest : public RsyslogTlsTest {
 protected:
  void StartKonseki(const std::string& allow) {
    if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
    std::string err;
    ASSERT_TRUE(konseki_.Start(dir_,
                               "listen: [{uri: 'tls://127.0.0.1:0', allow: [" + allow +
                                   "]}]\n"
                                   "tls: {cert_file: " +
                                   server_.cert + ", key_file: " + server_.key +
                                   "}\n"
                                   "archive: {dir: " +
                                   dir_.File("archive") +
                                   "}\nalerts: {file: " + dir_.File("alerts.jsonl") +
                                   ", stdout: false}\nmetrics: {listen: '127.0.0.1:0'}\n",
                               &err))
        << err;
  }
  std::string Alerts() { return ReadFile(dir_.File("alerts.jsonl")); }

  Konseki konseki_;
};

TEST_F(RsyslogTlsAllowTest, RsyslogOutsideTheAllowListIsRefusedBeforeTheHandshake) {
  StartKonseki("192.0.2.0/24");
  const uint16_t in = StartRsyslog(client_, static_cast<uint16_t>(konseki_.Port("tls")));
  SendThroughRsyslog(in, 10, "via=refused");
  // rsyslog keeps retrying (resumeRetryCount -1): wait for a second
  // refusals, each counted, all under one alert (one per address per minute).
  std::string metrics;
  ASSERT_TRUE(WaitFor([&] {
    metrics = FetchMetrics(konseki_.MetricsPort());
    return SumMetric(metrics, "konseki_refused_senders_total", "transport=\"tls\"") >= 2;
  })) << metrics
      << rsyslog_.Stderr();
  EXPECT_EQ(SumMetric(metrics, "konseki_tls_handshakes_total"), 0) << metrics;
  EXPECT_EQ(SumMetric(metrics, "konseki_tls_handshake_failures_total"), 0) << metrics;
  EXPECT_EQ(SumMetric(metrics, "konseki_received_messages_total"), 0) << metrics;
  size_t alerts = 0;
  std::istringstream lines(Alerts());
  for (std::string l; std::getline(lines, l);) {
    if (l.find("\"sign\":\"receiver.refused\"") == std::string::npos) continue;
    ++alerts;
    EXPECT_NE(l.find("\"src_ip\":\"127.0.0.1\""), std::string::npos) << l;
    EXPECT_NE(l.find("\"transport\":\"tls\""), std::string::npos) << l;
  }
  EXPECT_EQ(alerts, 1u) << Alerts();
  EXPECT_TRUE(ArchiveLines(dir_.File("archive"), "rs-host").empty());
  EXPECT_TRUE(konseki_.process().running());
}

TEST_F(RsyslogTlsAllowTest, RsyslogInsideTheAllowListIsArchivedExactlyOnce) {
  StartKonseki("'127.0.0.0/8', '::1/128'");
  const uint16_t in = StartRsyslog(client_, static_cast<uint16_t>(konseki_.Port("tls")));
  const int kCount = 500;
  SendThroughRsyslog(in, kCount, "via=allowed");
  const std::string archive = dir_.File("archive");
  ASSERT_TRUE(WaitFor([&] { return CountInArchive(archive, "rs-host", "via=allowed") >= kCount; }))
      << CountInArchive(archive, "rs-host", "via=allowed") << "\n"
      << rsyslog_.Stderr();
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(CountInArchive(archive, "rs-host", "via=allowed seq=" + std::to_string(i) + " end"),
              1u)
        << i;
  }
  EXPECT_EQ(Alerts().find("receiver.refused"), std::string::npos) << Alerts();
}

}  // namespace
}  // namespace konseki::testing
