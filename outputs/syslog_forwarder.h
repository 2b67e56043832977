// Forwards alerts to a syslog collector as RFC 5424 messages, over UDP (one
// datagram per alert, RFC 5426) or TCP (RFC 6587 octet counting, or LF
// framing for old receivers). The message looks like
//
//   <PRI>1 2026-11-23T08:08:42.123456Z myhost konseki 4242 alert
//     [konseki@32473 sign="ssh.login" rule="ssh-accepted" severity="medium"
//     host="web-1"] {"time":"...", ...alert JSON...}
//
// on one line. PRI = facility * 8 + a syslog severity mapped from the alert's
// (critical→2 crit, high→3 err, medium→4 warning, low→5 notice, info→6 info).
// 32473 is the private enterprise number RFC 5612 reserves for examples; the
// SD-ID can be changed in the options. MSG is the alert JSON without a BOM
// (RFC 5424 MSG-ANY) because JSON consumers choke on a BOM.
#ifndef KONSEKI_OUTPUTS_SYSLOG_FORWARDER_H_
#define KONSEKI_OUTPUTS_SYSLOG_FORWARDER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/alert.h"
#include "common/metrics.h"
#include "common/status.h"
#include "outputs/alert_delivery_queue.h"

namespace konseki::outputs {

enum class SyslogTransport : uint8_t { kUdp, kTcp };

struct SyslogForwarderOptions {
  std::string host;  // collector name or address; resolved at each (re)connect
  uint16_t port = 514;
  SyslogTransport transport = SyslogTransport::kUdp;
  // TCP only: RFC 6587 octet counting ("LEN SP MSG"); false sends "MSG\n"
  // (the JSON has no raw newline, so LF framing is safe).
  bool octet_counting = true;
  int facility = 10;  // authpriv: security messages go to restricted logs
  // HOSTNAME field; empty = this machine's name (gethostname).
  std::string hostname;
  std::string app_name = "konseki";
  std::string sd_id = "konseki@32473";
  // Label value of the delivery metrics.
  std::string name = "syslog";
  // Attempts per alert before it is dropped (reason="retries_exhausted").
  int max_attempts = 8;
  // Reconnect/resend backoff: initial, doubled per failure, capped.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{30000};
  // TCP connect and send timeout, so a stuck collector cannot hold the
  // delivery thread forever.
  std::chrono::milliseconds io_timeout{5000};
  AlertDeliveryQueueOptions queue;
  AlertEncoder encoder;  // empty = AlertToJson
};

// The wire text of one alert (without TCP framing). Exposed for tests.
// procid is the PROCID field.
std::string FormatSyslog5424(const Alert& alert, std::string_view json,
                             const SyslogForwarderOptions& options, std::string_view hostname,
                             std::string_view procid);

// Thread-safe AlertSink. Emit() never blocks: it queues (see
// alert_delivery_queue.h for the queue and the delivery metrics). The socket is
// owned by the delivery thread; a failed send closes it and the alert is
// retried after a backoff on a fresh connection.
class SyslogForwarder final : public AlertSink {
 public:
  // Fails on options that can never work (empty host, port 0, facility out
  // of 0..23). An unreachable collector is not an error: alerts wait in the
  // queue and failures are counted.
  static StatusOr<std::unique_ptr<SyslogForwarder>> Create(const SyslogForwarderOptions& options,
                                                           MetricsRegistry& registry);
  // Drains until queue.drain_timeout after RequestStop (or now).
  ~SyslogForwarder() override;

  void Emit(const Alert& alert) override { queue_.Push(alert); }
  // Starts the drain time (see AlertDeliveryQueue::RequestStop).
  void RequestStop() { queue_.RequestStop(); }

 private:
  SyslogForwarder(const SyslogForwarderOptions& options, MetricsRegistry& registry);
  DeliveryResult Deliver(const Alert& alert);
  Status Connect();
  int SendFrame(const std::string& frame);  // 0 or errno
  bool PeerClosed() const;
  void Close();

  const SyslogForwarderOptions options_;
  std::string hostname_;
  std::string procid_;
  int fd_ = -1;  // delivery thread only
  Backoff backoff_;
  AlertDeliveryQueue queue_;  // last: stops before the members above go
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_SYSLOG_FORWARDER_H_
