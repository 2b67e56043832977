// AlertFanout with real notifying sinks: an exec sink running a real program
// and a webhook to a closed loopback port, both failing with full queues.
#include "app/alert_fanout.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "tests/testing/loopback.h"
#include "tests/testing/recording_alert_sink.h"
#include "tests/testing/sample_alert.h"
#include "tests/testing/wait_for.h"

namespace konseki::app {
namespace {

using konseki::testing::Field;
using konseki::testing::RecordingAlertSink;
using konseki::testing::SampleAlert;
using konseki::testing::WaitFor;

Alert Signed(const std::string& sign, int n) {
  Alert a = SampleAlert("rule-" + std::to_string(n));
  a.sign = sign;
  return a;
}

// Runs step on its own thread and waits for it to return. A step that never
// returns is a deadlock: the process cannot unwind past the stuck thread, so
// the test reports it, kills the children listed in pid_file (they would
// keep ctest's output pipe open) and exits.
void MustReturn(const char* what, const std::filesystem::path& pid_file,
                const std::function<void()>& step) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread t([step, done] {
    step();
    done->store(true);
  });
  if (!WaitFor([&] { return done->load(); }, std::chrono::seconds(60))) {
    ADD_FAILURE() << what << " never returned (deadlock)";
    std::ifstream pids(pid_file);
    for (pid_t pid; pids >> pid;) kill(-pid, SIGKILL);
    std::fflush(stdout);
    _exit(1);
  }
  t.join();
}

class AlertFanoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::path(::testing::TempDir()) / "konseki_fanout_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  double Value(const char* name, const Labels& labels) { return metrics_.ValueOf(name, labels); }
  double Depth(const std::string& sink) {
    return Value("konseki_alert_delivery_queue_depth", {{"sink", sink}});
  }

  std::filesystem::path dir_;
  MetricsRegistry metrics_;
  FakeClock clock_;
  RecordingAlertSink record_;
};

// The mail relay and the chat webhook down together: the first alert one
// sink gives up raises alert.delivery_failed into the other, whose queue is
// full too, which gives that notice up and raises its own. Before, the
// second notice re-entered the fanout under the lock the first one held and
// the emitting thread (a worker) waited for itself forever.
TEST_F(AlertFanoutTest, TwoFailingSinksWithFullQueuesDoNotStopTheEmitterAndStopCleanly) {
  Config config;
  config.alerts_throttle.max_per_rule_host = 1000;
  config.alerts_throttle.max_per_rule = 1000;
  AlertSinkSpec<outputs::WebhookSinkOptions> webhook;
  webhook.options.url =
      "http://127.0.0.1:" + std::to_string(konseki::testing::FreeTcpPort()) + "/hook";
  webhook.options.max_attempts = 1000;
  // After its first refused connection the webhook waits out its backoff.
  webhook.options.initial_backoff = std::chrono::hours(1);
  webhook.options.max_backoff = std::chrono::hours(1);
  webhook.options.queue.capacity = 1;
  webhook.options.queue.drain_timeout = std::chrono::milliseconds(100);
  webhook.filter.signs = {"fill.webhook", "alert.*"};
  config.alerts_webhook.push_back(webhook);
  AlertSinkSpec<outputs::ExecSinkOptions> exec;
  // A command that hangs (a mail relay that never answers): with one child
  // allowed, the next alert waits for its slot.
  const std::filesystem::path pid_file = dir_ / "pids";
  exec.options.argv = {"/bin/sh", "-c", "echo $$ >> '" + pid_file.string() + "'; exec sleep 3600"};
  exec.options.timeout = std::chrono::hours(1);
  exec.options.max_children = 1;
  exec.options.queue.capacity = 1;
  exec.options.queue.drain_timeout = std::chrono::milliseconds(100);
  exec.filter.signs = {"fill.exec", "alert.*"};
  config.alerts_exec.push_back(exec);

  auto created = AlertFanout::Create(config, record_, clock_, metrics_);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<AlertFanout> fanout = std::move(created).value();

  // Exec: one child running, one alert waiting for its slot, one queued.
  fanout->Emit(Signed("fill.exec", 1));
  ASSERT_TRUE(WaitFor([&] {
    return Value("konseki_alert_exec_children", {{"sink", "exec"}}) == 1 && Depth("exec") == 0;
  }));
  fanout->Emit(Signed("fill.exec", 2));
  ASSERT_TRUE(WaitFor([&] { return Depth("exec") == 0; }));
  fanout->Emit(Signed("fill.exec", 3));
  ASSERT_EQ(Depth("exec"), 1);
  // Webhook: one alert in its backoff after a refused connection, one queued.
  fanout->Emit(Signed("fill.webhook", 4));
  ASSERT_TRUE(WaitFor([&] {
    return Value("konseki_alert_delivery_failures_total",
                 {{"sink", "webhook"}, {"reason", "connect"}}) == 1;
  }));
  fanout->Emit(Signed("fill.webhook", 5));
  ASSERT_EQ(Depth("webhook"), 1);
  // Both queues full, neither has given anything up yet.
  EXPECT_EQ(record_.Count("alert.delivery_failed"), 0u);

  MustReturn("Emit into two full failing sinks", pid_file,
             [&] { fanout->Emit(Signed("fill.webhook", 6)); });
  MustReturn("Emit after the sinks failed", pid_file,
             [&] { fanout->Emit(Signed("fill.exec", 7)); });

  // Both sinks' failures reached the alert file, and everything emitted is
  // in it.
  ASSERT_TRUE(WaitFor([&] { return record_.Count("alert.delivery_failed") == 2; }));
  std::vector<std::string> failing;
  for (const Alert& a : record_.alerts()) {
    if (a.sign == "alert.delivery_failed") failing.push_back(Field(a, "sink"));
  }
  EXPECT_EQ(failing, (std::vector<std::string>{"webhook", "exec"}));
  EXPECT_EQ(record_.Count("fill.exec") + record_.Count("fill.webhook"), 7u);
  EXPECT_GE(Value("konseki_alert_delivery_dropped_total",
                  {{"sink", "webhook"}, {"reason", "queue_full"}}),
            2);
  EXPECT_GE(
      Value("konseki_alert_delivery_dropped_total", {{"sink", "exec"}, {"reason", "queue_full"}}),
      2);

  // Stopping ends, and what the sinks still held is counted as shutdown:
  // the webhook's queued alert and the one in its backoff, exec's queued
  // alert, the one waiting for a slot and the running child.
  MustReturn("Stopping the fanout", pid_file, [&] { fanout.reset(); });
  EXPECT_EQ(
      Value("konseki_alert_delivery_dropped_total", {{"sink", "webhook"}, {"reason", "shutdown"}}),
      2);
  EXPECT_EQ(
      Value("konseki_alert_delivery_dropped_total", {{"sink", "exec"}, {"reason", "shutdown"}}), 3);
  EXPECT_EQ(Value("konseki_alert_exec_children", {{"sink", "exec"}}), 0);
}

}  // namespace
}  // namespace konseki::app
