// SimpleRegex: a small backtracking matcher for the plain extract
// expressions of the rule packs (literals, classes and their repeats,
// groups, alternation, `?` groups, ^ $ \b), with RE2's leftmost-first
// results on them, so RuleSet::Match need not call RE2 for most hits
// (issue 17: RE2 was a third of a corpus line, most of it BitState, which
// RE2 runs for submatches after a `^` or an anchored start;
// bench/RESULTS.md, the thirty-sixth session).
//
//   auto re = SimpleRegex::Compile(pattern, case_sensitive);  // nullptr: not simple
//   re2::StringPiece groups[8];
//   switch (re->Search(text, groups, n)) { case kMatch: ...; case kNoMatch: ...;
//                                          case kGaveUp: /* ask RE2 */ }
//
// "Simple" (Compile returns it; anything else returns nullptr): ASCII
// literals and escaped punctuation, \xHH, \t \n \r \f, '.', \d \D \s \S \w
// \W, bracket classes of those (ranges, negation), `*`, `+`, `?`, `{n}`,
// `{n,}`, `{n,m}` (greedy or lazy) on a character or class, `?`/`??` on a
// group, `(?:...)` and `(?P<name>...)` groups with '|', and ^ $ \b \B. Not:
// flag groups ((?i), (?-i:...)), repeats of groups other than `?`, POSIX
// and Unicode classes, bytes >= 0x80 in the pattern. Semantics are RE2's
// with Latin-1 encoding: '.' is any byte but \n, \s is [\t\n\f\r ], \w
// and \b are ASCII, ^ and $ are the text's start and end, and a caseless
// expression folds ASCII letters only (the only folds among Latin-1 bytes
// that an ASCII pattern has). Search explores alternatives in priority
// order, which is RE2's leftmost-first choice for expressions without
// repeated groups; a step budget linear in the text keeps it from
// backtracking without end: past it Search answers kGaveUp.
//
// Immutable once compiled; Search is const and thread-safe (its state is
// on the stack: it allocates nothing).
#pragma once

#include <re2/stringpiece.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace konseki::matchers {

class SimpleRegex {
 public:
  enum class Result { kNoMatch, kMatch, kGaveUp };

  // nullptr when `pattern` uses anything outside the simple syntax above
  // (or is not valid): the caller keeps RE2 for it.
  static std::unique_ptr<SimpleRegex> Compile(std::string_view pattern, bool case_sensitive);

  // The leftmost-first match of the expression in `text`, as RE2::Match
  // (UNANCHORED) reports it: groups[0] the match, groups[i] capturing group
  // i (a null StringPiece when it took no part), for i < n. n <= 1 +
  // groups(). kGaveUp: undecided (the budget ran out); groups are garbage.
  // `lowered`: text in ASCII lower case, read only when reads_lowered()
  // (a caseless expression that begins with a literal: its occurrences in
  // lowered are the only places a match can start).
  Result Search(re2::StringPiece text, re2::StringPiece* groups, int n,
                std::string_view lowered = {}) const;
  bool reads_lowered() const { return fold_ && !lead_.empty(); }

  int groups() const { return ncap_; }

 private:
  enum class Op : uint8_t { kLit, kRun, kSplit, kJmp, kSave, kBot, kEot, kWord, kNotWord, kMatch };
  struct Inst {
    Op op;
    bool greedy = true;    // kRun
    uint16_t set = 0;      // kRun: index into sets_
    int min = 0, max = 0;  // kRun: repeat bounds (max -1: unbounded); kSave: slot
    int x = 0, y = 0;      // kSplit: preferred, other; kJmp: x; kLit: offset, length in lits_
  };
  using ByteSet = std::array<uint64_t, 4>;
  static bool Has(const ByteSet& s, unsigned char c) { return (s[c >> 6] >> (c & 63)) & 1; }

  class Parser;
  bool Run(std::string_view text, size_t start, int* caps, int ncaps, long* budget) const;

  std::vector<Inst> prog_;
  std::vector<ByteSet> sets_;
  std::string lits_;        // kLit bytes, in lower case when caseless
  bool fold_ = false;       // caseless: kLit compares text bytes lowered
  int ncap_ = 0;            // capturing groups
  bool anchored_ = false;   // begins with ^: only position 0
  bool has_first_ = false;  // every match begins with a byte of first_
  ByteSet first_{};
  std::string lead_;  // the literal every match begins with (lower case when caseless), or ""
};

}  // namespace konseki::matchers
