// Which worker owns a host. Everything keyed by host (archive files, detector
// state) lives on exactly one worker, chosen by this function, so no locks.
#ifndef KONSEKI_COMMON_HOST_SHARD_H_
#define KONSEKI_COMMON_HOST_SHARD_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace konseki {

// ASCII upper-case letters of 8 bytes to lower case at once (SWAR); other
// bytes, including non-ASCII ones, are left alone.
inline uint64_t FoldCase8(uint64_t w) {
  constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7Full;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  uint64_t heptets = w & kLow7;
  uint64_t ge_a = heptets + 0x3F3F3F3F3F3F3F3Full;  // bit 7 set where byte >= 'A'
  uint64_t gt_z = heptets + 0x2525252525252525ull;  // bit 7 set where byte > 'Z'
  uint64_t upper = ~w & kHigh & (ge_a ^ gt_z);
  return w | (upper >> 2);
}

// FNV-1a over the host name, case-folded (hostnames are case-insensitive).
// Whole words are folded eight bytes at a time and fed to FNV from the word
// (little-endian: memory order), the last bytes one by one: the same hash
// as a loop over the bytes, with fewer instructions for longer names (the
// Router hashes every message's host).
inline uint64_t HostHash(std::string_view host) {
  constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t h = 1469598103934665603ull;
  const char* p = host.data();
  size_t n = host.size();
  if constexpr (std::endian::native == std::endian::little) {
    for (; n >= 8; p += 8, n -= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      w = FoldCase8(w);
      for (int i = 0; i < 8; ++i, w >>= 8) h = (h ^ (w & 0xff)) * kPrime;
    }
  }
  for (; n > 0; ++p, --n) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
    h = (h ^ c) * kPrime;
  }
  return h;
}

// The shard of a host whose HostHash is `host_hash`.
inline size_t ShardOfHash(uint64_t host_hash, size_t num_shards) {
  return num_shards <= 1 ? 0 : static_cast<size_t>(host_hash % num_shards);
}

inline size_t HostShard(std::string_view host, size_t num_shards) {
  return num_shards <= 1 ? 0 : ShardOfHash(HostHash(host), num_shards);
}

}  // namespace konseki

#endif  // KONSEKI_COMMON_HOST_SHARD_H_
