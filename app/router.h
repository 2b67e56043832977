// Router: the FrameSink a listener thread pushes into. It finds each frame's
// host, picks the worker that owns that host (common/host_shard.h) and packs
// the frame, with the parse that found the host (common/packed_message.h),
// into that worker's open batch, so one host's messages keep their order, all
// its state lives on one thread, and the worker does not parse again.
// A closed batch of a TCP, TLS or RELP listener goes to BatchQueues::Submit:
// with a run-to-completion worker (app/worker.h) Push or Flush may process
// it on the calling thread. UDP's batches are always queued.
#ifndef KONSEKI_APP_ROUTER_H_
#define KONSEKI_APP_ROUTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "app/batch_queues.h"
#include "common/frame.h"
#include "common/message.h"
#include "common/metrics.h"
#include "receiver/parser.h"
#include "receiver/timestamp_cache.h"

namespace konseki::app {

// Not thread-safe: one Router per listener thread.
class Router final : public FrameSink {
 public:
  // drop_when_full: UDP (true) refuses frames for a full worker queue (Push
  // returns false and the listener counts the drop, once, as
  // konseki_dropped_messages_total{stage="receiver",reason="queue_full"});
  // TCP/RELP (false) rely on HasCapacity() backpressure.
  // ack_sink (may be null) receives the ack cookies of this listener's frames
  // once they are stored; it must outlive the workers' use of the batches.
  Router(BatchQueues& queues, const receiver::Parser& parser, bool drop_when_full,
         AckSink* ack_sink = nullptr);
  ~Router() override;

  bool Push(const Frame& frame) override;
  void Flush() override;
  bool HasCapacity() const override { return queues_.AllHaveRoom(); }

 private:
  // Hands a closed batch for worker w on (see the top of the file).
  void Close(size_t w, Batch* batch);

  BatchQueues& queues_;
  const receiver::Parser& parser_;
  bool drop_when_full_;
  AckSink* ack_sink_;
  std::vector<Batch*> open_;  // one per worker, nullptr when none
  // The stamps this listener's lines carried lately: most lines repeat one,
  // and reading it again cost ~520 instructions per RFC 3164 line.
  receiver::TimestampCache stamps_;
  // The frame being pushed, parsed (its views are stale once Push returns).
  // A member: Parse sets every field anyway, and a local was constructed
  // once more per frame.
  Message msg_;
  // The host of the last frame and its HostHash, and its sender (as the
  // batch keeps it).
  std::string last_host_;
  uint64_t last_host_hash_;
  std::string last_sender_;
  // The last frame was taken (not refused): a frame naming the same host
  // from the same sender is then Batch::Entry::same_origin.
  bool last_taken_ = false;
  // The worker whose batch took the last frame (with last_taken_).
  size_t last_worker_ = 0;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_ROUTER_H_
