// RLIMIT_NOFILE at start: konseki raises its soft limit to the hard one, and
// refuses to start (saying what to set) when the hard limit cannot hold every
// listener's connection cap, the archive's open files and a reserve.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

std::string Config(const TempDir& dir, int max_connections) {
  return "listen:\n  - tcp://127.0.0.1:0\n  - udp://127.0.0.1:0\n"
         "tcp: {max_connections: " +
         std::to_string(max_connections) + "}\nworkers: 2\n" +
         "archive: {dir: " + dir.File("archive") +
         "}\nalerts: {stdout: false}\nmetrics: {listen: ''}\n";
}

// "<soft> <hard>" from the "Max open files" line of /proc/<pid>/limits.
std::string OpenFilesLimits(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream fields(line.substr(14));
    std::string soft, hard;
    fields >> soft >> hard;
    return soft + " " + hard;
  }
  return "";
}

TEST(FdLimitTest, HardLimitBelowTheCapsIsRefusedWithWhatToSet) {
  if (!HaveProgram("/usr/bin/prlimit")) GTEST_SKIP() << "util-linux prlimit not installed";
  TempDir dir;
  Konseki k;
  std::string err;
  // 4096 connections + 2 sockets + 2 x 256 archive files + 64 = 4674.
  EXPECT_FALSE(
      k.Start(dir, Config(dir, 4096), &err, {"/usr/bin/prlimit", "--nofile=1024:1024", "--"}))
      << "konseki started with 1024 descriptors for 4096 connections";
  EXPECT_NE(err.find("hard limit RLIMIT_NOFILE is 1024"), std::string::npos) << err;
  EXPECT_NE(err.find("LimitNOFILE=4674"), std::string::npos) << err;
}

TEST(FdLimitTest, SoftLimitIsRaisedToTheHardLimit) {
  if (!HaveProgram("/usr/bin/prlimit")) GTEST_SKIP() << "util-linux prlimit not installed";
  TempDir dir;
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir, Config(dir, 100), &err, {"/usr/bin/prlimit", "--nofile=256:5000", "--"}))
      << err;
  EXPECT_EQ(OpenFilesLimits(k.process().pid()), "5000 5000");
}

}  // namespace
}  // namespace konseki::testing
