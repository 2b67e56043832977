// Host names whose HostKey hashes collide (common/host_key.h), for the tests
// of the per-host tables that index by that hash: the archive's host cache,
// the heartbeat's index and the correlator's hosts.
#ifndef KONSEKI_TESTS_TESTING_HOST_KEY_COLLISIONS_H_
#define KONSEKI_TESTS_TESTING_HOST_KEY_COLLISIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace konseki::testing {

// `count` distinct names "<prefix><n>" whose HostKeyHash agree on every bit
// of `mask`, found by search (a full 32-bit mask with count 2 takes ~10^5
// names, a few milliseconds).
std::vector<std::string> CollidingHostNames(uint32_t mask, size_t count,
                                            std::string_view prefix = "host-");

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_TESTING_HOST_KEY_COLLISIONS_H_
