#include "common/terminal_safe.h"

#include "common/utf8.h"

namespace konseki {
namespace {

// The Unicode format characters that reorder or break the rendered line
// (Trojan Source, CVE-2021-42574): U+061C ALM, U+200E LRM, U+200F RLM,
// U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR, U+202A..U+202E
// (LRE RLE PDF LRO RLO), U+2066..U+2069 (LRI RLI FSI PDI). `s` is one valid
// UTF-8 sequence of `n` bytes.
bool IsBidiOrLineSeparator(const unsigned char* s, size_t n) {
  if (n == 2) return s[0] == 0xd8 && s[1] == 0x9c;
  if (n != 3) return false;
  if (s[0] != 0xe2) return false;
  if (s[1] == 0x80) return s[2] == 0x8e || s[2] == 0x8f || (s[2] >= 0xa8 && s[2] <= 0xae);
  if (s[1] == 0x81) return s[2] >= 0xa6 && s[2] <= 0xa9;
  return false;
}

// The code point of one valid 2- or 3-byte UTF-8 sequence.
unsigned CodePoint(const unsigned char* s, size_t n) {
  if (n == 2) return ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu);
  return ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
}

}  // namespace

void AppendTerminalSafe(std::string_view text, std::string* out) {
  auto escape = [out](unsigned char c) {
    const char esc[4] = {'#', static_cast<char>('0' + (c >> 6)),
                         static_cast<char>('0' + ((c >> 3) & 7)), static_cast<char>('0' + (c & 7))};
    out->append(esc, 4);
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t run = i;
    while (run < text.size() && static_cast<unsigned char>(text[run]) >= 0x20 &&
           static_cast<unsigned char>(text[run]) < 0x7f) {
      ++run;
    }
    out->append(text.data() + i, run - i);
    i = run;
    if (i == text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {  // C0 or DEL
      escape(c);
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(text.data() + i, text.size() - i);
    if (n == 0) {  // a byte outside valid UTF-8: a C1 control on an 8-bit terminal
      if (c < 0xa0) {
        escape(c);
      } else {
        out->push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    const auto* seq = reinterpret_cast<const unsigned char*>(text.data() + i);
    if ((n == 2 && c == 0xc2 && seq[1] < 0xa0) ||  // U+0080..9F
        IsBidiOrLineSeparator(seq, n)) {
      for (size_t k = 0; k < n; ++k) escape(seq[k]);
    } else {
      out->append(text.data() + i, n);
    }
    i += n;
  }
}

std::string TerminalSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendTerminalSafe(text, &out);
  return out;
}

std::string TerminalSafeJson(std::string_view json) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size();) {
    const auto c = static_cast<unsigned char>(json[i]);
    if (c < 0x7f) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    const size_t n = c == 0x7f ? 1 : Utf8SequenceLength(json.data() + i, json.size() - i);
    if (n == 0) {
      out.append("\\ufffd");
      ++i;
    } else if (const auto* seq = reinterpret_cast<const unsigned char*>(json.data() + i);
               c == 0x7f || (n == 2 && c == 0xc2 && seq[1] < 0xa0) ||
               IsBidiOrLineSeparator(seq, n)) {
      const unsigned cp = c == 0x7f ? 0x7f : CodePoint(seq, n);
      const char esc[6] = {
          '\\', 'u', kHex[cp >> 12], kHex[(cp >> 8) & 15], kHex[(cp >> 4) & 15], kHex[cp & 15]};
      out.append(esc, 6);
      i += n;
    } else {
      out.append(json.data() + i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace konseki
