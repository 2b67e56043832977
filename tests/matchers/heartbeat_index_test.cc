#include "matchers/heartbeat_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace konseki::matchers {
namespace {

// Slot s has hash Hash(s); `bits` small makes many collisions and long clusters.
uint64_t Hash(uint32_t slot, int bits) {
  uint64_t x = (slot + 1) * 0x9E3779B97F4A7C15ull;
  return bits >= 64 ? x : (x >> (64 - bits));
}

void CheckAgainstModel(int bits) {
  HeartbeatIndex index;
  std::map<uint32_t, bool> present;  // model: slot -> in index
  std::mt19937 rng(bits);
  for (int step = 0; step < 20000; ++step) {
    uint32_t slot = rng() % 500;
    uint64_t h = Hash(slot, bits);
    if (present[slot]) {
      ASSERT_TRUE(index.Erase(h, slot));
      present[slot] = false;
    } else {
      index.Insert(h, slot);
      present[slot] = true;
    }
    if (step % 97 == 0) {
      size_t n = 0;
      for (const auto& [s, in] : present) {
        uint32_t got = index.Find(Hash(s, bits), [&](uint32_t cand) { return cand == s; });
        ASSERT_EQ(got, in ? s : HeartbeatIndex::kNone) << "slot " << s << " step " << step;
        n += in;
      }
      ASSERT_EQ(index.size(), n);
    }
  }
}

TEST(HeartbeatIndexTest, MatchesAModelWithWellSpreadHashes) { CheckAgainstModel(64); }

TEST(HeartbeatIndexTest, MatchesAModelWhenHashesCollideALot) {
  CheckAgainstModel(4);  // 16 distinct hashes for 500 slots: long clusters, wrap-around
}

TEST(HeartbeatIndexTest, EraseOfAnAbsentSlotIsFalse) {
  HeartbeatIndex index;
  EXPECT_FALSE(index.Erase(1, 1));
  index.Insert(1, 1);
  EXPECT_FALSE(index.Erase(1, 2));
  EXPECT_EQ(index.Find(1, [](uint32_t) { return true; }), 1u);
  EXPECT_TRUE(index.Erase(1, 1));
  EXPECT_EQ(index.Find(1, [](uint32_t) { return true; }), HeartbeatIndex::kNone);
}

}  // namespace
}  // namespace konseki::matchers
