#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "receiver/stream_listener.h"
#include "receiver/tls_connection.h"
#include "receiver/tls_context.h"
#include "tests/receiver/capturing_frame_sink.h"
#include "tests/receiver/tls_test_util.h"
#include "tests/testing/recording_alert_sink.h"

namespace konseki::receiver {
namespace {

using konseki::testing::Field;
using konseki::testing::RecordingAlertSink;

using testing::CertFiles;
using testing::OctetCounted;
using testing::TestPki;
using testing::TlsClient;

// One PKI for the whole suite: a CA, the server, a permitted client, a client
// with a name that is not permitted, a client of an unknown CA, a CN-only client.
struct Pki {
  std::string dir;
  CertFiles ca, server, client, intruder, rogue_ca, rogue, cn_only;
};
Pki* pki = nullptr;

class TlsListenerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The refused clients write to closed connections.
    signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/konseki_tls_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    pki = new Pki;
    pki->dir = tmpl;
    TestPki p(pki->dir);
    ASSERT_TRUE(
        p.MakeCa("ca", "konseki test CA", &pki->ca) &&
        p.MakeLeaf("server", "konseki.test", "konseki.test", pki->ca, &pki->server) &&
        p.MakeLeaf("client", "host1", "host1.clients.test", pki->ca, &pki->client) &&
        p.MakeLeaf("intruder", "intruder", "intruder.other.test", pki->ca, &pki->intruder) &&
        p.MakeCa("rogue_ca", "rogue CA", &pki->rogue_ca) &&
        p.MakeLeaf("rogue", "rogue", "host2.clients.test", pki->rogue_ca, &pki->rogue) &&
        p.MakeLeaf("cn_only", "web1.clients.test", "", pki->ca, &pki->cn_only))
        << p.error();
  }
  static void TearDownTestSuite() {
    if (pki != nullptr) std::filesystem::remove_all(pki->dir);
    delete pki;
    pki = nullptr;
  }

  TlsOptions ServerOptions(bool mutual, std::vector<std::string> peers = {}) {
    TlsOptions o;
    o.cert_file = pki->server.cert;
    o.key_file = pki->server.key;
    o.ca_file = pki->ca.cert;
    o.mutual = mutual;
    o.permitted_peers = std::move(peers);
    return o;
  }

  void StartListener(const TlsOptions& tls, StreamListenerOptions opts = {}) {
    auto ctx = TlsContext::Create(tls);
    ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
    context_ = std::move(ctx).value();
    auto addr = ListenAddress::Parse("tls://127.0.0.1:0");
    ASSERT_TRUE(addr.ok());
    name_ = addr->ToString();
    auto l = StreamListener::Bind(*addr, opts, 7, metrics_, clock_,
                                  std::make_unique<TlsTransport>(*context_, metrics_, name_));
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    listener_ = std::move(l).value();
    listener_->Start(&sink_);
  }

  double Failures(const std::string& reason) {
    return metrics_.ValueOf("konseki_tls_handshake_failures_total",
                            {{"listener", name_}, {"reason", reason}});
  }
  double Metric(const std::string& metric) {
    return metrics_.ValueOf(metric, {{"listener", name_}});
  }

  void TearDown() override {
    if (listener_) listener_->Stop();
  }

  FakeClock clock_;
  MetricsRegistry metrics_;
  CapturingFrameSink sink_;
  std::unique_ptr<TlsContext> context_;
  std::unique_ptr<StreamListener> listener_;
  std::string name_;
};

TEST_F(TlsListenerTest, CreateErrorsNameTheFileAndTheCause) {
  TlsOptions o = ServerOptions(false);
  o.cert_file = pki->dir + "/missing.pem";
  auto r = TlsContext::Create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tls.cert_file " + o.cert_file), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("No such file"), std::string::npos) << r.status().message();

  o = ServerOptions(false);
  o.cert_file = pki->dir + "/openssl.log";  // not PEM
  r = TlsContext::Create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot load a PEM certificate chain: error:"),
            std::string::npos)
      << r.status().message();

  o = ServerOptions(false);
  o.key_file = pki->client.key;  // another certificate's key
  r = TlsContext::Create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not belong to the certificate in tls.cert_file " +
                                      pki->server.cert),
            std::string::npos)
      << r.status().message();

  o = ServerOptions(true);
  o.ca_file.clear();
  r = TlsContext::Create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tls.ca_file is required"), std::string::npos)
      << r.status().message();

  r = TlsContext::Create(ServerOptions(false, {"host1.clients.test"}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("needs tls.mutual: true"), std::string::npos);

  r = TlsContext::Create(ServerOptions(true, {"host*.clients.test"}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"host*.clients.test\""), std::string::npos);

  EXPECT_TRUE(TlsContext::Create(ServerOptions(true, {"*.clients.test"})).ok());
}

TEST(PeerNameTest, WildcardMatchesExactlyOneLabelCaseInsensitively) {
  EXPECT_TRUE(PeerNameMatches("konseki.test", "KONSEKI.test"));
  EXPECT_FALSE(PeerNameMatches("konseki.test", "konseki.test.evil"));
  EXPECT_TRUE(PeerNameMatches("*.example.com", "web1.Example.COM"));
  EXPECT_FALSE(PeerNameMatches("*.example.com", "example.com"));
  EXPECT_FALSE(PeerNameMatches("*.example.com", ".example.com"));
  EXPECT_FALSE(PeerNameMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(PeerNameMatches("*.example.com", "evilexample.com"));
  EXPECT_FALSE(PeerNameMatches("*.example.com", "*.example.com.x"));
  EXPECT_FALSE(PeerNameMatches("", ""));
}

TEST_F(TlsListenerTest, OctetCountedAndLfFramesArriveInOrder) {
  StartListener(ServerOptions(false));
  TlsClient c;
  ASSERT_TRUE(c.Connect(listener_->port(), pki->ca.cert)) << c.error();
  std::string wire;
  const int kCount = 300;
  for (int i = 0; i < kCount; ++i) {
    wire += OctetCounted("<13>1 2026-11-23T08:00:00Z h app - - - seq=" + std::to_string(i));
  }
  wire += "<13>lf framed\n";
  wire += "<13>last without terminator";
  ASSERT_TRUE(c.Send(wire)) << c.error();
  c.Close();
  ASSERT_TRUE(sink_.WaitForCount(kCount + 2)) << sink_.count();
  auto frames = sink_.frames();
  ASSERT_EQ(frames.size(), kCount + 2u);
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(frames[i].bytes, "<13>1 2026-11-23T08:00:00Z h app - - - seq=" + std::to_string(i));
    EXPECT_EQ(frames[i].sender, "127.0.0.1");
    EXPECT_EQ(frames[i].listener_id, 7);
  }
  EXPECT_EQ(frames[kCount].bytes, "<13>lf framed");
  EXPECT_EQ(frames[kCount + 1].bytes, "<13>last without terminator");
  EXPECT_TRUE(WaitUntil([&] {
    return metrics_.ValueOf("konseki_received_messages_total",
                            {{"listener", name_}, {"transport", "tls"}}) == kCount + 2;
  }));
  EXPECT_EQ(
      metrics_.ValueOf("konseki_received_bytes_total", {{"listener", name_}, {"transport", "tls"}}),
      static_cast<double>(wire.size()));
  EXPECT_EQ(Metric("konseki_tls_handshakes_total"), 1);
}

// SIGHUP with renewed certificate files: new connections get the new
// certificate, an established connection keeps working, and files that do not
// load leave the current certificate in use.
TEST_F(TlsListenerTest, ReloadServesRenewedCertificateToNewConnections) {
  namespace fs = std::filesystem;
  TestPki p(pki->dir);
  CertFiles ca2, server2;
  ASSERT_TRUE(p.MakeCa("reload_ca", "konseki renewed CA", &ca2) &&
              p.MakeLeaf("reload_server", "konseki.test", "konseki.test", ca2, &server2))
      << p.error();
  const std::string live_cert = pki->dir + "/live.pem";
  const std::string live_key = pki->dir + "/live.key";
  fs::copy_file(pki->server.cert, live_cert, fs::copy_options::overwrite_existing);
  fs::copy_file(pki->server.key, live_key, fs::copy_options::overwrite_existing);
  TlsOptions o = ServerOptions(false);
  o.cert_file = live_cert;
  o.key_file = live_key;
  StartListener(o);

  TlsClient before;
  ASSERT_TRUE(before.Connect(listener_->port(), pki->ca.cert)) << before.error();
  ASSERT_TRUE(before.Send(OctetCounted("<13>before reload")));

  fs::copy_file(server2.cert, live_cert, fs::copy_options::overwrite_existing);
  fs::copy_file(server2.key, live_key, fs::copy_options::overwrite_existing);
  ASSERT_TRUE(context_->Reload().ok());

  TlsClient old_trust;
  EXPECT_FALSE(old_trust.Connect(listener_->port(), pki->ca.cert));
  TlsClient new_trust;
  ASSERT_TRUE(new_trust.Connect(listener_->port(), ca2.cert)) << new_trust.error();
  ASSERT_TRUE(new_trust.Send(OctetCounted("<13>after reload")));
  ASSERT_TRUE(before.Send(OctetCounted("<13>old connection still open")));

  // A broken renewal: the error names the file; the renewed certificate stays.
  { std::ofstream(live_cert, std::ios::trunc) << "not a certificate\n"; }
  Status st = context_->Reload();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(live_cert), std::string::npos) << st.ToString();
  TlsClient after_bad;
  EXPECT_TRUE(after_bad.Connect(listener_->port(), ca2.cert)) << after_bad.error();

  ASSERT_TRUE(sink_.WaitForCount(3)) << sink_.count();
  std::vector<std::string> got;
  for (const auto& f : sink_.frames()) got.push_back(f.bytes);
  EXPECT_THAT(got, ::testing::UnorderedElementsAre("<13>before reload", "<13>after reload",
                                                   "<13>old connection still open"));
}

TEST_F(TlsListenerTest, Tls12ClientAndLongMessagesAreTruncated) {
  StreamListenerOptions opts;
  opts.max_message_bytes = 1000;
  StartListener(ServerOptions(false), opts);
  TlsClient c;
  ASSERT_TRUE(c.Connect(listener_->port(), pki->ca.cert, nullptr, TLS1_2_VERSION)) << c.error();
  // 100 KB spans several TLS records; the framer skips what is over the max.
  ASSERT_TRUE(c.Send(OctetCounted(std::string(100000, 'x')) + OctetCounted("<13>after")));
  ASSERT_TRUE(sink_.WaitForCount(2));
  auto frames = sink_.frames();
  EXPECT_EQ(frames[0].bytes, std::string(1000, 'x'));
  EXPECT_TRUE(frames[0].truncated);
  EXPECT_EQ(frames[1].bytes, "<13>after");
  EXPECT_TRUE(WaitUntil([&] { return Metric("konseki_truncated_messages_total") == 1; }));
}

// TLS 1.2 takes forward-secret AEAD suites only: a client offering nothing
// but CBC suites (ECDHE-ECDSA-AES128-SHA, which OpenSSL's default list
// still holds; static-RSA ones such as AES128-SHA need an RSA certificate,
// this test's is ECDSA) is refused; the same client offering ECDHE with
// AES-GCM, as rsyslog, librelp and syslog-ng do, gets through.
TEST_F(TlsListenerTest, Tls12TakesOnlyForwardSecretAeadSuites) {
  StartListener(ServerOptions(false), StreamListenerOptions{});
  for (const char* weak : {"AES128-SHA", "AES256-SHA256", "ECDHE-ECDSA-AES128-SHA"}) {
    TlsClient c;
    EXPECT_FALSE(c.Connect(listener_->port(), pki->ca.cert, nullptr, TLS1_2_VERSION, "", weak))
        << weak;
  }
  TlsClient good;
  ASSERT_TRUE(good.Connect(listener_->port(), pki->ca.cert, nullptr, TLS1_2_VERSION, "",
                           "ECDHE-ECDSA-AES128-GCM-SHA256"))
      << good.error();
  ASSERT_TRUE(good.Send(OctetCounted("<13>strong")));
  ASSERT_TRUE(sink_.WaitForCount(1));
  EXPECT_EQ(sink_.frames()[0].bytes, "<13>strong");
}

// A read budget far smaller than one TLS record leaves decrypted bytes inside
// OpenSSL with nothing left in the socket for epoll to report: the listener
// must come back for them by itself.
TEST_F(TlsListenerTest, BytesBufferedInsideOpenSslAreReadWithoutNewSocketData) {
  StreamListenerOptions opts;
  opts.read_chunk_bytes = 64;
  StartListener(ServerOptions(false), opts);
  TlsClient c;
  ASSERT_TRUE(c.Connect(listener_->port(), pki->ca.cert)) << c.error();
  std::string wire;
  for (int i = 0; i < 300; ++i) wire += OctetCounted("<13>buffered " + std::to_string(i));
  ASSERT_TRUE(c.Send(wire));  // one SSL_write: a couple of records
  ASSERT_TRUE(sink_.WaitForCount(300)) << sink_.count();
  EXPECT_EQ(sink_.frames()[299].bytes, "<13>buffered 299");
}

TEST_F(TlsListenerTest, MutualAcceptsPermittedClientBySanOrCn) {
  StartListener(ServerOptions(true, {"*.clients.test"}));
  TlsClient a, b;
  ASSERT_TRUE(a.Connect(listener_->port(), pki->ca.cert, &pki->client)) << a.error();
  ASSERT_TRUE(a.Send(OctetCounted("<13>from san client")));
  ASSERT_TRUE(b.Connect(listener_->port(), pki->ca.cert, &pki->cn_only)) << b.error();
  ASSERT_TRUE(b.Send(OctetCounted("<13>from cn client")));
  ASSERT_TRUE(sink_.WaitForCount(2)) << sink_.count();
  EXPECT_TRUE(WaitUntil([&] { return Metric("konseki_tls_handshakes_total") == 2; }));
  for (const char* r : {"no_peer_cert", "peer_not_permitted", "cert_verify_failed"}) {
    EXPECT_EQ(Failures(r), 0) << r;
  }
}

// Under TLS 1.3 the client finishes its side before the server has checked
// its certificate: the refusal shows as a counted failure and no frames.
TEST_F(TlsListenerTest, MutualRefusesClientWithoutCertificate) {
  StartListener(ServerOptions(true, {"*.clients.test"}));
  TlsClient c;
  if (c.Connect(listener_->port(), pki->ca.cert)) c.Send(OctetCounted("<13>must not arrive"));
  ASSERT_TRUE(WaitUntil([&] { return Failures("no_peer_cert") == 1; }))
      << Failures("protocol_error");
  EXPECT_EQ(sink_.count(), 0u);
  EXPECT_EQ(Metric("konseki_tls_handshakes_total"), 0);
}

TEST_F(TlsListenerTest, MutualRefusesClientWhoseNameIsNotPermitted) {
  StartListener(ServerOptions(true, {"*.clients.test", "konseki.test"}));
  for (int version : {0, TLS1_2_VERSION}) {
    TlsClient c;
    if (c.Connect(listener_->port(), pki->ca.cert, &pki->intruder, version)) {
      c.Send(OctetCounted("<13>must not arrive"));
    }
  }
  ASSERT_TRUE(WaitUntil([&] { return Failures("peer_not_permitted") == 2; }))
      << Failures("cert_verify_failed") << " " << Failures("protocol_error");
  EXPECT_EQ(sink_.count(), 0u);
}

TEST_F(TlsListenerTest, MutualRefusesCertificateOfAnotherCa) {
  StartListener(ServerOptions(true));
  TlsClient c;
  if (c.Connect(listener_->port(), pki->ca.cert, &pki->rogue)) c.Send(OctetCounted("<13>no"));
  ASSERT_TRUE(WaitUntil([&] { return Failures("cert_verify_failed") == 1; }));
  EXPECT_EQ(sink_.count(), 0u);
}

// What senders would object to in a certificate's dates.
TEST(TlsValidityTest, ExpiredNotYetValidAndEndingSoonAreSaid) {
  const int64_t now = 1'800'000'000;
  bool expired = false;
  TlsContext::Validity v{now - 86400, now + 30 * 86400, "CN=konseki.test"};
  EXPECT_EQ(TlsContext::DescribeValidity(v, now, 14 * 86400, &expired), "");
  EXPECT_FALSE(expired);
  v.not_after = now + 3 * 86400 + 60;
  EXPECT_NE(TlsContext::DescribeValidity(v, now, 14 * 86400, &expired).find("(in 3 days)"),
            std::string::npos);
  EXPECT_FALSE(expired);
  v.not_after = now - 1;
  EXPECT_NE(TlsContext::DescribeValidity(v, now, 14 * 86400, &expired).find("expired on"),
            std::string::npos);
  EXPECT_TRUE(expired);
  v = {now + 3600, now + 86400, ""};
  EXPECT_NE(TlsContext::DescribeValidity(v, now, 0, &expired).find("not valid before"),
            std::string::npos);
  EXPECT_TRUE(expired);
  v.not_before = now + 200;  // within the five minutes senders' clocks may differ
  EXPECT_EQ(TlsContext::DescribeValidity(v, now, 0, &expired), "");
  EXPECT_FALSE(expired);
}

// An expired certificate: verifying senders refuse it after the handshake
// (TLS 1.3), which is counted as their alert; a renewal to an expired one is
// refused and the good certificate stays.
TEST_F(TlsListenerTest, AnExpiredCertificateIsRefusedByClientsAndByReload) {
  namespace fs = std::filesystem;
  TestPki p(pki->dir);
  CertFiles expired;
  ASSERT_TRUE(p.MakeDatedLeaf("expired", "konseki.test", pki->ca, -30, -1, &expired));
  TlsOptions o = ServerOptions(false);
  o.cert_file = expired.cert;
  o.key_file = expired.key;
  StartListener(o);
  EXPECT_LT(context_->validity().not_after, time(nullptr));
  EXPECT_NE(context_->validity().subject.find("konseki.test"), std::string::npos);
  TlsClient c;
  if (c.Connect(listener_->port(), pki->ca.cert)) c.Send(OctetCounted("<13>refused"));
  ASSERT_TRUE(WaitUntil([&] { return Failures("client_alert") == 1; }))
      << Failures("protocol_error") << " " << Failures("closed") << " "
      << Metric("konseki_tls_read_errors_total");
  EXPECT_EQ(sink_.count(), 0u);

  const std::string live_cert = pki->dir + "/live_dated.pem";
  const std::string live_key = pki->dir + "/live_dated.key";
  fs::copy_file(pki->server.cert, live_cert, fs::copy_options::overwrite_existing);
  fs::copy_file(pki->server.key, live_key, fs::copy_options::overwrite_existing);
  o.cert_file = live_cert;
  o.key_file = live_key;
  auto ctx = TlsContext::Create(o);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  const int64_t good_until = (*ctx)->validity().not_after;
  EXPECT_GT(good_until, time(nullptr));
  fs::copy_file(expired.cert, live_cert, fs::copy_options::overwrite_existing);
  fs::copy_file(expired.key, live_key, fs::copy_options::overwrite_existing);
  Status st = (*ctx)->Reload();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("expired on"), std::string::npos) << st.ToString();
  EXPECT_EQ((*ctx)->validity().not_after, good_until);
}

// rsyslog's gtls driver completes the handshake, checks the certificate
// itself and closes when it refuses it: no line, but counted.
TEST_F(TlsListenerTest, AClientClosingRightAfterTheHandshakeIsCounted) {
  StartListener(ServerOptions(false));
  {
    TlsClient c;
    ASSERT_TRUE(c.Connect(listener_->port(), pki->ca.cert)) << c.error();
  }
  ASSERT_TRUE(WaitUntil([&] { return Failures("closed_after_handshake") == 1; }));
  EXPECT_EQ(Metric("konseki_tls_handshakes_total"), 1);
  TlsClient sender;
  ASSERT_TRUE(sender.Connect(listener_->port(), pki->ca.cert)) << sender.error();
  ASSERT_TRUE(sender.Send(OctetCounted("<13>a line")));
  ASSERT_TRUE(sink_.WaitForCount(1));
  EXPECT_EQ(Metric("konseki_tls_handshakes_total"), 2);
  sender.Close();
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_connections") == 0; }));
  EXPECT_EQ(Failures("closed_after_handshake"), 1) << "a session that sent a line is not";
}

TEST_F(TlsListenerTest, ClientThatDistrustsTheServerIsCountedAsClientAlert) {
  StartListener(ServerOptions(false));
  TlsClient c;
  EXPECT_FALSE(c.Connect(listener_->port(), pki->rogue_ca.cert));  // wrong trust anchor
  ASSERT_TRUE(WaitUntil([&] { return Failures("client_alert") == 1; }))
      << Failures("protocol_error") << " " << Failures("closed");
  EXPECT_EQ(Metric("konseki_tls_handshakes_total"), 0);
}

TEST_F(TlsListenerTest, IdleEstablishedConnectionIsClosedAfterIdleTimeout) {
  StreamListenerOptions opts;
  opts.idle_timeout_secs = 30;
  StartListener(ServerOptions(false), opts);
  TlsClient c;
  ASSERT_TRUE(c.Connect(listener_->port(), pki->ca.cert)) << c.error();
  ASSERT_TRUE(c.Send(OctetCounted("<13>hello")));
  ASSERT_TRUE(sink_.WaitForCount(1));
  clock_.Advance(std::chrono::seconds(15));  // past the handshake timeout, not idle yet
  ASSERT_TRUE(c.Send(OctetCounted("<13>still here")));
  ASSERT_TRUE(sink_.WaitForCount(2));
  EXPECT_EQ(Metric("konseki_connections"), 1);
  clock_.Advance(std::chrono::seconds(31));
  EXPECT_TRUE(WaitUntil([&] { return Metric("konseki_connections") == 0; }));
  EXPECT_EQ(Failures("timeout"), 0);
}

TEST_F(TlsListenerTest, PlainTextClientIsCountedAsNotTls) {
  StartListener(ServerOptions(false));
  int fd = testing::ConnectLoopback(listener_->port());
  ASSERT_GE(fd, 0);
  const std::string line = "<13>Nov 23 08:00:00 h app: plain text on a TLS port\n";
  ASSERT_EQ(send(fd, line.data(), line.size(), MSG_NOSIGNAL), static_cast<ssize_t>(line.size()));
  ASSERT_TRUE(WaitUntil([&] { return Failures("not_tls") == 1; }));
  close(fd);
  // An octet-counted sender and an HTTP probe are no TLS either.
  for (const std::string text : {"52 <13>Nov 23 08:00:00 h app: octet-counted plain text",
                                 "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    fd = testing::ConnectLoopback(listener_->port());
    ASSERT_GE(fd, 0);
    ASSERT_EQ(send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
    close(fd);
  }
  EXPECT_TRUE(WaitUntil([&] { return Failures("not_tls") == 3; }));
  EXPECT_EQ(Failures("protocol_error"), 0);
  EXPECT_EQ(sink_.count(), 0u);
}

TEST_F(TlsListenerTest, SilentAndStalledClientsDoNotBlockOthersAndTimeOut) {
  StreamListenerOptions opts;
  opts.handshake_timeout_secs = 10;
  StartListener(ServerOptions(false), opts);
  // Connects and sends nothing.
  int silent_tcp = testing::ConnectLoopback(listener_->port());
  ASSERT_GE(silent_tcp, 0);
  // Starts a ClientHello record and stops.
  int stalled = testing::ConnectLoopback(listener_->port());
  ASSERT_GE(stalled, 0);
  const char partial_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
  ASSERT_GT(send(stalled, partial_hello, sizeof partial_hello - 1, MSG_NOSIGNAL), 0);
  // Completes the handshake and then says nothing.
  TlsClient silent_tls;
  ASSERT_TRUE(silent_tls.Connect(listener_->port(), pki->ca.cert)) << silent_tls.error();

  TlsClient good;
  ASSERT_TRUE(good.Connect(listener_->port(), pki->ca.cert)) << good.error();
  ASSERT_TRUE(good.Send(OctetCounted("<13>good one")));
  ASSERT_TRUE(sink_.WaitForCount(1));
  EXPECT_EQ(sink_.frames()[0].bytes, "<13>good one");
  good.Close();
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_connections") == 3; }))
      << Metric("konseki_connections");
  EXPECT_EQ(Failures("timeout"), 0);

  clock_.Advance(std::chrono::seconds(11));
  ASSERT_TRUE(WaitUntil([&] { return Failures("timeout") == 2; })) << Failures("timeout");
  // The established silent client is not subject to the handshake timeout.
  EXPECT_TRUE(WaitUntil([&] { return Metric("konseki_connections") == 1; }));
  close(silent_tcp);
  close(stalled);
}

TEST_F(TlsListenerTest, BackpressureStopsReadingUntilCapacityReturns) {
  StartListener(ServerOptions(false));
  sink_.SetCapacity(false);
  TlsClient c;
  // The handshake waits too while there is no capacity: connect in a thread.
  std::thread t([&] {
    ASSERT_TRUE(c.Connect(listener_->port(), pki->ca.cert)) << c.error();
    std::string wire;
    for (int i = 0; i < 100; ++i) wire += OctetCounted("<13>m" + std::to_string(i));
    ASSERT_TRUE(c.Send(wire));
  });
  EXPECT_FALSE(sink_.WaitForCount(1, std::chrono::milliseconds(200)));
  sink_.SetCapacity(true);
  t.join();
  ASSERT_TRUE(sink_.WaitForCount(100));
  EXPECT_EQ(sink_.pushes_without_capacity(), 0u);
  EXPECT_EQ(sink_.frames()[99].bytes, "<13>m99");
}

TEST_F(TlsListenerTest, FullListenerClosesTheLongestIdleConnectionForANewOne) {
  StreamListenerOptions opts;
  opts.max_connections = 1;
  StartListener(ServerOptions(false), opts);
  TlsClient a;
  ASSERT_TRUE(a.Connect(listener_->port(), pki->ca.cert)) << a.error();
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_connections") == 1; }));
  TlsClient b;
  ASSERT_TRUE(b.Connect(listener_->port(), pki->ca.cert)) << b.error();
  EXPECT_TRUE(WaitUntil([&] {
    return metrics_.ValueOf("konseki_connections_evicted_total",
                            {{"listener", name_}, {"reason", "max_connections"}}) == 1;
  }));
  ASSERT_TRUE(b.Send(OctetCounted("<13>the newcomer is served")));
  ASSERT_TRUE(sink_.WaitForCount(1));
  EXPECT_EQ(sink_.frames()[0].bytes, "<13>the newcomer is served");
}

TEST_F(TlsListenerTest, PerSourceCapEvictsThatSourcesOwnConnections) {
  StreamListenerOptions opts;
  opts.limits.max_connections_per_source = 2;
  StartListener(ServerOptions(false), opts);
  std::vector<int> flood;
  for (int i = 0; i < 6; ++i)
    flood.push_back(testing::ConnectLoopback(listener_->port(), "127.0.0.2"));
  ASSERT_TRUE(WaitUntil([&] {
    return metrics_.ValueOf("konseki_connections_evicted_total",
                            {{"listener", name_}, {"reason", "max_connections_per_source"}}) == 4;
  }));
  TlsClient sender;
  ASSERT_TRUE(sender.Connect(listener_->port(), pki->ca.cert)) << sender.error();
  ASSERT_TRUE(sender.Send(OctetCounted("<13>other source")));
  ASSERT_TRUE(sink_.WaitForCount(1));
  EXPECT_EQ(Metric("konseki_connections"), 3);
  for (int fd : flood) close(fd);
}

TEST_F(TlsListenerTest, StopEmitsUnterminatedLastFrameOfOpenConnections) {
  StartListener(ServerOptions(false));
  TlsClient c;
  ASSERT_TRUE(c.Connect(listener_->port(), pki->ca.cert)) << c.error();
  ASSERT_TRUE(c.Send("<13>complete\n<13>partial"));
  ASSERT_TRUE(sink_.WaitForCount(1));
  ASSERT_TRUE(WaitUntil([&] {
    return metrics_.ValueOf("konseki_received_bytes_total",
                            {{"listener", name_}, {"transport", "tls"}}) > 0;
  }));
  listener_->Stop();
  ASSERT_EQ(sink_.count(), 2u);
  EXPECT_EQ(sink_.frames()[1].bytes, "<13>partial");
  EXPECT_EQ(Metric("konseki_connections"), 0);
}

// Issue 10 item 6: Stop() read at most 16 read budgets per connection and
// dropped the rest of what senders had written and closed before the stop.
TEST_F(TlsListenerTest, StopReadsAllThatSendersWroteAndClosedBeforeIt) {
  StartListener(ServerOptions(false));
  const int kConns = 3;
  const int kPer = 40000;  // ~1.4 MB per connection: more than the old drain read
  std::vector<std::thread> senders;
  std::atomic<int> sent{0};
  for (int c = 0; c < kConns; ++c) {
    senders.emplace_back([&, c] {
      std::string wire;
      for (int i = 1; i <= kPer; ++i) {
        wire += OctetCounted("<13>tls" + std::to_string(c) + "-" + std::to_string(i));
      }
      TlsClient client;
      if (client.Connect(listener_->port(), pki->ca.cert) && client.Send(wire)) sent += kPer;
    });  // ~TlsClient: close_notify, close
  }
  for (std::thread& t : senders) t.join();
  listener_->Stop();
  ASSERT_EQ(sent.load(), kConns * kPer);
  EXPECT_EQ(sink_.count(), static_cast<size_t>(kConns * kPer));
}

size_t CountWith(const std::vector<CapturedFrame>& frames, const std::string& needle) {
  size_t n = 0;
  for (const CapturedFrame& f : frames) n += f.bytes.find(needle) != std::string::npos;
  return n;
}

std::string Numbered(const std::string& tag, int from, int to) {
  std::string wire;
  for (int i = from; i <= to; ++i) wire += OctetCounted("<13>" + tag + "-" + std::to_string(i));
  return wire;
}

TEST_F(TlsListenerTest, SenderOutsideAllowlistIsClosedBeforeAnyTlsWork) {
  RecordingAlertSink alerts;
  StreamListenerOptions opts;
  opts.allow = *SenderAllowlist::Parse({"10.0.0.0/8"});
  opts.alerts = &alerts;
  StartListener(ServerOptions(false), opts);
  const Labels lt = {{"listener", name_}, {"transport", "tls"}};
  for (int i = 1; i <= 3; ++i) {
    TlsClient c;
    EXPECT_FALSE(c.Connect(listener_->port(), pki->ca.cert));
    ASSERT_TRUE(
        WaitUntil([&] { return metrics_.ValueOf("konseki_refused_senders_total", lt) == i; }));
  }
  listener_->Stop();
  EXPECT_EQ(sink_.count(), 0u);
  // No handshake was attempted: neither completed nor counted as failed.
  EXPECT_EQ(Metric("konseki_tls_handshakes_total"), 0);
  for (const char* reason : {"timeout", "closed", "no_peer_cert", "cert_verify_failed",
                             "peer_not_permitted", "client_alert", "not_tls", "protocol_error"}) {
    EXPECT_EQ(Failures(reason), 0) << reason;
  }
  std::vector<Alert> got = alerts.alerts();
  ASSERT_EQ(got.size(), 1u);  // one per source address per minute
  EXPECT_EQ(got[0].sign, "receiver.refused");
  EXPECT_EQ(Field(got[0], "src_ip"), "127.0.0.1");
  EXPECT_EQ(Field(got[0], "listener"), name_);
  EXPECT_EQ(Field(got[0], "transport"), "tls");
}

TEST_F(TlsListenerTest, AllowlistAcceptsListedSendersAlongsidePermittedPeers) {
  RecordingAlertSink alerts;
  StreamListenerOptions opts;
  opts.allow = *SenderAllowlist::Parse({"10.0.0.0/8", "127.0.0.0/8"});
  opts.alerts = &alerts;
  StartListener(ServerOptions(true, {"*.clients.test"}), opts);
  TlsClient good;
  ASSERT_TRUE(good.Connect(listener_->port(), pki->ca.cert, &pki->client)) << good.error();
  ASSERT_TRUE(good.Send(Numbered("ok", 1, 3)));
  ASSERT_TRUE(sink_.WaitForCount(3));
  // An allowed address still needs a permitted certificate name.
  TlsClient intruder;
  if (intruder.Connect(listener_->port(), pki->ca.cert, &pki->intruder)) {
    intruder.Send(OctetCounted("<13>intruder"));
  }
  ASSERT_TRUE(WaitUntil([&] { return Failures("peer_not_permitted") == 1; }));
  listener_->Stop();
  EXPECT_EQ(sink_.count(), 3u);
  EXPECT_TRUE(alerts.alerts().empty());
  EXPECT_EQ(metrics_.ValueOf("konseki_refused_senders_total",
                             {{"listener", name_}, {"transport", "tls"}}),
            0);
}

TEST_F(TlsListenerTest, RateLimitedSenderIsPausedOthersAreNot) {
  StreamListenerOptions opts;
  opts.rate_limit.messages_per_sec = 10;
  opts.rate_limit.burst = 5;
  StartListener(ServerOptions(false), opts);
  const Labels lt = {{"listener", name_}, {"transport", "tls"}};
  TlsClient fast;
  ASSERT_TRUE(fast.Connect(listener_->port(), pki->ca.cert, nullptr, 0, "127.0.0.1"))
      << fast.error();
  // Ten messages against a burst of five: five are framed, the connection
  // is paused (the rest of what was read is held, not dropped).
  ASSERT_TRUE(fast.Send(Numbered("fast", 1, 10)));
  ASSERT_TRUE(
      WaitUntil([&] { return metrics_.ValueOf("konseki_rate_limit_pauses_total", lt) == 1; }));
  ASSERT_TRUE(fast.Send(Numbered("fast", 11, 15)));
  // The fake clock stands still: the fast sender stays paused while another
  // sender (handshake included) is served normally.
  TlsClient calm;
  ASSERT_TRUE(calm.Connect(listener_->port(), pki->ca.cert, nullptr, 0, "127.0.0.2"))
      << calm.error();
  ASSERT_TRUE(calm.Send(Numbered("calm", 1, 3)));
  ASSERT_TRUE(WaitUntil([&] { return CountWith(sink_.frames(), "calm-") == 3; }));
  EXPECT_EQ(CountWith(sink_.frames(), "fast-11"), 0u);
  EXPECT_EQ(CountWith(sink_.frames(), "fast-15"), 0u);
  // Time passes: the fast sender is read again, at its rate, losing nothing.
  ASSERT_TRUE(WaitUntil([&] {
    clock_.Advance(std::chrono::milliseconds(500));
    return CountWith(sink_.frames(), "fast-") == 15;
  }));
  listener_->Stop();
  for (int i = 1; i <= 15; ++i) {
    std::string want = "<13>fast-" + std::to_string(i);
    size_t n = 0;
    for (const CapturedFrame& f : sink_.frames()) n += f.bytes == want;
    EXPECT_EQ(n, 1u) << want;
  }
  EXPECT_EQ(metrics_.ValueOf("konseki_dropped_messages_total",
                             {{"stage", "receiver"}, {"reason", "rate_limit"}}),
            0);
}

TEST_F(TlsListenerTest, RateLimitOptionsAreValidated) {
  TlsOptions tls = ServerOptions(false);
  auto ctx = TlsContext::Create(tls);
  ASSERT_TRUE(ctx.ok());
  StreamListenerOptions opts;
  opts.rate_limit.messages_per_sec = -1;
  auto l =
      StreamListener::Bind(*ListenAddress::Parse("tls://127.0.0.1:0"), opts, 0, metrics_, clock_,
                           std::make_unique<TlsTransport>(**ctx, metrics_, "tls://127.0.0.1:0"));
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace konseki::receiver
