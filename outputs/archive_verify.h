// `konseki verify`: checks a sealed archive against the seal stream
// (outputs/seal_format.h) and, given the verification key, the forward-secure
// tags (outputs/seal_key.h).
//
// Per file it reports how far it is verified (lines, the receive time of the
// last sealed line, when it was sealed), lines not sealed yet (written after
// the last seal, or found unsealed at a restart after a crash), and the first
// line that fails and why:
//   edited     the line differs from what was sealed
//   inserted   a line that was not there when sealed
//   removed    a sealed line is gone
//   reordered  two sealed lines swapped
//   truncated  the file ends before its sealed end
//   missing    a sealed file is gone (a day missing in a host's chain)
//   foreign    bytes the sealer found that konseki did not write (X): a
//              line appended under a running konseki, or any unsealed bytes
//              a start after a clean stop found (a file copied in)
//   misplaced  a line no seal vouches for (U, X, after the last seal, or a
//              file no record covers) was received on another day than the
//              file's, or is of another host than the file's folder: a copy
//              of another day's or host's file
//   unread     bytes konseki wrote that the sealer could not read back (R:
//              the file or its host folder unreadable to konseki's user)
//   unsealed-range-changed / not-in-chain / uncovered / seal-removed: see
//   docs/archive.md
// and, as a note, receive times of unsealed or foreign lines that go back
// by more than 10 s inside a file (a line added by hand, or written late
// after a write error)
// and, for the stream itself, records that fail authentication, are
// missing (an epoch gap not announced by the previous record) or replaced,
// a loss record (M: the sealer found its stream gone), no stream or no
// record at all (nothing is sealed: a failure, with or without a key), and
// a stream that starts after record 0 where retention cannot explain it,
// and a stream that ends before the last record the key state says the key
// made (records cut off the end).
//
// Clock steps: records written before their epoch began (the key ran ahead
// of a clock set back) are a note; lines after the last seal received more
// than two epochs before now, and a last record sealed after now, are
// warnings (VerifyReport::warnings).
//
// Retention edge: seal files and day files older than the oldest seal file
// kept are expected to be gone; files of that first day may miss their first
// records. Given archive.retention_days (VerifyOptions), a sealed day file
// older than the retention period is expected to be gone too, whatever the
// stream holds (retention keeps the seal file of the day before the oldest
// kept day, also when it is the chain's first). Whole-archive deletion is
// not detectable here (docs/archive.md).
//
// Memory: the byte ranges of at most ~3 days of files at a time, never the
// archive's content; line hashes are re-read from the stream on failure only.
#ifndef KONSEKI_OUTPUTS_ARCHIVE_VERIFY_H_
#define KONSEKI_OUTPUTS_ARCHIVE_VERIFY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "outputs/seal_key.h"

namespace konseki::outputs {

struct FileVerdict {
  std::string path;  // "host/YYYY-MM-DD.log" (".zst" when compressed)
  bool failed = false;
  uint64_t verified_lines = 0;
  uint64_t verified_bytes = 0;
  std::string verified_until;           // receive time of the last verified line
  int64_t sealed_at_ns = 0;             // time of the record that sealed it last
  uint64_t unsealed_lines = 0;          // after the last seal (not vouched for)
  std::string first_unsealed_time;      // receive time of the first of them (its stamp)
  uint64_t restart_unsealed_lines = 0;  // U ranges (crash before a seal)
  uint64_t lost_unsealed_lines = 0;     // U ranges after a loss record (stream removed)
  uint64_t foreign_lines = 0;           // X ranges: not written by konseki (a failure)
  uint64_t misplaced_lines = 0;         // unsealed lines of another day or host (a failure)
  uint64_t unread_lines = 0;            // R ranges: the sealer could not read them (a failure)
  uint64_t unauthenticated_lines = 0;   // sealed by a chain no key was given for
  uint64_t fail_line = 0;               // 1-based, when failed
  std::string fail_time;                // receive time at that line, if readable
  std::string why;                      // failure kind and detail
  std::string note;                     // non-failure remark (retention edge, ...)
};

struct VerifyReport {
  std::vector<std::string> chain_errors;  // the seal stream itself
  std::vector<std::string> notes;
  std::vector<FileVerdict> files;
  uint64_t records = 0;  // E records checked
  uint64_t chains = 0;   // chains in the stream (a new one at each seal-setup --new-chain)
  uint64_t first_epoch = 0, last_epoch = 0;
  int64_t last_sealed_ns = 0;
  bool authenticated = false;  // tags checked with a key
  uint64_t bytes_hashed = 0;
  // The stream's end was compared with the key state's record count.
  bool end_checked = false;
  // When it was not: why, and how far the last record is from now.
  std::string end_warning;
  // Signs that sealing stopped, seen from now (VerifyOptions::now_unix):
  // lines after the last seal received more than two epochs before now,
  // a last record sealed after now. Printed as WARNING lines; not failures
  // (a copy verified later, a konseki stopped by a crash).
  std::vector<std::string> warnings;
  bool ok() const;
};

struct VerifyOptions {
  std::string root;  // the archive folder (archive.dir)
  // Verify only these files ("host/YYYY-MM-DD.log"); empty: all.
  std::vector<std::string> only;
  // Without a key, digests and the chain's structure are checked but the
  // tags are not (anyone can recompute a digest).
  std::optional<VerificationKey> key;
  // The keys of the other chains in the stream (a new chain begins at each
  // `seal-setup --new-chain`). Each chain is checked with the key whose
  // start and epoch length match its header; with keys given, a chain none
  // matches fails (not authenticated).
  std::vector<VerificationKey> more_keys;
  // archive.retention_days, when known (> 0): a stream that starts later
  // than retention explains (older seal files gone too early) fails, and a
  // sealed day file older than now's day minus this many days that is gone
  // is retention's (a note), not "missing".
  int64_t retention_days = 0;
  int64_t now_unix = 0;  // for the retention check and the age of the last record
  // The sealer's key state file, only read: it holds how many records the
  // key has made, so a stream that ends before the key's last record was
  // cut at its end (no key is needed to cut records off the end and truncate
  // the files to what the kept records name). Empty: <root>/.state/seal.key.
  // A state that is missing or unreadable leaves the end unchecked, which
  // the report says (VerifyReport::end_warning).
  std::string key_state_path;
  // Whether an archive line can be of the host whose folder is `folder`
  // (the daemon files a line under its header's host name, else its
  // sender, through SanitizeHost; app/archive_line_host.h reads it back
  // with the parser). On false, *host: the folder the line is of. Checked
  // only on the lines no seal vouches for, and not in the overflow folders
  // (hosts past archive.max_hosts share them). Called from several threads
  // at once: must be thread-safe. Null: hosts are not checked (the lines'
  // receive dates are, always).
  std::function<bool(std::string_view line, std::string_view folder, std::string* host)>
      line_of_host;
};

StatusOr<VerifyReport> VerifyArchive(const VerifyOptions& options);
// Human-readable report, one line per file plus the chain summary.
void PrintVerifyReport(const VerifyReport& report, double seconds, std::ostream& out);

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ARCHIVE_VERIFY_H_
