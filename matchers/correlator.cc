#include "matchers/correlator.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "common/host_shard.h"
#include "common/log.h"
#include "matchers/correlator_impl.h"

namespace konseki::matchers {

uint64_t Fnv64(std::string_view s, uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

LowerValue::LowerValue(std::string_view s) : size_(std::min(s.size(), kMax)) {
  for (size_t i = 0; i < size_; ++i) {
    const char c = s[i];
    buf_[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  }
  buf_[size_] = '\0';
}

namespace {

constexpr char kSep = '\x1f';

// Checked when the correlation loaded (correlation_loader); compiled on
// the first input that reaches it.
LazyRe2 CompileCondition(const FieldCondition& f) {
  RE2::Options o;
  o.set_case_sensitive(false);
  o.set_log_errors(false);
  return LazyRe2(f.pattern, o);
}

bool IsLocalTimeField(std::string_view name) {
  return name == "hour" || name == "weekday" || name == "work_hours";
}

// Whether the correlation reads the event's local time (hour, weekday,
// work_hours) anywhere: only then does Process compute it.
bool ReadsLocalTime(const Correlation& c) {
  auto any = [](const std::vector<FieldCondition>& v) {
    return std::any_of(v.begin(), v.end(),
                       [](const FieldCondition& f) { return IsLocalTimeField(f.field); });
  };
  auto any_name = [](const std::vector<std::string>& v) {
    return std::any_of(v.begin(), v.end(), [](const std::string& k) {
      return IsLocalTimeField(std::string_view(k).substr(0, k.find('|')));
    });
  };
  if (any(c.where) || any(c.unless) || any(c.after_unless) || any_name(c.key) ||
      any_name(c.after_key) || any_name(c.summary_fields) || IsLocalTimeField(c.field) ||
      IsLocalTimeField(c.sole_value.field)) {
    return true;
  }
  auto any_pair = [](const std::vector<FieldPair>& v) {
    return std::any_of(v.begin(), v.end(), [](const FieldPair& p) {
      return IsLocalTimeField(p.field) || IsLocalTimeField(p.other);
    });
  };
  if (any_pair(c.where_equal) || any_pair(c.unless_equal) || any_pair(c.equal_after)) return true;
  for (const Correlation::SeverityIf& s : c.severity_if) {
    if (any(s.where) || any_pair(s.where_equal)) return true;
  }
  return std::any_of(c.first_values.begin(), c.first_values.end(),
                     [](const FieldRef& f) { return IsLocalTimeField(f.name); });
}

// Everything that changes a correlation's meaning: its state survives a
// reload or restart only when this is equal.
uint64_t Fingerprint(const Correlation& c) {
  std::string s = std::string(CorrelationKindName(c.kind)) + "|" +
                  (c.scope == KeyScope::kHost ? "h" : "f") + "|";
  auto add = [&](std::string_view x) {
    s += x;
    s += kSep;
  };
  for (const InputRef& i : c.on) add(i.id + "/" + i.sign);
  s += '|';
  for (const InputRef& i : c.after) add(i.id + "/" + i.sign);
  s += '|';
  for (const std::string& k : c.key) add(k);
  if (!c.after_key.empty()) {
    s += "after_key|";
    for (const std::string& k : c.after_key) add(k);
  }
  if (!c.equal_after.empty()) {
    s += "equal_after|";
    for (const FieldPair& p : c.equal_after) add(p.field + "=" + p.other);
  }
  for (const FieldRef& f : c.first_values) add(f.name + "|" + f.transform);
  add(c.field);
  add(std::to_string(c.window_secs));
  add(std::to_string(c.count));
  add(std::to_string(c.quiet_secs));
  if (!c.quiet_key.empty()) {
    s += "quiet_key|";
    for (const std::string& k : c.quiet_key) add(k);
  }
  // Only when set: the other correlations keep their saved state.
  if (!c.weight_field.empty()) add("weight=" + c.weight_field);
  if (!c.duration_field.empty()) add("duration=" + c.duration_field);
  if (!c.withdrawn_by.on.empty()) {
    s += "withdrawn_by|";
    for (const InputRef& i : c.withdrawn_by.on) add(i.id + "/" + i.sign);
    for (const std::string& f : c.withdrawn_by.same) add(f);
    add(std::to_string(c.withdrawn_by.within_secs));
  }
  if (!c.restart_on.empty()) {
    s += "restart_on|";
    for (const InputRef& i : c.restart_on) add(i.id + "/" + i.sign);
  }
  if (c.kind == CorrelationKind::kBeacon) {
    add(std::to_string(c.reservoir));
    add(c.size_field);
    add(std::to_string(c.burst_secs));
  }
  return Fnv64(s);
}

}  // namespace

const std::string* HitField(const HitEvent& hit, std::string_view name) {
  if (hit.fields == nullptr) return nullptr;
  for (const auto& [k, v] : *hit.fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

bool FieldsEqual(const HitEvent& hit, const FieldPair& pair) {
  const std::string_view a = FieldValue(hit, pair.field);
  const std::string_view b = FieldValue(hit, pair.other);
  if (a.empty() || b.empty()) return false;
  if (HostNamesEqual(a, b)) return true;  // ASCII case aside
  // Two spellings of one address ("::ffff:10.0.0.5" and "10.0.0.5",
  // "2001:db8:0::5" and "2001:db8::5"); only IPv6 text has them.
  if (a.find(':') == std::string_view::npos && b.find(':') == std::string_view::npos) {
    return false;
  }
  const auto x = receiver::SenderAddress::Parse(a);
  if (!x) return false;
  const auto y = receiver::SenderAddress::Parse(b);
  return y && *x == *y;
}

std::string_view NameStem(std::string_view v) {
  size_t end = v.size();
  bool digit = false;
  while (end > 0 &&
         (std::isdigit(static_cast<unsigned char>(v[end - 1])) ||
          (v[end - 1] >= 'a' && v[end - 1] <= 'f') || (v[end - 1] >= 'A' && v[end - 1] <= 'F'))) {
    digit |= std::isdigit(static_cast<unsigned char>(v[end - 1])) != 0;
    --end;
  }
  if (!digit || end == v.size()) return {};
  while (end > 0 && (v[end - 1] == '-' || v[end - 1] == '_' || v[end - 1] == '.')) --end;
  return end >= 2 ? v.substr(0, end) : std::string_view();
}

std::string_view FieldValue(const HitEvent& hit, std::string_view name) {
  if (const std::string* v = HitField(hit, name)) return *v;
  if (name == "host") return hit.host;
  if (name == "sender") return hit.sender;
  if (name == "program") return hit.program;
  if (name == "pid") return hit.pid;
  if (name == "superseded_by") return hit.superseded_by;
  if (name == "hour") return HourText(hit.local);
  if (name == "weekday") return WeekdayText(hit.local);
  if (name == "work_hours") return WorkHoursText(hit.local);
  // "user|stem": the name without its number (matchers/correlator_impl.h).
  if (constexpr std::string_view kStem = "|stem"; name.ends_with(kStem)) {
    return NameStem(FieldValue(hit, name.substr(0, name.size() - kStem.size())));
  }
  return {};
}

HitEvent MakeHitEvent(const Message& msg, const RuleHit& hit, uint64_t message_seq) {
  HitEvent e;
  e.input_id = hit.rule->id;
  e.sign = hit.rule->sign;
  e.fields = &hit.fields;
  e.host = msg.host();
  e.sender = msg.sender;
  e.program = msg.app_name;
  e.pid = msg.procid;
  e.raw = msg.raw;
  e.event_time = msg.has_timestamp ? msg.timestamp : msg.received;
  e.received = msg.received;
  e.message_seq = message_seq;
  e.repeats = msg.repeats;
  e.dedupe_secs = static_cast<uint32_t>(hit.rule->dedupe_secs);
  e.severity = hit.rule->severity;
  return e;
}

HitEvent AlertHitEvent(const Alert& a) {
  HitEvent e{.input_id = a.rule,
             .sign = a.sign,
             .fields = &a.fields,
             .host = a.host,
             .sender = a.sender,
             .program = a.program,
             .pid = a.pid,
             .raw = a.message,
             .event_time = a.time,
             .received = a.received};
  // The alert's line is where its member of that host and time is.
  for (const AlertMember& m : a.members) {
    if (m.received == a.received && m.host == a.host) e.overflow_worker = m.overflow_worker;
  }
  return e;
}

namespace {

// The site's settings over a pack's correlation: correlation.overrides,
// network.beacon and network.drop_severity. *out is `def` itself when none
// applies to it (the pack's definition, shared), else a copy in *copies
// with them applied.
Status ApplyOptions(const CorrelatorOptions& options, const Correlation& def,
                    std::deque<Correlation>* copies, const Correlation** out) {
  *out = &def;
  Correlation* d = nullptr;
  auto edit = [&]() -> Correlation& {
    if (d == nullptr) *out = d = &copies->emplace_back(def);
    return *d;
  };
  if (auto it = options.overrides.find(def.id); it != options.overrides.end()) {
    const CorrelationOverride& o = it->second;
    if (o.window_secs >= 0) edit().window_secs = o.window_secs;
    if (o.count >= 1) edit().count = static_cast<uint32_t>(o.count);
    if (o.quiet_secs >= 0) edit().quiet_secs = o.quiet_secs;
    if (o.min_observed_secs >= 0) edit().min_observed_secs = o.min_observed_secs;
    if (o.learning_secs >= 0) edit().learning_secs = o.learning_secs;
    if (o.established_count >= 0) {
      edit().established_count = static_cast<uint32_t>(o.established_count);
    }
    if (o.established_secs >= 0) edit().established_secs = o.established_secs;
  }
  if (def.kind == CorrelationKind::kBeacon) {
    if (options.beacon_score >= 0) edit().score = options.beacon_score;
    if (options.beacon_min_connections >= 1) {
      edit().count = static_cast<uint32_t>(options.beacon_min_connections);
    }
    if (options.beacon_window_secs > 0) edit().window_secs = options.beacon_window_secs;
    if (options.beacon_max_pairs > 0) edit().max_keys = options.beacon_max_pairs;
    if (options.beacon_burst_secs >= 0) edit().burst_secs = options.beacon_burst_secs;
  }
  if (def.kind == CorrelationKind::kDirection && def.sign == "firewall.drop") {
    for (const auto& [name, severity] : options.drop_severity) {
      Direction dir;
      if (!ParseDirection(name, &dir)) {
        return Status::InvalidArgument("network.drop_severity: unknown direction " + name);
      }
      const int i = static_cast<int>(dir);
      edit().alert_direction[i] = severity != "none";
      if (severity != "none" && !ParseSeverity(severity, &edit().direction_severity[i])) {
        return Status::InvalidArgument("network.drop_severity." + name + ": unknown severity " +
                                       severity);
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status Correlator::Impl::CompileOne(const Correlation& def, const RulePack& pack) {
  const Correlation* applied = nullptr;
  if (Status st = ApplyOptions(options, def, &overridden, &applied); !st.ok()) return st;
  auto c = std::make_unique<CompiledCorrelation>(*applied);
  const Correlation& d = c->def;
  for (const FieldCondition& f : d.where) c->where.push_back(CompileCondition(f));
  bool host_key = false;
  // equal_after: one more key field each side, B's and A's (in lower case).
  std::vector<std::string> key = d.key;
  std::vector<std::string> after_key = d.after_key;
  if (!d.equal_after.empty() && after_key.empty()) after_key = d.key;
  for (const FieldPair& p : d.equal_after) {
    key.push_back(p.field + "|lower");
    after_key.push_back(p.other + "|lower");
  }
  for (int which = 0; which < 3; ++which) {
    for (const std::string& k : which == 0 ? key : which == 1 ? after_key : d.quiet_key) {
      KeyRef r;
      const size_t bar = k.find('|');
      r.name = k.substr(0, bar);
      if (bar != std::string::npos) r.transform = k.substr(bar + 1);
      r.alert_name = r.transform == "net"       ? r.name + "_net"
                     : r.transform == "host"    ? r.name + "_host"
                     : r.transform == "domain"  ? r.name + "_domain"
                     : r.transform == "country" ? r.name + "_country"
                                                : r.name;
      host_key = host_key || r.transform == "host";
      uses_domain = uses_domain || r.transform == "domain";
      uses_country = uses_country || r.transform == "country";
      (which == 0 ? c->key : which == 1 ? c->after_key : c->quiet_key).push_back(std::move(r));
    }
  }
  for (int in = 0; in < 3; ++in) {
    for (const SetCondition& sc : in == 0   ? d.where_in
                                  : in == 1 ? d.unless_in
                                            : d.after_unless_in) {
      CompiledSetCondition cc{sc.fields, sets.size()};
      for (size_t i = 0; i < sets.size(); ++i) {
        if (sets[i].def.id == sc.set) cc.set = i;
      }
      if (cc.set == sets.size()) {
        return Status::InvalidArgument("correlation " + d.id + ": no set " + sc.set);
      }
      (in == 0   ? c->where_in
       : in == 1 ? c->unless_in
                 : c->after_unless_in)
          .push_back(std::move(cc));
    }
  }
  auto set_index = [&](const std::string& id) {
    for (size_t i = 0; i < sets.size(); ++i) {
      if (sets[i].def.id == id) return i;
    }
    return sets.size();
  };
  for (const SetCondition& sc : d.alert_unless_in) {
    CompiledSetCondition cc{sc.fields, set_index(sc.set)};
    if (cc.set == sets.size()) {
      return Status::InvalidArgument("correlation " + d.id + ": no set " + sc.set);
    }
    c->alert_unless_in.push_back(std::move(cc));
  }
  if (d.kind == CorrelationKind::kDistinct) {
    // "name|stem" is FieldValue's own; the other transforms are TupleValue's.
    const size_t bar = d.field.find('|');
    const bool stem = bar != std::string::npos && d.field.substr(bar) == "|stem";
    c->distinct_field.name = stem ? d.field : d.field.substr(0, bar);
    if (!stem && bar != std::string::npos) c->distinct_field.transform = d.field.substr(bar + 1);
    c->distinct_values_name = c->distinct_field.name;
    if (!c->distinct_field.transform.empty()) {
      c->distinct_values_name += "_" + c->distinct_field.transform;
    }
    c->distinct_values_name += "_values";
    uses_domain = uses_domain || c->distinct_field.transform == "domain";
    uses_country = uses_country || c->distinct_field.transform == "country";
  }
  for (const FieldRef& f : d.first_values) {
    host_key = host_key || f.transform == "host";
    uses_domain = uses_domain || f.transform == "domain";
    uses_country = uses_country || f.transform == "country";
    CompiledSetCondition cc{{f.name}, sets.size()};
    if (f.transform.rfind("in:", 0) == 0) {
      cc.set = set_index(f.transform.substr(3));
      if (cc.set == sets.size()) {
        return Status::InvalidArgument("correlation " + d.id + ": no set " + f.transform.substr(3));
      }
    }
    c->tuple_sets.push_back(std::move(cc));
  }
  for (const Correlation::SeverityIf& s : d.severity_if) {
    CompiledCorrelation::CompiledSeverityIf cs;
    cs.severity = s.severity;
    for (const FieldCondition& f : s.where) {
      cs.where.push_back(CompileCondition(f));
      cs.where_fields.push_back(f.field);
    }
    for (const SetCondition& sc : s.where_in) {
      CompiledSetCondition cc{sc.fields, set_index(sc.set)};
      if (cc.set == sets.size()) {
        return Status::InvalidArgument("correlation " + d.id + ": no set " + sc.set);
      }
      cs.where_in.push_back(std::move(cc));
    }
    cs.where_equal = s.where_equal;
    c->severity_if.push_back(std::move(cs));
  }
  for (const FieldCondition& f : d.unless) c->unless.push_back(CompileCondition(f));
  for (const FieldCondition& f : d.after_unless) c->after_unless.push_back(CompileCondition(f));
  if (!d.cidrs.empty()) {
    auto cidrs = receiver::SenderAllowlist::Parse(d.cidrs);
    if (!cidrs.ok())
      return Status::InvalidArgument("correlation " + d.id + ": " + cidrs.status().message());
    c->cidrs = *cidrs;
    c->has_cidrs = true;
  }
  for (const std::string& v : d.values) c->values.insert(AsciiLower(v));
  if (!d.set.empty()) {
    for (size_t i = 0; i < pack.sets.size(); ++i) {
      if (pack.sets[i].id == d.set) c->set = static_cast<int>(i);
    }
    if (c->set < 0) return Status::InvalidArgument("correlation " + d.id + ": no set " + d.set);
  }
  if (host_key) {
    address_hosts = true;
    if (c->set >= 0) address_sets[static_cast<size_t>(c->set)] = true;
  }
  c->window_ns = SecsToNs(d.window_secs);
  c->quiet_ns = SecsToNs(d.quiet_secs > 0 ? d.quiet_secs : d.window_secs);
  c->min_observed_ns =
      SecsToNs(d.min_observed_secs >= 0 ? d.min_observed_secs : options.session_min_observed_secs);
  c->learning_ns = SecsToNs(d.learning_secs >= 0 ? d.learning_secs : options.learning_secs);
  c->burst_ns = SecsToNs(d.burst_secs);
  c->within_ns = SecsToNs(d.withdrawn_by.within_secs);
  if (!d.withdrawn_by.on.empty()) {
    c->withdrawn = metrics.GetCounter(
        "konseki_correlation_withdrawn_total",
        "Members of distinct correlations withdrawn by a later event (withdrawn_by).",
        {{"rule", d.id}});
  }
  c->learns_per_host = d.kind == CorrelationKind::kFirstSeen && d.scope == KeyScope::kFleet &&
                       std::find(d.key.begin(), d.key.end(), "host") != d.key.end();
  c->max_keys = d.max_keys > 0 ? d.max_keys : options.max_keys_per_rule;
  c->fingerprint = Fingerprint(d);
  c->reads_local_time = ReadsLocalTime(d);
  reads_local_time = reads_local_time || c->reads_local_time;
  c->evictions = metrics.GetCounter("konseki_correlation_evictions_total",
                                    "Correlation keys dropped to stay within the key caps "
                                    "(least recently used first).",
                                    {{"rule", d.id}});
  c->alerts = metrics.GetCounter("konseki_correlation_alerts_total",
                                 "Alerts raised by correlations.", {{"rule", d.id}});
  const uint32_t index = static_cast<uint32_t>(corrs.size());
  for (int role = 0; role < kRoles; ++role) {
    const std::vector<InputRef>& ins = role == kOn         ? d.on
                                       : role == kAfter    ? d.after
                                       : role == kWithdraw ? d.withdrawn_by.on
                                                           : d.restart_on;
    for (const InputRef& in : ins) {
      Sub sub{index, static_cast<Role>(role)};
      if (in.sign.empty()) {
        by_id[in.id].push_back(sub);
      } else {
        by_sign[in.sign].push_back(sub);
      }
    }
  }
  corrs.push_back(std::move(c));
  return Status::Ok();
}

Status Correlator::Impl::Compile(const RulePack& pack) {
  for (size_t i = 0; i < pack.sets.size(); ++i) {
    CompiledSet s;
    if (Status st = CompileSet(pack.sets[i], &s); !st.ok()) return st;
    if (s.def.id == "system_accounts") {
      for (const std::string& v : options.system_accounts) s.values.insert(AsciiLower(v));
    }
    for (size_t l = 0; l < s.def.learn.size(); ++l) {
      CompiledLearner cl;
      cl.def = s.def.learn[l];
      for (const FieldCondition& f : cl.def.where) {
        cl.where.push_back(CompileCondition(f));
        reads_local_time = reads_local_time || IsLocalTimeField(f.field);
      }
      for (const InputRef& in : cl.def.on) {
        LearnSub sub{static_cast<uint32_t>(i), static_cast<uint32_t>(l)};
        (in.sign.empty() ? learn_by_id[in.id] : learn_by_sign[in.sign]).push_back(sub);
      }
      s.learners.push_back(std::move(cl));
    }
    sets.push_back(std::move(s));
  }
  address_sets.assign(sets.size(), false);
  // Host correlations first, then fleet ones, each in pack order: where one
  // process runs both scopes (test-rules, check-rules), every fleet
  // correlation then sees the superseded_by of every host correlation fed
  // by the same line, as the fleet thread does, wherever the pack lists it.
  for (const bool fleet_pass : {false, true}) {
    if (fleet_pass ? !options.run_fleet : !options.run_host) continue;
    for (const Correlation& def : pack.correlations) {
      if ((def.scope == KeyScope::kFleet) != fleet_pass) continue;
      if (fleet_pass && options.run_host) fleet_ids.insert(def.id);
      if (Status s = CompileOne(def, pack); !s.ok()) return s;
    }
  }
  if (uses_domain) {
    auto list = PublicSuffixList::Load();
    if (!list.ok()) return list.status();
    psl = std::move(*list);
  }
  // The GeoIP databases (~10 MB mapped) only for a pack that asks.
  if (uses_country) {
    auto db = GeoIpCountry::Load();
    if (!db.ok()) return db.status();
    geoip = std::move(*db);
  }
  for (const auto& [host, addrs] : options.host_addresses) {
    auto& list = configured_addresses[AsciiLower(host)];
    for (const std::string& a : addrs) {
      auto parsed = receiver::SenderAddress::Parse(a);
      if (!parsed) {
        return Status::InvalidArgument("correlation.host_addresses." + host + ": \"" + a +
                                       "\" is not an IPv4 or IPv6 address");
      }
      list.push_back(*parsed);
      if (address_hosts) configured_host[*parsed] = AsciiLower(host);
    }
  }
  hits = metrics.GetCounter("konseki_correlation_hits_total",
                            "Rule hits and correlation alerts fed to correlations.");
  resent = metrics.GetCounter(
      "konseki_correlation_resent_total",
      "Rule hits not taken by the correlations: identical to one of the same rule within the "
      "rule's dedupe_secs (a line resent after a reconnect).");
  merged = metrics.GetCounter(
      "konseki_correlation_alerts_merged_total",
      "Correlation alerts left out: another of the same sign, as severe or more, came from the "
      "same line (one finding, one alert).");
  clamped_future = metrics.GetCounter(
      "konseki_correlation_clamped_total",
      "Hits whose stamp was too far from their receive time (the receive time was used).",
      {{"reason", "future"}});
  clamped_past = metrics.GetCounter(
      "konseki_correlation_clamped_total",
      "Hits whose stamp was too far from their receive time (the receive time was used).",
      {{"reason", "past"}});
  host_evictions = metrics.GetCounter("konseki_correlation_evictions_total",
                                      "Correlation keys dropped to stay within the key caps "
                                      "(least recently used first).",
                                      {{"rule", "hosts"}});
  keys_gauge = metrics.GetGauge("konseki_correlation_keys", "Live correlation keys.",
                                {{"correlator", options.name}});
  return Status::Ok();
}

StatusOr<std::unique_ptr<Correlator>> Correlator::Create(std::shared_ptr<const RulePack> pack,
                                                         const CorrelatorOptions& options,
                                                         MetricsRegistry& metrics) {
  auto impl = std::make_unique<Impl>(options, metrics);
  impl->shared_pack = std::move(pack);
  if (Status s = impl->Compile(*impl->shared_pack); !s.ok()) return s;
  return std::unique_ptr<Correlator>(new Correlator(std::move(impl)));
}

StatusOr<std::unique_ptr<Correlator>> Correlator::Create(const RulePack& pack,
                                                         const CorrelatorOptions& options,
                                                         MetricsRegistry& metrics) {
  auto copy = std::make_shared<RulePack>();
  copy->correlations = pack.correlations;
  copy->sets = pack.sets;
  return Create(std::shared_ptr<const RulePack>(std::move(copy)), options, metrics);
}

Correlator::Correlator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Correlator::~Correlator() = default;

InputFilter::InputFilter(const RulePack& pack, KeyScope scope) {
  auto add = [&](const std::vector<InputRef>& ins) {
    for (const InputRef& in : ins)
      (in.sign.empty() ? ids_ : signs_).insert(in.sign.empty() ? in.id : in.sign);
  };
  for (const Correlation& c : pack.correlations) {
    if (c.scope != scope) continue;
    add(c.on);
    add(c.after);
    add(c.withdrawn_by.on);
    add(c.restart_on);
    for (const ValueSet& set : pack.sets) {
      if (set.id != c.set) continue;
      for (const SetLearner& l : set.learn) add(l.on);
    }
  }
}

bool InputFilter::Wants(std::string_view input_id, std::string_view sign) const {
  return ids_.find(input_id) != ids_.end() || signs_.find(sign) != signs_.end();
}

bool Correlator::Wants(std::string_view input_id, std::string_view sign) const {
  const Impl& m = *impl_;
  return m.by_id.find(input_id) != m.by_id.end() || m.by_sign.find(sign) != m.by_sign.end() ||
         m.learn_by_id.find(input_id) != m.learn_by_id.end() ||
         m.learn_by_sign.find(sign) != m.learn_by_sign.end();
}

size_t Correlator::live_keys() const { return impl_->total_keys; }
std::string_view Correlator::superseded_by() const { return impl_->superseded_by; }
size_t Correlator::correlations() const { return impl_->corrs.size(); }

HostInfo* Correlator::Impl::Host(const HostKey& host, bool create, int64_t now_ns) {
  // Hosts are keyed lower case and found in any case by the key's hash (no
  // copy, no hashing on the per-message path).
  auto it = hosts.find(host);
  if (it != hosts.end()) return &it->second;
  if (!create) return nullptr;
  if (hosts.size() >= options.max_hosts && !hosts.empty()) {
    // Any host goes (no LRU for hosts: they are few and long-lived); its
    // watch restarts if it comes back.
    hosts.erase(hosts.begin());
    host_evictions->Inc();
  }
  HostInfo& h = hosts.try_emplace(AsciiLower(host.name)).first->second;
  h.watched_since_ns = h.up_since_ns = h.first_seen_ns = now_ns;
  h.learned.resize(sets.size());
  h.name_address = receiver::SenderAddress::Parse(host.name);
  return &h;
}

void Correlator::ObserveHost(std::string_view host, std::string_view sender, TimePoint received) {
  ObserveHost(HostKey::Of(host), sender, received);
}

void Correlator::ObserveHost(const HostKey& host, std::string_view sender, TimePoint received) {
  Impl& m = *impl_;
  const int64_t now = ToNs(received);
  HostInfo* h = m.Host(host, true, now);
  if (h->watched_since_ns == 0) h->watched_since_ns = now;
  if (h->up_since_ns == 0) h->up_since_ns = now;
  if (sender == h->sender) return;  // nothing new about its addresses
  h->sender.assign(sender);
  if (auto addr = receiver::SenderAddress::Parse(sender)) {
    if (std::find(h->addresses.begin(), h->addresses.end(), *addr) == h->addresses.end() &&
        h->addresses.size() < Impl::kMaxAddresses) {
      h->addresses.push_back(*addr);
    }
    const uint64_t owner = HostHash(host.name) | 1;  // never 0
    auto [it, inserted] = m.sender_owner.emplace(*addr, owner);
    if (!inserted && it->second != owner) it->second = 0;
    if (m.address_hosts) {
      auto [named, fresh] = m.sender_host.try_emplace(*addr, AsciiLower(host.name));
      if (!fresh && !HostNamesEqual(named->second, host.name)) named->second.clear();
    }
    if (m.sender_owner.size() > m.options.max_hosts * 4) {
      // Start the ownership table afresh; every host records its sender again.
      m.sender_owner.clear();
      m.sender_host.clear();
      for (auto& [name, info] : m.hosts) info.sender.clear();
    }
  }
}

void Correlator::OnHostGap(std::string_view host) {
  if (HostInfo* h = impl_->Host(host, false, 0)) h->watched_since_ns = 0;
}

bool Correlator::Impl::Watched(const CompiledCorrelation& c, const HitEvent& hit) const {
  // Any spelling: the hosts map folds case (no lower-case copy per hit).
  auto it = hosts.find(hit.host);
  if (it == hosts.end()) return false;
  const int64_t since =
      c.def.reset_on_host_gap ? it->second.watched_since_ns : it->second.up_since_ns;
  return since != 0 && ToNs(hit.received) - since >= c.min_observed_ns;
}

bool Correlator::Impl::IsHostAddress(std::string_view host, std::string_view value) const {
  auto addr = receiver::SenderAddress::Parse(value);
  if (!addr) return false;
  const std::string lower = AsciiLower(host);
  if (auto it = configured_addresses.find(lower); it != configured_addresses.end()) {
    if (std::find(it->second.begin(), it->second.end(), *addr) != it->second.end()) return true;
  }
  auto it = hosts.find(lower);
  if (it == hosts.end()) return false;
  // Named by its address: no relay names other hosts' lines with it.
  if (it->second.name_address == *addr) return true;
  const auto& seen = it->second.addresses;
  if (std::find(seen.begin(), seen.end(), *addr) == seen.end()) return false;
  // A sender address several hosts come from is a relay, not this host's own.
  auto owner = sender_owner.find(*addr);
  return owner != sender_owner.end() && owner->second != 0;
}

int64_t Correlator::Impl::ClampedNs(const HitEvent& hit, int* clamped) const {
  const int64_t rx = ToNs(hit.received);
  const int64_t t = ToNs(hit.event_time);
  if (t > rx + SecsToNs(options.max_future_secs)) {
    *clamped = 1;
    return rx;
  }
  if (t < rx - SecsToNs(options.max_past_secs)) {
    *clamped = -1;
    return rx;
  }
  *clamped = 0;
  return t;
}

int64_t Correlator::Impl::EventNs(const HitEvent& hit) {
  int clamped = 0;
  const int64_t t = ClampedNs(hit, &clamped);
  if (clamped > 0) clamped_future->Inc();
  if (clamped < 0) clamped_past->Inc();
  return t;
}

bool Correlator::Impl::Passes(const CompiledCorrelation& c, const HitEvent& hit) const {
  for (size_t i = 0; i < c.where.size(); ++i) {
    std::string_view v = FieldValue(hit, c.def.where[i].field);
    if (!RE2::FullMatch(v, *c.where[i])) return false;
  }
  for (size_t i = 0; i < c.unless.size(); ++i) {
    std::string_view v = FieldValue(hit, c.def.unless[i].field);
    if (RE2::FullMatch(v, *c.unless[i])) return false;
  }
  for (const CompiledSetCondition& sc : c.where_in) {
    if (!InSet(sc, hit)) return false;
  }
  for (const CompiledSetCondition& sc : c.unless_in) {
    if (InSet(sc, hit)) return false;
  }
  for (const FieldPair& p : c.def.where_equal) {
    if (!FieldsEqual(hit, p)) return false;
  }
  for (const FieldPair& p : c.def.unless_equal) {
    if (FieldsEqual(hit, p)) return false;
  }
  return true;
}

bool Correlator::Impl::PassesAfter(const CompiledCorrelation& c, const HitEvent& hit) const {
  for (size_t i = 0; i < c.after_unless.size(); ++i) {
    std::string_view v = FieldValue(hit, c.def.after_unless[i].field);
    if (RE2::FullMatch(v, *c.after_unless[i])) return false;
  }
  for (const CompiledSetCondition& sc : c.after_unless_in) {
    if (InSet(sc, hit)) return false;
  }
  return true;
}

std::string Correlator::Impl::AddressHost(std::string_view value, size_t set,
                                          std::string_view hit_host) const {
  std::string owner;
  AddressHostInto(value, set, hit_host, &owner);
  return owner;
}

void Correlator::Impl::AddressHostInto(std::string_view value, size_t set,
                                       std::string_view hit_host, std::string* out) const {
  out->clear();
  auto addr = receiver::SenderAddress::Parse(value);
  if (!addr) return;
  std::string& owner = *out;
  if (auto it = configured_host.find(*addr); it != configured_host.end()) {
    owner.assign(it->second);
  } else if (auto lt = set < sets.size() ? learned_host.find(*addr) : learned_host.end();
             lt != learned_host.end()) {
    // The host that learned it last, if it still holds it (a bounded set
    // drops an address its DHCP client gave up).
    if (auto ht = hosts.find(lt->second); ht != hosts.end() && set < ht->second.learned.size()) {
      const std::vector<std::string>& held = ht->second.learned[set];
      const LowerValue lower(value.substr(0, kMaxValueBytes));
      if (std::find(held.begin(), held.end(), lower.view()) != held.end()) {
        owner.assign(lt->second);
      }
    }
  }
  if (owner.empty()) {
    if (auto st = sender_host.find(*addr); st != sender_host.end()) owner.assign(st->second);
  }
  if (owner.empty()) {
    // A host named by this address (its HOSTNAME field is the literal).
    if (auto nt = hosts.find(value); nt != hosts.end() && nt->second.name_address == *addr) {
      owner.assign(nt->first);
    }
  }
  // A login from the host itself is login.local_source's.
  if (!owner.empty() && HostNamesEqual(owner, hit_host)) owner.clear();
}

void Correlator::Impl::IndexLearnedAddresses() {
  learned_host.clear();
  if (!address_hosts) return;
  for (const auto& [name, info] : hosts) {
    for (size_t s = 0; s < address_sets.size() && s < info.learned.size(); ++s) {
      if (!address_sets[s]) continue;
      for (const std::string& v : info.learned[s]) {
        if (auto addr = receiver::SenderAddress::Parse(v)) learned_host[*addr] = name;
      }
    }
  }
}

bool Correlator::Impl::BuildKey(const CompiledCorrelation& c, const HitEvent& hit, std::string* key,
                                Role role) const {
  return BuildKeyOf(c, role == kAfter && !c.after_key.empty() ? c.after_key : c.key, hit, key);
}

bool Correlator::Impl::BuildKeyOf(const CompiledCorrelation& c, const std::vector<KeyRef>& refs,
                                  const HitEvent& hit, std::string* key) const {
  key->clear();
  if (c.def.scope == KeyScope::kHost) {
    for (char ch : hit.host) key->push_back(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    key->push_back(kSep);
  }
  for (const KeyRef& f : refs) {
    std::string_view v = FieldValue(hit, f.name);
    // A hit without a key field cannot be told apart from others: it does
    // not take part (rather than lumping every such hit into one key).
    if (v.empty()) return false;
    v = v.substr(0, kMaxValueBytes);
    if (f.transform.empty()) {
      key->append(v);
    } else if (f.transform == "net") {
      key->append(NetOf(v));
    } else if (f.transform == "domain") {
      // An IP literal or a name without a public suffix keys as it is.
      for (char ch : DomainOf(v)) key->push_back(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    } else if (f.transform == "country") {
      // "--" for an address without a country (and a value that is none):
      // those hits share one key.
      key->append(CountryOf(v));
    } else if (f.transform == "host") {
      // Only a hit from another watched host's address takes part.
      const std::string owner =
          AddressHost(v, c.set >= 0 ? static_cast<size_t>(c.set) : sets.size(), hit.host);
      if (owner.empty()) return false;
      key->append(owner);
    } else {
      for (char ch : v) key->push_back(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    key->push_back(kSep);
  }
  return true;
}

KeyState* Correlator::Impl::Insert(CompiledCorrelation& c, std::string_view key, int64_t now_ns) {
  bool inserted = false;
  KeyState* st = c.keys.FindOrInsert(key, now_ns, &inserted);
  if (!inserted) return st;
  ++total_keys;
  std::string victim;
  while (c.keys.size() > 1 && (c.keys.size() > c.max_keys || total_keys > options.max_keys)) {
    if (!c.keys.PopOldest(&victim)) break;
    --total_keys;
    c.evictions->Inc();
    Evicted(c, victim);
  }
  if (total_keys > options.max_keys) {
    // c holds only this key and the other correlations the rest (the soak's
    // 601 of 600): the one holding the most gives its oldest up.
    CompiledCorrelation* largest = nullptr;
    for (auto& o : corrs) {
      if (o.get() != &c && (largest == nullptr || o->keys.size() > largest->keys.size())) {
        largest = o.get();
      }
    }
    if (largest != nullptr && largest->keys.PopOldest(&victim)) {
      --total_keys;
      largest->evictions->Inc();
      Evicted(*largest, victim);
    }
  }
  return st;
}

void Correlator::Impl::EraseKey(CompiledCorrelation& c, std::string_view key) {
  if (c.keys.Find(key, 0) == nullptr) return;
  c.keys.Erase(key);
  --total_keys;
}

void Correlator::Impl::Evicted(CompiledCorrelation& c, const std::string& key) {
  // An open forgotten could make its close look unpaired: the host's watch
  // restarts instead.
  if (c.def.kind != CorrelationKind::kUnpaired || c.def.scope != KeyScope::kHost) return;
  std::string_view host = std::string_view(key).substr(0, key.find(kSep));
  if (auto it = hosts.find(host); it != hosts.end()) {
    it->second.watched_since_ns = it->second.up_since_ns = 0;
  }
}

Alert Correlator::Impl::MakeAlert(const CompiledCorrelation& c, const HitEvent& hit,
                                  int64_t t_ns) const {
  Alert a;
  a.time = FromNs(t_ns);
  a.received = hit.received;
  a.host = std::string(hit.host);
  a.sender = std::string(hit.sender);
  a.rule = c.def.id;
  a.sign = c.def.sign;
  a.severity = c.def.severity;
  a.title = c.def.title;
  a.program = std::string(hit.program);
  a.pid = std::string(hit.pid);
  a.message = std::string(hit.raw);
  for (const KeyRef& f : c.key) {
    std::string_view v = FieldValue(hit, f.name);
    if (f.transform == "host") {
      // The address and the host it belongs to.
      a.fields.emplace_back(f.name, std::string(v));
      a.fields.emplace_back(
          f.alert_name,
          AddressHost(v, c.set >= 0 ? static_cast<size_t>(c.set) : sets.size(), hit.host));
      continue;
    }
    if (f.transform == "domain" || f.transform == "country") {
      // The value as sent and what it was keyed on: the name's registered
      // domain, the address's country.
      const std::string_view in = v.substr(0, kMaxValueBytes);
      a.fields.emplace_back(f.name, std::string(v));
      a.fields.emplace_back(f.alert_name,
                            std::string(f.transform == "domain" ? DomainOf(in) : CountryOf(in)));
      continue;
    }
    a.fields.emplace_back(f.alert_name, f.transform == "net" ? NetOf(v) : std::string(v));
  }
  // What a time condition read, for the reader: "sat 01:34", and whether
  // that is working time here.
  if (c.reads_local_time && hit.local.hour >= 0) {
    a.fields.emplace_back("local_time", LocalTimeText(hit.local));
    a.fields.emplace_back("work_hours", std::string(WorkHoursText(hit.local)));
  }
  // The completing hit's own fields a later correlation keys on (a VPN
  // session's tunnel address); Raise drops a later copy of the same name.
  for (const std::string& f : c.def.carry_fields) {
    std::string_view v = FieldValue(hit, f);
    if (v.empty()) continue;
    const bool have = std::any_of(a.fields.begin(), a.fields.end(),
                                  [&f](const auto& kv) { return kv.first == f; });
    if (!have) a.fields.emplace_back(f, std::string(v.substr(0, kMaxValueBytes)));
  }
  return a;
}

Severity Correlator::Impl::SeverityFor(const CompiledCorrelation& c, const HitEvent& by,
                                       Severity base) const {
  for (const CompiledCorrelation::CompiledSeverityIf& s : c.severity_if) {
    bool all = true;
    for (size_t i = 0; all && i < s.where.size(); ++i) {
      all = RE2::FullMatch(FieldValue(by, s.where_fields[i]), *s.where[i]);
    }
    for (size_t i = 0; all && i < s.where_in.size(); ++i) all = InSet(s.where_in[i], by);
    for (size_t i = 0; all && i < s.where_equal.size(); ++i) {
      all = FieldsEqual(by, s.where_equal[i]);
    }
    if (all) return s.severity;
  }
  return base;
}

void Correlator::Impl::Raise(CompiledCorrelation& c, const HitEvent& by, Alert alert, int depth,
                             std::vector<Alert>* out) {
  // One value per field name (a JSON object with a key twice is rejected by
  // strict parsers): the correlation's key fields come first and stay; a
  // hit's copy of one of them is dropped; add_fields set theirs.
  for (size_t i = 1; i < alert.fields.size();) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; ++j) seen = alert.fields[j].first == alert.fields[i].first;
    if (seen) {
      alert.fields.erase(alert.fields.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  for (const auto& kv : c.def.add_fields) {
    auto it = std::find_if(alert.fields.begin(), alert.fields.end(),
                           [&kv](const auto& f) { return f.first == kv.first; });
    if (it == alert.fields.end()) {
      alert.fields.push_back(kv);
    } else {
      it->second = kv.second;
    }
  }
  // Read from the hit that completed the alert, whatever its depth: a
  // correlation fed by other correlations' alerts is lowered by day as one
  // fed by lines is.
  alert.severity = SeverityFor(c, by, alert.severity);
  if (depth == 0 && c.def.supersedes && (alert.severity >= hit_severity || c.def.replaces)) {
    superseded = true;
    if (current_local != nullptr && current_local->superseded_by.empty()) {
      current_local->superseded_by = c.def.id;
    }
  }
  if (holding != nullptr && holding->corr == &c) {
    // A close without its open: it waits for a late open (late_open_secs).
    alert.origin_seq = origin_seq;
    holding->alert = std::move(alert);
    if (held_closes.size() >= kMaxHeldCloses) {
      Emit(*held_closes.front().corr, std::move(held_closes.front().alert), 0, out);
      held_closes.pop_front();
    }
    held_closes.push_back(std::move(*holding));
    holding = nullptr;
    return;
  }
  Emit(c, std::move(alert), depth, out);
}

void Correlator::Impl::Emit(CompiledCorrelation& c, Alert alert, int depth,
                            std::vector<Alert>* out) {
  c.alerts->Inc();
  out->push_back(std::move(alert));
  if (depth >= Impl::kMaxDepth) return;
  // The alert is an input of the correlations that name it or its sign.
  const Alert& a = out->back();
  HitEvent e;
  e.input_id = c.def.id;
  e.sign = c.def.sign;
  Fields fields = a.fields;
  e.fields = &fields;
  std::string host = a.host, sender = a.sender, program = a.program, pid = a.pid;
  e.host = host;
  e.sender = sender;
  e.program = program;
  e.pid = pid;
  e.event_time = a.time;
  e.received = a.received;
  if (reads_local_time) e.local = calendar.At(a.time);  // a.time is clamped
  if (c.def.scope == KeyScope::kHost) Learn(e);         // a set may learn from it
  Dispatch(e, depth + 1, out);
}

void Correlator::Impl::Learn(const HitEvent& hit) {
  auto run = [&](const std::vector<LearnSub>& subs) {
    for (const LearnSub& s : subs) {
      const CompiledLearner& l = sets[s.set].learners[s.learner];
      bool ok = true;
      for (size_t i = 0; ok && i < l.where.size(); ++i) {
        ok = RE2::FullMatch(FieldValue(hit, l.def.where[i].field), *l.where[i]);
      }
      std::string_view v = FieldValue(hit, l.def.field);
      if (!ok || v.empty()) continue;
      HostInfo* h = Host(hit.host, true, ToNs(hit.received));
      std::vector<std::string>& learned = h->learned[s.set];
      std::string lower = AsciiLower(v.substr(0, kMaxValueBytes));
      const size_t max_learned = sets[s.set].def.max_learned;
      if (address_sets[s.set]) {
        // `|host` keys: this host holds the address now (learned again
        // too: an address back from another host).
        if (auto addr = receiver::SenderAddress::Parse(lower)) {
          if (learned_host.size() >= options.max_hosts * 4) learned_host.clear();
          learned_host[*addr] = AsciiLower(hit.host);
        }
      }
      auto known = std::find(learned.begin(), learned.end(), lower);
      if (known != learned.end()) {
        // A bounded set keeps the values learned last: learned again is new.
        if (max_learned != 0) std::rotate(known, known + 1, learned.end());
        continue;
      }
      const size_t cap =
          max_learned != 0 ? std::min(max_learned, kMaxLearnedPerSet) : kMaxLearnedPerSet;
      while (learned.size() >= cap) learned.erase(learned.begin());
      learned.push_back(std::move(lower));
    }
  };
  if (auto it = learn_by_id.find(hit.input_id); it != learn_by_id.end()) run(it->second);
  if (auto it = learn_by_sign.find(hit.sign); it != learn_by_sign.end()) run(it->second);
}

void Correlator::Impl::Dispatch(const HitEvent& hit, int depth, std::vector<Alert>* out) {
  const uint64_t dispatch = ++dispatch_seq;
  const int64_t t = EventNs(hit);
  std::string& key = key_scratch[static_cast<size_t>(depth)];
  auto run = [&](const std::vector<Sub>& subs) {
    for (const Sub& s : subs) {
      CompiledCorrelation& c = *corrs[s.corr];
      if (c.last_dispatch[s.role] == dispatch) continue;  // named twice (id and sign)
      if (hit.message_seq != 0 && c.last_seq[s.role] == hit.message_seq) continue;
      if (s.role == kWithdraw) {
        // The conditions are the members'; the withdrawing event only
        // needs the key.
        if (!BuildKey(c, hit, &key, kOn)) continue;
        c.last_dispatch[s.role] = dispatch;
        c.last_seq[s.role] = hit.message_seq;
        Withdraw(c, hit, key, t);
        continue;
      }
      if (s.role == kRestart) {
        // The host's counter started again: no key, no conditions.
        c.last_dispatch[s.role] = dispatch;
        c.last_seq[s.role] = hit.message_seq;
        RestartCounter(c, hit);
        continue;
      }
      if (!Passes(c, hit)) continue;
      if (s.role == kAfter && !PassesAfter(c, hit)) continue;
      // Membership and direction keep a key only to hold alerts back (quiet_secs).
      const bool keyless = (c.def.kind == CorrelationKind::kMembership ||
                            c.def.kind == CorrelationKind::kDirection) &&
                           c.def.quiet_secs <= 0;
      if (!keyless && !BuildKey(c, hit, &key, s.role)) continue;
      c.last_dispatch[s.role] = dispatch;
      c.last_seq[s.role] = hit.message_seq;
      switch (c.def.kind) {
        case CorrelationKind::kThreshold:
          Threshold(c, hit, key, t, depth, out);
          break;
        case CorrelationKind::kDistinct:
          Distinct(c, hit, key, t, depth, out);
          break;
        case CorrelationKind::kSequence:
          Sequence(c, s.role, hit, key, t, depth, out);
          break;
        case CorrelationKind::kUnpaired:
          Unpaired(c, s.role, hit, key, t, depth, out);
          break;
        case CorrelationKind::kMembership:
          Membership(c, hit, key, t, depth, out);
          break;
        case CorrelationKind::kFirstSeen:
          FirstSeen(c, hit, key, t, depth, out);
          break;
        case CorrelationKind::kBeacon:
          Beacon(c, hit, key, t, depth, out);
          break;
        case CorrelationKind::kDirection:
          DirectionOf(c, hit, key, t, depth, out);
          break;
      }
    }
  };
  // Copies: a nested Dispatch (chained alerts) may not touch these vectors,
  // but keep the iteration independent of it anyway.
  if (auto it = by_id.find(hit.input_id); it != by_id.end()) run(it->second);
  if (auto it = by_sign.find(hit.sign); it != by_sign.end()) run(it->second);
}

bool Correlator::Impl::Resent(const HitEvent& hit) {
  uint64_t h = Fnv64(hit.input_id);
  h = Fnv64(hit.host, Fnv64("\x1f", h));
  h = Fnv64(hit.program, Fnv64("\x1f", h));
  h = Fnv64(hit.pid, Fnv64("\x1f", h));
  // The line itself too: sshd writes one "Failed publickey" line per key a
  // client offers, in one second from one pid and port, differing only in
  // the key's fingerprint, which no field may hold.
  h = Fnv64(hit.raw, Fnv64("\x1f", h));
  // The line's bytes carry its stamp; a line without them (a test's hit)
  // is told by its event time.
  if (hit.raw.empty()) {
    const int64_t stamp = ToNs(hit.event_time);
    h = Fnv64(std::string_view(reinterpret_cast<const char*>(&stamp), sizeof stamp),
              Fnv64("\x1f", h));
  }
  if (hit.fields != nullptr) {
    for (const auto& [k, v] : *hit.fields) h = Fnv64(v, Fnv64(k, Fnv64("\x1f", h)));
  }
  if (h == 0) h = 1;
  if (dedupe.empty()) dedupe.resize(kDedupeSlots);
  DedupeSlot& slot = dedupe[h & (kDedupeSlots - 1)];
  if (hit.repeats > 1) {
    // A sender's repeat notice ("message repeated 3 times"): the line did
    // recur (the hit is that line again, with the notice's stamp): counted,
    // and the next copy of it is not taken for a resend either.
    if (slot.hash == h) slot = {};
    return false;
  }
  const int64_t rx = ToNs(hit.received);
  if (slot.hash == h && rx >= slot.received_ns &&
      rx - slot.received_ns <= int64_t{hit.dedupe_secs} * 1'000'000'000) {
    resent->Inc();
    return true;
  }
  slot = {h, rx};
  return false;
}

bool Correlator::Process(const HitEvent& hit, std::vector<Alert>* out) {
  impl_->hits->Inc();
  impl_->superseded = false;
  impl_->superseded_by = {};
  if (hit.dedupe_secs > 0 && hit.message_seq != 0 && impl_->Resent(hit)) return false;
  impl_->hit_severity = hit.severity;
  // A copy whose superseded_by the host correlations fill in for the fleet
  // ones after them (one process running both scopes).
  HitEvent local = hit;
  if (impl_->reads_local_time) {
    // The hour of the time the windows use: a stamp too far off is the
    // receive time there, and here.
    int clamped = 0;
    local.local = impl_->calendar.At(FromNs(impl_->ClampedNs(hit, &clamped)));
  }
  impl_->current_local = &local;
  impl_->Learn(local);
  const size_t first = out->size();
  impl_->Dispatch(local, 0, out);
  impl_->superseded_by = local.superseded_by;
  impl_->current_local = nullptr;
  // One finding, one alert: two correlations of one sign completed by the
  // same line (a login after guesses from its own address, and after
  // guesses of its account from many) keep the more severe (the first of
  // equals), which names the finding best. A host and a fleet correlation's
  // alerts both stay, as on the server.
  if (out->size() - first > 1) {
    const auto& fleet_ids = impl_->fleet_ids;
    auto is_fleet = [&](const Alert& a) { return fleet_ids.count(a.rule) != 0; };
    for (size_t i = first; i < out->size(); ++i) {
      for (size_t j = i + 1; j < out->size();) {
        if ((*out)[j].sign != (*out)[i].sign ||
            (!fleet_ids.empty() && is_fleet((*out)[j]) != is_fleet((*out)[i]))) {
          ++j;
          continue;
        }
        if ((*out)[j].severity > (*out)[i].severity) std::swap((*out)[i], (*out)[j]);
        out->erase(out->begin() + static_cast<ptrdiff_t>(j));
        impl_->merged->Inc();
      }
    }
  }
  return impl_->superseded;
}

void Correlator::Impl::ReleaseHeld(int64_t now_ns, bool all, std::vector<Alert>* out) {
  while (!held_closes.empty() && (all || held_closes.front().due_ns <= now_ns)) {
    HeldClose h = std::move(held_closes.front());
    held_closes.pop_front();
    h.alert.decided = FromNs(now_ns);
    h.alert.fields.emplace_back("waited_secs",
                                std::to_string(static_cast<int64_t>(h.corr->def.late_open_secs)));
    Emit(*h.corr, std::move(h.alert), 0, out);
  }
}

void Correlator::TakeDue(TimePoint now, std::vector<Alert>* out, bool all) {
  impl_->ReleaseHeld(ToNs(now), all, out);
}

void Correlator::set_origin_seq(uint64_t seq) { impl_->origin_seq = seq; }

void Correlator::Tick(TimePoint now) {
  Impl& m = *impl_;
  const int64_t now_ns = ToNs(now);
  for (auto& cp : m.corrs) {
    CompiledCorrelation& c = *cp;
    int64_t keep_ns = 0;
    switch (c.def.kind) {
      case CorrelationKind::kThreshold:
      case CorrelationKind::kDistinct:
        keep_ns = std::max(c.window_ns, c.quiet_ns);
        break;
      case CorrelationKind::kMembership:
      case CorrelationKind::kDirection:
        if (c.def.quiet_secs <= 0) continue;
        keep_ns = c.quiet_ns;
        break;
      case CorrelationKind::kSequence:
        keep_ns = std::max(c.window_ns, c.quiet_ns);  // quiet_secs' hold keys
        break;
      case CorrelationKind::kBeacon:
        keep_ns = c.window_ns;
        break;
      case CorrelationKind::kUnpaired:
        // An open that covers closes for window_secs is of no use after it.
        if (c.window_ns <= 0) continue;
        keep_ns = std::max(c.window_ns, c.quiet_ns);
        break;
      default:
        continue;  // unpaired and first_seen keep their keys until evicted
    }
    // Touch times are receive times; allow for stamps ahead of them.
    keep_ns += SecsToNs(m.options.max_future_secs);
    while (const KeyTable::Node* n = c.keys.Oldest()) {
      if (n->touched_ns >= now_ns - keep_ns) break;
      c.keys.PopOldest(nullptr);
      --m.total_keys;
    }
  }
  m.keys_gauge->Set(static_cast<double>(m.total_keys));
  if (m.options.state_file.empty() || m.options.save_interval_secs <= 0) return;
  if (m.last_save_ns == 0) m.last_save_ns = now_ns;
  if (now_ns - m.last_save_ns < SecsToNs(m.options.save_interval_secs)) return;
  m.last_save_ns = now_ns;
  if (Status s = SaveState(); !s.ok()) {
    Log(LogLevel::kError, "%s: %s", m.options.name.c_str(), s.ToString().c_str());
  }
}

}  // namespace konseki::matchers
