// The correlation stage's cost (issue #12):
//  - BM_Correlator_AuthFailureHit: one ssh.auth_failure hit through every
//    bundled correlation (patterns/*.yaml) with 10k hosts and ~1M live keys
//    (state set up first), against BM_NaiveWindowMap_Hit, a bare
//    std::unordered_map<std::string, std::deque<time>> sliding window (one
//    threshold rule, no eviction, no alert): the least any engine must do.
//  - BM_Correlator_ObserveHost: the per-message cost for messages that hit no
//    rule (the host watch), for runs of one host and for alternating hosts.
//  - BM_Correlator_MemoryPerKey: heap bytes per key (allocator in-use growth / keys)
//    when 1M distinct sources hit the bundled correlations (counter
//    bytes_per_key; the time column is the insert cost).
//  - BM_PublicSuffixList_RegisteredDomain: the `|domain` key transform alone
//    over a mix of DNS names, against BM_AsciiLower_Key, the `|lower` key
//    transform of the same names (the cheapest transform there is).
//  - BM_Correlator_DnsQueryHit: one net.dns_query hit through a beacon
//    correlation keyed [src_ip, query] (arg 0) or [src_ip, query|domain]
//    (arg 1), 50k pairs live: what the transform adds per evaluated hit. It
//    runs only for the hits of correlations that key on it; a line no such
//    correlation takes pays nothing.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <deque>
#include <fstream>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "matchers/correlator.h"
#include "matchers/public_suffix_list.h"
#include "matchers/rule_loader.h"

namespace konseki::matchers {
namespace {

const TimePoint kT0 = TimePoint(std::chrono::seconds(1'750'000'000));

RulePack BundledPack() {
  auto pack = LoadPackDir(std::string(KONSEKI_SOURCE_DIR) + "/patterns");
  if (!pack.ok()) {
    std::fprintf(stderr, "%s\n", pack.status().ToString().c_str());
    std::abort();
  }
  return std::move(pack).value();
}

std::string Ip(uint32_t i) {
  return std::to_string(10 + (i >> 24) % 200) + "." + std::to_string((i >> 16) & 255) + "." +
         std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
}

// Bytes the allocator has handed out and not taken back (glibc): unlike RSS,
// not hidden by memory an earlier benchmark freed.
size_t HeapInUseBytes() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

struct Workload {
  std::vector<std::string> hosts;
  std::vector<Fields> fields;  // per source
};

Workload MakeWorkload(size_t hosts, size_t sources) {
  Workload w;
  for (size_t h = 0; h < hosts; ++h) w.hosts.push_back("host-" + std::to_string(h));
  for (size_t s = 0; s < sources; ++s) {
    w.fields.push_back({{"method", "password"},
                        {"user", s % 7 == 0 ? "admin" : "root"},
                        {"src_ip", Ip(static_cast<uint32_t>(s * 2654435761u))},
                        {"port", "22"}});
  }
  return w;
}

HitEvent Failure(const Workload& w, size_t host, size_t source, TimePoint t) {
  HitEvent e;
  e.input_id = "sshd.failed_auth";
  e.sign = "ssh.auth_failure";
  e.fields = &w.fields[source];
  e.host = w.hosts[host];
  e.sender = "192.0.2.1";
  e.program = "sshd";
  e.pid = "1";
  e.event_time = e.received = t;
  return e;
}

void BM_Correlator_AuthFailureHit(benchmark::State& state) {
  const size_t hosts = 10000;
  const size_t sources = static_cast<size_t>(state.range(0));
  MetricsRegistry metrics;
  CorrelatorOptions o;
  o.max_keys = 4'000'000;
  o.max_keys_per_rule = 2'000'000;
  auto c = std::move(Correlator::Create(BundledPack(), o, metrics)).value();
  Workload w = MakeWorkload(hosts, sources);
  std::vector<Alert> out;
  // Every source once on one host: the keys exist before timing.
  TimePoint t = kT0;
  for (size_t s = 0; s < sources; ++s) {
    c->Process(Failure(w, s % hosts, s, t), &out);
    out.clear();
  }
  state.counters["live_keys"] = static_cast<double>(c->live_keys());
  std::mt19937_64 rng(42);
  for (auto _ : state) {
    const size_t s = rng() % sources;
    t += std::chrono::milliseconds(1);
    c->Process(Failure(w, s % hosts, s, t), &out);
    out.clear();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Correlator_AuthFailureHit)->Arg(100'000)->Arg(250'000)->Unit(benchmark::kNanosecond);

void BM_NaiveWindowMap_Hit(benchmark::State& state) {
  const size_t hosts = 10000;
  const size_t sources = static_cast<size_t>(state.range(0));
  Workload w = MakeWorkload(hosts, sources);
  std::unordered_map<std::string, std::deque<int64_t>> windows;
  auto hit = [&](size_t s, int64_t t) {
    std::string key = w.hosts[s % hosts] + '\x1f' + w.fields[s][2].second;
    std::deque<int64_t>& d = windows[key];
    d.push_back(t);
    while (!d.empty() && d.front() < t - 120'000'000'000) d.pop_front();
    return d.size() >= 8;
  };
  int64_t t = 0;
  for (size_t s = 0; s < sources; ++s) hit(s, t);
  std::mt19937_64 rng(42);
  for (auto _ : state) {
    const size_t s = rng() % sources;
    t += 1'000'000;
    benchmark::DoNotOptimize(hit(s, t));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NaiveWindowMap_Hit)->Arg(100'000)->Arg(250'000)->Unit(benchmark::kNanosecond);

void BM_Correlator_ObserveHost(benchmark::State& state) {
  const bool alternate = state.range(0) != 0;
  MetricsRegistry metrics;
  auto c = std::move(Correlator::Create(BundledPack(), CorrelatorOptions(), metrics)).value();
  Workload w = MakeWorkload(10000, 1);
  size_t i = 0;
  TimePoint t = kT0;
  for (auto _ : state) {
    // A run of one host's messages (a batch) or every message another host.
    const size_t h = alternate ? (i++ * 7919) % 10000 : 0;
    t += std::chrono::microseconds(10);
    c->ObserveHost(w.hosts[h], "192.0.2.1", t);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Correlator_ObserveHost)->Arg(0)->Arg(1);

void BM_Correlator_MemoryPerKey(benchmark::State& state) {
  const size_t sources = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    MetricsRegistry metrics;
    CorrelatorOptions o;
    o.max_keys = 10'000'000;
    o.max_keys_per_rule = 10'000'000;
    auto c = std::move(Correlator::Create(BundledPack(), o, metrics)).value();
    Workload w = MakeWorkload(100, sources);
    std::vector<Alert> out;
    const size_t before = HeapInUseBytes();
    state.ResumeTiming();
    TimePoint t = kT0;
    for (size_t s = 0; s < sources; ++s) {
      t += std::chrono::microseconds(1);
      c->Process(Failure(w, s % 100, s, t), &out);
      out.clear();
    }
    state.PauseTiming();
    const size_t after = HeapInUseBytes();
    state.counters["live_keys"] = static_cast<double>(c->live_keys());
    state.counters["bytes_per_key"] =
        static_cast<double>(after - before) / static_cast<double>(c->live_keys());
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * sources);
}
BENCHMARK(BM_Correlator_MemoryPerKey)->Arg(250'000)->Iterations(1)->Unit(benchmark::kMillisecond);

// What DNS query logs ask for: a beacon's random labels, CDNs, cloud
// names, pools, SRV and reverse lookups, addresses, local names.
std::vector<std::string> DnsNames(size_t n) {
  static const char* const kTails[] = {".evil.example.co.jp",
                                       ".cloudfront.net.",
                                       ".s3.ap-northeast-1.amazonaws.com",
                                       ".pool.ntp.org",
                                       ".www.example.com",
                                       "._tcp.dc._msdcs.corp.example.co.jp",
                                       ".0.0.10.in-addr.arpa.",
                                       ".corp",
                                       ".Mail.Google.COM"};
  std::vector<std::string> out;
  std::mt19937_64 rng(7);
  for (size_t i = 0; i < n; ++i) {
    std::string label;
    for (int k = 0; k < 6; ++k) label.push_back("abcdefghijklmnopqrstuvwxyz0123456789"[rng() % 36]);
    out.push_back(i % 10 == 9 ? Ip(static_cast<uint32_t>(rng()))
                              : label + kTails[i % (sizeof(kTails) / sizeof(kTails[0]))]);
  }
  return out;
}

void BM_PublicSuffixList_RegisteredDomain(benchmark::State& state) {
  auto psl = std::move(PublicSuffixList::Load()).value();
  const std::vector<std::string> names = DnsNames(1024);
  std::string scratch;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& n = names[i++ & 1023];
    benchmark::DoNotOptimize(psl->RegisteredDomain(n, &scratch));
    bytes += n.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_PublicSuffixList_RegisteredDomain);

void BM_AsciiLower_Key(benchmark::State& state) {
  const std::vector<std::string> names = DnsNames(1024);
  std::string key;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& n = names[i++ & 1023];
    key.clear();
    for (char ch : n) key.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch);
    benchmark::DoNotOptimize(key.data());
    bytes += n.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_AsciiLower_Key);

void BM_Correlator_DnsQueryHit(benchmark::State& state) {
  Correlation c;
  c.id = "bench.beacon.dns";
  c.sign = "net.beacon";
  c.title = "beacon";
  c.kind = CorrelationKind::kBeacon;
  c.on = {InputRef{"", "net.dns_query"}};
  c.key = {"src_ip", state.range(0) != 0 ? "query|domain" : "query"};
  c.window_secs = 86400;
  c.count = 20;
  c.score = 0.8;
  c.reservoir = 32;
  c.max_keys = 200'000;
  RulePack pack;
  pack.correlations = {c};
  MetricsRegistry metrics;
  CorrelatorOptions o;
  o.max_keys = 1'000'000;
  auto corr = std::move(Correlator::Create(pack, o, metrics)).value();
  const std::vector<std::string> names = DnsNames(50'000);
  std::vector<Fields> fields;
  for (size_t i = 0; i < names.size(); ++i) {
    fields.push_back(
        {{"qtype", "A"}, {"query", names[i]}, {"src_ip", Ip(static_cast<uint32_t>(i % 200))}});
  }
  auto hit = [&](size_t i, TimePoint t) {
    HitEvent e;
    e.input_id = "net.dns_query.dnsmasq";
    e.sign = "net.dns_query";
    e.fields = &fields[i];
    e.host = "gw1";
    e.sender = "192.0.2.1";
    e.program = "dnsmasq";
    e.pid = "612";
    e.event_time = e.received = t;
    return e;
  };
  std::vector<Alert> out;
  TimePoint t = kT0;
  for (size_t i = 0; i < fields.size(); ++i) {
    t += std::chrono::milliseconds(10);
    corr->Process(hit(i, t), &out);
    out.clear();
  }
  std::mt19937_64 rng(42);
  for (auto _ : state) {
    t += std::chrono::milliseconds(10);
    corr->Process(hit(rng() % fields.size(), t), &out);
    out.clear();
  }
  state.counters["live_keys"] = static_cast<double>(corr->live_keys());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Correlator_DnsQueryHit)->Arg(0)->Arg(1);

}  // namespace
}  // namespace konseki::matchers

BENCHMARK_MAIN();
