// tls:// through the konseki binary and its tls: config section: a client
// with a permitted certificate is archived; one without a certificate is
// refused under mutual TLS.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/integration/konseki_process.h"
#include "tests/receiver/tls_test_util.h"

namespace konseki::testing {
namespace {

using receiver::testing::CertFiles;
using receiver::testing::OctetCounted;
using receiver::testing::TestPki;
using receiver::testing::TlsClient;

TEST(TlsBinaryTest, MutualTlsListenerArchivesPermittedClientsOnly) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram("/usr/bin/openssl")) GTEST_SKIP() << "openssl CLI not installed";
  TempDir dir;
  std::filesystem::create_directories(dir.File("pki"));
  TestPki pki(dir.File("pki"));
  CertFiles ca, server, client;
  ASSERT_TRUE(pki.MakeCa("ca", "konseki test CA", &ca)) << pki.error();
  ASSERT_TRUE(pki.MakeLeaf("server", "konseki.test", "konseki.test", ca, &server)) << pki.error();
  ASSERT_TRUE(pki.MakeLeaf("client", "web1.example.org", "web1.example.org", ca, &client))
      << pki.error();

  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tls://127.0.0.1:0]\n"
                      "tls:\n"
                      "  cert_file: " +
                          server.cert +
                          "\n"
                          "  key_file: " +
                          server.key +
                          "\n"
                          "  ca_file: " +
                          ca.cert +
                          "\n"
                          "  mutual: true\n"
                          "  permitted_peers: ['*.example.org']\n"
                          "archive: {dir: " +
                          dir.File("archive") +
                          "}\n"
                          "alerts: {stdout: false}\nmetrics: {listen: ''}\n",
                      &err))
      << err;
  const uint16_t port = static_cast<uint16_t>(k.Port("tls"));
  ASSERT_GT(port, 0);

  TlsClient good;
  ASSERT_TRUE(good.Connect(port, ca.cert, &client)) << good.error();
  ASSERT_TRUE(good.Send(OctetCounted("<13>Nov 23 08:00:00 web1 app: over tls") +
                        OctetCounted("<13>Nov 23 08:00:01 web1 app: second")));
  good.Close();
  const std::string archive = dir.File("archive");
  ASSERT_TRUE(WaitFor([&] { return ArchiveLines(archive, "web1").size() == 2; }));

  // konseki may have closed the refused connection before this client's
  // writes (data, close_notify): EPIPE, not a SIGPIPE that kills the test.
  signal(SIGPIPE, SIG_IGN);
  TlsClient anonymous;
  if (anonymous.Connect(port, ca.cert, nullptr)) {
    anonymous.Send(OctetCounted("<13>Nov 23 08:00:02 sneaky app: no certificate"));
  }
  anonymous.Close();
  // The refusal is counted; nothing of the anonymous client is archived.
  EXPECT_FALSE(
      WaitFor([&] { return !ArchiveLines(archive, "sneaky").empty(); }, std::chrono::seconds(1)));
  EXPECT_TRUE(k.process().running());
}

// SIGHUP re-reads the certificate files: after a renewal new connections get
// the new certificate; a renewal that does not load raises an alert and the
// current certificate stays in use.
TEST(TlsBinaryTest, SighupServesRenewedCertificate) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram("/usr/bin/openssl")) GTEST_SKIP() << "openssl CLI not installed";
  namespace fs = std::filesystem;
  TempDir dir;
  fs::create_directories(dir.File("pki"));
  TestPki pki(dir.File("pki"));
  CertFiles ca, server, ca2, server2;
  ASSERT_TRUE(pki.MakeCa("ca", "konseki test CA", &ca) &&
              pki.MakeLeaf("server", "konseki.test", "konseki.test", ca, &server) &&
              pki.MakeCa("ca2", "konseki renewed CA", &ca2) &&
              pki.MakeLeaf("server2", "konseki.test", "konseki.test", ca2, &server2))
      << pki.error();
  const std::string cert = dir.File("live.pem");
  const std::string key = dir.File("live.key");
  fs::copy_file(server.cert, cert);
  fs::copy_file(server.key, key);

  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tls://127.0.0.1:0]\n"
                      "tls: {cert_file: " +
                          cert + ", key_file: " + key +
                          "}\n"
                          "archive: {dir: " +
                          dir.File("archive") + "}\nalerts: {file: " + dir.File("alerts.jsonl") +
                          ", stdout: false}\nmetrics: {listen: ''}\n",
                      &err))
      << err;
  const uint16_t port = static_cast<uint16_t>(k.Port("tls"));
  ASSERT_GT(port, 0);
  {
    TlsClient first;
    ASSERT_TRUE(first.Connect(port, ca.cert)) << first.error();
  }

  fs::copy_file(server2.cert, cert, fs::copy_options::overwrite_existing);
  fs::copy_file(server2.key, key, fs::copy_options::overwrite_existing);
  ASSERT_EQ(kill(k.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] {
    TlsClient c;
    return c.Connect(port, ca2.cert);
  })) << "the renewed certificate was never served";
  TlsClient renewed;
  ASSERT_TRUE(renewed.Connect(port, ca2.cert)) << renewed.error();
  ASSERT_TRUE(renewed.Send(OctetCounted("<13>Nov 23 08:00:00 web1 app: after renewal")));
  renewed.Close();
  ASSERT_TRUE(WaitFor([&] { return ArchiveLines(dir.File("archive"), "web1").size() == 1; }));

  { std::ofstream(cert, std::ios::trunc) << "truncated by a failed renewal\n"; }
  ASSERT_EQ(kill(k.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] {
    std::ifstream in(dir.File("alerts.jsonl"));
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.find("konseki.tls_reload_failed") != std::string::npos;
  })) << "no konseki.tls_reload_failed alert";
  TlsClient still;
  EXPECT_TRUE(still.Connect(port, ca2.cert)) << still.error();
  EXPECT_TRUE(k.process().running());
}

// prod19b note: the certificate expiry gauge was registered at the first
// hourly check, 1-3 s after the daemon said it was ready, so a scrape right
// after a restart could lack it (an absent() alert rule would flap).
TEST(TlsBinaryTest, CertificateExpiryGaugeIsThereWhenReady) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram("/usr/bin/openssl")) GTEST_SKIP() << "openssl CLI not installed";
  namespace fs = std::filesystem;
  TempDir dir;
  fs::create_directories(dir.File("pki"));
  TestPki pki(dir.File("pki"));
  CertFiles ca, server;
  ASSERT_TRUE(pki.MakeCa("ca", "konseki test CA", &ca) &&
              pki.MakeLeaf("server", "konseki.test", "konseki.test", ca, &server))
      << pki.error();
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tls://127.0.0.1:0]\n"
                      "tls: {cert_file: " +
                          server.cert + ", key_file: " + server.key +
                          "}\n"
                          "archive: {dir: " +
                          dir.File("archive") + "}\nalerts: {file: " + dir.File("alerts.jsonl") +
                          ", stdout: false}\nmetrics: {listen: '127.0.0.1:0'}\n",
                      &err))
      << err;
  const std::string m = FetchMetrics(k.MetricsPort());
  EXPECT_NE(m.find("\nkonseki_tls_certificate_expiry_timestamp_seconds "), std::string::npos)
      << m.substr(0, 2000);
}

// An expired certificate: check-config warns, the daemon starts (its other
// listeners work), says so in an alert and the expiry metric, and a
// verifying sender is refused and counted.
TEST(TlsBinaryTest, AnExpiredCertificateIsSaidByCheckConfigAndAnAlert) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram("/usr/bin/openssl")) GTEST_SKIP() << "openssl CLI not installed";
  namespace fs = std::filesystem;
  TempDir dir;
  fs::create_directories(dir.File("pki"));
  TestPki pki(dir.File("pki"));
  CertFiles ca, expired;
  ASSERT_TRUE(pki.MakeCa("ca", "konseki test CA", &ca) &&
              pki.MakeDatedLeaf("expired", "konseki.test", ca, -30, -2, &expired))
      << pki.error();
  const std::string config =
      "listen: [tls://127.0.0.1:0, udp://127.0.0.1:0]\n"
      "tls: {cert_file: " +
      expired.cert + ", key_file: " + expired.key +
      "}\n"
      "archive: {dir: " +
      dir.File("archive") + "}\nalerts: {file: " + dir.File("alerts.jsonl") +
      ", stdout: false}\nmetrics: {listen: ''}\n";
  std::ofstream(dir.File("k.yaml")) << config << "allow_root: true\n";
  ChildProcess check;
  ASSERT_TRUE(check.Start({KonsekiBinary(), "check-config", dir.File("k.yaml")}, dir.File("cc")));
  ASSERT_TRUE(WaitFor([&] { return !check.running(); }));
  EXPECT_THAT(check.Stdout(), ::testing::HasSubstr("OK")) << check.Stderr();
  EXPECT_THAT(check.Stderr(),
              ::testing::HasSubstr("tls.cert_file " + expired.cert + " expired on"));

  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir, config, &err)) << err;
  ASSERT_TRUE(WaitFor([&] {
    std::ifstream in(dir.File("alerts.jsonl"));
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.find("\"sign\":\"konseki.tls_certificate_expired\"") != std::string::npos &&
           all.find("\"severity\":\"high\"") != std::string::npos;
  })) << "no konseki.tls_certificate_expired alert";
  const uint16_t port = static_cast<uint16_t>(k.Port("tls"));
  ASSERT_GT(port, 0);
  TlsClient c;
  EXPECT_FALSE(c.Connect(port, ca.cert)) << "a verifying sender refuses an expired certificate";
  EXPECT_TRUE(k.process().running());
}

}  // namespace
}  // namespace konseki::testing
