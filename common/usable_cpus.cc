#include "common/usable_cpus.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <thread>

namespace konseki {
namespace {

// ceil(quota / period), or 0 when either is not a positive number (v2's
// "max", v1's -1, a missing or malformed file).
unsigned Ceil(std::string_view quota, std::string_view period) {
  unsigned long long q = 0, p = 0;
  if (std::from_chars(quota.data(), quota.data() + quota.size(), q).ec != std::errc() ||
      std::from_chars(period.data(), period.data() + period.size(), p).ec != std::errc() ||
      q == 0 || p == 0) {
    return 0;
  }
  return static_cast<unsigned>(std::max(1ULL, (q + p - 1) / p));
}

std::string FirstWord(const std::string& file) {
  std::ifstream in(file);
  std::string word;
  in >> word;
  return word;
}

// cgroup v2: "<quota> <period>" or "max <period>" in cpu.max.
unsigned V2Quota(const std::string& dir) {
  std::ifstream in(dir + "cpu.max");
  std::string quota, period;
  if (!(in >> quota >> period)) return 0;
  return Ceil(quota, period);
}

// cgroup v1 (the cpu controller's hierarchy): cpu.cfs_quota_us (-1: none)
// and cpu.cfs_period_us.
unsigned V1Quota(const std::string& dir) {
  return Ceil(FirstWord(dir + "cpu.cfs_quota_us"), FirstWord(dir + "cpu.cfs_period_us"));
}

// The smallest quota of `path` and its parents, `hierarchy` + path being
// each cgroup's folder.
unsigned SmallestUpTheTree(const std::string& hierarchy, std::string_view path,
                           unsigned (*quota_of)(const std::string&)) {
  unsigned limit = 0;
  while (!path.empty() && path.front() == '/') {
    std::string dir = hierarchy + std::string(path);
    if (!dir.ends_with('/')) dir += '/';
    const unsigned q = quota_of(dir);
    if (q > 0 && (limit == 0 || q < limit)) limit = q;
    if (path == "/") break;
    const size_t slash = path.rfind('/');
    path = slash == 0 ? std::string_view("/") : path.substr(0, slash);
  }
  return limit;
}

bool NamesCpuController(std::string_view controllers) {
  while (!controllers.empty()) {
    const size_t comma = std::min(controllers.find(','), controllers.size());
    if (controllers.substr(0, comma) == "cpu") return true;
    controllers.remove_prefix(std::min(comma + 1, controllers.size()));
  }
  return false;
}

}  // namespace

unsigned CgroupCpuQuota(const std::string& cgroup_root, std::string_view proc_self_cgroup) {
  unsigned limit = 0;
  const auto take = [&limit](unsigned q) {
    if (q > 0 && (limit == 0 || q < limit)) limit = q;
  };
  std::string_view text = proc_self_cgroup;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    // "<id>:<controllers>:<path>"; v2 is "0::<path>".
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    const std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    const std::string_view path = line.substr(c2 + 1);
    if (controllers.empty()) {
      take(SmallestUpTheTree(cgroup_root, path, V2Quota));
    } else if (NamesCpuController(controllers)) {
      take(SmallestUpTheTree(cgroup_root + "/" + std::string(controllers), path, V1Quota));
    }
  }
  return limit;
}

unsigned UsableCpus() {
  unsigned n = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = static_cast<unsigned>(CPU_COUNT(&set));
  if (n == 0) n = std::thread::hardware_concurrency();
  std::ifstream in("/proc/self/cgroup");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const unsigned quota = CgroupCpuQuota("/sys/fs/cgroup", text);
  if (quota > 0) n = std::min(n, quota);
  return std::max(1u, n);
}

}  // namespace konseki
