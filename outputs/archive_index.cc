#include "outputs/archive_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <memory>

namespace konseki::outputs {
namespace {

// "KSIDX" and a 3-digit format version. 001: one SHA-256 over the whole
// file and over 128 KiB of the data file (read whole at every search).
constexpr std::string_view kMagicPrefix = "KSIDX";
constexpr std::string_view kMagic = "KSIDX002";
constexpr size_t kTimeLen = 27;
constexpr size_t kSampleBytes = 64 << 10;
// Bloom filters start at 2^18 bits (trigrams: at most ~60k distinct in a
// block of logs) and 2^23 bits (5-grams), and are halved while the result
// has at most a third of its bits set (one hash: a third false positives
// per gram, and an atom has several grams).
constexpr size_t kWords3 = size_t{1} << 12;
constexpr size_t kWords5 = size_t{1} << 17;
constexpr size_t kWords8 = size_t{1} << 15;
constexpr size_t kMaxLog2Words = 20;
constexpr double kMaxFill = 1.0 / 3;
// Header: magic, data size, data mtime, data ctime, sample checksum, block count,
// filter page count; then per block kBlockEntryBytes, per filter page its
// checksum; zeros up to 8 bytes before a page boundary, and there the
// checksum of the whole header before it.
constexpr size_t kHeaderBytes = 8 + 8 + 8 + 8 + 8 + 4 + 4;
constexpr size_t kBlockEntryBytes = 8 + 8 + 8 + kTimeLen * 2 + 4;
constexpr size_t kPageBytes = 4096;

// A 64-bit checksum at memory speed (four independent multiply-rotate
// lanes over 32-byte strides, the construction of xxHash64): it guards
// against damage and stale data, not against an attacker (docs/archive.md).
constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full,
                   kP3 = 0x165667B19E3779F9ull;
inline uint64_t Load64(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
uint64_t Checksum(std::string_view s, uint64_t seed) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t v0 = seed + kP1 + kP2, v1 = seed + kP2, v2 = seed, v3 = seed - kP1;
  for (; n >= 32; p += 32, n -= 32) {
    v0 = std::rotl(v0 + Load64(p) * kP2, 31) * kP1;
    v1 = std::rotl(v1 + Load64(p + 8) * kP2, 31) * kP1;
    v2 = std::rotl(v2 + Load64(p + 16) * kP2, 31) * kP1;
    v3 = std::rotl(v3 + Load64(p + 24) * kP2, 31) * kP1;
  }
  uint64_t h = std::rotl(v0, 1) + std::rotl(v1, 7) + std::rotl(v2, 12) + std::rotl(v3, 18) +
               static_cast<uint64_t>(s.size());
  for (; n >= 8; p += 8, n -= 8)
    h = std::rotl(h ^ std::rotl(Load64(p) * kP2, 31) * kP1, 27) * kP1 + kP3;
  for (; n > 0; ++p, --n) h = std::rotl(h ^ static_cast<uint8_t>(*p) * kP3, 11) * kP1;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

inline uint64_t Mix(uint64_t g) {
  g *= 0x9E3779B97F4A7C15ull;
  g ^= g >> 29;
  g *= 0xBF58476D1CE4E5B9ull;
  g ^= g >> 32;
  return g;
}

inline void SetBit(std::vector<uint64_t>& bits, uint64_t gram) {
  const uint64_t i = Mix(gram) & (bits.size() * 64 - 1);
  bits[i >> 6] |= uint64_t{1} << (i & 63);
}

// Halves the filter (bit i of the half is bit i | bit i + half) while at
// most kMaxFill of the result's bits are set.
void Fold(std::vector<uint64_t>* bits) {
  while (bits->size() > 1) {
    const size_t half = bits->size() / 2;
    size_t set = 0;
    for (size_t i = 0; i < half; ++i) set += std::popcount((*bits)[i] | (*bits)[i + half]);
    if (static_cast<double>(set) > kMaxFill * static_cast<double>(half * 64)) return;
    for (size_t i = 0; i < half; ++i) (*bits)[i] |= (*bits)[i + half];
    bits->resize(half);
  }
}

struct LowerTable {
  std::array<uint8_t, 256> t;
  constexpr LowerTable() : t() {
    for (int i = 0; i < 256; ++i) t[i] = static_cast<uint8_t>(i >= 'A' && i <= 'Z' ? i + 32 : i);
  }
};
constexpr LowerTable kLower;

// Bytes of numbers and IP addresses: their 8-grams are indexed too.
inline bool Numeric(uint8_t c) { return (c >= '0' && c <= '9') || c == '.'; }

// A block while the index is built: its filters in memory.
struct BuiltBlock {
  uint64_t offset = 0, size = 0, plain_bytes = 0;
  std::string min_time, max_time;
  bool short_lines = false;
  std::vector<uint64_t> grams3, grams5, grams8;
};

// Accumulates one block's filters and time range from its plaintext.
class BlockBuilder {
 public:
  BlockBuilder() { Reset(0); }
  void Reset(uint64_t offset) {
    block_ = BuiltBlock();
    block_.offset = offset;
    block_.grams3.assign(kWords3, 0);
    block_.grams5.assign(kWords5, 0);
    block_.grams8.assign(kWords8, 0);
    window_ = 0;
    run_ = 0;
    numeric_run_ = 0;
    line_len_ = 0;
  }
  void Feed(const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const char c = p[i];
      window_ = (window_ << 8) | kLower.t[static_cast<uint8_t>(c)];
      if (++run_ >= 3) SetBit(block_.grams3, window_ & 0xFFFFFF);
      if (run_ >= 5) SetBit(block_.grams5, window_ & 0xFFFFFFFFFF);
      numeric_run_ = Numeric(static_cast<uint8_t>(c)) ? numeric_run_ + 1 : 0;
      if (numeric_run_ >= 8) SetBit(block_.grams8, window_);
      if (c == '\n') {
        EndLine();
      } else {
        if (line_len_ < kTimeLen) head_[line_len_] = c;
        ++line_len_;
      }
    }
    block_.plain_bytes += n;
  }
  bool empty() const { return block_.plain_bytes == 0; }
  BuiltBlock Finish(uint64_t end) {
    if (line_len_ > 0) EndLine();
    block_.size = end - block_.offset;
    Fold(&block_.grams3);
    Fold(&block_.grams5);
    Fold(&block_.grams8);
    BuiltBlock b = std::move(block_);
    Reset(end);
    return b;
  }

 private:
  void EndLine() {
    if (line_len_ < kTimeLen) {
      block_.short_lines = true;
    } else {
      const std::string_view t(head_, kTimeLen);
      if (block_.min_time.empty() || t < block_.min_time) block_.min_time = t;
      if (block_.max_time.empty() || t > block_.max_time) block_.max_time = t;
    }
    line_len_ = 0;
  }
  BuiltBlock block_;
  uint64_t window_ = 0;
  size_t run_ = 0;
  size_t numeric_run_ = 0;
  size_t line_len_ = 0;
  char head_[kTimeLen];
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Reads up to n bytes at off; the count read (short only at end of file).
StatusOr<size_t> PreadAll(int fd, char* p, size_t n, uint64_t off, const std::string& path) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = pread(fd, p + got, n - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::FromErrno("read " + path, errno);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

// Checksum of the first and last kSampleBytes of the file (overlapping
// when it is small): cheap, and catches a file replaced or rewritten with
// the same size and mtime in those parts.
StatusOr<uint64_t> SampleChecksum(int fd, uint64_t size, const std::string& path) {
  thread_local std::string buf;
  buf.resize(static_cast<size_t>(std::min<uint64_t>(size, kSampleBytes)));
  uint64_t h = 0;
  for (const uint64_t off : {uint64_t{0}, size - buf.size()}) {
    auto n = PreadAll(fd, buf.data(), buf.size(), off, path);
    if (!n.ok()) return n.status();
    h = Checksum(std::string_view(buf.data(), *n), h);
  }
  return h;
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

int64_t CtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
}

// Plain file: blocks end at the first line end after block_bytes.
Status BuildPlain(int fd, const std::string& path, size_t block_bytes,
                  std::vector<BuiltBlock>* blocks) {
  BlockBuilder b;
  std::string buf(1 << 20, '\0');
  uint64_t pos = 0, start = 0;
  for (;;) {
    auto got = PreadAll(fd, buf.data(), buf.size(), pos, path);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    const char* p = buf.data();
    size_t n = *got;
    while (n > 0) {
      const uint64_t in_block = pos - start;
      size_t take = n;
      bool cut = false;
      if (in_block + n >= block_bytes) {
        const size_t from = in_block >= block_bytes ? 0 : block_bytes - in_block - 1;
        if (const void* nl = memchr(p + from, '\n', n - from)) {
          take = static_cast<size_t>(static_cast<const char*>(nl) - p) + 1;
          cut = true;
        }
      }
      b.Feed(p, take);
      pos += take;
      p += take;
      n -= take;
      if (cut) {
        blocks->push_back(b.Finish(pos));
        start = pos;
      }
    }
  }
  if (!b.empty() || blocks->empty()) blocks->push_back(b.Finish(pos));
  return Status::Ok();
}

}  // namespace

namespace {

// Compressed file: streamed through the decoder; a block ends at the end
// of a frame whose plaintext ends a line (or at the end of the file).
Status BuildZstd(int fd, const std::string& path, std::vector<BuiltBlock>* blocks) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  BlockBuilder b;
  std::string in_buf(ZSTD_DStreamInSize(), '\0'), out_buf(ZSTD_DStreamOutSize(), '\0');
  uint64_t file_pos = 0;
  char last = '\n';
  size_t pending = 0;  // 0: at a frame end
  for (;;) {
    auto got = PreadAll(fd, in_buf.data(), in_buf.size(), file_pos, path);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    ZSTD_inBuffer in{in_buf.data(), *got, 0};
    while (in.pos < in.size) {
      ZSTD_outBuffer out{out_buf.data(), out_buf.size(), 0};
      pending = ZSTD_decompressStream(dctx.get(), &out, &in);
      if (ZSTD_isError(pending)) {
        return Status::IoError(path + ": corrupt zstd data: " + ZSTD_getErrorName(pending));
      }
      b.Feed(out_buf.data(), out.pos);
      if (out.pos > 0) last = out_buf[out.pos - 1];
      if (pending == 0 && last == '\n') blocks->push_back(b.Finish(file_pos + in.pos));
    }
    file_pos += *got;
  }
  if (pending != 0) return Status::IoError(path + ": truncated zstd data");
  if (!b.empty() || blocks->empty() || blocks->back().offset + blocks->back().size < file_pos) {
    blocks->push_back(b.Finish(file_pos));
  }
  return Status::Ok();
}

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}

template <typename T>
bool Get(std::string_view* in, T* v) {
  if (in->size() < sizeof(T)) return false;
  std::memcpy(v, in->data(), sizeof(T));
  in->remove_prefix(sizeof(T));
  return true;
}

// Header (with the block table and the page checksums), padded to a page;
// then the filter area: per block its 3-, 5- and 8-gram words, in pages.
std::string Serialize(uint64_t size, int64_t mtime_ns, int64_t ctime_ns, uint64_t sample,
                      const std::vector<BuiltBlock>& blocks) {
  std::string filters;
  for (const BuiltBlock& b : blocks) {
    for (const auto* g : {&b.grams3, &b.grams5, &b.grams8}) {
      filters.append(reinterpret_cast<const char*>(g->data()), g->size() * sizeof(uint64_t));
    }
  }
  const size_t pages = (filters.size() + kPageBytes - 1) / kPageBytes;
  filters.resize(pages * kPageBytes, '\0');
  std::string out(kMagic);
  Put(&out, size);
  Put(&out, mtime_ns);
  Put(&out, ctime_ns);
  Put(&out, sample);
  Put(&out, static_cast<uint32_t>(blocks.size()));
  Put(&out, static_cast<uint32_t>(pages));
  for (const BuiltBlock& b : blocks) {
    Put(&out, b.offset);
    Put(&out, b.size);
    Put(&out, b.plain_bytes);
    out.append(b.min_time.empty() ? std::string(kTimeLen, '\0') : b.min_time);
    out.append(b.max_time.empty() ? std::string(kTimeLen, '\0') : b.max_time);
    Put(&out, static_cast<uint8_t>((b.short_lines ? 1 : 0) | (b.min_time.empty() ? 0 : 2)));
    Put(&out, static_cast<uint8_t>(std::countr_zero(b.grams3.size())));
    Put(&out, static_cast<uint8_t>(std::countr_zero(b.grams5.size())));
    Put(&out, static_cast<uint8_t>(std::countr_zero(b.grams8.size())));
  }
  for (size_t i = 0; i < pages; ++i) {
    Put(&out, Checksum(std::string_view(filters).substr(i * kPageBytes, kPageBytes), i));
  }
  out.resize((out.size() + 8 + kPageBytes - 1) / kPageBytes * kPageBytes - 8, '\0');
  Put(&out, Checksum(out, 0));
  return out + filters;
}

// Run as root (`konseki index` by hand), the file takes `owner`'s user and
// group, as the daemon (as its `user:`) would have written it, so the group
// that searches the archive can read it.
Status WriteFile(const std::string& path, std::string_view data, const struct stat& owner) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Status::FromErrno("index: create " + tmp, errno);
  Status st;
  if (geteuid() == 0 && (owner.st_uid != 0 || owner.st_gid != 0) &&
      fchown(fd, owner.st_uid, owner.st_gid) != 0) {
    st = Status::FromErrno("index: chown " + tmp, errno);
  }
  for (size_t done = 0; done < data.size() && st.ok();) {
    const ssize_t w = write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) st = Status::FromErrno("index: write " + tmp, errno);
    if (w > 0) done += static_cast<size_t>(w);
  }
  if (st.ok() && fsync(fd) != 0) st = Status::FromErrno("index: fsync " + tmp, errno);
  close(fd);
  if (st.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    st = Status::FromErrno("index: rename " + tmp, errno);
  }
  if (!st.ok()) unlink(tmp.c_str());
  return st;
}

// Closes a descriptor on scope exit.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

// The mapped index file and which of its filter pages were checked.
struct IndexPages {
  const char* map = nullptr;
  size_t map_bytes = 0;
  const char* filters = nullptr;  // page-aligned, pages * kPageBytes
  const char* sums = nullptr;     // one u64 per page
  size_t pages = 0;
  std::unique_ptr<std::atomic<uint8_t>[]> state;  // 0 unchecked, 1 good, 2 corrupt
  mutable std::atomic<uint64_t> checked{0};
  mutable std::atomic<int64_t> first_bad{-1};

  ~IndexPages() {
    if (map != nullptr) munmap(const_cast<char*>(map), map_bytes);
  }
  // Checks the page on first use; false if it is corrupt.
  bool Good(size_t page) const {
    const uint8_t s = state[page].load(std::memory_order_relaxed);
    if (s != 0) return s == 1;
    const uint64_t sum = Checksum(std::string_view(filters + page * kPageBytes, kPageBytes), page);
    const bool good = sum == Load64(sums + page * 8);
    state[page].store(good ? 1 : 2, std::memory_order_relaxed);
    checked.fetch_add(1, std::memory_order_relaxed);
    if (!good) {
      int64_t none = -1;
      first_bad.compare_exchange_strong(none, static_cast<int64_t>(page));
    }
    return good;
  }
};

bool IndexBlock::Filter::Test(uint64_t gram, const IndexPages& pages) const {
  const uint64_t i = Mix(gram) & bit_mask;
  if (!pages.Good(static_cast<size_t>((first_byte + (i >> 6) * 8) / kPageBytes))) return true;
  return (words[i >> 6] >> (i & 63)) & 1;
}

ArchiveIndex::ArchiveIndex() = default;
ArchiveIndex::~ArchiveIndex() = default;
ArchiveIndex::ArchiveIndex(ArchiveIndex&&) noexcept = default;
ArchiveIndex& ArchiveIndex::operator=(ArchiveIndex&&) noexcept = default;

Status ArchiveIndex::Build(const std::string& data_path, size_t block_bytes) {
  const FdCloser f{open(data_path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return Status::FromErrno("index: open " + data_path, errno);
  struct stat st;
  if (fstat(f.fd, &st) != 0) return Status::FromErrno("index: stat " + data_path, errno);
  std::vector<BuiltBlock> blocks;
  Status s = EndsWith(data_path, ".zst")
                 ? BuildZstd(f.fd, data_path, &blocks)
                 : BuildPlain(f.fd, data_path, std::max<size_t>(block_bytes, 1), &blocks);
  if (!s.ok()) return s;
  auto sample = SampleChecksum(f.fd, static_cast<uint64_t>(st.st_size), data_path);
  if (!sample.ok()) return sample.status();
  return WriteFile(
      data_path + std::string(kIndexSuffix),
      Serialize(static_cast<uint64_t>(st.st_size), MtimeNs(st), CtimeNs(st), *sample, blocks), st);
}

StatusOr<ArchiveIndex> ArchiveIndex::Load(const std::string& data_path) {
  const std::string path = data_path + std::string(kIndexSuffix);
  auto corrupt = [&](const char* why) {
    return Status::InvalidArgument("corrupt index " + path + " (" + why + ")");
  };
  ArchiveIndex idx;
  idx.pages_ = std::make_unique<IndexPages>();
  IndexPages& pg = *idx.pages_;
  {
    const FdCloser f{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) {
      if (errno == ENOENT) return Status::NotFound("no index " + path);
      return Status::FromErrno("open " + path, errno);
    }
    struct stat st;
    if (fstat(f.fd, &st) != 0) return Status::FromErrno("stat " + path, errno);
    if (st.st_size < static_cast<off_t>(kMagic.size())) return corrupt("not a konseki index");
    pg.map_bytes = static_cast<size_t>(st.st_size);
    void* p = mmap(nullptr, pg.map_bytes, PROT_READ, MAP_SHARED, f.fd, 0);
    if (p == MAP_FAILED) return Status::FromErrno("mmap " + path, errno);
    pg.map = static_cast<const char*>(p);
  }
  idx.index_bytes_ = pg.map_bytes;
  std::string_view in(pg.map, pg.map_bytes);
  if (in.substr(0, kMagicPrefix.size()) != kMagicPrefix) return corrupt("not a konseki index");
  if (in.substr(0, kMagic.size()) != kMagic) {
    return Status::InvalidArgument(
        "index " + path + " is of another format version (" +
        std::string(in.substr(kMagicPrefix.size(), 3)) + ", this konseki reads " +
        std::string(kMagic.substr(kMagicPrefix.size())) + "); `konseki index` rewrites it");
  }
  if (in.size() < kHeaderBytes) return corrupt("header");
  uint64_t size = 0, sample = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  uint32_t count = 0, pages = 0;
  in.remove_prefix(kMagic.size());
  Get(&in, &size);
  Get(&in, &mtime_ns);
  Get(&in, &ctime_ns);
  Get(&in, &sample);
  Get(&in, &count);
  Get(&in, &pages);
  const uint64_t table = uint64_t{count} * kBlockEntryBytes + uint64_t{pages} * 8;
  if (count == 0 || in.size() < table + 8) return corrupt("block layout");
  const uint64_t area = (kHeaderBytes + table + 8 + kPageBytes - 1) / kPageBytes * kPageBytes;
  if (pg.map_bytes != area + uint64_t{pages} * kPageBytes) return corrupt("block layout");
  if (Checksum(std::string_view(pg.map, area - 8), 0) != Load64(pg.map + area - 8)) {
    return corrupt("checksum");
  }
  pg.filters = pg.map + area;
  pg.sums = pg.map + kHeaderBytes + uint64_t{count} * kBlockEntryBytes;
  pg.pages = pages;
  pg.state = std::make_unique<std::atomic<uint8_t>[]>(pages);
  idx.header_bytes_ = area;
  uint64_t end = 0, filter_byte = 0;
  idx.blocks_.resize(count);
  for (IndexBlock& b : idx.blocks_) {
    Get(&in, &b.offset);
    Get(&in, &b.size);
    Get(&in, &b.plain_bytes);
    b.min_time = std::string(in.substr(0, kTimeLen));
    b.max_time = std::string(in.substr(kTimeLen, kTimeLen));
    in.remove_prefix(kTimeLen * 2);
    uint8_t flags = 0, l3 = 0, l5 = 0, l8 = 0;
    Get(&in, &flags);
    Get(&in, &l3);
    Get(&in, &l5);
    Get(&in, &l8);
    if (b.offset != end || l3 > kMaxLog2Words || l5 > kMaxLog2Words || l8 > kMaxLog2Words ||
        flags > 3) {
      return corrupt("block layout");
    }
    end = b.offset + b.size;
    b.short_lines = flags & 1;
    if (!(flags & 2)) b.min_time.clear(), b.max_time.clear();
    for (auto [g, l] :
         {std::pair{&b.grams3_, l3}, std::pair{&b.grams5_, l5}, std::pair{&b.grams8_, l8}}) {
      g->words = reinterpret_cast<const uint64_t*>(pg.filters + filter_byte);
      g->bit_mask = (uint64_t{64} << l) - 1;
      g->first_byte = filter_byte;
      filter_byte += (uint64_t{8} << l);
    }
    b.pages_ = &pg;
  }
  if (end != size || filter_byte > uint64_t{pages} * kPageBytes ||
      filter_byte + kPageBytes <= uint64_t{pages} * kPageBytes) {
    return corrupt("block layout");
  }
  const FdCloser f{open(data_path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return Status::FromErrno("open " + data_path, errno);
  struct stat st;
  if (fstat(f.fd, &st) != 0) return Status::FromErrno("stat " + data_path, errno);
  if (static_cast<uint64_t>(st.st_size) != size) {
    return Status::InvalidArgument("stale index " + path + " (file size changed)");
  }
  if (MtimeNs(st) != mtime_ns) {
    return Status::InvalidArgument("stale index " + path + " (file mtime changed)");
  }
  // Any write, truncate, rename over or utimensat sets the ctime (to the
  // clock's time): an unchanged one means no change through the file system
  // since the build, and the content check can be skipped. A copy (cp -a,
  // a restore) has a new ctime and is checked.
  if (CtimeNs(st) == ctime_ns) return idx;
  auto now = SampleChecksum(f.fd, size, data_path);
  if (!now.ok()) return now.status();
  if (*now != sample) {
    return Status::InvalidArgument("stale index " + path + " (file content changed)");
  }
  return idx;
}

uint64_t ArchiveIndex::bytes_read() const {
  return pages_ ? header_bytes_ + pages_->checked.load() * kPageBytes : 0;
}

std::string ArchiveIndex::corruption() const {
  const int64_t bad = pages_ ? pages_->first_bad.load() : -1;
  return bad < 0 ? "" : "filter page " + std::to_string(bad) + " fails its checksum";
}

bool ArchiveIndex::LooksCurrent(const std::string& data_path) {
  const std::string path = data_path + std::string(kIndexSuffix);
  struct stat st;
  char head[kMagic.size() + 16];
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  auto n = PreadAll(fd, head, sizeof(head), 0, path);
  close(fd);
  if (!n.ok() || *n != sizeof(head) || std::string_view(head, kMagic.size()) != kMagic ||
      stat(data_path.c_str(), &st) != 0) {
    return false;
  }
  uint64_t size;
  int64_t mtime_ns;
  std::memcpy(&size, head + kMagic.size(), 8);
  std::memcpy(&mtime_ns, head + kMagic.size() + 8, 8);
  return size == static_cast<uint64_t>(st.st_size) && mtime_ns == MtimeNs(st);
}

bool IndexBlock::MayContain(std::string_view text) const {
  if (pages_ == nullptr) return true;
  for (const char c : text) {
    if (c < 0x20 || c > 0x7e) return true;  // not what the index's lowercasing is sure of
  }
  uint64_t w = 0;
  size_t numeric = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t c = kLower.t[static_cast<uint8_t>(text[i])];
    w = (w << 8) | c;
    numeric = Numeric(c) ? numeric + 1 : 0;
    if (i >= 2 && !grams3_.Test(w & 0xFFFFFF, *pages_)) return false;
    if (i >= 4 && !grams5_.Test(w & 0xFFFFFFFFFF, *pages_)) return false;
    if (numeric >= 8 && !grams8_.Test(w, *pages_)) return false;
  }
  return true;
}

bool IndexBlock::MayOverlap(std::string_view since, std::string_view until) const {
  if (short_lines) return true;
  if (min_time.empty()) return false;  // no line at all
  return (since.empty() || max_time >= since) && (until.empty() || min_time < until);
}

}  // namespace konseki::outputs
