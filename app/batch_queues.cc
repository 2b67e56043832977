#include "app/batch_queues.h"

namespace konseki::app {

BatchQueues::BatchQueues(size_t num_workers, size_t max_bytes_per_worker, MetricsRegistry& metrics)
    : max_bytes_per_worker_(max_bytes_per_worker) {
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
  if (pool_.try_dequeue(b)) return b;
  created_.fetch_add(1, std::memory_order_relaxed);
  b = new Batch();
  b->bytes.reserve(64 << 10);
  b->entries.reserve(256);
  return b;
}

void BatchQueues::Release(Batch* batch) {
  batch->Clear();
  // Shrink batches that grew for a burst of huge messages.
  if (batch->bytes.capacity() > (1 << 20)) batch->bytes.shrink_to_fit();
  pool_.enqueue(batch);
}

bool BatchQueues::AllHaveRoom() const {
  for (size_t i = 0; i < queues_.size(); ++i) {
    if (!HasRoom(i)) return false;
  }
  return true;
}

void BatchQueues::Enqueue(size_t w, Batch* batch) {
  queues_[w]->depth.fetch_add(1, std::memory_order_relaxed);
  queues_[w]->bytes.fetch_add(batch->bytes.size(), std::memory_order_relaxed);
  queues_[w]->q.enqueue(batch);
}

Batch* BatchQueues::Dequeue(size_t w, std::chrono::microseconds timeout) {
  Batch* b = nullptr;
  if (!queues_[w]->q.wait_dequeue_timed(b, timeout)) return nullptr;
  queues_[w]->depth.fetch_sub(1, std::memory_order_relaxed);
  queues_[w]->bytes.fetch_sub(b->bytes.size(), std::memory_order_relaxed);
  return b;
}

}  // namespace konseki::app
