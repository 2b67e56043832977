#include "matchers/simple_regex.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace konseki::matchers {

namespace {

using ByteSet = std::array<uint64_t, 4>;

void Add(ByteSet* s, unsigned char c) { (*s)[c >> 6] |= uint64_t{1} << (c & 63); }
void AddRange(ByteSet* s, unsigned lo, unsigned hi) {
  for (unsigned c = lo; c <= hi; ++c) Add(s, static_cast<unsigned char>(c));
}
bool In(const ByteSet& s, unsigned char c) { return (s[c >> 6] >> (c & 63)) & 1; }
void Negate(ByteSet* s) {
  for (uint64_t& w : *s) w = ~w;
}
// ASCII letters in both cases: RE2's case folding of a Latin-1 expression
// written in ASCII (its other folds, U+017F and U+212A, are not bytes).
void Fold(ByteSet* s) {
  for (unsigned c = 'a'; c <= 'z'; ++c) {
    const unsigned char u = static_cast<unsigned char>(c - 'a' + 'A');
    if (In(*s, static_cast<unsigned char>(c)) || In(*s, u)) {
      Add(s, static_cast<unsigned char>(c));
      Add(s, u);
    }
  }
}
unsigned char Lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }
bool IsWordByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

// RE2's Perl classes (ASCII): \d [0-9], \s [\t\n\f\r ], \w [0-9A-Za-z_];
// upper case negates.
bool PerlClass(char e, ByteSet* s) {
  ByteSet p{};
  switch (std::tolower(static_cast<unsigned char>(e))) {
    case 'd':
      AddRange(&p, '0', '9');
      break;
    case 's':
      for (const char c : {'\t', '\n', '\f', '\r', ' '}) Add(&p, static_cast<unsigned char>(c));
      break;
    case 'w':
      AddRange(&p, '0', '9');
      AddRange(&p, 'A', 'Z');
      AddRange(&p, 'a', 'z');
      Add(&p, '_');
      break;
    default:
      return false;
  }
  if (std::isupper(static_cast<unsigned char>(e))) Negate(&p);
  for (int i = 0; i < 4; ++i) (*s)[i] |= p[i];
  return true;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// Recursive descent straight to the program (no tree): each construct
// emits its instructions where it is parsed and patches its jumps.
class SimpleRegex::Parser {
 public:
  Parser(std::string_view p, bool case_sensitive, SimpleRegex* out)
      : p_(p), fold_(!case_sensitive), re_(out) {}

  bool Parse() {
    if (!Alternation(0)) return false;
    if (i_ != p_.size()) return false;
    Emit({.op = Op::kMatch});
    return re_->prog_.size() < 60000 && re_->sets_.size() < 60000;
  }

 private:
  int Emit(Inst in) {
    mergeable_ = false;
    re_->prog_.push_back(in);
    return static_cast<int>(re_->prog_.size()) - 1;
  }
  // The next instruction's index, as a jump target: no literal may grow
  // into it from before.
  int Here() {
    mergeable_ = false;
    return static_cast<int>(re_->prog_.size());
  }
  uint16_t AddSet(ByteSet s) {
    re_->sets_.push_back(s);
    return static_cast<uint16_t>(re_->sets_.size() - 1);
  }
  bool More() const { return i_ < p_.size(); }
  char Peek() const { return p_[i_]; }

  // alt := seq ('|' seq)*
  bool Alternation(int depth) {
    if (depth > 16) return false;
    std::vector<int> jumps;
    for (;;) {
      const int split = Emit({.op = Op::kSplit});
      re_->prog_[split].x = Here();
      if (!Sequence(depth)) return false;
      if (!More() || Peek() != '|') {
        // The last alternative: no split needed; turn it into a no-op jump.
        re_->prog_[split].op = Op::kJmp;
        re_->prog_[split].x = split + 1;
        break;
      }
      ++i_;
      jumps.push_back(Emit({.op = Op::kJmp}));
      re_->prog_[split].y = Here();
    }
    for (const int j : jumps) re_->prog_[j].x = Here();
    return true;
  }

  bool Sequence(int depth) {
    while (More() && Peek() != '|' && Peek() != ')') {
      if (!Atom(depth)) return false;
    }
    return true;
  }

  // A repeat after a character or class: *, +, ?, {n}, {n,}, {n,m}, each
  // optionally lazy. min/max -1 when there is none.
  bool Repeat(int* min, int* max, bool* greedy, bool* present) {
    *present = false;
    *greedy = true;
    *min = 1;
    *max = 1;
    if (!More()) return true;
    const char c = Peek();
    if (c == '*' || c == '+' || c == '?') {
      *min = c == '+' ? 1 : 0;
      *max = c == '?' ? 1 : -1;
      ++i_;
    } else if (c == '{') {
      size_t j = i_ + 1;
      auto number = [&](int* v) {
        const size_t from = j;
        long n = 0;
        while (j < p_.size() && std::isdigit(static_cast<unsigned char>(p_[j])) && n <= 1000) {
          n = n * 10 + (p_[j++] - '0');
        }
        *v = static_cast<int>(n);
        return j > from && n <= 1000;
      };
      if (!number(min)) return false;  // RE2 would read a literal '{': not simple
      if (j < p_.size() && p_[j] == '}') {
        *max = *min;
      } else if (j < p_.size() && p_[j] == ',') {
        ++j;
        if (j < p_.size() && p_[j] == '}') {
          *max = -1;
        } else if (!number(max) || *max < *min) {
          return false;
        }
      } else {
        return false;
      }
      if (j >= p_.size() || p_[j] != '}') return false;
      i_ = j + 1;
    } else {
      return true;
    }
    *present = true;
    if (More() && Peek() == '?') {
      *greedy = false;
      ++i_;
    }
    // A second repeat ("a**", "a{2}{3}", possessive "a++"): not simple.
    return !(More() && (Peek() == '*' || Peek() == '+' || Peek() == '?' || Peek() == '{'));
  }

  // One escape after '\' (i_ at the letter) into *s; false if not simple.
  bool Escape(ByteSet* s, bool* is_class) {
    if (!More()) return false;
    const char e = p_[i_++];
    *is_class = false;
    if (PerlClass(e, s)) {
      *is_class = true;
      return true;
    }
    switch (e) {
      case 't':
        Add(s, '\t');
        return true;
      case 'n':
        Add(s, '\n');
        return true;
      case 'r':
        Add(s, '\r');
        return true;
      case 'f':
        Add(s, '\f');
        return true;
      case 'x': {
        if (i_ + 2 > p_.size()) return false;
        const int h = HexDigit(p_[i_]), l = HexDigit(p_[i_ + 1]);
        if (h < 0 || l < 0) return false;  // \x{...} and the like: not simple
        i_ += 2;
        Add(s, static_cast<unsigned char>(h * 16 + l));
        return true;
      }
      default:
        break;
    }
    const unsigned char u = static_cast<unsigned char>(e);
    if (u >= 0x80 || std::isalnum(u) || u < 0x20) return false;  // \b, \A, \pN, \Q...
    Add(s, u);
    return true;
  }

  // '[' ... ']' (i_ past '['), folded before negation as RE2 does.
  bool Class(ByteSet* out) {
    ByteSet s{};
    bool negated = false;
    if (More() && Peek() == '^') {
      negated = true;
      ++i_;
    }
    bool first = true;
    for (;;) {
      if (!More()) return false;
      char c = Peek();
      if (c == ']' && !first) {
        ++i_;
        break;
      }
      first = false;
      if (c == '[' && i_ + 1 < p_.size() && p_[i_ + 1] == ':') return false;  // [:alpha:]
      ByteSet one{};
      bool is_class = false;
      ++i_;
      if (c == '\\') {
        if (!Escape(&one, &is_class)) return false;
      } else {
        if (static_cast<unsigned char>(c) >= 0x80) return false;
        Add(&one, static_cast<unsigned char>(c));
      }
      // A range "a-b" of two single bytes.
      if (!is_class && i_ + 1 < p_.size() && Peek() == '-' && p_[i_ + 1] != ']') {
        ++i_;
        unsigned lo = 0;
        while (lo < 256 && !In(one, static_cast<unsigned char>(lo))) ++lo;
        ByteSet hi_set{};
        bool hi_class = false;
        const char h = p_[i_++];
        if (h == '\\') {
          if (!Escape(&hi_set, &hi_class) || hi_class) return false;
        } else {
          if (static_cast<unsigned char>(h) >= 0x80) return false;
          Add(&hi_set, static_cast<unsigned char>(h));
        }
        unsigned hi = 0;
        while (hi < 256 && !In(hi_set, static_cast<unsigned char>(hi))) ++hi;
        if (hi < lo || hi >= 0x80) return false;
        AddRange(&one, lo, hi);
      }
      for (int k = 0; k < 4; ++k) s[k] |= one[k];
    }
    if (fold_) Fold(&s);
    if (negated) Negate(&s);
    *out = s;
    return true;
  }

  bool Atom(int depth) {
    const char c = Peek();
    if (c == '(') {
      ++i_;
      int cap = -1;
      if (p_.substr(i_, 2) == "?:") {
        i_ += 2;
      } else if (p_.substr(i_, 3) == "?P<") {
        const size_t end = p_.find('>', i_ + 3);
        if (end == std::string_view::npos || end == i_ + 3) return false;
        i_ = end + 1;
        cap = ++re_->ncap_;
      } else if (More() && Peek() == '?') {
        return false;  // flags, lookarounds, (?<name>...)
      } else {
        cap = ++re_->ncap_;
      }
      // An optional group jumps over its body: emit the split first.
      const int split = Emit({.op = Op::kJmp});
      const int body = Here();
      if (cap >= 0) Emit({.op = Op::kSave, .min = 2 * cap});
      if (!Alternation(depth + 1)) return false;
      if (!More() || Peek() != ')') return false;
      ++i_;
      if (cap >= 0) Emit({.op = Op::kSave, .min = 2 * cap + 1});
      int min = 1, max = 1;
      bool greedy = true, present = false;
      if (!Repeat(&min, &max, &greedy, &present)) return false;
      if (!present) {
        re_->prog_[split].x = body;  // a plain group: the jump is a no-op
        return true;
      }
      if (min != 0 || max != 1) return false;  // repeated groups: RE2
      Inst& s = re_->prog_[split];
      s.op = Op::kSplit;
      s.x = greedy ? body : Here();
      s.y = greedy ? Here() : body;
      return true;
    }
    if (c == ')' || c == '|') return false;
    ++i_;
    ByteSet s{};
    int literal = -1;  // a single byte, caseless or not (kLit)
    if (c == '^' || c == '$') {
      Emit({.op = c == '^' ? Op::kBot : Op::kEot});
      return !(More() && (Peek() == '*' || Peek() == '+' || Peek() == '?' || Peek() == '{'));
    }
    if (c == '\\' && More() && (Peek() == 'b' || Peek() == 'B')) {
      Emit({.op = Peek() == 'b' ? Op::kWord : Op::kNotWord});
      ++i_;
      return !(More() && (Peek() == '*' || Peek() == '+' || Peek() == '?' || Peek() == '{'));
    }
    if (c == '\\') {
      bool is_class = false;
      if (!Escape(&s, &is_class)) return false;
      if (!is_class) {
        for (unsigned b = 0; b < 256; ++b) {
          if (In(s, static_cast<unsigned char>(b))) literal = static_cast<int>(b);
        }
        if (literal >= 0x80) literal = -1;  // \xHH >= 0x80: a class of one byte
      }
      if (fold_ && !is_class) Fold(&s);
    } else if (c == '[') {
      if (!Class(&s)) return false;
    } else if (c == '.') {
      AddRange(&s, 0, 255);
      s['\n' >> 6] &= ~(uint64_t{1} << ('\n' & 63));
    } else if (c == '*' || c == '+' || c == '?' || c == '{' || c == ']' || c == '}') {
      return false;  // a repeat of nothing, or a bracket RE2 may read otherwise
    } else {
      if (static_cast<unsigned char>(c) >= 0x80) return false;
      Add(&s, static_cast<unsigned char>(c));
      if (fold_) Fold(&s);
      literal = static_cast<unsigned char>(c);
    }
    int min = 1, max = 1;
    bool greedy = true, present = false;
    if (!Repeat(&min, &max, &greedy, &present)) return false;
    if (literal >= 0 && !present) {
      // One byte of a literal run: appended to the kLit just before, if
      // nothing jumps between them.
      const char b = static_cast<char>(fold_ ? std::tolower(literal) : literal);
      const bool grow = mergeable_ && re_->prog_.back().op == Op::kLit;
      if (!grow) Emit({.op = Op::kLit, .x = static_cast<int>(re_->lits_.size())});
      re_->lits_.push_back(b);
      ++re_->prog_.back().y;
      mergeable_ = true;
      return true;
    }
    Emit({.op = Op::kRun, .greedy = greedy, .set = AddSet(s), .min = min, .max = max});
    return true;
  }

  std::string_view p_;
  size_t i_ = 0;
  bool fold_;
  bool mergeable_ = false;  // the last instruction is a kLit nothing jumps past
  SimpleRegex* re_;
};

std::unique_ptr<SimpleRegex> SimpleRegex::Compile(std::string_view pattern, bool case_sensitive) {
  std::unique_ptr<SimpleRegex> re(new SimpleRegex());
  re->fold_ = !case_sensitive;
  Parser parser(pattern, case_sensitive, re.get());
  if (!parser.Parse() || re->ncap_ > 31) return nullptr;
  // Grown by push_back while parsing; kept for the daemon's life (one per
  // extraction of every rule: 1.5 MiB of instructions at 1,128 rules, a
  // third of it spare capacity).
  re->prog_.shrink_to_fit();
  re->sets_.shrink_to_fit();
  re->lits_.shrink_to_fit();
  // Anchored: the first instruction that is not a no-op jump is ^.
  size_t pc = 0;
  while (pc < re->prog_.size() && re->prog_[pc].op == Op::kJmp &&
         re->prog_[pc].x == static_cast<int>(pc) + 1) {
    ++pc;
  }
  re->anchored_ = pc < re->prog_.size() && re->prog_[pc].op == Op::kBot;
  if (pc < re->prog_.size() && re->prog_[pc].op == Op::kLit) {
    re->lead_ = re->lits_.substr(static_cast<size_t>(re->prog_[pc].x),
                                 static_cast<size_t>(re->prog_[pc].y));
  }
  // The bytes a match can begin with, when every path consumes one before
  // it can match (the program has no backward jumps: the walk ends).
  ByteSet first{};
  bool ok = true;
  std::vector<int> to_visit = {0};
  std::vector<bool> seen(re->prog_.size(), false);
  while (ok && !to_visit.empty()) {
    const int at = to_visit.back();
    to_visit.pop_back();
    if (seen[at]) continue;
    seen[at] = true;
    const Inst& in = re->prog_[at];
    switch (in.op) {
      case Op::kLit: {
        const unsigned char b = static_cast<unsigned char>(re->lits_[in.x]);
        Add(&first, b);
        if (re->fold_) Add(&first, static_cast<unsigned char>(std::toupper(b)));
        break;
      }
      case Op::kRun:
        for (int k = 0; k < 4; ++k) first[k] |= re->sets_[in.set][k];
        if (in.min == 0) to_visit.push_back(at + 1);
        break;
      case Op::kSplit:
        to_visit.push_back(in.x);
        to_visit.push_back(in.y);
        break;
      case Op::kJmp:
        to_visit.push_back(in.x);
        break;
      case Op::kSave:
      case Op::kBot:
      case Op::kWord:
      case Op::kNotWord:
        to_visit.push_back(at + 1);
        break;
      case Op::kEot:
      case Op::kMatch:
        ok = false;
        break;
    }
  }
  re->has_first_ = ok;
  re->first_ = first;
  return re;
}

namespace {

struct Frame {
  enum Kind : uint8_t { kResume, kRestore, kGreedy, kLazy } kind;
  int pc;
  int a, b, c, d;  // kResume: pos; kRestore: slot, old; kGreedy/kLazy: base, len, bound, set
};
constexpr int kMaxFrames = 512;

}  // namespace

// The backtracker from `start`: instructions in priority order, each
// choice point a frame; a greedy run is one frame that gives back a byte
// at a time, a lazy one that takes one more. *end: where the match ends.
bool SimpleRegex::Run(std::string_view text, size_t start, int* caps, int ncaps,
                      long* budget) const {
  Frame stack[kMaxFrames];
  int sp = 0;
  int pc = 0;
  size_t pos = start;
  const size_t n = text.size();
  auto push = [&](Frame f) {
    if (sp == kMaxFrames) {
      *budget = -1;
      return false;
    }
    stack[sp++] = f;
    return true;
  };
  for (;;) {
    if (--*budget < 0) return false;
    const Inst& in = prog_[pc];
    bool ok = true;
    switch (in.op) {
      case Op::kLit: {
        const size_t len = static_cast<size_t>(in.y);
        if (n - pos < len) {
          ok = false;
          break;
        }
        const char* lit = lits_.data() + in.x;
        const char* at = text.data() + pos;
        if (fold_) {
          for (size_t k = 0; k < len && ok; ++k) {
            ok = Lower(static_cast<unsigned char>(at[k])) == static_cast<unsigned char>(lit[k]);
          }
        } else {
          ok = std::memcmp(at, lit, len) == 0;
        }
        pos += len;
        ++pc;
        break;
      }
      case Op::kRun: {
        const ByteSet& s = sets_[in.set];
        const size_t room = n - pos;
        const size_t most = in.max < 0 ? room : std::min(room, static_cast<size_t>(in.max));
        if (in.greedy) {
          size_t len = 0;
          while (len < most && Has(s, static_cast<unsigned char>(text[pos + len]))) ++len;
          *budget -= static_cast<long>(len >> 2);
          if (len < static_cast<size_t>(in.min)) {
            ok = false;
            break;
          }
          if (len > static_cast<size_t>(in.min) &&
              !push({Frame::kGreedy, pc + 1, static_cast<int>(pos), static_cast<int>(len) - 1,
                     in.min, 0})) {
            return false;
          }
          pos += len;
        } else {
          size_t len = 0;
          while (len < static_cast<size_t>(in.min) && len < most &&
                 Has(s, static_cast<unsigned char>(text[pos + len]))) {
            ++len;
          }
          if (len < static_cast<size_t>(in.min)) {
            ok = false;
            break;
          }
          if (len < most && !push({Frame::kLazy, pc + 1, static_cast<int>(pos),
                                   static_cast<int>(len) + 1, static_cast<int>(most), in.set})) {
            return false;
          }
          pos += len;
        }
        ++pc;
        break;
      }
      case Op::kSplit:
        if (!push({Frame::kResume, in.y, static_cast<int>(pos), 0, 0, 0})) return false;
        pc = in.x;
        break;
      case Op::kJmp:
        pc = in.x;
        break;
      case Op::kSave:
        if (in.min < ncaps) {
          if (!push({Frame::kRestore, 0, in.min, caps[in.min], 0, 0})) return false;
          caps[in.min] = static_cast<int>(pos);
        }
        ++pc;
        break;
      case Op::kBot:
        ok = pos == 0;
        ++pc;
        break;
      case Op::kEot:
        ok = pos == n;
        ++pc;
        break;
      case Op::kWord:
      case Op::kNotWord: {
        const bool before = pos > 0 && IsWordByte(static_cast<unsigned char>(text[pos - 1]));
        const bool after = pos < n && IsWordByte(static_cast<unsigned char>(text[pos]));
        ok = (before != after) == (in.op == Op::kWord);
        ++pc;
        break;
      }
      case Op::kMatch:
        caps[1] = static_cast<int>(pos);
        return true;
    }
    if (ok) continue;
    // Backtrack to the latest choice still open.
    for (;;) {
      if (sp == 0) return false;
      Frame& f = stack[sp - 1];
      if (f.kind == Frame::kRestore) {
        caps[f.a] = f.b;
        --sp;
        continue;
      }
      if (f.kind == Frame::kResume) {
        pc = f.pc;
        pos = static_cast<size_t>(f.a);
        --sp;
        break;
      }
      if (f.kind == Frame::kGreedy) {
        pc = f.pc;
        pos = static_cast<size_t>(f.a + f.b);
        if (f.b > f.c) {
          --f.b;
        } else {
          --sp;
        }
        break;
      }
      // kLazy: one byte more, if the class takes it.
      const size_t at = static_cast<size_t>(f.a + f.b - 1);
      if (!Has(sets_[f.d], static_cast<unsigned char>(text[at]))) {
        --sp;
        continue;
      }
      pc = f.pc;
      pos = static_cast<size_t>(f.a + f.b);
      if (f.b < f.c) {
        ++f.b;
      } else {
        --sp;
      }
      break;
    }
  }
}

SimpleRegex::Result SimpleRegex::Search(re2::StringPiece text, re2::StringPiece* groups, int n,
                                        std::string_view lowered) const {
  const std::string_view t(text.data(), text.size());
  if (t.size() > (1u << 30)) return Result::kGaveUp;
  constexpr int kMaxSlots = 64;
  int caps[kMaxSlots];
  const int ncaps = std::min(std::max(n, 1) * 2, kMaxSlots);
  for (int i = 0; i < ncaps; ++i) caps[i] = -1;
  long budget = static_cast<long>(t.size() + 1) * static_cast<long>(prog_.size() + 8) * 2;
  const size_t last = anchored_ ? 0 : t.size();
  // Where a match can start: at an occurrence of the leading literal (found
  // with find: memchr and memcmp), else at a byte of first_.
  const bool by_lead = !anchored_ && !lead_.empty() && (!fold_ || lowered.size() == t.size());
  const std::string_view hay = fold_ ? lowered : t;
  for (size_t start = by_lead ? hay.find(lead_) : 0; start <= last;
       start = by_lead ? hay.find(lead_, start + 1) : start + 1) {
    if (!by_lead && has_first_ &&
        (start == t.size() || !Has(first_, static_cast<unsigned char>(t[start])))) {
      continue;
    }
    if (Run(t, start, caps, ncaps, &budget)) {
      caps[0] = static_cast<int>(start);
      for (int i = 0; i < n; ++i) {
        const int b = caps[2 * i], e = caps[2 * i + 1];
        groups[i] = b >= 0 && e >= 0 ? re2::StringPiece(t.data() + b, static_cast<size_t>(e - b))
                                     : re2::StringPiece();
      }
      return Result::kMatch;
    }
    if (budget < 0) return Result::kGaveUp;
  }
  return Result::kNoMatch;
}

}  // namespace konseki::matchers
