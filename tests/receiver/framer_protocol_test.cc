// FramerProtocol driven through the StreamHandler interface alone, with
// no socket: what StreamListener sees of it.
#include "receiver/framer_protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/metrics.h"
#include "receiver/stream_handler.h"
#include "tests/receiver/recording_frame_out.h"

namespace konseki::receiver {
namespace {

TEST(FramerProtocolTest, TakesEveryByteAndEmitsTheLastFrameOnClose) {
  MetricsRegistry metrics;
  FramerProtocol protocol(8, metrics, "tcp://x");
  EXPECT_FALSE(protocol.Acknowledges());
  RecordingFrameOut out;
  auto h = protocol.NewHandler(&out);
  EXPECT_FALSE(h->Framed());
  EXPECT_EQ(h->OnBytes("5 hellotoolongline\nlast"), 23u);
  EXPECT_TRUE(h->Framed());
  EXPECT_TRUE(h->WantsInput());
  EXPECT_TRUE(h->PendingOutput().empty());
  EXPECT_FALSE(h->Done());
  h->OnClose(true);
  EXPECT_EQ(out.frames,
            (std::vector<Emitted>{{"hello", false, 0}, {"toolongl", true, 0}, {"last", false, 0}}));
}

TEST(FramerProtocolTest, LastFrameOfACutConnectionIsTruncatedAndCounted) {
  MetricsRegistry metrics;
  FramerProtocol protocol(1024, metrics, "tcp://x");
  RecordingFrameOut out;
  auto h = protocol.NewHandler(&out);
  h->OnBytes("<13>whole\n<13>seq=1");
  h->OnClose(false);
  protocol.PublishCounters();
  EXPECT_EQ(out.frames, (std::vector<Emitted>{{"<13>whole", false, 0},
                                              {"<13>seq=1", true, 0, TruncationCause::kCut}}));
  EXPECT_EQ(metrics.ValueOf("konseki_framing_errors_total",
                            {{"listener", "tcp://x"}, {"reason", "incomplete_frame"}}),
            1);
}

TEST(FramerProtocolTest, StalledFrameIsEmittedOnStallAndCounted) {
  MetricsRegistry metrics;
  FramerProtocol protocol(1024, metrics, "tcp://x");
  RecordingFrameOut out;
  auto h = protocol.NewHandler(&out);
  EXPECT_FALSE(h->HoldsUnfinished());
  h->OnBytes("<13>whole\n40 <13>held back");
  EXPECT_TRUE(h->HoldsUnfinished());
  h->OnStall();
  EXPECT_FALSE(h->HoldsUnfinished());
  h->OnStall();
  protocol.PublishCounters();
  EXPECT_EQ(out.frames,
            (std::vector<Emitted>{{"<13>whole", false, 0},
                                  {"<13>held back", true, 0, TruncationCause::kStalled}}));
  EXPECT_EQ(metrics.ValueOf("konseki_framing_errors_total",
                            {{"listener", "tcp://x"}, {"reason", "stalled_frame"}}),
            1);
}

TEST(FramerProtocolTest, PublishesFramingErrorsOfAllConnections) {
  MetricsRegistry metrics;
  FramerProtocol protocol(1024, metrics, "tcp://x");
  RecordingFrameOut out;
  auto a = protocol.NewHandler(&out);
  auto b = protocol.NewHandler(&out);
  a->OnBytes("12 cut");
  a->OnClose(true);
  // The sender closed in the middle of the octet-counted frame: cut.
  EXPECT_EQ(out.frames, (std::vector<Emitted>{{"cut", true, 0, TruncationCause::kCut}}));
  b->OnBytes("7x1\n");
  protocol.PublishCounters();
  protocol.PublishCounters();  // publishes each error once
  EXPECT_EQ(metrics.ValueOf("konseki_framing_errors_total",
                            {{"listener", "tcp://x"}, {"reason", "incomplete_frame"}}),
            1);
  EXPECT_EQ(metrics.ValueOf("konseki_framing_errors_total",
                            {{"listener", "tcp://x"}, {"reason", "malformed_octet_count"}}),
            1);
}

}  // namespace
}  // namespace konseki::receiver
