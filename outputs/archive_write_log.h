// What the Archive instances wrote, for the Sealer (archive.seal: true):
// the byte range of every write, per day file ("host/YYYY-MM-DD.log").
//
// The sealer reads back the day files; without this it would seal whatever
// bytes a file holds, including a line appended by hand (a forged, back-dated
// entry). With it, it seals only the ranges the writers report and records
// any other bytes as foreign (an X record, alert archive.foreign_write,
// outputs/sealer.h). Each writer learns its range from the descriptor's
// offset after the write (O_APPEND puts each write at the end of the file,
// foreign bytes included), so a foreign write between two of konseki's is
// located exactly.
//
// Thread-safety: Record from any worker thread, TakeInto from the sealer's.
// mu_ guards ranges_; it is held for a map lookup and a push, never across
// I/O. Memory: the ranges since the last TakeInto (the sealer takes them
// every poll), coalesced: one per file written in that interval.
#ifndef KONSEKI_OUTPUTS_ARCHIVE_WRITE_LOG_H_
#define KONSEKI_OUTPUTS_ARCHIVE_WRITE_LOG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace konseki::outputs {

class ArchiveWriteLog {
 public:
  struct Range {
    uint64_t start = 0;
    uint64_t end = 0;  // exclusive
  };
  using Ranges = std::map<std::string, std::vector<Range>, std::less<>>;

  ArchiveWriteLog() = default;
  ArchiveWriteLog(const ArchiveWriteLog&) = delete;
  ArchiveWriteLog& operator=(const ArchiveWriteLog&) = delete;

  // A writer put bytes [start, end) into `path` (relative to archive.dir).
  void Record(std::string_view path, uint64_t start, uint64_t end);
  // Appends the ranges recorded since the last call to *out, per path, in
  // the order written, and forgets them.
  void TakeInto(Ranges* out);

 private:
  std::mutex mu_;
  Ranges ranges_;
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ARCHIVE_WRITE_LOG_H_
