// `konseki search`: lines of the archive (plain or zstd day files) that match
// any of many patterns, in one Hyperscan pass per file, merged across hosts in
// receive-time order.
//
//   auto s = ArchiveSearch::Create(options);   // compiles the patterns once
//   (*s)->Run([](std::string_view line) { ... }, &stats);
//
// Patterns are Hyperscan (PCRE subset) expressions matched against whole
// archive lines ("<received> <sender> <raw>", outputs/archive.h), like
// `grep -E` on the files: case-sensitive unless `caseless`, ^ and $ at line
// boundaries. A match whose text would span two lines ([^x] classes match a
// newline) counts for the line it ends in. A pattern that matches the empty
// string ('.*', '^', 'x?', 'sshd|') matches every line, as for grep -E.
//
// Order: day by day (day files are named by receive date), the matching
// lines of all selected hosts for that day are collected, then sorted by
// their receive time (stable, so a host's lines keep their order). Memory:
// the matching lines of one day; narrow with --host/--since for huge results.
//
// Index: a closed day file with a current index (outputs/archive_index.h)
// has only the blocks scanned where some pattern may match and some line
// is inside the time window; the others are skipped unread. A missing,
// stale or corrupt index is ignored (noted in SearchStats::notes) and the
// file scanned fully: the index can make a search faster, never miss a line.
// A search the index does not narrow (every block of the first files
// passes, SearchOptions::index_give_up_bytes) stops consulting it.
//
// Hosts past archive.max_hosts: a host glob also searches the overflow
// folders, line by line (SearchOptions::overflow_host_filter); their
// indexes narrow by pattern and time as for any file, the host test comes
// after.
//
// Threading: Run scans the files of a day on `threads` threads (one
// Hyperscan scratch each); `filter` (optional) is called from those threads
// and must be thread-safe. The output callback runs on the caller's thread.
#ifndef KONSEKI_OUTPUTS_ARCHIVE_SEARCH_H_
#define KONSEKI_OUTPUTS_ARCHIVE_SEARCH_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "outputs/archive_index.h"
#include "outputs/archive_index_query.h"

struct hs_database;

namespace konseki::outputs {

// "2025-12-01", "2025-12-01T10:00", "2025-12-01T10:00:00.5Z"... -> the
// 27-character archive timestamp "2025-12-01T10:00:00.500000Z" (missing
// parts are zero). False if not such a prefix.
bool NormalizeSearchTime(std::string_view in, std::string* out);

struct SearchOptions {
  std::string root;  // archive.dir; required
  // Host folders to search: fnmatch(3) over their names or the host names
  // they stand for (HostGlobMatches, outputs/host_path.h).
  std::string host_glob = "*";
  // Lines of hosts past archive.max_hosts are in the overflow folders
  // (%overflow-<worker>, outputs/archive_budget.h), mixed. When host_glob
  // does not match an overflow folder's own name, that folder is searched
  // too, keeping only the lines for which this returns true: the line's
  // host (parsed from its raw message, app/search_command.cc) has a folder
  // host_glob names. Called from the scanning threads: thread-safe.
  // Null: such folders are left out, and SearchStats::notes says so.
  std::function<bool(std::string_view line)> overflow_host_filter;
  std::string since;                  // inclusive, normalized (NormalizeSearchTime); "" = open
  std::string until;                  // exclusive, normalized; "" = open
  std::vector<std::string> patterns;  // empty: every line is a candidate
  bool caseless = false;
  // Optional second stage on candidate lines (e.g. the rules of a sign).
  std::function<bool(std::string_view line)> filter;
  int threads = 0;        // 0: hardware concurrency
  bool use_index = true;  // false: scan every byte (`--no-index`)
  // Day files before this day (UTC days since the epoch) should have an
  // index (retention writes them from the day after yesterday on); those
  // without one are counted in a note. INT64_MIN: no note.
  int64_t expect_index_before_day = INT64_MIN;
  // Without --since/--until: once this many plaintext bytes of indexed
  // files were consulted and no block was skipped (a dense search), the
  // remaining files are scanned without loading their index.
  uint64_t index_give_up_bytes = uint64_t{64} << 20;
};

struct SearchStats {
  uint64_t files = 0;
  uint64_t bytes = 0;  // plaintext bytes scanned
  uint64_t matches = 0;
  uint64_t indexed_files = 0;         // files searched through their index
  uint64_t skipped_bytes = 0;         // plaintext bytes the index let the search skip
  uint64_t index_bytes = 0;           // bytes of the index files read (headers, pages probed)
  uint64_t index_given_up_files = 0;  // files scanned without consulting their index (dense)
  std::vector<std::string> notes;     // indexes ignored and why (for stderr)
};

// Not copyable. Run may be called more than once, not concurrently.
class ArchiveSearch {
 public:
  static StatusOr<std::unique_ptr<ArchiveSearch>> Create(SearchOptions options);
  ~ArchiveSearch();
  ArchiveSearch(const ArchiveSearch&) = delete;
  ArchiveSearch& operator=(const ArchiveSearch&) = delete;

  // Calls out(line) (without '\n') for each matching line, in order. Fails
  // (after searching the rest) when a file or a host folder cannot be read,
  // and when the archive folder itself is missing or cannot be read: an
  // unreadable archive is an error, never "no match".
  Status Run(const std::function<void(std::string_view line)>& out, SearchStats* stats) const;

 private:
  struct File;
  explicit ArchiveSearch(SearchOptions options) : options_(std::move(options)) {}
  Status ScanFile(File* f, void* scratch) const;
  Status ScanPlain(File* f, const std::string& full, const ArchiveIndex* idx, void* scratch) const;
  Status ScanCompressed(File* f, const std::string& full, const ArchiveIndex* idx,
                        void* scratch) const;
  Status DecodeFrames(File* f, std::string_view data, size_t begin, size_t end,
                      const std::string& full, void* scratch) const;
  const ArchiveIndex* LoadIndex(File* f, const std::string& data_path) const;
  bool MayHold(const IndexBlock& b) const;
  void Consulted(const File& f, const ArchiveIndex& idx) const;
  Status ScanCompressedStream(File* f, const std::string& full, void* scratch) const;
  size_t ScanBuffer(std::string_view text, bool eof, File* f, void* scratch) const;
  void ScanText(std::string_view text, size_t offset, bool copy, File* f, void* scratch) const;
  // The day files to search, by day; *error: the first folder that could not
  // be read (the others are still listed).
  std::map<int64_t, std::vector<std::string>> SelectFiles(Status* error) const;
  static void MergeDay(std::vector<File>& files, const std::function<void(std::string_view)>& out);

  const SearchOptions options_;
  hs_database* db_ = nullptr;
  std::vector<char> empty_ok_;         // by pattern: can match the empty string (ScanCtx)
  std::unique_ptr<IndexQuery> query_;  // null: no index use
  // Per Run: plaintext bytes of the files whose index was consulted, and
  // whether it let any block be skipped.
  mutable std::atomic<uint64_t> consulted_bytes_{0};
  mutable std::atomic<bool> index_paid_{false};
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ARCHIVE_SEARCH_H_
