#include "outputs/retention.h"

#include <charconv>

namespace konseki::outputs {

bool ParseLowSpace(std::string_view text, double* percent, uint64_t* bytes) {
  double pct = 0;
  uint64_t b = 0;
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (!text.empty() && text.back() == '%') {
    text.remove_suffix(1);
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), pct);
    if (ec != std::errc() || p != text.data() + text.size() || pct < 0 || pct > 100) return false;
  } else {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || p == text.data()) return false;
    std::string_view unit = text.substr(static_cast<size_t>(p - text.data()));
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    if (unit.size() >= 2 && unit.substr(unit.size() - 2) == "iB") unit.remove_suffix(2);
    if (unit.size() >= 1 && unit.back() == 'B') unit.remove_suffix(1);
    int shift = 0;
    if (unit == "K" || unit == "k") {
      shift = 10;
    } else if (unit == "M") {
      shift = 20;
    } else if (unit == "G") {
      shift = 30;
    } else if (unit == "T") {
      shift = 40;
    } else if (!unit.empty()) {
      return false;
    }
    if (shift > 0 && n > (UINT64_MAX >> shift)) return false;
    b = n << shift;
  }
  if (percent != nullptr) *percent = pct;
  if (bytes != nullptr) *bytes = b;
  return true;
}

}  // namespace konseki::outputs
