#include "matchers/correlation_loader.h"

#include <re2/re2.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "receiver/sender_allowlist.h"

namespace konseki::matchers {

const char* CorrelationKindName(CorrelationKind k) {
  switch (k) {
    case CorrelationKind::kThreshold:
      return "threshold";
    case CorrelationKind::kDistinct:
      return "distinct";
    case CorrelationKind::kSequence:
      return "sequence";
    case CorrelationKind::kUnpaired:
      return "unpaired";
    case CorrelationKind::kMembership:
      return "membership";
    case CorrelationKind::kFirstSeen:
      return "first_seen";
    case CorrelationKind::kBeacon:
      return "beacon";
    case CorrelationKind::kDirection:
      return "direction";
  }
  return "?";
}

bool ParseCorrelationKind(std::string_view name, CorrelationKind* out) {
  for (CorrelationKind k :
       {CorrelationKind::kThreshold, CorrelationKind::kDistinct, CorrelationKind::kSequence,
        CorrelationKind::kUnpaired, CorrelationKind::kMembership, CorrelationKind::kFirstSeen,
        CorrelationKind::kBeacon, CorrelationKind::kDirection}) {
    if (name == CorrelationKindName(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

namespace {

constexpr double kMaxWindowSecs = 366 * 86400.0;

Status ReadInputs(const yaml::Reader& r, const YAML::Node& node, std::string_view key,
                  std::vector<InputRef>* out) {
  std::vector<std::string> list;
  std::vector<int> lines;
  RETURN_IF_ERROR(r.GetStringOrList(node, key, &list, &lines));
  if (list.empty()) return r.Error(node, key, "needs at least one input");
  for (size_t i = 0; i < list.size(); ++i) {
    InputRef in;
    if (list[i].rfind("sign:", 0) == 0) {
      in.sign = list[i].substr(5);
    } else {
      in.id = list[i];
    }
    if (in.id.empty() && in.sign.empty()) return r.Error(lines[i], key, "empty input");
    out->push_back(std::move(in));
  }
  return Status::Ok();
}

Status ReadConditions(const yaml::Reader& r, const YAML::Node& node, std::string_view key,
                      std::vector<FieldCondition>* out) {
  std::vector<std::pair<std::string, std::string>> map;
  RETURN_IF_ERROR(r.GetStringMap(node, key, &map));
  for (auto& [field, pattern] : map) {
    RE2::Options o;
    o.set_case_sensitive(false);
    o.set_log_errors(false);
    RE2 re(pattern, o);
    if (!re.ok()) {
      return r.Error(node, key, "field " + field + ": bad pattern: " + re.error());
    }
    out->push_back({std::move(field), std::move(pattern)});
  }
  return Status::Ok();
}

// {rip: lip}: the two fields of one hit hold the same value. Each name is
// a field or pseudo-field (host, sender, ...), or name|stem; a field is
// not paired with itself.
Status ReadFieldPairs(const yaml::Reader& r, const YAML::Node& node, std::string_view key,
                      const std::string& id, std::vector<FieldPair>* out) {
  if (!node.IsMap() || node.size() == 0) {
    return r.Error(node, key,
                   "expected a mapping of field: other_field ({rip: lip}), found " +
                       yaml::KindName(node) + " (correlation " + id + ")");
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar() || !it->second.IsScalar()) {
      return r.Error(it->first, key,
                     "expected field: other_field, two field names (correlation " + id + ")");
    }
    FieldPair p{it->first.Scalar(), it->second.Scalar()};
    for (const std::string* f : {&p.field, &p.other}) {
      if (f->empty()) {
        return r.Error(it->first, key, "empty field name (correlation " + id + ")");
      }
      const size_t bar = f->find('|');
      if (bar != std::string::npos && (bar == 0 || f->substr(bar) != "|stem")) {
        return r.Error(it->first, key,
                       "\"" + *f + "\": a field name, or name|stem (correlation " + id + ")");
      }
    }
    if (p.field == p.other) {
      return r.Error(
          it->first, key,
          "compares " + p.field + " with itself; name two fields (correlation " + id + ")");
    }
    out->push_back(std::move(p));
  }
  return Status::Ok();
}

// {"host,src_ip": no_outbound}: any of the comma-separated fields in the set.
// {field[,field...]: set} or {field[,field...]: [set, set...]}: one
// condition per set (where_in: each must hold; unless_in: any excludes).
Status ReadSetConditions(const yaml::Reader& r, const YAML::Node& node, std::string_view key,
                         std::vector<SetCondition>* out) {
  if (!node.IsMap()) return r.Error(node, key, "expected a mapping of field[,field...]: set");
  std::vector<std::pair<std::string, std::string>> map;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) return r.Error(it->first, key, "names must be strings");
    if (it->second.IsScalar()) {
      map.emplace_back(it->first.Scalar(), it->second.Scalar());
      continue;
    }
    if (!it->second.IsSequence() || it->second.size() == 0) {
      return r.Error(it->second, key, "expected a set name or a list of set names");
    }
    for (const YAML::Node& set : it->second) {
      if (!set.IsScalar()) return r.Error(set, key, "expected a set name");
      map.emplace_back(it->first.Scalar(), set.Scalar());
    }
  }
  for (auto& [fields, set] : map) {
    SetCondition c;
    c.set = set;
    size_t start = 0;
    while (start <= fields.size()) {
      size_t comma = fields.find(',', start);
      if (comma == std::string::npos) comma = fields.size();
      if (comma > start) c.fields.push_back(fields.substr(start, comma - start));
      start = comma + 1;
    }
    if (c.fields.empty() || set.empty()) {
      return r.Error(node, key, "expected field[,field...]: set name");
    }
    out->push_back(std::move(c));
  }
  return Status::Ok();
}

// A severity name (info ... critical) at `key`; *text keeps the name.
Status GetSeverity(const yaml::Reader& r, const YAML::Node& node, std::string_view key,
                   Severity* out, std::string* text) {
  RETURN_IF_ERROR(r.GetString(node, key, text));
  if (!ParseSeverity(*text, out)) {
    return r.Error(node, key,
                   "unknown severity \"" + *text + "\" (use info, low, medium, high or critical)");
  }
  return Status::Ok();
}

// {outbound: high, internal: medium, inbound: none}
Status ReadDirectionSeverities(const yaml::Reader& r, const YAML::Node& node, Correlation* c) {
  std::vector<std::pair<std::string, std::string>> map;
  RETURN_IF_ERROR(r.GetStringMap(node, "severity_by_direction", &map));
  for (const auto& [name, severity] : map) {
    Direction d;
    if (!ParseDirection(name, &d)) {
      return r.Error(
          yaml::LineOf(node), "severity_by_direction",
          "unknown direction \"" + name + "\" (use inbound, outbound, internal, transit)");
    }
    const int i = static_cast<int>(d);
    c->alert_direction[i] = severity != "none";
    if (severity != "none" && !ParseSeverity(severity, &c->direction_severity[i])) {
      return r.Error(
          yaml::LineOf(node), "severity_by_direction",
          "unknown severity \"" + severity + "\" (use none, info, low, medium, high or critical)");
    }
  }
  return Status::Ok();
}

// {field: user, max_count: 20, severity: high}
Status ReadSoleValue(const yaml::Reader& r, const YAML::Node& node, Correlation* c) {
  RETURN_IF_ERROR(
      r.CheckKeys(node, "sole_value", {"field", "max_count", "severity"}, "sole_value"));
  if (!node["field"] || !node["max_count"] || !node["severity"]) {
    return r.Error(node, "sole_value", "needs field:, max_count: and severity:");
  }
  Correlation::SoleValue& s = c->sole_value;
  RETURN_IF_ERROR(r.GetString(node["field"], "field", &s.field));
  double max = 0;
  RETURN_IF_ERROR(r.GetNumber(node["max_count"], "max_count", 1, 10000, &max));
  s.max_count = static_cast<uint32_t>(max);
  std::string severity;
  RETURN_IF_ERROR(GetSeverity(r, node["severity"], "severity", &s.severity, &severity));
  if (s.field.empty()) return r.Error(node["field"], "field", "must name a field");
  // FIELD|net, FIELD|net16: the values' networks are compared.
  for (const std::string_view t : {"|net", "|net16"}) {
    if (s.field.size() > t.size() && std::string_view(s.field).ends_with(t)) {
      s.field.resize(s.field.size() - t.size());
      s.by_network = true;
      s.wide = t == "|net16";
      break;
    }
  }
  if (!c->field.empty() && (!s.by_network || s.field != c->field)) {
    // With distinct values, sole_value compares their networks.
    return r.Error(node["field"], "field",
                   "a sequence with field: " + c->field + " takes sole_value: on its network (" +
                       c->field + "|net or " + c->field + "|net16)");
  }
  return Status::Ok();
}

// A `field:` (a kind's, a set's learn:) is read by FieldValue: a name, or
// "name|stem"; the keys' and first_seen's transforms (net, lower, ...)
// would silently match nothing there.
Status CheckPlainField(const yaml::Reader& r, const YAML::Node& node, std::string_view key,
                       const std::string& field) {
  const size_t bar = field.find('|');
  if (bar == std::string::npos || (bar > 0 && field.substr(bar) == "|stem")) return Status::Ok();
  return r.Error(node, key,
                 "\"" + field +
                     "\": a field name, or name|stem (the transforms net, lower, ... "
                     "are for key: and first_seen:)");
}

// A distinct count's `field:` also takes the transforms that make sense of
// one value: net, net16, lower, domain, country (not host nor in:SET, which
// name another thing than the value).
Status CheckDistinctField(const yaml::Reader& r, const YAML::Node& node, const std::string& field) {
  const size_t bar = field.find('|');
  if (bar == std::string::npos) return Status::Ok();
  const std::string_view t = std::string_view(field).substr(bar + 1);
  if (bar > 0 && (t == "stem" || t == "net" || t == "net16" || t == "lower" || t == "domain" ||
                  t == "country")) {
    return Status::Ok();
  }
  return r.Error(node, "field",
                 "\"" + field +
                     "\": a field name, or name|TRANSFORM with net, net16, lower, domain, "
                     "country or stem");
}

Status ReadFieldRefs(const yaml::Reader& r, const YAML::Node& node, std::string_view key,
                     std::vector<FieldRef>* out) {
  std::vector<std::string> list;
  RETURN_IF_ERROR(r.GetStringOrList(node, key, &list, nullptr));
  for (const std::string& item : list) {
    FieldRef f;
    size_t bar = item.find('|');
    f.name = item.substr(0, bar);
    if (bar != std::string::npos) f.transform = item.substr(bar + 1);
    if (f.name.empty()) return r.Error(node, key, "empty field name");
    const bool in_set = f.transform.rfind("in:", 0) == 0 && f.transform.size() > 3;
    if (!f.transform.empty() && f.transform != "net" && f.transform != "net16" &&
        f.transform != "lower" && f.transform != "domain" && f.transform != "country" &&
        f.transform != "host" && !in_set) {
      return r.Error(node, key,
                     "unknown transform \"" + f.transform +
                         "\" (use net, net16, lower, domain, country, host or in:SET)");
    }
    out->push_back(std::move(f));
  }
  return Status::Ok();
}

// {on: [sshd.accepted], same: [user, src_ip], within_secs: 1800}
Status ReadWithdrawnBy(const yaml::Reader& r, const YAML::Node& node, Correlation* c) {
  RETURN_IF_ERROR(r.CheckKeys(node, "withdrawn_by", {"on", "same", "within_secs"}, "withdrawn_by"));
  if (!node["on"] || !node["same"] || !node["within_secs"]) {
    return r.Error(node, "withdrawn_by",
                   "needs on:, same: and within_secs: (correlation " + c->id + ")");
  }
  Correlation::WithdrawnBy& w = c->withdrawn_by;
  RETURN_IF_ERROR(ReadInputs(r, node["on"], "on", &w.on));
  RETURN_IF_ERROR(r.GetStringOrList(node["same"], "same", &w.same, nullptr));
  if (w.same.empty() || w.same.size() > 8) {
    return r.Error(node["same"], "same",
                   "needs one to eight fields the member's event and the withdrawing event "
                   "share (correlation " +
                       c->id + ")");
  }
  for (const std::string& f : w.same) {
    if (f.empty() || f.find('|') != std::string::npos) {
      return r.Error(node["same"], "same",
                     "\"" + f + "\": a field name, without transform (correlation " + c->id + ")");
    }
  }
  return r.GetNumber(node["within_secs"], "within_secs", 1, kMaxWindowSecs, &w.within_secs);
}

Status ReadExpectedAlert(const yaml::Reader& r, const YAML::Node& node, ExpectedAlert* a) {
  a->source_line = yaml::LineOf(node);
  RETURN_IF_ERROR(r.CheckKeys(node, "", {"sign", "severity", "fields"}, "alert"));
  if (!node["sign"]) return r.Error(a->source_line, "sign", "an expected alert needs its sign");
  RETURN_IF_ERROR(r.GetString(node["sign"], "sign", &a->sign));
  if (const YAML::Node s = node["severity"]) {
    Severity unused;
    RETURN_IF_ERROR(GetSeverity(r, s, "severity", &unused, &a->severity));
  }
  if (const YAML::Node f = node["fields"]) {
    return r.GetStringMap(f, "fields", &a->fields);
  }
  return Status::Ok();
}

Status ReadCorrelationExamples(const yaml::Reader& r, const YAML::Node& node, Correlation* c) {
  if (!node.IsSequence()) {
    return r.Error(node, "examples", "expected a list of cases, found " + yaml::KindName(node));
  }
  bool positive = false;
  for (const YAML::Node& item : node) {
    CorrelationExample ex;
    ex.source_line = yaml::LineOf(item);
    RETURN_IF_ERROR(r.CheckKeys(item, "", {"lines", "sender", "sets", "alerts"}, "example"));
    if (const YAML::Node sets = item["sets"]) {
      if (!sets.IsMap()) return r.Error(sets, "sets", "expected set name: [values]");
      for (const auto& kv : sets) {
        std::vector<std::string> values;
        RETURN_IF_ERROR(r.GetStringOrList(kv.second, "sets", &values, nullptr));
        ex.sets.emplace_back(kv.first.Scalar(), std::move(values));
      }
    }
    if (!item["lines"] || !item["alerts"]) {
      return r.Error(ex.source_line, "example", "a case needs lines: and alerts: ([] for none)");
    }
    RETURN_IF_ERROR(r.GetStringOrList(item["lines"], "lines", &ex.lines, nullptr));
    for (const std::string& l : ex.lines) {
      if (l.empty() || l.find('\n') != std::string::npos) {
        return r.Error(ex.source_line, "lines", "each line must be one non-empty line");
      }
    }
    if (item["sender"]) {
      RETURN_IF_ERROR(r.GetString(item["sender"], "sender", &ex.sender));
    }
    const YAML::Node alerts = item["alerts"];
    if (!alerts.IsSequence()) return r.Error(alerts, "alerts", "expected a list");
    for (const YAML::Node& a : alerts) {
      ExpectedAlert want;
      RETURN_IF_ERROR(ReadExpectedAlert(r, a, &want));
      ex.alerts.push_back(std::move(want));
    }
    positive = positive || !ex.alerts.empty();
    c->examples.push_back(std::move(ex));
  }
  if (!positive) {
    return r.Error(node, "examples", "a correlation needs a case that raises an alert");
  }
  return Status::Ok();
}

// The keys every correlation may carry, whatever its kind.
constexpr std::string_view kCommonKeys[] = {
    "id",          "sign",         "title",       "severity",    "description", "kind",
    "on",          "where",        "unless",      "where_in",    "unless_in",   "key",
    "scope",       "add_fields",   "max_keys",    "examples",    "supersedes",  "replaces",
    "severity_if", "carry_fields", "where_equal", "unless_equal"};
// The keys only some kinds take (KindKeys says which).
constexpr std::string_view kKindSpecificKeys[] = {"after",
                                                  "after_unless",
                                                  "after_unless_in",
                                                  "after_key",
                                                  "equal_after",
                                                  "sole_value",
                                                  "min_gap_secs",
                                                  "window_secs",
                                                  "count",
                                                  "quiet_secs",
                                                  "quiet_key",
                                                  "summary_fields",
                                                  "weight_field",
                                                  "field",
                                                  "values",
                                                  "cidrs",
                                                  "set",
                                                  "host_addresses",
                                                  "first_seen",
                                                  "min_observed_secs",
                                                  "reset_on_host_gap",
                                                  "ordered",
                                                  "restart_on",
                                                  "late_open_secs",
                                                  "duration_field",
                                                  "learning_secs",
                                                  "max_values_per_key",
                                                  "new_keys",
                                                  "alert_unless_in",
                                                  "established_count",
                                                  "established_secs",
                                                  "score",
                                                  "reservoir",
                                                  "early_count",
                                                  "early_score",
                                                  "size_field",
                                                  "burst_secs",
                                                  "src",
                                                  "dst",
                                                  "in",
                                                  "out",
                                                  "severity_by_direction",
                                                  "metric",
                                                  "withdrawn_by"};

// Which optional keys each kind takes (beyond the common ones).
std::set<std::string> KindKeys(CorrelationKind k) {
  switch (k) {
    case CorrelationKind::kThreshold:
      return {"window_secs", "count", "quiet_secs", "summary_fields", "weight_field"};
    case CorrelationKind::kDistinct:
      return {"window_secs", "count", "quiet_secs", "quiet_key", "field", "set", "withdrawn_by"};
    case CorrelationKind::kSequence:
      return {"after",       "after_unless", "after_unless_in", "after_key",
              "equal_after", "window_secs",  "count",           "field",
              "sole_value",  "min_gap_secs", "weight_field",    "quiet_secs",
              "set"};
    case CorrelationKind::kUnpaired:
      return {"after",          "after_unless", "min_observed_secs", "reset_on_host_gap",
              "ordered",        "window_secs",  "quiet_secs",        "quiet_key",
              "late_open_secs", "restart_on",   "duration_field"};
    case CorrelationKind::kMembership:
      return {"field", "values", "cidrs", "set", "host_addresses", "quiet_secs"};
    case CorrelationKind::kFirstSeen:
      // set: the learned addresses a first_seen entry's |host reads.
      return {"first_seen",      "learning_secs",     "max_values_per_key", "new_keys",
              "alert_unless_in", "established_count", "established_secs",   "set"};
    case CorrelationKind::kBeacon:
      return {"window_secs", "count",      "score",       "reservoir",
              "size_field",  "burst_secs", "early_count", "early_score"};
    case CorrelationKind::kDirection:
      return {"src", "dst", "in", "out", "set", "severity_by_direction", "metric", "quiet_secs"};
  }
  return {};
}

Status CheckKindKeys(const yaml::Reader& r, const YAML::Node& node, const Correlation& c) {
  const std::set<std::string> kind_specific(std::begin(kKindSpecificKeys),
                                            std::end(kKindSpecificKeys));
  const std::set<std::string> mine = KindKeys(c.kind);
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string& k = it->first.Scalar();
    if (kind_specific.count(k) && !mine.count(k)) {
      return r.Error(it->first, k,
                     std::string("not a parameter of kind ") + CorrelationKindName(c.kind) +
                         " (correlation " + c.id + ")");
    }
  }
  auto need = [&](const char* key) -> Status {
    if (!node[key]) {
      return r.Error(c.line, key,
                     std::string("kind ") + CorrelationKindName(c.kind) + " needs " + key +
                         " (correlation " + c.id + ")");
    }
    return Status::Ok();
  };
  switch (c.kind) {
    case CorrelationKind::kThreshold:
      RETURN_IF_ERROR(need("count"));
      return need("window_secs");
    case CorrelationKind::kDistinct:
      RETURN_IF_ERROR(need("count"));
      RETURN_IF_ERROR(need("field"));
      return need("window_secs");
    case CorrelationKind::kSequence:
      RETURN_IF_ERROR(need("after"));
      return need("window_secs");
    case CorrelationKind::kUnpaired:
      if (node["ordered"] &&
          (!node["key"] || (node["key"].IsSequence() && node["key"].size() == 0))) {
        return r.Error(node["ordered"], "ordered",
                       "needs a key whose last field is the counter (correlation " + c.id + ")");
      }

      return need("after");
    case CorrelationKind::kMembership:
      RETURN_IF_ERROR(need("field"));
      if (!node["values"] && !node["cidrs"] && !node["set"] && !node["host_addresses"]) {
        return r.Error(c.line, "membership",
                       "needs values, cidrs, set or host_addresses (correlation " + c.id + ")");
      }
      return Status::Ok();
    case CorrelationKind::kFirstSeen:
      return need("first_seen");
    case CorrelationKind::kBeacon:
      if (!node["key"]) {
        return r.Error(
            c.line, "key",
            "kind beacon needs key (source, destination, port fields; correlation " + c.id + ")");
      }
      RETURN_IF_ERROR(need("count"));
      return need("window_secs");
    case CorrelationKind::kDirection:
      RETURN_IF_ERROR(need("src"));
      RETURN_IF_ERROR(need("dst"));
      RETURN_IF_ERROR(need("set"));
      return need("severity_by_direction");
  }
  return Status::Ok();
}

Status ReadHeader(const yaml::Reader& r, const YAML::Node& node, Correlation* c) {
  for (const char* key :
       {"id", "sign", "title", "severity", "description", "kind", "on", "examples"}) {
    if (!node[key]) return r.Error(node, key, "missing required key in correlation");
  }
  c->file = r.source();
  c->line = yaml::LineOf(node["id"]);
  RETURN_IF_ERROR(r.GetString(node["id"], "id", &c->id));
  if (c->id.empty() || c->id.find_first_of(" \t\"'") != std::string::npos ||
      c->id.rfind("sign:", 0) == 0) {
    return r.Error(c->line, "id", "must be non-empty without spaces or quotes");
  }
  RETURN_IF_ERROR(r.GetString(node["sign"], "sign", &c->sign));
  if (Status sign = CheckSign(c->sign); !sign.ok()) {
    return r.Error(node["sign"], "sign", sign.message() + " (correlation " + c->id + ")");
  }
  RETURN_IF_ERROR(r.GetString(node["title"], "title", &c->title));
  std::string text;
  RETURN_IF_ERROR(GetSeverity(r, node["severity"], "severity", &c->severity, &text));
  RETURN_IF_ERROR(r.GetString(node["description"], "description", &c->description));
  RETURN_IF_ERROR(r.GetString(node["kind"], "kind", &text));
  if (!ParseCorrelationKind(text, &c->kind)) {
    return r.Error(node["kind"], "kind",
                   "unknown kind \"" + text +
                       "\" (use threshold, distinct, sequence, unpaired, membership, "
                       "first_seen, beacon or direction)");
  }
  if (const YAML::Node sc = node["scope"]) {
    RETURN_IF_ERROR(r.GetString(sc, "scope", &text));
    if (text != "host" && text != "fleet") {
      return r.Error(sc, "scope", "expected host or fleet");
    }
    c->scope = text == "host" ? KeyScope::kHost : KeyScope::kFleet;
  }
  return Status::Ok();
}

// The numeric and boolean keys of a correlation, with their ranges. Counts
// are bounded: threshold keeps the last `count` event times per key.
struct NumberKey {
  const char* key;
  double min, max;
  void (*set)(Correlation* c, double v);
};
const NumberKey kNumberKeys[] = {
    {"window_secs", 0.001, kMaxWindowSecs, [](Correlation* c, double v) { c->window_secs = v; }},
    {"quiet_secs", 0.001, kMaxWindowSecs, [](Correlation* c, double v) { c->quiet_secs = v; }},
    {"min_gap_secs", 0.001, kMaxWindowSecs, [](Correlation* c, double v) { c->min_gap_secs = v; }},
    {"late_open_secs", 0, 3600, [](Correlation* c, double v) { c->late_open_secs = v; }},
    {"count", 1, 10000, [](Correlation* c, double v) { c->count = static_cast<uint32_t>(v); }},
    {"score", 0, 1, [](Correlation* c, double v) { c->score = v; }},
    {"early_count", 4, 10000,
     [](Correlation* c, double v) { c->early_count = static_cast<uint32_t>(v); }},
    {"early_score", 0, 1, [](Correlation* c, double v) { c->early_score = v; }},
    {"reservoir", 4, 1024,
     [](Correlation* c, double v) { c->reservoir = static_cast<uint32_t>(v); }},
    {"burst_secs", 0, 3600, [](Correlation* c, double v) { c->burst_secs = v; }},
    {"min_observed_secs", 0, kMaxWindowSecs,
     [](Correlation* c, double v) { c->min_observed_secs = v; }},
    {"learning_secs", 0, kMaxWindowSecs, [](Correlation* c, double v) { c->learning_secs = v; }},
    {"max_values_per_key", 1, 4096,
     [](Correlation* c, double v) { c->max_values_per_key = static_cast<size_t>(v); }},
    {"established_count", 1, 10000,
     [](Correlation* c, double v) { c->established_count = static_cast<uint32_t>(v); }},
    {"established_secs", 0, kMaxWindowSecs,
     [](Correlation* c, double v) { c->established_secs = v; }},
    {"max_keys", 1, 1e8, [](Correlation* c, double v) { c->max_keys = static_cast<size_t>(v); }},
};
const std::pair<const char*, bool Correlation::*> kBoolKeys[] = {
    {"reset_on_host_gap", &Correlation::reset_on_host_gap},
    {"ordered", &Correlation::ordered},
    {"new_keys", &Correlation::new_keys},
    {"host_addresses", &Correlation::host_addresses},
    {"supersedes", &Correlation::supersedes},
    {"replaces", &Correlation::replaces},
};

Status ReadNumbers(const yaml::Reader& r, const YAML::Node& node, Correlation* c) {
  for (const NumberKey& k : kNumberKeys) {
    if (const YAML::Node n = node[k.key]) {
      double v = 0;
      RETURN_IF_ERROR(r.GetNumber(n, k.key, k.min, k.max, &v));
      k.set(c, v);
    }
  }
  for (const auto& [key, field] : kBoolKeys) {
    if (const YAML::Node n = node[key]) RETURN_IF_ERROR(r.GetBool(n, key, &(c->*field)));
  }
  return Status::Ok();
}

Status ReadLists(const yaml::Reader& r, const YAML::Node& node, Correlation* c) {
  RETURN_IF_ERROR(ReadInputs(r, node["on"], "on", &c->on));
  if (node["after"]) RETURN_IF_ERROR(ReadInputs(r, node["after"], "after", &c->after));
  if (node["restart_on"]) {
    if (!c->ordered) {
      return r.Error(
          node["restart_on"], "restart_on",
          "restarts an ordered counter: needs ordered: true (correlation " + c->id + ")");
    }
    RETURN_IF_ERROR(ReadInputs(r, node["restart_on"], "restart_on", &c->restart_on));
  }
  if (node["duration_field"]) {
    RETURN_IF_ERROR(r.GetString(node["duration_field"], "duration_field", &c->duration_field));
    if (c->duration_field.empty() || c->duration_field.find('|') != std::string::npos) {
      return r.Error(node["duration_field"], "duration_field",
                     "\"" + c->duration_field +
                         "\": the name of the close's field that says how long its session "
                         "lasted (correlation " +
                         c->id + ")");
    }
  }
  if (node["where"]) RETURN_IF_ERROR(ReadConditions(r, node["where"], "where", &c->where));
  if (node["unless"]) RETURN_IF_ERROR(ReadConditions(r, node["unless"], "unless", &c->unless));
  if (node["after_unless"])
    RETURN_IF_ERROR(ReadConditions(r, node["after_unless"], "after_unless", &c->after_unless));
  if (node["after_unless_in"]) {
    RETURN_IF_ERROR(
        ReadSetConditions(r, node["after_unless_in"], "after_unless_in", &c->after_unless_in));
  }
  if (node["key"]) RETURN_IF_ERROR(r.GetStringOrList(node["key"], "key", &c->key, nullptr));
  if (node["after_key"]) {
    RETURN_IF_ERROR(r.GetStringOrList(node["after_key"], "after_key", &c->after_key, nullptr));
    if (c->after_key.size() != c->key.size()) {
      return r.Error(node["after_key"], "after_key",
                     "needs as many fields as key (correlation " + c->id + ")");
    }
  }
  // |host (the watched host owning an address) only in the fleet: a host's
  // own correlations see no other host.
  for (const char* which : {"key", "after_key"}) {
    for (const std::string& k : which[0] == 'k' ? c->key : c->after_key) {
      const size_t bar = k.find('|');
      const std::string t = bar == std::string::npos ? "" : k.substr(bar);
      if (k.empty() || bar == 0 ||
          (!t.empty() && t != "|net" && t != "|lower" && t != "|domain" && t != "|country" &&
           t != "|host")) {
        return r.Error(
            node[which], which,
            "\"" + k +
                "\" is not a field, field|net, field|lower, field|domain, field|country or "
                "field|host "
                "(correlation " +
                c->id + ")");
      }
      if (t == "|host" && c->scope != KeyScope::kFleet) {
        return r.Error(node[which], which,
                       "field|host needs scope: fleet (correlation " + c->id + ")");
      }
    }
  }
  if (node["quiet_key"]) {
    RETURN_IF_ERROR(r.GetStringOrList(node["quiet_key"], "quiet_key", &c->quiet_key, nullptr));
    if (!node["quiet_secs"]) {
      return r.Error(node["quiet_key"], "quiet_key",
                     "keys the hold of quiet_secs, which is missing (correlation " + c->id + ")");
    }
    for (const std::string& k : c->quiet_key) {
      if (k.empty() || k.find('|') != std::string::npos) {
        return r.Error(node["quiet_key"], "quiet_key",
                       "\"" + k + "\": a field name (correlation " + c->id + ")");
      }
    }
    if (c->quiet_key.empty() || c->quiet_key == c->key) {
      return r.Error(
          node["quiet_key"], "quiet_key",
          "needs at least one field, and other fields than key (correlation " + c->id + ")");
    }
  }
  if (node["summary_fields"])
    RETURN_IF_ERROR(
        r.GetStringOrList(node["summary_fields"], "summary_fields", &c->summary_fields, nullptr));
  if (c->summary_fields.size() > 10) {
    return r.Error(node["summary_fields"], "summary_fields", "at most 10 fields");
  }
  if (node["field"]) {
    RETURN_IF_ERROR(r.GetString(node["field"], "field", &c->field));
    RETURN_IF_ERROR(c->kind == CorrelationKind::kDistinct
                        ? CheckDistinctField(r, node["field"], c->field)
                        : CheckPlainField(r, node["field"], "field", c->field));
  }
  if (node["values"])
    RETURN_IF_ERROR(r.GetStringOrList(node["values"], "values", &c->values, nullptr));
  if (node["cidrs"]) {
    RETURN_IF_ERROR(r.GetStringOrList(node["cidrs"], "cidrs", &c->cidrs, nullptr));
    auto parsed = receiver::SenderAllowlist::Parse(c->cidrs);
    if (!parsed.ok()) return r.Error(node["cidrs"], "cidrs", parsed.status().message());
  }
  if (node["set"]) RETURN_IF_ERROR(r.GetString(node["set"], "set", &c->set));
  for (auto [key, out] : {std::pair<const char*, std::string*>{"size_field", &c->size_field},
                          {"src", &c->src_field},
                          {"dst", &c->dst_field},
                          {"in", &c->in_field},
                          {"out", &c->out_field},
                          {"metric", &c->metric},
                          {"weight_field", &c->weight_field}}) {
    if (node[key]) RETURN_IF_ERROR(r.GetString(node[key], key, out));
  }
  if (node["weight_field"] && c->weight_field.empty()) {
    return r.Error(node["weight_field"], "weight_field", "must name a field");
  }
  if (!c->weight_field.empty() && !c->field.empty()) {
    return r.Error(node["weight_field"], "weight_field",
                   "a sequence with field: counts distinct values, not weighted hits "
                   "(correlation " +
                       c->id + ")");
  }
  if (!c->metric.empty() && !RE2::FullMatch(c->metric, "konseki_[a-z0-9_]+_total")) {
    return r.Error(node["metric"], "metric", "a counter name konseki_<thing>_total in lower case");
  }
  if (node["sole_value"]) RETURN_IF_ERROR(ReadSoleValue(r, node["sole_value"], c));
  if (node["where_equal"]) {
    RETURN_IF_ERROR(ReadFieldPairs(r, node["where_equal"], "where_equal", c->id, &c->where_equal));
  }
  if (node["equal_after"]) {
    // {B_FIELD: A_FIELD}: the same name on both sides is the usual case.
    const YAML::Node n = node["equal_after"];
    if (!n.IsMap() || n.size() == 0) {
      return r.Error(n, "equal_after",
                     "expected a mapping of on_field: after_field ({user: user}), found " +
                         yaml::KindName(n) + " (correlation " + c->id + ")");
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar() || !it->second.IsScalar()) {
        return r.Error(
            it->first, "equal_after",
            "expected on_field: after_field, two field names (correlation " + c->id + ")");
      }
      FieldPair p{it->first.Scalar(), it->second.Scalar()};
      for (const std::string* f : {&p.field, &p.other}) {
        if (f->empty() || f->find('|') != std::string::npos) {
          return r.Error(it->first, "equal_after",
                         "\"" + *f + "\": a field name (correlation " + c->id + ")");
        }
      }
      c->equal_after.push_back(std::move(p));
    }
  }
  if (node["unless_equal"]) {
    RETURN_IF_ERROR(
        ReadFieldPairs(r, node["unless_equal"], "unless_equal", c->id, &c->unless_equal));
  }
  if (node["where_in"])
    RETURN_IF_ERROR(ReadSetConditions(r, node["where_in"], "where_in", &c->where_in));
  if (node["unless_in"])
    RETURN_IF_ERROR(ReadSetConditions(r, node["unless_in"], "unless_in", &c->unless_in));
  if (node["alert_unless_in"]) {
    RETURN_IF_ERROR(
        ReadSetConditions(r, node["alert_unless_in"], "alert_unless_in", &c->alert_unless_in));
  }
  if (node["severity_by_direction"])
    RETURN_IF_ERROR(ReadDirectionSeverities(r, node["severity_by_direction"], c));
  if (node["first_seen"]) {
    RETURN_IF_ERROR(ReadFieldRefs(r, node["first_seen"], "first_seen", &c->first_values));
    // |host reads the fleet's hosts and their addresses, which only the
    // fleet correlator holds (as a key's |host).
    for (const FieldRef& f : c->first_values) {
      if (f.transform == "host" && c->scope != KeyScope::kFleet) {
        return r.Error(node["first_seen"], "first_seen",
                       f.name + "|host needs scope: fleet (correlation " + c->id + ")");
      }
    }
  }
  if (node["add_fields"])
    RETURN_IF_ERROR(r.GetStringMap(node["add_fields"], "add_fields", &c->add_fields));
  if (node["carry_fields"]) {
    RETURN_IF_ERROR(
        r.GetStringOrList(node["carry_fields"], "carry_fields", &c->carry_fields, nullptr));
    for (const std::string& f : c->carry_fields) {
      if (f.empty() || f.find('|') != std::string::npos) {
        return r.Error(node["carry_fields"], "carry_fields",
                       "\"" + f + "\" is not a field name (correlation " + c->id + ")");
      }
    }
  }
  return Status::Ok();
}

Status ReadCorrelation(const yaml::Reader& r, const YAML::Node& node, Correlation* c) {
  std::vector<std::string_view> allowed(std::begin(kCommonKeys), std::end(kCommonKeys));
  allowed.insert(allowed.end(), std::begin(kKindSpecificKeys), std::end(kKindSpecificKeys));
  RETURN_IF_ERROR(r.CheckKeys(node, "", allowed, "correlation"));
  RETURN_IF_ERROR(ReadHeader(r, node, c));
  RETURN_IF_ERROR(CheckKindKeys(r, node, *c));
  RETURN_IF_ERROR(ReadNumbers(r, node, c));
  RETURN_IF_ERROR(ReadLists(r, node, c));
  if (const YAML::Node list = node["severity_if"]) {
    if (!list.IsSequence()) {
      return r.Error(list, "severity_if",
                     "expected a list of {severity, where, where_in, where_equal}, found " +
                         yaml::KindName(list));
    }
    for (const YAML::Node& e : list) {
      RETURN_IF_ERROR(
          r.CheckKeys(e, "", {"severity", "where", "where_in", "where_equal"}, "severity_if"));
      Correlation::SeverityIf s;
      if (!e["severity"]) {
        return r.Error(e, "severity_if", "an entry needs severity (correlation " + c->id + ")");
      }
      std::string name;
      RETURN_IF_ERROR(r.GetString(e["severity"], "severity", &name));
      if (!ParseSeverity(name, &s.severity)) {
        return r.Error(e["severity"], "severity_if",
                       "unknown severity \"" + name + "\" (correlation " + c->id + ")");
      }
      if (e["where"]) RETURN_IF_ERROR(ReadConditions(r, e["where"], "where", &s.where));
      if (e["where_in"]) {
        RETURN_IF_ERROR(ReadSetConditions(r, e["where_in"], "where_in", &s.where_in));
      }
      if (e["where_equal"]) {
        RETURN_IF_ERROR(ReadFieldPairs(r, e["where_equal"], "where_equal", c->id, &s.where_equal));
      }
      if (s.where.empty() && s.where_in.empty() && s.where_equal.empty()) {
        return r.Error(e, "severity_if",
                       "an entry needs where, where_in or where_equal (correlation " + c->id + ")");
      }
      c->severity_if.push_back(std::move(s));
    }
  }
  if (const YAML::Node w = node["withdrawn_by"]) RETURN_IF_ERROR(ReadWithdrawnBy(r, w, c));
  if (c->replaces && !c->supersedes) {
    return r.Error(node["replaces"], "replaces",
                   "needs supersedes: true (correlation " + c->id + ")");
  }
  if (c->supersedes && c->scope == KeyScope::kFleet) {
    return r.Error(node["supersedes"], "supersedes",
                   "only a host-scoped correlation can take the place of its input's alert "
                   "(correlation " +
                       c->id + ")");
  }
  return ReadCorrelationExamples(r, node["examples"], c);
}

}  // namespace

Status ReadCorrelations(const yaml::Reader& r, const YAML::Node& node,
                        std::vector<Correlation>* out) {
  if (!node.IsSequence()) {
    return r.Error(node, "correlations",
                   "expected a list of correlations, found " + yaml::KindName(node));
  }
  std::map<std::string, int> ids;
  for (const YAML::Node& item : node) {
    Correlation c;
    RETURN_IF_ERROR(ReadCorrelation(r, item, &c));
    auto [it, inserted] = ids.emplace(c.id, c.line);
    if (!inserted) {
      return r.Error(c.line, "id",
                     "duplicate correlation id " + c.id + " (first defined at line " +
                         std::to_string(it->second) + ")");
    }
    out->push_back(std::move(c));
  }
  return Status::Ok();
}

Status ReadSets(const yaml::Reader& r, const YAML::Node& node, std::vector<ValueSet>* out) {
  if (!node.IsSequence()) {
    return r.Error(node, "sets", "expected a list of sets, found " + yaml::KindName(node));
  }
  for (const YAML::Node& item : node) {
    ValueSet v;
    RETURN_IF_ERROR(r.CheckKeys(item, "", {"id", "values", "learn", "max_learned"}, "set"));
    if (!item["id"]) return r.Error(item, "id", "missing required key in set");
    v.file = r.source();
    v.line = yaml::LineOf(item["id"]);
    RETURN_IF_ERROR(r.GetString(item["id"], "id", &v.id));
    if (item["values"]) {
      RETURN_IF_ERROR(r.GetStringOrList(item["values"], "values", &v.values, nullptr));
    }
    if (const YAML::Node m = item["max_learned"]) {
      double max = 0;
      RETURN_IF_ERROR(r.GetNumber(m, "max_learned", 1, 1024, &max));
      v.max_learned = static_cast<size_t>(max);
    }
    if (const YAML::Node learn = item["learn"]) {
      if (!learn.IsSequence()) return r.Error(learn, "learn", "expected a list");
      for (const YAML::Node& l : learn) {
        SetLearner sl;
        RETURN_IF_ERROR(r.CheckKeys(l, "", {"on", "field", "where"}, "learn"));
        if (!l["on"] || !l["field"]) return r.Error(l, "learn", "needs on: and field:");
        RETURN_IF_ERROR(ReadInputs(r, l["on"], "on", &sl.on));
        RETURN_IF_ERROR(r.GetString(l["field"], "field", &sl.field));
        RETURN_IF_ERROR(CheckPlainField(r, l["field"], "field", sl.field));
        if (l["where"]) {
          RETURN_IF_ERROR(ReadConditions(r, l["where"], "where", &sl.where));
        }
        v.learn.push_back(std::move(sl));
      }
    }
    out->push_back(std::move(v));
  }
  return Status::Ok();
}

namespace {

// Every input must name something that exists; returns the correlations the
// inputs name (for the cycle and scope checks).
Status CheckInputs(const RulePack& pack, const Correlation& c, const std::vector<InputRef>& ins,
                   const std::map<std::string, const Correlation*>& corr_ids,
                   const std::set<std::string>& rule_ids, const std::set<std::string>& signs,
                   std::vector<const Correlation*>* feeds) {
  for (const InputRef& in : ins) {
    if (!in.sign.empty()) {
      if (!signs.count(in.sign)) {
        return Status::InvalidArgument(yaml::Where(c.file, c.line, "on") + ": correlation " + c.id +
                                       ": no rule or correlation has sign " + in.sign);
      }
      for (const Correlation& o : pack.correlations) {
        if (o.sign == in.sign) feeds->push_back(&o);
      }
      continue;
    }
    if (auto it = corr_ids.find(in.id); it != corr_ids.end()) {
      feeds->push_back(it->second);
    } else if (!rule_ids.count(in.id)) {
      return Status::InvalidArgument(yaml::Where(c.file, c.line, "on") + ": correlation " + c.id +
                                     ": no rule or correlation has id " + in.id);
    }
  }
  return Status::Ok();
}

// The names of the groups of a rule's extract patterns ("(?P<user>...)")
// and the fields its recall adds: the fields its hits may carry.
std::set<std::string> FieldsOf(const Rule& rule) {
  std::set<std::string> out(rule.recall.fields.begin(), rule.recall.fields.end());
  for (const std::string& re : rule.extract) {
    for (size_t at = re.find("(?"); at != std::string::npos; at = re.find("(?", at + 2)) {
      size_t start = at + 2;
      if (start < re.size() && re[start] == 'P') ++start;
      if (start >= re.size() || re[start] != '<') continue;
      const size_t end = re.find('>', start);
      if (end == std::string::npos || end == start + 1) continue;
      out.insert(re.substr(start + 1, end - start - 1));
    }
  }
  return out;
}

// withdrawn_by.same: each field must be one that some member input and
// some withdrawing input may carry (a line's pseudo-fields always; a
// correlation's alert may carry any), or nothing would ever be withdrawn.
Status CheckWithdrawnBy(const RulePack& pack, const Correlation& c,
                        const std::map<std::string, const Correlation*>& corr_ids) {
  const Correlation::WithdrawnBy& w = c.withdrawn_by;
  if (w.on.empty()) return Status::Ok();
  auto carries = [&](const std::vector<InputRef>& ins, const std::string& field) {
    for (const InputRef& in : ins) {
      if (in.sign.empty() ? corr_ids.count(in.id) > 0
                          : std::any_of(pack.correlations.begin(), pack.correlations.end(),
                                        [&](const Correlation& o) { return o.sign == in.sign; })) {
        return true;
      }
      for (const Rule& rule : pack.rules) {
        if ((in.sign.empty() ? rule.id == in.id : rule.sign == in.sign) &&
            FieldsOf(rule).count(field)) {
          return true;
        }
      }
    }
    return false;
  };
  for (const std::string& f : w.same) {
    if (f == "host" || f == "sender" || f == "program" || f == "pid") continue;
    for (const auto* ins : {&c.on, &w.on}) {
      if (carries(*ins, f)) continue;
      return Status::InvalidArgument(
          yaml::Where(c.file, c.line, "withdrawn_by") + ": correlation " + c.id +
          ": withdrawn_by.same field " + f + " is extracted by none of the " +
          (ins == &c.on ? "correlation's inputs (on:)" : "withdrawing inputs (withdrawn_by.on:)"));
    }
  }
  return Status::Ok();
}

// where_equal, unless_equal, severity_if's where_equal and quiet_key: each
// field must be a pseudo-field or one that some input (on:, after:) may
// carry (a rule extracting it, or a correlation's alert), or the condition
// could never hold ({rip: lpi}) and would silently pass or fail every hit;
// equal_after's B field one of on:, its A field one of after:.
Status CheckFieldPairs(const RulePack& pack, const Correlation& c,
                       const std::map<std::string, const Correlation*>& corr_ids) {
  static constexpr std::string_view kPseudo[] = {
      "host", "sender", "program", "pid", "superseded_by", "hour", "weekday", "work_hours"};
  // By some input of `inputs` (0: on and after, 1: on, 2: after).
  auto carried = [&](std::string_view field, int inputs = 0) {
    if (std::find(std::begin(kPseudo), std::end(kPseudo), field) != std::end(kPseudo)) return true;
    for (const auto* ins : {&c.on, &c.after}) {
      if ((inputs == 1 && ins != &c.on) || (inputs == 2 && ins != &c.after)) continue;
      for (const InputRef& in : *ins) {
        if (in.sign.empty()
                ? corr_ids.count(in.id) > 0
                : std::any_of(pack.correlations.begin(), pack.correlations.end(),
                              [&](const Correlation& o) { return o.sign == in.sign; })) {
          return true;
        }
        for (const Rule& rule : pack.rules) {
          if ((in.sign.empty() ? rule.id == in.id : rule.sign == in.sign) &&
              FieldsOf(rule).count(std::string(field))) {
            return true;
          }
        }
      }
    }
    return false;
  };
  auto check = [&](const std::vector<FieldPair>& pairs, const char* key) -> Status {
    for (const FieldPair& p : pairs) {
      for (const std::string* f : {&p.field, &p.other}) {
        const std::string_view name = std::string_view(*f).substr(0, f->find('|'));
        if (carried(name)) continue;
        return Status::InvalidArgument(yaml::Where(c.file, c.line, key) + ": correlation " + c.id +
                                       ": " + key + " field " + std::string(name) +
                                       " is extracted by none of the correlation's inputs");
      }
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(check(c.where_equal, "where_equal"));
  RETURN_IF_ERROR(check(c.unless_equal, "unless_equal"));
  for (const Correlation::SeverityIf& s : c.severity_if) {
    RETURN_IF_ERROR(check(s.where_equal, "severity_if"));
  }
  for (const FieldPair& p : c.equal_after) {
    for (int side : {1, 2}) {
      const std::string& f = side == 1 ? p.field : p.other;
      if (carried(f, side)) continue;
      return Status::InvalidArgument(yaml::Where(c.file, c.line, "equal_after") + ": correlation " +
                                     c.id + ": equal_after field " + f +
                                     " is extracted by none of the " +
                                     (side == 1 ? "on: inputs" : "after: inputs"));
    }
  }
  // A quiet_key field no hit carries would leave every alert unheld.
  for (const std::string& f : c.quiet_key) {
    if (carried(f)) continue;
    return Status::InvalidArgument(yaml::Where(c.file, c.line, "quiet_key") + ": correlation " +
                                   c.id + ": quiet_key field " + f +
                                   " is extracted by none of the correlation's inputs");
  }
  return Status::Ok();
}

}  // namespace

Status CheckCorrelations(const RulePack& pack) {
  std::set<std::string> rule_ids, signs, set_ids;
  for (const Rule& r : pack.rules) {
    rule_ids.insert(r.id);
    signs.insert(r.sign);
  }
  std::map<std::string, const Correlation*> corr_ids;
  for (const Correlation& c : pack.correlations) {
    if (rule_ids.count(c.id)) {
      return Status::InvalidArgument(yaml::Where(c.file, c.line, "id") + ": correlation " + c.id +
                                     " has the id of a rule");
    }
    if (!corr_ids.emplace(c.id, &c).second) {
      const Correlation* first = corr_ids[c.id];
      return Status::InvalidArgument(yaml::Where(c.file, c.line, "id") +
                                     ": duplicate correlation id " + c.id + " (first defined at " +
                                     first->file + ":" + std::to_string(first->line) + ")");
    }
    signs.insert(c.sign);
  }
  for (const ValueSet& v : pack.sets) {
    if (!set_ids.insert(v.id).second) {
      return Status::InvalidArgument(yaml::Where(v.file, v.line, "id") + ": duplicate set " + v.id);
    }
  }
  // A set learns from rule hits and host-scoped correlation alerts (fleet
  // alerts are made on another thread, which has no host's sets).
  for (const ValueSet& v : pack.sets) {
    for (const SetLearner& l : v.learn) {
      for (const InputRef& in : l.on) {
        const auto corr = corr_ids.find(in.id);
        const bool known = in.sign.empty() ? rule_ids.count(in.id) > 0 || corr != corr_ids.end()
                                           : signs.count(in.sign) > 0;
        if (!known) {
          return Status::InvalidArgument(
              yaml::Where(v.file, v.line, "learn") + ": set " + v.id + ": no rule" +
              (in.sign.empty() ? " or correlation has id " + in.id : " has sign " + in.sign));
        }
        if (corr != corr_ids.end() && corr->second->scope == KeyScope::kFleet) {
          return Status::InvalidArgument(yaml::Where(v.file, v.line, "learn") + ": set " + v.id +
                                         ": cannot learn from the fleet-scoped correlation " +
                                         in.id);
        }
      }
    }
  }
  std::map<const Correlation*, std::vector<const Correlation*>> feeds;
  for (const Correlation& c : pack.correlations) {
    std::vector<const Correlation*>& f = feeds[&c];
    RETURN_IF_ERROR(CheckInputs(pack, c, c.on, corr_ids, rule_ids, signs, &f));
    RETURN_IF_ERROR(CheckInputs(pack, c, c.after, corr_ids, rule_ids, signs, &f));
    RETURN_IF_ERROR(CheckInputs(pack, c, c.withdrawn_by.on, corr_ids, rule_ids, signs, &f));
    RETURN_IF_ERROR(CheckInputs(pack, c, c.restart_on, corr_ids, rule_ids, signs, &f));
    RETURN_IF_ERROR(CheckWithdrawnBy(pack, c, corr_ids));
    RETURN_IF_ERROR(CheckFieldPairs(pack, c, corr_ids));
    if (!c.set.empty() && !set_ids.count(c.set)) {
      return Status::InvalidArgument(yaml::Where(c.file, c.line, "set") + ": correlation " + c.id +
                                     ": no set named " + c.set);
    }
    std::vector<const std::vector<SetCondition>*> all_conds = {
        &c.where_in, &c.unless_in, &c.alert_unless_in, &c.after_unless_in};
    for (const Correlation::SeverityIf& s : c.severity_if) all_conds.push_back(&s.where_in);
    for (const auto* conds : all_conds) {
      for (const SetCondition& sc : *conds) {
        if (!set_ids.count(sc.set)) {
          return Status::InvalidArgument(yaml::Where(c.file, c.line, "where_in/unless_in") +
                                         ": correlation " + c.id + ": no set named " + sc.set);
        }
      }
    }
    for (const FieldRef& f : c.first_values) {
      if (f.transform.rfind("in:", 0) == 0 && !set_ids.count(f.transform.substr(3))) {
        return Status::InvalidArgument(yaml::Where(c.file, c.line, "first_seen") +
                                       ": correlation " + c.id + ": no set named " +
                                       f.transform.substr(3));
      }
    }
    for (const Correlation* in : f) {
      if (c.scope == KeyScope::kHost && in->scope == KeyScope::kFleet) {
        return Status::InvalidArgument(yaml::Where(c.file, c.line, "scope") +
                                       ": host-scoped correlation " + c.id +
                                       " cannot take the fleet-scoped " + in->id +
                                       " as input (fleet alerts are made on another thread)");
      }
    }
  }
  // Depth-first search for a cycle (a correlation feeding itself would loop).
  std::map<const Correlation*, int> state;  // 1 = on the stack, 2 = done
  std::function<const Correlation*(const Correlation*)> visit =
      [&](const Correlation* c) -> const Correlation* {
    state[c] = 1;
    for (const Correlation* in : feeds[c]) {
      if (state[in] == 1) return in;
      if (state[in] == 0) {
        if (const Correlation* bad = visit(in)) return bad;
      }
    }
    state[c] = 2;
    return nullptr;
  };
  for (const Correlation& c : pack.correlations) {
    if (state[&c] != 0) continue;
    if (const Correlation* bad = visit(&c)) {
      return Status::InvalidArgument(yaml::Where(bad->file, bad->line, "on") + ": correlation " +
                                     bad->id +
                                     " is part of a cycle of correlations feeding each other");
    }
  }
  return Status::Ok();
}

}  // namespace konseki::matchers
