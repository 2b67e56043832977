#include "app/search_command.h"

#include <fnmatch.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <set>

#include "app/config.h"
#include "app/console/console_format.h"
#include "common/clock.h"
#include "matchers/rule_loader.h"
#include "matchers/rule_set.h"
#include "outputs/archive_index.h"
#include "outputs/archive_search.h"
#include "outputs/host_path.h"
#include "outputs/seal_format.h"
#include "receiver/parser.h"

namespace konseki::app {
namespace {

// --since / --until as the console's --since takes a date: local time unless
// it ends in Z or +HH:MM/-HH:MM, so a time copied from `konseki alerts`
// (local) or from an archive line (UTC, ending in Z) means what it says.
// Out: the archive's UTC timestamp (outputs::NormalizeSearchTime). False
// for anything else and for dates that do not exist (2025-02-30).
bool SearchTimeToUtc(std::string_view in, std::string* out) {
  bool local = true;
  int offset = 0;
  if (!in.empty() && (in.back() == 'Z' || in.back() == 'z')) {
    in.remove_suffix(1);
    local = false;
  } else if (in.size() > 16 && (in[in.size() - 6] == '+' || in[in.size() - 6] == '-') &&
             in[in.size() - 3] == ':') {
    const std::string_view z = in.substr(in.size() - 6);
    int h = 0, m = 0;
    if (std::sscanf(std::string(z.substr(1)).c_str(), "%2d:%2d", &h, &m) != 2 || h > 23 || m > 59) {
      return false;
    }
    offset = (z[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    in.remove_suffix(6);
    local = false;
  }
  std::string norm;  // "YYYY-MM-DDTHH:MM:SS.ffffffZ", read as given
  if (!outputs::NormalizeSearchTime(in, &norm)) return false;
  struct tm tm = {};
  if (std::sscanf(norm.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return false;
  }
  const int mday = tm.tm_mday, mon = tm.tm_mon;
  if (mon < 1 || mon > 12 || mday < 1 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59) {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_isdst = -1;
  const time_t t = local ? mktime(&tm) : timegm(&tm) - offset;
  if (tm.tm_mday != mday || tm.tm_mon != mon - 1) return false;  // rolled over: no such day
  struct tm utc;
  gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  *out = buf + norm.substr(19);  // the fraction and the Z as given
  return true;
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

// raw with the archive's "#ooo" escapes of control bytes (outputs/archive.h)
// turned back into the bytes; false if it holds none.
bool UnescapeControls(std::string_view raw, std::string* out) {
  out->clear();
  bool any = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '#' && i + 3 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '1' &&
        raw[i + 2] >= '0' && raw[i + 2] <= '7' && raw[i + 3] >= '0' && raw[i + 3] <= '7') {
      const int c = (raw[i + 1] - '0') * 64 + (raw[i + 2] - '0') * 8 + (raw[i + 3] - '0');
      if (c < 0x20 || c == 0x7f) {
        out->push_back(static_cast<char>(c));
        i += 3;
        any = true;
        continue;
      }
    }
    out->push_back(raw[i]);
  }
  return any;
}

// Whether a line of an overflow folder (outputs/archive_search.h) is of a
// host whose folder name `glob` matches: the host as the daemon took it
// (the header's hostname, else the sender: app/router.cc) through
// SanitizeHost. The daemon parsed the raw bytes, the archive holds them
// escaped: both readings are tried, so an escape can let a line of
// another host through (shown, never hidden).
bool OverflowLineOfHost(const receiver::Parser& parser, const std::string& glob,
                        std::string_view line) {
  if (line.size() < kTimeLen + 2) return false;
  std::string_view rest = line.substr(kTimeLen + 1);
  const size_t sp = rest.find(' ');
  if (sp == std::string_view::npos) return false;
  std::string_view sender = rest.substr(0, sp);
  if (sender == "-") sender = {};
  const std::string_view raw = rest.substr(sp + 1);
  thread_local std::string folder, unescaped;
  auto matches = [&](std::string_view bytes) {
    Message msg;
    parser.Parse(bytes, TimePoint(), &msg);
    outputs::SanitizeHost(msg.hostname.empty() ? sender : msg.hostname, &folder);
    return fnmatch(glob.c_str(), folder.c_str(), 0) == 0;
  };
  return matches(raw) || (UnescapeControls(raw, &unescaped) && matches(unescaped));
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
  for (auto [in, norm] : {std::pair{&cmd.since, &o.since}, std::pair{&cmd.until, &o.until}}) {
    if (!in->empty() && !SearchTimeToUtc(*in, norm)) {
      err << "konseki search: bad time '" << *in
          << "': expected YYYY-MM-DD[THH:MM[:SS[.ffffff]]], local time unless it ends in Z or "
             "+HH:MM\n";
      return 2;
    }
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
  auto s = outputs::ArchiveSearch::Create(std::move(o));
  if (!s.ok()) {
    err << "konseki " << s.status().message() << "\n";
    return 2;
  }
  return PrintMatches(**s, cmd.stats, cmd.terminal, out, err);
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
    if (!host.is_directory() || fnmatch(cmd.host_glob.c_str(), name.c_str(), 0) != 0) continue;
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
