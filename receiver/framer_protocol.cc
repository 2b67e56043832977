#include "receiver/framer_protocol.h"

namespace konseki::receiver {
namespace {

class FramerHandler final : public StreamHandler {
 public:
  FramerHandler(size_t max_message_bytes, FramerStats* stats, FrameOut* out)
      : framer_(max_message_bytes, stats), out_(out) {}

  size_t OnBytes(std::string_view bytes) override {
    framer_.Feed(bytes, [this](std::string_view frame, bool truncated) {
      Emit(frame, truncated, FedCause());
    });
    return bytes.size();
  }
  size_t OnBytesLimited(std::string_view bytes, uint64_t max_frames) override {
    return framer_.FeedSome(bytes, max_frames, [this](std::string_view frame, bool truncated) {
      Emit(frame, truncated, FedCause());
    });
  }
  bool Framed() const override { return framed_; }
  bool HoldsUnfinished() const override { return framer_.HasUnfinishedFrame(); }
  void OnStall() override {
    framer_.FlushStalled([this](std::string_view frame, bool truncated) {
      Emit(frame, truncated, TruncationCause::kStalled);
    });
  }
  void OnClose(bool sender_closed) override {
    // A frame the close cut short (an octet-counted frame short of its
    // count, an LF frame konseki closed): kCut.
    framer_.Finish(
        [this](std::string_view frame, bool truncated) {
          Emit(frame, truncated,
               framer_.emitting_rest_of_stalled() ? TruncationCause::kStalled
                                                  : TruncationCause::kCut);
        },
        sender_closed ? Framer::End::kSenderClosed : Framer::End::kCut);
  }

 private:
  // Why a frame Feed emitted was cut: the rest of a stalled one, or its length.
  TruncationCause FedCause() const {
    return framer_.emitting_rest_of_stalled() ? TruncationCause::kStalled
                                              : TruncationCause::kTooLong;
  }
  void Emit(std::string_view frame, bool truncated, TruncationCause cause) {
    framed_ = true;
    out_->Emit(frame, truncated, 0, cause);
  }

  Framer framer_;
  FrameOut* const out_;
  bool framed_ = false;
};

}  // namespace

FramerProtocol::FramerProtocol(size_t max_message_bytes, MetricsRegistry& metrics,
                               const std::string& listener)
    : max_message_bytes_(max_message_bytes),
      malformed_octet_count_(metrics.GetCounter(
          "konseki_framing_errors_total", "Input that could not be framed as sent",
          {{"listener", listener}, {"reason", "malformed_octet_count"}})),
      incomplete_frame_(metrics.GetCounter(
          "konseki_framing_errors_total", "Input that could not be framed as sent",
          {{"listener", listener}, {"reason", "incomplete_frame"}})),
      stalled_frame_(metrics.GetCounter("konseki_framing_errors_total",
                                        "Input that could not be framed as sent",
                                        {{"listener", listener}, {"reason", "stalled_frame"}})) {}

std::unique_ptr<StreamHandler> FramerProtocol::NewHandler(FrameOut* out) {
  return std::make_unique<FramerHandler>(max_message_bytes_, &stats_, out);
}

void FramerProtocol::PublishCounters() {
  if (stats_.malformed_octet_count != published_.malformed_octet_count) {
    malformed_octet_count_->Inc(stats_.malformed_octet_count - published_.malformed_octet_count);
  }
  if (stats_.incomplete_at_close != published_.incomplete_at_close) {
    incomplete_frame_->Inc(stats_.incomplete_at_close - published_.incomplete_at_close);
  }
  if (stats_.stalled != published_.stalled) {
    stalled_frame_->Inc(stats_.stalled - published_.stalled);
  }
  published_ = stats_;
}

}  // namespace konseki::receiver
