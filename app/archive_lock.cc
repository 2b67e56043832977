#include "app/archive_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "common/make_dirs.h"

namespace konseki::app {

std::string ArchiveLockPath(const std::string& archive_dir) { return archive_dir + "/.state/lock"; }

std::string StateDirLockPath(const std::string& state_dir) { return state_dir + "/state.lock"; }

StatusOr<std::unique_ptr<ArchiveLock>> ArchiveLock::Acquire(const std::string& archive_dir,
                                                            std::string_view who) {
  return Lock(archive_dir + "/.state", ArchiveLockPath(archive_dir), who,
              "the archive " + archive_dir, "archive.dir");
}

StatusOr<std::unique_ptr<ArchiveLock>> ArchiveLock::AcquireStateDir(const std::string& state_dir,
                                                                    std::string_view who,
                                                                    std::string_view key) {
  return Lock(state_dir, StateDirLockPath(state_dir), who, "the state folder " + state_dir, key);
}

StatusOr<std::unique_ptr<ArchiveLock>> ArchiveLock::Lock(const std::string& dir,
                                                         const std::string& path,
                                                         std::string_view who,
                                                         const std::string& what,
                                                         std::string_view key) {
  if (Status st = MakeDirs(dir, 0750); !st.ok()) return st;
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  // A lock file made by another user (root's seal-setup, say) we may not
  // write: locking needs only a descriptor.
  if (fd < 0 && errno == EACCES) fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::FromErrno("cannot open the lock " + path, errno);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[512];
    const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    if (err != EWOULDBLOCK) return Status::FromErrno("cannot lock " + path, err);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    const size_t sp = holder.find(' ');
    const std::string pid = holder.substr(0, sp);
    const std::string role = sp == std::string::npos ? "konseki" : holder.substr(sp + 1);
    return Status::Unavailable(
        what + " is in use by another konseki (" +
        (pid.empty() ? std::string("pid unknown") : role + ", pid " + pid) + "): " + path +
        " is locked. Stop it first, or give this instance its own " + std::string(key));
  }
  const std::string content = std::to_string(getpid()) + " " + std::string(who) + "\n";
  // Best effort: the pid only names the holder in the refusal message.
  if (ftruncate(fd, 0) == 0) {
    const ssize_t written = pwrite(fd, content.data(), content.size(), 0);
    (void)written;
  }
  return std::unique_ptr<ArchiveLock>(new ArchiveLock(fd, path));
}

ArchiveLock::~ArchiveLock() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace konseki::app
