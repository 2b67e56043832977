// Which senders a listener accepts (a CIDR allowlist), and a rate-limited
// reporter that turns refusals into `receiver.refused` alerts.
//
// Both are transport-agnostic: the UDP and TCP listeners use them, and any
// other listener (RELP, TLS) can do the same in three calls:
//   SenderAddress a = SenderAddress::FromSockaddr(sa);
//   if (!options.allow.Allows(a)) { refused->Inc(); reporter.Report(a, now); close; }
#ifndef KONSEKI_RECEIVER_SENDER_ALLOWLIST_H_
#define KONSEKI_RECEIVER_SENDER_ALLOWLIST_H_

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"

namespace konseki::receiver {

// An IPv4 or IPv6 address as 16 bytes; IPv4 (and IPv4-mapped IPv6, as a
// dual-stack socket reports IPv4 peers) is stored as ::ffff:a.b.c.d so one host
// has one key. A plain value, hashable, no allocation.
struct SenderAddress {
  std::array<uint8_t, 16> bytes{};

  // AF_INET and AF_INET6 only; any other family gives the all-zero address
  // (which no allowlist entry but ::/0 matches).
  static SenderAddress FromSockaddr(const sockaddr* sa);
  // Numeric IPv4 or IPv6 text without brackets or prefix; nullopt otherwise.
  static std::optional<SenderAddress> Parse(std::string_view text);

  bool is_v4() const;
  // "10.0.0.1" or "2001:db8::1".
  std::string ToString() const;

  friend bool operator==(const SenderAddress&, const SenderAddress&) = default;
};

struct SenderAddressHash {
  size_t operator()(const SenderAddress& a) const;
};

// A list of CIDR ranges. Immutable after Parse and thread-safe to query from
// any number of threads. Copyable (a small vector of ranges).
//
// A default-constructed allowlist is "not configured" and allows everyone;
// Parse never yields that state (an empty `allow:` list is an error, since it
// would refuse every sender).
class SenderAllowlist {
 public:
  SenderAllowlist() = default;

  // Each entry is "A.B.C.D", "A.B.C.D/N" (N in 0..32), "IPV6" or "IPV6/N" (N
  // in 0..128), the IPv6 part optionally in brackets. A host address without
  // /N is a /32 or /128. Host bits set beyond the prefix are an error
  // ("10.0.0.1/8: host bits set; did you mean 10.0.0.0/8?"). IPv4 ranges also
  // match IPv4-mapped IPv6 senders. Errors name the entry and its index.
  static StatusOr<SenderAllowlist> Parse(const std::vector<std::string>& entries);

  // True when no allowlist is configured (everyone is allowed).
  bool allows_all() const { return !configured_; }
  bool Allows(const SenderAddress& a) const;
  bool Allows(const sockaddr* sa) const { return Allows(SenderAddress::FromSockaddr(sa)); }
  // Canonical entries, e.g. "10.0.0.0/8, ::1/128" (for logs); "any" if not configured.
  std::string ToString() const;

 private:
  struct Range {
    SenderAddress network;  // host bits cleared
    int prefix_bits = 0;    // over the 128-bit form (IPv4 /N is 96 + N)
  };
  bool configured_ = false;
  std::vector<Range> ranges_;
};

struct RefusalReporterOptions {
  // At most one alert per source address per this many seconds.
  double per_source_interval_secs = 60;
  // At most this many alerts per minute for the whole reporter; the refusals
  // not alerted are counted in the next alert's `suppressed` field.
  size_t max_alerts_per_minute = 20;
  // Source addresses remembered for the per-source limit; when full the oldest
  // entries are forgotten, so a spoofed-source flood cannot grow memory (it
  // is then held back by max_alerts_per_minute).
  size_t max_tracked_sources = 4096;
};

// Turns refused senders into alerts with sign "receiver.refused" (rule
// "receiver.refused", severity medium, fields src_ip, listener, transport and
// suppressed = refusals not alerted since the previous alert of this reporter).
// Every refusal not alerted is also counted in
// konseki_suppressed_alerts_total{sign="receiver.refused"}.
//
// The same reporter, made with kEvicted or kEvictedFull, reports connections
// konseki closed to make room for a new one (ReportEviction; sign
// "receiver.connections_evicted", same limits, counted per evicted source):
//   kEvicted      its source reached tcp.max_connections_per_source (hosts
//                 behind one NAT address or relay, or a sender whose dead
//                 sessions were never reaped);
//   kEvictedFull  the listener reached tcp.max_connections (a connection
//                 flood, or a limit too small for the senders).
// Fields: src_ip (the evicted connection's source), new_src_ip (the
// newcomer's), listener, transport, reason (as the metric's:
// "max_connections_per_source" or "max_connections"), held_data ("true" if
// the connection held input unread, an unfinished message or messages
// awaiting their acknowledgement) and suppressed. Severity medium when it
// held data or the listener was full (a flood evicts senders: their next
// line goes into a closed socket, plain TCP has no acknowledgements), low
// for an idle or dead connection evicted by its own source (nothing lost).
//
// Not thread-safe: one reporter per listener thread. The sink (may be null:
// nothing is emitted) must be thread-safe and outlive the reporter; the
// registry must outlive it too.
class RefusalReporter {
 public:
  enum class Kind { kRefused, kEvicted, kEvictedFull };
  RefusalReporter(AlertSink* sink, std::string listener, std::string transport,
                  MetricsRegistry& metrics, const RefusalReporterOptions& options = {},
                  Kind kind = Kind::kRefused);
  RefusalReporter(const RefusalReporter&) = delete;
  RefusalReporter& operator=(const RefusalReporter&) = delete;

  // Returns true if an alert was emitted for this refusal.
  bool Report(const SenderAddress& src, TimePoint now);
  // kEvicted, kEvictedFull: a connection of `evicted` was closed for one of
  // `newcomer`. held_data: see above; acknowledges: the protocol acknowledges
  // (RELP: what was not acknowledged stays with the sender, who resends it).
  // Returns true if an alert was emitted.
  bool ReportEviction(const SenderAddress& evicted, const SenderAddress& newcomer, bool held_data,
                      bool acknowledges, TimePoint now);

  uint64_t suppressed_total() const { return suppressed_total_; }

 private:
  void Forget(TimePoint now);
  // The per-source and global limits; true if src may be alerted now.
  bool Admit(const SenderAddress& src, TimePoint now);
  void EmitAlert(const SenderAddress& src, TimePoint now, Severity severity, std::string title,
                 std::vector<std::pair<std::string, std::string>> extra);

  AlertSink* const sink_;
  const Kind kind_;
  const std::string listener_;
  const std::string transport_;
  const RefusalReporterOptions options_;
  std::unordered_map<SenderAddress, TimePoint, SenderAddressHash> last_alert_;
  TimePoint window_start_{};
  size_t alerts_in_window_ = 0;
  uint64_t suppressed_since_alert_ = 0;
  uint64_t suppressed_total_ = 0;
  Counter* suppressed_counter_;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_SENDER_ALLOWLIST_H_
