#include "app/router.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "common/host_shard.h"

namespace konseki::app {
namespace {

Frame MakeFrame(const std::string& bytes, const std::string& sender) {
  Frame f;
  f.bytes = bytes;
  f.sender = sender;
  f.received = TimePoint(std::chrono::seconds(1'700'000'000));
  return f;
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
  Router r(q, parser, false, "tcp://127.0.0.1:0", metrics);
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
  Router r(q, parser, false, "udp://127.0.0.1:0", metrics);
  ASSERT_TRUE(r.Push(MakeFrame("garbage without header", "198.51.100.7")));
  r.Flush();
  auto drained = Drain(q);
  ASSERT_EQ(drained.size(), 1u);
  EXPECT_EQ(drained.begin()->first, HostShard("198.51.100.7", 8));
}

TEST(RouterTest, UdpDropsAndCountsWhenTheWorkerQueueIsFull) {
  MetricsRegistry metrics;
  std::string line = "<13>Nov 23 08:00:00 h app: x";
  // Room for exactly two one-frame batches (frame bytes + sender address).
  BatchQueues q(1, 2 * (line.size() + std::string("127.0.0.1").size()), metrics);
  receiver::Parser parser;
  Router r(q, parser, true, "udp://127.0.0.1:0", metrics);
  int accepted = 0;
  for (int i = 0; i < 10; ++i) {
    if (r.Push(MakeFrame(line, "127.0.0.1"))) ++accepted;
    r.Flush();  // one batch per frame
  }
  EXPECT_EQ(accepted, 2);
  EXPECT_FALSE(r.HasCapacity());
  EXPECT_EQ(metrics.ValueOf("konseki_dropped_messages_total", {{"listener", "udp://127.0.0.1:0"},
                                                               {"reason", "worker_queue_full"},
                                                               {"stage", "queue"}}),
            8);
  Drain(q);
  EXPECT_TRUE(r.HasCapacity());
}

TEST(RouterTest, TcpNeverDropsItOnlyReportsNoCapacity) {
  MetricsRegistry metrics;
  BatchQueues q(1, 1, metrics);  // full after one batch
  receiver::Parser parser;
  Router r(q, parser, false, "tcp://127.0.0.1:0", metrics);
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
  Router r(q, parser, false, "tcp://127.0.0.1:0", metrics);
  std::string line(1000, 'x');
  for (int i = 0; i < 2000; ++i) r.Push(MakeFrame(line, "127.0.0.1"));
  r.Flush();
  size_t batches = 0, frames = 0;
  while (Batch* b = q.Dequeue(0, std::chrono::microseconds(0))) {
    ++batches;
    frames += b->entries.size();
    EXPECT_LE(b->entries.size(), 256u);
    q.Release(b);
  }
  EXPECT_EQ(frames, 2000u);
  EXPECT_GE(batches, 8u);
}

}  // namespace
}  // namespace konseki::app
