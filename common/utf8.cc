#include "common/utf8.h"

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define KONSEKI_UTF8_AVX2 1
#endif

namespace konseki {
namespace {

// What a lead byte allows: the sequence length and the range of the second
// byte (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). false for a
// byte that cannot start a multi-byte sequence. Inlined into the scans: a
// call per multi-byte sequence (a loggen line's BOM) cost ~50 instructions.
inline __attribute__((always_inline)) bool LeadByte(unsigned char c, size_t* len, unsigned char* lo,
                                                    unsigned char* hi) {
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

// Utf8SequenceLength, inlined into the scans below.
inline __attribute__((always_inline)) size_t SequenceLength(const char* data, size_t n) {
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

}  // namespace

size_t Utf8SequenceLength(const char* data, size_t n) { return SequenceLength(data, n); }

namespace {

#if defined(__SSE2__)
// Lanes of v holding a byte below 0x20 or 0x7f (what the archive escapes),
// valid for ASCII lanes only (a byte >= 0x80 shows as a control byte; the
// callers look only at lanes they know are ASCII): v + 1 as a signed byte
// is below 0x21 exactly for 0x00-0x1f and 0x7f (which wraps to -128).
inline __m128i ControlLanes(__m128i v) {
  return _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(1)), _mm_set1_epi8(0x21));
}
#endif

// One pass of IsValidUtf8; with kControls it also ORs into *control whether
// an ASCII byte below 0x20 or 0x7f occurs (the parser's pass, so the archive
// need not scan the line again).
template <bool kControls>
bool ScanUtf8(std::string_view s, bool* control) {
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
      const __m128i a = _mm_loadu_si128(q), b = _mm_loadu_si128(q + 1);
      const __m128i c = _mm_loadu_si128(q + 2), d = _mm_loadu_si128(q + 3);
      const __m128i any = _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d));
      if (_mm_movemask_epi8(any) != 0) break;
      if constexpr (kControls) {
        const __m128i ctl = _mm_or_si128(_mm_or_si128(ControlLanes(a), ControlLanes(b)),
                                         _mm_or_si128(ControlLanes(c), ControlLanes(d)));
        if (_mm_movemask_epi8(ctl) != 0) *control = true;
      }
      p += 64;
    }
    while (end - p >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const int high = _mm_movemask_epi8(v);
      if (high != 0) {
        if constexpr (kControls) {
          // The ASCII bytes before the first high one.
          const unsigned before = (1u << __builtin_ctz(static_cast<unsigned>(high))) - 1;
          if ((static_cast<unsigned>(_mm_movemask_epi8(ControlLanes(v))) & before) != 0) {
            *control = true;
          }
        }
        p += __builtin_ctz(static_cast<unsigned>(high));
        break;
      }
      if constexpr (kControls) {
        if (_mm_movemask_epi8(ControlLanes(v)) != 0) *control = true;
      }
      p += 16;
    }
    // Under sixteen bytes left: when the last sixteen of the line (some
    // already checked) are all ASCII, so is the rest, in one test instead of
    // a pass of the byte loop per byte.
    if (p < end && end - p < 16 && end - s.data() >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16));
      if (_mm_movemask_epi8(v) == 0) {
        if constexpr (kControls) {
          if (_mm_movemask_epi8(ControlLanes(v)) != 0) *control = true;
        }
        return true;
      }
    }
#else
    while (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080ULL) != 0) break;
      if constexpr (kControls) {
        constexpr uint64_t kOnes = 0x0101010101010101ull;
        constexpr uint64_t kHigh = 0x8080808080808080ull;
        const uint64_t below_space = (word - kOnes * 0x20) & ~word & kHigh;
        const uint64_t x = word ^ (kOnes * 0x7f);
        if ((below_space | ((x - kOnes) & ~x & kHigh)) != 0) *control = true;
      }
      p += 8;
    }
#endif
    if (p == end) break;
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x80) {  // NUL included: it is valid here
      if constexpr (kControls) {
        if (c < 0x20 || c == 0x7f) *control = true;
      }
      ++p;
      continue;
    }
    const size_t len = SequenceLength(p, end - p);
    if (len == 0) return false;
    p += len;
  }
  return true;
}

#if defined(KONSEKI_UTF8_AVX2)
// ScanUtf8 thirty-two bytes to a vector, for CPUs with AVX2 (chosen at run
// time: the build targets baseline x86-64). The same steps as ScanUtf8's SSE2
// ones, and one more: with kControls, sixty-four bytes that are all
// printable ASCII (the usual line) pass with one test, because ControlLanes
// marks every byte >= 0x80 too. Per 256-byte line (callgrind, 10,000 calls):
// a loggen line (a BOM after the header) 303 instructions in the SSE2 pass
// with an out-of-line sequence check, 208 here; plain ASCII 175, 104.
__attribute__((target("avx2"))) inline __m256i ControlLanes256(__m256i v) {
  return _mm256_cmpgt_epi8(_mm256_set1_epi8(0x21), _mm256_add_epi8(v, _mm256_set1_epi8(1)));
}

__attribute__((target("avx2"))) inline unsigned Mask256(__m256i v) {
  return static_cast<unsigned>(_mm256_movemask_epi8(v));
}

template <bool kControls>
__attribute__((target("avx2"))) bool ScanUtf8Avx2(std::string_view s, bool* control) {
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p < end) {
    while (end - p >= 64) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
      [[maybe_unused]] uint64_t controls = 0;
      if constexpr (kControls) {
        // Printable ASCII throughout: nothing to tell.
        controls = Mask256(ControlLanes256(a)) | static_cast<uint64_t>(Mask256(ControlLanes256(b)))
                                                     << 32;
        if (controls == 0) {
          p += 64;
          continue;
        }
      }
      const uint64_t high = Mask256(a) | static_cast<uint64_t>(Mask256(b)) << 32;
      if (high == 0) {
        if constexpr (kControls) *control = true;  // ASCII, so a control byte
        p += 64;
        continue;
      }
      // Multi-byte text in these 64 bytes: the ASCII before it is told
      // here, the sequence checked, and the 64-byte steps go on right after
      // it. (Breaking out to the 32-byte steps and the byte loop for it
      // cost a loggen line, whose BOM follows the header, ~100 instructions
      // of its ~200.)
      const unsigned at = static_cast<unsigned>(__builtin_ctzll(high));
      if constexpr (kControls) {
        if ((controls & ((uint64_t{1} << at) - 1)) != 0) *control = true;
      }
      p += at;
      const size_t len = SequenceLength(p, static_cast<size_t>(end - p));
      if (len == 0) return false;
      p += len;
    }
    while (end - p >= 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      const unsigned high = Mask256(v);
      if (high != 0) {
        if constexpr (kControls) {
          // The ASCII bytes before the first high one.
          const unsigned before = (1u << __builtin_ctz(high)) - 1;
          if ((Mask256(ControlLanes256(v)) & before) != 0) *control = true;
        }
        p += __builtin_ctz(high);
        break;
      }
      if constexpr (kControls) {
        if (Mask256(ControlLanes256(v)) != 0) *control = true;
      }
      p += 32;
    }
    // Under thirty-two bytes left: the last thirty-two of the line at once
    // when they are all ASCII (the bytes already checked among them are).
    if (p < end && end - p < 32 && end - s.data() >= 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(end - 32));
      if (Mask256(v) == 0) {
        if constexpr (kControls) {
          if (Mask256(ControlLanes256(v)) != 0) *control = true;
        }
        return true;
      }
    }
    if (p == end) break;
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x80) {
      if constexpr (kControls) {
        if (c < 0x20 || c == 0x7f) *control = true;
      }
      ++p;
      continue;
    }
    const size_t len = SequenceLength(p, end - p);
    if (len == 0) return false;
    p += len;
  }
  return true;
}

bool HasAvx2() {
  __builtin_cpu_init();  // may run before the runtime's own initialisation
  return __builtin_cpu_supports("avx2");
}

// Read once at start-up; false (the SSE2 pass) for a caller in another
// translation unit's static initialisation that runs before this one.
const bool kHasAvx2 = HasAvx2();
#endif

}  // namespace

bool IsValidUtf8(std::string_view s) {
#if defined(KONSEKI_UTF8_AVX2)
  if (kHasAvx2) return ScanUtf8Avx2<false>(s, nullptr);
#endif
  return ScanUtf8<false>(s, nullptr);
}

bool IsValidUtf8(std::string_view s, bool* has_control) {
  *has_control = false;
#if defined(KONSEKI_UTF8_AVX2)
  if (kHasAvx2) return ScanUtf8Avx2<true>(s, has_control);
#endif
  return ScanUtf8<true>(s, has_control);
}

bool IsValidUtf8Baseline(std::string_view s, bool* has_control) {
  *has_control = false;
  return ScanUtf8<true>(s, has_control);
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
