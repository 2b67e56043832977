#include "common/metrics.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>

#include "common/utf8.h"

namespace konseki {

size_t Counter::Shards() {
  static const size_t shards = [] {
    const long cpus = sysconf(_SC_NPROCESSORS_CONF);
    return std::bit_ceil(static_cast<size_t>(std::clamp<long>(cpus, 1, 16)));
  }();
  return shards;
}

size_t Counter::ShardIndex() {
  const int cpu = sched_getcpu();
  return cpu < 0 ? 0 : static_cast<size_t>(cpu) & (Shards() - 1);
}

Counter::Counter() : cells_(new Cell[Shards()]) {}

uint64_t Counter::Value() const {
  uint64_t sum = 0;
  for (size_t i = 0; i < Shards(); ++i) sum += cells_[i].v.load(std::memory_order_relaxed);
  return sum;
}

void Gauge::Add(double d) {
  double cur = v_.load(std::memory_order_relaxed);
  while (!v_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

MetricsRegistry::Family* MetricsRegistry::FamilyFor(std::string_view name, std::string_view help,
                                                    Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}, {}, {}}).first;
  }
  return &it->second;
}

namespace {

// Label order does not matter to Prometheus; keep one canonical order so the
// same set always finds the same series.
Labels Sorted(Labels labels) {
  std::sort(labels.begin(), labels.end());
  return labels;
}

}  // namespace

Counter* MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family* f = FamilyFor(name, help, Type::kCounter);
  auto& slot = f->counters[Sorted(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family* f = FamilyFor(name, help, Type::kGauge);
  auto& slot = f->gauges[Sorted(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

void MetricsRegistry::AddGaugeCallback(std::string_view name, std::string_view help,
                                       std::function<void(std::vector<Sample>*)> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  FamilyFor(name, help, Type::kGauge)->callbacks.push_back(std::move(callback));
}

void MetricsRegistry::AddCounterCallback(std::string_view name, std::string_view help,
                                         std::function<void(std::vector<Sample>*)> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  FamilyFor(name, help, Type::kCounter)->callbacks.push_back(std::move(callback));
}

std::string EscapeLabelValue(std::string_view raw) {
  // A host name is whatever a sender put in its datagram: one invalid byte
  // would make Prometheus reject the whole exposition.
  std::string valid;
  AppendValidUtf8(raw, &valid);
  std::string out;
  out.reserve(valid.size());
  for (char c : valid) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

void AppendSample(std::string* out, const std::string& name, const Labels& labels, double v) {
  *out += name;
  if (!labels.empty()) {
    *out += '{';
    bool first = true;
    for (const auto& [k, val] : labels) {
      if (!first) *out += ',';
      first = false;
      *out += k;
      *out += "=\"";
      *out += EscapeLabelValue(val);
      *out += '"';
    }
    *out += '}';
  }
  *out += ' ';
  char buf[64];
  if (std::isnan(v)) {
    *out += "NaN";
  } else if (std::isinf(v)) {
    *out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    *out += buf;
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
    *out += buf;
  }
  *out += '\n';
}

std::string EscapeHelp(std::string_view h) {
  std::string out;
  for (char c : h) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string MetricsRegistry::RenderPrometheus() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + EscapeHelp(f.help) + "\n";
    out += "# TYPE " + name + (f.type == Type::kCounter ? " counter\n" : " gauge\n");
    for (const auto& [labels, c] : f.counters) {
      AppendSample(&out, name, labels, static_cast<double>(c->Value()));
    }
    for (const auto& [labels, g] : f.gauges) AppendSample(&out, name, labels, g->Value());
    for (const auto& cb : f.callbacks) {
      std::vector<Sample> samples;
      cb(&samples);
      for (const Sample& s : samples) AppendSample(&out, name, s.labels, s.value);
    }
  }
  return out;
}

double MetricsRegistry::ValueOf(std::string_view name, const Labels& labels_in) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  const Labels labels = Sorted(labels_in);
  if (auto c = it->second.counters.find(labels); c != it->second.counters.end()) {
    return static_cast<double>(c->second->Value());
  }
  if (auto g = it->second.gauges.find(labels); g != it->second.gauges.end()) {
    return g->second->Value();
  }
  return 0;
}

std::vector<MetricValue> MetricsRegistry::Snapshot(std::string_view prefix) const {
  std::vector<MetricValue> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = families_.lower_bound(prefix);
       it != families_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    const auto& [name, f] = *it;
    for (const auto& [labels, c] : f.counters) {
      out.push_back({name, labels, static_cast<double>(c->Value())});
    }
    for (const auto& [labels, g] : f.gauges) out.push_back({name, labels, g->Value()});
    for (const auto& cb : f.callbacks) {
      std::vector<Sample> samples;
      cb(&samples);
      for (Sample& s : samples) out.push_back({name, Sorted(s.labels), s.value});
    }
  }
  return out;
}

}  // namespace konseki
