#include "app/batch_queues.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/metrics.h"

namespace konseki::app {
namespace {

// A batch grown to the largest size the Router makes.
Batch* FullBatch(BatchQueues& q) {
  Batch* b = q.Acquire();
  b->bytes.reserve(BatchQueues::kMaxBytesPerBatch);
  b->bytes.assign(1000, 'x');
  return b;
}

// A runner that takes batches while `accept` is true and records what it ran.
class RecordingRunner : public BatchRunner {
 public:
  bool TryRun(Batch& batch) override {
    ++tries;
    if (!accept) return false;
    ran.push_back(batch.bytes);
    return true;
  }
  void Wake() override { ++wakes; }
  bool accept = true;
  int tries = 0;
  int wakes = 0;
  std::vector<std::string> ran;
};

Batch* BatchOf(BatchQueues& q, const std::string& bytes) {
  Batch* b = q.Acquire();
  b->bytes = bytes;
  return b;
}

// Run to completion must not overtake: while a batch is queued, or taken
// and not Done, later batches queue behind it (one host's order).
TEST(BatchQueuesTest, SubmitRunsOnlyWhenNothingIsInFlight) {
  MetricsRegistry metrics;
  BatchQueues q(1, 1 << 20, metrics);
  RecordingRunner runner;
  q.SetRunner(0, &runner);

  q.Submit(0, BatchOf(q, "a"));
  EXPECT_EQ(runner.ran, std::vector<std::string>{"a"});
  EXPECT_EQ(q.InFlight(0), 0u);

  runner.accept = false;  // busy (its thread runs, another listener runs)
  q.Submit(0, BatchOf(q, "b"));
  EXPECT_EQ(q.InFlight(0), 1u);
  EXPECT_EQ(runner.wakes, 1) << "a queued batch wakes the worker's thread";

  runner.accept = true;
  const int tries = runner.tries;
  q.Submit(0, BatchOf(q, "c"));
  EXPECT_EQ(runner.tries, tries) << "not offered while b is queued";
  EXPECT_EQ(q.InFlight(0), 2u);

  Batch* b = q.Dequeue(0, std::chrono::microseconds(0));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->bytes, "b");
  q.Release(b);
  q.Submit(0, BatchOf(q, "d"));
  EXPECT_EQ(q.InFlight(0), 3u) << "b was taken but is not Done: d waits too";
  q.Done(0);

  for (const char* want : {"c", "d"}) {
    Batch* next = q.Dequeue(0, std::chrono::microseconds(0));
    ASSERT_NE(next, nullptr);
    EXPECT_EQ(next->bytes, want);
    q.Release(next);
    q.Done(0);
  }
  EXPECT_EQ(q.InFlight(0), 0u);
  q.Submit(0, BatchOf(q, "e"));
  EXPECT_EQ(runner.ran, (std::vector<std::string>{"a", "e"}));
}

TEST(BatchQueuesTest, SubmitWithoutARunnerEnqueues) {
  MetricsRegistry metrics;
  BatchQueues q(1, 1 << 20, metrics);
  q.Submit(0, BatchOf(q, "a"));
  EXPECT_EQ(q.Depth(0), 1u);
  Batch* b = q.Dequeue(0, std::chrono::microseconds(0));
  ASSERT_NE(b, nullptr);
  q.Release(b);
}

TEST(BatchQueuesTest, SteadyStateReusesThePooledBatch) {
  MetricsRegistry metrics;
  BatchQueues q(2, 1 << 20, metrics);
  Batch* first = FullBatch(q);
  q.Release(first);
  for (int i = 0; i < 100; ++i) {
    Batch* b = q.Acquire();
    EXPECT_EQ(b, first);
    EXPECT_TRUE(b->bytes.empty());
    EXPECT_GE(b->bytes.capacity(), BatchQueues::kMaxBytesPerBatch) << "keeps what it grew to";
    q.Release(b);
  }
  EXPECT_EQ(q.ShrinkPool(), 0u) << "one batch is below the pool limit";
  EXPECT_EQ(q.Acquire(), first);
  q.Release(first);
}

TEST(BatchQueuesTest, ShrinkPoolKeepsAtMostThePoolLimitOfADrainedBacklog) {
  MetricsRegistry metrics;
  // 4 workers x 8 MiB: the pool keeps at most 8 MiB.
  BatchQueues q(4, 8 << 20, metrics);
  EXPECT_EQ(q.pool_max_bytes(), size_t{8} << 20);
  // A backlog of 32 MiB of full batches, all given back.
  std::vector<Batch*> backlog;
  for (size_t bytes = 0; bytes < (size_t{32} << 20);) {
    backlog.push_back(FullBatch(q));
    bytes += backlog.back()->footprint();
  }
  const size_t per_batch = backlog.front()->footprint();
  for (Batch* b : backlog) q.Release(b);
  EXPECT_EQ(q.pooled_bytes(), backlog.size() * per_batch) << "Release itself frees nothing";
  const size_t freed = q.ShrinkPool();
  const size_t kept = backlog.size() - freed;
  EXPECT_GT(freed, 0u);
  EXPECT_EQ(q.pooled_bytes(), kept * per_batch);
  EXPECT_LE(kept * per_batch, q.pool_max_bytes());
  EXPECT_GT((kept + 1) * per_batch, q.pool_max_bytes()) << "the pool stays filled up to its limit";
  EXPECT_EQ(q.ShrinkPool(), 0u);
  // What was kept is reused before anything new is made.
  std::vector<Batch*> again;
  for (size_t i = 0; i < kept; ++i) {
    again.push_back(q.Acquire());
    EXPECT_GE(again.back()->bytes.capacity(), BatchQueues::kMaxBytesPerBatch);
  }
  for (Batch* b : again) q.Release(b);
}

TEST(BatchQueuesTest, PoolLimitHasAFloorForSmallQueues) {
  MetricsRegistry metrics;
  BatchQueues q(1, 1 << 16, metrics);
  EXPECT_EQ(q.pool_max_bytes(), 16 * BatchQueues::kMaxBytesPerBatch);
}

}  // namespace
}  // namespace konseki::app
