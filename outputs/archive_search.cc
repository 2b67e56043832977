#include "outputs/archive_search.h"

#include <dirent.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

#include "common/usable_cpus.h"
#include "outputs/archive_budget.h"
#include "outputs/archive_reader.h"
#include "outputs/host_path.h"
#include "outputs/seal_format.h"

namespace konseki::outputs {
namespace {

constexpr std::string_view kTimeTemplate = "0000-01-01T00:00:00.000000Z";
constexpr size_t kTimeLen = kTimeTemplate.size();
// Bytes of whole lines per Hyperscan call. Small enough that the matching
// lines are still in the L2 cache when their bounds and times are read
// after the call: with 8 MB per call, the cache misses on the lines cost a
// fifth of a dense search's CPU (perf, bench/archive_search).
constexpr size_t kChunk = 256 << 10;
// Matching lines ahead of the one being output that the merge prefetches.
constexpr size_t kPrefetchAhead = 8;
// Larger frames are streamed rather than decoded whole into memory.
constexpr size_t kMaxFrameBytes = 64 << 20;

// The receive time at the start of an archive line as one integer whose
// order is the order of the timestamps ("YYYY-MM-DDTHH:MM:SS.ffffffZ"), or
// false if the line does not start with one (the fragment of a torn line).
bool TimeKey(std::string_view line, uint64_t* key) {
  if (line.size() < kTimeLen) return false;
  uint64_t date = 0, tod = 0;
  for (size_t i = 0; i + 1 < kTimeLen; ++i) {
    const char t = kTimeTemplate[i];
    const char c = line[i];
    if (t < '0' || t > '9') {
      if (c != t) return false;
      continue;
    }
    if (c < '0' || c > '9') return false;
    uint64_t& v = i < 10 ? date : tod;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  // date = YYYYMMDD (< 1e8), tod = HHMMSSffffff (< 1e12): 1e8 * 1e12 would
  // overflow 64 bits, so the date is packed as y*372 + m*31 + d (monotonic).
  const uint64_t packed = (date / 10000) * 372 + (date / 100 % 100) * 31 + date % 100;
  *key = packed * 1000000000000ull + tod;
  return true;
}

// The names in `dir` not starting with a dot, sorted; *err (optional): the
// errno of a folder that cannot be opened (0: read).
std::vector<std::string> Names(const std::string& dir, int* err = nullptr) {
  std::vector<std::string> out;
  if (err != nullptr) *err = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    }
    closedir(d);
  } else if (err != nullptr) {
    *err = errno;
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Collects the lines holding a match, each once, in scan order: Hyperscan
// runs over a whole block of lines in one call (no call per line), and the
// callback finds the bounds of the line around the match. Matches end in
// increasing order in block mode, so a match ending inside the last
// recorded line costs one compare.
//
// Which line a match belongs to: for most patterns, the line holding the
// match's last byte (a '\n' belongs to the line it ends). A pattern that can
// match the empty string ('^', '.*', 'x?', 'sshd|') may end a match right
// after a '\n' without having read it: '^' of the next line. For those (no
// start of match is asked of Hyperscan, it would limit the patterns), the
// line holding the position the match ends at, so an empty match after the
// last '\n' of the text belongs to no line, as for grep.
struct ScanCtx {
  std::string_view text;
  std::vector<std::pair<size_t, size_t>>* lines;  // [start, end) in text
  const std::vector<char>* empty_ok;              // by pattern id: may match ""
  size_t covered = 0;  // end of the last recorded line (its '\n' included)
};

int OnMatch(unsigned id, unsigned long long, unsigned long long to, unsigned, void* p) {
  auto* c = static_cast<ScanCtx*>(p);
  const size_t end = static_cast<size_t>(to);
  size_t last;  // a byte of the line the match belongs to
  if ((*c->empty_ok)[id]) {
    if (end == c->text.size() && (end == 0 || c->text.back() == '\n')) return 0;
    last = std::min(end, c->text.size() - 1);
  } else {
    last = std::min(end > 0 ? end - 1 : 0, c->text.size() - 1);
  }
  if (last < c->covered) return 0;
  const char* base = c->text.data();
  const void* nl_before = last == 0 ? nullptr : memrchr(base, '\n', last);
  const size_t start = nl_before ? static_cast<const char*>(nl_before) - base + 1 : 0;
  const void* nl_after = memchr(base + last, '\n', c->text.size() - last);
  const size_t stop = nl_after ? static_cast<const char*>(nl_after) - base : c->text.size();
  c->lines->emplace_back(start, stop);
  c->covered = stop + 1;
  return 0;
}

// A read-only mapping of a whole plain day file. Not copyable.
class Mapping {
 public:
  Mapping() = default;
  ~Mapping() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  // populate: read the whole file in now (a full scan); otherwise pages
  // are read as touched (an indexed scan of a few blocks).
  Status Map(const std::string& path, bool populate = true) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
    struct stat st;
    Status s;
    if (fstat(fd, &st) != 0) {
      s = Status::FromErrno("stat " + path, errno);
    } else if (st.st_size > 0) {
      size_ = static_cast<size_t>(st.st_size);
      void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
      if (p == MAP_FAILED) {
        s = Status::FromErrno("mmap " + path, errno);
        size_ = 0;
      } else {
        data_ = p;
        if (populate) madvise(p, size_, MADV_SEQUENTIAL);
      }
    }
    close(fd);
    return s;
  }
  std::string_view view() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

bool NormalizeSearchTime(std::string_view in, std::string* out) {
  if (!in.empty() && (in.back() == 'Z' || in.back() == 'z')) in.remove_suffix(1);
  if (in.size() < 10 || in.size() >= kTimeLen) return false;
  for (size_t i = 0; i < in.size(); ++i) {
    const char t = kTimeTemplate[i];
    const char c = i == 10 && in[i] == ' ' ? 'T' : in[i];
    if ((t >= '0' && t <= '9') ? (c < '0' || c > '9') : c != t) return false;
  }
  *out = std::string(in) + std::string(kTimeTemplate.substr(in.size()));
  if (out->size() > 10) (*out)[10] = 'T';
  return true;
}

// One day file being searched. Matching lines of a plain file are views
// into its mapping; those of a compressed file are copied into `arena`
// (the decompressed file is never held whole).
struct ArchiveSearch::File {
  struct Hit {
    uint64_t key;           // TimeKey of the line (or of the line before a torn fragment)
    size_t offset, length;  // in the mapping or the arena
  };
  std::string path;           // "host/YYYY-MM-DD.log"
  bool by_line_host = false;  // an overflow folder: lines kept by overflow_host_filter
  Mapping map;
  std::string arena;  // compressed files: matching lines
  std::vector<Hit> hits;
  uint64_t last_key = 0;
  uint64_t bytes = 0;
  Status status;
  std::optional<ArchiveIndex> index;
  bool no_index = false;        // expected one (an old day) and found none
  bool index_given_up = false;  // not consulted: it was not paying (LoadIndex)
  std::string note;             // why the index was ignored
  uint64_t skipped = 0;         // plaintext bytes skipped through the index
  std::string_view Line(const Hit& h) const {
    return (arena.empty() ? map.view() : std::string_view(arena)).substr(h.offset, h.length);
  }
};

StatusOr<std::unique_ptr<ArchiveSearch>> ArchiveSearch::Create(SearchOptions options) {
  if (options.root.empty()) return Status::InvalidArgument("search: no archive folder");
  std::unique_ptr<ArchiveSearch> s(new ArchiveSearch(std::move(options)));
  const auto& pats = s->options_.patterns;
  if (s->options_.use_index) s->query_ = IndexQuery::Create(pats, s->options_.caseless);
  if (pats.empty()) return s;
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < pats.size(); ++i) {
    exprs.push_back(pats[i].c_str());
    unsigned f = HS_FLAG_MULTILINE | (s->options_.caseless ? HS_FLAG_CASELESS : 0u);
    // grep -E takes patterns that match the empty string (every line has
    // such a match); Hyperscan refuses them unless asked. A pattern it cannot
    // analyse is left to hs_compile_multi, which names it.
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* info_err = nullptr;
    const bool empty_ok =
        hs_expression_info(exprs.back(), f | HS_FLAG_ALLOWEMPTY, &info, &info_err) == HS_SUCCESS &&
        info->min_width == 0;
    free(info);
    hs_free_compile_error(info_err);
    if (empty_ok) f |= HS_FLAG_ALLOWEMPTY;
    s->empty_ok_.push_back(empty_ok);
    flags.push_back(f);
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                       HS_MODE_BLOCK, nullptr, &s->db_, &err) != HS_SUCCESS) {
    std::string msg = err && err->message ? err->message : "unknown error";
    const int index = err ? err->expression : -1;
    hs_free_compile_error(err);
    s->db_ = nullptr;
    return Status::InvalidArgument("search: cannot compile " +
                                   (index >= 0
                                        ? "pattern \"" + pats[static_cast<size_t>(index)] + "\""
                                        : std::string("the patterns")) +
                                   ": " + msg);
  }
  return s;
}

ArchiveSearch::~ArchiveSearch() {
  if (db_ != nullptr) hs_free_database(db_);
}

// Whole lines `text` (at `offset` of the file's plaintext): Hyperscan finds
// the matching lines, the time window and the filter decide. A compressed
// file's kept lines are copied into the arena (text is a reused buffer).
void ArchiveSearch::ScanText(std::string_view text, size_t offset, bool copy, File* f,
                             void* scratch) const {
  const std::string& since = options_.since;
  const std::string& until = options_.until;
  auto consider = [&](size_t start, size_t stop) {
    const std::string_view line = text.substr(start, stop - start);
    if (line.size() >= kTimeLen) {
      std::string_view ts = line.substr(0, kTimeLen);
      if ((!since.empty() && ts < since) || (!until.empty() && ts >= until)) return;
    }
    if (f->by_line_host && !options_.overflow_host_filter(line)) return;
    if (options_.filter && !options_.filter(line)) return;
    TimeKey(line, &f->last_key);  // a torn fragment keeps the key before it
    if (copy) {
      f->hits.push_back({f->last_key, f->arena.size(), line.size()});
      f->arena.append(line).push_back('\n');
    } else {
      f->hits.push_back({f->last_key, offset + start, line.size()});
    }
  };
  if (db_ == nullptr) {
    for (size_t pos = 0; pos < text.size();) {
      const void* nl = memchr(text.data() + pos, '\n', text.size() - pos);
      const size_t stop = nl ? static_cast<const char*>(nl) - text.data() : text.size();
      consider(pos, stop);
      pos = stop + 1;
    }
    return;
  }
  thread_local std::vector<std::pair<size_t, size_t>> lines;
  lines.clear();
  ScanCtx ctx{text, &lines, &empty_ok_};
  hs_scan(db_, text.data(), static_cast<unsigned>(text.size()), 0,
          static_cast<hs_scratch_t*>(scratch), OnMatch, &ctx);
  for (const auto& [a, b] : lines) consider(a, b);
}

// A plain file is mapped and scanned in place, in pieces of whole lines
// of about kChunk bytes; with an index, only the blocks that may hold a
// match (the others' pages are never read).
Status ArchiveSearch::ScanPlain(File* f, const std::string& full, const ArchiveIndex* idx,
                                void* scratch) const {
  if (Status s = f->map.Map(full, /*populate=*/idx == nullptr); !s.ok()) return s;
  const std::string_view all = f->map.view();
  auto scan = [&](size_t pos, size_t stop) {
    f->bytes += stop - pos;
    while (pos < stop) {
      size_t end = stop;
      if (end - pos > kChunk) {
        const void* nl = memchr(all.data() + pos + kChunk, '\n', stop - pos - kChunk);
        end = nl ? static_cast<const char*>(nl) - all.data() + 1 : stop;
        end = std::min(end, pos + (size_t{1} << 31));  // hs_scan takes an unsigned length
      }
      ScanText(all.substr(pos, end - pos), pos, /*copy=*/false, f, scratch);
      pos = end;
    }
  };
  if (idx == nullptr) {
    scan(0, all.size());
    return Status::Ok();
  }
  for (const IndexBlock& b : idx->blocks()) {
    if (b.offset + b.size > all.size()) return Status::IoError(full + ": shrank while searched");
    if (MayHold(b)) {
      scan(b.offset, b.offset + b.size);
    } else {
      f->skipped += b.plain_bytes;
    }
  }
  Consulted(*f, *idx);
  return Status::Ok();
}

// Whole lines of the buffer `text` (reused: kept lines are copied),
// scanned in kChunk pieces; returns how many bytes were scanned.
size_t ArchiveSearch::ScanBuffer(std::string_view text, bool eof, File* f, void* scratch) const {
  const size_t nl = text.rfind('\n');
  const size_t end = eof ? text.size() : nl == std::string_view::npos ? 0 : nl + 1;
  for (size_t pos = 0; pos < end;) {
    size_t stop = end;
    if (stop - pos > kChunk) {
      const void* p = memchr(text.data() + pos + kChunk, '\n', end - pos - kChunk);
      stop = p ? static_cast<const char*>(p) - text.data() + 1 : end;
    }
    ScanText(text.substr(pos, stop - pos), 0, /*copy=*/true, f, scratch);
    pos = stop;
  }
  return end;
}

namespace {

// The frames of data[begin, end) as (offset, content size); false if one
// does not state its size or is larger than kMaxFrameBytes.
bool SizedFrames(std::string_view data, size_t begin, size_t end,
                 std::vector<std::pair<size_t, size_t>>* frames) {
  for (size_t pos = begin; pos < end;) {
    const size_t csize = ZSTD_findFrameCompressedSize(data.data() + pos, end - pos);
    const unsigned long long content = ZSTD_isError(csize)
                                           ? ZSTD_CONTENTSIZE_ERROR
                                           : ZSTD_getFrameContentSize(data.data() + pos, csize);
    if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
        content > kMaxFrameBytes) {
      return false;
    }
    frames->emplace_back(pos, static_cast<size_t>(content));
    pos += csize;
  }
  return true;
}

}  // namespace

// A compressed file whose frames all state their content size (what
// CompressFile writes: frames of kZstdFrameBytes cut at line ends) is
// decoded frame by frame straight into one buffer, without the copy
// through the decoder's window that streaming costs (12% of a search's
// CPU); with an index, only the blocks (runs of frames ending at a line
// end) that may hold a match. Other files (one huge frame, or no sizes:
// `zstd` of a pipe) are streamed whole.
Status ArchiveSearch::ScanCompressed(File* f, const std::string& full, const ArchiveIndex* idx,
                                     void* scratch) const {
  Mapping z;
  if (Status s = z.Map(full, /*populate=*/idx == nullptr); !s.ok()) return s;
  const std::string_view data = z.view();
  std::vector<std::pair<size_t, size_t>> frames;
  if (idx == nullptr) {
    if (!SizedFrames(data, 0, data.size(), &frames)) return ScanCompressedStream(f, full, scratch);
    return DecodeFrames(f, data, 0, data.size(), full, scratch);
  }
  std::vector<const IndexBlock*> pass;
  for (const IndexBlock& b : idx->blocks()) {
    if (b.offset + b.size > data.size()) return Status::IoError(full + ": shrank while searched");
    if (MayHold(b)) {
      pass.push_back(&b);
    } else {
      f->skipped += b.plain_bytes;
    }
  }
  Consulted(*f, *idx);
  for (const IndexBlock* b : pass) {
    if (!SizedFrames(data, b->offset, b->offset + b->size, &frames)) {
      f->skipped = 0;  // not a file of sized frames: streamed whole
      return ScanCompressedStream(f, full, scratch);
    }
  }
  for (const IndexBlock* b : pass) {
    if (Status s = DecodeFrames(f, data, b->offset, b->offset + b->size, full, scratch); !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

// Decodes the sized frames of data[begin, end), a run of whole lines (or
// ending at the end of the file), and scans them. A line cut by a frame
// end is carried to the next frame.
Status ArchiveSearch::DecodeFrames(File* f, std::string_view data, size_t begin, size_t end,
                                   const std::string& full, void* scratch) const {
  std::vector<std::pair<size_t, size_t>> frames;  // offset in data, content size
  SizedFrames(data, begin, end, &frames);
  // Per thread and reused across files: a fresh 4 MB buffer per file costs
  // page faults and zeroing each time (perf: 15% of a search's CPU).
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(),
                                                                       ZSTD_freeDCtx);
  thread_local std::string buf;
  size_t carry = 0;  // bytes of an unfinished line at the start of buf
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto [off, content] = frames[i];
    const size_t csize = (i + 1 < frames.size() ? frames[i + 1].first : end) - off;
    if (buf.size() < carry + content) buf.resize(carry + content);
    const size_t got =
        ZSTD_decompressDCtx(dctx.get(), buf.data() + carry, content, data.data() + off, csize);
    if (ZSTD_isError(got) || got != content) {
      return Status::IoError(full + ": corrupt zstd data: " +
                             (ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size"));
    }
    f->bytes += content;
    const bool last = i + 1 == frames.size();
    const size_t done = ScanBuffer(std::string_view(buf.data(), carry + content), last, f, scratch);
    carry = carry + content - done;
    std::memmove(buf.data(), buf.data() + done, carry);
  }
  return Status::Ok();
}

// Streams a compressed file through the decoder in chunks of whole lines.
Status ArchiveSearch::ScanCompressedStream(File* f, const std::string& full, void* scratch) const {
  auto reader = ArchiveReader::OpenFile(full);
  if (!reader.ok()) return reader.status();
  std::string buf(kChunk, '\0');
  size_t have = 0;
  while (true) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than the chunk
    auto n = (*reader)->Read(buf.data() + have, buf.size() - have);
    if (!n.ok()) return n.status();
    const bool eof = *n == 0;
    have += *n;
    f->bytes += *n;
    const size_t end = ScanBuffer(std::string_view(buf.data(), have), eof, f, scratch);
    if (eof) break;
    std::memmove(buf.data(), buf.data() + end, have - end);
    have -= end;
  }
  return Status::Ok();
}

bool ArchiveSearch::MayHold(const IndexBlock& b) const {
  return b.MayOverlap(options_.since, options_.until) && query_->MayMatch(b);
}

// Counts what the index did for this file, for giving it up (LoadIndex).
void ArchiveSearch::Consulted(const File& f, const ArchiveIndex& idx) const {
  uint64_t plain = 0;
  for (const IndexBlock& b : idx.blocks()) plain += b.plain_bytes;
  consulted_bytes_.fetch_add(plain, std::memory_order_relaxed);
  if (f.skipped > 0) index_paid_.store(true, std::memory_order_relaxed);
}

// The file's index if it is usable (and can narrow this search); a missing
// one is flagged (for an old day), a stale or corrupt one noted.
const ArchiveIndex* ArchiveSearch::LoadIndex(File* f, const std::string& data_path) const {
  const bool window = !options_.since.empty() || !options_.until.empty();
  if (query_ == nullptr || (!query_->filters() && !window)) return nullptr;
  // Every block consulted so far passed: the index is not paying for this
  // search (a dense one); the rest is scanned without it.
  if (!window && !index_paid_.load(std::memory_order_relaxed) &&
      consulted_bytes_.load(std::memory_order_relaxed) >= options_.index_give_up_bytes) {
    f->index_given_up = true;
    return nullptr;
  }
  auto idx = ArchiveIndex::Load(data_path);
  if (idx.ok()) {
    f->index = std::move(idx).value();
    return &*f->index;
  }
  if (idx.status().code() == StatusCode::kNotFound) {
    std::string_view host;
    int64_t day;
    f->no_index = ParseArchivePath(f->path, &host, &day) && day < options_.expect_index_before_day;
  } else {
    f->note = idx.status().message() + "; scanned fully";
  }
  return nullptr;
}

Status ArchiveSearch::ScanFile(File* f, void* scratch) const {
  const std::string full = options_.root + "/" + f->path;
  struct stat st;
  if (stat(full.c_str(), &st) == 0) return ScanPlain(f, full, LoadIndex(f, full), scratch);
  if (errno != ENOENT) return Status::FromErrno("cannot stat " + full, errno);
  return ScanCompressed(f, full + ".zst", LoadIndex(f, full + ".zst"), scratch);
}

// day -> the day files of the selected hosts (host order), "host/DAY.log"
// whether plain or compressed. Days outside --since/--until are left out
// by their names, without opening a file.
std::map<int64_t, std::vector<std::string>> ArchiveSearch::SelectFiles(Status* error) const {
  int64_t since_day = INT64_MIN, until_day = INT64_MAX;
  if (!options_.since.empty()) ParseDayName(options_.since.substr(0, 10), &since_day);
  if (!options_.until.empty()) ParseDayName(options_.until.substr(0, 10), &until_day);
  std::map<int64_t, std::vector<std::string>> days;
  int err = 0;
  const std::vector<std::string> hosts = Names(options_.root, &err);
  if (err != 0) {
    *error = Status::FromErrno("cannot read the archive folder " + options_.root, err);
    return days;
  }
  for (const std::string& host : hosts) {
    if (!HostGlobMatches(options_.host_glob, host) &&
        !(IsOverflowFolder(host) && options_.overflow_host_filter)) {
      continue;
    }
    const std::vector<std::string> names = Names(options_.root + "/" + host, &err);
    // A folder retention removed meanwhile held nothing to find; any other
    // failure (permissions) hides lines: said, and the rest still searched.
    if (err != 0 && err != ENOENT && err != ENOTDIR && error->ok()) {
      *error = Status::FromErrno("cannot read host folder " + options_.root + "/" + host, err);
    }
    for (const std::string& name : names) {
      std::string_view h;
      int64_t day;
      std::string rel = host + "/" + name;
      if (!ParseArchivePath(rel, &h, &day) || day < since_day || day > until_day) continue;
      if (rel.size() > 4 && rel.compare(rel.size() - 4, 4, ".zst") == 0) {
        rel.resize(rel.size() - 4);
        auto& v = days[day];
        if (!v.empty() && v.back() == rel) continue;  // both .log and .log.zst
      }
      days[day].push_back(rel);
    }
  }
  return days;
}

// Each file's lines are in receive order (unless write errors reordered
// some: then that file is sorted first); a k-way merge on the integer time
// keys keeps the whole day in order, ties in host order.
void ArchiveSearch::MergeDay(std::vector<File>& files,
                             const std::function<void(std::string_view)>& out) {
  using Hit = File::Hit;
  auto key_less = [](const Hit& a, const Hit& b) { return a.key < b.key; };
  for (File& f : files) {
    if (!std::is_sorted(f.hits.begin(), f.hits.end(), key_less)) {
      std::stable_sort(f.hits.begin(), f.hits.end(), key_less);
    }
  }
  using Head = std::pair<uint64_t, size_t>;  // key, file index
  auto later = [](const Head& a, const Head& b) { return a > b; };
  std::vector<Head> heap;
  std::vector<size_t> at(files.size(), 0);
  for (size_t i = 0; i < files.size(); ++i) {
    if (!files[i].hits.empty()) heap.emplace_back(files[i].hits[0].key, i);
  }
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const size_t r = heap.back().second;
    heap.pop_back();
    const File& f = files[r];
    // Emit this file's run while it stays before every other file's head.
    const uint64_t bound = heap.empty() ? UINT64_MAX : heap.front().first;
    const size_t bound_file = heap.empty() ? SIZE_MAX : heap.front().second;
    do {
      // The lines were scanned a whole day ago (tens of MB): fetch the
      // ones a few ahead while this one is copied out.
      if (at[r] + kPrefetchAhead < f.hits.size()) {
        const std::string_view next = f.Line(f.hits[at[r] + kPrefetchAhead]);
        for (size_t b = 0; b < next.size(); b += 64) __builtin_prefetch(next.data() + b);
      }
      out(f.Line(f.hits[at[r]]));
    } while (++at[r] < f.hits.size() &&
             (f.hits[at[r]].key < bound || (f.hits[at[r]].key == bound && r < bound_file)));
    if (at[r] < f.hits.size()) {
      heap.emplace_back(f.hits[at[r]].key, r);
      std::push_heap(heap.begin(), heap.end(), later);
    }
  }
}

Status ArchiveSearch::Run(const std::function<void(std::string_view)>& out,
                          SearchStats* stats) const {
  Status first;  // the first folder or file that failed; the others are still searched
  const auto days = SelectFiles(&first);
  const int threads = options_.threads > 0 ? options_.threads : UsableCpus();
  std::vector<hs_scratch_t*> scratch(static_cast<size_t>(threads), nullptr);
  auto free_scratch = [&] {
    for (hs_scratch_t* s : scratch) {
      if (s != nullptr) hs_free_scratch(s);
    }
  };
  for (hs_scratch_t*& s : scratch) {
    if (db_ != nullptr && hs_alloc_scratch(db_, &s) != HS_SUCCESS) {
      free_scratch();
      return Status::Internal("search: hs_alloc_scratch failed");
    }
  }
  consulted_bytes_ = 0;
  index_paid_ = false;
  uint64_t no_index = 0;
  std::string first_without;
  for (auto it = days.begin(); it != days.end(); ++it) {
    std::vector<File> files(it->second.size());
    for (size_t i = 0; i < files.size(); ++i) {
      files[i].path = it->second[i];
      const std::string folder = files[i].path.substr(0, files[i].path.find('/'));
      files[i].by_line_host =
          IsOverflowFolder(folder) && !HostGlobMatches(options_.host_glob, folder);
    }
    std::atomic<size_t> next{0};
    auto work = [&](hs_scratch_t* s) {
      for (size_t i; (i = next.fetch_add(1)) < files.size();)
        files[i].status = ScanFile(&files[i], s);
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads && static_cast<size_t>(t) < files.size(); ++t) {
      pool.emplace_back(work, scratch[static_cast<size_t>(t)]);
    }
    work(scratch[0]);
    for (std::thread& t : pool) t.join();
    for (File& f : files) {
      if (!f.status.ok() && first.ok()) first = f.status;
      stats->bytes += f.bytes;
      ++stats->files;
      stats->matches += f.hits.size();
      stats->skipped_bytes += f.skipped;
      if (f.index) {
        ++stats->indexed_files;
        stats->index_bytes += f.index->bytes_read();
        if (const std::string bad = f.index->corruption(); !bad.empty()) {
          stats->notes.push_back("corrupt index " + options_.root + "/" + f.path + " (" + bad +
                                 "); the blocks it could not rule out were scanned");
        }
      }
      stats->index_given_up_files += f.index_given_up;
      if (!f.note.empty()) stats->notes.push_back(f.note);
      if (f.no_index && no_index++ == 0) first_without = f.path;
    }
    MergeDay(files, out);
  }
  free_scratch();
  if (!options_.overflow_host_filter) {
    size_t left_out = 0;
    for (const std::string& host : Names(options_.root)) {
      left_out += IsOverflowFolder(host) && !HostGlobMatches(options_.host_glob, host);
    }
    if (left_out > 0) {
      stats->notes.push_back(std::to_string(left_out) +
                             " overflow folder(s) (hosts past archive.max_hosts) not searched");
    }
  }
  if (no_index > 0) {
    stats->notes.push_back(std::to_string(no_index) + " day file(s) without an index (" +
                           first_without + (no_index > 1 ? " ..." : "") +
                           ") scanned fully; `konseki index` writes them");
  }
  if (query_ != nullptr && !query_->filters() && !query_->why_not().empty() &&
      !options_.patterns.empty()) {
    stats->notes.push_back("the index cannot narrow this search: " + query_->why_not());
  }
  return first;
}

}  // namespace konseki::outputs
