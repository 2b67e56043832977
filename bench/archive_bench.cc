// Archive throughput against a naive per-host writer, in the same run.
//
//   BM_Archive_Append/<hosts>/<max_open_files>   konseki::outputs::Archive
//   BM_Naive_OfstreamEndl/<hosts>                std::ofstream per host, "<<" and std::endl
//   BM_Naive_Fprintf/<hosts>                     FILE* per host, fprintf (stdio-buffered)
//   BM_Archive_WriteStall/<reserve>/<flush_each_batch>
//                                                batch latency on a disk, syncing (below)
//
// Messages are 256 bytes, hosts are taken round-robin (the worst case for the
// LRU), Archive::Flush runs every 8192 messages like a worker's timer.
// Files go to $KONSEKI_BENCH_DIR, else /dev/shm (tmpfs, so the disk does not
// dominate), else /tmp; each benchmark removes its folder.
//
// allocs_per_msg counts calls of the global operator new (replaced in this
// binary) during the timed loop divided by messages: it shows that the
// archive does not allocate per message in steady state.
// At the end the binary prints Archive/naive throughput ratios.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/message.h"
#include "common/metrics.h"
#include "outputs/archive.h"

// GCC inlines the replaced operators below and then sees free() on memory
// from "new": they are the same malloc/free pair, so the warning is wrong here.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {

std::atomic<uint64_t> g_allocs{0};

}  // namespace

void* operator new(size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace konseki::outputs {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMessageBytes = 256;
constexpr size_t kFlushEvery = 8192;

class TempDir {
 public:
  TempDir() {
    const char* env = std::getenv("KONSEKI_BENCH_DIR");
    std::string base = env ? env : fs::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string tmpl = base + "/konseki_archive_bench_XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct Workload {
  std::vector<std::string> hosts;
  std::string raw;
  explicit Workload(int n) {
    for (int i = 0; i < n; ++i) hosts.push_back("host" + std::to_string(i) + ".example.net");
    raw =
        "<38>Nov 23 08:08:42 host0.example.net sshd[4242]: Failed password for invalid user "
        "admin from 198.51.100.23 port 50522 ssh2";
    while (raw.size() < kMessageBytes) raw += " padding";
    raw.resize(kMessageBytes);
  }
  Message At(size_t i, TimePoint now) const {
    Message m;
    m.raw = raw;
    m.hostname = hosts[i % hosts.size()];
    m.sender = "198.51.100.23";
    m.received = now;
    return m;
  }
};

void BM_Archive_Append(benchmark::State& state) {
  const int n_hosts = static_cast<int>(state.range(0));
  Workload w(n_hosts);
  TempDir dir;
  ArchiveOptions o;
  o.dir = dir.path().string();
  o.sync = SyncPolicy::kNone;
  o.max_open_files = static_cast<size_t>(state.range(1));
  SystemClock clock;
  MetricsRegistry metrics;
  auto archive = Archive::Open(o, clock, metrics);
  if (!archive.ok()) {
    state.SkipWithError(archive.status().ToString().c_str());
    return;
  }
  Archive& a = **archive;
  const TimePoint now = clock.Now();
  // Warm up: every host seen, every file created, buffers sized.
  for (size_t i = 0; i < static_cast<size_t>(n_hosts) * 2; ++i) a.Append(w.At(i, now));
  a.Flush();

  size_t i = 0;
  uint64_t allocs_before = g_allocs.load(std::memory_order_relaxed);
  for (auto _ : state) {
    Status st = a.Append(w.At(i, now));
    benchmark::DoNotOptimize(st);
    if (++i % kFlushEvery == 0) a.Flush();
  }
  a.Flush();
  uint64_t allocs = g_allocs.load(std::memory_order_relaxed) - allocs_before;
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kMessageBytes));
  state.counters["allocs_per_msg"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(state.iterations()));
  if (metrics.ValueOf("konseki_archive_written_messages_total") <
      static_cast<double>(state.iterations())) {
    state.SkipWithError("archive lost messages");
  }
}

// The naive peers: one file per host opened on its first message (by
// open(path)), then write(file, message, timestamp) per message; close(file)
// at the end. Counts the same items, bytes and allocations as the archive.
template <typename File, typename OpenFn, typename WriteFn, typename CloseFn>
void RunNaive(benchmark::State& state, OpenFn open, WriteFn write, CloseFn close) {
  const int n_hosts = static_cast<int>(state.range(0));
  Workload w(n_hosts);
  TempDir dir;
  std::unordered_map<std::string, File> files;
  SystemClock clock;
  const TimePoint now = clock.Now();
  const std::string date = FormatUtcDate(now);
  size_t i = 0;
  uint64_t allocs_before = g_allocs.load(std::memory_order_relaxed);
  for (auto _ : state) {
    Message m = w.At(i++, now);
    std::string host(m.host());
    auto it = files.find(host);
    if (it == files.end()) {
      fs::create_directories(dir.path() / host);
      it = files.emplace(host, open(dir.path() / host / (date + ".log"))).first;
    }
    write(it->second, m);
  }
  uint64_t allocs = g_allocs.load(std::memory_order_relaxed) - allocs_before;
  for (auto& [h, f] : files) close(f);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kMessageBytes));
  state.counters["allocs_per_msg"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(state.iterations()));
}

void BM_Naive_OfstreamEndl(benchmark::State& state) {
  RunNaive<std::ofstream>(
      state, [](const fs::path& p) { return std::ofstream(p, std::ios::app); },
      [](std::ofstream& f, const Message& m) {
        f << FormatRfc3339Micros(m.received) << ' ' << m.sender << ' ' << m.raw << std::endl;
      },
      [](std::ofstream&) {});
}

void BM_Naive_Fprintf(benchmark::State& state) {
  RunNaive<FILE*>(
      state,
      [](const fs::path& p) {
        FILE* f = std::fopen(p.c_str(), "a");
        if (f == nullptr) std::abort();
        return f;
      },
      [](FILE* f, const Message& m) {
        std::string ts = FormatRfc3339Micros(m.received);
        std::fprintf(f, "%s %.*s %.*s\n", ts.c_str(), static_cast<int>(m.sender.size()),
                     m.sender.data(), static_cast<int>(m.raw.size()), m.raw.data());
      },
      [](FILE* f) { std::fclose(f); });
}

// What a worker's batch waits for on a real disk: 16 hosts' lines at a
// steady 400,000 messages/s (100 MB/s, the UDP blaster's rate), batches of
// 512, the default sync (a syncfs per second on the archive's own thread).
// Args: ArchiveOptions::reserve_ahead (0/1), and the flush: 0 every second,
// as a worker under load flushes (its flush_interval; the buffers are
// written when they fill up), 1 after every batch (a worker with RELP acks
// waiting, or archive.sync: batch).
// Counters: the slowest batch and the batches that took over 5 and 16 ms
// (a 4 MiB UDP buffer holds ~16 ms of that rate); and, since on a shared
// machine a batch also waits for a CPU, the batches that were blocked
// (off the CPU and not waiting for one: the disk) over 5 ms and the most
// blocked time of a batch: wall time less the thread's run time and
// run-queue wait (/proc/thread-self/schedstat), so the other processes'
// load does not count.
// Files go to $KONSEKI_BENCH_DISK_DIR, else /var/tmp: a disk, not tmpfs.
// Run with --benchmark_min_time=20 (a few syncs' worth); the load runs at
// its rate whatever the machine, so the time is wall time.
void BM_Archive_WriteStall(benchmark::State& state) {
  constexpr size_t kBatch = 512;
  constexpr auto kBatchEvery = std::chrono::nanoseconds(kBatch * 1'000'000'000 / 400'000);
  Workload w(16);
  const char* env = std::getenv("KONSEKI_BENCH_DISK_DIR");
  std::string tmpl = std::string(env ? env : "/var/tmp") + "/konseki_stall_bench_XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    state.SkipWithError("cannot make a folder in $KONSEKI_BENCH_DISK_DIR or /var/tmp");
    return;
  }
  const fs::path dir = tmpl;
  ArchiveOptions o;
  o.dir = (dir / "archive").string();
  o.sync = SyncPolicy::kInterval;
  o.reserve_ahead = state.range(0) != 0;
  const bool flush_each_batch = state.range(1) != 0;
  SystemClock clock;
  MetricsRegistry metrics;
  auto archive = Archive::Open(o, clock, metrics);
  if (!archive.ok()) {
    state.SkipWithError(archive.status().ToString().c_str());
    fs::remove_all(dir);
    return;
  }
  Archive& a = **archive;
  size_t i = 0;
  std::vector<double> batch_ms;
  std::vector<double> blocked_ms;
  // "<run ns> <run-queue wait ns> <slices>" of this thread.
  const int schedstat = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  const auto on_or_waiting_for_cpu_ns = [schedstat]() -> int64_t {
    char buf[96];
    const ssize_t n = schedstat < 0 ? -1 : pread(schedstat, buf, sizeof(buf) - 1, 0);
    if (n <= 0) return -1;
    buf[n] = '\0';
    unsigned long long run = 0, wait = 0;
    if (std::sscanf(buf, "%llu %llu", &run, &wait) != 2) return -1;
    return static_cast<int64_t>(run + wait);
  };
  auto next = std::chrono::steady_clock::now();
  auto last_flush = next;
  for (auto _ : state) {
    const TimePoint now = clock.Now();
    const int64_t cpu_before = on_or_waiting_for_cpu_ns();
    const auto start = std::chrono::steady_clock::now();
    for (size_t k = 0; k < kBatch; ++k) a.Append(w.At(i++, now));
    if (flush_each_batch || start - last_flush >= std::chrono::seconds(1)) {
      a.Flush();
      last_flush = start;
    }
    const auto end = std::chrono::steady_clock::now();
    const int64_t cpu_after = on_or_waiting_for_cpu_ns();
    batch_ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    if (cpu_before >= 0 && cpu_after >= 0) {
      blocked_ms.push_back(std::max(0.0, batch_ms.back() - (cpu_after - cpu_before) / 1e6));
    }
    next += kBatchEvery;
    if (next > end) {
      std::this_thread::sleep_until(next);
    } else {
      next = end;  // behind (a stall): the sender does not catch up faster
    }
  }
  a.Flush();
  state.SetItemsProcessed(static_cast<int64_t>(i));
  std::sort(batch_ms.begin(), batch_ms.end());
  const auto over = [&batch_ms](double ms) {
    return static_cast<double>(batch_ms.end() -
                               std::upper_bound(batch_ms.begin(), batch_ms.end(), ms));
  };
  state.counters["max_batch_ms"] = batch_ms.empty() ? 0 : batch_ms.back();
  state.counters["p999_batch_ms"] = batch_ms.empty() ? 0 : batch_ms[batch_ms.size() * 999 / 1000];
  state.counters["batches_over_5ms"] = over(5);
  state.counters["batches_over_16ms"] = over(16);
  std::sort(blocked_ms.begin(), blocked_ms.end());
  state.counters["blocked_over_5ms"] = static_cast<double>(
      blocked_ms.end() - std::upper_bound(blocked_ms.begin(), blocked_ms.end(), 5.0));
  state.counters["max_blocked_ms"] = blocked_ms.empty() ? 0 : blocked_ms.back();
  if (schedstat >= 0) close(schedstat);
  archive->reset();
  fs::remove_all(dir);
}

BENCHMARK(BM_Archive_WriteStall)
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// {hosts, max_open_files}: all files open, then 1000 hosts through 256 fds.
BENCHMARK(BM_Archive_Append)->Args({1, 256})->Args({1000, 1024})->Args({1000, 256});
BENCHMARK(BM_Naive_OfstreamEndl)->Arg(1)->Arg(1000);
BENCHMARK(BM_Naive_Fprintf)->Arg(1)->Arg(1000);

// Console output plus a ratio table at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    // With --benchmark_repetitions the median is used, otherwise the run.
    for (const Run& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rates_[r.run_name.str()] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    auto rate = [&](const std::string& name) {
      auto it = rates_.find(name);
      return it == rates_.end() ? 0.0 : it->second;
    };
    const char* pairs[][2] = {
        {"BM_Archive_Append/1/256", "BM_Naive_OfstreamEndl/1"},
        {"BM_Archive_Append/1/256", "BM_Naive_Fprintf/1"},
        {"BM_Archive_Append/1000/1024", "BM_Naive_OfstreamEndl/1000"},
        {"BM_Archive_Append/1000/1024", "BM_Naive_Fprintf/1000"},
        {"BM_Archive_Append/1000/256", "BM_Naive_OfstreamEndl/1000"},
        {"BM_Archive_Append/1000/256", "BM_Naive_Fprintf/1000"},
    };
    for (const auto& p : pairs) {
      double a = rate(p[0]), b = rate(p[1]);
      if (a > 0 && b > 0) std::printf("ratio %-28s / %-27s = %.2fx\n", p[0], p[1], a / b);
    }
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace
}  // namespace konseki::outputs

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  konseki::outputs::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
