// Equality of short byte runs without a call to memcmp: host names, sender
// addresses and timestamps are a few words long, and the libc call cost as
// much as the rest of their comparison (~18 instructions per compare,
// callgrind over bench/worker_bench Loggen). Header-only, no state.
#ifndef KONSEKI_COMMON_SAME_BYTES_H_
#define KONSEKI_COMMON_SAME_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace konseki {

// a[0, n) == b[0, n), eight bytes at a time. Precondition: n >= 8 (the last
// word overlaps the one before).
inline bool SameBytes8(const char* a, const char* b, size_t n) {
  uint64_t x, y;
  for (size_t i = 0; i + 8 < n; i += 8) {
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    if (x != y) return false;
  }
  std::memcpy(&x, a + n - 8, 8);
  std::memcpy(&y, b + n - 8, 8);
  return x == y;
}

// a == b for any length.
inline bool SameText(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n >= 8) return SameBytes8(x, y, n);
  if (n >= 4) {
    uint32_t u0, v0, u1, v1;
    std::memcpy(&u0, x, 4);
    std::memcpy(&v0, y, 4);
    std::memcpy(&u1, x + n - 4, 4);
    std::memcpy(&v1, y + n - 4, 4);
    return ((u0 ^ v0) | (u1 ^ v1)) == 0;
  }
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return false;
  }
  return true;
}

}  // namespace konseki

#endif  // KONSEKI_COMMON_SAME_BYTES_H_
