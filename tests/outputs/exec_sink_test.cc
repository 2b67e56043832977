// ExecSink running real programs (/bin/sh, cat) in a temp dir.
#include "outputs/exec_sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libfastjson/json.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "tests/testing/json_fields.h"
#include "tests/testing/wait_for.h"

namespace konseki::outputs {
namespace {

using konseki::testing::JsonString;
using konseki::testing::WaitFor;

namespace fs = std::filesystem;
using ::testing::HasSubstr;

Alert MakeAlert(std::string rule) {
  Alert a;
  a.time = TimePoint(std::chrono::seconds(1'700'000'000));
  a.received = a.time;
  a.host = "web-1";
  a.rule = std::move(rule);
  a.sign = "ssh.login";
  a.severity = Severity::kCritical;
  a.title = "Root login from $(touch pwned)";
  return a;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ExecSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "konseki_exec_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  double Value(const char* name, const Labels& labels) { return registry_.ValueOf(name, labels); }

  fs::path dir_;
  MetricsRegistry registry_;
};

TEST_F(ExecSinkTest, PipesTheAlertJsonToTheProgramWithAlertEnvironment) {
  ExecSinkOptions o;
  // No shell unless asked for: here sh is argv[0] on purpose, and the
  // attacker-influenced title only ever travels as data.
  o.argv = {"/bin/sh", "-c",
            "cat > \"$0/$KONSEKI_ALERT_RULE.json\"; "
            "printf '%s|%s|%s|%s' \"$KONSEKI_ALERT_SIGN\" \"$KONSEKI_ALERT_HOST\" "
            "\"$KONSEKI_ALERT_SEVERITY\" \"$KONSEKI_ALERT_TITLE\" > \"$0/$KONSEKI_ALERT_RULE.env\"",
            dir_.string()};
  {
    auto sink = ExecSink::Create(o, registry_);
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    (*sink)->Emit(MakeAlert("ssh-root-login"));
    (*sink)->Emit(MakeAlert("sudo-root"));
    ASSERT_TRUE(WaitFor([&] {
      return Value("konseki_alert_deliveries_total", {{"sink", "exec"}}) == 2;
    }));
  }
  const std::string json = ReadFile(dir_ / "ssh-root-login.json");
  EXPECT_EQ(json.back(), '\n');
  EXPECT_EQ(JsonString(json, "rule"), "ssh-root-login");
  EXPECT_EQ(JsonString(json, "severity"), "critical");
  EXPECT_EQ(JsonString(ReadFile(dir_ / "sudo-root.json"), "rule"), "sudo-root");
  EXPECT_EQ(ReadFile(dir_ / "sudo-root.env"),
            "ssh.login|web-1|critical|Root login from $(touch pwned)");
  EXPECT_FALSE(fs::exists(dir_ / "pwned"));
  EXPECT_FALSE(fs::exists("pwned"));
}

TEST_F(ExecSinkTest, ArgvIsPassedLiterallyWithoutAShell) {
  ExecSinkOptions o;
  const std::string out = (dir_ / "out; touch injected").string();
  o.argv = {"tee", out};  // PATH lookup, and a file name with shell syntax
  {
    auto sink = ExecSink::Create(o, registry_);
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    (*sink)->Emit(MakeAlert("r"));
    ASSERT_TRUE(WaitFor([&] {
      return Value("konseki_alert_deliveries_total", {{"sink", "exec"}}) == 1;
    }));
  }
  EXPECT_EQ(JsonString(ReadFile(out), "rule"), "r");
  EXPECT_FALSE(fs::exists(dir_ / "injected"));
  EXPECT_FALSE(fs::exists("injected"));
}

TEST_F(ExecSinkTest, NonZeroExitIsAFailureNotRetried) {
  ExecSinkOptions o;
  o.argv = {"/bin/sh", "-c", "cat >/dev/null; echo x >> \"$0/runs\"; exit 3", dir_.string()};
  auto sink = ExecSink::Create(o, registry_);
  ASSERT_TRUE(sink.ok());
  (*sink)->Emit(MakeAlert("r"));
  // The delivery thread counts the failure, then the drop: wait for the
  // second (checking it right after the first failed once in CI).
  ASSERT_TRUE(WaitFor([&] {
    return Value("konseki_alert_delivery_dropped_total",
                 {{"sink", "exec"}, {"reason", "permanent_error"}}) == 1;
  }));
  EXPECT_EQ(
      Value("konseki_alert_delivery_failures_total", {{"sink", "exec"}, {"reason", "exit_status"}}),
      1);
  EXPECT_EQ(Value("konseki_alert_deliveries_total", {{"sink", "exec"}}), 0);
  EXPECT_EQ(ReadFile(dir_ / "runs"), "x\n");
}

TEST_F(ExecSinkTest, ChildPastItsTimeoutIsKilledWithItsProcessGroup) {
  FakeClock clock;
  ExecSinkOptions o;
  // sh starts a grandchild; both must die at the timeout.
  o.argv = {"/bin/sh", "-c",
            "sleep 30 & echo $! > \"$0/grandchild.tmp\"; mv \"$0/grandchild.tmp\" "
            "\"$0/grandchild\"; wait",
            dir_.string()};
  o.timeout = std::chrono::seconds(60);
  auto sink = ExecSink::Create(o, registry_, &clock);
  ASSERT_TRUE(sink.ok());
  (*sink)->Emit(MakeAlert("r"));
  ASSERT_TRUE(WaitFor([&] { return fs::exists(dir_ / "grandchild"); }));
  const pid_t grandchild = std::stoi(ReadFile(dir_ / "grandchild"));
  // Within its time nothing happens to it.
  clock.Advance(std::chrono::seconds(59));
  EXPECT_FALSE(WaitFor(
      [&] {
        return Value("konseki_alert_delivery_failures_total",
                     {{"sink", "exec"}, {"reason", "timeout"}}) > 0;
      },
      std::chrono::milliseconds(200)));
  EXPECT_EQ((*sink)->Running(), 1u);

  clock.Advance(std::chrono::seconds(2));
  ASSERT_TRUE(WaitFor([&] {
    return Value("konseki_alert_delivery_failures_total",
                 {{"sink", "exec"}, {"reason", "timeout"}}) == 1;
  }));
  // Running() is updated after the reaped children are counted.
  EXPECT_TRUE(WaitFor([&] { return (*sink)->Running() == 0; }));
  // The grandchild was reparented (to init or a subreaper); once killed it is
  // gone or a zombie, never still sleeping.
  EXPECT_TRUE(WaitFor([&] {
    std::string stat = ReadFile("/proc/" + std::to_string(grandchild) + "/stat");
    return stat.empty() || stat.find(") Z ") != std::string::npos;
  }));
}

TEST_F(ExecSinkTest, CapsConcurrentChildrenAndQueuesTheRest) {
  ExecSinkOptions o;
  // Each child waits for a gate file, so they pile up.
  o.argv = {"/bin/sh", "-c", "cat >/dev/null; while [ ! -e \"$0/gate\" ]; do sleep 0.01; done",
            dir_.string()};
  o.max_children = 2;
  auto sink = ExecSink::Create(o, registry_);
  ASSERT_TRUE(sink.ok());
  for (int i = 0; i < 5; ++i) (*sink)->Emit(MakeAlert("r"));
  ASSERT_TRUE(WaitFor([&] { return (*sink)->Running() == 2; }));
  // The delivery thread holds one alert waiting for a slot; two queue.
  ASSERT_TRUE(WaitFor([&] {
    return Value("konseki_alert_delivery_queue_depth", {{"sink", "exec"}}) == 2;
  }));
  EXPECT_EQ((*sink)->Running(), 2u);
  EXPECT_EQ(Value("konseki_alert_exec_children", {{"sink", "exec"}}), 2);
  std::ofstream(dir_ / "gate") << "go";
  EXPECT_TRUE(WaitFor([&] {
    return Value("konseki_alert_deliveries_total", {{"sink", "exec"}}) == 5;
  }));
  EXPECT_TRUE(WaitFor([&] { return (*sink)->Running() == 0; }));
}

TEST_F(ExecSinkTest, AlertLargerThanThePipeBufferArrivesWhole) {
  ExecSinkOptions o;
  const std::string out = (dir_ / "big.json").string();
  o.argv = {"/bin/sh", "-c", "sleep 0.1; cat > \"$0\"", out};  // reads late
  Alert a = MakeAlert("big");
  a.message = std::string(300 * 1024, 'x');  // > 64 KiB pipe buffer
  {
    auto sink = ExecSink::Create(o, registry_);
    ASSERT_TRUE(sink.ok());
    (*sink)->Emit(a);
    ASSERT_TRUE(WaitFor([&] {
      return Value("konseki_alert_deliveries_total", {{"sink", "exec"}}) == 1;
    }));
  }
  EXPECT_EQ(JsonString(ReadFile(out), "message"), a.message);
}

TEST_F(ExecSinkTest, ProgramThatIgnoresStdinStillCounts) {
  ExecSinkOptions o;
  o.argv = {"/bin/true"};
  auto sink = ExecSink::Create(o, registry_);
  ASSERT_TRUE(sink.ok());
  for (int i = 0; i < 3; ++i) (*sink)->Emit(MakeAlert("r"));
  EXPECT_TRUE(WaitFor([&] {
    return Value("konseki_alert_deliveries_total", {{"sink", "exec"}}) == 3;
  }));
}

TEST(ExecSinkCreateTest, RejectsMissingProgram) {
  MetricsRegistry registry;
  ExecSinkOptions o;
  EXPECT_FALSE(ExecSink::Create(o, registry).ok());
  o.argv = {"/no/such/mailer"};
  auto s = ExecSink::Create(o, registry);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("/no/such/mailer"));
  o.argv = {"konseki-no-such-program-in-path"};
  EXPECT_FALSE(ExecSink::Create(o, registry).ok());
}

}  // namespace
}  // namespace konseki::outputs
