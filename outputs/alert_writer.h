// Writes alerts as JSON Lines (outputs/alert_json.h) to a file and/or stdout.
#ifndef KONSEKI_OUTPUTS_ALERT_WRITER_H_
#define KONSEKI_OUTPUTS_ALERT_WRITER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/alert.h"
#include "common/metrics.h"
#include "common/status.h"

namespace konseki::outputs {

struct AlertWriterOptions {
  // alerts.file: appended to, created 0640 if missing (its folder must
  // exist). Empty: no file.
  std::string path;
  // alerts.stdout: also write each line to standard output.
  bool to_stdout = false;
  // Where "stdout" goes; tests point it at a pipe. Not owned, not closed.
  int stdout_fd = 1;
};

// Thread-safe: Emit and Reopen may be called from any thread; mu_ guards the
// file descriptor, so lines from concurrent emitters never interleave.
// Each line is handed to the kernel with one write() per output before Emit
// returns (alerts are rare; no userspace buffering, nothing lost on a crash
// of the process). Counts konseki_alerts_total{sign,severity} for every alert
// and konseki_alert_write_errors_total for every failed or short write.
//
// A write the file system cuts short (disk or quota full, RLIMIT_FSIZE) leaves
// part of a line at the file's end; so may a crash, or a full disk before a
// restart (Open and Reopen look at the file's last byte). The next line is
// then written after a newline, so the fragment stays a malformed line of its
// own (`konseki alerts` skips and counts it) instead of swallowing the next
// alert. The first failure of an episode is logged (error), and so is the
// first write that succeeds after it, with how many alerts were lost.
// Not copyable. The MetricsRegistry must outlive the writer.
class AlertWriter final : public AlertSink {
 public:
  // Fails with a message naming the path when the file cannot be opened.
  static StatusOr<std::unique_ptr<AlertWriter>> Open(const AlertWriterOptions& options,
                                                     MetricsRegistry& metrics);
  ~AlertWriter() override;

  AlertWriter(const AlertWriter&) = delete;
  AlertWriter& operator=(const AlertWriter&) = delete;

  void Emit(const Alert& alert) override;

  // Closes and reopens the file by path (SIGHUP after logrotate). On failure
  // the old descriptor is kept and the error returned.
  Status Reopen();

 private:
  AlertWriter(const AlertWriterOptions& options, MetricsRegistry& metrics, int fd, bool torn);
  // Bytes of `line` written to fd before a failure (line.size(): all).
  size_t WriteLine(int fd, std::string_view line);
  void WriteToFile(const std::string& line);  // mu_ held

  const AlertWriterOptions options_;
  MetricsRegistry& metrics_;
  Counter* write_errors_;
  std::mutex mu_;      // guards fd_ and the writes
  int fd_;             // -1 when no file is configured
  bool torn_;          // the file ends in part of a line; guarded by mu_
  uint64_t lost_ = 0;  // alerts not written whole since the last success; mu_
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ALERT_WRITER_H_
