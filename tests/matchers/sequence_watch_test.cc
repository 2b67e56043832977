#include "matchers/sequence_watch.h"

#include <gtest/gtest.h>

#include <string>

namespace konseki::matchers {
namespace {

std::string Sd(uint32_t n) { return "[meta sequenceId=\"" + std::to_string(n) + "\"]"; }

constexpr int64_t kSec = 1'000'000'000;

class SequenceWatchTest : public ::testing::Test {
 protected:
  SequenceGap See(uint32_t n, std::string_view host = "nas01",
                  std::string_view sender = "192.0.2.7") {
    now_ += kSec;
    return watch_.Observe(HostKey::Of(host), sender, Sd(n), now_);
  }
  SequenceWatchOptions options_;
  SequenceWatch watch_{options_};
  int64_t now_ = 1'750'000'000 * kSec;
};

TEST(ReadSequenceIdTest, FindsTheMetaParameterAmongOtherElements) {
  uint32_t n = 0;
  ASSERT_TRUE(ReadSequenceId("[meta sequenceId=\"51201\"]", &n));
  EXPECT_EQ(n, 51201u);
  // syslog-ng with sysUpTime, and elements before it (origin, timeQuality).
  ASSERT_TRUE(ReadSequenceId(
      "[timeQuality tzKnown=\"1\" isSynced=\"0\"][origin software=\"x\" ip=\"10.0.2.15\"]"
      "[meta sysUpTime=\"243\" sequenceId=\"7\"]",
      &n));
  EXPECT_EQ(n, 7u);
  // A value with escaped quote and bracket before it.
  ASSERT_TRUE(
      ReadSequenceId("[exampleSDID@32473 eventSource=\"a\\\"b\\]c\"][meta sequenceId=\"9\"]", &n));
  EXPECT_EQ(n, 9u);
  ASSERT_TRUE(ReadSequenceId("[meta sequenceId=\"2147483647\"]", &n));
  EXPECT_EQ(n, kMaxSequenceId);
}

TEST(ReadSequenceIdTest, RefusesOtherElementsAndWhatIsNoCounter) {
  uint32_t n = 0;
  EXPECT_FALSE(ReadSequenceId("", &n));
  EXPECT_FALSE(ReadSequenceId("[origin sequenceId=\"5\"]", &n));  // not meta
  EXPECT_FALSE(ReadSequenceId("[metadata sequenceId=\"5\"]", &n));
  EXPECT_FALSE(ReadSequenceId("[meta sysUpTime=\"5\"]", &n));
  EXPECT_FALSE(ReadSequenceId("[meta sequenceId=\"hello\"]", &n));
  EXPECT_FALSE(ReadSequenceId("[meta sequenceId=\"0\"]", &n));
  EXPECT_FALSE(ReadSequenceId("[meta sequenceId=\"2147483648\"]", &n));
  EXPECT_FALSE(ReadSequenceId("[meta sequenceId=\"-3\"]", &n));
  EXPECT_FALSE(ReadSequenceId("[meta sequenceId=\"12", &n));
  EXPECT_FALSE(ReadSequenceId("garbage", &n));
}

// memory19 a29: 51201..51280, then 51081 with no logger start between.
TEST_F(SequenceWatchTest, GoingBackBeyondTheGapIsAnAlertWithBothValues) {
  for (uint32_t n = 51201; n <= 51280; ++n) EXPECT_FALSE(See(n).alert) << n;
  const SequenceGap g = See(51081);
  ASSERT_TRUE(g.alert);
  EXPECT_TRUE(g.back);
  EXPECT_EQ(g.previous, 51280u);
  EXPECT_EQ(g.current, 51081u);
  EXPECT_FALSE(See(51082).alert);  // counted on from there
}

TEST_F(SequenceWatchTest, AJumpForwardBeyondTheGapIsAnAlertOneWithinIsNot) {
  See(10);
  EXPECT_FALSE(See(110).alert);  // 99 lost in a burst: max_gap 100
  const SequenceGap g = See(211);
  ASSERT_TRUE(g.alert);
  EXPECT_FALSE(g.back);
  EXPECT_EQ(g.previous, 110u);
  EXPECT_EQ(g.current, 211u);
}

TEST_F(SequenceWatchTest, TheWrapTo1IsNoAlert) {
  See(kMaxSequenceId - 1);
  EXPECT_FALSE(See(kMaxSequenceId).alert);
  EXPECT_FALSE(See(1).alert);
  EXPECT_FALSE(See(2).alert);
  // A line from just before the wrap, late: reordered, no alert either.
  EXPECT_FALSE(See(kMaxSequenceId - 3).alert);
  EXPECT_FALSE(See(3).alert);
}

TEST_F(SequenceWatchTest, ReorderedOrResentLinesAreNoAlertAndTheHighestStays) {
  for (uint32_t n = 100; n <= 150; ++n) See(n);
  // A reconnect resends the unacknowledged lines.
  for (uint32_t n = 120; n <= 150; ++n) EXPECT_FALSE(See(n).alert) << n;
  EXPECT_FALSE(See(151).alert);
  EXPECT_FALSE(See(149).alert);
  EXPECT_FALSE(See(152).alert);
}

TEST_F(SequenceWatchTest, ALoggerStartBetweenBeginsANewCount) {
  for (uint32_t n = 5000; n <= 5010; ++n) See(n);
  watch_.NoteLoggerStart(HostKey::Of("NAS01"), "192.0.2.7");
  EXPECT_FALSE(See(1).alert);  // syslog-ng starting up: sequenceId 1
  EXPECT_FALSE(See(2).alert);
  EXPECT_TRUE(See(5011).alert);  // the old count is over
  // A start told by another sender does not excuse this one's.
  See(100, "nas02");
  watch_.NoteLoggerStart(HostKey::Of("nas02"), "192.0.2.99");
  EXPECT_TRUE(See(1000, "nas02").alert);
}

TEST_F(SequenceWatchTest, EachSenderOfAHostHasItsOwnCount) {
  See(1000, "web1", "192.0.2.1");
  See(7, "web1", "192.0.2.2");  // the host's lines through a relay
  See(5, "web2", "192.0.2.1");
  EXPECT_FALSE(See(1001, "WEB1", "192.0.2.1").alert);
  EXPECT_FALSE(See(8, "web1", "192.0.2.2").alert);
  EXPECT_FALSE(See(6, "web2", "192.0.2.1").alert);
  EXPECT_EQ(watch_.size(), 3u);
}

TEST_F(SequenceWatchTest, AlertsAreRateLimitedAndTheNextSaysHowManyItHeld) {
  ASSERT_EQ(options_.alert_interval_secs, 3600);
  See(1000);
  ASSERT_TRUE(See(5000).alert);
  EXPECT_FALSE(See(9000).alert);   // held
  EXPECT_FALSE(See(13000).alert);  // held
  now_ += 3600 * kSec;
  const SequenceGap g = See(20000);
  ASSERT_TRUE(g.alert);
  EXPECT_EQ(g.held, 2u);
  EXPECT_EQ(g.previous, 13000u);
}

TEST(SequenceWatchBoundTest, PairsAreBoundedOldestFirst) {
  SequenceWatchOptions o;
  o.max_entries = 100;
  SequenceWatch w(o);
  for (int i = 0; i < 1000; ++i) {
    const std::string host = "h" + std::to_string(i);
    w.Observe(HostKey::Of(host), "192.0.2.1", "[meta sequenceId=\"5\"]", i);
    EXPECT_LE(w.size(), 100u);
  }
  // The newest are remembered.
  const SequenceGap g =
      w.Observe(HostKey::Of("h999"), "192.0.2.1", "[meta sequenceId=\"5000\"]", 2000);
  EXPECT_TRUE(g.alert);
}

TEST(SequenceWatchBoundTest, ZeroGapDisablesTheWatch) {
  SequenceWatchOptions o;
  o.max_gap = 0;
  SequenceWatch w(o);
  w.Observe(HostKey::Of("h"), "s", "[meta sequenceId=\"5\"]", 1);
  EXPECT_FALSE(w.Observe(HostKey::Of("h"), "s", "[meta sequenceId=\"5000\"]", 2).alert);
  EXPECT_EQ(w.size(), 0u);
}

}  // namespace
}  // namespace konseki::matchers
