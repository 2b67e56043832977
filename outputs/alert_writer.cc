#include "outputs/alert_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

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

}  // namespace

StatusOr<std::unique_ptr<AlertWriter>> AlertWriter::Open(const AlertWriterOptions& options,
                                                         MetricsRegistry& metrics) {
  int fd = -1;
  if (!options.path.empty()) {
    StatusOr<int> f = OpenAlertFile(options.path);
    if (!f.ok()) return f.status();
    fd = *f;
  }
  return std::unique_ptr<AlertWriter>(new AlertWriter(options, metrics, fd));
}

AlertWriter::AlertWriter(const AlertWriterOptions& options, MetricsRegistry& metrics, int fd)
    : options_(options),
      metrics_(metrics),
      write_errors_(metrics.GetCounter("konseki_alert_write_errors_total",
                                       "Alert lines that could not be written completely.")),
      fd_(fd) {}

AlertWriter::~AlertWriter() {
  if (fd_ >= 0) close(fd_);
}

bool AlertWriter::WriteLine(int fd, const std::string& line) {
  size_t off = 0;
  while (off < line.size()) {
    ssize_t w = write(fd, line.data() + off, line.size() - off);
    if (w > 0) {
      off += static_cast<size_t>(w);
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      write_errors_->Inc();
      return false;
    }
  }
  return true;
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
  if (fd_ >= 0) WriteLine(fd_, line);
  if (options_.to_stdout) WriteLine(options_.stdout_fd, line);
}

Status AlertWriter::Reopen() {
  if (options_.path.empty()) return Status::Ok();
  StatusOr<int> f = OpenAlertFile(options_.path);
  if (!f.ok()) return f.status();
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) close(fd_);
  fd_ = *f;
  return Status::Ok();
}

}  // namespace konseki::outputs
