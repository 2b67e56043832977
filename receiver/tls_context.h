// Server-side TLS configuration (RFC 5425) over OpenSSL: one SSL_CTX with the
// certificate, key, CA and client-certificate policy, shared by the TLS
// listeners and the relp+tls:// RELP listeners.
#ifndef KONSEKI_RECEIVER_TLS_CONTEXT_H_
#define KONSEKI_RECEIVER_TLS_CONTEXT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct x509_st X509;
typedef struct x509_store_ctx_st X509_STORE_CTX;

namespace konseki::receiver {

// Config key `tls:` in the server config; applies to every tls:// listener.
struct TlsOptions {
  // PEM certificate chain presented to clients, leaf first. Required.
  std::string cert_file;
  // PEM private key of the leaf certificate. Required.
  std::string key_file;
  // PEM CA certificates that client certificates must chain to. Required
  // when mutual is true; ignored otherwise.
  std::string ca_file;
  // Require a client certificate that verifies against ca_file; a client
  // without one is refused during the handshake.
  bool mutual = false;
  // If not empty, a client certificate must also carry one of these names,
  // in its subjectAltName DNS entries or (as rsyslog does) its subject CN.
  // Matching is case-insensitive; "*.example.com" matches exactly one more
  // label ("a.example.com", not "example.com" nor "a.b.example.com"), as
  // rsyslog documents for its permittedPeer wildcards (after RFC 5425).
  // Certificate fingerprints ("SHA1:..") are not supported.
  // Requires mutual = true (like rsyslog's PermittedPeer with x509/name).
  std::vector<std::string> permitted_peers;
};

// True if `name` (a certificate DNS name or CN) is allowed by `pattern` (one
// permitted_peers entry) under the rules above. Pure; exposed for tests.
bool PeerNameMatches(std::string_view pattern, std::string_view name);

// True if some subjectAltName DNS entry or the subject CN of cert matches one
// of patterns. A null cert matches nothing.
bool CertificateMatches(X509* cert, const std::vector<std::string>& patterns);

// The TLS 1.2 suites a listener accepts (OpenSSL cipher list syntax):
// ECDHE/DHE key exchange with AES-GCM or ChaCha20-Poly1305.
inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

// Owns one SSL_CTX set up for a server: TLS 1.2 minimum, kTls12Ciphers for
// TLS 1.2, certificate and key
// loaded and checked against each other, client verification per options.
// Thread-safe (OpenSSL allows SSL_new from any thread on a shared SSL_CTX;
// Reload swaps the SSL_CTX under a mutex). Not copyable.
class TlsContext {
 public:
  // Loads the files. Errors (InvalidArgument or IoError) name the option, the
  // file and OpenSSL's error string.
  static StatusOr<std::unique_ptr<TlsContext>> Create(const TlsOptions& options);
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  ~TlsContext();

  // A new server-side SSL for one connection, or null if OpenSSL is out of
  // memory. The caller owns it (SSL_free).
  SSL* NewSsl() const;

  // Reads the certificate, key and CA files again (same paths, same policy),
  // for renewed certificates on SIGHUP. New connections use the new ones;
  // established connections keep theirs. On error (named as by Create) the
  // current files stay in use.
  Status Reload();

  const TlsOptions& options() const { return options_; }

  // The validity period of the certificate in use (the chain's leaf), Unix
  // seconds; 0 when OpenSSL could not say.
  struct Validity {
    int64_t not_before = 0;
    int64_t not_after = 0;
    std::string subject;  // one line, OpenSSL's RFC 2253 form
  };
  Validity validity() const;
  // What a sender verifying the certificate at `now` would object to:
  // "expired on ...", "not valid before ...", or (within warn_secs of its
  // end) "expires on ... (N days)"; empty when none. *expired is set when
  // senders refuse it now.
  static std::string DescribeValidity(const Validity& v, int64_t now, int64_t warn_secs,
                                      bool* expired);

 private:
  explicit TlsContext(const TlsOptions& options) : options_(options) {}
  // A new SSL_CTX from options_ (files read now), owned by the caller.
  StatusOr<SSL_CTX*> NewCtx();
  static int VerifyCallback(int preverify_ok, X509_STORE_CTX* store);

  const TlsOptions options_;
  mutable std::mutex mu_;   // guards ctx_ and validity_ (NewSsl vs Reload)
  SSL_CTX* ctx_ = nullptr;  // owned
  Validity validity_;
};

// The first OpenSSL error on this thread's queue as text ("error:...:reason"),
// or `fallback` if the queue is empty. Clears the queue.
std::string OpenSslErrorString(std::string_view fallback = "no OpenSSL error");

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_TLS_CONTEXT_H_
