#include "receiver/stream_listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/receiver/capturing_frame_sink.h"
#include "tests/receiver/logger_frames.h"
#include "tests/testing/recording_alert_sink.h"

namespace konseki::receiver {
namespace {

using konseki::testing::Field;
using konseki::testing::RecordingAlertSink;

using namespace std::string_literals;

constexpr char kListener[] = "tcp://127.0.0.1:0";

// A blocking client socket connected to the listener.
class Client {
 public:
  // source: an IPv4 address to connect from (any 127.0.0.0/8 address is
  // local on Linux); null lets the kernel choose.
  explicit Client(uint16_t port, bool ipv6 = false, const char* source = nullptr) {
    fd_ = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (source != nullptr && !ipv6) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      inet_pton(AF_INET, source, &from.sin_addr);
      if (bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) return;
    }
    if (ipv6) {
      sockaddr_in6 to{};
      to.sin6_family = AF_INET6;
      to.sin6_port = htons(port);
      to.sin6_addr = in6addr_loopback;
      connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
    } else {
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(port);
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
    }
  }
  ~Client() { Close(); }
  bool connected() const { return connected_; }
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // True if the peer closed (EOF or reset) within the timeout.
  bool WaitClosedByPeer(int timeout_ms = 5000) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char c;
    return recv(fd_, &c, 1, MSG_DONTWAIT) <= 0;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class TcpListenerTest : public ::testing::Test {
 protected:
  std::unique_ptr<StreamListener> Start(const std::string& uri,
                                        StreamListenerOptions options = {}) {
    StatusOr<ListenAddress> address = ListenAddress::Parse(uri);
    EXPECT_TRUE(address.ok()) << address.status().ToString();
    StatusOr<std::unique_ptr<StreamListener>> l =
        StreamListener::Bind(*address, options, 3, metrics_, clock_);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    if (!l.ok()) return nullptr;
    std::unique_ptr<StreamListener> listener = std::move(l).value();
    listener->Start(&sink_);
    return listener;
  }
  double Metric(const std::string& name, const Labels& labels) {
    return metrics_.ValueOf(name, labels);
  }
  double Connections(const std::string& listener = kListener) {
    return Metric("konseki_connections", {{"listener", listener}});
  }

  MetricsRegistry metrics_;
  FakeClock clock_;
  CapturingFrameSink sink_;
};

size_t CountWith(const std::vector<CapturedFrame>& frames, const std::string& needle) {
  size_t n = 0;
  for (const CapturedFrame& f : frames) n += f.bytes.find(needle) != std::string::npos;
  return n;
}

TEST_F(TcpListenerTest, LoggerLfFramedMessagesArriveExactlyOnce) {
  auto l = Start(kListener);
  ASSERT_NE(l, nullptr);
  const int n = 500;
  ASSERT_EQ(
      RunLogger("-n 127.0.0.1 -P " + std::to_string(l->port()) + " -T --rfc5424 -t kt", "tlf", n),
      0);
  ASSERT_TRUE(sink_.WaitForCount(n)) << sink_.count();
  l->Stop();
  std::vector<CapturedFrame> frames = sink_.frames();
  ASSERT_EQ(frames.size(), static_cast<size_t>(n));
  ExpectEachExactlyOnce(frames, "tlf", n);
  for (const CapturedFrame& f : frames) {
    EXPECT_EQ(f.bytes.rfind("<13>1 ", 0), 0u) << f.bytes;
    EXPECT_EQ(f.sender, "127.0.0.1");
    EXPECT_EQ(f.listener_id, 3);
  }
  const Labels lt = {{"listener", kListener}, {"transport", "tcp"}};
  EXPECT_EQ(Metric("konseki_received_messages_total", lt), n);
  EXPECT_GT(Metric("konseki_received_bytes_total", lt), n * 20);
}

TEST_F(TcpListenerTest, LoggerOctetCountedMessagesArriveExactlyOnce) {
  auto l = Start(kListener);
  ASSERT_NE(l, nullptr);
  const int n = 500;
  ASSERT_EQ(RunLogger("-n 127.0.0.1 -P " + std::to_string(l->port()) +
                          " -T --octet-count --rfc5424 -t kt",
                      "toc", n),
            0);
  ASSERT_TRUE(sink_.WaitForCount(n)) << sink_.count();
  l->Stop();
  std::vector<CapturedFrame> frames = sink_.frames();
  ASSERT_EQ(frames.size(), static_cast<size_t>(n));
  ExpectEachExactlyOnce(frames, "toc", n);
  EXPECT_EQ(frames[0].bytes.rfind("<13>1 ", 0), 0u) << frames[0].bytes;
  EXPECT_EQ(Metric("konseki_framing_errors_total",
                   {{"listener", kListener}, {"reason", "malformed_octet_count"}}),
            0);
}

TEST_F(TcpListenerTest, LoggerRfc3164OverIpv6) {
  auto l = Start("tcp://[::1]:0");
  ASSERT_NE(l, nullptr);
  const int n = 100;
  ASSERT_EQ(RunLogger("-n ::1 -P " + std::to_string(l->port()) + " -T --rfc3164 -t kt6", "t6", n),
            0);
  ASSERT_TRUE(sink_.WaitForCount(n)) << sink_.count();
  l->Stop();
  std::vector<CapturedFrame> frames = sink_.frames();
  ExpectEachExactlyOnce(frames, "t6", n);
  EXPECT_EQ(frames[0].sender, "::1");
  EXPECT_EQ(frames[0].bytes.rfind("<13>", 0), 0u);
}

TEST_F(TcpListenerTest, SilentAndHalfSentClientsDoNotDelayOthers) {
  auto l = Start(kListener);
  ASSERT_NE(l, nullptr);
  Client silent(l->port());
  Client half(l->port());
  ASSERT_TRUE(silent.connected() && half.connected());
  ASSERT_TRUE(half.Send("<13>this message never ends"));
  ASSERT_TRUE(half.Send("999 <13>octet frame that never completes"));
  ASSERT_TRUE(WaitUntil([&] { return Connections() == 2; }));
  const int n = 200;
  ASSERT_EQ(RunLogger("-n 127.0.0.1 -P " + std::to_string(l->port()) + " -T -t kt", "busy", n), 0);
  ASSERT_TRUE(sink_.WaitForCount(n)) << sink_.count();
  ExpectEachExactlyOnce(sink_.frames(), "busy", n);
  EXPECT_EQ(CountWith(sink_.frames(), "never ends"), 0u);
  // The sender's close ends the unterminated LF frame: a whole message.
  half.Close();
  ASSERT_TRUE(sink_.WaitForCount(n + 1));
  EXPECT_EQ(sink_.frames()[n].bytes,
            "<13>this message never ends999 <13>octet frame that never completes");
  EXPECT_FALSE(sink_.frames()[n].truncated);
  l->Stop();
  EXPECT_EQ(Metric("konseki_framing_errors_total",
                   {{"listener", kListener}, {"reason", "incomplete_frame"}}),
            0);
}

// A sender that closes in the middle of an octet-counted frame: what came
// is emitted, truncated, with the cause the close (incomplete_frame), which
// the alert and the truncation metrics name.
TEST_F(TcpListenerTest, AFrameTheSenderClosedInTheMiddleOfIsEmittedAsCut) {
  auto l = Start(kListener);
  ASSERT_NE(l, nullptr);
  Client c(l->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("9 <13>whole60 <13>the sender closes before its end"));
  ASSERT_TRUE(sink_.WaitForCount(1));
  c.Close();
  ASSERT_TRUE(sink_.WaitForCount(2));
  l->Stop();
  const std::vector<CapturedFrame> frames = sink_.frames();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].bytes, "<13>whole");
  EXPECT_FALSE(frames[0].truncated);
  EXPECT_EQ(frames[1].bytes, "<13>the sender closes before its end");
  EXPECT_TRUE(frames[1].truncated);
  EXPECT_EQ(frames[1].cause, TruncationCause::kCut);
  EXPECT_EQ(frames[1].sender, "127.0.0.1");
  EXPECT_EQ(Metric("konseki_framing_errors_total",
                   {{"listener", kListener}, {"reason", "incomplete_frame"}}),
            1);
}

TEST_F(TcpListenerTest, GigabyteOctetCountIsSkippedAndConnectionStaysUsable) {
  StreamListenerOptions o;
  o.max_message_bytes = 1024;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  Client hostile(l->port());
  Client honest(l->port());
  // Claims 1 GB, sends 8 MB of it, then gives up: the listener emits the first
  // 1024 bytes at once and never buffers the rest.
  ASSERT_TRUE(hostile.Send("1073741824 "));
  const std::string chunk(1 << 20, 'G');
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(hostile.Send(chunk));
    ASSERT_TRUE(honest.Send("<13>honest-" + std::to_string(i) + " end\n"));
  }
  // A claimed 3 MB frame that is fully sent: the next frame is intact.
  ASSERT_TRUE(honest.Send("3145728 "));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(honest.Send(chunk));
  ASSERT_TRUE(honest.Send("<13>after the big one\n"));
  ASSERT_TRUE(WaitUntil([&] { return CountWith(sink_.frames(), "after the big one") == 1; }));
  hostile.Close();
  ASSERT_TRUE(WaitUntil([&] {
    return Metric("konseki_framing_errors_total",
                  {{"listener", kListener}, {"reason", "incomplete_frame"}}) == 1;
  }));
  l->Stop();
  std::vector<CapturedFrame> frames = sink_.frames();
  EXPECT_EQ(CountWith(frames, "honest-"), 8u);
  size_t truncated = 0;
  for (const CapturedFrame& f : frames) {
    EXPECT_LE(f.bytes.size(), 1024u);
    truncated += f.truncated;
  }
  EXPECT_EQ(truncated, 2u);
  EXPECT_EQ(Metric("konseki_truncated_messages_total", {{"listener", kListener}}), 2);
}

TEST_F(TcpListenerTest, BinaryGarbageAndNulBytesDoNotBreakTheConnection) {
  StreamListenerOptions o;
  o.max_message_bytes = 4096;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  Client c(l->port());
  std::string garbage;
  uint32_t x = 99;
  for (int i = 0; i < 100000; ++i) {
    x = x * 1103515245 + 12345;
    garbage.push_back(static_cast<char>(x >> 16));
  }
  ASSERT_TRUE(WaitUntil([&] { return Connections() == 1; }));
  ASSERT_TRUE(c.Send(garbage));
  // Garbage may open an octet-counted frame that swallows what follows on that
  // connection (the protocol cannot tell), so the connection is closed; the
  // listener goes on serving everyone else.
  c.Close();
  ASSERT_TRUE(WaitUntil([&] { return Connections() == 0; }));
  const size_t garbage_frames = sink_.count();
  EXPECT_GT(garbage_frames, 0u);
  Client next(l->port());
  ASSERT_TRUE(next.Send("<13>nul one\0<13>nul two\0\0<13>after garbage\n"s));
  ASSERT_TRUE(sink_.WaitForCount(garbage_frames + 3));
  l->Stop();
  std::vector<CapturedFrame> frames = sink_.frames();
  EXPECT_EQ(frames[garbage_frames].bytes, "<13>nul one");
  EXPECT_EQ(frames[garbage_frames + 1].bytes, "<13>nul two");
  EXPECT_EQ(frames[garbage_frames + 2].bytes, "<13>after garbage");
  for (const CapturedFrame& f : frames) EXPECT_LE(f.bytes.size(), 4096u);
}

TEST_F(TcpListenerTest, BackpressureStopsReadingAndLosesNothing) {
  sink_.SetCapacity(false);
  StreamListenerOptions o;
  o.read_chunk_bytes = 4096;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  const int n = 20000;  // ~1.2 MB: more than the socket buffers hold
  std::thread sender([&] {
    Client c(l->port());
    std::string batch;
    for (int i = 1; i <= n; ++i) {
      batch += "<13>bp-" + std::to_string(i) + " end padding padding padding padding\n";
      if (i % 100 == 0) {
        ASSERT_TRUE(c.Send(batch));
        batch.clear();
      }
    }
  });
  // While there is no capacity nothing may be read: the data stays queued in
  // the kernel and the sender blocks.
  EXPECT_EQ(sink_.count(), 0u);
  sink_.SetCapacity(true);
  ASSERT_TRUE(sink_.WaitForCount(n)) << sink_.count();
  sender.join();
  l->Stop();
  std::vector<CapturedFrame> frames = sink_.frames();
  ASSERT_EQ(frames.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(frames[i].bytes.rfind("<13>bp-" + std::to_string(i + 1) + " end", 0), 0u);
  }
  EXPECT_EQ(sink_.pushes_without_capacity(), 0u);
}

TEST_F(TcpListenerTest, CapacityTogglingLosesNothing) {
  StreamListenerOptions o;
  o.read_chunk_bytes = 1024;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  const int n = 5000;
  std::thread sender([&] {
    Client c(l->port());
    for (int i = 1; i <= n; ++i) ASSERT_TRUE(c.Send("<13>tg-" + std::to_string(i) + " end\n"));
  });
  // Flip capacity off and on while the stream flows.
  for (int round = 0; round < 20 && sink_.count() < static_cast<size_t>(n); ++round) {
    const size_t before = sink_.count();
    sink_.SetCapacity(false);
    sink_.SetCapacity(true);
    WaitUntil([&] { return sink_.count() > before || sink_.count() >= static_cast<size_t>(n); },
              std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(sink_.WaitForCount(n)) << sink_.count();
  sender.join();
  l->Stop();
  std::vector<CapturedFrame> frames = sink_.frames();
  ASSERT_EQ(frames.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(frames[i].bytes, "<13>tg-" + std::to_string(i + 1) + " end");
  }
}

double Evicted(MetricsRegistry& m, const std::string& reason) {
  return m.ValueOf("konseki_connections_evicted_total",
                   {{"listener", kListener}, {"reason", reason}});
}

TEST_F(TcpListenerTest, FullListenerClosesTheLongestIdleConnectionForANewOne) {
  StreamListenerOptions o;
  o.max_connections = 2;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  Client a(l->port());
  ASSERT_TRUE(a.Send("<13>from a\n"));
  ASSERT_TRUE(sink_.WaitForCount(1));
  Client silent(l->port());  // never sends a frame: evicted before a
  ASSERT_TRUE(WaitUntil([&] { return Connections() == 2; }));
  Client c(l->port());
  ASSERT_TRUE(c.connected());
  EXPECT_TRUE(silent.WaitClosedByPeer());
  EXPECT_EQ(Evicted(metrics_, "max_connections"), 1);
  ASSERT_TRUE(c.Send("<13>from c\n"));
  ASSERT_TRUE(a.Send("<13>from a again\n"));
  ASSERT_TRUE(sink_.WaitForCount(3));
  // Both framed now: the next newcomer closes the one idle longest (a, whose
  // last bytes were read before c's).
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(c.Send("<13>c is busier\n"));
  ASSERT_TRUE(sink_.WaitForCount(4));
  Client d(l->port());
  EXPECT_TRUE(a.WaitClosedByPeer());
  ASSERT_TRUE(d.Send("<13>from d\n"));
  ASSERT_TRUE(c.Send("<13>c stays\n"));
  ASSERT_TRUE(sink_.WaitForCount(6));
  EXPECT_EQ(Evicted(metrics_, "max_connections"), 2);
  EXPECT_EQ(Metric("konseki_connections_rejected_total",
                   {{"listener", kListener}, {"reason", "max_connections"}}),
            0);
  l->Stop();
  EXPECT_EQ(Connections(), 0);
}

// prod18 finding 4: a burst of new connections, each with a line already
// written, is accepted before any is read; those evicted to make room lost
// their line. Connected and written before the listener starts, so the whole
// burst waits in the accept queue.
TEST_F(TcpListenerTest, AnEvictedConnectionsWrittenLinesAreReadBeforeItCloses) {
  StreamListenerOptions o;
  o.max_connections = 2;
  StatusOr<std::unique_ptr<StreamListener>> l =
      StreamListener::Bind(*ListenAddress::Parse(kListener), o, 3, metrics_, clock_);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  constexpr int kClients = 12;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<Client>((*l)->port()));
    ASSERT_TRUE(clients.back()->Send("<13>burst-" + std::to_string(i) + " end\n"));
  }
  (*l)->Start(&sink_);
  ASSERT_TRUE(WaitUntil([&] { return Evicted(metrics_, "max_connections") == kClients - 2; }))
      << Evicted(metrics_, "max_connections");
  ASSERT_TRUE(sink_.WaitForCount(kClients)) << sink_.count();
  std::set<std::string> got;
  for (const CapturedFrame& f : sink_.frames()) got.insert(f.bytes);
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(got.count("<13>burst-" + std::to_string(i) + " end"), 1u) << i;
  }
  (*l)->Stop();
}

// Issue 10 item 3: idle sockets from one address filled max_connections and
// every other sender was reset and lost its messages.
TEST_F(TcpListenerTest, IdleFloodFromOtherAddressesCannotLockOutASender) {
  StreamListenerOptions o;
  o.max_connections = 32;
  o.limits.max_connections_per_source = 8;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  std::vector<std::unique_ptr<Client>> flood;
  for (const char* source : {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"}) {
    for (int i = 0; i < 20; ++i) {
      flood.push_back(std::make_unique<Client>(l->port(), false, source));
      ASSERT_TRUE(flood.back()->connected());
    }
  }
  // 5 sources x 8 = 40 > 32: the listener is full and evicting.
  ASSERT_TRUE(WaitUntil([&] {
    return Evicted(metrics_, "max_connections_per_source") == 5 * 12 &&
           Evicted(metrics_, "max_connections") == 8;
  })) << Evicted(metrics_, "max_connections_per_source")
      << " " << Evicted(metrics_, "max_connections");
  ASSERT_TRUE(WaitUntil([&] { return Connections() == 32; }));
  const int kCount = 1000;
  std::string wire;
  for (int i = 1; i <= kCount; ++i) wire += "<13>sender-" + std::to_string(i) + " end\n";
  {
    Client sender(l->port(), false, "127.0.0.1");
    ASSERT_TRUE(sender.connected());
    ASSERT_TRUE(sender.Send(wire));
    // More idle sockets while the sender is connected evict each other, not it.
    for (int i = 0; i < 20; ++i) {
      flood.push_back(std::make_unique<Client>(l->port(), false, "127.0.0.7"));
    }
  }
  ASSERT_TRUE(sink_.WaitForCount(kCount));
  l->Stop();
  ExpectEachExactlyOnce(sink_.frames(), "sender", kCount);
}

// prod19b finding 1: a flood of framed connections from one address past
// max_connections (below its per-source cap) evicted the established
// senders, "idle longest" because the flood kept its sockets fresher: their
// next lines went into closed sockets, with no alert. Now the source holding
// the most slots loses them, and each listener-full eviction is alerted.
TEST_F(TcpListenerTest, FullListenerEvictsFromTheSourceHoldingTheMostSlotsAndAlerts) {
  RecordingAlertSink alerts;
  StreamListenerOptions o;
  o.max_connections = 6;
  o.limits.max_connections_per_source = 1000;
  o.alerts = &alerts;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  std::vector<std::unique_ptr<Client>> legit;
  for (const char* source : {"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
    legit.push_back(std::make_unique<Client>(l->port(), false, source));
    ASSERT_TRUE(legit.back()->Send("<13>legit-" + std::string(source) + " end\n"));
  }
  ASSERT_TRUE(sink_.WaitForCount(3));
  // The flood's connections are fresher than the senders'.
  clock_.Advance(std::chrono::seconds(2));
  std::vector<std::unique_ptr<Client>> flood;
  for (int i = 0; i < 30; ++i) {
    flood.push_back(std::make_unique<Client>(l->port(), false, "127.0.0.9"));
    ASSERT_TRUE(flood.back()->Send("<13>flood-" + std::to_string(i) + " end\n"));
    const size_t want = 4 + static_cast<size_t>(i);
    ASSERT_TRUE(sink_.WaitForCount(want)) << i;
  }
  ASSERT_TRUE(WaitUntil([&] { return Evicted(metrics_, "max_connections") == 27; }))
      << Evicted(metrics_, "max_connections");
  // Every legitimate sender is still connected and read.
  for (size_t i = 0; i < legit.size(); ++i) {
    ASSERT_TRUE(legit[i]->Send("<13>legit-again-" + std::to_string(i) + " end\n"));
  }
  ASSERT_TRUE(WaitUntil([&] { return CountWith(sink_.frames(), "legit-again-") == 3; }));
  l->Stop();
  std::vector<Alert> got = alerts.alerts();
  ASSERT_EQ(got.size(), 1u);  // one per evicted source a minute
  EXPECT_EQ(got[0].sign, "receiver.connections_evicted");
  EXPECT_EQ(got[0].severity, Severity::kMedium);
  EXPECT_EQ(Field(got[0], "reason"), "max_connections");
  EXPECT_EQ(Field(got[0], "src_ip"), "127.0.0.9");
  EXPECT_EQ(Field(got[0], "new_src_ip"), "127.0.0.9");
  EXPECT_EQ(Field(got[0], "held_data"), "false");
  EXPECT_NE(got[0].title.find("tcp.max_connections"), std::string::npos) << got[0].title;
  EXPECT_EQ(Metric("konseki_suppressed_alerts_total", {{"sign", "receiver.connections_evicted"}}),
            26);
}

// prod19b finding 3: evicting a connection that held nothing unread must not
// claim that what its sender wrote there is lost.
TEST_F(TcpListenerTest, PerSourceEvictionOfAnIdleConnectionDoesNotClaimDataLost) {
  RecordingAlertSink alerts;
  StreamListenerOptions o;
  o.limits.max_connections_per_source = 1;
  o.limits.first_frame_timeout_secs = 0;  // the clock jumps a minute
  o.alerts = &alerts;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  Client idle(l->port());
  ASSERT_TRUE(idle.Send("<13>all of it\n"));
  ASSERT_TRUE(sink_.WaitForCount(1));
  Client next(l->port());
  EXPECT_TRUE(idle.WaitClosedByPeer());
  ASSERT_TRUE(WaitUntil([&] { return alerts.alerts().size() == 1; }));
  Alert a = alerts.alerts()[0];
  EXPECT_EQ(a.sign, "receiver.connections_evicted");
  EXPECT_EQ(a.severity, Severity::kLow);
  EXPECT_EQ(Field(a, "reason"), "max_connections_per_source");
  EXPECT_EQ(Field(a, "held_data"), "false");
  EXPECT_EQ(a.title.find("is lost"), std::string::npos) << a.title;
  EXPECT_NE(a.title.find("nothing was lost"), std::string::npos) << a.title;
  // One holding half a message (its end lost) still says so.
  clock_.Advance(std::chrono::seconds(61));
  ASSERT_TRUE(next.Send("<13>half a mess"));
  ASSERT_TRUE(WaitUntil([&] {
    return Metric("konseki_received_bytes_total",
                  {{"listener", kListener}, {"transport", "tcp"}}) == 14 + 15;
  })) << Metric("konseki_received_bytes_total", {{"listener", kListener}, {"transport", "tcp"}});
  Client third(l->port());
  EXPECT_TRUE(next.WaitClosedByPeer());
  ASSERT_TRUE(WaitUntil([&] { return alerts.alerts().size() == 2; }));
  a = alerts.alerts()[1];
  EXPECT_EQ(a.severity, Severity::kMedium);
  EXPECT_EQ(Field(a, "held_data"), "true");
  EXPECT_NE(a.title.find("is lost"), std::string::npos) << a.title;
  l->Stop();
}

// hostile41: a burst of connections is accepted before any is read. A
// sender that connects, writes one line and closes (logger --tcp from the
// hosts behind one NAT) then fills its per-source slots with finished
// connections, and the longest idle of them, evicted for the next one, was
// now and then a sender that had connected but not yet written: its line
// went into a closed socket. Finished connections are reaped first.
TEST_F(TcpListenerTest, PerSourceCapReapsFinishedConnectionsBeforeEvictingAnOpenOne) {
  StreamListenerOptions o;
  o.limits.max_connections_per_source = 4;
  o.limits.first_frame_timeout_secs = 0;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  // Stall the listener in a push so that what follows queues up and is
  // accepted in one burst.
  sink_.SetGate(false);
  Client blocker(l->port(), false, "127.0.0.2");
  ASSERT_TRUE(blocker.Send("<13>blocker end\n"));
  ASSERT_TRUE(WaitUntil([&] { return sink_.waiting() == 1; }));
  Client open(l->port());  // connected, writes later
  ASSERT_TRUE(open.connected());
  for (int i = 0; i < 6; ++i) {
    Client done(l->port());
    ASSERT_TRUE(done.Send("<13>done-" + std::to_string(i + 1) + " end\n"));
  }
  sink_.SetGate(true);
  ASSERT_TRUE(sink_.WaitForCount(1 + 6));
  EXPECT_FALSE(open.WaitClosedByPeer(200));
  ASSERT_TRUE(open.Send("<13>open-0 end\n"));
  ASSERT_TRUE(sink_.WaitForCount(1 + 6 + 1)) << sink_.count();
  EXPECT_EQ(Evicted(metrics_, "max_connections_per_source"), 0);
  l->Stop();
  ExpectEachExactlyOnce(sink_.frames(), "done", 6);
  EXPECT_EQ(CountWith(sink_.frames(), "open-0 end"), 1u);
}

// prod19b finding 3: accepted connections have TCP keepalive (so a sender
// that vanished without FIN is reaped), with the configured timers.
TEST_F(TcpListenerTest, AcceptedConnectionsHaveKeepalive) {
  StreamListenerOptions o;
  o.keepalive_idle_secs = 123;
  o.keepalive_interval_secs = 17;
  o.keepalive_count = 4;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  Client c(l->port());
  ASSERT_TRUE(c.Send("<13>x\n"));
  ASSERT_TRUE(sink_.WaitForCount(1));
  // The server side of the connection: its local port is the listener's.
  // /proc/net/tcp "tr" is 2 for a socket whose keepalive timer runs.
  bool found = false;
  ASSERT_TRUE(WaitUntil([&] {
    FILE* f = std::fopen("/proc/net/tcp", "r");
    if (f == nullptr) return false;
    char line[512];
    char want[16];
    std::snprintf(want, sizeof want, ":%04X ", l->port());
    while (std::fgets(line, sizeof line, f) != nullptr) {
      std::string s(line);
      // sl local_address rem_address st tx:rx tr:tm->when
      const size_t local = s.find(':', s.find(':') + 1);  // after "sl:"
      if (local == std::string::npos || s.compare(local, 6, want) != 0) continue;
      if (s.find(" 01 ") == std::string::npos) continue;  // ESTABLISHED
      found = s.find(" 02:") != std::string::npos;
      if (found) break;
    }
    std::fclose(f);
    return found;
  }));
  l->Stop();
}

TEST_F(TcpListenerTest, KeepaliveOptionsAreValidated) {
  StreamListenerOptions o;
  o.keepalive_interval_secs = 0;
  EXPECT_FALSE(StreamListener::Bind(*ListenAddress::Parse(kListener), o, 3, metrics_, clock_).ok());
  o.keepalive_idle_secs = 0;  // off: the others are not used
  EXPECT_TRUE(StreamListener::Bind(*ListenAddress::Parse(kListener), o, 3, metrics_, clock_).ok());
}

TEST_F(TcpListenerTest, ConnectionWithoutAFrameIsClosedAfterTheFirstFrameTimeout) {
  StreamListenerOptions o;
  o.limits.first_frame_timeout_secs = 30;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  Client silent(l->port());
  Client partial(l->port());
  Client framed(l->port());
  const std::string unterminated = "<13>no terminator yet";
  const std::string frame = "<13>one frame\n";
  ASSERT_TRUE(partial.Send(unterminated));
  ASSERT_TRUE(framed.Send(frame));
  ASSERT_TRUE(sink_.WaitForCount(1));
  ASSERT_TRUE(WaitUntil([&] {
    return Metric("konseki_received_bytes_total",
                  {{"listener", kListener}, {"transport", "tcp"}}) ==
           static_cast<double>(unterminated.size() + frame.size());
  }));
  clock_.Advance(std::chrono::seconds(31));
  EXPECT_TRUE(silent.WaitClosedByPeer());
  EXPECT_TRUE(partial.WaitClosedByPeer());
  ASSERT_TRUE(WaitUntil([&] { return Connections() == 1; }));
  EXPECT_EQ(Evicted(metrics_, "first_frame_timeout"), 2);
  ASSERT_TRUE(framed.Send("<13>still open\n"));
  ASSERT_TRUE(sink_.WaitForCount(3));  // the partial frame was emitted at close
  l->Stop();
}

// A sender (or a stuck relay) stops in the middle of an octet-counted
// frame and keeps the connection open: after partial_frame_timeout_secs
// what came is emitted as it is (truncated, counted), so the login it holds
// is archived and matched without waiting for the close; the rest, when it
// comes, is a frame of its own and the stream stays in step.
TEST_F(TcpListenerTest, MessageTheSenderStoppedInTheMiddleOfIsEmittedAfterTheTimeout) {
  StreamListenerOptions o;
  o.partial_frame_timeout_secs = 30;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  Client c(l->port());
  const std::string whole = "<13>whole\n";
  const std::string held = "<38>sshd[1]: Accepted password for root from 198.51.100.7 port 4";
  const std::string sent = whole + std::to_string(held.size() + 5) + " " + held;
  ASSERT_TRUE(c.Send(sent));
  ASSERT_TRUE(sink_.WaitForCount(1));
  ASSERT_TRUE(WaitUntil([&] {
    return Metric("konseki_received_bytes_total",
                  {{"listener", kListener}, {"transport", "tcp"}}) ==
           static_cast<double>(sent.size());
  }));
  clock_.Advance(std::chrono::seconds(20));
  EXPECT_EQ(sink_.count(), 1u);
  clock_.Advance(std::chrono::seconds(11));
  ASSERT_TRUE(sink_.WaitForCount(2));
  EXPECT_EQ(sink_.frames()[1].bytes, held);
  EXPECT_TRUE(sink_.frames()[1].truncated);
  const Labels stalled = {{"listener", kListener}, {"reason", "stalled_frame"}};
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_framing_errors_total", stalled) == 1; }));
  ASSERT_TRUE(c.Send(" ssh2<13>next\n"));
  ASSERT_TRUE(sink_.WaitForCount(4));
  EXPECT_EQ(sink_.frames()[2].bytes, " ssh2");
  EXPECT_TRUE(sink_.frames()[2].truncated);
  EXPECT_EQ(sink_.frames()[3].bytes, "<13>next");
  EXPECT_FALSE(sink_.frames()[3].truncated);
  l->Stop();
  EXPECT_EQ(sink_.count(), 4u);
  EXPECT_EQ(Metric("konseki_framing_errors_total",
                   {{"listener", kListener}, {"reason", "incomplete_frame"}}),
            0);
}

TEST_F(TcpListenerTest, IdleConnectionsAreClosedByTheInjectedClock) {
  StreamListenerOptions o;
  o.idle_timeout_secs = 30;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  Client idle(l->port());
  ASSERT_TRUE(idle.Send("<13>partial"));
  // Activity is stamped when bytes are read, so wait for the read.
  ASSERT_TRUE(WaitUntil([&] {
    return Metric("konseki_received_bytes_total",
                  {{"listener", kListener}, {"transport", "tcp"}}) == 11;
  }));
  clock_.Advance(std::chrono::seconds(10));
  Client fresh(l->port());
  ASSERT_TRUE(WaitUntil([&] { return Connections() == 2; }));
  clock_.Advance(std::chrono::seconds(25));  // idle at 35 s, fresh at 25 s
  ASSERT_TRUE(idle.WaitClosedByPeer());
  ASSERT_TRUE(WaitUntil([&] { return Connections() == 1; }));
  ASSERT_TRUE(sink_.WaitForCount(1));
  // Our timeout cut it: kept, but marked as not whole.
  EXPECT_EQ(sink_.frames()[0].bytes, "<13>partial");
  EXPECT_TRUE(sink_.frames()[0].truncated);
  ASSERT_TRUE(fresh.Send("<13>still open\n"));
  ASSERT_TRUE(sink_.WaitForCount(2));
  l->Stop();
}

TEST_F(TcpListenerTest, StopEmitsWhatWasSentAndClosesWithinASecond) {
  // The sender stays connected: Stop() waits for it at most stop_timeout_ms.
  StreamListenerOptions o;
  o.stop_timeout_ms = 300;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  Client c(l->port());
  ASSERT_TRUE(WaitUntil([&] { return Connections() == 1; }));
  ASSERT_TRUE(c.Send("<13>complete\n<13>unterminated"));
  const auto start = std::chrono::steady_clock::now();
  l->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  std::vector<CapturedFrame> frames = sink_.frames();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].bytes, "<13>complete");
  EXPECT_FALSE(frames[0].truncated);
  // The stop cut the stream, not the sender: the rest of that message may
  // have been on its way, so it is marked truncated and counted.
  EXPECT_EQ(frames[1].bytes, "<13>unterminated");
  EXPECT_TRUE(frames[1].truncated);
  EXPECT_EQ(Metric("konseki_framing_errors_total",
                   {{"listener", kListener}, {"reason", "incomplete_frame"}}),
            1);
  EXPECT_TRUE(c.WaitClosedByPeer());
}

// scen13 prod finding 3: a stop while the pipeline is blocked (the archive
// full) closes connections whose input the kernel still holds. Plain TCP has
// no acks, so that input is lost: the stop counts it (bytes, connections)
// instead of dropping it without a trace.
TEST_F(TcpListenerTest, StopCountsWhatItCouldNotReadWhileThePipelineWasBlocked) {
  sink_.SetCapacity(false);
  StreamListenerOptions o;
  o.stop_timeout_ms = 300;
  RecordingAlertSink alerts;
  o.alerts = &alerts;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  std::string wire;
  for (int i = 0; i < 200; ++i) wire += "<13>unread-" + std::to_string(i) + " padding\n";
  Client a(l->port());
  Client b(l->port());
  ASSERT_TRUE(a.Send(wire));  // fits in the socket buffers: send returns
  ASSERT_TRUE(b.Send(wire));
  const auto start = std::chrono::steady_clock::now();
  l->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(sink_.count(), 0u);
  const Labels lt = {{"listener", kListener}, {"transport", "tcp"}};
  EXPECT_EQ(l->stop_unread_bytes(), 2 * wire.size());
  EXPECT_EQ(Metric("konseki_stop_unread_bytes_total", lt), 2.0 * wire.size());
  EXPECT_EQ(Metric("konseki_stop_unread_connections_total", lt), 2);
  ASSERT_EQ(alerts.Count("receiver.stop_unread"), 1u);
  const Alert alert = alerts.alerts().back();
  EXPECT_EQ(alert.sign, "receiver.stop_unread");
  EXPECT_EQ(Field(alert, "unread_bytes"), std::to_string(2 * wire.size()));
  EXPECT_EQ(Field(alert, "connections"), "2");
  EXPECT_EQ(alert.severity, Severity::kHigh);
}

TEST_F(TcpListenerTest, AStopThatReadEverythingCountsNothingUnread) {
  auto l = Start(kListener);
  ASSERT_NE(l, nullptr);
  {
    Client c(l->port());
    ASSERT_TRUE(c.Send("<13>one\n<13>two\n"));
  }
  ASSERT_TRUE(sink_.WaitForCount(2));
  l->Stop();
  EXPECT_EQ(l->stop_unread_bytes(), 0u);
  EXPECT_EQ(Metric("konseki_stop_unread_connections_total",
                   {{"listener", kListener}, {"transport", "tcp"}}),
            0);
}

// Issue 10 item 6: Stop() read at most 16 x 64 KiB per connection and
// dropped the rest of what senders had written and closed before the stop.
TEST_F(TcpListenerTest, StopReadsAllThatSendersWroteAndClosedBeforeIt) {
  auto l = Start(kListener);
  ASSERT_NE(l, nullptr);
  const int kConns = 4;
  const int kPer = 50000;  // ~2.7 MB per connection: more than the old drain read
  std::vector<std::thread> senders;
  std::atomic<int> sent{0};
  for (int c = 0; c < kConns; ++c) {
    senders.emplace_back([&, c] {
      std::string wire;
      for (int i = 1; i <= kPer; ++i) {
        wire += "<13>drain c" + std::to_string(c) + "-" + std::to_string(i) + " end\n";
      }
      Client client(l->port());
      if (client.Send(wire)) sent += kPer;
    });
  }
  for (std::thread& t : senders) t.join();  // all written (into the kernel) and closed
  l->Stop();
  ASSERT_EQ(sent.load(), kConns * kPer);
  std::vector<CapturedFrame> frames = sink_.frames();
  EXPECT_EQ(frames.size(), static_cast<size_t>(kConns * kPer));
  for (int c = 0; c < kConns; ++c) ExpectEachExactlyOnce(frames, "c" + std::to_string(c), kPer);
}

// A connection the kernel queued before the stop must not evict an open one
// whose input is still unread (the listener was held by backpressure).
TEST_F(TcpListenerTest, StopDoesNotEvictAnOpenConnectionForOneQueuedBeforeIt) {
  StreamListenerOptions o;
  o.max_connections = 1;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  Client a(l->port());
  ASSERT_TRUE(WaitUntil([&] { return Connections() == 1; }));
  sink_.SetCapacity(false);
  const int kCount = 1000;
  std::string wire;
  for (int i = 1; i <= kCount; ++i) wire += "<13>held-" + std::to_string(i) + " end\n";
  ASSERT_TRUE(a.Send(wire));
  Client queued(l->port());  // in the kernel's accept queue
  ASSERT_TRUE(queued.connected());
  l->RequestStop();
  // The stop took the accept queue once the listen socket refuses.
  ASSERT_TRUE(WaitUntil([&] { return !Client(l->port()).connected(); }));
  sink_.SetCapacity(true);
  a.Close();
  l->Stop();
  ExpectEachExactlyOnce(sink_.frames(), "held", kCount);
  EXPECT_EQ(Metric("konseki_connections_evicted_total",
                   {{"listener", kListener}, {"reason", "max_connections"}}),
            0);
}

TEST_F(TcpListenerTest, ManyConnectionsKeepPerConnectionOrder) {
  StreamListenerOptions o;
  o.limits.max_connections_per_source = 1000;  // all clients share 127.0.0.1
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  const int conns = 200;
  const int per = 20;
  std::vector<std::unique_ptr<Client>> clients;
  for (int c = 0; c < conns; ++c) clients.push_back(std::make_unique<Client>(l->port()));
  for (int i = 0; i < per; ++i) {
    for (int c = 0; c < conns; ++c) {
      ASSERT_TRUE(clients[c]->Send("<13>c" + std::to_string(c) + " m" + std::to_string(i) + "\n"));
    }
  }
  ASSERT_TRUE(sink_.WaitForCount(conns * per)) << sink_.count();
  EXPECT_EQ(Connections(), conns);
  clients.clear();
  ASSERT_TRUE(WaitUntil([&] { return Connections() == 0; }));
  l->Stop();
  std::map<int, int> next;
  for (const CapturedFrame& f : sink_.frames()) {
    int c = 0;
    int m = 0;
    ASSERT_EQ(std::sscanf(f.bytes.c_str(), "<13>c%d m%d", &c, &m), 2) << f.bytes;
    EXPECT_EQ(m, next[c]++) << "connection " << c;
  }
  EXPECT_EQ(next.size(), static_cast<size_t>(conns));
}

// `lines` lines of about 100 bytes, tagged with `tag`.
std::string Lines(const std::string& tag, int lines) {
  std::string out;
  for (int i = 0; i < lines; ++i) {
    out += "<13>Nov 23 08:00:00 h app: " + tag + " n=" + std::to_string(i) + " " +
           std::string(60, 'x') + "\n";
  }
  return out;
}

// The gather rule: a round in which every sender's socket was drained (no
// read filled the read buffer) is light, whatever the round read in all, so
// the listener waits gather_window and hands on once. Two senders with 40 KB
// each (80 KB in the round, more than one read buffer) are held: the data is
// queued in the kernel before the listener starts, so one round reads both.
TEST_F(TcpListenerTest, RoundThatDrainedEverySenderWaitsTheGatherWindow) {
  StreamListenerOptions o;
  o.gather_window = std::chrono::hours(1);
  StatusOr<std::unique_ptr<StreamListener>> l =
      StreamListener::Bind(*ListenAddress::Parse(kListener), o, 3, metrics_, clock_);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  Client a((*l)->port()), b((*l)->port());
  const std::string la = Lines("a", 400), lb = Lines("b", 400);
  ASSERT_LT(la.size(), o.read_chunk_bytes);
  ASSERT_GT(la.size() + lb.size(), o.read_chunk_bytes);
  ASSERT_TRUE(a.Send(la));
  ASSERT_TRUE(b.Send(lb));
  (*l)->Start(&sink_);
  ASSERT_TRUE(sink_.WaitForCount(800)) << sink_.count();
  EXPECT_EQ(sink_.flushed(), 0u);  // held for the window
  (*l)->Stop();
  EXPECT_EQ(sink_.flushed(), 800u);
}

// A sender with more waiting than one read takes is not held: a round
// whose read filled the buffer hands on at once (only a drained round waits).
// The data is queued before the listener starts, so the first read fills.
TEST_F(TcpListenerTest, SenderThatFillsTheReadBufferIsNotHeld) {
  StreamListenerOptions o;
  o.gather_window = std::chrono::hours(1);
  StatusOr<std::unique_ptr<StreamListener>> l =
      StreamListener::Bind(*ListenAddress::Parse(kListener), o, 3, metrics_, clock_);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  Client c((*l)->port());
  const std::string data = Lines("big", 1500);  // ~150 KB
  ASSERT_GT(data.size(), 2 * o.read_chunk_bytes);
  std::atomic<bool> sent{false};
  std::thread sender([&] {
    EXPECT_TRUE(c.Send(data));
    sent = true;
  });
  // Until the kernel holds it all, or its buffers are full (then the sender
  // blocks with more than one read buffer queued).
  WaitUntil([&] { return sent.load(); }, std::chrono::milliseconds(500));
  (*l)->Start(&sink_);
  // The first read takes 64 KiB (~660 lines) and is handed on at once.
  EXPECT_TRUE(WaitUntil([&] { return sink_.flushed() >= 600; })) << sink_.flushed();
  sender.join();
  (*l)->Stop();
  EXPECT_EQ(sink_.flushed(), 1500u);
}

TEST_F(TcpListenerTest, RefusedPushesAreCountedAsQueueFullDrops) {
  sink_.SetRefuse(true);
  auto l = Start(kListener);
  ASSERT_NE(l, nullptr);
  Client c(l->port());
  ASSERT_TRUE(c.Send("<13>a\n<13>b\n<13>c\n"));
  ASSERT_TRUE(WaitUntil([&] {
    return Metric("konseki_dropped_messages_total",
                  {{"stage", "receiver"}, {"reason", "queue_full"}}) == 3;
  }));
  l->Stop();
  EXPECT_EQ(sink_.refused(), 3u);
}

TEST_F(TcpListenerTest, ThousandsOfConnectionsOnOneThread) {
  const int conns = 2000;
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  const rlim_t need = 2 * conns + 64;
  if (lim.rlim_cur < need) {
    if (lim.rlim_max < need) GTEST_SKIP() << "RLIMIT_NOFILE hard limit below " << need;
    lim.rlim_cur = need;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  }
  StreamListenerOptions o;
  o.limits.max_connections_per_source = conns;  // all clients share 127.0.0.1
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  std::vector<std::unique_ptr<Client>> clients;
  for (int c = 0; c < conns; ++c) {
    clients.push_back(std::make_unique<Client>(l->port()));
    ASSERT_TRUE(clients.back()->connected()) << c;
  }
  // Each client sends half a message first, so every connection holds a
  // partial frame at once, then completes it.
  for (int c = 0; c < conns; ++c) ASSERT_TRUE(clients[c]->Send("<13>conn-"));
  for (int c = 0; c < conns; ++c) {
    ASSERT_TRUE(clients[c]->Send(std::to_string(c + 1) + " end\n"));
  }
  ASSERT_TRUE(sink_.WaitForCount(conns)) << sink_.count();
  EXPECT_EQ(Connections(), conns);
  ExpectEachExactlyOnce(sink_.frames(), "conn", conns);
  l->Stop();
  EXPECT_EQ(Connections(), 0);
}

TEST_F(TcpListenerTest, BindErrorsArePrecise) {
  auto first = Start(kListener);
  ASSERT_NE(first, nullptr);
  ListenAddress taken = *ListenAddress::Parse(kListener);
  taken.port = first->port();
  StatusOr<std::unique_ptr<StreamListener>> l =
      StreamListener::Bind(taken, {}, 0, metrics_, clock_);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("in use"), std::string::npos) << l.status().message();
  StreamListenerOptions bad;
  bad.max_connections = 0;
  EXPECT_EQ(StreamListener::Bind(*ListenAddress::Parse(kListener), bad, 0, metrics_, clock_)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

std::string Lines(const std::string& tag, int from, int to) {
  std::string out;
  for (int i = from; i <= to; ++i) out += "<13>" + tag + "-" + std::to_string(i) + " end\n";
  return out;
}

TEST_F(TcpListenerTest, SenderOutsideAllowlistIsClosedCountedAndAlertedOnce) {
  RecordingAlertSink alerts;
  StreamListenerOptions o;
  o.allow = *SenderAllowlist::Parse({"10.0.0.0/8"});
  o.alerts = &alerts;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  const Labels lt = {{"listener", kListener}, {"transport", "tcp"}};
  for (int i = 1; i <= 3; ++i) {
    Client c(l->port());
    ASSERT_TRUE(c.connected());
    c.Send("<13>should not arrive\n");
    EXPECT_TRUE(c.WaitClosedByPeer());
    ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_refused_senders_total", lt) == i; }));
  }
  l->Stop();
  EXPECT_EQ(sink_.count(), 0u);
  EXPECT_EQ(Metric("konseki_received_bytes_total", lt), 0);
  std::vector<Alert> got = alerts.alerts();
  ASSERT_EQ(got.size(), 1u);  // one per source address per minute
  EXPECT_EQ(got[0].sign, "receiver.refused");
  EXPECT_EQ(Field(got[0], "src_ip"), "127.0.0.1");
  EXPECT_EQ(Field(got[0], "listener"), kListener);
  EXPECT_EQ(Field(got[0], "transport"), "tcp");
  // A minute later (fake clock) the same source is alerted again.
  clock_.Advance(std::chrono::seconds(61));
  auto again = Start(kListener, o);
  ASSERT_NE(again, nullptr);
  Client c(again->port());
  EXPECT_TRUE(c.WaitClosedByPeer());
  ASSERT_TRUE(WaitUntil([&] { return alerts.alerts().size() == 2; }));
  EXPECT_EQ(Field(alerts.alerts()[1], "suppressed"), "0");  // each listener counts its own
}

TEST_F(TcpListenerTest, AllowlistAcceptsListedSenders) {
  RecordingAlertSink alerts;
  StreamListenerOptions o;
  o.allow = *SenderAllowlist::Parse({"10.0.0.0/8", "127.0.0.0/8"});
  o.alerts = &alerts;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  Client c(l->port());
  ASSERT_TRUE(c.Send(Lines("ok", 1, 3)));
  ASSERT_TRUE(sink_.WaitForCount(3));
  l->Stop();
  ExpectEachExactlyOnce(sink_.frames(), "ok", 3);
  EXPECT_TRUE(alerts.alerts().empty());
  EXPECT_EQ(
      Metric("konseki_refused_senders_total", {{"listener", kListener}, {"transport", "tcp"}}), 0);
}

TEST_F(TcpListenerTest, RateLimitedSenderIsPausedOthersAreNot) {
  StreamListenerOptions o;
  o.rate_limit.messages_per_sec = 10;
  o.rate_limit.burst = 5;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  const Labels lt = {{"listener", kListener}, {"transport", "tcp"}};
  Client fast(l->port(), false, "127.0.0.1");
  ASSERT_TRUE(fast.connected());
  // Ten messages against a burst of five: five are framed, the connection
  // is paused (the rest of what was read is held, not dropped).
  ASSERT_TRUE(fast.Send(Lines("fast", 1, 10)));
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_rate_limit_pauses_total", lt) == 1; }));
  EXPECT_EQ(sink_.count(), 5u);
  ASSERT_TRUE(fast.Send(Lines("fast", 11, 15)));
  // The fake clock stands still, so the fast sender stays paused while
  // another sender is read normally.
  Client calm(l->port(), false, "127.0.0.2");
  ASSERT_TRUE(calm.connected());
  ASSERT_TRUE(calm.Send(Lines("calm", 1, 3)));
  auto count_with = [&](const std::string& tag) {
    size_t n = 0;
    for (const CapturedFrame& f : sink_.frames()) n += f.bytes.find(tag) != std::string::npos;
    return n;
  };
  ASSERT_TRUE(WaitUntil([&] { return count_with("calm-") == 3; }));
  EXPECT_EQ(count_with("fast-11 "), 0u);
  EXPECT_EQ(count_with("fast-15 "), 0u);
  EXPECT_EQ(
      Metric("konseki_dropped_messages_total", {{"stage", "receiver"}, {"reason", "rate_limit"}}),
      0);
  // Time passes: the fast sender is read again, at its rate, losing nothing.
  ASSERT_TRUE(WaitUntil([&] {
    clock_.Advance(std::chrono::milliseconds(500));
    return count_with("fast-") == 15;
  }));
  l->Stop();
  ExpectEachExactlyOnce(sink_.frames(), "fast", 15);
  ExpectEachExactlyOnce(sink_.frames(), "calm", 3);
}

// A flood written at once: a read holds hundreds of lines, but only as many
// are framed as the sender has tokens (burst 100, then 50 a second), so the
// limit holds to the line, not to the read buffer (64 KiB).
TEST_F(TcpListenerTest, RateLimitHoldsBurstAndRateToTheLineWithinOneRead) {
  StreamListenerOptions o;
  o.rate_limit.messages_per_sec = 50;
  o.rate_limit.burst = 100;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  const Labels lt = {{"listener", kListener}, {"transport", "tcp"}};
  Client flood(l->port());
  std::thread writer([&] { EXPECT_TRUE(flood.Send(Lines("f", 1, 1000))); });
  ASSERT_TRUE(sink_.WaitForCount(100));
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_rate_limit_pauses_total", lt) == 1; }));
  EXPECT_EQ(sink_.count(), 100u);
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_rate_limit_pauses_total", lt) == 2; }));
  EXPECT_EQ(sink_.count(), 150u);
  clock_.Advance(std::chrono::milliseconds(100));  // 5 tokens
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_rate_limit_pauses_total", lt) == 3; }));
  EXPECT_EQ(sink_.count(), 155u);
  clock_.Advance(std::chrono::seconds(60));  // the bucket holds at most the burst
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_rate_limit_pauses_total", lt) == 4; }));
  EXPECT_EQ(sink_.count(), 255u);
  ASSERT_TRUE(WaitUntil([&] {
    clock_.Advance(std::chrono::seconds(1));
    return sink_.count() == 1000u;
  }));
  writer.join();
  l->Stop();
  ExpectEachExactlyOnce(sink_.frames(), "f", 1000);
  std::vector<CapturedFrame> frames = sink_.frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    ASSERT_EQ(frames[i].bytes, "<13>f-" + std::to_string(i + 1) + " end");
  }
}

TEST_F(TcpListenerTest, RateLimitIsSharedByConnectionsFromOneAddress) {
  StreamListenerOptions o;
  o.rate_limit.messages_per_sec = 1;
  o.rate_limit.burst = 2;
  auto l = Start(kListener, o);
  ASSERT_NE(l, nullptr);
  const Labels lt = {{"listener", kListener}, {"transport", "tcp"}};
  Client a(l->port());
  ASSERT_TRUE(a.Send(Lines("a", 1, 2)));  // uses the whole burst: a is paused
  ASSERT_TRUE(sink_.WaitForCount(2));
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_rate_limit_pauses_total", lt) == 1; }));
  Client b(l->port());
  ASSERT_TRUE(b.Send(Lines("b", 1, 1)));  // same address, no token: held, b paused too
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_rate_limit_pauses_total", lt) == 2; }));
  ASSERT_TRUE(b.Send(Lines("b", 2, 2)));
  EXPECT_EQ(sink_.count(), 2u);             // the fake clock has not moved
  clock_.Advance(std::chrono::seconds(1));  // one token: b-1
  ASSERT_TRUE(sink_.WaitForCount(3));
  ASSERT_TRUE(WaitUntil([&] { return Metric("konseki_rate_limit_pauses_total", lt) == 3; }));
  EXPECT_EQ(sink_.count(), 3u);
  clock_.Advance(std::chrono::seconds(5));
  ASSERT_TRUE(sink_.WaitForCount(4));
  l->Stop();
  ExpectEachExactlyOnce(sink_.frames(), "b", 2);
}

}  // namespace
}  // namespace konseki::receiver
