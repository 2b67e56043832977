#include "app/search_command.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <set>

#include "app/config.h"
#include "common/clock.h"
#include "matchers/rule_loader.h"
#include "matchers/rule_set.h"
#include "outputs/archive_search.h"
#include "receiver/parser.h"

namespace konseki::app {
namespace {

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
int PrintMatches(const outputs::ArchiveSearch& s, bool with_stats, std::ostream& out,
                 std::ostream& err) {
  outputs::SearchStats stats;
  const auto t0 = std::chrono::steady_clock::now();
  std::string pending;  // written in large blocks: per-line stream writes cost more than the scan
  Status st = s.Run(
      [&](std::string_view l) {
        pending.append(l).push_back('\n');
        if (pending.size() >= (1 << 20)) {
          out.write(pending.data(), static_cast<std::streamsize>(pending.size()));
          pending.clear();
        }
      },
      &stats);
  out.write(pending.data(), static_cast<std::streamsize>(pending.size()));
  out.flush();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (with_stats) {
    char buf[200];
    std::snprintf(buf, sizeof(buf), "%llu matches in %llu files, %.1f MB in %.3f s (%.0f MB/s)\n",
                  static_cast<unsigned long long>(stats.matches),
                  static_cast<unsigned long long>(stats.files), stats.bytes / 1e6, secs,
                  secs > 0 ? stats.bytes / 1e6 / secs : 0.0);
    err << buf;
  }
  if (!st.ok()) {
    err << "konseki search: " << st.message() << "\n";
    return 2;
  }
  return stats.matches > 0 ? 0 : 1;
}

}  // namespace

int RunSearch(const SearchCommand& cmd, std::ostream& out, std::ostream& err) {
  outputs::SearchOptions o;
  o.host_glob = cmd.host_glob;
  o.caseless = cmd.caseless;
  o.threads = cmd.threads;
  o.root = cmd.dir;
  std::string rules_dir = cmd.rules_dir;
  if (o.root.empty() || (!cmd.sign.empty() && rules_dir.empty())) {
    auto c = cmd.config_path.empty() ? ParseConfig(EmbeddedDefaultConfig(), "<embedded default>")
                                     : LoadConfigFile(cmd.config_path);
    if (!c.ok()) {
      err << "konseki search: " << c.status().message() << "\n";
      return 2;
    }
    if (o.root.empty()) o.root = c->archive.dir;
    if (rules_dir.empty()) rules_dir = c->rules_dir;
  }
  for (auto [in, norm] : {std::pair{&cmd.since, &o.since}, std::pair{&cmd.until, &o.until}}) {
    if (!in->empty() && !outputs::NormalizeSearchTime(*in, norm)) {
      err << "konseki search: bad time '" << *in
          << "': expected YYYY-MM-DD[THH:MM[:SS[.ffffff]]][Z] (UTC)\n";
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
  return PrintMatches(**s, cmd.stats, out, err);
}

}  // namespace konseki::app
