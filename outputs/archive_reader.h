// Sequential reader of one archive day file, plain or zstd-compressed:
// given "host/YYYY-MM-DD.log" it opens <root>/host/YYYY-MM-DD.log, or
// <root>/host/YYYY-MM-DD.log.zst (what retention leaves after
// archive.compress_after_days) and returns the plaintext bytes either way.
// Used by `konseki verify` and `konseki search`.
//
// Not thread-safe; one reader per thread. Not copyable.
#ifndef KONSEKI_OUTPUTS_ARCHIVE_READER_H_
#define KONSEKI_OUTPUTS_ARCHIVE_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

struct ZSTD_DCtx_s;

namespace konseki::outputs {

class ArchiveReader {
 public:
  // NotFound when neither file exists. `path` is relative to root.
  static StatusOr<std::unique_ptr<ArchiveReader>> Open(const std::string& root,
                                                       std::string_view path);
  // Opens exactly `full_path` (compressed when it ends in ".zst").
  static StatusOr<std::unique_ptr<ArchiveReader>> OpenFile(const std::string& full_path);
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  // Up to n plaintext bytes into buf; 0 at the end. A corrupt compressed
  // file or a read error is an error.
  StatusOr<size_t> Read(char* buf, size_t n);
  // Reads and discards n bytes (fewer at the end); returns how many.
  StatusOr<uint64_t> Skip(uint64_t n);
  bool compressed() const { return zstd_ != nullptr; }
  const std::string& full_path() const { return full_path_; }

 private:
  ArchiveReader(int fd, std::string full_path, bool compressed);
  StatusOr<size_t> ReadCompressed(char* buf, size_t n);

  int fd_;
  std::string full_path_;
  ZSTD_DCtx_s* zstd_ = nullptr;
  std::string in_;  // compressed input not yet consumed
  size_t in_pos_ = 0;
  bool in_eof_ = false;
  bool frame_done_ = true;  // between frames (a valid place to end)
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ARCHIVE_READER_H_
