// UTF-8 validation and repair, shared by the parser (which counts invalid
// messages), the alert JSON and the Prometheus label values (which must be
// valid UTF-8 whatever a sender put in a host name).
#ifndef KONSEKI_COMMON_UTF8_H_
#define KONSEKI_COMMON_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace konseki {

// U+FFFD, what AppendValidUtf8 puts in place of invalid bytes.
inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";

// Length (1 to 4) of the valid UTF-8 sequence at data[0] with n bytes
// available, or 0 when it is invalid, truncated or NUL.
size_t Utf8SequenceLength(const char* data, size_t n);

// Structural UTF-8 check (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
// NUL is valid. Fast on ASCII (16 or 32 bytes to a vector, 64 to a test).
bool IsValidUtf8(std::string_view s);

// IsValidUtf8 and, in the same pass, whether s holds a byte the archive
// escapes (below 0x20, or 0x7f). *has_control is only meaningful when it
// returns true (the scan stops at the first invalid sequence).
bool IsValidUtf8(std::string_view s, bool* has_control);

// IsValidUtf8(s, has_control) without the AVX2 pass it takes on CPUs that
// have AVX2, for tests that compare the two.
bool IsValidUtf8Baseline(std::string_view s, bool* has_control);

// Appends s to *out with invalid UTF-8 sequences and NUL replaced by U+FFFD
// (one replacement per maximal invalid subpart, as in WHATWG/Unicode 15 §3.9).
void AppendValidUtf8(std::string_view s, std::string* out);

// s itself when it is valid UTF-8 without NUL, else the repaired copy.
std::string ValidUtf8(std::string_view s);

}  // namespace konseki

#endif  // KONSEKI_COMMON_UTF8_H_
