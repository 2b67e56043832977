// The live rule set as a site runs it: the bundled packs, then the site's
// own packs (rules.local_dir), then the site's overrides (rules.disable,
// rules.severity, rules.ignore), all from the `rules:` section of the main
// config. The bundled packs are never edited: a package upgrade replaces
// them, and the site's changes stay in /etc.
//
//   RuleOverrides o;              // filled from the config (app/config.cc)
//   auto set = LoadRulePacks(DefaultRulesDir(), o);
//
// A site rule may not reuse a bundled rule's id unless it says
// `replace: true`: then it takes the bundled rule's place (a site that
// widens a bundled rule keeps its id, so alert routing and dashboards keyed
// on it go on working). `replace: true` on an id no bundled rule has is an
// error too (a typo would otherwise add a rule the admin thinks replaces
// one), and so is `replace` in a bundled pack. To drop a bundled rule and
// write a different one, disable it and give the new rule an id of its own.
#ifndef KONSEKI_MATCHERS_RULE_PACKS_H_
#define KONSEKI_MATCHERS_RULE_PACKS_H_

#include <memory>
#include <string>
#include <vector>

#include "common/alert.h"
#include "common/status.h"
#include "matchers/rule.h"
#include "matchers/rule_loader.h"
#include "matchers/rule_set.h"

namespace konseki::matchers {

// One rule id named by the config, with where it was written
// ("konseki.yaml:12: key 'rules.disable'") for errors.
struct RuleIdRef {
  std::string id;
  std::string where;
};

struct SeverityOverride {
  std::string id;
  Severity severity = Severity::kMedium;
  std::string where;
};

// The site's part of the `rules:` section. Defaults change nothing.
struct RuleOverrides {
  // Folder of site packs (*.yaml, the bundled packs' schema), loaded after
  // the bundled ones. Empty: none. May hold no pack yet.
  std::string local_dir;
  std::string local_dir_where;  // for errors about the folder
  // Rules left out of the set (so they cost nothing either).
  std::vector<RuleIdRef> disable;
  // New severity for these rules' alerts.
  std::vector<SeverityOverride> severity;
  // Hits with this src_ip (CIDRs) or user raise no alert but are counted
  // (matchers/alert_ignore.h). Checked by the config parser already.
  std::vector<std::string> ignore_sources;
  std::vector<std::string> ignore_users;
};

// Loads the packs of `dir` (rules, correlations and sets) and the rules of
// overrides.local_dir, merges them and applies disable and severity (to
// rules and to correlations). Site packs hold rules only: a correlation in
// one is an error (its inputs would be checked against the site's rules
// alone). A disabled rule that feeds a correlation just feeds it nothing.
StatusOr<RulePack> LoadRulePackSet(const std::string& dir, const RuleOverrides& overrides);

// LoadRulePackSet's rules. The packs of `dir` and of overrides.local_dir, merged,
// with disable and severity applied. An id in disable or severity that no loaded
// rule has is an error naming where it was written; so is an id given in
// both disable and severity (the severity would be a dead letter).
StatusOr<std::vector<Rule>> LoadRulePacks(const std::string& dir, const RuleOverrides& overrides);

// LoadRulePacks, then RuleSet::Compile with the ignore list (in this
// process; through `cache` when given, hs_compile.h HsCache).
StatusOr<std::shared_ptr<const RuleSet>> CompileRulePacks(const std::string& dir,
                                                          const RuleOverrides& overrides,
                                                          HsCache* cache = nullptr);

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_RULE_PACKS_H_
