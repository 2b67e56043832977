#include "app/rule_tool.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "app/relay_silence.h"
#include "common/clock.h"
#include "common/json_string.h"
#include "common/terminal_safe.h"
#include "matchers/audit_hex.h"
#include "matchers/offline_analyzer.h"
#include "matchers/rule_loader.h"
#include "matchers/rule_set.h"
#include "receiver/parse_issue.h"
#include "receiver/parser.h"

namespace konseki::app {

using matchers::AlertIgnore;
using matchers::AuditBuffers;
using matchers::Correlation;
using matchers::CorrelationExample;
using matchers::CorrelatorOptions;
using matchers::DecodeAuditRecord;
using matchers::DefaultRulesDir;
using matchers::ExpectedAlert;
using matchers::IsAuditRecord;
using matchers::LoadPackDir;
using matchers::LoadRulePackSet;
using matchers::OfflineAnalyzer;
using matchers::Rule;
using matchers::RuleExample;
using matchers::RuleHit;
using matchers::RuleOverrides;
using matchers::RulePack;
using matchers::RuleSet;

namespace {

// Year inference in the parser uses the receive time; the examples and the
// corpus carry no year, so any fixed instant gives reproducible results.
const TimePoint kExampleReceived = TimePoint(std::chrono::seconds(1'767'225'600));  // 2026-01-01

// The tools' cache of compiled rule databases (matchers::HsCache):
// $XDG_CACHE_HOME/konseki, else ~/.cache/konseki, as command-line tools keep
// theirs; none when neither variable is set. The first check-rules or
// test-rules of a set of packs compiles them (seconds), the next ones read
// the database back.
std::string ToolCacheDir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/') {
    return std::string(xdg) + "/konseki";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') {
    return std::string(home) + "/.cache/konseki";
  }
  return "";
}

// The tools' cache for one compile: none when ToolCacheDir has no place
// (silent either way: a cache that cannot be used costs only the compile).
class ToolCache {
 public:
  ToolCache() { cache_.dir = ToolCacheDir(); }
  matchers::HsCache* get() { return cache_.dir.empty() ? nullptr : &cache_; }

 private:
  matchers::HsCache cache_;
};

StatusOr<std::shared_ptr<const RuleSet>> CompileCached(std::vector<Rule> rules,
                                                       AlertIgnore ignore = {}) {
  ToolCache cache;
  return RuleSet::Compile(std::move(rules), std::move(ignore), matchers::HsCompileIn::kThisProcess,
                          cache.get());
}

StatusOr<std::shared_ptr<const RuleSet>> LoadAndCompile(const std::string& dir,
                                                        const RuleOverrides& overrides = {}) {
  ToolCache cache;
  return matchers::CompileRulePacks(dir, overrides, cache.get());
}

std::string FieldsText(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string s;
  for (const auto& [k, v] : fields) {
    if (!s.empty()) s += ' ';
    s += k + "=";
    AppendTerminalSafe(v, &s);  // sender text: no terminal controls
  }
  return s.empty() ? "(no fields)" : s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void AppendJsonFields(const std::vector<std::pair<std::string, std::string>>& fields,
                      std::string* json) {
  *json += '{';
  bool first = true;
  for (const auto& [k, v] : fields) {
    if (!first) *json += ',';
    first = false;
    AppendJsonString(k, json);
    *json += ':';
    AppendJsonString(v, json);
  }
  *json += '}';
}

// One test-rules match as a JSON line. "alert":false on every hit that raises
// no alert of its own here: an input-only rule's, an ignored, a held or a
// superseded one, and a waiting one (its alert is the later "waited" record),
// so that counting the records without it counts what the daemon would send.
void AppendMatchJson(const std::string& file, uint64_t line_no, const Message& msg,
                     const RuleHit& h, bool superseded, bool held, bool pending,
                     std::string* json) {
  json->clear();
  *json += "{\"file\":";
  AppendJsonString(file, json);
  *json += ",\"line\":" + std::to_string(line_no) + ",\"rule\":";
  AppendJsonString(h.rule->id, json);
  *json += ",\"sign\":";
  AppendJsonString(h.rule->sign, json);
  *json += ",\"severity\":";
  AppendJsonString(SeverityName(h.rule->severity), json);
  *json += ",\"host\":";
  // The alert's host, as the server names it: the line's host, else the
  // sender's address (--sender) for a line without one (busybox -R).
  AppendJsonString(msg.host(), json);
  *json += ",\"program\":";
  AppendJsonString(msg.app_name, json);
  *json += ",\"fields\":";
  AppendJsonFields(h.fields, json);
  if (!h.rule->alert || h.ignored || superseded || held || pending) *json += ",\"alert\":false";
  if (h.ignored) *json += ",\"ignored\":true";
  if (superseded) *json += ",\"superseded\":true";
  if (held) *json += ",\"held\":true";
  if (pending) *json += ",\"pending\":true";
  *json += "}\n";
}

// Counts kept by test-rules for its summary.
struct TestRulesCounts {
  uint64_t lines_read = 0, lines_skipped = 0, lines_matched = 0, lines_missed = 0;
  uint64_t total_hits = 0, total_alerts = 0, ignored_hits = 0;
  uint64_t waited_alerts = 0;  // rule alerts that waited for an answer (pending_secs)
  std::map<const Rule*, uint64_t> per_rule;
  std::map<std::string, uint64_t> per_correlation;  // alerts per correlation id
  uint64_t heartbeat_alerts = 0;
  std::map<std::string, uint64_t> per_heartbeat;  // heartbeat alerts per sign
};

// An alert of the heartbeat tracker (test-rules' --no-heartbeat turns them
// off): its rules are "heartbeat.<what>" (matchers/heartbeat_tracker.cc).
bool IsHeartbeatAlert(const Alert& a) { return a.rule.starts_with("heartbeat."); }

void PrintTestRulesSummary(const TestRulesCounts& c, const RuleSet& rules, const std::string& dir,
                           bool missed, std::ostream& summary) {
  summary << "\nLines: " << c.lines_read << " read, " << c.lines_skipped
          << " skipped (empty or #), " << c.lines_matched << " matched, " << c.total_hits
          << " matches, " << c.total_alerts << " correlation alerts";
  if (c.waited_alerts > 0)
    summary << ", " << c.waited_alerts << " alerts that waited for an answer";
  if (c.heartbeat_alerts > 0) summary << ", " << c.heartbeat_alerts << " heartbeat alerts";
  if (c.ignored_hits > 0) summary << " (" << c.ignored_hits << " ignored by rules.ignore)";
  if (missed) summary << ", " << c.lines_missed << " missed shown";
  summary << "\nRules (" << rules.rules().size() << " loaded from " << dir << "):\n";
  std::map<std::string, uint64_t> per_sign;
  for (const Rule& r : rules.rules()) {
    auto it = c.per_rule.find(&r);
    if (it == c.per_rule.end()) continue;
    summary << "  " << it->second << "\t" << r.id << " [" << r.sign << "]\n";
    per_sign[r.sign] += it->second;
  }
  summary << "Signs:\n";
  for (const auto& [sign, n] : per_sign) summary << "  " << n << "\t" << sign << "\n";
  if (!c.per_correlation.empty()) summary << "Correlations:\n";
  for (const auto& [id, n] : c.per_correlation) summary << "  " << n << "\t" << id << "\n";
  if (!c.per_heartbeat.empty()) summary << "Heartbeat:\n";
  for (const auto& [sign, n] : c.per_heartbeat) summary << "  " << n << "\t" << sign << "\n";
}

// Opens `file` ("-": standard input); on failure says why (errno text).
// The instant year-less stamps of `file` are read against: its modification
// time (a log's last line was written then, so a file spanning a new year or
// read in February keeps its lines in order), now for standard input.
TimePoint ReferenceFor(const std::string& file) {
  struct stat st;
  if (file != "-" && ::stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    return TimePoint(std::chrono::seconds(st.st_mtim.tv_sec) +
                     std::chrono::nanoseconds(st.st_mtim.tv_nsec));
  }
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
}

std::istream* OpenInput(const std::string& file, std::ifstream* in, std::string* error) {
  if (file == "-") return &std::cin;
  errno = 0;
  in->open(file, std::ios::binary);
  if (!*in) {
    *error = "cannot open " + file + ": " + std::strerror(errno != 0 ? errno : ENOENT);
    return nullptr;
  }
  return in;
}

// The TAG as the sender wrote it (rsyslog's %syslogtag%): for RFC 3164 the
// program, its "[pid]" and ':' as they stand in the line ("sshd[42]:"); for
// RFC 5424 APP-NAME[PROCID]. Read from the program on, not back from the
// message: the message may start further on (a repeat line's text).
std::string TagOf(const Message& msg) {
  if (msg.app_name.empty()) return "";
  const std::string bracketed = "[" + std::string(msg.procid) + "]";
  if (msg.format != MessageFormat::kRfc3164) {
    return std::string(msg.app_name) + (msg.procid.empty() ? "" : bracketed);
  }
  const char* begin = msg.app_name.data();
  const char* raw_end = msg.raw.data() + msg.raw.size();
  if (begin < msg.raw.data() || begin + msg.app_name.size() > raw_end) {
    return std::string(msg.app_name);
  }
  const std::string_view rest(begin, static_cast<size_t>(raw_end - begin));
  size_t n = msg.app_name.size();
  if (!msg.procid.empty() && rest.substr(n, bracketed.size()) == bracketed) n += bracketed.size();
  if (n < rest.size() && rest[n] == ':') ++n;
  return std::string(rest.substr(0, n));
}

// The text RuleSet::Match scans: the whole frame of an unparsed line.
std::string_view ScannedText(const Message& msg) {
  return msg.format == MessageFormat::kUnparsed ? msg.raw : msg.msg;
}

// --explain: how one line was read, then what it hit.
std::string ExplainText(const Message& msg, const std::vector<RuleHit>& hits) {
  std::string s;
  s += "format:          " + std::string(receiver::MessageFormatName(msg.format));
  s += "\nparse issue:     " + std::string(receiver::ParseIssueName(msg.issue));
  s += "\npri:             ";
  s += msg.pri < 0 ? std::string("none (facility 1, severity 5 assumed)")
                   : std::to_string(msg.pri) + " (facility " + std::to_string(msg.facility()) +
                         ", severity " + std::to_string(msg.severity()) + ")";
  s += "\ntime:            " + FormatRfc3339Micros(msg.timestamp);
  if (!msg.has_timestamp) s += " (none in the header: the receive time)";
  // What the sender wrote goes through TerminalSafe: a line can hold
  // "\x1b]2;..." or a C1 CSI.
  s += "\nhost:            " + TerminalSafe(msg.hostname);
  s += "\nprogram:         " + TerminalSafe(msg.app_name);
  s += "\ntag:             " + TerminalSafe(TagOf(msg));
  s += "\npid:             " + TerminalSafe(msg.procid);
  s += "\nmsgid:           " + TerminalSafe(msg.msgid);
  s += "\nstructured data: " + TerminalSafe(msg.structured_data);
  s += "\nmessage:         " + TerminalSafe(msg.msg);
  if (AuditBuffers decoded; IsAuditRecord(ScannedText(msg), msg.app_name) &&
                            DecodeAuditRecord(ScannedText(msg), &decoded)) {
    s += "\ndecoded:         " + TerminalSafe(decoded.text) +
         "\n                 (hex-encoded audit values decoded, EXECVE's cmdline: the rules read "
         "this)";
  }
  if (msg.repeats > 1) {
    s += "\nrepeated:        " + std::to_string(msg.repeats) +
         " times (the sender wrote one line for them; correlations count each)";
  }
  s += "\nrules:           " + std::to_string(hits.size()) + " match" +
       (hits.size() == 1 ? "" : "es") + "\n";
  for (const RuleHit& h : hits) {
    s += "  " + h.rule->id + " [" + h.rule->sign + "] " +
         std::string(SeverityName(h.rule->severity)) + ": " + FieldsText(h.fields) +
         (h.ignored ? " (ignored: rules.ignore, no alert)" : "") + "\n";
  }
  return s;
}

std::string ExplainJson(const Message& msg, const std::vector<RuleHit>& hits) {
  std::string s = "{\"format\":";
  AppendJsonString(receiver::MessageFormatName(msg.format), &s);
  s += ",\"issue\":";
  AppendJsonString(receiver::ParseIssueName(msg.issue), &s);
  if (msg.pri < 0) {
    s += ",\"pri\":null";
  } else {
    s += ",\"pri\":" + std::to_string(msg.pri) + ",\"facility\":" + std::to_string(msg.facility()) +
         ",\"severity\":" + std::to_string(msg.severity());
  }
  s += ",\"time\":";
  AppendJsonString(FormatRfc3339Micros(msg.timestamp), &s);
  s += std::string(",\"time_from_header\":") + (msg.has_timestamp ? "true" : "false");
  const std::string tag = TagOf(msg);
  const std::pair<const char*, std::string_view> parts[] = {
      {"host", msg.hostname}, {"program", msg.app_name}, {"tag", tag},
      {"pid", msg.procid},    {"msgid", msg.msgid},      {"structured_data", msg.structured_data},
      {"message", msg.msg}};
  for (const auto& [key, value] : parts) {
    s += ",\"" + std::string(key) + "\":";
    AppendJsonString(value, &s);
  }
  if (AuditBuffers decoded; IsAuditRecord(ScannedText(msg), msg.app_name) &&
                            DecodeAuditRecord(ScannedText(msg), &decoded)) {
    s += ",\"decoded\":";
    AppendJsonString(decoded.text, &s);
  }
  if (msg.repeats > 1) s += ",\"repeats\":" + std::to_string(msg.repeats);
  s += ",\"matches\":[";
  for (size_t i = 0; i < hits.size(); ++i) {
    if (i > 0) s += ',';
    s += "{\"rule\":";
    AppendJsonString(hits[i].rule->id, &s);
    s += ",\"sign\":";
    AppendJsonString(hits[i].rule->sign, &s);
    s += ",\"severity\":";
    AppendJsonString(SeverityName(hits[i].rule->severity), &s);
    s += ",\"fields\":";
    AppendJsonFields(hits[i].fields, &s);
    if (hits[i].ignored) s += ",\"ignored\":true";
    s += '}';
  }
  s += "]}\n";
  return TerminalSafeJson(s);
}

std::string AlertText(const Alert& a) { return a.sign + " (" + FieldsText(a.fields) + ")"; }

// Runs one case through a fresh analyzer (no state from other cases) and
// compares the correlation's own alerts with the expected ones, in order.
int CheckCorrelationCase(const std::shared_ptr<const RuleSet>& set, const RulePack& pack,
                         const Correlation& c, const CorrelationExample& ex, std::ostream& err) {
  auto fail = [&](int line, const std::string& what) {
    err << c.file << ":" << line << ": correlation " << c.id << ": " << what << "\n";
    return 1;
  };
  CorrelatorOptions options;
  for (const auto& [id, values] : ex.sets) options.set_values[id] = values;
  auto analyzer = OfflineAnalyzer::Create(set, pack, options);
  if (!analyzer.ok()) return fail(ex.source_line, analyzer.status().message());
  std::vector<RuleHit> hits;
  std::vector<Alert> alerts, got;
  for (const std::string& line : ex.lines) {
    (*analyzer)->Feed(line, ex.sender, &hits, &alerts);
    for (Alert& a : alerts) {
      if (a.rule == c.id) got.push_back(std::move(a));
    }
  }
  // Alerts still waiting for an answer at the case's end (a correlation
  // that took a pending_secs rule's place) go unanswered, as in test-rules.
  (*analyzer)->Finish(&alerts);
  for (Alert& a : alerts) {
    if (a.rule == c.id) got.push_back(std::move(a));
  }
  int failures = 0;
  for (size_t i = 0; i < std::max(got.size(), ex.alerts.size()); ++i) {
    if (i >= ex.alerts.size()) {
      failures += fail(ex.source_line, "unexpected alert " + AlertText(got[i]));
      continue;
    }
    const ExpectedAlert& want = ex.alerts[i];
    if (i >= got.size()) {
      failures += fail(want.source_line, "expected alert " + want.sign + " was not raised");
      continue;
    }
    if (got[i].sign != want.sign) {
      failures += fail(want.source_line, "alert has sign " + got[i].sign + ", want " + want.sign);
    }
    if (!want.severity.empty() && want.severity != SeverityName(got[i].severity)) {
      failures +=
          fail(want.source_line, std::string("alert has severity ") +
                                     SeverityName(got[i].severity) + ", want " + want.severity);
    }
    for (const auto& [key, value] : want.fields) {
      auto it = std::find_if(got[i].fields.begin(), got[i].fields.end(),
                             [&](const auto& f) { return f.first == key; });
      if (it == got[i].fields.end()) {
        failures += fail(want.source_line, "field " + key + " missing in " + AlertText(got[i]));
      } else if (it->second != value) {
        failures += fail(want.source_line,
                         "field " + key + " = \"" + it->second + "\", want \"" + value + "\"");
      }
    }
  }
  return failures;
}

}  // namespace

int RunCheckRules(const std::string& dir, std::ostream& out, std::ostream& err) {
  StatusOr<RulePack> pack = LoadPackDir(dir);
  if (!pack.ok()) {
    err << "check-rules: " << pack.status().message() << "\n";
    return 1;
  }
  for (const std::string& f : pack->skipped_files) {
    err << "check-rules: warning: skipped " << f
        << ": not a regular file (the daemon skips it too)\n";
  }
  StatusOr<std::shared_ptr<const RuleSet>> set = CompileCached(pack->rules);
  if (!set.ok()) {
    err << "check-rules: " << set.status().message() << "\n";
    return 1;
  }
  StatusOr<std::unique_ptr<RuleSet::Scratch>> scratch = (*set)->NewScratch();
  if (!scratch.ok()) {
    err << "check-rules: " << scratch.status().message() << "\n";
    return 1;
  }
  const receiver::Parser parser;
  Message msg;
  std::vector<RuleHit> hits;
  int failures = 0;
  int examples = 0;
  for (const Rule& rule : (*set)->rules()) {
    auto fail = [&](const RuleExample& ex, const std::string& what) {
      ++failures;
      err << rule.file << ":" << ex.source_line << ": rule " << rule.id << ": " << what
          << "\n    line: " << ex.line << "\n";
    };
    for (const RuleExample& ex : rule.examples_match) {
      ++examples;
      parser.Parse(ex.line, kExampleReceived, &msg);
      (*set)->Match(msg, **scratch, &hits);
      const RuleHit* own = nullptr;
      for (const RuleHit& h : hits) {
        if (h.rule == &rule) {
          own = &h;
        } else if (h.rule->alert && rule.alert) {
          // Two alerting rules on one line; input-only rules (alert: false)
          // may overlap anything.
          fail(ex, "match example also hits rule " + h.rule->id + " (" + h.rule->sign +
                       "): one line must raise one alert");
        }
      }
      if (own == nullptr) {
        fail(ex, "match example does not hit (parsed app_name=\"" + std::string(msg.app_name) +
                     (rule.text == matchers::Rule::Text::kStructuredData
                          ? "\", structured_data=\"" + std::string(msg.structured_data)
                          : "\", msg=\"" + std::string(msg.msg)) +
                     "\")");
        continue;
      }
      for (const auto& [key, want] : ex.fields) {
        auto it = std::find_if(own->fields.begin(), own->fields.end(),
                               [&](const auto& f) { return f.first == key; });
        if (it == own->fields.end()) {
          fail(ex, "field " + key + " not extracted (got " + FieldsText(own->fields) + ")");
        } else if (it->second != want) {
          fail(ex, "field " + key + " = \"" + it->second + "\", want \"" + want + "\"");
        }
      }
    }
    for (const RuleExample& ex : rule.examples_no_match) {
      ++examples;
      parser.Parse(ex.line, kExampleReceived, &msg);
      (*set)->Match(msg, **scratch, &hits);
      for (const RuleHit& h : hits) {
        if (h.rule == &rule) fail(ex, "no_match example hits (" + FieldsText(h.fields) + ")");
      }
    }
  }
  for (const Correlation& c : pack->correlations) {
    for (const CorrelationExample& ex : c.examples) {
      ++examples;
      failures += CheckCorrelationCase(*set, *pack, c, ex, err);
    }
  }
  out << "check-rules: " << (*set)->rules().size() << " rules, " << pack->correlations.size()
      << " correlations, " << examples << " examples, " << failures << " failure"
      << (failures == 1 ? "" : "s") << "\n";
  return failures == 0 ? 0 : 1;
}

namespace {

// Every input line's number across the files (Alert::origin_seq): an
// alert raised under a later line, or at the input's end, names the line
// that caused it by its file and line number.
class InputLines {
 public:
  // Numbers the lines of `file` from the next number on.
  void StartFile(const std::string& file) { starts_.emplace_back(next_, file); }
  // The number of the file's next line (its first is 1).
  uint64_t Next() { return next_++; }
  // The file and line number of `seq`; false for 0 or a number not given.
  bool Find(uint64_t seq, std::string* file, uint64_t* line_no) const {
    if (seq == 0 || seq >= next_) return false;
    auto it = std::upper_bound(starts_.begin(), starts_.end(), seq,
                               [](uint64_t s, const auto& start) { return s < start.first; });
    if (it == starts_.begin()) return false;
    --it;
    *file = it->second;
    *line_no = seq - it->first + 1;
    return true;
  }

 private:
  std::vector<std::pair<uint64_t, std::string>> starts_;  // first number, file
  uint64_t next_ = 1;
};

// Where the line that caused an alert is, when test-rules numbered it.
struct AlertOrigin {
  std::string file;
  uint64_t line_no = 0;  // 0: not known
};

// One JSON object for a correlation alert raised at line_no.
// A correlation's alert, or (waited) a rule's alert that waited for an
// answer (pending_secs) and is raised under the line that decided it.
// origin_line_no and origin name the line that caused it (for a waited
// alert an earlier line; for a correlation's, the line that completed it,
// unless it waited in a rule's place); decided is when a wait ended.
void AppendCorrelationJson(const std::string& file, uint64_t line_no, const Alert& a, bool waited,
                           const AlertOrigin& origin, std::string* json) {
  json->clear();
  *json += "{\"file\":";
  AppendJsonString(file, json);
  *json += ",\"line\":" + std::to_string(line_no) + ",\"rule\":";
  AppendJsonString(a.rule, json);
  *json += ",\"sign\":";
  AppendJsonString(a.sign, json);
  *json += ",\"severity\":";
  AppendJsonString(SeverityName(a.severity), json);
  *json += ",\"host\":";
  AppendJsonString(a.host, json);
  *json += ",\"program\":";
  AppendJsonString(a.program, json);
  *json += ",\"fields\":";
  AppendJsonFields(a.fields, json);
  if (IsHeartbeatAlert(a)) {
    // When the tracker judged it (for host.silent: when the silence was
    // due), on the file's clock.
    *json += ",\"heartbeat\":true,\"time\":";
    AppendJsonString(FormatRfc3339Micros(a.time), json);
  } else {
    *json += waited ? ",\"waited\":true" : ",\"correlation\":true";
  }
  if (a.decided != TimePoint{}) {
    *json += ",\"decided\":";
    AppendJsonString(FormatRfc3339Micros(a.decided), json);
  }
  if (origin.line_no > 0) {
    *json += ",\"origin_line_no\":" + std::to_string(origin.line_no) + ",\"origin\":{\"file\":";
    AppendJsonString(origin.file, json);
    *json += ",\"line_no\":" + std::to_string(origin.line_no) + ",\"host\":";
    AppendJsonString(a.host, json);
    *json += ",\"time\":";
    AppendJsonString(FormatRfc3339Micros(a.time), json);
    *json += ",\"message\":";
    AppendJsonString(a.message, json);
    *json += '}';
  }
  *json += "}\n";
}

// The analyzer test-rules runs: the rules of `dir`, and its correlations
// when asked.
StatusOr<std::unique_ptr<OfflineAnalyzer>> MakeAnalyzer(const TestRulesOptions& opts,
                                                        const std::string& dir) {
  StatusOr<AlertIgnore> ignore =
      AlertIgnore::Create(opts.overrides.ignore_sources, opts.overrides.ignore_users);
  if (!ignore.ok()) return Status::InvalidArgument("rules.ignore: " + ignore.status().message());
  StatusOr<RulePack> pack = LoadRulePackSet(dir, opts.overrides);
  if (!pack.ok()) return pack.status();
  StatusOr<std::shared_ptr<const RuleSet>> set =
      CompileCached(pack->rules, std::move(ignore).value());
  if (!set.ok()) return set.status();
  if (!opts.correlate) {
    pack->correlations.clear();
    pack->sets.clear();
  }
  auto analyzer =
      OfflineAnalyzer::Create(*set, *pack, opts.correlation, receiver::Parser(opts.parser));
  if (!analyzer.ok() || !opts.heartbeat) return analyzer;
  if (Status s = (*analyzer)->EnableHeartbeat(opts.heartbeat_options); !s.ok()) {
    return Status::InvalidArgument("heartbeat: " + s.message());
  }
  return analyzer;
}

// The server's relay grouping (app/relay_silence.h) over the replay's
// heartbeat alerts: each host.silent gets the same_sender_* and sender_*
// fields, and a host.relay_silent follows the one that shows its sender
// stopped. The sender is --sender's (every line's); without it the alerts
// pass unchanged.
class RelayReplay {
 public:
  RelayReplay(const TestRulesOptions& opts, const OfflineAnalyzer& analyzer)
      : relay_(Options(opts), out_, metrics_) {
    relay_.SetReaders({analyzer.HeartbeatHosts()});
  }
  // Rewrites *alerts in place: a relay alert comes right after the host
  // alert that completed it, about the same line (that host's last).
  void Apply(std::vector<Alert>* alerts) {
    bool any = false;
    for (const Alert& a : *alerts) any |= a.sign == "host.silent" && IsHeartbeatAlert(a);
    if (!any) return;
    std::vector<Alert> in;
    in.swap(*alerts);
    for (Alert& a : in) {
      if (a.sign != "host.silent" || !IsHeartbeatAlert(a)) {
        alerts->push_back(std::move(a));
        continue;
      }
      relay_.Emit(a);
      for (Alert& r : out_.alerts) {
        r.origin_seq = a.origin_seq;
        alerts->push_back(std::move(r));
      }
      out_.alerts.clear();
    }
  }

 private:
  class Collect final : public AlertSink {
   public:
    void Emit(const Alert& alert) override { alerts.push_back(alert); }
    std::vector<Alert> alerts;
  };
  static RelaySilenceOptions Options(const TestRulesOptions& opts) {
    RelaySilenceOptions o;
    o.same_sender_secs = opts.heartbeat_options.same_sender_secs;
    o.host_addresses = opts.correlation.host_addresses;
    return o;
  }
  Collect out_;
  MetricsRegistry metrics_;  // not exported
  RelaySilence relay_;
};

}  // namespace

namespace {

// Prints (unless --summary or --missed) and counts one line's rule hits and
// the correlation alerts it completed.
void ReportLine(const TestRulesOptions& opts, const std::string& file, uint64_t line_no,
                const std::string& line, const Message& msg, const std::vector<RuleHit>& hits,
                const std::vector<bool>& superseded, const std::vector<bool>& held,
                const std::vector<bool>& pending, const std::vector<Alert>& alerts,
                const RuleSet& rules, const InputLines& input, TestRulesCounts* counts,
                std::ostream& out) {
  const bool print = !opts.summary && !opts.missed;
  std::string json;
  for (size_t i = 0; i < hits.size(); ++i) {
    const RuleHit& h = hits[i];
    const bool gone = i < superseded.size() && superseded[i];
    const bool quiet = i < held.size() && held[i];
    const bool waits = i < pending.size() && pending[i];
    ++counts->total_hits;
    if (h.ignored) ++counts->ignored_hits;
    ++counts->per_rule[h.rule];
    if (!print) continue;
    if (opts.json) {
      AppendMatchJson(file, line_no, msg, h, gone, quiet, waits, &json);
      out << TerminalSafeJson(json);
    } else {
      out << file << ":" << line_no << ": " << h.rule->id << " [" << h.rule->sign << "] "
          << FieldsText(h.fields) << (h.rule->alert ? "" : " (input only)")
          << (h.ignored ? " (ignored)" : "")
          << (quiet   ? " (held: an alert of this sign from the host came shortly before)"
              : waits ? " (pending: its alert waits " + std::to_string(h.rule->pending_secs) +
                            " s for an answer)"
              : gone ? " (superseded by a correlation)"
                     : std::string())
          << "\n    " << TerminalSafe(line) << "\n";
    }
  }
  for (const Alert& a : alerts) {
    const Rule* waited = rules.FindRule(a.rule);  // else a correlation's
    const bool heartbeat = IsHeartbeatAlert(a);
    if (heartbeat) {
      ++counts->heartbeat_alerts;
      ++counts->per_heartbeat[a.sign];
    } else if (waited == nullptr) {
      ++counts->total_alerts;
      ++counts->per_correlation[a.rule];
    } else {
      ++counts->waited_alerts;
    }
    if (!print) continue;
    AlertOrigin origin;
    input.Find(a.origin_seq, &origin.file, &origin.line_no);
    if (opts.json) {
      AppendCorrelationJson(file, line_no, a, waited != nullptr, origin, &json);
      out << TerminalSafeJson(json);
    } else {
      out << file << ":" << line_no << ": => " << a.rule << " [" << a.sign << "] "
          << SeverityName(a.severity) << " host=" << TerminalSafe(a.host) << " "
          << FieldsText(a.fields) << (waited != nullptr ? " (the alert that waited)" : "")
          << (heartbeat ? " at " + FormatRfc3339Micros(a.time) : std::string()) << "\n";
      // Raised under another line than its own: which line caused it (a
      // silence: the host's last line).
      if (origin.line_no > 0 && (origin.line_no != line_no || origin.file != file)) {
        out << "    " << (heartbeat ? "about " : "caused by ") << origin.file << ":"
            << origin.line_no << (a.message.empty() ? "" : ": ") << TerminalSafe(a.message) << "\n";
      }
    }
  }
}

}  // namespace

int RunTestRules(const TestRulesOptions& opts, std::ostream& out, std::ostream& err) {
  const std::string dir = opts.rules_dir.empty() ? DefaultRulesDir() : opts.rules_dir;
  auto analyzer = MakeAnalyzer(opts, dir);
  if (!analyzer.ok()) {
    err << "test-rules: " << analyzer.status().message() << "\n";
    return 1;
  }
  if (opts.files.empty()) {
    err << "test-rules: no input file (give log files, or - for standard input)\n";
    return 1;
  }
  std::unique_ptr<RelayReplay> relay;
  if (opts.heartbeat) relay = std::make_unique<RelayReplay>(opts, **analyzer);
  TestRulesCounts counts;
  std::vector<RuleHit> hits;
  std::vector<Alert> alerts;
  std::string line, error;
  std::string last_file;
  uint64_t last_line = 0;
  InputLines input;
  for (const std::string& file : opts.files) {
    std::ifstream in;
    std::istream* is = OpenInput(file, &in, &error);
    if (is == nullptr) {
      err << "test-rules: " << error << "\n";
      return 1;
    }
    (*analyzer)->set_reference(ReferenceFor(file));
    input.StartFile(file);
    uint64_t line_no = 0;
    while (std::getline(*is, line)) {
      ++line_no;
      (*analyzer)->set_line_seq(input.Next());
      if (opts.progress_every_lines > 0 && line_no % opts.progress_every_lines == 0) {
        err << "test-rules: " << file << ": " << line_no << " lines, " << counts.total_hits
            << " matches so far\n";
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') {
        ++counts.lines_skipped;
        continue;
      }
      ++counts.lines_read;
      last_file = file;
      last_line = line_no;
      (*analyzer)->Feed(line, opts.sender, &hits, &alerts);
      if (relay) relay->Apply(&alerts);
      const Message& msg = (*analyzer)->message();
      if (hits.empty()) {
        if (opts.missed &&
            (opts.missed_program.empty() || EqualsIgnoreCase(msg.app_name, opts.missed_program))) {
          ++counts.lines_missed;
          out << file << ":" << line_no << ": " << TerminalSafe(line) << "\n";
        }
        // Alerts that waited for an answer until this line's stamp.
        if (!alerts.empty()) {
          ReportLine(opts, file, line_no, line, msg, hits, {}, {}, {}, alerts, (*analyzer)->rules(),
                     input, &counts, out);
        }
        continue;
      }
      ++counts.lines_matched;
      ReportLine(opts, file, line_no, line, msg, hits, (*analyzer)->superseded(),
                 (*analyzer)->held(), (*analyzer)->pending(), alerts, (*analyzer)->rules(), input,
                 &counts, out);
    }
    if (in.is_open() && in.bad()) {
      err << "test-rules: read error in " << file << ": " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  // The input's end: alerts still waiting for an answer got none.
  (*analyzer)->Finish(&alerts);
  if (relay) relay->Apply(&alerts);
  if (!alerts.empty()) {
    ReportLine(opts, last_file, last_line, std::string(), (*analyzer)->message(), {}, {}, {}, {},
               alerts, (*analyzer)->rules(), input, &counts, out);
  }
  const std::string from =
      dir + (opts.overrides.local_dir.empty() ? "" : " and " + opts.overrides.local_dir);
  PrintTestRulesSummary(counts, (*analyzer)->rules(), from, opts.missed,
                        opts.json || opts.missed ? err : out);
  return 0;
}

int RunExplain(const ExplainOptions& opts, std::ostream& out, std::ostream& err) {
  const std::string dir = opts.rules_dir.empty() ? DefaultRulesDir() : opts.rules_dir;
  StatusOr<std::shared_ptr<const RuleSet>> set = LoadAndCompile(dir, opts.overrides);
  if (!set.ok()) {
    err << "test-rules: " << set.status().message() << "\n";
    return 1;
  }
  StatusOr<std::unique_ptr<RuleSet::Scratch>> scratch = (*set)->NewScratch();
  if (!scratch.ok()) {
    err << "test-rules: " << scratch.status().message() << "\n";
    return 1;
  }
  const receiver::Parser parser(opts.parser);
  Message msg;
  // Received now, as the server would: a stamp without a year gets the year
  // it has today (the examples' fixed date made "Dec  3" last year's).
  parser.Parse(opts.line, SystemClock().Now(), &msg);
  std::vector<RuleHit> hits;
  (*set)->Match(msg, **scratch, &hits);
  out << (opts.json ? ExplainJson(msg, hits) : ExplainText(msg, hits));
  return 0;
}

}  // namespace konseki::app
