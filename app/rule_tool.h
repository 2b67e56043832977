// The rule tools behind `konseki check-rules` and `konseki test-rules`
// (the app's main parses the command line and calls these). Both run the
// very Parser and RuleSet the server runs, so what they report is what the
// server would alert on.
#ifndef KONSEKI_APP_RULE_TOOL_H_
#define KONSEKI_APP_RULE_TOOL_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "matchers/correlator.h"
#include "matchers/heartbeat_tracker.h"
#include "matchers/rule_packs.h"
#include "receiver/parser.h"

namespace konseki::app {

// Loads and compiles every rule of `dir`, then runs each rule's examples:
// every `match` line, parsed by receiver::Parser, must hit its rule, no other
// rule, and yield the listed fields with those values; every `no_match` line
// must not hit its rule. Prints each failure to `err` as
// "<file>:<line>: rule <id>: <what>" and a one-line summary to `out`.
// Returns the process exit code: 0 when everything passes, 1 otherwise.
int RunCheckRules(const std::string& dir, std::ostream& out, std::ostream& err);

struct TestRulesOptions {
  // Rule packs to load; empty means matchers::DefaultRulesDir().
  std::string rules_dir;
  // One JSON object per match on `out` (keys: file, line, rule, sign,
  // severity, host, program, fields) instead of text; the summary then goes to `err` so
  // `out` stays pure JSON Lines.
  bool json = false;
  // Log files as rsyslog / syslog-ng write them, or raw RFC 5424 / RFC 3164
  // lines, one message per line. "-" reads standard input. Empty lines and
  // lines starting with '#' (comments in test corpora) are skipped.
  std::vector<std::string> files;
  // A progress line on `err` every this many lines of a file (0: never).
  uint64_t progress_every_lines = 1 << 18;
  // Only the summary (counts per rule and per sign), fail2ban-regex style:
  // no line per match.
  bool summary = false;
  // Print the lines that matched no rule (instead of the matches), to find
  // gaps in the packs; with `missed_program` non-empty, only the lines whose
  // parsed program (RFC 3164 TAG, RFC 5424 APP-NAME) equals it, ignoring case.
  bool missed = false;
  std::string missed_program{};
  // Run the packs' correlations too (konseki test-rules does unless
  // --no-correlations), with these options (from --config). Each
  // correlation alert is printed after the hits of the line that completed
  // it; in JSON as {"file","line","rule","sign","severity","fields",
  // "correlation":true}. Lines are taken as received at their stamp, so the
  // same files give the same alerts at any reading speed.
  bool correlate = false;
  // Copy-initialized: with `{}` GCC 12 at -O3 (the Debian package's build)
  // warned that WorkHours' shift vector may be used uninitialized.
  matchers::CorrelatorOptions correlation = matchers::CorrelatorOptions();
  // Run the server's heartbeat tracker too (konseki test-rules does unless
  // --no-heartbeat or the config's heartbeat.enabled is false), with these
  // options (the config's heartbeat section, defaults otherwise), on the
  // file's clock: each line received at its stamp, time advancing with the
  // latest stamp seen, the tracker ticked at every deadline passed and once
  // more at the end of the input (matchers/offline_analyzer.h). Its alerts
  // (host.silent, host.resumed, host.new, ...) are printed like a
  // correlation's, under the line that moved the clock past them; in JSON
  // with "heartbeat":true, "time" (when it was judged) and the line it is
  // about (for host.silent, the host's last line) as origin_line_no.
  bool heartbeat = false;
  matchers::HeartbeatOptions heartbeat_options = matchers::HeartbeatOptions();
  // Sender address of every line (--sender): the host's own address for
  // membership rules, and the sender the heartbeat's host.silent alerts are
  // grouped by (app/relay_silence.h: same_sender_* fields,
  // host.relay_silent; correlation.host_addresses names the relay). Empty:
  // no grouping.
  std::string sender{};
  // Parser settings (the RFC 3164 zone of --config's parser.timezone).
  receiver::ParserOptions parser{};
  // The site's packs and overrides (the config's rules: section, given with
  // test-rules --config): what the server would run. A hit that
  // rules.ignore silences is shown and counted as ignored, and feeds no
  // correlation.
  matchers::RuleOverrides overrides{};
};

// Runs every line of every file through the Parser and the RuleSet (and the
// correlations), like fail2ban-regex: prints each match and a per-rule
// summary (hits per rule and correlation, lines read, lines skipped), with
// progress on `err` for large files. Input-only rules' hits are printed too
// (JSON: "alert":false).
// Returns 0 on success (matches or not), 1 on a rule or file error.
int RunTestRules(const TestRulesOptions& opts, std::ostream& out, std::ostream& err);

struct ExplainOptions {
  std::string rules_dir;                // empty: matchers::DefaultRulesDir()
  std::string line;                     // one log line, as a sender or a log file has it
  bool json = false;                    // one JSON object instead of text
  matchers::RuleOverrides overrides{};  // as in TestRulesOptions
  receiver::ParserOptions parser{};     // as in TestRulesOptions (parser.timezone)
};

// Shows how `line` is parsed (format, parse issue, PRI with facility and
// severity, time, host, program, tag as written, pid, msgid, structured
// data, message) and
// every rule it hits with the extracted fields. Returns 0, or 1 when the
// rules do not load.
int RunExplain(const ExplainOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace konseki::app

#endif  // KONSEKI_APP_RULE_TOOL_H_
