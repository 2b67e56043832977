// StreamListener over RELP (relp://, relp+tls://) against librelp's real client
// (plain and TLS, with both of librelp's TLS libraries) and raw sockets for the
// corner cases, with a test sink that plays the pipeline: it records frames and
// acknowledges them from its own thread, in batches, through the listener's
// AckSink, as the workers do after the archive write.
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
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "receiver/stream_listener.h"
#include "receiver/tls_connection.h"
#include "receiver/tls_context.h"
#include "tests/receiver/librelp_client.h"
#include "tests/receiver/tls_test_util.h"
#include "tests/testing/recording_alert_sink.h"
#include "tests/testing/wait_for.h"

extern "C" {
#include <librelp.h>
}

namespace konseki::receiver {
namespace {

using konseki::testing::Field;
using konseki::testing::RecordingAlertSink;

using namespace std::chrono_literals;
using konseki::receiver::testing::ClientTls;
using konseki::receiver::testing::SendWithLibrelp;

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
    if (frames_.size() == full_at_) capacity_.store(false);
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
  // The pipeline turns full when the n-th frame is pushed (on the listener
  // thread, however late the test thread runs).
  void FullAt(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    full_at_ = n;
  }
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
  size_t full_at_ = 0;  // FullAt: 0 = never
  size_t pushes_without_capacity_ = 0;
  size_t pushes_after_release_ = 0;
};

std::vector<std::string> MakeMessages(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back("<13>Nov 23 08:00:00 host app[1]: message " + std::to_string(i));
  }
  return out;
}

class StreamListenerRelpTest : public ::testing::Test {
 protected:
  void Listen(const StreamListenerOptions& options,
              std::unique_ptr<StreamTransport> transport = nullptr,
              const std::string& uri = "relp://127.0.0.1:0") {
    auto addr = ListenAddress::Parse(uri);
    ASSERT_TRUE(addr.ok()) << addr.status().ToString();
    auto l = StreamListener::Bind(*addr, options, 3, metrics_, clock_, std::move(transport));
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
  // Stands still unless a test advances it (rate limits, handshake timeouts).
  FakeClock clock_;
  AckingSink sink_;
  std::unique_ptr<StreamListener> listener_;
};

TEST_F(StreamListenerRelpTest, EveryMessageDeliveredOnceAndAcknowledged) {
  Listen(StreamListenerOptions{});
  const std::vector<std::string> messages = MakeMessages(5000);
  EXPECT_THAT(SendWithLibrelp(listener_->port(), messages, 128), ::testing::IsEmpty());
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

TEST_F(StreamListenerRelpTest, ConnectionsGetDistinctSerials) {
  Listen(StreamListenerOptions{});
  EXPECT_THAT(SendWithLibrelp(listener_->port(), MakeMessages(10), 128), ::testing::IsEmpty());
  EXPECT_THAT(SendWithLibrelp(listener_->port(), MakeMessages(10), 128), ::testing::IsEmpty());
  const std::vector<uint64_t> cookies = sink_.cookies();
  ASSERT_EQ(cookies.size(), 20u);
  EXPECT_NE(cookies[0] >> 32, cookies[10] >> 32);
}

TEST_F(StreamListenerRelpTest, WindowBoundsUnacknowledgedMessagesPerConnection) {
  StreamListenerOptions o;
  o.max_unacked_per_connection = 8;
  sink_.SetAcking(false);
  Listen(o);
  std::vector<std::string> errors;
  std::thread client([&] { errors = SendWithLibrelp(listener_->port(), MakeMessages(400), 64); });
  // The listener holds the rest back until acks come.
  ASSERT_TRUE(sink_.WaitForFrames(7));
  sink_.SetAcking(true);
  client.join();
  EXPECT_THAT(errors, ::testing::IsEmpty());
  EXPECT_EQ(sink_.frames().size(), 400u);
  // The open takes one slot of the window until it is answered.
  EXPECT_LE(sink_.max_unacked(), 8u);
}

// Input held back by a full window whose acks all came while the pipeline
// was full must be fed once the pipeline has room again (no ack will follow).
TEST_F(StreamListenerRelpTest, HeldInputResumesWhenCapacityReturnsAfterTheLastAck) {
  StreamListenerOptions o;
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
  EXPECT_THAT(errors, ::testing::IsEmpty());
  EXPECT_EQ(sink_.frames(), MakeMessages(200));
}

TEST_F(StreamListenerRelpTest, FullPipelineStopsReadingUntilCapacityReturns) {
  StreamListenerOptions o;
  o.read_chunk_bytes = 256;  // bounds what one read can push past a full sink
  Listen(o);
  // Full from the 100th frame on: set by the sink itself, as the test
  // thread may run only after the client has sent all 3,000.
  sink_.FullAt(100);
  std::vector<std::string> errors;
  std::thread client(
      [&] { errors = SendWithLibrelp(listener_->port(), MakeMessages(3000), 1000); });
  ASSERT_TRUE(sink_.WaitForFrames(100));
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
  EXPECT_THAT(errors, ::testing::IsEmpty());
  const std::vector<std::string> frames = sink_.frames();
  EXPECT_EQ(frames.size(), 3000u);
  const std::vector<std::string> want = MakeMessages(3000);
  for (size_t i = 0; i < std::min(frames.size(), want.size()); ++i) {
    ASSERT_EQ(frames[i], want[i]) << "lost, duplicated or reordered at " << i;
  }
}

// A raw client: open, one syslog frame, then read the answers. source: the
// loopback address to connect from (another 127/8 address is another sender).
class RawRelpClient {
 public:
  explicit RawRelpClient(uint16_t port, const char* source = nullptr) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (source != nullptr) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      inet_pton(AF_INET, source, &from.sin_addr);
      bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from);
    }
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
TEST_F(StreamListenerRelpTest, FrameCompletedAfterAnotherConnectionsReadArrivesIntact) {
  Listen(StreamListenerOptions{});
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
  EXPECT_THAT(sink_.frames(), ::testing::ElementsAre("XXXXX", "hello"));
}

// prod19b note: a zero-length syslog message was acknowledged and archived
// as an empty line. It is acknowledged in order and counted, not archived.
TEST_F(StreamListenerRelpTest, ZeroLengthMessageIsAcknowledgedCountedNotArchived) {
  Listen(StreamListenerOptions{});
  const Labels l = {{"listener", "relp://127.0.0.1:0"}};
  RawRelpClient c(listener_->port());
  ASSERT_TRUE(c.ok());
  c.Send(kOpen);
  c.Send("2 syslog 5 hello\n3 syslog 0\n4 syslog 5 world\n");
  const std::string got = c.ReadUntil("4 rsp");
  EXPECT_THAT(got, ::testing::HasSubstr("2 rsp 6 200 OK\n3 rsp 6 200 OK\n4 rsp"));
  ASSERT_TRUE(sink_.WaitForFrames(2));
  EXPECT_THAT(sink_.frames(), ::testing::ElementsAre("hello", "world"));
  EXPECT_EQ(Metric("konseki_relp_empty_messages_total", l), 1);
}

TEST_F(StreamListenerRelpTest, AckForClosedConnectionIsCountedAsLate) {
  sink_.SetAcking(false);
  Listen(StreamListenerOptions{});
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

TEST_F(StreamListenerRelpTest, StopReleasesSinkAndShutdownAnswersThenCloses) {
  sink_.SetAcking(false);
  Listen(StreamListenerOptions{});
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
  EXPECT_THAT(got, ::testing::HasSubstr("2 rsp 6 200 OK"));
  EXPECT_THAT(got, ::testing::Not(::testing::HasSubstr("3 rsp")));
  EXPECT_THAT(got, ::testing::HasSubstr("0 serverclose 0"));
  listener_->Shutdown();
  EXPECT_EQ(sink_.pushes_after_release(), 0u);
  EXPECT_EQ(sink_.frames().size(), 1u);
  EXPECT_EQ(Metric("konseki_relp_acks_total"), 1);
}

TEST_F(StreamListenerRelpTest, ShutdownGivesUpOnMissingAcksAfterTimeout) {
  sink_.SetAcking(false);
  StreamListenerOptions o;
  o.stop_timeout_ms = 200;
  Listen(o);
  RawRelpClient c(listener_->port());
  ASSERT_TRUE(c.ok());
  c.Send(kOpen);
  c.Send("2 syslog 5 hello\n");
  ASSERT_TRUE(sink_.WaitForFrames(1));
  listener_->Shutdown();  // the ack never comes
  const std::string got = c.ReadUntil("serverclose");
  EXPECT_THAT(got, ::testing::HasSubstr("0 serverclose 0"));
  EXPECT_THAT(got, ::testing::Not(::testing::HasSubstr("2 rsp")));
}

TEST_F(StreamListenerRelpTest, FullListenerClosesTheLongestIdleConnectionForANewOne) {
  StreamListenerOptions o;
  o.max_connections = 1;
  Listen(o);
  const Labels l = {{"listener", "relp://127.0.0.1:0"}};
  RawRelpClient a(listener_->port());
  ASSERT_TRUE(WaitForMetric("konseki_connections", l, 1));
  RawRelpClient b(listener_->port());
  EXPECT_TRUE(WaitForMetric("konseki_connections_evicted_total",
                            {{"listener", "relp://127.0.0.1:0"}, {"reason", "max_connections"}},
                            1));
  EXPECT_TRUE(WaitForMetric("konseki_connections", l, 1));
}

// prod19b finding 3 (repro 06-halfopen.sh): a RELP sender frozen after its
// line was acknowledged (a crashed host: no FIN) is evicted when it "boots"
// again at its per-source cap. Everything was acknowledged: the alert must
// not say that what it wrote there is lost.
TEST_F(StreamListenerRelpTest, EvictingAnAcknowledgedSessionDoesNotClaimDataLost) {
  RecordingAlertSink alerts;
  StreamListenerOptions o;
  o.limits.max_connections_per_source = 1;
  o.alerts = &alerts;
  Listen(o);
  RawRelpClient dead(listener_->port());
  ASSERT_TRUE(dead.ok());
  dead.Send(kOpen);
  dead.Send("2 syslog 5 hello\n");
  EXPECT_THAT(dead.ReadUntil("2 rsp"), ::testing::HasSubstr("2 rsp 6 200 OK"));
  RawRelpClient rebooted(listener_->port());
  ASSERT_TRUE(rebooted.ok());
  ASSERT_TRUE(WaitForMetric(
      "konseki_connections_evicted_total",
      {{"listener", "relp://127.0.0.1:0"}, {"reason", "max_connections_per_source"}}, 1));
  // The eviction is counted before its alert is raised (the fresh-clone
  // run of 63225cc read the alerts in between: 0 of 1).
  ASSERT_TRUE(konseki::testing::WaitFor([&] { return !alerts.alerts().empty(); }));
  std::vector<Alert> got = alerts.alerts();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].sign, "receiver.connections_evicted");
  EXPECT_EQ(got[0].severity, Severity::kLow);
  EXPECT_EQ(Field(got[0], "held_data"), "false");
  EXPECT_EQ(got[0].title.find("is lost"), std::string::npos) << got[0].title;
  EXPECT_THAT(got[0].title, ::testing::HasSubstr("nothing unread or unacknowledged"));
}

// tcp.idle_timeout_secs: an established session silent that long is closed.
TEST_F(StreamListenerRelpTest, IdleSessionIsClosedAfterTheIdleTimeout) {
  StreamListenerOptions o;
  o.idle_timeout_secs = 600;
  Listen(o);
  const Labels l = {{"listener", "relp://127.0.0.1:0"}};
  RawRelpClient idle(listener_->port());
  ASSERT_TRUE(idle.ok());
  idle.Send(kOpen);
  idle.Send("2 syslog 5 hello\n");
  EXPECT_THAT(idle.ReadUntil("2 rsp"), ::testing::HasSubstr("2 rsp 6 200 OK"));
  clock_.Advance(std::chrono::seconds(599));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Metric("konseki_connections", l), 1);
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_TRUE(WaitForMetric("konseki_connections", l, 0));
}

TEST_F(StreamListenerRelpTest, ConnectionThatNeverOpensIsClosedAfterTheFirstFrameTimeout) {
  StreamListenerOptions o;
  o.limits.first_frame_timeout_secs = 30;
  Listen(o);
  const Labels l = {{"listener", "relp://127.0.0.1:0"}};
  RawRelpClient silent(listener_->port());
  ASSERT_TRUE(WaitForMetric("konseki_connections", l, 1));
  clock_.Advance(std::chrono::seconds(31));
  EXPECT_TRUE(WaitForMetric("konseki_connections_evicted_total",
                            {{"listener", "relp://127.0.0.1:0"}, {"reason", "first_frame_timeout"}},
                            1));
  EXPECT_TRUE(WaitForMetric("konseki_connections", l, 0));
}

TEST(StreamListenerRelpBindTest, RejectsDatagramsAndZeroLimits) {
  MetricsRegistry metrics;
  SystemClock clock;
  auto udp = ListenAddress::Parse("udp://127.0.0.1:0");
  ASSERT_TRUE(udp.ok());
  EXPECT_FALSE(StreamListener::Bind(*udp, StreamListenerOptions{}, 0, metrics, clock).ok());
  auto relp = ListenAddress::Parse("relp://127.0.0.1:0");
  ASSERT_TRUE(relp.ok());
  StreamListenerOptions o;
  o.max_unacked_per_connection = 0;
  EXPECT_FALSE(StreamListener::Bind(*relp, o, 0, metrics, clock).ok());
}

// n syslog frames with txnr from, from + 1, ... (the open was txnr 1).
std::string SyslogFrames(const std::string& tag, int from, int n) {
  std::string out;
  for (int t = from; t < from + n; ++t) {
    const std::string data = tag + "-" + std::to_string(t);
    out += std::to_string(t) + " syslog " + std::to_string(data.size()) + " " + data + "\n";
  }
  return out;
}

size_t CountWithPrefix(const std::vector<std::string>& frames, const std::string& prefix) {
  return static_cast<size_t>(std::count_if(
      frames.begin(), frames.end(), [&](const std::string& f) { return f.rfind(prefix, 0) == 0; }));
}

TEST_F(StreamListenerRelpTest, SenderOutsideAllowlistIsClosedCountedAndAlerted) {
  RecordingAlertSink alerts;
  StreamListenerOptions o;
  o.allow = *SenderAllowlist::Parse({"10.0.0.0/8"});
  o.alerts = &alerts;
  Listen(o);
  const Labels lt = {{"listener", "relp://127.0.0.1:0"}, {"transport", "relp"}};
  for (int i = 1; i <= 2; ++i) {
    RawRelpClient c(listener_->port());
    ASSERT_TRUE(c.ok());
    c.Send(kOpen);
    // Closed without an answer, not even to the open.
    EXPECT_EQ(c.ReadUntil("rsp"), "");
    ASSERT_TRUE(WaitForMetric("konseki_refused_senders_total", lt, i));
  }
  EXPECT_TRUE(sink_.frames().empty());
  EXPECT_EQ(Metric("konseki_connections", {{"listener", "relp://127.0.0.1:0"}}), 0);
  const std::vector<Alert> got = alerts.alerts();
  ASSERT_EQ(got.size(), 1u);  // one per source address per minute
  EXPECT_EQ(got[0].sign, "receiver.refused");
  EXPECT_EQ(Field(got[0], "src_ip"), "127.0.0.1");
  EXPECT_EQ(Field(got[0], "listener"), "relp://127.0.0.1:0");
  EXPECT_EQ(Field(got[0], "transport"), "relp");
}

TEST_F(StreamListenerRelpTest, AllowlistAcceptsListedSenders) {
  RecordingAlertSink alerts;
  StreamListenerOptions o;
  o.allow = *SenderAllowlist::Parse({"10.0.0.0/8", "127.0.0.0/8"});
  o.alerts = &alerts;
  Listen(o);
  EXPECT_THAT(SendWithLibrelp(listener_->port(), MakeMessages(100), 128), ::testing::IsEmpty());
  EXPECT_EQ(sink_.frames(), MakeMessages(100));
  EXPECT_TRUE(alerts.alerts().empty());
  EXPECT_EQ(Metric("konseki_refused_senders_total",
                   {{"listener", "relp://127.0.0.1:0"}, {"transport", "relp"}}),
            0);
}

// Rate limiting never drops: the over-rate sender is not read, so its frames
// wait (in the kernel, then in its window) and are acked later; another
// sender is served meanwhile.
TEST_F(StreamListenerRelpTest, RateLimitedSenderIsPausedNotDroppedOthersAreServed) {
  StreamListenerOptions o;
  o.rate_limit.messages_per_sec = 10;
  o.rate_limit.burst = 5;
  Listen(o);
  const Labels lt = {{"listener", "relp://127.0.0.1:0"}, {"transport", "relp"}};
  RawRelpClient fast(listener_->port(), "127.0.0.1");
  ASSERT_TRUE(fast.ok());
  fast.Send(std::string(kOpen) + SyslogFrames("fast", 2, 10));  // twice its burst
  ASSERT_TRUE(WaitForMetric("konseki_rate_limit_pauses_total", lt, 1));
  ASSERT_TRUE(sink_.WaitForFrames(10));  // what was read is delivered
  fast.Send(SyslogFrames("fast", 12, 5));
  // The fake clock stands still: the fast sender stays paused while another
  // sender is read normally.
  RawRelpClient calm(listener_->port(), "127.0.0.2");
  ASSERT_TRUE(calm.ok());
  calm.Send(std::string(kOpen) + SyslogFrames("calm", 2, 3));
  EXPECT_THAT(calm.ReadUntil("4 rsp 6 200 OK"), ::testing::HasSubstr("4 rsp 6 200 OK"));
  EXPECT_EQ(CountWithPrefix(sink_.frames(), "calm-"), 3u);
  EXPECT_EQ(CountWithPrefix(sink_.frames(), "fast-"), 10u);
  // Time passes: the fast sender is read again and everything is acked.
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (CountWithPrefix(sink_.frames(), "fast-") < 15 && std::chrono::steady_clock::now() < end) {
    clock_.Advance(500ms);
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(CountWithPrefix(sink_.frames(), "fast-"), 15u);
  EXPECT_THAT(fast.ReadUntil("16 rsp 6 200 OK"), ::testing::HasSubstr("16 rsp 6 200 OK"));
  EXPECT_EQ(
      Metric("konseki_dropped_messages_total", {{"stage", "receiver"}, {"reason", "queue_full"}}),
      0);
}

// RELP over TLS: librelp's client with tls="on" (TLS from the first byte),
// with each TLS library librelp can use.
struct RelpTlsPki {
  std::string dir;
  testing::CertFiles ca, server, client, intruder;
};
RelpTlsPki* tls_pki = nullptr;

class RelpTlsTest : public StreamListenerRelpTest,
                    public ::testing::WithParamInterface<const char*> {
 protected:
  static constexpr char kUri[] = "relp+tls://127.0.0.1:0";

  static void SetUpTestSuite() {
    if (tls_pki != nullptr) return;
    char tmpl[] = "/tmp/konseki_relp_tls_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tls_pki = new RelpTlsPki;
    tls_pki->dir = tmpl;
    testing::TestPki p(tls_pki->dir);
    ASSERT_TRUE(
        p.MakeCa("ca", "konseki test CA", &tls_pki->ca) &&
        p.MakeLeaf("server", "konseki.test", "konseki.test", tls_pki->ca, &tls_pki->server) &&
        p.MakeLeaf("client", "host1", "host1.clients.test", tls_pki->ca, &tls_pki->client) &&
        p.MakeLeaf("intruder", "intruder", "intruder.other.test", tls_pki->ca, &tls_pki->intruder))
        << p.error();
  }
  static void TearDownTestSuite() {
    if (tls_pki != nullptr) std::filesystem::remove_all(tls_pki->dir);
    delete tls_pki;
    tls_pki = nullptr;
  }

  void ListenTls(bool mutual, const StreamListenerOptions& options = {}) {
    TlsOptions t;
    t.cert_file = tls_pki->server.cert;
    t.key_file = tls_pki->server.key;
    t.ca_file = tls_pki->ca.cert;
    t.mutual = mutual;
    if (mutual) t.permitted_peers = {"*.clients.test"};
    auto ctx = TlsContext::Create(t);
    ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
    context_ = std::move(ctx).value();
    Listen(options, std::make_unique<TlsTransport>(*context_, metrics_, kUri), kUri);
  }
  ClientTls Client(const testing::CertFiles& own) const {
    return ClientTls{GetParam(), tls_pki->ca.cert, own.cert, own.key, "konseki.test"};
  }
  double Failures(const char* reason) {
    return Metric("konseki_tls_handshake_failures_total", {{"listener", kUri}, {"reason", reason}});
  }

  // Declared after the listener's owner (the base): destroyed after it.
  std::unique_ptr<TlsContext> context_;
};

TEST_P(RelpTlsTest, EveryMessageDeliveredOnceAndAcknowledged) {
  ListenTls(/*mutual=*/false);
  const std::vector<std::string> messages = MakeMessages(3000);
  const ClientTls tls = Client(tls_pki->client);
  EXPECT_THAT(SendWithLibrelp(listener_->port(), messages, 128, &tls), ::testing::IsEmpty());
  EXPECT_EQ(sink_.frames(), messages);
  EXPECT_EQ(Metric("konseki_relp_acks_total"), 3000);
  EXPECT_EQ(
      Metric("konseki_received_messages_total", {{"listener", kUri}, {"transport", "relp+tls"}}),
      3000);
  EXPECT_EQ(Metric("konseki_tls_handshakes_total", {{"listener", kUri}}), 1);
}

// Tiny reads leave most of each TLS record decrypted inside OpenSSL, where
// epoll cannot see it; a tiny window makes the acks (written while the
// client keeps sending) gate every few messages.
TEST_P(RelpTlsTest, SmallReadsAndWindowLoseNothing) {
  StreamListenerOptions o;
  o.read_chunk_bytes = 64;
  o.max_unacked_per_connection = 4;
  ListenTls(/*mutual=*/false, o);
  const std::vector<std::string> messages = MakeMessages(2000);
  const ClientTls tls = Client(tls_pki->client);
  EXPECT_THAT(SendWithLibrelp(listener_->port(), messages, 64, &tls), ::testing::IsEmpty());
  EXPECT_EQ(sink_.frames(), messages);
  EXPECT_LE(sink_.max_unacked(), 4u);
}

TEST_P(RelpTlsTest, MutualTlsAcceptsPermittedClientAndRefusesOthers) {
  ListenTls(/*mutual=*/true);
  const ClientTls good = Client(tls_pki->client);
  EXPECT_THAT(SendWithLibrelp(listener_->port(), MakeMessages(50), 128, &good),
              ::testing::IsEmpty());
  EXPECT_EQ(sink_.frames().size(), 50u);
  const ClientTls bad = Client(tls_pki->intruder);
  EXPECT_THAT(SendWithLibrelp(listener_->port(), MakeMessages(5), 128, &bad),
              ::testing::Not(::testing::IsEmpty()));
  EXPECT_TRUE(WaitForMetric("konseki_tls_handshake_failures_total",
                            {{"listener", kUri}, {"reason", "peer_not_permitted"}}, 1));
  EXPECT_EQ(sink_.frames().size(), 50u);
  EXPECT_EQ(Metric("konseki_tls_handshakes_total", {{"listener", kUri}}), 1);
}

INSTANTIATE_TEST_SUITE_P(LibrelpTlsLibs, RelpTlsTest, ::testing::Values("gnutls", "openssl"));

using RelpTlsRawTest = RelpTlsTest;

TEST_P(RelpTlsRawTest, PlainRelpToATlsListenerIsRefused) {
  ListenTls(/*mutual=*/false);
  RawRelpClient c(listener_->port());
  ASSERT_TRUE(c.ok());
  c.Send(kOpen);
  EXPECT_THAT(c.ReadUntil("rsp"), ::testing::Not(::testing::HasSubstr("rsp")));
  EXPECT_TRUE(WaitForMetric("konseki_tls_handshake_failures_total",
                            {{"listener", kUri}, {"reason", "not_tls"}}, 1));
  EXPECT_TRUE(sink_.frames().empty());
}

TEST_P(RelpTlsRawTest, SilentClientIsClosedAfterTheHandshakeTimeout) {
  StreamListenerOptions o;
  o.handshake_timeout_secs = 10;
  ListenTls(/*mutual=*/false, o);
  RawRelpClient c(listener_->port());
  ASSERT_TRUE(c.ok());
  const Labels l = {{"listener", kUri}};
  ASSERT_TRUE(WaitForMetric("konseki_connections", l, 1));
  EXPECT_EQ(Failures("timeout"), 0);
  // The fake clock decides; the listener re-reads it on its periodic wake-up.
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (Failures("timeout") == 0 && std::chrono::steady_clock::now() < end) {
    clock_.Advance(2s);
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(Failures("timeout"), 1);
  EXPECT_EQ(c.ReadUntil("x"), "");  // closed by the listener
  EXPECT_TRUE(WaitForMetric("konseki_connections", l, 0));
}

INSTANTIATE_TEST_SUITE_P(NoClientLib, RelpTlsRawTest, ::testing::Values("none"));

TEST(StreamListenerRelpBindTest, RelpTlsNeedsATransportAndRelpTakesNone) {
  MetricsRegistry metrics;
  SystemClock clock;
  auto relp = ListenAddress::Parse("relp://127.0.0.1:0");
  auto relp_tls = ListenAddress::Parse("relp+tls://127.0.0.1:0");
  ASSERT_TRUE(relp.ok() && relp_tls.ok());
  EXPECT_FALSE(StreamListener::Bind(*relp_tls, StreamListenerOptions{}, 0, metrics, clock).ok());
  struct NoTransport : StreamTransport {
    std::unique_ptr<StreamConnection> Wrap(int) override { return nullptr; }
  };
  EXPECT_FALSE(StreamListener::Bind(*relp, StreamListenerOptions{}, 0, metrics, clock,
                                    std::make_unique<NoTransport>())
                   .ok());
}

}  // namespace
}  // namespace konseki::receiver
