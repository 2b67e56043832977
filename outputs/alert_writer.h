// Writes alerts as JSON Lines (outputs/alert_json.h) to a file and/or stdout.
#ifndef KONSEKI_OUTPUTS_ALERT_WRITER_H_
#define KONSEKI_OUTPUTS_ALERT_WRITER_H_

#include <memory>
#include <mutex>
#include <string>

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
  AlertWriter(const AlertWriterOptions& options, MetricsRegistry& metrics, int fd);
  bool WriteLine(int fd, const std::string& line);

  const AlertWriterOptions options_;
  MetricsRegistry& metrics_;
  Counter* write_errors_;
  std::mutex mu_;  // guards fd_ and the writes
  int fd_;         // -1 when no file is configured
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ALERT_WRITER_H_
