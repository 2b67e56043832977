#include "receiver/udp_listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/receiver/capturing_frame_sink.h"
#include "tests/receiver/logger_frames.h"
#include "tests/testing/recording_alert_sink.h"

namespace konseki::receiver {
namespace {

using konseki::testing::Field;
using konseki::testing::RecordingAlertSink;

class UdpListenerTest : public ::testing::Test {
 protected:
  std::unique_ptr<UdpListener> Start(const std::string& uri, UdpListenerOptions options = {}) {
    StatusOr<ListenAddress> address = ListenAddress::Parse(uri);
    EXPECT_TRUE(address.ok()) << address.status().ToString();
    StatusOr<std::unique_ptr<UdpListener>> l =
        UdpListener::Bind(*address, options, 7, metrics_, clock_);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    if (!l.ok()) return nullptr;
    std::unique_ptr<UdpListener> listener = std::move(l).value();
    listener->Start(&sink_);
    return listener;
  }

  // Sends datagrams from one client socket to 127.0.0.1:port.
  static void SendTo(uint16_t port, const std::vector<std::string>& datagrams) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (const std::string& d : datagrams) {
      ASSERT_EQ(sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
                static_cast<ssize_t>(d.size()));
    }
    close(fd);
  }

  double Metric(const std::string& name, const Labels& labels) {
    return metrics_.ValueOf(name, labels);
  }

  // A listener on udp://127.0.0.1:0 whose sink refuses every push, waiting
  // up to `wait` for room; and the counters of its waits and drops.
  std::unique_ptr<UdpListener> StartRefused(std::chrono::milliseconds wait) {
    sink_.SetRefuse(true);
    UdpListenerOptions o;
    o.queue_wait = wait;
    return Start("udp://127.0.0.1:0", o);
  }
  double Waits() {
    return Metric("konseki_receiver_waits_total",
                  {{"listener", "udp://127.0.0.1:0"}, {"transport", "udp"}});
  }
  double QueueFullDrops() {
    return Metric("konseki_dropped_messages_total",
                  {{"stage", "receiver"}, {"reason", "queue_full"}});
  }

  MetricsRegistry metrics_;
  SystemClock clock_;
  CapturingFrameSink sink_;
};

// Resident anonymous memory of this process (RssAnon of /proc/self/status).
size_t RssAnonKib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("RssAnon:", 0) == 0) return std::strtoull(line.c_str() + 8, nullptr, 10);
  }
  return 0;
}

// The receive slots (64 x 64 KiB by default) become resident only where
// datagrams land: zero-filling them kept 4 MiB resident per UDP listener.
TEST_F(UdpListenerTest, ReceiveSlotsAreNotResidentUntilUsed) {
  UdpListenerOptions options;
  const size_t slots_kib = options.batch_size * (options.max_message_bytes + 1) / 1024;
  ASSERT_GE(slots_kib, 2048u);
  const size_t before = RssAnonKib();
  auto listener = Start("udp://127.0.0.1:0", options);
  ASSERT_NE(listener, nullptr);
  SendTo(listener->port(), {"<13>Nov 23 08:00:00 h app: one small datagram"});
  ASSERT_TRUE(sink_.WaitForCount(1));
  EXPECT_LT(RssAnonKib() - std::min(before, RssAnonKib()), slots_kib / 4);
}

TEST_F(UdpListenerTest, LoggerRfc5424MessagesArriveExactlyOnce) {
  auto l = Start("udp://127.0.0.1:0");
  ASSERT_NE(l, nullptr);
  ASSERT_NE(l->port(), 0);
  const int n = 300;
  ASSERT_EQ(
      RunLogger("-n 127.0.0.1 -P " + std::to_string(l->port()) + " -d --rfc5424 -t kt", "u5424", n),
      0);
  ASSERT_TRUE(sink_.WaitForCount(n)) << sink_.count();
  l->Stop();
  std::vector<CapturedFrame> frames = sink_.frames();
  ExpectEachExactlyOnce(frames, "u5424", n);
  for (const CapturedFrame& f : frames) {
    EXPECT_EQ(f.bytes.rfind("<13>1 ", 0), 0u) << f.bytes;
    EXPECT_NE(f.bytes.back(), '\n');
    EXPECT_EQ(f.sender, "127.0.0.1");
    EXPECT_EQ(f.listener_id, 7);
    EXPECT_FALSE(f.truncated);
  }
  const Labels lt = {{"listener", "udp://127.0.0.1:0"}, {"transport", "udp"}};
  EXPECT_EQ(Metric("konseki_received_messages_total", lt), n);
  EXPECT_GT(Metric("konseki_received_bytes_total", lt), n * 20);
  EXPECT_GT(sink_.flushes(), 0u);
}

TEST_F(UdpListenerTest, LoggerRfc3164MessagesArriveExactlyOnce) {
  auto l = Start("udp://127.0.0.1:0");
  ASSERT_NE(l, nullptr);
  const int n = 200;
  ASSERT_EQ(
      RunLogger("-n 127.0.0.1 -P " + std::to_string(l->port()) + " -d --rfc3164 -t kt", "u3164", n),
      0);
  ASSERT_TRUE(sink_.WaitForCount(n)) << sink_.count();
  l->Stop();
  ExpectEachExactlyOnce(sink_.frames(), "u3164", n);
}

TEST_F(UdpListenerTest, Ipv6LoopbackWithLogger) {
  auto l = Start("udp://[::1]:0");
  ASSERT_NE(l, nullptr);
  const int n = 50;
  ASSERT_EQ(RunLogger("-n ::1 -P " + std::to_string(l->port()) + " -d -t kt6", "u6", n), 0);
  ASSERT_TRUE(sink_.WaitForCount(n)) << sink_.count();
  l->Stop();
  std::vector<CapturedFrame> frames = sink_.frames();
  ExpectEachExactlyOnce(frames, "u6", n);
  EXPECT_EQ(frames[0].sender, "::1");
}

TEST_F(UdpListenerTest, StripsTrailingLfCrNulAndKeepsBinaryBytes) {
  auto l = Start("udp://127.0.0.1:0");
  ASSERT_NE(l, nullptr);
  std::string binary;
  for (int i = 1; i < 256; ++i) binary.push_back(static_cast<char>(i));
  binary += "x";  // does not end in a stripped byte
  std::string inner_nul("a\0b", 3);
  SendTo(l->port(), {"<13>lf\n", "<13>crlf\r\n", std::string("<13>nul\0", 8), binary, inner_nul});
  ASSERT_TRUE(sink_.WaitForCount(5));
  l->Stop();
  std::vector<CapturedFrame> f = sink_.frames();
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f[0].bytes, "<13>lf");
  EXPECT_EQ(f[1].bytes, "<13>crlf");
  EXPECT_EQ(f[2].bytes, "<13>nul");
  EXPECT_EQ(f[3].bytes, binary);
  EXPECT_EQ(f[4].bytes, inner_nul);
}

TEST_F(UdpListenerTest, EmptyDatagramsAreCountedNotPushed) {
  auto l = Start("udp://127.0.0.1:0");
  ASSERT_NE(l, nullptr);
  SendTo(l->port(), {"\n", std::string("\0", 1), "<13>real"});
  ASSERT_TRUE(sink_.WaitForCount(1));
  ASSERT_TRUE(WaitUntil([&] {
    return Metric("konseki_framing_errors_total",
                  {{"listener", "udp://127.0.0.1:0"}, {"reason", "empty_datagram"}}) == 2;
  }));
  l->Stop();
  EXPECT_EQ(sink_.count(), 1u);
}

TEST_F(UdpListenerTest, OversizeDatagramIsTruncatedAndCounted) {
  UdpListenerOptions o;
  o.max_message_bytes = 100;
  auto l = Start("udp://127.0.0.1:0", o);
  ASSERT_NE(l, nullptr);
  SendTo(l->port(), {std::string(500, 'z'), std::string(100, 'e') + "\n"});
  ASSERT_TRUE(sink_.WaitForCount(2));
  l->Stop();
  std::vector<CapturedFrame> f = sink_.frames();
  EXPECT_EQ(f[0].bytes, std::string(100, 'z'));
  EXPECT_TRUE(f[0].truncated);
  EXPECT_EQ(f[1].bytes, std::string(100, 'e'));
  EXPECT_FALSE(f[1].truncated);
  EXPECT_EQ(Metric("konseki_truncated_messages_total", {{"listener", "udp://127.0.0.1:0"}}), 1);
}

// The sender text is cached between datagrams; it must still follow the
// source address (whatever the port or socket) in every datagram.
TEST_F(UdpListenerTest, SenderFollowsTheSourceAddressOfEachDatagram) {
  auto l = Start("udp://127.0.0.1:0");
  ASSERT_NE(l, nullptr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(l->port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char* sources[] = {"127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.1", "127.0.0.3"};
  for (const char* src : sources) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);  // a new socket, so a new port, each time
    ASSERT_GE(fd, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ASSERT_EQ(inet_pton(AF_INET, src, &from.sin_addr), 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from), 0) << src;
    const std::string d = std::string("<13>Nov 23 08:00:00 h app: from ") + src;
    ASSERT_EQ(sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(d.size()));
    close(fd);
  }
  ASSERT_TRUE(sink_.WaitForCount(5));
  l->Stop();
  std::vector<CapturedFrame> frames = sink_.frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].sender, sources[i]);
    EXPECT_EQ(frames[i].bytes, std::string("<13>Nov 23 08:00:00 h app: from ") + sources[i]);
  }
}

TEST_F(UdpListenerTest, LoneDatagramIsFlushedWithoutFurtherTraffic) {
  auto l = Start("udp://127.0.0.1:0");  // default gather window
  ASSERT_NE(l, nullptr);
  SendTo(l->port(), {"<13>Nov 23 08:00:00 h app: alone"});
  EXPECT_TRUE(WaitUntil([&] { return sink_.flushed() == 1; }));
  l->Stop();
  EXPECT_EQ(sink_.count(), 1u);
}

// A burst that arrives within the gather window is handed on in a few
// flushes, not one per datagram (what costs a worker wake-up each).
TEST_F(UdpListenerTest, BurstWithinTheGatherWindowIsFlushedTogether) {
  UdpListenerOptions o;
  o.gather_window = std::chrono::milliseconds(500);
  auto l = Start("udp://127.0.0.1:0", o);
  ASSERT_NE(l, nullptr);
  std::vector<std::string> burst;
  for (int i = 0; i < 100; ++i)
    burst.push_back("<13>Nov 23 08:00:00 h app: n=" + std::to_string(i));
  SendTo(l->port(), burst);
  ASSERT_TRUE(WaitUntil([&] { return sink_.flushed() == 100; }));
  EXPECT_LT(sink_.flushes(), 10u);
  l->Stop();
}

// Stop() ends the gather wait at once and still hands on what was received.
TEST_F(UdpListenerTest, StopDuringTheGatherWindowFlushesAndReturns) {
  UdpListenerOptions o;
  o.gather_window = std::chrono::hours(1);
  auto l = Start("udp://127.0.0.1:0", o);
  ASSERT_NE(l, nullptr);
  SendTo(l->port(), {"<13>Nov 23 08:00:00 h app: waiting"});
  ASSERT_TRUE(sink_.WaitForCount(1));
  EXPECT_EQ(sink_.flushed(), 0u);  // held for the window
  l->Stop();
  EXPECT_EQ(sink_.flushed(), 1u);
}

// A queue that stays full: the first refused datagram is held for
// queue_wait, then dropped; the next ones within a second are dropped
// without waiting (a stuck worker must not slow the others' hosts).
TEST_F(UdpListenerTest, RefusedPushesAreCountedAsQueueFullDrops) {
  auto l = StartRefused(std::chrono::milliseconds(20));
  ASSERT_NE(l, nullptr);
  SendTo(l->port(), {"<13>a", "<13>b", "<13>c"});
  ASSERT_TRUE(WaitUntil([&] { return QueueFullDrops() == 3; }));
  l->Stop();
  EXPECT_EQ(sink_.count(), 0u);
  EXPECT_EQ(Waits(), 1);
}

// A queue full for a moment (the workers were descheduled, a burst): the
// listener stops reading and waits for room instead of dropping; what
// arrives meanwhile waits in the kernel's buffer. Nothing is lost.
TEST_F(UdpListenerTest, AQueueFullForAMomentHoldsTheDatagramsInsteadOfDroppingThem) {
  auto l = StartRefused(std::chrono::seconds(30));
  ASSERT_NE(l, nullptr);
  SendTo(l->port(), {"<13>a", "<13>b"});
  ASSERT_TRUE(WaitUntil([&] { return Waits() == 1; }));
  SendTo(l->port(), {"<13>c"});  // read after the wait
  sink_.SetRefuse(false);
  ASSERT_TRUE(WaitUntil([&] { return sink_.count() == 3; }));
  l->Stop();
  EXPECT_EQ(QueueFullDrops(), 0);
  EXPECT_EQ(sink_.frames()[0].bytes, "<13>a");
  EXPECT_EQ(sink_.frames()[2].bytes, "<13>c");
}

// Stop() ends a wait for room at once: the datagram in hand is dropped
// and counted, the thread returns.
TEST_F(UdpListenerTest, StopEndsAWaitForRoom) {
  auto l = StartRefused(std::chrono::hours(1));
  ASSERT_NE(l, nullptr);
  SendTo(l->port(), {"<13>a"});
  ASSERT_TRUE(WaitUntil([&] { return Waits() == 1; }));
  l->Stop();
  EXPECT_EQ(QueueFullDrops(), 1);
}

// With a tiny receive buffer and the pipeline stalled, the kernel drops
// datagrams; the socket's drop count (SO_MEMINFO, polled per wake-up, or
// SO_RXQ_OVFL) reports them, so received + kernel drops == sent.
TEST_F(UdpListenerTest, KernelDropsAreCounted) {
  UdpListenerOptions o;
  o.rcvbuf_bytes = 4096;
  o.batch_size = 4;
  sink_.SetGate(false);
  auto l = Start("udp://127.0.0.1:0", o);
  ASSERT_NE(l, nullptr);
  std::vector<std::string> burst(400, std::string(200, 'k'));
  SendTo(l->port(), burst);
  sink_.SetGate(true);
  const Labels lt = {{"listener", "udp://127.0.0.1:0"}, {"transport", "udp"}};
  const Labels kernel = {{"stage", "kernel"}, {"reason", "udp_receive_buffer"}};
  // Drops are reported with the next datagram queued after them, so keep
  // sending markers until every datagram sent is accounted for.
  int sent = static_cast<int>(burst.size());
  ASSERT_TRUE(WaitUntil([&] {
    if (Metric("konseki_received_messages_total", lt) +
            Metric("konseki_dropped_messages_total", kernel) ==
        sent) {
      return true;
    }
    SendTo(l->port(), {"<13>marker"});
    ++sent;
    return false;
  })) << Metric("konseki_received_messages_total", lt)
      << " received, " << Metric("konseki_dropped_messages_total", kernel) << " dropped, " << sent
      << " sent";
  l->Stop();
  EXPECT_GT(Metric("konseki_dropped_messages_total", kernel), 0);
  EXPECT_EQ(sink_.count(), Metric("konseki_received_messages_total", lt));
}

TEST_F(UdpListenerTest, ReportsGrantedReceiveBuffer) {
  UdpListenerOptions o;
  o.rcvbuf_bytes = 4 * 1024 * 1024;
  StatusOr<std::unique_ptr<UdpListener>> l =
      UdpListener::Bind(*ListenAddress::Parse("udp://127.0.0.1:0"), o, 0, metrics_, clock_);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_GT((*l)->granted_rcvbuf_bytes(), 0);
  if ((*l)->rcvbuf_forced()) {
    EXPECT_GE((*l)->granted_rcvbuf_bytes(), o.rcvbuf_bytes);
  }
}

TEST_F(UdpListenerTest, StopWithoutTrafficReturns) {
  auto l = Start("udp://127.0.0.1:0");
  ASSERT_NE(l, nullptr);
  l->Stop();
  l->Stop();  // idempotent
  EXPECT_GE(sink_.flushes(), 1u);
}

TEST_F(UdpListenerTest, BindErrorsArePrecise) {
  auto first = Start("udp://127.0.0.1:0");
  ASSERT_NE(first, nullptr);
  ListenAddress taken = *ListenAddress::Parse("udp://127.0.0.1:0");
  taken.port = first->port();
  StatusOr<std::unique_ptr<UdpListener>> l = UdpListener::Bind(taken, {}, 0, metrics_, clock_);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find(taken.ToString()), std::string::npos);
  EXPECT_NE(l.status().message().find("in use"), std::string::npos) << l.status().message();
  StatusOr<std::unique_ptr<UdpListener>> tcp =
      UdpListener::Bind(*ListenAddress::Parse("tcp://127.0.0.1:0"), {}, 0, metrics_, clock_);
  EXPECT_EQ(tcp.status().code(), StatusCode::kInvalidArgument);
}

// Sends datagrams to 127.0.0.1:port from a socket bound to source (any
// 127.0.0.0/8 address is local on Linux).
void SendFrom(const char* source, uint16_t port, const std::vector<std::string>& datagrams) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from), 0) << source;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (const std::string& d : datagrams) {
    ASSERT_EQ(sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(d.size()));
  }
  close(fd);
}

std::vector<std::string> Numbered(const std::string& tag, int n) {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i) out.push_back("<13>" + tag + "-" + std::to_string(i) + " end");
  return out;
}

constexpr char kUdpListener[] = "udp://127.0.0.1:0";

TEST_F(UdpListenerTest, SenderOutsideAllowlistIsDroppedCountedAndAlertedOnce) {
  RecordingAlertSink alerts;
  UdpListenerOptions o;
  o.allow = *SenderAllowlist::Parse({"10.0.0.0/8", "::1/128"});
  o.alerts = &alerts;
  auto l = Start(kUdpListener, o);
  ASSERT_NE(l, nullptr);
  SendTo(l->port(), Numbered("refused", 3));
  const Labels lt = {{"listener", kUdpListener}, {"transport", "udp"}};
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_refused_senders_total", lt) == 3; }));
  l->Stop();
  EXPECT_EQ(sink_.count(), 0u);
  EXPECT_EQ(Metric("konseki_received_messages_total", lt), 0);
  std::vector<Alert> got = alerts.alerts();
  ASSERT_EQ(got.size(), 1u);  // one per source address per minute
  EXPECT_EQ(got[0].sign, "receiver.refused");
  EXPECT_EQ(Field(got[0], "src_ip"), "127.0.0.1");
  EXPECT_EQ(Field(got[0], "listener"), kUdpListener);
  EXPECT_EQ(Field(got[0], "transport"), "udp");
  EXPECT_EQ(Metric("konseki_suppressed_alerts_total", {{"sign", "receiver.refused"}}), 2);
}

TEST_F(UdpListenerTest, AllowlistAcceptsListedSendersOnly) {
  RecordingAlertSink alerts;
  UdpListenerOptions o;
  o.allow = *SenderAllowlist::Parse({"127.0.0.2"});
  o.alerts = &alerts;
  auto l = Start(kUdpListener, o);
  ASSERT_NE(l, nullptr);
  SendFrom("127.0.0.1", l->port(), Numbered("outsider", 2));
  SendFrom("127.0.0.2", l->port(), Numbered("insider", 4));
  ASSERT_TRUE(sink_.WaitForCount(4));
  const Labels lt = {{"listener", kUdpListener}, {"transport", "udp"}};
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_refused_senders_total", lt) == 2; }));
  l->Stop();
  ExpectEachExactlyOnce(sink_.frames(), "insider", 4);
  for (const CapturedFrame& f : sink_.frames()) EXPECT_EQ(f.sender, "127.0.0.2");
  EXPECT_EQ(Metric("konseki_received_messages_total", lt), 4);
  ASSERT_EQ(alerts.alerts().size(), 1u);
  EXPECT_EQ(Field(alerts.alerts()[0], "src_ip"), "127.0.0.1");
}

TEST_F(UdpListenerTest, LoopbackRangeIsAccepted) {
  UdpListenerOptions o;
  o.allow = *SenderAllowlist::Parse({"127.0.0.0/8"});
  auto l = Start(kUdpListener, o);
  ASSERT_NE(l, nullptr);
  SendTo(l->port(), Numbered("ok", 5));
  ASSERT_TRUE(sink_.WaitForCount(5));
  l->Stop();
  ExpectEachExactlyOnce(sink_.frames(), "ok", 5);
  EXPECT_EQ(
      Metric("konseki_refused_senders_total", {{"listener", kUdpListener}, {"transport", "udp"}}),
      0);
}

TEST_F(UdpListenerTest, RateLimitDropsBeyondTheBurstPerSender) {
  UdpListenerOptions o;
  // A refill of one token per 1000 s: nothing refills while the test runs,
  // so each sender gets exactly its burst through.
  o.rate_limit.messages_per_sec = 0.001;
  o.rate_limit.burst = 5;
  auto l = Start(kUdpListener, o);
  ASSERT_NE(l, nullptr);
  SendFrom("127.0.0.1", l->port(), Numbered("flood", 20));
  SendFrom("127.0.0.3", l->port(), Numbered("calm", 3));
  const Labels lt = {{"listener", kUdpListener}, {"transport", "udp"}};
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_received_messages_total", lt) == 23; }));
  l->Stop();
  EXPECT_EQ(
      Metric("konseki_dropped_messages_total", {{"stage", "receiver"}, {"reason", "rate_limit"}}),
      15);
  ExpectEachExactlyOnce(sink_.frames(), "flood", 5);  // the first five
  ExpectEachExactlyOnce(sink_.frames(), "calm", 3);
}

TEST_F(UdpListenerTest, BadRateLimitIsRefusedAtBind) {
  UdpListenerOptions o;
  o.rate_limit.messages_per_sec = -3;
  StatusOr<std::unique_ptr<UdpListener>> l =
      UdpListener::Bind(*ListenAddress::Parse(kUdpListener), o, 0, metrics_, clock_);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("rate_limit.messages_per_sec"), std::string::npos)
      << l.status().message();
}

}  // namespace
}  // namespace konseki::receiver
