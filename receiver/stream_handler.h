// The protocol half of a stream listener's connection: what the bytes mean.
// StreamListener (receiver/stream_listener.h) owns the sockets and gives each
// accepted connection a transport (receiver/stream_connection.h: plain or
// TLS) and a StreamHandler made by the listener's StreamProtocol. A handler
// is pure over bytes: it never touches a socket, a clock or the pipeline.
//
//   FramerProtocol (receiver/framer_protocol.h)  RFC 6587 framing: tcp://, tls://
//   RelpProtocol (receiver/relp_protocol.h)      RELP sessions: relp://, relp+tls://
//
// The listener calls a handler from its one thread only:
//   OnBytes(read bytes)         the handler emits frames through its FrameOut
//   PendingOutput() / ConsumeOutput(n)   what to write back (RELP answers)
//   Ack(id)                     the pipeline stored the frame emitted with id
//   Stopping() / Goodbye()      the listener stops (see StreamProtocol)
//   HoldsUnfinished() / OnStall()   the sender stopped mid-message
//   OnClose(sender_closed)      the connection closes while frames still flow
#ifndef KONSEKI_RECEIVER_STREAM_HANDLER_H_
#define KONSEKI_RECEIVER_STREAM_HANDLER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/frame.h"

namespace konseki::receiver {

// Where a handler hands on the messages it decoded. Implemented by the
// listener, which adds the sender, the receive time and the listener id,
// counts, and pushes to the pipeline.
class FrameOut {
 public:
  virtual ~FrameOut() = default;
  // `bytes` are valid only during the call. truncated: cut (cause: to the
  // maximum message size, stalled, or cut by the close). ack_id: what the
  // handler will be given to Ack() once the pipeline stored the frame (only
  // when its protocol acknowledges).
  virtual void Emit(std::string_view bytes, bool truncated, uint32_t ack_id,
                    TruncationCause cause) = 0;
};

// One connection's protocol state. Not thread-safe: used by the listener's
// thread only. Must not keep views of the bytes given to OnBytes.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;

  // Bytes read off the connection (after TLS). Emits what they complete and
  // returns how many it took; fewer than bytes.size() means it takes no more
  // for now (WantsInput() is false): the listener keeps the rest, stops
  // reading the connection, and offers the rest again once WantsInput().
  virtual size_t OnBytes(std::string_view bytes) = 0;
  // OnBytes that emits at most max_frames messages (the sender's rate-limit
  // tokens, StreamListenerOptions::rate_limit) and returns the bytes it took
  // up to the last of them; the listener keeps the rest and offers it again
  // once the sender has tokens. Default: OnBytes, which may emit more (RELP:
  // its window bounds a burst; what it emits past max_frames is charged as
  // a debt the sender waits out).
  virtual size_t OnBytesLimited(std::string_view bytes, uint64_t /*max_frames*/) {
    return OnBytes(bytes);
  }
  // False while OnBytes would take nothing (RELP: window full).
  virtual bool WantsInput() const { return true; }
  // A message (RELP: the open) completed: the sender speaks the protocol
  // (receiver/connection_limits.h evicts never-framed connections first).
  virtual bool Framed() const = 0;
  // Bytes to write back to the sender, oldest first; the listener writes
  // them when the socket takes them and calls ConsumeOutput(n). Only grows
  // at its end while a write waits (a TLS retry needs the same bytes).
  virtual std::string_view PendingOutput() const { return {}; }
  virtual void ConsumeOutput(size_t /*n*/) {}
  // Nothing more will be read: the listener closes the connection once
  // PendingOutput() is written.
  virtual bool Done() const { return false; }

  // The pipeline stored the frame emitted with ack_id. False if the handler
  // awaits no such ack (counted as late by the protocol).
  virtual bool Ack(uint32_t /*ack_id*/) { return false; }
  // The listener stopped reading for a stop and waits for acks (two-phase
  // stop only); called again after every ack. RELP answers "serverclose"
  // once nothing awaits an ack.
  virtual void Stopping() {}
  // The listener closes the connection for a stop: a last message to the
  // sender (RELP: serverclose), written before the transport shuts down.
  virtual void Goodbye() {}
  // True while part of a message that has not ended is held (FramerProtocol:
  // an unfinished frame).
  virtual bool HoldsUnfinished() const { return false; }
  // True while messages received await their acknowledgement (RELP: the
  // session's unacked() > 0). An evicted connection for which this,
  // HoldsUnfinished() and unread input are all false lost nothing.
  virtual bool AwaitsAcks() const { return false; }
  // The sender sent nothing for a while (StreamListenerOptions::
  // partial_frame_timeout_secs) while HoldsUnfinished(), the connection
  // open and nothing of it unread: emit the unfinished message now, as it
  // is (FramerProtocol: Framer::FlushStalled).
  virtual void OnStall() {}
  // The connection closes (EOF, error, timeout, eviction, stop) while the
  // listener still feeds the pipeline, after the transport was established:
  // emit what is left (RFC 6587: an unterminated last frame). sender_closed:
  // the sender ended the stream (EOF or TLS close_notify read); false when
  // it was cut before that, so an unfinished message may have had more to
  // come.
  virtual void OnClose(bool /*sender_closed*/) {}
};

// Makes the handlers of one listener and holds what they share (counters,
// options). Used from the listener's thread only, after construction.
class StreamProtocol {
 public:
  virtual ~StreamProtocol() = default;
  // A new connection; `out` outlives the handler.
  virtual std::unique_ptr<StreamHandler> NewHandler(FrameOut* out) = 0;
  // True: a frame is acknowledged to its sender only once the pipeline
  // stored it (Frame::ack_cookie set, StreamListener is the AckSink), and
  // the listener stops in two phases (Stop: stop reading, keep answering;
  // Shutdown: Goodbye and close). False: Stop reads what the senders still
  // send (receiver/stop_drain.h), then closes; no acks.
  virtual bool Acknowledges() const { return false; }
  // Acks for connections already closed (the sender resends those frames).
  virtual void CountLateAcks(uint64_t /*n*/) {}
  // After each round: publish counters kept by the handlers.
  virtual void PublishCounters() {}
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_STREAM_HANDLER_H_
