#include "app/router.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/host_key.h"
#include "common/host_shard.h"
#include "common/message.h"
#include "receiver/udp_listener.h"

namespace konseki::app {
namespace {

Frame MakeFrame(const std::string& bytes, const std::string& sender) {
  Frame f;
  f.bytes = bytes;
  f.sender = sender;
  f.received = TimePoint(std::chrono::seconds(1'700'000'000));
  return f;
}

// Sum of every sample of `name` in the exposition (all label sets).
double SumOfSamples(const MetricsRegistry& metrics, const std::string& name) {
  std::istringstream in(metrics.RenderPrometheus());
  double sum = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// Drains every worker queue: worker index -> frames in order.
std::map<size_t, std::vector<std::string>> Drain(BatchQueues& q) {
  std::map<size_t, std::vector<std::string>> out;
  for (size_t w = 0; w < q.num_workers(); ++w) {
    while (Batch* b = q.Dequeue(w, std::chrono::microseconds(0))) {
      for (const auto& e : b->entries) out[w].emplace_back(b->frame(e));
      q.Release(b);
    }
  }
  return out;
}

TEST(RouterTest, OneHostsMessagesGoToOneWorkerInOrder) {
  MetricsRegistry metrics;
  BatchQueues q(4, 1 << 20, metrics);
  receiver::Parser parser;
  Router r(q, parser, false);
  std::vector<std::string> hosts = {"web1", "web2", "db1", "mail", "fw"};
  for (int i = 0; i < 1000; ++i) {
    const std::string& h = hosts[i % hosts.size()];
    std::string line = "<13>Nov 23 08:00:00 " + h + " app[1]: n=" + std::to_string(i);
    ASSERT_TRUE(r.Push(MakeFrame(line, "192.0.2.1")));
  }
  r.Flush();
  auto drained = Drain(q);
  size_t total = 0;
  std::map<std::string, int> last_seen;
  for (const auto& [w, frames] : drained) {
    for (const std::string& f : frames) {
      ++total;
      std::string host = f.substr(20, f.find(' ', 20) - 20);
      EXPECT_EQ(HostShard(host, 4), w) << f;
      int n = std::stoi(f.substr(f.find("n=") + 2));
      auto it = last_seen.find(host);
      if (it != last_seen.end()) {
        EXPECT_GT(n, it->second) << "order broken for " << host;
      }
      last_seen[host] = n;
    }
  }
  EXPECT_EQ(total, 1000u);
}

TEST(RouterTest, UnparseableMessagesRouteBySender) {
  MetricsRegistry metrics;
  BatchQueues q(8, 1 << 20, metrics);
  receiver::Parser parser;
  Router r(q, parser, false);
  ASSERT_TRUE(r.Push(MakeFrame("garbage without header", "198.51.100.7")));
  r.Flush();
  auto drained = Drain(q);
  ASSERT_EQ(drained.size(), 1u);
  EXPECT_EQ(drained.begin()->first, HostShard("198.51.100.7", 8));
}

// Each entry carries the HostKeyHash of the host the worker unpacks (the
// worker's archive, heartbeat and correlator take it instead of hashing),
// for one worker and several, hostname or sender, any case.
TEST(RouterTest, EntriesCarryTheHashOfTheHostTheWorkerSees) {
  for (size_t workers : {size_t{1}, size_t{3}}) {
    MetricsRegistry metrics;
    BatchQueues q(workers, 1 << 20, metrics);
    receiver::Parser parser;
    Router r(q, parser, false);
    const std::vector<std::pair<std::string, std::string>> frames = {
        {"<13>Nov 23 08:00:00 web1 app[1]: x", "192.0.2.1"},
        {"<13>Nov 23 08:00:00 WEB1.Example.NET app[1]: x", "192.0.2.1"},
        {"<13>1 2023-11-23T08:00:00Z db-01.example.org app - - - x", "2001:db8::1"},
        {"garbage without header", "198.51.100.7"},
        {"", "198.51.100.8"}};
    for (const auto& [bytes, sender] : frames) ASSERT_TRUE(r.Push(MakeFrame(bytes, sender)));
    r.Flush();
    size_t seen = 0;
    for (size_t w = 0; w < workers; ++w) {
      while (Batch* b = q.Dequeue(w, std::chrono::microseconds(0))) {
        for (const auto& e : b->entries) {
          ASSERT_TRUE(e.parsed);
          Message m;
          e.header.Unpack(b->frame(e), e.received, b->sender(e), &m);
          EXPECT_EQ(e.host_hash, HostKeyHash(m.host())) << b->frame(e);
          EXPECT_EQ(HostShard(m.host(), workers), w) << b->frame(e);
          ++seen;
        }
        q.Release(b);
      }
    }
    EXPECT_EQ(seen, frames.size());
  }
}

TEST(RouterTest, UdpRefusesFramesWhenTheWorkerQueueIsFull) {
  MetricsRegistry metrics;
  std::string line = "<13>Nov 23 08:00:00 h app: x";
  // The limit counts the memory of the queued batches, not only the frame
  // bytes in them: room for exactly two fresh one-frame batches.
  size_t fresh_batch = 0;
  {
    MetricsRegistry probe_metrics;
    BatchQueues probe(1, 1, probe_metrics);
    Batch* b = probe.Acquire();
    fresh_batch = b->footprint();
    probe.Release(b);
  }
  ASSERT_GT(fresh_batch, 20 * line.size());
  BatchQueues q(1, 2 * fresh_batch, metrics);
  receiver::Parser parser;
  Router r(q, parser, true);
  int accepted = 0;
  for (int i = 0; i < 10; ++i) {
    if (r.Push(MakeFrame(line, "127.0.0.1"))) ++accepted;
    r.Flush();  // one batch per frame
  }
  EXPECT_EQ(accepted, 2);
  EXPECT_FALSE(r.HasCapacity());
  // Counting the 8 refusals is the listener's job (see the next test).
  EXPECT_EQ(SumOfSamples(metrics, "konseki_dropped_messages_total"), 0);
  Drain(q);
  EXPECT_TRUE(r.HasCapacity());
}

// The loss query of docs/metrics.md sums konseki_dropped_messages_total: a
// UDP datagram refused for a full worker queue must be in it once (it was
// counted by the router as stage="queue" and by the listener as
// stage="receiver").
TEST(RouterTest, UdpQueueDropsAreCountedOnce) {
  MetricsRegistry metrics;
  BatchQueues q(1, 1, metrics);  // full once one batch is queued
  receiver::Parser parser;
  Router r(q, parser, true);
  SystemClock clock;
  auto addr = receiver::ListenAddress::Parse("udp://127.0.0.1:0");
  ASSERT_TRUE(addr.ok());
  receiver::UdpListenerOptions opts;
  opts.gather_window = std::chrono::microseconds(0);
  auto l = receiver::UdpListener::Bind(*addr, opts, 0, metrics, clock);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  (*l)->Start(&r);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to = {};
  to.sin_family = AF_INET;
  to.sin_port = htons((*l)->port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto send_and_wait = [&](int from, int to_exclusive) {
    for (int i = from; i < to_exclusive; ++i) {
      std::string line = "<13>Nov 23 08:00:00 h app: n=" + std::to_string(i);
      sendto(fd, line.data(), line.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (SumOfSamples(metrics, "konseki_received_messages_total") < to_exclusive &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  send_and_wait(0, 1);   // queued: the queue is full from now on
  send_and_wait(1, 20);  // refused
  (*l)->Stop();
  close(fd);
  ASSERT_EQ(SumOfSamples(metrics, "konseki_received_messages_total"), 20);
  size_t queued = 0;
  for (const auto& [w, frames] : Drain(q)) queued += frames.size();
  EXPECT_GE(queued, 1u);
  EXPECT_EQ(SumOfSamples(metrics, "konseki_dropped_messages_total"), 20.0 - queued)
      << metrics.RenderPrometheus();
}

TEST(RouterTest, TcpNeverDropsItOnlyReportsNoCapacity) {
  MetricsRegistry metrics;
  BatchQueues q(1, 1, metrics);  // full after one batch
  receiver::Parser parser;
  Router r(q, parser, false);
  std::string line = "<13>Nov 23 08:00:00 h app: x";
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(r.Push(MakeFrame(line, "127.0.0.1")));
    r.Flush();
  }
  EXPECT_FALSE(r.HasCapacity());
  EXPECT_EQ(Drain(q)[0].size(), 5u);
}

TEST(RouterTest, LargeBurstsSplitIntoBoundedBatches) {
  MetricsRegistry metrics;
  BatchQueues q(1, 1 << 30, metrics);
  receiver::Parser parser;
  Router r(q, parser, false);
  std::string line(1000, 'x');
  for (int i = 0; i < 2000; ++i) r.Push(MakeFrame(line, "127.0.0.1"));
  r.Flush();
  size_t batches = 0, frames = 0;
  while (Batch* b = q.Dequeue(0, std::chrono::microseconds(0))) {
    ++batches;
    frames += b->entries.size();
    EXPECT_LE(b->entries.size(), BatchQueues::kMaxFramesPerBatch);
    EXPECT_LE(b->bytes.capacity(), BatchQueues::kMaxBytesPerBatch);
    q.Release(b);
  }
  EXPECT_EQ(frames, 2000u);
  EXPECT_GE(batches, 8u);
}

// The worker rebuilds each Message from the header the Router packed instead
// of parsing again, so the two must agree on every field, views included (as
// offsets into the frame), for every kind of line real senders write.
void ExpectSameMessage(const Message& a, const Message& b, std::string_view frame) {
  auto offset = [&](std::string_view v) -> long {
    return v.empty() ? -1 : static_cast<long>(v.data() - frame.data());
  };
  EXPECT_EQ(a.raw.data(), b.raw.data());
  EXPECT_EQ(a.raw.size(), b.raw.size());
  EXPECT_EQ(a.format, b.format);
  EXPECT_EQ(a.issue, b.issue);
  EXPECT_EQ(a.pri, b.pri);
  EXPECT_EQ(a.has_timestamp, b.has_timestamp);
  EXPECT_EQ(a.timestamp, b.timestamp);
  EXPECT_EQ(a.received, b.received);
  EXPECT_EQ(a.sender, b.sender);
  for (auto [x, y] : {std::pair{a.hostname, b.hostname}, std::pair{a.app_name, b.app_name},
                      std::pair{a.procid, b.procid}, std::pair{a.msgid, b.msgid},
                      std::pair{a.structured_data, b.structured_data}, std::pair{a.msg, b.msg}}) {
    EXPECT_EQ(x, y);
    EXPECT_EQ(offset(x), offset(y));
  }
}

TEST(RouterTest, CarriedParseEqualsAFreshParseForEveryCorpusLine) {
  namespace fs = std::filesystem;
  const fs::path corpus(KONSEKI_CORPUS_DIR);
  if (!fs::is_directory(corpus)) {
    GTEST_SKIP() << "real-world corpus not found at " << corpus
                 << " (shared/corpus beside the checkout)";
  }
  std::vector<std::string> lines = {
      "",
      "\r\n",
      "<999>bad pri",
      "<13>1 - - - - - -",
      "<13>1 2026-11-23T08:00:00Z h a 1 m [x@1 a=\"b\"] \xef\xbb\xbftext",
      "<13>Nov 23 08:00:00 h app: \xff\xfe invalid utf-8"};
  for (const auto& entry : fs::recursive_directory_iterator(corpus)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);  // CRLF files keep their CR
  }
  ASSERT_GT(lines.size(), 6000u);

  MetricsRegistry metrics;
  BatchQueues q(1, size_t{1} << 30, metrics);
  receiver::Parser parser;
  Router r(q, parser, false);
  const TimePoint received(std::chrono::seconds(1'795'000'000));
  for (const std::string& line : lines) {
    Frame f;
    f.bytes = line;
    f.sender = "192.0.2.9";
    f.received = received;
    ASSERT_TRUE(r.Push(f));
  }
  r.Flush();
  size_t checked = 0;
  while (Batch* b = q.Dequeue(0, std::chrono::microseconds(0))) {
    for (const Batch::Entry& e : b->entries) {
      ASSERT_TRUE(e.parsed);
      Message carried, fresh;
      e.header.Unpack(b->frame(e), e.received, b->sender(e), &carried);
      parser.Parse(b->frame(e), received, &fresh);
      fresh.sender = b->sender(e);
      SCOPED_TRACE(std::string(b->frame(e)));
      ExpectSameMessage(carried, fresh, b->frame(e));
      ++checked;
    }
    q.Release(b);
  }
  EXPECT_EQ(checked, lines.size());
}

// The Router keeps the stamps it read lately (receiver/timestamp_cache.h):
// the same stamp text received on either side of the instant where its year
// changes must carry each time what a fresh parse gives.
TEST(RouterTest, CarriedTimestampFollowsTheReceiveTimeOfEachFrame) {
  MetricsRegistry metrics;
  BatchQueues q(1, size_t{1} << 30, metrics);
  receiver::Parser parser;
  Router r(q, parser, false);
  // 2026-12-10 and 2026-12-20: "Jan 15" is 2026's, then 2027's (within 31 days).
  const TimePoint dec10(std::chrono::seconds(1'796'860'800));
  const TimePoint dec20(std::chrono::seconds(1'797'724'800));
  const std::vector<std::string> lines = {"<38>Jan 15 10:00:00 web1 app: a",
                                          "<38>Jan 15 10:00:00 web1 app: b",
                                          "<38>Jan 15 10:00:01 web1 app: c"};
  for (int i = 0; i < 12; ++i) {
    Frame f;
    f.bytes = lines[i % lines.size()];
    f.sender = "192.0.2.9";
    f.received = (i / 2) % 2 == 0 ? dec10 : dec20;
    ASSERT_TRUE(r.Push(f));
  }
  r.Flush();
  size_t checked = 0;
  std::set<TimePoint> stamps;
  while (Batch* b = q.Dequeue(0, std::chrono::microseconds(0))) {
    for (const Batch::Entry& e : b->entries) {
      ASSERT_TRUE(e.parsed);
      Message carried, fresh;
      e.header.Unpack(b->frame(e), e.received, b->sender(e), &carried);
      parser.Parse(b->frame(e), e.received, &fresh);
      fresh.sender = b->sender(e);
      ExpectSameMessage(carried, fresh, b->frame(e));
      stamps.insert(carried.timestamp);
      ++checked;
    }
    q.Release(b);
  }
  EXPECT_EQ(checked, 12u);
  // Both readings of both stamps: 10:00 and 10:00:01 of 2026 and of 2027.
  EXPECT_EQ(stamps.size(), 4u);
}

// same_origin: the frame before, in the same batch, named the same host
// (spelt the same) from the same sender; a refused frame breaks the chain.
TEST(RouterTest, SameOriginMarksRepeatsOfHostAndSenderWithinABatch) {
  MetricsRegistry metrics;
  BatchQueues q(1, 1 << 20, metrics);
  receiver::Parser parser;
  Router r(q, parser, false);
  const std::vector<std::pair<std::string, std::string>> frames = {
      {"a", "192.0.2.1"}, {"a", "192.0.2.1"}, {"b", "192.0.2.1"}, {"b", "192.0.2.2"},
      {"b", "192.0.2.2"}, {"B", "192.0.2.2"}, {"B", "192.0.2.2"}};
  for (const auto& [host, sender] : frames) {
    r.Push(MakeFrame("<13>Nov 23 08:00:00 " + host + " app: x", sender));
  }
  r.Flush();
  Batch* b = q.Dequeue(0, std::chrono::microseconds(0));
  ASSERT_NE(b, nullptr);
  std::vector<bool> same;
  for (const Batch::Entry& e : b->entries) same.push_back(e.same_origin);
  EXPECT_EQ(same, (std::vector<bool>{false, true, false, false, true, false, true}));
  q.Release(b);

  // UDP: a frame refused (queue full) is not in the batch; the next one
  // starts a new chain.
  BatchQueues small(1, 1, metrics);  // full after one batch
  Router udp(small, parser, true);
  const std::string line = "<13>Nov 23 08:00:00 a app: x";
  ASSERT_TRUE(udp.Push(MakeFrame(line, "192.0.2.1")));
  udp.Flush();
  EXPECT_FALSE(udp.Push(MakeFrame(line, "192.0.2.1")));
  Batch* first = small.Dequeue(0, std::chrono::microseconds(0));
  ASSERT_NE(first, nullptr);
  small.Release(first);
  ASSERT_TRUE(udp.Push(MakeFrame(line, "192.0.2.1")));
  ASSERT_TRUE(udp.Push(MakeFrame(line, "192.0.2.1")));
  udp.Flush();
  Batch* second = small.Dequeue(0, std::chrono::microseconds(0));
  ASSERT_NE(second, nullptr);
  ASSERT_EQ(second->entries.size(), 2u);
  EXPECT_FALSE(second->entries[0].same_origin);
  EXPECT_TRUE(second->entries[1].same_origin);
  small.Release(second);
}

TEST(RouterTest, SameOriginComparesEveryByteOfHostAndSender) {
  // Host names and senders of every length up to past two words, differing
  // from the frame before in one byte (first, middle, last): a changed host
  // or sender is never a repeat, and the host's hash is its own.
  MetricsRegistry metrics;
  receiver::Parser parser;
  for (size_t len = 1; len <= 40; ++len) {
    for (const size_t pos : {size_t{0}, len / 2, len - 1}) {
      for (const bool change_host : {true, false}) {
        BatchQueues q(1, 1 << 20, metrics);
        Router r(q, parser, false);
        const std::string base(len, 'h');
        std::string changed = base;
        changed[pos] = 'k';
        const std::string& host2 = change_host ? changed : base;
        const std::string& sender2 = change_host ? base : changed;
        const std::vector<std::pair<std::string, std::string>> frames = {
            {base, base}, {base, base}, {host2, sender2}, {host2, sender2}};
        for (const auto& [host, sender] : frames) {
          ASSERT_TRUE(r.Push(MakeFrame("<13>Nov 23 08:00:00 " + host + " app: x", sender)));
        }
        r.Flush();
        Batch* b = q.Dequeue(0, std::chrono::microseconds(0));
        ASSERT_NE(b, nullptr);
        ASSERT_EQ(b->entries.size(), frames.size());
        std::vector<bool> same;
        for (size_t i = 0; i < frames.size(); ++i) {
          const Batch::Entry& e = b->entries[i];
          same.push_back(e.same_origin);
          EXPECT_EQ(e.host_hash, HostKeyHash(frames[i].first)) << len << " " << pos << " " << i;
          EXPECT_EQ(b->sender(e), frames[i].second) << len << " " << pos << " " << i;
        }
        EXPECT_EQ(same, (std::vector<bool>{false, true, false, true}))
            << "length " << len << ", byte " << pos << (change_host ? ", host" : ", sender");
        q.Release(b);
      }
    }
  }
}

TEST(RouterTest, FramesOfOneSenderShareOneCopyOfItsTextInABatch) {
  MetricsRegistry metrics;
  receiver::Parser parser;
  const std::string s1 = "192.0.2.1", s2 = "198.51.100.22";
  auto line = [](const std::string& host) { return "<13>Nov 23 08:00:00 " + host + " app: x"; };
  {
    // One worker: a run of one sender's frames (hosts may change: a relay)
    // holds its text once; a change of sender copies the new one.
    BatchQueues q(1, 1 << 20, metrics);
    Router r(q, parser, false);
    const std::vector<std::pair<std::string, std::string>> frames = {
        {"a", s1}, {"b", s1}, {"c", s1}, {"a", s2}, {"a", s2}, {"a", s1}};
    size_t frame_bytes = 0;
    for (const auto& [host, sender] : frames) {
      r.Push(MakeFrame(line(host), sender));
      frame_bytes += line(host).size();
    }
    r.Flush();
    Batch* b = q.Dequeue(0, std::chrono::microseconds(0));
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(b->entries.size(), frames.size());
    for (size_t i = 0; i < frames.size(); ++i) {
      EXPECT_EQ(b->frame(b->entries[i]), line(frames[i].first)) << i;
      EXPECT_EQ(b->sender(b->entries[i]), frames[i].second) << i;
    }
    EXPECT_EQ(b->bytes.size(), frame_bytes + 2 * s1.size() + s2.size());
    q.Release(b);
  }
  {
    // Two workers, hosts alternating between them from one sender: each
    // batch has its own copy (the frame before is in the other batch).
    BatchQueues q(2, 1 << 20, metrics);
    std::string hosts[2];
    for (int i = 0; hosts[0].empty() || hosts[1].empty(); ++i) {
      const std::string h = "host" + std::to_string(i);
      std::string& slot = hosts[ShardOfHash(HostHash(h), 2)];
      if (slot.empty()) slot = h;
    }
    Router r(q, parser, false);
    for (int i = 0; i < 6; ++i) r.Push(MakeFrame(line(hosts[i % 2]), i < 4 ? s1 : s2));
    r.Flush();
    for (size_t w = 0; w < 2; ++w) {
      Batch* b = q.Dequeue(w, std::chrono::microseconds(0));
      ASSERT_NE(b, nullptr);
      ASSERT_EQ(b->entries.size(), 3u);
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_EQ(b->frame(b->entries[k]), line(hosts[w])) << w << " " << k;
        EXPECT_EQ(b->sender(b->entries[k]), 2 * k + w < 4 ? s1 : s2) << w << " " << k;
      }
      q.Release(b);
    }
  }
}

}  // namespace
}  // namespace konseki::app
