// The Archive's open-file cache: one entry per host (the fd of its current
// day file and the lines buffered for it), at most `max_entries`, the least
// recently used recycled first; and the entries' buffers, charged to the
// shared ArchiveBudget: a buffer starts at 4 KiB and doubles, up to
// buffer_bytes + 8 KiB, as its host sends more between writes; when the
// budget is spent the coldest buffers are written out and freed.
//
// The cache knows nothing of files: closing an evicted entry and writing a
// cold buffer out are the Archive's, passed in as callbacks.
//
// Not thread-safe: owned by one Archive (one worker thread). Not copyable.
// Entries live in a node-based map: an entry's address is stable until it
// is recycled for another host.
#ifndef KONSEKI_OUTPUTS_ARCHIVE_FILE_CACHE_H_
#define KONSEKI_OUTPUTS_ARCHIVE_FILE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "outputs/archive_budget.h"
#include "outputs/intrusive_list.h"

namespace konseki::outputs {

inline constexpr int64_t kNoArchiveDay = INT64_MIN;
// Room above buffer_bytes for the line that crosses it.
inline constexpr size_t kArchiveLineSlack = 8 * 1024;
// Archive::ReserveAhead's largest reservation past a file's end.
inline constexpr uint64_t kArchiveReserveMax = 4 * 1024 * 1024;

// One host's current file.
struct ArchiveEntry {
  std::string_view host;        // the map key owning this entry (the host's folder)
  int64_t day = kNoArchiveDay;  // UTC days since the epoch of the current file
  int fd = -1;                  // -1: not open (never, closed, or failed)
  bool blocked = false;         // open/write failed: no retry until Flush()
  bool unsynced = false;        // written since the last fsync
  bool continues = false;       // buf starts in the middle of a line already in the file
  bool overflow = false;        // over the host cap: writes to the overflow folder
  // The host's own folder or file could not be opened (permission, a file
  // where the folder should be, ...) while the archive as a whole can be
  // written: its lines go to the overflow folder until the retry opens it.
  bool diverted = false;
  bool divert_reported = false;  // the divert was reported; cleared by a successful open
  TimePoint diverted_at;
  bool touched = false;  // took a line since the last Flush()
  // Disk blocks reserved ahead of the writes (Archive::ReserveAhead): the
  // file's size as this entry knows it, where the reserved blocks end, and
  // the next reservation's size (doubles up to kArchiveReserveMax).
  uint64_t file_end = 0;
  uint64_t reserved_end = 0;
  uint64_t reserve_chunk = 0;
  uint64_t messages = 0;         // lines in buf
  std::string buf;               // lines not yet written
  size_t charged = 0;            // buf's capacity as charged to the budget (0: no buffer)
  TimePoint last_active;         // of the last Flush() that found it touched
  ListLinks<ArchiveEntry> lru;   // on the LRU list
  ListLinks<ArchiveEntry> warm;  // on the warm list while charged > 0
};

class ArchiveFileCache {
 public:
  using Callback = std::function<void(ArchiveEntry*)>;

  // `budget` is shared by the archives of all workers. close(entry) writes
  // out and closes an entry about to be recycled; write_out(entry) writes a
  // cold entry's buffer to its open file (errors are the caller's to count;
  // what stays unwritten keeps its buffer). The clock must outlive the cache.
  ArchiveFileCache(size_t max_entries, size_t buffer_bytes, std::shared_ptr<ArchiveBudget> budget,
                   const Clock& clock, Callback close, Callback write_out);
  ArchiveFileCache(const ArchiveFileCache&) = delete;
  ArchiveFileCache& operator=(const ArchiveFileCache&) = delete;

  // key's entry, now the most recently used, or a new one (day kNoArchiveDay).
  // When full, the least recently used entry is closed and its node, key
  // and buffer are reused: no allocation.
  ArchiveEntry* FindOrCreate(std::string_view key);
  // Makes e the most recently used entry (what FindOrCreate does on a hit),
  // for a caller that remembered e from an earlier FindOrCreate.
  void Touch(ArchiveEntry* e) { lru_.MoveToFront(e); }
  // Entries recycled for another key so far: an entry pointer remembered
  // from FindOrCreate may belong to another host once this changed.
  uint64_t recycled() const { return recycled_; }

  // Makes room for `room` more bytes in e's buffer, growing it with the
  // budget's consent and writing out and freeing the coldest other buffers
  // if needed; false if the budget has no room even then.
  bool ReserveBuffer(ArchiveEntry* e, size_t room);
  // Charges or refunds the change of e's buffer capacity; keeps the warm list.
  void Account(ArchiveEntry* e);
  // Frees e's (empty) buffer.
  void ReleaseBuffer(ArchiveEntry* e);
  // Entries touched since the last call become active now; the empty
  // buffers of entries idle for `idle` are freed.
  void ReleaseIdleBuffers(Duration idle);

  template <typename F>
  void ForEach(F f) {
    for (auto& [key, e] : entries_) f(e);
  }
  template <typename F>
  void ForEach(F f) const {
    for (const auto& [key, e] : entries_) f(e);
  }
  ArchiveBudget& budget() { return *budget_; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using Map = std::unordered_map<std::string, ArchiveEntry, StringHash, std::equal_to<>>;
  ArchiveEntry* Recycle(std::string_view key);
  // Writes out and frees the coldest buffers (but keep's) until `need` more
  // bytes fit in the budget or none is left.
  void FreeColdBuffers(const ArchiveEntry* keep, size_t need);

  const size_t max_entries_;
  const size_t buffer_bytes_;
  std::shared_ptr<ArchiveBudget> budget_;
  const Clock& clock_;
  const Callback close_;
  const Callback write_out_;
  Map entries_;
  uint64_t recycled_ = 0;
  IntrusiveList<ArchiveEntry, &ArchiveEntry::lru> lru_;    // every entry, most recent first
  IntrusiveList<ArchiveEntry, &ArchiveEntry::warm> warm_;  // entries holding a buffer
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ARCHIVE_FILE_CACHE_H_
