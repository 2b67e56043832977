// Who gets a stream listener's connection slots (tcp://, tls://, relp://,
// relp+tls://): a per-source cap, eviction (from the source holding the most
// slots, its longest idle connection) when the listener is full, and a
// timeout for connections that never completed a frame. Before these, 4,096
// idle sockets from one address filled max_connections and every other
// sender was reset (issue 10 item 3).
//
// Usage, in a listener's epoll thread (conns: a map of key -> unique_ptr to
// a connection with members `src` (SenderAddress), `last_activity`
// (TimePoint: last bytes read, accept time before), `order` (uint64_t from
// NextOrder()), `framed` (bool: a frame completed; TLS after the handshake;
// RELP the open command) and `paused` (bool: not read because of the rate
// limit)):
//
//   Key victim;
//   switch (limits.Admit(src, conns, &victim)) {
//     case Admission::kAdmit: break;
//     case Admission::kEvictFirst: CloseConnection(victim); break;
//     case Admission::kRefuse: close(fd); continue;  // counted
//   }
//   ... add the connection; limits.Added(src);
//   ... on every close: limits.Removed(c->src);
//   ... about once a clock second: limits.Expired(now, conns, &expired);
//
// Not thread-safe: one per listener, used by its thread only.
#ifndef KONSEKI_RECEIVER_CONNECTION_LIMITS_H_
#define KONSEKI_RECEIVER_CONNECTION_LIMITS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"
#include "receiver/sender_allowlist.h"

namespace konseki::receiver {

struct ConnectionLimitOptions {
  // Connections open at once from one source address. A new connection from
  // a source at its cap closes that source's longest idle connection, so a
  // sender that leaks connections (or left half-open ones behind when it
  // rebooted) hurts only itself. 64: a forwarder needs one or a few per
  // action, a NAT of a few dozen hosts fits, and filling the default 4,096
  // slots then takes 64 addresses instead of one.
  size_t max_connections_per_source = 64;
  // A connection that has not completed a frame (TLS: nor its handshake;
  // RELP: its open) and received no bytes for this long (by the listener's
  // Clock) is closed. Senders write as soon as they connect; a slot held
  // without a frame is a scanner or a flood. 0 = never.
  int first_frame_timeout_secs = 30;

  Status Validate() const;
};

// Connections konseki closed to make room or because they never framed:
//   konseki_connections_evicted_total{listener,reason} with reason
//     "max_connections"             the listener was full: a connection
//                                   made room for a new one (never-framed
//                                   first, then one of the source holding
//                                   the most slots, its longest idle)
//     "max_connections_per_source"  its source was at its cap
//     "first_frame_timeout"         no frame within first_frame_timeout_secs
// A new connection that finds no connection to evict (every one is paused by
// the rate limit, or the listener is draining for a stop) is closed and
// counted in
// konseki_connections_rejected_total{listener,reason="max_connections"}.
class ConnectionLimits {
 public:
  enum class Admission { kAdmit, kEvictFirst, kRefuse };

  // max_connections: the listener's cap. The registry must outlive this.
  ConnectionLimits(const ConnectionLimitOptions& options, size_t max_connections,
                   MetricsRegistry& metrics, const std::string& listener);
  ConnectionLimits(const ConnectionLimits&) = delete;
  ConnectionLimits& operator=(const ConnectionLimits&) = delete;

  // Decides on a new connection from src (allowed by the allow list) while
  // `conns` are open. kEvictFirst: close *victim first (already counted).
  // kRefuse: close the new one (already counted). may_evict = false (a
  // listener draining for a stop: an open connection may still hold what
  // its sender sent) refuses instead of evicting.
  template <typename Map>
  Admission Admit(const SenderAddress& src, const Map& conns, typename Map::key_type* victim,
                  bool may_evict = true) {
    const bool source_full = SourceCount(src) >= options_.max_connections_per_source;
    if (!source_full && conns.size() < max_connections_) return Admission::kAdmit;
    if (!may_evict) {
      rejected_->Inc();
      return Admission::kRefuse;
    }
    const auto* best = static_cast<const typename Map::value_type*>(nullptr);
    size_t best_slots = 0;
    for (const auto& entry : conns) {
      const auto& c = *entry.second;
      if (c.paused || (source_full && !(c.src == src))) continue;
      // Per source full: all candidates share src. Listener full: the
      // source holding the most slots goes first, so a flood evicts itself
      // before the senders it floods out (prod19b finding 1).
      const size_t slots = source_full ? 0 : SourceCount(c.src);
      if (best == nullptr || EvictsBefore(c, slots, *best->second, best_slots)) {
        best = &entry;
        best_slots = slots;
      }
    }
    if (best == nullptr) {
      rejected_->Inc();
      return Admission::kRefuse;
    }
    *victim = best->first;
    (source_full ? evicted_per_source_ : evicted_full_)->Inc();
    return Admission::kEvictFirst;
  }

  // The new connection from src was added; its order.
  uint64_t Added(const SenderAddress& src);
  // A connection from src is closed (for whatever reason).
  void Removed(const SenderAddress& src);

  // Appends the keys of connections past first_frame_timeout_secs (counted);
  // the caller closes them. Scans at most about once a clock second.
  template <typename Map>
  void Expired(TimePoint now, const Map& conns, std::vector<typename Map::key_type>* out) {
    if (options_.first_frame_timeout_secs <= 0 || !ScanDue(now)) return;
    const auto limit = std::chrono::seconds(options_.first_frame_timeout_secs);
    for (const auto& [key, c] : conns) {
      if (!c->framed && !c->paused && now - c->last_activity >= limit) {
        out->push_back(key);
        first_frame_timeouts_->Inc();
      }
    }
  }

  // True while connections may time out: the listener then wakes up about
  // every this many ms to look (its Clock may be fake).
  bool needs_ticks() const { return options_.first_frame_timeout_secs > 0; }
  size_t SourceCount(const SenderAddress& src) const;
  // src is at max_connections_per_source: a new connection of its evicts one
  // of its own.
  bool SourceFull(const SenderAddress& src) const {
    return SourceCount(src) >= options_.max_connections_per_source;
  }

 private:
  // Never-framed connections go first (scanners, floods), then those of the
  // source holding the most slots (a_slots, b_slots), then the one idle
  // longest; ties by accept order.
  template <typename C>
  static bool EvictsBefore(const C& a, size_t a_slots, const C& b, size_t b_slots) {
    if (a.framed != b.framed) return !a.framed;
    if (a_slots != b_slots) return a_slots > b_slots;
    if (a.last_activity != b.last_activity) return a.last_activity < b.last_activity;
    return a.order < b.order;
  }
  bool ScanDue(TimePoint now);

  const ConnectionLimitOptions options_;
  const size_t max_connections_;
  std::unordered_map<SenderAddress, uint32_t, SenderAddressHash> per_source_;
  uint64_t next_order_ = 0;
  TimePoint last_scan_{};
  Counter* evicted_full_;
  Counter* evicted_per_source_;
  Counter* first_frame_timeouts_;
  Counter* rejected_;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_CONNECTION_LIMITS_H_
