#include "common/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace konseki {
namespace {

TEST(Utf8Test, SequenceLengthOfEachForm) {
  EXPECT_EQ(Utf8SequenceLength("a", 1), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xC3\xA9", 2), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82\xAC", 3), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98\x80", 4), 4u);
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82", 2), 0u);          // truncated
  EXPECT_EQ(Utf8SequenceLength("\xC0\xAF", 2), 0u);          // overlong
  EXPECT_EQ(Utf8SequenceLength("\xED\xA0\x80", 3), 0u);      // surrogate
  EXPECT_EQ(Utf8SequenceLength("\xF4\x90\x80\x80", 4), 0u);  // > U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\0", 1), 0u);
}

TEST(Utf8Test, ValidityOfCommonCases) {
  EXPECT_TRUE(IsValidUtf8("plain ascii host-1"));
  EXPECT_TRUE(IsValidUtf8("\xE6\x97\xA5\xE6\x9C\xAC"));  // 日本
  EXPECT_FALSE(IsValidUtf8("\xc3\x28"));                 // lead byte without continuation
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));                 // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));             // surrogate
  EXPECT_FALSE(IsValidUtf8("abcdefgh\xff"));             // past the 8-byte fast path
}

TEST(Utf8Test, ValidityAtEveryOffsetAroundTheFastPaths) {
  // The check skips sixty-four, sixteen or eight ASCII bytes at a time and
  // tests the last sixteen at once: a sequence (valid or not) at every
  // offset of strings around those sizes.
  const std::string valid[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
  const std::string invalid[] = {"\xC3",         "\xC3\x28",         "\xE2\x82", "\xC0\xAF",
                                 "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80",     "\xFF"};
  for (size_t len = 0; len <= 140; ++len) {
    const std::string ascii(len, 'a');
    ASSERT_TRUE(IsValidUtf8(ascii));
    for (size_t pos = 0; pos <= len; ++pos) {
      for (const std::string& v : valid) {
        const std::string s = ascii.substr(0, pos) + v + ascii.substr(pos);
        ASSERT_TRUE(IsValidUtf8(s)) << "len " << len << " at " << pos;
      }
      for (const std::string& v : invalid) {
        const std::string s = ascii.substr(0, pos) + v + ascii.substr(pos);
        ASSERT_FALSE(IsValidUtf8(s)) << "len " << len << " at " << pos;
      }
    }
  }
}

TEST(Utf8Test, ControlBytesAtEveryOffsetWithAndWithoutMultibyteText) {
  // The parser's one pass also tells the archive whether a line needs its
  // escaping: every byte below 0x20 and 0x7f, at every offset of lines
  // around the 64- and 16-byte steps, alone and after or before a
  // multi-byte sequence (which sends the scan down its slower paths).
  const std::string controls[] = {std::string(1, '\0'), "\t", "\n", "\r", "\x1f", "\x7f"};
  const std::string around[] = {"", "\xC3\xA9", "\xE6\x97\xA5"};
  for (size_t len = 0; len <= 140; ++len) {
    const std::string ascii(len, 'a');
    for (const std::string& m : around) {
      bool control = true;
      ASSERT_TRUE(IsValidUtf8(ascii + m, &control));
      EXPECT_FALSE(control) << len;
      ASSERT_TRUE(IsValidUtf8(m + ascii, &control));
      EXPECT_FALSE(control) << len;
      ASSERT_TRUE(IsValidUtf8(ascii + " ~" + m, &control));
      EXPECT_FALSE(control) << "space and tilde are plain";
      for (size_t pos = 0; pos <= len; ++pos) {
        for (const std::string& c : controls) {
          for (const std::string& s : {ascii.substr(0, pos) + c + ascii.substr(pos) + m,
                                       m + ascii.substr(0, pos) + c + ascii.substr(pos)}) {
            control = false;
            ASSERT_TRUE(IsValidUtf8(s, &control));
            EXPECT_TRUE(control) << "len " << len << " at " << pos << " byte "
                                 << static_cast<int>(c[0]) << " around " << m.size();
          }
        }
      }
    }
  }
}

TEST(Utf8Test, WidePassAgreesWithTheBaselineOnMixedLines) {
  // On a CPU with AVX2 IsValidUtf8 takes a 32-byte pass: it must say what
  // the SSE2 one says, validity and control bytes, for lines of every
  // length up to past four 64-byte steps that mix printable ASCII with
  // control bytes, multi-byte text and invalid bytes at random places.
  const std::string pieces[] = {"a",
                                "a",
                                "a",
                                "a",
                                "a",
                                "a",
                                "a",
                                "a",
                                " ",
                                "~",
                                "\t",
                                "\x7f",
                                std::string(1, '\0'),
                                "\xC3\xA9",
                                "\xE6\x97\xA5",
                                "\xEF\xBB\xBF",
                                "\xF0\x9F\x98\x80",
                                "\xFF",
                                "\x80",
                                "\xC3"};
  constexpr size_t kPieces = sizeof(pieces) / sizeof(pieces[0]);
  uint64_t seed = 0x9E3779B97F4A7C15ull;
  auto next = [&seed] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  for (size_t len = 0; len <= 300; ++len) {
    for (int rare = 0; rare < 4; ++rare) {  // how often a piece is not 'a'
      for (int trial = 0; trial < 8; ++trial) {
        std::string s;
        while (s.size() < len) {
          const bool plain = next() % (rare * 24 + 2) != 0;
          s += plain ? std::string("a") : pieces[next() % kPieces];
        }
        bool wide_control = false, base_control = false;
        const bool wide = IsValidUtf8(s, &wide_control);
        const bool base = IsValidUtf8Baseline(s, &base_control);
        ASSERT_EQ(wide, base) << "len " << s.size();
        ASSERT_EQ(wide, IsValidUtf8(s)) << "len " << s.size();
        if (wide) {
          ASSERT_EQ(wide_control, base_control) << "len " << s.size();
        }
      }
    }
  }
}

TEST(Utf8Test, ValidUtf8ReplacesEachMaximalInvalidSubpartAndNul) {
  EXPECT_EQ(ValidUtf8("\xc3\x28"), "\xEF\xBF\xBD(");
  EXPECT_EQ(ValidUtf8(std::string("a\0b", 3)),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ValidUtf8("\xE6\x97"), "\xEF\xBF\xBD");  // truncated: one replacement
  EXPECT_EQ(ValidUtf8("ok \xE6\x97\xA5"), "ok \xE6\x97\xA5");
}

}  // namespace
}  // namespace konseki
