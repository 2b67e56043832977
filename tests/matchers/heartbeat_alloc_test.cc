// Observe must not allocate for a known host: counted with a replacement
// global operator new that only counts while this thread asks it to.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "matchers/heartbeat_tracker.h"
#include "tests/matchers/heartbeat_test_util.h"

// GCC cannot see that these replacements pair malloc with free on purpose.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
thread_local bool counting = false;
thread_local size_t allocations = 0;
}  // namespace

void* operator new(size_t n) {
  if (counting) ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace konseki::matchers {
namespace {

using testing::CapturingSink;
using testing::TestMessage;

TEST(HeartbeatAllocTest, ObserveOfAKnownHostDoesNotAllocate) {
  FakeClock clock;
  CapturingSink sink;
  MetricsRegistry metrics;
  HeartbeatOptions options;
  HeartbeatTracker tracker(options, 0, 1, clock, sink, metrics);
  std::vector<std::unique_ptr<TestMessage>> msgs;
  for (int i = 0; i < 1000; ++i) {
    std::string host = "host-" + std::to_string(i);
    msgs.push_back(std::make_unique<TestMessage>(
        host, clock.Now(), "<13>1 2026-11-23T08:00:00Z " + host + " app - - - a typical line",
        "192.0.2." + std::to_string(i % 250), clock.Now()));
  }
  counting = true;
  allocations = 0;
  for (auto& m : msgs) tracker.Observe(m->msg());  // first sight: allocates
  counting = false;
  ASSERT_GT(allocations, 1000u) << "the counter must see the new hosts' allocations";
  for (int round = 0; round < 10; ++round) {
    clock.Advance(std::chrono::seconds(7));
    TimePoint now = clock.Now();
    for (auto& m : msgs) {
      m->m.received = now;
      m->m.timestamp = now;
    }
    counting = true;
    allocations = 0;
    for (auto& m : msgs) tracker.Observe(m->msg());
    counting = false;
    EXPECT_EQ(allocations, 0u) << "round " << round;
  }
  EXPECT_EQ(tracker.hosts_tracked(), 1000u);
}

}  // namespace
}  // namespace konseki::matchers
