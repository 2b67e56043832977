#include "receiver/token_bucket.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

namespace konseki::receiver {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

SenderAddress V4(uint32_t n) {
  SenderAddress a = *SenderAddress::Parse("0.0.0.0");
  a.bytes[12] = static_cast<uint8_t>(n >> 24);
  a.bytes[13] = static_cast<uint8_t>(n >> 16);
  a.bytes[14] = static_cast<uint8_t>(n >> 8);
  a.bytes[15] = static_cast<uint8_t>(n);
  return a;
}

TEST(TokenBucketTest, BurstThenSteadyRate) {
  FakeClock clock;
  TokenBucket b(10, 5, clock.Now());
  int passed = 0;
  for (int i = 0; i < 100; ++i) passed += b.TryTake(clock.Now());
  EXPECT_EQ(passed, 5);
  clock.Advance(milliseconds(100));  // one token at 10/s
  EXPECT_TRUE(b.TryTake(clock.Now()));
  EXPECT_FALSE(b.TryTake(clock.Now()));
  clock.Advance(seconds(60));  // refill is capped at the burst
  passed = 0;
  for (int i = 0; i < 100; ++i) passed += b.TryTake(clock.Now());
  EXPECT_EQ(passed, 5);
}

TEST(TokenBucketTest, DebtIsRepaidBeforeTheNextToken) {
  FakeClock clock;
  TokenBucket b(10, 10, clock.Now());
  b.TakeWithDebt(clock.Now(), 30);  // 20 tokens in debt
  EXPECT_FALSE(b.HasToken(clock.Now()));
  // (1 - (-20)) / 10 = 2.1 s until one whole token.
  Duration wait = b.TimeUntilToken(clock.Now());
  EXPECT_GT(wait, milliseconds(2099));
  EXPECT_LT(wait, milliseconds(2101));
  clock.Advance(milliseconds(2000));
  EXPECT_FALSE(b.HasToken(clock.Now()));
  clock.Advance(milliseconds(101));
  EXPECT_TRUE(b.HasToken(clock.Now()));
}

TEST(TokenBucketTest, ClockGoingBackwardsRefillsNothing) {
  FakeClock clock;
  TokenBucket b(1, 1, clock.Now());
  EXPECT_TRUE(b.TryTake(clock.Now()));
  clock.Advance(-seconds(3600));
  EXPECT_FALSE(b.TryTake(clock.Now()));
}

TEST(TokenBucketOptionsTest, Validate) {
  TokenBucketOptions o;
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_FALSE(o.enabled());
  o.messages_per_sec = -1;
  EXPECT_THAT(o.Validate().message(), HasSubstr("rate_limit.messages_per_sec"));
  o.messages_per_sec = 5;
  o.burst = std::numeric_limits<double>::infinity();
  EXPECT_THAT(o.Validate().message(), HasSubstr("rate_limit.burst"));
}

TEST(SenderRateLimiterTest, DisabledLetsEverythingThrough) {
  FakeClock clock;
  SenderRateLimiter l(TokenBucketOptions{});
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(l.TryTake(V4(1), clock.Now()));
  EXPECT_EQ(l.tracked(), 0u);
}

TEST(SenderRateLimiterTest, SendersHaveSeparateBuckets) {
  FakeClock clock;
  TokenBucketOptions o;
  o.messages_per_sec = 2;
  o.burst = 3;
  SenderRateLimiter l(o);
  int a = 0, b = 0;
  for (int i = 0; i < 10; ++i) a += l.TryTake(V4(1), clock.Now());
  for (int i = 0; i < 10; ++i) b += l.TryTake(V4(2), clock.Now());
  EXPECT_EQ(a, 3);
  EXPECT_EQ(b, 3);
  clock.Advance(milliseconds(500));
  EXPECT_TRUE(l.TryTake(V4(1), clock.Now()));
  EXPECT_FALSE(l.TryTake(V4(1), clock.Now()));
}

TEST(SenderRateLimiterTest, BurstDefaultsToOneSecondOfRate) {
  FakeClock clock;
  TokenBucketOptions o;
  o.messages_per_sec = 7;
  SenderRateLimiter l(o);
  int passed = 0;
  for (int i = 0; i < 100; ++i) passed += l.TryTake(V4(1), clock.Now());
  EXPECT_EQ(passed, 7);
}

TEST(SenderRateLimiterTest, CapacityIsRoundedUpToAPowerOfTwo) {
  TokenBucketOptions o;
  o.messages_per_sec = 1;
  o.max_senders = 1000;
  EXPECT_EQ(SenderRateLimiter(o).capacity(), 1024u);
  o.max_senders = 1;
  EXPECT_EQ(SenderRateLimiter(o).capacity(), 4u);
}

TEST(SenderRateLimiterTest, SpoofedFloodStaysWithinCapacity) {
  FakeClock clock;
  TokenBucketOptions o;
  o.messages_per_sec = 1;
  o.burst = 1;
  o.max_senders = 1024;
  SenderRateLimiter l(o);
  // Every new (spoofed) address gets its fresh bucket's one token.
  for (uint32_t i = 0; i < 100000; ++i) EXPECT_TRUE(l.TryTake(V4(200000 + i), clock.Now()));
  EXPECT_LE(l.tracked(), l.capacity());
  EXPECT_GT(l.tracked(), l.capacity() * 9 / 10);  // the hash spreads addresses over the sets
  EXPECT_EQ(l.evictions() + l.tracked(), 100000u);
}

TEST(SenderRateLimiterTest, ActiveSenderKeepsItsBucketUnderAFlood) {
  FakeClock clock;
  TokenBucketOptions o;
  o.messages_per_sec = 1;
  o.burst = 1;
  o.max_senders = 16;  // tiny table: four sets of four
  SenderRateLimiter l(o);
  EXPECT_TRUE(l.TryTake(V4(7), clock.Now()));
  for (uint32_t i = 0; i < 30000; ++i) {
    l.TryTake(V4(100000 + i), clock.Now());
    // Three new addresses at most between two of its messages: its set can
    // never evict it, so its empty bucket is kept.
    if (i % 3 == 2) {
      ASSERT_FALSE(l.TryTake(V4(7), clock.Now())) << "evicted after " << i;
    }
  }
  EXPECT_GT(l.evictions(), 20000u);
}

TEST(SenderRateLimiterTest, IdleSenderIsEvictedAndStartsFresh) {
  FakeClock clock;
  TokenBucketOptions o;
  o.messages_per_sec = 1;
  o.burst = 1;
  o.max_senders = 16;
  SenderRateLimiter l(o);
  EXPECT_TRUE(l.TryTake(V4(7), clock.Now()));
  EXPECT_FALSE(l.TryTake(V4(7), clock.Now()));
  for (uint32_t i = 0; i < 1000; ++i) l.TryTake(V4(100000 + i), clock.Now());
  EXPECT_EQ(l.tracked(), 16u);
  EXPECT_TRUE(l.TryTake(V4(7), clock.Now()));  // forgotten: a fresh bucket
}

TEST(SenderRateLimiterTest, TakeWithDebtReportsWhenToPause) {
  FakeClock clock;
  TokenBucketOptions o;
  o.messages_per_sec = 100;
  o.burst = 100;
  SenderRateLimiter l(o);
  EXPECT_TRUE(l.TakeWithDebt(V4(1), clock.Now(), 50));
  EXPECT_FALSE(l.TakeWithDebt(V4(1), clock.Now(), 150));  // 100 in debt
  EXPECT_FALSE(l.HasToken(V4(1), clock.Now()));
  EXPECT_TRUE(l.HasToken(V4(2), clock.Now()));  // untracked
  EXPECT_GT(l.TimeUntilToken(V4(1), clock.Now()), seconds(1));
  clock.Advance(milliseconds(1010));
  EXPECT_TRUE(l.HasToken(V4(1), clock.Now()));
}

// What a stream listener may frame of a read: whole tokens, none in debt.
TEST(SenderRateLimiterTest, AvailableCountsWholeTokens) {
  FakeClock clock;
  TokenBucketOptions o;
  EXPECT_EQ(SenderRateLimiter(o).Available(V4(1), clock.Now()), UINT64_MAX);  // disabled
  o.messages_per_sec = 50;
  o.burst = 100;
  SenderRateLimiter l(o);
  EXPECT_EQ(l.Available(V4(1), clock.Now()), 100u);  // a new sender: the burst
  l.TakeWithDebt(V4(1), clock.Now(), 99.5);
  EXPECT_EQ(l.Available(V4(1), clock.Now()), 0u);
  clock.Advance(milliseconds(30));  // +1.5
  EXPECT_EQ(l.Available(V4(1), clock.Now()), 2u);
  l.TakeWithDebt(V4(1), clock.Now(), 10);
  EXPECT_EQ(l.Available(V4(1), clock.Now()), 0u);
  clock.Advance(seconds(60));
  EXPECT_EQ(l.Available(V4(1), clock.Now()), 100u);
}

}  // namespace
}  // namespace konseki::receiver
