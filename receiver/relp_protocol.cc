#include "receiver/relp_protocol.h"

namespace konseki::receiver {
namespace {

class RelpStreamHandler final : public StreamHandler, private RelpHandler {
 public:
  RelpStreamHandler(const RelpSessionOptions& options, const RelpCounters* counters,
                    Counter* empty_messages, FrameOut* out)
      : session_(options, this, counters), out_(out), empty_messages_(empty_messages) {}

  size_t OnBytes(std::string_view bytes) override {
    const size_t used = session_.Feed(bytes);
    // Once done (closed or a protocol error) the rest is never wanted.
    return session_.Done() ? bytes.size() : used;
  }
  bool WantsInput() const override { return session_.WantsInput(); }
  bool Framed() const override { return session_.state() != RelpSession::State::kAwaitingOpen; }
  std::string_view PendingOutput() const override { return session_.PendingOutput(); }
  void ConsumeOutput(size_t n) override { session_.ConsumeOutput(n); }
  bool Done() const override { return session_.Done(); }
  bool Ack(uint32_t txnr) override { return session_.Ack(txnr); }
  void Stopping() override {
    if (session_.unacked() == 0) session_.ServerClose();
  }
  void Goodbye() override { session_.ServerClose(); }
  bool AwaitsAcks() const override { return session_.unacked() > 0; }

 private:
  void OnSyslog(uint32_t txnr, std::string_view data, bool truncated) override {
    // A zero-length message (DATALEN 0) carries nothing to archive or match:
    // acknowledged (in order, with the others) and counted, not archived as
    // an empty line under the sender's address (prod19b note).
    if (data.empty()) {
      empty_messages_->Inc();
      session_.Ack(txnr);
      return;
    }
    out_->Emit(data, truncated, txnr, TruncationCause::kTooLong);
  }

  RelpSession session_;
  FrameOut* const out_;
  Counter* const empty_messages_;
};

}  // namespace

RelpProtocol::RelpProtocol(const RelpSessionOptions& options, MetricsRegistry& metrics,
                           const std::string& listener)
    : options_(options),
      counters_(RelpCounters::Register(&metrics)),
      late_acks_(metrics.GetCounter("konseki_relp_late_acks_total",
                                    "Acknowledgements for messages whose RELP connection had "
                                    "closed (the sender resends them)",
                                    {{"listener", listener}})),
      empty_messages_(metrics.GetCounter("konseki_relp_empty_messages_total",
                                         "Zero-length RELP syslog messages (acknowledged, not "
                                         "archived)",
                                         {{"listener", listener}})) {}

std::unique_ptr<StreamHandler> RelpProtocol::NewHandler(FrameOut* out) {
  return std::make_unique<RelpStreamHandler>(options_, &counters_, empty_messages_, out);
}

}  // namespace konseki::receiver
