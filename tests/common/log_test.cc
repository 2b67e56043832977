#include "common/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace konseki {
namespace {

std::string DevIno(int fd) {
  struct stat st = {};
  fstat(fd, &st);
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

TEST(LogTest, OutsideTheJournalLinesHaveNoPriorityPrefix) {
  EXPECT_EQ(FormatLogLines(LogLevel::kError, false, "cannot start: x"),
            "konseki: cannot start: x\n");
}

TEST(LogTest, InTheJournalEachLineCarriesItsSdDaemonPriority) {
  EXPECT_EQ(FormatLogLines(LogLevel::kError, true, "e"), "<3>konseki: e\n");
  EXPECT_EQ(FormatLogLines(LogLevel::kWarning, true, "w\n"), "<4>konseki: w\n");
  EXPECT_EQ(FormatLogLines(LogLevel::kInfo, true, "i"), "<6>konseki: i\n");
}

TEST(LogTest, MultiLineTextKeepsThePriorityOnEveryLine) {
  EXPECT_EQ(FormatLogLines(LogLevel::kWarning, true, "first\nsecond"),
            "<4>konseki: first\n<4>  second\n");
  EXPECT_EQ(FormatLogLines(LogLevel::kWarning, false, "first\nsecond"),
            "konseki: first\n  second\n");
}

TEST(LogTest, JournalStreamMustNameTheDescriptorsDeviceAndInode) {
  char path[] = "/tmp/konseki-log-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  char other_path[] = "/tmp/konseki-log-XXXXXX";
  const int other = mkstemp(other_path);
  ASSERT_GE(other, 0);
  EXPECT_TRUE(IsJournalStream(DevIno(fd).c_str(), fd));
  // Inherited by a process whose stderr went elsewhere (a terminal, a file).
  EXPECT_FALSE(IsJournalStream(DevIno(other).c_str(), fd));
  EXPECT_FALSE(IsJournalStream(nullptr, fd));
  EXPECT_FALSE(IsJournalStream("", fd));
  EXPECT_FALSE(IsJournalStream((DevIno(fd) + "x").c_str(), fd));
  EXPECT_FALSE(IsJournalStream("12", fd));
  close(fd);
  close(other);
  unlink(path);
  unlink(other_path);
}

}  // namespace
}  // namespace konseki
