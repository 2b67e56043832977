// Keeping the archive for months (issue #16): closed day files are
// zstd-compressed after archive.compress_after_days and deleted, with the
// seal files of those days, after archive.retention_days; disk usage per
// host and free space are metrics, and free space below archive.low_space
// raises an alert (and one more when it is back above).
//
// Compression replaces <host>/<D>.log by <host>/<D>.log.zst (one zstd frame,
// written to a temp name, fsynced, renamed, then the .log removed), so a
// crash leaves either the old file or the new one. The seal covers the
// plaintext: `konseki verify` and `konseki search` read through zstd. Only
// files at least two days old are touched: the Archive and the Sealer write
// today's and yesterday's files.
//
// Closed day files (at least two days old) get a search index
// (outputs/archive_index.h, `<file>.idx`) when they are compressed, or in
// the first pass that finds them without a current one; an index goes
// with its day file when that is compressed or deleted, and an orphan one
// is removed. Disk usage counts the indexes.
//
// Retention keeps the seal file of the day before the oldest kept day (it
// seals the first bytes of that day), so verify can check every kept day;
// seal files and day files older than that are removed together.
//
// A host folder left empty is removed (rmdir: only an empty folder goes):
// when this pass deleted its last files, or when it has been empty and
// untouched for a day (emptied by a version that did not remove folders).
// A folder a worker has just created (no file yet, fresh mtime) is left
// alone; should a worker create a day file in the moment between the
// last unlink and the rmdir, its open fails, the line stays buffered and
// the next flush creates the folder again. The folder's slot under
// archive.max_hosts is given back (SetHostBudget), so hosts that come
// and go over months do not fill the cap with empty folders.
//
// Threading: Start() runs passes on its own thread (compression is CPU
// work the control thread must not wait for); RunPass/CheckSpace may be
// called directly before Start (tests). The Clock, MetricsRegistry and
// AlertSink must outlive it; the sink must be thread-safe. Not copyable.
//
// Metrics: konseki_archive_disk_bytes{host} (after each pass; at most
// max_host_series hosts, the rest summed as host="_other"),
// konseki_archive_free_bytes, konseki_archive_compressed_files_total,
// konseki_archive_indexed_files_total, konseki_archive_deleted_files_total,
// konseki_archive_retention_errors_total,
// konseki_archive_removed_folders_total.
#ifndef KONSEKI_OUTPUTS_RETENTION_H_
#define KONSEKI_OUTPUTS_RETENTION_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/alert.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"
#include "outputs/archive_budget.h"

namespace konseki::outputs {

// archive.low_space: "N%" (of the file system's size) or a size in bytes
// with an optional K, M, G or T suffix (powers of 1024, "B"/"iB" allowed:
// "10G", "10GiB", "500M"). Either out pointer may be null; the other of the
// two is set to 0. False if malformed or the percentage is above 100.
bool ParseLowSpace(std::string_view text, double* percent, uint64_t* bytes);

// Plaintext bytes per zstd frame of a compressed day file.
inline constexpr size_t kZstdFrameBytes = 4 << 20;

// Compresses `src` into `dst` at `level` and fsyncs dst: a sequence of
// independent zstd frames (with checksums and their content size) of about
// `frame_bytes` each, cut at line ends, so a reader can decode each frame
// straight into its own buffer (`konseki search` does: no copy through the
// decoder's window) or on its own thread. Any zstd tool reads the file as
// one stream. Cost: 2% in size against one frame (corpus lines, level 3;
// 1 MiB frames would cost 14%).
Status CompressFile(const std::string& src, const std::string& dst, int level,
                    size_t frame_bytes = kZstdFrameBytes);

struct RetentionOptions {
  std::string dir;                // archive.dir; required
  int compress_after_days = 0;    // 0 = never compress
  int retention_days = 0;         // 0 = keep forever
  double low_space_percent = 5;   // alert below this share of the file system free...
  uint64_t low_space_bytes = 0;   // ...or below this many bytes (when non-zero)
  int zstd_level = 3;             // zstd's default: ~10x on syslog at >100 MB/s
  int pass_interval_secs = 3600;  // compression/retention/usage pass
  int space_interval_secs = 60;   // free-space check
  size_t max_host_series = kDefaultMaxHostSeries;  // konseki_archive_disk_bytes series cap
};

class ArchiveKeeper {
 public:
  ArchiveKeeper(const RetentionOptions& options, const Clock& clock, MetricsRegistry& metrics,
                AlertSink& alerts);
  ~ArchiveKeeper();
  ArchiveKeeper(const ArchiveKeeper&) = delete;
  ArchiveKeeper& operator=(const ArchiveKeeper&) = delete;

  // The archives' host-folder cap: a host folder this keeper removes (see
  // KeepHost) gives its slot back. Optional; set before Start.
  void SetHostBudget(std::shared_ptr<ArchiveBudget> budget) { budget_ = std::move(budget); }

  void Start();
  void Stop();

  // One compression + retention + usage pass; returns the first error (all
  // are counted and the pass goes on).
  Status RunPass();
  // Updates the free-space gauge; alerts on crossing the threshold.
  void CheckSpace();

  uint64_t compressed_files() const { return compressed_; }
  uint64_t deleted_files() const { return deleted_; }
  uint64_t indexed_files() const { return indexed_; }
  uint64_t removed_folders() const { return removed_folders_; }

 private:
  struct Metrics;
  Status KeepHost(const std::string& host, int64_t today, uint64_t* usage);
  // Removes hdir if it is empty, and gives back its max_hosts slot (see the
  // file comment).
  void RemoveIfEmpty(const std::string& host, const std::string& hdir, bool deleted_here);
  Status CompressDay(const std::string& hdir, const std::string& path, uint64_t* usage);
  Status IndexClosedFile(const std::string& path, uint64_t* usage);
  void PruneSealFiles(int64_t today);
  void PublishUsage(const std::map<std::string, uint64_t>& usage);
  void Run();

  const RetentionOptions options_;
  const Clock& clock_;
  std::unique_ptr<Metrics> metrics_;
  AlertSink& alerts_;
  bool low_ = false;  // free space currently below the threshold
  uint64_t compressed_ = 0;
  uint64_t deleted_ = 0;
  uint64_t indexed_ = 0;
  uint64_t removed_folders_ = 0;
  std::shared_ptr<ArchiveBudget> budget_;
  std::mutex mu_;  // guards stop_
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_RETENTION_H_
