// Syslog over UDP (RFC 5426): one datagram is one message.
#ifndef KONSEKI_RECEIVER_UDP_LISTENER_H_
#define KONSEKI_RECEIVER_UDP_LISTENER_H_

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/metrics.h"
#include "common/status.h"
#include "receiver/framer.h"
#include "receiver/listen_address.h"
#include "receiver/listener.h"
#include "receiver/sender_allowlist.h"
#include "receiver/socket_util.h"
#include "receiver/token_bucket.h"
#include "receiver/unique_fd.h"

namespace konseki::receiver {

struct UdpListenerOptions {
  // Longer datagrams are cut to this many bytes, flagged truncated and counted
  // in konseki_truncated_messages_total. Default 64 KiB, as every listener
  // (Framer::kDefaultMaxMessageBytes), which holds any UDP payload.
  size_t max_message_bytes = Framer::kDefaultMaxMessageBytes;
  // SO_RCVBUF to ask for, in bytes; 0 keeps the kernel default. When the
  // process may (root / CAP_NET_ADMIN) SO_RCVBUFFORCE is used so that
  // net.core.rmem_max does not cap it; granted_rcvbuf_bytes() says what we got.
  int rcvbuf_bytes = 4 * 1024 * 1024;
  // Datagrams fetched per recvmmsg(2) call.
  size_t batch_size = 64;
  // After a wake-up that found datagrams, the thread waits this long for more
  // to gather in the socket before it reads them and flushes the sink, so a
  // steady stream is handed on in batches of rate x window instead of one
  // queue hand-off (and worker wake-up) per datagram. It is the longest
  // extra delay a lone datagram sees. The socket must hold rate x window
  // datagrams (1 ms at 300,000/s: ~300, far below the default buffer). Zero:
  // flush after every read.
  std::chrono::microseconds gather_window{1000};
  // When a worker's queue is full, the thread stops reading and waits up to
  // this long for room, the datagrams that keep coming waiting in the
  // kernel's receive buffer (rcvbuf_bytes) meanwhile, before it drops the
  // datagram in hand (queue_full). After a wait that ran out it drops
  // without waiting for a second, so a worker stuck on its archive does not
  // slow the other workers' hosts. Zero: drop at once.
  std::chrono::milliseconds queue_wait{50};
  // Senders accepted; default-constructed = everyone. A datagram from
  // elsewhere is dropped, counted and reported to `alerts`.
  SenderAllowlist allow;
  // Per-source-address token bucket; datagrams beyond it are dropped and
  // counted. Disabled by default.
  TokenBucketOptions rate_limit;
  // Where refusals are reported (sign "receiver.refused", rate-limited per
  // RefusalReporterOptions); null = not reported. Not owned; must be
  // thread-safe and outlive the listener.
  AlertSink* alerts = nullptr;
  RefusalReporterOptions refusal_alerts;
};

// Receives datagrams on one socket with recvmmsg on its own thread and pushes
// each one as a Frame, flushing the sink once per wake-up (after
// options.gather_window) (a trailing LF, CR or NUL is removed; empty datagrams are
// counted as framing errors and skipped). Datagrams from senders outside
// options.allow are dropped before anything else (not counted as received);
// datagrams beyond the sender's rate limit are counted as received, then
// dropped.
//
// Metrics (listener = address.ToString(), transport = "udp"):
//   konseki_received_messages_total{listener,transport}, konseki_received_bytes_total
//   konseki_truncated_messages_total{listener}
//   konseki_framing_errors_total{listener,reason="empty_datagram"}
//   konseki_dropped_messages_total{stage="kernel",reason="udp_receive_buffer"} (SO_RXQ_OVFL)
//   konseki_dropped_messages_total{stage="receiver",reason="queue_full"} (Push refused
//     after options.queue_wait)
//   konseki_receiver_waits_total{listener,transport} (times it stopped reading for room)
//   konseki_dropped_messages_total{stage="receiver",reason="rate_limit"}
//   konseki_refused_senders_total{listener,transport} (one per refused datagram)
//   konseki_suppressed_alerts_total{sign="receiver.refused"}
//
// Thread-safety: Bind, Start, Stop and the destructor are called from one
// control thread; port() and granted_rcvbuf_bytes() from any thread.
class UdpListener final : public Listener {
 public:
  // Creates and binds the socket; no thread runs yet. The registry and clock
  // must outlive the listener.
  static StatusOr<std::unique_ptr<UdpListener>> Bind(const ListenAddress& address,
                                                     const UdpListenerOptions& options,
                                                     uint16_t listener_id, MetricsRegistry& metrics,
                                                     const Clock& clock);
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;
  // Stops if running.
  ~UdpListener() override;

  uint16_t port() const override { return port_; }
  // The receive buffer the kernel granted, comparable with
  // UdpListenerOptions::rcvbuf_bytes (Linux reports twice this through getsockopt to
  // account for bookkeeping; we halve it back).
  int granted_rcvbuf_bytes() const { return granted_rcvbuf_bytes_; }
  // True if SO_RCVBUFFORCE was accepted (running with CAP_NET_ADMIN).
  bool rcvbuf_forced() const { return rcvbuf_forced_; }

  // Starts the receive thread (Listener::Start).
  void Start(FrameSink* sink) override;
  // Wakes the thread, which receives what is already queued on the socket,
  // flushes the sink and exits.
  void RequestStop() override { wake_.Signal(); }
  // RequestStop(), then joins the thread. Returns promptly (no blocking
  // receive). Idempotent.
  void Stop() override;
  // Nothing is acknowledged: the same as Stop().
  void Shutdown() override { Stop(); }
  // Datagrams cannot wait: a full pipeline drops them (counted by the router).
  bool drops_when_full() const override { return true; }

 private:
  UdpListener(const ListenAddress& address, const UdpListenerOptions& options, uint16_t listener_id,
              MetricsRegistry& metrics, const Clock& clock, UniqueFd fd, WakeFd wake);
  void Run();
  // One recvmmsg and the pushes of what it returned; returns the datagram count
  // (0 when nothing was queued). Does not flush the sink.
  int ReceiveBatch();
  // What one batch counted, published at once after it.
  struct BatchTally {
    bool check_allow = false;  // the allow list is not everyone
    bool check_rate = false;   // the rate limit is on
    uint64_t bytes = 0;
    uint64_t truncated = 0;
    uint64_t empty = 0;
    uint64_t refused = 0;  // Push refused (queue full)
    uint64_t refused_senders = 0;
    uint64_t rate_limited = 0;
    bool saw_ovfl = false;
    uint32_t ovfl = 0;  // the kernel's running drop count (SO_RXQ_OVFL)
  };
  // Points every msghdr of the batch at its buffers.
  void PrepareBatch();
  // Datagram i of a batch received at `now`: checks, frames and pushes it.
  void HandleDatagram(size_t i, TimePoint now, BatchTally* t);
  void PublishBatch(uint64_t got, const BatchTally& t);
  // Counts the kernel's drops up to running_total (the socket's sk_drops).
  void CountKernelDrops(uint32_t running_total);
  // Reads the socket's drop count with SO_MEMINFO (when meminfo_drops_).
  void PollKernelDrops();
  // ReceiveBatch until the socket is empty or kMaxBatchesPerWake; returns
  // true if the socket ran dry.
  bool Drain(int* received);
  // After a refused Push of f: flushes, then retries every 100 µs for up to
  // options_.queue_wait (not while no_wait_until_ holds, nor once Stop has
  // been asked). True once f is taken.
  bool WaitAndPush(const Frame& f);

  const UdpListenerOptions options_;
  const uint16_t listener_id_;
  const Clock& clock_;
  UniqueFd fd_;
  WakeFd wake_;
  uint16_t port_ = 0;
  int granted_rcvbuf_bytes_ = 0;
  bool rcvbuf_forced_ = false;

  FrameSink* sink_ = nullptr;
  std::thread thread_;

  // Receive buffers, owned by the receive thread while it runs.
  std::unique_ptr<char[]> data_;  // batch_size slots of max_message_bytes + 1
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<sockaddr_storage> addrs_;
  std::vector<char> control_;  // per-slot cmsg space for SO_RXQ_OVFL (without SO_MEMINFO)
  size_t control_slot_ = 0;
  uint32_t last_kernel_drops_ = 0;
  std::chrono::steady_clock::time_point no_wait_until_{};
  // SO_MEMINFO gives the drop count (polled per wake-up); else every
  // datagram carries it (SO_RXQ_OVFL).
  bool meminfo_drops_ = false;
  // What FormatSender's text depends on: the address family and address,
  // not the port.
  struct SenderKey {
    uint8_t bytes[17] = {};  // family tag, then 4 or 16 address bytes
    // False (and an all-zero key, which no real address has) for a family
    // FormatSender does not know: never cached.
    static bool Of(const sockaddr_storage& a, SenderKey* out);
    bool operator==(const SenderKey& o) const;
  };
  SenderKey sender_key_;  // of the address whose text is in sender_text_
  char sender_text_[kSenderTextSize] = {};
  std::string_view sender_;  // view into sender_text_
  RefusalReporter reporter_;
  SenderRateLimiter limiter_;

  Counter* received_messages_;
  Counter* received_bytes_;
  Counter* truncated_;
  Counter* empty_datagrams_;
  Counter* kernel_drops_;
  Counter* queue_full_drops_;
  Counter* queue_waits_;
  Counter* refused_senders_;
  Counter* rate_limit_drops_;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_UDP_LISTENER_H_
