#include "matchers/rule_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "matchers/correlation_loader.h"
#include "matchers/pack_yaml.h"

namespace konseki::matchers {

bool IsKnownSign(std::string_view sign) {
  return std::find(std::begin(kSigns), std::end(kSigns), sign) != std::end(kSigns);
}

using pack_yaml::CheckKeys;
using pack_yaml::KindName;
using pack_yaml::LineOf;
using pack_yaml::ReadString;
using pack_yaml::ReadStringList;
using pack_yaml::Reporter;

// New signs are welcome (local packs), but a sign inside a namespace of the
// fixed vocabulary ("ssh.auth_failures") is almost surely a typo of a fixed
// one, which would silently break alert routing: refuse it.
Status CheckSign(const std::string& sign) {
  if (IsKnownSign(sign)) return Status::Ok();
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

Status ReadExample(const Reporter& r, const YAML::Node& node, bool with_fields, RuleExample* ex) {
  ex->source_line = LineOf(node);
  if (node.IsScalar()) {
    ex->line = node.Scalar();
  } else {
    Status s = with_fields ? CheckKeys(r, node, "example", {"line", "fields"})
                           : CheckKeys(r, node, "example", {"line"});
    if (!s.ok()) return s;
    if (!node["line"]) return r.Error(LineOf(node), "line", "example has no line");
    s = ReadString(r, node["line"], "line", &ex->line);
    if (!s.ok()) return s;
    if (const YAML::Node fields = node["fields"]) {
      if (!fields.IsMap()) {
        return r.Error(LineOf(fields), "fields", "expected a mapping, found " + KindName(fields));
      }
      for (auto it = fields.begin(); it != fields.end(); ++it) {
        if (!it->first.IsScalar() || !it->second.IsScalar()) {
          return r.Error(LineOf(it->first), "fields", "field names and values must be strings");
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

Status ReadExamples(const Reporter& r, const YAML::Node& node, Rule* rule) {
  Status s = CheckKeys(r, node, "examples", {"match", "no_match"});
  if (!s.ok()) return s;
  for (const char* key : {"match", "no_match"}) {
    const YAML::Node list = node[key];
    if (!list) continue;
    if (!list.IsSequence()) {
      return r.Error(LineOf(list), key, "expected a list of examples, found " + KindName(list));
    }
    const bool is_match = std::string_view(key) == "match";
    for (const YAML::Node& item : list) {
      RuleExample ex;
      s = ReadExample(r, item, is_match, &ex);
      if (!s.ok()) return s;
      (is_match ? rule->examples_match : rule->examples_no_match).push_back(std::move(ex));
    }
  }
  if (rule->examples_match.empty()) {
    return r.Error(LineOf(node), "examples", "a rule needs at least one `match` example");
  }
  return Status::Ok();
}

Status ReadRule(const Reporter& r, const std::string& path, const YAML::Node& node, Rule* rule) {
  Status s = CheckKeys(r, node, "rule",
                       {"id", "sign", "title", "severity", "description", "program", "match",
                        "extract", "case_sensitive", "alert", "replace", "examples"});
  if (!s.ok()) return s;
  rule->file = path;
  rule->line = LineOf(node);
  for (const char* key : {"id", "sign", "title", "severity", "description", "match", "examples"}) {
    if (!node[key]) {
      return r.Error(LineOf(node), key, "missing required key in rule");
    }
  }
  rule->line = LineOf(node["id"]);
  if (!(s = ReadString(r, node["id"], "id", &rule->id)).ok()) return s;
  if (rule->id.empty() || rule->id.find_first_of(" \t\"'") != std::string::npos) {
    return r.Error(rule->line, "id", "must be non-empty without spaces or quotes");
  }
  if (!(s = ReadString(r, node["sign"], "sign", &rule->sign)).ok()) return s;
  if (Status sign = CheckSign(rule->sign); !sign.ok()) {
    return r.Error(LineOf(node["sign"]), "sign", sign.message() + " (rule " + rule->id + ")");
  }
  if (!(s = ReadString(r, node["title"], "title", &rule->title)).ok()) return s;
  std::string severity;
  if (!(s = ReadString(r, node["severity"], "severity", &severity)).ok()) return s;
  if (!ParseSeverity(severity, &rule->severity)) {
    return r.Error(LineOf(node["severity"]), "severity",
                   "unknown severity \"" + severity + "\" in rule " + rule->id +
                       " (use info, low, medium, high or critical)");
  }
  if (!(s = ReadString(r, node["description"], "description", &rule->description)).ok()) {
    return s;
  }
  if (node["program"]) {
    if (!(s = ReadString(r, node["program"], "program", &rule->program)).ok()) return s;
  }
  if (!(s = ReadStringList(r, node["match"], "match", &rule->match, &rule->match_lines)).ok()) {
    return s;
  }
  if (rule->match.empty()) return r.Error(LineOf(node["match"]), "match", "no expression");
  for (size_t i = 0; i < rule->match.size(); ++i) {
    if (rule->match[i].empty()) {
      return r.Error(rule->match_lines[i], "match", "empty expression in rule " + rule->id);
    }
  }
  if (node["extract"]) {
    if (!(s = ReadStringList(r, node["extract"], "extract", &rule->extract, nullptr)).ok()) {
      return s;
    }
  }
  if (const YAML::Node cs = node["case_sensitive"]) {
    if (!cs.IsScalar() || (cs.Scalar() != "true" && cs.Scalar() != "false")) {
      return r.Error(LineOf(cs), "case_sensitive", "expected true or false");
    }
    rule->case_sensitive = cs.Scalar() == "true";
  }
  if (const YAML::Node a = node["alert"]) {
    if (!(s = pack_yaml::ReadBool(r, a, "alert", &rule->alert)).ok()) return s;
  }
  if (const YAML::Node rep = node["replace"]) {
    if (!(s = pack_yaml::ReadBool(r, rep, "replace", &rule->replace)).ok()) return s;
  }
  return ReadExamples(r, node["examples"], rule);
}

}  // namespace

StatusOr<RulePack> LoadPackText(const std::string& text, const std::string& path) {
  Reporter r(path);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return r.Error(e.mark.line + 1, "", "YAML syntax error: " + e.msg);
  }
  RulePack pack;
  try {
    if (root.IsNull()) return r.Error(1, "", "empty rule file");
    Status s = CheckKeys(r, root, "rule file", {"pack", "rules", "correlations", "sets"});
    if (!s.ok()) return s;
    const YAML::Node list = root["rules"];
    if (!list && !root["correlations"] && !root["sets"]) {
      return r.Error(LineOf(root), "rules", "missing required key (or correlations:)");
    }
    if (list && !list.IsSequence()) {
      return r.Error(LineOf(list), "rules", "expected a list of rules, found " + KindName(list));
    }
    std::map<std::string, int> ids;
    for (const YAML::Node& node : list ? list : YAML::Node(YAML::NodeType::Sequence)) {
      Rule rule;
      s = ReadRule(r, path, node, &rule);
      if (!s.ok()) return s;
      auto [it, inserted] = ids.emplace(rule.id, rule.line);
      if (!inserted) {
        return r.Error(rule.line, "id",
                       "duplicate rule id " + rule.id + " (first defined at line " +
                           std::to_string(it->second) + ")");
      }
      pack.rules.push_back(std::move(rule));
    }
    if (const YAML::Node c = root["correlations"]) {
      s = ReadCorrelations(r, c, &pack.correlations);
      if (!s.ok()) return s;
    }
    if (const YAML::Node c = root["sets"]) {
      s = ReadSets(r, c, &pack.sets);
      if (!s.ok()) return s;
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

StatusOr<RulePack> LoadPackDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound("rule directory " + dir +
                            " does not exist (set KONSEKI_RULES_DIR or --rules-dir)");
  }
  std::vector<std::string> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
      files.push_back(e.path().string());
    }
  }
  if (ec) return Status::IoError("cannot list rule directory " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  RulePack all;
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
          rule.file + ":" + std::to_string(rule.line) + ": id: duplicate rule id " + rule.id +
          " (first defined at " + it->second.first + ":" + std::to_string(it->second.second) + ")");
    }
  }
  if (all.rules.empty()) {
    return Status::NotFound("no rules in " + dir + " (expected *.yaml rule packs)");
  }
  if (Status s = CheckCorrelations(all); !s.ok()) return s;
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
