// Numbered test messages through util-linux logger(1), and the check that
// each arrived exactly once: shared by the UDP and stream listener tests.
#ifndef KONSEKI_TESTS_RECEIVER_LOGGER_FRAMES_H_
#define KONSEKI_TESTS_RECEIVER_LOGGER_FRAMES_H_

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "tests/receiver/capturing_frame_sink.h"

namespace konseki::receiver {

// Counts "<tag>-N" markers in the captured frames; every N in [1, n] must be
// seen exactly once.
inline void ExpectEachExactlyOnce(const std::vector<CapturedFrame>& frames, const std::string& tag,
                                  int n) {
  std::map<int, int> seen;
  const std::string prefix = tag + "-";
  for (const CapturedFrame& f : frames) {
    size_t at = f.bytes.find(prefix);
    if (at == std::string::npos) continue;
    int number = 0;
    if (std::sscanf(f.bytes.c_str() + at + prefix.size(), "%d end", &number) == 1) ++seen[number];
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(n));
  for (int i = 1; i <= n; ++i) EXPECT_EQ(seen[i], 1) << tag << "-" << i;
}

// Sends "<tag>-1 end" ... "<tag>-n end" with `logger <args>`; its exit status.
inline int RunLogger(const std::string& args, const std::string& tag, int n) {
  std::string cmd = "seq -f '" + tag + "-%g end' 1 " + std::to_string(n) + " | logger " + args;
  return std::system(cmd.c_str());
}

}  // namespace konseki::receiver

#endif  // KONSEKI_TESTS_RECEIVER_LOGGER_FRAMES_H_
