// The six correlation kinds, run on one key's state. Event times are the
// clamped stamps (ns); out-of-order hits are placed by their stamp.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>

#include "matchers/correlator_impl.h"
#include "receiver/sender_allowlist.h"

namespace konseki::matchers {
namespace {

KeyMember MemberOf(const HitEvent& hit, int64_t t) {
  return KeyMember{std::string(hit.host), ToNs(hit.received), t, hit.overflow_worker};
}

// Keeps `members` sorted by event time.
void InsertMember(std::vector<KeyMember>* members, KeyMember m) {
  auto pos = std::upper_bound(members->begin(), members->end(), m.event_ns,
                              [](int64_t t, const KeyMember& x) { return t < x.event_ns; });
  members->insert(pos, std::move(m));
}

// Inserts n copies of t (a line standing for n events), keeping the order.
void InsertTimes(std::vector<int64_t>* times, int64_t t, size_t n) {
  times->insert(std::upper_bound(times->begin(), times->end(), t), n, t);
}

// Drops, oldest first, the times beyond the newest `keep` and those older
// than the newest minus the window; members older than the oldest time kept
// go too.
void TrimWindow(KeyState* st, size_t keep, int64_t window_ns) {
  const int64_t newest = st->times.back();
  size_t drop = st->times.size() > keep ? st->times.size() - keep : 0;
  while (drop < st->times.size() && st->times[drop] < newest - window_ns) ++drop;
  st->times.erase(st->times.begin(), st->times.begin() + static_cast<ptrdiff_t>(drop));
  if (st->times.empty()) {
    st->members.clear();
    return;
  }
  const int64_t oldest = st->times.front();
  auto first_kept = std::find_if(st->members.begin(), st->members.end(),
                                 [&](const KeyMember& m) { return m.event_ns >= oldest; });
  st->members.erase(st->members.begin(), first_kept);
}

// Summary values of several fields share one list as "<field index><value>";
// at most `max` per field.
void AddSummaryValue(std::vector<std::string>* values, size_t field, std::string_view v,
                     size_t max) {
  if (v.empty()) return;
  const char tag = static_cast<char>('0' + field);
  size_t n = 0;
  for (const std::string& x : *values) {
    if (x[0] != tag) continue;
    if (std::string_view(x).substr(1) == v) return;
    ++n;
  }
  if (n >= max) return;
  values->push_back(tag + std::string(v));
}

std::string SummaryOf(const std::vector<std::string>& values, size_t field) {
  std::string s;
  for (const std::string& x : values) {
    if (x[0] != static_cast<char>('0' + field)) continue;
    if (!s.empty()) s += ',';
    s.append(x, 1);
  }
  return s;
}

std::string Join(const std::vector<std::string>& values) {
  std::string s;
  for (const std::string& v : values) {
    if (!s.empty()) s += ',';
    s += v;
  }
  return s;
}

void AddBurstFields(const KeyState& st, Alert* a) {
  a->fields.emplace_back("count", std::to_string(st.count));
  a->fields.emplace_back("first_time", FormatRfc3339Micros(FromNs(st.first_ns)));
  a->fields.emplace_back("last_time", FormatRfc3339Micros(FromNs(st.last_ns)));
}

void AddMembers(const std::vector<KeyMember>& members, size_t max, Alert* a) {
  for (const KeyMember& m : members) {
    if (a->members.size() >= max) break;
    a->members.push_back(AlertMember{m.host, FromNs(m.received_ns), m.overflow_worker});
  }
}

}  // namespace

std::string NetOf(std::string_view v, bool wide) {
  auto addr = receiver::SenderAddress::Parse(v);
  if (!addr) return std::string(v);
  receiver::SenderAddress n = *addr;
  const bool v4 = n.is_v4();
  // IPv4 /24 (stored as ::ffff:a.b.c.d: clear the last byte); IPv6 /64.
  // Wide: /16 and /48, an ISP's pool rather than one customer's network.
  const size_t from = v4 ? (wide ? 14 : 15) : (wide ? 6 : 8);
  for (size_t i = from; i < 16; ++i) n.bytes[i] = 0;
  return n.ToString() + (v4 ? (wide ? "/16" : "/24") : (wide ? "/48" : "/64"));
}

namespace {

// Records a value and when it was last seen in st->values / value_times, at
// most `max` of them: when full, the value seen longest ago makes room.
// What a sequence with sole_value remembers for an A hit without the field.
constexpr char kNoValue[] = "\x01";

// Returns the value's index.
size_t RememberValue(KeyState* st, std::string_view v, int64_t t, size_t max) {
  auto it = std::find(st->values.begin(), st->values.end(), v);
  if (it != st->values.end()) {
    const size_t i = static_cast<size_t>(it - st->values.begin());
    st->value_times[i] = std::max(st->value_times[i], t);
    return i;
  }
  if (st->values.size() < max) {
    st->values.emplace_back(v);
    st->value_times.push_back(t);
    return st->values.size() - 1;
  }
  const size_t oldest = static_cast<size_t>(
      std::min_element(st->value_times.begin(), st->value_times.end()) - st->value_times.begin());
  st->values[oldest] = std::string(v);
  st->value_times[oldest] = t;
  return oldest;
}

// A first_seen field's value as the tuple holds it: the field's first 256
// bytes, lowered (`lower`, `domain`), reduced to its network (`net`,
// `net16`), to its registered domain (`domain`, by `psl`) or to its
// address's country (`country`, by `geoip`); empty when the hit has none,
// and for `country` when the address has no country ("--": a private
// address or a host name is no news of a country). Written into *out,
// which the per-hit hash reuses (no allocation once it has grown; `net`
// builds its string).
void TupleValue(const FieldRef& f, const HitEvent& hit, const PublicSuffixList* psl,
                const GeoIpCountry* geoip, std::string* scratch, std::string* out) {
  const std::string_view raw = FieldValue(hit, f.name).substr(0, 256);
  if (!raw.empty() && (f.transform == "net" || f.transform == "net16")) {
    *out = NetOf(raw, f.transform == "net16");
    return;
  }
  if (f.transform == "country") {
    const std::string_view code =
        geoip != nullptr && !raw.empty() ? geoip->CountryOf(raw) : GeoIpCountry::kNone;
    if (code == GeoIpCountry::kNone) {
      out->clear();
    } else {
      out->assign(code);
    }
    return;
  }
  out->assign(f.transform == "domain" && psl != nullptr ? psl->RegisteredDomain(raw, scratch)
                                                        : raw);
  if (f.transform == "lower" || f.transform == "domain") {
    for (char& ch : *out) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
    }
  }
}

// The events a hit stands for: the line's repeats ("message repeated N
// times"), times the number in the correlation's weight_field when the line
// reports several ("auth failed, 3 attempts").
uint32_t Weight(const Correlation& def, const HitEvent& hit) {
  uint64_t w = std::max<uint32_t>(hit.repeats, 1);
  if (!def.weight_field.empty()) {
    const std::string_view v = FieldValue(hit, def.weight_field);
    uint32_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec == std::errc() && end == v.data() + v.size() && n > 1) {
      w *= std::min(n, kMaxHitWeight);
    }
  }
  return static_cast<uint32_t>(std::min<uint64_t>(w, UINT32_MAX));
}

}  // namespace

void Correlator::Impl::Threshold(CompiledCorrelation& c, const HitEvent& hit,
                                 const std::string& key, int64_t t, int depth,
                                 std::vector<Alert>* out) {
  KeyState* st = Insert(c, key, ToNs(hit.received));
  // A quiet gap ends the burst: the next hits may alert again.
  if (st->alerted && t - st->last_ns > c.quiet_ns) *st = KeyState{};
  for (size_t i = 0; i < c.def.summary_fields.size(); ++i) {
    AddSummaryValue(&st->values, i, FieldValue(hit, c.def.summary_fields[i]).substr(0, 128),
                    kMaxSummaryValues);
  }
  const uint32_t weight = Weight(c.def, hit);
  if (st->alerted) {
    st->count += weight;
    st->first_ns = std::min(st->first_ns, t);
    st->last_ns = std::max(st->last_ns, t);
    if (st->members.size() < options.max_members) InsertMember(&st->members, MemberOf(hit, t));
    return;
  }
  // A line standing for N events ("message repeated N times", "3 attempts")
  // counts N; more than `count` stamps are never needed.
  InsertTimes(&st->times, t, std::min<size_t>(weight, c.def.count));
  InsertMember(&st->members, MemberOf(hit, t));
  TrimWindow(st, c.def.count, c.window_ns);
  if (st->members.size() > options.max_members) st->members.resize(options.max_members);
  st->count = st->times.size();
  st->first_ns = st->times.front();
  st->last_ns = std::max(st->last_ns, st->times.back());
  if (st->times.size() < c.def.count) return;
  st->alerted = true;
  st->times.clear();
  st->times.shrink_to_fit();
  Alert a = MakeAlert(c, hit, st->last_ns);
  AddBurstFields(*st, &a);
  for (size_t i = 0; i < c.def.summary_fields.size(); ++i) {
    a.fields.emplace_back(c.def.summary_fields[i] + "_values", SummaryOf(st->values, i));
  }
  AddMembers(st->members, options.max_members, &a);
  Raise(c, hit, std::move(a), depth, out);
}

void Correlator::Impl::Distinct(CompiledCorrelation& c, const HitEvent& hit, const std::string& key,
                                int64_t t, int depth, std::vector<Alert>* out) {
  std::string_view v;
  if (c.distinct_field.transform.empty()) {
    v = FieldValue(hit, c.distinct_field.name).substr(0, kMaxValueBytes);
  } else {
    // The network, lower case, domain or country (no allocation once the
    // buffer has grown; `net` of an IPv6 address builds its string).
    TupleValue(c.distinct_field, hit, psl.get(), geoip.get(), &domain_scratch, &tuple_value);
    v = std::string_view(tuple_value).substr(0, kMaxValueBytes);
  }
  if (v.empty()) return;
  KeyState* st = Insert(c, key, ToNs(hit.received));
  if (st->alerted && t - st->last_ns > c.quiet_ns) *st = KeyState{};
  st->last_ns = std::max(st->last_ns, t);
  if (st->alerted) {
    st->count += hit.repeats;
    if (st->members.size() < options.max_members) InsertMember(&st->members, MemberOf(hit, t));
    return;
  }
  const size_t index = RememberValue(st, v, t, c.def.count);
  if (c.withdrawn != nullptr) {
    // Parallel to values (a state saved before withdrawn_by has none: 0,
    // which nothing withdraws). The member's last input event is the one a
    // later event may answer.
    st->hashes.resize(st->values.size(), 0);
    if (st->value_times[index] == t) st->hashes[index] = SameHash(c, hit);
  }
  InsertMember(&st->members, MemberOf(hit, t));
  if (st->members.size() > options.max_members) st->members.erase(st->members.begin());
  const int64_t newest = *std::max_element(st->value_times.begin(), st->value_times.end());
  // Count the values inside the window first: most hits stay below the
  // count, and copying the values out for them allocated on every hit.
  size_t in_window = 0;
  for (const int64_t vt : st->value_times) in_window += vt >= newest - c.window_ns;
  if (in_window < c.def.count) return;
  std::vector<std::string> live;
  live.reserve(in_window);
  int64_t first = newest;
  for (size_t i = 0; i < st->values.size(); ++i) {
    if (st->value_times[i] < newest - c.window_ns) continue;
    live.push_back(st->values[i]);
    first = std::min(first, st->value_times[i]);
  }
  st->alerted = true;
  st->count = live.size();
  st->first_ns = first;
  st->last_ns = newest;
  Alert a = MakeAlert(c, hit, newest);
  AddBurstFields(*st, &a);
  std::sort(live.begin(), live.end());
  if (live.size() > kMaxSummaryValues) live.resize(kMaxSummaryValues);
  a.fields.emplace_back(c.distinct_values_name, Join(live));
  AddMembers(st->members, options.max_members, &a);
  // quiet_key: one alert per quiet key (host and those fields) every
  // quiet_secs from the alert; a held burst stays this key's (it alerts
  // again only after a quiet gap) and the quiet key's next alert counts it
  // (`held`): a botnet guessing seventeen accounts of a host in a day is
  // one alert, not seventeen. (After the alert is built: inserting the
  // quiet key may evict st.)
  if (!c.quiet_key.empty()) {
    std::string quiet;
    uint64_t held = 0;
    if (BuildKeyOf(c, c.quiet_key, hit, &quiet) &&
        HeldFixed(c, hit, quiet.append("\x1equiet"), newest, &held)) {
      return;
    }
    if (held > 0) a.fields.emplace_back("held", std::to_string(held));
  }
  Raise(c, hit, std::move(a), depth, out);
}

uint64_t Correlator::Impl::SameHash(const CompiledCorrelation& c, const HitEvent& hit) const {
  uint64_t h = 1469598103934665603ull;
  for (const std::string& f : c.def.withdrawn_by.same) {
    const std::string_view v = FieldValue(hit, f).substr(0, kMaxValueBytes);
    if (v.empty()) return 0;
    h = Fnv64(v, Fnv64("\x1f", h));
  }
  return h == 0 ? 1 : h;
}

void Correlator::Impl::Withdraw(CompiledCorrelation& c, const HitEvent& hit, const std::string& key,
                                int64_t t) {
  KeyState* st = c.keys.Find(key, ToNs(hit.received));
  // An alert already raised stays; its burst keeps no values to withdraw.
  if (st == nullptr || st->alerted || st->values.empty()) return;
  const uint64_t h = SameHash(c, hit);
  if (h == 0) return;
  st->hashes.resize(st->values.size(), 0);
  for (size_t i = st->values.size(); i-- > 0;) {
    const int64_t vt = st->value_times[i];
    if (st->hashes[i] != h || vt > t || t - vt > c.within_ns) continue;
    const auto at = static_cast<ptrdiff_t>(i);
    st->values.erase(st->values.begin() + at);
    st->value_times.erase(st->value_times.begin() + at);
    st->hashes.erase(st->hashes.begin() + at);
    c.withdrawn->Inc();
  }
}

void Correlator::Impl::Sequence(CompiledCorrelation& c, Role role, const HitEvent& hit,
                                const std::string& key, int64_t t, int depth,
                                std::vector<Alert>* out) {
  if (role == kAfter) {
    KeyState* st = Insert(c, key, ToNs(hit.received));
    const size_t keep = std::max<size_t>(c.def.count, kMaxSequenceStamps);
    InsertTimes(&st->times, t, std::min<size_t>(Weight(c.def, hit), keep));
    InsertMember(&st->members, MemberOf(hit, t));
    TrimWindow(st, keep, c.window_ns);
    if (st->members.size() >= options.max_members) st->members.erase(st->members.begin());
    if (!c.def.field.empty()) {
      const std::string_view v = FieldValue(hit, c.def.field).substr(0, kMaxValueBytes);
      if (!v.empty()) RememberValue(st, v, t, kMaxSequenceValues);
    } else if (!c.def.sole_value.field.empty()) {
      // The values the A hits named; a hit without one is kNoValue, which
      // no B value equals.
      const Correlation::SoleValue& sole = c.def.sole_value;
      const std::string_view v = FieldValue(hit, sole.field).substr(0, kMaxValueBytes);
      const std::string lower = v.empty()         ? std::string(kNoValue)
                                : sole.by_network ? NetOf(v, sole.wide)
                                                  : AsciiLower(v);
      RememberValue(st, lower, t, kMaxSequenceValues);
    }
    // A B that came first (out of order: this A hit's line was queued on
    // its way) and completed nothing: its check again, this hit counted.
    if (st->late_b != nullptr && !replaying_late_b) {
      const int64_t rx = ToNs(hit.received);
      if (rx - st->late_b->received_ns > c.window_ns) {
        st->late_b.reset();
      } else if (t <= st->late_b->event_ns) {
        ReplayLateB(c, key, rx, depth, out);
      }
    }
    return;
  }
  KeyState* st = c.keys.Find(key, ToNs(hit.received));
  if (st == nullptr) {
    KeepLateB(c, hit, key, t);
    return;
  }
  // The A hits within the window before B (a stamp equal to B's counts).
  auto lo = std::lower_bound(st->times.begin(), st->times.end(), t - c.window_ns);
  auto hi = std::upper_bound(st->times.begin(), st->times.end(), t);
  size_t n = static_cast<size_t>(hi - lo);
  std::vector<std::string> live;  // with `field`: its distinct values in the window
  if (!c.def.field.empty()) {
    n = 0;
    const std::string_view bv = FieldValue(hit, c.def.field);
    if (bv.empty()) return;
    const std::string bnet = NetOf(bv);
    bool near = false;
    for (size_t i = 0; i < st->values.size(); ++i) {
      if (st->value_times[i] < t - c.window_ns || st->value_times[i] > t) continue;
      ++n;
      near = near || st->values[i] == bv || NetOf(st->values[i]) == bnet;
      if (live.size() < kMaxSummaryValues) live.push_back(st->values[i]);
    }
    if (!near) {
      KeepLateB(c, hit, key, t);
      return;
    }
  }
  if (n < c.def.count || n == 0 || lo == hi) {
    KeepLateB(c, hit, key, t);
    return;
  }
  // min_gap_secs: the last A hit must be that long before B.
  if (c.def.min_gap_secs > 0 && *(hi - 1) > t - SecsToNs(c.def.min_gap_secs)) {
    return;
  }
  // quiet_secs: one alert per key until that long without another run
  // completed (the hold's own key); a held run is consumed all the same.
  if (c.def.quiet_secs > 0 && HeldQuiet(c, hit, key + "\x1equiet", t)) {
    EraseKey(c, key);
    return;
  }
  st->count = n;
  st->first_ns = *lo;
  st->last_ns = t;
  Alert a = MakeAlert(c, hit, t);
  AddBurstFields(*st, &a);
  if (const Correlation::SoleValue& sole = c.def.sole_value; !sole.field.empty()) {
    // B's value (its network with by_network) against every A value in the
    // window: a `field` sequence keeps the distinct values as sent (n
    // counted them), the others what the A path stored (lowered, or the
    // network already).
    const std::string_view bv = FieldValue(hit, sole.field);
    const std::string_view cut = bv.substr(0, kMaxValueBytes);
    const std::string want = sole.by_network ? NetOf(cut, sole.wide) : AsciiLower(cut);
    const bool as_sent = !c.def.field.empty();
    bool only = !bv.empty() && n <= sole.max_count;
    for (size_t i = 0; only && i < st->values.size(); ++i) {
      if (st->value_times[i] < t - c.window_ns || st->value_times[i] > t) continue;
      only = (as_sent ? NetOf(st->values[i], sole.wide) : st->values[i]) == want;
    }
    if (only) {
      a.severity = sole.severity;
      if (sole.by_network) {
        a.fields.emplace_back("sole_" + sole.field + "_net", want);
      } else {
        a.fields.emplace_back("sole_" + sole.field, std::string(bv));
      }
    }
  }
  if (!c.def.field.empty()) {
    if (std::find(c.def.key.begin(), c.def.key.end(), c.def.field) == c.def.key.end()) {
      a.fields.emplace_back(c.def.field, std::string(FieldValue(hit, c.def.field)));
    }
    std::sort(live.begin(), live.end());
    a.fields.emplace_back(c.def.field + "_values", Join(live));
  }
  std::vector<KeyMember> members;
  for (const KeyMember& m : st->members) {
    if (m.event_ns >= *lo && m.event_ns <= t) members.push_back(m);
  }
  if (members.size() + 1 > options.max_members) {
    members.erase(members.begin(), members.begin() + static_cast<ptrdiff_t>(members.size() + 1 -
                                                                            options.max_members));
  }
  members.push_back(MemberOf(hit, t));
  AddMembers(members, options.max_members, &a);
  // One alert per run of A: the next B needs new A hits.
  EraseKey(c, key);
  Raise(c, hit, std::move(a), depth, out);
}

void Correlator::Impl::KeepLateB(CompiledCorrelation& c, const HitEvent& hit,
                                 const std::string& key, int64_t t) {
  if (replaying_late_b || c.window_ns <= 0) return;
  KeyState* st = Insert(c, key, ToNs(hit.received));
  if (st->late_b == nullptr) st->late_b = std::make_unique<StoredHit>();
  StoredHit& b = *st->late_b;  // the last B: its strings' room is reused
  b.input_id.assign(hit.input_id);
  b.sign.assign(hit.sign);
  b.host.assign(hit.host);
  b.sender.assign(hit.sender);
  b.program.assign(hit.program);
  b.pid.assign(hit.pid);
  b.raw.assign(hit.raw);
  if (hit.fields != nullptr) {
    b.fields = *hit.fields;
  } else {
    b.fields.clear();
  }
  b.event_ns = t;
  b.received_ns = ToNs(hit.received);
  b.repeats = hit.repeats;
  b.severity = static_cast<int>(hit.severity);
  b.overflow_worker = hit.overflow_worker;
}

void Correlator::Impl::ReplayLateB(CompiledCorrelation& c, const std::string& key, int64_t now_ns,
                                   int depth, std::vector<Alert>* out) {
  KeyState* st = c.keys.Find(key, now_ns);
  if (st == nullptr || st->late_b == nullptr) return;
  std::unique_ptr<StoredHit> b = std::move(st->late_b);
  HitEvent hb;
  hb.input_id = b->input_id;
  hb.sign = b->sign;
  hb.fields = &b->fields;
  hb.host = b->host;
  hb.sender = b->sender;
  hb.program = b->program;
  hb.pid = b->pid;
  hb.raw = b->raw;
  hb.event_time = FromNs(b->event_ns);
  hb.received = FromNs(b->received_ns);
  hb.repeats = b->repeats;
  hb.severity = static_cast<Severity>(b->severity);
  hb.overflow_worker = b->overflow_worker;
  // Raised for the B line: its severity_if reads it (its own local time,
  // not the A hit's); the A hit being processed is not superseded by it
  // (the B's own alert went out already).
  if (reads_local_time) hb.local = calendar.At(FromNs(b->event_ns));
  HitEvent* saved_local = current_local;
  const bool saved_superseded = superseded;
  const Severity saved_severity = hit_severity;
  current_local = nullptr;
  hit_severity = hb.severity;
  replaying_late_b = true;
  Sequence(c, kOn, hb, key, b->event_ns, depth, out);
  replaying_late_b = false;
  current_local = saved_local;
  superseded = saved_superseded;
  hit_severity = saved_severity;
  // Completed nothing yet (the key is still there): kept for the next A.
  if (KeyState* again = c.keys.Find(key, now_ns); again != nullptr && again->late_b == nullptr) {
    again->late_b = std::move(b);
  }
}

namespace {

// An `ordered` key's value: a prefix of non-digits, then the number
// ("9", "c3"), or "0x" and a hex number (Windows' logon ids, LUIDs from a
// per-boot counter: "0x7c3e91a", "0x7C3E91A"; prefix "0x"). False for
// anything else.
bool SplitCounter(std::string_view v, std::string_view* prefix, uint64_t* number) {
  if (v.size() > 2 && v.size() <= 18 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
    uint64_t n = 0;
    for (char ch : v.substr(2)) {
      const char lo = static_cast<char>(ch | 0x20);
      if (ch >= '0' && ch <= '9') {
        n = n * 16 + static_cast<uint64_t>(ch - '0');
      } else if (lo >= 'a' && lo <= 'f') {
        n = n * 16 + static_cast<uint64_t>(lo - 'a' + 10);
      } else {
        return false;
      }
    }
    *prefix = "0x";  // one sequence whatever the case
    *number = n;
    return true;
  }
  size_t digits = v.size();
  while (digits > 0 && v[digits - 1] >= '0' && v[digits - 1] <= '9') --digits;
  const size_t n = v.size() - digits;
  if (n == 0 || n > 18 || digits > 16) return false;
  *prefix = v.substr(0, digits);
  *number = 0;
  for (char ch : v.substr(digits)) *number = *number * 10 + static_cast<uint64_t>(ch - '0');
  return true;
}

// A counter's number as the host writes it: hex after "0x".
std::string NumberText(std::string_view prefix, uint64_t n) {
  if (prefix != "0x") return std::to_string(n);
  char buf[17];
  const auto r = std::to_chars(buf, buf + sizeof buf, n, 16);
  return std::string(buf, r.ptr);
}

}  // namespace

namespace {

// How long a session lasted, as a close line says it: seconds ("9120",
// "38.5"), units ("2h:11m:09s", "1d 2h:03m:04s", "45m", "3 h 2 m"), or a
// clock ("02:11:09", "11:09"). False for anything else, and beyond a year
// (a garbled number proves nothing).
bool ParseDurationNs(std::string_view v, int64_t* out) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return false;
  constexpr double kMaxSecs = 366.0 * 86400;
  double total = 0;
  double clock[3] = {0, 0, 0};
  int clock_parts = 0;
  bool units = false;
  bool colons = false;
  size_t i = 0;
  while (i < v.size()) {
    const char ch = v[i];
    if (ch == ' ' || ch == ':' || ch == ',') {
      colons = colons || ch == ':';
      ++i;
      continue;
    }
    if (ch < '0' || ch > '9') return false;
    double n = 0;
    size_t digits = 0;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9' && digits < 12) {
      n = n * 10 + (v[i] - '0');
      ++i;
      ++digits;
    }
    if (i < v.size() && v[i] == '.') {
      ++i;
      double scale = 0.1;
      while (i < v.size() && v[i] >= '0' && v[i] <= '9') {
        n += (v[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
    }
    while (i < v.size() && v[i] == ' ') ++i;
    double unit = 0;
    if (i < v.size()) {
      switch (v[i] | 0x20) {
        case 'd':
          unit = 86400;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'm':
          unit = 60;
          break;
        case 's':
          unit = 1;
          break;
        default:
          break;
      }
    }
    if (unit > 0) {
      units = true;
      total += n * unit;
      // The unit's word ("sec", "min", "hours"): letters up to a separator.
      while (i < v.size() && ((v[i] | 0x20) >= 'a' && (v[i] | 0x20) <= 'z')) ++i;
      continue;
    }
    if (clock_parts == 3) return false;
    clock[clock_parts++] = n;
  }
  if (units) {
    if (clock_parts > 0) return false;  // "2h 30" says too little
  } else if (clock_parts == 1 && !colons) {
    total = clock[0];
  } else if (clock_parts == 2 && colons) {
    total = clock[0] * 60 + clock[1];
  } else if (clock_parts == 3 && colons) {
    total = clock[0] * 3600 + clock[1] * 60 + clock[2];
  } else {
    return false;
  }
  if (total > kMaxSecs) return false;
  *out = static_cast<int64_t>(total * 1e9);
  return true;
}

}  // namespace

int64_t Correlator::Impl::WatchStart(const CompiledCorrelation& c, const HitEvent& hit) const {
  auto it = hosts.find(hit.host);
  if (it == hosts.end()) return 0;
  return c.def.reset_on_host_gap ? it->second.watched_since_ns : it->second.up_since_ns;
}

void Correlator::Impl::RestartCounter(CompiledCorrelation& c, const HitEvent& hit) {
  if (c.lowest_open.empty()) return;
  const std::string host = AsciiLower(hit.host) + '\0';
  std::erase_if(c.lowest_open, [&](const auto& e) { return e.first.starts_with(host); });
}

void Correlator::Impl::Unpaired(CompiledCorrelation& c, Role role, const HitEvent& hit,
                                const std::string& key, int64_t t, int depth,
                                std::vector<Alert>* out) {
  std::string_view prefix;
  uint64_t number = 0;
  // The counter is the key's last field. The host hands its numbers out in
  // one sequence per non-digit prefix, whatever the other key fields say
  // (one pid space for every program).
  // The field's value as sent: a transform (`logon_id|lower`) keys the
  // pairing, the number reads the same either way.
  const std::string_view counter_field =
      c.def.key.empty() ? std::string_view()
                        : std::string_view(c.def.key.back()).substr(0, c.def.key.back().find('|'));
  const bool counter = c.def.ordered && !c.def.key.empty() &&
                       SplitCounter(FieldValue(hit, counter_field), &prefix, &number);
  std::string lowest_key;
  if (counter) lowest_key = AsciiLower(hit.host) + '\0' + std::string(prefix);
  if (role == kAfter) {
    KeyState* st = Insert(c, key, ToNs(hit.received));
    st->open = true;
    st->last_ns = t;
    if (const int64_t watch = counter ? WatchStart(c, hit) : 0; watch != 0) {
      // Bounded like the keys: losing these only delays alerts.
      if (c.lowest_open.size() >= c.max_keys && !c.lowest_open.count(lowest_key)) {
        c.lowest_open.clear();
      }
      CompiledCorrelation::LowestOpen& low = c.lowest_open[lowest_key];
      if (low.watch_ns != watch) {
        low = {watch, number, number, false};
      } else {
        // Opens come a little out of order (one login typed slower than
        // the next); only a fall below half the highest is a wrap.
        if (number < low.highest / 2) low.wrapped = true;
        low.number = std::min(low.number, number);
        low.highest = std::max(low.highest, number);
      }
    }
    // The open of a close that waits for it (late_open_secs), stamped at or
    // before it: its line came late. Paired: the close raises nothing, and
    // the hold that close started is undone.
    for (auto it = held_closes.begin(); it != held_closes.end(); ++it) {
      if (it->corr != &c || t > it->close_ns || it->key != key) continue;
      if (!it->quiet_key.empty()) {
        const KeyState* q = c.keys.Find(it->quiet_key, ToNs(hit.received));
        if (q != nullptr && q->first_ns == it->close_ns) EraseKey(c, it->quiet_key);
      }
      held_closes.erase(it);
      EraseKey(c, key);
      break;
    }
    return;
  }
  if (KeyState* st = c.keys.Find(key, ToNs(hit.received)); st != nullptr && st->open) {
    // With window_secs, an open covers every close within that long after
    // it (a sudo session, every line of the crontab edit it ran); without,
    // one close takes it.
    if (c.window_ns <= 0) {
      if (c.taken.empty()) c.taken.resize(kTakenKeys);
      c.taken[c.taken_next] = {Fnv64(key), t, ToNs(hit.received)};
      c.taken_next = (c.taken_next + 1) % kTakenKeys;
      EraseKey(c, key);
      return;
    }
    if (t <= st->last_ns + c.window_ns) return;
    EraseKey(c, key);
  } else if (!c.taken.empty()) {
    // The same close again (same key, same stamp), soon: a resent line
    // whose open the first one took.
    const uint64_t h = Fnv64(key);
    const int64_t rx = ToNs(hit.received);
    for (const CompiledCorrelation::TakenKey& k : c.taken) {
      if (k.key_hash == h && k.event_ns == t && rx - k.received_ns <= kTakenNs &&
          k.received_ns != 0) {
        return;
      }
    }
  }
  // The close's own duration: a session begun during this watch should have
  // had its open received; one begun before it (or just after its start)
  // proves nothing, however long the watch.
  int64_t began = 0;
  bool began_in_watch = false;
  if (!c.def.duration_field.empty()) {
    int64_t lasted = 0;
    if (ParseDurationNs(FieldValue(hit, c.def.duration_field), &lasted)) {
      const int64_t watch = WatchStart(c, hit);
      began = t - lasted;
      if (watch == 0 || began < watch + SecsToNs(kDurationSlackSecs)) return;
      began_in_watch = true;
    }
  }
  // With a counter, a number above an open received during this watch was
  // allocated during the watch: its open should have come.
  // Below every open of this watch (and no wrap seen): it began before
  // them, maybe before the watch (a tunnel or tmux session of days), and
  // no time watched proves its open was missed.
  uint64_t below = 0;
  bool proven = false;
  if (const int64_t watch = counter ? WatchStart(c, hit) : 0; watch != 0) {
    auto it = c.lowest_open.find(lowest_key);
    if (it != c.lowest_open.end() && it->second.watch_ns == watch && !it->second.wrapped) {
      if (number < it->second.number) return;
      proven = it->second.number < number;
      if (proven) below = it->second.number;
    }
  }
  if (!proven && !began_in_watch && !Watched(c, hit)) return;
  // One alert per key until quiet_secs without a close (the hold's own key:
  // the open's state stays apart); with quiet_key, one per quiet key every
  // quiet_secs (a forwarder dropping lines: one alert per host and program).
  uint64_t held = 0;
  std::string quiet;  // the hold's key
  if (c.def.quiet_secs > 0 && !c.quiet_key.empty()) {
    if (BuildKeyOf(c, c.quiet_key, hit, &quiet) &&
        HeldFixed(c, hit, quiet.append("\x1equiet"), t, &held)) {
      return;
    }
  } else if (c.def.quiet_secs > 0 && HeldQuiet(c, hit, quiet = key + "\x1equiet", t)) {
    return;
  }
  Alert a = MakeAlert(c, hit, t);
  // The close's own fields (the session's user, the module's name).
  if (hit.fields != nullptr) {
    for (const auto& [k, v] : *hit.fields) {
      const bool have = std::any_of(a.fields.begin(), a.fields.end(),
                                    [&](const auto& f) { return f.first == k; });
      if (!have) a.fields.emplace_back(k, v);
    }
  }
  if (proven) {
    // The lower number whose open konseki received: the proof.
    a.fields.emplace_back("earlier_open_received", std::string(prefix) + NumberText(prefix, below));
  }
  const HostInfo* h = Host(hit.host, false, 0);
  const int64_t since = h == nullptr              ? 0
                        : c.def.reset_on_host_gap ? h->watched_since_ns
                                                  : h->up_since_ns;
  a.fields.emplace_back("watched_since", FormatRfc3339Micros(FromNs(since)));
  if (began_in_watch) a.fields.emplace_back("session_began", FormatRfc3339Micros(FromNs(began)));
  if (held > 0) a.fields.emplace_back("held", std::to_string(held));
  a.members.push_back(AlertMember{std::string(hit.host), hit.received, hit.overflow_worker});
  if (c.def.late_open_secs <= 0) {
    Raise(c, hit, std::move(a), depth, out);
    return;
  }
  // Waits for a late open (Raise keeps it in held_closes).
  HeldClose wait;
  wait.corr = &c;
  wait.key = key;
  wait.quiet_key = std::move(quiet);
  wait.close_ns = t;
  wait.due_ns = ToNs(hit.received) + SecsToNs(c.def.late_open_secs);
  holding = &wait;
  Raise(c, hit, std::move(a), depth, out);
  holding = nullptr;
}

bool Correlator::Impl::HeldFixed(CompiledCorrelation& c, const HitEvent& hit,
                                 const std::string& key, int64_t t, uint64_t* held_before) {
  KeyState* st = Insert(c, key, ToNs(hit.received));
  // Lines a little out of order (before the alert) are held as well.
  if (st->alerted && t < st->first_ns + c.quiet_ns && t >= st->first_ns - c.quiet_ns) {
    ++st->count;
    st->last_ns = std::max(st->last_ns, t);
    return true;
  }
  *held_before = st->count;
  st->count = 0;
  st->alerted = true;
  st->first_ns = st->last_ns = t;
  return false;
}

bool Correlator::Impl::HeldQuiet(CompiledCorrelation& c, const HitEvent& hit,
                                 const std::string& key, int64_t t) {
  KeyState* st = Insert(c, key, ToNs(hit.received));
  const bool held = st->alerted && t <= st->last_ns + c.quiet_ns && t >= st->first_ns - c.quiet_ns;
  if (!st->alerted || !held) st->first_ns = t;
  st->alerted = true;
  st->last_ns = std::max(st->last_ns, t);
  if (held) return true;
  st->last_ns = t;
  return false;
}

void Correlator::Impl::Membership(CompiledCorrelation& c, const HitEvent& hit,
                                  const std::string& key, int64_t t, int depth,
                                  std::vector<Alert>* out) {
  std::string_view v = FieldValue(hit, c.def.field);
  if (v.empty()) return;
  const LowerValue lower(v);
  std::string matched;
  if (c.values.find(lower.view()) != c.values.end()) {
    matched = "values";
  } else if (auto addr = c.has_cidrs ? receiver::SenderAddress::Parse(v) : std::nullopt;
             addr && c.cidrs.Allows(*addr)) {
    matched = "cidrs";
  } else if (c.set >= 0) {
    const CompiledSet& s = sets[static_cast<size_t>(c.set)];
    // Its values, CIDRs and globs (run-*), as where_in reads them.
    bool in = s.Contains(v);
    if (!in) {
      if (Learned(hit.host, static_cast<size_t>(c.set), lower.view())) {
        matched = "learned:" + s.def.id;
      }
    } else {
      matched = "set:" + s.def.id;
    }
  }
  if (matched.empty() && c.def.host_addresses && IsHostAddress(hit.host, v)) {
    matched = "host_address";
  }
  if (matched.empty()) return;
  // The lines of one login (sshd, PAM, logind) are one alert. A held line
  // is still this correlation's finding: the rule's alert it took the
  // place of stays out as it did for the line that alerted (else the
  // second crash of su within the hold came back as the crash rule's
  // medium, which a superseded alert's hold never started).
  if (c.def.quiet_secs > 0 && HeldQuiet(c, hit, key, t)) {
    if (depth == 0 && c.def.supersedes && (c.def.severity >= hit_severity || c.def.replaces)) {
      superseded = true;
      if (current_local != nullptr && current_local->superseded_by.empty()) {
        current_local->superseded_by = c.def.id;
      }
    }
    return;
  }
  Alert a = MakeAlert(c, hit, t);
  if (std::find(c.def.key.begin(), c.def.key.end(), c.def.field) == c.def.key.end()) {
    // else MakeAlert gave it; "user|stem" is named "user_stem"
    std::string name = c.def.field;
    std::replace(name.begin(), name.end(), '|', '_');
    a.fields.emplace_back(std::move(name), std::string(v));
  }
  a.fields.emplace_back("matched", matched);
  a.members.push_back(AlertMember{std::string(hit.host), hit.received, hit.overflow_worker});
  Raise(c, hit, std::move(a), depth, out);
}

void Correlator::Impl::FirstSeen(CompiledCorrelation& c, const HitEvent& hit,
                                 const std::string& key, int64_t t, int depth,
                                 std::vector<Alert>* out) {
  // The tuple's hash over its values (state files keep these hashes),
  // each written into one reused string: building the whole tuple on every
  // hit allocated; only an alert needs it.
  uint64_t h = 1469598103934665603ull;
  const size_t own_set = c.set >= 0 ? static_cast<size_t>(c.set) : sets.size();
  for (size_t i = 0; i < c.def.first_values.size(); ++i) {
    const FieldRef& f = c.def.first_values[i];
    if (f.transform == "host") {
      // The other watched host owning the address; none: no part.
      AddressHostInto(FieldValue(hit, f.name).substr(0, kMaxValueBytes), own_set, hit.host,
                      &tuple_value);
    } else {
      TupleValue(f, hit, psl.get(), geoip.get(), &domain_scratch, &tuple_value);
    }
    if (tuple_value.empty()) return;
    // An `in:` entry is remembered as in or out of its set; the alert names
    // the value itself.
    const CompiledSetCondition& sc = c.tuple_sets[i];
    const std::string_view v =
        sc.set == sets.size() ? std::string_view(tuple_value) : (InSet(sc, hit) ? "\x01" : "\x02");
    h = Fnv64(v, Fnv64("\x1f", h));
  }
  const int64_t rx = ToNs(hit.received);
  KeyState* st = Insert(c, key, rx);
  // The key's history before this line: how often and over what span of
  // the lines' own stamps (an established key needs no learning period).
  const uint64_t seen = st->count;
  const int64_t seen_first = st->first_ns, seen_last = st->last_ns;
  ++st->count;
  if (seen == 0 || t < st->first_ns) st->first_ns = t;
  if (seen == 0 || t > st->last_ns) st->last_ns = t;
  auto it = std::find(st->hashes.begin(), st->hashes.end(), h);
  if (it != st->hashes.end()) {
    // Most recently seen last: the oldest is forgotten first when full.
    st->hashes.erase(it);
    st->hashes.push_back(h);
    return;
  }
  const bool new_key = st->hashes.empty();
  if (st->hashes.size() >= c.def.max_values_per_key) st->hashes.erase(st->hashes.begin());
  st->hashes.push_back(h);
  if (new_key && !c.def.new_keys) return;
  for (const CompiledSetCondition& sc : c.alert_unless_in) {
    if (InSet(sc, hit)) return;  // learned, not news
  }
  const bool established = c.def.established_count > 0 && seen >= c.def.established_count &&
                           seen_last - seen_first >= SecsToNs(c.def.established_secs);
  if (!established) {
    if (first_start_ns == 0) first_start_ns = rx;
    int64_t learn_from = first_start_ns;
    if (c.def.scope == KeyScope::kHost || c.learns_per_host) {
      const HostInfo* info = Host(hit.host, true, rx);
      learn_from = info->first_seen_ns;
    }
    if (learn_from == 0 || rx - learn_from < c.learning_ns) return;  // still learning
  }
  Alert a = MakeAlert(c, hit, t);
  for (const FieldRef& f : c.def.first_values) {
    if (std::find(c.def.key.begin(), c.def.key.end(), f.name) != c.def.key.end()) continue;
    std::string v;
    if (f.transform == "host") {
      // The address and the host it belongs to, as a |host key names them.
      a.fields.emplace_back(f.name, std::string(FieldValue(hit, f.name)));
      a.fields.emplace_back(
          f.name + "_host",
          AddressHost(FieldValue(hit, f.name).substr(0, kMaxValueBytes), own_set, hit.host));
      continue;
    }
    TupleValue(f, hit, psl.get(), geoip.get(), &domain_scratch, &v);
    if (f.transform == "country") {
      // The address and its country: "src_ip": "203.0.113.5",
      // "src_ip_country": "CN".
      a.fields.emplace_back(f.name, std::string(FieldValue(hit, f.name)));
      a.fields.emplace_back(f.name + "_country", std::move(v));
      continue;
    }
    a.fields.emplace_back(f.name, std::move(v));
  }
  // What the news is measured against: the key's earlier sightings (a key
  // from a state file of an older version counts from its upgrade).
  if (seen > 0) {
    a.fields.emplace_back("known_count", std::to_string(seen));
    a.fields.emplace_back("known_since", FormatRfc3339Micros(FromNs(seen_first)));
  }
  a.members.push_back(AlertMember{std::string(hit.host), hit.received, hit.overflow_worker});
  Raise(c, hit, std::move(a), depth, out);
}

}  // namespace konseki::matchers
