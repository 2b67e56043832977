#include "common/usable_cpus.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/testing/temp_dir.h"

namespace konseki {
namespace {

namespace fs = std::filesystem;

// Writes `text` to root/rel, creating the folders.
void Put(const std::string& root, const std::string& rel, const std::string& text) {
  const fs::path p = fs::path(root) / rel;
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

TEST(UsableCpusTest, NoQuotaAnywhereIsZero) {
  testing::TempDir dir;
  Put(dir.path(), "system.slice/konseki.service/cpu.max", "max 100000\n");
  EXPECT_EQ(CgroupCpuQuota(dir.path(), "0::/system.slice/konseki.service\n"), 0u);
  // No cpu.max at all (the root cgroup has none), and no v2 line.
  EXPECT_EQ(CgroupCpuQuota(dir.path(), "0::/\n"), 0u);
  EXPECT_EQ(CgroupCpuQuota(dir.path(), "1:name=systemd:/\n"), 0u);
  EXPECT_EQ(CgroupCpuQuota(dir.path(), ""), 0u);
}

TEST(UsableCpusTest, V2QuotaIsRoundedUpAndTheSmallestUpTheTreeWins) {
  testing::TempDir dir;
  // CPUQuota=150% on the service: 2 CPUs' worth of threads.
  Put(dir.path(), "system.slice/konseki.service/cpu.max", "150000 100000\n");
  EXPECT_EQ(CgroupCpuQuota(dir.path(), "0::/system.slice/konseki.service\n"), 2u);
  // A parent slice limited to half a CPU limits the service too (at least 1).
  Put(dir.path(), "system.slice/cpu.max", "50000 100000\n");
  EXPECT_EQ(CgroupCpuQuota(dir.path(), "0::/system.slice/konseki.service\n"), 1u);
}

TEST(UsableCpusTest, V1CpuControllerQuota) {
  testing::TempDir dir;
  Put(dir.path(), "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n");
  Put(dir.path(), "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  const std::string cgroup = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/docker/abc\n";
  EXPECT_EQ(CgroupCpuQuota(dir.path(), cgroup), 3u);
  // -1 is v1's "no quota".
  Put(dir.path(), "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(CgroupCpuQuota(dir.path(), cgroup), 0u);
}

TEST(UsableCpusTest, MalformedFilesAreNoQuota) {
  testing::TempDir dir;
  Put(dir.path(), "a/cpu.max", "lots 100000\n");
  EXPECT_EQ(CgroupCpuQuota(dir.path(), "0::/a\n"), 0u);
  Put(dir.path(), "a/cpu.max", "100000 0\n");
  EXPECT_EQ(CgroupCpuQuota(dir.path(), "0::/a\n"), 0u);
  Put(dir.path(), "a/cpu.max", "");
  EXPECT_EQ(CgroupCpuQuota(dir.path(), "0::/a\n"), 0u);
}

// taskset -c 0 konseki: one CPU in the affinity mask means one, whatever the
// machine has.
TEST(UsableCpusTest, FollowsTheAffinityMask) {
  unsigned confined = 0, all = 0;
  std::thread t([&] {
    all = UsableCpus();
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    confined = UsableCpus();
  });
  t.join();
  EXPECT_EQ(confined, 1u);
  EXPECT_GE(all, 1u);
  EXPECT_LE(all, std::thread::hardware_concurrency());
}

}  // namespace
}  // namespace konseki
