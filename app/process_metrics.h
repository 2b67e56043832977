// The standard process_* metrics of Prometheus client libraries, read from
// /proc at scrape time:
//   process_cpu_seconds_total        user + system CPU time
//   process_resident_memory_bytes    RSS
//   process_virtual_memory_bytes
//   process_open_fds, process_max_fds
//   process_start_time_seconds       Unix time the process started
// /proc/self/stat and /proc/self/fd are opened at registration, so the
// metrics keep working after a chroot without /proc.
#ifndef KONSEKI_APP_PROCESS_METRICS_H_
#define KONSEKI_APP_PROCESS_METRICS_H_

#include <memory>

#include "common/metrics.h"

namespace konseki::app {

// Registers the callbacks on `metrics`. The returned object owns the /proc
// descriptors and must outlive the registry's scrapes (the callbacks hold a
// shared reference to it, so destroying the handle early is safe too).
class ProcessMetrics {
 public:
  static std::shared_ptr<ProcessMetrics> Register(MetricsRegistry& metrics);
  ~ProcessMetrics();
  ProcessMetrics(const ProcessMetrics&) = delete;
  ProcessMetrics& operator=(const ProcessMetrics&) = delete;

  struct Values {
    double cpu_seconds = 0;
    double resident_bytes = 0;
    double virtual_bytes = 0;
    double open_fds = 0;
    double max_fds = 0;
    double start_time_seconds = 0;
  };
  // Thread-safe (pread and a private directory stream under a mutex).
  Values Read() const;

 private:
  ProcessMetrics();
  int stat_fd_ = -1;
  int fd_dir_fd_ = -1;
  double boot_time_ = 0;  // from /proc/stat btime
  long ticks_per_sec_ = 100;
  long page_bytes_ = 4096;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_PROCESS_METRICS_H_
