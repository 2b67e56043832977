// How many CPUs konseki may use, for the defaults that scale with them
// (`workers`, the threads of `konseki verify` and `konseki search`).
#ifndef KONSEKI_COMMON_USABLE_CPUS_H_
#define KONSEKI_COMMON_USABLE_CPUS_H_

#include <string>
#include <string_view>

namespace konseki {

// The CPUs of the calling thread's affinity mask (taskset, systemd's
// CPUAffinity=, a container's cpuset), no more than the cgroup v2 CPU quota
// of the process allows (systemd's CPUQuota=, `docker run --cpus`), rounded
// up; at least 1. std::thread::hardware_concurrency() counts every CPU of the
// machine, so a konseki confined to one CPU would start a thread per CPU it
// cannot run on.
unsigned UsableCpus();

// The quota part, readable without a cgroup: `proc_self_cgroup` is the text
// of /proc/self/cgroup, `cgroup_root` where the hierarchies are mounted
// (/sys/fs/cgroup). cgroup v2 ("0::<path>"): every cgroup from the process's
// own up to the root may hold a `cpu.max` ("max 100000" or "<quota>
// <period>"). cgroup v1 (the line naming the `cpu` controller, mounted at
// <root>/<controllers>): cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us.
// The smallest ceil(quota / period) wins; 0: no quota anywhere.
unsigned CgroupCpuQuota(const std::string& cgroup_root, std::string_view proc_self_cgroup);

}  // namespace konseki

#endif  // KONSEKI_COMMON_USABLE_CPUS_H_
