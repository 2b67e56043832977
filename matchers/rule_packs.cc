#include "matchers/rule_packs.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "common/yaml_reader.h"
#include "matchers/rule_loader.h"

namespace konseki::matchers {
namespace {

std::string At(const Rule& r) { return r.file + ":" + std::to_string(r.line); }

// The site's folder may be empty (created for later); it must exist. The
// result holds rules and skipped_files only.
StatusOr<RulePack> LoadLocalDir(const RuleOverrides& o) {
  std::error_code ec;
  if (!std::filesystem::is_directory(o.local_dir, ec)) {
    return Status::NotFound(o.local_dir_where + ": folder " + o.local_dir + " does not exist");
  }
  std::vector<std::string> files;
  RulePack out;
  if (Status st = ListPackFiles(o.local_dir, &files, &out.skipped_files); !st.ok()) {
    return Status::IoError(o.local_dir_where + ": " + st.message());
  }
  if (files.empty()) return out;
  StatusOr<RulePack> pack = LoadPackDir(o.local_dir);
  if (!pack.ok()) return pack.status();
  if (!pack->correlations.empty()) {
    const Correlation& c = pack->correlations.front();
    return Status::InvalidArgument(c.file + ":" + std::to_string(c.line) + ": correlation " + c.id +
                                   ": site packs (rules.local_dir) hold rules only; " +
                                   "tune a bundled correlation in the config (correlation:)");
  }
  out.rules = std::move(pack->rules);
  return out;
}

Status Merge(std::vector<Rule>* bundled, std::vector<Rule> local) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < bundled->size(); ++i) {
    const Rule& r = (*bundled)[i];
    if (r.replace) {
      return Status::InvalidArgument(yaml::Where(r.file, r.line, "replace") +
                                     ": only a site pack (rules.local_dir) " +
                                     "may replace a rule; rule " + r.id + " is bundled");
    }
    index.emplace(r.id, i);
  }
  for (Rule& r : local) {
    auto it = index.find(r.id);
    if (it == index.end()) {
      if (r.replace) {
        return Status::InvalidArgument(yaml::Where(r.file, r.line, "replace") +
                                       ": no bundled rule has id " + r.id +
                                       "; drop `replace: true` or fix the id");
      }
      bundled->push_back(std::move(r));
      continue;
    }
    Rule& old = (*bundled)[it->second];
    if (!r.replace) {
      return Status::InvalidArgument(
          yaml::Where(r.file, r.line, "id") + ": rule id " + r.id + " is a bundled rule (" +
          At(old) + "); set `replace: true` to replace it, or give your rule an id of its own");
    }
    old = std::move(r);
  }
  return Status::Ok();
}

Status UnknownId(const std::string& where, const std::string& id, const std::string& dir,
                 const RuleOverrides& o) {
  return Status::InvalidArgument(where + ": no rule has id '" + id + "' (rules loaded from " + dir +
                                 (o.local_dir.empty() ? "" : " and " + o.local_dir) +
                                 "; `konseki test-rules --summary` lists them)");
}

Status ApplyOverrides(const std::string& dir, const RuleOverrides& o, RulePack* pack) {
  std::map<std::string, Severity*> severity_of;
  for (Rule& r : pack->rules) severity_of.emplace(r.id, &r.severity);
  for (Correlation& c : pack->correlations) severity_of.emplace(c.id, &c.severity);
  std::set<std::string> disabled;
  for (const RuleIdRef& d : o.disable) {
    if (!severity_of.count(d.id)) return UnknownId(d.where, d.id, dir, o);
    disabled.insert(d.id);
  }
  for (const SeverityOverride& s : o.severity) {
    auto it = severity_of.find(s.id);
    if (it == severity_of.end()) return UnknownId(s.where, s.id, dir, o);
    if (disabled.count(s.id)) {
      return Status::InvalidArgument(s.where + ": rule " + s.id +
                                     " is also in rules.disable; keep one of the two");
    }
    *it->second = s.severity;
  }
  auto off = [&](const auto& x) { return disabled.count(x.id) > 0; };
  pack->rules.erase(std::remove_if(pack->rules.begin(), pack->rules.end(), off), pack->rules.end());
  // A rule whose alert waited for a disabled rule's line (answered_by by id,
  // or a sign only disabled rules had) no longer waits for it; with no
  // answer left it alerts at once, as written.
  if (!disabled.empty()) {
    std::set<std::string> names;
    for (const Rule& r : pack->rules) {
      names.insert(r.id);
      names.insert(r.sign);
    }
    for (Rule& r : pack->rules) {
      if (r.answered_by.empty()) continue;
      std::erase_if(r.answered_by,
                    [&](const std::string& n) { return !IsKnownSign(n) && !names.count(n); });
      if (r.answered_by.empty()) {
        r.pending_secs = 0;
        r.answered_severity.reset();
        r.answer_key.clear();
      }
    }
  }
  pack->correlations.erase(
      std::remove_if(pack->correlations.begin(), pack->correlations.end(), off),
      pack->correlations.end());
  return Status::Ok();
}

}  // namespace

StatusOr<RulePack> LoadRulePackSet(const std::string& dir, const RuleOverrides& o) {
  StatusOr<RulePack> pack = LoadPackDir(dir);
  if (!pack.ok()) return pack.status();
  if (!o.local_dir.empty()) {
    StatusOr<RulePack> local = LoadLocalDir(o);
    if (!local.ok()) return local.status();
    for (std::string& f : local->skipped_files) pack->skipped_files.push_back(std::move(f));
    if (Status s = Merge(&pack->rules, std::move(local->rules)); !s.ok()) return s;
  }
  if (Status s = ApplyOverrides(dir, o, &*pack); !s.ok()) return s;
  return pack;
}

StatusOr<std::vector<Rule>> LoadRulePacks(const std::string& dir, const RuleOverrides& o) {
  StatusOr<RulePack> pack = LoadRulePackSet(dir, o);
  if (!pack.ok()) return pack.status();
  return std::move(pack->rules);
}

StatusOr<std::shared_ptr<const RuleSet>> CompileRulePacks(const std::string& dir,
                                                          const RuleOverrides& o, HsCache* cache) {
  StatusOr<AlertIgnore> ignore = AlertIgnore::Create(o.ignore_sources, o.ignore_users);
  if (!ignore.ok()) return Status::InvalidArgument("rules.ignore: " + ignore.status().message());
  StatusOr<std::vector<Rule>> rules = LoadRulePacks(dir, o);
  if (!rules.ok()) return rules.status();
  return RuleSet::Compile(std::move(rules).value(), std::move(ignore).value(),
                          HsCompileIn::kThisProcess, cache);
}

}  // namespace konseki::matchers
