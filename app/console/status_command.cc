// konseki status: one screen about the running daemon.
#include <sstream>

#include "app/console/alert_log.h"
#include "app/console/console_commands.h"
#include "app/status_service.h"

namespace konseki::app::console {
namespace {

std::string SeverityCounts(const JsonValue& by_sev, const Palette& p) {
  std::string s;
  static const char* kOrder[] = {"critical", "high", "medium", "low", "info"};
  for (const char* sev : kOrder) {
    int64_t n = by_sev.Int(sev);
    if (n == 0) continue;
    if (!s.empty()) s += ", ";
    s += std::to_string(n) + " " + p.Severity(sev);
  }
  return s.empty() ? "none" : s;
}

void PrintListeners(const ConsoleEnv& env, const JsonValue& listeners) {
  Table t({"  LISTENER", "BOUND", "CONNECTIONS", "MESSAGES", "MSG/S"});
  for (size_t i = 0; i < listeners.size(); ++i) {
    JsonValue l = listeners.At(i);
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.1f", l.Num("messages_per_sec"));
    const bool stream = l.Str("transport") != "udp";
    t.Add({"  " + l.Str("name"), l.Str("bound"),
           stream ? std::to_string(l.Int("connections")) : "-",
           std::to_string(l.Int("received_messages")), rate});
  }
  t.Print(*env.out, env.palette);
}

void PrintLive(const ConsoleEnv& env, const JsonValue& s) {
  std::ostream& o = *env.out;
  const Palette& p = env.palette;
  o << p.Bold("konseki " + s.Str("version")) << ", pid " << s.Int("pid") << ", up "
    << FormatDuration(s.Num("uptime_secs")) << " (since " << FormatLocalTime(s.Num("start_time"))
    << "), config " << s.Str("config") << "\n\n";
  PrintListeners(env, s.Get("listeners"));

  JsonValue drops = s.Get("drops");
  std::string d;
  for (size_t i = 0; i < drops.size(); ++i) {
    JsonValue x = drops.At(i);
    if (x.Int("messages") == 0) continue;
    d += (d.empty() ? "" : ", ") + TerminalSafe(x.Str("stage") + "/" + x.Str("reason")) + " " +
         std::to_string(x.Int("messages"));
  }
  o << "\nDrops:    " << (d.empty() ? p.Green("none") : p.Red(d)) << "\n";
  // Kept but cut at max_message_bytes: their end is in neither the archive
  // nor the rules (a sender padding lines to push content out).
  JsonValue cut = s.Get("truncated");
  const int64_t cut_messages = cut.Int("messages");
  if (cut_messages == 0) {
    o << "Truncated: " << p.Green("none") << "\n";
  } else {
    const int64_t senders = cut.Int("senders");
    o << "Truncated: "
      << p.Red(std::to_string(cut_messages) + (cut_messages == 1 ? " message" : " messages") +
               " from " + std::to_string(senders) + (senders == 1 ? " sender" : " senders"))
      << " (cut at max_message_bytes: konseki alerts --sign konseki.message_truncated)\n";
  }
  // Connections closed for new ones: a flood, or senders behind one address
  // at their cap; shown only when there were some.
  JsonValue evicted = s.Get("evicted");
  const int64_t evicted_full = evicted.Int("max_connections");
  const int64_t evicted_source = evicted.Int("max_connections_per_source");
  if (evicted_full + evicted_source > 0) {
    const int64_t n = evicted_full + evicted_source;
    o << "Evicted:  "
      << p.Red(std::to_string(n) + (n == 1 ? " connection" : " connections") +
               " closed for new ones (listener full " + std::to_string(evicted_full) +
               ", per source " + std::to_string(evicted_source) + ")")
      << " (plain TCP senders lose what they write before they notice: konseki alerts --sign "
         "receiver.connections_evicted)\n";
  }
  // Failed TLS handshakes, shown only when some: a sender writing plain
  // syslog to a TLS port (not_tls) loses every line it sends, unseen.
  JsonValue tls_failed = s.Get("tls_handshake_failures");
  if (const std::vector<std::string> reasons = tls_failed.Keys(); !reasons.empty()) {
    int64_t n = 0;
    std::string by_reason;
    for (const std::string& r : reasons) {
      n += tls_failed.Int(r);
      by_reason += (by_reason.empty() ? "" : ", ") + TerminalSafe(r) + " " +
                   std::to_string(tls_failed.Int(r));
    }
    const std::string text =
        std::to_string(n) + (n == 1 ? " handshake" : " handshakes") + " failed (" + by_reason + ")";
    o << "TLS:      " << (tls_failed.Int("not_tls") > 0 ? p.Red(text) : p.Yellow(text));
    if (tls_failed.Int("not_tls") > 0) {
      o << " (not_tls: a sender wrote plain syslog to a TLS port and its lines are lost; "
           "konseki_tls_handshake_failures_total names the listener)";
    }
    o << "\n";
  }
  // Cut because the sender stalled mid-message or the connection closed
  // first: kept as they came, nothing skipped (shown only when some).
  JsonValue shortened = s.Get("cut_short");
  if (const int64_t n = shortened.Int("messages"); n > 0) {
    const int64_t senders = shortened.Int("senders");
    o << "Cut short: "
      << p.Yellow(std::to_string(n) + (n == 1 ? " message" : " messages") + " from " +
                  std::to_string(senders) + (senders == 1 ? " sender" : " senders"))
      << " (stalled mid-message or closed first; archived as they came, a later rest as its "
         "own line: konseki alerts --sign konseki.message_truncated)\n";
  }
  // Correlation / heartbeat state or spool that did not read back at start.
  if (const int64_t damaged = s.Int("damaged_state_files"); damaged > 0) {
    o << "State:    "
      << p.Red(std::to_string(damaged) +
               (damaged == 1 ? " damaged state file" : " damaged state files") +
               " set aside at start")
      << " (konseki alerts --sign konseki.state_corrupt)\n";
  }
  JsonValue q = s.Get("queue");
  char fill[32];
  std::snprintf(fill, sizeof fill, "%.0f%%", 100 * q.Num("max_fill"));
  o << "Queues:   " << q.Int("workers") << " workers, fullest at " << fill << " of "
    << FormatBytes(q.Num("max_bytes_per_worker"))
    << (q.Int("blocked_workers")
            ? ", " + p.Red(std::to_string(q.Int("blocked_workers")) + " blocked")
            : std::string(", none blocked"))
    << "\n";
  JsonValue a = s.Get("archive");
  o << "Archive:  " << a.Str("dir") << ", " << FormatBytes(a.Num("free_bytes")) << " free of "
    << FormatBytes(a.Num("total_bytes")) << ", " << a.Int("written_messages") << " lines written, "
    << (a.Int("write_errors") ? p.Red(std::to_string(a.Int("write_errors")) + " write errors")
                              : std::string("no write errors"))
    << (a.Bool("blocked") ? ", " + p.BoldRed("BLOCKED (cannot write)") : std::string()) << "\n";
  JsonValue r = s.Get("rules");
  JsonValue last = r.Get("last_reload");
  o << "Rules:    " << r.Int("loaded") << " loaded from " << r.Str("dir") << "; last load "
    << FormatLocalTime(last.Num("time")) << " "
    << (last.Bool("ok") ? p.Green("ok") : p.Red("FAILED: " + TerminalSafe(last.Str("error"))))
    << "\n";
  JsonValue al = s.Get("alerts");
  o << "Alerts:   last hour " << SeverityCounts(al.Get("last_hour"), p) << "; last day "
    << SeverityCounts(al.Get("last_day"), p)
    << (al.Bool("counting_earlier") ? " (so far: still reading the alert file of before the start)"
                                    : "")
    << "\n";
  JsonValue h = s.Get("hosts");
  JsonValue silent = h.Get("silent_hosts");
  // The daemon sends the first kStatusSilentNames (an older one sent all).
  const size_t count = std::max<size_t>(silent.size(), static_cast<size_t>(h.Int("silent")));
  const size_t shown = std::min(silent.size(), kStatusSilentNames);
  std::string names;
  for (size_t i = 0; i < shown; ++i) {
    names += (i ? ", " : "") + TerminalSafe(silent.At(i).AsString());  // as senders named them
  }
  if (count > shown) {
    names += " and " + std::to_string(count - shown) + " more (konseki hosts --silent)";
  }
  o << "Hosts:    " << h.Int("tracked") << " tracked, "
    << (count ? p.Red(std::to_string(count) + " silent: " + names) : p.Green("none silent"));
  // Hosts that flooded within the hour (an older daemon sends none).
  JsonValue flooding = h.Get("flooding_hosts");
  const size_t floods = std::max<size_t>(flooding.size(), static_cast<size_t>(h.Int("flooding")));
  if (floods > 0) {
    std::string flood_names;
    for (size_t i = 0; i < flooding.size(); ++i) {
      flood_names += (i ? ", " : "") + TerminalSafe(flooding.At(i).AsString());
    }
    if (floods > flooding.size()) {
      flood_names += " and " + std::to_string(floods - flooding.size()) + " more";
    }
    o << ", " << p.Red(std::to_string(floods) + " flooded in the last hour: " + flood_names);
  }
  o << "\n";
}

// The daemon is down: what the files still tell.
void PrintFromFiles(const ConsoleEnv& env) {
  std::ostream& o = *env.out;
  if (!env.config.alerts_file.empty()) {
    AlertFilter f;
    f.since = env.now - 86400;
    auto log = AlertLog::Open(env.config.alerts_file, f.since);
    if (log.ok()) {
      size_t hour = 0, day = 0;
      double newest = 0;
      (*log)->ForEach(f, [&](const AlertRecord& a, std::string_view) {
        ++day;
        hour += a.time >= env.now - 3600 ? 1 : 0;
        newest = a.time;
      });
      o << "From " << env.config.alerts_file << ": " << hour << " alerts in the last hour, " << day
        << " in the last day";
      if (day > 0) o << "; newest " << FormatLocalTime(newest);
      o << "\n";
    }
  }
  bool from_files = false;
  auto hosts = LoadHosts(env, &from_files);
  if (hosts.ok()) {
    o << "From the heartbeat state in " << StateDir(env.config) << ": " << hosts->size()
      << " hosts known (see konseki hosts)\n";
  }
}

}  // namespace

int RunStatus(const ConsoleEnv& env) {
  auto s = env.Ask("status");
  if (s.ok()) {
    PrintLive(env, *s);
    return kExitOk;
  }
  if (s.status().code() != StatusCode::kUnavailable) {
    *env.err << "konseki status: " << s.status().message() << "\n";
    return kExitError;
  }
  *env.out << env.palette.BoldRed(s.status().message()) << "\n";
  PrintFromFiles(env);
  return kExitNotRunning;
}

}  // namespace konseki::app::console
