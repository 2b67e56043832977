#include "app/privileges.h"

#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace konseki::app {
namespace {

using ::testing::HasSubstr;

TEST(CheckRootPolicyTest, RootWithoutUserOrAllowRootIsRefusedNamingTheKeys) {
  Status s = CheckRootPolicy({}, 0);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("refusing to run as root"));
  EXPECT_THAT(s.message(), HasSubstr("`user: konseki`"));
  EXPECT_THAT(s.message(), HasSubstr("`group: konseki`"));
  EXPECT_THAT(s.message(), HasSubstr("`allow_root: true`"));
}

TEST(CheckRootPolicyTest, AcceptedCases) {
  PrivilegeOptions with_user;
  with_user.user = "konseki";
  EXPECT_TRUE(CheckRootPolicy(with_user, 0).ok());
  PrivilegeOptions allow;
  allow.allow_root = true;
  EXPECT_TRUE(CheckRootPolicy(allow, 0).ok());
  EXPECT_TRUE(CheckRootPolicy({}, 1000).ok());  // not root: nothing to drop
}

TEST(CheckRootPolicyTest, GroupWithoutUserIsRefused) {
  PrivilegeOptions o;
  o.group = "adm";
  EXPECT_THAT(CheckRootPolicy(o, 1000).message(), HasSubstr("set `user:` as well"));
}

// check-config said OK for `chroot: /nonexistent`; the daemon then compiled
// the rules, bound its ports and only failed in DropPrivileges.
TEST(CheckChrootDirTest, MissingOrNonFolderIsSaidUnsetIsFine) {
  EXPECT_TRUE(CheckChrootDir({}).ok());
  PrivilegeOptions o;
  o.chroot_dir = "/nonexistent-konseki-chroot-9f3";
  Status s = CheckChrootDir(o);
  EXPECT_THAT(s.message(), HasSubstr("chroot: \"/nonexistent-konseki-chroot-9f3\""));
  EXPECT_THAT(s.message(), HasSubstr("remove `chroot:`"));
  o.chroot_dir = "/dev/null";
  EXPECT_THAT(CheckChrootDir(o).message(), HasSubstr("is not a directory"));
  o.chroot_dir = "/";
  EXPECT_TRUE(CheckChrootDir(o).ok());
}

TEST(DropPrivilegesTest, UnknownUserOrGroupFailsBeforeChangingAnything) {
  PrivilegeOptions o;
  o.user = "konseki-no-such-user-9f3";
  const uid_t uid = getuid();
  Status s = DropPrivileges(o);
  EXPECT_THAT(s.message(), HasSubstr("user: \"konseki-no-such-user-9f3\" is not a user"));
  o.user = std::to_string(uid);
  o.group = "konseki-no-such-group-9f3";
  EXPECT_THAT(DropPrivileges(o).message(),
              HasSubstr("group: \"konseki-no-such-group-9f3\" is not a group"));
  EXPECT_EQ(getuid(), uid);
  EXPECT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
}

// Runs body in a forked child (dropping privileges in the test process would
// break the runner) and returns its exit code; 100+ means the child crashed.
int InChild(const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return 200;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

class DropAsRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (run the tests as root to cover the drop)";
    passwd* pw = getpwnam("nobody");
    if (pw == nullptr) GTEST_SKIP() << "no `nobody` user on this host";
    nobody_uid_ = pw->pw_uid;
    nobody_gid_ = pw->pw_gid;
  }
  uid_t nobody_uid_ = 0;
  gid_t nobody_gid_ = 0;
};

// Exit codes of the child checks, so a failure says which check failed.
enum Check {
  kOk = 0,
  kDropFailed = 1,
  kUidNotChanged = 2,
  kGidNotChanged = 3,
  kNoNewPrivsNotSet = 4,
  kRootRegained = 5,
  kSupplementaryGroupsKept = 6,
  kChrootNotEntered = 7,
};

TEST_F(DropAsRootTest, DropsToNobodyAndCannotRegainRoot) {
  const uid_t uid = nobody_uid_;
  const gid_t gid = nobody_gid_;
  int code = InChild([&] {
    // A supplementary group to be cleared.
    gid_t extra[2] = {0, 4};
    setgroups(2, extra);
    PrivilegeOptions o;
    o.user = "nobody";
    Status s = DropPrivileges(o);
    if (!s.ok()) {
      std::fprintf(stderr, "DropPrivileges: %s\n", s.ToString().c_str());
      return kDropFailed;
    }
    if (getuid() != uid || geteuid() != uid) return kUidNotChanged;
    if (getgid() != gid || getegid() != gid) return kGidNotChanged;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return kNoNewPrivsNotSet;
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) return kRootRegained;
    gid_t groups[8];
    int n = getgroups(8, groups);
    if (n != 1 || groups[0] != gid) return kSupplementaryGroupsKept;
    return kOk;
  });
  EXPECT_EQ(code, kOk);
}

TEST_F(DropAsRootTest, ThreadStartedBeforeTheDropIsDroppedToo) {
  // Kernel credentials are per thread; glibc applies setresuid/setresgid to
  // every thread. The server may already run a thread (metrics endpoint)
  // when DropPrivileges is called.
  const uid_t uid = nobody_uid_;
  int code = InChild([&] {
    std::mutex mu;
    std::condition_variable cv;
    bool dropped = false;
    uid_t seen_uid = 0;
    std::thread early([&] {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return dropped; });
      uid_t r, e, saved;
      getresuid(&r, &e, &saved);
      seen_uid = (r == e && e == saved) ? e : 0;
    });
    PrivilegeOptions o;
    o.user = "nobody";
    Status s = DropPrivileges(o);
    {
      std::lock_guard<std::mutex> lock(mu);
      dropped = true;
    }
    cv.notify_all();
    early.join();
    if (!s.ok()) return kDropFailed;
    return seen_uid == uid ? kOk : kUidNotChanged;
  });
  EXPECT_EQ(code, kOk);
}

TEST_F(DropAsRootTest, ExplicitGroupIsUsed) {
  group* gr = getgrnam("daemon");
  if (gr == nullptr) GTEST_SKIP() << "no `daemon` group";
  const gid_t gid = gr->gr_gid;
  int code = InChild([&] {
    PrivilegeOptions o;
    o.user = "nobody";
    o.group = "daemon";
    if (!DropPrivileges(o).ok()) return kDropFailed;
    if (getgid() != gid || getegid() != gid) return kGidNotChanged;
    return kOk;
  });
  EXPECT_EQ(code, kOk);
}

TEST_F(DropAsRootTest, ChrootThenDrop) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "konseki-chroot-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  {
    std::FILE* f = std::fopen((dir + "/inside-marker").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  int code = InChild([&] {
    PrivilegeOptions o;
    o.user = "nobody";
    o.chroot_dir = dir;
    Status s = DropPrivileges(o);
    if (!s.ok()) {
      std::fprintf(stderr, "DropPrivileges: %s\n", s.ToString().c_str());
      return kDropFailed;
    }
    char cwd[256];
    if (access("/inside-marker", F_OK) != 0 || getcwd(cwd, sizeof cwd) == nullptr ||
        std::string(cwd) != "/") {
      return kChrootNotEntered;
    }
    if (geteuid() != nobody_uid_) return kUidNotChanged;
    return kOk;
  });
  EXPECT_EQ(code, kOk);
  std::filesystem::remove_all(dir);
}

TEST_F(DropAsRootTest, AllowRootKeepsRootButSetsNoNewPrivs) {
  int code = InChild([] {
    PrivilegeOptions o;
    o.allow_root = true;
    if (!DropPrivileges(o).ok()) return kDropFailed;
    if (geteuid() != 0) return kUidNotChanged;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return kNoNewPrivsNotSet;
    return kOk;
  });
  EXPECT_EQ(code, kOk);
}

TEST_F(DropAsRootTest, RootWithoutUserIsRefusedAndNothingChanges) {
  Status s = DropPrivileges({});
  EXPECT_THAT(s.message(), HasSubstr("refusing to run as root"));
  EXPECT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
  PrivilegeOptions o;
  o.user = "root";
  EXPECT_THAT(DropPrivileges(o).message(), HasSubstr("is root (uid 0)"));
  EXPECT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
}

TEST_F(DropAsRootTest, MissingChrootDirIsPrecise) {
  int code = InChild([] {
    PrivilegeOptions o;
    o.user = "nobody";
    o.chroot_dir = "/nonexistent/konseki-jail";
    Status s = DropPrivileges(o);
    return !s.ok() && s.message().find("chroot: \"/nonexistent/konseki-jail\"") != std::string::npos
               ? kOk
               : kDropFailed;
  });
  EXPECT_EQ(code, kOk);
}

}  // namespace
}  // namespace konseki::app
