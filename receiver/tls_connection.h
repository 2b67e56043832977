// Server side of one TLS connection over a non-blocking socket (OpenSSL), and
// the handshake counters it reports to. Shared by the TLS syslog listener and
// the RELP listener (relp+tls://), so the handshake, the peer check and the
// failure classification exist once.
#ifndef KONSEKI_RECEIVER_TLS_CONNECTION_H_
#define KONSEKI_RECEIVER_TLS_CONNECTION_H_

#include <memory>
#include <string>

#include "common/metrics.h"
#include "receiver/stream_connection.h"
#include "receiver/tls_context.h"

namespace konseki::receiver {

// Handshake and TLS error counters of one listener:
//   konseki_tls_handshakes_total{listener}  completed and accepted handshakes
//   konseki_tls_handshake_failures_total{listener,reason} with reason one of
//     "timeout"            not completed in time (HandshakeTimedOut)
//     "closed"             the client went away during the handshake
//     "no_peer_cert"       mutual TLS and the client sent no certificate
//     "cert_verify_failed" the client certificate does not verify with ca_file
//     "peer_not_permitted" verified, but no name is in permitted_peers
//     "client_alert"       the client aborted with an alert, typically because
//                          it does not trust the server certificate or name
//     "not_tls"            the first bytes are no TLS record: plain syslog (or
//                          HTTP) sent to a TLS port; the sender's lines are lost
//     "protocol_error"     anything else (no common version or cipher...)
//   konseki_tls_read_errors_total{listener}  TLS errors after the handshake
// The pointers belong to the registry, which must outlive every user.
struct TlsCounters {
  static TlsCounters Register(MetricsRegistry& metrics, const std::string& listener);

  Counter* handshakes;
  Counter* read_errors;
  Counter* hs_timeout;
  Counter* hs_closed;
  Counter* hs_no_peer_cert;
  Counter* hs_verify_failed;
  Counter* hs_not_permitted;
  Counter* hs_client_alert;
  Counter* hs_closed_after;  // closed after the handshake, before any data
  Counter* hs_not_tls;
  Counter* hs_protocol;
};

// One server-side SSL on an accepted socket. The handshake runs inside the
// first Read/Write calls; once it completes the handshake is counted, and a
// failure is classified and counted before kError is returned.
//
// Writes use SSL_MODE_ENABLE_PARTIAL_WRITE and
// SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER: a Write may return fewer bytes than
// asked, and after kWantRead/kWantWrite the retry may pass a buffer that has
// moved or grown (a RELP session appends acks to its output while a record
// is still waiting to go out), as long as it starts with the same bytes.
//
// Not thread-safe; not copyable.
class TlsConnection final : public StreamConnection {
 public:
  // null if OpenSSL cannot make the SSL (out of memory). fd is not owned and
  // must outlive the connection; context and counters too.
  static std::unique_ptr<TlsConnection> Create(const TlsContext& context, int fd,
                                               const TlsCounters* counters);
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;
  ~TlsConnection() override;

  IoResult Read(char* buf, size_t len) override;
  IoResult Write(const char* buf, size_t len) override;
  bool HasBufferedInput() const override;
  bool Established() const override { return established_; }
  void HandshakeTimedOut() override;
  // Sends close_notify if the connection is established and not broken.
  void Shutdown() override;

 private:
  TlsConnection(SSL* ssl, const TlsCounters* counters) : ssl_(ssl), counters_(counters) {}
  // kOk once established (bytes = 0).
  IoResult Handshake();
  void CountHandshakeFailure(int ssl_error);
  // Maps SSL_get_error after a failed SSL_read/SSL_write.
  IoResult IoFailure(int ret);

  SSL* const ssl_;  // owned
  const TlsCounters* const counters_;
  bool established_ = false;
  bool failed_ = false;  // a fatal TLS error: no close_notify
  // Application data has been read: a TLS alert before it is the client
  // refusing the session (TLS 1.3 clients verify the server's certificate
  // after the server's side of the handshake has completed).
  bool got_data_ = false;
};

// The tls:// and relp+tls:// transport: wraps each accepted socket in a
// TlsConnection.
class TlsTransport final : public StreamTransport {
 public:
  // context and metrics must outlive the transport.
  TlsTransport(const TlsContext& context, MetricsRegistry& metrics, const std::string& listener)
      : context_(context), counters_(TlsCounters::Register(metrics, listener)) {}
  std::unique_ptr<StreamConnection> Wrap(int fd) override {
    return TlsConnection::Create(context_, fd, &counters_);
  }

 private:
  const TlsContext& context_;
  const TlsCounters counters_;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_TLS_CONNECTION_H_
