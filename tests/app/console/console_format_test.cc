#include "app/console/console_format.h"

#include <gtest/gtest.h>

#include <sstream>

namespace konseki::app::console {
namespace {

TEST(ConsoleFormatTest, Durations) {
  EXPECT_EQ(FormatDuration(45), "45s");
  EXPECT_EQ(FormatDuration(720), "12m");
  EXPECT_EQ(FormatDuration(3 * 3600 + 5 * 60), "3h 05m");
  EXPECT_EQ(FormatDuration(2 * 86400 + 4 * 3600), "2d 04h");
  EXPECT_EQ(FormatDuration(-1), "-");
  EXPECT_EQ(*ParseDurationSecs("90s"), 90);
  EXPECT_EQ(*ParseDurationSecs("30m"), 1800);
  EXPECT_EQ(*ParseDurationSecs("1h"), 3600);
  EXPECT_EQ(*ParseDurationSecs("2d"), 172800);
  EXPECT_EQ(*ParseDurationSecs("1w"), 604800);
  EXPECT_EQ(*ParseDurationSecs("15"), 15);
  EXPECT_FALSE(ParseDurationSecs("1x").ok());
  EXPECT_FALSE(ParseDurationSecs("h").ok());
  EXPECT_FALSE(ParseDurationSecs("").ok());
}

TEST(ConsoleFormatTest, Rfc3339) {
  EXPECT_DOUBLE_EQ(*ParseRfc3339("2023-11-14T22:13:20Z"), 1700000000);
  EXPECT_DOUBLE_EQ(*ParseRfc3339("2023-11-14T22:13:20.250000Z"), 1700000000.25);
  EXPECT_DOUBLE_EQ(*ParseRfc3339("2023-11-15T07:13:20+09:00"), 1700000000);
  EXPECT_FALSE(ParseRfc3339("2023-11-14 nonsense").ok());
  EXPECT_FALSE(ParseRfc3339("2023-11-14T22:13:20").ok());
}

TEST(ConsoleFormatTest, TableAlignsColumnsIgnoringColourCodes) {
  Palette colour(true);
  Table t({"A", "B", "C"});
  t.Add({colour.Red("xx"), "y", "z"});
  t.Add({"long", "yy", "zzz"});
  std::ostringstream plain;
  t.Print(plain, Palette(false));
  EXPECT_EQ(plain.str(), "A     B   C\n\x1b[31mxx\x1b[0m    y   z\nlong  yy  zzz\n");
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
}

}  // namespace
}  // namespace konseki::app::console
