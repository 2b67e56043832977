// Limits shared by the archives of all workers (one Archive per worker):
// the memory their write buffers hold together, and the number of host
// folders in the archive.
//
// Why: each Archive used to reserve buffer_bytes + 8 KiB per open file; with
// max_open_files raised to 4,096 that is up to 288 MiB per worker, and 8,192
// spoofed hosts with 60 KB messages took 673 MB RSS, kept after the load
// stopped. A spoofed-UDP host flood also created 100,000 folders in 10 s.
//
// Buffer budget: every Archive charges the capacity of its buffers here. An
// Archive that needs a buffer while the budget is spent writes out and frees
// its own coldest buffers first; if that is not enough it writes the line
// through (one write, no buffer kept). So the sum stays within the budget,
// plus at most one line per worker in flight. Data held back by failed writes
// is not counted here: each Archive caps it with max_pending_bytes.
//
// Host cap: a new host folder is created only while fewer than max_hosts
// exist (counted at start-up by CountExistingHosts, then as they are
// created); lines of further hosts go to the worker's overflow folder
// ("%overflow-<worker>", which no host name can map to) and the first such
// host raises one alert per process (Archive::TakeHostCapReached).
// Folders retention removes give their slot back (ReleaseHost); folders
// removed by hand while konseki runs are not noticed until the next start.
//
// Thread-safe: all members are atomics. Not copyable.
#ifndef KONSEKI_OUTPUTS_ARCHIVE_BUDGET_H_
#define KONSEKI_OUTPUTS_ARCHIVE_BUDGET_H_

#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace konseki::outputs {

struct ArchiveBudgetOptions {
  // archive.buffer_budget_bytes: the write buffers of all workers' archives
  // together. Default 64 MiB.
  size_t buffer_bytes = 64 << 20;
  // archive.max_hosts: host folders in the archive; 0 = no cap. Default 10,000.
  size_t max_hosts = 10'000;
};

class ArchiveBudget {
 public:
  explicit ArchiveBudget(const ArchiveBudgetOptions& options) : options_(options) {}
  ArchiveBudget(const ArchiveBudget&) = delete;
  ArchiveBudget& operator=(const ArchiveBudget&) = delete;

  const ArchiveBudgetOptions& options() const { return options_; }

  // Counts the host folders already in dir (every folder but "%overflow-*"
  // and those starting with '.'); a missing dir counts 0. Call once, before
  // the archives run.
  Status CountExistingHosts(const std::string& dir);

  // Charges n bytes if they fit in the budget; false (nothing charged) if not.
  bool TryCharge(size_t n);
  // Charges n bytes even past the budget (a line being written through).
  void Charge(size_t n);
  void Refund(size_t n);
  size_t buffer_bytes() const { return buffer_bytes_.load(std::memory_order_relaxed); }
  // Highest buffer_bytes() seen.
  size_t peak_buffer_bytes() const { return peak_.load(std::memory_order_relaxed); }

  // Takes one host folder slot; false when max_hosts are taken.
  bool TryAddHost();
  // Gives back a slot taken by TryAddHost (the folder existed already).
  void UndoAddHost() { hosts_.fetch_sub(1, std::memory_order_relaxed); }
  // Gives back the slot of a host folder retention removed (never below 0: a
  // folder made by hand while konseki ran was never counted).
  void ReleaseHost();
  size_t hosts() const { return hosts_.load(std::memory_order_relaxed); }
  // True for the first caller only: the cap was reached for the first time.
  bool FirstOverflow() { return !overflowed_.exchange(true, std::memory_order_relaxed); }

 private:
  void NotePeak(size_t now);

  const ArchiveBudgetOptions options_;
  std::atomic<size_t> buffer_bytes_{0};
  std::atomic<size_t> peak_{0};
  std::atomic<size_t> hosts_{0};
  std::atomic<bool> overflowed_{false};
};

// The overflow folder of one worker's archive.
std::string OverflowFolder(size_t worker);
// True for an overflow folder's name (it holds no host slot).
bool IsOverflowFolder(std::string_view name);

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ARCHIVE_BUDGET_H_
