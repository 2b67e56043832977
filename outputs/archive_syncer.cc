#include "outputs/archive_syncer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "common/thread_name.h"

namespace konseki::outputs {

int SyncOps::Fsync(int fd) { return fsync(fd) == 0 ? 0 : errno; }

int SyncOps::Syncfs(int fd) { return syncfs(fd) == 0 ? 0 : errno; }

SyncOps& SyncOps::Real() {
  static SyncOps* real = new SyncOps();  // never destroyed: used until exit
  return *real;
}

ArchiveSyncer::ArchiveSyncer(std::string dir, SyncOps& ops, Counter* failures)
    : dir_(std::move(dir)), ops_(ops), failures_(failures) {
  thread_ = std::thread([this] { Run(); });
}

ArchiveSyncer::~ArchiveSyncer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  if (dir_fd_ >= 0) close(dir_fd_);
}

void ArchiveSyncer::Request() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    requested_ = true;
  }
  cv_.notify_one();
}

int ArchiveSyncer::SyncOnce() {
  if (dir_fd_ < 0) {
    dir_fd_ = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd_ < 0) return errno;
  }
  return ops_.Syncfs(dir_fd_);
}

void ArchiveSyncer::Run() {
  SetThreadName("archive sync");
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return requested_ || stop_; });
    if (stop_) return;
    requested_ = false;
    lock.unlock();
    const int err = SyncOnce();
    last_error_.store(err, std::memory_order_release);
    if (err != 0) {
      failures_->Inc();
      failed_.fetch_add(1, std::memory_order_release);
    }
    completed_.fetch_add(1, std::memory_order_release);
    lock.lock();
  }
}

}  // namespace konseki::outputs
