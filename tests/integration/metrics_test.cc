// konseki's /metrics under load: promtool accepts the exposition, and a real
// Prometheus server started by the test scrapes konseki and sees exactly the
// number of messages the test sent.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

constexpr char kPrometheus[] = "/usr/bin/prometheus";
constexpr char kPromtool[] = "/usr/bin/promtool";

TEST(MetricsIntegrationTest, PromtoolAcceptsAndPrometheusSeesWhatWasSent) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram(kPrometheus) || !HaveProgram(kPromtool)) {
    GTEST_SKIP() << "prometheus not installed (apt-get install prometheus)";
  }
  TempDir dir;
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tcp://127.0.0.1:0]\n"
                      "archive: {dir: " +
                          dir.File("archive") +
                          "}\n"
                          "alerts: {file: " +
                          dir.File("alerts.jsonl") +
                          ", stdout: false}\n"
                          "metrics: {listen: '127.0.0.1:0'}\nworkers: 2\n"
                          "heartbeat: {state_dir: " +
                          dir.File("state") + "}\n",
                      &err))
      << err;
  ASSERT_GT(k.MetricsPort(), 0);

  const int kSent = 4321;
  int fd = ConnectTcp(k.Port("tcp"));
  ASSERT_GE(fd, 0);
  std::string buf;
  for (int i = 0; i < kSent; ++i) {
    buf += "<86>Nov 23 08:00:00 web" + std::to_string(i % 7) +
           " sshd[1]: Failed password for "
           "root from 203.0.113." +
           std::to_string(i % 250) + " port 22 ssh2 n=" + std::to_string(i) + "\n";
  }
  ASSERT_TRUE(SendAll(fd, buf));
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return ReadAllLines(dir.File("archive")).size() >= kSent; }));

  httplib::Client cli("127.0.0.1", k.MetricsPort());
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const std::string text = res->body;
  for (const char* name :
       {"konseki_received_messages_total", "konseki_received_bytes_total",
        "konseki_rule_matches_total", "konseki_alerts_total", "konseki_queue_depth",
        "konseki_archive_written_bytes_total", "konseki_hosts_tracked", "konseki_connections",
        "konseki_rules_loaded", "konseki_build_info", "konseki_processed_messages_total"}) {
    EXPECT_THAT(text, ::testing::HasSubstr(std::string("# TYPE ") + name + " ")) << name;
  }
  std::ofstream(dir.File("metrics.txt")) << text;
  ChildProcess check;
  ASSERT_TRUE(check.Start(
      {"/bin/sh", "-c", std::string(kPromtool) + " check metrics < " + dir.File("metrics.txt")},
      dir.File("promtool")));
  ASSERT_TRUE(WaitFor([&] { return !check.running(); }));
  EXPECT_EQ(check.Stdout() + check.Stderr(), "") << "promtool complained";

  // A real Prometheus scrapes konseki every second.
  std::ofstream(dir.File("prometheus.yml"))
      << "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
         "scrape_configs:\n  - job_name: konseki\n    static_configs:\n"
         "      - targets: ['127.0.0.1:"
      << k.MetricsPort() << "']\n";
  ChildProcess prom;
  int prom_port = 0;
  bool ready = false;
  for (int attempt = 0; attempt < 3 && !ready; ++attempt) {
    prom_port = FreeTcpPort();
    std::filesystem::remove_all(dir.File("tsdb"));
    ASSERT_TRUE(prom.Start({kPrometheus, "--config.file=" + dir.File("prometheus.yml"),
                            "--storage.tsdb.path=" + dir.File("tsdb"),
                            "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
                           dir.File("prometheus")));
    httplib::Client p("127.0.0.1", prom_port);
    p.set_connection_timeout(std::chrono::milliseconds(200));
    ready = WaitFor([&] {
              if (!prom.running()) return true;
              auto r = p.Get("/-/ready");
              return r && r->status == 200;
            }) &&
            prom.running();
  }
  ASSERT_TRUE(ready) << prom.Stderr();
  httplib::Client api("127.0.0.1", prom_port);
  std::string body;
  const std::string want = "\"" + std::to_string(kSent) + "\"";
  bool seen = WaitFor(
      [&] {
        auto r = api.Get("/api/v1/query?query=sum(konseki_received_messages_total)");
        if (!r || r->status != 200) return false;
        body = r->body;
        return body.find(want) != std::string::npos;
      },
      std::chrono::seconds(20));
  EXPECT_TRUE(seen) << body << "\n" << prom.Stderr();
  auto matches = api.Get("/api/v1/query?query=sum(konseki_rule_matches_total)");
  ASSERT_TRUE(matches);
  EXPECT_THAT(matches->body, ::testing::HasSubstr(want)) << "one ssh.auth_failure per line";
  prom.Signal(SIGTERM);
}

}  // namespace
}  // namespace konseki::testing
