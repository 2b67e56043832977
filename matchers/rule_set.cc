#include "matchers/rule_set.h"

#include <hs/hs.h>
#include <re2/re2.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <climits>
#include <cstdint>
#include <cstring>

#include "matchers/audit_hex.h"
#include "matchers/lazy_re2.h"
#include "matchers/simple_regex.h"

namespace konseki::matchers {

struct RuleSet::Compiled {
  // The rule's `program` (has_program: else any program), compiled on the
  // first line whose program the names below cannot tell.
  bool has_program = false;
  LazyRe2 program;
  // When `program` denotes a small set of names ("sshd|sshd-session",
  // "(?:sshd|dropbear)?": ExpandNames), the names in lower case: compared
  // without RE2 on the hot path.
  bool program_is_literal = false;
  std::vector<std::string> program_names;
  struct Extractor {
    LazyRe2 re;                                      // compiled on the rule's first hit (LazyRe2)
    int groups = 0;                                  // re's capturing groups
    std::vector<std::pair<int, std::string>> named;  // group index -> name, by index
    // Literals one of which every match of `re` begins with (read off the
    // pattern by LeadingLiterals; empty when it cannot tell), compared
    // ASCII-caselessly unless the rule is case-sensitive, and their first
    // bytes. With them, extraction runs RE2 anchored at each place a match
    // can start instead of RE2's unanchored search (a forward DFA pass from
    // the line's start, a reverse one, then the submatch engine): issue 17.
    std::vector<std::string> starts;  // at most kMaxStarts are used
    // The expression in SimpleRegex when it is simple enough (nullptr
    // otherwise; always for confirmations): MatchInto searches with it
    // first and calls Search (RE2) only when it gives up.
    std::unique_ptr<const SimpleRegex> simple;
    bool starts_caseless = false;
    // Search reads `lowered`: the start literals or SimpleRegex's are caseless.
    bool reads_lowered = false;
    static constexpr size_t kMaxStarts = 16;

    // RE2's leftmost-first match of `re` in input, submatches in
    // groups[0..n). `lowered`: input in ASCII lower case (read only when the
    // start literals are caseless).
    bool Search(re2::StringPiece input, std::string_view lowered, re2::StringPiece* groups,
                int n) const;
    // An Extractor over `pattern`, with its groups and its start literals
    // when LeadingLiterals can read them; *error: RE2's complaint, or empty.
    static Extractor Make(const std::string& pattern, bool case_sensitive, std::string* error);
  };
  std::vector<Extractor> extract;
  // The rule's `match` expressions in RE2 when the rule has a `prefilter`:
  // a Hyperscan hit of the prefilter is a rule hit only if one matches.
  // Searched like the extracts (no submatches): anchored at each occurrence
  // of their start literals, where a match can begin.
  std::vector<Extractor> confirm;
  bool confirm_lowered = false;  // some confirm has caseless start literals
  // The rule's `unless` (has_unless: else none), searched like a
  // confirmation on each line that is a hit so far: a match drops the hit.
  bool has_unless = false;
  Extractor unless;
};

namespace {

std::string Where(const Rule& rule, int line) {
  return rule.file + ":" + std::to_string(line > 0 ? line : rule.line) + ": rule " + rule.id;
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '/' ||
         c == ':' || c == '@' || c == '#' || c == '%' || c == '=' || c == ',' || c == '\'' ||
         c == '"' || c == '<' || c == '>' || c == '~' || c == '!';
}

constexpr size_t kMaxProgramNames = 64;

// Parses an alternation of pattern[*i..] up to a ')' or the end into the
// names it matches in full (lower-cased), for ExpandNames.
bool ExpandAlternation(std::string_view pattern, size_t* i, int depth,
                       std::vector<std::string>* out);

// One alternative: a sequence of literal characters (escaped punctuation
// included) and "(?:...)" groups, each optionally followed by '?'.
bool ExpandSequence(std::string_view pattern, size_t* i, int depth, std::vector<std::string>* out) {
  out->assign(1, "");
  while (*i < pattern.size() && pattern[*i] != '|' && pattern[*i] != ')') {
    std::vector<std::string> atom;
    const char c = pattern[*i];
    if (c == '\\') {
      if (*i + 1 >= pattern.size()) return false;
      const char e = pattern[*i + 1];
      if (std::isalnum(static_cast<unsigned char>(e))) return false;  // \S, \d, \b...
      atom.assign(1, std::string(1, e));
      *i += 2;
    } else if (pattern.substr(*i, 3) == "(?:") {
      *i += 3;
      if (depth > 8 || !ExpandAlternation(pattern, i, depth + 1, &atom)) return false;
      if (*i >= pattern.size() || pattern[*i] != ')') return false;
      ++*i;
    } else if (IsNameChar(c)) {
      atom.assign(1,
                  std::string(1, static_cast<char>(std::tolower(static_cast<unsigned char>(c)))));
      ++*i;
    } else {
      return false;  // '.', '*', '+', '[', '(' of a capture, '^', ... : a real regex
    }
    if (*i < pattern.size() && pattern[*i] == '?') {
      atom.emplace_back();
      ++*i;
    }
    if (*i < pattern.size() &&
        (pattern[*i] == '*' || pattern[*i] == '+' || pattern[*i] == '{' || pattern[*i] == '?')) {
      return false;  // a repeat, or a lazy '??'
    }
    std::vector<std::string> next;
    for (const std::string& head : *out) {
      for (const std::string& tail : atom) {
        if (next.size() == kMaxProgramNames) return false;
        next.push_back(head + tail);
      }
    }
    out->swap(next);
  }
  return true;
}

bool ExpandAlternation(std::string_view pattern, size_t* i, int depth,
                       std::vector<std::string>* out) {
  out->clear();
  for (;;) {
    std::vector<std::string> alt;
    if (!ExpandSequence(pattern, i, depth, &alt)) return false;
    out->insert(out->end(), alt.begin(), alt.end());
    if (out->size() > kMaxProgramNames) return false;
    if (*i >= pattern.size() || pattern[*i] != '|') return true;
    ++*i;
  }
}

// The lower-cased names a program pattern matches in full, when it is
// built only of literal characters, '|', and "(?:...)" groups each
// optionally followed by '?' ("sshd|sshd-session", "(?:sshd|dropbear)?",
// "named|bind9?"), at most kMaxProgramNames of them; false for any other
// syntax (classes, repeats, '.'): RE2 then matches the program.
bool ExpandNames(std::string_view pattern, std::vector<std::string>* names) {
  size_t i = 0;
  if (!ExpandAlternation(pattern, &i, 0, names) || i != pattern.size()) return false;
  std::sort(names->begin(), names->end());
  names->erase(std::unique(names->begin(), names->end()), names->end());
  return true;
}

// Nothing but spaces, TABs and line breaks (or nothing).
bool IsBlank(std::string_view text) {
  for (const char c : text) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

unsigned char AsciiLower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

// b is in lower case. ASCII only, inline: std::tolower is a libc call per
// byte (~40 instructions per corpus line in the program filter, issue 17),
// and the process never sets a locale, so it lowered A-Z only anyway.
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(static_cast<unsigned char>(a[i])) != static_cast<unsigned char>(b[i])) {
      return false;
    }
  }
  return true;
}

constexpr int kMaxGroups = 31;  // Match() keeps submatches on the stack

bool IsRegexMeta(char c) {
  return std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos;
}
bool IsQuantifier(char c) { return c == '?' || c == '*' || c == '+' || c == '{'; }

// Reads literal characters (ASCII, escaped punctuation included) from
// pattern[*i] on; stops at the first character that is not one.
std::string ReadLiteral(std::string_view pattern, size_t* i) {
  std::string out;
  while (*i < pattern.size()) {
    const unsigned char c = static_cast<unsigned char>(pattern[*i]);
    if (c >= 0x80) break;
    if (c == '\\') {
      if (*i + 1 >= pattern.size()) break;
      const unsigned char e = static_cast<unsigned char>(pattern[*i + 1]);
      if (e >= 0x80 || std::isalnum(e)) break;  // \s, \d, \b, \x41...: not a literal
      out.push_back(static_cast<char>(e));
      *i += 2;
    } else if (IsRegexMeta(static_cast<char>(c))) {
      break;
    } else {
      out.push_back(static_cast<char>(c));
      ++*i;
    }
  }
  return out;
}

// True if `pattern` has a '|' outside every group and class.
bool HasTopLevelAlternation(std::string_view pattern) {
  int depth = 0;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      ++i;
    } else if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') ++i;
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') ++i;  // a leading ']' is literal
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == '|' && depth == 0) {
      return true;
    }
  }
  return false;
}

// The literals one of which every match of `pattern` begins with, when its
// start says so plainly: a literal run ("rhost=", "pam_tally" of
// "pam_tally2?"), or a non-capturing group of literal alternatives
// ("(?:received|failures) for"), each after any number of "\b". False for
// anything else (a leading class, capture, anchor, flag group, or a '|' at
// the top level): the caller then searches as before.
bool LeadingLiterals(std::string_view pattern, std::vector<std::string>* starts) {
  starts->clear();
  if (HasTopLevelAlternation(pattern)) return false;
  size_t i = 0;
  while (pattern.substr(i, 2) == "\\b") i += 2;  // empty-width: the match starts at the literal
  if (pattern.substr(i, 3) == "(?:") {
    i += 3;
    for (;;) {
      std::string lit = ReadLiteral(pattern, &i);
      if (lit.empty() || i >= pattern.size() || (pattern[i] != '|' && pattern[i] != ')')) {
        starts->clear();
        return false;
      }
      starts->push_back(std::move(lit));
      if (pattern[i++] == ')') break;
    }
    if (i < pattern.size() && IsQuantifier(pattern[i])) {  // "(?:a|b)?": may be absent
      starts->clear();
      return false;
    }
    return true;
  }
  std::string lit = ReadLiteral(pattern, &i);
  // A quantifier binds to the last character only: "tally2?" starts with "tally".
  if (!lit.empty() && i < pattern.size() && IsQuantifier(pattern[i])) lit.pop_back();
  if (lit.empty()) return false;
  starts->push_back(std::move(lit));
  return true;
}

// out = text with A-Z lowered, eight bytes at a time (bytes >= 0x80 kept).
void AsciiLowerCopy(std::string_view text, std::string* out) {
  out->resize(text.size());
  char* dst = out->data();
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, text.data() + i, 8);
    const uint64_t low7 = x & 0x7f7f7f7f7f7f7f7full;
    const uint64_t above_z = low7 + 0x2525252525252525ull;  // high bit set: > 'Z'
    const uint64_t from_a = low7 + 0x3f3f3f3f3f3f3f3full;   // high bit set: >= 'A'
    const uint64_t upper = (from_a ^ above_z) & ~x & 0x8080808080808080ull;
    x |= upper >> 2;  // 0x80 >> 2 == 0x20, the case bit
    std::memcpy(dst + i, &x, 8);
  }
  for (; i < text.size(); ++i) {
    dst[i] = static_cast<char>(AsciiLower(static_cast<unsigned char>(text[i])));
  }
}

// expr_hit_'s value for kAuditRecordTrigger: no rule's.
constexpr unsigned kAuditHexHit = UINT_MAX;

struct ScanContext {
  const std::vector<unsigned>* expr_hit;
  std::vector<unsigned>* rule_hits;
  bool audit_record = false;  // kAuditRecordTrigger matched
};

// Only records; every other step runs after the scan for the rules that hit.
int OnMatch(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/,
            unsigned int /*flags*/, void* ctx) {
  auto* c = static_cast<ScanContext*>(ctx);
  const unsigned hit = (*c->expr_hit)[id];
  if (hit == kAuditHexHit) {
    c->audit_record = true;
  } else {
    c->rule_hits->push_back(hit);
  }
  return 0;
}

// The error of a failed hs_compile_multi, pointing at the pack line of the
// expression Hyperscan names (expr_hit maps expression -> rule index << 1).
Status CompileError(const HsCompileError& err, const std::vector<std::string>& exprs,
                    const std::vector<unsigned>& expr_hit, const std::vector<Rule>& rules) {
  const std::string& msg = err.message;
  const int index = err.expression;
  if (index < 0 || static_cast<size_t>(index) >= exprs.size()) {
    return Status::InvalidArgument("Hyperscan cannot compile the rule set: " + msg);
  }
  const unsigned r = expr_hit[index] >> 1;
  const Rule& rule = rules[r];
  // Which of this rule's expressions it was, to point at its own line.
  size_t first = 0;
  while (expr_hit[first] >> 1 != r) ++first;
  const size_t k = static_cast<size_t>(index) - first;
  const bool pre = !rule.prefilter.empty();
  const std::vector<int>& lines = pre ? rule.prefilter_lines : rule.match_lines;
  const int line = k < lines.size() ? lines[k] : rule.line;
  return Status::InvalidArgument(Where(rule, line) + (pre ? ": prefilter" : ": match") +
                                 ": Hyperscan cannot compile \"" + exprs[index] + "\": " + msg);
}

}  // namespace

// With known start literals the match must begin at one of their
// occurrences, so the first occurrence where an anchored match succeeds is
// where the unanchored search's match starts, with the same submatches
// (RE2 searches unanchored as if the pattern began with a lazy `.*?`);
// `input` stays the context, so \b and ^ read the bytes before the start.
// Anchored attempts are capped: past kMaxAnchoredTries occurrences (a line
// full of the literal), one unanchored search from the next occurrence on
// (no match starts earlier) keeps the work linear in the line.
bool RuleSet::Compiled::Extractor::Search(re2::StringPiece input, std::string_view lowered,
                                          re2::StringPiece* groups, int n) const {
  if (starts.empty() || starts.size() > kMaxStarts || input.empty()) {
    return re->Match(input, 0, input.size(), re2::RE2::UNANCHORED, groups, n);
  }
  constexpr int kMaxAnchoredTries = 8;
  // Caseless literals are in lower case and looked for in the lowered copy.
  const std::string_view hay =
      starts_caseless ? lowered : std::string_view(input.data(), input.size());
  size_t next[kMaxStarts];  // next occurrence of each literal at or after pos
  for (size_t k = 0; k < starts.size(); ++k) next[k] = hay.find(starts[k]);
  int tries = 0;
  for (;;) {
    size_t pos = std::string_view::npos;
    for (size_t k = 0; k < starts.size(); ++k) pos = std::min(pos, next[k]);
    if (pos == std::string_view::npos) return false;
    if (++tries > kMaxAnchoredTries) {
      return re->Match(input, pos, input.size(), re2::RE2::UNANCHORED, groups, n);
    }
    if (re->Match(input, pos, input.size(), re2::RE2::ANCHOR_START, groups, n)) return true;
    for (size_t k = 0; k < starts.size(); ++k) {
      if (next[k] == pos) next[k] = hay.find(starts[k], pos + 1);
    }
  }
}

RuleSet::Compiled::Extractor RuleSet::Compiled::Extractor::Make(const std::string& pattern,
                                                                bool case_sensitive,
                                                                std::string* error) {
  Compiled::Extractor ex;
  ex.re = LazyRe2(pattern, Re2Options(case_sensitive));
  *error = ex.re.Check(&ex.groups, &ex.named);
  if (error->empty()) {
    ex.simple = SimpleRegex::Compile(pattern, case_sensitive);
    if (ex.simple != nullptr && ex.simple->groups() != ex.groups) ex.simple.reset();
  }
  if (error->empty() && LeadingLiterals(pattern, &ex.starts)) {
    ex.starts_caseless = !case_sensitive;
    if (ex.starts_caseless) {
      for (std::string& lit : ex.starts) {
        for (char& c : lit) c = static_cast<char>(AsciiLower(static_cast<unsigned char>(c)));
      }
    }
  }
  ex.reads_lowered = ex.starts_caseless || (ex.simple != nullptr && ex.simple->reads_lowered());
  return ex;
}

RuleSet::RuleSet() = default;

RuleSet::~RuleSet() {
  if (db_ != nullptr) hs_free_database(db_);
  if (sd_db_ != nullptr) hs_free_database(sd_db_);
}

RuleSet::Scratch::~Scratch() {
  if (hs_ != nullptr) hs_free_scratch(hs_);
}

size_t RuleSet::Scratch::bytes() const {
  size_t n = 0;
  if (hs_ != nullptr && hs_scratch_size(hs_, &n) != HS_SUCCESS) n = 0;
  return n;
}

size_t RuleSet::database_bytes() const {
  size_t total = 0;
  for (const hs_database* db : {db_, sd_db_}) {
    size_t n = 0;
    if (db != nullptr && hs_database_size(db, &n) == HS_SUCCESS) total += n;
  }
  return total;
}

StatusOr<std::shared_ptr<const RuleSet>> RuleSet::Compile(std::vector<Rule> rules,
                                                          AlertIgnore ignore, HsCompileIn where,
                                                          HsCache* cache) {
  std::shared_ptr<RuleSet> set(new RuleSet());
  set->rules_ = std::move(rules);
  // The signs and rule ids some rule's pending alert waits for
  // (matchers/alert_pending.h).
  for (Rule& r : set->rules_) r.answers_pending = false;
  for (const Rule& w : set->rules_) {
    for (const std::string& name : w.answered_by) {
      bool found = IsKnownSign(name);
      for (Rule& r : set->rules_) {
        if (r.sign != name && r.id != name) continue;
        found = true;
        r.answers_pending = true;
      }
      if (!found) {
        return Status::InvalidArgument(Where(w, w.line) + ": answered_by: \"" + name +
                                       "\" is no rule's sign or id");
      }
    }
  }
  set->ignore_ = std::move(ignore);
  // A recall needs a remember of its name with as many key fields
  // (matchers/field_carry.h).
  for (const Rule& r : set->rules_) {
    set->has_carry_ |= !r.remember.name.empty() || !r.recall.name.empty();
    if (r.recall.name.empty()) continue;
    const Rule* source = nullptr;
    for (const Rule& other : set->rules_) {
      if (other.remember.name == r.recall.name) source = &other;
    }
    if (source == nullptr) {
      return Status::InvalidArgument(Where(r, r.line) + ": recall: no rule remembers \"" +
                                     r.recall.name + "\"");
    }
    if (source->remember.key.size() != r.recall.key.size()) {
      return Status::InvalidArgument(
          Where(r, r.line) + ": recall: key has " + std::to_string(r.recall.key.size()) +
          " fields, the remember of \"" + r.recall.name + "\" in rule " + source->id + " has " +
          std::to_string(source->remember.key.size()));
    }
  }

  // One database per text a rule can read; expression ids index each
  // database's own expr_hit vector.
  HsExpressions hs, hs_sd;
  bool every_rule_matches = true;
  for (size_t i = 0; i < set->rules_.size(); ++i) {
    const Rule& rule = set->rules_[i];
    every_rule_matches = every_rule_matches && !rule.match.empty();
    const bool sd = rule.text == Rule::Text::kStructuredData;
    HsExpressions& into = sd ? hs_sd : hs;
    std::vector<unsigned>& expr_hit = sd ? set->sd_expr_hit_ : set->expr_hit_;
    for (const std::string& m : rule.prefilter.empty() ? rule.match : rule.prefilter) {
      into.expressions.push_back(m);
      into.flags.push_back(HS_FLAG_SINGLEMATCH | (rule.case_sensitive ? 0u : HS_FLAG_CASELESS));
      const bool exact = !rule.prefilter.empty() &&
                         std::find(rule.match.begin(), rule.match.end(), m) != rule.match.end();
      expr_hit.push_back(static_cast<unsigned>(i) << 1 | (exact ? 1u : 0u));
    }
  }
  // Marks audit records (audit_hex.h): only they are decoded, and scanned
  // again when they hold a hex-encoded value.
  if (!hs.expressions.empty()) {
    hs.expressions.emplace_back(kAuditRecordTrigger);
    hs.flags.push_back(HS_FLAG_SINGLEMATCH);
    set->expr_hit_.push_back(kAuditHexHit);
  }
  // The databases from the cache, if it has them, before the extractors
  // are built: the cache file's bytes and the deserialized database (~4.7
  // and 4.5 MiB with the bundled packs) live together for a moment, and
  // that moment was the server's start-up peak, on top of the extractors
  // (~3.4 MiB). A hit means Hyperscan took these expressions before, so
  // no error of this pack comes from it: the checks below report the same
  // error as without the cache. A miss compiles after them, as before.
  if (cache != nullptr && every_rule_matches) {
    HsCache look = *cache;  // *cache reports the outcome of build() below
    if (!hs.expressions.empty()) LoadCachedHsDatabase(hs, &look, &set->db_);
    if (!hs_sd.expressions.empty()) LoadCachedHsDatabase(hs_sd, &look, &set->sd_db_);
  }
  for (size_t i = 0; i < set->rules_.size(); ++i) {
    const Rule& rule = set->rules_[i];
    if (rule.match.empty()) {
      return Status::InvalidArgument(Where(rule, rule.line) + ": match: no expression");
    }
    auto compiled = std::make_unique<Compiled>();
    if (!rule.prefilter.empty()) {
      for (size_t k = 0; k < rule.match.size(); ++k) {
        std::string error;
        Compiled::Extractor c =
            Compiled::Extractor::Make(rule.match[k], rule.case_sensitive, &error);
        if (!error.empty()) {
          const int line = k < rule.match_lines.size() ? rule.match_lines[k] : rule.line;
          return Status::InvalidArgument(
              Where(rule, line) + ": match: RE2 (which checks the hits of `prefilter`): " + error +
              " in \"" + rule.match[k] + "\"");
        }
        // Without submatches RE2 runs only its DFA, which SimpleRegex's
        // backtracking does not beat on these alternations (callgrind:
        // confirmation 6.8 M -> 13.1 M instructions on the corpus).
        c.simple.reset();
        compiled->confirm_lowered |= c.starts_caseless;
        compiled->confirm.push_back(std::move(c));
      }
    }
    if (!rule.unless.empty()) {
      std::string error;
      compiled->unless = Compiled::Extractor::Make(rule.unless, rule.case_sensitive, &error);
      if (!error.empty()) {
        return Status::InvalidArgument(Where(rule, rule.unless_line) + ": unless: RE2: " + error +
                                       " in \"" + rule.unless + "\"");
      }
      // No submatches: RE2's DFA alone (as for confirmations).
      compiled->unless.simple.reset();
      compiled->has_unless = true;
    }
    if (!rule.program.empty()) {
      compiled->has_program = true;
      compiled->program = LazyRe2("(?:" + rule.program + ")", Re2Options(false));
      if (const std::string error = compiled->program.Check(); !error.empty()) {
        return Status::InvalidArgument(Where(rule, rule.line) + ": program: RE2: " + error +
                                       " in \"" + rule.program + "\"");
      }
      compiled->program_is_literal = ExpandNames(rule.program, &compiled->program_names);
    }
    for (const std::string& e : rule.extract) {
      std::string error;
      Compiled::Extractor ex = Compiled::Extractor::Make(e, rule.case_sensitive, &error);
      if (!error.empty()) {
        return Status::InvalidArgument(Where(rule, rule.line) + ": extract: RE2: " + error +
                                       " in \"" + e + "\"");
      }
      if (ex.groups > kMaxGroups) {
        return Status::InvalidArgument(Where(rule, rule.line) + ": extract: more than " +
                                       std::to_string(kMaxGroups) + " capturing groups in \"" + e +
                                       "\"");
      }
      if (rule.extract_all) {
        for (const auto& [index, name] : ex.named) {
          for (const Compiled::Extractor& earlier : compiled->extract) {
            for (const auto& [other_index, other_name] : earlier.named) {
              if (other_name == name) {
                return Status::InvalidArgument(
                    Where(rule, rule.line) + ": extract_all: the group \"" + name +
                    "\" is in two extract expressions (each field comes from one)");
              }
            }
          }
        }
      }
      compiled->extract.push_back(std::move(ex));
    }
    set->compiled_.push_back(std::move(compiled));
  }

  auto build = [&](const HsExpressions& in, const std::vector<unsigned>& expr_hit,
                   hs_database** db) -> Status {
    if (in.expressions.empty()) return Status::Ok();
    if (*db != nullptr) {  // read from the cache above
      cache->hit = true;
      cache->problem.clear();
      return Status::Ok();
    }
    HsCompileError refused;
    if (Status st = CompileHsDatabase(in, where, db, &refused, cache); !st.ok()) {
      *db = nullptr;
      if (st.code() != StatusCode::kInvalidArgument) return st;
      return CompileError(refused, in.expressions, expr_hit, set->rules_);
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(build(hs, set->expr_hit_, &set->db_));
  // The cache answers for both databases: read from it only if both were.
  const bool first_hit = cache == nullptr || hs.expressions.empty() || cache->hit;
  const std::string first_problem = cache == nullptr ? std::string() : cache->problem;
  RETURN_IF_ERROR(build(hs_sd, set->sd_expr_hit_, &set->sd_db_));
  if (cache != nullptr && !hs_sd.expressions.empty()) {
    cache->hit = cache->hit && first_hit;
    if (cache->problem.empty()) cache->problem = first_problem;
  }
  return std::shared_ptr<const RuleSet>(std::move(set));
}

StatusOr<std::unique_ptr<RuleSet::Scratch>> RuleSet::NewScratch() const {
  hs_scratch_t* s = nullptr;
  // One scratch serves both databases (hs_alloc_scratch grows it to fit).
  for (const hs_database* db : {db_, sd_db_}) {
    if (db == nullptr) continue;
    if (hs_error_t rc = hs_alloc_scratch(db, &s); rc != HS_SUCCESS) {
      if (s != nullptr) hs_free_scratch(s);
      return Status::Internal("hs_alloc_scratch failed with code " + std::to_string(rc));
    }
  }
  std::unique_ptr<Scratch> scratch(new Scratch(s, this));
  scratch->rule_hits_.reserve(16);
  return scratch;
}

// An address field's IPv4-mapped IPv6 form ("::ffff:203.0.113.74": dropbear,
// vsftpd, Dovecot, Java daemons on a dual-stack socket) is the IPv4 address
// the other daemons write: one source in every count, key and set (evasion15:
// dropbear's failures and sshd's login of one address were two sources).
// Fields named "ip" or "*_ip" only.
std::string_view UnmappedIpv4(std::string_view name, std::string_view value) {
  constexpr std::string_view kMapped = "::ffff:";
  if (value.size() <= kMapped.size() + 6 || !(name == "ip" || name.ends_with("_ip"))) return value;
  for (size_t i = 0; i < kMapped.size(); ++i) {
    if ((value[i] | 0x20) != kMapped[i]) return value;
  }
  const std::string_view v4 = value.substr(kMapped.size());
  int dots = 0;
  for (char c : v4) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return value;
    }
  }
  return dots == 3 ? v4 : value;
}

bool RuleSet::ProgramMatches(size_t rule_index, std::string_view app_name) const {
  const Compiled& c = *compiled_[rule_index];
  if (const std::vector<std::string>& except = rules_[rule_index].program_except; !except.empty()) {
    const size_t slash = app_name.rfind('/');
    const std::string_view last =
        slash == std::string_view::npos ? app_name : app_name.substr(slash + 1);
    for (const std::string& name : except) {
      if (EqualsIgnoreCase(app_name, name) || EqualsIgnoreCase(last, name)) return false;
    }
  }
  if (!c.has_program) return true;
  auto matches = [&c](std::string_view name) {
    if (c.program_is_literal) {
      for (const std::string& want : c.program_names) {
        if (EqualsIgnoreCase(name, want)) return true;
      }
      return false;
    }
    return re2::RE2::FullMatch(re2::StringPiece(name), *c.program);
  };
  if (matches(app_name)) return true;
  // A program that logs under its path ("/usr/sbin/sshd[1]:": openlog with
  // argv[0], or a daemon started by its full path) is the program its last
  // component names.
  const size_t slash = app_name.rfind('/');
  return slash != std::string_view::npos && slash + 1 < app_name.size() &&
         matches(app_name.substr(slash + 1));
}

void RuleSet::Match(const Message& msg, Scratch& scratch, std::vector<RuleHit>* hits) const {
  assert(scratch.owner_ == this);
  // RuleHit objects already in *hits (and their fields' buffers) are
  // recycled rather than freed and reallocated for every message; the field
  // buffers of the hits past the new count go to the scratch, not to free().
  const size_t n = MatchInto(msg, scratch, hits);
  for (size_t i = n; i < hits->size(); ++i) {
    std::vector<std::pair<std::string, std::string>>& fields = (*hits)[i].fields;
    if (fields.capacity() > 0) scratch.spare_fields_.push_back(std::move(fields));
  }
  hits->resize(n);
}

bool RuleSet::Confirms(size_t rule_index, std::string_view text, std::string_view lowered) const {
  const Compiled& c = *compiled_[rule_index];
  if (c.confirm.empty()) return true;
  const re2::StringPiece input(text.data(), text.size());
  for (const Compiled::Extractor& m : c.confirm) {
    if (m.Search(input, lowered, nullptr, 0)) return true;
  }
  return false;
}

size_t RuleSet::MatchInto(const Message& msg, Scratch& scratch, std::vector<RuleHit>* hits) const {
  size_t used = 0;
  std::string_view text = msg.format == MessageFormat::kUnparsed ? msg.raw : msg.msg;
  if (text.size() > UINT_MAX) text = text.substr(0, UINT_MAX);
  std::string_view sd = msg.structured_data;
  if (sd.size() > UINT_MAX) sd = sd.substr(0, UINT_MAX);

  scratch.rule_hits_.clear();
  if (db_ != nullptr) {
    // An EXECVE record told by its first bytes is decoded first and
    // scanned once (its copy, with the cmdline, is what the rules read).
    // Such a record starts "EXECVE ", "node=" or "type=", or is the
    // kernel's printk: the first byte or the program spares every other
    // line the call (~30 instructions per line).
    const bool decoded =
        !text.empty() &&
        (text[0] == 'E' || text[0] == 'n' || text[0] == 't' || msg.app_name == kKernelProgram) &&
        StartsAsExecveRecord(text, msg.app_name) && DecodeAuditRecord(text, &scratch.audit_);
    if (decoded) text = scratch.audit_.text;
    ScanContext ctx{&expr_hit_, &scratch.rule_hits_};
    hs_scan(db_, text.data(), static_cast<unsigned>(text.size()), 0, scratch.hs_, OnMatch, &ctx);
    // Another audit record with a hex-encoded value or an EXECVE record in
    // another form: the rules read its decoded copy, and what the raw
    // bytes hit is dropped (a second pass, on such lines only).
    if (!decoded && (ctx.audit_record || msg.app_name == kAuditProgram) &&
        DecodeAuditRecord(text, &scratch.audit_)) {
      text = scratch.audit_.text;
      scratch.rule_hits_.clear();
      ScanContext again{&expr_hit_, &scratch.rule_hits_};
      hs_scan(db_, text.data(), static_cast<unsigned>(text.size()), 0, scratch.hs_, OnMatch,
              &again);
    }
  }
  // The only cost of the structured-data rules for a line without
  // structured data, or for every line when no rule reads it.
  if (sd_db_ != nullptr && !sd.empty()) {
    ScanContext ctx{&sd_expr_hit_, &scratch.rule_hits_};
    hs_scan(sd_db_, sd.data(), static_cast<unsigned>(sd.size()), 0, scratch.hs_, OnMatch, &ctx);
  }
  if (scratch.rule_hits_.empty()) return used;

  // One entry per rule, in rule order; a hit of an expression that is the
  // rule's match itself (odd, so sorted after the rule's other hits) keeps
  // the rule from RE2's confirmation.
  std::vector<unsigned>& ids = scratch.rule_hits_;
  if (ids.size() > 1) {
    std::sort(ids.begin(), ids.end());
    size_t kept = 0;
    for (const unsigned tagged : ids) {
      if (kept > 0 && ids[kept - 1] >> 1 == tagged >> 1) {
        ids[kept - 1] = tagged;
      } else {
        ids[kept++] = tagged;
      }
    }
    ids.resize(kept);
  }
  re2::StringPiece groups[kMaxGroups + 1];
  bool lowered = false;     // scratch.lowered_ holds this message's text
  bool lowered_sd = false;  // scratch.lowered_sd_ holds its structured data
  for (const unsigned tagged : ids) {
    const unsigned r = tagged >> 1;
    if (!ProgramMatches(r, msg.app_name)) continue;
    const Rule& rule = rules_[r];
    if (!rule.pid.empty() && !msg.procid.empty() && msg.procid != rule.pid) continue;
    // Which text the rule reads is looked at only past the program filter,
    // which rejects most Hyperscan hits of a benign line.
    if (rule.empty_message && !IsBlank(text)) continue;
    const bool reads_sd = rule.text == Rule::Text::kStructuredData;
    const std::string_view read = reads_sd ? sd : text;
    const re2::StringPiece input(read.data(), read.size());
    auto lower = [&]() -> std::string_view {
      bool& done = reads_sd ? lowered_sd : lowered;
      std::string& buffer = reads_sd ? scratch.lowered_sd_ : scratch.lowered_;
      if (!done) {
        AsciiLowerCopy(read, &buffer);
        done = true;
      }
      return buffer;
    };
    if ((tagged & 1u) == 0 &&
        !Confirms(r, read, compiled_[r]->confirm_lowered ? lower() : std::string_view())) {
      continue;
    }
    // The rule's exclusion: after every cheaper filter, on this rule's hit only.
    if (const Compiled& c = *compiled_[r];
        c.has_unless &&
        c.unless.Search(input, c.unless.starts_caseless ? lower() : std::string_view(), nullptr,
                        0)) {
      continue;
    }
    if (used == hits->size()) {
      hits->emplace_back();
      if (!scratch.spare_fields_.empty()) {
        hits->back().fields = std::move(scratch.spare_fields_.back());
        scratch.spare_fields_.pop_back();
      }
    }
    RuleHit& hit = (*hits)[used++];
    hit.rule = &rules_[r];
    size_t nfields = 0;
    for (const Compiled::Extractor& ex : compiled_[r]->extract) {
      const int n = ex.groups + 1;
      const std::string_view lowered_text = ex.reads_lowered ? lower() : std::string_view();
      // SimpleRegex when the extract is simple; RE2 when it is not, or when
      // SimpleRegex gives up (its step budget).
      SimpleRegex::Result simple = SimpleRegex::Result::kGaveUp;
      if (ex.simple != nullptr) simple = ex.simple->Search(input, groups, n, lowered_text);
      if (simple == SimpleRegex::Result::kNoMatch ||
          (simple == SimpleRegex::Result::kGaveUp && !ex.Search(input, lowered_text, groups, n))) {
        continue;
      }
      for (const auto& [index, name] : ex.named) {
        if (index >= n || groups[index].data() == nullptr) continue;
        const std::string_view value(groups[index].data(), groups[index].size());
        if (nfields == hit.fields.size()) {
          if (scratch.spare_values_.empty()) {
            hit.fields.emplace_back();
          } else {
            hit.fields.push_back(std::move(scratch.spare_values_.back()));
            scratch.spare_values_.pop_back();
          }
        }
        hit.fields[nfields].first.assign(name);
        hit.fields[nfields].second.assign(UnmappedIpv4(name, value));
        ++nfields;
      }
      if (!rules_[r].extract_all) break;
    }
    while (hit.fields.size() > nfields) {
      scratch.spare_values_.push_back(std::move(hit.fields.back()));
      hit.fields.pop_back();
    }
    hit.ignored = ignore_.Ignores(hit.fields);
  }
  return used;
}

size_t RuleSet::re2_expressions() const {
  size_t n = 0;
  for (const auto& c : compiled_) {
    n += (c->has_program ? 1 : 0) + (c->has_unless ? 1 : 0) + c->confirm.size() + c->extract.size();
  }
  return n;
}

size_t RuleSet::re2_built() const {
  size_t n = 0;
  for (const auto& c : compiled_) {
    n += c->has_program && c->program.built() ? 1 : 0;
    n += c->has_unless && c->unless.re.built() ? 1 : 0;
    for (const Compiled::Extractor& e : c->confirm) n += e.re.built() ? 1 : 0;
    for (const Compiled::Extractor& e : c->extract) n += e.re.built() ? 1 : 0;
  }
  return n;
}

const Rule* RuleSet::FindRule(std::string_view id) const {
  for (const Rule& r : rules_) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

std::string_view HitKeyValue(const Message& msg, const RuleHit& hit, std::string_view name) {
  for (const auto& [k, v] : hit.fields) {
    if (k == name && !v.empty()) return v;
  }
  if (name == "program") return msg.app_name;
  if (name == "pid") return msg.procid;
  return {};
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
  // One line for N identical ones (the sender's repeat reduction).
  if (msg.repeats > 1) a.fields.emplace_back("repeated", std::to_string(msg.repeats));
  a.message = std::string(msg.raw);
  return a;
}

}  // namespace konseki::matchers
