// An exclusive lock on an archive folder, so that two konseki processes
// never write (and seal) the same archive: two daemons would both append to
// the same day files and both evolve the same sealing key, breaking the seal
// chain for good (a false tamper report from `konseki verify`).
//
// The lock is flock(LOCK_EX | LOCK_NB) on <archive.dir>/.state/lock, taken
// by the daemon before it writes anything and by `konseki seal-setup`. The
// file holds "<pid> <who>" of the holder, for the refusal message. flock
// belongs to the open file, not to a uid: it stays valid across the
// privilege drop and SIGHUP (the descriptor is never reopened), and the
// kernel releases it when the process dies, so a crash leaves no stale lock.
// The descriptor is O_CLOEXEC (exec'd children do not hold it).
//
// Usage:
//   auto lock = ArchiveLock::Acquire(config.archive.dir, "konseki daemon");
//   if (!lock.ok()) return lock.status();   // names the path and the holder
//   ... keep *lock for the life of the process ...
//
// Not copyable; not thread-safe (one owner).
#ifndef KONSEKI_APP_ARCHIVE_LOCK_H_
#define KONSEKI_APP_ARCHIVE_LOCK_H_

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace konseki::app {

// <archive_dir>/.state/lock
std::string ArchiveLockPath(const std::string& archive_dir);

class ArchiveLock {
 public:
  // Creates <archive_dir>/.state (0750, with missing parents) and the lock
  // file (0640) when missing, takes the lock and writes "<pid> <who>" into
  // it. When another process holds it: kUnavailable, with a message naming
  // the lock file and the holder's pid and role as the file says them.
  static StatusOr<std::unique_ptr<ArchiveLock>> Acquire(const std::string& archive_dir,
                                                        std::string_view who);
  // Releases the lock (closes the file; the file stays).
  ~ArchiveLock();
  ArchiveLock(const ArchiveLock&) = delete;
  ArchiveLock& operator=(const ArchiveLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  ArchiveLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_ARCHIVE_LOCK_H_
