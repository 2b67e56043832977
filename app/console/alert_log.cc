#include "app/console/alert_log.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "app/console/console_format.h"

namespace konseki::app::console {

bool ParseAlertLine(std::string_view line, AlertRecord* out) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty()) return false;
  auto json = JsonValue::Parse(line);
  if (!json.ok() || !json->is_object()) return false;
  auto t = ParseRfc3339(json->Str("received", json->Str("time")));
  if (!t.ok()) return false;
  out->time = *t;
  if (!ParseSeverity(json->Str("severity"), &out->severity)) out->severity = Severity::kInfo;
  out->sign = json->Str("sign");
  out->host = json->Str("host");
  out->title = json->Str("title");
  out->json = *json;
  return true;
}

bool AlertFilter::Matches(const AlertRecord& a) const {
  if (a.time < since || a.severity < min_severity) return false;
  if (!host.empty() && strcasecmp(host.c_str(), a.host.c_str()) != 0) return false;
  if (sign.empty()) return true;
  if (sign.size() >= 2 && sign.ends_with(".*")) {
    return a.sign.compare(0, sign.size() - 1, sign, 0, sign.size() - 1) == 0;
  }
  return a.sign == sign;
}

// One file of the log, read line by line from the same descriptor on every
// pass: a plain file up to its size at Open, a gzip one (name ending in
// .gz) through zlib, to its end.
class AlertLog::File {
 public:
  static StatusOr<std::unique_ptr<File>> Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int e = errno;
      if (e == ENOENT) return Status::NotFound("no alert file " + path);
      return Status::FromErrno("cannot read " + path, e);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      const int e = errno;
      ::close(fd);
      return Status::FromErrno("cannot read " + path, e);
    }
    gzFile gz = nullptr;
    if (path.ends_with(".gz")) {
      gz = gzdopen(fd, "rb");  // owns fd from here
      if (gz == nullptr) {
        ::close(fd);
        return Status::IoError("cannot read " + path + ": zlib could not open it");
      }
      gzbuffer(gz, 1 << 16);
    }
    return std::unique_ptr<File>(new File(path, fd, gz, st.st_size));
  }
  ~File() {
    if (gz_ != nullptr) {
      gzclose(gz_);
    } else {
      ::close(fd_);
    }
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  // Since the last Rewind: why zlib stopped before the end (empty: it did not).
  const std::string& damage() const { return damage_; }
  void Rewind() {
    if (gz_ != nullptr) gzrewind(gz_);
    damage_.clear();
    offset_ = 0;
    buf_.clear();
    pos_ = 0;
  }
  // The next line without its end (a last line without one included);
  // false at the end. The view lives until the next call.
  bool NextLine(std::string_view* line) {
    for (;;) {
      const size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) {
        *line = std::string_view(buf_).substr(pos_, nl - pos_);
        pos_ = nl + 1;
        return true;
      }
      buf_.erase(0, pos_);
      pos_ = 0;
      if (!Fill()) {
        if (buf_.empty()) return false;
        tail_.swap(buf_);
        buf_.clear();
        *line = tail_;
        return true;
      }
    }
  }

 private:
  // A line longer than this is not one konseki wrote: it is cut into
  // pieces (malformed lines) rather than held whole.
  static constexpr size_t kMaxLine = 16 << 20;

  File(std::string path, int fd, gzFile gz, off_t size)
      : path_(std::move(path)), fd_(fd), gz_(gz), size_(size) {}
  bool Fill() {
    if (gz_ != nullptr) return FillGzip();
    if (offset_ >= size_) return false;
    const size_t want = static_cast<size_t>(std::min<off_t>(size_ - offset_, 1 << 16));
    const size_t old = buf_.size();
    buf_.resize(old + want);
    ssize_t n;
    do {
      n = ::pread(fd_, buf_.data() + old, want, offset_);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      buf_.resize(old);
      size_ = offset_;  // truncated under us: stop here
      return false;
    }
    buf_.resize(old + static_cast<size_t>(n));
    offset_ += n;
    if (buf_.size() > kMaxLine && buf_.find('\n') == std::string::npos) buf_.push_back('\n');
    return true;
  }
  // A damaged or truncated .gz ends where zlib stops understanding it.
  bool FillGzip() {
    const size_t old = buf_.size();
    buf_.resize(old + (1 << 16));
    const int n = gzread(gz_, buf_.data() + old, 1 << 16);
    if (n <= 0) {
      buf_.resize(old);
      int err = Z_OK;
      const char* why = gzerror(gz_, &err);
      // A truncated file reads 0 with Z_BUF_ERROR, a corrupt one -1.
      if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) {
        std::string_view w = why != nullptr && *why != '\0' ? why : "unreadable";
        if (w.starts_with("<fd:") && w.find(">: ") != std::string_view::npos) {
          w.remove_prefix(w.find(">: ") + 3);  // gzdopen's name for the file
        }
        damage_ = w;
      }
      return false;
    }
    buf_.resize(old + static_cast<size_t>(n));
    if (buf_.size() > kMaxLine && buf_.find('\n') == std::string::npos) buf_.push_back('\n');
    return true;
  }

  std::string path_;
  int fd_;
  gzFile gz_;   // nullptr: a plain file
  off_t size_;  // what is read of a plain file
  off_t offset_ = 0;
  std::string buf_;  // read, from pos_ not yet returned
  size_t pos_ = 0;
  std::string tail_;  // the last line when it has no line end
  std::string damage_;
};

AlertLog::~AlertLog() = default;

namespace {

// How far a first pass looks for the first alert of a file.
constexpr int kFirstAlertLines = 1000;
// Rotated files looked at, at most (dist: rotate 30).
constexpr int kMaxRotations = 10000;

// The receive time of the first alert in `f`, or 0 when none is found.
template <typename F>
double FirstAlertTime(F& f) {
  f.Rewind();
  std::string_view line;
  AlertRecord rec;
  double t = 0;
  for (int i = 0; i < kFirstAlertLines && f.NextLine(&line); ++i) {
    if (ParseAlertLine(line, &rec)) {
      t = rec.time;
      break;
    }
  }
  f.Rewind();
  return t;
}

// The rotated files logrotate leaves beside `path`: numbered (`path.1`,
// `path.2.gz`) and dated (dateext: `path-20261205`, `path-20261204.gz`, or
// any dateformat of digits and separators), plain or gzip.
std::vector<std::string> RotatedFiles(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const std::string base = p.filename().string();
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= base.size() + 1 || name.compare(0, base.size(), base) != 0) continue;
    std::string_view rest = std::string_view(name).substr(base.size());
    if (rest.ends_with(".gz")) rest.remove_suffix(3);
    if (rest.size() < 2 || (rest[0] != '.' && rest[0] != '-' && rest[0] != '_')) continue;
    bool digit = false, other = false;
    for (const char c : rest.substr(1)) {
      if (c >= '0' && c <= '9') {
        digit = true;
      } else if (c != '-' && c != '.' && c != '_') {
        other = true;
      }
    }
    if (digit && !other) out.push_back((dir / name).string());
  }
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<AlertLog>> AlertLog::Open(const std::string& path, double since) {
  std::unique_ptr<AlertLog> log(new AlertLog());
  // The current file, then the rotated ones newest first: ordered by their
  // first alert (numbered and dated names sort alike, and a change from one
  // naming to the other keeps the order), by the file's time when it has none.
  struct Candidate {
    std::string name;
    double first = 0;  // the first alert's receive time, 0: none
    double order = 0;  // sort key
  };
  std::vector<Candidate> rotated;
  for (std::string& name : RotatedFiles(path)) {
    if (rotated.size() >= static_cast<size_t>(kMaxRotations)) break;
    Candidate c{std::move(name)};
    if (auto f = File::Open(c.name); f.ok()) c.first = c.order = FirstAlertTime(**f);
    struct stat st;
    if (c.order == 0 && ::stat(c.name.c_str(), &st) == 0) {
      c.order = static_cast<double>(st.st_mtime);
    }
    rotated.push_back(std::move(c));
  }
  std::stable_sort(rotated.begin(), rotated.end(),
                   [](const Candidate& a, const Candidate& b) { return a.order > b.order; });

  std::vector<std::unique_ptr<File>> newest_first;
  double oldest_first_alert = 0;
  bool reached = false;  // a file starts before `since`: older ones are not needed
  auto take = [&](std::unique_ptr<File> f, double first) {
    if (first > 0) oldest_first_alert = first;
    reached = first > 0 && first < since;
    newest_first.push_back(std::move(f));
  };
  auto current = File::Open(path);
  if (current.ok()) {
    const double first = FirstAlertTime(**current);
    take(std::move(current).value(), first);
  } else if (current.status().code() != StatusCode::kNotFound) {
    return current.status();
  }  // else rotated without `create`: the rotations may still be there
  for (const Candidate& c : rotated) {
    if (reached) break;
    auto f = File::Open(c.name);
    if (!f.ok() && f.status().code() == StatusCode::kNotFound) continue;  // removed since
    if (!f.ok()) return f.status();
    take(std::move(f).value(), c.first);
  }
  if (newest_first.empty()) return Status::NotFound("no alert file " + path);
  if (!reached && newest_first.back()->path() != path && oldest_first_alert > since) {
    log->reaches_back_only_to_ = oldest_first_alert;
  }
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
    log->files_.push_back(std::move(*it));
  }
  return log;
}

void AlertLog::ForEach(const AlertFilter& filter, const Visitor& fn,
                       const std::atomic<bool>* stop) {
  malformed_ = 0;
  notes_.clear();
  AlertRecord rec;
  for (auto& f : files_) {
    f->Rewind();
    std::string_view line;
    size_t malformed = 0;
    while (f->NextLine(&line)) {
      if (stop != nullptr && stop->load(std::memory_order_relaxed)) return;
      if (line.empty()) continue;
      if (!ParseAlertLine(line, &rec)) {
        ++malformed;
        continue;
      }
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
      if (filter.Matches(rec)) fn(rec, line);
    }
    malformed_ += malformed;
    if (malformed > 0) {
      notes_.push_back("skipped " + std::to_string(malformed) + " malformed lines in " + f->path());
    }
    if (!f->damage().empty()) {
      notes_.push_back(f->path() + " is damaged (zlib: " + f->damage() +
                       "): its alerts after that point are not read");
    }
  }
}

std::vector<std::string> AlertLog::files() const {
  std::vector<std::string> v;
  for (const auto& f : files_) v.push_back(f->path());
  return v;
}

FileFollower::FileFollower(std::string path) : path_(std::move(path)) { Open(true); }

FileFollower::~FileFollower() {
  if (fd_ >= 0) ::close(fd_);
}

void FileFollower::Open(bool at_end) {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  inode_ = st.st_ino;
  dev_ = st.st_dev;
  offset_ = at_end ? st.st_size : 0;
  partial_.clear();
}

void FileFollower::ReadAvailable(std::vector<std::string>* lines) {
  if (fd_ < 0) return;
  char buf[65536];
  for (;;) {
    ssize_t n = ::pread(fd_, buf, sizeof buf, offset_);
    if (n <= 0) break;
    offset_ += n;
    partial_.append(buf, static_cast<size_t>(n));
  }
  size_t start = 0;
  for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines->push_back(partial_.substr(start, nl - start));
  }
  partial_.erase(0, start);
}

std::vector<std::string> FileFollower::Poll() {
  std::vector<std::string> lines;
  if (fd_ < 0) {
    Open(false);  // created since: read it from the start
    ReadAvailable(&lines);
    return lines;
  }
  ReadAvailable(&lines);
  struct stat st;
  const bool replaced =
      ::stat(path_.c_str(), &st) == 0 && (st.st_ino != inode_ || st.st_dev != dev_);
  struct stat cur;
  const bool truncated = ::fstat(fd_, &cur) == 0 && cur.st_size < offset_;
  if (replaced || truncated) {
    Open(false);
    ReadAvailable(&lines);
  }
  return lines;
}

}  // namespace konseki::app::console
