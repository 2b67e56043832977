#include "matchers/rule_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/yaml_reader.h"
#include "matchers/correlation_loader.h"

namespace konseki::matchers {

bool IsKnownSign(std::string_view sign) {
  return std::find(std::begin(kSigns), std::end(kSigns), sign) != std::end(kSigns);
}

// New signs are welcome (local packs), but a sign inside a namespace of the
// fixed vocabulary ("ssh.auth_failures") is almost surely a typo of a fixed
// one, which would silently break alert routing: refuse it.
namespace {

Status CheckSignShape(const std::string& sign) {
  bool well_formed = !sign.empty() && sign.front() != '.' && sign.back() != '.';
  for (char c : sign) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) {
      well_formed = false;
    }
  }
  if (!well_formed) {
    return Status::InvalidArgument("sign \"" + sign +
                                   "\" must be lower-case words joined by dots, e.g. local.canary");
  }
  return Status::Ok();
}

}  // namespace

Status CheckSign(const std::string& sign) {
  if (IsKnownSign(sign)) return Status::Ok();
  RETURN_IF_ERROR(CheckSignShape(sign));
  std::string_view ns = std::string_view(sign).substr(0, sign.find('.'));
  std::string known;
  bool clash = false;
  for (std::string_view k : kSigns) {
    known += (known.empty() ? "" : ", ") + std::string(k);
    if (k.substr(0, k.find('.')) == ns) clash = true;
  }
  if (clash) {
    return Status::InvalidArgument("unknown sign \"" + sign + "\" in the fixed namespace \"" +
                                   std::string(ns) + "\" (fixed signs: " + known +
                                   "); use one of them or a namespace of your own");
  }
  return Status::Ok();
}

namespace {

Status ReadExample(const yaml::Reader& r, const YAML::Node& node, bool with_fields,
                   RuleExample* ex) {
  ex->source_line = yaml::LineOf(node);
  if (node.IsScalar()) {
    ex->line = node.Scalar();
  } else {
    RETURN_IF_ERROR(with_fields ? r.CheckKeys(node, "", {"line", "fields"}, "example")
                                : r.CheckKeys(node, "", {"line"}, "example"));
    if (!node["line"]) return r.Error(node, "line", "example has no line");
    RETURN_IF_ERROR(r.GetString(node["line"], "line", &ex->line));
    if (const YAML::Node fields = node["fields"]) {
      if (!fields.IsMap()) {
        return r.Error(fields, "fields", "expected a mapping, found " + yaml::KindName(fields));
      }
      for (auto it = fields.begin(); it != fields.end(); ++it) {
        if (!it->first.IsScalar() || !it->second.IsScalar()) {
          return r.Error(it->first, "fields", "field names and values must be strings");
        }
        ex->fields.emplace_back(it->first.Scalar(), it->second.Scalar());
      }
    }
  }
  if (ex->line.empty()) return r.Error(ex->source_line, "line", "example line is empty");
  if (ex->line.find('\n') != std::string::npos) {
    return r.Error(ex->source_line, "line", "example line must be a single line");
  }
  return Status::Ok();
}

Status ReadExamples(const yaml::Reader& r, const YAML::Node& node, Rule* rule) {
  RETURN_IF_ERROR(r.CheckKeys(node, "", {"match", "no_match"}, "examples"));
  for (const char* key : {"match", "no_match"}) {
    const YAML::Node list = node[key];
    if (!list) continue;
    if (!list.IsSequence()) {
      return r.Error(list, key, "expected a list of examples, found " + yaml::KindName(list));
    }
    const bool is_match = std::string_view(key) == "match";
    for (const YAML::Node& item : list) {
      RuleExample ex;
      RETURN_IF_ERROR(ReadExample(r, item, is_match, &ex));
      (is_match ? rule->examples_match : rule->examples_no_match).push_back(std::move(ex));
    }
  }
  if (rule->examples_match.empty()) {
    return r.Error(node, "examples", "a rule needs at least one `match` example");
  }
  return Status::Ok();
}

// Whether a hit of the rule can carry `name`: a named group of one of its
// extract expressions, a field its recall adds, or the line's program or
// pid (matchers/rule_set.h HitKeyValue).
bool RuleCanCarry(const Rule& rule, const std::string& name) {
  if (name == "program" || name == "pid") return true;
  if (std::find(rule.recall.fields.begin(), rule.recall.fields.end(), name) !=
      rule.recall.fields.end()) {
    return true;
  }
  const std::string group = "(?P<" + name + ">";
  for (const std::string& e : rule.extract) {
    if (e.find(group) != std::string::npos) return true;
  }
  return false;
}

// The true/false keys of a rule.
const std::pair<const char*, bool Rule::*> kRuleFlags[] = {
    {"case_sensitive", &Rule::case_sensitive},
    {"alert", &Rule::alert},
    {"extract_all", &Rule::extract_all},
    {"replace", &Rule::replace},
    {"heartbeat_stop", &Rule::heartbeat_stop},
    {"heartbeat_shutdown", &Rule::heartbeat_shutdown},
    {"heartbeat_suspend", &Rule::heartbeat_suspend},
    {"heartbeat_boot", &Rule::heartbeat_boot},
    {"empty_message", &Rule::empty_message},
};

// A rule's `remember:` or `recall:` (matchers/field_carry.h): {name, key,
// fields} and, to remember, `secs`.
Status ReadCarry(const yaml::Reader& r, const YAML::Node& node, const char* what,
                 const std::string& id, Rule::Carry* carry) {
  const bool remember = std::string_view(what) == "remember";
  const std::string prefix = what;
  if (!node.IsMap()) {
    return r.Error(node, what,
                   "expected a mapping {name, key, fields" + std::string(remember ? ", secs" : "") +
                       "} (rule " + id + ")");
  }
  if (remember) {
    RETURN_IF_ERROR(r.CheckKeys(node, prefix, {"name", "key", "fields", "secs"}, "rule"));
  } else {
    RETURN_IF_ERROR(r.CheckKeys(node, prefix, {"name", "key", "fields"}, "rule"));
  }
  for (const char* key : {"name", "key", "fields"}) {
    if (!node[key]) return r.Error(node, prefix + "." + key, "missing (rule " + id + ")");
  }
  RETURN_IF_ERROR(r.GetString(node["name"], prefix + ".name", &carry->name));
  if (carry->name.empty() || carry->name.find_first_of(" \t\x1f") != std::string::npos) {
    return r.Error(node["name"], prefix + ".name", "a name without spaces (rule " + id + ")");
  }
  RETURN_IF_ERROR(r.GetStringOrList(node["key"], prefix + ".key", &carry->key, nullptr));
  RETURN_IF_ERROR(r.GetStringOrList(node["fields"], prefix + ".fields", &carry->fields, nullptr));
  // An empty key is the host alone: a boot-time line that no field ties
  // to the lines after it (cloud-init's stage, then useradd).
  if (carry->fields.empty()) {
    return r.Error(node, prefix + ".fields", "names no field (rule " + id + ")");
  }
  for (const std::string& f : carry->fields) {
    if (std::find(carry->key.begin(), carry->key.end(), f) != carry->key.end() || f.empty()) {
      return r.Error(node["fields"], prefix + ".fields",
                     "\"" + f + "\" is empty or also in key (rule " + id + ")");
    }
  }
  if (remember) {
    carry->secs = 600;
    if (node["secs"]) {
      RETURN_IF_ERROR(r.GetInt(node["secs"], prefix + ".secs", 1, 86400, &carry->secs));
    }
  }
  return Status::Ok();
}

Status ReadRule(const yaml::Reader& r, const std::string& path, const YAML::Node& node,
                Rule* rule) {
  RETURN_IF_ERROR(r.CheckKeys(node, "",
                              {"id",
                               "sign",
                               "title",
                               "severity",
                               "description",
                               "program",
                               "program_except",
                               "pid",
                               "text",
                               "empty_message",
                               "match",
                               "prefilter",
                               "extract",
                               "extract_all",
                               "unless",
                               "case_sensitive",
                               "alert",
                               "replace",
                               "heartbeat_stop",
                               "heartbeat_shutdown",
                               "heartbeat_suspend",
                               "heartbeat_boot",
                               "quiet_secs",
                               "quiet_key",
                               "quiet_after",
                               "pending_secs",
                               "dedupe_secs",
                               "answered_by",
                               "answered_severity",
                               "answer_key",
                               "own_downtime_severity",
                               "remember",
                               "recall",
                               "examples"},
                              "rule"));
  rule->file = path;
  rule->line = yaml::LineOf(node);
  for (const char* key : {"id", "sign", "title", "severity", "description", "match", "examples"}) {
    if (!node[key]) {
      return r.Error(node, key, "missing required key in rule");
    }
  }
  rule->line = yaml::LineOf(node["id"]);
  RETURN_IF_ERROR(r.GetString(node["id"], "id", &rule->id));
  if (rule->id.empty() || rule->id.find_first_of(" \t\"'") != std::string::npos) {
    return r.Error(rule->line, "id", "must be non-empty without spaces or quotes");
  }
  RETURN_IF_ERROR(r.GetString(node["sign"], "sign", &rule->sign));
  if (Status sign = CheckSign(rule->sign); !sign.ok()) {
    return r.Error(node["sign"], "sign", sign.message() + " (rule " + rule->id + ")");
  }
  RETURN_IF_ERROR(r.GetString(node["title"], "title", &rule->title));
  std::string severity;
  RETURN_IF_ERROR(r.GetString(node["severity"], "severity", &severity));
  if (!ParseSeverity(severity, &rule->severity)) {
    return r.Error(node["severity"], "severity",
                   "unknown severity \"" + severity + "\" in rule " + rule->id +
                       " (use info, low, medium, high or critical)");
  }
  RETURN_IF_ERROR(r.GetString(node["description"], "description", &rule->description));
  if (node["program"]) {
    RETURN_IF_ERROR(r.GetString(node["program"], "program", &rule->program));
  }
  if (node["pid"]) {
    RETURN_IF_ERROR(r.GetString(node["pid"], "pid", &rule->pid));
    if (rule->pid.empty() || rule->pid.size() > 10 ||
        rule->pid.find_first_not_of("0123456789") != std::string::npos) {
      return r.Error(node["pid"], "pid",
                     "a process id in digits, not \"" + rule->pid + "\" (rule " + rule->id + ")");
    }
  }
  if (node["quiet_secs"]) {
    RETURN_IF_ERROR(r.GetInt(node["quiet_secs"], "quiet_secs", 0, 86400, &rule->quiet_secs));
  }
  if (node["quiet_key"]) {
    if (!node["quiet_secs"]) {
      return r.Error(node["quiet_key"], "quiet_key", "needs quiet_secs (rule " + rule->id + ")");
    }
    RETURN_IF_ERROR(r.GetStringOrList(node["quiet_key"], "quiet_key", &rule->quiet_key, nullptr));
  }
  if (node["quiet_after"]) {
    if (!node["quiet_secs"]) {
      return r.Error(node["quiet_after"], "quiet_after",
                     "needs quiet_secs (rule " + rule->id + ")");
    }
    RETURN_IF_ERROR(
        r.GetStringOrList(node["quiet_after"], "quiet_after", &rule->quiet_after, nullptr));
    for (const std::string& sign : rule->quiet_after) {
      if (Status st = CheckSign(sign); !st.ok() || sign == rule->sign) {
        return r.Error(
            node["quiet_after"], "quiet_after",
            (st.ok() ? "names the rule's own sign" : st.message()) + " (rule " + rule->id + ")");
      }
    }
  }
  if (node["dedupe_secs"]) {
    RETURN_IF_ERROR(r.GetInt(node["dedupe_secs"], "dedupe_secs", 1, 3600, &rule->dedupe_secs));
  }
  if (node["pending_secs"] || node["answered_by"] || node["answered_severity"] ||
      node["answer_key"]) {
    if (!node["pending_secs"] || !node["answered_by"]) {
      return r.Error(node, node["pending_secs"] ? "answered_by" : "pending_secs",
                     "pending_secs and answered_by go together (rule " + rule->id + ")");
    }
    RETURN_IF_ERROR(r.GetInt(node["pending_secs"], "pending_secs", 1, 3600, &rule->pending_secs));
    RETURN_IF_ERROR(
        r.GetStringOrList(node["answered_by"], "answered_by", &rule->answered_by, nullptr));
    if (rule->answered_by.empty()) {
      return r.Error(node["answered_by"], "answered_by", "no sign (rule " + rule->id + ")");
    }
    // A sign, or a rule's id (lower-case words joined by dots, in any
    // namespace: `sudo.firewall_off` is a rule of the fixed namespace
    // "sudo"); RuleSet::Compile checks that some rule has it, which
    // catches a typo of a fixed sign too.
    for (const std::string& sign : rule->answered_by) {
      if (Status st = CheckSignShape(sign); !st.ok() || sign == rule->sign || sign == rule->id) {
        return r.Error(node["answered_by"], "answered_by",
                       (st.ok() ? "names the rule's own sign or id" : st.message()) + " (rule " +
                           rule->id + ")");
      }
    }
    if (node["answer_key"]) {
      RETURN_IF_ERROR(
          r.GetStringOrList(node["answer_key"], "answer_key", &rule->answer_key, nullptr));
      for (const std::string& f : rule->answer_key) {
        if (f.empty() || std::count(rule->answer_key.begin(), rule->answer_key.end(), f) > 1) {
          return r.Error(node["answer_key"], "answer_key",
                         "\"" + f + "\": a field name, once (rule " + rule->id + ")");
        }
      }
    }
    if (node["answered_severity"]) {
      std::string answered;
      RETURN_IF_ERROR(r.GetString(node["answered_severity"], "answered_severity", &answered));
      if (answered != "none") {
        Severity severity = Severity::kLow;
        if (!ParseSeverity(answered, &severity) || severity > rule->severity) {
          return r.Error(node["answered_severity"], "answered_severity",
                         "\"" + answered +
                             "\": use none or a severity no higher than the rule's (rule " +
                             rule->id + ")");
        }
        rule->answered_severity = severity;
      }
    }
  }
  if (node["own_downtime_severity"]) {
    std::string lowered;
    RETURN_IF_ERROR(r.GetString(node["own_downtime_severity"], "own_downtime_severity", &lowered));
    Severity severity = Severity::kLow;
    if (!ParseSeverity(lowered, &severity) || severity >= rule->severity) {
      return r.Error(
          node["own_downtime_severity"], "own_downtime_severity",
          "\"" + lowered + "\": use a severity lower than the rule's (rule " + rule->id + ")");
    }
    rule->own_downtime_severity = severity;
  }
  for (const char* key : {"remember", "recall"}) {
    if (const YAML::Node n = node[key]) {
      RETURN_IF_ERROR(
          ReadCarry(r, n, key, rule->id, key[2] == 'm' ? &rule->remember : &rule->recall));
    }
  }
  if (node["program_except"]) {
    RETURN_IF_ERROR(r.GetStringOrList(node["program_except"], "program_except",
                                      &rule->program_except, nullptr));
    for (std::string& name : rule->program_except) {
      if (name.empty() || name.find_first_of("/ \t") != std::string::npos) {
        return r.Error(
            node["program_except"], "program_except",
            "a program name without '/' or spaces, not \"" + name + "\" (rule " + rule->id + ")");
      }
      for (char& c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
      }
    }
  }
  if (node["text"]) {
    std::string text;
    RETURN_IF_ERROR(r.GetString(node["text"], "text", &text));
    if (text == "message") {
      rule->text = Rule::Text::kMessage;
    } else if (text == "structured_data") {
      rule->text = Rule::Text::kStructuredData;
    } else {
      return r.Error(
          node["text"], "text",
          "\"" + text + "\": use message (the default) or structured_data (rule " + rule->id + ")");
    }
  }
  RETURN_IF_ERROR(r.GetStringOrList(node["match"], "match", &rule->match, &rule->match_lines));
  if (rule->match.empty()) return r.Error(node["match"], "match", "no expression");
  for (size_t i = 0; i < rule->match.size(); ++i) {
    if (rule->match[i].empty()) {
      return r.Error(rule->match_lines[i], "match", "empty expression in rule " + rule->id);
    }
  }
  if (node["prefilter"]) {
    RETURN_IF_ERROR(r.GetStringOrList(node["prefilter"], "prefilter", &rule->prefilter,
                                      &rule->prefilter_lines));
    if (rule->prefilter.empty()) return r.Error(node["prefilter"], "prefilter", "no expression");
    for (size_t i = 0; i < rule->prefilter.size(); ++i) {
      if (rule->prefilter[i].empty()) {
        return r.Error(rule->prefilter_lines[i], "prefilter",
                       "empty expression in rule " + rule->id);
      }
    }
  }
  if (node["extract"]) {
    RETURN_IF_ERROR(r.GetStringOrList(node["extract"], "extract", &rule->extract, nullptr));
  }
  if (node["unless"]) {
    rule->unless_line = yaml::LineOf(node["unless"]);
    RETURN_IF_ERROR(r.GetString(node["unless"], "unless", &rule->unless));
    if (rule->unless.empty()) {
      return r.Error(node["unless"], "unless", "empty expression in rule " + rule->id);
    }
  }
  // A line of the syslog.stopped sign tells the heartbeat why a host went
  // quiet, unless the rule says otherwise.
  rule->heartbeat_stop = rule->sign == "syslog.stopped";
  // A system.shutdown line tells it the silence is planned.
  rule->heartbeat_shutdown = rule->sign == "system.shutdown";
  // A system.suspend line tells it the host is going to sleep.
  rule->heartbeat_suspend = rule->sign == "system.suspend";
  // A system.boot, syslog.started or system.resume line tells it the host
  // is back.
  rule->heartbeat_boot = rule->sign == "system.boot" || rule->sign == "syslog.started" ||
                         rule->sign == "system.resume";
  for (const auto& [key, flag] : kRuleFlags) {
    if (const YAML::Node n = node[key]) RETURN_IF_ERROR(r.GetBool(n, key, &(rule->*flag)));
  }
  if (rule->pending_secs > 0 && !rule->alert) {
    return r.Error(node["pending_secs"], "pending_secs",
                   "an input rule (alert: false) raises no alert to wait (rule " + rule->id + ")");
  }
  // A hold key names what a hit can carry: a line without one of its
  // fields is never held, so `quiet_key: host` (the host is always in the
  // hold's key) silently turned the hold off.
  for (const std::string& name : rule->quiet_key) {
    if (!RuleCanCarry(*rule, name)) {
      return r.Error(node["quiet_key"], "quiet_key",
                     "\"" + name + "\" is not a field of rule " + rule->id +
                         " (an extract group, a recalled field, program or pid; the host is "
                         "always part of the hold)");
    }
  }
  return ReadExamples(r, node["examples"], rule);
}

}  // namespace

StatusOr<RulePack> LoadPackText(const std::string& text, const std::string& path) {
  yaml::Reader r(path);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return r.Error(e.mark.line + 1, "", "YAML syntax error: " + e.msg);
  }
  RulePack pack;
  try {
    if (root.IsNull()) return r.Error(1, "", "empty rule file");
    RETURN_IF_ERROR(r.CheckKeys(root, "", {"pack", "rules", "correlations", "sets"}, "rule file"));
    const YAML::Node list = root["rules"];
    if (!list && !root["correlations"] && !root["sets"]) {
      return r.Error(root, "rules", "missing required key (or correlations:)");
    }
    if (list && !list.IsSequence()) {
      return r.Error(list, "rules", "expected a list of rules, found " + yaml::KindName(list));
    }
    std::map<std::string, int> ids;
    for (const YAML::Node& node : list ? list : YAML::Node(YAML::NodeType::Sequence)) {
      Rule rule;
      RETURN_IF_ERROR(ReadRule(r, path, node, &rule));
      auto [it, inserted] = ids.emplace(rule.id, rule.line);
      if (!inserted) {
        return r.Error(rule.line, "id",
                       "duplicate rule id " + rule.id + " (first defined at line " +
                           std::to_string(it->second) + ")");
      }
      pack.rules.push_back(std::move(rule));
    }
    if (const YAML::Node c = root["correlations"]) {
      RETURN_IF_ERROR(ReadCorrelations(r, c, &pack.correlations));
    }
    if (const YAML::Node c = root["sets"]) {
      RETURN_IF_ERROR(ReadSets(r, c, &pack.sets));
    }
  } catch (const YAML::Exception& e) {
    // Conversions above are guarded by type checks; this is a safety net.
    return r.Error(e.mark.line + 1, "", e.msg);
  }
  return pack;
}

StatusOr<std::vector<Rule>> LoadRuleText(const std::string& text, const std::string& path) {
  StatusOr<RulePack> pack = LoadPackText(text, path);
  if (!pack.ok()) return pack.status();
  return std::move(pack->rules);
}

StatusOr<RulePack> LoadPackFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno("cannot open rule file " + path, errno);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::FromErrno("cannot read rule file " + path, errno);
  return LoadPackText(buf.str(), path);
}

StatusOr<std::vector<Rule>> LoadRuleFile(const std::string& path) {
  StatusOr<RulePack> pack = LoadPackFile(path);
  if (!pack.ok()) return pack.status();
  return std::move(pack->rules);
}

namespace {

// What a pack-named entry that is not a regular file is, for the log.
std::string NonRegularKind(const std::filesystem::path& p) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status link = fs::symlink_status(p, ec);
  const fs::file_status target = fs::status(p, ec);
  auto name = [](fs::file_type t) -> std::string {
    switch (t) {
      case fs::file_type::fifo:
        return "a FIFO";
      case fs::file_type::character:
        return "a character device";
      case fs::file_type::block:
        return "a block device";
      case fs::file_type::socket:
        return "a socket";
      case fs::file_type::directory:
        return "a folder";
      case fs::file_type::not_found:
        return "nothing";
      default:
        return "not a regular file";
    }
  };
  if (fs::is_symlink(link)) return "a symlink to " + name(target.type());
  return name(link.type());
}

}  // namespace

Status ListPackFiles(const std::string& dir, std::vector<std::string>* files,
                     std::vector<std::string>* skipped) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (ext != ".yaml" && ext != ".yml") continue;
    std::error_code type_ec;
    if (e.is_regular_file(type_ec)) {
      files->push_back(e.path().string());
    } else {
      skipped->push_back(e.path().string() + " (" + NonRegularKind(e.path()) + ")");
    }
  }
  if (ec) return Status::IoError("cannot list rule directory " + dir + ": " + ec.message());
  std::sort(files->begin(), files->end());
  std::sort(skipped->begin(), skipped->end());
  return Status::Ok();
}

StatusOr<RulePack> LoadPackDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound("rule directory " + dir +
                            " does not exist (set KONSEKI_RULES_DIR or --rules-dir)");
  }
  std::vector<std::string> files;
  std::vector<std::string> skipped;
  if (Status st = ListPackFiles(dir, &files, &skipped); !st.ok()) return st;
  RulePack all;
  all.skipped_files = std::move(skipped);
  for (const std::string& f : files) {
    StatusOr<RulePack> pack = LoadPackFile(f);
    if (!pack.ok()) return pack.status();
    for (Rule& rule : pack->rules) all.rules.push_back(std::move(rule));
    for (Correlation& c : pack->correlations) all.correlations.push_back(std::move(c));
    for (ValueSet& v : pack->sets) all.sets.push_back(std::move(v));
  }
  std::map<std::string, std::pair<std::string, int>> ids;
  for (const Rule& rule : all.rules) {
    auto [it, inserted] = ids.emplace(rule.id, std::make_pair(rule.file, rule.line));
    if (!inserted) {
      return Status::InvalidArgument(
          yaml::Where(rule.file, rule.line, "id") + ": duplicate rule id " + rule.id +
          " (first defined at " + it->second.first + ":" + std::to_string(it->second.second) + ")");
    }
  }
  if (all.rules.empty()) {
    std::string why;
    for (const std::string& f : all.skipped_files) {
      why += (why.empty() ? "; not regular files, skipped: " : ", ") + f;
    }
    return Status::NotFound("no rules in " + dir + " (expected *.yaml rule packs" + why + ")");
  }
  RETURN_IF_ERROR(CheckCorrelations(all));
  return all;
}

StatusOr<std::vector<Rule>> LoadRuleDir(const std::string& dir) {
  StatusOr<RulePack> pack = LoadPackDir(dir);
  if (!pack.ok()) return pack.status();
  return std::move(pack->rules);
}

std::string DefaultRulesDir() {
  if (const char* env = std::getenv("KONSEKI_RULES_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef KONSEKI_PATTERNS_SOURCE_DIR
  std::error_code ec;
  if (std::filesystem::is_directory(KONSEKI_PATTERNS_SOURCE_DIR, ec)) {
    return KONSEKI_PATTERNS_SOURCE_DIR;
  }
#endif
  return "/usr/share/konseki/patterns";
}

}  // namespace konseki::matchers
