#include "app/truncation_watch.h"

#include <gtest/gtest.h>

#include <string>

namespace konseki::app {
namespace {

const TimePoint kT0 = TimePoint(std::chrono::seconds(1'700'000'000));

TEST(TruncationWatchTest, OneAlertPerSenderPerQuietPeriodCarryingTheCount) {
  TruncationWatch w;
  TruncationWatch::Verdict v = w.Note("192.0.2.1", kT0);
  EXPECT_TRUE(v.alert);
  EXPECT_TRUE(v.new_sender);
  EXPECT_EQ(v.messages, 1u);
  // The same sender padding every line: no more alerts within the hour.
  for (int i = 1; i <= 10; ++i) {
    v = w.Note("192.0.2.1", kT0 + std::chrono::minutes(5 * i));
    EXPECT_FALSE(v.alert) << i;
    EXPECT_FALSE(v.new_sender) << i;
  }
  // Another sender is its own episode.
  EXPECT_TRUE(w.Note("192.0.2.2", kT0 + std::chrono::minutes(1)).alert);
  // An hour after its alert: the next one, with what was cut since.
  v = w.Note("192.0.2.1", kT0 + std::chrono::hours(1));
  EXPECT_TRUE(v.alert);
  EXPECT_EQ(v.messages, 11u);
  EXPECT_FALSE(w.Note("192.0.2.1", kT0 + std::chrono::minutes(61)).alert);
}

// Spoofed UDP senders cannot grow the table: the least recently cut are
// forgotten, and counted as new if they come back.
TEST(TruncationWatchTest, RemembersAtMostMaxSenders) {
  TruncationWatch w(TruncationWatchOptions{std::chrono::hours(1), 3});
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(w.Note("198.51.100." + std::to_string(i), kT0).new_sender);
  }
  EXPECT_EQ(w.senders(), 3u);
  EXPECT_FALSE(w.Note("198.51.100.99", kT0).alert);
  EXPECT_FALSE(w.Note("198.51.100.97", kT0).new_sender);
  EXPECT_TRUE(w.Note("198.51.100.0", kT0).new_sender);
  EXPECT_EQ(w.senders(), 3u);
  // 198.51.100.98 was the least recently cut: forgotten.
  EXPECT_TRUE(w.Note("198.51.100.98", kT0).new_sender);
}

}  // namespace
}  // namespace konseki::app
