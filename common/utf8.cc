#include "common/utf8.h"

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace konseki {
namespace {

// What a lead byte allows: the sequence length and the range of the second
// byte (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). false for a
// byte that cannot start a multi-byte sequence.
bool LeadByte(unsigned char c, size_t* len, unsigned char* lo, unsigned char* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    *len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    *len = 3;
    if (c == 0xE0) *lo = 0xA0;  // no overlong
    if (c == 0xED) *hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    *len = 4;
    if (c == 0xF0) *lo = 0x90;  // no overlong
    if (c == 0xF4) *hi = 0x8F;  // <= U+10FFFF
  } else {
    return false;
  }
  return true;
}

// Bytes of the maximal invalid subpart at p (at least 1): a lead byte plus
// the continuation bytes that were still acceptable.
size_t InvalidSubpart(const unsigned char* p, size_t n) {
  size_t len;
  unsigned char lo, hi;
  if (!LeadByte(p[0], &len, &lo, &hi)) return 1;
  size_t i = 1;
  if (i < n && p[i] >= lo && p[i] <= hi) {
    ++i;
    while (i < len && i < n && (p[i] & 0xC0) == 0x80) ++i;
  }
  return i;
}

}  // namespace

size_t Utf8SequenceLength(const char* data, size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  if (n == 0 || p[0] == 0) return 0;
  if (p[0] < 0x80) return 1;
  size_t len;
  unsigned char lo, hi;
  if (!LeadByte(p[0], &len, &lo, &hi)) return 0;
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  return len;
}

bool IsValidUtf8(std::string_view s) {
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p < end) {
    // ASCII runs first, sixteen (or eight) bytes at a time, up to the first
    // byte that is not ASCII: most lines are ASCII to the end, and the byte
    // loop this replaced was a third of the parse.
#if defined(__SSE2__)
    // Sixty-four bytes with one test while they are all ASCII (the loop
    // below finds the byte that is not): a 256-byte line cost ~130
    // instructions sixteen bytes at a time, a third of it this way.
    while (end - p >= 64) {
      const auto* q = reinterpret_cast<const __m128i*>(p);
      const __m128i any =
          _mm_or_si128(_mm_or_si128(_mm_loadu_si128(q), _mm_loadu_si128(q + 1)),
                       _mm_or_si128(_mm_loadu_si128(q + 2), _mm_loadu_si128(q + 3)));
      if (_mm_movemask_epi8(any) != 0) break;
      p += 64;
    }
    while (end - p >= 16) {
      const int high = _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      if (high != 0) {
        p += __builtin_ctz(static_cast<unsigned>(high));
        break;
      }
      p += 16;
    }
    // Under sixteen bytes left: when the last sixteen of the line (some
    // already checked) are all ASCII, so is the rest, in one test instead of
    // a pass of the byte loop per byte.
    if (p < end && end - p < 16 && end - s.data() >= 16 &&
        _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16))) == 0) {
      return true;
    }
#else
    while (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080ULL) != 0) break;
      p += 8;
    }
#endif
    if (p == end) break;
    if (static_cast<unsigned char>(*p) < 0x80) {  // NUL included: it is valid here
      ++p;
      continue;
    }
    const size_t len = Utf8SequenceLength(p, end - p);
    if (len == 0) return false;
    p += len;
  }
  return true;
}

void AppendValidUtf8(std::string_view s, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t start = 0;
  size_t i = 0;
  while (i < n) {
    if (p[i] >= 0x01 && p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = Utf8SequenceLength(s.data() + i, n - i);
    if (len > 0) {
      i += len;
      continue;
    }
    out->append(s.data() + start, i - start);
    out->append(kUtf8Replacement);
    i += InvalidSubpart(p + i, n - i);
    start = i;
  }
  out->append(s.data() + start, n - start);
}

std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  AppendValidUtf8(s, &out);
  return out;
}

}  // namespace konseki
