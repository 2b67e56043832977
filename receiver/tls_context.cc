#include "receiver/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace konseki::receiver {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A file that cannot be read gets the errno text, which is clearer than
// OpenSSL's "system library" error for the same cause.
Status CheckReadable(std::string_view key, const std::string& path) {
  if (path.empty()) {
    return Status::InvalidArgument("tls." + std::string(key) + " is required for tls:// listeners");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::FromErrno("tls." + std::string(key) + " " + path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("tls." + std::string(key) + " " + path + ": not a regular file");
  }
  return Status::Ok();
}

// The leaf certificate's validity period and subject.
TlsContext::Validity ValidityOf(SSL_CTX* ctx) {
  TlsContext::Validity v;
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr) return v;
  auto unix_time = [](const ASN1_TIME* t) -> int64_t {
    struct tm tm = {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return static_cast<int64_t>(timegm(&tm));
  };
  v.not_before = unix_time(X509_get0_notBefore(cert));
  v.not_after = unix_time(X509_get0_notAfter(cert));
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
      char* data = nullptr;
      const long len = BIO_get_mem_data(bio, &data);
      if (len > 0) v.subject.assign(data, static_cast<size_t>(len));
    }
    BIO_free(bio);
  }
  return v;
}

std::string UtcDate(int64_t t) {
  const time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

}  // namespace

std::string OpenSslErrorString(std::string_view fallback) {
  unsigned long first = ERR_get_error();
  ERR_clear_error();
  if (first == 0) return std::string(fallback);
  char buf[256];
  ERR_error_string_n(first, buf, sizeof buf);
  return buf;
}

bool PeerNameMatches(std::string_view pattern, std::string_view name) {
  if (pattern.empty() || name.empty()) return false;
  if (EqualsIgnoreCase(pattern, name)) return true;
  if (pattern.size() < 3 || pattern[0] != '*' || pattern[1] != '.') return false;
  const std::string_view suffix = pattern.substr(1);  // ".example.com"
  if (name.size() <= suffix.size()) return false;
  if (!EqualsIgnoreCase(name.substr(name.size() - suffix.size()), suffix)) return false;
  const std::string_view label = name.substr(0, name.size() - suffix.size());
  return label.find_first_of(".*") == std::string_view::npos;
}

namespace {

bool AnyMatches(std::string_view name, const std::vector<std::string>& patterns) {
  // Certificates with a NUL inside a name are forged; never match them.
  if (name.find('\0') != std::string_view::npos) return false;
  for (const std::string& p : patterns) {
    if (PeerNameMatches(p, name)) return true;
  }
  return false;
}

}  // namespace

bool CertificateMatches(X509* cert, const std::vector<std::string>& patterns) {
  if (cert == nullptr) return false;
  bool matched = false;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans) && !matched; ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type != GEN_DNS) continue;
      const ASN1_STRING* s = gn->d.dNSName;
      matched = AnyMatches(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                            static_cast<size_t>(ASN1_STRING_length(s))),
                           patterns);
    }
    GENERAL_NAMES_free(sans);
  }
  if (matched) return true;
  X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, s);
    if (len < 0) continue;
    matched = AnyMatches(std::string_view(reinterpret_cast<char*>(utf8), static_cast<size_t>(len)),
                         patterns);
    OPENSSL_free(utf8);
    if (matched) return true;
  }
  return false;
}

StatusOr<std::unique_ptr<TlsContext>> TlsContext::Create(const TlsOptions& options) {
  if (Status st = CheckReadable("cert_file", options.cert_file); !st.ok()) return st;
  if (Status st = CheckReadable("key_file", options.key_file); !st.ok()) return st;
  if (!options.permitted_peers.empty() && !options.mutual) {
    return Status::InvalidArgument(
        "tls.permitted_peers needs tls.mutual: true (peers are named by their client "
        "certificates)");
  }
  for (const std::string& p : options.permitted_peers) {
    if (p.empty() || (p.find('*') != std::string::npos && (p.rfind("*.", 0) != 0 || p.size() < 3 ||
                                                           p.find('*', 1) != std::string::npos))) {
      return Status::InvalidArgument("tls.permitted_peers: \"" + p +
                                     "\" is not a name or a \"*.example.com\" pattern");
    }
  }
  if (options.mutual) {
    if (Status st = CheckReadable("ca_file", options.ca_file); !st.ok()) {
      return Status(st.code(), st.message() + " (needed by tls.mutual: true)");
    }
  }

  std::unique_ptr<TlsContext> c(new TlsContext(options));
  auto ctx = c->NewCtx();
  if (!ctx.ok()) return ctx.status();
  c->ctx_ = *ctx;
  c->validity_ = ValidityOf(c->ctx_);
  return c;
}

TlsContext::Validity TlsContext::validity() const {
  std::lock_guard<std::mutex> lock(mu_);
  return validity_;
}

std::string TlsContext::DescribeValidity(const Validity& v, int64_t now, int64_t warn_secs,
                                         bool* expired) {
  *expired = false;
  if (v.not_after != 0 && now > v.not_after) {
    *expired = true;
    return "expired on " + UtcDate(v.not_after) + ": senders that verify it refuse to connect";
  }
  // Senders' clocks differ by a little: a certificate that starts within
  // five minutes is taken as valid (Let's Encrypt back-dates by an hour).
  if (v.not_before != 0 && now + 300 < v.not_before) {
    *expired = true;
    return "not valid before " + UtcDate(v.not_before) +
           ": senders that verify it refuse to connect until then";
  }
  if (v.not_after != 0 && v.not_after - now <= warn_secs) {
    return "expires on " + UtcDate(v.not_after) + " (in " +
           std::to_string((v.not_after - now + 43200) / 86400) + " days)";
  }
  return "";
}

StatusOr<SSL_CTX*> TlsContext::NewCtx() {
  const TlsOptions& options = options_;
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> owned(SSL_CTX_new(TLS_server_method()),
                                                          &SSL_CTX_free);
  if (owned == nullptr) return Status::Internal("SSL_CTX_new: " + OpenSslErrorString());
  SSL_CTX* ctx = owned.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // TLS 1.2: forward-secret AEAD suites only (Mozilla's "intermediate"
  // list), not OpenSSL's default, which still takes static-RSA and CBC-SHA1
  // suites such as AES128-SHA. Every sender konseki documents (rsyslog's
  // gtls and ossl drivers, librelp, syslog-ng, OpenSSL 1.0.1 and GnuTLS 3
  // onwards) offers ECDHE with AES-GCM. TLS 1.3's suites are all of that
  // kind and stay OpenSSL's.
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return Status::Internal("SSL_CTX_set_cipher_list: " + OpenSslErrorString());
  }
  // Syslog clients never resume sessions and never read: no tickets, no cache.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle connections give their record buffers back (~34 KiB each).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
    return Status::InvalidArgument(
        "tls.cert_file " + options.cert_file +
        ": cannot load a PEM certificate chain: " + OpenSslErrorString());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const unsigned long err = ERR_peek_error();
    if (ERR_GET_LIB(err) == ERR_LIB_X509 && ERR_GET_REASON(err) == X509_R_KEY_VALUES_MISMATCH) {
      return Status::InvalidArgument("tls.key_file " + options.key_file +
                                     " does not belong to the certificate in tls.cert_file " +
                                     options.cert_file + ": " + OpenSslErrorString());
    }
    return Status::InvalidArgument("tls.key_file " + options.key_file +
                                   ": cannot load a PEM private key: " + OpenSslErrorString());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument("tls.key_file " + options.key_file +
                                   " does not belong to the certificate in tls.cert_file " +
                                   options.cert_file + ": " + OpenSslErrorString());
  }
  if (options.mutual) {
    if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
      return Status::InvalidArgument("tls.ca_file " + options.ca_file +
                                     ": cannot load PEM CA certificates: " + OpenSslErrorString());
    }
    // Names the acceptable CAs in the CertificateRequest, so clients with
    // several certificates pick the right one.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_file.c_str());
    if (names == nullptr) {
      return Status::InvalidArgument("tls.ca_file " + options.ca_file +
                                     ": no CA certificate found: " + OpenSslErrorString());
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_app_data(ctx, this);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, &VerifyCallback);
  }
  ERR_clear_error();
  return owned.release();
}

Status TlsContext::Reload() {
  if (Status st = CheckReadable("cert_file", options_.cert_file); !st.ok()) return st;
  if (Status st = CheckReadable("key_file", options_.key_file); !st.ok()) return st;
  if (options_.mutual) {
    if (Status st = CheckReadable("ca_file", options_.ca_file); !st.ok()) return st;
  }
  auto fresh = NewCtx();
  if (!fresh.ok()) return fresh.status();
  // A renewal that would lock every verifying sender out is refused: the
  // certificate in use may still be good.
  const Validity validity = ValidityOf(*fresh);
  bool unusable = false;
  const std::string problem =
      DescribeValidity(validity, static_cast<int64_t>(time(nullptr)), 0, &unusable);
  if (unusable) {
    SSL_CTX_free(*fresh);
    return Status::InvalidArgument("tls.cert_file " + options_.cert_file + ": " + problem);
  }
  SSL_CTX* old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = ctx_;
    ctx_ = *fresh;
    validity_ = validity;
  }
  // Connections made with the old context hold a reference to it.
  SSL_CTX_free(old);
  return Status::Ok();
}

int TlsContext::VerifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok != 1) return 0;
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return 0;
  const auto* self = static_cast<const TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (self == nullptr || self->options_.permitted_peers.empty()) return 1;
  if (CertificateMatches(X509_STORE_CTX_get_current_cert(store), self->options_.permitted_peers)) {
    return 1;
  }
  // The listener reads this back (SSL_get_verify_result) to count the refusal
  // as peer_not_permitted rather than as a bad certificate.
  X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
  return 0;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

SSL* TlsContext::NewSsl() const {
  std::lock_guard<std::mutex> lock(mu_);
  return SSL_new(ctx_);
}

}  // namespace konseki::receiver
