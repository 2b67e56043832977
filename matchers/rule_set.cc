#include "matchers/rule_set.h"

#include <hs/hs.h>
#include <re2/re2.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <climits>
#include <cstdint>
#include <map>
#include <set>

namespace konseki::matchers {

struct RuleSet::Compiled {
  std::unique_ptr<re2::RE2> program;  // null: any program
  // When `program` is a plain alternation of names ("sshd|sshd-session"),
  // the names in lower case: compared without RE2 on the hot path.
  bool program_is_literal = false;
  std::vector<std::string> program_names;
  struct Extractor {
    std::unique_ptr<re2::RE2> re;
    std::vector<std::pair<int, std::string>> named;  // group index -> name, by index
  };
  std::vector<Extractor> extract;
};

namespace {

std::string Where(const Rule& rule, int line) {
  return rule.file + ":" + std::to_string(line > 0 ? line : rule.line) + ": rule " + rule.id;
}

re2::RE2::Options Re2Options(bool case_sensitive) {
  re2::RE2::Options o;
  o.set_case_sensitive(case_sensitive);
  o.set_log_errors(false);
  // Bytes, not UTF-8: senders write invalid UTF-8, and a field must still
  // be extracted around it (Hyperscan, which found the hit, is byte-based
  // too). Rule patterns are ASCII, so this changes nothing else.
  o.set_encoding(re2::RE2::Options::EncodingLatin1);
  return o;
}

// Splits "a|b\\(c\\)" into lower-cased literal names; false if the pattern
// uses any regex syntax beyond '|' and backslash-escaped punctuation.
bool LiteralAlternatives(std::string_view pattern, std::vector<std::string>* names) {
  names->assign(1, "");
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '|') {
      names->emplace_back();
    } else if (c == '\\') {
      if (++i == pattern.size()) return false;
      const char e = pattern[i];
      if (std::isalnum(static_cast<unsigned char>(e))) return false;  // \S, \d, \b...
      names->back().push_back(e);
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '/' ||
               c == ':' || c == '@' || c == '#' || c == '%' || c == '=' || c == ',' || c == '\'' ||
               c == '"' || c == '<' || c == '>' || c == '~' || c == '!') {
      names->back().push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      return false;  // '.', '*', '(', '[', ... : a real regex
    }
  }
  return true;
}

// ASCII only, like the program filter: program names are ASCII.
inline unsigned char Lower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c + ('a' - 'A')) : c;
}

// FNV-1a over the lower-cased bytes.
inline size_t LowerHash(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (char c : s) h = (h ^ Lower(static_cast<unsigned char>(c))) * 1099511628211ull;
  return static_cast<size_t>(h);
}

// `lower` is already lower case.
inline bool EqualsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (Lower(static_cast<unsigned char>(s[i])) != static_cast<unsigned char>(lower[i])) {
      return false;
    }
  }
  return true;
}

constexpr int kMaxGroups = 31;  // Match() keeps submatches on the stack
// Longer app names skip the partition lookup (no literal program is that
// long: longer literal programs are treated as regexes, default partition).
constexpr size_t kMaxProgramName = 64;

struct ScanContext {
  const std::vector<unsigned>* expr_rule;
  std::vector<unsigned>* rule_hits;
};

// Only records; every other step runs after the scan for the rules that hit.
int OnMatch(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/,
            unsigned int /*flags*/, void* ctx) {
  auto* c = static_cast<ScanContext*>(ctx);
  c->rule_hits->push_back((*c->expr_rule)[id]);
  return 0;
}

}  // namespace

RuleSet::RuleSet() = default;

RuleSet::~RuleSet() {
  for (Partition& p : partitions_) {
    if (p.db != nullptr) hs_free_database(p.db);
  }
}

RuleSet::Scratch::~Scratch() {
  if (hs_ != nullptr) hs_free_scratch(hs_);
}

StatusOr<std::shared_ptr<const RuleSet>> RuleSet::Compile(std::vector<Rule> rules) {
  std::shared_ptr<RuleSet> set(new RuleSet());
  set->rules_ = std::move(rules);

  std::vector<std::string> exprs;
  std::vector<unsigned> flags;
  for (size_t i = 0; i < set->rules_.size(); ++i) {
    const Rule& rule = set->rules_[i];
    if (rule.match.empty()) {
      return Status::InvalidArgument(Where(rule, rule.line) + ": match: no expression");
    }
    for (const std::string& m : rule.match) {
      exprs.push_back(m);
      flags.push_back(HS_FLAG_SINGLEMATCH | (rule.case_sensitive ? 0u : HS_FLAG_CASELESS));
      set->expr_rule_.push_back(static_cast<unsigned>(i));
    }
    if (Status s = set->CompileRule(rule); !s.ok()) return s;
  }
  if (exprs.empty()) return std::shared_ptr<const RuleSet>(std::move(set));
  if (Status s = set->BuildPartitions(exprs, flags); !s.ok()) return s;
  return std::shared_ptr<const RuleSet>(std::move(set));
}

Status RuleSet::CompileRule(const Rule& rule) {
  auto compiled = std::make_unique<Compiled>();
  if (!rule.program.empty()) {
    compiled->program = std::make_unique<re2::RE2>("(?:" + rule.program + ")", Re2Options(false));
    if (!compiled->program->ok()) {
      return Status::InvalidArgument(Where(rule, rule.line) + ": program: RE2: " +
                                     compiled->program->error() + " in \"" + rule.program + "\"");
    }
    compiled->program_is_literal = LiteralAlternatives(rule.program, &compiled->program_names);
    for (const std::string& name : compiled->program_names) {
      if (name.size() > kMaxProgramName) compiled->program_is_literal = false;
    }
  }
  for (const std::string& e : rule.extract) {
    Compiled::Extractor ex;
    ex.re = std::make_unique<re2::RE2>(e, Re2Options(rule.case_sensitive));
    if (!ex.re->ok()) {
      return Status::InvalidArgument(Where(rule, rule.line) + ": extract: RE2: " + ex.re->error() +
                                     " in \"" + e + "\"");
    }
    if (ex.re->NumberOfCapturingGroups() > kMaxGroups) {
      return Status::InvalidArgument(Where(rule, rule.line) + ": extract: more than " +
                                     std::to_string(kMaxGroups) + " capturing groups in \"" + e +
                                     "\"");
    }
    for (const auto& [name, index] : ex.re->NamedCapturingGroups()) {
      ex.named.emplace_back(index, name);
    }
    std::sort(ex.named.begin(), ex.named.end());
    compiled->extract.push_back(std::move(ex));
  }
  compiled_.push_back(std::move(compiled));
  return Status::Ok();
}

// Partition 0, the default, holds the rules any program may trigger (no
// program, or a regex program) and the literal-program rules whose
// expressions are all anchored at the start: those cost next to nothing to
// scan (only offset 0 is tried), so they need no partition of their own. Each
// name of another literal-program rule gets a partition: the rules that accept
// that name, whether listed or program-less or regex. Names with the same rule
// set share one database. The program filter still runs for every hit.
Status RuleSet::BuildPartitions(const std::vector<std::string>& exprs,
                                const std::vector<unsigned>& flags) {
  std::vector<unsigned> fallback;
  std::set<std::string> names;
  for (size_t r = 0; r < rules_.size(); ++r) {
    const Compiled& c = *compiled_[r];
    const bool anchored = std::all_of(rules_[r].match.begin(), rules_[r].match.end(),
                                      [](const std::string& m) { return m.starts_with('^'); });
    if (c.program_is_literal && !anchored) {
      names.insert(c.program_names.begin(), c.program_names.end());
    } else {
      fallback.push_back(static_cast<unsigned>(r));
    }
  }
  std::map<std::vector<unsigned>, size_t> by_rules;
  std::vector<std::pair<std::string, size_t>> named;  // program -> partition
  std::vector<std::vector<unsigned>> members{fallback};
  by_rules.emplace(fallback, 0);
  for (const std::string& name : names) {
    std::vector<unsigned> rs;
    for (size_t r = 0; r < rules_.size(); ++r) {
      if (ProgramMatches(r, name)) rs.push_back(static_cast<unsigned>(r));
    }
    auto [it, added] = by_rules.emplace(rs, members.size());
    if (added) members.push_back(std::move(rs));
    named.emplace_back(name, it->second);
  }
  if (!named.empty()) {
    size_t size = 4;
    while (size < 2 * named.size()) size *= 2;
    program_table_.resize(size);
    for (auto& [name, partition] : named) {
      size_t i = LowerHash(name) & (size - 1);
      while (program_table_[i].used) i = (i + 1) & (size - 1);
      program_table_[i] = ProgramSlot{std::move(name), partition, true};
    }
  }
  partitions_.resize(members.size());
  for (size_t p = 0; p < members.size(); ++p) {
    StatusOr<hs_database*> db = CompileDatabase(exprs, flags, members[p]);
    if (!db.ok()) return db.status();
    partitions_[p].db = *db;
  }
  return Status::Ok();
}

StatusOr<hs_database*> RuleSet::CompileDatabase(const std::vector<std::string>& exprs,
                                                const std::vector<unsigned>& flags,
                                                const std::vector<unsigned>& rule_indices) const {
  std::vector<const char*> cexprs;
  std::vector<unsigned> cflags;
  std::vector<unsigned> ids;
  for (size_t i = 0; i < exprs.size(); ++i) {
    if (!std::binary_search(rule_indices.begin(), rule_indices.end(), expr_rule_[i])) continue;
    cexprs.push_back(exprs[i].c_str());
    cflags.push_back(flags[i]);
    ids.push_back(static_cast<unsigned>(i));
  }
  if (cexprs.empty()) return static_cast<hs_database*>(nullptr);
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  hs_error_t rc =
      hs_compile_multi(cexprs.data(), cflags.data(), ids.data(),
                       static_cast<unsigned>(cexprs.size()), HS_MODE_BLOCK, nullptr, &db, &err);
  if (rc == HS_SUCCESS) return db;
  std::string msg = err != nullptr && err->message != nullptr ? err->message : "unknown error";
  const int at = err != nullptr ? err->expression : -1;
  hs_free_compile_error(err);
  if (at < 0 || static_cast<size_t>(at) >= ids.size()) {
    return Status::InvalidArgument("Hyperscan cannot compile the rule set: " + msg);
  }
  const unsigned index = ids[at];
  const unsigned r = expr_rule_[index];
  const Rule& rule = rules_[r];
  // Which of this rule's expressions it was, to point at its own line.
  size_t first = 0;
  while (expr_rule_[first] != r) ++first;
  const size_t k = index - first;
  const int line = k < rule.match_lines.size() ? rule.match_lines[k] : rule.line;
  return Status::InvalidArgument(Where(rule, line) + ": match: Hyperscan cannot compile \"" +
                                 exprs[index] + "\": " + msg);
}

StatusOr<std::unique_ptr<RuleSet::Scratch>> RuleSet::NewScratch() const {
  hs_scratch_t* s = nullptr;
  // One scratch grown to fit every partition's database.
  for (const Partition& p : partitions_) {
    if (p.db == nullptr) continue;
    if (hs_error_t rc = hs_alloc_scratch(p.db, &s); rc != HS_SUCCESS) {
      if (s != nullptr) hs_free_scratch(s);
      return Status::Internal("hs_alloc_scratch failed with code " + std::to_string(rc));
    }
  }
  std::unique_ptr<Scratch> scratch(new Scratch(s, this));
  scratch->rule_hits_.reserve(16);
  return scratch;
}

size_t RuleSet::PartitionFor(std::string_view app_name) const {
  if (program_table_.empty() || app_name.size() > kMaxProgramName) return 0;
  const size_t mask = program_table_.size() - 1;
  for (size_t i = LowerHash(app_name) & mask;; i = (i + 1) & mask) {
    const ProgramSlot& slot = program_table_[i];
    if (!slot.used) return 0;
    if (EqualsLower(app_name, slot.name)) return slot.partition;
  }
}

size_t RuleSet::database_count() const {
  size_t n = 0;
  for (const Partition& p : partitions_) n += p.db != nullptr ? 1 : 0;
  return n;
}

size_t RuleSet::database_bytes() const {
  size_t total = 0;
  for (const Partition& p : partitions_) {
    size_t bytes = 0;
    if (p.db != nullptr && hs_database_size(p.db, &bytes) == HS_SUCCESS) total += bytes;
  }
  return total;
}

bool RuleSet::ProgramMatches(size_t rule_index, std::string_view app_name) const {
  const Compiled& c = *compiled_[rule_index];
  if (c.program == nullptr) return true;
  if (c.program_is_literal) {
    for (const std::string& name : c.program_names) {
      if (EqualsLower(app_name, name)) return true;
    }
    return false;
  }
  return re2::RE2::FullMatch(re2::StringPiece(app_name), *c.program);
}

void RuleSet::Match(const Message& msg, Scratch& scratch, std::vector<RuleHit>* hits) const {
  assert(scratch.owner_ == this);
  // RuleHit objects already in *hits (and their fields' buffers) are
  // recycled rather than freed and reallocated for every message.
  hits->resize(MatchInto(msg, scratch, hits));
}

size_t RuleSet::MatchInto(const Message& msg, Scratch& scratch, std::vector<RuleHit>* hits) const {
  size_t used = 0;
  if (partitions_.empty()) return used;
  const Partition& partition = partitions_[PartitionFor(msg.app_name)];
  if (partition.db == nullptr) return used;
  std::string_view text = msg.format == MessageFormat::kUnparsed ? msg.raw : msg.msg;
  if (text.size() > UINT_MAX) text = text.substr(0, UINT_MAX);

  scratch.rule_hits_.clear();
  ScanContext ctx{&expr_rule_, &scratch.rule_hits_};
  hs_scan(partition.db, text.data(), static_cast<unsigned>(text.size()), 0, scratch.hs_, OnMatch,
          &ctx);
  if (scratch.rule_hits_.empty()) return used;

  std::vector<unsigned>& ids = scratch.rule_hits_;
  if (ids.size() > 1) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  }
  re2::StringPiece groups[kMaxGroups + 1];
  const re2::StringPiece input(text.data(), text.size());
  for (unsigned r : ids) {
    if (!ProgramMatches(r, msg.app_name)) continue;
    if (used == hits->size()) hits->emplace_back();
    RuleHit& hit = (*hits)[used++];
    hit.rule = &rules_[r];
    size_t nfields = 0;
    for (const Compiled::Extractor& ex : compiled_[r]->extract) {
      const int n = ex.re->NumberOfCapturingGroups() + 1;
      if (!ex.re->Match(input, 0, input.size(), re2::RE2::UNANCHORED, groups, n)) continue;
      for (const auto& [index, name] : ex.named) {
        if (index >= n || groups[index].data() == nullptr) continue;
        const std::string_view value(groups[index].data(), groups[index].size());
        if (nfields < hit.fields.size()) {
          hit.fields[nfields].first.assign(name);
          hit.fields[nfields].second.assign(value);
        } else {
          hit.fields.emplace_back(name, value);
        }
        ++nfields;
      }
      break;
    }
    hit.fields.resize(nfields);
  }
  return used;
}

const Rule* RuleSet::FindRule(std::string_view id) const {
  for (const Rule& r : rules_) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

Alert MakeAlert(const Message& msg, const RuleHit& hit) {
  Alert a;
  a.time = msg.timestamp;
  a.received = msg.received;
  a.host = std::string(msg.host());
  a.sender = std::string(msg.sender);
  a.rule = hit.rule->id;
  a.sign = hit.rule->sign;
  a.severity = hit.rule->severity;
  a.title = hit.rule->title;
  a.program = std::string(msg.app_name);
  a.pid = std::string(msg.procid);
  a.fields = hit.fields;
  a.message = std::string(msg.raw);
  return a;
}

}  // namespace konseki::matchers
