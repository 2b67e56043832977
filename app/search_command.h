// `konseki search`: search the archive (outputs/archive_search.h) for
// patterns, or for the lines a sign's rules hit. `konseki index`: write the
// search indexes (outputs/archive_index.h) of closed day files that lack a
// current one (retention does this by itself; this is for archives written
// before, or copied in).
#ifndef KONSEKI_APP_SEARCH_COMMAND_H_
#define KONSEKI_APP_SEARCH_COMMAND_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace konseki::app {

struct SearchCommand {
  std::string dir;          // archive folder; empty: archive.dir of config_path
  std::string config_path;  // empty: the embedded default config
  std::string host_glob = "*";
  // As `konseki alerts --since` takes them (console::ParseSince): 1h, 2d,
  // today, yesterday, or YYYY-MM-DD[THH:MM[:SS[.ffffff]]] in local time
  // unless it ends in Z or +HH:MM. --since may not be after `now`.
  std::string since, until;
  double now = 0;    // Unix seconds (main sets it from the clock): what 1h and today count from
  std::string sign;  // the rule packs' patterns for this sign
  std::string rules_dir;  // rule packs for --sign; empty: the config's / bundled
  std::vector<std::string> patterns;
  bool caseless = false;
  bool stats = false;  // matches, bytes, what the index skipped and speed on `err`
  int threads = 0;
  bool no_index = false;  // scan every byte, whatever the indexes say
  // `out` is a terminal (main sets it): lines are printed through
  // console::TerminalSafe. The archive escapes C0 and DEL but keeps bytes
  // >= 0x80 (C1 controls included) as received; into a pipe or a file the
  // lines go byte for byte as archived.
  bool terminal = false;
  // Today (UTC days since the epoch; main sets it from the clock): day files
  // older than yesterday without an index get a note. INT64_MIN: no note.
  int64_t today = INT64_MIN;
};

// Matching lines on `out`, one per line, in receive-time order. Exit 0 if
// any line matched, 1 if none, 2 on errors (bad pattern, unknown sign...).
// Notes (indexes ignored and why) go to `err`.
int RunSearch(const SearchCommand& cmd, std::ostream& out, std::ostream& err);

struct IndexCommand {
  std::string dir;          // archive folder; empty: archive.dir of config_path
  std::string config_path;  // empty: the embedded default config
  std::string host_glob = "*";
  bool force = false;  // rewrite current indexes too
  int64_t today = 0;   // UTC days since the epoch: files before yesterday are closed
};

// Indexes every closed day file without a current index; a summary on
// `out` (files, index bytes as a share of the data). Exit 0, or 2 if any
// file could not be indexed (named on `err`).
int RunIndex(const IndexCommand& cmd, std::ostream& out, std::ostream& err);

}  // namespace konseki::app

#endif  // KONSEKI_APP_SEARCH_COMMAND_H_
