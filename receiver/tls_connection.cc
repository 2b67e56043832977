#include "receiver/tls_connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <climits>

namespace konseki::receiver {
namespace {

bool IsUnexpectedEof(unsigned long err) {
  return ERR_GET_LIB(err) == ERR_LIB_SSL &&
         ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

// OpenSSL's verdicts on a first record that is not TLS at all: a sender
// configured for plain TCP (rsyslog omfwd without StreamDriver) pointed at a
// tls:// port writes "<13>..." or "52 <13>...", whose bytes read as no TLS
// version; its lines are lost, and `konseki status` names this apart from
// other handshake failures.
bool IsNotTls(unsigned long err) {
  if (ERR_GET_LIB(err) != ERR_LIB_SSL) return false;
  const int reason = ERR_GET_REASON(err);
  return reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST ||
         reason == SSL_R_HTTPS_PROXY_REQUEST;
}

int ClampLength(size_t len) { return static_cast<int>(std::min<size_t>(len, INT_MAX)); }

}  // namespace

TlsCounters TlsCounters::Register(MetricsRegistry& metrics, const std::string& listener) {
  const Labels l = {{"listener", listener}};
  auto failure = [&](const char* reason) {
    return metrics.GetCounter("konseki_tls_handshake_failures_total",
                              "TLS handshakes that failed or were refused",
                              {{"listener", listener}, {"reason", reason}});
  };
  TlsCounters c;
  c.handshakes = metrics.GetCounter("konseki_tls_handshakes_total",
                                    "TLS handshakes completed and accepted", l);
  c.read_errors = metrics.GetCounter("konseki_tls_read_errors_total",
                                     "TLS errors on established connections", l);
  c.hs_timeout = failure("timeout");
  c.hs_closed = failure("closed");
  c.hs_no_peer_cert = failure("no_peer_cert");
  c.hs_verify_failed = failure("cert_verify_failed");
  c.hs_not_permitted = failure("peer_not_permitted");
  c.hs_client_alert = failure("client_alert");
  c.hs_closed_after = failure("closed_after_handshake");
  c.hs_not_tls = failure("not_tls");
  c.hs_protocol = failure("protocol_error");
  return c;
}

std::unique_ptr<TlsConnection> TlsConnection::Create(const TlsContext& context, int fd,
                                                     const TlsCounters* counters) {
  SSL* ssl = context.NewSsl();
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read whole socket buffers rather than one record header and body at a
  // time: a RELP sender puts each small message in its own record.
  SSL_set_read_ahead(ssl, 1);
  return std::unique_ptr<TlsConnection>(new TlsConnection(ssl, counters));
}

TlsConnection::~TlsConnection() { SSL_free(ssl_); }

void TlsConnection::CountHandshakeFailure(int ssl_error) {
  const long verify = SSL_get_verify_result(ssl_);
  const unsigned long err = ERR_peek_error();
  if (verify == X509_V_ERR_HOSTNAME_MISMATCH) {
    counters_->hs_not_permitted->Inc();  // set by TlsContext's verify callback
  } else if (verify != X509_V_OK) {
    counters_->hs_verify_failed->Inc();
  } else if (ERR_GET_LIB(err) == ERR_LIB_SSL &&
             ERR_GET_REASON(err) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
    counters_->hs_no_peer_cert->Inc();
  } else if (ERR_GET_LIB(err) == ERR_LIB_SSL && ERR_GET_REASON(err) >= SSL_AD_REASON_OFFSET) {
    counters_->hs_client_alert->Inc();  // e.g. the client does not trust our certificate
  } else if (ssl_error == SSL_ERROR_SSL && IsNotTls(err)) {
    counters_->hs_not_tls->Inc();
  } else if (ssl_error == SSL_ERROR_ZERO_RETURN || ssl_error == SSL_ERROR_SYSCALL ||
             IsUnexpectedEof(err)) {
    counters_->hs_closed->Inc();
  } else {
    counters_->hs_protocol->Inc();
  }
  ERR_clear_error();
}

IoResult TlsConnection::Handshake() {
  ERR_clear_error();
  const int r = SSL_accept(ssl_);
  if (r == 1) {
    established_ = true;
    counters_->handshakes->Inc();
    return {IoStatus::kOk, 0};
  }
  const int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ) return {IoStatus::kWantRead, 0};
  if (e == SSL_ERROR_WANT_WRITE) return {IoStatus::kWantWrite, 0};
  failed_ = true;
  CountHandshakeFailure(e);
  return {IoStatus::kError, 0};
}

IoResult TlsConnection::IoFailure(int ret) {
  const int e = SSL_get_error(ssl_, ret);
  if (e == SSL_ERROR_WANT_READ) return {IoStatus::kWantRead, 0};
  if (e == SSL_ERROR_WANT_WRITE) return {IoStatus::kWantWrite, 0};
  // A sender that verifies the certificate itself after the handshake
  // (rsyslog's gtls driver) and refuses it just closes: counted, since
  // such a session carried nothing.
  if (e == SSL_ERROR_ZERO_RETURN) {  // close_notify
    if (!got_data_) counters_->hs_closed_after->Inc();
    return {IoStatus::kClosed, 0};
  }
  failed_ = true;
  const unsigned long err = ERR_peek_error();
  ERR_clear_error();
  // A client that closes without close_notify is common and not an error.
  if (e == SSL_ERROR_SSL && IsUnexpectedEof(err)) {
    if (!got_data_) counters_->hs_closed_after->Inc();
    return {IoStatus::kClosed, 0};
  }
  if (e == SSL_ERROR_SSL && !got_data_ && ERR_GET_LIB(err) == ERR_LIB_SSL &&
      ERR_GET_REASON(err) >= SSL_AD_REASON_OFFSET) {
    // The client sent an alert instead of its first record: it refused our
    // certificate (TLS 1.3) after the handshake was counted.
    counters_->hs_client_alert->Inc();
    return {IoStatus::kError, 0};
  }
  if (e == SSL_ERROR_SSL) counters_->read_errors->Inc();
  return {IoStatus::kError, 0};
}

IoResult TlsConnection::Read(char* buf, size_t len) {
  if (failed_) return {IoStatus::kError, 0};
  if (!established_) {
    // The client's first records may have arrived with its Finished message,
    // so go on to read once the handshake completes.
    if (IoResult h = Handshake(); h.status != IoStatus::kOk) return h;
  }
  ERR_clear_error();
  const int n = SSL_read(ssl_, buf, ClampLength(len));
  if (n > 0) {
    got_data_ = true;
    return {IoStatus::kOk, static_cast<size_t>(n)};
  }
  return IoFailure(n);
}

IoResult TlsConnection::Write(const char* buf, size_t len) {
  if (failed_) return {IoStatus::kError, 0};
  if (!established_) {
    if (IoResult h = Handshake(); h.status != IoStatus::kOk) return h;
  }
  ERR_clear_error();
  const int n = SSL_write(ssl_, buf, ClampLength(len));
  if (n > 0) return {IoStatus::kOk, static_cast<size_t>(n)};
  return IoFailure(n);
}

bool TlsConnection::HasBufferedInput() const { return SSL_has_pending(ssl_) == 1; }

void TlsConnection::HandshakeTimedOut() {
  if (!established_) counters_->hs_timeout->Inc();
}

void TlsConnection::Shutdown() {
  if (!established_ || failed_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace konseki::receiver
