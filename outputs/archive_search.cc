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

struct ScanCtx {
  size_t to = 0;  // exclusive end of the first match, from the scan start
  bool hit = false;
};

int OnMatch(unsigned, unsigned long long, unsigned long long to, unsigned, void* ctx) {
  auto* c = static_cast<ScanCtx*>(ctx);
  c->to = static_cast<size_t>(to);
  c->hit = true;
  return 1;  // stop: the caller reports the line and resumes after it
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
  std::string path;  // "host/YYYY-MM-DD.log"
  std::vector<std::string> hits;
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
    f->hits.emplace_back(line);
  };
  while (true) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than the chunk
    auto n = (*reader)->Read(buf.data() + have, buf.size() - have);
    if (!n.ok()) return n.status();
    const bool eof = *n == 0;
    have += *n;
    f->bytes += *n;
    size_t end = eof ? have : std::string_view(buf.data(), have).rfind('\n') + 1;
    if (end == 0 && !eof) continue;  // no complete line yet (rfind npos + 1 == 0)
    std::string_view text(buf.data(), end);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t line_start = pos;
      if (db_ != nullptr) {
        ScanCtx ctx;
        hs_scan(db_, text.data() + pos, static_cast<unsigned>(text.size() - pos), 0,
                static_cast<hs_scratch_t*>(scratch), OnMatch, &ctx);
        if (!ctx.hit) break;
        // The line holding the match's last byte (a '\n' belongs to the line it ends).
        const size_t match_end = pos + ctx.to;
        const size_t last = std::min(match_end > pos ? match_end - 1 : pos, text.size() - 1);
        line_start = last == 0 ? 0 : text.rfind('\n', last - 1) + 1;
        line_start = std::max(line_start, pos);
      }
      size_t line_end = text.find('\n', line_start);
      if (line_end == std::string_view::npos) line_end = text.size();
      consider(text.substr(line_start, line_end - line_start));
      pos = line_end + 1;
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
    std::vector<std::string_view> merged;
    for (File& f : files) {
      if (!f.status.ok() && first.ok()) first = f.status;
      stats->bytes += f.bytes;
      ++stats->files;
      merged.insert(merged.end(), f.hits.begin(), f.hits.end());
    }
    std::stable_sort(merged.begin(), merged.end(), [](std::string_view a, std::string_view b) {
      return a.substr(0, kTimeLen) < b.substr(0, kTimeLen);
    });
    for (std::string_view l : merged) out(l);
    stats->matches += merged.size();
  }
  for (hs_scratch_t* s : scratch) {
    if (s != nullptr) hs_free_scratch(s);
  }
  return first;
}

}  // namespace konseki::outputs
