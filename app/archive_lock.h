// An exclusive lock on an archive folder, so that two konseki processes
// never write (and seal) the same archive: two daemons would both append to
// the same day files and both evolve the same sealing key, breaking the seal
// chain for good (a false tamper report from `konseki verify`).
//
// The same lock, on another file, guards a state folder (heartbeat.state_dir,
// correlation.state_dir): it holds the control socket, the spool and the
// host and correlation state that make up the daemon's memory. Two daemons
// on one state folder would answer each other's console commands and write
// their state into each other's files (a host only one of them ever saw
// turning up in the other's hosts after a restart).
//
// The lock is flock(LOCK_EX | LOCK_NB) on <archive.dir>/.state/lock (and on
// <state folder>/state.lock), taken by the daemon before it writes anything
// and by `konseki seal-setup` (the archive's only). The console commands
// (status, hosts, ...) never take it: they read the files and the socket.
// The file holds "<pid> <who>" of the holder, for the refusal message. flock
// belongs to the open file, not to a uid: it stays valid across the
// privilege drop and SIGHUP (the descriptor is never reopened), and the
// kernel releases it when the process dies, so a crash leaves no stale lock.
// The descriptor is O_CLOEXEC (exec'd children do not hold it).
//
// Usage:
//   auto lock = ArchiveLock::Acquire(config.archive.dir, "konseki daemon");
//   if (!lock.ok()) return lock.status();   // names the path and the holder
//   auto state = ArchiveLock::AcquireStateDir(HeartbeatStateDir(config), "konseki daemon",
//                                             "heartbeat.state_dir");
//   ... keep *lock (and *state) for the life of the process ...
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
// <state_dir>/state.lock (another name than the archive's: the default state
// folder is <archive.dir>/.state itself, and the daemon holds both).
std::string StateDirLockPath(const std::string& state_dir);

class ArchiveLock {
 public:
  // Creates <archive_dir>/.state (0750, with missing parents) and the lock
  // file (0640) when missing, takes the lock and writes "<pid> <who>" into
  // it. When another process holds it: kUnavailable, with a message naming
  // the lock file and the holder's pid and role as the file says them.
  static StatusOr<std::unique_ptr<ArchiveLock>> Acquire(const std::string& archive_dir,
                                                        std::string_view who);
  // The same for a state folder: creates `state_dir` (0750) and
  // <state_dir>/state.lock. The refusal names `key`, the config key to
  // change ("heartbeat.state_dir"). One process must not lock one folder
  // twice under two spellings (flock refuses the second open): the caller
  // compares the folders first.
  static StatusOr<std::unique_ptr<ArchiveLock>> AcquireStateDir(const std::string& state_dir,
                                                                std::string_view who,
                                                                std::string_view key);
  // Releases the lock (closes the file; the file stays).
  ~ArchiveLock();
  ArchiveLock(const ArchiveLock&) = delete;
  ArchiveLock& operator=(const ArchiveLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  ArchiveLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  // Makes `dir`, locks `path`; `what` ("the archive /srv/a") and `key` word
  // the refusal.
  static StatusOr<std::unique_ptr<ArchiveLock>> Lock(const std::string& dir,
                                                     const std::string& path, std::string_view who,
                                                     const std::string& what, std::string_view key);
  int fd_;
  std::string path_;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_ARCHIVE_LOCK_H_
