// FUZZ_CHECK: an invariant a fuzz target asserts; a violation aborts so
// libFuzzer saves the input as a crash.
#ifndef KONSEKI_FUZZ_FUZZ_CHECK_H_
#define KONSEKI_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

#endif  // KONSEKI_FUZZ_FUZZ_CHECK_H_
