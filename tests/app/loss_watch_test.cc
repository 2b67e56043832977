#include "app/loss_watch.h"

#include <gtest/gtest.h>

namespace konseki::app {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const TimePoint kStart = TimePoint(seconds(1'800'000'000));

TEST(LossWatchTest, NothingLostNothingSaid) {
  LossWatch w;
  EXPECT_FALSE(w.Note({}, kStart).alert);
  EXPECT_FALSE(w.Note({{"kernel.udp_receive_buffer", 0}}, kStart + seconds(1)).alert);
}

TEST(LossWatchTest, FirstLossAlertsAtOnceThenOncePerQuietWithWhatWasLostSince) {
  LossWatch w(minutes(5));
  LossWatch::Verdict v = w.Note({{"kernel.udp_receive_buffer", 120}}, kStart);
  ASSERT_TRUE(v.alert);
  EXPECT_EQ(v.messages, 120u);
  EXPECT_EQ(v.by_cause.at("kernel.udp_receive_buffer"), 120u);
  EXPECT_EQ(v.since.count(), 0);
  // Losses go on: counted, not alerted, within the quiet time.
  EXPECT_FALSE(w.Note({{"kernel.udp_receive_buffer", 300}}, kStart + minutes(1)).alert);
  EXPECT_FALSE(
      w.Note({{"kernel.udp_receive_buffer", 300}, {"receiver.queue_full", 7}}, kStart + minutes(2))
          .alert);
  v = w.Note({{"kernel.udp_receive_buffer", 310}, {"receiver.queue_full", 7}}, kStart + minutes(5));
  ASSERT_TRUE(v.alert);
  EXPECT_EQ(v.messages, 197u);  // 190 + 7 since the first alert
  EXPECT_EQ(v.by_cause.at("kernel.udp_receive_buffer"), 190u);
  EXPECT_EQ(v.by_cause.at("receiver.queue_full"), 7u);
  EXPECT_EQ(v.since, minutes(5));
  // Quiet again: nothing new, nothing said, however long.
  EXPECT_FALSE(
      w.Note({{"kernel.udp_receive_buffer", 310}, {"receiver.queue_full", 7}}, kStart + minutes(60))
          .alert);
  // A new loss after the quiet time alerts at once.
  v = w.Note({{"kernel.udp_receive_buffer", 311}, {"receiver.queue_full", 7}},
             kStart + minutes(61));
  ASSERT_TRUE(v.alert);
  EXPECT_EQ(v.messages, 1u);
}

TEST(LossWatchTest, ACounterThatStartsAgainCountsFromItsNewValue) {
  LossWatch w(minutes(5));
  ASSERT_TRUE(w.Note({{"archive.buffer_full", 50}}, kStart).alert);
  const LossWatch::Verdict v = w.Note({{"archive.buffer_full", 4}}, kStart + minutes(6));
  ASSERT_TRUE(v.alert);
  EXPECT_EQ(v.messages, 4u);
}

}  // namespace
}  // namespace konseki::app
