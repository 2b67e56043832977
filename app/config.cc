#include "app/config.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/alert.h"
#include "common/usable_cpus.h"
#include "common/yaml_reader.h"
#include "matchers/alert_ignore.h"
#include "matchers/work_hours.h"
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

// Every getter and key check is the tree's one YAML reader (common/yaml_reader.h);
// it records where each key was given (Config::key_lines).
using Ctx = yaml::Reader;

std::chrono::milliseconds Millis(double secs) {
  return std::chrono::milliseconds(static_cast<int64_t>(secs * 1000));
}

Status ParseFilter(const Ctx& ctx, const YAML::Node& item, const std::string& key,
                   outputs::FilteredSinkOptions* f) {
  if (item["min_severity"]) {
    std::string level;
    RETURN_IF_ERROR(ctx.GetString(item["min_severity"], key + ".min_severity", &level));
    if (!ParseSeverity(level, &f->min_severity)) {
      return ctx.Error(item["min_severity"], key + ".min_severity",
                       "expected info, low, medium, high or critical");
    }
  }
  if (item["signs"]) RETURN_IF_ERROR(ctx.GetStringList(item["signs"], key + ".signs", &f->signs));
  return Status::Ok();
}

// archive.seal, seal_epoch_secs, compress_after_days, retention_days and
// low_space: the keeping of the archive (issue #16).
Status ParseArchiveKeep(const Ctx& ctx, const YAML::Node& v, Config* c) {
  ArchiveSealConfig& seal = c->archive_seal;
  outputs::RetentionOptions& r = c->archive_retention;
  if (v["seal"]) RETURN_IF_ERROR(ctx.GetBool(v["seal"], "archive.seal", &seal.enabled));
  if (v["seal_epoch_secs"]) {
    int secs = 0;
    RETURN_IF_ERROR(ctx.GetInt(v["seal_epoch_secs"], "archive.seal_epoch_secs", 1, 86400, &secs));
    if (86400 % secs != 0) {
      return ctx.Error(v["seal_epoch_secs"], "archive.seal_epoch_secs",
                       "must divide a day (86400), e.g. 60, 300, 900, 3600");
    }
    seal.epoch_secs = secs;
  }
  if (v["compress_after_days"]) {
    RETURN_IF_ERROR(ctx.GetInt(v["compress_after_days"], "archive.compress_after_days", 0, 36500,
                               &r.compress_after_days));
  }
  if (v["retention_days"]) {
    RETURN_IF_ERROR(
        ctx.GetInt(v["retention_days"], "archive.retention_days", 0, 36500, &r.retention_days));
  }
  if (r.retention_days > 0 && r.compress_after_days >= r.retention_days) {
    return ctx.Error(v, "archive.compress_after_days",
                     "must be below archive.retention_days (files would be deleted first)");
  }
  if (v["low_space"]) {
    std::string text;
    RETURN_IF_ERROR(ctx.GetString(v["low_space"], "archive.low_space", &text));
    if (!outputs::ParseLowSpace(text, &r.low_space_percent, &r.low_space_bytes)) {
      return ctx.Error(v["low_space"], "archive.low_space",
                       "expected a percentage (\"5%\") or a size (\"10G\", \"500M\")");
    }
  }
  return Status::Ok();
}

Status ParseSyslogSink(const Ctx& ctx, const YAML::Node& item, const std::string& key,
                       outputs::SyslogForwarderOptions* s) {
  if (!item["host"]) return ctx.Error(item, key, "each syslog sink needs 'host'");
  RETURN_IF_ERROR(ctx.GetString(item["host"], key + ".host", &s->host));
  if (item["port"]) RETURN_IF_ERROR(ctx.GetInt(item["port"], key + ".port", 1, 65535, &s->port));
  if (item["transport"]) {
    std::string transport;
    RETURN_IF_ERROR(ctx.GetString(item["transport"], key + ".transport", &transport));
    if (transport != "udp" && transport != "tcp") {
      return ctx.Error(item["transport"], key + ".transport", "expected udp or tcp");
    }
    s->transport =
        transport == "tcp" ? outputs::SyslogTransport::kTcp : outputs::SyslogTransport::kUdp;
  }
  if (item["octet_counting"]) {
    RETURN_IF_ERROR(
        ctx.GetBool(item["octet_counting"], key + ".octet_counting", &s->octet_counting));
  }
  if (item["facility"]) {
    RETURN_IF_ERROR(ctx.GetInt(item["facility"], key + ".facility", 0, 23, &s->facility));
  }
  return Status::Ok();
}

Status ParseWebhookSink(const Ctx& ctx, const YAML::Node& item, const std::string& key,
                        outputs::WebhookSinkOptions* w) {
  if (!item["url"]) return ctx.Error(item, key, "each webhook needs 'url'");
  RETURN_IF_ERROR(ctx.GetString(item["url"], key + ".url", &w->url));
  if (w->url.rfind("http://", 0) != 0 && w->url.rfind("https://", 0) != 0) {
    return ctx.Error(item["url"], key + ".url", "expected an http:// or https:// URL");
  }
  if (const YAML::Node h = item["headers"]) {
    if (!h.IsMap()) return ctx.Error(h, key + ".headers", "expected a mapping of header: value");
    for (const auto& kv : h) {
      std::string val;
      RETURN_IF_ERROR(ctx.GetString(kv.second, key + ".headers", &val));
      w->headers.emplace_back(kv.first.as<std::string>(), val);
    }
  }
  if (item["timeout_secs"]) {
    double secs = 0;
    RETURN_IF_ERROR(ctx.GetNumber(item["timeout_secs"], key + ".timeout_secs", 0.1, 600, &secs));
    w->timeout = Millis(secs);
  }
  if (item["max_attempts"]) {
    RETURN_IF_ERROR(
        ctx.GetInt(item["max_attempts"], key + ".max_attempts", 1, 100, &w->max_attempts));
  }
  return Status::Ok();
}

Status ParseExecSink(const Ctx& ctx, const YAML::Node& item, const std::string& key,
                     outputs::ExecSinkOptions* e) {
  if (!item["argv"]) return ctx.Error(item, key, "each exec sink needs 'argv'");
  RETURN_IF_ERROR(ctx.GetStringList(item["argv"], key + ".argv", &e->argv));
  if (e->argv.empty()) return ctx.Error(item["argv"], key + ".argv", "must name a program");
  if (item["timeout_secs"]) {
    double secs = 0;
    RETURN_IF_ERROR(ctx.GetNumber(item["timeout_secs"], key + ".timeout_secs", 0.1, 3600, &secs));
    e->timeout = Millis(secs);
  }
  if (item["max_children"]) {
    RETURN_IF_ERROR(
        ctx.GetInt(item["max_children"], key + ".max_children", 1, 256, &e->max_children));
  }
  return Status::Ok();
}

// alerts.<kind>: a list of sinks, each with the keys every sink has (name,
// filter, queue_capacity) and its own, read by parse_one.
template <typename SinkOptions>
Status ParseSinks(const Ctx& ctx, const YAML::Node& list, const std::string& key,
                  std::vector<std::string_view> own_keys,
                  Status (*parse_one)(const Ctx&, const YAML::Node&, const std::string&,
                                      SinkOptions*),
                  std::vector<AlertSinkSpec<SinkOptions>>* out, std::set<std::string>* names) {
  if (!list) return Status::Ok();
  if (!list.IsSequence()) return ctx.Error(list, key, "expected a list of sinks");
  own_keys.insert(own_keys.end(), {"name", "min_severity", "signs", "queue_capacity"});
  for (const auto& item : list) {
    RETURN_IF_ERROR(ctx.CheckKeys(item, key, own_keys));
    AlertSinkSpec<SinkOptions> sink;
    RETURN_IF_ERROR(parse_one(ctx, item, key, &sink.options));
    // The name is the sink label of the delivery metrics, of the log lines
    // and of alert.delivery_failed: two webhooks both called "webhook" shared
    // one queue-depth gauge and one set of counters, and a failing one could
    // not be told from the other. A second unnamed sink of a kind is
    // "webhook-2"; a name given twice is refused.
    if (item["name"]) {
      RETURN_IF_ERROR(ctx.GetString(item["name"], key + ".name", &sink.options.name));
      if (!names->insert(sink.options.name).second) {
        return ctx.Error(item["name"], key + ".name",
                         "a sink named '" + sink.options.name +
                             "' is already configured; give each sink its own name (the "
                             "sink label of its metrics and log lines)");
      }
    } else {
      const std::string kind = sink.options.name;
      for (int n = 2; !names->insert(sink.options.name).second; ++n) {
        sink.options.name = kind + "-" + std::to_string(n);
      }
    }
    if (item["queue_capacity"]) {
      RETURN_IF_ERROR(ctx.GetInt(item["queue_capacity"], key + ".queue_capacity", 1, 1e7,
                                 &sink.options.queue.capacity));
    }
    RETURN_IF_ERROR(ParseFilter(ctx, item, key, &sink.filter));
    out->push_back(std::move(sink));
  }
  return Status::Ok();
}

Status ParseAlerts(const Ctx& ctx, const YAML::Node& v, Config* c) {
  RETURN_IF_ERROR(
      ctx.CheckKeys(v, "alerts", {"file", "stdout", "throttle", "syslog", "webhook", "exec"}));
  if (v["file"]) RETURN_IF_ERROR(ctx.GetString(v["file"], "alerts.file", &c->alerts_file));
  if (v["stdout"]) RETURN_IF_ERROR(ctx.GetBool(v["stdout"], "alerts.stdout", &c->alerts_stdout));
  if (const YAML::Node t = v["throttle"]) {
    RETURN_IF_ERROR(
        ctx.CheckKeys(t, "alerts.throttle", {"window_secs", "max_per_rule_host", "max_per_rule"}));
    outputs::ThrottledSinkOptions& tc = c->alerts_throttle;
    if (t["window_secs"]) {
      double secs = 0;
      RETURN_IF_ERROR(
          ctx.GetNumber(t["window_secs"], "alerts.throttle.window_secs", 1, 86400, &secs));
      tc.window = std::chrono::seconds(static_cast<int64_t>(secs));
    }
    if (t["max_per_rule_host"]) {
      RETURN_IF_ERROR(ctx.GetInt(t["max_per_rule_host"], "alerts.throttle.max_per_rule_host", 1,
                                 1e6, &tc.max_per_rule_host));
    }
    if (t["max_per_rule"]) {
      RETURN_IF_ERROR(
          ctx.GetInt(t["max_per_rule"], "alerts.throttle.max_per_rule", 1, 1e6, &tc.max_per_rule));
    }
  }
  std::set<std::string> names;
  RETURN_IF_ERROR(ParseSinks(ctx, v["syslog"], "alerts.syslog",
                             {"host", "port", "transport", "octet_counting", "facility"},
                             ParseSyslogSink, &c->alerts_syslog, &names));
  RETURN_IF_ERROR(ParseSinks(ctx, v["webhook"], "alerts.webhook",
                             {"url", "headers", "timeout_secs", "max_attempts"}, ParseWebhookSink,
                             &c->alerts_webhook, &names));
  return ParseSinks(ctx, v["exec"], "alerts.exec", {"argv", "timeout_secs", "max_children"},
                    ParseExecSink, &c->alerts_exec, &names);
}

// fnmatch(3) takes a '[' with no closing ']' as a literal character, so a
// class the admin meant would silently never match.
bool GlobBracketsClosed(std::string_view g) {
  for (size_t i = 0; i < g.size(); ++i) {
    if (g[i] == '\\') {
      ++i;
      continue;
    }
    if (g[i] != '[') continue;
    size_t j = i + 1;
    if (j < g.size() && (g[j] == '!' || g[j] == '^')) ++j;
    if (j < g.size() && g[j] == ']') ++j;  // "[]...]": the ']' is a member
    while (j < g.size() && g[j] != ']') ++j;
    if (j >= g.size()) return false;
    i = j;
  }
  return true;
}

Status ParseHeartbeatOverrides(const Ctx& ctx, const YAML::Node& v, const std::string& key,
                               matchers::HeartbeatOptions* out) {
  constexpr double kYear = 366 * 86400.0;
  if (!v.IsSequence()) {
    return ctx.Error(v, key, "expected a list of {host | host_pattern, silence_after_secs}");
  }
  for (const auto& item : v) {
    RETURN_IF_ERROR(ctx.CheckKeys(item, key, {"host", "host_pattern", "silence_after_secs"}));
    matchers::HeartbeatOverride o;
    if (!item["host"] == !item["host_pattern"]) {
      return ctx.Error(item, key, "each override needs 'host' or 'host_pattern' (one of them)");
    }
    if (!item["silence_after_secs"]) {
      return ctx.Error(item, key, "each override needs 'silence_after_secs'");
    }
    if (item["host"]) {
      RETURN_IF_ERROR(ctx.GetString(item["host"], key + ".host", &o.host));
      // A glob given as host: (as older configs do) is a pattern.
      if (o.host.find_first_of("*?[") != std::string::npos) std::swap(o.host, o.host_pattern);
    } else {
      RETURN_IF_ERROR(ctx.GetString(item["host_pattern"], key + ".host_pattern", &o.host_pattern));
    }
    if (!o.host_pattern.empty() && !GlobBracketsClosed(o.host_pattern)) {
      return ctx.Error(item, key,
                       "'" + o.host_pattern + "': a '[' without its ']' (a glob's class is [...])");
    }
    RETURN_IF_ERROR(ctx.GetNumber(item["silence_after_secs"], key + ".silence_after_secs", 0, kYear,
                                  &o.silence_after_secs));
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
      {"transient_host_secs", &Options::transient_host_secs, 0, kYear},
      {"new_host_learning_secs", &Options::new_host_learning_secs, 0, kYear},
      {"new_host_alerts_per_minute", &Options::new_host_alerts_per_minute, 0, 1e6},
      {"stop_link_secs", &Options::stop_link_secs, 0, kYear},
      {"shutdown_link_secs", &Options::shutdown_link_secs, 0, kYear},
      {"suspend_max_secs", &Options::suspend_max_secs, 0, kYear},
      {"sender_change_secs", &Options::sender_change_secs, 0, kYear},
      {"alert_link_secs", &Options::alert_link_secs, 0, kYear},
      {"metrics_interval_secs", &Options::metrics_interval_secs, 0.1, 3600},
      {"same_sender_secs", &Options::same_sender_secs, 0, 3600},
      {"flood_min_messages", &Options::flood_min_messages, 0, 1e9},
      {"flood_window_secs", &Options::flood_window_secs, 1, 86400},
      {"flood_multiplier", &Options::flood_multiplier, 1, 1e6},
      {"flood_alert_interval_secs", &Options::flood_alert_interval_secs, 0, kYear},
      {"sequence_gap", &Options::sequence_gap, 0, 2147483647},
      {"sequence_alert_interval_secs", &Options::sequence_alert_interval_secs, 0, kYear},
  };
  std::vector<std::string_view> allowed = {"enabled",   "new_host_alerts",        "max_hosts",
                                           "state_dir", "max_last_message_bytes", "expected_hosts",
                                           "overrides", "max_senders_per_host"};
  for (const Seconds& n : kNumbers) allowed.push_back(n.key);
  RETURN_IF_ERROR(ctx.CheckKeys(hb, "heartbeat", allowed));
  Options& o = out->options;
  for (const auto& kv : hb) {
    const std::string k = kv.first.as<std::string>();
    const std::string key = "heartbeat." + k;
    const YAML::Node& v = kv.second;
    if (k == "enabled") {
      RETURN_IF_ERROR(ctx.GetBool(v, key, &out->enabled));
    } else if (k == "new_host_alerts") {
      RETURN_IF_ERROR(ctx.GetBool(v, key, &o.new_host_alerts));
    } else if (k == "max_hosts") {
      RETURN_IF_ERROR(ctx.GetInt(v, key, 1, 1e8, &o.max_hosts));
    } else if (k == "max_senders_per_host") {
      RETURN_IF_ERROR(ctx.GetInt(v, key, 1, 1024, &o.max_senders_per_host));
    } else if (k == "max_last_message_bytes") {
      RETURN_IF_ERROR(ctx.GetInt(v, key, 0, 1 << 20, &o.max_last_message_bytes));
    } else if (k == "state_dir") {
      RETURN_IF_ERROR(ctx.GetString(v, key, &o.state_dir));
    } else if (k == "expected_hosts") {
      RETURN_IF_ERROR(ctx.GetStringList(v, key, &o.expected_hosts));
    } else if (k == "overrides") {
      RETURN_IF_ERROR(ParseHeartbeatOverrides(ctx, v, key, &o));
    } else {
      for (const Seconds& n : kNumbers) {
        if (k == n.key) RETURN_IF_ERROR(ctx.GetNumber(v, key, n.min, n.max, &(o.*n.field)));
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
  RETURN_IF_ERROR(ctx.CheckKeys(v, "rules.ignore", {"sources", "users"}));
  if (v["sources"]) {
    RETURN_IF_ERROR(ctx.GetStringList(v["sources"], "rules.ignore.sources", &o->ignore_sources));
  }
  if (v["users"]) {
    RETURN_IF_ERROR(ctx.GetStringList(v["users"], "rules.ignore.users", &o->ignore_users));
  }
  auto ignore = matchers::AlertIgnore::Create(o->ignore_sources, o->ignore_users);
  if (!ignore.ok()) return ctx.Error(v, "rules.ignore", ignore.status().message());
  return Status::Ok();
}

// rules: dir, local_dir, disable, severity, ignore (matchers/rule_packs.h).
// Rule ids are checked against the loaded packs later (LoadRules), with the
// line of each entry recorded here.
Status ParseRules(const Ctx& ctx, const YAML::Node& v, Config* c) {
  RETURN_IF_ERROR(ctx.CheckKeys(v, "rules", {"dir", "local_dir", "disable", "severity", "ignore"}));
  matchers::RuleOverrides& o = c->rule_overrides;
  if (v["dir"]) RETURN_IF_ERROR(ctx.GetString(v["dir"], "rules.dir", &c->rules_dir));
  if (v["local_dir"]) {
    RETURN_IF_ERROR(ctx.GetString(v["local_dir"], "rules.local_dir", &o.local_dir));
    if (o.local_dir.empty())
      return ctx.Error(v["local_dir"], "rules.local_dir", "must not be empty");
    o.local_dir_where = ctx.Where(v["local_dir"], "rules.local_dir");
  }
  std::set<std::string> seen;
  if (const YAML::Node list = v["disable"]) {
    if (!list.IsSequence()) return ctx.Error(list, "rules.disable", "expected a list of rule ids");
    for (const auto& item : list) {
      matchers::RuleIdRef ref;
      RETURN_IF_ERROR(ctx.GetString(item, "rules.disable", &ref.id));
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
      RETURN_IF_ERROR(ctx.GetString(kv.first, "rules.severity", &so.id));
      std::string level;
      RETURN_IF_ERROR(ctx.GetString(kv.second, "rules.severity." + so.id, &level));
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
  if (v["ignore"]) RETURN_IF_ERROR(ParseRuleIgnore(ctx, v["ignore"], &o));
  return Status::Ok();
}

// Whether two sockets of one protocol (TCP or UDP) on one port cannot both
// bind on Linux: the same address, or a wildcard and an address it covers.
// konseki sets no SO_REUSEPORT (and UDP no SO_REUSEADDR) and its IPv6
// sockets are dual-stack (no IPV6_V6ONLY), so "::" takes the port on every
// IPv4 address too. Hosts are numeric except metrics.listen's, which may be
// a name ("localhost"): a name clashes with its equal and with wildcards.
bool BindsClash(const std::string& a, const std::string& b) {
  enum Kind { kV4, kV6, kName };
  struct Addr {
    Kind kind = kName;
    unsigned char bytes[16] = {};
    bool any = false;
  };
  const auto parse = [](const std::string& host) {
    Addr r;
    if (inet_pton(AF_INET, host.c_str(), r.bytes) == 1) {
      r.kind = kV4;
      r.any = std::all_of(r.bytes, r.bytes + 4, [](unsigned char x) { return x == 0; });
    } else if (inet_pton(AF_INET6, host.c_str(), r.bytes) == 1) {
      r.kind = kV6;
      r.any = std::all_of(r.bytes, r.bytes + 16, [](unsigned char x) { return x == 0; });
    }
    return r;
  };
  const Addr x = parse(a);
  const Addr y = parse(b);
  if (x.kind == kName || y.kind == kName) {
    if (a == b) return true;
    const Addr& other = x.kind == kName ? y : x;
    return other.any;  // a name may resolve to an IPv4 or IPv6 address
  }
  if ((x.kind == kV6 && x.any) || (y.kind == kV6 && y.any)) return true;
  if (x.kind != y.kind) return false;
  if (x.any || y.any) return true;
  return std::equal(x.bytes, x.bytes + 16, y.bytes);
}

// Two listeners of one protocol (UDP; or TCP, TLS and RELP, which are all
// TCP) on one port whose addresses overlap cannot both bind: say so at parse
// time, naming both lines, rather than let the daemon fail at start.
Status CheckListenerNotRepeated(const Ctx& ctx, const YAML::Node& item,
                                const receiver::ListenAddress& addr, const Config& c) {
  if (addr.port == 0) return Status::Ok();
  const bool udp = addr.transport == receiver::Transport::kUdp;
  for (const receiver::ListenerSpec& other : c.listen) {
    const receiver::ListenAddress& o = other.address;
    if (o.port != addr.port || (o.transport == receiver::Transport::kUdp) != udp ||
        !BindsClash(o.host, addr.host)) {
      continue;
    }
    const std::string proto = udp ? "UDP" : "TCP";
    if (o.host == addr.host) {
      return ctx.Error(item, "listen",
                       addr.ToString() + " uses the same " + proto + " address and port as " +
                           o.ToString() + " (line " + std::to_string(other.line) +
                           "); give each listener its own port");
    }
    return ctx.Error(item, "listen",
                     addr.ToString() + " and " + o.ToString() + " (line " +
                         std::to_string(other.line) + ") cannot both bind " + proto + " port " +
                         std::to_string(addr.port) +
                         ": a wildcard address (0.0.0.0, ::) takes the port on the addresses it "
                         "covers; keep one of them or give each its own port");
  }
  return Status::Ok();
}

// metrics.listen is a TCP socket too: it may not take a TCP, TLS or RELP
// listener's port on an overlapping address (the default 127.0.0.1:9514
// included, when metrics: is not given).
Status CheckMetricsNotOnAListener(const Config& c) {
  if (c.metrics_listen.empty()) return Status::Ok();
  std::string host;
  uint16_t port = 0;
  if (!outputs::ParseListenAddress(c.metrics_listen, &host, &port).ok() || port == 0) {
    return Status::Ok();
  }
  for (const receiver::ListenerSpec& spec : c.listen) {
    const receiver::ListenAddress& o = spec.address;
    if (o.transport == receiver::Transport::kUdp || o.port != port || !BindsClash(o.host, host)) {
      continue;
    }
    const bool given = c.key_lines.count("metrics.listen") > 0;
    return Status::InvalidArgument(
        c.Where("metrics.listen") + ": " + (given ? "" : "(default) ") + c.metrics_listen +
        " is the TCP port of listener " + o.ToString() + " (line " + std::to_string(spec.line) +
        "): both cannot bind it; give metrics.listen another port (or '' to turn it off)");
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
    RETURN_IF_ERROR(ctx.CheckKeys(kv.second, k,
                                  {"window_secs", "count", "quiet_secs", "min_observed_secs",
                                   "learning_secs", "established_count", "established_secs"}));
    matchers::CorrelationOverride& ov = o->overrides[id];
    const YAML::Node& n = kv.second;
    if (n["window_secs"]) {
      RETURN_IF_ERROR(
          ctx.GetNumber(n["window_secs"], k + ".window_secs", 0.001, kYear, &ov.window_secs));
    }
    if (n["count"]) {
      RETURN_IF_ERROR(ctx.GetNumber(n["count"], k + ".count", 1, 10000, &ov.count));
    }
    if (n["quiet_secs"]) {
      RETURN_IF_ERROR(
          ctx.GetNumber(n["quiet_secs"], k + ".quiet_secs", 0.001, kYear, &ov.quiet_secs));
    }
    if (n["min_observed_secs"]) {
      RETURN_IF_ERROR(ctx.GetNumber(n["min_observed_secs"], k + ".min_observed_secs", 0, kYear,
                                    &ov.min_observed_secs));
    }
    if (n["learning_secs"]) {
      RETURN_IF_ERROR(
          ctx.GetNumber(n["learning_secs"], k + ".learning_secs", 0, kYear, &ov.learning_secs));
    }
    if (n["established_count"]) {
      RETURN_IF_ERROR(ctx.GetNumber(n["established_count"], k + ".established_count", 0, 10000,
                                    &ov.established_count));
    }
    if (n["established_secs"]) {
      RETURN_IF_ERROR(ctx.GetNumber(n["established_secs"], k + ".established_secs", 0, kYear,
                                    &ov.established_secs));
    }
  }
  return Status::Ok();
}

// correlation.working_hours: {days: [mon, ...], hours: ["07:00-21:00", ...],
// holidays: ["2026-12-31", ...]}; keys not given keep their defaults.
Status ParseWorkingHours(const Ctx& ctx, const YAML::Node& v, matchers::WorkHours* w) {
  const std::string key = "correlation.working_hours";
  if (!v.IsMap()) return ctx.Error(v, key, "expected {days: [...], hours: [...], holidays: [...]}");
  RETURN_IF_ERROR(ctx.CheckKeys(v, key, {"days", "hours", "holidays"}));
  std::vector<std::string> list;
  if (v["days"]) {
    RETURN_IF_ERROR(ctx.GetStringList(v["days"], key + ".days", &list));
    w->days = 0;
    for (const std::string& d : list) {
      int day = 0;
      if (!matchers::ParseWeekday(d, &day)) {
        return ctx.Error(v["days"], key + ".days", "'" + d + "' is not a weekday (mon ... sun)");
      }
      w->days = static_cast<uint8_t>(w->days | (1u << day));
    }
  }
  if (v["hours"]) {
    RETURN_IF_ERROR(ctx.GetStringList(v["hours"], key + ".hours", &list));
    if (list.empty()) {
      return ctx.Error(v["hours"], key + ".hours",
                       "give at least one shift (\"07:00-21:00\"; \"22:00-06:00\" crosses "
                       "midnight, \"00:00-24:00\" is the whole day)");
    }
    w->shifts.clear();
    for (const std::string& h : list) {
      matchers::Shift shift;
      if (!matchers::ParseShift(h, &shift)) {
        return ctx.Error(
            v["hours"], key + ".hours",
            "'" + h + "' is not a shift HH:MM-HH:MM (\"07:00-21:00\", \"22:00-06:00\")");
      }
      w->shifts.push_back(shift);
    }
  }
  if (v["holidays"]) {
    RETURN_IF_ERROR(ctx.GetStringList(v["holidays"], key + ".holidays", &list));
    w->holidays.clear();
    for (const std::string& d : list) {
      int32_t day = 0;
      if (!matchers::ParseLocalDate(d, &day)) {
        return ctx.Error(v["holidays"], key + ".holidays", "'" + d + "' is not a date YYYY-MM-DD");
      }
      w->holidays.push_back(day);
    }
    std::sort(w->holidays.begin(), w->holidays.end());
    w->holidays.erase(std::unique(w->holidays.begin(), w->holidays.end()), w->holidays.end());
  }
  return Status::Ok();
}

Status ParseCorrelation(const Ctx& ctx, const YAML::Node& v, CorrelationConfig* out) {
  RETURN_IF_ERROR(
      ctx.CheckKeys(v, "correlation",
                    {"enabled", "learning_days", "session_min_observed_secs", "system_accounts",
                     "host_addresses", "max_keys", "max_keys_per_rule", "save_interval_secs",
                     "state_dir", "fleet_queue_max", "overrides", "working_hours"}));
  matchers::CorrelatorOptions& o = out->options;
  constexpr double kYear = 366 * 86400.0;
  for (const auto& kv : v) {
    const std::string k = kv.first.as<std::string>();
    const std::string key = "correlation." + k;
    const YAML::Node& n = kv.second;
    if (k == "enabled") {
      RETURN_IF_ERROR(ctx.GetBool(n, key, &out->enabled));
    } else if (k == "learning_days") {
      double days = 0;
      RETURN_IF_ERROR(ctx.GetNumber(n, key, 0, 366, &days));
      o.learning_secs = days * 86400;
    } else if (k == "session_min_observed_secs") {
      RETURN_IF_ERROR(ctx.GetNumber(n, key, 0, kYear, &o.session_min_observed_secs));
    } else if (k == "system_accounts") {
      RETURN_IF_ERROR(ctx.GetStringList(n, key, &o.system_accounts));
    } else if (k == "host_addresses") {
      if (!n.IsMap()) return ctx.Error(n, key, "expected a mapping of host: [addresses]");
      for (const auto& h : n) {
        std::vector<std::string>& list = o.host_addresses[h.first.as<std::string>()];
        RETURN_IF_ERROR(ctx.GetStringList(h.second, key, &list));
        for (const std::string& a : list) {
          if (!receiver::SenderAddress::Parse(a)) {
            return ctx.Error(h.second, key, "'" + a + "' is not an IPv4 or IPv6 address");
          }
        }
      }
    } else if (k == "max_keys") {
      RETURN_IF_ERROR(ctx.GetInt(n, key, 1, 1e9, &o.max_keys));
    } else if (k == "max_keys_per_rule") {
      RETURN_IF_ERROR(ctx.GetInt(n, key, 1, 1e9, &o.max_keys_per_rule));
    } else if (k == "save_interval_secs") {
      RETURN_IF_ERROR(ctx.GetNumber(n, key, 0, kYear, &o.save_interval_secs));
    } else if (k == "state_dir") {
      RETURN_IF_ERROR(ctx.GetString(n, key, &out->state_dir));
    } else if (k == "fleet_queue_max") {
      RETURN_IF_ERROR(ctx.GetInt(n, key, 1, 1e8, &out->fleet_queue_max));
    } else if (k == "overrides") {
      RETURN_IF_ERROR(ParseCorrelationOverrides(ctx, n, &o));
    } else if (k == "working_hours") {
      RETURN_IF_ERROR(ParseWorkingHours(ctx, n, &o.work_hours));
    }
  }
  return Status::Ok();
}

// network.internal / no_outbound / beacon.allow entries: a name or glob
// (no spaces), an address, or a CIDR with its host bits clear.
Status GetNetworkList(const Ctx& ctx, const YAML::Node& n, const std::string& key,
                      std::vector<std::string>* out) {
  RETURN_IF_ERROR(ctx.GetStringList(n, key, out));
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
  RETURN_IF_ERROR(ctx.CheckKeys(
      v, key,
      {"allow", "score", "min_connections", "window_secs", "max_pairs", "burst_secs", "weights"}));
  constexpr double kYear = 366 * 86400.0;
  for (const auto& kv : v) {
    const std::string k = kv.first.as<std::string>();
    const std::string name = key + "." + k;
    const YAML::Node& n = kv.second;
    if (k == "allow") {
      RETURN_IF_ERROR(GetNetworkList(ctx, n, name, &o->set_values["beacon_allow"]));
    } else if (k == "score") {
      RETURN_IF_ERROR(ctx.GetNumber(n, name, 0, 1, &o->beacon_score));
    } else if (k == "min_connections") {
      RETURN_IF_ERROR(ctx.GetNumber(n, name, 4, 10000, &o->beacon_min_connections));
    } else if (k == "window_secs") {
      RETURN_IF_ERROR(ctx.GetNumber(n, name, 1, kYear, &o->beacon_window_secs));
    } else if (k == "max_pairs") {
      RETURN_IF_ERROR(ctx.GetInt(n, name, 1, 1e8, &o->beacon_max_pairs));
    } else if (k == "burst_secs") {
      RETURN_IF_ERROR(ctx.GetNumber(n, name, 0, 3600, &o->beacon_burst_secs));
    } else if (k == "weights") {
      RETURN_IF_ERROR(ctx.CheckKeys(n, name, {"interval", "count", "size"}));
      matchers::BeaconWeights& w = o->beacon_weights;
      if (n["interval"]) {
        RETURN_IF_ERROR(ctx.GetNumber(n["interval"], name + ".interval", 0, 1, &w.interval));
      }
      if (n["count"]) RETURN_IF_ERROR(ctx.GetNumber(n["count"], name + ".count", 0, 1, &w.count));
      if (n["size"]) RETURN_IF_ERROR(ctx.GetNumber(n["size"], name + ".size", 0, 1, &w.size));
      if (w.interval + w.count <= 0) {
        return ctx.Error(n, name, "interval and count weights cannot both be 0");
      }
    }
  }
  return Status::Ok();
}

// network: sets and parameters of the network correlations; each key
// replaces the value patterns/network.yaml gives (docs/network.md lists them):
//   network: {internal: [...], no_outbound: [...],
//             drop_severity: {inbound, outbound, internal, transit},
//             beacon: {allow: [...], score, min_connections, window_secs,
//                      max_pairs, burst_secs, weights: {interval, count, size}}}
Status ParseNetwork(const Ctx& ctx, const YAML::Node& v, matchers::CorrelatorOptions* o) {
  RETURN_IF_ERROR(
      ctx.CheckKeys(v, "network", {"internal", "no_outbound", "drop_severity", "beacon"}));
  for (const auto& kv : v) {
    const std::string k = kv.first.as<std::string>();
    const std::string key = "network." + k;
    const YAML::Node& n = kv.second;
    if (k == "internal" || k == "no_outbound") {
      RETURN_IF_ERROR(GetNetworkList(ctx, n, key, &o->set_values[k]));
    } else if (k == "drop_severity") {
      RETURN_IF_ERROR(ctx.CheckKeys(n, key, {"inbound", "outbound", "internal", "transit"}));
      for (const auto& d : n) {
        const std::string dir = d.first.as<std::string>();
        std::string sev;
        RETURN_IF_ERROR(ctx.GetString(d.second, key + "." + dir, &sev));
        Severity parsed;
        if (sev != "none" && !ParseSeverity(sev, &parsed)) {
          return ctx.Error(
              d.second, key + "." + dir,
              "unknown severity '" + sev + "' (use none, info, low, medium, high or critical)");
        }
        o->drop_severity[dir] = sev;
      }
    } else if (k == "beacon") {
      RETURN_IF_ERROR(ParseBeacon(ctx, n, o));
    }
  }
  return Status::Ok();
}

// One listen: entry: a plain URI, or {uri, allow: [...], rate_limit:
// {messages_per_sec, burst}}.
Status ParseListenEntry(const Ctx& ctx, const YAML::Node& item, receiver::ListenerSpec* spec) {
  if (!item.IsMap()) return ctx.GetString(item, "listen", &spec->uri);
  RETURN_IF_ERROR(ctx.CheckKeys(item, "listen", {"uri", "allow", "rate_limit"}));
  if (!item["uri"]) return ctx.Error(item, "listen", "each listener map needs 'uri'");
  RETURN_IF_ERROR(ctx.GetString(item["uri"], "listen.uri", &spec->uri));
  if (item["allow"]) {
    std::vector<std::string> entries;
    RETURN_IF_ERROR(ctx.GetStringList(item["allow"], "listen.allow", &entries));
    auto allow = receiver::SenderAllowlist::Parse(entries);
    if (!allow.ok()) return ctx.Error(item["allow"], "listen.allow", allow.status().message());
    spec->allow = std::move(allow).value();
  }
  if (const YAML::Node rl = item["rate_limit"]) {
    RETURN_IF_ERROR(ctx.CheckKeys(rl, "listen.rate_limit", {"messages_per_sec", "burst"}));
    if (rl["messages_per_sec"]) {
      RETURN_IF_ERROR(ctx.GetNumber(rl["messages_per_sec"], "listen.rate_limit.messages_per_sec",
                                    0.001, 1e9, &spec->rate_limit.messages_per_sec));
    }
    if (rl["burst"]) {
      RETURN_IF_ERROR(
          ctx.GetNumber(rl["burst"], "listen.rate_limit.burst", 1, 1e9, &spec->rate_limit.burst));
    }
  }
  return Status::Ok();
}

Status ParseListen(const Ctx& ctx, const YAML::Node& v, Config* c) {
  if (!v.IsSequence()) return ctx.Error(v, "listen", "expected a list of listeners");
  c->listen.clear();
  for (const auto& item : v) {
    receiver::ListenerSpec spec;
    RETURN_IF_ERROR(ParseListenEntry(ctx, item, &spec));
    auto addr = receiver::ListenAddress::Parse(spec.uri);
    if (!addr.ok()) return ctx.Error(item, "listen", addr.status().message());
    spec.address = *addr;
    spec.line = yaml::LineOf(item);
    RETURN_IF_ERROR(CheckListenerNotRepeated(ctx, item, spec.address, *c));
    c->listen.push_back(std::move(spec));
  }
  return Status::Ok();
}

Status ParseArchive(const Ctx& ctx, const YAML::Node& v, Config* c) {
  RETURN_IF_ERROR(ctx.CheckKeys(
      v, "archive",
      {"dir", "sync", "sync_interval_secs", "seal", "seal_epoch_secs", "compress_after_days",
       "retention_days", "low_space", "max_hosts", "buffer_budget_bytes"}));
  RETURN_IF_ERROR(ParseArchiveKeep(ctx, v, c));
  if (v["max_hosts"]) {
    RETURN_IF_ERROR(
        ctx.GetInt(v["max_hosts"], "archive.max_hosts", 0, 1e9, &c->archive_budget.max_hosts));
  }
  if (v["buffer_budget_bytes"]) {
    RETURN_IF_ERROR(ctx.GetInt(v["buffer_budget_bytes"], "archive.buffer_budget_bytes", 1 << 20,
                               1ull << 40, &c->archive_budget.buffer_bytes));
  }
  outputs::ArchiveOptions& a = c->archive;
  if (v["dir"]) RETURN_IF_ERROR(ctx.GetString(v["dir"], "archive.dir", &a.dir));
  if (v["sync"]) {
    std::string sync;
    RETURN_IF_ERROR(ctx.GetString(v["sync"], "archive.sync", &sync));
    if (!outputs::ParseSyncPolicy(sync, &a.sync)) {
      return ctx.Error(v["sync"], "archive.sync",
                       "expected one of none, interval, batch; got '" + sync + "'");
    }
  }
  if (v["sync_interval_secs"]) {
    double secs = 0;
    RETURN_IF_ERROR(
        ctx.GetNumber(v["sync_interval_secs"], "archive.sync_interval_secs", 0.001, 3600, &secs));
    // The archive syncs in whole seconds: a fraction is rounded down, to at least 1.
    a.sync_interval_secs = std::max(1, static_cast<int>(secs));
  }
  if (a.dir.empty()) return ctx.Error(v, "archive.dir", "must not be empty");
  return Status::Ok();
}

Status ParseUdp(const Ctx& ctx, const YAML::Node& v, Config* c) {
  RETURN_IF_ERROR(ctx.CheckKeys(v, "udp", {"receive_buffer_bytes"}));
  if (v["receive_buffer_bytes"]) {
    RETURN_IF_ERROR(ctx.GetInt(v["receive_buffer_bytes"], "udp.receive_buffer_bytes", 4096, 1 << 30,
                               &c->udp.rcvbuf_bytes));
  }
  return Status::Ok();
}

Status ParseTcp(const Ctx& ctx, const YAML::Node& v, Config* c) {
  RETURN_IF_ERROR(
      ctx.CheckKeys(v, "tcp",
                    {"max_connections", "max_connections_per_source", "first_frame_timeout_secs",
                     "partial_frame_timeout_secs", "idle_timeout_secs", "keepalive_idle_secs",
                     "keepalive_interval_secs", "keepalive_count"}));
  receiver::StreamListenerOptions& s = c->stream;
  if (v["max_connections"]) {
    RETURN_IF_ERROR(
        ctx.GetInt(v["max_connections"], "tcp.max_connections", 1, 1'000'000, &s.max_connections));
  }
  if (v["max_connections_per_source"]) {
    RETURN_IF_ERROR(ctx.GetInt(v["max_connections_per_source"], "tcp.max_connections_per_source", 1,
                               1'000'000, &s.limits.max_connections_per_source));
  }
  if (v["first_frame_timeout_secs"]) {
    RETURN_IF_ERROR(ctx.GetInt(v["first_frame_timeout_secs"], "tcp.first_frame_timeout_secs", 0,
                               86400, &s.limits.first_frame_timeout_secs));
  }
  if (v["partial_frame_timeout_secs"]) {
    RETURN_IF_ERROR(ctx.GetInt(v["partial_frame_timeout_secs"], "tcp.partial_frame_timeout_secs", 0,
                               86400, &s.partial_frame_timeout_secs));
  }
  if (v["idle_timeout_secs"]) {
    RETURN_IF_ERROR(ctx.GetInt(v["idle_timeout_secs"], "tcp.idle_timeout_secs", 0, 30 * 86400,
                               &s.idle_timeout_secs));
  }
  // TCP_KEEPIDLE and TCP_KEEPINTVL take at most 32767 s, TCP_KEEPCNT 127.
  if (v["keepalive_idle_secs"]) {
    RETURN_IF_ERROR(ctx.GetInt(v["keepalive_idle_secs"], "tcp.keepalive_idle_secs", 0, 32767,
                               &s.keepalive_idle_secs));
  }
  if (v["keepalive_interval_secs"]) {
    RETURN_IF_ERROR(ctx.GetInt(v["keepalive_interval_secs"], "tcp.keepalive_interval_secs", 1,
                               32767, &s.keepalive_interval_secs));
  }
  if (v["keepalive_count"]) {
    RETURN_IF_ERROR(
        ctx.GetInt(v["keepalive_count"], "tcp.keepalive_count", 1, 127, &s.keepalive_count));
  }
  return Status::Ok();
}

Status ParseQueue(const Ctx& ctx, const YAML::Node& v, Config* c) {
  RETURN_IF_ERROR(ctx.CheckKeys(v, "queue", {"max_bytes_per_worker"}));
  if (v["max_bytes_per_worker"]) {
    RETURN_IF_ERROR(ctx.GetInt(v["max_bytes_per_worker"], "queue.max_bytes_per_worker", 1 << 16,
                               1ull << 34, &c->queue_max_bytes_per_worker));
  }
  return Status::Ok();
}

Status ParseMetrics(const Ctx& ctx, const YAML::Node& v, Config* c) {
  RETURN_IF_ERROR(ctx.CheckKeys(v, "metrics", {"listen", "max_host_series"}));
  if (v["listen"]) {
    RETURN_IF_ERROR(ctx.GetString(v["listen"], "metrics.listen", &c->metrics_listen));
    std::string host;
    uint16_t port = 0;
    if (!c->metrics_listen.empty()) {
      if (Status st = outputs::ParseListenAddress(c->metrics_listen, &host, &port); !st.ok()) {
        return ctx.Error(v["listen"], "metrics.listen", st.message());
      }
    }
  }
  if (v["max_host_series"]) {
    size_t n = 0;
    RETURN_IF_ERROR(ctx.GetInt(v["max_host_series"], "metrics.max_host_series", 0, 1'000'000, &n));
    c->heartbeat.options.max_host_metrics = n;
    c->archive_retention.max_host_series = n;
  }
  return Status::Ok();
}

Status ParseParserKeys(const Ctx& ctx, const YAML::Node& v, Config* c) {
  RETURN_IF_ERROR(ctx.CheckKeys(v, "parser", {"timezone", "timezones"}));
  if (v["timezone"]) {
    RETURN_IF_ERROR(ctx.GetString(v["timezone"], "parser.timezone", &c->parser_timezone));
    if (auto off = ResolveUtcOffsetSecs(c->parser_timezone, 0); !off.ok()) {
      return ctx.Error(v["timezone"], "parser.timezone", off.status().message());
    }
  }
  if (const YAML::Node list = v["timezones"]; list) {
    if (!list.IsSequence()) {
      return ctx.Error(list, "parser.timezones",
                       "must be a list of {hosts: [...], networks: [...], zone: ...}");
    }
    std::vector<receiver::ZoneRuleSpec> specs;
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node e = list[i];
      const std::string key = "parser.timezones[" + std::to_string(i) + "]";
      if (!e.IsMap()) return ctx.Error(e, key, "must be a map {hosts, networks, zone}");
      RETURN_IF_ERROR(ctx.CheckKeys(e, key, {"hosts", "networks", "zone"}));
      receiver::ZoneRuleSpec spec;
      if (e["hosts"]) RETURN_IF_ERROR(ctx.GetStringList(e["hosts"], key + ".hosts", &spec.hosts));
      if (e["networks"]) {
        RETURN_IF_ERROR(ctx.GetStringList(e["networks"], key + ".networks", &spec.networks));
      }
      if (e["zone"]) RETURN_IF_ERROR(ctx.GetString(e["zone"], key + ".zone", &spec.zone));
      specs.push_back(std::move(spec));
    }
    // Read every zone now: an unknown one is an error at start and on
    // SIGHUP (the running config stays), not a silent 14 h later.
    if (auto map = receiver::ZoneMap::Build(specs); !map.ok()) {
      return ctx.Error(list, "parser.timezones", map.status().message());
    }
    c->parser_timezones = std::move(specs);
  }
  return Status::Ok();
}

Status ParseTls(const Ctx& ctx, const YAML::Node& v, Config* c) {
  RETURN_IF_ERROR(ctx.CheckKeys(
      v, "tls",
      {"cert_file", "key_file", "ca_file", "mutual", "permitted_peers", "handshake_timeout_secs"}));
  receiver::TlsOptions& t = c->tls;
  if (v["cert_file"]) RETURN_IF_ERROR(ctx.GetString(v["cert_file"], "tls.cert_file", &t.cert_file));
  if (v["key_file"]) RETURN_IF_ERROR(ctx.GetString(v["key_file"], "tls.key_file", &t.key_file));
  if (v["ca_file"]) RETURN_IF_ERROR(ctx.GetString(v["ca_file"], "tls.ca_file", &t.ca_file));
  if (v["mutual"]) RETURN_IF_ERROR(ctx.GetBool(v["mutual"], "tls.mutual", &t.mutual));
  if (v["permitted_peers"]) {
    RETURN_IF_ERROR(
        ctx.GetStringList(v["permitted_peers"], "tls.permitted_peers", &t.permitted_peers));
  }
  if (v["handshake_timeout_secs"]) {
    double secs = 0;
    RETURN_IF_ERROR(
        ctx.GetNumber(v["handshake_timeout_secs"], "tls.handshake_timeout_secs", 0.1, 600, &secs));
    // The listener counts whole seconds, at least 1.
    c->stream.handshake_timeout_secs = static_cast<int>(std::max(1.0, secs));
  }
  return Status::Ok();
}

// user:, group:, chroot:: an empty value is refused rather than read as the
// key left out (which has its own meaning, `instead`).
Status GetNonEmpty(const Ctx& ctx, const YAML::Node& v, const char* key, const char* instead,
                   std::string* out) {
  RETURN_IF_ERROR(ctx.GetString(v, key, out));
  if (out->empty()) {
    return ctx.Error(v, key, std::string("empty; leave the key out to ") + instead);
  }
  return Status::Ok();
}

// The top-level keys, each with the function that reads its value.
struct RootKey {
  std::string_view key;
  Status (*parse)(const Ctx& ctx, const YAML::Node& v, Config* c);
};

const RootKey kRootKeys[] = {
    {"listen", ParseListen},
    {"user",
     [](const Ctx& ctx, const YAML::Node& v, Config* c) {
       return GetNonEmpty(ctx, v, "user",
                          "run as the user that starts konseki (as root that needs "
                          "`allow_root: true`)",
                          &c->user);
     }},
    {"group",
     [](const Ctx& ctx, const YAML::Node& v, Config* c) {
       return GetNonEmpty(ctx, v, "group", "use the primary group of `user:`", &c->group);
     }},
    {"chroot",
     [](const Ctx& ctx, const YAML::Node& v, Config* c) {
       return GetNonEmpty(ctx, v, "chroot", "run without a chroot", &c->chroot);
     }},
    {"allow_root", [](const Ctx& ctx, const YAML::Node& v,
                      Config* c) { return ctx.GetBool(v, "allow_root", &c->allow_root); }},
    {"archive", ParseArchive},
    {"alerts",
     [](const Ctx& ctx, const YAML::Node& v, Config* c) { return ParseAlerts(ctx, v, c); }},
    {"rules", [](const Ctx& ctx, const YAML::Node& v, Config* c) { return ParseRules(ctx, v, c); }},
    {"workers", [](const Ctx& ctx, const YAML::Node& v,
                   Config* c) { return ctx.GetInt(v, "workers", 0, 256, &c->workers); }},
    {"udp", ParseUdp},
    {"tcp", ParseTcp},
    {"stop_timeout_secs",
     [](const Ctx& ctx, const YAML::Node& v, Config* c) -> Status {
       double secs = 0;
       RETURN_IF_ERROR(ctx.GetNumber(v, "stop_timeout_secs", 0, 3600, &secs));
       c->stream.stop_timeout_ms = static_cast<int>(std::lround(secs * 1000));
       return Status::Ok();
     }},
    {"max_message_bytes",
     [](const Ctx& ctx, const YAML::Node& v, Config* c) -> Status {
       size_t n = 0;
       RETURN_IF_ERROR(ctx.GetInt(v, "max_message_bytes", 480, 16 << 20, &n));
       c->udp.max_message_bytes = n;
       c->stream.max_message_bytes = n;
       return Status::Ok();
     }},
    {"queue", ParseQueue},
    {"metrics", ParseMetrics},
    {"parser", ParseParserKeys},
    {"heartbeat", [](const Ctx& ctx, const YAML::Node& v,
                     Config* c) { return ParseHeartbeat(ctx, v, &c->heartbeat); }},
    {"correlation", [](const Ctx& ctx, const YAML::Node& v,
                       Config* c) { return ParseCorrelation(ctx, v, &c->correlation); }},
    {"network", [](const Ctx& ctx, const YAML::Node& v,
                   Config* c) { return ParseNetwork(ctx, v, &c->correlation.options); }},
    {"tls", ParseTls},
};

Status ParseRoot(const Ctx& ctx, const YAML::Node& root, Config* c) {
  if (root.IsNull()) return Status::Ok();  // an empty file: every default
  std::vector<std::string_view> allowed;
  for (const RootKey& r : kRootKeys) allowed.push_back(r.key);
  RETURN_IF_ERROR(ctx.CheckKeys(root, "", allowed));
  for (const auto& kv : root) {
    const std::string k = kv.first.as<std::string>();
    for (const RootKey& r : kRootKeys) {
      if (r.key == k) RETURN_IF_ERROR(r.parse(ctx, kv.second, c));
    }
  }
  return Status::Ok();
}

}  // namespace

std::string_view EmbeddedDefaultConfig() { return kDefaultConfig; }

outputs::ArchiveOptions DefaultArchiveOptions() {
  outputs::ArchiveOptions o;
  o.dir = "./var/archive";
  return o;
}

StatusOr<Config> ParseConfig(std::string_view yaml_text, std::string_view source) {
  Config c;
  Ctx ctx{std::string(source)};
  ctx.set_key_recorder([&c](const std::string& key, int line) { c.key_lines.emplace(key, line); });
  c.source = std::string(source);
  c.text = std::string(yaml_text);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(std::string(source) + ":" + std::to_string(e.mark.line + 1) +
                                   ": YAML syntax error: " + e.msg);
  }
  try {
    RETURN_IF_ERROR(ParseRoot(ctx, root, &c));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string(source) + ":" + std::to_string(e.mark.line + 1) +
                                   ": " + e.msg);
  }
  for (const receiver::ListenerSpec& spec : c.listen) {
    if (receiver::UsesTls(spec.address.transport) &&
        (c.tls.cert_file.empty() || c.tls.key_file.empty())) {
      return Status::InvalidArgument(std::string(source) + ": listener " + spec.uri +
                                     " needs tls.cert_file and tls.key_file");
    }
  }
  if (c.listen.empty()) {
    return Status::InvalidArgument(std::string(source) +
                                   ": key 'listen': at least one listener is needed, e.g. "
                                   "'listen: [udp://127.0.0.1:5514]'");
  }
  RETURN_IF_ERROR(CheckMetricsNotOnAListener(c));
  return c;
}

namespace {

// The whole file. A read error is an error: a folder given as the config
// (`check-config /etc/konseki`, or the file replaced by a folder before a
// SIGHUP) opens but reads EISDIR, which the stream read took for an empty
// file ("at least one listener is needed").
StatusOr<std::string> ReadConfigText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno("cannot read config file " + path, errno);
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Status::FromErrno("cannot read config file " + path, errno);
  if (text.empty() && std::filesystem::is_directory(path)) {
    return Status::FromErrno("cannot read config file " + path, EISDIR);
  }
  return text;
}

}  // namespace

StatusOr<Config> LoadConfigFile(const std::string& path) {
  auto text = ReadConfigText(path);
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path);
}

StatusOr<Config> LoadConsoleConfig(const std::string& path, std::string* warning) {
  warning->clear();
  auto read = ReadConfigText(path);
  if (!read.ok()) return read.status();
  const std::string text = std::move(read).value();
  auto full = ParseConfig(text, path);
  if (full.ok()) return full;
  const Status& error = full.status();
  // The key the daemon's error names: "<file>:<line>: key '<key>': ...".
  const std::string& m = error.message();
  const size_t at = m.find(": key '");
  if (at == std::string::npos) return error;
  const size_t begin = at + 7;
  const size_t end = m.find('\'', begin);
  if (end == std::string::npos) return error;
  const std::string key = m.substr(begin, end - begin);
  const bool unknown = m.find("': unknown key", at) == end;
  Config c;
  c.source = path;
  c.text = text;
  Ctx ctx{path};
  ctx.set_key_recorder([&c](const std::string& k, int line) { c.key_lines.emplace(k, line); });
  struct Needed {
    const char* section;
    const char* key;
    std::string* out;
  };
  const Needed needed[] = {{"archive", "dir", &c.archive.dir},
                           {"alerts", "file", &c.alerts_file},
                           {"heartbeat", "state_dir", &c.heartbeat.options.state_dir}};
  try {
    const YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return error;
    for (const Needed& n : needed) {
      const std::string dotted = std::string(n.section) + "." + n.key;
      if (key == n.section || key == dotted || key.starts_with(dotted + ".")) return error;
      const YAML::Node section = root[n.section];
      if (section && !section.IsMap()) return error;
      const bool given = section && section[n.key];
      if (given) {
        if (!ctx.GetString(section[n.key], dotted, n.out).ok()) return error;
        c.key_lines.emplace(dotted, yaml::LineOf(section[n.key]));
      } else if (unknown && (key.find('.') == std::string::npos ||
                             key.starts_with(std::string(n.section) + "."))) {
        return error;  // maybe this key, or its section, misspelt
      }
    }
  } catch (const YAML::Exception&) {
    return error;
  }
  *warning = m;
  return c;
}

namespace {

// The same YAML value, whatever its style (flow or block, quoting).
bool SameYaml(const YAML::Node& a, const YAML::Node& b) {
  if (a.Type() != b.Type()) return false;
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      return a.Scalar() == b.Scalar();
    case YAML::NodeType::Sequence:
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!SameYaml(a[i], b[i])) return false;
      }
      return true;
    case YAML::NodeType::Map:
      if (a.size() != b.size()) return false;
      for (const auto& kv : a) {
        const YAML::Node other = b[kv.first.Scalar()];
        if (!other || !SameYaml(kv.second, other)) return false;
      }
      return true;
    default:
      return true;  // both null or undefined
  }
}

}  // namespace

std::vector<std::string> SectionsNeedingRestart(std::string_view running, std::string_view file) {
  std::vector<std::string> changed;
  YAML::Node a, b;
  try {
    a = YAML::Load(std::string(running));
    b = YAML::Load(std::string(file));
  } catch (const YAML::Exception&) {
    return changed;  // the reload's own parse reports a broken file
  }
  if (!a.IsMap() || !b.IsMap()) return changed;
  std::set<std::string> keys;
  for (const auto& kv : a) keys.insert(kv.first.as<std::string>());
  for (const auto& kv : b) keys.insert(kv.first.as<std::string>());
  for (const std::string& key : keys) {
    if (key == "rules") continue;  // what SIGHUP applies
    const YAML::Node x = a[key], y = b[key];
    if (!x || !y ? static_cast<bool>(x) != static_cast<bool>(y) : !SameYaml(x, y)) {
      changed.push_back(key);
    }
  }
  return changed;
}

size_t WorkerThreads(const Config& c) {
  if (c.workers > 0) return c.workers;
  return UsableCpus();
}

std::string HeartbeatStateDir(const Config& c) {
  const std::string& dir = c.heartbeat.options.state_dir;
  return dir.empty() ? c.archive.dir + "/.state" : dir;
}

std::string Config::Where(std::string_view key) const {
  auto it = key_lines.find(key);
  return source + (it == key_lines.end() ? "" : ":" + std::to_string(it->second)) + ": key '" +
         std::string(key) + "'";
}

PrivilegeOptions Config::Privileges() const {
  PrivilegeOptions o;
  o.user = user;
  o.group = group;
  o.chroot_dir = chroot;
  o.allow_root = allow_root;
  o.user_where = Where("user");
  o.group_where = Where("group");
  o.chroot_where = Where("chroot");
  return o;
}

Status CheckListenPorts(const Config& config) {
  const Ctx ctx{config.source};
  for (const receiver::ListenerSpec& spec : config.listen) {
    if (spec.address.port != 0) continue;
    return ctx.Error(spec.line, "listen",
                     spec.uri +
                         ": port 0 would be a port the kernel picks at random, which senders "
                         "cannot know; give the port they send to (514, 6514, 2514...)");
  }
  return Status::Ok();
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
