#include "common/terminal_safe.h"

#include "common/utf8.h"

namespace konseki {

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
    if (n == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0) {  // U+0080..9F
      escape(c);
      escape(static_cast<unsigned char>(text[i + 1]));
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
    } else if (c == 0x7f ||
               (n == 2 && c == 0xc2 && static_cast<unsigned char>(json[i + 1]) < 0xa0)) {
      const unsigned cp = c == 0x7f ? 0x7f : static_cast<unsigned char>(json[i + 1]);
      const char esc[6] = {'\\', 'u', '0', '0', kHex[cp >> 4], kHex[cp & 15]};
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
