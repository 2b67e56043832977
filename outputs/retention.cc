#include "outputs/retention.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/thread_name.h"
#include "outputs/archive_alert.h"
#include "outputs/archive_index.h"
#include "outputs/seal_format.h"

namespace konseki::outputs {
namespace {

std::vector<std::string> Names(const std::string& dir, bool dot) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == ".." || (n[0] == '.') != dot) continue;
      out.emplace_back(n);
    }
    closedir(d);
  }
  // readdir's order is the file system's (ext4 and xfs: hash order), not
  // the names'; passes and "the newest" go by name.
  std::sort(out.begin(), out.end());
  return out;
}

int64_t Today(const Clock& clock) {
  return DayOfUnix(
      std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count());
}

// Writes all of data; errno-style result.
int WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? errno : EIO;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

}  // namespace

bool ParseLowSpace(std::string_view text, double* percent, uint64_t* bytes) {
  double pct = 0;
  uint64_t b = 0;
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (!text.empty() && text.back() == '%') {
    text.remove_suffix(1);
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), pct);
    if (ec != std::errc() || p != text.data() + text.size() || pct < 0 || pct > 100) return false;
  } else {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || p == text.data()) return false;
    std::string_view unit = text.substr(static_cast<size_t>(p - text.data()));
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    if (unit.size() >= 2 && unit.substr(unit.size() - 2) == "iB") unit.remove_suffix(2);
    if (!unit.empty() && unit.back() == 'B') unit.remove_suffix(1);
    static constexpr std::string_view kUnits = "KMGT";
    int shift = 0;
    if (unit.size() == 1 && kUnits.find(static_cast<char>(toupper(unit[0]))) != std::string::npos) {
      shift = 10 * (1 + static_cast<int>(kUnits.find(static_cast<char>(toupper(unit[0])))));
    } else if (!unit.empty()) {
      return false;
    }
    if (shift > 0 && n > (UINT64_MAX >> shift)) return false;
    b = n << shift;
  }
  if (percent != nullptr) *percent = pct;
  if (bytes != nullptr) *bytes = b;
  return true;
}

// Compresses the whole lines in [data, data + n) as one frame that records
// its content size; appends it to out.
Status CompressFrame(ZSTD_CCtx* cctx, const char* data, size_t n, std::string* out) {
  const size_t at = out->size();
  out->resize(at + ZSTD_compressBound(n));
  const size_t z = ZSTD_compress2(cctx, out->data() + at, out->size() - at, data, n);
  if (ZSTD_isError(z)) {
    return Status::Internal(std::string("compress: zstd: ") + ZSTD_getErrorName(z));
  }
  out->resize(at + z);
  return Status::Ok();
}

Status CompressFile(const std::string& src, const std::string& dst, int level, size_t frame_bytes) {
  int in = open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Status::FromErrno("compress: open " + src, errno);
  int out = open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (out < 0) {
    const int err = errno;
    close(in);
    return Status::FromErrno("compress: create " + dst, err);
  }
  fchmod(out, 0640);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::string ibuf(std::max<size_t>(frame_bytes, 1), '\0'), obuf;
  size_t have = 0, frames = 0;
  Status st;
  for (bool eof = false; !eof && st.ok();) {
    if (have == ibuf.size()) ibuf.resize(ibuf.size() * 2);  // a line longer than a frame
    ssize_t n = read(in, ibuf.data() + have, ibuf.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      st = Status::FromErrno("compress: read " + src, errno);
      break;
    }
    eof = n == 0;
    have += static_cast<size_t>(n);
    if (have < ibuf.size() && !eof) continue;
    // Frames end at a line end (the last frame: at the end of the file).
    const size_t nl = std::string_view(ibuf.data(), have).rfind('\n');
    const size_t cut = eof || nl == std::string_view::npos ? have : nl + 1;
    if (!eof && nl == std::string_view::npos) continue;  // no line end yet: read more
    if (cut == 0 && frames > 0) continue;                // an empty file still gets a frame
    ++frames;
    obuf.clear();
    st = CompressFrame(cctx, ibuf.data(), cut, &obuf);
    if (st.ok()) {
      if (int err = WriteAll(out, obuf.data(), obuf.size()); err != 0) {
        st = Status::FromErrno("compress: write " + dst, err);
      }
    }
    std::memmove(ibuf.data(), ibuf.data() + cut, have - cut);
    have -= cut;
  }
  ZSTD_freeCCtx(cctx);
  close(in);
  if (st.ok() && fsync(out) != 0) st = Status::FromErrno("compress: fsync " + dst, errno);
  close(out);
  if (!st.ok()) unlink(dst.c_str());
  return st;
}

struct ArchiveKeeper::Metrics {
  Gauge* free_bytes;
  Counter* compressed;
  Counter* indexed;
  Counter* deleted;
  Counter* errors;
  Counter* removed_folders;
  MetricsRegistry& registry;
  explicit Metrics(MetricsRegistry& r)
      : free_bytes(r.GetGauge("konseki_archive_free_bytes",
                              "Free bytes on the archive's file system (for unprivileged users).")),
        compressed(r.GetCounter("konseki_archive_compressed_files_total",
                                "Closed archive day files compressed with zstd.")),
        indexed(r.GetCounter("konseki_archive_indexed_files_total",
                             "Search indexes written for closed archive day files.")),
        deleted(r.GetCounter("konseki_archive_deleted_files_total",
                             "Archive day files and seal files deleted by retention.")),
        errors(r.GetCounter("konseki_archive_retention_errors_total",
                            "Compression or retention failures (retried next pass).")),
        removed_folders(r.GetCounter("konseki_archive_removed_folders_total",
                                     "Empty host folders removed by retention.")),
        registry(r) {}
};

ArchiveKeeper::ArchiveKeeper(const RetentionOptions& options, const Clock& clock,
                             MetricsRegistry& metrics, AlertSink& alerts)
    : options_(options),
      clock_(clock),
      metrics_(std::make_unique<Metrics>(metrics)),
      alerts_(alerts) {}

ArchiveKeeper::~ArchiveKeeper() { Stop(); }

void ArchiveKeeper::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ArchiveKeeper::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void ArchiveKeeper::Run() {
  SetThreadName("retention");
  auto next_pass = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    CheckSpace();
    if (std::chrono::steady_clock::now() >= next_pass) {
      if (Status st = RunPass(); !st.ok()) {
        Log(LogLevel::kError, "archive retention: %s", st.message().c_str());
      }
      next_pass =
          std::chrono::steady_clock::now() + std::chrono::seconds(options_.pass_interval_secs);
    }
    lock.lock();
    cv_.wait_for(lock, std::chrono::seconds(options_.space_interval_secs),
                 [this] { return stop_; });
  }
}

Status ArchiveKeeper::RunPass() {
  const int64_t today = Today(clock_);
  Status first;
  std::map<std::string, uint64_t> usage;
  for (const std::string& host : Names(options_.dir, false)) {
    Status st = KeepHost(host, today, &usage[host]);
    if (!st.ok() && first.ok()) first = st;
  }
  if (options_.retention_days > 0) PruneSealFiles(today);
  PublishUsage(usage);
  return first;
}

Status ArchiveKeeper::KeepHost(const std::string& host, int64_t today, uint64_t* usage) {
  const std::string hdir = options_.dir + "/" + host;
  Status first;
  bool deleted_here = false;
  auto fail = [&](Status st) {
    metrics_->errors->Inc();
    if (first.ok()) first = std::move(st);
  };
  for (const std::string& name : Names(hdir, false)) {
    const std::string path = hdir + "/" + name;
    std::string_view h;
    int64_t day;
    const bool tmp = name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0;
    if (tmp) {
      unlink(path.c_str());  // a compression or index cut short by a crash
      continue;
    }
    if (name.size() > kIndexSuffix.size() &&
        name.compare(name.size() - kIndexSuffix.size(), kIndexSuffix.size(), kIndexSuffix) == 0) {
      struct stat ds;
      const std::string data = path.substr(0, path.size() - kIndexSuffix.size());
      if (stat(data.c_str(), &ds) != 0 && errno == ENOENT) unlink(path.c_str());  // orphan
      continue;
    }
    if (!ParseArchivePath(host + "/" + name, &h, &day)) continue;
    const int64_t age = today - day;
    if (options_.retention_days > 0 && age > options_.retention_days) {
      if (unlink(path.c_str()) == 0) {
        unlink((path + std::string(kIndexSuffix)).c_str());
        ++deleted_;
        metrics_->deleted->Inc();
        deleted_here = true;
      } else {
        fail(Status::FromErrno("retention: remove " + path, errno));
      }
      continue;
    }
    const bool plain = name.size() == 14;
    if (plain && options_.compress_after_days > 0 && age > options_.compress_after_days &&
        age >= 2) {
      if (Status st = CompressDay(hdir, path, usage); !st.ok()) {
        fail(st);
      } else {
        if (Status ist = IndexClosedFile(path + ".zst", usage); !ist.ok()) fail(ist);
        continue;
      }
    }
    if (age >= 2) {
      if (Status ist = IndexClosedFile(path, usage); !ist.ok()) fail(ist);
    }
    struct stat st;
    if (stat(path.c_str(), &st) == 0) *usage += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  RemoveIfEmpty(host, hdir, deleted_here);
  return first;
}

void ArchiveKeeper::RemoveIfEmpty(const std::string& host, const std::string& hdir,
                                  bool deleted_here) {
  if (!deleted_here) {
    // Empty for a day: not a folder a worker is about to fill.
    struct stat st;
    if (stat(hdir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
    if (now - st.st_mtime < 86400) return;
  }
  if (rmdir(hdir.c_str()) != 0) return;  // not empty (ENOTEMPTY), or gone
  ++removed_folders_;
  metrics_->removed_folders->Inc();
  if (budget_ && !IsOverflowFolder(host)) budget_->ReleaseHost();
}

// Replaces path (a plain day file) by path.zst; usage counts the .zst. An
// error leaves the plain file (and says why).
Status ArchiveKeeper::CompressDay(const std::string& hdir, const std::string& path,
                                  uint64_t* usage) {
  struct stat zs;
  if (stat((path + ".zst").c_str(), &zs) == 0) {
    // Both exist: lines were written to the day after it was compressed
    // (data held back by a long write error). Keep both; search and
    // verify read the .log first, and an admin should look.
    return Status::IoError("retention: " + path + " and " + path +
                           ".zst both exist; leaving them for an admin");
  }
  if (Status st = CompressFile(path, path + ".zst.tmp", options_.zstd_level); !st.ok()) return st;
  if (rename((path + ".zst.tmp").c_str(), (path + ".zst").c_str()) != 0) {
    return Status::FromErrno("retention: rename " + path + ".zst.tmp", errno);
  }
  unlink(path.c_str());
  unlink((path + std::string(kIndexSuffix)).c_str());
  ++compressed_;
  metrics_->compressed->Inc();
  if (int dfd = open(hdir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  stat((path + ".zst").c_str(), &zs);
  *usage += static_cast<uint64_t>(zs.st_blocks) * 512;
  return Status::Ok();
}

// Writes the search index of a closed day file unless it has a current one.
Status ArchiveKeeper::IndexClosedFile(const std::string& path, uint64_t* usage) {
  const std::string idx = path + std::string(kIndexSuffix);
  if (!ArchiveIndex::LooksCurrent(path)) {
    if (Status st = ArchiveIndex::Build(path); !st.ok()) return st;
    ++indexed_;
    metrics_->indexed->Inc();
  }
  struct stat st;
  if (stat(idx.c_str(), &st) == 0) *usage += static_cast<uint64_t>(st.st_blocks) * 512;
  return Status::Ok();
}

void ArchiveKeeper::PruneSealFiles(int64_t today) {
  // Keep the seal file of the day before the oldest kept day: it seals the
  // first bytes of that day.
  const int64_t oldest_kept = today - options_.retention_days;
  // Never the newest one: after a long stop the sealer's first record goes
  // to the seal file of its key's (old) day, and deleting that file under
  // it would read as an attack (archive.seal_stream_missing).
  const std::string sdir = options_.dir + "/" + std::string(kSealDirName);
  std::vector<std::pair<int64_t, std::string>> seals;
  for (const std::string& name : Names(sdir, false)) {
    int64_t day;
    if (name.size() != 15 || !ParseDayName(name.substr(0, 10), &day)) continue;
    seals.emplace_back(day, name);
  }
  if (seals.empty()) return;
  const int64_t newest = std::max_element(seals.begin(), seals.end())->first;
  for (const auto& [day, name] : seals) {
    if (day == newest || day >= oldest_kept - 1) continue;
    if (unlink((sdir + "/" + name).c_str()) == 0) {
      ++deleted_;
      metrics_->deleted->Inc();
    } else {
      metrics_->errors->Inc();
    }
  }
}

void ArchiveKeeper::PublishUsage(const std::map<std::string, uint64_t>& usage) {
  std::vector<std::pair<uint64_t, std::string>> by_size;
  for (const auto& [host, bytes] : usage) by_size.emplace_back(bytes, host);
  std::sort(by_size.rbegin(), by_size.rend());
  const char* help = "Disk space used by a host's archive files (after the last retention pass).";
  uint64_t other = 0;
  for (size_t i = 0; i < by_size.size(); ++i) {
    if (i < options_.max_host_series) {
      metrics_->registry
          .GetGauge("konseki_archive_disk_bytes", help, {{"host", by_size[i].second}})
          ->Set(static_cast<double>(by_size[i].first));
    } else {
      other += by_size[i].first;
    }
  }
  if (other > 0) {
    metrics_->registry.GetGauge("konseki_archive_disk_bytes", help, {{"host", "_other"}})
        ->Set(static_cast<double>(other));
  }
}

void ArchiveKeeper::CheckSpace() {
  struct statvfs vfs;
  if (statvfs(options_.dir.c_str(), &vfs) != 0) return;
  const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  const uint64_t total = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  metrics_->free_bytes->Set(static_cast<double>(free_bytes));
  const uint64_t threshold =
      options_.low_space_bytes > 0
          ? options_.low_space_bytes
          : static_cast<uint64_t>(static_cast<double>(total) * options_.low_space_percent / 100);
  const bool low = free_bytes < threshold;
  if (low == low_) return;
  low_ = low;
  alerts_.Emit(ArchiveAlert(
      clock_.Now(), low ? "archive.low_space" : "archive.space_ok",
      low ? Severity::kHigh : Severity::kInfo,
      low ? "The archive's file system is nearly full" : "The archive has free space again",
      {{"dir", options_.dir},
       {"free_bytes", std::to_string(free_bytes)},
       {"threshold_bytes", std::to_string(threshold)}}));
}

}  // namespace konseki::outputs
