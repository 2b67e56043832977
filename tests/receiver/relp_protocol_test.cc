// RelpProtocol driven through the StreamHandler interface alone, with no
// socket: what StreamListener sees of it (acks, window, stop).
#include "receiver/relp_protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/metrics.h"
#include "receiver/stream_handler.h"
#include "tests/receiver/recording_frame_out.h"

namespace konseki::receiver {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kOpen = "1 open 46 relp_version=0\nrelp_software=t\ncommands=syslog\n";

TEST(RelpProtocolTest, AnswersAMessageOnlyOnceItIsAcked) {
  MetricsRegistry metrics;
  RelpSessionOptions o;
  RelpProtocol protocol(o, metrics, "relp://x");
  EXPECT_TRUE(protocol.Acknowledges());
  RecordingFrameOut out;
  auto h = protocol.NewHandler(&out);
  EXPECT_FALSE(h->Framed());
  const std::string in = std::string(kOpen) + "2 syslog 5 hello\n";
  EXPECT_EQ(h->OnBytes(in), in.size());
  EXPECT_TRUE(h->Framed());
  EXPECT_EQ(out.frames, (std::vector<Emitted>{{"hello", false, 2}}));
  EXPECT_THAT(std::string(h->PendingOutput()), HasSubstr("1 rsp"));
  EXPECT_THAT(std::string(h->PendingOutput()), ::testing::Not(HasSubstr("2 rsp")));
  h->ConsumeOutput(h->PendingOutput().size());
  EXPECT_FALSE(h->Ack(3));
  EXPECT_TRUE(h->Ack(2));
  EXPECT_EQ(std::string(h->PendingOutput()), "2 rsp 6 200 OK\n");
}

TEST(RelpProtocolTest, AFullWindowLeavesTheRestAndWantsNoInput) {
  MetricsRegistry metrics;
  RelpSessionOptions o;
  o.max_unacked = 1;
  RelpProtocol protocol(o, metrics, "relp://x");
  RecordingFrameOut out;
  auto h = protocol.NewHandler(&out);
  h->OnBytes(kOpen);
  h->ConsumeOutput(h->PendingOutput().size());
  const std::string two = "2 syslog 1 a\n3 syslog 1 b\n";
  EXPECT_EQ(h->OnBytes(two), two.size() / 2);
  EXPECT_FALSE(h->WantsInput());
  EXPECT_TRUE(h->Ack(2));
  EXPECT_TRUE(h->WantsInput());
  EXPECT_EQ(h->OnBytes(std::string_view(two).substr(two.size() / 2)), two.size() / 2);
  EXPECT_EQ(out.frames.size(), 2u);
}

TEST(RelpProtocolTest, StoppingSaysServercloseOnlyOnceNothingAwaitsAnAck) {
  MetricsRegistry metrics;
  RelpProtocol protocol(RelpSessionOptions{}, metrics, "relp://x");
  RecordingFrameOut out;
  auto h = protocol.NewHandler(&out);
  h->OnBytes(std::string(kOpen) + "2 syslog 1 a\n");
  h->ConsumeOutput(h->PendingOutput().size());
  h->Stopping();
  EXPECT_TRUE(h->PendingOutput().empty());
  EXPECT_FALSE(h->Done());
  EXPECT_TRUE(h->Ack(2));
  h->Stopping();
  EXPECT_EQ(std::string(h->PendingOutput()), "2 rsp 6 200 OK\n0 serverclose 0\n");
  EXPECT_TRUE(h->Done());
}

TEST(RelpProtocolTest, GoodbyeClosesWithMessagesUnanswered) {
  MetricsRegistry metrics;
  RelpProtocol protocol(RelpSessionOptions{}, metrics, "relp://x");
  RecordingFrameOut out;
  auto h = protocol.NewHandler(&out);
  h->OnBytes(std::string(kOpen) + "2 syslog 1 a\n");
  h->ConsumeOutput(h->PendingOutput().size());
  h->Goodbye();
  EXPECT_EQ(std::string(h->PendingOutput()), "0 serverclose 0\n");
  EXPECT_TRUE(h->Done());
  protocol.CountLateAcks(2);
  EXPECT_EQ(metrics.ValueOf("konseki_relp_late_acks_total", {{"listener", "relp://x"}}), 2);
}

}  // namespace
}  // namespace konseki::receiver
