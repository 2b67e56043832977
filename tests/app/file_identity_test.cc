#include "app/file_identity.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace konseki::app {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// A uid/gid that owns nothing on a test machine.
constexpr RunAsIds kStranger{54321, 54321};

class WritableProblemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "konseki-fileid-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(WritableProblemTest, FolderToCreateUnderSomeoneElses0755FolderIsReported) {
  std::string p = WritableProblem("archive.dir", dir_ + "/archive", true, kStranger, "konseki");
  EXPECT_THAT(p, HasSubstr("archive.dir: " + dir_ +
                           "/archive will not be writable by user "
                           "konseki (uid 54321, gid 54321)"));
  EXPECT_THAT(p, HasSubstr("inside " + dir_));
  EXPECT_THAT(p, HasSubstr("mode 0755"));
  EXPECT_THAT(p, HasSubstr("install -d -o konseki -g 54321 -m 0750 " + dir_ + "/archive"));
}

TEST_F(WritableProblemTest, OwnFolderIsFineAndMissingParentsToo) {
  // The process's own ids own dir_: creating below it is fine for them.
  const RunAsIds me{geteuid() == 0 ? kStranger.uid : geteuid(), getegid()};
  if (geteuid() == 0) {
    ASSERT_EQ(chown(dir_.c_str(), me.uid, me.gid), 0);
  }
  EXPECT_EQ(WritableProblem("archive.dir", dir_ + "/a/b/c", true, me, "me"), "");
  EXPECT_EQ(WritableProblem("alerts.file", dir_ + "/alerts/x.jsonl", false, me, "me"), "");
  EXPECT_EQ(WritableProblem("archive.dir", dir_ + "/", true, me, "me"), "");
}

TEST_F(WritableProblemTest, FolderThatCannotBeEnteredIsReported) {
  const std::string locked = dir_ + "/locked";
  ASSERT_EQ(mkdir(locked.c_str(), 0700), 0);
  std::string p = WritableProblem("heartbeat.state_dir", locked + "/state", true, kStranger, "k");
  EXPECT_THAT(p, HasSubstr(locked + " (owner "));
  EXPECT_THAT(p, HasSubstr("cannot be entered"));
}

TEST_F(WritableProblemTest, ExistingFileOfAnotherUserIsReported) {
  const std::string f = dir_ + "/alerts.jsonl";
  ASSERT_EQ(close(creat(f.c_str(), 0644)), 0);
  std::string p = WritableProblem("alerts.file", f, false, kStranger, "k");
  EXPECT_THAT(p, HasSubstr("mode 0644"));
  EXPECT_THAT(p, HasSubstr("chown k " + f));
}

TEST_F(WritableProblemTest, RootIsNeverWarnedAbout) {
  EXPECT_EQ(WritableProblem("archive.dir", "/proc/nope", true, RunAsIds{0, 0}, "root"), "");
}

// In a child (file-system ids are per thread, but keep the test process
// clean): a folder created in the scope belongs to the run-as user.
TEST(ScopedFileIdentityTest, FoldersCreatedInTheScopeBelongToTheRunAsUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: switches the file-system uid";
  std::string tmpl = (fs::temp_directory_path() / "konseki-fileid-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  ASSERT_EQ(chown(tmpl.c_str(), kStranger.uid, kStranger.gid), 0);
  pid_t pid = fork();
  if (pid == 0) {
    {
      auto scope = ScopedFileIdentity::Enter(kStranger);
      if (!scope.ok()) _exit(2);
      if (mkdir((tmpl + "/made").c_str(), 0750) != 0) _exit(3);
    }
    // The scope ended: files are root's again.
    _exit(mkdir((tmpl + "/root").c_str(), 0750) == 0 ? 0 : 4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  struct stat st = {};
  ASSERT_EQ(stat((tmpl + "/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kStranger.uid);
  EXPECT_EQ(st.st_gid, kStranger.gid);
  ASSERT_EQ(stat((tmpl + "/root").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  fs::remove_all(tmpl);
}

}  // namespace
}  // namespace konseki::app
