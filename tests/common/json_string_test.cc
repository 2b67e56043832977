#include "common/json_string.h"

#include <gtest/gtest.h>

#include <string>

namespace konseki {
namespace {

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

TEST(JsonStringTest, QuotesAndEscapesAscii) {
  EXPECT_EQ(Json("plain"), "\"plain\"");
  EXPECT_EQ(Json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Json("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(Json(std::string_view("\x01\x7f\0", 3)), "\"\\u0001\\u007f\\u0000\"");
}

TEST(JsonStringTest, ValidUtf8PassesThroughAndEachInvalidByteIsReplaced) {
  EXPECT_EQ(Json("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
  EXPECT_EQ(Json("a\xE2\x82z"), "\"a\\ufffd\\ufffdz\"");
  EXPECT_EQ(Json("\xFF"), "\"\\ufffd\"");
}

}  // namespace
}  // namespace konseki
