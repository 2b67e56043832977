// Loading rule packs (patterns/*.yaml) into Rule values.
//
// File format (every key below is the complete set; any other key is an error):
//
//   pack: sshd                 # optional, a name for humans
//   rules:
//     - id: sshd.failed_password
//       sign: ssh.auth_failure   # one of kSigns (matchers/rule.h)
//       title: SSH password or key rejected
//       severity: medium         # info | low | medium | high | critical
//       description: what it means and what to check next
//       program: sshd|sshd-session   # optional, anchored, caseless
//       match: 'Failed \S+ for '     # string or list of strings (Hyperscan)
//       prefilter: 'for '            # optional, string or list: Hyperscan scans
//                                    # for these instead, RE2 then confirms
//                                    # `match` (Rule::prefilter)
//       extract: '(?P<user>\S+)'     # optional, string or list (RE2); the
//                                    # first that matches gives the fields
//       extract_all: true            # optional: every extract adds its fields
//                                    # (distinct group names)
//       unless: 'AH00128: '          # optional, one RE2 over the same text:
//                                    # a hit it also finds is dropped
//                                    # (Rule::unless; a YAML alias `*name`
//                                    # shares one anchored `&name` value)
//       case_sensitive: false        # optional
//       alert: false                 # optional: an input of correlations only
//       replace: false               # optional; site packs only: takes the
//                                    # place of the bundled rule of this id
//       heartbeat_stop: true         # optional; default: sign is syslog.stopped
//       heartbeat_shutdown: true     # optional; default: sign is system.shutdown
//       heartbeat_suspend: true      # optional; default: sign is system.suspend
//       examples:
//         match:                     # at least one
//           - line: "<full syslog line>"
//             fields: {user: root}   # optional
//           - "<full syslog line>"   # same as {line: ...}
//         no_match:                  # optional
//           - "<full syslog line>"
//
//   correlations: [...]          # optional, see matchers/correlation_loader.h
//   sets: [...]                  # optional, named value sets for correlations
//
// A file holds rules, correlations or both. Errors name the file, the line
// (1-based) and the key.
#ifndef KONSEKI_MATCHERS_RULE_LOADER_H_
#define KONSEKI_MATCHERS_RULE_LOADER_H_

#include <string>
#include <vector>

#include "common/status.h"
#include "matchers/correlation.h"
#include "matchers/rule.h"

namespace konseki::matchers {

// Everything a folder of packs defines.
struct RulePack {
  std::vector<Rule> rules;
  std::vector<Correlation> correlations;
  std::vector<ValueSet> sets;
  // LoadPackDir: entries named *.yaml / *.yml that are not regular files
  // (a FIFO, a device, a socket, a folder, a symlink to one of those or to
  // nothing), not read, each as "PATH (what it is)". A pack the admin put
  // there is not in force: the caller says so (the server logs them once
  // per load and counts them, konseki_rule_files_skipped_total).
  std::vector<std::string> skipped_files;
};

// A sign for a rule or a correlation: one of kSigns, or lower-case words
// joined by dots outside the namespaces of kSigns (a typo of a fixed sign
// would silently break alert routing).
Status CheckSign(const std::string& sign);

// Like the Rule functions below, with the correlations and sets as well.
// LoadPackDir also checks what spans files: unique ids over rules and
// correlations, every input and set a correlation names exists, no cycle
// of correlations, no host-scoped correlation fed by a fleet one.
StatusOr<RulePack> LoadPackText(const std::string& text, const std::string& path);
StatusOr<RulePack> LoadPackFile(const std::string& path);
StatusOr<RulePack> LoadPackDir(const std::string& dir);
// The entries of dir named *.yaml / *.yml, sorted: regular files (a symlink
// to one counts) into *files, the others into *skipped as
// RulePack::skipped_files has them. Other names are not packs: not listed.
Status ListPackFiles(const std::string& dir, std::vector<std::string>* files,
                     std::vector<std::string>* skipped);

// Parses one YAML file. Does not compile the expressions (RuleSet::Compile
// does) but checks every key, type, severity and sign, and that ids are
// unique within the file.
StatusOr<std::vector<Rule>> LoadRuleFile(const std::string& path);

// Parses YAML text as if read from `path` (used by LoadRuleFile and tests).
StatusOr<std::vector<Rule>> LoadRuleText(const std::string& text, const std::string& path);

// Loads every *.yaml / *.yml file of `dir` in name order. Fails on the first
// bad file, on a duplicate id across files (naming both places), and when
// the directory is missing or holds no rule.
StatusOr<std::vector<Rule>> LoadRuleDir(const std::string& dir);

// Where the rule packs are: $KONSEKI_RULES_DIR if set and non-empty, else the
// source tree's patterns/ if it exists (compile-time path), else
// /usr/share/konseki/patterns.
std::string DefaultRulesDir();

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_RULE_LOADER_H_
