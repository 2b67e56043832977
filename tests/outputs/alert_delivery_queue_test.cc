// AlertDeliveryQueue: a bounded queue and a delivery thread per sink; Push
// never waits. Backoff: the retry delays.
#include "outputs/alert_delivery_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "tests/testing/sample_alert.h"
#include "tests/testing/wait_for.h"

namespace konseki::outputs {
namespace {

using konseki::testing::SampleAlert;
using konseki::testing::WaitFor;

TEST(AlertDeliveryQueueTest, FullQueueDropsAndCountsWithoutBlockingTheCaller) {
  MetricsRegistry registry;
  AlertDeliveryQueueOptions options;
  options.capacity = 3;
  options.drain_timeout = std::chrono::milliseconds(100);
  AlertDeliveryQueue queue("test", options, registry);
  std::atomic<bool> release{false};
  std::atomic<int> delivered{0};
  queue.Start([&](const Alert&) {
    // A delivery stuck on a dead peer, until the test lets it go.
    while (!release.load()) {
      if (!queue.Sleep(std::chrono::milliseconds(5))) return DeliveryResult::Dropped("shutdown");
    }
    ++delivered;
    return DeliveryResult::Delivered();
  });
  // The first alert is taken by the delivery thread, three wait, the rest
  // are dropped, and every Push returned at once.
  EXPECT_TRUE(queue.Push(SampleAlert()));
  ASSERT_TRUE(WaitFor([&] { return queue.Depth() == 0; }));
  int accepted = 0;
  for (int i = 0; i < 10; ++i) accepted += queue.Push(SampleAlert()) ? 1 : 0;
  EXPECT_EQ(accepted, 3);
  EXPECT_EQ(registry.ValueOf("konseki_alert_delivery_dropped_total",
                             {{"sink", "test"}, {"reason", "queue_full"}}),
            7);
  EXPECT_EQ(registry.ValueOf("konseki_alert_delivery_queue_depth", {{"sink", "test"}}), 3);
  release = true;
  ASSERT_TRUE(WaitFor([&] { return delivered.load() == 4; }));
  EXPECT_TRUE(WaitFor([&] {
    return registry.ValueOf("konseki_alert_deliveries_total", {{"sink", "test"}}) == 4;
  }));
}

TEST(AlertDeliveryQueueTest, StopAbandonsRetriesAfterTheDrainTimeoutAndCountsThem) {
  MetricsRegistry registry;
  AlertDeliveryQueueOptions options;
  options.drain_timeout = std::chrono::milliseconds(50);
  AlertDeliveryQueue queue("stuck", options, registry);
  queue.Start([&](const Alert&) {
    while (queue.Sleep(std::chrono::milliseconds(10))) {
    }
    return DeliveryResult::Dropped("shutdown");
  });
  for (int i = 0; i < 5; ++i) queue.Push(SampleAlert());
  queue.Stop();
  // One abandoned mid-delivery, four still queued: all five accounted for.
  EXPECT_EQ(registry.ValueOf("konseki_alert_delivery_dropped_total",
                             {{"sink", "stuck"}, {"reason", "shutdown"}}),
            5);
  EXPECT_FALSE(queue.Push(SampleAlert()));
  EXPECT_EQ(registry.ValueOf("konseki_alert_delivery_dropped_total",
                             {{"sink", "stuck"}, {"reason", "shutdown"}}),
            6);
}

TEST(BackoffTest, DoublesUpToTheCapAndResets) {
  Backoff b(std::chrono::milliseconds(100), std::chrono::milliseconds(350));
  EXPECT_EQ(b.Next().count(), 100);
  EXPECT_EQ(b.Next().count(), 200);
  EXPECT_EQ(b.Next().count(), 350);
  EXPECT_EQ(b.Next().count(), 350);
  b.Reset();
  EXPECT_EQ(b.Next().count(), 100);
}

}  // namespace
}  // namespace konseki::outputs
