// konseki alerts: the alert file as a table, filtered, newest last;
// --follow keeps printing new alerts like tail -F (surviving rotation).
#include <chrono>
#include <thread>

#include "app/console/alert_log.h"
#include "app/console/console_commands.h"

namespace konseki::app::console {
namespace {

// Time, severity, sign, host, title and the extracted fields (who and
// from where: user=root src_ip=192.0.2.1). What a sender wrote is made
// terminal-safe (TerminalSafe): a field can hold "\x1b]2;..." or a C1 CSI.
std::vector<std::string> Cells(const ConsoleEnv& env, const AlertRecord& a) {
  const Palette& p = env.palette;
  JsonValue fields = a.json.Get("fields");
  std::string f;
  for (const std::string& k : fields.Keys()) {
    f += (f.empty() ? "" : " ") + k + "=" + fields.Str(k);
  }
  return {FormatLocalTime(a.time), p.Severity(SeverityName(a.severity)),
          TerminalSafe(a.sign),    p.Bold(TerminalSafe(a.host)),
          TerminalSafe(a.title),   p.Dim(TerminalSafe(f))};
}

std::string Row(const ConsoleEnv& env, const AlertRecord& a) {
  std::string line;
  for (const std::string& c : Cells(env, a)) line += (line.empty() ? "" : "  ") + c;
  return line;
}

void Print(const ConsoleEnv& env, const AlertsOptions& o, const AlertRecord& a,
           std::string_view raw) {
  if (o.json) {
    *env.out << TerminalSafeJson(raw) << "\n";
  } else {
    *env.out << Row(env, a) << "\n";
  }
}

int Follow(const ConsoleEnv& env, const AlertsOptions& o, const AlertFilter& filter) {
  FileFollower follower(env.config.alerts_file);
  AlertFilter live = filter;
  live.since = 0;  // everything appended from now on is new
  for (;;) {
    for (const std::string& line : follower.Poll()) {
      AlertRecord a;
      if (ParseAlertLine(line, &a) && live.Matches(a)) Print(env, o, a, line);
    }
    env.out->flush();
    // A console command polling a file: half a second is what tail -F does.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

int RunAlerts(const ConsoleEnv& env, const AlertsOptions& o) {
  if (env.config.alerts_file.empty()) {
    *env.err << "konseki alerts: " << env.config.source
             << " has no alerts.file: alerts go only to stdout and the notifying sinks\n";
    return kExitError;
  }
  AlertFilter filter;
  auto since = ParseSince(o.since, env.now);
  if (!since.ok()) {
    *env.err << "konseki alerts: --since: " << since.status().message() << "\n";
    return kExitError;
  }
  filter.since = *since;
  filter.sign = o.sign;
  filter.host = o.host;
  if (!ParseSeverity(o.min_severity, &filter.min_severity)) {
    *env.err << "konseki alerts: --min-severity: unknown severity '" << o.min_severity
             << "' (info, low, medium, high, critical)\n";
    return kExitError;
  }
  size_t malformed = 0;
  auto alerts = ReadAlerts(env.config.alerts_file, filter, &malformed);
  if (!alerts.ok() && !(o.follow && alerts.status().code() == StatusCode::kNotFound)) {
    *env.err << "konseki alerts: " << alerts.status().message() << "\n";
    return kExitError;
  }
  if (alerts.ok() && !o.json && !alerts->empty()) {
    Table t({"TIME", "SEVERITY", "SIGN", "HOST", "TITLE", "FIELDS"});
    for (const AlertRecord& a : *alerts) t.Add(Cells(env, a));
    t.Print(*env.out, env.palette);
  } else if (alerts.ok()) {
    for (const AlertRecord& a : *alerts) Print(env, o, a, a.json.Dump());
    if (alerts->empty() && !o.json && !o.follow) {
      *env.out << "No alerts since " << FormatLocalTime(filter.since) << ".\n";
    }
  }
  if (malformed > 0) {
    *env.err << "konseki alerts: skipped " << malformed << " malformed lines in "
             << env.config.alerts_file << "\n";
  }
  return o.follow ? Follow(env, o, filter) : kExitOk;
}

}  // namespace konseki::app::console
