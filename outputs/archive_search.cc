#include "outputs/archive_search.h"

#include <dirent.h>
#include <fnmatch.h>
#include <hs/hs.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <thread>

#include "outputs/archive_reader.h"
#include "outputs/seal_format.h"

namespace konseki::outputs {
namespace {

constexpr std::string_view kTimeTemplate = "0000-01-01T00:00:00.000000Z";
constexpr size_t kTimeLen = kTimeTemplate.size();
constexpr size_t kChunk = 1 << 20;

// Receive-time order of two archive lines: their fixed-width timestamps.
bool TimeLess(std::string_view a, std::string_view b) {
  return a.substr(0, kTimeLen) < b.substr(0, kTimeLen);
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Collects the lines holding a match, each once, in scan order. Matches
// end in increasing order in block mode, so a match ending inside the last
// recorded line is skipped without a search.
struct ScanCtx {
  std::string_view text;
  std::vector<std::pair<size_t, size_t>>* lines;  // [start, end) in text
  size_t covered = 0;  // end of the last recorded line (its '\n' included)
};

int OnMatch(unsigned, unsigned long long, unsigned long long to, unsigned, void* p) {
  auto* c = static_cast<ScanCtx*>(p);
  const size_t end = static_cast<size_t>(to);
  // The line holding the match's last byte (a '\n' belongs to the line it ends).
  const size_t last = std::min(end > 0 ? end - 1 : 0, c->text.size() - 1);
  if (last < c->covered) return 0;
  const size_t start = last == 0 ? 0 : c->text.rfind('\n', last - 1) + 1;
  size_t stop = c->text.find('\n', last);
  if (stop == std::string_view::npos) stop = c->text.size();
  c->lines->emplace_back(start, stop);
  c->covered = stop + 1;
  return 0;
}

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

struct ArchiveSearch::File {
  std::string path;                             // "host/YYYY-MM-DD.log"
  std::string arena;                            // matching lines, each with '\n'
  std::vector<std::pair<size_t, size_t>> hits;  // offset, length in arena
  uint64_t bytes = 0;
  Status status;
};

StatusOr<std::unique_ptr<ArchiveSearch>> ArchiveSearch::Create(SearchOptions options) {
  if (options.root.empty()) return Status::InvalidArgument("search: no archive folder");
  std::unique_ptr<ArchiveSearch> s(new ArchiveSearch(std::move(options)));
  const auto& pats = s->options_.patterns;
  if (pats.empty()) return s;
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < pats.size(); ++i) {
    exprs.push_back(pats[i].c_str());
    flags.push_back(HS_FLAG_MULTILINE | (s->options_.caseless ? HS_FLAG_CASELESS : 0u));
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

// Reads the file in chunks of whole lines; Hyperscan finds the next
// matching line, the time window and the filter decide.
Status ArchiveSearch::ScanFile(File* f, void* scratch) const {
  auto reader = ArchiveReader::Open(options_.root, f->path);
  if (!reader.ok()) return reader.status();
  std::string buf(kChunk, '\0');
  size_t have = 0;
  const std::string& since = options_.since;
  const std::string& until = options_.until;
  auto consider = [&](std::string_view line) {
    if (line.size() >= kTimeLen) {
      std::string_view ts = line.substr(0, kTimeLen);
      if ((!since.empty() && ts < since) || (!until.empty() && ts >= until)) return;
    }
    if (options_.filter && !options_.filter(line)) return;
    f->hits.emplace_back(f->arena.size(), line.size());
    f->arena.append(line).push_back('\n');
  };
  std::vector<std::pair<size_t, size_t>> lines;
  while (true) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than the chunk
    auto n = (*reader)->Read(buf.data() + have, buf.size() - have);
    if (!n.ok()) return n.status();
    const bool eof = *n == 0;
    have += *n;
    f->bytes += *n;
    const size_t end = eof ? have : std::string_view(buf.data(), have).rfind('\n') + 1;
    if (end == 0 && !eof) continue;  // no complete line yet (rfind npos + 1 == 0)
    const std::string_view text(buf.data(), end);
    if (!text.empty()) {
      if (db_ != nullptr) {
        lines.clear();
        ScanCtx ctx{text, &lines};
        hs_scan(db_, text.data(), static_cast<unsigned>(text.size()), 0,
                static_cast<hs_scratch_t*>(scratch), OnMatch, &ctx);
        for (const auto& [a, b] : lines) consider(text.substr(a, b - a));
      } else {
        for (size_t pos = 0; pos < text.size();) {
          size_t nl = text.find('\n', pos);
          if (nl == std::string_view::npos) nl = text.size();
          consider(text.substr(pos, nl - pos));
          pos = nl + 1;
        }
      }
    }
    if (eof) break;
    std::memmove(buf.data(), buf.data() + end, have - end);
    have -= end;
  }
  return Status::Ok();
}

Status ArchiveSearch::Run(const std::function<void(std::string_view)>& out,
                          SearchStats* stats) const {
  int64_t since_day = INT64_MIN, until_day = INT64_MAX;
  if (!options_.since.empty()) ParseDayName(options_.since.substr(0, 10), &since_day);
  if (!options_.until.empty()) ParseDayName(options_.until.substr(0, 10), &until_day);
  // day -> files of that day, in host order.
  std::map<int64_t, std::vector<std::string>> days;
  for (const std::string& host : Names(options_.root)) {
    if (fnmatch(options_.host_glob.c_str(), host.c_str(), 0) != 0) continue;
    for (const std::string& name : Names(options_.root + "/" + host)) {
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
  const int threads =
      options_.threads > 0 ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<hs_scratch_t*> scratch(static_cast<size_t>(threads), nullptr);
  for (hs_scratch_t*& s : scratch) {
    if (db_ != nullptr && hs_alloc_scratch(db_, &s) != HS_SUCCESS) {
      return Status::Internal("search: hs_alloc_scratch failed");
    }
  }
  Status first;
  for (auto& [day, paths] : days) {
    std::vector<File> files(paths.size());
    for (size_t i = 0; i < paths.size(); ++i) files[i].path = paths[i];
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
    // Each file's lines are in receive order (unless write errors reordered
    // some: then that file is sorted first); a k-way merge keeps the whole
    // day in order at log2(files) compares per line, far cheaper than a sort.
    std::vector<std::vector<std::string_view>> runs(files.size());
    size_t total = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      File& f = files[i];
      if (!f.status.ok() && first.ok()) first = f.status;
      stats->bytes += f.bytes;
      ++stats->files;
      for (const auto& [off, len] : f.hits)
        runs[i].push_back(std::string_view(f.arena).substr(off, len));
      if (!std::is_sorted(runs[i].begin(), runs[i].end(), TimeLess)) {
        std::stable_sort(runs[i].begin(), runs[i].end(), TimeLess);
      }
      total += runs[i].size();
    }
    using Head = std::pair<std::string_view, size_t>;  // line, run index
    auto later = [](const Head& a, const Head& b) {
      return TimeLess(b.first, a.first) || (!TimeLess(a.first, b.first) && a.second > b.second);
    };
    std::vector<Head> heap;
    std::vector<size_t> at(runs.size(), 0);
    for (size_t i = 0; i < runs.size(); ++i) {
      if (!runs[i].empty()) heap.emplace_back(runs[i][0], i);
    }
    std::make_heap(heap.begin(), heap.end(), later);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later);
      const size_t r = heap.back().second;
      out(heap.back().first);
      heap.pop_back();
      if (++at[r] < runs[r].size()) {
        heap.emplace_back(runs[r][at[r]], r);
        std::push_heap(heap.begin(), heap.end(), later);
      }
    }
    stats->matches += total;
  }
  for (hs_scratch_t* s : scratch) {
    if (s != nullptr) hs_free_scratch(s);
  }
  return first;
}

}  // namespace konseki::outputs
