// The hand-off between listener threads and worker threads: batches of frames
// that own their bytes, one bounded lock-free queue per worker, and a pool of
// recycled batches so the steady state allocates nothing.
#ifndef KONSEKI_APP_BATCH_QUEUES_H_
#define KONSEKI_APP_BATCH_QUEUES_H_

#include <concurrentqueue/blockingconcurrentqueue.h>
#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/frame.h"
#include "common/metrics.h"
#include "common/packed_message.h"

namespace konseki::app {

// Frames concatenated into one buffer. Filled by one Router, then owned by
// one worker, then returned to the pool.
struct Batch {
  struct Entry {
    // Filled field by field by Router::Push (every field): a value-initialised
    // entry (`emplace_back()` of an aggregate) was zeroed first by a
    // 120-byte `rep stos`, a quarter of Push's own time in a pinned TCP
    // profile. Only the header's defaults are written before Push's stores.
    Entry() noexcept {}  // NOLINT(modernize-use-equals-default): = default zeroes
    uint32_t offset;
    uint32_t length;
    uint32_t sender_offset;
    uint16_t sender_length;
    uint16_t listener_id;
    bool truncated;
    TruncationCause truncation_cause;  // with truncated: why (common/frame.h)
    // The Router's parse of the frame is in `header` (relative to the
    // frame's bytes); false only if the parser broke its contract and a view
    // left the frame: the worker then parses again.
    bool parsed;
    // With `parsed`: HostKeyHash of the unpacked message's host(), from the
    // hash the Router picked the worker with (common/host_key.h).
    uint32_t host_hash;
    // The frame this listener's Router took just before this one (not
    // refused) named the same host, spelt the same, from the same sender,
    // and is the entry before this one in this batch: what the worker
    // looked up for that host holds for this one (the correlator's and the
    // heartbeat's host records), so it is not looked up or compared again.
    bool same_origin;
    TimePoint received;
    uint64_t ack_cookie;  // 0: nobody waits for this one
    PackedMessage header;
  };
  std::string bytes;
  std::vector<Entry> entries;
  AckSink* ack_sink = nullptr;  // set when any entry has an ack_cookie
  size_t accounted = 0;         // footprint() when enqueued (BatchQueues' books)

  // Heap memory the batch holds, whatever it currently carries: what the
  // queue limit counts, so the limit bounds memory even when batches are
  // mostly empty (one UDP datagram per batch at low rates).
  size_t footprint() const { return bytes.capacity() + entries.capacity() * sizeof(Entry); }

  std::string_view frame(const Entry& e) const { return {bytes.data() + e.offset, e.length}; }
  std::string_view sender(const Entry& e) const {
    return {bytes.data() + e.sender_offset, e.sender_length};
  }
  void Clear() {
    bytes.clear();
    entries.clear();
    ack_sink = nullptr;
  }
};

// A worker that can process a batch on the thread that closes it (run to
// completion, app/worker.h), instead of taking it from its queue.
// Thread-safe.
class BatchRunner {
 public:
  virtual ~BatchRunner() = default;
  // Processes `batch` on the calling thread and returns true (the caller
  // keeps the batch); or returns false at once, without waiting, when it
  // cannot: its thread or another caller is running, batches are queued or
  // in flight for it (they come first: one host's order), its archive is
  // blocked, or it is stopping. The caller then enqueues the batch.
  virtual bool TryRun(Batch& batch) = 0;
  // A batch was enqueued for this worker: its thread takes it.
  virtual void Wake() = 0;
};

// Thread-safe. Owns every batch ever created.
class BatchQueues {
 public:
  // Limits of one batch, kept by the Router, which also grows a batch's
  // bytes by doubling up to kMaxBytesPerBatch, so capacity stays within 2x
  // of the content and never above the limit unless one frame is larger.
  static constexpr size_t kMaxFramesPerBatch = 256;
  static constexpr size_t kMaxBytesPerBatch = 64 << 10;

  // max_bytes_per_worker bounds the memory of the batches waiting for each
  // worker (Batch::footprint(): frame bytes plus ~120 bytes of bookkeeping
  // per frame, and the unused part of partly filled batches); soft: see
  // Enqueue.
  BatchQueues(size_t num_workers, size_t max_bytes_per_worker, MetricsRegistry& metrics);
  ~BatchQueues();
  BatchQueues(const BatchQueues&) = delete;
  BatchQueues& operator=(const BatchQueues&) = delete;

  size_t num_workers() const { return queues_.size(); }

  // A cleared batch from the pool (or a new one). New batches start small
  // and grow to what the Router puts in them (at most kMaxFramesPerBatch
  // frames and kMaxBytesPerBatch bytes, unless one frame is larger); pooled
  // ones keep what they grew to, so the steady state allocates nothing.
  Batch* Acquire();
  // Gives a processed batch back to the pool.
  void Release(Batch* batch);
  // Frees pooled batches beyond pool_max_bytes() and returns how many: a
  // drained backlog (up to max_bytes_per_worker per worker) leaves that
  // much in the pool otherwise, for good. Called by the Server when the
  // queues are idle (Server::Tick), never on the data path; any thread.
  size_t ShrinkPool();
  // A quarter of all workers' queue limits (at least 16 full batches). The
  // arena holding the batches was ~1.5 MiB under the ingest harness's steady
  // pinned UDP load, below the default 4 MiB: what steady traffic needs
  // stays pooled.
  size_t pool_max_bytes() const { return pool_max_bytes_; }
  // Footprint of the batches in the pool (approximate while others work).
  size_t pooled_bytes() const { return pooled_bytes_.load(std::memory_order_relaxed); }

  // True while worker `w` has room under its limit.
  bool HasRoom(size_t w) const {
    return queues_[w]->bytes.load(std::memory_order_relaxed) < max_bytes_per_worker_ &&
           !queues_[w]->blocked.load(std::memory_order_relaxed);
  }
  // For `konseki status` (any thread): bytes waiting for worker w, its
  // limit, and whether it is blocked on its archive.
  size_t QueuedBytes(size_t w) const { return queues_[w]->bytes.load(std::memory_order_relaxed); }
  size_t max_bytes_per_worker() const { return max_bytes_per_worker_; }
  bool Blocked(size_t w) const { return queues_[w]->blocked.load(std::memory_order_relaxed); }

  // True while every worker has room and none is blocked (TCP reads only then).
  bool AllHaveRoom() const;

  // A worker that cannot write its archive (disk full, permissions) marks
  // itself blocked: it stops taking batches, so TCP and RELP stop reading
  // and UDP drops (counted) until it can write again.
  void SetBlocked(size_t w, bool blocked) {
    queues_[w]->blocked.store(blocked, std::memory_order_relaxed);
  }

  // Worker w's runner (null: none, the default). Set before any batch is
  // submitted; the runner must outlive every Submit.
  void SetRunner(size_t w, BatchRunner* runner) { queues_[w]->runner = runner; }

  // What the Router does with a closed batch: worker w's runner processes
  // it on this thread if it can (then the batch goes back to the pool),
  // else it is enqueued.
  void Submit(size_t w, Batch* batch);

  // Always enqueues (TCP already checked AllHaveRoom before reading, so the
  // overshoot is bounded by one read), and wakes w's runner if it has one.
  void Enqueue(size_t w, Batch* batch);

  // Waits up to `timeout` for a batch for worker `w`. nullptr on timeout.
  Batch* Dequeue(size_t w, std::chrono::microseconds timeout);
  size_t Depth(size_t w) const { return queues_[w]->depth.load(std::memory_order_relaxed); }
  // Batches enqueued for worker w and not yet Done: queued, or dequeued and
  // still being processed. A runner takes a batch itself only at 0, so one
  // host's batches are processed in the order they were closed.
  size_t InFlight(size_t w) const { return queues_[w]->in_flight.load(std::memory_order_acquire); }
  // Worker w finished a batch it dequeued.
  void Done(size_t w) { queues_[w]->in_flight.fetch_sub(1, std::memory_order_release); }

 private:
  // moodycamel's semaphore spins MAX_SEMA_SPINS (10,000 by default) times
  // before it sleeps in the kernel. A worker waits for its next batch after
  // every batch (a listener gathers ~1 ms between batches): with the listener
  // on the same CPU every spin is lost time, and on another CPU a batch
  // seldom comes within one. No spin: TCP 0.92 vs 1.00 CPU s per million
  // messages pinned, 0.80 vs 0.95 unpinned; UDP unchanged; 100 spins the
  // same as none (bench/RESULTS.md, issue 17).
  struct QueueTraits : moodycamel::ConcurrentQueueDefaultTraits {
    static const int MAX_SEMA_SPINS = 0;
  };
  struct WorkerQueue {
    moodycamel::BlockingConcurrentQueue<Batch*, QueueTraits> q;
    std::atomic<size_t> depth{0};  // batches
    std::atomic<size_t> bytes{0};  // footprint of those batches
    std::atomic<bool> blocked{false};
    std::atomic<size_t> in_flight{0};  // enqueued and not Done
    BatchRunner* runner = nullptr;
  };
  std::vector<std::unique_ptr<WorkerQueue>> queues_;
  moodycamel::ConcurrentQueue<Batch*> pool_;
  std::atomic<size_t> pooled_bytes_{0};  // footprint of the batches in pool_ (soft)
  std::atomic<size_t> created_{0};
  size_t max_bytes_per_worker_;
  size_t pool_max_bytes_;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_BATCH_QUEUES_H_
