#include "receiver/framer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace konseki::receiver {

// Shows frames readably in failure messages (found by ADL).
void PrintTo(const OwnedFrame& f, std::ostream* os) {
  *os << "{\"" << f.bytes.substr(0, 80) << (f.bytes.size() > 80 ? "...\"" : "\"")
      << " size=" << f.bytes.size() << (f.truncated ? " truncated}" : "}");
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

OwnedFrame F(std::string bytes, bool truncated = false) {
  return OwnedFrame{std::move(bytes), truncated};
}

std::vector<OwnedFrame> FrameAll(std::string_view stream, size_t max = 64 * 1024,
                                 FramerStats* stats = nullptr) {
  Framer framer(max, stats);
  std::vector<OwnedFrame> out;
  framer.Feed(stream, &out);
  framer.Finish(&out);
  return out;
}

// Feeds the stream in pieces of the given sizes (cycled).
std::vector<OwnedFrame> FrameInPieces(std::string_view stream, size_t piece, size_t max) {
  Framer framer(max);
  std::vector<OwnedFrame> out;
  for (size_t i = 0; i < stream.size(); i += piece) framer.Feed(stream.substr(i, piece), &out);
  framer.Finish(&out);
  return out;
}

TEST(FramerTest, OctetCountedFrames) {
  EXPECT_THAT(FrameAll("5 hello11 hello world"), ElementsAre(F("hello"), F("hello world")));
}

TEST(FramerTest, OctetCountedMessageMayContainNewlinesAndNul) {
  std::string msg("a\nb\0c\r\nd", 8);
  EXPECT_THAT(FrameAll("8 " + msg + "2 ok"), ElementsAre(F(msg), F("ok")));
}

// rsyslog's forwarding templates end in "\n", which omfwd counts into the
// frame; rsyslog's own receiver drops it, and so do we (it would be archived
// as "#012" otherwise). Only one, and only at the end.
TEST(FramerTest, OctetCountedTrailingLfOrCrLfIsDropped) {
  EXPECT_THAT(FrameAll("6 <13>a\n7 <13>b\r\n7 <13>c\n\n5 <13>d"),
              ElementsAre(F("<13>a"), F("<13>b"), F("<13>c\n"), F("<13>d")));
  EXPECT_THAT(FrameInPieces("6 <13>a\n7 <13>b\r\n", 1, 1024), ElementsAre(F("<13>a"), F("<13>b")));
  // A frame of just the newline is empty: skipped, like an empty LF frame.
  EXPECT_THAT(FrameAll("1 \n2 \r\n2 ok"), ElementsAre(F("ok")));
  // A lone CR is message, not framing.
  EXPECT_THAT(FrameAll("6 <13>e\r"), ElementsAre(F("<13>e\r")));
}

TEST(FramerTest, TruncatedOctetFrameKeepsItsLastByte) {
  EXPECT_THAT(FrameAll("8 <13>abc\n", 4), ElementsAre(F("<13>", true)));
  EXPECT_THAT(FrameAll("5 <13>\n", 4), ElementsAre(F("<13>", true)));
}

TEST(FramerTest, LfFrames) {
  EXPECT_THAT(FrameAll("<13>one\n<13>two\n"), ElementsAre(F("<13>one"), F("<13>two")));
}

TEST(FramerTest, CrLfStripsTheCr) {
  EXPECT_THAT(FrameAll("<13>one\r\n<13>two\r\n"), ElementsAre(F("<13>one"), F("<13>two")));
}

TEST(FramerTest, CrInsideMessageIsKept) { EXPECT_THAT(FrameAll("a\rb\n"), ElementsAre(F("a\rb"))); }

TEST(FramerTest, NulTerminates) {
  EXPECT_THAT(FrameAll(std::string("<13>one\0<13>two\0", 16)),
              ElementsAre(F("<13>one"), F("<13>two")));
}

TEST(FramerTest, EmptyLinesAreSkipped) {
  EXPECT_THAT(FrameAll("\n\r\n<13>a\n\n"), ElementsAre(F("<13>a")));
}

TEST(FramerTest, FramingIsDetectedPerFrame) {
  EXPECT_THAT(FrameAll("3 abc<13>lf one\n4 defg\n<13>lf two\r\n5 hello"),
              ElementsAre(F("abc"), F("<13>lf one"), F("defg"), F("<13>lf two"), F("hello")));
}

TEST(FramerTest, UnterminatedLastLfFrameIsEmittedOnFinish) {
  Framer framer;
  std::vector<OwnedFrame> out;
  framer.Feed("<13>one\n<13>partial", &out);
  EXPECT_THAT(out, ElementsAre(F("<13>one")));
  framer.Finish(&out);
  EXPECT_THAT(out, ElementsAre(F("<13>one"), F("<13>partial")));
}

// Our stop (or a timeout, an eviction, a read error) closed the stream while
// the rest of a message may still have been on its way: what arrived of it
// is kept, but marked truncated and counted, not passed off as a whole
// message. Octet-counted frames are cut the same way whoever closed.
TEST(FramerTest, UnterminatedFrameCutByOurCloseIsTruncatedAndCounted) {
  FramerStats stats;
  Framer framer(8, &stats);
  std::vector<OwnedFrame> out;
  framer.Feed("<13>one\n<13>seq=1", &out);
  framer.Finish(&out, Framer::End::kCut);
  EXPECT_THAT(out, ElementsAre(F("<13>one"), F("<13>seq=", true)));
  EXPECT_EQ(stats.incomplete_at_close, 1u);
  framer.Feed("5 ab", &out);
  framer.Finish(&out, Framer::End::kCut);
  EXPECT_THAT(out, ElementsAre(F("<13>one"), F("<13>seq=", true), F("ab", true)));
  EXPECT_EQ(stats.incomplete_at_close, 2u);
  // Nothing unfinished: nothing to emit or count.
  framer.Feed("<13>two\n", &out);
  framer.Finish(&out, Framer::End::kCut);
  EXPECT_EQ(out.size(), 4u);
  EXPECT_EQ(stats.incomplete_at_close, 2u);
}

TEST(FramerTest, IncompleteOctetFrameOnFinishIsEmittedTruncatedAndCounted) {
  FramerStats stats;
  EXPECT_THAT(FrameAll("10 abc", 1024, &stats), ElementsAre(F("abc", true)));
  EXPECT_EQ(stats.incomplete_at_close, 1u);
}

// A sender stops in the middle of an octet-counted frame and keeps the
// connection open: FlushStalled emits what came (truncated, counted); the
// rest of the count, when it comes, is a frame of its own and the next
// frame is read in step.
TEST(FramerTest, StalledOctetFrameIsEmittedAsItIsAndItsRestFramedOnItsOwn) {
  FramerStats stats;
  Framer framer(1024, &stats);
  std::vector<OwnedFrame> out;
  framer.Feed("5 whole14 root login", &out);
  EXPECT_TRUE(framer.HasUnfinishedFrame());
  framer.FlushStalled(&out);
  EXPECT_FALSE(framer.HasUnfinishedFrame());
  framer.FlushStalled(&out);  // nothing more came: nothing to emit
  EXPECT_THAT(out, ElementsAre(F("whole"), F("root login", true)));
  EXPECT_EQ(stats.stalled, 1u);
  framer.Feed(" ok\n3 abc", &out);
  framer.Finish(&out);
  EXPECT_THAT(out, ElementsAre(F("whole"), F("root login", true), F(" ok", true), F("abc")));
  EXPECT_EQ(stats.incomplete_at_close, 0u);
  EXPECT_EQ(stats.truncated, 2u);
}

TEST(FramerTest, StalledLfFrameIsEmittedAsItIsAndItsRestFramedOnItsOwn) {
  FramerStats stats;
  Framer framer(8, &stats);
  std::vector<OwnedFrame> out;
  framer.Feed("a\n<13>root", &out);
  framer.FlushStalled(&out);
  framer.Feed(" in\nnext\n", &out);
  EXPECT_THAT(out, ElementsAre(F("a"), F("<13>root", true), F(" in", true), F("next")));
  // A rest that is only the terminator adds nothing; the frame after it
  // is not marked.
  framer.Feed("cut", &out);
  framer.FlushStalled(&out);
  framer.Feed("\nafter\n", &out);
  EXPECT_THAT(out, ElementsAre(F("a"), F("<13>root", true), F(" in", true), F("next"),
                               F("cut", true), F("after")));
  // Max + 1 bytes held (the max is 8): the ninth byte starts the rest.
  framer.Feed("abcdefghi", &out);
  framer.FlushStalled(&out);
  framer.Feed("\n", &out);
  EXPECT_EQ(out[out.size() - 2], F("abcdefgh", true));
  EXPECT_EQ(out.back(), F("i", true));
  EXPECT_EQ(stats.stalled, 3u);
}

TEST(FramerTest, StalledOversizeOctetFrameStillSkipsPastTheMax) {
  Framer framer(6);
  std::vector<OwnedFrame> out;
  framer.Feed("10 abc", &out);
  framer.FlushStalled(&out);
  framer.Feed("defghij3 xyz", &out);  // 3 more kept (6 in all), 4 skipped
  EXPECT_THAT(out, ElementsAre(F("abc", true), F("def", true), F("xyz")));
}

TEST(FramerTest, NothingToFlushWithoutMessageBytes) {
  FramerStats stats;
  Framer framer(1024, &stats);
  std::vector<OwnedFrame> out;
  for (const char* s : {"", "12", " "}) {  // nothing, then the count, then its SP
    framer.Feed(s, &out);
    EXPECT_FALSE(framer.HasUnfinishedFrame()) << s;
    framer.FlushStalled(&out);
  }
  EXPECT_THAT(out, IsEmpty());
  EXPECT_EQ(stats.stalled, 0u);
  framer.Feed("abc", &out);
  EXPECT_TRUE(framer.HasUnfinishedFrame());
  framer.FlushStalled(&out);
  EXPECT_THAT(out, ElementsAre(F("abc", true)));
}

TEST(FramerTest, DigitsWithoutSpaceFallBackToLfAndAreCounted) {
  FramerStats stats;
  EXPECT_THAT(FrameAll("12abc\n3 xyz2023-01-01 message\n", 1024, &stats),
              ElementsAre(F("12abc"), F("xyz"), F("2023-01-01 message")));
  EXPECT_EQ(stats.malformed_octet_count, 2u);
}

TEST(FramerTest, LeadingZeroIsMalformed) {
  FramerStats stats;
  EXPECT_THAT(FrameAll("0 x\n05 hello\n", 1024, &stats), ElementsAre(F("0 x"), F("05 hello")));
  EXPECT_EQ(stats.malformed_octet_count, 2u);
}

TEST(FramerTest, TooManyDigitsIsMalformed) {
  FramerStats stats;
  EXPECT_THAT(FrameAll("1234567890123 x\nok\n", 1024, &stats),
              ElementsAre(F("1234567890123 x"), F("ok")));
  EXPECT_EQ(stats.malformed_octet_count, 1u);
}

TEST(FramerTest, OversizeOctetFrameIsTruncatedAndNextFrameIntact) {
  FramerStats stats;
  std::string big(100, 'x');
  EXPECT_THAT(FrameAll("100 " + big + "2 ok<13>lf\n", 10, &stats),
              ElementsAre(F(std::string(10, 'x'), true), F("ok"), F("<13>lf")));
  EXPECT_EQ(stats.truncated, 1u);
}

TEST(FramerTest, OversizeLfFrameIsTruncatedAndNextFrameIntact) {
  FramerStats stats;
  std::string big(100, 'y');
  EXPECT_THAT(FrameAll(big + "\n<13>next\n3 abc", 10, &stats),
              ElementsAre(F(std::string(10, 'y'), true), F("<13>next"), F("abc")));
  EXPECT_EQ(stats.truncated, 1u);
}

TEST(FramerTest, MessageOfExactlyMaxIsNotTruncated) {
  std::string m(10, 'z');
  EXPECT_THAT(FrameAll(m + "\r\n" + m + "\n10 " + m + m + std::string(1, '\0'), 10),
              ElementsAre(F(m), F(m), F(m), F(m)));
  EXPECT_THAT(FrameAll(m + "z\n", 10), ElementsAre(F(m, true)));
  EXPECT_THAT(FrameAll(m + "z\r\n", 10), ElementsAre(F(m, true)));
  EXPECT_THAT(FrameAll(m + "\r", 10), ElementsAre(F(m)));
}

// Every split of a mixed stream into two Feed calls, and feeding byte by byte,
// must give the same frames as one Feed.
TEST(FramerTest, SplitAtEveryByteBoundaryGivesSameFrames) {
  const std::string stream = std::string("5 hello<13>lf one\r\n") + std::string(30, 'L') +
                             "\n12bad\n20 " + std::string(20, 'O') + std::string("\0<13>nul\0", 9) +
                             "3 end<13>tail";
  for (size_t max : {size_t{8}, size_t{1024}}) {
    const std::vector<OwnedFrame> whole = FrameAll(stream, max);
    ASSERT_GE(whole.size(), 8u);
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
      Framer framer(max);
      std::vector<OwnedFrame> out;
      framer.Feed(std::string_view(stream).substr(0, cut), &out);
      framer.Feed(std::string_view(stream).substr(cut), &out);
      framer.Finish(&out);
      ASSERT_EQ(out, whole) << "max " << max << " cut at " << cut;
    }
    for (size_t piece : {1, 2, 3, 7}) {
      ASSERT_EQ(FrameInPieces(stream, piece, max), whole) << "max " << max << " piece " << piece;
    }
  }
}

TEST(FramerTest, GigabyteOctetCountIsSkippedWithoutBuffering) {
  const uint64_t claimed = 1ull << 30;
  const size_t max = 64 * 1024;
  FramerStats stats;
  Framer framer(max, &stats);
  std::vector<OwnedFrame> out;
  framer.Feed("1073741824 ", &out);
  std::string chunk(1 << 20, 'g');
  size_t max_buffered = 0;
  for (uint64_t sent = 0; sent < claimed; sent += chunk.size()) {
    framer.Feed(chunk, &out);
    max_buffered = std::max(max_buffered, framer.buffered_bytes());
  }
  framer.Feed("<13>after the flood\n", &out);
  EXPECT_LE(max_buffered, max + 1);
  EXPECT_EQ(framer.buffered_bytes(), 0u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].bytes, std::string(max, 'g'));
  EXPECT_TRUE(out[0].truncated);
  EXPECT_EQ(out[1], F("<13>after the flood"));
  EXPECT_EQ(stats.truncated, 1u);
}

TEST(FramerTest, MegabyteLineWithoutNewlineIsBounded) {
  const size_t max = 64 * 1024;
  Framer framer(max);
  std::vector<OwnedFrame> out;
  std::string chunk(4096, 'm');
  size_t max_buffered = 0;
  for (int i = 0; i < 256; ++i) {
    framer.Feed(chunk, &out);
    max_buffered = std::max(max_buffered, framer.buffered_bytes());
  }
  EXPECT_LE(max_buffered, max + 1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], F(std::string(max, 'm'), true));
  framer.Feed("still the long line\n<13>next\n", &out);
  framer.Finish(&out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1], F("<13>next"));
}

TEST(FramerTest, BinaryGarbageNeverCrashesAndStaysBounded) {
  std::string garbage;
  uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 1103515245 + 12345;
    garbage.push_back(static_cast<char>(x >> 16));
  }
  const size_t max = 512;
  Framer framer(max);
  size_t frames = 0;
  for (size_t i = 0; i < garbage.size(); i += 333) {
    framer.Feed(std::string_view(garbage).substr(i, 333), [&](std::string_view b, bool) {
      ++frames;
      EXPECT_LE(b.size(), max);
      EXPECT_FALSE(b.empty());
    });
    ASSERT_LE(framer.buffered_bytes(), max + 1);
  }
  framer.Finish([&](std::string_view, bool) { ++frames; });
  EXPECT_GT(frames, 0u);
}

TEST(FramerTest, CallbackFormGivesViewsAndTruncationFlags) {
  Framer framer(4);
  std::vector<std::pair<std::string, bool>> got;
  framer.Feed("ab\nabcdef\n", [&](std::string_view b, bool t) { got.emplace_back(b, t); });
  EXPECT_THAT(got, ElementsAre(std::pair<std::string, bool>("ab", false),
                               std::pair<std::string, bool>("abcd", true)));
}

TEST(FramerTest, SharedStatsCountAcrossFramers) {
  FramerStats stats;
  Framer a(1024, &stats);
  Framer b(1024, &stats);
  std::vector<OwnedFrame> out;
  a.Feed("x\n", &out);
  b.Feed("3 abc", &out);
  EXPECT_EQ(stats.frames, 2u);
  EXPECT_EQ(&a.stats(), &stats);
}

// The rate limit's path: at most max_frames frames, then the bytes taken
// up to the end of the last one; feeding the rest later gives the same
// frames as one Feed, whatever the framing and the splits.
TEST(FramerTest, FeedSomeStopsAfterMaxFramesAndTheRestFollowsInStep) {
  const std::string stream = "5 first<13>lf one\n\n<13>lf two\n11 octet\nframe3 end4 cut";
  std::vector<OwnedFrame> want;
  {
    Framer f(1024);
    f.Feed(stream, &want);
    f.Finish(&want);
  }
  ASSERT_EQ(want.size(), 6u);
  for (uint64_t budget = 1; budget <= 7; ++budget) {
    Framer f(1024);
    std::vector<OwnedFrame> got;
    std::string_view rest = stream;
    while (!rest.empty()) {
      const size_t before = got.size();
      const size_t used = f.FeedSome(rest, budget, &got);
      EXPECT_LE(got.size() - before, budget);
      if (used < rest.size()) {
        EXPECT_EQ(got.size() - before, budget);
      }
      rest.remove_prefix(used);
    }
    f.Finish(&got);
    EXPECT_EQ(got, want) << "budget " << budget;
  }
  Framer f(1024);
  std::vector<OwnedFrame> got;
  EXPECT_EQ(f.FeedSome("a\nb\n", 0, &got), 0u);
  EXPECT_EQ(f.FeedSome("a\nb\n", 1, &got), 2u);
  EXPECT_THAT(got, ElementsAre(F("a")));
}

TEST(FramerTest, FinishOnEmptyFramerEmitsNothing) {
  Framer framer;
  std::vector<OwnedFrame> out;
  framer.Finish(&out);
  EXPECT_THAT(out, IsEmpty());
}

}  // namespace
}  // namespace konseki::receiver
