#include "outputs/webhook_sink.h"

#include <httplib.h>

#include <charconv>

#include "outputs/alert_json.h"

#ifndef KONSEKI_VERSION
#define KONSEKI_VERSION "unknown"
#endif

namespace konseki::outputs {

Status SplitHttpUrl(const std::string& url, std::string* scheme_host_port, std::string* path) {
  const size_t sep = url.find("://");
  const std::string scheme = sep == std::string::npos ? "" : url.substr(0, sep);
  if (scheme != "http" && scheme != "https") {
    return Status::InvalidArgument("webhook url \"" + url +
                                   "\": must start with http:// or https://");
  }
  const size_t host_start = sep + 3;
  size_t host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string::npos) host_end = url.size();
  const std::string authority = url.substr(host_start, host_end - host_start);
  if (authority.empty() || authority.front() == ':' || authority.find('@') != std::string::npos) {
    return Status::InvalidArgument("webhook url \"" + url +
                                   "\": want scheme://host[:port]/path (no user@; put "
                                   "credentials in a header)");
  }
  std::string rest = url.substr(host_end);
  if (const size_t hash = rest.find('#'); hash != std::string::npos) rest.resize(hash);
  if (rest.empty() || rest.front() == '?') rest = std::string("/").append(rest);
  *scheme_host_port = scheme + "://" + authority;
  *path = std::move(rest);
  return Status::Ok();
}

StatusOr<std::unique_ptr<WebhookSink>> WebhookSink::Create(const WebhookSinkOptions& options,
                                                           MetricsRegistry& registry) {
  std::string base, path;
  if (Status s = SplitHttpUrl(options.url, &base, &path); !s.ok()) return s;
  if (options.max_attempts < 1) {
    return Status::InvalidArgument("webhook " + options.url + ": max_attempts must be at least 1");
  }
  auto client = std::make_unique<httplib::Client>(base);
  if (!client->is_valid()) {
    return Status::InvalidArgument("webhook url \"" + options.url +
                                   "\": scheme or host not usable by the HTTP client");
  }
  client->set_connection_timeout(options.connect_timeout);
  client->set_read_timeout(options.timeout);
  client->set_write_timeout(options.timeout);
  client->set_follow_location(false);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  client->enable_server_certificate_verification(true);
#endif
  return std::unique_ptr<WebhookSink>(
      new WebhookSink(options, std::move(path), std::move(client), registry));
}

WebhookSink::WebhookSink(const WebhookSinkOptions& options, std::string path,
                         std::unique_ptr<httplib::Client> client, MetricsRegistry& registry)
    : options_(options),
      path_(std::move(path)),
      client_(std::move(client)),
      backoff_(options.initial_backoff, options.max_backoff),
      queue_(options.name, options.queue, registry) {
  queue_.Start([this](const Alert& a) { return Deliver(a); });
}

WebhookSink::~WebhookSink() {
  // A server that accepts and never answers would otherwise hold the
  // delivery thread (and so the stop) for connect_timeout + timeout.
  queue_.Stop([this] { client_->stop(); });
}

DeliveryResult WebhookSink::Deliver(const Alert& alert) {
  const std::string body = options_.encoder ? options_.encoder(alert) : AlertToJson(alert);
  httplib::Headers headers;
  headers.emplace("User-Agent", "konseki/" KONSEKI_VERSION);
  for (const auto& [k, v] : options_.headers) headers.emplace(k, v);

  for (int attempt = 1;; ++attempt) {
    if (queue_.Aborting()) return DeliveryResult::Dropped("shutdown");
    auto res = client_->Post(path_, headers, body, options_.content_type);
    std::chrono::milliseconds wait = backoff_.Next();
    if (res && res->status >= 200 && res->status < 300) {
      backoff_.Reset();
      return DeliveryResult::Delivered();
    }
    if (!res) {
      if (queue_.Aborting()) return DeliveryResult::Dropped("shutdown");  // stop() cut it
      const httplib::Error e = res.error();
      queue_.CountFailure(e == httplib::Error::Read || e == httplib::Error::Write ? "io"
                                                                                  : "connect");
    } else {
      const int code = res->status;
      const bool retryable = code == 408 || code == 429 || code >= 500;
      queue_.CountFailure(code >= 500 ? "http_5xx" : "http_4xx");
      if (!retryable) return DeliveryResult::Dropped("permanent_error");
      const std::string retry_after = res->get_header_value("Retry-After");
      unsigned secs = 0;
      auto [p, ec] =
          std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), secs);
      if (!retry_after.empty() && ec == std::errc() &&
          p == retry_after.data() + retry_after.size()) {
        wait =
            std::min<std::chrono::milliseconds>(std::chrono::seconds(secs), options_.max_backoff);
      }
    }
    if (attempt >= options_.max_attempts) return DeliveryResult::Dropped("retries_exhausted");
    if (!queue_.Sleep(wait)) return DeliveryResult::Dropped("shutdown");
  }
}

}  // namespace konseki::outputs
