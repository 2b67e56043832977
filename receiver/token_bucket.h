// Per-sender rate limiting: a token bucket per source address, in a bounded
// table so a spoofed-source flood cannot grow memory.
#ifndef KONSEKI_RECEIVER_TOKEN_BUCKET_H_
#define KONSEKI_RECEIVER_TOKEN_BUCKET_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>

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
  // Source addresses tracked at once. When full, the least recently seen one
  // is forgotten (it starts again with a full bucket if it comes back).
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

  double rate_;
  double burst_;
  double tokens_;
  TimePoint last_;
};

// Token buckets keyed by source address, at most options.max_senders of them
// (LRU eviction; a bucket untouched long enough to be full again is the same
// as an absent one, so evicting it loses nothing).
//
// Not thread-safe: one limiter per listener thread (UDP receive thread, TCP
// epoll thread, RELP thread). Memory: about 100 bytes per tracked sender.
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
  Duration TimeUntilToken(const SenderAddress& src, TimePoint now);

  size_t tracked() const { return buckets_.size(); }
  uint64_t evictions() const { return evictions_; }

 private:
  struct Entry {
    SenderAddress src;
    TokenBucket bucket;
  };
  // The bucket of src, created full (evicting the least recent) if absent;
  // marks it most recently used.
  TokenBucket& BucketFor(const SenderAddress& src, TimePoint now);
  TokenBucket* Find(const SenderAddress& src);

  const TokenBucketOptions options_;
  const double burst_;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_map<SenderAddress, std::list<Entry>::iterator, SenderAddressHash> buckets_;
  uint64_t evictions_ = 0;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_TOKEN_BUCKET_H_
