// The RELP protocol of relp:// and relp+tls:// for StreamListener: one
// RelpSession (receiver/relp_session.h) per connection. A syslog message is
// emitted with its transaction number as ack id and answered "200 OK" only
// once the pipeline reports it stored (StreamHandler::Ack), so a crash never
// loses an acknowledged message; a session with max_unacked messages
// awaiting their acks takes no more input (backpressure). Stops in two
// phases (StreamProtocol::Acknowledges): after Stop a session answers
// "serverclose" once nothing awaits an ack; Shutdown sends it to all.
// The handler is the protocol's private per-connection half, in this file.
//
// Metrics: konseki_relp_* session counters (RelpCounters) and
//   konseki_relp_late_acks_total{listener} (acks for connections already
//   closed: their senders resend those messages, RELP is at-least-once)
#ifndef KONSEKI_RECEIVER_RELP_PROTOCOL_H_
#define KONSEKI_RECEIVER_RELP_PROTOCOL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "receiver/relp_session.h"
#include "receiver/stream_handler.h"

namespace konseki::receiver {

class RelpProtocol final : public StreamProtocol {
 public:
  // The registry must outlive the protocol.
  RelpProtocol(const RelpSessionOptions& options, MetricsRegistry& metrics,
               const std::string& listener);
  RelpProtocol(const RelpProtocol&) = delete;
  RelpProtocol& operator=(const RelpProtocol&) = delete;

  std::unique_ptr<StreamHandler> NewHandler(FrameOut* out) override;
  bool Acknowledges() const override { return true; }
  void CountLateAcks(uint64_t n) override { late_acks_->Inc(n); }

 private:
  const RelpSessionOptions options_;
  const RelpCounters counters_;
  Counter* late_acks_;
  Counter* empty_messages_;  // konseki_relp_empty_messages_total{listener}
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_RELP_PROTOCOL_H_
