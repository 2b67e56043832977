#include "app/batch_queues.h"

#include <algorithm>

namespace konseki::app {
namespace {

// A new batch's first reservation: room for a few typical messages, so a
// batch that carries one datagram holds ~5 KiB, not the maximum.
constexpr size_t kInitialBytes = 4 << 10;
constexpr size_t kInitialEntries = 16;

}  // namespace

BatchQueues::BatchQueues(size_t num_workers, size_t max_bytes_per_worker, MetricsRegistry& metrics)
    : max_bytes_per_worker_(max_bytes_per_worker),
      pool_max_bytes_(std::max(num_workers * max_bytes_per_worker / 4, 16 * kMaxBytesPerBatch)) {
  for (size_t i = 0; i < num_workers; ++i) {
    queues_.push_back(std::make_unique<WorkerQueue>());
  }
  metrics.AddGaugeCallback(
      "konseki_queue_depth", "Batches waiting for each worker.", [this](std::vector<Sample>* out) {
        for (size_t i = 0; i < queues_.size(); ++i) {
          out->push_back({{{"worker", std::to_string(i)}}, static_cast<double>(Depth(i))});
        }
      });
}

BatchQueues::~BatchQueues() {
  Batch* b = nullptr;
  while (pool_.try_dequeue(b)) delete b;
  for (auto& wq : queues_) {
    while (wq->q.try_dequeue(b)) delete b;
  }
}

Batch* BatchQueues::Acquire() {
  Batch* b = nullptr;
  if (pool_.try_dequeue(b)) {
    pooled_bytes_.fetch_sub(b->footprint(), std::memory_order_relaxed);
    return b;
  }
  created_.fetch_add(1, std::memory_order_relaxed);
  b = new Batch();
  b->bytes.reserve(kInitialBytes);
  b->entries.reserve(kInitialEntries);
  return b;
}

void BatchQueues::Release(Batch* batch) {
  batch->Clear();
  // Give back what a single huge frame made a batch grow to (kept, it would
  // count against the queue limit for every later batch it carries).
  if (batch->bytes.capacity() > kMaxBytesPerBatch) {
    std::string().swap(batch->bytes);
    batch->bytes.reserve(kMaxBytesPerBatch);
  }
  pooled_bytes_.fetch_add(batch->footprint(), std::memory_order_relaxed);
  pool_.enqueue(batch);
}

size_t BatchQueues::ShrinkPool() {
  size_t freed = 0;
  Batch* b = nullptr;
  while (pooled_bytes_.load(std::memory_order_relaxed) > pool_max_bytes_ && pool_.try_dequeue(b)) {
    pooled_bytes_.fetch_sub(b->footprint(), std::memory_order_relaxed);
    delete b;
    ++freed;
  }
  return freed;
}

bool BatchQueues::AllHaveRoom() const {
  for (size_t i = 0; i < queues_.size(); ++i) {
    if (!HasRoom(i)) return false;
  }
  return true;
}

void BatchQueues::Submit(size_t w, Batch* batch) {
  BatchRunner* runner = queues_[w]->runner;
  if (runner != nullptr && InFlight(w) == 0 && runner->TryRun(*batch)) {
    Release(batch);
    return;
  }
  Enqueue(w, batch);
}

void BatchQueues::Enqueue(size_t w, Batch* batch) {
  batch->accounted = batch->footprint();
  WorkerQueue& wq = *queues_[w];
  wq.in_flight.fetch_add(1, std::memory_order_acq_rel);
  wq.depth.fetch_add(1, std::memory_order_relaxed);
  wq.bytes.fetch_add(batch->accounted, std::memory_order_relaxed);
  wq.q.enqueue(batch);
  if (wq.runner != nullptr) wq.runner->Wake();
}

Batch* BatchQueues::Dequeue(size_t w, std::chrono::microseconds timeout) {
  Batch* b = nullptr;
  if (!queues_[w]->q.wait_dequeue_timed(b, timeout)) return nullptr;
  queues_[w]->depth.fetch_sub(1, std::memory_order_relaxed);
  queues_[w]->bytes.fetch_sub(b->accounted, std::memory_order_relaxed);
  return b;
}

}  // namespace konseki::app
