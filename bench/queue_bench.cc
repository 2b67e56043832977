// The listener -> worker hand-off (issue 7): app/router.h Router packing
// 256-byte RFC 3164 frames into app/batch_queues.h BatchQueues with 2 workers,
// against a naive peer in the same run: per worker a std::mutex +
// std::condition_variable + std::deque<std::string>, one std::string per
// message. Both paths parse each frame to find its host and pick the worker
// with HostShard, as the real listener does, so the difference is the queue.
//
// One consumer thread per worker (the pipeline's shape) takes what arrives
// and drops it (Router path: Release()s the batch). Both queues are bounded
// (Router: 1 MiB per worker, producer waits on HasCapacity() like a TCP
// listener; naive: 4096 strings per worker, producer waits on a condition
// variable), so at most a few thousand messages are still queued when the
// timer stops.
//
// Counter allocs_per_msg: heap allocations (any thread, counted by the
// replaced global operator new of tests/testing/alloc_counter.h) during the timed loop, divided by
// the messages pushed, after a warm-up that fills the batch pool.
#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "app/batch_queues.h"
#include "app/router.h"
#include "common/frame.h"
#include "common/host_shard.h"
#include "common/message.h"
#include "common/metrics.h"
#include "receiver/parser.h"
#include "tests/testing/alloc_counter.h"

namespace konseki::app {
namespace {

constexpr size_t kMessageBytes = 256;
constexpr int kFrames = 4096;
constexpr size_t kWorkers = 2;
constexpr size_t kRouterBytesPerWorker = 1 << 20;
constexpr size_t kNaiveMaxPerWorker = 4096;
constexpr int kWarmupMessages = 65536;

// 16 hosts, 1% sshd failures, padded to exactly 256 bytes.
std::vector<std::string> MakeFrames() {
  std::vector<std::string> frames;
  frames.reserve(kFrames);
  for (int i = 0; i < kFrames; ++i) {
    std::string m = "<38>Nov 23 09:41:16 web" + std::to_string(i % 16) + " ";
    if (i % 100 == 0) {
      m += "sshd[4242]: Failed password for invalid user admin from 10.0.0." +
           std::to_string(i % 250) + " port 22 ssh2 ";
    } else {
      m += "app[" + std::to_string(1000 + i % 50) + "]: request id=" + std::to_string(i) +
           " path=/api/v1/items status=200 took_ms=" + std::to_string(i % 97) + " ";
    }
    m.resize(kMessageBytes, 'x');
    frames.push_back(std::move(m));
  }
  return frames;
}

const std::vector<std::string>& Frames() {
  static const std::vector<std::string>* frames = new std::vector<std::string>(MakeFrames());
  return *frames;
}

void ReportCounters(benchmark::State& state, uint64_t messages, uint64_t allocations) {
  state.SetItemsProcessed(static_cast<int64_t>(messages));
  state.SetBytesProcessed(static_cast<int64_t>(messages * kMessageBytes));
  state.counters["allocs_per_msg"] =
      benchmark::Counter(messages == 0 ? 0.0 : static_cast<double>(allocations) / messages);
}

// ---- Router + BatchQueues ----------------------------------------------

// range(0): frames pushed between two Flush() calls (a listener flushes after
// each recvmmsg or epoll round, so this is "messages per wake-up").
void BM_Router_PushFlush(benchmark::State& state) {
  const size_t per_flush = static_cast<size_t>(state.range(0));
  const auto& frames = Frames();
  MetricsRegistry metrics;
  BatchQueues queues(kWorkers, kRouterBytesPerWorker, metrics);
  receiver::Parser parser;
  Router router(queues, parser, /*drop_when_full=*/false);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> consumed{0};
  std::atomic<uint64_t> batches{0};
  std::vector<std::thread> consumers;
  for (size_t w = 0; w < kWorkers; ++w) {
    consumers.emplace_back([&, w] {
      while (!stop.load(std::memory_order_acquire)) {
        Batch* b = queues.Dequeue(w, std::chrono::milliseconds(5));
        if (b == nullptr) continue;
        consumed.fetch_add(b->entries.size(), std::memory_order_relaxed);
        batches.fetch_add(1, std::memory_order_relaxed);
        queues.Release(b);
      }
    });
  }

  Frame frame;
  frame.sender = "127.0.0.1";
  frame.received = TimePoint(std::chrono::seconds(1'795'000'000));
  uint64_t pushed = 0;
  size_t next = 0;
  auto push_one = [&] {
    frame.bytes = frames[next];
    next = (next + 1) % frames.size();
    router.Push(frame);
    ++pushed;
    if (pushed % per_flush == 0) {
      router.Flush();
      while (!router.HasCapacity()) std::this_thread::yield();
    }
  };
  auto drain = [&] {
    router.Flush();
    while (consumed.load(std::memory_order_relaxed) < pushed) std::this_thread::yield();
  };

  for (int i = 0; i < kWarmupMessages; ++i) push_one();
  drain();

  const uint64_t pushed0 = pushed;
  const uint64_t batches0 = batches.load();
  const uint64_t allocs0 = konseki::testing::AllocationCount();
  for (auto _ : state) push_one();
  const uint64_t allocs = konseki::testing::AllocationCount() - allocs0;
  const uint64_t messages = pushed - pushed0;
  drain();
  const uint64_t handed = batches.load() - batches0;

  stop.store(true, std::memory_order_release);
  for (auto& t : consumers) t.join();
  ReportCounters(state, messages, allocs);
  state.counters["msgs_per_batch"] =
      benchmark::Counter(handed == 0 ? 0.0 : static_cast<double>(messages) / handed);
}
BENCHMARK(BM_Router_PushFlush)->Arg(1)->Arg(4)->Arg(16)->Arg(64)->Arg(1024)->UseRealTime();

// ---- naive peer: mutex + condition_variable + deque<std::string> ---------

class NaiveQueue {
 public:
  void Push(std::string s) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return q_.size() < kNaiveMaxPerWorker; });
    q_.push_back(std::move(s));
    lock.unlock();
    not_empty_.notify_one();
  }
  // False after Close() once empty.
  bool Pop(std::string* out) {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    *out = std::move(q_.front());
    q_.pop_front();
    lock.unlock();
    not_full_.notify_one();
    return true;
  }
  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<std::string> q_;
  bool closed_ = false;
};

void BM_Naive_MutexDequeString(benchmark::State& state) {
  const auto& frames = Frames();
  receiver::Parser parser;
  std::vector<std::unique_ptr<NaiveQueue>> queues;
  for (size_t w = 0; w < kWorkers; ++w) queues.push_back(std::make_unique<NaiveQueue>());
  std::atomic<uint64_t> consumed{0};
  std::vector<std::thread> consumers;
  for (size_t w = 0; w < kWorkers; ++w) {
    consumers.emplace_back([&, w] {
      std::string s;
      while (queues[w]->Pop(&s)) consumed.fetch_add(1, std::memory_order_relaxed);
    });
  }

  uint64_t pushed = 0;
  size_t next = 0;
  const TimePoint received(std::chrono::seconds(1'795'000'000));
  auto push_one = [&] {
    const std::string& f = frames[next];
    next = (next + 1) % frames.size();
    Message msg;
    parser.Parse(f, received, &msg);
    std::string_view host = msg.hostname.empty() ? std::string_view("127.0.0.1") : msg.hostname;
    queues[HostShard(host, kWorkers)]->Push(std::string(f));
    ++pushed;
  };
  auto drain = [&] {
    while (consumed.load(std::memory_order_relaxed) < pushed) std::this_thread::yield();
  };

  for (int i = 0; i < kWarmupMessages; ++i) push_one();
  drain();

  const uint64_t pushed0 = pushed;
  const uint64_t allocs0 = konseki::testing::AllocationCount();
  for (auto _ : state) push_one();
  const uint64_t allocs = konseki::testing::AllocationCount() - allocs0;
  const uint64_t messages = pushed - pushed0;
  drain();

  for (auto& q : queues) q->Close();
  for (auto& t : consumers) t.join();
  ReportCounters(state, messages, allocs);
}
BENCHMARK(BM_Naive_MutexDequeString)->UseRealTime();

// Parse + HostShard alone: the part both paths share (the Router's own
// per-message parse that the worker repeats).
void BM_ParseForHostOnly(benchmark::State& state) {
  const auto& frames = Frames();
  receiver::Parser parser;
  const TimePoint received(std::chrono::seconds(1'795'000'000));
  size_t next = 0;
  uint64_t messages = 0;
  const uint64_t allocs0 = konseki::testing::AllocationCount();
  for (auto _ : state) {
    Message msg;
    parser.Parse(frames[next], received, &msg);
    benchmark::DoNotOptimize(HostShard(msg.hostname, kWorkers));
    next = (next + 1) % frames.size();
    ++messages;
  }
  ReportCounters(state, messages, konseki::testing::AllocationCount() - allocs0);
}
BENCHMARK(BM_ParseForHostOnly);

}  // namespace
}  // namespace konseki::app

BENCHMARK_MAIN();
