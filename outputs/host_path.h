// Maps a host name taken from a message (attacker-controlled bytes) to the
// name of its folder inside the archive directory.
//
// Guarantees, for any input bytes:
//   * the result is a single, non-empty path component: no '/', no NUL, no
//     control characters, never "." or "..", never starting with '.';
//   * it is at most kMaxHostDirLen bytes (below NAME_MAX, 255);
//   * it is deterministic and case-insensitive: ASCII letters are lowercased,
//     like common/host_shard.h folds them, so "WEB01" and "web01" share a
//     folder and a worker;
//   * it is injective on case-folded input up to kMaxHostDirLen: two hosts that
//     differ in anything but ASCII case never share a folder (so two workers
//     never write the same file).
//
// Encoding: bytes in [a-z0-9-_:] and '.' (except in first position) are kept;
// every other byte, including '%' itself, '/', bytes >= 0x80 (IDN/UTF-8) and a
// leading '.', becomes "%xx" (two lowercase hex digits), as in a URL. IPv4 and
// IPv6 literals ("192.0.2.1", "2001:db8::1") and DNS names are unchanged.
// The empty host maps to "%none" (not the output of any other input). A name
// whose encoding is longer than kMaxHostDirLen keeps its first bytes (never
// splitting a "%xx") and ends with '~' + 16 hex digits of a 64-bit FNV-1a hash
// of the whole case-folded host.
#ifndef KONSEKI_OUTPUTS_HOST_PATH_H_
#define KONSEKI_OUTPUTS_HOST_PATH_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace konseki::outputs {

inline constexpr size_t kMaxHostDirLen = 200;

// Replaces *out with the folder name for host. Reuses out's capacity: no
// allocation once out has grown to kMaxHostDirLen.
void SanitizeHost(std::string_view host, std::string* out);

// Convenience for tests and tools.
std::string SanitizedHost(std::string_view host);

// Whether `glob` (fnmatch(3), as `konseki search --host` and `konseki index
// --host` take it) names the host folder `folder`. Tried against the folder
// name itself ("web-01", "caf%c3%a9", "lost%2bfound"), then against the
// host name it stands for, as alerts and `konseki hosts` show it ("WEB-01",
// "café", "lost+found"; ASCII case ignored, as SanitizeHost folds it). A
// glob without wildcards also names the folder SanitizeHost gives it, so a
// name cut to kMaxHostDirLen is found by its full name.
bool HostGlobMatches(const std::string& glob, const std::string& folder);

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_HOST_PATH_H_
