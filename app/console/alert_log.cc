#include "app/console/alert_log.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

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

StatusOr<std::vector<AlertRecord>> ReadAlerts(const std::string& path, const AlertFilter& filter,
                                              size_t* malformed) {
  std::vector<AlertRecord> out;
  bool found = false;
  for (const std::string& p : {path + ".1", path}) {
    std::ifstream in(p);
    if (!in) continue;
    found = true;
    std::string line;
    AlertRecord rec;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      if (!ParseAlertLine(line, &rec)) {
        ++*malformed;
        continue;
      }
      if (filter.Matches(rec)) out.push_back(rec);
    }
  }
  if (!found) return Status::NotFound("no alert file " + path);
  return out;
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
