#include "receiver/token_bucket.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace konseki::receiver {

Status TokenBucketOptions::Validate() const {
  if (!std::isfinite(messages_per_sec) || messages_per_sec < 0) {
    return Status::InvalidArgument(
        "rate_limit.messages_per_sec must be a number >= 0 (0 = "
        "unlimited), got " +
        std::to_string(messages_per_sec));
  }
  if (!std::isfinite(burst) || burst < 0) {
    return Status::InvalidArgument(
        "rate_limit.burst must be a number >= 0 (0 = one second's "
        "worth), got " +
        std::to_string(burst));
  }
  if (enabled() && max_senders == 0) {
    return Status::InvalidArgument("rate_limit: max_senders must be positive");
  }
  return Status::Ok();
}

void TokenBucket::Refill(TimePoint now) {
  if (now <= last_) return;
  const double secs = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + secs * rate_);
  last_ = now;
}

bool TokenBucket::TryTake(TimePoint now) {
  Refill(now);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void TokenBucket::TakeWithDebt(TimePoint now, double n) {
  Refill(now);
  tokens_ -= n;
}

bool TokenBucket::HasToken(TimePoint now) {
  Refill(now);
  return tokens_ >= 1;
}

Duration TokenBucket::TimeUntilToken(TimePoint now) {
  Refill(now);
  if (tokens_ >= 1) return Duration::zero();
  if (rate_ <= 0) return Duration::max();
  return std::chrono::duration_cast<Duration>(
             std::chrono::duration<double>((1 - tokens_) / rate_)) +
         Duration(1);
}

SenderRateLimiter::SenderRateLimiter(const TokenBucketOptions& options)
    : options_(options),
      burst_(std::max(1.0, options.burst > 0 ? options.burst : options.messages_per_sec)) {
  if (!options_.enabled()) return;
  size_t sets = 1;
  while (sets * kWays < options_.max_senders) sets *= 2;
  slots_.resize(sets * kWays);
  set_mask_ = sets - 1;
}

TokenBucket& SenderRateLimiter::BucketFor(const SenderAddress& src, TimePoint now) {
  Slot* set = &slots_[(SenderAddressHash()(src) & set_mask_) * kWays];
  Slot* victim = &set[0];
  for (size_t i = 0; i < kWays; ++i) {
    Slot& slot = set[i];
    if (slot.last_use != 0 && slot.src == src) {
      slot.last_use = ++use_counter_;
      return slot.bucket;
    }
    if (slot.last_use < victim->last_use) victim = &slot;
  }
  if (victim->last_use != 0) {
    ++evictions_;
  } else {
    ++tracked_;
  }
  victim->src = src;
  victim->bucket = TokenBucket(options_.messages_per_sec, burst_, now);
  victim->last_use = ++use_counter_;
  return victim->bucket;
}

TokenBucket* SenderRateLimiter::Find(const SenderAddress& src) {
  if (slots_.empty()) return nullptr;
  Slot* set = &slots_[(SenderAddressHash()(src) & set_mask_) * kWays];
  for (size_t i = 0; i < kWays; ++i) {
    if (set[i].last_use != 0 && set[i].src == src) return &set[i].bucket;
  }
  return nullptr;
}

bool SenderRateLimiter::TryTake(const SenderAddress& src, TimePoint now) {
  if (!enabled()) return true;
  return BucketFor(src, now).TryTake(now);
}

bool SenderRateLimiter::TakeWithDebt(const SenderAddress& src, TimePoint now, double n) {
  if (!enabled()) return true;
  TokenBucket& b = BucketFor(src, now);
  b.TakeWithDebt(now, n);
  return b.HasToken(now);
}

bool SenderRateLimiter::HasToken(const SenderAddress& src, TimePoint now) {
  if (!enabled()) return true;
  TokenBucket* b = Find(src);
  return b == nullptr || b->HasToken(now);
}

uint64_t SenderRateLimiter::Available(const SenderAddress& src, TimePoint now) {
  if (!enabled()) return UINT64_MAX;
  const double t = BucketFor(src, now).tokens(now);
  return t < 1 ? 0 : static_cast<uint64_t>(t);
}

Duration SenderRateLimiter::TimeUntilToken(const SenderAddress& src, TimePoint now) {
  if (!enabled()) return Duration::zero();
  TokenBucket* b = Find(src);
  return b == nullptr ? Duration::zero() : b->TimeUntilToken(now);
}

}  // namespace konseki::receiver
