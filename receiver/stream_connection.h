// The transport half of a stream listener's connection: the byte stream of
// one accepted socket as StreamListener's epoll loop sees it, plain TCP or
// TLS on top of it. The listener serves every protocol (RFC 6587, RELP;
// receiver/stream_handler.h) over either without knowing which. The TLS
// implementation lives in konseki_tls (receiver/tls_connection.h) so
// konseki_net does not depend on OpenSSL. A new transport implements
// StreamTransport (one per listener) and StreamConnection (one per socket).
#ifndef KONSEKI_RECEIVER_STREAM_CONNECTION_H_
#define KONSEKI_RECEIVER_STREAM_CONNECTION_H_

#include <cstddef>
#include <memory>

namespace konseki::receiver {

// Outcome of one non-blocking Read or Write.
enum class IoStatus {
  kOk,         // `bytes` > 0 were moved
  kWantRead,   // retry once the socket is readable (TLS may need this on a write)
  kWantWrite,  // retry once the socket is writable (TLS may need this on a read)
  kClosed,     // orderly end of stream (EOF, TLS close_notify)
  kError,      // broken: close the connection
};

struct IoResult {
  IoStatus status = IoStatus::kOk;
  size_t bytes = 0;
};

// One connection over a non-blocking socket that the caller owns and keeps
// open for the lifetime of this object. Used by one thread.
class StreamConnection {
 public:
  virtual ~StreamConnection() = default;

  // Reads up to len bytes of application data. A transport with a handshake
  // advances it first (and may return kWantRead/kWantWrite until it is done).
  virtual IoResult Read(char* buf, size_t len) = 0;
  // Writes up to len bytes of application data; may write fewer (kOk with
  // bytes < len). After kWantRead/kWantWrite, call again with the same bytes
  // at the start of buf (more may follow them).
  virtual IoResult Write(const char* buf, size_t len) = 0;
  // True if input was already taken off the socket and is buffered inside
  // the transport, where epoll cannot see it.
  virtual bool HasBufferedInput() const = 0;
  // True once application data can flow (always for plain TCP).
  virtual bool Established() const = 0;
  // The caller gives up on a connection that is not Established() in time
  // (counted by the transport) and closes it.
  virtual void HandshakeTimedOut() = 0;
  // Best-effort orderly close before the caller closes the socket (TLS
  // close_notify); never blocks.
  virtual void Shutdown() = 0;
};

// Plain TCP: recv(2) / send(2).
class PlainConnection final : public StreamConnection {
 public:
  explicit PlainConnection(int fd) : fd_(fd) {}
  IoResult Read(char* buf, size_t len) override;
  IoResult Write(const char* buf, size_t len) override;
  bool HasBufferedInput() const override { return false; }
  bool Established() const override { return true; }
  void HandshakeTimedOut() override {}
  void Shutdown() override {}

 private:
  const int fd_;
};

// Makes the StreamConnection for each accepted socket of a listener.
// Thread-safety: Wrap is called from the listener's thread only.
class StreamTransport {
 public:
  virtual ~StreamTransport() = default;
  // fd is an accepted non-blocking socket; it stays owned by the caller and
  // must outlive the result. Null if the transport cannot take it (counted
  // by the caller as an accept error).
  virtual std::unique_ptr<StreamConnection> Wrap(int fd) = 0;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_STREAM_CONNECTION_H_
