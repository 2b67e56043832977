// `konseki search`: search the archive (outputs/archive_search.h) for
// patterns, or for the lines a sign's rules hit.
#ifndef KONSEKI_APP_SEARCH_COMMAND_H_
#define KONSEKI_APP_SEARCH_COMMAND_H_

#include <ostream>
#include <string>
#include <vector>

namespace konseki::app {

struct SearchCommand {
  std::string dir;          // archive folder; empty: archive.dir of config_path
  std::string config_path;  // empty: the embedded default config
  std::string host_glob = "*";
  std::string since, until;  // see NormalizeSearchTime
  std::string sign;          // the rule packs' patterns for this sign
  std::string rules_dir;     // rule packs for --sign; empty: the config's / bundled
  std::vector<std::string> patterns;
  bool caseless = false;
  bool stats = false;  // matches, bytes and speed on `err`
  int threads = 0;
};

// Matching lines on `out`, one per line, in receive-time order. Exit 0 if
// any line matched, 1 if none, 2 on errors (bad pattern, unknown sign...).
int RunSearch(const SearchCommand& cmd, std::ostream& out, std::ostream& err);

}  // namespace konseki::app

#endif  // KONSEKI_APP_SEARCH_COMMAND_H_
