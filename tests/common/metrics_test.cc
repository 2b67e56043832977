#include "common/metrics.h"

#include <gtest/gtest.h>

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
