// Syslog over plain TCP (RFC 6587): many connections, one epoll thread.
#ifndef KONSEKI_RECEIVER_TCP_LISTENER_H_
#define KONSEKI_RECEIVER_TCP_LISTENER_H_

#include <atomic>
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
#include "receiver/sender_allowlist.h"
#include "receiver/socket_util.h"
#include "receiver/stop_drain.h"
#include "receiver/token_bucket.h"
#include "receiver/unique_fd.h"

namespace konseki::receiver {

struct TcpOptions {
  // Longer messages are cut to this many bytes (truncated = true, counted) and
  // the rest of the message is skipped; also bounds each connection's buffer.
  size_t max_message_bytes = 65536;
  // Connections open at once. When full, a new connection closes the
  // longest idle one (receiver/connection_limits.h).
  size_t max_connections = 4096;
  // Per-source cap and the timeout of connections that never sent a frame.
  ConnectionLimitOptions limits;
  // Bytes read from one connection per epoll round, so one busy sender cannot
  // starve the others; also the size of the listener's single read buffer.
  size_t read_chunk_bytes = 64 * 1024;
  // A connection with no bytes received for this long (by the injected Clock)
  // is closed. 0 means never.
  int idle_timeout_secs = 0;
  // listen(2) backlog: connections the kernel queues before we accept them.
  int backlog = 1024;
  // Stop(): longest time spent reading open connections after accepting
  // stopped (see receiver/stop_drain.h); 0 closes them at once.
  int stop_timeout_ms = 5000;
  // Senders accepted; default-constructed = everyone. A connection from
  // elsewhere is accepted and closed at once, counted and reported to
  // `alerts`.
  SenderAllowlist allow;
  // Per-source-address token bucket (all connections from one address share
  // it). A sender over its rate is not read until its bucket refills; nothing
  // is dropped and other senders are unaffected. Disabled by default.
  TokenBucketOptions rate_limit;
  // Where refusals are reported (sign "receiver.refused", rate-limited per
  // RefusalReporterOptions); null = not reported. Not owned; must be
  // thread-safe and outlive the listener.
  AlertSink* alerts = nullptr;
  RefusalReporterOptions refusal_alerts;
};

// Accepts connections and reads all of them on one epoll thread, framing each
// with its own Framer and pushing frames to the sink.
//
// Never blocks on one connection: sockets are non-blocking, each readable
// connection gets at most read_chunk_bytes per round. Backpressure: while
// sink->HasCapacity() is false nothing is read (data waits in the kernel and
// the senders' TCP windows close) and the thread re-checks every few ms;
// nothing is dropped. Push is only called after HasCapacity() said true, so a
// sink must accept at least one read chunk's worth of frames beyond that
// point; a refused Push is counted as dropped{stage="receiver",reason="queue_full"}.
//
// Metrics (listener = address.ToString(), transport = "tcp"):
//   konseki_received_messages_total{listener,transport}, konseki_received_bytes_total
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
//
// Thread-safety: Bind, Start, Stop and the destructor are called from one
// control thread; port() from any thread.
class TcpListener {
 public:
  // Creates, binds and listens; no thread runs yet. The registry and clock
  // must outlive the listener.
  static StatusOr<std::unique_ptr<TcpListener>> Bind(const ListenAddress& address,
                                                     const TcpOptions& options,
                                                     uint16_t listener_id, MetricsRegistry& metrics,
                                                     const Clock& clock);
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;
  // Stops if running.
  ~TcpListener();

  // The bound port (the kernel's choice when the address said port 0).
  uint16_t port() const { return port_; }

  // Starts the epoll thread. sink must stay valid until Stop() returns and is
  // used only by that thread. Call at most once.
  void Start(FrameSink* sink);
  // Stops accepting (connections already queued by the kernel are accepted
  // first), reads every open connection until its sender closes, or no
  // sender sent a byte for StopDrain::kQuiet, or stop_timeout_ms passed;
  // then emits each connection's unterminated last frame, closes all
  // connections, flushes the sink and joins the thread. Idempotent.
  void Stop();
  // Starts what Stop() does without waiting for it, so several listeners
  // drain at the same time; Stop() then waits. Thread-safe.
  void RequestStop() { wake_.Signal(); }

 private:
  struct Connection {
    UniqueFd fd;
    Framer framer;
    TimePoint last_activity;
    char sender[kSenderTextSize];
    size_t sender_len = 0;
    SenderAddress src;
    uint64_t order = 0;   // accept order (ConnectionLimits)
    bool framed = false;  // a frame completed
    bool paused = false;  // out of tokens: not in the epoll set
  };

  TcpListener(const ListenAddress& address, const TcpOptions& options, uint16_t listener_id,
              MetricsRegistry& metrics, const Clock& clock, UniqueFd fd, WakeFd wake);
  void Run();
  // Accepts up to a round's worth; true if more may be waiting.
  bool AcceptSome();
  // Accepts what the kernel queued, stops watching the listen socket and
  // the wake fd, and starts the drain.
  void BeginStop(StopDrain* drain);
  // One bounded read. Returns false if the connection ended (EOF or error);
  // the caller then closes it.
  bool ReadOnce(Connection* c, TimePoint now);
  // Emits the connection's last frame and closes it.
  void CloseConnection(int fd);
  // Closes connections past the idle timeout or the first-frame timeout.
  void CloseIdle(TimePoint now);
  // Emits every connection's last frame and closes it.
  void CloseAll();
  void PublishCounters();
  // Rate limit: stop watching c until its sender has a token again.
  void Pause(Connection* c);
  // Re-arms paused connections whose sender has a token; returns the epoll
  // timeout (ms) until the next check, -1 if nothing is paused.
  int ResumeReady(TimePoint now);
  void PushFrame(const Connection& c, std::string_view bytes, bool truncated, TimePoint now);

  const TcpOptions options_;
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
  std::vector<char> read_buf_;
  FramerStats framer_stats_;     // shared by all connections' framers
  FramerStats published_stats_;  // what has been added to the metrics so far
  uint64_t pending_frames_ = 0;
  uint64_t pending_bytes_ = 0;
  uint64_t pending_refused_ = 0;
  bool accept_paused_ = false;
  bool draining_ = false;  // Stop() requested: reading without rate limit
  std::chrono::steady_clock::time_point accept_resume_;
  TimePoint last_idle_scan_;
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

#endif  // KONSEKI_RECEIVER_TCP_LISTENER_H_
