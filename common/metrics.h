// Metrics registry: counters and gauges registered on the control plane,
// updated lock-free on the data path, rendered in the Prometheus text format.
//
// Hot-path cost: Counter::Inc is one relaxed add on a cache line that belongs
// to the calling thread's shard, so workers never bounce a line per message.
#ifndef KONSEKI_COMMON_METRICS_H_
#define KONSEKI_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace konseki {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Monotonic counter. Inc is thread-safe and wait-free.
//
// One cache line per shard; a thread adds to the shard of the CPU it runs
// on (sched_getcpu, a read of the rseq area), so threads running at the same
// moment share no line (up to 16 CPUs). Shards: the machine's CPUs rounded
// up to a power of two, at most 16. Sixteen on every machine made the packs'
// ~1,000 per-rule and per-correlation counters 1 MiB of a 2-CPU log host's
// RSS (issue 17).
class Counter {
 public:
  Counter();
  void Inc(uint64_t n = 1) { cells_[ShardIndex()].v.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const;

 private:
  struct alignas(64) Cell {
    std::atomic<uint64_t> v{0};
  };
  static size_t Shards();
  static size_t ShardIndex();
  std::unique_ptr<Cell[]> cells_;
};

// A value that goes up and down. Thread-safe.
class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// One sample produced by a callback family (e.g. per-host last-seen).
struct Sample {
  Labels labels;
  double value = 0;
};

// One series' value at one moment (MetricsRegistry::Snapshot).
struct MetricValue {
  std::string name;
  Labels labels;  // sorted by name
  double value = 0;
};

// Thread-safe. Get* may be called from any thread but is meant for set-up:
// cache the returned pointer, which stays valid for the registry's lifetime.
// Asking twice for the same name and labels (in any order) returns the same
// object; series are rendered with their labels sorted by name.
// Default cap on the series of a per-host metric (metrics.max_host_series):
// the heartbeat's konseki_host_last_seen_timestamp_seconds and the archive
// keeper's konseki_archive_disk_bytes share it.
inline constexpr size_t kDefaultMaxHostSeries = 1000;

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // name must be a valid Prometheus name, e.g. "konseki_received_messages_total".
  Counter* GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge* GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  // A gauge family whose samples are produced at scrape time. The callback
  // runs on the scraping thread and must be thread-safe.
  void AddGaugeCallback(std::string_view name, std::string_view help,
                        std::function<void(std::vector<Sample>*)> callback);
  // The same for a counter family (the callback must report a value that
  // only goes up, such as process_cpu_seconds_total).
  void AddCounterCallback(std::string_view name, std::string_view help,
                          std::function<void(std::vector<Sample>*)> callback);

  // Prometheus text exposition format 0.0.4, families sorted by name.
  std::string RenderPrometheus() const;

  // Current value of a counter or gauge, 0 if absent (for tests and tools).
  // Labels are matched as a set, in any order.
  double ValueOf(std::string_view name, const Labels& labels = {}) const;

  // Every series (counters, gauges and callback samples) of the families
  // whose name starts with `prefix`, in rendering order. For tools that read
  // the live values without parsing the text format (konseki status).
  std::vector<MetricValue> Snapshot(std::string_view prefix = "") const;

 private:
  enum class Type { kCounter, kGauge };
  struct Family {
    Type type;
    std::string help;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::vector<std::function<void(std::vector<Sample>*)>> callbacks;
  };
  Family* FamilyFor(std::string_view name, std::string_view help, Type type);

  mutable std::mutex mu_;  // guards families_ (the map, not the values)
  std::map<std::string, Family, std::less<>> families_;
};

// A label value for the text format: invalid UTF-8 and NUL replaced by
// U+FFFD (AppendValidUtf8), then backslash, quote and newline escaped. Every
// label value goes through it, so no sender-chosen bytes (host names) can
// make the exposition invalid.
std::string EscapeLabelValue(std::string_view v);

}  // namespace konseki

#endif  // KONSEKI_COMMON_METRICS_H_
