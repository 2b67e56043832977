// Heartbeat costs, each against a peer in the same run:
//  - BM_HeartbeatTracker_Observe vs BM_PlainLastSeenMap_Observe (a bare
//    case-sensitive unordered_map<string, int64> of last-seen times, the
//    least any tracker must do) and BM_NaiveLastSeenMap_Observe (the same map
//    keyed by a std::string built per message).
//  - BM_HeartbeatTracker_TickSteady vs BM_LinearScan_TickSteady: the timer
//    cost of five simulated minutes (hosts send every 10 s, Tick every
//    second, threshold 300 s = the default floor), thread CPU time inside
//    Tick only, against scanning every host record (the same HostState the
//    tracker keeps) each second.
#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/message.h"
#include "common/metrics.h"
#include "matchers/heartbeat_tracker.h"

namespace konseki::matchers {
namespace {

// Thread CPU seconds: the machine may be shared, so wall time would count
// other processes' time.
double ThreadCpuSecs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

class NullSink final : public AlertSink {
 public:
  void Emit(const Alert&) override { ++alerts; }
  size_t alerts = 0;
};

// Messages from n hosts in a shuffled round-robin order; the strings are
// owned here, the Messages view them.
struct Traffic {
  explicit Traffic(size_t hosts) {
    names.reserve(hosts);
    raws.reserve(hosts);
    for (size_t i = 0; i < hosts; ++i) {
      names.push_back("host-" + std::to_string(i) + ".example.net");
      raws.push_back("<30>1 2026-11-23T08:00:00.000Z " + names.back() +
                     " sshd 4242 - - Accepted publickey for deploy from 198.51.100.4 port 52514");
    }
    order.resize(hosts);
    for (size_t i = 0; i < hosts; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
    msgs.resize(hosts);
    for (size_t i = 0; i < hosts; ++i) {
      Message& m = msgs[i];
      m.format = MessageFormat::kRfc5424;
      m.raw = raws[i];
      m.hostname = names[i];
      m.app_name = "sshd";
      m.procid = "4242";
      m.sender = "192.0.2.1";
      m.has_timestamp = true;
    }
  }
  std::vector<std::string> names, raws;
  std::vector<size_t> order;
  std::vector<Message> msgs;
};

void BM_HeartbeatTracker_Observe(benchmark::State& state) {
  const size_t hosts = static_cast<size_t>(state.range(0));
  Traffic traffic(hosts);
  FakeClock clock;
  NullSink sink;
  MetricsRegistry metrics;
  HeartbeatOptions options;
  HeartbeatTracker tracker(options, 0, 1, clock, sink, metrics);
  TimePoint now = clock.Now();
  for (Message& m : traffic.msgs) {  // all hosts known before timing
    m.received = m.timestamp = now;
    tracker.Observe(m);
  }
  size_t i = 0;
  for (auto _ : state) {
    Message& m = traffic.msgs[traffic.order[i]];
    now += std::chrono::microseconds(100);  // 10,000 messages/s
    m.received = m.timestamp = now;
    tracker.Observe(m);
    if (++i == hosts) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["hosts"] = static_cast<double>(tracker.hosts_tracked());
}
BENCHMARK(BM_HeartbeatTracker_Observe)->Arg(100)->Arg(10000)->Arg(100000);

// Case-insensitive in konseki; here a plain map: the floor, not a rival.
struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

void BM_PlainLastSeenMap_Observe(benchmark::State& state) {
  const size_t hosts = static_cast<size_t>(state.range(0));
  Traffic traffic(hosts);
  std::unordered_map<std::string, int64_t, TransparentHash, std::equal_to<>> last_seen;
  for (const std::string& n : traffic.names) last_seen.emplace(n, 0);
  int64_t now = 0;
  size_t i = 0;
  for (auto _ : state) {
    const Message& m = traffic.msgs[traffic.order[i]];
    now += 100'000;
    auto it = last_seen.find(m.host());
    if (it != last_seen.end()) it->second = now;
    benchmark::DoNotOptimize(it);
    if (++i == hosts) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PlainLastSeenMap_Observe)->Arg(100)->Arg(10000)->Arg(100000);

void BM_NaiveLastSeenMap_Observe(benchmark::State& state) {
  const size_t hosts = static_cast<size_t>(state.range(0));
  Traffic traffic(hosts);
  std::unordered_map<std::string, int64_t> last_seen;
  int64_t now = 0;
  size_t i = 0;
  for (auto _ : state) {
    const Message& m = traffic.msgs[traffic.order[i]];
    now += 100'000;
    last_seen[std::string(m.host())] = now;
    if (++i == hosts) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NaiveLastSeenMap_Observe)->Arg(100)->Arg(10000)->Arg(100000);

constexpr int kSimulatedSecs = 300;

// One iteration = five simulated minutes: every host sends every 10 s (spread
// evenly), Tick every second. Only the CPU time inside Tick is counted;
// items = host-seconds watched, so items/s is how many hosts one core could
// keep deadlines for, per second of their life.
void BM_HeartbeatTracker_TickSteady(benchmark::State& state) {
  const size_t hosts = static_cast<size_t>(state.range(0));
  Traffic traffic(hosts);
  FakeClock clock;
  NullSink sink;
  MetricsRegistry metrics;
  HeartbeatOptions options;
  options.silence_after_secs = 300;
  options.metrics_interval_secs = 1e9;  // the O(hosts) snapshot is not the timer
  HeartbeatTracker tracker(options, 0, 1, clock, sink, metrics);
  const size_t per_second = (hosts + 9) / 10;
  size_t next = 0;
  for (auto _ : state) {
    double inside = 0;
    for (int sec = 0; sec < kSimulatedSecs; ++sec) {
      TimePoint now = clock.Now();
      for (size_t k = 0; k < per_second; ++k) {
        Message& m = traffic.msgs[traffic.order[next]];
        m.received = m.timestamp = now;
        tracker.Observe(m);
        if (++next == hosts) next = 0;
      }
      clock.Advance(std::chrono::seconds(1));
      double t0 = ThreadCpuSecs();
      tracker.Tick();
      inside += ThreadCpuSecs() - t0;
    }
    state.SetIterationTime(inside);
  }
  if (sink.alerts != 0) state.SkipWithError("unexpected alerts");
  state.SetItemsProcessed(state.iterations() * kSimulatedSecs * static_cast<int64_t>(hosts));
  state.counters["heap"] = static_cast<double>(tracker.deadline_entries());
}
// Observe runs untimed between the ticks, so bound the iterations.
BENCHMARK(BM_HeartbeatTracker_TickSteady)->Arg(10000)->Arg(100000)->UseManualTime()->Iterations(4);

void BM_LinearScan_TickSteady(benchmark::State& state) {
  const size_t hosts = static_cast<size_t>(state.range(0));
  std::vector<HostState> records(hosts);
  for (size_t i = 0; i < hosts; ++i) records[i].name = "host-" + std::to_string(i) + ".example.net";
  const int64_t threshold = 300'000'000'000;
  const size_t per_second = (hosts + 9) / 10;
  size_t next = 0;
  int64_t now = 0;
  size_t fired = 0;
  for (auto _ : state) {
    double inside = 0;
    for (int sec = 0; sec < kSimulatedSecs; ++sec) {
      for (size_t k = 0; k < per_second; ++k) {
        records[next].last_seen_ns = now;
        if (++next == hosts) next = 0;
      }
      now += 1'000'000'000;
      double t0 = ThreadCpuSecs();
      for (const HostState& r : records) fired += !r.silent && r.last_seen_ns + threshold <= now;
      inside += ThreadCpuSecs() - t0;
    }
    state.SetIterationTime(inside);
  }
  benchmark::DoNotOptimize(fired);
  state.SetItemsProcessed(state.iterations() * kSimulatedSecs * static_cast<int64_t>(hosts));
}
BENCHMARK(BM_LinearScan_TickSteady)->Arg(10000)->Arg(100000)->UseManualTime()->Iterations(4);

// The periodic save runs on the worker thread: its cost bounds how often it
// may run. Items = hosts written.
void BM_HeartbeatTracker_SaveState(benchmark::State& state) {
  const size_t hosts = static_cast<size_t>(state.range(0));
  char dir_template[] = "/tmp/konseki-hbbench-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  Traffic traffic(hosts);
  FakeClock clock;
  NullSink sink;
  MetricsRegistry metrics;
  HeartbeatOptions options;
  options.state_dir = dir;
  HeartbeatTracker tracker(options, 0, 1, clock, sink, metrics);
  for (int round = 0; round < 3; ++round) {
    for (Message& m : traffic.msgs) {
      m.received = m.timestamp = clock.Now();
      tracker.Observe(m);
    }
    clock.Advance(std::chrono::seconds(10));
  }
  std::string path = std::string(dir) + "/heartbeat.0.state";
  for (auto _ : state) {
    Status st = tracker.SaveState();
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  struct stat sb;
  if (stat(path.c_str(), &sb) == 0) state.counters["file_bytes"] = static_cast<double>(sb.st_size);
  std::remove(path.c_str());
  rmdir(dir);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(hosts));
}
BENCHMARK(BM_HeartbeatTracker_SaveState)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace konseki::matchers

BENCHMARK_MAIN();
