// Counting heap allocations in a test or benchmark binary: linking
// konseki_alloc_counter replaces the global operator new (every form) with
// malloc plus one relaxed atomic increment, for the whole binary. Counts are
// deterministic where timings are not, so a test may assert on them ("the
// worker path does not allocate per message").
#ifndef KONSEKI_TESTS_TESTING_ALLOC_COUNTER_H_
#define KONSEKI_TESTS_TESTING_ALLOC_COUNTER_H_

#include <cstdint>

namespace konseki::testing {

// operator new calls (all forms, all threads) since the process started.
uint64_t AllocationCount();

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_TESTING_ALLOC_COUNTER_H_
