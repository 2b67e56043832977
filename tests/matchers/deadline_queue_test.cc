#include "matchers/deadline_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace konseki::matchers {
namespace {

TEST(DeadlineQueueTest, PopsInDueOrder) {
  DeadlineQueue q;
  std::mt19937_64 rng(42);
  std::vector<int64_t> dues;
  for (uint32_t i = 0; i < 1000; ++i) {
    int64_t due = static_cast<int64_t>(rng() % 100000);
    dues.push_back(due);
    q.Push(due, i);
  }
  std::sort(dues.begin(), dues.end());
  ASSERT_EQ(q.size(), dues.size());
  for (int64_t want : dues) {
    ASSERT_FALSE(q.empty());
    EXPECT_EQ(q.Top().due_ns, want);
    q.Pop();
  }
  EXPECT_TRUE(q.empty());
}

TEST(DeadlineQueueTest, KeepsSlotsWithEqualDueTimes) {
  DeadlineQueue q;
  q.Push(5, 1);
  q.Push(5, 2);
  q.Push(3, 3);
  EXPECT_EQ(q.Top().slot, 3u);
  q.Pop();
  std::vector<uint32_t> slots;
  while (!q.empty()) {
    slots.push_back(q.Top().slot);
    q.Pop();
  }
  std::sort(slots.begin(), slots.end());
  EXPECT_EQ(slots, (std::vector<uint32_t>{1, 2}));
}

}  // namespace
}  // namespace konseki::matchers
