// The archive's durability calls, and the background thread that makes the
// interval policy's syncs without holding up the worker.
//
// SyncOps is the seam for tests: root ignores file modes, so chmod cannot
// make fsync(2) or syncfs(2) fail for a test run as root; a test passes a
// SyncOps whose calls fail and checks what the archive and the worker do.
#ifndef KONSEKI_OUTPUTS_ARCHIVE_SYNCER_H_
#define KONSEKI_OUTPUTS_ARCHIVE_SYNCER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "common/metrics.h"

namespace konseki::outputs {

// fsync(2) and syncfs(2). Thread-safe: the background syncer and the worker
// call it at the same time.
class SyncOps {
 public:
  virtual ~SyncOps() = default;
  // 0, or the errno of the failed call.
  virtual int Fsync(int fd);
  virtual int Syncfs(int fd);
  // The real system calls; lives for the whole process.
  static SyncOps& Real();
};

// The interval policy's syncs, off the worker thread: an fsync of a second's
// worth of archive (tens of MB at full rate) took long enough to fill the
// worker's queue and drop UDP datagrams. One syncfs(2) of the archive's file
// system per request covers every file written before it, including files
// created, rotated or closed since, without sharing descriptors with the
// worker. Requests made while a sync runs are merged into the next one.
//
// The folder is opened once, on the first request, and kept: a sync must not
// fail because the folder's mode changed (chmod 000 made every syncfs fail
// with EACCES while writes to open files went on) or descriptors ran short.
//
// Thread-safety: Request() and the accessors may be called from any thread.
// Not copyable. `ops` and `failures` must outlive the syncer.
class ArchiveSyncer {
 public:
  // Every failed sync is counted in *failures.
  ArchiveSyncer(std::string dir, SyncOps& ops, Counter* failures);
  ~ArchiveSyncer();  // waits for a running sync, then joins
  ArchiveSyncer(const ArchiveSyncer&) = delete;
  ArchiveSyncer& operator=(const ArchiveSyncer&) = delete;

  // Asks for one more sync; returns at once.
  void Request();
  // Syncs finished (failed or not), and failed, since the start.
  uint64_t completed() const { return completed_.load(std::memory_order_acquire); }
  uint64_t failed() const { return failed_.load(std::memory_order_acquire); }
  // The errno of the last sync: 0 if it succeeded.
  int last_error() const { return last_error_.load(std::memory_order_acquire); }

 private:
  void Run();
  int SyncOnce();

  const std::string dir_;
  SyncOps& ops_;
  Counter* const failures_;
  int dir_fd_ = -1;  // used by the thread only
  std::mutex mu_;    // guards requested_ and stop_
  std::condition_variable cv_;
  bool requested_ = false;
  bool stop_ = false;
  std::atomic<int> last_error_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> completed_{0};
  std::thread thread_;
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ARCHIVE_SYNCER_H_
