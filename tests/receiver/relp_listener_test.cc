// RelpListener against librelp's real client (and raw sockets for the corner
// cases), with a test sink that plays the pipeline: it records frames and
// acknowledges them from its own thread, in batches, through the listener's
// AckSink, as the workers do after the archive write.
#include "receiver/relp_listener.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"

extern "C" {
#include <librelp.h>
}

namespace konseki::receiver {
namespace {

using namespace std::chrono_literals;

// The pipeline stand-in. Push runs on the listener thread; a separate acker
// thread acknowledges everything pushed so far in one call per round, while
// acking is enabled. Thread-safe.
class AckingSink : public FrameSink {
 public:
  ~AckingSink() override { StopAcker(); }

  void StartAcker(AckSink* acks) {
    acks_ = acks;
    acker_ = std::thread([this] { AckLoop(); });
  }
  void StopAcker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    if (acker_.joinable()) acker_.join();
  }

  bool Push(const Frame& frame) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (no_more_pushes_) ++pushes_after_release_;
    if (!capacity_.load()) ++pushes_without_capacity_;
    frames_.push_back(std::string(frame.bytes));
    cookies_.push_back(frame.ack_cookie);
    unflushed_cookies_.push_back(frame.ack_cookie);
    max_unacked_ = std::max(max_unacked_, unacked_cookies_.size() + unflushed_cookies_.size());
    cv_.notify_all();
    return true;
  }
  // Like the Router: frames reach the "workers" (and so get acked) only once
  // the listener flushed them.
  void Flush() override {
    std::lock_guard<std::mutex> lock(mu_);
    unacked_cookies_.insert(unacked_cookies_.end(), unflushed_cookies_.begin(),
                            unflushed_cookies_.end());
    unflushed_cookies_.clear();
    cv_.notify_all();
  }
  bool HasCapacity() const override {
    if (!capacity_.load()) capacity_checks_while_full_.fetch_add(1);
    return capacity_.load();
  }

  void SetCapacity(bool c) { capacity_.store(c); }
  void SetAcking(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    acking_ = on;
    cv_.notify_all();
  }
  // After this, a Push is a listener bug (it promised to release the sink).
  void ForbidPushes() {
    std::lock_guard<std::mutex> lock(mu_);
    no_more_pushes_ = true;
  }
  bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, pred);
  }
  bool WaitForFrames(size_t n) {
    return WaitFor([&] { return frames_.size() >= n; });
  }
  // Held under mu_ by callers of WaitFor; otherwise use the accessors below.
  std::vector<std::string> frames() {
    std::lock_guard<std::mutex> lock(mu_);
    return frames_;
  }
  std::vector<uint64_t> cookies() {
    std::lock_guard<std::mutex> lock(mu_);
    return cookies_;
  }
  size_t max_unacked() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_unacked_;
  }
  size_t pushes_without_capacity() {
    std::lock_guard<std::mutex> lock(mu_);
    return pushes_without_capacity_;
  }
  size_t pushes_after_release() {
    std::lock_guard<std::mutex> lock(mu_);
    return pushes_after_release_;
  }
  uint64_t capacity_checks_while_full() const { return capacity_checks_while_full_.load(); }

 private:
  void AckLoop() {
    std::vector<uint64_t> batch;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return quit_ || (acking_ && !unacked_cookies_.empty()); });
      if (quit_) return;
      batch.swap(unacked_cookies_);
      lock.unlock();
      // Like a worker: one call per stored batch, never while holding a lock
      // the listener needs.
      acks_->Acknowledge(batch.data(), batch.size());
      batch.clear();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  AckSink* acks_ = nullptr;
  std::thread acker_;
  bool quit_ = false;
  bool acking_ = true;
  bool no_more_pushes_ = false;
  std::atomic<bool> capacity_{true};
  mutable std::atomic<uint64_t> capacity_checks_while_full_{0};
  std::vector<std::string> frames_;
  std::vector<uint64_t> cookies_;
  std::vector<uint64_t> unflushed_cookies_;
  std::vector<uint64_t> unacked_cookies_;
  size_t max_unacked_ = 0;
  size_t pushes_without_capacity_ = 0;
  size_t pushes_after_release_ = 0;
};

void IgnoreRelpDebug(char*, ...) {}
void RecordRelpError(void* usr, char* objinfo, char* errmsg, relpRetVal code) {
  static_cast<std::vector<std::string>*>(usr)->push_back(std::string(objinfo) + ": " + errmsg +
                                                         " (" + std::to_string(code) + ")");
}

// librelp's client: sends every message, then closes the session (which
// waits for every answer). Returns librelp's errors; empty = all acked.
std::vector<std::string> SendWithLibrelp(uint16_t port, const std::vector<std::string>& messages,
                                         int window) {
  std::vector<std::string> errors;
  relpEngine_t* engine = nullptr;
  relpClt_t* client = nullptr;
  auto check = [&](relpRetVal r, const char* what) {
    if (r != RELP_RET_OK) errors.push_back(std::string(what) + " returned " + std::to_string(r));
    return r == RELP_RET_OK;
  };
  if (!check(relpEngineConstruct(&engine), "relpEngineConstruct")) return errors;
  check(relpEngineSetDbgprint(engine, IgnoreRelpDebug), "relpEngineSetDbgprint");
  check(relpEngineSetOnErr(engine, RecordRelpError), "relpEngineSetOnErr");
  check(
      relpEngineSetEnableCmd(engine, reinterpret_cast<unsigned char*>(const_cast<char*>("syslog")),
                             eRelpCmdState_Required),
      "relpEngineSetEnableCmd");
  if (check(relpEngineCltConstruct(engine, &client), "relpEngineCltConstruct")) {
    check(relpCltSetUsrPtr(client, &errors), "relpCltSetUsrPtr");
    check(relpCltSetTimeout(client, 10), "relpCltSetTimeout");
    check(relpCltSetWindowSize(client, window), "relpCltSetWindowSize");
    std::string port_text = std::to_string(port);
    if (check(relpCltConnect(client, AF_INET, reinterpret_cast<unsigned char*>(port_text.data()),
                             reinterpret_cast<unsigned char*>(const_cast<char*>("127.0.0.1"))),
              "relpCltConnect")) {
      for (const std::string& m : messages) {
        if (!check(relpCltSendSyslog(client,
                                     reinterpret_cast<unsigned char*>(const_cast<char*>(m.data())),
                                     m.size()),
                   "relpCltSendSyslog")) {
          break;
        }
      }
    }
    check(relpEngineCltDestruct(engine, &client), "relpEngineCltDestruct");
  }
  check(relpEngineDestruct(&engine), "relpEngineDestruct");
  return errors;
}

std::vector<std::string> MakeMessages(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back("<13>Nov 23 08:00:00 host app[1]: message " + std::to_string(i));
  }
  return out;
}

class RelpListenerTest : public testing::Test {
 protected:
  void Listen(const RelpListenerOptions& options) {
    auto addr = ListenAddress::Parse("relp://127.0.0.1:0");
    ASSERT_TRUE(addr.ok()) << addr.status().ToString();
    auto l = RelpListener::Bind(*addr, options, 3, metrics_, clock_);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    listener_ = std::move(l).value();
    ASSERT_NE(listener_->port(), 0);
    sink_.StartAcker(listener_.get());
    listener_->Start(&sink_);
  }
  void TearDown() override {
    sink_.StopAcker();
    if (listener_) listener_->Shutdown();
  }
  double Metric(std::string_view name, const Labels& labels = {}) {
    return metrics_.ValueOf(name, labels);
  }
  // Polls a metric (the registry has no condition variable) with a bound.
  bool WaitForMetric(std::string_view name, const Labels& labels, double value) {
    auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end) {
      if (Metric(name, labels) == value) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }

  MetricsRegistry metrics_;
  SystemClock clock_;
  AckingSink sink_;
  std::unique_ptr<RelpListener> listener_;
};

TEST_F(RelpListenerTest, EveryMessageDeliveredOnceAndAcknowledged) {
  Listen(RelpListenerOptions{});
  const std::vector<std::string> messages = MakeMessages(5000);
  EXPECT_THAT(SendWithLibrelp(listener_->port(), messages, 128), testing::IsEmpty());
  // The client's close is answered only after every ack: all are in by now.
  EXPECT_EQ(sink_.frames(), messages);
  const std::vector<uint64_t> cookies = sink_.cookies();
  for (size_t i = 0; i < cookies.size(); ++i) {
    ASSERT_EQ(cookies[i] & 0xffffffffu, i + 2) << "txnr 1 is the open";
    ASSERT_EQ(cookies[i] >> 32, cookies[0] >> 32) << "one connection, one serial";
  }
  EXPECT_EQ(Metric("konseki_relp_acks_total"), 5000);
  const Labels lt = {{"listener", "relp://127.0.0.1:0"}, {"transport", "relp"}};
  EXPECT_EQ(Metric("konseki_received_messages_total", lt), 5000);
  EXPECT_GT(Metric("konseki_received_bytes_total", lt), 5000 * 30);
  EXPECT_TRUE(WaitForMetric("konseki_connections", {{"listener", "relp://127.0.0.1:0"}}, 0));
}

TEST_F(RelpListenerTest, ConnectionsGetDistinctSerials) {
  Listen(RelpListenerOptions{});
  EXPECT_THAT(SendWithLibrelp(listener_->port(), MakeMessages(10), 128), testing::IsEmpty());
  EXPECT_THAT(SendWithLibrelp(listener_->port(), MakeMessages(10), 128), testing::IsEmpty());
  const std::vector<uint64_t> cookies = sink_.cookies();
  ASSERT_EQ(cookies.size(), 20u);
  EXPECT_NE(cookies[0] >> 32, cookies[10] >> 32);
}

TEST_F(RelpListenerTest, WindowBoundsUnacknowledgedMessagesPerConnection) {
  RelpListenerOptions o;
  o.max_unacked_per_connection = 8;
  sink_.SetAcking(false);
  Listen(o);
  std::vector<std::string> errors;
  std::thread client([&] { errors = SendWithLibrelp(listener_->port(), MakeMessages(400), 64); });
  // The listener holds the rest back until acks come.
  ASSERT_TRUE(sink_.WaitForFrames(7));
  sink_.SetAcking(true);
  client.join();
  EXPECT_THAT(errors, testing::IsEmpty());
  EXPECT_EQ(sink_.frames().size(), 400u);
  // The open takes one slot of the window until it is answered.
  EXPECT_LE(sink_.max_unacked(), 8u);
}

// Input held back by a full window whose acks all came while the pipeline
// was full must be fed once the pipeline has room again (no ack will follow).
TEST_F(RelpListenerTest, HeldInputResumesWhenCapacityReturnsAfterTheLastAck) {
  RelpListenerOptions o;
  o.max_unacked_per_connection = 4;
  sink_.SetAcking(false);
  Listen(o);
  std::vector<std::string> errors;
  std::thread client([&] { errors = SendWithLibrelp(listener_->port(), MakeMessages(200), 64); });
  ASSERT_TRUE(sink_.WaitForFrames(4));
  sink_.SetCapacity(false);
  sink_.SetAcking(true);
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (Metric("konseki_relp_acks_total") < 4 && std::chrono::steady_clock::now() < end) {
    std::this_thread::yield();
  }
  ASSERT_EQ(Metric("konseki_relp_acks_total"), 4);
  sink_.SetCapacity(true);
  client.join();
  EXPECT_THAT(errors, testing::IsEmpty());
  EXPECT_EQ(sink_.frames(), MakeMessages(200));
}

TEST_F(RelpListenerTest, FullPipelineStopsReadingUntilCapacityReturns) {
  RelpListenerOptions o;
  o.read_chunk_bytes = 256;  // bounds what one read can push past a full sink
  Listen(o);
  std::vector<std::string> errors;
  std::thread client(
      [&] { errors = SendWithLibrelp(listener_->port(), MakeMessages(3000), 1000); });
  ASSERT_TRUE(sink_.WaitForFrames(100));
  sink_.SetCapacity(false);
  // The listener has seen the full pipeline many times over: it must not
  // have read on.
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (sink_.capacity_checks_while_full() < 50 && std::chrono::steady_clock::now() < end) {
    std::this_thread::yield();
  }
  ASSERT_GE(sink_.capacity_checks_while_full(), 50u);
  const size_t frozen = sink_.frames().size();
  EXPECT_LT(frozen, 3000u);
  // At most the frames of the one read that was in progress.
  EXPECT_LE(sink_.pushes_without_capacity(), 256u / 40u);
  sink_.SetCapacity(true);
  client.join();
  EXPECT_THAT(errors, testing::IsEmpty());
  const std::vector<std::string> frames = sink_.frames();
  EXPECT_EQ(frames.size(), 3000u);
  const std::vector<std::string> want = MakeMessages(3000);
  for (size_t i = 0; i < std::min(frames.size(), want.size()); ++i) {
    ASSERT_EQ(frames[i], want[i]) << "lost, duplicated or reordered at " << i;
  }
}

// A raw client: open, one syslog frame, then read the answers.
class RawRelpClient {
 public:
  explicit RawRelpClient(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawRelpClient() { Close(); }
  bool ok() const { return ok_; }
  void Send(std::string_view s) {
    ASSERT_EQ(send(fd_, s.data(), s.size(), MSG_NOSIGNAL), (ssize_t)s.size());
  }
  // Reads until `needle` appears or the peer closes; returns all read.
  std::string ReadUntil(std::string_view needle) {
    char buf[4096];
    while (got_.find(needle) == std::string::npos) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got_.append(buf, static_cast<size_t>(n));
    }
    return got_;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::string got_;
};

constexpr std::string_view kOpen = "1 open 46 relp_version=0\nrelp_software=t\ncommands=syslog\n";

// A frame whose DATA ends exactly at the end of one read, its trailer coming
// in a later read, while another connection's read reuses the listener's
// buffer in between: the frame must still arrive intact.
TEST_F(RelpListenerTest, FrameCompletedAfterAnotherConnectionsReadArrivesIntact) {
  Listen(RelpListenerOptions{});
  const Labels lt = {{"listener", "relp://127.0.0.1:0"}, {"transport", "relp"}};
  RawRelpClient a(listener_->port());
  RawRelpClient b(listener_->port());
  ASSERT_TRUE(a.ok() && b.ok());
  a.Send(kOpen);
  const std::string partial = "2 syslog 5 hello";  // no trailer yet
  a.Send(partial);
  // Counters are published after each read round: this read has happened.
  ASSERT_TRUE(WaitForMetric("konseki_received_bytes_total", lt,
                            static_cast<double>(kOpen.size() + partial.size())));
  b.Send(kOpen);
  b.Send("2 syslog 5 XXXXX\n");
  ASSERT_TRUE(sink_.WaitForFrames(1));
  a.Send("\n");
  ASSERT_TRUE(sink_.WaitForFrames(2));
  EXPECT_THAT(sink_.frames(), testing::ElementsAre("XXXXX", "hello"));
}

TEST_F(RelpListenerTest, AckForClosedConnectionIsCountedAsLate) {
  sink_.SetAcking(false);
  Listen(RelpListenerOptions{});
  const Labels l = {{"listener", "relp://127.0.0.1:0"}};
  RawRelpClient c(listener_->port());
  ASSERT_TRUE(c.ok());
  c.Send(kOpen);
  c.Send("2 syslog 5 hello\n");
  ASSERT_TRUE(sink_.WaitForFrames(1));
  c.Close();
  ASSERT_TRUE(WaitForMetric("konseki_connections", l, 0));
  sink_.SetAcking(true);
  EXPECT_TRUE(WaitForMetric("konseki_relp_late_acks_total", l, 1));
  EXPECT_EQ(Metric("konseki_relp_acks_total"), 0);
}

TEST_F(RelpListenerTest, StopReleasesSinkAndShutdownAnswersThenCloses) {
  sink_.SetAcking(false);
  Listen(RelpListenerOptions{});
  RawRelpClient c(listener_->port());
  ASSERT_TRUE(c.ok());
  c.Send(kOpen);
  c.Send("2 syslog 5 hello\n");
  ASSERT_TRUE(sink_.WaitForFrames(1));
  listener_->Stop();  // returns although an ack is outstanding
  sink_.ForbidPushes();
  c.Send("3 syslog 5 later\n");  // not read any more: the sender keeps it
  sink_.SetAcking(true);         // the "workers" drain and ack
  const std::string got = c.ReadUntil("serverclose");
  EXPECT_THAT(got, testing::HasSubstr("2 rsp 6 200 OK"));
  EXPECT_THAT(got, testing::Not(testing::HasSubstr("3 rsp")));
  EXPECT_THAT(got, testing::HasSubstr("0 serverclose 0"));
  listener_->Shutdown();
  EXPECT_EQ(sink_.pushes_after_release(), 0u);
  EXPECT_EQ(sink_.frames().size(), 1u);
  EXPECT_EQ(Metric("konseki_relp_acks_total"), 1);
}

TEST_F(RelpListenerTest, ShutdownGivesUpOnMissingAcksAfterTimeout) {
  sink_.SetAcking(false);
  RelpListenerOptions o;
  o.shutdown_timeout_ms = 200;
  Listen(o);
  RawRelpClient c(listener_->port());
  ASSERT_TRUE(c.ok());
  c.Send(kOpen);
  c.Send("2 syslog 5 hello\n");
  ASSERT_TRUE(sink_.WaitForFrames(1));
  listener_->Shutdown();  // the ack never comes
  const std::string got = c.ReadUntil("serverclose");
  EXPECT_THAT(got, testing::HasSubstr("0 serverclose 0"));
  EXPECT_THAT(got, testing::Not(testing::HasSubstr("2 rsp")));
}

TEST_F(RelpListenerTest, ConnectionsBeyondTheLimitAreRejected) {
  RelpListenerOptions o;
  o.max_connections = 1;
  Listen(o);
  const Labels l = {{"listener", "relp://127.0.0.1:0"}};
  RawRelpClient a(listener_->port());
  ASSERT_TRUE(WaitForMetric("konseki_connections", l, 1));
  RawRelpClient b(listener_->port());
  EXPECT_TRUE(WaitForMetric("konseki_connections_rejected_total",
                            {{"listener", "relp://127.0.0.1:0"}, {"reason", "max_connections"}},
                            1));
}

TEST(RelpListenerBindTest, RejectsOtherTransportsAndZeroLimits) {
  MetricsRegistry metrics;
  SystemClock clock;
  auto tcp = ListenAddress::Parse("tcp://127.0.0.1:0");
  ASSERT_TRUE(tcp.ok());
  EXPECT_FALSE(RelpListener::Bind(*tcp, RelpListenerOptions{}, 0, metrics, clock).ok());
  auto relp = ListenAddress::Parse("relp://127.0.0.1:0");
  ASSERT_TRUE(relp.ok());
  RelpListenerOptions o;
  o.max_unacked_per_connection = 0;
  EXPECT_FALSE(RelpListener::Bind(*relp, o, 0, metrics, clock).ok());
}

}  // namespace
}  // namespace konseki::receiver
