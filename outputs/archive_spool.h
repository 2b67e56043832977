// The archive's spool: lines that could not be written to the archive by the
// time konseki stopped (disk full past the stop deadline), saved in the state
// folder and written to the archive at the next start.
//
// File format (one file per worker, "<spool_dir>/worker-<N>.spool"):
//   "konseki-spool 1\n"
//   then per archive file: "<folder> <day> <messages> <continues> <bytes>\n"
//   followed by exactly <bytes> bytes of archive lines.
// <folder> is a host folder as made by SanitizeHost (or an overflow folder),
// <day> the UTC day number of the file, <continues> 1 if the bytes start in
// the middle of a line already in the file. Files are written to a temporary
// name, fsynced, renamed into place and the folder fsynced, so a crash never
// leaves a half-written spool under the final name.
#ifndef KONSEKI_OUTPUTS_ARCHIVE_SPOOL_H_
#define KONSEKI_OUTPUTS_ARCHIVE_SPOOL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/damaged_file.h"
#include "common/status.h"

namespace konseki::outputs {

// Lines held for one archive file.
struct SpoolRecord {
  std::string folder;
  int64_t day = 0;
  std::string data;
  uint64_t messages = 0;
  bool continues = false;
};

// "<spool_dir>/worker-<worker>.spool".
std::string SpoolPath(const std::string& spool_dir, size_t worker);

// The spool files in spool_dir that worker `worker` of `workers` takes over
// (worker-<j>.spool with j % workers == worker, so none is orphaned when the
// number of workers shrinks). Missing dir: none.
std::vector<std::string> SpoolFilesFor(const std::string& spool_dir, size_t worker, size_t workers);

// Writes records to path as described above (creating spool_dir 0750 if
// needed). On error nothing is left under path that was not there before.
Status WriteSpool(const std::string& path, const std::vector<SpoolRecord>& records);

// Appends the records of path to *out. A damaged file (torn by a crash or a
// disk error, or garbage at some offset):
// - damaged == nullptr: an error naming the file and the byte offset; *out is
//   then unchanged;
// - else Ok: every intact record before the damage is appended, and of the
//   record the damage cuts, its complete lines (up to the last newline; the
//   record's message count becomes their number). One entry appended to
//   *damaged says where and what was lost (bytes and, when known, messages).
//   The caller sets the file aside (common/damaged_file.h).
Status ReadSpool(const std::string& path, std::vector<SpoolRecord>* out,
                 std::vector<DamagedFile>* damaged = nullptr);

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ARCHIVE_SPOOL_H_
