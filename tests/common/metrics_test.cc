#include "common/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace konseki {
namespace {

TEST(MetricsTest, CountersSumAcrossThreads) {
  MetricsRegistry reg;
  Counter* c = reg.GetCounter("konseki_test_total", "test", {{"k", "v"}});
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([c] {
      for (int j = 0; j < 10000; ++j) c->Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->Value(), 40000u);
  EXPECT_EQ(reg.GetCounter("konseki_test_total", "test", {{"k", "v"}}), c);
  EXPECT_EQ(reg.ValueOf("konseki_test_total", {{"k", "v"}}), 40000);
}

// The host name bytes of one spoofed datagram
// (printf '<13>Dec  1 12:00:00 \xc3\x28 app: x' > /dev/udp/...).
constexpr char kBadHost[] = "\xc3\x28";

TEST(MetricsTest, LabelValuesAreValidUtf8) {
  EXPECT_EQ(EscapeLabelValue(kBadHost), "\xEF\xBF\xBD(");
  EXPECT_EQ(EscapeLabelValue(std::string("a\0\"\\\n", 5)), "a\xEF\xBF\xBD\\\"\\\\\\n");
}

// promtool check metrics on the exposition, read from stdin; returns its
// exit status and puts its output in *out.
int Promtool(const std::string& exposition, std::string* out) {
  char tmpl[] = "/tmp/konseki-promtool-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return -1;
  close(fd);
  std::ofstream(tmpl, std::ios::binary) << exposition;
  const std::string cmd = std::string("/usr/bin/promtool check metrics < ") + tmpl + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int status = pclose(p);
  unlink(tmpl);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(MetricsTest, PromtoolAcceptsAHostLabelWithInvalidUtf8) {
  if (access("/usr/bin/promtool", X_OK) != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  MetricsRegistry reg;
  reg.GetGauge("konseki_host_last_seen_timestamp_seconds", "Last message from a host.",
               {{"host", kBadHost}})
      ->Set(1700000000);
  reg.GetGauge("konseki_host_last_seen_timestamp_seconds", "Last message from a host.",
               {{"host", "web1"}})
      ->Set(1700000001);
  const std::string text = reg.RenderPrometheus();
  std::string out;
  EXPECT_EQ(Promtool(text, &out), 0) << out << "\n--- exposition ---\n" << text;
  // The same exposition with the raw bytes is rejected: the check is not vacuous.
  std::string raw = text;
  raw.replace(raw.find("\xEF\xBF\xBD("), 4, kBadHost);
  out.clear();
  EXPECT_NE(Promtool(raw, &out), 0) << raw;
}

TEST(MetricsTest, RendersTextFormatWithEscapedLabels) {
  MetricsRegistry reg;
  reg.GetCounter("konseki_a_total", "A things", {{"host", "x\"y\\z"}})->Inc(3);
  reg.GetGauge("konseki_b", "B level")->Set(1.5);
  reg.AddGaugeCallback("konseki_c", "C", [](std::vector<Sample>* out) {
    out->push_back({{{"w", "0"}}, 7});
  });
  std::string text = reg.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE konseki_a_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("konseki_a_total{host=\"x\\\"y\\\\z\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("konseki_b 1.5\n"), std::string::npos);
  EXPECT_NE(text.find("konseki_c{w=\"0\"} 7\n"), std::string::npos);
}

}  // namespace
}  // namespace konseki

namespace konseki {
namespace {

TEST(MetricsSnapshotTest, ListsCountersGaugesAndCallbacksOfThePrefix) {
  MetricsRegistry r;
  r.GetCounter("konseki_a_total", "a", {{"z", "1"}, {"b", "2"}})->Inc(3);
  r.GetGauge("konseki_b", "b")->Set(1.5);
  r.GetGauge("other_c", "c")->Set(7);
  r.AddGaugeCallback("konseki_cb", "cb", [](std::vector<Sample>* out) {
    out->push_back({{{"worker", "0"}}, 4});
  });
  std::vector<MetricValue> s = r.Snapshot("konseki_");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].name, "konseki_a_total");
  EXPECT_EQ(s[0].labels, (Labels{{"b", "2"}, {"z", "1"}}));
  EXPECT_EQ(s[0].value, 3);
  EXPECT_EQ(s[1].value, 1.5);
  EXPECT_EQ(s[2].name, "konseki_cb");
  EXPECT_EQ(s[2].value, 4);
  EXPECT_EQ(r.Snapshot().size(), 4u);
}

}  // namespace
}  // namespace konseki
