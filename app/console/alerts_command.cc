// konseki alerts: the alert file as a table, filtered, newest last;
// --follow keeps printing new alerts like tail -F (surviving rotation).
#include <chrono>
#include <memory>
#include <thread>

#include "app/console/alert_log.h"
#include "app/console/console_commands.h"

namespace konseki::app::console {
namespace {

// Bytes of table rows held in memory (a few hundred per row; a field can be
// long) before the table is printed in two passes over the file instead.
constexpr size_t kHeldBytes = 8 << 20;

// Time, severity, sign, host, sender, title and the extracted fields (who and
// from where: user=root src_ip=192.0.2.1). What a sender wrote is made
// terminal-safe (TerminalSafe): a field can hold "\x1b]2;..." or a C1 CSI.
std::vector<std::string> Cells(const ConsoleEnv& env, const AlertRecord& a) {
  const Palette& p = env.palette;
  JsonValue fields = a.json.Get("fields");
  std::string f;
  for (const std::string& k : fields.Keys()) {
    f += (f.empty() ? "" : " ") + k + "=" + fields.Str(k);
  }
  // The address the alert's line came from beside the name it gave: a line
  // under another host's name (a forged name) shows a sender of its own.
  const std::string sender = a.json.Str("sender");
  return {FormatLocalTime(a.time),
          p.Severity(SeverityName(a.severity)),
          TerminalSafe(a.sign),
          p.Bold(TerminalSafe(a.host)),
          TerminalSafe(sender.empty() ? "-" : sender),
          TerminalSafe(a.title),
          p.Dim(TerminalSafe(f))};
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

int Follow(const ConsoleEnv& env, const AlertsOptions& o, const AlertFilter& filter,
           FileFollower& follower) {
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
  std::unique_ptr<FileFollower> follower;
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
  auto log = AlertLog::Open(env.config.alerts_file, filter.since);
  if (!log.ok() && !(o.follow && log.status().code() == StatusCode::kNotFound)) {
    *env.err << "konseki alerts: " << log.status().message() << "\n";
    return kExitError;
  }
  // Streamed: a day of alerts can be a million lines (the file is never
  // throttled), and held as objects they took 5 KB each. --json copies the
  // lines; a long table takes two passes, its column widths then its rows.
  std::vector<std::string> notes;  // malformed lines, damaged rotations (AlertLog::notes)
  if (log.ok()) {
    // Before the passes, which can take seconds: what comes after the
    // snapshot Open took is for --follow.
    if (o.follow) follower = std::make_unique<FileFollower>(env.config.alerts_file);
    size_t shown = 0;
    if (o.json) {
      (*log)->ForEach(filter, [&](const AlertRecord&, std::string_view line) {
        *env.out << TerminalSafeJson(line) << "\n";
        ++shown;
      });
    } else {
      const std::vector<std::string> header = {"TIME",   "SEVERITY", "SIGN",  "HOST",
                                               "SENDER", "TITLE",    "FIELDS"};
      std::vector<size_t> widths;
      Table::Widen(header, &widths);
      // Up to kHeldBytes of rows are kept from the first pass (a filtered
      // view is read once); past that, the second pass makes them again.
      std::vector<std::vector<std::string>> held;
      size_t held_bytes = 0;
      bool second_pass = false;
      (*log)->ForEach(filter, [&](const AlertRecord& a, std::string_view) {
        std::vector<std::string> cells = Cells(env, a);
        Table::Widen(cells, &widths);
        ++shown;
        if (second_pass) return;
        for (const std::string& c : cells) held_bytes += c.size() + sizeof c;
        if (held_bytes <= kHeldBytes) {
          held.push_back(std::move(cells));
        } else {
          held = {};
          second_pass = true;
        }
      });
      if (shown > 0) {
        *env.out << Table::FormatRow(header, widths, true, env.palette) << "\n";
        for (const auto& row : held) {
          *env.out << Table::FormatRow(row, widths, false, env.palette) << "\n";
        }
      }
      if (second_pass) {
        (*log)->ForEach(filter, [&](const AlertRecord& a, std::string_view) {
          *env.out << Table::FormatRow(Cells(env, a), widths, false, env.palette) << "\n";
        });
      } else if (shown == 0 && !o.follow) {
        *env.out << "No alerts since " << FormatLocalTime(filter.since) << ".\n";
      }
    }
    notes = (*log)->notes();
    if (const double t = (*log)->reaches_back_only_to(); t > 0) {
      *env.err << "konseki alerts: the alert files reach back only to " << FormatLocalTime(t)
               << " (" << (*log)->files().front() << ", the oldest kept), not to "
               << FormatLocalTime(filter.since) << "\n";
    }
  }
  for (const std::string& note : notes) *env.err << "konseki alerts: " << note << "\n";
  if (!o.follow) return kExitOk;
  if (!follower) follower = std::make_unique<FileFollower>(env.config.alerts_file);
  return Follow(env, o, filter, *follower);
}

}  // namespace konseki::app::console
