#include "common/packed_message.h"

#include <gtest/gtest.h>

#include <string>

namespace konseki {
namespace {

TEST(PackedMessageTest, SurvivesACopyOfTheFrameBytes) {
  const std::string frame = "<34>Oct 11 22:14:15 mymachine su: 'su root' failed";
  Message m;
  m.raw = frame;
  m.format = MessageFormat::kRfc3164;
  m.pri = 34;
  m.has_timestamp = true;
  m.timestamp = TimePoint(std::chrono::seconds(1'700'000'000));
  m.hostname = std::string_view(frame).substr(20, 9);
  m.app_name = std::string_view(frame).substr(30, 2);
  m.msg = std::string_view(frame).substr(34);
  PackedMessage p;
  ASSERT_TRUE(PackedMessage::Pack(m, frame, &p));

  const std::string copy = frame;  // what a batch does with the bytes
  Message out;
  const TimePoint received(std::chrono::seconds(1'700'000'005));
  p.Unpack(copy, received, "192.0.2.1", &out);
  EXPECT_EQ(out.raw.data(), copy.data());
  EXPECT_EQ(out.hostname, "mymachine");
  EXPECT_EQ(out.hostname.data(), copy.data() + 20);
  EXPECT_EQ(out.app_name, "su");
  EXPECT_EQ(out.msg, "'su root' failed");
  EXPECT_TRUE(out.procid.empty());
  EXPECT_TRUE(out.structured_data.empty());
  EXPECT_EQ(out.pri, 34);
  EXPECT_EQ(out.format, MessageFormat::kRfc3164);
  EXPECT_TRUE(out.has_timestamp);
  EXPECT_EQ(out.timestamp, m.timestamp);
  EXPECT_EQ(out.received, received);
  EXPECT_EQ(out.sender, "192.0.2.1");
  EXPECT_EQ(out.host(), "mymachine");
}

TEST(PackedMessageTest, RefusesAViewOutsideTheFrame) {
  const std::string frame = "<13>Nov 23 08:00:00 h app: x";
  const std::string elsewhere = "other";
  Message m;
  m.raw = frame;
  m.hostname = elsewhere;
  PackedMessage p;
  EXPECT_FALSE(PackedMessage::Pack(m, frame, &p));

  // A view that starts inside but runs past the end is outside too.
  m.hostname = std::string_view(frame.data() + frame.size() - 1, 2);
  EXPECT_FALSE(PackedMessage::Pack(m, frame, &p));

  m.hostname = std::string_view(frame).substr(frame.size() - 1);
  EXPECT_TRUE(PackedMessage::Pack(m, frame, &p));
}

}  // namespace
}  // namespace konseki
