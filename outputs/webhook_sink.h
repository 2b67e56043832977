// Delivers each alert as an HTTP POST of its JSON to a URL (a chat webhook, an
// incident tool, a small relay script). One request per alert.
//
// Retries: connection errors, timeouts, 408, 429 and 5xx answers are retried
// with exponential backoff (a Retry-After header in seconds is honoured, up
// to max_backoff); any other non-2xx answer is permanent and the alert is
// dropped (reason="permanent_error"). Failure reasons counted in
// konseki_alert_delivery_failures_total: "connect" (no connection, TLS), "io"
// (read/write failed or timed out),
// "http_4xx", "http_5xx".
#ifndef KONSEKI_OUTPUTS_WEBHOOK_SINK_H_
#define KONSEKI_OUTPUTS_WEBHOOK_SINK_H_

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/alert.h"
#include "common/metrics.h"
#include "common/status.h"
#include "outputs/alert_delivery_queue.h"

namespace httplib {
class Client;
}

namespace konseki::outputs {

struct WebhookSinkOptions {
  // "http://host[:port]/path[?query]". https:// works when cpp-httplib was
  // built with OpenSSL (Debian's is) and verifies the server certificate.
  std::string url;
  // Extra request headers, e.g. {"Authorization", "Bearer ..."}.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json";
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds timeout{5000};  // read and write
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{60000};
  std::string name = "webhook";  // label value of the delivery metrics
  AlertDeliveryQueueOptions queue;
  AlertEncoder encoder;  // empty = AlertToJson
};

// Splits a URL into "scheme://host:port" and "/path?query". Exposed for tests.
Status SplitHttpUrl(const std::string& url, std::string* scheme_host_port, std::string* path);

// Thread-safe AlertSink; Emit() never blocks (see alert_delivery_queue.h).
class WebhookSink final : public AlertSink {
 public:
  // Fails on a URL that is not http(s)://host...
  static StatusOr<std::unique_ptr<WebhookSink>> Create(const WebhookSinkOptions& options,
                                                       MetricsRegistry& registry);
  // Drains until queue.drain_timeout after RequestStop (or now), then cuts
  // a request in progress short (its alert counted, reason="shutdown").
  ~WebhookSink() override;

  void Emit(const Alert& alert) override { queue_.Push(alert); }
  // Starts the drain time (see AlertDeliveryQueue::RequestStop).
  void RequestStop() { queue_.RequestStop(); }

 private:
  WebhookSink(const WebhookSinkOptions& options, std::string path,
              std::unique_ptr<httplib::Client> client, MetricsRegistry& registry);
  DeliveryResult Deliver(const Alert& alert);

  const WebhookSinkOptions options_;
  const std::string path_;
  // Delivery thread only, but for stop(), which cpp-httplib lets another
  // thread call to shut a request in progress down.
  std::unique_ptr<httplib::Client> client_;
  Backoff backoff_;
  AlertDeliveryQueue queue_;  // last: stops before the members above go
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_WEBHOOK_SINK_H_
