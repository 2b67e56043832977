// Syslog over RELP (relp://) and RELP over TLS (relp+tls://): many
// connections, one epoll thread, one RelpSession per connection; a message is
// acknowledged to its sender only once the pipeline reports it stored
// (AckSink), so a crash never loses an acknowledged message.
#ifndef KONSEKI_RECEIVER_RELP_LISTENER_H_
#define KONSEKI_RECEIVER_RELP_LISTENER_H_

#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
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
#include "receiver/listen_address.h"
#include "receiver/listener.h"
#include "receiver/relp_session.h"
#include "receiver/sender_allowlist.h"
#include "receiver/socket_util.h"
#include "receiver/stream_connection.h"
#include "receiver/token_bucket.h"
#include "receiver/unique_fd.h"

namespace konseki::receiver {

struct RelpListenerOptions {
  // Longer syslog payloads are cut to this many bytes (truncated = true,
  // counted) and still acknowledged.
  size_t max_message_bytes = 128 * 1024;
  // Connections open at once. When full, a new connection closes the
  // longest idle one (receiver/connection_limits.h); the closed one's
  // unacknowledged messages stay with its sender.
  size_t max_connections = 4096;
  // Per-source cap and the timeout of connections that never completed the
  // RELP open (nor, relp+tls://, the handshake).
  ConnectionLimitOptions limits;
  // Messages of one connection received and not yet acknowledged. When full,
  // that connection is not read until acks arrive. omrelp's window is 128.
  size_t max_unacked_per_connection = 1024;
  // Bytes read from one connection per epoll round (fairness); also the size
  // of the listener's single read buffer.
  size_t read_chunk_bytes = 64 * 1024;
  // Shutdown(): how long to wait for outstanding acknowledgements and for the
  // final responses to be written before closing connections anyway.
  int shutdown_timeout_ms = 5000;
  // listen(2) backlog.
  int backlog = 1024;
  // relp+tls:// only: a connection whose TLS handshake has not completed this
  // long after accept (by the injected Clock, checked about once a clock
  // second) is closed and counted as a handshake failure, reason="timeout".
  int handshake_timeout_secs = 10;
  // Senders accepted; default-constructed = everyone. A connection from
  // elsewhere is accepted and closed at once (before any TLS handshake),
  // counted and reported to `alerts`.
  SenderAllowlist allow;
  // Per-source-address token bucket (all connections from one address share
  // it). A sender over its rate is not read until its bucket refills: its
  // RELP window fills, its acks slow down, nothing is dropped. Disabled by
  // default.
  TokenBucketOptions rate_limit;
  // Where refusals are reported (sign "receiver.refused", rate-limited per
  // RefusalReporterOptions); null = not reported. Not owned; must be
  // thread-safe and outlive the listener.
  AlertSink* alerts = nullptr;
  RefusalReporterOptions refusal_alerts;
};

// Accepts RELP connections and serves all of them on one thread.
//
// Each syslog frame is pushed to the FrameSink with
// ack_cookie = (connection serial << 32) | txnr. The serial is unique for the
// listener's lifetime (it never reuses one), so an ack that arrives after its
// connection closed is recognised and ignored (counted in
// konseki_relp_late_acks_total): the client resends such messages on its next
// connection, which is RELP's at-least-once contract.
//
// Acknowledge() (the AckSink side) may be called from any thread; it queues
// the cookies and wakes the epoll thread, which marks them acked in their
// sessions and writes the "rsp 200 OK" answers at once.
//
// Backpressure: while sink->HasCapacity() is false, while a connection's
// window is full, or while its sender is over its rate limit, nothing is read
// (data waits in the kernel, the sender's window closes); nothing is dropped.
//
// Transport: relp:// reads and writes the socket; relp+tls:// is given a
// StreamTransport (TlsTransport from receiver/tls_connection.h) that wraps
// each accepted socket in TLS from the first byte, as librelp's tls="on"
// does (no STARTTLS). The RELP code is the same for both: the epoll interest
// follows what the transport waits for, so a write that needs the socket
// readable (or a read that needs it writable) is resumed on that event, and
// input TLS has already decrypted is served without waiting for epoll.
//
// Stopping is two-phase because acknowledgements come from the workers, which
// drain only after the listeners stopped:
//   1. Stop(): stops accepting and reading, flushes the sink and never uses it
//      again; sessions with nothing unacknowledged get "serverclose" at once.
//      The thread keeps running to deliver the acks still to come; a session
//      sends serverclose as soon as its last ack was written.
//   2. Shutdown(): call after the workers drained (joined). Waits at most
//      shutdown_timeout_ms for the remaining acks and writes, sends
//      serverclose to every session, closes all connections and joins.
// Unacknowledged messages stay with the sender and are resent on reconnect.
//
// Metrics (listener = address.ToString(), transport = "relp" or "relp+tls"):
//   konseki_received_messages_total{listener,transport}, konseki_received_bytes_total
//   konseki_truncated_messages_total{listener}
//   konseki_connections{listener} (gauge)
//   konseki_connections_rejected_total{listener,reason="max_connections"}
//   konseki_connections_evicted_total{listener,reason} (ConnectionLimits)
//   konseki_accept_errors_total{listener}
//   konseki_relp_late_acks_total{listener}
//   konseki_relp_* session counters (RelpCounters)
//   konseki_refused_senders_total{listener,transport} (connections not allowed)
//   konseki_suppressed_alerts_total{sign="receiver.refused"}
//   konseki_rate_limit_pauses_total{listener,transport} (a connection stopped
//     being read because its sender ran out of tokens)
//   relp+tls:// also the TLS counters of TlsCounters (konseki_tls_handshakes_total,
//     konseki_tls_handshake_failures_total{listener,reason}, ...), registered
//     by the TlsTransport under the same listener name.
//
// Thread-safety: Bind, Start, Stop, Shutdown and the destructor are called
// from one control thread; port() and Acknowledge() from any thread.
class RelpListener final : public Listener, public AckSink {
 public:
  // Creates, binds and listens; no thread runs yet. The registry and clock
  // must outlive the listener. transport: null for relp://, required for
  // relp+tls:// (the listener owns it and uses it from its thread only).
  static StatusOr<std::unique_ptr<RelpListener>> Bind(
      const ListenAddress& address, const RelpListenerOptions& options, uint16_t listener_id,
      MetricsRegistry& metrics, const Clock& clock,
      std::unique_ptr<StreamTransport> transport = nullptr);
  RelpListener(const RelpListener&) = delete;
  RelpListener& operator=(const RelpListener&) = delete;
  // Shutdown() if running. Must not run while a worker may still call
  // Acknowledge().
  ~RelpListener() override;

  uint16_t port() const override { return port_; }

  // Starts the epoll thread (Listener::Start).
  void Start(FrameSink* sink) override;
  // Starts phase 1 without waiting for it. Thread-safe.
  void RequestStop() override;
  // Phase 1 (see above). Returns once the thread no longer uses the sink
  // (well under a second). Idempotent.
  void Stop() override;
  // Phase 2 (see above): bounded by shutdown_timeout_ms. Calls Stop() first if
  // needed. Idempotent.
  void Shutdown() override;
  // Frames are acknowledged back to this listener once stored.
  AckSink* ack_sink() override { return this; }

  // AckSink: thread-safe, never blocks on the epoll thread.
  void Acknowledge(const uint64_t* cookies, size_t count) override;

 private:
  struct Connection;

  RelpListener(const ListenAddress& address, const RelpListenerOptions& options,
               uint16_t listener_id, MetricsRegistry& metrics, const Clock& clock, UniqueFd fd,
               WakeFd wake, std::unique_ptr<StreamTransport> transport);
  void Run();
  void AcceptSome();
  void OnSyslog(Connection* c, uint32_t txnr, std::string_view data, bool truncated);
  // True if c is to be read now (not stopping, nothing held back, window
  // open, sender within its rate).
  bool Reading(const Connection* c) const;
  // Reads one chunk (or re-feeds held input). Returns false if the connection
  // must be closed.
  bool ReadOnce(Connection* c);
  // Takes tokens for `frames` messages just fed; pauses c if its sender ran out.
  void Charge(Connection* c, uint64_t frames);
  // Un-pauses connections whose sender has a token again; returns the epoll
  // timeout (ms) until the next check, -1 if nothing is paused.
  int ResumeReady(TimePoint now);
  // Reads connections whose transport holds decrypted input epoll cannot see.
  void ServeBuffered();
  // Closes connections still handshaking after handshake_timeout_secs, and
  // those past ConnectionLimits' first-frame timeout.
  void CloseExpired(TimePoint now);
  // Feeds held-back input if the session takes it again.
  void FeedHeld(Connection* c);
  // Writes pending output (as far as the socket takes it). Returns false on
  // a write error.
  bool WriteOut(Connection* c);
  // Updates the epoll interest set; closes the connection when it is finished.
  // Returns false if the connection was closed.
  bool Settle(Connection* c);
  void CloseConnection(uint32_t serial);
  void ApplyAcks();
  // Feeds held-back input of every connection that has some (after acks or
  // when the pipeline has room again).
  void RefeedHeld();
  void EnterStopping();
  void PublishCounters();

  const RelpListenerOptions options_;
  const uint16_t listener_id_;
  const Clock& clock_;
  const std::unique_ptr<StreamTransport> transport_;  // null: plain sockets
  UniqueFd listen_fd_;
  WakeFd wake_;
  UniqueFd epoll_fd_;
  uint16_t port_ = 0;
  RelpSessionOptions session_options_;
  RelpCounters relp_counters_;

  FrameSink* sink_ = nullptr;
  std::thread thread_;

  // Control: 0 running, 1 stop requested, 2 shutdown requested.
  std::atomic<int> phase_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool sink_released_ = false;  // guarded by mu_

  moodycamel::ConcurrentQueue<uint64_t> acks_;

  // Owned by the epoll thread while it runs.
  std::unordered_map<uint32_t, std::unique_ptr<Connection>> conns_;
  uint32_t next_serial_ = 2;  // 0 and 1 tag the listen and wake fds in epoll
  std::vector<char> read_buf_;
  std::vector<uint64_t> ack_buf_;
  std::vector<uint32_t> touched_;
  std::vector<uint32_t> held_;      // serials of connections with held input
  std::vector<uint32_t> paused_;    // serials of rate-limited connections
  std::vector<uint32_t> buffered_;  // serials with input buffered in the transport
  RefusalReporter reporter_;
  SenderRateLimiter limiter_;
  ConnectionLimits limits_;
  TimePoint last_expiry_scan_;
  bool stopping_ = false;
  TimePoint round_now_;
  uint64_t pending_frames_ = 0;
  uint64_t pending_bytes_ = 0;
  uint64_t pending_truncated_ = 0;
  uint64_t pending_refused_ = 0;
  uint64_t pending_late_acks_ = 0;

  Counter* received_messages_;
  Counter* received_bytes_;
  Counter* truncated_;
  Counter* queue_full_drops_;
  Counter* accept_errors_;
  Counter* late_acks_;
  Counter* refused_senders_;
  Counter* rate_limit_pauses_;
  Gauge* connections_;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_RELP_LISTENER_H_
