// Per-sender rate limiting: a token bucket per source address, in a bounded
// table so a spoofed-source flood cannot grow memory.
#ifndef KONSEKI_RECEIVER_TOKEN_BUCKET_H_
#define KONSEKI_RECEIVER_TOKEN_BUCKET_H_

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "receiver/sender_allowlist.h"

namespace konseki::receiver {

// Config `rate_limit: {messages_per_sec: N, burst: M}` of one listener.
struct TokenBucketOptions {
  // Sustained messages per second per source address; 0 = unlimited.
  double messages_per_sec = 0;
  // Messages a sender may send at once after being quiet; 0 = one second's
  // worth (messages_per_sec), and never less than 1.
  double burst = 0;
  // Source addresses tracked at once (rounded up to a power of two, at least
  // 4). When full, a least recently seen one is forgotten (it starts again
  // with a full bucket if it comes back).
  size_t max_senders = 65536;

  bool enabled() const { return messages_per_sec > 0; }
  // InvalidArgument naming the key if a value is negative or not finite.
  Status Validate() const;
};

// One bucket: holds up to `burst` tokens, refilled at `rate` per second. A
// plain value, not thread-safe. Time comes from the caller (the injected
// Clock); time going backwards refills nothing.
class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(double rate_per_sec, double burst, TimePoint now)
      : rate_(rate_per_sec), burst_(burst), tokens_(burst), last_(now) {}

  // Takes one token if there is one (UDP: drop otherwise).
  bool TryTake(TimePoint now);
  // Takes n tokens even if that leaves a debt (TCP: the bytes were already
  // read; the connection then waits until the debt is repaid).
  void TakeWithDebt(TimePoint now, double n);
  // True if at least one token is available now.
  bool HasToken(TimePoint now);
  // How long until one token is available (zero if one is now).
  Duration TimeUntilToken(TimePoint now);
  double tokens(TimePoint now) {
    Refill(now);
    return tokens_;
  }

 private:
  void Refill(TimePoint now);

  double rate_ = 0;
  double burst_ = 0;
  double tokens_ = 0;
  TimePoint last_{};
};

// Token buckets keyed by source address, in a fixed table of
// options.max_senders slots allocated once (when enabled): a 4-way
// set-associative cache, like a CPU cache. An address hashes to one set of 4
// slots; a new address takes a free slot of its set or evicts the least
// recently used one there. No allocation per message or per new sender, so a
// spoofed-source flood costs the same as any other traffic and cannot grow
// memory; a sender that keeps sending is never evicted by fewer than 4 new
// addresses landing in its set between two of its messages. (A bucket
// untouched long enough to be full again is the same as an absent one, so
// evicting it loses nothing.)
//
// Not thread-safe: one limiter per listener thread (UDP receive thread, TCP
// epoll thread, RELP thread). Memory: 56 bytes per slot (3.5 MiB at the default 65536).
class SenderRateLimiter {
 public:
  explicit SenderRateLimiter(const TokenBucketOptions& options);
  SenderRateLimiter(const SenderRateLimiter&) = delete;
  SenderRateLimiter& operator=(const SenderRateLimiter&) = delete;

  bool enabled() const { return options_.enabled(); }
  // One message from src: true if it may pass (always true when disabled).
  bool TryTake(const SenderAddress& src, TimePoint now);
  // n messages from src already read (TCP); returns true if src still has a
  // token, false if its connections should pause (see TimeUntilToken).
  bool TakeWithDebt(const SenderAddress& src, TimePoint now, double n);
  // True if src may send now (always when disabled or untracked).
  bool HasToken(const SenderAddress& src, TimePoint now);
  // Whole tokens src has now (UINT64_MAX when disabled): the messages a
  // stream listener may frame of its input before pausing it. Tracks src.
  uint64_t Available(const SenderAddress& src, TimePoint now);
  Duration TimeUntilToken(const SenderAddress& src, TimePoint now);

  // For a stream listener's paused connections: moves every key whose
  // sender has a token again from *paused to *ready, and drops the keys no
  // longer in conns (connections closed meanwhile). conns maps Key to a
  // pointer to a connection with a `SenderAddress src` member. Returns the
  // epoll timeout until the next check: -1 if nothing is left paused, else
  // the milliseconds until the next sender may send, in [1, max_ms].
  template <typename Key, typename ConnMap>
  int TakeResumable(TimePoint now, int max_ms, const ConnMap& conns, std::vector<Key>* paused,
                    std::vector<Key>* ready) {
    if (paused->empty()) return -1;
    Duration next = std::chrono::milliseconds(max_ms);
    std::erase_if(*paused, [&](const Key& key) {
      auto it = conns.find(key);
      if (it == conns.end()) return true;
      const Duration wait = TimeUntilToken(it->second->src, now);
      if (wait > Duration::zero()) {
        next = std::min(next, wait);
        return false;
      }
      ready->push_back(key);
      return true;
    });
    if (paused->empty()) return -1;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(next).count();
    return static_cast<int>(std::clamp<int64_t>(ms, 1, max_ms));
  }

  // Addresses tracked now, at most capacity().
  size_t tracked() const { return tracked_; }
  size_t capacity() const { return slots_.size(); }
  uint64_t evictions() const { return evictions_; }

 private:
  static constexpr size_t kWays = 4;
  struct Slot {
    SenderAddress src;
    TokenBucket bucket;
    uint64_t last_use = 0;  // 0 = free
  };
  // The bucket of src, created full (evicting the least recent) if absent;
  // marks it most recently used.
  TokenBucket& BucketFor(const SenderAddress& src, TimePoint now);
  TokenBucket* Find(const SenderAddress& src);

  const TokenBucketOptions options_;
  const double burst_;
  std::vector<Slot> slots_;  // sets of kWays consecutive slots
  size_t set_mask_ = 0;
  uint64_t use_counter_ = 0;
  size_t tracked_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_TOKEN_BUCKET_H_
