#include "app/config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/alert.h"
#include "matchers/alert_ignore.h"
#include "outputs/metrics_server.h"
#include "outputs/retention.h"
#include "receiver/listen_address.h"
#include "receiver/sender_allowlist.h"

namespace konseki::app {
namespace {

constexpr std::string_view kDefaultConfig = R"(# konseki embedded default configuration
listen:
  - udp://127.0.0.1:5514
  - tcp://127.0.0.1:5514
archive:
  dir: ./var/archive
alerts:
  stdout: true
metrics:
  listen: 127.0.0.1:9514
# A try-out on loopback ports: running it as root is allowed. A real log host
# sets user: (and group:) so konseki drops root after binding.
allow_root: true
)";

// Builds "file:line: key 'a.b': what" errors from a node's position, and
// records where each key was given (Config::key_lines).
class Ctx {
 public:
  Ctx(std::string_view source, Config* config) : source_(source), config_(config) {}
  void Record(const YAML::Node& node, const std::string& key) const {
    if (node.Mark().line >= 0) config_->key_lines.emplace(key, node.Mark().line + 1);
  }
  // "<source>:<line>: key '<key>'" for errors found after parsing.
  std::string Where(const YAML::Node& node, const std::string& key) const {
    std::ostringstream os;
    os << source_;
    if (node.Mark().line >= 0) os << ":" << node.Mark().line + 1;
    if (!key.empty()) os << ": key '" << key << "'";
    return os.str();
  }
  Status Error(const YAML::Node& node, const std::string& key, const std::string& what) const {
    return Status::InvalidArgument(Where(node, key) + ": " + what);
  }

 private:
  std::string source_;
  Config* config_;
};

Status CheckKeys(const Ctx& ctx, const YAML::Node& map, const std::string& prefix,
                 const std::set<std::string>& allowed) {
  if (!map.IsMap()) return ctx.Error(map, prefix, "expected a mapping");
  std::set<std::string> seen;
  for (const auto& kv : map) {
    std::string key = kv.first.as<std::string>();
    const std::string full = prefix.empty() ? key : prefix + "." + key;
    // yaml-cpp keeps both entries of a repeated key; which one a lookup
    // sees is an accident, so a repeated key is an error.
    if (!seen.insert(key).second) {
      return ctx.Error(kv.first, full, "given twice in the same mapping; keep one");
    }
    ctx.Record(kv.first, full);
    if (!allowed.count(key)) {
      std::string all;
      for (const auto& a : allowed) all += (all.empty() ? "" : ", ") + a;
      return ctx.Error(kv.first, prefix.empty() ? key : prefix + "." + key,
                       "unknown key (allowed here: " + all + ")");
    }
  }
  return Status::Ok();
}

Status GetString(const Ctx& ctx, const YAML::Node& node, const std::string& key, std::string* out) {
  if (!node.IsScalar()) return ctx.Error(node, key, "expected a string");
  *out = node.as<std::string>();
  // A path with a NUL would be cut short by every system call.
  if (out->find('\0') != std::string::npos) return ctx.Error(node, key, "contains a NUL byte");
  return Status::Ok();
}

Status GetBool(const Ctx& ctx, const YAML::Node& node, const std::string& key, bool* out) {
  if (!node.IsScalar()) return ctx.Error(node, key, "expected true or false");
  try {
    *out = node.as<bool>();
  } catch (const YAML::Exception&) {
    return ctx.Error(node, key, "expected true or false, got '" + node.Scalar() + "'");
  }
  return Status::Ok();
}

Status GetNumber(const Ctx& ctx, const YAML::Node& node, const std::string& key, double min,
                 double max, double* out) {
  if (!node.IsScalar()) return ctx.Error(node, key, "expected a number");
  double v = 0;
  try {
    v = node.as<double>();
  } catch (const YAML::Exception&) {
    return ctx.Error(node, key, "expected a number, got '" + node.Scalar() + "'");
  }
  if (!std::isfinite(v) || v < min || v > max) {
    std::ostringstream os;
    os << "value " << node.Scalar() << " out of range [" << min << ", " << max << "]";
    return ctx.Error(node, key, os.str());
  }
  *out = v;
  return Status::Ok();
}

template <typename Int>
Status GetInt(const Ctx& ctx, const YAML::Node& node, const std::string& key, double min,
              double max, Int* out) {
  double v = 0;
  if (Status s = GetNumber(ctx, node, key, min, max, &v); !s.ok()) return s;
  if (v != std::floor(v)) return ctx.Error(node, key, "expected a whole number");
  *out = static_cast<Int>(v);
  return Status::Ok();
}

Status GetStringList(const Ctx& ctx, const YAML::Node& node, const std::string& key,
                     std::vector<std::string>* out) {
  if (!node.IsSequence()) return ctx.Error(node, key, "expected a list");
  out->clear();
  for (const auto& item : node) {
    std::string s;
    if (Status st = GetString(ctx, item, key, &s); !st.ok()) return st;
    out->push_back(std::move(s));
  }
  return Status::Ok();
}

#define KONSEKI_RETURN_IF_ERROR(expr) \
  do {                                \
    ::konseki::Status _s = (expr);    \
    if (!_s.ok()) return _s;          \
  } while (0)

Status ParseFilter(const Ctx& ctx, const YAML::Node& item, const std::string& key,
                   SinkFilterConfig* f) {
  if (item["min_severity"]) {
    KONSEKI_RETURN_IF_ERROR(
        GetString(ctx, item["min_severity"], key + ".min_severity", &f->min_severity));
    Severity sev;
    if (!ParseSeverity(f->min_severity, &sev)) {
      return ctx.Error(item["min_severity"], key + ".min_severity",
                       "expected info, low, medium, high or critical");
    }
  }
  if (item["signs"])
    KONSEKI_RETURN_IF_ERROR(GetStringList(ctx, item["signs"], key + ".signs", &f->signs));
  return Status::Ok();
}

// The archive keys of issue #16 (sealing, compression, retention, low space).
Status ParseArchiveKeep(const Ctx& ctx, const YAML::Node& v, ArchiveKeepConfig* k) {
  if (v["seal"]) KONSEKI_RETURN_IF_ERROR(GetBool(ctx, v["seal"], "archive.seal", &k->seal));
  if (v["seal_epoch_secs"]) {
    int secs = 0;
    KONSEKI_RETURN_IF_ERROR(
        GetInt(ctx, v["seal_epoch_secs"], "archive.seal_epoch_secs", 1, 86400, &secs));
    if (86400 % secs != 0) {
      return ctx.Error(v["seal_epoch_secs"], "archive.seal_epoch_secs",
                       "must divide a day (86400), e.g. 60, 300, 900, 3600");
    }
    k->seal_epoch_secs = secs;
  }
  if (v["compress_after_days"]) {
    KONSEKI_RETURN_IF_ERROR(GetInt(ctx, v["compress_after_days"], "archive.compress_after_days", 0,
                                   36500, &k->compress_after_days));
  }
  if (v["retention_days"]) {
    KONSEKI_RETURN_IF_ERROR(
        GetInt(ctx, v["retention_days"], "archive.retention_days", 0, 36500, &k->retention_days));
  }
  if (k->retention_days > 0 && k->compress_after_days >= k->retention_days) {
    return ctx.Error(v, "archive.compress_after_days",
                     "must be below archive.retention_days (files would be deleted first)");
  }
  if (v["low_space"]) {
    KONSEKI_RETURN_IF_ERROR(GetString(ctx, v["low_space"], "archive.low_space", &k->low_space));
    if (!outputs::ParseLowSpace(k->low_space, nullptr, nullptr)) {
      return ctx.Error(v["low_space"], "archive.low_space",
                       "expected a percentage (\"5%\") or a size (\"10G\", \"500M\")");
    }
  }
  return Status::Ok();
}

Status ParseAlerts(const Ctx& ctx, const YAML::Node& v, Config* c) {
  KONSEKI_RETURN_IF_ERROR(
      CheckKeys(ctx, v, "alerts", {"file", "stdout", "throttle", "syslog", "webhook", "exec"}));
  if (v["file"]) KONSEKI_RETURN_IF_ERROR(GetString(ctx, v["file"], "alerts.file", &c->alerts_file));
  if (v["stdout"])
    KONSEKI_RETURN_IF_ERROR(GetBool(ctx, v["stdout"], "alerts.stdout", &c->alerts_stdout));
  if (const YAML::Node t = v["throttle"]) {
    KONSEKI_RETURN_IF_ERROR(
        CheckKeys(ctx, t, "alerts.throttle", {"window_secs", "max_per_rule_host", "max_per_rule"}));
    ThrottleConfig& tc = c->alerts_throttle;
    if (t["window_secs"]) {
      KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, t["window_secs"], "alerts.throttle.window_secs", 1,
                                        86400, &tc.window_secs));
    }
    if (t["max_per_rule_host"]) {
      KONSEKI_RETURN_IF_ERROR(GetInt(ctx, t["max_per_rule_host"],
                                     "alerts.throttle.max_per_rule_host", 1, 1e6,
                                     &tc.max_per_rule_host));
    }
    if (t["max_per_rule"]) {
      KONSEKI_RETURN_IF_ERROR(
          GetInt(ctx, t["max_per_rule"], "alerts.throttle.max_per_rule", 1, 1e6, &tc.max_per_rule));
    }
  }
  const std::set<std::string> common = {"name", "min_severity", "signs", "queue_capacity"};
  auto with = [&](std::set<std::string> extra) {
    extra.insert(common.begin(), common.end());
    return extra;
  };
  if (const YAML::Node list = v["syslog"]) {
    if (!list.IsSequence()) return ctx.Error(list, "alerts.syslog", "expected a list of sinks");
    for (const auto& item : list) {
      const std::string key = "alerts.syslog";
      KONSEKI_RETURN_IF_ERROR(CheckKeys(
          ctx, item, key, with({"host", "port", "transport", "octet_counting", "facility"})));
      SyslogSinkConfig s;
      if (!item["host"]) return ctx.Error(item, key, "each syslog sink needs 'host'");
      KONSEKI_RETURN_IF_ERROR(GetString(ctx, item["host"], key + ".host", &s.host));
      if (item["name"])
        KONSEKI_RETURN_IF_ERROR(GetString(ctx, item["name"], key + ".name", &s.name));
      if (item["port"])
        KONSEKI_RETURN_IF_ERROR(GetInt(ctx, item["port"], key + ".port", 1, 65535, &s.port));
      if (item["transport"]) {
        KONSEKI_RETURN_IF_ERROR(
            GetString(ctx, item["transport"], key + ".transport", &s.transport));
        if (s.transport != "udp" && s.transport != "tcp") {
          return ctx.Error(item["transport"], key + ".transport", "expected udp or tcp");
        }
      }
      if (item["octet_counting"]) {
        KONSEKI_RETURN_IF_ERROR(
            GetBool(ctx, item["octet_counting"], key + ".octet_counting", &s.octet_counting));
      }
      if (item["facility"]) {
        KONSEKI_RETURN_IF_ERROR(
            GetInt(ctx, item["facility"], key + ".facility", 0, 23, &s.facility));
      }
      if (item["queue_capacity"]) {
        KONSEKI_RETURN_IF_ERROR(GetInt(ctx, item["queue_capacity"], key + ".queue_capacity", 1, 1e7,
                                       &s.queue_capacity));
      }
      KONSEKI_RETURN_IF_ERROR(ParseFilter(ctx, item, key, &s.filter));
      c->alerts_syslog.push_back(std::move(s));
    }
  }
  if (const YAML::Node list = v["webhook"]) {
    if (!list.IsSequence()) return ctx.Error(list, "alerts.webhook", "expected a list of sinks");
    for (const auto& item : list) {
      const std::string key = "alerts.webhook";
      KONSEKI_RETURN_IF_ERROR(
          CheckKeys(ctx, item, key, with({"url", "headers", "timeout_secs", "max_attempts"})));
      WebhookSinkConfig w;
      if (!item["url"]) return ctx.Error(item, key, "each webhook needs 'url'");
      KONSEKI_RETURN_IF_ERROR(GetString(ctx, item["url"], key + ".url", &w.url));
      if (w.url.rfind("http://", 0) != 0 && w.url.rfind("https://", 0) != 0) {
        return ctx.Error(item["url"], key + ".url", "expected an http:// or https:// URL");
      }
      if (item["name"])
        KONSEKI_RETURN_IF_ERROR(GetString(ctx, item["name"], key + ".name", &w.name));
      if (const YAML::Node h = item["headers"]) {
        if (!h.IsMap())
          return ctx.Error(h, key + ".headers", "expected a mapping of header: value");
        for (const auto& kv : h) {
          std::string val;
          KONSEKI_RETURN_IF_ERROR(GetString(ctx, kv.second, key + ".headers", &val));
          w.headers.emplace_back(kv.first.as<std::string>(), val);
        }
      }
      if (item["timeout_secs"]) {
        KONSEKI_RETURN_IF_ERROR(
            GetNumber(ctx, item["timeout_secs"], key + ".timeout_secs", 0.1, 600, &w.timeout_secs));
      }
      if (item["max_attempts"]) {
        KONSEKI_RETURN_IF_ERROR(
            GetInt(ctx, item["max_attempts"], key + ".max_attempts", 1, 100, &w.max_attempts));
      }
      if (item["queue_capacity"]) {
        KONSEKI_RETURN_IF_ERROR(GetInt(ctx, item["queue_capacity"], key + ".queue_capacity", 1, 1e7,
                                       &w.queue_capacity));
      }
      KONSEKI_RETURN_IF_ERROR(ParseFilter(ctx, item, key, &w.filter));
      c->alerts_webhook.push_back(std::move(w));
    }
  }
  if (const YAML::Node list = v["exec"]) {
    if (!list.IsSequence()) return ctx.Error(list, "alerts.exec", "expected a list of sinks");
    for (const auto& item : list) {
      const std::string key = "alerts.exec";
      KONSEKI_RETURN_IF_ERROR(
          CheckKeys(ctx, item, key, with({"argv", "timeout_secs", "max_children"})));
      ExecSinkConfig e;
      if (!item["argv"]) return ctx.Error(item, key, "each exec sink needs 'argv'");
      KONSEKI_RETURN_IF_ERROR(GetStringList(ctx, item["argv"], key + ".argv", &e.argv));
      if (e.argv.empty()) return ctx.Error(item["argv"], key + ".argv", "must name a program");
      if (item["name"])
        KONSEKI_RETURN_IF_ERROR(GetString(ctx, item["name"], key + ".name", &e.name));
      if (item["timeout_secs"]) {
        KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, item["timeout_secs"], key + ".timeout_secs", 0.1,
                                          3600, &e.timeout_secs));
      }
      if (item["max_children"]) {
        KONSEKI_RETURN_IF_ERROR(
            GetInt(ctx, item["max_children"], key + ".max_children", 1, 256, &e.max_children));
      }
      if (item["queue_capacity"]) {
        KONSEKI_RETURN_IF_ERROR(GetInt(ctx, item["queue_capacity"], key + ".queue_capacity", 1, 1e7,
                                       &e.queue_capacity));
      }
      KONSEKI_RETURN_IF_ERROR(ParseFilter(ctx, item, key, &e.filter));
      c->alerts_exec.push_back(std::move(e));
    }
  }
  return Status::Ok();
}

Status ParseHeartbeatOverrides(const Ctx& ctx, const YAML::Node& v, const std::string& key,
                               matchers::HeartbeatOptions* out) {
  constexpr double kYear = 366 * 86400.0;
  if (!v.IsSequence()) {
    return ctx.Error(v, key, "expected a list of {host | host_pattern, silence_after_secs}");
  }
  for (const auto& item : v) {
    KONSEKI_RETURN_IF_ERROR(
        CheckKeys(ctx, item, key, {"host", "host_pattern", "silence_after_secs"}));
    matchers::HeartbeatOverride o;
    if (!item["host"] == !item["host_pattern"]) {
      return ctx.Error(item, key, "each override needs 'host' or 'host_pattern' (one of them)");
    }
    if (!item["silence_after_secs"]) {
      return ctx.Error(item, key, "each override needs 'silence_after_secs'");
    }
    if (item["host"]) {
      KONSEKI_RETURN_IF_ERROR(GetString(ctx, item["host"], key + ".host", &o.host));
      // A glob given as host: (as older configs do) is a pattern.
      if (o.host.find_first_of("*?[") != std::string::npos) std::swap(o.host, o.host_pattern);
    } else {
      KONSEKI_RETURN_IF_ERROR(
          GetString(ctx, item["host_pattern"], key + ".host_pattern", &o.host_pattern));
    }
    KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, item["silence_after_secs"], key + ".silence_after_secs",
                                      0, kYear, &o.silence_after_secs));
    out->overrides.push_back(std::move(o));
  }
  return Status::Ok();
}

// Every key of heartbeat: is a field of matchers::HeartbeatOptions.
Status ParseHeartbeat(const Ctx& ctx, const YAML::Node& hb, HeartbeatConfig* out) {
  using Options = matchers::HeartbeatOptions;
  constexpr double kYear = 366 * 86400.0;
  struct Seconds {
    const char* key;
    double Options::*field;
    double min, max;
  };
  static const Seconds kNumbers[] = {
      {"silence_after_secs", &Options::silence_after_secs, 0, kYear},
      {"multiplier", &Options::multiplier, 1, 1000},
      {"floor_secs", &Options::floor_secs, 0.001, kYear},
      {"ceiling_secs", &Options::ceiling_secs, 0.001, kYear},
      {"initial_cadence_secs", &Options::initial_cadence_secs, 0.001, kYear},
      {"learning_secs", &Options::learning_secs, 0, kYear},
      {"cadence_quantile", &Options::cadence_quantile, 0.001, 1},
      {"cadence_half_life_secs", &Options::cadence_half_life_secs, 1, 10 * kYear},
      {"clock_jump_tolerance_secs", &Options::clock_jump_tolerance_secs, 0, kYear},
      {"clock_jump_alert_interval_secs", &Options::clock_jump_alert_interval_secs, 0, kYear},
      {"save_interval_secs", &Options::save_interval_secs, 0, kYear},
      {"startup_grace_secs", &Options::startup_grace_secs, 0, kYear},
      {"stall_secs", &Options::stall_secs, 1, kYear},
      {"forget_after_secs", &Options::forget_after_secs, 0, 100 * kYear},
      {"new_host_learning_secs", &Options::new_host_learning_secs, 0, kYear},
      {"new_host_alerts_per_minute", &Options::new_host_alerts_per_minute, 0, 1e6},
      {"stop_link_secs", &Options::stop_link_secs, 0, kYear},
      {"metrics_interval_secs", &Options::metrics_interval_secs, 0.1, 3600},
  };
  std::set<std::string> allowed = {"enabled",   "new_host_alerts",        "max_hosts",
                                   "state_dir", "max_last_message_bytes", "expected_hosts",
                                   "overrides", "max_senders_per_host"};
  for (const Seconds& n : kNumbers) allowed.insert(n.key);
  KONSEKI_RETURN_IF_ERROR(CheckKeys(ctx, hb, "heartbeat", allowed));
  Options& o = out->options;
  for (const auto& kv : hb) {
    const std::string k = kv.first.as<std::string>();
    const std::string key = "heartbeat." + k;
    const YAML::Node& v = kv.second;
    if (k == "enabled") {
      KONSEKI_RETURN_IF_ERROR(GetBool(ctx, v, key, &out->enabled));
    } else if (k == "new_host_alerts") {
      KONSEKI_RETURN_IF_ERROR(GetBool(ctx, v, key, &o.new_host_alerts));
    } else if (k == "max_hosts") {
      KONSEKI_RETURN_IF_ERROR(GetInt(ctx, v, key, 1, 1e8, &o.max_hosts));
    } else if (k == "max_senders_per_host") {
      KONSEKI_RETURN_IF_ERROR(GetInt(ctx, v, key, 1, 1024, &o.max_senders_per_host));
    } else if (k == "max_last_message_bytes") {
      KONSEKI_RETURN_IF_ERROR(GetInt(ctx, v, key, 0, 1 << 20, &o.max_last_message_bytes));
    } else if (k == "state_dir") {
      KONSEKI_RETURN_IF_ERROR(GetString(ctx, v, key, &o.state_dir));
    } else if (k == "expected_hosts") {
      KONSEKI_RETURN_IF_ERROR(GetStringList(ctx, v, key, &o.expected_hosts));
    } else if (k == "overrides") {
      KONSEKI_RETURN_IF_ERROR(ParseHeartbeatOverrides(ctx, v, key, &o));
    } else {
      for (const Seconds& n : kNumbers) {
        if (k == n.key)
          KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, v, key, n.min, n.max, &(o.*n.field)));
      }
    }
  }
  if (Status st = matchers::ValidateHeartbeatOptions(o); !st.ok()) {
    return ctx.Error(hb, "heartbeat", st.message());
  }
  return Status::Ok();
}

// rules.ignore: {sources: [CIDR...], users: [name...]}.
Status ParseRuleIgnore(const Ctx& ctx, const YAML::Node& v, matchers::RuleOverrides* o) {
  KONSEKI_RETURN_IF_ERROR(CheckKeys(ctx, v, "rules.ignore", {"sources", "users"}));
  if (v["sources"]) {
    KONSEKI_RETURN_IF_ERROR(
        GetStringList(ctx, v["sources"], "rules.ignore.sources", &o->ignore_sources));
  }
  if (v["users"]) {
    KONSEKI_RETURN_IF_ERROR(GetStringList(ctx, v["users"], "rules.ignore.users", &o->ignore_users));
  }
  auto ignore = matchers::AlertIgnore::Create(o->ignore_sources, o->ignore_users);
  if (!ignore.ok()) return ctx.Error(v, "rules.ignore", ignore.status().message());
  return Status::Ok();
}

// rules: dir, local_dir, disable, severity, ignore (matchers/rule_packs.h).
// Rule ids are checked against the loaded packs later (LoadRules), with the
// line of each entry recorded here.
Status ParseRules(const Ctx& ctx, const YAML::Node& v, Config* c) {
  KONSEKI_RETURN_IF_ERROR(
      CheckKeys(ctx, v, "rules", {"dir", "local_dir", "disable", "severity", "ignore"}));
  matchers::RuleOverrides& o = c->rule_overrides;
  if (v["dir"]) KONSEKI_RETURN_IF_ERROR(GetString(ctx, v["dir"], "rules.dir", &c->rules_dir));
  if (v["local_dir"]) {
    KONSEKI_RETURN_IF_ERROR(GetString(ctx, v["local_dir"], "rules.local_dir", &o.local_dir));
    if (o.local_dir.empty())
      return ctx.Error(v["local_dir"], "rules.local_dir", "must not be empty");
    o.local_dir_where = ctx.Where(v["local_dir"], "rules.local_dir");
  }
  std::set<std::string> seen;
  if (const YAML::Node list = v["disable"]) {
    if (!list.IsSequence()) return ctx.Error(list, "rules.disable", "expected a list of rule ids");
    for (const auto& item : list) {
      matchers::RuleIdRef ref;
      KONSEKI_RETURN_IF_ERROR(GetString(ctx, item, "rules.disable", &ref.id));
      if (!seen.insert(ref.id).second) {
        return ctx.Error(item, "rules.disable", "rule " + ref.id + " is listed twice");
      }
      ref.where = ctx.Where(item, "rules.disable");
      o.disable.push_back(std::move(ref));
    }
  }
  if (const YAML::Node map = v["severity"]) {
    if (!map.IsMap()) {
      return ctx.Error(map, "rules.severity", "expected a mapping of rule id: severity");
    }
    for (const auto& kv : map) {
      matchers::SeverityOverride so;
      KONSEKI_RETURN_IF_ERROR(GetString(ctx, kv.first, "rules.severity", &so.id));
      std::string level;
      KONSEKI_RETURN_IF_ERROR(GetString(ctx, kv.second, "rules.severity." + so.id, &level));
      if (!ParseSeverity(level, &so.severity)) {
        return ctx.Error(kv.second, "rules.severity." + so.id,
                         "expected info, low, medium, high or critical, got '" + level + "'");
      }
      if (seen.count(so.id)) {
        return ctx.Error(kv.first, "rules.severity",
                         "rule " + so.id + " is also in rules.disable (or given twice); keep one");
      }
      seen.insert(so.id);
      so.where = ctx.Where(kv.first, "rules.severity");
      o.severity.push_back(std::move(so));
    }
  }
  if (v["ignore"]) KONSEKI_RETURN_IF_ERROR(ParseRuleIgnore(ctx, v["ignore"], &o));
  return Status::Ok();
}

// Two listeners on the same socket (same kind, address and port) cannot both
// bind: say so at parse time, naming both lines.
Status CheckListenerNotRepeated(const Ctx& ctx, const YAML::Node& item,
                                const receiver::ListenAddress& addr, const Config& c) {
  if (addr.port == 0) return Status::Ok();
  const bool udp = addr.transport == receiver::Transport::kUdp;
  for (size_t i = 0; i < c.listen.size(); ++i) {
    auto other = receiver::ListenAddress::Parse(c.listen[i].uri);
    if (!other.ok() || other->port != addr.port || other->host != addr.host ||
        (other->transport == receiver::Transport::kUdp) != udp) {
      continue;
    }
    return ctx.Error(item, "listen",
                     addr.ToString() + " uses the same " + (udp ? "UDP" : "TCP") +
                         " address and port as " + other->ToString() + " (line " +
                         std::to_string(c.listen_lines[i]) + "); give each listener its own port");
  }
  return Status::Ok();
}

Status ParseCorrelationOverrides(const Ctx& ctx, const YAML::Node& v,
                                 matchers::CorrelatorOptions* o) {
  const std::string key = "correlation.overrides";
  if (!v.IsMap()) return ctx.Error(v, key, "expected a mapping of correlation id: {...}");
  constexpr double kYear = 366 * 86400.0;
  for (const auto& kv : v) {
    const std::string id = kv.first.as<std::string>();
    const std::string k = key + "." + id;
    KONSEKI_RETURN_IF_ERROR(
        CheckKeys(ctx, kv.second, k,
                  {"window_secs", "count", "quiet_secs", "min_observed_secs", "learning_secs"}));
    matchers::CorrelationOverride& ov = o->overrides[id];
    const YAML::Node& n = kv.second;
    if (n["window_secs"]) {
      KONSEKI_RETURN_IF_ERROR(
          GetNumber(ctx, n["window_secs"], k + ".window_secs", 0.001, kYear, &ov.window_secs));
    }
    if (n["count"]) {
      KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, n["count"], k + ".count", 1, 10000, &ov.count));
    }
    if (n["quiet_secs"]) {
      KONSEKI_RETURN_IF_ERROR(
          GetNumber(ctx, n["quiet_secs"], k + ".quiet_secs", 0.001, kYear, &ov.quiet_secs));
    }
    if (n["min_observed_secs"]) {
      KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, n["min_observed_secs"], k + ".min_observed_secs", 0,
                                        kYear, &ov.min_observed_secs));
    }
    if (n["learning_secs"]) {
      KONSEKI_RETURN_IF_ERROR(
          GetNumber(ctx, n["learning_secs"], k + ".learning_secs", 0, kYear, &ov.learning_secs));
    }
  }
  return Status::Ok();
}

Status ParseCorrelation(const Ctx& ctx, const YAML::Node& v, CorrelationConfig* out) {
  KONSEKI_RETURN_IF_ERROR(
      CheckKeys(ctx, v, "correlation",
                {"enabled", "learning_days", "session_min_observed_secs", "system_accounts",
                 "host_addresses", "max_keys", "max_keys_per_rule", "save_interval_secs",
                 "state_dir", "fleet_queue_max", "overrides"}));
  matchers::CorrelatorOptions& o = out->options;
  constexpr double kYear = 366 * 86400.0;
  for (const auto& kv : v) {
    const std::string k = kv.first.as<std::string>();
    const std::string key = "correlation." + k;
    const YAML::Node& n = kv.second;
    if (k == "enabled") {
      KONSEKI_RETURN_IF_ERROR(GetBool(ctx, n, key, &out->enabled));
    } else if (k == "learning_days") {
      double days = 0;
      KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, n, key, 0, 366, &days));
      o.learning_secs = days * 86400;
    } else if (k == "session_min_observed_secs") {
      KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, n, key, 0, kYear, &o.session_min_observed_secs));
    } else if (k == "system_accounts") {
      KONSEKI_RETURN_IF_ERROR(GetStringList(ctx, n, key, &o.system_accounts));
    } else if (k == "host_addresses") {
      if (!n.IsMap()) return ctx.Error(n, key, "expected a mapping of host: [addresses]");
      for (const auto& h : n) {
        std::vector<std::string>& list = o.host_addresses[h.first.as<std::string>()];
        KONSEKI_RETURN_IF_ERROR(GetStringList(ctx, h.second, key, &list));
        for (const std::string& a : list) {
          if (!receiver::SenderAddress::Parse(a)) {
            return ctx.Error(h.second, key, "'" + a + "' is not an IPv4 or IPv6 address");
          }
        }
      }
    } else if (k == "max_keys") {
      KONSEKI_RETURN_IF_ERROR(GetInt(ctx, n, key, 1, 1e9, &o.max_keys));
    } else if (k == "max_keys_per_rule") {
      KONSEKI_RETURN_IF_ERROR(GetInt(ctx, n, key, 1, 1e9, &o.max_keys_per_rule));
    } else if (k == "save_interval_secs") {
      KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, n, key, 0, kYear, &o.save_interval_secs));
    } else if (k == "state_dir") {
      KONSEKI_RETURN_IF_ERROR(GetString(ctx, n, key, &out->state_dir));
    } else if (k == "fleet_queue_max") {
      KONSEKI_RETURN_IF_ERROR(GetInt(ctx, n, key, 1, 1e8, &out->fleet_queue_max));
    } else if (k == "overrides") {
      KONSEKI_RETURN_IF_ERROR(ParseCorrelationOverrides(ctx, n, &o));
    }
  }
  return Status::Ok();
}

// network.internal / no_outbound / beacon.allow entries: a name or glob
// (no spaces), an address, or a CIDR with its host bits clear.
Status GetNetworkList(const Ctx& ctx, const YAML::Node& n, const std::string& key,
                      std::vector<std::string>* out) {
  KONSEKI_RETURN_IF_ERROR(GetStringList(ctx, n, key, out));
  for (const std::string& v : *out) {
    if (v.empty() || v.find_first_of(" \t") != std::string::npos) {
      return ctx.Error(n, key, "'" + v + "' is not a host name, glob, address or CIDR");
    }
    if (v.find('/') != std::string::npos || receiver::SenderAddress::Parse(v)) {
      auto parsed = receiver::SenderAllowlist::Parse({v});
      if (!parsed.ok()) return ctx.Error(n, key, parsed.status().message());
    }
  }
  return Status::Ok();
}

Status ParseBeacon(const Ctx& ctx, const YAML::Node& v, matchers::CorrelatorOptions* o) {
  const std::string key = "network.beacon";
  KONSEKI_RETURN_IF_ERROR(CheckKeys(
      ctx, v, key,
      {"allow", "score", "min_connections", "window_secs", "max_pairs", "burst_secs", "weights"}));
  constexpr double kYear = 366 * 86400.0;
  for (const auto& kv : v) {
    const std::string k = kv.first.as<std::string>();
    const std::string name = key + "." + k;
    const YAML::Node& n = kv.second;
    if (k == "allow") {
      KONSEKI_RETURN_IF_ERROR(GetNetworkList(ctx, n, name, &o->set_values["beacon_allow"]));
    } else if (k == "score") {
      KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, n, name, 0, 1, &o->beacon_score));
    } else if (k == "min_connections") {
      KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, n, name, 4, 10000, &o->beacon_min_connections));
    } else if (k == "window_secs") {
      KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, n, name, 1, kYear, &o->beacon_window_secs));
    } else if (k == "max_pairs") {
      KONSEKI_RETURN_IF_ERROR(GetInt(ctx, n, name, 1, 1e8, &o->beacon_max_pairs));
    } else if (k == "burst_secs") {
      KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, n, name, 0, 3600, &o->beacon_burst_secs));
    } else if (k == "weights") {
      KONSEKI_RETURN_IF_ERROR(CheckKeys(ctx, n, name, {"interval", "count", "size"}));
      matchers::BeaconWeights& w = o->beacon_weights;
      if (n["interval"]) {
        KONSEKI_RETURN_IF_ERROR(
            GetNumber(ctx, n["interval"], name + ".interval", 0, 1, &w.interval));
      }
      if (n["count"])
        KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, n["count"], name + ".count", 0, 1, &w.count));
      if (n["size"])
        KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, n["size"], name + ".size", 0, 1, &w.size));
      if (w.interval + w.count <= 0) {
        return ctx.Error(n, name, "interval and count weights cannot both be 0");
      }
    }
  }
  return Status::Ok();
}

// network: sets and parameters of the network correlations (patterns/network.yaml):
//   network:
//     internal: [10.0.0.0/8, "fd00::/8", "*.corp.example"]   # replaces the default
//     no_outbound: [db1, "db-*", 10.0.5.0/24]
//     drop_severity: {outbound: high, internal: medium, inbound: none, transit: none}
//     beacon: {allow: [...], score: 0.8, min_connections: 20, window_secs: 86400,
//              max_pairs: 100000, burst_secs: 2, weights: {interval: 0.5, count: 0.25, size: 0.25}}
Status ParseNetwork(const Ctx& ctx, const YAML::Node& v, matchers::CorrelatorOptions* o) {
  KONSEKI_RETURN_IF_ERROR(
      CheckKeys(ctx, v, "network", {"internal", "no_outbound", "drop_severity", "beacon"}));
  for (const auto& kv : v) {
    const std::string k = kv.first.as<std::string>();
    const std::string key = "network." + k;
    const YAML::Node& n = kv.second;
    if (k == "internal" || k == "no_outbound") {
      KONSEKI_RETURN_IF_ERROR(GetNetworkList(ctx, n, key, &o->set_values[k]));
    } else if (k == "drop_severity") {
      KONSEKI_RETURN_IF_ERROR(
          CheckKeys(ctx, n, key, {"inbound", "outbound", "internal", "transit"}));
      for (const auto& d : n) {
        const std::string dir = d.first.as<std::string>();
        std::string sev;
        KONSEKI_RETURN_IF_ERROR(GetString(ctx, d.second, key + "." + dir, &sev));
        Severity parsed;
        if (sev != "none" && !ParseSeverity(sev, &parsed)) {
          return ctx.Error(
              d.second, key + "." + dir,
              "unknown severity '" + sev + "' (use none, info, low, medium, high or critical)");
        }
        o->drop_severity[dir] = sev;
      }
    } else if (k == "beacon") {
      KONSEKI_RETURN_IF_ERROR(ParseBeacon(ctx, n, o));
    }
  }
  return Status::Ok();
}

Status ParseRoot(const Ctx& ctx, const YAML::Node& root, Config* c) {
  if (root.IsNull()) return Status::Ok();  // an empty file: every default
  KONSEKI_RETURN_IF_ERROR(CheckKeys(
      ctx, root, "",
      {"listen",      "user",    "group",   "chroot",    "allow_root", "archive",
       "alerts",      "rules",   "workers", "udp",       "tcp",        "max_message_bytes",
       "queue",       "metrics", "parser",  "heartbeat", "tls",        "stop_timeout_secs",
       "correlation", "network"}));
  for (const auto& kv : root) {
    std::string k = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (k == "listen") {
      if (!v.IsSequence()) return ctx.Error(v, "listen", "expected a list of listeners");
      c->listen.clear();
      c->listen_lines.clear();
      for (const auto& item : v) {
        ListenConfig lc;
        if (item.IsMap()) {
          KONSEKI_RETURN_IF_ERROR(CheckKeys(ctx, item, "listen", {"uri", "allow", "rate_limit"}));
          if (!item["uri"]) return ctx.Error(item, "listen", "each listener map needs 'uri'");
          KONSEKI_RETURN_IF_ERROR(GetString(ctx, item["uri"], "listen.uri", &lc.uri));
          if (item["allow"]) {
            KONSEKI_RETURN_IF_ERROR(GetStringList(ctx, item["allow"], "listen.allow", &lc.allow));
            auto allow = receiver::SenderAllowlist::Parse(lc.allow);
            if (!allow.ok())
              return ctx.Error(item["allow"], "listen.allow", allow.status().message());
          }
          if (const YAML::Node rl = item["rate_limit"]) {
            KONSEKI_RETURN_IF_ERROR(
                CheckKeys(ctx, rl, "listen.rate_limit", {"messages_per_sec", "burst"}));
            if (rl["messages_per_sec"]) {
              KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, rl["messages_per_sec"],
                                                "listen.rate_limit.messages_per_sec", 0.001, 1e9,
                                                &lc.rate_limit_messages_per_sec));
            }
            if (rl["burst"]) {
              KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, rl["burst"], "listen.rate_limit.burst", 1, 1e9,
                                                &lc.rate_limit_burst));
            }
          }
        } else {
          KONSEKI_RETURN_IF_ERROR(GetString(ctx, item, "listen", &lc.uri));
        }
        auto addr = receiver::ListenAddress::Parse(lc.uri);
        if (!addr.ok()) return ctx.Error(item, "listen", addr.status().message());
        KONSEKI_RETURN_IF_ERROR(CheckListenerNotRepeated(ctx, item, *addr, *c));
        c->listen.push_back(std::move(lc));
        c->listen_lines.push_back(item.Mark().line + 1);
      }
    } else if (k == "user") {
      KONSEKI_RETURN_IF_ERROR(GetString(ctx, v, "user", &c->user));
    } else if (k == "group") {
      KONSEKI_RETURN_IF_ERROR(GetString(ctx, v, "group", &c->group));
    } else if (k == "chroot") {
      KONSEKI_RETURN_IF_ERROR(GetString(ctx, v, "chroot", &c->chroot));
    } else if (k == "allow_root") {
      KONSEKI_RETURN_IF_ERROR(GetBool(ctx, v, "allow_root", &c->allow_root));
    } else if (k == "archive") {
      KONSEKI_RETURN_IF_ERROR(CheckKeys(
          ctx, v, "archive",
          {"dir", "sync", "sync_interval_secs", "seal", "seal_epoch_secs", "compress_after_days",
           "retention_days", "low_space", "max_hosts", "buffer_budget_bytes"}));
      KONSEKI_RETURN_IF_ERROR(ParseArchiveKeep(ctx, v, &c->archive_keep));
      if (v["max_hosts"]) {
        KONSEKI_RETURN_IF_ERROR(
            GetInt(ctx, v["max_hosts"], "archive.max_hosts", 0, 1e9, &c->archive_budget.max_hosts));
      }
      if (v["buffer_budget_bytes"]) {
        KONSEKI_RETURN_IF_ERROR(GetInt(ctx, v["buffer_budget_bytes"], "archive.buffer_budget_bytes",
                                       1 << 20, 1ull << 40, &c->archive_budget.buffer_bytes));
      }
      if (v["dir"])
        KONSEKI_RETURN_IF_ERROR(GetString(ctx, v["dir"], "archive.dir", &c->archive_dir));
      if (v["sync"]) {
        KONSEKI_RETURN_IF_ERROR(GetString(ctx, v["sync"], "archive.sync", &c->archive_sync));
        if (c->archive_sync != "none" && c->archive_sync != "interval" &&
            c->archive_sync != "batch") {
          return ctx.Error(v["sync"], "archive.sync",
                           "expected one of none, interval, batch; got '" + c->archive_sync + "'");
        }
      }
      if (v["sync_interval_secs"]) {
        KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, v["sync_interval_secs"],
                                          "archive.sync_interval_secs", 0.001, 3600,
                                          &c->archive_sync_interval_secs));
      }
      if (c->archive_dir.empty()) return ctx.Error(v, "archive.dir", "must not be empty");
    } else if (k == "alerts") {
      KONSEKI_RETURN_IF_ERROR(ParseAlerts(ctx, v, c));
    } else if (k == "rules") {
      KONSEKI_RETURN_IF_ERROR(ParseRules(ctx, v, c));
    } else if (k == "workers") {
      KONSEKI_RETURN_IF_ERROR(GetInt(ctx, v, "workers", 0, 256, &c->workers));
    } else if (k == "udp") {
      KONSEKI_RETURN_IF_ERROR(CheckKeys(ctx, v, "udp", {"receive_buffer_bytes"}));
      if (v["receive_buffer_bytes"]) {
        KONSEKI_RETURN_IF_ERROR(GetInt(ctx, v["receive_buffer_bytes"], "udp.receive_buffer_bytes",
                                       4096, 1 << 30, &c->udp_receive_buffer_bytes));
      }
    } else if (k == "tcp") {
      KONSEKI_RETURN_IF_ERROR(
          CheckKeys(ctx, v, "tcp",
                    {"max_connections", "max_connections_per_source", "first_frame_timeout_secs"}));
      if (v["max_connections"]) {
        KONSEKI_RETURN_IF_ERROR(GetInt(ctx, v["max_connections"], "tcp.max_connections", 1,
                                       1'000'000, &c->tcp_max_connections));
      }
      if (v["max_connections_per_source"]) {
        size_t n = 0;
        KONSEKI_RETURN_IF_ERROR(GetInt(ctx, v["max_connections_per_source"],
                                       "tcp.max_connections_per_source", 1, 1'000'000, &n));
        c->tcp_max_connections_per_source = n;
      }
      if (v["first_frame_timeout_secs"]) {
        int secs = 0;
        KONSEKI_RETURN_IF_ERROR(GetInt(ctx, v["first_frame_timeout_secs"],
                                       "tcp.first_frame_timeout_secs", 0, 86400, &secs));
        c->tcp_first_frame_timeout_secs = secs;
      }
    } else if (k == "stop_timeout_secs") {
      double secs = 0;
      KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, v, "stop_timeout_secs", 0, 3600, &secs));
      c->stop_timeout_secs = secs;
    } else if (k == "max_message_bytes") {
      KONSEKI_RETURN_IF_ERROR(
          GetInt(ctx, v, "max_message_bytes", 480, 16 << 20, &c->max_message_bytes));
    } else if (k == "queue") {
      KONSEKI_RETURN_IF_ERROR(CheckKeys(ctx, v, "queue", {"max_bytes_per_worker"}));
      if (v["max_bytes_per_worker"]) {
        KONSEKI_RETURN_IF_ERROR(GetInt(ctx, v["max_bytes_per_worker"], "queue.max_bytes_per_worker",
                                       1 << 16, 1ull << 34, &c->queue_max_bytes_per_worker));
      }
    } else if (k == "metrics") {
      KONSEKI_RETURN_IF_ERROR(CheckKeys(ctx, v, "metrics", {"listen", "max_host_series"}));
      if (v["listen"]) {
        KONSEKI_RETURN_IF_ERROR(GetString(ctx, v["listen"], "metrics.listen", &c->metrics_listen));
        std::string host;
        uint16_t port = 0;
        if (!c->metrics_listen.empty()) {
          if (Status st = outputs::ParseListenAddress(c->metrics_listen, &host, &port); !st.ok()) {
            return ctx.Error(v["listen"], "metrics.listen", st.message());
          }
        }
      }
      if (v["max_host_series"]) {
        KONSEKI_RETURN_IF_ERROR(GetInt(ctx, v["max_host_series"], "metrics.max_host_series", 0,
                                       1'000'000, &c->metrics_max_host_series));
      }
    } else if (k == "parser") {
      KONSEKI_RETURN_IF_ERROR(CheckKeys(ctx, v, "parser", {"timezone"}));
      if (v["timezone"]) {
        KONSEKI_RETURN_IF_ERROR(
            GetString(ctx, v["timezone"], "parser.timezone", &c->parser_timezone));
        if (auto off = ResolveUtcOffsetSecs(c->parser_timezone, 0); !off.ok()) {
          return ctx.Error(v["timezone"], "parser.timezone", off.status().message());
        }
      }
    } else if (k == "heartbeat") {
      KONSEKI_RETURN_IF_ERROR(ParseHeartbeat(ctx, v, &c->heartbeat));
    } else if (k == "correlation") {
      KONSEKI_RETURN_IF_ERROR(ParseCorrelation(ctx, v, &c->correlation));
    } else if (k == "network") {
      KONSEKI_RETURN_IF_ERROR(ParseNetwork(ctx, v, &c->correlation.options));
    } else if (k == "tls") {
      KONSEKI_RETURN_IF_ERROR(CheckKeys(ctx, v, "tls",
                                        {"cert_file", "key_file", "ca_file", "mutual",
                                         "permitted_peers", "handshake_timeout_secs"}));
      TlsConfig& t = c->tls;
      if (v["cert_file"])
        KONSEKI_RETURN_IF_ERROR(GetString(ctx, v["cert_file"], "tls.cert_file", &t.cert_file));
      if (v["key_file"])
        KONSEKI_RETURN_IF_ERROR(GetString(ctx, v["key_file"], "tls.key_file", &t.key_file));
      if (v["ca_file"])
        KONSEKI_RETURN_IF_ERROR(GetString(ctx, v["ca_file"], "tls.ca_file", &t.ca_file));
      if (v["mutual"]) KONSEKI_RETURN_IF_ERROR(GetBool(ctx, v["mutual"], "tls.mutual", &t.mutual));
      if (v["permitted_peers"]) {
        KONSEKI_RETURN_IF_ERROR(
            GetStringList(ctx, v["permitted_peers"], "tls.permitted_peers", &t.permitted_peers));
      }
      if (v["handshake_timeout_secs"]) {
        KONSEKI_RETURN_IF_ERROR(GetNumber(ctx, v["handshake_timeout_secs"],
                                          "tls.handshake_timeout_secs", 0.1, 600,
                                          &t.handshake_timeout_secs));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

std::string_view EmbeddedDefaultConfig() { return kDefaultConfig; }

StatusOr<Config> ParseConfig(std::string_view yaml_text, std::string_view source) {
  Config c;
  Ctx ctx(source, &c);
  c.source = std::string(source);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(std::string(source) + ":" + std::to_string(e.mark.line + 1) +
                                   ": YAML syntax error: " + e.msg);
  }
  try {
    if (Status s = ParseRoot(ctx, root, &c); !s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string(source) + ":" + std::to_string(e.mark.line + 1) +
                                   ": " + e.msg);
  }
  for (const ListenConfig& lc : c.listen) {
    const std::string& uri = lc.uri;
    auto addr = receiver::ListenAddress::Parse(uri);
    if (addr.ok() &&
        (addr->transport == receiver::Transport::kTls ||
         addr->transport == receiver::Transport::kRelpTls) &&
        (c.tls.cert_file.empty() || c.tls.key_file.empty())) {
      return Status::InvalidArgument(std::string(source) + ": listener " + uri +
                                     " needs tls.cert_file and tls.key_file");
    }
  }
  if (c.listen.empty()) {
    return Status::InvalidArgument(std::string(source) +
                                   ": key 'listen': at least one listener is needed, e.g. "
                                   "'listen: [udp://127.0.0.1:5514]'");
  }
  return c;
}

StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno("cannot read config file " + path, errno);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

size_t WorkerThreads(const Config& c) {
  if (c.workers > 0) return c.workers;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

std::string HeartbeatStateDir(const Config& c) {
  const std::string& dir = c.heartbeat.options.state_dir;
  return dir.empty() ? c.archive_dir + "/.state" : dir;
}

std::string Config::Where(std::string_view key) const {
  auto it = key_lines.find(key);
  return source + (it == key_lines.end() ? "" : ":" + std::to_string(it->second)) + ": key '" +
         std::string(key) + "'";
}

StatusOr<int> ResolveUtcOffsetSecs(const std::string& tz, int64_t unix_secs) {
  if (tz == "local") {
    time_t t = static_cast<time_t>(unix_secs);
    struct tm tm;
    localtime_r(&t, &tm);
    return static_cast<int>(tm.tm_gmtoff);
  }
  if (tz == "UTC" || tz == "utc" || tz == "Z") return 0;
  // [+-]HH:MM
  if (tz.size() == 6 && (tz[0] == '+' || tz[0] == '-') && tz[3] == ':' && isdigit(tz[1]) &&
      isdigit(tz[2]) && isdigit(tz[4]) && isdigit(tz[5])) {
    int h = (tz[1] - '0') * 10 + (tz[2] - '0');
    int m = (tz[4] - '0') * 10 + (tz[5] - '0');
    if (h <= 14 && m < 60) return (tz[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
  }
  return Status::InvalidArgument("timezone '" + tz +
                                 "' is not 'local', 'UTC' or an offset like +09:00");
}

}  // namespace konseki::app
