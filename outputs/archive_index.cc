#include "outputs/archive_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <memory>

#include "outputs/seal_format.h"

namespace konseki::outputs {
namespace {

constexpr std::string_view kMagic = "KSIDX001";
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
constexpr size_t kHeaderBytes = 8 + 8 + 8 + 32 + 4 + 4;

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

inline bool TestBit(const std::vector<uint64_t>& bits, uint64_t gram) {
  const uint64_t i = Mix(gram) & (bits.size() * 64 - 1);
  return (bits[i >> 6] >> (i & 63)) & 1;
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

// Accumulates one block's filters and time range from its plaintext.
class BlockBuilder {
 public:
  BlockBuilder() { Reset(0); }
  void Reset(uint64_t offset) {
    block_ = IndexBlock();
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
  IndexBlock Finish(uint64_t end) {
    if (line_len_ > 0) EndLine();
    block_.size = end - block_.offset;
    Fold(&block_.grams3);
    Fold(&block_.grams5);
    Fold(&block_.grams8);
    IndexBlock b = std::move(block_);
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
  IndexBlock block_;
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

// SHA-256 of the first and last kSampleBytes of the file (overlapping
// when it is small): cheap, and catches a file replaced or rewritten
// with the same size and mtime.
StatusOr<SealBytes> SampleHash(int fd, uint64_t size, const std::string& path) {
  std::string buf(static_cast<size_t>(std::min<uint64_t>(size, kSampleBytes)), '\0');
  Sha256Stream h;
  for (const uint64_t off : {uint64_t{0}, size - buf.size()}) {
    auto n = PreadAll(fd, buf.data(), buf.size(), off, path);
    if (!n.ok()) return n.status();
    h.Update(std::string_view(buf.data(), *n));
  }
  return h.Finish();
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// Plain file: blocks end at the first line end after block_bytes.
Status BuildPlain(int fd, const std::string& path, size_t block_bytes,
                  std::vector<IndexBlock>* blocks) {
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
Status BuildZstd(int fd, const std::string& path, std::vector<IndexBlock>* blocks) {
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

std::string Serialize(uint64_t size, int64_t mtime_ns, const SealBytes& sample,
                      const std::vector<IndexBlock>& blocks) {
  std::string out(kMagic);
  Put(&out, size);
  Put(&out, mtime_ns);
  out.append(reinterpret_cast<const char*>(sample.data()), sample.size());
  Put(&out, static_cast<uint32_t>(blocks.size()));
  Put(&out, uint32_t{0});
  for (const IndexBlock& b : blocks) {
    Put(&out, b.offset);
    Put(&out, b.size);
    Put(&out, b.plain_bytes);
    out.append(b.min_time.empty() ? std::string(kTimeLen, '\0') : b.min_time);
    out.append(b.max_time.empty() ? std::string(kTimeLen, '\0') : b.max_time);
    Put(&out, static_cast<uint8_t>((b.short_lines ? 1 : 0) | (b.min_time.empty() ? 0 : 2)));
    Put(&out, static_cast<uint8_t>(std::countr_zero(b.grams3.size())));
    Put(&out, static_cast<uint8_t>(std::countr_zero(b.grams5.size())));
    Put(&out, static_cast<uint8_t>(std::countr_zero(b.grams8.size())));
    for (const auto* g : {&b.grams3, &b.grams5, &b.grams8}) {
      out.append(reinterpret_cast<const char*>(g->data()), g->size() * sizeof(uint64_t));
    }
  }
  Sha256Stream h;
  h.Update(out);
  const SealBytes sum = h.Finish();
  out.append(reinterpret_cast<const char*>(sum.data()), sum.size());
  return out;
}

bool ParseBlock(std::string_view* in, IndexBlock* b) {
  uint8_t flags, l3, l5, l8;
  if (!Get(in, &b->offset) || !Get(in, &b->size) || !Get(in, &b->plain_bytes) ||
      in->size() < kTimeLen * 2 + 4) {
    return false;
  }
  b->min_time = std::string(in->substr(0, kTimeLen));
  b->max_time = std::string(in->substr(kTimeLen, kTimeLen));
  in->remove_prefix(kTimeLen * 2);
  Get(in, &flags);
  Get(in, &l3);
  Get(in, &l5);
  Get(in, &l8);
  if (l3 > kMaxLog2Words || l5 > kMaxLog2Words || l8 > kMaxLog2Words || flags > 3) return false;
  b->short_lines = flags & 1;
  if (!(flags & 2)) b->min_time.clear(), b->max_time.clear();
  for (auto [g, l] :
       {std::pair{&b->grams3, l3}, std::pair{&b->grams5, l5}, std::pair{&b->grams8, l8}}) {
    const size_t words = size_t{1} << l;
    if (in->size() < words * sizeof(uint64_t)) return false;
    g->resize(words);
    std::memcpy(g->data(), in->data(), words * sizeof(uint64_t));
    in->remove_prefix(words * sizeof(uint64_t));
  }
  return true;
}

Status WriteFile(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Status::FromErrno("index: create " + tmp, errno);
  Status st;
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

StatusOr<std::string> ReadWhole(const std::string& path) {
  const FdCloser f{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no index " + path);
    return Status::FromErrno("open " + path, errno);
  }
  struct stat st;
  if (fstat(f.fd, &st) != 0) return Status::FromErrno("stat " + path, errno);
  std::string data(static_cast<size_t>(st.st_size), '\0');
  auto n = PreadAll(f.fd, data.data(), data.size(), 0, path);
  if (!n.ok()) return n.status();
  data.resize(*n);
  return data;
}

}  // namespace

Status ArchiveIndex::Build(const std::string& data_path, size_t block_bytes) {
  const FdCloser f{open(data_path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return Status::FromErrno("index: open " + data_path, errno);
  struct stat st;
  if (fstat(f.fd, &st) != 0) return Status::FromErrno("index: stat " + data_path, errno);
  std::vector<IndexBlock> blocks;
  Status s = EndsWith(data_path, ".zst")
                 ? BuildZstd(f.fd, data_path, &blocks)
                 : BuildPlain(f.fd, data_path, std::max<size_t>(block_bytes, 1), &blocks);
  if (!s.ok()) return s;
  auto sample = SampleHash(f.fd, static_cast<uint64_t>(st.st_size), data_path);
  if (!sample.ok()) return sample.status();
  return WriteFile(data_path + std::string(kIndexSuffix),
                   Serialize(static_cast<uint64_t>(st.st_size), MtimeNs(st), *sample, blocks));
}

StatusOr<ArchiveIndex> ArchiveIndex::Load(const std::string& data_path) {
  const std::string path = data_path + std::string(kIndexSuffix);
  auto data = ReadWhole(path);
  if (!data.ok()) return data.status();
  auto corrupt = [&](const char* why) {
    return Status::InvalidArgument("corrupt index " + path + " (" + why + ")");
  };
  std::string_view in = *data;
  if (in.size() < kHeaderBytes + 32 || in.substr(0, kMagic.size()) != kMagic) {
    return corrupt("not a konseki index");
  }
  Sha256Stream h;
  h.Update(in.substr(0, in.size() - 32));
  const SealBytes sum = h.Finish();
  if (std::memcmp(sum.data(), in.data() + in.size() - 32, 32) != 0) return corrupt("checksum");
  in.remove_prefix(kMagic.size());
  in.remove_suffix(32);
  uint64_t size;
  int64_t mtime_ns;
  SealBytes sample;
  uint32_t count, reserved;
  Get(&in, &size);
  Get(&in, &mtime_ns);
  std::memcpy(sample.data(), in.data(), sample.size());
  in.remove_prefix(sample.size());
  Get(&in, &count);
  Get(&in, &reserved);
  ArchiveIndex idx;
  idx.index_bytes_ = data->size();
  uint64_t end = 0;
  for (uint32_t i = 0; i < count; ++i) {
    IndexBlock b;
    if (!ParseBlock(&in, &b) || b.offset != end) return corrupt("block layout");
    end = b.offset + b.size;
    idx.blocks_.push_back(std::move(b));
  }
  if (!in.empty() || end != size || count == 0) return corrupt("block layout");
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
  auto now = SampleHash(f.fd, size, data_path);
  if (!now.ok()) return now.status();
  if (*now != sample) {
    return Status::InvalidArgument("stale index " + path + " (file content changed)");
  }
  return idx;
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
  for (const char c : text) {
    if (c < 0x20 || c > 0x7e) return true;  // not what the index's lowercasing is sure of
  }
  uint64_t w = 0;
  size_t numeric = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t c = kLower.t[static_cast<uint8_t>(text[i])];
    w = (w << 8) | c;
    numeric = Numeric(c) ? numeric + 1 : 0;
    if (i >= 2 && !TestBit(grams3, w & 0xFFFFFF)) return false;
    if (i >= 4 && !TestBit(grams5, w & 0xFFFFFFFFFF)) return false;
    if (numeric >= 8 && !TestBit(grams8, w)) return false;
  }
  return true;
}

bool IndexBlock::MayOverlap(std::string_view since, std::string_view until) const {
  if (short_lines) return true;
  if (min_time.empty()) return false;  // no line at all
  return (since.empty() || max_time >= since) && (until.empty() || min_time < until);
}

}  // namespace konseki::outputs
