// Test support for TLS: a throw-away PKI made with the openssl CLI (EC P-256
// keys, so it takes a few tens of milliseconds) and a blocking OpenSSL client.
#ifndef KONSEKI_TESTS_RECEIVER_TLS_TEST_UTIL_H_
#define KONSEKI_TESTS_RECEIVER_TLS_TEST_UTIL_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace konseki::receiver::testing {

// Files of one certificate: <dir>/<name>.pem and <dir>/<name>.key.
struct CertFiles {
  std::string cert;
  std::string key;
};

// Makes certificates under dir with the openssl CLI. Every call logs to
// <dir>/openssl.log; error() returns that log after a failure.
class TestPki {
 public:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {}

  // A self-signed CA named cn. Returns false on failure.
  bool MakeCa(const std::string& name, const std::string& cn, CertFiles* out) {
    *out = Files(name);
    return Run(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        " -keyout " +
        out->key + " -out " + out->cert + " -days 30 -subj '/CN=" + cn +
        "' -addext basicConstraints=critical,CA:TRUE"
        " -addext keyUsage=critical,keyCertSign,cRLSign");
  }

  // A leaf certificate for cn with subjectAltName DNS:dns (none if empty),
  // signed by ca, usable for both server and client authentication.
  bool MakeLeaf(const std::string& name, const std::string& cn, const std::string& dns,
                const CertFiles& ca, CertFiles* out) {
    *out = Files(name);
    const std::string csr = dir_ + "/" + name + ".csr";
    const std::string ext = dir_ + "/" + name + ".ext";
    std::ofstream(ext) << "basicConstraints=CA:FALSE\n"
                       << "keyUsage=critical,digitalSignature\n"
                       << "extendedKeyUsage=serverAuth,clientAuth\n"
                       << (dns.empty() ? "" : "subjectAltName=DNS:" + dns + "\n");
    return Run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
               " -keyout " +
               out->key + " -out " + csr + " -subj '/CN=" + cn + "'") &&
           Run("openssl x509 -req -in " + csr + " -CA " + ca.cert + " -CAkey " + ca.key +
               " -CAserial " + dir_ + "/ca.srl -CAcreateserial -days 30 -extfile " + ext +
               " -out " + out->cert);
  }

  // A leaf for cn (subjectAltName DNS:cn) signed by ca, valid from
  // `from_days` to `to_days` days from now (negative: in the past), made with
  // OpenSSL's API: the 3.0 CLI has no way to date a certificate back.
  bool MakeDatedLeaf(const std::string& name, const std::string& cn, const CertFiles& ca,
                     long from_days, long to_days, CertFiles* out) {
    *out = Files(name);
    bool ok = false;
    FILE* f = std::fopen(ca.key.c_str(), "r");
    EVP_PKEY* ca_key = f ? PEM_read_PrivateKey(f, nullptr, nullptr, nullptr) : nullptr;
    if (f) std::fclose(f);
    f = std::fopen(ca.cert.c_str(), "r");
    X509* ca_cert = f ? PEM_read_X509(f, nullptr, nullptr, nullptr) : nullptr;
    if (f) std::fclose(f);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    if (ca_key && ca_cert && key && x) {
      X509_set_version(x, 2);
      ASN1_INTEGER_set(X509_get_serialNumber(x), 4242 + to_days);
      X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
      X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
      X509_set_pubkey(x, key);
      X509_NAME* subject = X509_get_subject_name(x);
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
      X509_set_issuer_name(x, X509_get_subject_name(ca_cert));
      X509V3_CTX v3;
      X509V3_set_ctx(&v3, ca_cert, x, nullptr, nullptr, 0);
      X509_EXTENSION* san =
          X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, ("DNS:" + cn).c_str());
      if (san) {
        X509_add_ext(x, san, -1);
        X509_EXTENSION_free(san);
      }
      FILE* cert_out = std::fopen(out->cert.c_str(), "w");
      FILE* key_out = std::fopen(out->key.c_str(), "w");
      ok = X509_sign(x, ca_key, EVP_sha256()) > 0 && cert_out && key_out &&
           PEM_write_X509(cert_out, x) == 1 &&
           PEM_write_PrivateKey(key_out, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
      if (cert_out) std::fclose(cert_out);
      if (key_out) std::fclose(key_out);
    }
    X509_free(x);
    EVP_PKEY_free(key);
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
    return ok;
  }

  std::string error() const {
    std::ifstream in(dir_ + "/openssl.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  CertFiles Files(const std::string& name) const {
    return {dir_ + "/" + name + ".pem", dir_ + "/" + name + ".key"};
  }
  bool Run(const std::string& cmd) {
    const std::string full = "(" + cmd + ") >>" + dir_ + "/openssl.log 2>&1";
    return std::system(full.c_str()) == 0;
  }
  std::string dir_;
};

// Plain TCP connect to 127.0.0.1:port, from the loopback address `source`
// (e.g. "127.0.0.2") if not empty; -1 on failure.
inline int ConnectLoopback(uint16_t port, const std::string& source = "") {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (!source.empty()) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    if (inet_pton(AF_INET, source.c_str(), &s.sin_addr) != 1 ||
        bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s) != 0) {
      close(fd);
      return -1;
    }
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A blocking OpenSSL client that verifies the server against a CA and the
// name "konseki.test", optionally presenting a client certificate.
class TlsClient {
 public:
  TlsClient() = default;
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;
  ~TlsClient() { Close(); }

  // Connects and completes the handshake (as far as the client sees it: in
  // TLS 1.3 the server may still refuse the client certificate afterwards).
  // max_version 0 means the library's highest; source as in ConnectLoopback;
  // tls12_ciphers, if not empty, the only TLS 1.2 suites offered.
  bool Connect(uint16_t port, const std::string& ca_file, const CertFiles* client_cert = nullptr,
               int max_version = 0, const std::string& source = "",
               const std::string& tls12_ciphers = "") {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return Fail("SSL_CTX_new");
    if (max_version != 0) SSL_CTX_set_max_proto_version(ctx_, max_version);
    if (!tls12_ciphers.empty() && SSL_CTX_set_cipher_list(ctx_, tls12_ciphers.c_str()) != 1) {
      return Fail("cipher list");
    }
    if (SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) return Fail("load CA");
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (client_cert != nullptr &&
        (SSL_CTX_use_certificate_chain_file(ctx_, client_cert->cert.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx_, client_cert->key.c_str(), SSL_FILETYPE_PEM) != 1)) {
      return Fail("load client cert");
    }
    fd_ = ConnectLoopback(port, source);
    if (fd_ < 0) return Fail("connect");
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set1_host(ssl_, "konseki.test");
    if (SSL_connect(ssl_) != 1) return Fail("SSL_connect");
    return true;
  }

  // Writes all of data; false if the connection failed.
  bool Send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      int n = SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
      if (n <= 0) return Fail("SSL_write");
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Sends close_notify and closes the socket.
  void Close() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }

  const std::string& error() const { return error_; }

 private:
  bool Fail(const std::string& what) {
    char buf[256] = "";
    unsigned long e = ERR_get_error();
    if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    error_ = what + ": " + buf;
    return false;
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::string error_;
};

// "LEN SP MSG" (RFC 5425 / RFC 6587 octet counting).
inline std::string OctetCounted(const std::string& msg) {
  return std::to_string(msg.size()) + " " + msg;
}

}  // namespace konseki::receiver::testing

#endif  // KONSEKI_TESTS_RECEIVER_TLS_TEST_UTIL_H_
