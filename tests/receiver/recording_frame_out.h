// A FrameOut (receiver/stream_handler.h) that keeps copies of what a
// protocol handler emits, for tests that drive a handler without a listener.
#ifndef KONSEKI_TESTS_RECEIVER_RECORDING_FRAME_OUT_H_
#define KONSEKI_TESTS_RECEIVER_RECORDING_FRAME_OUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "receiver/stream_handler.h"

namespace konseki::receiver {

struct Emitted {
  std::string bytes;
  bool truncated;
  uint32_t ack_id;
  // Why it was cut; an untruncated frame's is recorded as kTooLong (what
  // the handler passes with truncated false means nothing).
  TruncationCause cause = TruncationCause::kTooLong;
  friend bool operator==(const Emitted&, const Emitted&) = default;
};

class RecordingFrameOut : public FrameOut {
 public:
  void Emit(std::string_view bytes, bool truncated, uint32_t ack_id,
            TruncationCause cause) override {
    frames.push_back(
        {std::string(bytes), truncated, ack_id, truncated ? cause : TruncationCause::kTooLong});
  }
  std::vector<Emitted> frames;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_TESTS_RECEIVER_RECORDING_FRAME_OUT_H_
