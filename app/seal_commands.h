// The archive's command-line tools: `konseki seal-setup` and `konseki verify`
// (issue #16, docs/archive.md). Each returns the process exit status and
// writes only to the given streams.
#ifndef KONSEKI_APP_SEAL_COMMANDS_H_
#define KONSEKI_APP_SEAL_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

#include "common/clock.h"

namespace konseki::app {

// Creates the sealing key for the archive of `config_path` (refuses to
// replace an existing one, and to run while a konseki holds the archive's
// lock, app/archive_lock.h) and prints the verification key: the last line
// on `out` is the key alone. Shows it as a QR code too when `out` is a
// terminal (qr_terminal). When the archive's seal stream holds records but
// the key is gone, refuses unless `new_chain` (--new-chain): the daemon then
// begins a new chain, marked in the stream (outputs/seal_format.h, N).
// Exit 0, or 1 with the reason on `err`.
int RunSealSetup(const std::string& config_path, const Clock& clock, bool qr_terminal,
                 bool new_chain, std::ostream& out, std::ostream& err);

struct VerifyCommand {
  // The verification keys, or files holding them: one per chain in the
  // stream (a new chain begins at each seal-setup --new-chain). None:
  // digests and the stream's structure only (reported as not authenticated).
  std::vector<std::string> keys;
  // Archive folders (archive.dir), or day files inside one
  // (<dir>/<host>/<YYYY-MM-DD>.log[.zst]): then only those are reported.
  std::vector<std::string> paths;
  // Optional: its archive.retention_days lets verify tell removed old days
  // from retention, and its archive.dir's key state (.state/seal.key) is
  // read when the archive verified has none (a copy): the key state tells
  // how many records the key made, so records cut off the end are caught.
  std::string config_path;
};

// Exit 0 when everything verifies, 1 on any failure, 2 on usage errors.
int RunVerify(const VerifyCommand& cmd, const Clock& clock, std::ostream& out, std::ostream& err);

}  // namespace konseki::app

#endif  // KONSEKI_APP_SEAL_COMMANDS_H_
