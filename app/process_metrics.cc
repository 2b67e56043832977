#include "app/process_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace konseki::app {
namespace {

double ReadBootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

ProcessMetrics::ProcessMetrics()
    : stat_fd_(::open("/proc/self/stat", O_RDONLY | O_CLOEXEC)),
      fd_dir_fd_(::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
      boot_time_(ReadBootTime()),
      ticks_per_sec_(sysconf(_SC_CLK_TCK)),
      page_bytes_(sysconf(_SC_PAGESIZE)) {}

ProcessMetrics::~ProcessMetrics() {
  if (stat_fd_ >= 0) ::close(stat_fd_);
  if (fd_dir_fd_ >= 0) ::close(fd_dir_fd_);
}

ProcessMetrics::Values ProcessMetrics::Read() const {
  Values v;
  char buf[2048];
  ssize_t n = stat_fd_ >= 0 ? ::pread(stat_fd_, buf, sizeof buf - 1, 0) : -1;
  if (n > 0) {
    buf[n] = '\0';
    // Fields after the ")" that ends the command name (which may hold spaces).
    const char* p = std::strrchr(buf, ')');
    std::vector<std::string> f;
    if (p != nullptr) {
      std::istringstream in(p + 2);
      std::string field;
      while (in >> field) f.push_back(field);
    }
    // f[0] is field 3 (state): utime 14, stime 15, starttime 22, vsize 23, rss 24.
    if (f.size() > 21) {
      const double tps = static_cast<double>(ticks_per_sec_ > 0 ? ticks_per_sec_ : 100);
      v.cpu_seconds =
          (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / tps;
      v.start_time_seconds = boot_time_ + std::strtod(f[19].c_str(), nullptr) / tps;
      v.virtual_bytes = std::strtod(f[20].c_str(), nullptr);
      v.resident_bytes = std::strtod(f[21].c_str(), nullptr) * static_cast<double>(page_bytes_);
    }
  }
  if (fd_dir_fd_ >= 0) {
    // A private descriptor per call: readdir on a shared stream is not thread-safe.
    int dup_fd = ::openat(fd_dir_fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (DIR* d = dup_fd >= 0 ? ::fdopendir(dup_fd) : nullptr; d != nullptr) {
      size_t count = 0;
      while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') ++count;
      }
      ::closedir(d);
      v.open_fds = static_cast<double>(count > 0 ? count - 1 : 0);  // minus the one reading
    } else if (dup_fd >= 0) {
      ::close(dup_fd);
    }
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) v.max_fds = static_cast<double>(rl.rlim_cur);
  return v;
}

std::shared_ptr<ProcessMetrics> ProcessMetrics::Register(MetricsRegistry& metrics) {
  std::shared_ptr<ProcessMetrics> pm(new ProcessMetrics());
  metrics.AddCounterCallback("process_cpu_seconds_total",
                             "Total user and system CPU time spent in seconds.",
                             [pm](std::vector<Sample>* out) {
                               out->push_back({{}, pm->Read().cpu_seconds});
                             });
  auto add = [&](const char* name, const char* help, double Values::*field) {
    metrics.AddGaugeCallback(name, help, [pm, field](std::vector<Sample>* out) {
      out->push_back({{}, pm->Read().*field});
    });
  };
  add("process_resident_memory_bytes", "Resident memory size in bytes.", &Values::resident_bytes);
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.", &Values::virtual_bytes);
  add("process_open_fds", "Number of open file descriptors.", &Values::open_fds);
  add("process_max_fds", "Maximum number of open file descriptors.", &Values::max_fds);
  add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
      &Values::start_time_seconds);
  return pm;
}

}  // namespace konseki::app
