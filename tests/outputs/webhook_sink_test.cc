// WebhookSink against a real httplib::Server the test runs on loopback.
#include "outputs/webhook_sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <libfastjson/json.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/json_fields.h"
#include "tests/testing/wait_for.h"

namespace konseki::outputs {
namespace {

using konseki::testing::JsonString;
using konseki::testing::WaitFor;

using ::testing::HasSubstr;

Alert MakeAlert(std::string rule) {
  Alert a;
  a.time = TimePoint(std::chrono::seconds(1'700'000'000));
  a.received = a.time;
  a.host = "web-1";
  a.rule = std::move(rule);
  a.sign = "ssh.login";
  a.severity = Severity::kHigh;
  a.title = "SSH login accepted";
  a.fields = {{"user", "root"}};
  return a;
}

// A webhook receiver: records each POST and answers with the next status in
// `statuses` (200 once they run out).
class Receiver {
 public:
  explicit Receiver(std::vector<int> statuses) : statuses_(std::move(statuses)) {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      bodies_.push_back(req.body);
      content_types_.push_back(req.get_header_value("Content-Type"));
      auth_.push_back(req.get_header_value("Authorization"));
      const size_t i = bodies_.size() - 1;
      res.status = i < statuses_.size() ? statuses_[i] : 200;
      res.set_content("ok", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  size_t Count() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_.size();
  }
  std::string Body(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_.at(i);
  }
  std::string ContentType(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return content_types_.at(i);
  }
  std::string Auth(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return auth_.at(i);
  }

 private:
  httplib::Server server_;
  std::vector<int> statuses_;
  std::mutex mu_;
  std::vector<std::string> bodies_, content_types_, auth_;
  int port_ = 0;
  std::thread thread_;
};

TEST(SplitHttpUrlTest, SplitsBaseAndPath) {
  std::string base, path;
  ASSERT_TRUE(SplitHttpUrl("http://127.0.0.1:8080/a/b?x=1", &base, &path).ok());
  EXPECT_EQ(base, "http://127.0.0.1:8080");
  EXPECT_EQ(path, "/a/b?x=1");
  ASSERT_TRUE(SplitHttpUrl("https://hooks.example.org", &base, &path).ok());
  EXPECT_EQ(base, "https://hooks.example.org");
  EXPECT_EQ(path, "/");
  ASSERT_TRUE(SplitHttpUrl("http://[::1]:9/p#frag", &base, &path).ok());
  EXPECT_EQ(base, "http://[::1]:9");
  EXPECT_EQ(path, "/p");
  for (const char* bad :
       {"ftp://x/", "127.0.0.1:80/hook", "http:///path", "http://user:pw@h/", "http://:80/"}) {
    Status s = SplitHttpUrl(bad, &base, &path);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_THAT(s.message(), HasSubstr(bad));
  }
}

TEST(WebhookSinkTest, RetriesAServerErrorThenDeliversTheJson) {
  Receiver receiver({500});
  MetricsRegistry registry;
  WebhookSinkOptions o;
  o.url = receiver.url();
  o.headers = {{"Authorization", "Bearer s3cret"}};
  o.initial_backoff = std::chrono::milliseconds(10);
  auto sink = WebhookSink::Create(o, registry);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();

  (*sink)->Emit(MakeAlert("ssh-accepted"));
  ASSERT_TRUE(WaitFor([&] {
    return registry.ValueOf("konseki_alert_deliveries_total", {{"sink", "webhook"}}) == 1;
  }));
  ASSERT_EQ(receiver.Count(), 2u);  // the 500, then the retry
  EXPECT_EQ(receiver.Body(0), receiver.Body(1));
  EXPECT_EQ(JsonString(receiver.Body(1), "rule"), "ssh-accepted");
  EXPECT_EQ(JsonString(receiver.Body(1), "severity"), "high");
  EXPECT_EQ(receiver.ContentType(1), "application/json");
  EXPECT_EQ(receiver.Auth(1), "Bearer s3cret");
  EXPECT_EQ(registry.ValueOf("konseki_alert_delivery_failures_total",
                             {{"sink", "webhook"}, {"reason", "http_5xx"}}),
            1);
}

TEST(WebhookSinkTest, ClientErrorIsPermanentAndNotRetried) {
  Receiver receiver({404});
  MetricsRegistry registry;
  WebhookSinkOptions o;
  o.url = receiver.url();
  o.initial_backoff = std::chrono::milliseconds(1);
  auto sink = WebhookSink::Create(o, registry);
  ASSERT_TRUE(sink.ok());
  (*sink)->Emit(MakeAlert("one"));
  (*sink)->Emit(MakeAlert("two"));
  ASSERT_TRUE(WaitFor([&] {
    return registry.ValueOf("konseki_alert_deliveries_total", {{"sink", "webhook"}}) == 1;
  }));
  EXPECT_EQ(receiver.Count(), 2u);
  EXPECT_EQ(JsonString(receiver.Body(0), "rule"), "one");
  EXPECT_EQ(JsonString(receiver.Body(1), "rule"), "two");
  EXPECT_EQ(registry.ValueOf("konseki_alert_delivery_dropped_total",
                             {{"sink", "webhook"}, {"reason", "permanent_error"}}),
            1);
  EXPECT_EQ(registry.ValueOf("konseki_alert_delivery_failures_total",
                             {{"sink", "webhook"}, {"reason", "http_4xx"}}),
            1);
}

TEST(WebhookSinkTest, UnreachableServerCountsConnectFailuresAndGivesUp) {
  int port;
  {
    Receiver gone({});
    port = gone.port();
  }
  MetricsRegistry registry;
  WebhookSinkOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  o.max_attempts = 3;
  o.initial_backoff = std::chrono::milliseconds(1);
  o.name = "pager";
  auto sink = WebhookSink::Create(o, registry);
  ASSERT_TRUE(sink.ok());
  (*sink)->Emit(MakeAlert("x"));
  ASSERT_TRUE(WaitFor([&] {
    return registry.ValueOf("konseki_alert_delivery_dropped_total",
                            {{"sink", "pager"}, {"reason", "retries_exhausted"}}) == 1;
  }));
  EXPECT_EQ(registry.ValueOf("konseki_alert_delivery_failures_total",
                             {{"sink", "pager"}, {"reason", "connect"}}),
            3);
}

TEST(WebhookSinkTest, EmitDoesNotWaitForASlowServer) {
  // The server sits on every request until released; Emit must return at
  // once regardless, and the overflow is a counted drop.
  std::atomic<bool> release{false};
  httplib::Server server;
  std::atomic<int> hits{0};
  server.Post("/slow", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    res.status = 200;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::yield();

  MetricsRegistry registry;
  WebhookSinkOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port) + "/slow";
  o.queue.capacity = 2;
  o.timeout = std::chrono::seconds(10);
  {
    auto sink = WebhookSink::Create(o, registry);
    ASSERT_TRUE(sink.ok());
    (*sink)->Emit(MakeAlert("a"));
    ASSERT_TRUE(WaitFor([&] { return hits.load() == 1; }));
    for (int i = 0; i < 10; ++i) (*sink)->Emit(MakeAlert("b"));
    EXPECT_EQ(registry.ValueOf("konseki_alert_delivery_dropped_total",
                               {{"sink", "webhook"}, {"reason", "queue_full"}}),
              8);
    release = true;
    EXPECT_TRUE(WaitFor([&] {
      return registry.ValueOf("konseki_alert_deliveries_total", {{"sink", "webhook"}}) == 3;
    }));
  }
  server.stop();
  t.join();
}

TEST(WebhookSinkTest, StopCutsShortARequestToAServerThatNeverAnswers) {
  // A listening socket nobody accepts on: the kernel completes the
  // connection and takes the request, and no answer ever comes. With a one
  // hour timeout, only stopping can end the request.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  MetricsRegistry registry;
  WebhookSinkOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/hook";
  o.timeout = std::chrono::hours(1);
  o.queue.capacity = 2;
  o.queue.drain_timeout = std::chrono::milliseconds(100);
  auto sink = WebhookSink::Create(o, registry);
  ASSERT_TRUE(sink.ok());
  std::unique_ptr<WebhookSink> webhook = std::move(sink).value();
  webhook->Emit(MakeAlert("a"));
  ASSERT_TRUE(WaitFor([&] {
    return registry.ValueOf("konseki_alert_delivery_queue_depth", {{"sink", "webhook"}}) == 0;
  }));
  webhook->Emit(MakeAlert("b"));

  // Stopping ends: both alerts are counted as given up at shutdown.
  auto stopped = std::make_shared<std::atomic<bool>>(false);
  std::thread stopper([&webhook, stopped] {
    webhook.reset();
    stopped->store(true);
  });
  if (!WaitFor([&] { return stopped->load(); }, std::chrono::seconds(60))) {
    ADD_FAILURE() << "stopping the webhook sink never returned";
    std::fflush(stdout);
    _exit(1);
  }
  stopper.join();
  EXPECT_EQ(registry.ValueOf("konseki_alert_delivery_dropped_total",
                             {{"sink", "webhook"}, {"reason", "shutdown"}}),
            2);
  EXPECT_EQ(registry.ValueOf("konseki_alert_deliveries_total", {{"sink", "webhook"}}), 0);
  close(listener);
}

}  // namespace
}  // namespace konseki::outputs
