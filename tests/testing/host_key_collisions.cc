#include "tests/testing/host_key_collisions.h"

#include <unordered_map>

#include "common/host_key.h"

namespace konseki::testing {

std::vector<std::string> CollidingHostNames(uint32_t mask, size_t count, std::string_view prefix) {
  std::unordered_map<uint32_t, std::vector<uint64_t>> by_bits;
  for (uint64_t n = 0;; ++n) {
    const std::string name = std::string(prefix) + std::to_string(n);
    std::vector<uint64_t>& group = by_bits[HostKeyHash(name) & mask];
    group.push_back(n);
    if (group.size() == count) {
      std::vector<std::string> names;
      for (uint64_t i : group) names.push_back(std::string(prefix) + std::to_string(i));
      return names;
    }
  }
}

}  // namespace konseki::testing
