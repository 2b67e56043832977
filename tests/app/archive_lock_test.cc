#include "app/archive_lock.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/testing/temp_dir.h"

namespace konseki::app {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ArchiveLockTest, TakesTheLockAndNamesItsHolderInTheFile) {
  testing::TempDir dir;
  const std::string archive = dir.File("archive");
  auto lock = ArchiveLock::Acquire(archive, "konseki daemon");
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ((*lock)->path(), archive + "/.state/lock");
  EXPECT_EQ(Slurp((*lock)->path()), std::to_string(getpid()) + " konseki daemon\n");
}

// flock belongs to the open file: a second open, even in the same process,
// is refused while the first is held, and the refusal says who holds it.
TEST(ArchiveLockTest, SecondHolderIsRefusedWithThePathAndThePid) {
  testing::TempDir dir;
  const std::string archive = dir.File("archive");
  auto first = ArchiveLock::Acquire(archive, "konseki daemon");
  ASSERT_TRUE(first.ok());
  auto second = ArchiveLock::Acquire(archive, "konseki seal-setup");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  const std::string& m = second.status().message();
  EXPECT_NE(m.find(archive + "/.state/lock"), std::string::npos) << m;
  EXPECT_NE(
      m.find("in use by another konseki (konseki daemon, pid " + std::to_string(getpid()) + ")"),
      std::string::npos)
      << m;
  // The refused one did not overwrite the holder's name.
  EXPECT_EQ(Slurp(archive + "/.state/lock"), std::to_string(getpid()) + " konseki daemon\n");
  first->reset();
  EXPECT_TRUE(ArchiveLock::Acquire(archive, "konseki seal-setup").ok());
}

// A lock file left by a process that died holds nothing: the kernel drops
// a flock with its holder, whatever the file says.
TEST(ArchiveLockTest, FileLeftByADeadHolderDoesNotBlock) {
  testing::TempDir dir;
  const std::string archive = dir.File("archive");
  std::filesystem::create_directories(archive + "/.state");
  std::ofstream(archive + "/.state/lock") << "999999 konseki daemon\n";
  auto lock = ArchiveLock::Acquire(archive, "konseki daemon");
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ(Slurp((*lock)->path()), std::to_string(getpid()) + " konseki daemon\n");
}

// The default state folder is <archive.dir>/.state itself: its lock is
// another file there, so one daemon holds both; a second holder of the
// state folder is refused naming the folder, the holder and the key.
TEST(ArchiveLockTest, StateFolderLockSitsBesideTheArchiveLockAndRefusesASecondHolder) {
  testing::TempDir dir;
  const std::string archive = dir.File("archive");
  auto lock = ArchiveLock::Acquire(archive, "konseki daemon");
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  auto state = ArchiveLock::AcquireStateDir(archive + "/.state", "konseki daemon, config a.yaml",
                                            "heartbeat.state_dir");
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ((*state)->path(), archive + "/.state/state.lock");
  auto second = ArchiveLock::AcquireStateDir(archive + "/.state", "konseki daemon, config b.yaml",
                                             "heartbeat.state_dir");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(second.status().message(),
            "the state folder " + archive +
                "/.state is in use by another konseki (konseki daemon, config a.yaml, pid " +
                std::to_string(getpid()) + "): " + archive +
                "/.state/state.lock is locked. Stop it first, or give this instance its own "
                "heartbeat.state_dir");
}

}  // namespace
}  // namespace konseki::app
