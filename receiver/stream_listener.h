// Syslog over a byte stream: tcp:// and tls:// (RFC 6587 framing), relp://
// and relp+tls:// (RELP). Many connections, one epoll thread. Each accepted
// connection is two parts the listener composes:
//   a transport (receiver/stream_connection.h)  moves bytes: plain sockets,
//       or TLS (TlsTransport, receiver/tls_connection.h);
//   a protocol handler (receiver/stream_handler.h)  gives them meaning:
//       FramerProtocol (receiver/framer_protocol.h) or RelpProtocol
//       (receiver/relp_protocol.h); it emits frames and may write answers.
// What every kind shares lives here once: accept, allow list, connection
// limits, pausing accept, rate-limit pauses, handshake/idle timeouts, the
// epoll loop, backpressure, acknowledgements, the stop and one set of
// counters.
//
//   scheme      transport      protocol
//   tcp://      plain          FramerProtocol
//   tls://      TlsTransport   FramerProtocol
//   relp://     plain          RelpProtocol
//   relp+tls:// TlsTransport   RelpProtocol
//
// Adding a fifth kind: write its transport (a StreamTransport making a
// StreamConnection per socket) or its protocol (a StreamProtocol making a
// StreamHandler per connection); then name it: its URI scheme gets a
// Transport value (receiver/listen_address.h, where UsesTls says whether it
// runs over TLS, which is all app/ asks), and ProtocolFor in
// stream_listener.cc picks its protocol. Nothing else changes: not the
// listener, not the other kinds, not app/.
#ifndef KONSEKI_RECEIVER_STREAM_LISTENER_H_
#define KONSEKI_RECEIVER_STREAM_LISTENER_H_

#include <concurrentqueue/concurrentqueue.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
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
#include "receiver/framer.h"
#include "receiver/listen_address.h"
#include "receiver/listener.h"
#include "receiver/sender_allowlist.h"
#include "receiver/socket_util.h"
#include "receiver/stop_drain.h"
#include "receiver/stream_connection.h"
#include "receiver/stream_handler.h"
#include "receiver/token_bucket.h"
#include "receiver/unique_fd.h"

namespace konseki::receiver {

struct StreamListenerOptions {
  // Longer messages are cut to this many bytes (truncated = true, counted)
  // and the rest skipped; RELP still acknowledges them. Also bounds each
  // connection's framing buffer. Default 64 KiB, as every listener
  // (Framer::kDefaultMaxMessageBytes).
  size_t max_message_bytes = Framer::kDefaultMaxMessageBytes;
  // Connections open at once (handshaking or not). When full, a new
  // connection closes the longest idle one (receiver/connection_limits.h);
  // a closed RELP connection's unacknowledged messages stay with its sender.
  size_t max_connections = 4096;
  // Per-source cap and the timeout of connections that never completed a
  // frame (TLS: nor the handshake; RELP: the open).
  ConnectionLimitOptions limits;
  // relp:// and relp+tls:// only: messages of one connection received and
  // not yet acknowledged. When full, that connection is not read until acks
  // arrive. omrelp's window is 128.
  size_t max_unacked_per_connection = 1024;
  // (Plaintext) bytes taken from one connection per epoll round, so one busy
  // sender cannot starve the others; also the size of the one read buffer.
  size_t read_chunk_bytes = 64 * 1024;
  // tcp:// and tls:// (not RELP, whose senders wait for acknowledgements):
  // after an epoll round that drained every socket it read (no read filled
  // the read_chunk_bytes buffer), the listener waits this long (Stop ends
  // the wait) and reads once more before it hands the frames to the
  // workers, so steady streams are taken in large reads and the workers
  // wake once per gather, not for every few frames (as
  // UdpListenerOptions::gather_window). A round in which some read filled
  // the buffer does not wait (that sender is ahead of the listener). 0: off.
  std::chrono::microseconds gather_window{1000};
  // tls:// and relp+tls:// only: a connection that has not completed its
  // handshake this long after accept (by the injected Clock, checked about
  // once a clock second) is closed and counted as reason="timeout". Must be
  // positive.
  int handshake_timeout_secs = 10;
  // An established connection with no bytes read (nor, RELP, acks) for this
  // long is closed (as the handshake timeout: no alert, the connection
  // simply ends; a RELP sender reconnects). 0: never (the default: a quiet
  // host may send nothing for hours; keepalive below reaps dead peers).
  int idle_timeout_secs = 0;
  // TCP keepalive on every accepted connection (SO_KEEPALIVE,
  // TCP_KEEPIDLE/KEEPINTVL/KEEPCNT): a sender that vanished without FIN or
  // RST (crash, power cut, a NAT or firewall that dropped the flow) is
  // found dead after keepalive_idle_secs + keepalive_interval_secs *
  // keepalive_count of silence (default 5 + 5 x 1 minutes) and its slot
  // freed, instead of being held until an eviction (prod19b finding 3).
  // Probes are answered by the peer's kernel, so a live but quiet sender
  // is never closed. keepalive_idle_secs 0: off.
  int keepalive_idle_secs = 300;
  int keepalive_interval_secs = 60;
  int keepalive_count = 5;
  // tcp:// and tls://: a connection holding part of a message that sent
  // nothing more for this long (checked about once a clock second), with
  // nothing of it left unread, has that part emitted as it is: truncated =
  // true, konseki_framing_errors_total{reason="stalled_frame"}, archived
  // and matched like a frame cut by a close (Framer::FlushStalled; the
  // rest, if it comes, is a frame of its own). Otherwise a sender, or a
  // stuck relay, could keep its last message unarchived and unalerted for
  // as long as it keeps the connection open (octet counting waits for LEN
  // bytes, LF framing for the LF). Not while the connection is paused by
  // its rate limit or the pipeline is full (the rest may be waiting in the
  // kernel). 0: only at close.
  int partial_frame_timeout_secs = 30;
  // listen(2) backlog.
  int backlog = 1024;
  // The stop's bound, in ms. tcp:// and tls://: Stop() reads open
  // connections at most this long after accepting stopped (see
  // receiver/stop_drain.h); 0 closes them at once. relp:// and relp+tls://:
  // Shutdown() waits at most this long for outstanding acknowledgements and
  // for the last answers to be written.
  int stop_timeout_ms = 5000;
  // Senders accepted; default-constructed = everyone. A connection from
  // elsewhere is closed right after accept(2), before any TLS work (no SSL
  // object, no handshake), counted and reported to `alerts`.
  SenderAllowlist allow;
  // Per-source-address token bucket over messages (all connections from one
  // address share it). tcp:// and tls://: messages are framed only while
  // the sender has tokens, so burst and rate hold to the message (what a
  // read brought beyond them is held, at most read_chunk_bytes per
  // connection, and the connection is not read until the bucket refills).
  // relp:// and relp+tls://: a read is framed whole and charged, the
  // connection then waits out the debt (its window fills, its acks slow
  // down). Nothing is dropped and other senders are unaffected. Handshakes
  // are not limited. Disabled by default.
  TokenBucketOptions rate_limit;
  // Where refusals are reported (sign "receiver.refused", rate-limited per
  // RefusalReporterOptions); null = not reported. Not owned; must be
  // thread-safe and outlive the listener.
  AlertSink* alerts = nullptr;
  RefusalReporterOptions refusal_alerts;
};

// Accepts connections and serves all of them on one epoll thread.
//
// Never blocks on one connection: sockets are non-blocking, each connection
// gets at most read_chunk_bytes per round, and a transport that waits for
// the socket (a TLS handshake or record, in either direction) is resumed
// when epoll says it is ready. Input a transport already took off the
// socket (TLS records) is served without waiting for epoll. A client that
// connects and sends nothing, stops mid-handshake or mid-record holds only
// its own slot, until the timeouts or ConnectionLimits free it.
//
// Backpressure: while sink->HasCapacity() is false, while a handler takes no
// input (RELP window full), or while a sender is over its rate limit, that
// input is not read (data waits in the kernel and the senders' TCP windows
// close); nothing is dropped. Push is only called after HasCapacity() said
// true, so a sink must accept at least one read chunk's worth of frames
// beyond that point; a refused Push is counted as
// dropped{stage="receiver",reason="queue_full"} (and never acknowledged).
//
// Acknowledgements (protocols that Acknowledge(), RELP): each frame is
// pushed with ack_cookie = (connection serial << 32) | handler's ack id. The
// serial is unique for the listener's lifetime, so an ack that arrives after
// its connection closed is recognised and counted as late. Acknowledge()
// may be called from any thread; it queues the cookies and wakes the epoll
// thread, which hands them to the handlers and writes their answers at once.
//
// Stopping (receiver/listener.h):
//   protocols without acks (tcp://, tls://): Stop() stops accepting
//     (connections the kernel already queued are accepted first), reads
//     every open connection until its sender closes, or no sender sent a
//     byte for StopDrain::kQuiet, or stop_timeout_ms passed; then emits each
//     established connection's unterminated last frame, shuts transports
//     down (TLS close_notify), closes all connections, flushes the sink and
//     joins. Shutdown() is Stop().
//   protocols with acks (relp://, relp+tls://): Stop() stops accepting and
//     reading, flushes the sink and never uses it again; the thread keeps
//     running for the acks still to come, and a handler says goodbye
//     (serverclose) once nothing awaits an ack. Shutdown(), after the
//     workers drained, waits at most stop_timeout_ms for the remaining acks
//     and writes, says goodbye to all, closes and joins. Unacknowledged
//     messages stay with their senders and are resent on reconnect.
//
// Metrics (listener = address.ToString(), transport = the scheme: "tcp",
// "tls", "relp" or "relp+tls"):
//   konseki_received_messages_total{listener,transport}
//   konseki_received_bytes_total{listener,transport} (plaintext bytes read)
//   konseki_truncated_messages_total{listener}
//   konseki_connections{listener} (gauge)
//   konseki_connections_rejected_total{listener,reason="max_connections"}
//   konseki_connections_evicted_total{listener,reason} (ConnectionLimits)
//   konseki_accept_errors_total{listener} (e.g. out of file descriptors)
//   konseki_refused_senders_total{listener,transport} (connections not allowed)
//   konseki_suppressed_alerts_total{sign="receiver.refused"}
//   konseki_rate_limit_pauses_total{listener,transport} (a connection stopped
//     being read because its sender ran out of tokens)
//   konseki_dropped_messages_total{stage="receiver",reason="queue_full"}
//   konseki_stop_unread_bytes_total{listener,transport},
//   konseki_stop_unread_connections_total{listener,transport}: tcp:// and
//     tls:// connections the stop closed with input not read (left in the
//     kernel's receive buffer, FIONREAD, TLS records as they came, or read
//     but not yet taken by the pipeline); the stop logs them in one line.
//     The sender got no sign of the loss: plain TCP syslog has no acks
//     (relp:// leaves it with the sender, who resends). Also one
//     receiver.stop_unread alert (high; fields listener, connections,
//     unread_bytes) to `alerts`.
// plus the protocol's (FramerProtocol: konseki_framing_errors_total;
// RelpProtocol: konseki_relp_*) and, with TLS, the TLS counters its
// TlsTransport registers under the same listener name (TlsCounters,
// receiver/tls_connection.h: konseki_tls_handshakes_total,
// konseki_tls_handshake_failures_total{listener,reason}, ...).
//
// Thread-safety: Bind, Start, Stop, Shutdown and the destructor are called
// from one control thread; port(), RequestStop() and Acknowledge() from any
// thread.
class StreamListener final : public Listener, public AckSink {
 public:
  // Creates, binds and listens; no thread runs yet. The registry and clock
  // must outlive the listener. The protocol follows the scheme (tcp/tls:
  // FramerProtocol, relp/relp+tls: RelpProtocol). transport: null for
  // tcp:// and relp:// (plain sockets), required for tls:// and relp+tls://
  // (a TlsTransport); the listener owns it and uses it from its thread only.
  static StatusOr<std::unique_ptr<StreamListener>> Bind(
      const ListenAddress& address, const StreamListenerOptions& options, uint16_t listener_id,
      MetricsRegistry& metrics, const Clock& clock,
      std::unique_ptr<StreamTransport> transport = nullptr);
  StreamListener(const StreamListener&) = delete;
  StreamListener& operator=(const StreamListener&) = delete;
  // Shutdown() if running. Must not run while a worker may still call
  // Acknowledge().
  ~StreamListener() override;

  uint16_t port() const override { return port_; }
  // Bytes the stop left unread in the connections it closed (tcp://,
  // tls://; see konseki_stop_unread_bytes_total). Any thread; final once
  // Stop() returned.
  uint64_t stop_unread_bytes() const { return stop_unread_bytes_total_.load(); }

  // Starts the epoll thread (Listener::Start).
  void Start(FrameSink* sink) override;
  // Starts what Stop() does without waiting for it, so several listeners
  // stop at the same time. Thread-safe.
  void RequestStop() override;
  // See "Stopping" above. Idempotent.
  void Stop() override;
  void Shutdown() override;
  // This listener when its protocol acknowledges, else null.
  AckSink* ack_sink() override { return protocol_->Acknowledges() ? this : nullptr; }

  // AckSink: thread-safe, never blocks on the epoll thread.
  void Acknowledge(const uint64_t* cookies, size_t count) override;

 private:
  struct Connection;
  // kRunning -> (Stop) kDraining (no acks) or kAnswering (acks) -> end.
  enum class State { kRunning, kDraining, kAnswering };

  StreamListener(const ListenAddress& address, const StreamListenerOptions& options,
                 uint16_t listener_id, MetricsRegistry& metrics, const Clock& clock, UniqueFd fd,
                 WakeFd wake, std::unique_ptr<StreamTransport> transport,
                 std::unique_ptr<StreamProtocol> protocol);
  void RegisterMetrics(MetricsRegistry& metrics, const ListenAddress& address);
  void Run();
  // One round of the loop; false once the thread is to end.
  bool Round(std::vector<epoll_event>* events);
  // Moves the state on when a stop or shutdown was requested; false once
  // the thread is to end.
  bool Advance();
  // The epoll timeout (ms, -1 = none) of this round.
  int Timeout();
  // Handles epoll's events; true if the pipeline was full for some.
  bool HandleEvents(const epoll_event* events, int n);
  // Reads and writes c as its events say; false if c was closed.
  bool Serve(Connection* c, uint32_t events, bool* blocked);
  // Accepts up to a round's worth; true if more may be waiting.
  bool AcceptSome();
  void AddConnection(int fd, const sockaddr_storage& ss, const SenderAddress& src);
  // Before src, at max_connections_per_source, loses a connection for a new
  // one: reads its never-framed connections and closes those whose sender
  // already wrote and closed (not evictions).
  void ReapFinished(const SenderAddress& src);
  // Pausing accept after running out of file descriptors, and resuming it.
  void PauseAccept();
  void ResumeAccept();
  // Called from a handler through its connection's FrameOut.
  void PushFrame(const Connection& c, std::string_view bytes, bool truncated, uint32_t ack_id,
                 TruncationCause cause);
  // True if c is to be read now (reading, nothing held back, the handler
  // wants input, sender within its rate).
  bool Reading(const Connection* c) const;
  // Reads up to read_chunk_bytes (or re-offers held input). Returns false if
  // the connection must be closed.
  bool ReadSome(Connection* c);
  // Offers bytes to the handler (as many messages as the sender has
  // tokens), keeps what it did not take, charges the rate limit.
  void Offer(Connection* c, std::string_view bytes);
  // Re-offers held-back input if the handler takes it again.
  void OfferHeld(Connection* c);
  // Rate limit: takes tokens for `frames` just read; pauses c if its sender
  // ran out.
  void Charge(Connection* c, uint64_t frames);
  // Writes pending output (as far as the socket takes it). Returns false on
  // a write error.
  bool WriteOut(Connection* c);
  // Updates the epoll interest; closes the connection when its handler is
  // done and its output written. Returns false if it was closed.
  bool Settle(Connection* c);
  // Writes out, then settles; false if c was closed.
  bool WriteAndSettle(Connection* c);
  // Un-pauses connections whose sender has a token again; returns the epoll timeout (ms)
  // until the next check, -1 if nothing is paused, 0 if one it un-paused holds input.
  int ResumeReady(TimePoint now);
  // Reads connections whose transport holds decrypted input epoll cannot see.
  void ServeBuffered();
  void ApplyAcks();
  // Re-offers held input of every connection that has some.
  void RefeedHeld();
  // About once a clock second: stalled frames, handshake and idle
  // timeouts; then the first-frame timeout (ConnectionLimits).
  void CloseExpired(TimePoint now);
  void CloseHandshakeOrIdleExpired(TimePoint now);
  // partial_frame_timeout_secs: emits what stalled senders left unfinished.
  void FlushStalled(TimePoint now);
  void CloseConnection(uint32_t serial);
  // Closed to make room for a new connection (ConnectionLimits): reads what
  // its sender already wrote first (TCP, TLS), then closes it. Sets *src to
  // its source and *framed to whether it completed a frame; returns true if
  // it held data (unread input, an unfinished message or messages awaiting
  // acks), false for an idle or dead connection.
  bool EvictConnection(uint32_t serial, SenderAddress* src, bool* framed);
  // Stop requested: stop accepting; start the drain (no acks) or stop
  // reading, release the sink and let handlers wind down (acks).
  void BeginStop();
  // Flushes the sink and tells Stop() it is no longer used.
  void ReleaseSink();
  // Says goodbye to every connection, writes what is left, shuts the
  // transports down and closes all.
  void CloseAll();
  void PublishCounters();

  const StreamListenerOptions options_;
  const std::unique_ptr<StreamTransport> transport_;  // null: plain sockets
  const std::unique_ptr<StreamProtocol> protocol_;
  const bool acknowledges_;  // protocol_->Acknowledges()
  const uint16_t listener_id_;
  const Clock& clock_;
  UniqueFd listen_fd_;
  WakeFd wake_;
  UniqueFd epoll_fd_;
  uint16_t port_ = 0;
  std::string thread_name_;  // "tcp 601": the scheme and port

  FrameSink* sink_ = nullptr;
  std::thread thread_;

  // Control: 0 running, 1 stop requested, 2 shutdown requested.
  std::atomic<int> phase_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool sink_released_ = false;  // guarded by mu_

  moodycamel::ConcurrentQueue<uint64_t> acks_;

  // Owned by the epoll thread while it runs.
  State state_ = State::kRunning;
  StopDrain drain_;
  std::chrono::steady_clock::time_point shutdown_deadline_{};
  bool shutdown_started_ = false;
  std::unordered_map<uint32_t, std::unique_ptr<Connection>> conns_;
  uint32_t next_serial_ = 2;  // 0 and 1 tag the listen and wake fds in epoll
  std::vector<char> read_buf_;
  std::vector<uint64_t> ack_buf_;
  std::vector<uint32_t> touched_;   // serials acked this round
  std::vector<uint32_t> held_;      // serials of connections with held input
  std::vector<uint32_t> paused_;    // serials of rate-limited connections
  std::vector<uint32_t> buffered_;  // serials with input buffered in the transport
  std::vector<uint32_t> reap_;      // ReapFinished's candidates
  bool accept_paused_ = false;
  std::chrono::steady_clock::time_point accept_resume_;
  TimePoint last_expiry_scan_;
  TimePoint round_now_;
  RefusalReporter reporter_;
  RefusalReporter evictions_;       // per-source evictions (receiver.connections_evicted)
  RefusalReporter evictions_full_;  // listener-full evictions (the same sign)
  SenderRateLimiter limiter_;
  ConnectionLimits limits_;
  uint64_t pending_frames_ = 0;
  uint64_t pending_bytes_ = 0;
  // A read of this epoll round filled the read buffer: that sender has more
  // waiting, so the round is not light (see gather_window).
  bool round_filled_ = false;
  uint64_t pending_truncated_ = 0;
  uint64_t pending_refused_ = 0;
  uint64_t pending_late_acks_ = 0;

  Counter* received_messages_;
  Counter* received_bytes_;
  Counter* truncated_;
  Counter* queue_full_drops_;
  Counter* accept_errors_;
  Counter* refused_senders_;
  Counter* rate_limit_pauses_;
  Counter* stop_unread_bytes_;
  Counter* stop_unread_connections_;
  Gauge* connections_;
  std::string name_;  // address.ToString(), for the stop's log line
  std::atomic<uint64_t> stop_unread_bytes_total_{0};
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_STREAM_LISTENER_H_
