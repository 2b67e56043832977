// The deployment of dist/konseki.service, as the unit runs it: started as
// root with `user:` a real unprivileged account, the admin's folders 0750
// owned by that account, and the unit's capability bounding set (no
// CAP_DAC_OVERRIDE, no CAP_CHOWN). Everything konseki creates must belong to
// that user, and every line must be archived.
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

constexpr char kUser[] = "konseki-test";
// CapabilityBoundingSet= of dist/konseki.service.
constexpr char kUnitBoundingSet[] =
    "--bounding-set=-all,+net_bind_service,+setuid,+setgid,+sys_chroot";

// The account the unit's one-time setup creates; left in place (idempotent).
bool EnsureUser(passwd* out) {
  if (passwd* pw = getpwnam(kUser)) {
    *out = *pw;
    return true;
  }
  std::string cmd = std::string("useradd --system --no-create-home --shell /usr/sbin/nologin ") +
                    kUser + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return false;
  passwd* pw = getpwnam(kUser);
  if (pw == nullptr) return false;
  *out = *pw;
  return true;
}

// `install -d -o konseki -g konseki -m 0750 dir`, as the unit's comment says.
void AdminFolder(const std::string& dir, const passwd& pw) {
  ASSERT_EQ(mkdir(dir.c_str(), 0750), 0) << dir;
  ASSERT_EQ(chown(dir.c_str(), pw.pw_uid, pw.pw_gid), 0) << dir;
  ASSERT_EQ(chmod(dir.c_str(), 0750), 0) << dir;
}

struct stat Stat(const std::string& path) {
  struct stat st = {};
  stat(path.c_str(), &st);
  return st;
}

TEST(ServiceSetupTest, RootWithUserUnderUnitCapabilitiesArchivesEverything) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: it starts konseki as the systemd unit does";
  if (!HaveProgram("/usr/bin/setpriv")) GTEST_SKIP() << "util-linux setpriv not installed";
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  passwd pw;
  ASSERT_TRUE(EnsureUser(&pw)) << "could not create the system user " << kUser;

  TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);  // like /var/log and /var/lib
  const std::string log_dir = dir.File("log");
  const std::string lib_dir = dir.File("lib");
  AdminFolder(log_dir, pw);
  AdminFolder(lib_dir, pw);
  const std::string archive = log_dir + "/archive";
  const std::string alerts = log_dir + "/alerts/alerts.jsonl";
  const std::string state = lib_dir + "/state";
  const std::string config =
      std::string("listen:\n  - tcp://127.0.0.1:0\n") + "user: " + kUser + "\nallow_root: false\n" +
      "archive:\n  dir: " + archive + "\n" + "alerts:\n  file: " + alerts + "\n  stdout: false\n" +
      "heartbeat:\n  state_dir: " + state + "\n" + "workers: 2\nmetrics:\n  listen: 127.0.0.1:0\n";
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir, config, &err, {"/usr/bin/setpriv", kUnitBoundingSet, "--"})) << err;

  int fd = ConnectTcp(k.Port("tcp"));
  ASSERT_GE(fd, 0);
  std::string lines;
  for (int i = 0; i < 99; ++i) {
    lines += "<38>Dec  1 12:00:00 svc-host app: seq=" + std::to_string(i) + "\n";
  }
  // One line that raises an alert (an SSH login), so the alerts file is
  // written.
  lines +=
      "<38>Dec  1 12:00:00 svc-host sshd[7]: Accepted password for root from 192.0.2.1 "
      "port 56502 ssh2\n";
  ASSERT_TRUE(SendAll(fd, lines));
  close(fd);
  EXPECT_TRUE(WaitFor([&] { return ArchiveLines(archive, "svc-host").size() >= 100; }))
      << ArchiveLines(archive, "svc-host").size() << " of 100 lines archived\n"
      << k.process().Stderr();

  int status = k.process().Signal(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << k.process().Stderr();

  EXPECT_EQ(ArchiveLines(archive, "svc-host").size(), 100u) << k.process().Stderr();
  EXPECT_NE(ReadFile(alerts).find("192.0.2.1"), std::string::npos)
      << "alerts file: " << ReadFile(alerts) << "\n"
      << k.process().Stderr();
  std::string saved;
  for (const char* f : {"/heartbeat.0.state", "/heartbeat.1.state"}) saved += ReadFile(state + f);
  EXPECT_NE(saved.find("svc-host"), std::string::npos) << "heartbeat state not saved";
  for (const std::string& p :
       {archive, archive + "/svc-host", log_dir + "/alerts", alerts, state}) {
    struct stat st = Stat(p);
    EXPECT_EQ(st.st_uid, pw.pw_uid) << p << " is not owned by " << kUser;
    EXPECT_EQ(st.st_gid, pw.pw_gid) << p;
  }
  EXPECT_EQ(Stat(state).st_mode & 07777, 0750u) << "heartbeat state dir mode";
  EXPECT_EQ(Stat(log_dir + "/alerts").st_mode & 07777, 0750u) << "alerts dir mode";
}

// check-config, run by the unit's ExecStartPre, and the daemon itself: they
// must say which path the user will not be able to write and refuse it (and
// reject a user that does not exist).
TEST(ServiceSetupTest, CheckConfigAndTheDaemonRefusePathsTheUserCannotWrite) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: creates the system user " << kUser;
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  passwd pw;
  ASSERT_TRUE(EnsureUser(&pw)) << "could not create the system user " << kUser;
  TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);  // root's, like /var/log
  AdminFolder(dir.File("log"), pw);
  int status = -1;
  auto check = [&](const std::string& user, std::string* out, std::string* err) {
    std::ofstream(dir.File("k.yaml"))
        << "listen: [tcp://127.0.0.1:0]\nuser: " << user << "\n"
        << "archive: {dir: " << dir.File("archive") << "}\n"
        << "alerts: {file: " << dir.File("log") << "/alerts.jsonl}\n"
        << "heartbeat: {state_dir: " << dir.File("log") << "/state}\n";
    ChildProcess p;
    EXPECT_TRUE(p.Start({KonsekiBinary(), "check-config", dir.File("k.yaml")}, dir.File("check")));
    status = p.Signal(0, std::chrono::seconds(30));  // waits for its exit
    *out = p.Stdout();
    *err = p.Stderr();
  };
  std::string out, err;
  check(kUser, &out, &err);
  EXPECT_NE(err.find(dir.File("k.yaml") + ": archive.dir: " + dir.File("archive") +
                     " will not be writable by user " + kUser),
            std::string::npos)
      << err;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_NE(err.find("install -d -o konseki-test"), std::string::npos) << err;
  EXPECT_EQ(err.find("alerts.file"), std::string::npos)
      << "the admin's folder is writable: " << err;
  EXPECT_EQ(err.find("state_dir"), std::string::npos) << err;
  EXPECT_EQ(out.find("OK"), std::string::npos) << out;

  // The daemon refuses to start on the same config rather than saying
  // "ready" and blocking on the first line: with the folder missing (it
  // cannot create it) and with the folder there but root's (a restore).
  for (bool exists : {false, true}) {
    if (exists) {
      ASSERT_EQ(mkdir(dir.File("archive").c_str(), 0755), 0);
    }
    ChildProcess daemon;
    ASSERT_TRUE(daemon.Start({KonsekiBinary(), "--config", dir.File("k.yaml")}, dir.File("run")));
    // Waits for its exit (-1: still running after 30 s, i.e. it started).
    const int run_status = daemon.Signal(0, std::chrono::seconds(30));
    EXPECT_TRUE(WIFEXITED(run_status) && WEXITSTATUS(run_status) == 1) << run_status;
    EXPECT_NE(daemon.Stderr().find("cannot start: " + dir.File("k.yaml")), std::string::npos)
        << daemon.Stderr();
    EXPECT_NE(daemon.Stderr().find(dir.File("archive")), std::string::npos) << daemon.Stderr();
    EXPECT_EQ(daemon.Stderr().find("ready"), std::string::npos) << daemon.Stderr();
  }
  ASSERT_EQ(rmdir(dir.File("archive").c_str()), 0);

  // Made writable as the hint says: check-config is fine.
  ASSERT_EQ(chown(dir.path().c_str(), pw.pw_uid, pw.pw_gid), 0);
  check(kUser, &out, &err);
  EXPECT_NE(out.find("OK"), std::string::npos) << out << err;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << err;

  check("no-such-user-konseki", &out, &err);
  EXPECT_NE(err.find("\"no-such-user-konseki\" is not a user on this host"), std::string::npos)
      << err;
}

}  // namespace
}  // namespace konseki::testing
