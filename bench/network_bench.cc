// Network traces (issue #15): 1M connection events per minute of event time
// across 100k (source, destination, port) pairs, through the bundled packs.
//  - BM_Network_RuleMatch: the rule matcher on a netfilter LOG line (parse
//    and RuleSet::Match with every bundled pack): the per-message cost the
//    connection events add to, measured in the same run.
//  - BM_Network_ConnectionEvent: one connection hit through the correlator
//    (net.beacon.firewall and the rest of the bundled correlations) with
//    100k live pairs, full reservoirs, and gaps irregular enough that no pair
//    ever alerts: every pair keeps being scored (the worst case of the
//    incremental scoring).
//  - BM_Network_ScoringPass: scoring every one of 100k full reservoirs once
//    (ScoreBeacon over 32 gaps): what one periodic pass would cost; konseki
//    spreads it over the calls instead (every reservoir/8 calls per pair).
//  - BM_Network_MemoryPerPair: heap bytes per pair with full reservoirs
//    (allocator in-use growth / pairs; counter bytes_per_pair).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <random>
#include <string>
#include <vector>

#include "matchers/beacon_score.h"
#include "matchers/correlator.h"
#include "matchers/rule_loader.h"
#include "matchers/rule_set.h"
#include "receiver/parser.h"

namespace konseki::matchers {
namespace {

const TimePoint kT0 = TimePoint(std::chrono::seconds(1'750'000'000));
constexpr size_t kPairs = 100'000;
// 1M events per minute: one every 60 us of event time.
constexpr auto kEventStep = std::chrono::microseconds(60);

RulePack BundledPack() {
  auto pack = LoadPackDir(std::string(KONSEKI_SOURCE_DIR) + "/patterns");
  if (!pack.ok()) {
    std::fprintf(stderr, "%s\n", pack.status().ToString().c_str());
    std::abort();
  }
  return std::move(pack).value();
}

size_t HeapInUseBytes() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

std::string Ip(uint32_t a, uint32_t b) {
  return std::to_string(a) + "." + std::to_string((b >> 16) & 255) + "." +
         std::to_string((b >> 8) & 255) + "." + std::to_string(b & 255);
}

// 100k pairs: 2,000 internal sources x 50 outside destinations, port 443.
std::vector<Fields> Pairs() {
  std::vector<Fields> pairs;
  for (size_t i = 0; i < kPairs; ++i) {
    pairs.push_back({{"prefix", "FWD-NEW:"},
                     {"in", "eth1"},
                     {"out", "eth0"},
                     {"src_ip", Ip(10, static_cast<uint32_t>(i / 50))},
                     {"dst", Ip(203, static_cast<uint32_t>(i % 50) * 7919)},
                     {"len", "60"},
                     {"proto", "TCP"},
                     {"src_port", "40000"},
                     {"dst_port", "443"}});
  }
  return pairs;
}

HitEvent Connection(const Fields& f, TimePoint t) {
  HitEvent e;
  e.input_id = "net.netfilter_log";
  e.sign = "net.connection";
  e.fields = &f;
  e.host = "gw1";
  e.sender = "192.0.2.1";
  e.program = "kernel";
  e.event_time = e.received = t;
  return e;
}

std::unique_ptr<Correlator> NewCorrelator(MetricsRegistry& metrics) {
  CorrelatorOptions o;
  o.max_keys = 1'000'000;
  return std::move(Correlator::Create(BundledPack(), o, metrics)).value();
}

// Random pair order: each pair's gaps are irregular (no alert, so scoring
// never stops). Fills every reservoir (40 calls per pair) first.
void Warm(Correlator& c, const std::vector<Fields>& pairs, std::mt19937_64& rng, TimePoint* t) {
  std::vector<Alert> out;
  for (size_t i = 0; i < kPairs * 40; ++i) {
    *t += kEventStep;
    c.Process(Connection(pairs[rng() % kPairs], *t), &out);
    out.clear();
  }
}

void BM_Network_RuleMatch(benchmark::State& state) {
  RulePack pack = BundledPack();
  auto set = std::move(RuleSet::Compile(pack.rules)).value();
  auto scratch = std::move(set->NewScratch()).value();
  receiver::Parser parser;
  const std::string line =
      "<4>Mar  3 10:00:00 gw1 kernel: [ 5000.123456] FWD-NEW: IN=eth1 OUT=eth0 "
      "MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=10.0.0.23 DST=203.0.113.7 LEN=60 "
      "TOS=0x00 PREC=0x00 TTL=63 ID=40000 DF PROTO=TCP SPT=41000 DPT=443 WINDOW=64240 "
      "RES=0x00 SYN URGP=0";
  Message msg;
  std::vector<RuleHit> hits;
  for (auto _ : state) {
    parser.Parse(line, kT0, &msg);
    set->Match(msg, *scratch, &hits);
    benchmark::DoNotOptimize(hits.data());
  }
  state.counters["hits"] = static_cast<double>(hits.size());
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(line.size()));
}
BENCHMARK(BM_Network_RuleMatch);

void BM_Network_ConnectionEvent(benchmark::State& state) {
  MetricsRegistry metrics;
  auto c = NewCorrelator(metrics);
  const std::vector<Fields> pairs = Pairs();
  std::mt19937_64 rng(42);
  TimePoint t = kT0;
  Warm(*c, pairs, rng, &t);
  state.counters["live_keys"] = static_cast<double>(c->live_keys());
  std::vector<Alert> out;
  size_t alerts = 0;
  for (auto _ : state) {
    t += kEventStep;
    c->Process(Connection(pairs[rng() % kPairs], t), &out);
    alerts += out.size();
    out.clear();
  }
  state.counters["alerts"] = static_cast<double>(alerts);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Network_ConnectionEvent);

void BM_Network_ScoringPass(benchmark::State& state) {
  std::mt19937_64 rng(7);
  std::vector<std::vector<double>> gaps(kPairs), sizes(kPairs);
  for (size_t i = 0; i < kPairs; ++i) {
    for (int k = 0; k < 32; ++k) gaps[i].push_back(1 + static_cast<double>(rng() % 600'000) / 1000);
  }
  std::vector<double> g, s, scratch;
  double sum = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kPairs; ++i) {
      g = gaps[i];
      s.clear();
      sum += ScoreBeacon(&g, &s, BeaconWeights(), &scratch).score;
    }
  }
  benchmark::DoNotOptimize(sum);
  state.counters["pairs"] = kPairs;
  state.SetItemsProcessed(state.iterations() * kPairs);
}
BENCHMARK(BM_Network_ScoringPass)->Unit(benchmark::kMillisecond);

void BM_Network_MemoryPerPair(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    MetricsRegistry metrics;
    const std::vector<Fields> pairs = Pairs();
    const size_t before = HeapInUseBytes();
    auto c = NewCorrelator(metrics);
    const size_t empty = HeapInUseBytes() - before;
    std::mt19937_64 rng(42);
    TimePoint t = kT0;
    state.ResumeTiming();
    Warm(*c, pairs, rng, &t);
    state.PauseTiming();
    const size_t after = HeapInUseBytes();
    state.counters["pairs"] = static_cast<double>(c->live_keys());
    state.counters["bytes_per_pair"] =
        static_cast<double>(after - before - empty) / static_cast<double>(c->live_keys());
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kPairs * 40);
}
BENCHMARK(BM_Network_MemoryPerPair)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace konseki::matchers

BENCHMARK_MAIN();
