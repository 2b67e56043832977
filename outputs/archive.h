// Per-host archive of every received message, one file per host and UTC day:
//
//   <dir>/<host>/<YYYY-MM-DD>.log
//
// Each line is "<received RFC 3339 UTC micros> <sender> <raw>\n" where raw is
// the frame exactly as received with control bytes escaped the way rsyslog's
// $EscapeControlCharactersOnReceive does ('#' + three octal digits, e.g. LF is
// "#012", TAB "#011", DEL "#177"). '#' itself is not escaped (as in rsyslog);
// bytes >= 0x80 are copied untouched, so UTF-8 (and invalid UTF-8) survive.
// An empty sender is written as "-". <host> is msg.host() passed through
// SanitizeHost (outputs/host_path.h) and <YYYY-MM-DD> is the UTC date of
// msg.received, so a line always lands in the file of the day it arrived.
//
// Files are created 0640, folders (the archive dir included, when it has to be
// created) 0750, independent of the umask.
//
// Failure model: nothing a sender sends and no disk error crashes or grows
// memory without bound. A failed open or write is counted in
// konseki_archive_write_errors_total{reason} (reason: no_space, permission,
// path, too_many_files, other), the data stays buffered and the
// write is retried on the next Flush() (not on every Append, so a full disk
// costs no syscall per message). Buffered bytes that could not be written are
// capped by ArchiveOptions::max_pending_bytes; past it new messages are
// dropped and counted in konseki_dropped_messages_total{stage="archive",
// reason="buffer_full"}. After a write error lines may reach the file out of
// order (data buffered for a file that had to be closed is appended later).
//
// A failed fsync/syncfs is not a failed write: the data is in the page cache
// and the files can still be written. It is counted in
// konseki_archive_sync_errors_total, reported by TakeSyncOutcome() (not by
// Flush()), and the caller decides what to say (app/worker.h raises
// archive.sync_failed once per episode and keeps reading).
//
// Torn last lines: a crash (or power cut) can leave a day file ending in the
// middle of a line. When the archive opens an existing file that does not end
// with '\n' (and the data it is about to write does not continue a line it
// wrote itself), it first writes a '\n', so the fragment stays a line of its
// own and the next line is not glued to it; counted in
// konseki_archive_torn_lines_total.
#ifndef KONSEKI_OUTPUTS_ARCHIVE_H_
#define KONSEKI_OUTPUTS_ARCHIVE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/host_key.h"
#include "common/message.h"
#include "common/metrics.h"
#include "common/status.h"
#include "outputs/archive_budget.h"
#include "outputs/archive_file_cache.h"
#include "outputs/archive_spool.h"
#include "outputs/archive_syncer.h"
#include "outputs/archive_write_log.h"
#include "outputs/intrusive_list.h"

namespace konseki::outputs {

// Config key archive.sync.
enum class SyncPolicy : uint8_t {
  kNone,      // "none": never fsync; the kernel writes back when it likes.
  kInterval,  // "interval": every sync_interval_secs a background thread
              // syncs the archive's file system (syncfs), so the worker
              // never waits for the disk; see TakeSyncOutcome().
  kBatch,     // "batch": every Flush() fsyncs what it wrote; the worker flushes
              // after each batch, so a power cut loses at most that batch.
              // Slowest.
};

// Parses "none", "interval", "batch"; false if unknown.
bool ParseSyncPolicy(std::string_view name, SyncPolicy* out);
const char* SyncPolicyName(SyncPolicy p);

struct ArchiveOptions {
  // Root folder of the archive (archive.dir). Required. Created (with missing
  // parents) 0750 if absent; an existing folder keeps its mode.
  std::string dir;
  // archive.sync; default interval.
  SyncPolicy sync = SyncPolicy::kInterval;
  // archive.sync_interval_secs: with kInterval, the longest time written data
  // stays without fsync (given the worker calls Flush at least every second).
  int sync_interval_secs = 1;
  // Userspace buffer per open file: written out (one write()) as soon as it
  // holds buffer_bytes, and on every Flush(). Buffers start at 4 KiB and
  // double, up to buffer_bytes + 8 KiB, as a host sends more between writes,
  // each growth taken from the shared budget (outputs/archive_budget.h); when
  // the budget is spent, the coldest buffers of this instance are written out
  // and freed, and failing that the line is written through without a buffer.
  size_t buffer_bytes = 64 * 1024;
  // A buffer that has taken no line for this long is freed at the next
  // Flush() (after being written), so memory goes back when a host (or a
  // flood of spoofed ones) goes quiet.
  Duration buffer_idle_release = std::chrono::seconds(5);
  // Budget of buffer memory and host-folder cap, shared by the archives of
  // all workers. nullptr: one of its own with default ArchiveBudgetOptions,
  // counting the host folders already in dir.
  std::shared_ptr<ArchiveBudget> budget;
  // This archive's worker (of `workers`): names its overflow folder
  // (OverflowFolder()) and its spool file.
  size_t worker = 0;
  size_t workers = 1;
  // Where Spool() saves what could not be written by the stop deadline
  // (<state_dir>/spool); empty: no spool. Open() takes back the spool files
  // of this worker (outputs/archive_spool.h) and Flush() writes them to the
  // archive like data held back by a failed write; a file is removed once
  // all of it is written (a crash before that repeats those lines, at least
  // once rather than lost).
  std::string spool_dir;
  // Open files kept per Archive instance; the least recently used is closed
  // when a new one is needed. Each instance uses at most this many fds.
  size_t max_open_files = 256;
  // Cap on the bytes of lines this instance holds (in buffers or held back
  // by failed writes). Reaching it drops only lines for files that
  // cannot currently be written (full disk, permission), counted in
  // konseki_dropped_messages_total{stage="archive",reason="buffer_full"};
  // healthy files keep working. Keep it above max_open_files * buffer_bytes.
  size_t max_pending_bytes = 64 * 1024 * 1024;
  // Reserve each open file's next blocks ahead of its writes (fallocate,
  // the file's size unchanged; what is left is freed when the file
  // closes), so write(2) does not wait for writeback's allocation (see
  // ReserveAhead). Not a config key: off only for bench/archive_bench's
  // comparison.
  bool reserve_ahead = true;
  // fsync/syncfs; nullptr = the real system calls. Not owned; must outlive
  // the archive. Tests inject failures here.
  SyncOps* sync_ops = nullptr;
  // With sealing: every write's byte range is reported here, so the sealer
  // seals only what the archive wrote (outputs/archive_write_log.h); costs
  // one lseek per write (a write holds a whole buffer, not one line).
  // nullptr: not reported.
  std::shared_ptr<ArchiveWriteLog> write_log;
};

// Appends "<received> <sender|-> <escaped raw>\n" to *out (the line format
// described above). Does not allocate once *out has room.
void AppendArchiveLine(const Message& msg, std::string* out);
// Appends bytes with control characters escaped as described above.
void AppendEscaped(std::string_view raw, std::string* out);

// Not thread-safe: one instance per worker thread. The pipeline routes every
// host to exactly one worker (common/host_shard.h), so no two instances write
// the same file. Not copyable. The Clock and MetricsRegistry must outlive it.
class Archive {
 public:
  static StatusOr<std::unique_ptr<Archive>> Open(const ArchiveOptions& options, const Clock& clock,
                                                 MetricsRegistry& metrics);
  // Writes out and closes everything; errors are counted, data that still
  // cannot be written is counted as dropped (reason "shutdown").
  ~Archive();

  Archive(const Archive&) = delete;
  Archive& operator=(const Archive&) = delete;

  // Buffers one line for msg (see the format above). msg's views need only be
  // valid during the call. Returns non-OK when this call hit an open/write
  // error (the line is still buffered) or the line was dropped because
  // max_pending_bytes was reached (kUnavailable). No allocation in steady
  // state, including while the LRU recycles entries for new hosts (map nodes,
  // keys and buffers are reused); the first max_open_files hosts, buffers
  // growing or coming back after being idle, lines written through because
  // the buffer budget is spent, and error paths allocate.
  Status Append(const Message& msg);
  // The same, with msg.host()'s key computed by the caller (the worker has
  // it from the Router: no hashing here). Precondition: host.name ==
  // msg.host() and host.hash == HostKeyHash(host.name). same_origin: this
  // archive's previous Append was of a line of the same host, spelt the
  // same, from the same sender (Batch::Entry::same_origin), so its entry and
  // sender text are taken again without comparing.
  Status Append(const Message& msg, const HostKey& host, bool same_origin = false);

  // Writes all buffers to their files and retries data held back by earlier
  // errors; then fsyncs according to the sync policy. Call at least once a
  // second and at shutdown. Returns the first open/write error met (all were
  // counted); sync errors are not returned here (see TakeSyncOutcome).
  Status Flush();

  // fsyncs every file written since the last sync (and the file system of
  // the archive when files were created or closed unsynced since then),
  // whatever the policy. Does not write buffers: call Flush() first.
  // Returns the first sync error (also reported by TakeSyncOutcome).
  Status Sync();

  // What became of the syncs finished since the last call (Sync(), Flush()
  // with the batch policy, or the background syncs of the interval policy):
  // nullopt if none finished, OK if the last one succeeded, else the last
  // failure. Every failure is also counted in
  // konseki_archive_sync_errors_total.
  std::optional<Status> TakeSyncOutcome();

  // Flushes, then closes every file and the archive dir handle, so the next
  // Append reopens by path: after logrotate renamed or removed files (SIGHUP).
  void Reopen();

  // For tests and metrics: files currently open, bytes held in buffers,
  // bytes reserved by the buffers of open entries.
  size_t open_files() const;
  size_t buffered_bytes() const { return pending_bytes_; }
  size_t buffer_capacity_bytes() const;
  // Background syncs completed (interval policy), for tests.
  uint64_t background_syncs() const;
  // Lines held in memory (buffers and data held back by failed writes).
  uint64_t held_messages() const;
  // Lines taken back from spool files by Open(), for the start-up log.
  uint64_t spooled_messages_loaded() const { return spool_loaded_messages_; }
  // Spool files Open() found damaged (a crash or disk error tore them): their
  // intact lines are taken back like any spool's, and the file is set aside
  // as "<file>.corrupt-<UTC time>" (common/damaged_file.h) for the caller to
  // report.
  const std::vector<DamagedFile>& damaged_spool_files() const { return damaged_spool_; }
  // At the stop, when the archive still cannot be written: saves every held
  // line to this worker's spool file and forgets them (the destructor then
  // has nothing to drop). Returns how many lines were saved (0: nothing was
  // held, no file). On error everything stays held (and the destructor
  // counts it as dropped).
  StatusOr<uint64_t> Spool();
  const std::string& spool_path() const { return spool_path_; }

  // Whether the line of the last Append went to this archive's overflow
  // folder (OverflowFolder(worker)) rather than its host's: a host past
  // max_hosts, or one whose own folder cannot be written. Correlation
  // alerts name that folder as the line's file (common/alert.h).
  bool LastLineInOverflow() const {
    return last_entry_ != nullptr && (last_entry_->overflow || last_entry_->diverted);
  }

  // True once, after this instance sent the first host past
  // ArchiveBudgetOptions::max_hosts (of all instances) to its overflow folder.
  bool TakeHostCapReached();

  // A host whose own folder or file could not be opened for a reason of
  // that path (permission, not a folder, ...) while the overflow folder
  // could: its lines went there instead of holding every sender back. Each
  // such host once, until its folder opens again (retried every
  // kDivertRetry, and at the day's rollover and Reopen).
  struct DivertedHost {
    std::string host;    // the folder name (sanitised host)
    std::string error;   // what failed, with the path
    std::string folder;  // where its lines go
  };
  static constexpr std::chrono::seconds kDivertRetry{60};
  std::vector<DivertedHost> TakeDiverted() { return std::exchange(diverted_, {}); }

 private:
  // One host's current file (outputs/archive_file_cache.h).
  using Entry = ArchiveEntry;
  // Data that could not be written when its file had to be closed (LRU
  // eviction, day rollover, Reopen) or that came from a spool file; retried
  // by Flush(). `folder` is the entry's Folder().
  using Stranded = SpoolRecord;
  struct Metrics;

  Archive(const ArchiveOptions& options, const Clock& clock, std::unique_ptr<Metrics> metrics);

  // mkdir -p and open options_.dir unless open; 0 or an errno.
  int OpenDir();
  // Opens (creating folder and file if needed) <host>/<day>.log; -1 and *err.
  // Unless `continues`, completes a torn last line of an existing file.
  // kOverHostCap in *err: the folder does not exist and may not be created.
  int OpenFile(std::string_view host, int64_t day, bool continues, int* err);
  // Writes '\n' if the file of fd is not empty and does not end with one.
  int CompleteTornLine(int fd);
  // Tells options_.write_log that the last write to fd (path_) put `bytes`.
  void ReportWrite(int fd, uint64_t bytes);
  // The folder e's lines go to: its host's, or the overflow folder.
  std::string_view Folder(const Entry& e) const;
  void ReleaseIdleBuffers();
  Status OpenEntry(Entry* e);
  Status WriteEntry(Entry* e);
  // Writes and closes e's file; unwritable data moves to stranded_.
  void CloseEntry(Entry* e);
  // Reserves the disk blocks of e's next `bytes` and more ahead
  // (fallocate(2) FALLOC_FL_KEEP_SIZE, the size unchanged), so the worker's
  // write(2) finds its blocks allocated: a write that needs new blocks
  // takes the inode's allocation lock, which writeback holds while it
  // allocates (ext4's delayed allocation), and waited there 16-108 ms behind
  // a sync or the kernel's own writeback while the UDP buffer overflowed
  // (bench/RESULTS.md, "writes that wait for writeback"; the wait for the
  // last page's lock under writeback stays). Best effort: a
  // file system without fallocate, or a full one, is written as before.
  void ReserveAhead(Entry* e, size_t bytes);
  // Gives back what ReserveAhead reserved past e's end, then closes e->fd.
  void CloseFd(Entry* e);
  // True if stranded_ holds the rest of a line already begun in that file.
  bool StrandedContinues(std::string_view folder, int64_t day) const;
  // Moves e's buffered lines to stranded_ (unwritten).
  void StrandBuffer(Entry* e);
  Status LoadSpool();
  Status WriteStranded();
  Status WriteAll(int fd, std::string* buf, uint64_t* messages, bool* continues);
  Status CountError(std::string_view what, std::string_view path, int err);
  void BuildPath(std::string_view host, int64_t day);
  // The entry of a (raw, unsanitised) host name; cached for the next line.
  Entry* EntryOf(const HostKey& host);
  // AppendArchiveLine with the timestamp text cached (stamp_).
  // same_origin: msg.sender is the last line's (see Append).
  void AppendLine(const Message& msg, std::string* out, bool same_origin = false);
  // Formats the receive time ns into stamp_.
  void FormatStamp(int64_t ns);

  const ArchiveOptions options_;
  const Clock& clock_;
  std::unique_ptr<Metrics> metrics_;
  int dir_fd_ = -1;
  std::shared_ptr<ArchiveBudget> budget_;
  ArchiveFileCache files_;  // the open files and their buffers
  const std::string overflow_folder_;
  bool host_cap_reached_ = false;
  bool reserve_unsupported_ = false;      // fallocate failed with EOPNOTSUPP: no more tries
  std::vector<DivertedHost> diverted_;    // not yet taken by TakeDiverted
  const std::string spool_path_;          // empty: no spool
  std::vector<std::string> spool_files_;  // taken back by Open(), not yet all written
  uint64_t spool_loaded_messages_ = 0;
  std::vector<DamagedFile> damaged_spool_;
  std::vector<Stranded> stranded_;
  size_t pending_bytes_ = 0;  // bytes in all buffers and stranded_
  bool need_syncfs_ = false;  // files created or closed since the last sync
  TimePoint last_sync_;
  SyncOps& sync_ops_;
  std::unique_ptr<ArchiveSyncer> syncer_;  // interval policy only
  uint64_t syncs_seen_ = 0;                // syncer_->completed() at the last TakeSyncOutcome
  std::optional<Status> sync_outcome_;     // of Sync() calls not yet taken
  std::string key_;                        // scratch: sanitized host of the current message
  Entry* last_entry_ = nullptr;            // of the last EntryOf call
  // Raw host -> entry of recent lines: an open-addressing table by the
  // host's HostKey hash (the Router's: no hashing here), so a line finds its
  // entry without sanitising the name and hashing it for the file cache
  // (~470 instructions), also when many hosts interleave in a batch (UDP,
  // relays). Slots of an older generation are empty: the generation moves
  // on whenever the file cache recycles an entry (a remembered pointer may
  // then belong to another host) and when the table is 3/4 full. Names
  // longer than kHostCacheNameBytes are not kept (they take the slow path).
  static constexpr size_t kHostCacheNameBytes = 43;
  struct HostCacheSlot {
    uint64_t generation = 0;  // the slot is used iff == host_cache_generation_
    Entry* entry = nullptr;
    uint32_t hash = 0;
    uint8_t length = 0;
    char raw[kHostCacheNameBytes];
  };
  static_assert(sizeof(HostCacheSlot) == 64, "one cache line per slot");
  std::unique_ptr<HostCacheSlot[]> host_cache_;
  size_t host_cache_mask_ = 0;  // slots - 1
  size_t host_cache_used_ = 0;  // slots of the current generation
  uint64_t host_cache_generation_ = 1;
  uint64_t host_cache_recycled_ = 0;  // files_.recycled() when the generation began
  std::string path_;                  // scratch: "<host>/<YYYY-MM-DD>.log"
  int64_t ts_second_ = INT64_MIN;     // second whose text is in ts_prefix_
  char ts_prefix_[20] = {};           // "YYYY-MM-DDTHH:MM:SS."
  int64_t stamp_ns_ = INT64_MIN;      // receive time whose text is in stamp_
  char stamp_[27] = {};               // "YYYY-MM-DDTHH:MM:SS.uuuuuuZ"
  std::string last_sender_;           // raw sender of the last line
  std::string sender_text_;           // " <escaped sender or -> " of last_sender_
  std::string line_prefix_;           // stamp_ then sender_text_: what AppendLine writes first
  std::string ts_scratch_;
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ARCHIVE_H_
