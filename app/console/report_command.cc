// konseki report: a logwatch-style plain-text digest of a period, printed or
// mailed through sendmail -t.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <set>
#include <sstream>

#include "app/console/alert_log.h"
#include "app/console/console_commands.h"

namespace konseki::app::console {
namespace {

using Count = std::pair<std::string, size_t>;

// How many distinct names a count table keeps (signs, hosts, sources: what
// senders choose) and how many entries a list shows: the report reads a
// period of alerts one at a time and its memory must not grow with them,
// nor its text with a flood of invented host names.
constexpr size_t kMaxNames = 100000;
constexpr size_t kListed = 50;

// Keys sorted by count (descending), then name.
std::vector<Count> Ranked(const std::map<std::string, size_t>& m, size_t limit) {
  std::vector<Count> v(m.begin(), m.end());
  std::stable_sort(v.begin(), v.end(),
                   [](const Count& a, const Count& b) { return a.second > b.second; });
  if (v.size() > limit) v.resize(limit);
  return v;
}

// Every value below that comes from an alert or a host (names, titles,
// fields, messages: what senders wrote) goes through TerminalSafe, on its
// own: the report is read on a terminal and mailed, and a value's own
// newlines must not forge the report's lines.
std::string Fields(const AlertRecord& a) {
  JsonValue f = a.json.Get("fields");
  std::string s;
  for (const std::string& k : f.Keys()) s += (s.empty() ? "" : " ") + k + "=" + f.Str(k);
  return TerminalSafe(s);
}

std::string Safe(std::string_view s) { return TerminalSafe(s); }

// Correlations whose inputs are failures from one source.
bool IsFailureBurst(const std::string& sign) {
  return sign == "ssh.bruteforce" || sign == "ssh.user_enum";
}

bool IsFailure(const std::string& sign) {
  for (const char* w : {"fail", "refused", "denied", "violation", "invalid"}) {
    if (sign.find(w) != std::string::npos) return true;
  }
  return false;
}

void HostsSection(const ConsoleEnv& env, std::ostream& o, double since) {
  o << "\nHosts\n";
  bool from_files = false;
  auto hosts = LoadHosts(env, &from_files);
  if (!hosts.ok()) {
    o << "  unknown: " << hosts.status().message() << "\n";
    return;
  }
  // Those that need a look first, then the new ones; kListed of each.
  std::vector<std::string> look, fresh;
  size_t looks = 0, news = 0;
  for (size_t i = 0; i < hosts->size(); ++i) {
    JsonValue h = hosts->Host(i);
    const std::string state = h.Str("state");
    const double first = h.Num("first_seen");
    std::string what;
    bool is_new = false;
    if (state == "silent" || state == "stopped") {
      what = state + ", last seen " + FormatLocalTime(h.Num("last_seen")) + " (" +
             FormatDuration(env.now - h.Num("last_seen")) + " ago)";
    } else if (state == "expected-never-seen") {
      what = "expected, never seen";
    } else if (first >= since) {
      // "from" one address; a host name sent from two (a forged name sends
      // from its own address) lists them all: the newest sender alone would
      // name a forger as where the host came from (prod15).
      const JsonValue senders = h.Get("senders");
      what = "new, first seen " + FormatLocalTime(first);
      if (senders.size() > 1) {
        what += ", senders (latest first):";
        for (size_t s = 0; s < senders.size(); ++s) {
          what += (s == 0 ? " " : ", ") + Safe(senders.At(s).AsString());
        }
        what += " (more than one: check the name is not forged)";
      } else {
        what += " from " + Safe(h.Str("sender"));
      }
      is_new = true;
    } else {
      continue;
    }
    std::vector<std::string>& to = is_new ? fresh : look;
    ++(is_new ? news : looks);
    if (to.size() < kListed) to.push_back("  " + Safe(h.Str("name")) + ": " + what + "\n");
  }
  for (const std::string& line : look) o << line;
  if (looks > look.size()) {
    o << "  (" << looks - look.size()
      << " more silent, stopped or expected: konseki hosts --silent)\n";
  }
  for (const std::string& line : fresh) o << line;
  if (news > fresh.size()) o << "  (" << news - fresh.size() << " more new: konseki hosts)\n";
  o << "  " << hosts->size() << " hosts tracked" << (looks + news ? "" : ", none silent or new")
    << (from_files ? " (konseki is not running: as last saved)" : "") << "\n";
}

// Where a correlation alert's lines are: "lines: 8 in web1/2026-11-23.log
// (10:00:00 .. 10:01:52)" per archive file, receive times local.
void MembersLine(std::ostream& o, const JsonValue& members) {
  std::map<std::string, std::pair<size_t, std::pair<double, double>>> files;
  std::vector<std::string> order;
  for (size_t i = 0; i < members.size(); ++i) {
    JsonValue m = members.At(i);
    const std::string file = m.Str("file");
    auto t = ParseRfc3339(m.Str("received"));
    const double secs = t.ok() ? *t : 0;
    auto [it, fresh] = files.try_emplace(file, 0, std::make_pair(secs, secs));
    if (fresh) order.push_back(file);
    ++it->second.first;
    it->second.second.first = std::min(it->second.second.first, secs);
    it->second.second.second = std::max(it->second.second.second, secs);
  }
  for (const std::string& file : order) {
    const auto& [n, range] = files[file];
    o << "    lines: " << n << " in " << Safe(file) << " (" << FormatLocalTime(range.first)
      << " .. " << FormatLocalTime(range.second) << ")\n";
  }
}

// Counts per name; past kMaxNames distinct names, new ones are counted
// together as others.
class CappedCounts {
 public:
  void Add(const std::string& name, size_t n, Severity sev = Severity::kInfo) {
    auto it = counts_.find(name);
    if (it == counts_.end()) {
      if (counts_.size() >= kMaxNames) {
        others_ += n;
        return;
      }
      it = counts_.emplace(name, Entry{}).first;
    }
    it->second.n += n;
    it->second.worst = std::max(it->second.worst, sev);
    counted_ += n;
  }
  bool empty() const { return counts_.empty() && others_ == 0; }
  // The `limit` largest (by count, then name).
  std::vector<std::pair<std::string, size_t>> Top(size_t limit) const {
    std::map<std::string, size_t> m;
    for (const auto& [k, e] : counts_) m.emplace(k, e.n);
    return Ranked(m, limit);
  }
  Severity Worst(const std::string& name) const {
    auto it = counts_.find(name);
    return it == counts_.end() ? Severity::kInfo : it->second.worst;
  }
  // What Top(limit) left out, counted together: "    2970 more hosts
  // (2970 alerts)" (`what` plural, `unit` what the counts count). Nothing
  // when every name was shown.
  void PrintRest(std::ostream& o, const char* indent,
                 const std::vector<std::pair<std::string, size_t>>& shown, const char* what,
                 const char* unit) const {
    if (shown.size() >= counts_.size()) return;
    size_t n = counted_;
    for (const auto& s : shown) n -= s.second;
    o << indent << counts_.size() - shown.size() << " more " << what << " (" << n << " " << unit
      << ")\n";
  }
  // "    (N more in more than 100000 other <what>, not counted one by one)"
  void PrintOthers(std::ostream& o, const char* indent, const char* what) const {
    if (others_ == 0) return;
    o << indent << "(" << others_ << " more for other " << what << ": past " << kMaxNames
      << " different " << what << ", they are not counted one by one)\n";
  }

 private:
  struct Entry {
    size_t n = 0;
    Severity worst = Severity::kInfo;
  };
  std::map<std::string, Entry> counts_;
  size_t counted_ = 0;  // the sum of counts_
  size_t others_ = 0;
};

// The latest kListed entries (already rendered) and how many there were.
class LatestList {
 public:
  void Add(std::string entry) {
    ++total_;
    entries_.push_back(std::move(entry));
    if (entries_.size() > kListed) entries_.pop_front();
  }
  // `all` is the command that lists every one.
  void Print(std::ostream& o, const std::string& all) const {
    if (total_ > entries_.size()) {
      o << "  (" << total_ - entries_.size() << " earlier not listed: " << all << ")\n";
    }
    for (const std::string& e : entries_) o << e;
    if (total_ == 0) o << "  none\n";
  }

 private:
  std::deque<std::string> entries_;
  size_t total_ = 0;
};

std::string Entry(const AlertRecord& a) {
  return "  " + FormatLocalTime(a.time) + "  " + Safe(a.host) + "  " + Safe(a.title) + "  " +
         Fields(a) + "\n";
}

std::string CorrelationEntry(const AlertRecord& a) {
  std::ostringstream o;
  o << "  " << FormatLocalTime(a.time) << "  " << SeverityName(a.severity) << "  " << Safe(a.sign)
    << "  " << Safe(a.host) << "  " << Safe(a.title) << "\n    " << Fields(a) << "\n    "
    << Safe(a.json.Str("message")) << "\n";
  MembersLine(o, a.json.Get("members"));
  return o.str();
}

// The alert sections, counted as the alerts stream past.
class AlertsDigest {
 public:
  explicit AlertsDigest(double since) : since_(since) {}
  void Add(const AlertRecord& a) {
    ++total_;
    by_sign_.Add(a.sign, 1, a.severity);
    by_host_.Add(a.host, 1);
    if (a.sign == "account.change") users_.Add(Entry(a));
    if (a.sign == "cron.change" || a.sign == "kernel.module") changes_.Add(Entry(a));
    if (a.json.Get("members").size() > 0) correlations_.Add(CorrelationEntry(a));
    JsonValue f = a.json.Get("fields");
    if (f.Has("src_ip")) {
      // A failure line counts once; a brute-force or enumeration alert (the
      // failures are their inputs, not alerts) counts the failures it saw.
      if (IsFailure(a.sign)) sources_.Add(f.Str("src_ip"), 1);
      if (IsFailureBurst(a.sign)) {
        sources_.Add(f.Str("src_ip"), static_cast<size_t>(std::max<int64_t>(1, f.Int("count"))));
      }
    }
  }
  // `notes` (about the files read) go under the total.
  void Print(std::ostream& o, const std::string& notes) const;

 private:
  double since_;
  size_t total_ = 0;
  CappedCounts by_sign_, by_host_, sources_;
  LatestList users_, changes_, correlations_;
};

void AlertsDigest::Print(std::ostream& o, const std::string& notes) const {
  o << "\nAlerts: " << total_ << "\n" << notes;
  if (total_ > 0) {
    o << "  by sign:\n";
    const auto signs = by_sign_.Top(30);
    for (const auto& [sign, n] : signs) {
      char line[256];
      std::snprintf(line, sizeof line, "    %-28s %6zu  (%s)\n", Safe(sign).c_str(), n,
                    SeverityName(by_sign_.Worst(sign)));
      o << line;
    }
    by_sign_.PrintRest(o, "    ", signs, "signs", "alerts");
    by_sign_.PrintOthers(o, "    ", "signs");
    o << "  by host:\n";
    const auto hosts = by_host_.Top(30);
    for (const auto& [host, n] : hosts) {
      char line[256];
      std::snprintf(line, sizeof line, "    %-28s %6zu\n", Safe(host).c_str(), n);
      o << line;
    }
    by_host_.PrintRest(o, "    ", hosts, "hosts", "alerts");
    by_host_.PrintOthers(o, "    ", "hosts");
  }
  const std::string since = " --since '" + FormatLocalTime(since_) + "'";
  // Every account change, not only useradd's "new user" line: a second
  // root (UID 0), a user put in sudo/wheel, a shell or password changed.
  o << "\nAccount changes\n";
  users_.Print(o, "konseki alerts --sign account.change" + since);
  o << "\nCron and kernel module changes\n";
  changes_.Print(o, "konseki alerts --sign cron.change" + since + ", --sign kernel.module");
  o << "\nCorrelation alerts\n";
  correlations_.Print(o, "konseki alerts" + since);
  o << "\nTop sources of failures\n";
  const auto sources = sources_.Top(10);
  for (const auto& [src, n] : sources) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-40s %6zu\n", Safe(src).c_str(), n);
    o << line;
  }
  sources_.PrintRest(o, "  ", sources, "sources", "failures");
  sources_.PrintOthers(o, "  ", "sources");
  if (sources_.empty()) o << "  none\n";
}

void DropsSection(const ConsoleEnv& env, std::ostream& o) {
  o << "\nDrops (since konseki started)\n";
  auto s = env.Ask("status");
  if (!s.ok()) {
    o << "  unknown: " << s.status().message() << "\n";
    return;
  }
  JsonValue drops = s->Get("drops");
  size_t shown = 0;
  for (size_t i = 0; i < drops.size(); ++i) {
    JsonValue d = drops.At(i);
    if (d.Int("messages") == 0) continue;
    o << "  " << Safe(d.Str("stage") + "/" + d.Str("reason")) << ": " << d.Int("messages") << "\n";
    ++shown;
  }
  if (shown == 0) o << "  none\n";
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "this host";
  return buf;
}

Status Mail(const std::string& sendmail, const std::string& to, const std::string& subject,
            const std::string& body) {
  if (to.find_first_of("\r\n") != std::string::npos) {
    return Status::InvalidArgument("--mail-to: the address must be on one line");
  }
  if (access(sendmail.c_str(), X_OK) != 0) {
    return Status::NotFound("cannot mail: " + sendmail +
                            " not found (install a mail transfer agent such as postfix or "
                            "dma, or print the report and mail it yourself)");
  }
  int fds[2];
  if (pipe(fds) != 0) return Status::FromErrno("pipe", errno);
  pid_t pid = fork();
  if (pid < 0) return Status::FromErrno("fork", errno);
  if (pid == 0) {
    dup2(fds[0], 0);
    close(fds[0]);
    close(fds[1]);
    execl(sendmail.c_str(), "sendmail", "-t", "-oi", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[0]);
  const std::string msg = "To: " + to + "\nSubject: " + subject +
                          "\nContent-Type: text/plain; charset=UTF-8\n\n" + body;
  bool written = true;
  for (size_t off = 0; off < msg.size();) {
    ssize_t n = write(fds[1], msg.data() + off, msg.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      written = false;
      break;
    }
    off += static_cast<size_t>(n);
  }
  close(fds[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!written || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::IoError(sendmail + " -t failed (exit status " +
                           std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::string> BuildReport(const ConsoleEnv& env, double since) {
  std::ostringstream o;
  o << "konseki report for " << HostName() << ": " << FormatLocalTime(since) << " to "
    << FormatLocalTime(env.now) << " (" << FormatDuration(env.now - since) << ")\n";
  HostsSection(env, o, since);
  if (env.config.alerts_file.empty()) {
    o << "\nAlerts: unknown (" << env.config.source << " has no alerts.file)\n";
  } else {
    AlertsDigest digest(since);
    AlertFilter f;
    f.since = since;
    auto log = AlertLog::Open(env.config.alerts_file, since);
    if (!log.ok() && log.status().code() != StatusCode::kNotFound) return log.status();
    if (log.ok())
      (*log)->ForEach(f, [&](const AlertRecord& a, std::string_view) { digest.Add(a); });
    std::string notes;
    if (log.ok()) {
      for (const std::string& note : (*log)->notes()) notes += "  (" + Safe(note) + ")\n";
    }
    if (const double t = log.ok() ? (*log)->reaches_back_only_to() : 0; t > 0) {
      notes += "  (the alert files reach back only to " + FormatLocalTime(t) + ": " +
               Safe((*log)->files().front()) + " is the oldest kept)\n";
    }
    digest.Print(o, notes);
  }
  DropsSection(env, o);
  return o.str();
}

int RunReport(const ConsoleEnv& env, const ReportOptions& options) {
  auto since = ParseSince(options.since, env.now);
  if (!since.ok()) {
    *env.err << "konseki report: --since: " << since.status().message() << "\n";
    return kExitError;
  }
  auto text = BuildReport(env, *since);
  if (!text.ok()) {
    *env.err << "konseki report: " << text.status().message() << "\n";
    return kExitError;
  }
  if (options.mail_to.empty()) {
    *env.out << *text;
    return kExitOk;
  }
  Status s = Mail(options.sendmail, options.mail_to, "konseki report for " + HostName(), *text);
  if (!s.ok()) {
    *env.err << "konseki report: " << s.message() << "\n";
    return kExitError;
  }
  return kExitOk;
}

}  // namespace konseki::app::console
