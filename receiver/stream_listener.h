// Syslog over a byte stream, RFC 6587 framed: tcp:// (plain sockets) and
// tls:// (RFC 5425, a TlsTransport): many connections, one epoll thread.
// What the transports share lives here once: accept, allow list, connection
// limits, pausing accept, rate-limit pauses, handshake/idle timeouts, the
// epoll loop, the stop drain and one set of counters. A transport
// (receiver/stream_connection.h) only moves bytes.
#ifndef KONSEKI_RECEIVER_STREAM_LISTENER_H_
#define KONSEKI_RECEIVER_STREAM_LISTENER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/metrics.h"
#include "common/status.h"
#include "receiver/connection_limits.h"
#include "receiver/framer.h"
#include "receiver/listen_address.h"
#include "receiver/listener.h"
#include "receiver/sender_allowlist.h"
#include "receiver/socket_util.h"
#include "receiver/stop_drain.h"
#include "receiver/stream_connection.h"
#include "receiver/token_bucket.h"
#include "receiver/unique_fd.h"

namespace konseki::receiver {

struct StreamListenerOptions {
  // Longer messages are cut to this many bytes (truncated = true, counted)
  // and the rest skipped; also bounds each connection's framing buffer.
  size_t max_message_bytes = 65536;
  // Connections open at once (handshaking or not). When full, a new
  // connection closes the longest idle one (receiver/connection_limits.h).
  size_t max_connections = 4096;
  // Per-source cap and the timeout of connections that never sent a frame.
  ConnectionLimitOptions limits;
  // (Plaintext) bytes taken from one connection per epoll round, so one busy
  // sender cannot starve the others; also the size of the one read buffer.
  size_t read_chunk_bytes = 64 * 1024;
  // tls:// only: a connection that has not completed its handshake this long
  // after accept (by the injected Clock, checked about once a clock second)
  // is closed and counted as reason="timeout". Must be positive.
  int handshake_timeout_secs = 10;
  // An established connection with no bytes for this long is closed. 0: never.
  int idle_timeout_secs = 0;
  // listen(2) backlog.
  int backlog = 1024;
  // Stop(): longest time spent reading open connections after accepting
  // stopped (see receiver/stop_drain.h); 0 closes them at once.
  int stop_timeout_ms = 5000;
  // Senders accepted; default-constructed = everyone. A connection from
  // elsewhere is closed right after accept(2), before any TLS work (no SSL
  // object, no handshake), counted and reported to `alerts`.
  SenderAllowlist allow;
  // Per-source-address token bucket over messages (all connections from one
  // address share it). A sender over its rate is not read until its bucket
  // refills; nothing is dropped and other senders are unaffected. Handshakes
  // are not limited. Disabled by default.
  TokenBucketOptions rate_limit;
  // Where refusals are reported (sign "receiver.refused", rate-limited per
  // RefusalReporterOptions); null = not reported. Not owned; must be
  // thread-safe and outlive the listener.
  AlertSink* alerts = nullptr;
  RefusalReporterOptions refusal_alerts;
};

// Accepts connections and reads all of them on one epoll thread, framing
// each with its own Framer (RFC 6587: octet counting or LF) and pushing
// frames to the sink.
//
// Never blocks on one connection: sockets are non-blocking, each connection
// gets at most read_chunk_bytes per round, and a transport that waits for
// the socket (a TLS handshake or record) is resumed when epoll says it is
// ready (in or out, as the transport asked). Input a transport already took
// off the socket (TLS records) is served without waiting for epoll. A client
// that connects and sends nothing, stops mid-handshake or mid-record holds
// only its own slot, until the timeouts or ConnectionLimits free it.
//
// Backpressure: while sink->HasCapacity() is false nothing is read or
// handshaken (data waits in the kernel and the senders' TCP windows close)
// and the thread re-checks every few ms; nothing is dropped. Push is only
// called after HasCapacity() said true, so a sink must accept at least one
// read chunk's worth of frames beyond that point; a refused Push is counted
// as dropped{stage="receiver",reason="queue_full"}.
//
// Metrics (listener = address.ToString(), transport = "tcp" or "tls"):
//   konseki_received_messages_total{listener,transport}
//   konseki_received_bytes_total{listener,transport} (plaintext message bytes)
//   konseki_truncated_messages_total{listener}
//   konseki_framing_errors_total{listener,reason="malformed_octet_count"|"incomplete_frame"}
//   konseki_connections{listener} (gauge)
//   konseki_connections_rejected_total{listener,reason="max_connections"}
//   konseki_connections_evicted_total{listener,reason} (ConnectionLimits)
//   konseki_accept_errors_total{listener} (e.g. out of file descriptors)
//   konseki_refused_senders_total{listener,transport} (connections not allowed)
//   konseki_suppressed_alerts_total{sign="receiver.refused"}
//   konseki_rate_limit_pauses_total{listener,transport} (a connection stopped
//     being read because its sender ran out of tokens)
// and tls:// the TLS counters its TlsTransport registers (TlsCounters,
// receiver/tls_connection.h: konseki_tls_handshakes_total,
// konseki_tls_handshake_failures_total{listener,reason}, ...).
//
// Thread-safety: Bind, Start, Stop and the destructor are called from one
// control thread; port() from any thread.
class StreamListener final : public Listener {
 public:
  // Creates, binds and listens; no thread runs yet. The registry and clock
  // must outlive the listener. transport: null for tcp:// (plain sockets),
  // required for tls:// (a TlsTransport, receiver/tls_connection.h); the
  // listener owns it and uses it from its thread only.
  static StatusOr<std::unique_ptr<StreamListener>> Bind(
      const ListenAddress& address, const StreamListenerOptions& options, uint16_t listener_id,
      MetricsRegistry& metrics, const Clock& clock,
      std::unique_ptr<StreamTransport> transport = nullptr);
  StreamListener(const StreamListener&) = delete;
  StreamListener& operator=(const StreamListener&) = delete;
  // Stops if running.
  ~StreamListener() override;

  uint16_t port() const override { return port_; }

  // Starts the epoll thread (Listener::Start).
  void Start(FrameSink* sink) override;
  // Stops accepting (connections already queued by the kernel are accepted
  // first), reads every open connection until its sender closes, or no
  // sender sent a byte for StopDrain::kQuiet, or stop_timeout_ms passed;
  // then emits each established connection's unterminated last frame, shuts
  // transports down (TLS close_notify), closes all connections, flushes the
  // sink and joins.
  // Idempotent.
  void Stop() override;
  // Starts what Stop() does without waiting for it, so several listeners
  // drain at the same time; Stop() then waits. Thread-safe.
  void RequestStop() override { wake_.Signal(); }
  // Nothing is acknowledged: the same as Stop().
  void Shutdown() override { Stop(); }

 private:
  struct Connection;

  StreamListener(const ListenAddress& address, const StreamListenerOptions& options,
                 uint16_t listener_id, MetricsRegistry& metrics, const Clock& clock, UniqueFd fd,
                 WakeFd wake, std::unique_ptr<StreamTransport> transport);
  void Run();
  // Accepts up to a round's worth; true if more may be waiting.
  bool AcceptSome();
  // Accepts what the kernel queued, stops watching the listen socket and
  // the wake fd, and starts the drain.
  void BeginStop(StopDrain* drain);
  // Advances the connection; returns false if it must be closed.
  bool Service(Connection* c, TimePoint now);
  // Handshakes first if needed, then reads up to read_chunk_bytes of
  // plaintext. Returns false on EOF or error.
  bool ReadSome(Connection* c, TimePoint now);
  // Sets the epoll interest to what the transport waits for.
  void WantEvents(Connection* c, uint32_t events);
  // Rate limit: stop watching c until its sender has a token again.
  void Pause(Connection* c);
  // Re-arms paused connections whose sender has a token (and serves what
  // the transport may hold for them next round); returns the epoll timeout (ms)
  // until the next check, -1 if nothing is paused.
  int ResumeReady(TimePoint now);
  void CloseConnection(int fd);
  // About once a clock second: handshake and idle timeouts; then the
  // first-frame timeout (ConnectionLimits).
  void CloseExpired(TimePoint now);
  void CloseHandshakeOrIdleExpired(TimePoint now);
  // Emits every established connection's last frame, shuts the transport
  // down where it is still sound (TLS close_notify), and closes all.
  void CloseAll();
  void PublishCounters();
  void PushFrame(const Connection& c, std::string_view bytes, bool truncated, TimePoint now);

  const StreamListenerOptions options_;
  const std::unique_ptr<StreamTransport> transport_;  // null: plain sockets
  const uint16_t listener_id_;
  const Clock& clock_;
  UniqueFd listen_fd_;
  WakeFd wake_;
  UniqueFd epoll_fd_;
  uint16_t port_ = 0;

  FrameSink* sink_ = nullptr;
  std::thread thread_;

  // Owned by the epoll thread while it runs.
  std::unordered_map<int, std::unique_ptr<Connection>> conns_;
  // Connections with input buffered inside their transport (decrypted TLS
  // records) that epoll will not report: served next round.
  std::vector<int> pending_;
  std::vector<char> read_buf_;
  FramerStats framer_stats_;
  FramerStats published_stats_;
  uint64_t pending_frames_ = 0;
  uint64_t pending_bytes_ = 0;
  uint64_t pending_refused_ = 0;
  bool accept_paused_ = false;
  bool draining_ = false;  // Stop() requested: reading without rate limit
  std::chrono::steady_clock::time_point accept_resume_;
  TimePoint last_expiry_scan_;
  RefusalReporter reporter_;
  SenderRateLimiter limiter_;
  ConnectionLimits limits_;
  std::vector<int> paused_;  // fds of paused connections

  Counter* received_messages_;
  Counter* received_bytes_;
  Counter* truncated_;
  Counter* malformed_octet_count_;
  Counter* incomplete_frame_;
  Counter* queue_full_drops_;
  Counter* accept_errors_;
  Counter* refused_senders_;
  Counter* rate_limit_pauses_;
  Gauge* connections_;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_STREAM_LISTENER_H_
