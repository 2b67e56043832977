// The network kinds (beacon, direction) and the value sets with globs and
// CIDRs they use. Event times are the clamped stamps (ns).
#include <fnmatch.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "matchers/beacon_score.h"
#include "matchers/correlator_impl.h"

namespace konseki::matchers {
namespace {

constexpr const char* kDirectionNames[kDirections] = {"inbound", "outbound", "internal", "transit"};

bool IsGlob(std::string_view v) { return v.find_first_of("*?[") != std::string_view::npos; }

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Appends to a ring of at most `cap` values.
void Push(std::vector<uint32_t>* ring, uint32_t* next, size_t cap, uint32_t v) {
  if (ring->size() < cap) {
    ring->push_back(v);
    return;
  }
  (*ring)[*next] = v;
  *next = static_cast<uint32_t>((*next + 1) % cap);
}

bool ParseU32(std::string_view s, uint32_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
}

uint32_t ClampU32(double v) {
  if (v <= 0) return 0;
  if (v >= 4294967295.0) return 4294967295u;
  return static_cast<uint32_t>(v);
}

}  // namespace

const char* DirectionName(Direction d) { return kDirectionNames[static_cast<int>(d)]; }

bool ParseDirection(std::string_view name, Direction* out) {
  for (int i = 0; i < kDirections; ++i) {
    if (name == kDirectionNames[i]) {
      *out = static_cast<Direction>(i);
      return true;
    }
  }
  return false;
}

bool CompiledSet::Contains(std::string_view value) const {
  if (value.empty()) return false;
  const LowerValue lower(value);
  if (values.find(lower.view()) != values.end()) return true;
  if (has_cidrs) {
    if (auto addr = receiver::SenderAddress::Parse(value); addr && cidrs.Allows(*addr)) return true;
  }
  for (const std::string& g : globs) {
    if (::fnmatch(g.c_str(), lower.c_str(), 0) == 0) return true;
  }
  return false;
}

Status Correlator::Impl::CompileSet(const ValueSet& def, CompiledSet* out) const {
  out->def = def;
  if (auto it = options.set_values.find(def.id); it != options.set_values.end()) {
    out->def.values = it->second;
  }
  std::vector<std::string> cidrs;
  for (const std::string& v : out->def.values) {
    if (IsGlob(v)) {
      out->globs.push_back(AsciiLower(v));
    } else if (v.find('/') != std::string::npos || receiver::SenderAddress::Parse(v)) {
      cidrs.push_back(v);
    } else {
      out->values.insert(AsciiLower(v));
    }
  }
  if (!cidrs.empty()) {
    auto parsed = receiver::SenderAllowlist::Parse(cidrs);
    if (!parsed.ok())
      return Status::InvalidArgument("set " + def.id + ": " + parsed.status().message());
    out->cidrs = *parsed;
    out->has_cidrs = true;
  }
  return Status::Ok();
}

bool Correlator::Impl::InSet(const CompiledSetCondition& cond, const HitEvent& hit) const {
  const CompiledSet& s = sets[cond.set];
  for (const std::string& f : cond.fields) {
    if (s.Contains(FieldValue(hit, f))) return true;
  }
  // And what the host taught the set (`learn:`: accounts useradd made with a
  // nologin shell), as membership reads it.
  if (s.learners.empty()) return false;
  for (const std::string& f : cond.fields) {
    std::string_view v = FieldValue(hit, f);
    if (!v.empty() && Learned(hit.host, cond.set, LowerValue(v).view())) {
      return true;
    }
  }
  return false;
}

bool Correlator::Impl::Learned(std::string_view host, size_t set, std::string_view lower) const {
  auto it = hosts.find(host);
  if (it == hosts.end() || set >= it->second.learned.size()) return false;
  const std::vector<std::string>& learned = it->second.learned[set];
  return std::find(learned.begin(), learned.end(), lower) != learned.end();
}

void Correlator::Impl::Beacon(CompiledCorrelation& c, const HitEvent& hit, const std::string& key,
                              int64_t t, int depth, std::vector<Alert>* out) {
  KeyState* st = Insert(c, key, ToNs(hit.received));
  const size_t cap = c.def.reservoir;
  uint32_t size = 0;
  const bool has_size =
      !c.def.size_field.empty() && ParseU32(FieldValue(hit, c.def.size_field), &size);
  if (!st->beacon) {
    st->beacon = std::make_unique<BeaconState>();
    st->first_ns = st->last_ns = t;
    st->count = 1;
    if (has_size) st->beacon->sizes.push_back(size);
    return;
  }
  BeaconState& b = *st->beacon;
  // The count runs over a window: a pair seen for longer starts a new one
  // (the reservoir, the latest gaps, carries over).
  if (t - st->first_ns > c.window_ns) {
    st->first_ns = t;
    st->count = 0;
    b.scored_count = 0;
  }
  ++st->count;
  // A line older than the pair's last one has no place among the gaps.
  if (t < st->last_ns) return;
  const int64_t gap_ns = t - st->last_ns;
  if (gap_ns < c.burst_ns) return;  // another connection of the same call
  st->last_ns = t;
  Push(&b.gaps_ms, &b.gap_next, cap, ClampU32(static_cast<double>(gap_ns) / 1e6));
  if (has_size) Push(&b.sizes, &b.size_next, cap, size);

  if (b.alerted_ns != 0 && t - b.alerted_ns < c.window_ns) return;  // once per window
  // Before `count` calls, only an early_score (a near-perfect beacon) over
  // at least early_count calls: few gaps score noisily (Poisson arrivals
  // reach 0.8 over a dozen).
  const bool early = c.def.early_count > 0 && st->count < c.def.count;
  const uint32_t count_needed = early ? c.def.early_count : c.def.count;
  const size_t calls_needed = std::min<size_t>(count_needed, cap + 1);
  if (st->count < count_needed || b.gaps_ms.size() + 1 < calls_needed || b.gaps_ms.size() < 3) {
    return;
  }
  // Scoring is O(reservoir log reservoir): amortised over several calls
  // (every call while the reservoir is small, every eighth of it after).
  const uint64_t step = std::max<uint64_t>(1, b.gaps_ms.size() / 8);
  if (b.scored_count != 0 && st->count - b.scored_count < step) return;
  b.scored_count = st->count;
  gaps_scratch.clear();
  for (uint32_t g : b.gaps_ms) gaps_scratch.push_back(g / 1000.0);
  sizes_scratch.clear();
  for (uint32_t s : b.sizes) sizes_scratch.push_back(s);
  if (sizes_scratch.size() < 3) sizes_scratch.clear();
  const BeaconScore s =
      ScoreBeacon(&gaps_scratch, &sizes_scratch, options.beacon_weights, &mad_scratch);
  if (s.score < (early ? std::max(c.def.score, c.def.early_score) : c.def.score)) return;
  b.alerted_ns = t;
  Alert a = MakeAlert(c, hit, t);
  a.fields.emplace_back("period", Fixed(s.period_secs, 1));
  a.fields.emplace_back("jitter", Fixed(s.jitter_secs, 1));
  a.fields.emplace_back("count", std::to_string(st->count));
  a.fields.emplace_back("score", Fixed(s.score, 3));
  a.fields.emplace_back("score_interval", Fixed(s.interval, 3));
  a.fields.emplace_back("score_count", Fixed(s.count, 3));
  if (s.size >= 0) a.fields.emplace_back("score_size", Fixed(s.size, 3));
  a.fields.emplace_back("first_time", FormatRfc3339Micros(FromNs(st->first_ns)));
  a.fields.emplace_back("last_time", FormatRfc3339Micros(FromNs(t)));
  a.members.push_back(AlertMember{std::string(hit.host), hit.received, hit.overflow_worker});
  Raise(c, hit, std::move(a), depth, out);
}

Counter* Correlator::Impl::DirectionCounter(CompiledCorrelation& c, std::string_view host,
                                            Direction d) {
  std::string lower = AsciiLower(host.substr(0, kMaxValueBytes));
  auto it = c.direction_counters.find(lower);
  if (it == c.direction_counters.end()) {
    if (c.direction_counters.size() >= kMaxCounterHosts) lower = "other";
    it = c.direction_counters.find(lower);
  }
  if (it == c.direction_counters.end()) {
    std::array<Counter*, kDirections> counters{};
    for (int i = 0; i < kDirections; ++i) {
      counters[i] = metrics.GetCounter(
          c.def.metric,
          "Connections of correlation " + c.def.id + " by logging host and direction.",
          {{"host", lower}, {"direction", kDirectionNames[i]}});
    }
    it = c.direction_counters.emplace(lower, counters).first;
  }
  return it->second[static_cast<int>(d)];
}

void Correlator::Impl::DirectionOf(CompiledCorrelation& c, const HitEvent& hit,
                                   const std::string& key, int64_t t, int depth,
                                   std::vector<Alert>* out) {
  std::string_view src = FieldValue(hit, c.def.src_field);
  std::string_view dst = FieldValue(hit, c.def.dst_field);
  if (src.empty() || dst.empty()) return;
  const CompiledSet& internal = sets[static_cast<size_t>(c.set)];
  // netfilter: no input interface = sent by the logging host itself; no
  // output interface = delivered to it. Both are on the inside.
  const std::string* in = c.def.in_field.empty() ? nullptr : HitField(hit, c.def.in_field);
  const std::string* outf = c.def.out_field.empty() ? nullptr : HitField(hit, c.def.out_field);
  const bool src_inside = (in != nullptr && in->empty()) || internal.Contains(src);
  const bool dst_inside = (outf != nullptr && outf->empty()) || internal.Contains(dst);
  const Direction d = src_inside ? (dst_inside ? Direction::kInternal : Direction::kOutbound)
                                 : (dst_inside ? Direction::kInbound : Direction::kTransit);
  if (!c.def.metric.empty()) DirectionCounter(c, hit.host, d)->Inc(hit.repeats);
  const int di = static_cast<int>(d);
  if (!c.def.alert_direction[di]) return;
  // With quiet_secs, one alert per key and direction (firewall.drop's: the
  // source) until that long without a matching hit: a blocked program
  // retrying every minute is one alert, not 1,440 a day, a sweep of a
  // subnet one; the metric above counts every drop. The direction is part
  // of the key: a source's outbound drop is not held by its internal one.
  if (c.def.quiet_secs > 0 && HeldQuiet(c, hit, key + '\x1f' + kDirectionNames[di], t)) {
    return;
  }
  Alert a = MakeAlert(c, hit, t);
  a.severity = c.def.direction_severity[di];
  if (hit.fields != nullptr) {
    // pf's and ipfw's own `direction` (in/out of an interface) gives way to
    // the correlation's.
    for (const auto& kv : *hit.fields) {
      if (kv.first != "direction") a.fields.push_back(kv);
    }
  }
  a.fields.emplace_back("direction", kDirectionNames[di]);
  a.members.push_back(AlertMember{std::string(hit.host), hit.received, hit.overflow_worker});
  Raise(c, hit, std::move(a), depth, out);
}

}  // namespace konseki::matchers
