// The interface between a listener (UDP, TCP, RELP) and the pipeline.
#ifndef KONSEKI_COMMON_FRAME_H_
#define KONSEKI_COMMON_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/clock.h"

namespace konseki {

// Why a frame was cut (Frame::truncated), as konseki_framing_errors_total's
// reason says it.
enum class TruncationCause : uint8_t {
  // Longer than max_message_bytes: the rest was skipped, neither archived nor
  // read by the rules.
  kTooLong = 0,
  // tcp/tls: the sender stopped in the middle of a message for
  // tcp.partial_frame_timeout_secs (reason "stalled_frame"): emitted as it
  // was; the rest, if it came later, is a frame of its own (cut too).
  kStalled,
  // tcp/tls: the connection closed before the message ended (a stop, a
  // timeout, an eviction, an error; reason "incomplete_frame"): its rest, if
  // the sender had more, never arrived.
  kCut,
};

inline constexpr size_t kTruncationCauses = 3;
// The reason label of konseki_framing_errors_total (and of the truncation
// metrics and alert) for each cause.
inline constexpr const char* TruncationReason(TruncationCause cause) {
  switch (cause) {
    case TruncationCause::kTooLong:
      return "max_message_bytes";
    case TruncationCause::kStalled:
      return "stalled_frame";
    case TruncationCause::kCut:
      return "incomplete_frame";
  }
  return "max_message_bytes";
}

// One syslog message as cut out of the transport, before parsing.
// The views are valid only during the FrameSink::Push call.
struct Frame {
  std::string_view bytes;   // message bytes, framing removed, at most max size
  std::string_view sender;  // sender address as text ("127.0.0.1", "::1")
  TimePoint received;
  uint16_t listener_id = 0;  // index of the listener in the config
  bool truncated = false;    // cut: the message had more than these bytes
  TruncationCause truncation_cause = TruncationCause::kTooLong;  // why, when truncated
  // Non-zero when the sender waits for an acknowledgement (RELP): handed back
  // to the listener's AckSink once the message is durably in the archive.
  uint64_t ack_cookie = 0;
};

// Where the pipeline reports frames that are safely stored. Implemented by
// listeners that acknowledge (RELP). Thread-safe: called from worker threads.
class AckSink {
 public:
  virtual ~AckSink() = default;
  // `cookies` are Frame::ack_cookie values, each reported exactly once, in
  // the order the frames were pushed for any one connection.
  virtual void Acknowledge(const uint64_t* cookies, size_t count) = 0;
};

// Where a listener hands its frames. One FrameSink instance is used by exactly
// one listener thread (it keeps per-thread batching state); it is not
// thread-safe. Push copies the bytes.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Takes a copy of the frame. Returns false if the frame was dropped because
  // the pipeline is full (UDP counts that as a drop; TCP should have checked
  // HasCapacity() first and stopped reading).
  virtual bool Push(const Frame& frame) = 0;
  // Hands partially filled batches to the workers. Listeners call it after
  // each burst (one recvmmsg, one epoll round) so latency stays low.
  virtual void Flush() = 0;
  // False while the workers' queues are full: TCP and RELP stop reading
  // (backpressure) until it turns true again.
  virtual bool HasCapacity() const = 0;
};

}  // namespace konseki

#endif  // KONSEKI_COMMON_FRAME_H_
