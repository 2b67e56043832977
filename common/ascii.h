// ASCII-only case folding, for names and keys compared without regard to
// case (host names, programs, addresses, configured words). Locale-free:
// bytes outside 'A'..'Z' (UTF-8 included) are left as they are.
#ifndef KONSEKI_COMMON_ASCII_H_
#define KONSEKI_COMMON_ASCII_H_

#include <string>
#include <string_view>

namespace konseki {

// s with 'A'..'Z' lowered. Allocates (a new string): not for the
// per-message path where a reused buffer will do.
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return out;
}

}  // namespace konseki

#endif  // KONSEKI_COMMON_ASCII_H_
