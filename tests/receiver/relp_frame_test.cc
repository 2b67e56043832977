#include "receiver/relp_frame.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace konseki::receiver {
namespace {

struct Decoded {
  uint32_t txnr;
  std::string command;
  std::string data;
  uint32_t datalen;
  bool truncated;
  friend bool operator==(const Decoded&, const Decoded&) = default;
};

// Feeds `pieces` one after another; returns the frames and the final result.
std::vector<Decoded> DecodeAll(const std::vector<std::string>& pieces, RelpFrameDecoder* decoder,
                               RelpFrameDecoder::Result* last = nullptr) {
  std::vector<Decoded> out;
  RelpFrameDecoder::Result r = RelpFrameDecoder::Result::kNeedMore;
  for (const std::string& piece : pieces) {
    std::string_view in = piece;
    RelpFrame f;
    while ((r = decoder->Next(&in, &f)) == RelpFrameDecoder::Result::kFrame) {
      out.push_back(
          {f.txnr, std::string(f.command_name), std::string(f.data), f.datalen, f.truncated});
    }
    if (r == RelpFrameDecoder::Result::kError) break;
    EXPECT_TRUE(in.empty());
  }
  if (last != nullptr) *last = r;
  return out;
}

std::string Frame(uint32_t txnr, std::string_view cmd, std::string_view data) {
  std::string s;
  AppendRelpFrame(txnr, cmd, data, &s);
  return s;
}

TEST(RelpFrameTest, AppendWritesTheWireFormat) {
  EXPECT_EQ(Frame(7, "syslog", "<13>hi"), "7 syslog 6 <13>hi\n");
  EXPECT_EQ(Frame(3, "close", ""), "3 close 0\n");
  EXPECT_EQ(Frame(0, "serverclose", ""), "0 serverclose 0\n");
}

TEST(RelpFrameTest, NextTxnrWrapsToOneAfterMax) {
  EXPECT_EQ(RelpNextTxnr(1), 2u);
  EXPECT_EQ(RelpNextTxnr(kRelpMaxTxnr - 1), kRelpMaxTxnr);
  EXPECT_EQ(RelpNextTxnr(kRelpMaxTxnr), 1u);
}

TEST(RelpFrameTest, WholeFrameIsAViewIntoTheInput) {
  RelpFrameDecoder d;
  const std::string bytes = "12 syslog 5 hello\n";
  std::string_view in = bytes;
  RelpFrame f;
  ASSERT_EQ(d.Next(&in, &f), RelpFrameDecoder::Result::kFrame);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(f.txnr, 12u);
  EXPECT_EQ(f.command, RelpCommand::kSyslog);
  EXPECT_EQ(f.data, "hello");
  EXPECT_EQ(f.data.data(), bytes.data() + 12);
  EXPECT_FALSE(f.truncated);
  EXPECT_TRUE(d.AtFrameBoundary());
}

// Regression (found by fuzz/relp_session): DATA ending exactly at the end of
// one input and its trailer in the next. The first buffer is overwritten
// before the second call, as a listener's shared read buffer is.
TEST(RelpFrameTest, DataEndingAtTheInputEndSurvivesTheBufferBeingReused) {
  RelpFrameDecoder d;
  std::string buf = "12 syslog 5 hello";
  std::string_view in = buf;
  RelpFrame f;
  ASSERT_EQ(d.Next(&in, &f), RelpFrameDecoder::Result::kNeedMore);
  EXPECT_TRUE(in.empty());
  buf.assign(buf.size(), 'X');
  buf.shrink_to_fit();
  std::string trailer = "\n";
  in = trailer;
  ASSERT_EQ(d.Next(&in, &f), RelpFrameDecoder::Result::kFrame);
  EXPECT_EQ(f.txnr, 12u);
  EXPECT_EQ(f.data, "hello");
  EXPECT_TRUE(in.empty());
}

TEST(RelpFrameTest, ClassifiesCommands) {
  RelpFrameDecoder d;
  std::string bytes = Frame(1, "open", "x") + Frame(2, "syslog", "y") + Frame(3, "close", "") +
                      Frame(4, "rsp", "200 OK") + Frame(0, "serverclose", "") +
                      Frame(5, "starttls", "");
  std::string_view in = bytes;
  std::vector<RelpCommand> cmds;
  RelpFrame f;
  while (d.Next(&in, &f) == RelpFrameDecoder::Result::kFrame) cmds.push_back(f.command);
  EXPECT_THAT(cmds, testing::ElementsAre(RelpCommand::kOpen, RelpCommand::kSyslog,
                                         RelpCommand::kClose, RelpCommand::kRsp,
                                         RelpCommand::kServerClose, RelpCommand::kOther));
}

TEST(RelpFrameTest, EverySplitPointGivesTheSameFrames) {
  const std::string stream = Frame(1, "open", "relp_version=0\ncommands=syslog") +
                             Frame(2, "syslog", "<13>Nov 23 08:00:00 host app: one") +
                             Frame(3, "syslog", "") + Frame(4, "syslog", "x\ny z") +
                             Frame(5, "close", "");
  RelpFrameDecoder whole;
  const std::vector<Decoded> expected = DecodeAll({stream}, &whole);
  ASSERT_EQ(expected.size(), 5u);
  EXPECT_EQ(expected[3].data, "x\ny z");
  for (size_t i = 0; i <= stream.size(); ++i) {
    for (size_t j = i; j <= stream.size(); j += 7) {
      RelpFrameDecoder d;
      auto got = DecodeAll({stream.substr(0, i), stream.substr(i, j - i), stream.substr(j)}, &d);
      ASSERT_EQ(got, expected) << "split at " << i << "," << j;
    }
  }
  RelpFrameDecoder bytewise;
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  EXPECT_EQ(DecodeAll(bytes, &bytewise), expected);
}

TEST(RelpFrameTest, OversizeDataIsTruncatedAndTheStreamContinues) {
  const std::string big(100, 'a');
  const std::string stream = Frame(1, "syslog", big) + Frame(2, "syslog", "ok");
  for (size_t split = 0; split <= stream.size(); ++split) {
    RelpFrameDecoder d(RelpFrameDecoderOptions{.max_data_bytes = 10});
    auto got = DecodeAll({stream.substr(0, split), stream.substr(split)}, &d);
    ASSERT_EQ(got.size(), 2u) << split;
    EXPECT_EQ(got[0].data, std::string(10, 'a'));
    EXPECT_EQ(got[0].datalen, 100u);
    EXPECT_TRUE(got[0].truncated);
    EXPECT_EQ(got[1].data, "ok");
    EXPECT_FALSE(got[1].truncated);
  }
}

TEST(RelpFrameTest, OversizeDataIsAnErrorWhenTruncationIsOff) {
  RelpFrameDecoder d(RelpFrameDecoderOptions{.max_data_bytes = 10, .truncate_oversize = false});
  RelpFrameDecoder::Result r;
  auto got = DecodeAll({Frame(1, "syslog", std::string(11, 'a'))}, &d, &r);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(r, RelpFrameDecoder::Result::kError);
  EXPECT_EQ(d.error(), RelpFrameError::kDataTooLong);
}

TEST(RelpFrameTest, HugeDatalenDoesNotAllocateItsSize) {
  // 999999999 announced: only max_data_bytes are ever kept.
  RelpFrameDecoder d(RelpFrameDecoderOptions{.max_data_bytes = 16});
  std::string_view in = "1 syslog 999999999 abc";
  RelpFrame f;
  EXPECT_EQ(d.Next(&in, &f), RelpFrameDecoder::Result::kNeedMore);
  const std::string chunk(1 << 16, 'z');
  for (int i = 0; i < 8; ++i) {
    std::string_view c = chunk;
    EXPECT_EQ(d.Next(&c, &f), RelpFrameDecoder::Result::kNeedMore);
  }
  EXPECT_FALSE(d.AtFrameBoundary());
}

struct MalformedCase {
  std::string bytes;
  RelpFrameError error;
};

class RelpFrameMalformedTest : public testing::TestWithParam<MalformedCase> {};

TEST_P(RelpFrameMalformedTest, IsRejectedWithTheRightReason) {
  const MalformedCase& c = GetParam();
  // Whole and byte by byte must agree.
  for (bool bytewise : {false, true}) {
    RelpFrameDecoder d;
    std::vector<std::string> pieces;
    if (bytewise) {
      for (char ch : c.bytes) pieces.emplace_back(1, ch);
    } else {
      pieces.push_back(c.bytes);
    }
    RelpFrameDecoder::Result r;
    auto got = DecodeAll(pieces, &d, &r);
    EXPECT_TRUE(got.empty()) << c.bytes;
    EXPECT_EQ(r, RelpFrameDecoder::Result::kError) << c.bytes;
    EXPECT_EQ(d.error(), c.error) << c.bytes << " got " << RelpFrameErrorName(d.error());
    // Sticky: valid bytes afterwards do not revive the decoder.
    std::string_view more = "1 syslog 1 a\n";
    RelpFrame f;
    EXPECT_EQ(d.Next(&more, &f), RelpFrameDecoder::Result::kError);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RelpFrameMalformedTest,
    testing::Values(MalformedCase{"x syslog 1 a\n", RelpFrameError::kBadTxnr},
                    MalformedCase{" 1 syslog 1 a\n", RelpFrameError::kBadTxnr},
                    MalformedCase{"1234567890 syslog 1 a\n", RelpFrameError::kBadTxnr},
                    MalformedCase{"1syslog 1 a\n", RelpFrameError::kBadTxnr},
                    MalformedCase{"-1 syslog 1 a\n", RelpFrameError::kBadTxnr},
                    MalformedCase{"1  syslog 1 a\n", RelpFrameError::kBadCommand},
                    MalformedCase{"1 sys-log 1 a\n", RelpFrameError::kBadCommand},
                    MalformedCase{"1 syslog2 1 a\n", RelpFrameError::kBadCommand},
                    MalformedCase{"1 " + std::string(33, 'a') + " 1 a\n",
                                  RelpFrameError::kBadCommand},
                    MalformedCase{"1 syslog x\n", RelpFrameError::kBadDatalen},
                    MalformedCase{"1 syslog  1 a\n", RelpFrameError::kBadDatalen},
                    MalformedCase{"1 syslog 1234567890 a\n", RelpFrameError::kBadDatalen},
                    MalformedCase{"1 syslog 5\nabcde\n", RelpFrameError::kBadDatalen},
                    MalformedCase{"1 syslog 3 abcX", RelpFrameError::kBadTrailer},
                    MalformedCase{"1 syslog 3 abc\r\n", RelpFrameError::kBadTrailer},
                    MalformedCase{"1 close 0 \n", RelpFrameError::kBadTrailer},
                    MalformedCase{"1 syslog 2 abc\n", RelpFrameError::kBadTrailer}));

TEST(RelpFrameTest, MaxLengthFieldsAreAccepted) {
  RelpFrameDecoder d;
  const std::string cmd(32, 'q');
  auto got = DecodeAll({"999999999 " + cmd + " 000000001 a\n"}, &d);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].txnr, 999999999u);
  EXPECT_EQ(got[0].command, cmd);
  EXPECT_EQ(got[0].data, "a");
}

}  // namespace
}  // namespace konseki::receiver
