#include "outputs/throttled_sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tests/testing/recording_alert_sink.h"

namespace konseki::outputs {
namespace {

using konseki::testing::Field;
using konseki::testing::RecordingAlertSink;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

Alert Failure(std::string host, std::string rule = "ssh-auth-failure") {
  Alert a;
  a.host = std::move(host);
  a.rule = std::move(rule);
  a.sign = "ssh.auth_failure";
  a.severity = Severity::kMedium;
  a.title = "SSH authentication failure";
  return a;
}

TEST(ThrottledSinkTest, BruteForceStormYieldsAHandfulWithASummaryCount) {
  FakeClock clock;
  MetricsRegistry registry;
  RecordingAlertSink inner;
  ThrottledSinkOptions o;
  o.window = std::chrono::minutes(10);
  o.max_per_rule_host = 3;
  ThrottledSink sink(inner, clock, o, registry);

  // 1000 failures from one host within five minutes.
  for (int i = 0; i < 1000; ++i) {
    sink.Emit(Failure("web-1"));
    clock.Advance(std::chrono::milliseconds(300));
  }
  ASSERT_EQ(inner.alerts().size(), 3u);
  EXPECT_EQ(Field(inner.alerts()[0], "suppressed"), "<absent>");
  EXPECT_EQ(registry.ValueOf("konseki_alert_notifications_throttled_total",
                             {{"rule", "ssh-auth-failure"}}),
            997);

  // The next window: the first alert through carries the count.
  clock.Advance(std::chrono::minutes(10));
  sink.Emit(Failure("web-1"));
  ASSERT_EQ(inner.alerts().size(), 4u);
  EXPECT_EQ(Field(inner.alerts()[3], "suppressed"), "997");
  EXPECT_THAT(inner.alerts()[3].title, HasSubstr("(+997 suppressed)"));
  EXPECT_NE(Field(inner.alerts()[3], "suppressed_since"), "<absent>");
  // Counted once: the next one carries nothing.
  sink.Emit(Failure("web-1"));
  ASSERT_EQ(inner.alerts().size(), 5u);
  EXPECT_EQ(Field(inner.alerts()[4], "suppressed"), "<absent>");
}

TEST(ThrottledSinkTest, RuleCapLimitsAStormSpreadOverManyHosts) {
  FakeClock clock;
  MetricsRegistry registry;
  RecordingAlertSink inner;
  ThrottledSinkOptions o;
  o.max_per_rule_host = 3;
  o.max_per_rule = 10;
  ThrottledSink sink(inner, clock, o, registry);
  for (int i = 0; i < 500; ++i) sink.Emit(Failure("host-" + std::to_string(i)));
  EXPECT_EQ(inner.alerts().size(), 10u);
  // Another rule is not affected by this one's storm.
  sink.Emit(Failure("host-1", "sudo-root"));
  ASSERT_EQ(inner.alerts().size(), 11u);
  EXPECT_EQ(inner.alerts().back().rule, "sudo-root");
}

TEST(ThrottledSinkTest, HostsAreThrottledSeparately) {
  FakeClock clock;
  MetricsRegistry registry;
  RecordingAlertSink inner;
  ThrottledSinkOptions o;
  o.max_per_rule_host = 2;
  o.max_per_rule = 100;
  ThrottledSink sink(inner, clock, o, registry);
  for (int i = 0; i < 10; ++i) sink.Emit(Failure("a"));
  for (int i = 0; i < 10; ++i) sink.Emit(Failure("b"));
  std::map<std::string, int> per_host;
  for (const Alert& a : inner.alerts()) ++per_host[a.host];
  EXPECT_THAT(per_host, Contains(Pair("a", 2)));
  EXPECT_THAT(per_host, Contains(Pair("b", 2)));
  // b's first alert reports what was suppressed for the rule so far (a's 8).
  EXPECT_EQ(Field(inner.alerts()[2], "suppressed"), "8");
}

TEST(ThrottledSinkTest, FlushReportsAStormThatStopped) {
  FakeClock clock;
  MetricsRegistry registry;
  RecordingAlertSink inner;
  ThrottledSinkOptions o;
  o.window = std::chrono::minutes(5);
  o.max_per_rule_host = 1;
  ThrottledSink sink(inner, clock, o, registry);
  Alert worst = Failure("web-1");
  for (int i = 0; i < 50; ++i) sink.Emit(Failure("web-1"));
  worst.severity = Severity::kHigh;
  sink.Emit(worst);
  ASSERT_EQ(inner.alerts().size(), 1u);

  sink.Flush();  // window not over: nothing yet
  EXPECT_EQ(inner.alerts().size(), 1u);
  clock.Advance(std::chrono::minutes(5));
  sink.Flush();
  ASSERT_EQ(inner.alerts().size(), 2u);
  const Alert s = inner.alerts()[1];
  EXPECT_EQ(s.rule, "ssh-auth-failure");
  EXPECT_EQ(s.sign, "ssh.auth_failure");
  EXPECT_EQ(s.severity, Severity::kHigh);
  EXPECT_EQ(Field(s, "suppressed"), "50");
  EXPECT_EQ(s.time, clock.Now());
  sink.Flush();  // reported once
  EXPECT_EQ(inner.alerts().size(), 2u);
}

TEST(ThrottledSinkTest, HostTableIsBoundedUnderSpoofedHostnames) {
  FakeClock clock;
  MetricsRegistry registry;
  RecordingAlertSink inner;
  ThrottledSinkOptions o;
  o.max_tracked_hosts = 100;
  o.max_per_rule_host = 1;
  o.max_per_rule = 1'000'000;
  ThrottledSink sink(inner, clock, o, registry);
  // 10 000 distinct hosts: the first 100 are tracked, the rest fall back to
  // the rule cap only (so they pass here, the rule cap being huge), and
  // memory stays bounded. A repeat of a tracked host is still limited.
  for (int i = 0; i < 10'000; ++i) sink.Emit(Failure("spoof-" + std::to_string(i)));
  EXPECT_EQ(inner.alerts().size(), 10'000u);
  sink.Emit(Failure("spoof-5"));
  EXPECT_EQ(inner.alerts().size(), 10'000u);
  // After the window the table is pruned and new hosts are tracked again.
  clock.Advance(o.window);
  sink.Emit(Failure("new-host"));
  sink.Emit(Failure("new-host"));
  EXPECT_EQ(inner.alerts().size(), 10'001u);
}

}  // namespace
}  // namespace konseki::outputs
