// A real rsyslogd forwards with omrelp to the konseki binary:
//  - over TLS (tls="on", tls.authmode="name" pinning konseki.test, its own
//    client certificate for konseki's mutual TLS), with each TLS library
//    librelp offers: every numbered message is archived exactly once;
//  - with a client certificate whose name konseki does not permit: refused in
//    the handshake (counted), nothing archived;
//  - plain RELP from 127.0.0.1 to a listener that allows only 10.0.0.0/8:
//    refused, counted and alerted as receiver.refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/konseki_process.h"
#include "tests/receiver/tls_test_util.h"

namespace konseki::testing {
namespace {

using receiver::testing::CertFiles;
using receiver::testing::TestPki;

constexpr char kRsyslogd[] = "/usr/sbin/rsyslogd";
constexpr char kOmrelp[] = "/usr/lib/x86_64-linux-gnu/rsyslog/omrelp.so";
constexpr char kHost[] = "relptls-host";
// With port 0 in the config, this is the listener's metric label.
constexpr char kListener[] = "relp+tls://127.0.0.1:0";
const std::string kListenerLabel = "listener=\"" + std::string(kListener) + "\"";

class RsyslogRelpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
    if (!HaveProgram(kRsyslogd)) GTEST_SKIP() << "rsyslogd not installed (apt-get install rsyslog)";
    if (!std::filesystem::exists(kOmrelp)) {
      GTEST_SKIP() << "omrelp not installed (apt-get install rsyslog-relp)";
    }
    std::filesystem::create_directories(dir_.File("pki"));
    TestPki p(dir_.File("pki"));
    ASSERT_TRUE(p.MakeCa("ca", "konseki test CA", &ca_) &&
                p.MakeLeaf("server", "konseki.test", "konseki.test", ca_, &server_) &&
                p.MakeLeaf("client", "rs1", "rs1.clients.test", ca_, &client_) &&
                p.MakeLeaf("intruder", "intruder", "intruder.other.test", ca_, &intruder_))
        << p.error();
  }
  void TearDown() override {
    if (rsyslog_.running()) rsyslog_.Signal(SIGTERM);
  }

  // konseki with one listener (a YAML flow item) and the mutual TLS section.
  void StartKonseki(const std::string& listen_item) {
    std::string err;
    ASSERT_TRUE(konseki_.Start(
        dir_,
        "listen: [" + listen_item +
            "]\n"
            "tls:\n"
            "  cert_file: " +
            server_.cert + "\n  key_file: " + server_.key + "\n  ca_file: " + ca_.cert +
            "\n  mutual: true\n"
            "  permitted_peers: ['*.clients.test']\n"
            "archive: {dir: " +
            dir_.File("archive") + "}\nalerts: {file: " + dir_.File("alerts.jsonl") +
            ", stdout: false}\n"
            "metrics: {listen: '127.0.0.1:0'}\nworkers: 2\n",
        &err))
        << err;
  }

  // rsyslogd: imtcp on a free port into omrelp to konseki's `port`, with
  // `omrelp_tls` appended to the action (empty: plain RELP). Returns the
  // imtcp port.
  int StartRsyslog(int port, const std::string& omrelp_tls, const std::string& module_params = "") {
    const int in = FreeTcpPort();
    std::filesystem::create_directories(dir_.File("rs"));
    std::ofstream(dir_.File("rsyslog.conf"))
        << "global(workDirectory=\"" << dir_.File("rs") << "\")\n"
        << "module(load=\"imtcp\")\nmodule(load=\"omrelp\"" << module_params << ")\n"
        << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << in << "\" ruleset=\"fwd\")\n"
        << "ruleset(name=\"fwd\") { action(type=\"omrelp\" target=\"127.0.0.1\" port=\"" << port
        << "\" timeout=\"5\" conn.timeout=\"2\" " << omrelp_tls
        << " action.resumeRetryCount=\"-1\" action.resumeInterval=\"1\") }\n";
    EXPECT_TRUE(rsyslog_.Start(
        {kRsyslogd, "-n", "-f", dir_.File("rsyslog.conf"), "-i", dir_.File("rsyslog.pid")},
        dir_.File("rsyslogd")));
    return in;
  }

  std::string OmrelpTls(const CertFiles& own) const {
    return "tls=\"on\" tls.cacert=\"" + ca_.cert + "\" tls.mycert=\"" + own.cert +
           "\" tls.myprivkey=\"" + own.key +
           "\" tls.authmode=\"name\" tls.permittedpeer=[\"konseki.test\"]";
  }

  // Sends messages seq=from..to-1 into rsyslog's imtcp input.
  void Feed(int in, int from, int to) {
    int fd = -1;
    ASSERT_TRUE(WaitFor([&] { return (fd = ConnectTcp(in)) >= 0; })) << rsyslog_.Stderr();
    std::string wire;
    for (int i = from; i < to; ++i) {
      wire += "<13>Nov 23 08:00:00 " + std::string(kHost) + " app[1]: seq=" + std::to_string(i) +
              " end\n";
    }
    ASSERT_TRUE(SendAll(fd, wire));
    close(fd);
  }

  // Sum of a metric's series whose labels contain `labels`.
  double Metric(const std::string& name, const std::string& labels) {
    return SumMetric(FetchMetrics(konseki_.MetricsPort()), name, labels);
  }

  TempDir dir_;
  CertFiles ca_, server_, client_, intruder_;
  Konseki konseki_;
  ChildProcess rsyslog_;
};

class RsyslogRelpTlsTest : public RsyslogRelpTest,
                           public ::testing::WithParamInterface<const char*> {};

TEST_P(RsyslogRelpTlsTest, OmrelpTlsMutualEveryMessageArchivedExactlyOnce) {
  StartKonseki("relp+tls://127.0.0.1:0");
  const int port = konseki_.Port("relp+tls");
  ASSERT_GT(port, 0);
  const int in =
      StartRsyslog(port, OmrelpTls(client_), " tls.tlslib=\"" + std::string(GetParam()) + "\"");
  constexpr int kTotal = 5000;
  Feed(in, 0, kTotal);
  const std::string archive = dir_.File("archive");
  ASSERT_TRUE(WaitFor([&] { return ArchiveLines(archive, kHost).size() >= kTotal; },
                      std::chrono::seconds(30)))
      << ArchiveLines(archive, kHost).size() << "\n"
      << rsyslog_.Stderr() << konseki_.process().Stderr();
  std::vector<int> times(kTotal, 0);
  for (const std::string& line : ArchiveLines(archive, kHost)) {
    const size_t p = line.find(" seq=");
    ASSERT_NE(p, std::string::npos) << line;
    const int n = std::atoi(line.c_str() + p + 5);
    ASSERT_TRUE(n >= 0 && n < kTotal) << line;
    ++times[static_cast<size_t>(n)];
  }
  for (int i = 0; i < kTotal; ++i) ASSERT_EQ(times[static_cast<size_t>(i)], 1) << "seq=" << i;
  EXPECT_EQ(Metric("konseki_received_messages_total", "transport=\"relp+tls\""), kTotal);
  EXPECT_GE(Metric("konseki_tls_handshakes_total", kListenerLabel), 1);
}

// Debian's librelp is built with both; omrelp picks one with tls.tlslib.
INSTANTIATE_TEST_SUITE_P(TlsLib, RsyslogRelpTlsTest, ::testing::Values("gnutls", "openssl"));

TEST_F(RsyslogRelpTest, OmrelpTlsWithPeerNameNotPermittedIsRefused) {
  StartKonseki("relp+tls://127.0.0.1:0");
  const int port = konseki_.Port("relp+tls");
  ASSERT_GT(port, 0);
  const int in = StartRsyslog(port, OmrelpTls(intruder_));
  Feed(in, 0, 10);
  ASSERT_TRUE(WaitFor([&] {
    return Metric("konseki_tls_handshake_failures_total",
                  kListenerLabel + ",reason=\"peer_not_permitted\"") >= 1;
  })) << FetchMetrics(konseki_.MetricsPort())
      << rsyslog_.Stderr();
  EXPECT_TRUE(ArchiveLines(dir_.File("archive"), kHost).empty());
  EXPECT_EQ(Metric("konseki_received_messages_total", "transport=\"relp+tls\""), 0);
  EXPECT_EQ(Metric("konseki_tls_handshakes_total", kListenerLabel), 0);
}

TEST_F(RsyslogRelpTest, RelpAllowlistRefusesRsyslogCountsAndAlerts) {
  StartKonseki("{uri: 'relp://127.0.0.1:0', allow: [10.0.0.0/8]}");
  const int port = konseki_.Port("relp");
  ASSERT_GT(port, 0);
  const int in = StartRsyslog(port, "");
  Feed(in, 0, 10);
  const std::string alerts = dir_.File("alerts.jsonl");
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(alerts).find("receiver.refused") != std::string::npos;
  })) << ReadFile(alerts)
      << rsyslog_.Stderr();
  EXPECT_THAT(ReadFile(alerts), ::testing::HasSubstr("127.0.0.1"));
  EXPECT_GE(
      Metric("konseki_refused_senders_total", "listener=\"relp://127.0.0.1:0\",transport=\"relp\""),
      1);
  EXPECT_TRUE(ArchiveLines(dir_.File("archive"), kHost).empty());
}

}  // namespace
}  // namespace konseki::testing
