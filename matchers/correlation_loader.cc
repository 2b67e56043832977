#include "matchers/correlation_loader.h"

#include <re2/re2.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "receiver/sender_allowlist.h"

namespace konseki::matchers {

using pack_yaml::CheckKeys;
using pack_yaml::KindName;
using pack_yaml::LineOf;
using pack_yaml::ReadNumber;
using pack_yaml::ReadString;
using pack_yaml::ReadStringList;
using pack_yaml::Reporter;

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

Status ReadInputs(const Reporter& r, const YAML::Node& node, std::string_view key,
                  std::vector<InputRef>* out) {
  std::vector<std::string> list;
  std::vector<int> lines;
  if (Status s = ReadStringList(r, node, key, &list, &lines); !s.ok()) return s;
  if (list.empty()) return r.Error(LineOf(node), key, "needs at least one input");
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

Status ReadConditions(const Reporter& r, const YAML::Node& node, std::string_view key,
                      std::vector<FieldCondition>* out) {
  std::vector<std::pair<std::string, std::string>> map;
  if (Status s = pack_yaml::ReadStringMap(r, node, key, &map); !s.ok()) return s;
  for (auto& [field, pattern] : map) {
    RE2::Options o;
    o.set_case_sensitive(false);
    o.set_log_errors(false);
    RE2 re(pattern, o);
    if (!re.ok()) {
      return r.Error(LineOf(node), key, "field " + field + ": bad pattern: " + re.error());
    }
    out->push_back({std::move(field), std::move(pattern)});
  }
  return Status::Ok();
}

// {"host,src_ip": no_outbound}: any of the comma-separated fields in the set.
Status ReadSetConditions(const Reporter& r, const YAML::Node& node, std::string_view key,
                         std::vector<SetCondition>* out) {
  std::vector<std::pair<std::string, std::string>> map;
  if (Status s = pack_yaml::ReadStringMap(r, node, key, &map); !s.ok()) return s;
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
      return r.Error(LineOf(node), key, "expected field[,field...]: set name");
    }
    out->push_back(std::move(c));
  }
  return Status::Ok();
}

// {outbound: high, internal: medium, inbound: none}
Status ReadDirectionSeverities(const Reporter& r, const YAML::Node& node, Correlation* c) {
  std::vector<std::pair<std::string, std::string>> map;
  if (Status s = pack_yaml::ReadStringMap(r, node, "severity_by_direction", &map); !s.ok()) {
    return s;
  }
  for (const auto& [name, severity] : map) {
    Direction d;
    if (!ParseDirection(name, &d)) {
      return r.Error(
          LineOf(node), "severity_by_direction",
          "unknown direction \"" + name + "\" (use inbound, outbound, internal, transit)");
    }
    const int i = static_cast<int>(d);
    c->alert_direction[i] = severity != "none";
    if (severity != "none" && !ParseSeverity(severity, &c->direction_severity[i])) {
      return r.Error(
          LineOf(node), "severity_by_direction",
          "unknown severity \"" + severity + "\" (use none, info, low, medium, high or critical)");
    }
  }
  return Status::Ok();
}

Status ReadFieldRefs(const Reporter& r, const YAML::Node& node, std::string_view key,
                     std::vector<FieldRef>* out) {
  std::vector<std::string> list;
  if (Status s = ReadStringList(r, node, key, &list, nullptr); !s.ok()) return s;
  for (const std::string& item : list) {
    FieldRef f;
    size_t bar = item.find('|');
    f.name = item.substr(0, bar);
    if (bar != std::string::npos) f.transform = item.substr(bar + 1);
    if (f.name.empty()) return r.Error(LineOf(node), key, "empty field name");
    if (!f.transform.empty() && f.transform != "net" && f.transform != "lower") {
      return r.Error(LineOf(node), key,
                     "unknown transform \"" + f.transform + "\" (use net or lower)");
    }
    out->push_back(std::move(f));
  }
  return Status::Ok();
}

Status ReadExpectedAlert(const Reporter& r, const YAML::Node& node, ExpectedAlert* a) {
  a->source_line = LineOf(node);
  if (Status s = CheckKeys(r, node, "alert", {"sign", "fields"}); !s.ok()) return s;
  if (!node["sign"]) return r.Error(a->source_line, "sign", "an expected alert needs its sign");
  if (Status s = ReadString(r, node["sign"], "sign", &a->sign); !s.ok()) return s;
  if (const YAML::Node f = node["fields"]) {
    return pack_yaml::ReadStringMap(r, f, "fields", &a->fields);
  }
  return Status::Ok();
}

Status ReadCorrelationExamples(const Reporter& r, const YAML::Node& node, Correlation* c) {
  if (!node.IsSequence()) {
    return r.Error(LineOf(node), "examples", "expected a list of cases, found " + KindName(node));
  }
  bool positive = false;
  for (const YAML::Node& item : node) {
    CorrelationExample ex;
    ex.source_line = LineOf(item);
    if (Status s = CheckKeys(r, item, "example", {"lines", "sender", "sets", "alerts"}); !s.ok()) {
      return s;
    }
    if (const YAML::Node sets = item["sets"]) {
      if (!sets.IsMap()) return r.Error(LineOf(sets), "sets", "expected set name: [values]");
      for (const auto& kv : sets) {
        std::vector<std::string> values;
        if (Status s = ReadStringList(r, kv.second, "sets", &values, nullptr); !s.ok()) return s;
        ex.sets.emplace_back(kv.first.Scalar(), std::move(values));
      }
    }
    if (!item["lines"] || !item["alerts"]) {
      return r.Error(ex.source_line, "example", "a case needs lines: and alerts: ([] for none)");
    }
    if (Status s = ReadStringList(r, item["lines"], "lines", &ex.lines, nullptr); !s.ok()) return s;
    for (const std::string& l : ex.lines) {
      if (l.empty() || l.find('\n') != std::string::npos) {
        return r.Error(ex.source_line, "lines", "each line must be one non-empty line");
      }
    }
    if (item["sender"]) {
      if (Status s = ReadString(r, item["sender"], "sender", &ex.sender); !s.ok()) return s;
    }
    const YAML::Node alerts = item["alerts"];
    if (!alerts.IsSequence()) return r.Error(LineOf(alerts), "alerts", "expected a list");
    for (const YAML::Node& a : alerts) {
      ExpectedAlert want;
      if (Status s = ReadExpectedAlert(r, a, &want); !s.ok()) return s;
      ex.alerts.push_back(std::move(want));
    }
    positive = positive || !ex.alerts.empty();
    c->examples.push_back(std::move(ex));
  }
  if (!positive) {
    return r.Error(LineOf(node), "examples", "a correlation needs a case that raises an alert");
  }
  return Status::Ok();
}

// Which optional keys each kind takes (beyond the common ones).
std::set<std::string> KindKeys(CorrelationKind k) {
  switch (k) {
    case CorrelationKind::kThreshold:
      return {"window_secs", "count", "quiet_secs", "summary_fields"};
    case CorrelationKind::kDistinct:
      return {"window_secs", "count", "quiet_secs", "field"};
    case CorrelationKind::kSequence:
      return {"after", "window_secs", "count"};
    case CorrelationKind::kUnpaired:
      return {"after", "min_observed_secs", "reset_on_host_gap"};
    case CorrelationKind::kMembership:
      return {"field", "values", "cidrs", "set", "host_addresses"};
    case CorrelationKind::kFirstSeen:
      return {"first_seen", "learning_secs", "max_values_per_key", "new_keys"};
    case CorrelationKind::kBeacon:
      return {"window_secs", "count", "score", "reservoir", "size_field", "burst_secs"};
    case CorrelationKind::kDirection:
      return {"src", "dst", "in", "out", "set", "severity_by_direction", "metric"};
  }
  return {};
}

Status CheckKindKeys(const Reporter& r, const YAML::Node& node, const Correlation& c) {
  static const std::set<std::string> kKindSpecific = {"after",
                                                      "window_secs",
                                                      "count",
                                                      "quiet_secs",
                                                      "summary_fields",
                                                      "field",
                                                      "values",
                                                      "cidrs",
                                                      "set",
                                                      "host_addresses",
                                                      "first_seen",
                                                      "min_observed_secs",
                                                      "reset_on_host_gap",
                                                      "learning_secs",
                                                      "max_values_per_key",
                                                      "new_keys",
                                                      "score",
                                                      "reservoir",
                                                      "size_field",
                                                      "burst_secs",
                                                      "src",
                                                      "dst",
                                                      "in",
                                                      "out",
                                                      "severity_by_direction",
                                                      "metric"};
  const std::set<std::string> mine = KindKeys(c.kind);
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string& k = it->first.Scalar();
    if (kKindSpecific.count(k) && !mine.count(k)) {
      return r.Error(LineOf(it->first), k,
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
      if (Status s = need("count"); !s.ok()) return s;
      return need("window_secs");
    case CorrelationKind::kDistinct:
      if (Status s = need("count"); !s.ok()) return s;
      if (Status s = need("field"); !s.ok()) return s;
      return need("window_secs");
    case CorrelationKind::kSequence:
      if (Status s = need("after"); !s.ok()) return s;
      return need("window_secs");
    case CorrelationKind::kUnpaired:
      return need("after");
    case CorrelationKind::kMembership:
      if (Status s = need("field"); !s.ok()) return s;
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
      if (Status s = need("count"); !s.ok()) return s;
      return need("window_secs");
    case CorrelationKind::kDirection:
      if (Status s = need("src"); !s.ok()) return s;
      if (Status s = need("dst"); !s.ok()) return s;
      if (Status s = need("set"); !s.ok()) return s;
      return need("severity_by_direction");
  }
  return Status::Ok();
}

Status ReadHeader(const Reporter& r, const YAML::Node& node, Correlation* c) {
  for (const char* key :
       {"id", "sign", "title", "severity", "description", "kind", "on", "examples"}) {
    if (!node[key]) return r.Error(LineOf(node), key, "missing required key in correlation");
  }
  c->file = r.path();
  c->line = LineOf(node["id"]);
  Status s;
  if (!(s = ReadString(r, node["id"], "id", &c->id)).ok()) return s;
  if (c->id.empty() || c->id.find_first_of(" \t\"'") != std::string::npos ||
      c->id.rfind("sign:", 0) == 0) {
    return r.Error(c->line, "id", "must be non-empty without spaces or quotes");
  }
  if (!(s = ReadString(r, node["sign"], "sign", &c->sign)).ok()) return s;
  if (Status sign = CheckSign(c->sign); !sign.ok()) {
    return r.Error(LineOf(node["sign"]), "sign", sign.message() + " (correlation " + c->id + ")");
  }
  if (!(s = ReadString(r, node["title"], "title", &c->title)).ok()) return s;
  std::string text;
  if (!(s = ReadString(r, node["severity"], "severity", &text)).ok()) return s;
  if (!ParseSeverity(text, &c->severity)) {
    return r.Error(LineOf(node["severity"]), "severity",
                   "unknown severity \"" + text + "\" (use info, low, medium, high or critical)");
  }
  if (!(s = ReadString(r, node["description"], "description", &c->description)).ok()) return s;
  if (!(s = ReadString(r, node["kind"], "kind", &text)).ok()) return s;
  if (!ParseCorrelationKind(text, &c->kind)) {
    return r.Error(LineOf(node["kind"]), "kind",
                   "unknown kind \"" + text +
                       "\" (use threshold, distinct, sequence, unpaired, membership, "
                       "first_seen, beacon or direction)");
  }
  if (const YAML::Node sc = node["scope"]) {
    if (!(s = ReadString(r, sc, "scope", &text)).ok()) return s;
    if (text != "host" && text != "fleet") {
      return r.Error(LineOf(sc), "scope", "expected host or fleet");
    }
    c->scope = text == "host" ? KeyScope::kHost : KeyScope::kFleet;
  }
  return Status::Ok();
}

Status ReadNumbers(const Reporter& r, const YAML::Node& node, Correlation* c) {
  Status s;
  double v = 0;
  if (const YAML::Node n = node["window_secs"]) {
    if (!(s = ReadNumber(r, n, "window_secs", 0.001, kMaxWindowSecs, &c->window_secs)).ok()) {
      return s;
    }
  }
  if (const YAML::Node n = node["quiet_secs"]) {
    if (!(s = ReadNumber(r, n, "quiet_secs", 0.001, kMaxWindowSecs, &c->quiet_secs)).ok()) {
      return s;
    }
  }
  if (const YAML::Node n = node["count"]) {
    // Threshold keeps the last `count` event times per key: bounded.
    if (!(s = ReadNumber(r, n, "count", 1, 10000, &v)).ok()) return s;
    c->count = static_cast<uint32_t>(v);
  }
  if (const YAML::Node n = node["score"]) {
    if (!(s = ReadNumber(r, n, "score", 0, 1, &c->score)).ok()) return s;
  }
  if (const YAML::Node n = node["reservoir"]) {
    if (!(s = ReadNumber(r, n, "reservoir", 4, 1024, &v)).ok()) return s;
    c->reservoir = static_cast<uint32_t>(v);
  }
  if (const YAML::Node n = node["burst_secs"]) {
    if (!(s = ReadNumber(r, n, "burst_secs", 0, 3600, &c->burst_secs)).ok()) return s;
  }
  if (const YAML::Node n = node["min_observed_secs"]) {
    if (!(s = ReadNumber(r, n, "min_observed_secs", 0, kMaxWindowSecs, &c->min_observed_secs))
             .ok()) {
      return s;
    }
  }
  if (const YAML::Node n = node["learning_secs"]) {
    if (!(s = ReadNumber(r, n, "learning_secs", 0, kMaxWindowSecs, &c->learning_secs)).ok()) {
      return s;
    }
  }
  if (const YAML::Node n = node["max_values_per_key"]) {
    if (!(s = ReadNumber(r, n, "max_values_per_key", 1, 4096, &v)).ok()) return s;
    c->max_values_per_key = static_cast<size_t>(v);
  }
  if (const YAML::Node n = node["max_keys"]) {
    if (!(s = ReadNumber(r, n, "max_keys", 1, 1e8, &v)).ok()) return s;
    c->max_keys = static_cast<size_t>(v);
  }
  if (const YAML::Node n = node["reset_on_host_gap"]) {
    if (!(s = pack_yaml::ReadBool(r, n, "reset_on_host_gap", &c->reset_on_host_gap)).ok()) {
      return s;
    }
  }
  if (const YAML::Node n = node["new_keys"]) {
    if (!(s = pack_yaml::ReadBool(r, n, "new_keys", &c->new_keys)).ok()) return s;
  }
  if (const YAML::Node n = node["host_addresses"]) {
    if (!(s = pack_yaml::ReadBool(r, n, "host_addresses", &c->host_addresses)).ok()) return s;
  }
  return Status::Ok();
}

Status ReadLists(const Reporter& r, const YAML::Node& node, Correlation* c) {
  Status s;
  if (!(s = ReadInputs(r, node["on"], "on", &c->on)).ok()) return s;
  if (node["after"] && !(s = ReadInputs(r, node["after"], "after", &c->after)).ok()) return s;
  if (node["where"] && !(s = ReadConditions(r, node["where"], "where", &c->where)).ok()) return s;
  if (node["unless"] && !(s = ReadConditions(r, node["unless"], "unless", &c->unless)).ok()) {
    return s;
  }
  if (node["key"] && !(s = ReadStringList(r, node["key"], "key", &c->key, nullptr)).ok()) return s;
  if (node["summary_fields"] && !(s = ReadStringList(r, node["summary_fields"], "summary_fields",
                                                     &c->summary_fields, nullptr))
                                     .ok()) {
    return s;
  }
  if (c->summary_fields.size() > 10) {
    return r.Error(LineOf(node["summary_fields"]), "summary_fields", "at most 10 fields");
  }
  if (node["field"] && !(s = ReadString(r, node["field"], "field", &c->field)).ok()) return s;
  if (node["values"] &&
      !(s = ReadStringList(r, node["values"], "values", &c->values, nullptr)).ok()) {
    return s;
  }
  if (node["cidrs"]) {
    if (!(s = ReadStringList(r, node["cidrs"], "cidrs", &c->cidrs, nullptr)).ok()) return s;
    auto parsed = receiver::SenderAllowlist::Parse(c->cidrs);
    if (!parsed.ok()) return r.Error(LineOf(node["cidrs"]), "cidrs", parsed.status().message());
  }
  if (node["set"] && !(s = ReadString(r, node["set"], "set", &c->set)).ok()) return s;
  for (auto [key, out] : {std::pair<const char*, std::string*>{"size_field", &c->size_field},
                          {"src", &c->src_field},
                          {"dst", &c->dst_field},
                          {"in", &c->in_field},
                          {"out", &c->out_field},
                          {"metric", &c->metric}}) {
    if (node[key] && !(s = ReadString(r, node[key], key, out)).ok()) return s;
  }
  if (!c->metric.empty() && !RE2::FullMatch(c->metric, "konseki_[a-z0-9_]+_total")) {
    return r.Error(LineOf(node["metric"]), "metric",
                   "a counter name konseki_<thing>_total in lower case");
  }
  if (node["where_in"] &&
      !(s = ReadSetConditions(r, node["where_in"], "where_in", &c->where_in)).ok()) {
    return s;
  }
  if (node["unless_in"] &&
      !(s = ReadSetConditions(r, node["unless_in"], "unless_in", &c->unless_in)).ok()) {
    return s;
  }
  if (node["severity_by_direction"] &&
      !(s = ReadDirectionSeverities(r, node["severity_by_direction"], c)).ok()) {
    return s;
  }
  if (node["first_seen"] &&
      !(s = ReadFieldRefs(r, node["first_seen"], "first_seen", &c->first_values)).ok()) {
    return s;
  }
  if (node["add_fields"] &&
      !(s = pack_yaml::ReadStringMap(r, node["add_fields"], "add_fields", &c->add_fields)).ok()) {
    return s;
  }
  return Status::Ok();
}

Status ReadCorrelation(const Reporter& r, const YAML::Node& node, Correlation* c) {
  Status s = CheckKeys(r, node, "correlation",
                       {"id",
                        "sign",
                        "title",
                        "severity",
                        "description",
                        "kind",
                        "on",
                        "after",
                        "where",
                        "unless",
                        "where_in",
                        "unless_in",
                        "key",
                        "scope",
                        "window_secs",
                        "count",
                        "quiet_secs",
                        "summary_fields",
                        "field",
                        "values",
                        "cidrs",
                        "set",
                        "host_addresses",
                        "min_observed_secs",
                        "reset_on_host_gap",
                        "first_seen",
                        "learning_secs",
                        "max_values_per_key",
                        "new_keys",
                        "score",
                        "reservoir",
                        "size_field",
                        "burst_secs",
                        "src",
                        "dst",
                        "in",
                        "out",
                        "severity_by_direction",
                        "metric",
                        "add_fields",
                        "max_keys",
                        "examples"});
  if (!s.ok()) return s;
  if (!(s = ReadHeader(r, node, c)).ok()) return s;
  if (!(s = CheckKindKeys(r, node, *c)).ok()) return s;
  if (!(s = ReadNumbers(r, node, c)).ok()) return s;
  if (!(s = ReadLists(r, node, c)).ok()) return s;
  return ReadCorrelationExamples(r, node["examples"], c);
}

}  // namespace

Status ReadCorrelations(const Reporter& r, const YAML::Node& node, std::vector<Correlation>* out) {
  if (!node.IsSequence()) {
    return r.Error(LineOf(node), "correlations",
                   "expected a list of correlations, found " + KindName(node));
  }
  std::map<std::string, int> ids;
  for (const YAML::Node& item : node) {
    Correlation c;
    if (Status s = ReadCorrelation(r, item, &c); !s.ok()) return s;
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

Status ReadSets(const Reporter& r, const YAML::Node& node, std::vector<ValueSet>* out) {
  if (!node.IsSequence()) {
    return r.Error(LineOf(node), "sets", "expected a list of sets, found " + KindName(node));
  }
  for (const YAML::Node& item : node) {
    ValueSet v;
    if (Status s = CheckKeys(r, item, "set", {"id", "values", "learn"}); !s.ok()) return s;
    if (!item["id"]) return r.Error(LineOf(item), "id", "missing required key in set");
    v.file = r.path();
    v.line = LineOf(item["id"]);
    if (Status s = ReadString(r, item["id"], "id", &v.id); !s.ok()) return s;
    if (item["values"]) {
      if (Status s = ReadStringList(r, item["values"], "values", &v.values, nullptr); !s.ok()) {
        return s;
      }
    }
    if (const YAML::Node learn = item["learn"]) {
      if (!learn.IsSequence()) return r.Error(LineOf(learn), "learn", "expected a list");
      for (const YAML::Node& l : learn) {
        SetLearner sl;
        if (Status s = CheckKeys(r, l, "learn", {"on", "field", "where"}); !s.ok()) return s;
        if (!l["on"] || !l["field"]) return r.Error(LineOf(l), "learn", "needs on: and field:");
        if (Status s = ReadInputs(r, l["on"], "on", &sl.on); !s.ok()) return s;
        if (Status s = ReadString(r, l["field"], "field", &sl.field); !s.ok()) return s;
        if (l["where"]) {
          if (Status s = ReadConditions(r, l["where"], "where", &sl.where); !s.ok()) return s;
        }
        v.learn.push_back(std::move(sl));
      }
    }
    out->push_back(std::move(v));
  }
  return Status::Ok();
}

namespace {

std::string Where(const std::string& file, int line) {
  return file + ":" + std::to_string(line) + ": ";
}

// Every input must name something that exists; returns the correlations the
// inputs name (for the cycle and scope checks).
Status CheckInputs(const RulePack& pack, const Correlation& c, const std::vector<InputRef>& ins,
                   const std::map<std::string, const Correlation*>& corr_ids,
                   const std::set<std::string>& rule_ids, const std::set<std::string>& signs,
                   std::vector<const Correlation*>* feeds) {
  for (const InputRef& in : ins) {
    if (!in.sign.empty()) {
      if (!signs.count(in.sign)) {
        return Status::InvalidArgument(Where(c.file, c.line) + "on: correlation " + c.id +
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
      return Status::InvalidArgument(Where(c.file, c.line) + "on: correlation " + c.id +
                                     ": no rule or correlation has id " + in.id);
    }
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
      return Status::InvalidArgument(Where(c.file, c.line) + "id: correlation " + c.id +
                                     " has the id of a rule");
    }
    if (!corr_ids.emplace(c.id, &c).second) {
      const Correlation* first = corr_ids[c.id];
      return Status::InvalidArgument(Where(c.file, c.line) + "id: duplicate correlation id " +
                                     c.id + " (first defined at " + first->file + ":" +
                                     std::to_string(first->line) + ")");
    }
    signs.insert(c.sign);
  }
  for (const ValueSet& v : pack.sets) {
    if (!set_ids.insert(v.id).second) {
      return Status::InvalidArgument(Where(v.file, v.line) + "id: duplicate set " + v.id);
    }
  }
  std::map<const Correlation*, std::vector<const Correlation*>> feeds;
  for (const Correlation& c : pack.correlations) {
    std::vector<const Correlation*>& f = feeds[&c];
    if (Status s = CheckInputs(pack, c, c.on, corr_ids, rule_ids, signs, &f); !s.ok()) return s;
    if (Status s = CheckInputs(pack, c, c.after, corr_ids, rule_ids, signs, &f); !s.ok()) {
      return s;
    }
    if (!c.set.empty() && !set_ids.count(c.set)) {
      return Status::InvalidArgument(Where(c.file, c.line) + "set: correlation " + c.id +
                                     ": no set named " + c.set);
    }
    for (const auto* conds : {&c.where_in, &c.unless_in}) {
      for (const SetCondition& sc : *conds) {
        if (!set_ids.count(sc.set)) {
          return Status::InvalidArgument(Where(c.file, c.line) +
                                         "where_in/unless_in: correlation " + c.id +
                                         ": no set named " + sc.set);
        }
      }
    }
    for (const Correlation* in : f) {
      if (c.scope == KeyScope::kHost && in->scope == KeyScope::kFleet) {
        return Status::InvalidArgument(Where(c.file, c.line) + "scope: host-scoped correlation " +
                                       c.id + " cannot take the fleet-scoped " + in->id +
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
      return Status::InvalidArgument(Where(bad->file, bad->line) + "on: correlation " + bad->id +
                                     " is part of a cycle of correlations feeding each other");
    }
  }
  return Status::Ok();
}

}  // namespace konseki::matchers
