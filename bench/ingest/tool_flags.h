// "--name value" command lines of the small tools bench/ingest/run starts
// (udp_blaster, floor_receiver).
#ifndef KONSEKI_BENCH_INGEST_TOOL_FLAGS_H_
#define KONSEKI_BENCH_INGEST_TOOL_FLAGS_H_

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace konseki::bench {

// Calls set(name, value) for every "--name value" pair of argv; set returns
// false for a name it does not know. Prints "<tool>: <why>" and `usage`, and
// exits 2, on a flag without a value or an unknown one.
template <typename Set>
void ParseToolFlags(int argc, char** argv, const char* tool, const char* usage, Set set) {
  const char* why = nullptr;
  for (int i = 1; i < argc && why == nullptr; i += 2) {
    if (i + 1 >= argc) {
      why = "option without a value";
    } else if (!set(std::string_view(argv[i]), argv[i + 1])) {
      why = "unknown option";
    }
  }
  if (why == nullptr) return;
  std::fprintf(stderr, "%s: %s\nusage: %s\n", tool, why, usage);
  std::exit(2);
}

}  // namespace konseki::bench

#endif  // KONSEKI_BENCH_INGEST_TOOL_FLAGS_H_
