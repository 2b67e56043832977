#include "outputs/archive_budget.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace konseki::outputs {
namespace {

constexpr std::string_view kOverflowPrefix = "%overflow-";

}  // namespace

std::string OverflowFolder(size_t worker) {
  return std::string(kOverflowPrefix) + std::to_string(worker);
}

Status ArchiveBudget::CountExistingHosts(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno("archive: cannot list " + dir, errno);
  }
  size_t n = 0;
  while (const dirent* e = readdir(d)) {
    const std::string_view name = e->d_name;
    if (name.empty() || name[0] == '.' || IsOverflowFolder(name)) {
      continue;
    }
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    n += is_dir;
  }
  closedir(d);
  hosts_.store(n, std::memory_order_relaxed);
  return Status::Ok();
}

bool IsOverflowFolder(std::string_view name) { return name.starts_with(kOverflowPrefix); }

void ArchiveBudget::ReleaseHost() {
  size_t n = hosts_.load(std::memory_order_relaxed);
  while (n > 0 && !hosts_.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
  }
}

void ArchiveBudget::NotePeak(size_t now) {
  size_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

bool ArchiveBudget::TryCharge(size_t n) {
  size_t cur = buffer_bytes_.load(std::memory_order_relaxed);
  do {
    if (cur + n > options_.buffer_bytes) return false;
  } while (!buffer_bytes_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  NotePeak(cur + n);
  return true;
}

void ArchiveBudget::Charge(size_t n) {
  NotePeak(buffer_bytes_.fetch_add(n, std::memory_order_relaxed) + n);
}

void ArchiveBudget::Refund(size_t n) { buffer_bytes_.fetch_sub(n, std::memory_order_relaxed); }

bool ArchiveBudget::TryAddHost() {
  if (options_.max_hosts == 0) {
    hosts_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  size_t cur = hosts_.load(std::memory_order_relaxed);
  do {
    if (cur >= options_.max_hosts) return false;
  } while (!hosts_.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed));
  return true;
}

}  // namespace konseki::outputs
