// The search index of a closed archive day file (issue #16): a sidecar
// `<file>.idx` beside `<host>/<day>.log` or `<host>/<day>.log.zst` that lets
// `konseki search` skip the blocks of a file where no pattern can match or
// no line is inside --since/--until. Blocks that are not skipped are scanned
// as without an index, so results are the same; the index only says where
// a match is impossible.
//
//   Status st = ArchiveIndex::Build("/var/log/konseki/web01/2025-12-01.log.zst");
//   auto idx = ArchiveIndex::Load("/var/log/konseki/web01/2025-12-01.log.zst");
//   for (const IndexBlock& b : idx->blocks()) if (b.MayContain("password")) ...
//
// Blocks are whole lines: a plain file is cut after each kIndexBlockBytes at
// the next line end; a compressed file at the first frame end that is also
// a line end (retention's CompressFile writes frames of whole lines, so one
// frame is one block). Per block: its bytes in the file and in plaintext,
// the smallest and largest first 27 bytes (the receive time) of its lines,
// and three Bloom filters (one hash, power-of-two size, folded until a
// third of the bits are set) of the ASCII-lowercased 3-byte and 5-byte
// substrings of its plaintext and of its 8-byte substrings made only of
// digits and dots. Trigrams alone are too weak at this block size (every
// trigram of a word occurs in every 4 MiB of logs), and so are 5-grams for
// numbers: in 4 MiB of logs with varied IP addresses and ports, every
// 5-gram of "45.142.212.61" occurs somewhere; its 8-grams do not.
//
// The index is derived data, not covered by sealing. Load refuses an index
// that is missing (NotFound), of another format version, stale (the data
// file's size, mtime or the checksum of its first and last 64 KiB differ
// from what the index recorded) or corrupt (bad magic, header checksum or
// layout): the caller scans the file fully. Format: docs/archive.md.
//
// Load maps the index file and reads only its header (block table and
// per-page checksums); the Bloom filters stay in the page cache and a
// query reads only the words its grams probe. Each 4 KiB page of filters
// is checked against its checksum the first time a probe reads it; a page
// that fails makes every probe into it answer "may contain" (so a block is
// never skipped on corrupt bits) and corruption() says so.
//
// Thread-safety: a loaded ArchiveIndex may be queried from any thread (page
// checks are atomic); Build and Load may run on any thread.
#ifndef KONSEKI_OUTPUTS_ARCHIVE_INDEX_H_
#define KONSEKI_OUTPUTS_ARCHIVE_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace konseki::outputs {

// Plaintext bytes per block of a plain file (the frame size of compressed ones).
inline constexpr size_t kIndexBlockBytes = 4 << 20;
// The sidecar's suffix: "<day file>.idx".
inline constexpr std::string_view kIndexSuffix = ".idx";

struct IndexPages;

struct IndexBlock {
  uint64_t offset = 0;       // first byte in the file (compressed bytes for .zst)
  uint64_t size = 0;         // bytes in the file
  uint64_t plain_bytes = 0;  // plaintext bytes
  std::string min_time;      // smallest first 27 bytes of its lines of >= 27 bytes; "" if none
  std::string max_time;      // largest
  bool short_lines = false;  // has a line shorter than 27 bytes (never skipped by time)

  // False only if `text` is in no case variant (ASCII) in the block. Text
  // with bytes outside printable ASCII always may be.
  bool MayContain(std::string_view text) const;
  // False only if no line of the block passes the time window (normalized
  // receive times, since inclusive, until exclusive, "" = open).
  bool MayOverlap(std::string_view since, std::string_view until) const;

 private:
  friend class ArchiveIndex;
  // One Bloom filter (one hash, a power of two of bits) in the mapped file.
  struct Filter {
    const uint64_t* words = nullptr;
    uint64_t bit_mask = 0;    // bits - 1
    uint64_t first_byte = 0;  // of words, in the filter area (for page checks)
    bool Test(uint64_t gram, const IndexPages& pages) const;
  };
  Filter grams3_, grams5_, grams8_;
  const IndexPages* pages_ = nullptr;
};

class ArchiveIndex {
 public:
  ArchiveIndex();
  ~ArchiveIndex();
  ArchiveIndex(ArchiveIndex&&) noexcept;
  ArchiveIndex& operator=(ArchiveIndex&&) noexcept;

  // Reads the day file at `data_path` (plain, or zstd if it ends in .zst)
  // and writes `data_path + kIndexSuffix` (through a .tmp and a rename).
  // block_bytes: a plain file's block size (tests make it small).
  static Status Build(const std::string& data_path, size_t block_bytes = kIndexBlockBytes);
  // data_path's index: NotFound if there is none, InvalidArgument naming
  // why if of another version, stale or corrupt.
  static StatusOr<ArchiveIndex> Load(const std::string& data_path);
  // Cheap check for retention and `konseki index`: an index of this format
  // exists whose recorded size and mtime are data_path's (no hashing).
  static bool LooksCurrent(const std::string& data_path);

  const std::vector<IndexBlock>& blocks() const { return blocks_; }
  // Bytes of the index file.
  uint64_t index_bytes() const { return index_bytes_; }
  // Bytes of it read so far: the header and the filter pages probed.
  uint64_t bytes_read() const;
  // "" or why a filter page probed so far was corrupt (its probes answered
  // "may contain").
  std::string corruption() const;

 private:
  std::unique_ptr<IndexPages> pages_;  // the mapping; stable across moves
  std::vector<IndexBlock> blocks_;
  uint64_t index_bytes_ = 0;
  uint64_t header_bytes_ = 0;
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ARCHIVE_INDEX_H_
