// The RFC 6587 protocol of tcp:// and tls:// for StreamListener: each
// connection's bytes go through its own Framer (octet counting or LF) and
// every frame is emitted as it completes. Takes every byte it is given
// (OnBytesLimited: up to the end of its last allowed frame); no
// acknowledgements, nothing written back. A frame the sender stopped in the
// middle of is emitted as it is on OnStall (Framer::FlushStalled). A protocol and its handler share
// this file: the handler is the protocol's private per-connection half.
//
// Metrics (listener = the listener's name):
//   konseki_framing_errors_total{listener,reason}: "malformed_octet_count"
//     (digits not followed by SP), "incomplete_frame" (a frame cut by the
//     connection's close), "stalled_frame" (a frame the sender stopped in the
//     middle of, emitted by OnStall; if the connection then closes before
//     the rest came, also "incomplete_frame")
#ifndef KONSEKI_RECEIVER_FRAMER_PROTOCOL_H_
#define KONSEKI_RECEIVER_FRAMER_PROTOCOL_H_

#include <cstddef>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "receiver/framer.h"
#include "receiver/stream_handler.h"

namespace konseki::receiver {

class FramerProtocol final : public StreamProtocol {
 public:
  // Messages longer than max_message_bytes are cut (truncated = true). The
  // registry must outlive the protocol.
  FramerProtocol(size_t max_message_bytes, MetricsRegistry& metrics, const std::string& listener);
  FramerProtocol(const FramerProtocol&) = delete;
  FramerProtocol& operator=(const FramerProtocol&) = delete;

  std::unique_ptr<StreamHandler> NewHandler(FrameOut* out) override;
  void PublishCounters() override;

 private:
  const size_t max_message_bytes_;
  FramerStats stats_;  // shared by every connection's Framer
  FramerStats published_;
  Counter* malformed_octet_count_;
  Counter* incomplete_frame_;
  Counter* stalled_frame_;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_FRAMER_PROTOCOL_H_
