#include "app/search_command.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <set>
#include <tuple>

#include "app/archive_line_host.h"
#include "app/config.h"
#include "app/console/console_format.h"
#include "common/clock.h"
#include "matchers/rule_loader.h"
#include "matchers/rule_set.h"
#include "outputs/archive_budget.h"
#include "outputs/archive_index.h"
#include "outputs/archive_search.h"
#include "outputs/host_path.h"
#include "outputs/seal_format.h"
#include "receiver/parser.h"

namespace konseki::app {
namespace {

// --since / --until read by the console's own parser (`konseki alerts
// --since`): "1h", "today", or a date and time, local unless it ends in Z
// or +HH:MM. Out: the archive's UTC timestamp (outputs::NormalizeSearchTime
// form), to the microsecond.
StatusOr<std::string> SearchTimeToUtc(std::string_view in, double now, bool since) {
  auto t = since ? console::ParseSince(in, now) : console::ParsePointInTime(in, now);
  if (!t.ok()) return t.status();
  const long long micros = std::llround(*t * 1e6);
  const time_t secs = static_cast<time_t>(micros / 1000000);
  struct tm utc;
  gmtime_r(&secs, &utc);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%06lldZ", micros % 1000000);
  return std::string(buf);
}

constexpr size_t kTimeLen = 27;  // "2025-12-01T10:00:00.000000Z"

// The sign's rules as a second stage, and their `match` expressions
// (caseless, leading '^' dropped: the line has a prefix before msg) as a
// Hyperscan prefilter that can only let more lines through. Without a
// usable prefilter (a '^' inside a pattern) every line goes to the rules.
struct SignFilter {
  std::shared_ptr<const matchers::RuleSet> rules;
  receiver::Parser parser;
  std::vector<std::string> prefilter;

  bool Match(std::string_view line) const {
    if (line.size() < kTimeLen + 2) return false;
    std::string_view rest = line.substr(kTimeLen + 1);
    const size_t sp = rest.find(' ');
    if (sp == std::string_view::npos) return false;
    std::string_view raw = rest.substr(sp + 1);
    thread_local std::unique_ptr<matchers::RuleSet::Scratch> scratch;
    thread_local const matchers::RuleSet* scratch_owner = nullptr;
    if (scratch_owner != rules.get()) {
      auto s = rules->NewScratch();
      if (!s.ok()) return false;
      scratch = std::move(s).value();
      scratch_owner = rules.get();
    }
    Message msg;
    parser.Parse(raw, TimePoint(), &msg);
    thread_local std::vector<matchers::RuleHit> hits;
    rules->Match(msg, *scratch, &hits);
    return !hits.empty();
  }
};

// Whether a line of an overflow folder (outputs/archive_search.h) is of a
// host whose folder name `glob` matches (app/archive_line_host.h: an
// escape can let a line of another host through, shown, never hidden).
bool OverflowLineOfHost(const receiver::Parser& parser, const std::string& glob,
                        std::string_view line) {
  return ArchiveLineHostIs(parser, line, [&](const std::string& folder) {
    return outputs::HostGlobMatches(glob, folder);
  });
}

StatusOr<std::unique_ptr<SignFilter>> MakeSignFilter(const std::string& sign,
                                                     const std::string& dir) {
  auto all = matchers::LoadRuleDir(dir.empty() ? matchers::DefaultRulesDir() : dir);
  if (!all.ok()) return all.status();
  std::vector<matchers::Rule> picked;
  std::set<std::string> signs;
  for (matchers::Rule& r : *all) {
    signs.insert(r.sign);
    if (r.sign == sign) picked.push_back(std::move(r));
  }
  if (picked.empty()) {
    std::string known;
    for (const std::string& s : signs) known += (known.empty() ? "" : ", ") + s;
    return Status::InvalidArgument("no rule has sign '" + sign + "' (signs: " + known + ")");
  }
  auto f = std::make_unique<SignFilter>();
  bool usable = true;
  for (const matchers::Rule& r : picked) {
    for (std::string m : r.match) {
      if (!m.empty() && m[0] == '^') m.erase(0, 1);
      usable = usable && m.find('^') == std::string::npos;
      f->prefilter.push_back(std::move(m));
    }
  }
  if (!usable) f->prefilter.clear();
  auto set = matchers::RuleSet::Compile(std::move(picked));
  if (!set.ok()) return set.status();
  f->rules = std::move(set).value();
  return f;
}

// Runs the search, writes the lines to out (and the figures to err with
// --stats); the exit status.
int PrintMatches(const outputs::ArchiveSearch& s, bool with_stats, bool terminal, std::ostream& out,
                 std::ostream& err) {
  outputs::SearchStats stats;
  const auto t0 = std::chrono::steady_clock::now();
  std::string pending;  // written in large blocks: per-line stream writes cost more than the scan
  Status st = s.Run(
      [&](std::string_view l) {
        if (terminal) {
          console::AppendTerminalSafe(l, &pending);
        } else {
          pending.append(l);
        }
        pending.push_back('\n');
        if (pending.size() >= (1 << 20)) {
          out.write(pending.data(), static_cast<std::streamsize>(pending.size()));
          pending.clear();
        }
      },
      &stats);
  out.write(pending.data(), static_cast<std::streamsize>(pending.size()));
  out.flush();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const std::string& n : stats.notes) err << "konseki search: note: " << n << "\n";
  if (with_stats) {
    char buf[400];
    std::snprintf(buf, sizeof(buf),
                  "%llu matches in %llu files, %.1f MB scanned in %.3f s (%.0f MB/s); "
                  "index: %llu files, %.1f MB skipped, %.2f MB of index read, "
                  "%llu files not consulted (no block skipped before)\n",
                  static_cast<unsigned long long>(stats.matches),
                  static_cast<unsigned long long>(stats.files), stats.bytes / 1e6, secs,
                  secs > 0 ? stats.bytes / 1e6 / secs : 0.0,
                  static_cast<unsigned long long>(stats.indexed_files), stats.skipped_bytes / 1e6,
                  stats.index_bytes / 1e6,
                  static_cast<unsigned long long>(stats.index_given_up_files));
    err << buf;
  }
  if (!st.ok()) {
    err << "konseki search: " << st.message() << "\n";
    return 2;
  }
  return stats.matches > 0 ? 0 : 1;
}

// --host GLOB against the archive's folders: how many host folders it
// names, and how many overflow folders it does not name itself (searched
// line by line for the hosts past archive.max_hosts).
struct HostFolders {
  size_t named = 0;
  size_t overflow = 0;
  std::error_code error;  // the archive folder could not be read
};

HostFolders CountHostFolders(const std::string& root, const std::string& glob) {
  HostFolders n;
  std::error_code entry_ec;  // an entry gone meanwhile is no error
  for (const std::filesystem::directory_entry& e :
       std::filesystem::directory_iterator(root, n.error)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.' || !e.is_directory(entry_ec)) continue;  // .state, .seal...
    if (outputs::HostGlobMatches(glob, name)) {
      ++n.named;
    } else if (outputs::IsOverflowFolder(name)) {
      ++n.overflow;
    }
  }
  return n;
}

StatusOr<Config> LoadConfigOrDefault(const std::string& path) {
  return path.empty() ? ParseConfig(EmbeddedDefaultConfig(), "<embedded default>")
                      : LoadConfigFile(path);
}

}  // namespace

int RunSearch(const SearchCommand& cmd, std::ostream& out, std::ostream& err) {
  outputs::SearchOptions o;
  o.host_glob = cmd.host_glob;
  o.overflow_host_filter = [parser = receiver::Parser(),
                            glob = cmd.host_glob](std::string_view line) {
    return OverflowLineOfHost(parser, glob, line);
  };
  o.caseless = cmd.caseless;
  o.threads = cmd.threads;
  o.root = cmd.dir;
  o.use_index = !cmd.no_index;
  if (cmd.today != INT64_MIN) o.expect_index_before_day = cmd.today - 1;
  std::string rules_dir = cmd.rules_dir;
  if (o.root.empty() || (!cmd.sign.empty() && rules_dir.empty())) {
    auto c = LoadConfigOrDefault(cmd.config_path);
    if (!c.ok()) {
      err << "konseki search: " << c.status().message() << "\n";
      return 2;
    }
    if (o.root.empty()) o.root = c->archive.dir;
    if (rules_dir.empty()) rules_dir = c->rules_dir;
  }
  for (auto [in, norm, name] :
       {std::tuple{&cmd.since, &o.since, "--since"}, std::tuple{&cmd.until, &o.until, "--until"}}) {
    if (in->empty()) continue;
    auto t = SearchTimeToUtc(*in, cmd.now, norm == &o.since);
    if (!t.ok()) {
      err << "konseki search: " << name << ": " << t.status().message() << "\n";
      return 2;
    }
    *norm = std::move(t).value();
  }
  std::unique_ptr<SignFilter> sign;
  if (!cmd.sign.empty()) {
    if (!cmd.patterns.empty()) {
      err << "konseki search: give --sign or patterns, not both\n";
      return 2;
    }
    auto f = MakeSignFilter(cmd.sign, rules_dir);
    if (!f.ok()) {
      err << "konseki search: " << f.status().message() << "\n";
      return 2;
    }
    sign = std::move(f).value();
    o.patterns = sign->prefilter;
    o.caseless = true;
    const SignFilter* sf = sign.get();
    o.filter = [sf](std::string_view line) { return sf->Match(line); };
  } else {
    o.patterns = cmd.patterns;
    if (o.patterns.empty()) {
      err << "konseki search: give at least one PATTERN or --sign\n";
      return 2;
    }
  }
  // A --host that names no folder is not "no match": the host never sent a
  // line here (or the name is mistyped). Said, and exit 2 like any error,
  // unless overflow folders may hold its lines.
  HostFolders folders;
  if (cmd.host_glob != "*") {
    folders = CountHostFolders(o.root, cmd.host_glob);
    if (folders.error) {
      err << "konseki search: cannot read the archive folder " << o.root << ": "
          << folders.error.message() << "\n";
      return 2;
    }
    if (folders.named == 0 && folders.overflow == 0) {
      err << "konseki search: no host folder in " << o.root << " is named '" << cmd.host_glob
          << "' (as alerts and `konseki hosts` name hosts, or by folder name): no such host "
             "in the archive\n";
      return 2;
    }
  }
  auto s = outputs::ArchiveSearch::Create(std::move(o));
  if (!s.ok()) {
    err << "konseki " << s.status().message() << "\n";
    return 2;
  }
  const int rc = PrintMatches(**s, cmd.stats, cmd.terminal, out, err);
  if (rc == 1 && cmd.host_glob != "*" && folders.named == 0) {
    err << "konseki search: note: no host folder is named '" << cmd.host_glob << "'; the "
        << folders.overflow
        << " overflow folder(s) (hosts past archive.max_hosts) hold no matching line of it\n";
  }
  return rc;
}

int RunIndex(const IndexCommand& cmd, std::ostream& out, std::ostream& err) {
  std::string root = cmd.dir;
  if (root.empty()) {
    auto c = LoadConfigOrDefault(cmd.config_path);
    if (!c.ok()) {
      err << "konseki index: " << c.status().message() << "\n";
      return 2;
    }
    root = c->archive.dir;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  uint64_t built = 0, current = 0, data_bytes = 0, index_bytes = 0, failed = 0;
  for (const fs::directory_entry& host : fs::directory_iterator(root, ec)) {
    const std::string name = host.path().filename().string();
    if (!host.is_directory() || !outputs::HostGlobMatches(cmd.host_glob, name)) continue;
    for (const fs::directory_entry& file : fs::directory_iterator(host.path(), ec)) {
      std::string_view h;
      int64_t day;
      const std::string path = file.path().string();
      if (!outputs::ParseArchivePath(name + "/" + file.path().filename().string(), &h, &day) ||
          day >= cmd.today - 1) {
        continue;
      }
      if (!cmd.force && outputs::ArchiveIndex::LooksCurrent(path)) {
        ++current;
      } else if (Status st = outputs::ArchiveIndex::Build(path); !st.ok()) {
        err << "konseki index: " << st.message() << "\n";
        ++failed;
        continue;
      } else {
        ++built;
      }
      data_bytes += fs::file_size(path, ec);
      index_bytes += fs::file_size(path + std::string(outputs::kIndexSuffix), ec);
    }
  }
  if (ec) {
    err << "konseki index: " << root << ": " << ec.message() << "\n";
    return 2;
  }
  char buf[200];
  std::snprintf(buf, sizeof(buf),
                "%llu indexes written, %llu current; indexes %.1f MB = %.2f%% of %.1f MB of "
                "day files\n",
                static_cast<unsigned long long>(built), static_cast<unsigned long long>(current),
                index_bytes / 1e6, data_bytes ? 100.0 * index_bytes / data_bytes : 0.0,
                data_bytes / 1e6);
  out << buf;
  return failed > 0 ? 2 : 0;
}

}  // namespace konseki::app
