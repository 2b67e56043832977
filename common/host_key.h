// A message's host name with its hash, computed once per message and handed
// to every per-host table of the worker (archive, heartbeat, correlator), so
// no table hashes the name again (issue 17: three lookups of one host per
// message, each hashing it, cost ~530 instructions a line).
//
// The hash is the Router's: it hashes the host anyway to pick the worker
// (common/host_shard.h), mixes that hash once more (HostKeyHash) and carries
// it with the frame in the batch (app/batch_queues.h), so on the worker a
// host costs no hashing at all.
//
// Like HostShard, the key is case-insensitive over ASCII letters: "WEB01"
// and "web01" have the same hash and HostNamesEqual says they are equal.
#ifndef KONSEKI_COMMON_HOST_KEY_H_
#define KONSEKI_COMMON_HOST_KEY_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "common/host_shard.h"

namespace konseki {

// The hash of a HostKey from HostHash(name) (the shard hash), mixed so its
// low bits are as good as its high ones (FNV-1a's low bits are weak, and the
// tables index by them).
inline uint32_t HostKeyHashFromShardHash(uint64_t shard_hash) {
  uint64_t x = shard_hash;
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ull;
  return static_cast<uint32_t>(x ^ (x >> 32));
}

inline uint32_t HostKeyHash(std::string_view name) {
  return HostKeyHashFromShardHash(HostHash(name));
}

// A value: name is a view (into the message's bytes, usually) that must
// outlive the key. Invariant, which every table relies on:
// hash == HostKeyHash(name).
struct HostKey {
  std::string_view name;
  uint32_t hash = 0;

  static HostKey Of(std::string_view name) { return HostKey{name, HostKeyHash(name)}; }
};

// True if a and b are equal but for the case of ASCII letters (the equality
// HostKey's hash is consistent with). Eight bytes per step.
inline bool HostNamesEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (std::memcmp(a.data(), b.data(), a.size()) == 0) return true;
  auto load = [](const char* p, size_t n) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    return w;
  };
  size_t i = 0;
  for (; i + 8 <= a.size(); i += 8) {
    if (FoldCase8(load(a.data() + i, 8)) != FoldCase8(load(b.data() + i, 8))) return false;
  }
  const size_t n = a.size() - i;
  return n == 0 || FoldCase8(load(a.data() + i, n)) == FoldCase8(load(b.data() + i, n));
}

}  // namespace konseki

#endif  // KONSEKI_COMMON_HOST_KEY_H_
