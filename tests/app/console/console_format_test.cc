#include "app/console/console_format.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <sstream>
#include <string>

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

// --since in a fixed zone: POSIX "JST-9" is UTC+9 without tzdata or DST.
class SinceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tz = std::getenv("TZ");
    old_tz_ = tz ? tz : "";
    had_tz_ = tz != nullptr;
    setenv("TZ", "JST-9", 1);
    tzset();
  }
  void TearDown() override {
    had_tz_ ? setenv("TZ", old_tz_.c_str(), 1) : unsetenv("TZ");
    tzset();
  }
  // 2023-11-15T07:13:20 in JST.
  static constexpr double kNow = 1700000000;

 private:
  std::string old_tz_;
  bool had_tz_ = false;
};

TEST_F(SinceTest, DurationsCountBackFromNow) {
  EXPECT_DOUBLE_EQ(*ParseSince("1h", kNow), kNow - 3600);
  EXPECT_DOUBLE_EQ(*ParseSince("24h", kNow), kNow - 86400);
}

TEST_F(SinceTest, DatesAndTimesAreLocalUnlessAZoneIsGiven) {
  const double midnight_jst = 1700000000 - (7 * 3600 + 13 * 60 + 20);  // 2023-11-15T00:00+09:00
  EXPECT_DOUBLE_EQ(*ParseSince("2023-11-15", kNow), midnight_jst);
  EXPECT_DOUBLE_EQ(*ParseSince("2023-11-15T07:13", kNow), kNow - 20);
  EXPECT_DOUBLE_EQ(*ParseSince("2023-11-15 07:13:20", kNow), kNow);
  EXPECT_DOUBLE_EQ(*ParseSince("2023-11-14T22:13:20Z", kNow), kNow);
  EXPECT_DOUBLE_EQ(*ParseSince("2023-11-14T23:13:20+01:00", kNow), kNow);
  EXPECT_DOUBLE_EQ(*ParseSince("today", kNow), midnight_jst);
  EXPECT_DOUBLE_EQ(*ParseSince("yesterday", kNow), midnight_jst - 86400);
  // An archive line's stamp, copied (`konseki search --since`).
  EXPECT_DOUBLE_EQ(*ParseSince("2023-11-14T22:13:19.250000Z", kNow), kNow - 0.75);
  EXPECT_DOUBLE_EQ(*ParseSince("2023-11-15T07:13:19.5", kNow), kNow - 0.5);
}

// `search --until` takes the same forms, a time after now included.
TEST_F(SinceTest, APointInTimeMayBeInTheFuture) {
  EXPECT_DOUBLE_EQ(*ParsePointInTime("2023-11-16", kNow), kNow + 86400 - 26000);
  EXPECT_DOUBLE_EQ(*ParsePointInTime("1h", kNow), kNow - 3600);
  EXPECT_FALSE(ParsePointInTime("2023-11-15T07:13:20.1234567", kNow).ok());
  EXPECT_FALSE(ParsePointInTime("2023-11-15T07:13:20.", kNow).ok());
}

TEST_F(SinceTest, BadInputNamesTheAcceptedForms) {
  for (const char* bad : {"", "1x", "last tuesday", "2023-13-01", "2023-02-30", "2023-11-15T25:00",
                          "2023-11-15T07:61", "2023-11-15T07", "2023/11/15", "2023-11-15T07:13Q",
                          "2023-11-15T07:13+25:00"}) {
    auto r = ParseSince(bad, kNow);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("2026-12-01"), std::string::npos)
        << bad << ": " << r.status().message();
  }
  auto future = ParseSince("2023-11-16", kNow);
  ASSERT_FALSE(future.ok());
  EXPECT_NE(future.status().message().find("in the future"), std::string::npos);
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

// What a sender writes (ESC, BEL, CR, an OSC title, a C1 CSI as UTF-8 and
// as a raw byte) cannot reach the admin's terminal: escaped like the
// archive's control bytes, one "#ooo" per byte.
TEST(ConsoleFormatTest, TerminalSafeEscapesC0DelAndC1) {
  EXPECT_EQ(TerminalSafe("plain text, é € 日本"), "plain text, é € 日本");
  EXPECT_EQ(TerminalSafe("r\x1b[2Joot"), "r#033[2Joot");
  EXPECT_EQ(TerminalSafe("\x1b]2;TITLE\a"), "#033]2;TITLE#007");
  EXPECT_EQ(TerminalSafe("a\rb\nc\td\x7f"), "a#015b#012c#011d#177");
  EXPECT_EQ(TerminalSafe(std::string_view("x\0y", 3)), "x#000y");
  EXPECT_EQ(TerminalSafe("\xc2\x9b"
                         "31m"),
            "#302#23331m");  // U+009B, CSI
  EXPECT_EQ(TerminalSafe("\xc2\x85 \xc2\x9f"), "#302#205 #302#237");
  EXPECT_EQ(TerminalSafe("\x9b"
                         "31m"),
            "#23331m");                             // raw C1 byte
  EXPECT_EQ(TerminalSafe("\xe2\x82"), "\xe2#202");  // truncated: the 0x82 alone
  // Valid UTF-8 whose continuation bytes are in 0x80..0x9f stays (U+00A0, €).
  EXPECT_EQ(TerminalSafe("\xc2\xa0\xe2\x82\xac"), "\xc2\xa0\xe2\x82\xac");
  // Other invalid bytes are not controls: kept.
  EXPECT_EQ(TerminalSafe("\xff\xa0"), "\xff\xa0");
}

// Trojan Source: the bidi controls and the line / paragraph separators
// reorder or split what the terminal (or a mail reader) shows, so a host
// "bidi<RLO>log.exe" would read "bidiexe.gol". Escaped per byte like C1.
TEST(ConsoleFormatTest, TerminalSafeEscapesBidiAndLineSeparators) {
  EXPECT_EQ(TerminalSafe("bidi\xe2\x80\xaelog.exe"), "bidi#342#200#256log.exe");  // U+202E
  EXPECT_EQ(TerminalSafe("a\xe2\x80\xa8"
                         "b\xe2\x80\xa9"
                         "c"),
            "a#342#200#250b#342#200#251c");
  EXPECT_EQ(TerminalSafe("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad"),
            "#342#200#252#342#200#253#342#200#254#342#200#255");  // U+202A..202D
  EXPECT_EQ(TerminalSafe("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9"),
            "#342#201#246#342#201#247#342#201#250#342#201#251");  // U+2066..2069
  EXPECT_EQ(TerminalSafe("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c"),
            "#342#200#216#342#200#217#330#234");  // LRM, RLM, ALM
  // Neighbours stay: U+2027, U+202F (narrow no-break space), U+2065 (unassigned),
  // U+206A, U+200D (ZWJ, in emoji), U+2014 (em dash), U+061B (Arabic semicolon).
  for (const char* kept : {"\xe2\x80\xa7", "\xe2\x80\xaf", "\xe2\x81\xa5", "\xe2\x81\xaa",
                           "\xe2\x80\x8d", "\xe2\x80\x94", "\xd8\x9b"}) {
    EXPECT_EQ(TerminalSafe(kept), kept);
  }
}

TEST(ConsoleFormatTest, TerminalSafeJsonEscapesBidiAndLineSeparators) {
  EXPECT_EQ(TerminalSafeJson("{\"h\":\"bidi\xe2\x80\xaelog\xe2\x80\xa8x\xe2\x81\xa9\xd8\x9c\"}"),
            R"({"h":"bidi\u202elog\u2028x\u2069\u061c"})");
  EXPECT_EQ(TerminalSafeJson("{\"h\":\"\xe2\x80\x94\"}"), "{\"h\":\"\xe2\x80\x94\"}");
}

TEST(ConsoleFormatTest, TerminalSafeJsonKeepsTheValue) {
  EXPECT_EQ(TerminalSafeJson(R"({"a":"b\u001b[31m"})"), R"({"a":"b\u001b[31m"})");
  EXPECT_EQ(TerminalSafeJson("{\"a\":\"x\x7fy\xc2\x9bz\"}"), R"({"a":"x\u007fy\u009bz"})");
  EXPECT_EQ(TerminalSafeJson("{\"a\":\"\x9b\"}"), R"({"a":"\ufffd"})");
  EXPECT_EQ(TerminalSafeJson("{\"a\":\"日本 é\"}"), "{\"a\":\"日本 é\"}");
}

}  // namespace
}  // namespace konseki::app::console
