// Which worker owns a host. Everything keyed by host (archive files, detector
// state) lives on exactly one worker, chosen by this function, so no locks.
#ifndef KONSEKI_COMMON_HOST_SHARD_H_
#define KONSEKI_COMMON_HOST_SHARD_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace konseki {

// FNV-1a over the host name, case-folded (hostnames are case-insensitive).
inline uint64_t HostHash(std::string_view host) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : host) {
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

inline size_t HostShard(std::string_view host, size_t num_shards) {
  return num_shards <= 1 ? 0 : static_cast<size_t>(HostHash(host) % num_shards);
}

}  // namespace konseki

#endif  // KONSEKI_COMMON_HOST_SHARD_H_
