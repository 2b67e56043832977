#include "app/router.h"

#include <cstdint>
#include <cstring>
#include <string_view>

#include "common/host_key.h"
#include "common/host_shard.h"
#include "common/message.h"
#include "common/packed_message.h"
#include "common/same_bytes.h"

namespace konseki::app {

Router::Router(BatchQueues& queues, const receiver::Parser& parser, bool drop_when_full,
               AckSink* ack_sink)
    : queues_(queues),
      parser_(parser),
      drop_when_full_(drop_when_full),
      ack_sink_(ack_sink),
      open_(queues.num_workers(), nullptr) {
  last_host_.reserve(256);  // host names are at most 255 bytes (RFC 5424)
  last_host_hash_ = HostHash(last_host_);
  last_sender_.reserve(64);
}

Router::~Router() { Flush(); }

bool Router::Push(const Frame& frame) {
  Message& msg = msg_;
  parser_.Parse(frame.bytes, frame.received, frame.sender, &stamps_, &msg);
  const size_t sender_length = std::min<size_t>(frame.sender.size(), 0xffff);
  // The host as the worker will see it (the sender as the batch keeps it),
  // hashed once: for the shard and for the worker's per-host tables.
  const std::string_view host =
      msg.hostname.empty() ? frame.sender.substr(0, sender_length) : msg.hostname;
  // A connection's (a relay's: a burst's) lines mostly name the host the
  // line before named: compare instead of hashing again (FNV-1a is a
  // multiply per byte, one after the other).
  bool same_origin = last_taken_;
  if (!SameText(host, last_host_)) {
    last_host_.assign(host);
    last_host_hash_ = HostHash(host);
    same_origin = false;
  }
  const std::string_view sender = frame.sender.substr(0, sender_length);
  bool same_sender = last_taken_;
  if (!SameText(sender, last_sender_)) {
    last_sender_.assign(sender);
    same_origin = false;
    same_sender = false;
  }
  const uint64_t host_hash = last_host_hash_;
  const size_t w = ShardOfHash(host_hash, open_.size());
  // The listener counts a refused frame (FrameSink contract): counting it
  // here too made every UDP queue drop count twice.
  if (drop_when_full_ && !queues_.HasRoom(w)) {
    last_taken_ = false;
    return false;
  }
  last_taken_ = true;
  Batch*& b = open_[w];
  const size_t need = frame.bytes.size() + sender_length;
  if (b != nullptr && b->bytes.size() + need > BatchQueues::kMaxBytesPerBatch) {
    // Close the batch rather than let it grow past the limit (a string that
    // doubles would end up twice the limit for one more frame).
    Close(w, b);
    b = nullptr;
  }
  if (b == nullptr) b = queues_.Acquire();
  if (b->bytes.size() + need > b->bytes.capacity()) {
    b->bytes.reserve(std::max(b->bytes.size() + need,
                              std::min(2 * b->bytes.capacity(), BatchQueues::kMaxBytesPerBatch)));
  }
  // Same host and worker as the frame before: if the batch is not new,
  // that frame is its last entry.
  const bool after_same = same_origin && !b->entries.empty();
  // The frame before came from the same sender and is this batch's last
  // entry: this one shares its copy of the sender's text (a connection's
  // frames all name one sender; one copy per batch, not per frame).
  uint32_t shared_sender = UINT32_MAX;
  if (same_sender && last_worker_ == w && !b->entries.empty()) {
    shared_sender = b->entries.back().sender_offset;
  }
  last_worker_ = w;
  // Filled where it lives: an Entry built on the stack and copied in was
  // written in narrow stores and read back in 16-byte loads, which stalled
  // store forwarding (a third of Push's own time in a pinned TCP profile).
  Batch::Entry& e = b->entries.emplace_back();
  e.offset = static_cast<uint32_t>(b->bytes.size());
  e.length = static_cast<uint32_t>(frame.bytes.size());
  b->bytes.append(frame.bytes);
  e.sender_length = static_cast<uint16_t>(sender_length);
  if (shared_sender != UINT32_MAX) {
    e.sender_offset = shared_sender;
  } else {
    e.sender_offset = static_cast<uint32_t>(b->bytes.size());
    b->bytes.append(sender);
  }
  e.listener_id = frame.listener_id;
  e.truncated = frame.truncated;
  e.truncation_cause = frame.truncation_cause;
  e.received = frame.received;
  e.ack_cookie = frame.ack_cookie;
  e.parsed = PackedMessage::Pack(msg, frame.bytes, &e.header);
  e.host_hash = HostKeyHashFromShardHash(host_hash);
  e.same_origin = after_same;
  if (frame.ack_cookie != 0) b->ack_sink = ack_sink_;
  if (b->entries.size() >= BatchQueues::kMaxFramesPerBatch ||
      b->bytes.size() >= BatchQueues::kMaxBytesPerBatch) {
    Close(w, b);
    b = nullptr;
  }
  return true;
}

void Router::Close(size_t w, Batch* batch) {
  // UDP has no backpressure: its listener must go back to the socket while
  // the worker's thread processes (on one CPU the scheduler lets a woken
  // listener drain the socket into the queue first), or a burst the queue
  // would have absorbed overflows the socket's receive buffer.
  if (drop_when_full_) {
    queues_.Enqueue(w, batch);
  } else {
    queues_.Submit(w, batch);
  }
}

void Router::Flush() {
  for (size_t w = 0; w < open_.size(); ++w) {
    if (open_[w] != nullptr) {
      Close(w, open_[w]);
      open_[w] = nullptr;
    }
  }
}

}  // namespace konseki::app
