// A file konseki wrote for itself (correlation or heartbeat state, the
// archive spool) that does not read back whole: a power loss on a file
// system that leaves zero-length files, a disk error, an edit. The daemon
// keeps what it could read and starts anyway (a log receiver that refuses
// to start receives nothing); the file is set aside for inspection.
#ifndef KONSEKI_COMMON_DAMAGED_FILE_H_
#define KONSEKI_COMMON_DAMAGED_FILE_H_

#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace konseki {

// One damaged file as found at start. A plain value.
struct DamagedFile {
  std::string path;      // where it was
  std::string moved_to;  // where it is now; empty: it could not be moved (move_error)
  std::string move_error;
  std::string what;  // what is wrong ("not a heartbeat state (bad first line)")
  std::string lost;  // what could not be read ("all of it", "the host records after 15")
};

// Renames path to "<path>.corrupt-<YYYYmmddTHHMMSSZ>" (now in UTC; "-2",
// "-3"... appended when that name is taken) in the same folder, so the next
// start does not read it again. Returns the new path.
StatusOr<std::string> SetAsideDamagedFile(const std::string& path, TimePoint now);

// SetAsideDamagedFile on d->path, filling d->moved_to or d->move_error.
void SetAside(DamagedFile* d, TimePoint now);

}  // namespace konseki

#endif  // KONSEKI_COMMON_DAMAGED_FILE_H_
