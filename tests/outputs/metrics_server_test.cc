#include "outputs/metrics_server.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <libfastjson/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/loopback.h"
#include "tests/testing/stop_child.h"
#include "tests/testing/wait_for.h"

extern char** environ;

namespace konseki::outputs {
namespace {

using konseki::testing::WaitFor;

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string MakeTempDir() {
  std::string tmpl = (fs::path(::testing::TempDir()) / "konseki_metrics_XXXXXX").string();
  char* d = mkdtemp(tmpl.data());
  EXPECT_NE(d, nullptr);
  return tmpl;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

// Spawns argv with stdin from `in` (or /dev/null) and stdout+stderr into
// `out`; returns the pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& in, const std::string& out) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.empty() ? "/dev/null" : in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0) << "spawn " << argv[0];
  return rc == 0 ? pid : -1;
}

// Runs argv to completion; returns its exit status (-1 if it did not exit).
int RunCommand(const std::vector<std::string>& argv, const std::string& in, std::string* output) {
  const std::string dir = MakeTempDir();
  const std::string out = dir + "/out";
  pid_t pid = Spawn(argv, in, out);
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  *output = ReadFile(out);
  fs::remove_all(dir);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool HavePromtool() { return access("/usr/bin/promtool", X_OK) == 0; }
bool HavePrometheus() { return access("/usr/bin/prometheus", X_OK) == 0; }

const fs::path kDocs = fs::path(KONSEKI_SOURCE_DIR) / "docs";

// Every "expr" of the Grafana dashboard, with its template variables
// replaced so the query can run as is.
std::vector<std::string> DashboardExprs(std::string* error) {
  std::vector<std::string> exprs;
  fjson_object* root = fjson_tokener_parse(ReadFile(kDocs / "grafana/konseki.json").c_str());
  if (root == nullptr) {
    *error = "docs/grafana/konseki.json is not valid JSON";
    return exprs;
  }
  fjson_object* panels = nullptr;
  if (!fjson_object_object_get_ex(root, "panels", &panels) ||
      fjson_object_get_type(panels) != fjson_type_array) {
    *error = "no panels array";
    fjson_object_put(root);
    return exprs;
  }
  for (int i = 0; i < fjson_object_array_length(panels); ++i) {
    fjson_object* targets = nullptr;
    if (!fjson_object_object_get_ex(fjson_object_array_get_idx(panels, i), "targets", &targets)) {
      continue;
    }
    for (int j = 0; j < fjson_object_array_length(targets); ++j) {
      fjson_object* expr = nullptr;
      if (fjson_object_object_get_ex(fjson_object_array_get_idx(targets, j), "expr", &expr)) {
        std::string e = fjson_object_get_string(expr);
        e = std::regex_replace(e, std::regex("\\$__rate_interval"), "1m");
        e = std::regex_replace(e, std::regex("\\$instance"), ".*");
        exprs.push_back(std::move(e));
      }
    }
  }
  fjson_object_put(root);
  return exprs;
}

std::set<std::string> MetricNamesIn(const std::string& text) {
  std::set<std::string> names;
  static const std::regex kName("konseki_[a-z_]+[a-z]");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kName);
       it != std::sregex_iterator(); ++it) {
    names.insert(it->str());
  }
  return names;
}

std::string UrlEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A registry shaped like a running konseki: labelled counters, plain and
// callback gauges, and label values an attacker controls (hostnames).
void PopulateRealistic(MetricsRegistry& r) {
  r.GetCounter("konseki_received_messages_total", "Messages received.",
               {{"listener", "udp514"}, {"transport", "udp"}})
      ->Inc(12345);
  r.GetCounter("konseki_received_messages_total", "Messages received.",
               {{"listener", "tcp514"}, {"transport", "tcp"}})
      ->Inc(77);
  r.GetCounter("konseki_received_bytes_total", "Bytes received.",
               {{"listener", "udp514"}, {"transport", "udp"}})
      ->Inc(1234567);
  r.GetCounter("konseki_parse_errors_total", "Unparseable messages.", {{"reason", "bad_pri"}})
      ->Inc(3);
  r.GetCounter("konseki_dropped_messages_total", "Dropped messages.",
               {{"stage", "kernel"}, {"reason", "rcvbuf_full"}})
      ->Inc(9);
  r.GetCounter("konseki_dropped_messages_total", "Dropped messages.",
               {{"stage", "queue"}, {"reason", "full"}})
      ->Inc(2);
  r.GetGauge("konseki_queue_depth", "Frames waiting.", {{"worker", "0"}})->Set(17);
  r.GetGauge("konseki_hosts_tracked", "Hosts with state.")->Set(42);
  r.GetCounter("konseki_alerts_total", "Alerts raised.",
               {{"sign", "ssh.auth_failure"}, {"severity", "medium"}})
      ->Inc(5);
  r.GetCounter("konseki_rule_matches_total", "Rule matches.", {{"rule", "ssh-failed-password"}})
      ->Inc(8);
  r.AddGaugeCallback("konseki_host_last_seen_timestamp_seconds", "Last message per host.",
                     [](std::vector<Sample>* out) {
                       out->push_back({{{"host", "web-1"}}, 1.7e9});
                       out->push_back({{{"host", "evil\"host\\with\nnewline"}}, 1700000001.5});
                       out->push_back({{{"host", "ünïcode-host"}}, 1700000002});
                     });
}

// --- ParseListenAddress -----------------------------------------------------

TEST(ParseListenAddressTest, AcceptsV4V6AndBarePort) {
  std::string host;
  uint16_t port = 1;
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:9514", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9514);
  ASSERT_TRUE(ParseListenAddress("[::1]:0", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(ParseListenAddress(":9100", &host, &port).ok());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 9100);
}

TEST(ParseListenAddressTest, RejectsMalformedWithTheAddressInTheMessage) {
  std::string host;
  uint16_t port = 0;
  for (const char* bad :
       {"127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "::1:9514", "127.0.0.1:95x4", "[::1:9514"}) {
    Status s = ParseListenAddress(bad, &host, &port);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_THAT(s.message(), HasSubstr(bad));
  }
}

// --- serving ------------------------------------------------------------------

TEST(MetricsServerTest, ServesRegistryAtMetricsWithPrometheusContentType) {
  MetricsRegistry registry;
  Counter* c = registry.GetCounter("konseki_received_messages_total", "Messages received.",
                                   {{"listener", "udp514"}, {"transport", "udp"}});
  c->Inc(41);
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_NE((*server)->port(), 0);

  httplib::Client cli("127.0.0.1", (*server)->port());
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(res->body, HasSubstr("konseki_received_messages_total{listener=\"udp514\","
                                   "transport=\"udp\"} 41\n"));
  EXPECT_THAT(res->body, HasSubstr("konseki_build_info{version=\""));

  // A later scrape sees the new value: rendered per request, not cached.
  c->Inc();
  res = cli.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_THAT(res->body, HasSubstr("transport=\"udp\"} 42\n"));
  EXPECT_EQ(registry.ValueOf("konseki_metrics_scrapes_total"), 2);
}

TEST(MetricsServerTest, IndexLinksMetricsOtherPathsAre404OtherMethods405) {
  MetricsRegistry registry;
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  httplib::Client cli("127.0.0.1", (*server)->port());

  auto index = cli.Get("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_THAT(index->body, HasSubstr("href=\"/metrics\""));

  auto missing = cli.Get("/metrics/extra");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  auto head = cli.Head("/metrics");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());

  auto post = cli.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  auto del = cli.Delete("/metrics");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
}

TEST(MetricsServerTest, ServesOnIpv6Loopback) {
  int probe = socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool have_v6 = probe >= 0 && bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (probe >= 0) close(probe);
  if (!have_v6) GTEST_SKIP() << "no IPv6 loopback on this machine";

  MetricsRegistry registry;
  auto server = MetricsServer::Start("[::1]:0", registry);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  httplib::Client cli("::1", (*server)->port());
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST(MetricsServerTest, BindErrorNamesTheAddressAndTheReason) {
  MetricsRegistry registry;
  auto first = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::string addr = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = MetricsServer::Start(addr, registry);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kIoError);
  EXPECT_THAT(second.status().message(), HasSubstr(addr));
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));

  auto bad = MetricsServer::Start("no-such-host.invalid:9514", registry);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("no-such-host.invalid:9514"));
}

TEST(MetricsServerTest, StopIsIdempotentAndReleasesThePort) {
  MetricsRegistry registry;
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok());
  const uint16_t port = (*server)->port();
  (*server)->Stop();
  (*server)->Stop();
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(std::chrono::seconds(1));
  EXPECT_FALSE(cli.Get("/metrics"));
  auto again = MetricsServer::Start("127.0.0.1:" + std::to_string(port), registry);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

// Opens n TCP connections to port that send nothing.
std::vector<int> SilentConnections(uint16_t port, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    fds.push_back(fd);
  }
  return fds;
}

// Issue #10 item 8: with two shared threads and 5 s timeouts, 40 silent
// connections made a scrape wait 99 s. With the defaults a scrape is
// answered while they stay open (the client gives up after 3 s).
TEST(MetricsServerTest, FortySilentClientsDoNotDelayAScrape) {
  MetricsRegistry registry;
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok());
  std::vector<int> idle = SilentConnections((*server)->port(), 40);
  httplib::Client cli("127.0.0.1", (*server)->port());
  cli.set_connection_timeout(std::chrono::seconds(3));
  cli.set_read_timeout(std::chrono::seconds(3));
  const auto start = std::chrono::steady_clock::now();
  auto res = cli.Get("/metrics");
  std::printf("scrape with 40 silent connections open: %s after %.3f s\n",
              res ? "answered" : "no answer",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  for (int fd : idle) close(fd);
}

// More silent clients than threads: they are dropped after read_timeout,
// so the scrape waits its turn but is answered.
TEST(MetricsServerTest, SilentClientsPastTheCapOnlyDelayAScrape) {
  MetricsRegistry registry;
  MetricsServerOptions options;
  options.max_connections = 2;
  options.read_timeout = std::chrono::seconds(1);
  auto server = MetricsServer::Start("127.0.0.1:0", registry, options);
  ASSERT_TRUE(server.ok());
  std::vector<int> idle = SilentConnections((*server)->port(), 6);
  httplib::Client cli("127.0.0.1", (*server)->port());
  cli.set_read_timeout(std::chrono::seconds(30));
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  for (int fd : idle) close(fd);
}

// --- promtool -----------------------------------------------------------------

TEST(MetricsExpositionTest, PromtoolAcceptsARealisticRegistry) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  MetricsRegistry registry;
  PopulateRealistic(registry);
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok());
  httplib::Client cli("127.0.0.1", (*server)->port());
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res);
  // The hostile label value arrives escaped, on one line.
  EXPECT_THAT(res->body, HasSubstr("host=\"evil\\\"host\\\\with\\nnewline\"} 1700000001.5\n"));

  const std::string dir = MakeTempDir();
  WriteFile(dir + "/metrics.txt", res->body);
  std::string out;
  EXPECT_EQ(RunCommand({"/usr/bin/promtool", "check", "metrics"}, dir + "/metrics.txt", &out), 0)
      << out << "\n--- exposition ---\n"
      << res->body;

  // The same check rejects a broken exposition, so it is not vacuous.
  WriteFile(dir + "/bad.txt", "# TYPE konseki_x counter\nkonseki_x{host=\"a\nb\"} 1\n");
  EXPECT_NE(RunCommand({"/usr/bin/promtool", "check", "metrics"}, dir + "/bad.txt", &out), 0);
  fs::remove_all(dir);
}

// --- a real Prometheus scrapes us ------------------------------------------

// Owns a prometheus child process; kills it by pid on destruction.
class PrometheusProcess {
 public:
  ~PrometheusProcess() {
    konseki::testing::StopChild(pid_);
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Starts prometheus scraping 127.0.0.1:target_port and waits until it is
  // ready. The free port it listens on is picked by bind-and-close, so
  // another process may take it first: then prometheus exits and we retry.
  bool Start(uint16_t target_port) {
    dir_ = MakeTempDir();
    WriteFile(dir_ + "/prometheus.yml",
              "global:\n"
              "  scrape_interval: 1s\n"
              "  scrape_timeout: 1s\n"
              "scrape_configs:\n"
              "  - job_name: konseki\n"
              "    static_configs:\n"
              "      - targets: ['127.0.0.1:" +
                  std::to_string(target_port) + "']\n");
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = static_cast<uint16_t>(konseki::testing::FreeTcpPort());
      pid_ = Spawn({"/usr/bin/prometheus", "--config.file=" + dir_ + "/prometheus.yml",
                    "--storage.tsdb.path=" + dir_ + "/data",
                    "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
                   "", dir_ + "/prometheus.log");
      if (pid_ <= 0) return false;
      httplib::Client cli("127.0.0.1", port_);
      cli.set_connection_timeout(std::chrono::milliseconds(200));
      bool exited = false;
      const bool ready = WaitFor(
          [&] {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
              exited = true;
              return true;
            }
            auto res = cli.Get("/-/ready");
            return res && res->status == 200;
          },
          std::chrono::seconds(10));
      if (exited) {
        pid_ = -1;
        fs::remove_all(dir_ + "/data");
        continue;
      }
      return ready;
    }
    return false;
  }
  uint16_t port() const { return port_; }
  std::string Log() const { return ReadFile(dir_ + "/prometheus.log"); }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

TEST(MetricsServerPrometheusTest, RealPrometheusScrapesTheCounterValue) {
  if (!HavePrometheus()) {
    GTEST_SKIP() << "prometheus not installed (Debian package prometheus); skipping the "
                    "end-to-end scrape";
  }
  MetricsRegistry registry;
  PopulateRealistic(registry);
  // A value no default could produce.
  registry
      .GetCounter("konseki_received_messages_total", "Messages received.",
                  {{"listener", "udp514"}, {"transport", "udp"}})
      ->Inc(4242);
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  PrometheusProcess prom;
  ASSERT_TRUE(prom.Start((*server)->port())) << prom.Log();
  httplib::Client api("127.0.0.1", prom.port());
  api.set_connection_timeout(std::chrono::seconds(1));
  api.set_read_timeout(std::chrono::seconds(2));

  const std::string query =
      "/api/v1/query?query=konseki_received_messages_total%7Blistener%3D%22udp514%22%7D";
  std::string last_body;
  const bool seen = WaitFor(
      [&] {
        auto res = api.Get(query.c_str());
        if (!res || res->status != 200) return false;
        last_body = res->body;
        // 12345 + 4242 from PopulateRealistic and the increment above.
        return res->body.find("\"16587\"") != std::string::npos;
      },
      std::chrono::seconds(15));
  EXPECT_TRUE(seen) << "last API answer: " << last_body << "\n--- prometheus log ---\n"
                    << prom.Log();
  EXPECT_THAT(last_body, HasSubstr("\"job\":\"konseki\""));
  EXPECT_THAT(last_body, HasSubstr("\"transport\":\"udp\""));
  EXPECT_GE(registry.ValueOf("konseki_metrics_scrapes_total"), 1);

  // The scrape also reports the target healthy (the hostile label values did
  // not break Prometheus's parser).
  auto up = api.Get("/api/v1/query?query=up%7Bjob%3D%22konseki%22%7D");
  ASSERT_TRUE(up);
  EXPECT_THAT(up->body, HasSubstr("\"1\"]"));

  // Every query of the Grafana dashboard is valid PromQL for this Prometheus.
  std::string error;
  const std::vector<std::string> exprs = DashboardExprs(&error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_GT(exprs.size(), 10u);
  for (const std::string& e : exprs) {
    auto res = api.Get(("/api/v1/query?query=" + UrlEncode(e)).c_str());
    ASSERT_TRUE(res) << e;
    EXPECT_EQ(res->status, 200) << e << "\n" << res->body;
    EXPECT_THAT(res->body, HasSubstr("\"status\":\"success\"")) << e;
  }
}

// --- operator docs ---------------------------------------------------------------

TEST(OperatorDocsTest, PromtoolAcceptsConfigAndRulesAndTheRuleUnitTestsPass) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  const std::string dir = (kDocs / "prometheus").string();
  std::string out;
  EXPECT_EQ(
      RunCommand({"/usr/bin/promtool", "check", "rules", dir + "/konseki.rules.yml"}, "", &out), 0)
      << out;
  EXPECT_EQ(RunCommand({"/usr/bin/promtool", "check", "config", dir + "/prometheus.yml"}, "", &out),
            0)
      << out;
  // Fires each alert on synthetic series and checks labels and annotations.
  EXPECT_EQ(
      RunCommand({"/usr/bin/promtool", "test", "rules", dir + "/konseki.rules.test.yml"}, "", &out),
      0)
      << out;
}

TEST(OperatorDocsTest, EveryMetricUsedByRulesAndDashboardIsDocumented) {
  const std::string doc = ReadFile(kDocs / "metrics.md");
  ASSERT_FALSE(doc.empty());
  const std::set<std::string> documented = MetricNamesIn(doc);
  std::string error;
  std::string dashboard_exprs;
  for (const std::string& e : DashboardExprs(&error)) dashboard_exprs += e + "\n";
  ASSERT_TRUE(error.empty()) << error;
  const std::string rules = ReadFile(kDocs / "prometheus/konseki.rules.yml");
  ASSERT_FALSE(rules.empty());
  for (const std::string& used : {dashboard_exprs, rules}) {
    for (const std::string& name : MetricNamesIn(used)) {
      EXPECT_TRUE(documented.count(name)) << name << " is used but not in docs/metrics.md";
    }
  }
}

TEST(OperatorDocsTest, TheAgreedMetricNamesAreAllDocumented) {
  const std::set<std::string> documented = MetricNamesIn(ReadFile(kDocs / "metrics.md"));
  for (const char* name : {"konseki_received_messages_total",
                           "konseki_received_bytes_total",
                           "konseki_parse_errors_total",
                           "konseki_truncated_messages_total",
                           "konseki_dropped_messages_total",
                           "konseki_queue_depth",
                           "konseki_archive_written_messages_total",
                           "konseki_archive_written_bytes_total",
                           "konseki_archive_write_errors_total",
                           "konseki_rule_matches_total",
                           "konseki_alerts_total",
                           "konseki_hosts_tracked",
                           "konseki_hosts_silent",
                           "konseki_host_last_seen_timestamp_seconds",
                           "konseki_connections",
                           "konseki_connections_rejected_total",
                           "konseki_rules_loaded",
                           "konseki_build_info",
                           "konseki_alert_deliveries_total",
                           "konseki_alert_delivery_failures_total",
                           "konseki_alert_delivery_dropped_total",
                           "konseki_alert_delivery_queue_depth",
                           "konseki_alert_notifications_throttled_total",
                           "konseki_metrics_scrapes_total"}) {
    EXPECT_TRUE(documented.count(name)) << name;
  }
}

}  // namespace
}  // namespace konseki::outputs
