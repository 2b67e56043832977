// konseki hosts: every host the heartbeat tracks.
#include <cstdio>

#include "app/console/console_commands.h"
#include "app/status_service.h"

namespace konseki::app::console {
namespace {

bool IsSilentState(const std::string& state) {
  return state == "silent" || state == "stopped" || state == "expected-never-seen";
}

std::string Colour(const Palette& p, const std::string& state) {
  if (state == "silent" || state == "expected-never-seen") return p.Red(state);
  if (state == "stopped") return p.BoldRed(state);
  if (state == "new") return p.Yellow(state);
  return p.Green(state);
}

// Cadence 0: not learned yet; threshold 0: never alerts; -1: unknown.
std::string Secs(double secs, const char* if_zero) {
  return secs < 0 ? "-" : secs == 0 ? if_zero : FormatDuration(secs);
}

// Every sender address seen for the host, most recent first ("sender" alone
// from an older daemon).
std::string Senders(const JsonValue& h) {
  const JsonValue list = h.Get("senders");
  std::string out;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!out.empty()) out += ",";
    out += list.At(i).AsString();
  }
  return out.empty() ? h.Str("sender", "-") : out;
}

// The learned usual rate (host.flood's yardstick); "-" before it is learned.
std::string RatePerSec(double rate) {
  if (rate <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, rate < 10 ? "%.2f" : "%.0f", rate);
  return buf;
}

}  // namespace

int RunHosts(const ConsoleEnv& env, const HostsOptions& options) {
  bool from_files = false;
  auto hosts = LoadHosts(env, &from_files);
  if (!hosts.ok()) {
    *env.err << "konseki hosts: " << hosts.status().message() << "\n";
    return kExitError;
  }
  // One host parsed at a time; --json copies the shown hosts' text as the
  // daemon wrote it.
  if (options.json) {
    std::string head = "{\"time\":";
    AppendJsonNumber(hosts->time(), &head);
    head += from_files ? ",\"live\":false,\"hosts\":[" : ",\"live\":true,\"hosts\":[";
    *env.out << head;
    bool first = true;
    for (size_t i = 0; i < hosts->size(); ++i) {
      if (options.silent && !IsSilentState(hosts->Host(i).Str("state"))) continue;
      *env.out << (first ? "" : ",") << TerminalSafeJson(hosts->Text(i));
      first = false;
    }
    *env.out << "]}\n";
    return kExitOk;
  }
  if (from_files) {
    *env.out << env.palette.Yellow("konseki is not running") << ": hosts as last saved in "
             << StateDir(env.config) << " (thresholds and today's counts need the daemon)\n";
  }
  Table t({"HOST", "STATE", "LAST SEEN", "AGO", "SENDERS", "CADENCE", "THRESHOLD", "TODAY",
           "RATE/S", "FLOOD"});
  for (size_t i = 0; i < hosts->size(); ++i) {
    JsonValue h = hosts->Host(i);
    if (options.silent && !IsSilentState(h.Str("state"))) continue;
    const double last = h.Num("last_seen");
    // The name is what a sender wrote in its header.
    t.Add({TerminalSafe(h.Str("name")), Colour(env.palette, TerminalSafe(h.Str("state"))),
           FormatLocalTime(last), last > 0 ? FormatDuration(env.now - last) : "-",
           TerminalSafe(Senders(h)), Secs(h.Num("cadence_secs"), "learning"),
           Secs(h.Num("threshold_secs"), "never"),
           from_files ? "-" : std::to_string(h.Int("messages_today")),
           from_files ? "-" : RatePerSec(h.Num("rate_per_sec")),
           h.Num("last_flood") > 0 ? FormatDuration(env.now - h.Num("last_flood")) + " ago" : "-"});
  }
  if (t.rows() == 0) {
    *env.out << (options.silent ? "No silent hosts.\n" : "No hosts yet.\n");
    return kExitOk;
  }
  t.Print(*env.out, env.palette);
  return kExitOk;
}

}  // namespace konseki::app::console
