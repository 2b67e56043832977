#include "outputs/alert_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "outputs/alert_json.h"

namespace konseki::outputs {
namespace {

constexpr mode_t kFileMode = 0640;

StatusOr<int> OpenAlertFile(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, kFileMode);
  if (fd < 0) {
    return Status::FromErrno("alerts.file: cannot open " + path +
                                 " for appending (check that its folder exists and is writable)",
                             errno);
  }
  return fd;
}

// True when the file at `path` is not empty and its last byte is not a
// newline: a write cut short (a full disk, a crash) left part of a line.
bool EndsMidLine(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  char last = '\n';
  if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1) {
    last = '\n';
  }
  close(fd);
  return last != '\n';
}

}  // namespace

StatusOr<std::unique_ptr<AlertWriter>> AlertWriter::Open(const AlertWriterOptions& options,
                                                         MetricsRegistry& metrics) {
  int fd = -1;
  if (!options.path.empty()) {
    StatusOr<int> f = OpenAlertFile(options.path);
    if (!f.ok()) return f.status();
    fd = *f;
  }
  const bool torn = fd >= 0 && EndsMidLine(options.path);
  return std::unique_ptr<AlertWriter>(new AlertWriter(options, metrics, fd, torn));
}

AlertWriter::AlertWriter(const AlertWriterOptions& options, MetricsRegistry& metrics, int fd,
                         bool torn)
    : options_(options),
      metrics_(metrics),
      write_errors_(metrics.GetCounter("konseki_alert_write_errors_total",
                                       "Alert lines that could not be written completely.")),
      fd_(fd),
      torn_(torn) {}

AlertWriter::~AlertWriter() {
  if (fd_ >= 0) close(fd_);
}

size_t AlertWriter::WriteLine(int fd, std::string_view line) {
  size_t off = 0;
  while (off < line.size()) {
    ssize_t w = write(fd, line.data() + off, line.size() - off);
    if (w > 0) {
      off += static_cast<size_t>(w);
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      const int err = w == 0 ? ENOSPC : errno;  // a regular file writes 0 only when full
      write_errors_->Inc();
      errno = err;
      break;
    }
  }
  return off;
}

void AlertWriter::WriteToFile(const std::string& line) {
  // After a fragment, one write of "\n" + line: the fragment ends as a line
  // of its own (the copy is rare, and cheap next to the JSON).
  std::string after_fragment;
  if (torn_) after_fragment.append(1, '\n').append(line);
  const std::string_view text = torn_ ? std::string_view(after_fragment) : std::string_view(line);
  const size_t n = WriteLine(fd_, text);
  if (n == text.size()) {
    torn_ = false;
    if (lost_ > 0) {
      Log(LogLevel::kWarning, "alerts file %s: writing again; %llu alerts were lost before",
          options_.path.c_str(), static_cast<unsigned long long>(lost_));
      lost_ = 0;
    }
    return;
  }
  const int err = errno;
  // Only the newline written: the fragment is ended, nothing new is torn.
  if (n > 0) torn_ = !(torn_ && n == 1);
  if (lost_++ == 0) {
    Log(LogLevel::kError,
        "alerts file %s: cannot write: %s; alerts are lost until it can "
        "(konseki_alert_write_errors_total)",
        options_.path.c_str(), std::strerror(err));
  }
}

void AlertWriter::Emit(const Alert& alert) {
  // Registry lookups take its lock; alerts are rare enough for that.
  metrics_
      .GetCounter("konseki_alerts_total", "Alerts raised, by sign and severity.",
                  {{"sign", alert.sign}, {"severity", SeverityName(alert.severity)}})
      ->Inc();
  std::string line = AlertToJson(alert);
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) WriteToFile(line);
  if (options_.to_stdout) WriteLine(options_.stdout_fd, line);
}

Status AlertWriter::Reopen() {
  if (options_.path.empty()) return Status::Ok();
  StatusOr<int> f = OpenAlertFile(options_.path);
  if (!f.ok()) return f.status();
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) close(fd_);
  fd_ = *f;
  torn_ = EndsMidLine(options_.path);
  return Status::Ok();
}

}  // namespace konseki::outputs
