// The full rule pack over real corpus lines: RuleSet (one Hyperscan database,
// RE2 extraction for the rules that hit) against two peers doing the same
// work in the same run:
//   BM_Re2Set      RE2::Set of every match expression, then the same program
//                  filter and extraction for the rules that hit;
//   BM_Re2PerRule  one RE2 per expression tried in turn, the fail2ban way,
//                  then the same program filter and extraction.
// Arg 0: corpus lines as they are (27% raise an alert: the corpus is mostly
// attacks); arg 256: each message's text brought to exactly 256 bytes
// (padded with benign log text, or cut), the size the target is stated for;
// arg 1256: the 256-byte messages that raise nothing, the common case. Ratios against Hyperscan are
// printed at the end.
//
// --rules_dir=DIR benches the packs of DIR instead of the source tree's
// patterns/ (to compare two versions of the packs in one session).
// --min_rules=N (default 150) tops the packs up to N rules with
// bench/extra_rules.cc (real daemon formats), the pack size issue 17 states
// its targets for; --min_rules=0 benches the packs as they are.
#include <benchmark/benchmark.h>
#include <hs/hs.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bench/extra_rules.h"
#include "matchers/lazy_re2.h"
#include "matchers/rule_loader.h"
#include "matchers/rule_set.h"
#include "receiver/parser.h"
#include "tests/testing/corpus_lines.h"

namespace konseki::matchers {
namespace {

size_t min_rules = 150;   // set from --min_rules before the world is built
bool build_peers = true;  // false for the probes: no RE2::Set to compile (valgrind)

// The RE2 side of a rule, as RuleSet builds it (same options), for the peers.
struct Re2Rule {
  const Rule* rule;
  std::unique_ptr<RE2> program;
  std::vector<std::unique_ptr<RE2>> match;
  std::vector<std::unique_ptr<RE2>> extract;
};

struct Fixture {
  std::vector<std::string> texts;   // owns the lines the messages point into
  std::vector<std::string> padded;  // owns the 256-byte texts (arg 256 only)
  std::vector<Message> messages;
  size_t bytes = 0;
};

struct World {
  std::shared_ptr<const RuleSet> set;
  std::vector<Re2Rule> re2_rules;
  std::unique_ptr<RE2::Set> re2_set;
  std::vector<int> set_expr_rule;      // RE2::Set index -> re2_rules index
  Fixture as_is, padded256, quiet256;  // quiet: lines that raise nothing
};

// Benign text used to bring messages to 256 bytes without adding events: the
// loghub Apache error_log, which the false-positive test shows raises nothing
// (padding with neighbouring corpus lines would put two or three attack lines
// in one message and triple the hits).
std::string Filler() {
  std::string filler;
  std::ifstream in(std::string(KONSEKI_CORPUS_DIR) + "/loghub/Apache_2k.log");
  for (std::string line; filler.size() < 4096 && std::getline(in, line);) filler += " " + line;
  if (filler.empty()) {
    for (int i = 0; filler.size() < 4096; ++i) {
      filler += " worker=" + std::to_string(i) + " state=ok queue=0 note=routine status";
    }
  }
  return filler;
}

// Parses every line; for the 256-byte fixture the free text is rebuilt to
// exactly 256 bytes after parsing (header fields such as app_name still point
// at the parsed line) so every engine scans the same 256 bytes.
void Build(const std::vector<std::string>& lines, size_t text_size, Fixture* f) {
  const receiver::Parser parser;
  f->texts = lines;
  f->messages.resize(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    parser.Parse(f->texts[i], TimePoint(std::chrono::seconds(1'767'225'600)), &f->messages[i]);
  }
  if (text_size > 0) {
    const std::string filler = Filler();
    f->padded.resize(lines.size());
    for (size_t i = 0; i < lines.size(); ++i) {
      Message& m = f->messages[i];
      std::string t(m.format == MessageFormat::kUnparsed ? m.raw : m.msg);
      if (t.size() < text_size) t += filler.substr((i * 37) % 1024, text_size - t.size());
      t.resize(text_size);
      f->padded[i] = std::move(t);
      m.msg = f->padded[i];
      m.raw = f->padded[i];
      m.format = MessageFormat::kRfc3164;
    }
  }
  for (const Message& m : f->messages) f->bytes += m.msg.size();
}

// The folder of packs to bench; set once by main() before the first GetWorld().
std::string& RulesDir() {
  static std::string dir = std::string(KONSEKI_SOURCE_DIR) + "/patterns";
  return dir;
}

World* GetWorld() {
  static World* world = [] {
    auto* w = new World();
    auto rules = LoadRuleDir(RulesDir());
    if (!rules.ok()) {
      std::fprintf(stderr, "%s\n", rules.status().ToString().c_str());
      std::exit(1);
    }
    std::vector<Rule> pack = std::move(rules).value();
    if (pack.size() < min_rules) {
      for (Rule& r : bench::ExtraRules(min_rules - pack.size())) pack.push_back(std::move(r));
    }
    auto set = RuleSet::Compile(std::move(pack));
    if (!set.ok()) {
      std::fprintf(stderr, "%s\n", set.status().ToString().c_str());
      std::exit(1);
    }
    w->set = *set;
    // The set's DFA gets 256 MiB instead of RE2's default 8 MiB: with the
    // default, one more case-sensitive branch (sshd.preauth_closed's
    // (?-i:...), issue 17) made the DFA cache thrash and the set 10x slower
    // on benign lines, which would flatter Hyperscan's ratio.
    RE2::Options set_options = Re2Options(false);
    set_options.set_max_mem(int64_t{256} << 20);
    w->re2_set = std::make_unique<RE2::Set>(set_options, RE2::UNANCHORED);
    // RE2::Set has one options set; case-sensitive rules get (?-i) inline.
    for (const Rule& r : w->set->rules()) {
      if (!build_peers) break;
      Re2Rule rr;
      rr.rule = &r;
      if (!r.program.empty())
        rr.program = std::make_unique<RE2>("(?:" + r.program + ")", Re2Options(false));
      for (const std::string& m : r.match) {
        rr.match.push_back(std::make_unique<RE2>(m, Re2Options(r.case_sensitive)));
        std::string err;
        const int id = w->re2_set->Add(r.case_sensitive ? "(?-i:" + m + ")" : m, &err);
        if (id < 0) {
          std::fprintf(stderr, "RE2::Set cannot add %s: %s\n", m.c_str(), err.c_str());
          std::exit(1);
        }
        w->set_expr_rule.push_back(static_cast<int>(w->re2_rules.size()));
      }
      for (const std::string& e : r.extract) {
        rr.extract.push_back(std::make_unique<RE2>(e, Re2Options(r.case_sensitive)));
      }
      w->re2_rules.push_back(std::move(rr));
    }
    if (build_peers && !w->re2_set->Compile()) {
      std::fprintf(stderr, "RE2::Set compile failed\n");
      std::exit(1);
    }
    std::vector<std::string> lines = testing::CorpusLines(KONSEKI_CORPUS_DIR);
    if (lines.empty()) {
      // No corpus (a user checkout): the packs' own example lines.
      for (const Rule& r : w->set->rules()) {
        for (const RuleExample& e : r.examples_match) lines.push_back(e.line);
        for (const RuleExample& e : r.examples_no_match) lines.push_back(e.line);
      }
    }
    Build(lines, 0, &w->as_is);
    Build(lines, 256, &w->padded256);
    // The common case in production: messages no rule cares about.
    std::vector<std::string> quiet;
    {
      auto scratch = w->set->NewScratch();
      std::vector<RuleHit> hits;
      for (size_t i = 0; i < lines.size(); ++i) {
        w->set->Match(w->padded256.messages[i], **scratch, &hits);
        if (hits.empty()) quiet.push_back(lines[i]);
      }
    }
    Build(quiet.empty() ? lines : quiet, 256, &w->quiet256);
    return w;
  }();
  return world;
}

const Fixture& FixtureFor(const benchmark::State& state) {
  switch (state.range(0)) {
    case 256:
      return GetWorld()->padded256;
    case 1256:
      return GetWorld()->quiet256;
    default:
      return GetWorld()->as_is;
  }
}

// The post-hit work every engine does: program filter, then extraction.
void AfterHit(const Re2Rule& rr, const Message& msg, std::string_view text,
              std::vector<RuleHit>* hits) {
  if (rr.program && !RE2::FullMatch(re2::StringPiece(msg.app_name), *rr.program)) return;
  RuleHit& hit = hits->emplace_back();
  hit.rule = rr.rule;
  re2::StringPiece groups[32];
  const re2::StringPiece input(text.data(), text.size());
  for (const auto& ex : rr.extract) {
    const int n = ex->NumberOfCapturingGroups() + 1;
    if (!ex->Match(input, 0, input.size(), RE2::UNANCHORED, groups, n)) continue;
    for (const auto& [name, index] : ex->NamedCapturingGroups()) {
      if (groups[index].data() != nullptr) {
        hit.fields.emplace_back(name, std::string(groups[index].data(), groups[index].size()));
      }
    }
    break;
  }
}

std::string_view TextOf(const Message& m) {
  return m.format == MessageFormat::kUnparsed ? m.raw : m.msg;
}

void BM_RuleSet_Hyperscan(benchmark::State& state) {
  World* w = GetWorld();
  const Fixture& f = FixtureFor(state);
  auto scratch = w->set->NewScratch();
  std::vector<RuleHit> hits;
  size_t i = 0, total_hits = 0;
  for (auto _ : state) {
    w->set->Match(f.messages[i], **scratch, &hits);
    total_hits += hits.size();
    if (++i == f.messages.size()) i = 0;
  }
  benchmark::DoNotOptimize(total_hits);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * (f.bytes / f.messages.size()));
  // The engines must agree: the same rules hit per message on average.
  state.counters["hits_per_msg"] =
      static_cast<double>(total_hits) / static_cast<double>(state.iterations());
  state.counters["msgs"] = static_cast<double>(f.messages.size());
}

void BM_Re2Set(benchmark::State& state) {
  World* w = GetWorld();
  const Fixture& f = FixtureFor(state);
  std::vector<RuleHit> hits;
  std::vector<int> ids;
  size_t i = 0, total_hits = 0, set_errors = 0;
  for (auto _ : state) {
    const Message& m = f.messages[i];
    const std::string_view text = TextOf(m);
    hits.clear();
    ids.clear();
    RE2::Set::ErrorInfo error;
    if (w->re2_set->Match(re2::StringPiece(text.data(), text.size()), &ids, &error)) {
      for (int& id : ids) id = w->set_expr_rule[id];
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      for (int r : ids) AfterHit(w->re2_rules[r], m, text, &hits);
    } else if (error.kind != RE2::Set::kNoError) {
      ++set_errors;  // the DFA gave up: this line was not matched at all
    }
    total_hits += hits.size();
    if (++i == f.messages.size()) i = 0;
  }
  benchmark::DoNotOptimize(total_hits);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * (f.bytes / f.messages.size()));
  // The engines must agree: the same rules hit per message on average.
  state.counters["hits_per_msg"] =
      static_cast<double>(total_hits) / static_cast<double>(state.iterations());
  state.counters["set_errors"] = static_cast<double>(set_errors);
}

void BM_Re2PerRule(benchmark::State& state) {
  World* w = GetWorld();
  const Fixture& f = FixtureFor(state);
  std::vector<RuleHit> hits;
  size_t i = 0, total_hits = 0;
  for (auto _ : state) {
    const Message& m = f.messages[i];
    const std::string_view text = TextOf(m);
    const re2::StringPiece input(text.data(), text.size());
    hits.clear();
    for (const Re2Rule& rr : w->re2_rules) {
      for (const auto& re : rr.match) {
        if (RE2::PartialMatch(input, *re)) {
          AfterHit(rr, m, text, &hits);
          break;
        }
      }
    }
    total_hits += hits.size();
    if (++i == f.messages.size()) i = 0;
  }
  benchmark::DoNotOptimize(total_hits);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * (f.bytes / f.messages.size()));
  // The engines must agree: the same rules hit per message on average.
  state.counters["hits_per_msg"] =
      static_cast<double>(total_hits) / static_cast<double>(state.iterations());
}

BENCHMARK(BM_RuleSet_Hyperscan)->Arg(0)->Arg(256)->Arg(1256);
BENCHMARK(BM_Re2Set)->Arg(0)->Arg(256)->Arg(1256);
BENCHMARK(BM_Re2PerRule)->Arg(0)->Arg(256)->Arg(1256);

// Console output plus, at the end, ns per message and the ratios to the
// Hyperscan path for each message size.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  // Keeps ns/message per benchmark: the median when repetitions are asked
  // for (steadier on a shared machine), else the single run.
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      const bool aggregate = run.run_type == Run::RT_Aggregate;
      if (aggregate && run.aggregate_name != "median") continue;
      auto it = run.counters.find("items_per_second");
      if (it == run.counters.end() || it->second.value <= 0) continue;
      const std::string name = run.run_name.str();
      if (!aggregate && medians_.count(name)) continue;
      ns_per_msg_[name] = 1e9 / it->second.value;
      if (aggregate) medians_.insert(name);
    }
  }
  void PrintRatios(std::ostream& os) const {
    for (const char* arg : {"0", "256", "1256"}) {
      auto base = ns_per_msg_.find(std::string("BM_RuleSet_Hyperscan/") + arg);
      if (base == ns_per_msg_.end()) continue;
      const std::string a = arg;
      os << "\nmessages "
         << (a == "0"     ? "as in the corpus"
             : a == "256" ? "of 256 bytes"
                          : "of 256 bytes, no hit")
         << ": Hyperscan " << base->second << " ns/msg";
      for (const char* peer : {"BM_Re2Set/", "BM_Re2PerRule/"}) {
        auto p = ns_per_msg_.find(std::string(peer) + arg);
        if (p == ns_per_msg_.end()) continue;
        os << "; " << std::string(peer).substr(3, std::string(peer).size() - 4) << " " << p->second
           << " ns/msg = " << p->second / base->second << "x";
      }
      os << "\n";
    }
  }

 private:
  std::map<std::string, double> ns_per_msg_;
  std::set<std::string> medians_;
};

// The flags RuleSet::Compile gives each expression.
unsigned HsFlags(const Rule& r) {
  return HS_FLAG_SINGLEMATCH | (r.case_sensitive ? 0u : HS_FLAG_CASELESS);
}

// exprs.tsv holds what Hyperscan compiles for the message text: a rule's
// `prefilter` when it has one, else its `match` (rules with `text:
// structured_data` left out). hits.<fixture> holds, per message, the ids of the
// rules RuleSet::Match reports (program, prefilter confirmation and all):
// two dumps with different packs must have identical hits files.
bool DumpFixture(const World& w, const std::string& dir) {
  std::ofstream exprs(dir + "/exprs.tsv");
  for (const Rule& r : w.set->rules()) {
    // The rules that read the structured data are scanned by a database of
    // their own, over that text only: not in the message text's expressions.
    if (r.text != Rule::Text::kMessage) continue;
    for (const std::string& m : r.prefilter.empty() ? r.match : r.prefilter) {
      exprs << HsFlags(r) << '\t' << r.id << '\t' << m << '\n';
    }
  }
  auto scratch = w.set->NewScratch();
  if (!scratch.ok()) return false;
  std::vector<RuleHit> hits;
  const std::pair<const char*, const Fixture*> files[] = {
      {"as_is.txt", &w.as_is}, {"padded256.txt", &w.padded256}, {"quiet256.txt", &w.quiet256}};
  for (const auto& [name, f] : files) {
    std::ofstream out(dir + "/" + name);
    std::ofstream out_hits(dir + "/hits." + name);
    std::ofstream out_fields(dir + "/fields." + name);
    for (const Message& m : f->messages) {
      out << TextOf(m) << '\n';
      w.set->Match(m, **scratch, &hits);
      for (const RuleHit& h : hits) {
        out_hits << h.rule->id << ' ';
        out_fields << h.rule->id << (h.ignored ? " (ignored)" : "");
        for (const auto& [name, value] : h.fields) out_fields << ' ' << name << '=' << value;
        out_fields << '\t';
      }
      out_hits << '\n';
      out_fields << '\n';
    }
    if (!out || !out_hits || !out_fields) return false;
  }
  return static_cast<bool>(exprs);
}

// "@PATH": the syslog lines of a file, as they are (a whole day of a
// tester's benign host, say), parsed like the corpus.
const Fixture* FixtureNamed(const World& w, std::string_view name) {
  if (name == "as_is") return &w.as_is;
  if (name == "padded256") return &w.padded256;
  if (name == "quiet256") return &w.quiet256;
  if (name.empty() || name[0] != '@') return nullptr;
  static Fixture from_file;
  std::ifstream in{std::string(name.substr(1))};
  if (!in) return nullptr;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  Build(lines, 0, &from_file);
  return &from_file;
}

// RuleSet::Match over every message of `f`, `reps` times: the function
// callgrind's --toggle-collect='*MatchAll*' counts (Hyperscan, the program
// filter and extraction, without the world's building).
__attribute__((noinline)) size_t MatchAll(const World& w, const Fixture& f, int reps) {
  auto scratch = w.set->NewScratch();
  std::vector<RuleHit> hits;
  size_t total = 0;
  for (int r = 0; r < reps; ++r) {
    for (const Message& m : f.messages) {
      w.set->Match(m, **scratch, &hits);
      total += hits.size();
    }
  }
  return total;
}

// Minimum of `reps` RuleSet::Match calls per message, summed: a figure that
// preemption on a shared machine cannot inflate. Messages with hits are also
// summed per rule that hit (a message with two hits counts for both).
void TimeMin(const World& w, const Fixture& f, int reps) {
  auto scratch = w.set->NewScratch();
  std::vector<RuleHit> hits;
  double total = 0, hit_total = 0;
  size_t hit_msgs = 0;
  std::map<std::string, std::pair<size_t, double>> by_rule;  // id -> (messages, ns)
  for (const Message& m : f.messages) {
    double best = 1e18;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      w.set->Match(m, **scratch, &hits);
      const auto t1 = std::chrono::steady_clock::now();
      best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count());
    }
    total += best;
    if (hits.empty()) continue;
    ++hit_msgs;
    hit_total += best;
    for (const RuleHit& h : hits) {
      auto& [n, ns] = by_rule[h.rule->id];
      ++n;
      ns += best;
    }
  }
  const size_t n = f.messages.size();
  std::printf(
      "%zu messages, min of %d: %.1f ns/msg; %zu with hits: %.1f ns each; %zu without: %.1f ns "
      "each\n",
      n, reps, total / n, hit_msgs, hit_msgs ? hit_total / hit_msgs : 0.0, n - hit_msgs,
      n > hit_msgs ? (total - hit_total) / (n - hit_msgs) : 0.0);
  std::vector<std::pair<double, std::string>> order;
  for (const auto& [id, v] : by_rule) order.emplace_back(v.second, id);
  std::sort(order.rbegin(), order.rend());
  for (const auto& [ns, id] : order) {
    const size_t msgs = by_rule[id].first;
    std::printf("  %-40s %6zu msgs %8.0f ns each %10.0f ns total\n", id.c_str(), msgs, ns / msgs,
                ns);
  }
}

}  // namespace
}  // namespace konseki::matchers

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  constexpr std::string_view kRulesDirFlag = "--rules_dir=";
  constexpr std::string_view kMinRulesFlag = "--min_rules=";
  constexpr std::string_view kDumpFlag = "--dump_fixture=";
  // --count=FIXTURE[:REPS] (MatchAll, for callgrind) and --time_min=FIXTURE[:REPS]
  // (TimeMin); FIXTURE is as_is, padded256, quiet256 or @FILE (its syslog
  // lines). Neither builds the peers.
  constexpr std::string_view kCountFlag = "--count=";
  constexpr std::string_view kTimeMinFlag = "--time_min=";
  std::string dump_dir, probe, probe_arg;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.substr(0, kRulesDirFlag.size()) == kRulesDirFlag) {
      konseki::matchers::RulesDir() = std::string(arg.substr(kRulesDirFlag.size()));
    } else if (arg.substr(0, kMinRulesFlag.size()) == kMinRulesFlag) {
      konseki::matchers::min_rules = std::stoul(std::string(arg.substr(kMinRulesFlag.size())));
    } else if (arg.substr(0, kDumpFlag.size()) == kDumpFlag) {
      dump_dir = std::string(arg.substr(kDumpFlag.size()));
    } else if (arg.substr(0, kCountFlag.size()) == kCountFlag) {
      probe = "count";
      probe_arg = std::string(arg.substr(kCountFlag.size()));
    } else if (arg.substr(0, kTimeMinFlag.size()) == kTimeMinFlag) {
      probe = "time_min";
      probe_arg = std::string(arg.substr(kTimeMinFlag.size()));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!probe.empty()) konseki::matchers::build_peers = false;
  const auto* w = konseki::matchers::GetWorld();
  std::cout << konseki::matchers::RulesDir() << ": " << w->set->rules().size() << " rules, "
            << w->as_is.messages.size() << " corpus messages, mean text "
            << w->as_is.bytes / w->as_is.messages.size() << " bytes\n";
  if (!dump_dir.empty()) return konseki::matchers::DumpFixture(*w, dump_dir) ? 0 : 1;
  if (!probe.empty()) {
    const size_t colon = probe_arg.find(':');
    const int reps = colon == std::string::npos ? 1 : std::stoi(probe_arg.substr(colon + 1));
    const auto* f = konseki::matchers::FixtureNamed(*w, probe_arg.substr(0, colon));
    if (f == nullptr) {
      std::fprintf(stderr, "unknown fixture in %s (as_is, padded256, quiet256, @FILE)\n",
                   probe_arg.c_str());
      return 1;
    }
    if (probe == "count") {
      std::printf("%zu messages x %d, %zu hits\n", f->messages.size(), reps,
                  konseki::matchers::MatchAll(*w, *f, reps));
    } else {
      konseki::matchers::TimeMin(*w, *f, reps);
    }
    return 0;
  }
  {
    auto scratch = w->set->NewScratch();
    std::cout << "Hyperscan: database " << w->set->database_bytes() / 1024 << " KiB; scratch "
              << (scratch.ok() ? (*scratch)->bytes() / 1024 : 0) << " KiB\n";
  }
  konseki::matchers::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios(std::cout);
  benchmark::Shutdown();
  return 0;
}
