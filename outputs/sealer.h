// Forward-secure sealing of the per-host archive (archive.seal: true).
//
// The Sealer never touches the data path: it reads back, off the workers'
// threads, the bytes the Archive instances wrote (only whole lines), hashes
// them as they arrive (SHA-256 per file and epoch, a 16-bit hash per line
// for diagnosis), and at the end of each epoch writes one authenticated
// record to the seal stream (outputs/seal_format.h) and evolves the key
// (outputs/seal_key.h). Lines are sealed by the first poll after the end of
// the epoch they were written in; an attacker who takes the host during
// epoch T gets k_T and can rewrite what was written in epoch T (not yet
// sealed) but not earlier epochs.
//
// Files followed: <archive>/<host>/<YYYY-MM-DD>.log of today and yesterday
// (UTC, by the clock), which is where the Archive writes. Bytes written to
// older day files (data stranded by a long write error) stay unsealed and
// `konseki verify` says so.
//
// Restart: the sealer reloads its key file, drops the part of the stream
// that no record sealed, and records the bytes written since the last seal
// (lines a crash left unsealed) as U ranges: verify reports them as
// unsealed, never as verified. A clean Stop() seals everything, so nothing
// is left unsealed, moves the key past the current epoch (a restart in
// that epoch finds the key one step ahead of the clock; see "Catching up")
// and marks the key state "stopped cleanly"
// (SealKeyState::clean_stop; any other store clears it). A start after a
// clean stop records unsealed bytes it finds as foreign (X, with
// archive.foreign_write): a day file copied into a host folder, or lines
// appended, while konseki was stopped. After a crash (or kill -9) they stay
// U, and after a lost stream (missing-at-start, or a loss record of the last
// days) U after the loss.
//
// Clock steps: the key never goes back. A clock stepped forward moves the
// key forward with it (the record skips the epochs explicitly). A clock set
// back (after running ahead, or while konseki was stopped) leaves the key
// ahead of it. Day files of days after today (written while the clock ran
// ahead) stay followed until sealed. A key more than kRestartLead epochs
// ahead after the clock went back (across a boundary while running, or
// below the epoch of the last record at a start) is logged and raises
// `archive.seal_key_ahead` (medium; key and clock epochs, ahead_secs) once
// per episode; a lead from clean restarts alone is logged at info, no
// alert. konseki_archive_seal_key_ahead_seconds shows the lead.
//
// Catching up: a key ahead of the clock (clean restarts, a clock set back)
// seals at the clock's epoch boundaries, but at a boundary where the key is
// already at (or past) the epoch that begins, and the previous boundary
// wrote a record, it holds: no record, the key stays, and the lines read so
// far are sealed with the next epoch's lines at the next boundary. So the
// key comes one epoch closer to the clock at every second boundary until it
// is the clock's, and no line waits more than two epochs (plus a poll) for
// its seal meanwhile. Forward security is kept: a key is held only while it
// has sealed nothing (every record evolves the key past its epoch before
// the state is stored), so no key of a sealed epoch is ever left to recover.
//
// Threading: Open, Start, Stop and the destructor from one control thread.
// After Start(), Poll runs on the sealer's own thread only; before Start()
// (tests) the caller drives Poll(). The Clock and MetricsRegistry must outlive
// the Sealer. Not copyable.
//
// Foreign bytes: with SealerOptions::write_log, only the bytes the Archive
// instances report having written are sealed. Bytes another process put in
// a followed file (a line appended by hand: a forged, back-dated entry)
// are recorded as an X range, never vouched for (`konseki verify` fails
// the file), and raise `archive.foreign_write` (high; file, offset, bytes)
// with a log line and konseki_archive_foreign_bytes_total.
//
// Metrics: konseki_archive_sealed_bytes_total, konseki_archive_seal_records_total,
// konseki_archive_foreign_bytes_total,
// konseki_archive_seal_errors_total, konseki_archive_seal_epoch (gauge: the
// key's current epoch), konseki_archive_seal_stopped (gauge, 1 while failing),
// konseki_archive_seal_key_ahead_seconds (gauge: how far the key's epoch
// begins after now).
//
// Unreadable files: the writers append through the descriptors they hold,
// but the sealer opens each file by name as the run-as user. A day file it
// cannot open or stat (EACCES, EPERM: its host folder made root's 0700 by a
// restore or a chown, the file chmod'ed) raises `archive.seal_unreadable`
// (high; folder_host, file, error) once per episode, with a log line and a
// seal error; at each seal the bytes the writers put there meanwhile (the
// write log's ranges) are recorded as an R range, never vouched for:
// `konseki verify` fails the file ("unread"). When the file can be read
// again, the sealer logs it and seals its new lines after the R range.
// (A new day file in such a folder cannot be created: the Archive diverts
// the host's lines to the overflow folder, archive.host_unwritable.)
//
// When a seal record or the key cannot be written (full disk, seal folder
// unwritable...) sealing stops: the archive is still written, its new lines
// stay unsealed and the key stays at its epoch. The sealer retries every
// poll; it raises `archive.seal_stopped` (high) once per episode, sets the
// gauge and logs it, and `archive.seal_resumed` (info) when a record is
// written again.
#ifndef KONSEKI_OUTPUTS_SEALER_H_
#define KONSEKI_OUTPUTS_SEALER_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/alert.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"
#include "outputs/archive_write_log.h"
#include "outputs/seal_format.h"
#include "outputs/seal_key.h"

namespace konseki::outputs {

struct SealerOptions {
  // Root folder of the archive (archive.dir). Required.
  std::string archive_dir;
  // The key file made by `konseki seal-setup`. Default (empty):
  // <archive_dir>/.state/seal.key (DefaultSealKeyPath).
  std::string key_file;
  // How often the thread reads newly written archive bytes. Reading often
  // keeps each read in the page cache; it does not change what is protected.
  int poll_interval_ms = 1000;
  // Where the Archive instances report what they wrote (the same object in
  // their ArchiveOptions). Given, only those bytes are sealed (F); any other
  // bytes of a followed file are foreign: recorded as an X range (verify
  // fails the file) and alerted (archive.foreign_write). nullptr: every
  // byte the files hold is sealed (tools and tests without writers).
  std::shared_ptr<ArchiveWriteLog> write_log;
  // Bytes at the end of a file that no writer reported are foreign once
  // they have stayed unreported this long (a writer reports right after its
  // write; a later write of its own past them proves them foreign at once,
  // and so does Stop(), after the writers' last flush).
  int foreign_grace_ms = 3000;
};

std::string DefaultSealKeyPath(const std::string& archive_dir);

// What the seal stream of an archive holds, for the errors of a start or a
// seal-setup that finds records but no key.
struct SealStreamSummary {
  uint64_t records = 0;  // E records, all chains
  uint64_t last_seq = 0;
  int64_t last_time_ns = 0;
  int64_t last_chain_start = 0;  // start (unix) of the last record's chain
  int64_t last_chain_epoch_secs = 0;
};
SealStreamSummary SummarizeSealStream(const std::string& archive_dir);

class Sealer {
 public:
  // Loads the key, recovers after a crash (see above). Fails if there is no
  // key file (run `konseki seal-setup` first) or it is corrupt. `alerts`
  // (may be null: no alerts) receives archive.seal_stopped/seal_resumed
  // from the sealer's thread; it must outlive the Sealer.
  static StatusOr<std::unique_ptr<Sealer>> Open(const SealerOptions& options, const Clock& clock,
                                                MetricsRegistry& metrics,
                                                AlertSink* alerts = nullptr);
  ~Sealer();
  Sealer(const Sealer&) = delete;
  Sealer& operator=(const Sealer&) = delete;

  // Starts the thread that calls Poll() every poll_interval_ms.
  void Start();
  // Stops the thread, reads everything on disk and seals it, then moves the
  // key past the current epoch (so the key left on disk cannot reseal it).
  // Call after the archive's last flush. Idempotent.
  Status Stop();
  // One round: hash the bytes written since the last round; when the clock
  // has left the key's epoch, seal and evolve. Only the sealer's thread
  // (after Start) or the owner (before Start).
  Status Poll();

  uint64_t key_epoch() const { return state_.epoch; }

 private:
  struct Tracked;
  struct Metrics;
  Sealer(const SealerOptions& options, const Clock& clock, MetricsRegistry& metrics,
         SealKeyFile key_file, SealKeyState state);

  Status Recover();
  Status TrimStreamTail();
  void LoadSealedEnds();
  // kRecover: at Open, before any writer (every byte is a predecessor's);
  // kPoll: bytes the writers did not report are foreign after the grace;
  // kFinal: at Stop, after the writers' last flush (foreign at once).
  enum class ScanMode { kRecover, kPoll, kFinal };
  // Reads [read_end, last '\n') of t's file, hashing lines (only the
  // writers' bytes, with a write log; other bytes go to SealForeign).
  Status ReadNew(Tracked* t, ScanMode mode);
  // Records [read_end, end) of t's file (open as fd) as foreign: an X record
  // after an F for what was read before it, the alert and the log line.
  // at_start: found by Recover after a clean stop (said in the log and alert).
  Status SealForeign(int fd, Tracked* t, uint64_t end, bool at_start = false);
  Status Scan(ScanMode mode);
  // Writes F records for what was read (R for what the writers wrote to a
  // file the sealer cannot read), then E(epoch, next), evolves the key.
  // clean_stop: Stop's last record; the key state then marks a clean stop
  // (SealKeyState::clean_stop) if the record reached the disk.
  Status Seal(uint64_t next, bool clean_stop = false);
  // t could not be opened (err, not ENOENT) or, err 0, can be again:
  // alerts, logs and counts once per episode.
  void ReportUnreadable(Tracked* t, int err);
  void RecordUnread(Tracked* t);
  // Alerts, logs and sets the gauge when writing records stops or resumes.
  void ReportSealing(const Status& written);
  // At Open: logs why the key is ahead of the clock, if it is, and notes a
  // clock behind the last record's epoch (set back while stopped).
  void NoteKeyAheadAtStart();
  // Sets the key_ahead gauge; logs and raises archive.seal_key_ahead when
  // the key is further ahead of the clock than kRestartLead after the clock
  // went back.
  void CheckKeyAhead();
  void Emit(std::string_view line);
  Status EnsureSealFile();
  // The open seal file was unlinked or replaced: report it, reopen.
  void CheckSealFile();
  // Emits the N record and this chain's H, logs and raises
  // archive.seal_new_chain (a new chain after another's record prev_seq).
  void ReportNewChain(uint64_t prev_seq, const SealBytes& prev_tag, int64_t prev_start,
                      const std::string& dir);
  // Emits a loss record (M) and raises archive.seal_stream_missing.
  void ReportStreamLoss(std::string_view why, const std::string& detail);
  std::string SealPath(int64_t day) const;
  Status FlushOut(bool sync);
  int64_t NowUnix() const;
  uint64_t WallEpoch() const;
  void Run();

  const SealerOptions options_;
  const Clock& clock_;
  std::unique_ptr<Metrics> metrics_;
  SealKeyFile key_file_;
  SealKeyState state_;
  // The key state read at Open said the last konseki stopped cleanly.
  bool was_clean_ = false;
  // Recover records unsealed bytes as foreign (X), not as a crash's (U).
  bool foreign_at_start_ = false;
  // LoadSealedEnds saw a loss record (M) in the seal files of the last days:
  // what the lost files sealed is unsealed now, and not foreign.
  bool recent_loss_ = false;
  std::map<std::string, std::unique_ptr<Tracked>, std::less<>> tracked_;
  ArchiveWriteLog::Ranges written_;  // taken from the write log, not yet given to tracked_
  int seal_fd_ = -1;
  int64_t seal_day_ = INT64_MIN;
  uint64_t record_wall_ = 0;  // wall-clock epoch when the last record was written (or at Open)
  std::string out_;           // stream bytes not yet written to seal_fd_
  std::string deferred_;      // records emitted while the seal file could not be opened
  Sha256Stream stream_;       // over the stream since the last E
  std::string read_buf_;
  bool stopped_ = false;
  AlertSink* alerts_ = nullptr;   // not owned; may be null
  bool sealing_stopped_ = false;  // an archive.seal_stopped episode is on
  // A clock set back by up to this many epochs (an NTP step, a VM resumed)
  // raises no archive.seal_key_ahead; konseki.clock_jump tells a step while
  // konseki runs.
  static constexpr uint64_t kRestartLead = 2;
  uint64_t reported_lead_ = 0;  // key - clock epochs last alerted (0: none)
  // The clock went back: below the epoch of the last record at Open, or
  // across a boundary since the last record (Poll). Only then is a lead
  // more than kRestartLead alerted; a lead from clean restarts alone is not.
  // Cleared when the lead is back within kRestartLead.
  bool clock_went_back_ = false;
  // Wall time (unix s) of the chain's last record found at Open (INT64_MIN: none).
  int64_t last_record_unix_ = INT64_MIN;
  // Poll held the last boundary (no record: the key was already at the
  // clock's new epoch); the next boundary seals, so lines wait two epochs
  // at most while the key catches up with the clock.
  bool held_boundary_ = false;
  // The current key has already tagged a record (Recover's E(k, k) for what
  // a start found unsealed): Poll must not hold it over a boundary.
  bool key_sealed_ = false;
  // The next Scan lists the host folders for day files of days after today
  // (at the start, and after the clock went back).
  bool look_ahead_ = true;
  std::mutex mu_;  // guards stop_ for the thread's wait
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_SEALER_H_
