// Text a sender controls, made safe to print on a terminal or in mail
// (the console commands, test-rules, search on a terminal).
#ifndef KONSEKI_COMMON_TERMINAL_SAFE_H_
#define KONSEKI_COMMON_TERMINAL_SAFE_H_

#include <string>
#include <string_view>

namespace konseki {

// Text a sender controls (host names, messages, rule fields, archive
// lines), made safe to print on a terminal or mail: every C0 control
// (newline and tab included: the value's own lines must not forge the
// output's), DEL and every C1 control (U+0080..U+009F encoded in UTF-8, and
// the bytes 0x80..0x9f outside a valid UTF-8 sequence, which an 8-bit
// terminal takes for CSI, OSC...) becomes '#' and three octal digits per
// byte, as the archive writes control bytes (ESC -> "#033", U+009B ->
// "#302#233"). So are the format characters that reorder or split the
// rendered line (Trojan Source): U+061C, U+200E/200F, U+2028/2029,
// U+202A..202E and U+2066..2069 (RLO U+202E -> "#342#200#256"): a host name
// "bidi<RLO>log.exe" would show as "bidiexe.gol" and turn the rest of its
// table row around. Everything else, valid UTF-8 and other invalid bytes
// included, is kept. Assumes a UTF-8 terminal: on one set to an 8-bit
// charset, a continuation byte of valid UTF-8 can still act as C1.
std::string TerminalSafe(std::string_view text);
void AppendTerminalSafe(std::string_view text, std::string* out);
// A JSON document as text (libfastjson escapes only C0 in strings),
// made terminal-safe without changing its value: DEL, C1 controls and the
// bidi / line separator characters above become JSON escapes (backslash,
// "u007f", "u009b", "u202e"...) and invalid UTF-8 bytes the
// escape of U+FFFD. Such bytes can only stand inside JSON strings, so the
// result is the same JSON.
std::string TerminalSafeJson(std::string_view json);

}  // namespace konseki

#endif  // KONSEKI_COMMON_TERMINAL_SAFE_H_
