// A literal-atom first stage for the rule set's Hyperscan scan (issue 17):
// instead of one database of every expression, a scan for the long literals
// ("atoms") every match of an expression must contain, and the expressions
// themselves only for the rules whose atoms are present. Its input is what
// `rule_set_bench --dump_fixture=DIR` writes (exprs.tsv: flags, rule id,
// expression; one scanned text per line in quiet256.txt, as_is.txt, ...).
//
// Atoms come from RE2's FilteredRE2, one instance per expression (so its
// AND/OR tree can be read back exactly: every subset of the expression's
// atoms is tried, and the minimal sets that let the expression through are
// kept); expressions FilteredRE2 cannot filter ("unfiltered") are scanned
// always.
//
//   atom_probe analyze DIR [--min_atom_len=3,4,...] [ATOM OPTIONS]
//       atoms, their lengths, the unfiltered expressions; per line of
//       quiet256 and as_is: atoms found, candidate expressions and rules that
//       pass the atom filter, how many of them Hyperscan really hits, and a
//       check that every real hit is a candidate; the atoms in most lines.
//   atom_probe build DIR OUT --min_atom_len=N [--avx2] [ATOM OPTIONS]
//       serializes the databases of every variant below into OUT.* (--avx2:
//       for an AVX2 target, what valgrind runs); prints their sizes.
//       ATOMS_RANDOM=1: the atom database holds as many random 8-byte
//       literals instead (cost only); ATOMS_CASE_SENSITIVE=1: the atoms
//       case-sensitive (cost only).
//   atom_probe scan OUT VARIANT LINES [REPS]
//       one warm-up pass, then VARIANT on every line REPS times in StageAll():
//       valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*StageAll*'
//       and divide Ir by lines x REPS.
//   atom_probe time OUT VARIANT LINES [REPS]
//       the minimum of REPS runs per line, summed: ns per line.
//   atom_probe hits OUT VARIANT LINES
//       per line, the sorted rule ids that hit (diff against VARIANT full).
//
// ATOM OPTIONS (how each expression's filter is reduced; all stay sound):
//   (none)      FilteredRE2's whole AND/OR filter per expression;
//   --clause    the cheapest OR of the expression's atoms that every match
//               holds (ReduceToClause);
//   --merge     --clause, then a clause of several atoms that share a
//               substring of >= max(N, 5) bytes becomes that substring;
//   --trim=L{p,s,r}  each atom longer than L cut to its prefix, suffix or
//               rarest L-byte window (Trim).
//
// VARIANT: full      one database of every expression (what RuleSet does);
//          lit       hs_compile_lit_multi of the atoms + a database of the
//                    unfiltered expressions, then one small database per
//                    candidate rule;
//          combined  the atoms (escaped, as expressions) and the unfiltered
//                    expressions in one database, then one small database
//                    per candidate rule;
//          re2       as combined, but RE2 confirms the candidate expressions;
//          litonly, unfonly  the atoms' or the unfiltered database alone
//                    (cost only: no hits).
//
// Measured 2026-12-03 (bench/RESULTS.md, "a literal-atom first stage"): no
// variant is cheaper than the one database; kept so nobody repeats it blind.
#include <hs/hs.h>
#include <re2/filtered_re2.h>
#include <re2/re2.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench/probe_files.h"

namespace {

using konseki::bench::ReadFile;
using konseki::bench::ReadLines;

void Die(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::exit(1);
}

struct Expr {
  unsigned flags = 0;
  std::string rule;
  std::string re;
};

std::vector<Expr> ReadExprs(const std::string& path) {
  std::vector<Expr> out;
  for (const std::string& line : ReadLines(path)) {
    const size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    out.push_back({static_cast<unsigned>(std::stoul(line.substr(0, t1))),
                   line.substr(t1 + 1, t2 - t1 - 1), line.substr(t2 + 1)});
  }
  return out;
}

re2::RE2::Options Re2Options(unsigned hs_flags) {
  re2::RE2::Options o;
  o.set_case_sensitive((hs_flags & HS_FLAG_CASELESS) == 0);
  o.set_dot_nl((hs_flags & HS_FLAG_DOTALL) != 0);
  o.set_encoding(re2::RE2::Options::EncodingLatin1);
  o.set_log_errors(false);
  return o;
}

std::string Re2Pattern(const Expr& e) {
  return (e.flags & HS_FLAG_MULTILINE) ? "(?m:" + e.re + ")" : e.re;
}

// One expression's atom filter: it can match only if, for some set in
// `min_sets` (bits over `atoms`), every atom of the set is in the text.
struct Filter {
  bool unfiltered = false;
  std::vector<std::string> atoms;  // lower case; compare caselessly
  std::vector<uint64_t> min_sets;
};

constexpr size_t kMaxEnumerated = 16;  // 2^16 subsets tried per expression at most
constexpr size_t kMaxMinSets = 64;

Filter MakeFilter(const Expr& e, int min_atom_len) {
  Filter f;
  re2::FilteredRE2 fre(min_atom_len);
  int id = 0;
  if (fre.Add(Re2Pattern(e), Re2Options(e.flags), &id) != re2::RE2::NoError) {
    Die("RE2 cannot parse " + e.rule + ": " + e.re);
  }
  fre.Compile(&f.atoms);
  std::vector<int> passed;
  fre.AllPotentials({}, &passed);
  // Through with no atom at all (or too many atoms for the bit sets): scanned always.
  if (!passed.empty() || f.atoms.empty() || f.atoms.size() > 63) {
    f.unfiltered = true;
    f.atoms.clear();
    return f;
  }
  const size_t k = f.atoms.size();
  if (k > kMaxEnumerated) {
    // Sound, weaker: f(empty) is false, so every match holds one atom at least.
    for (size_t i = 0; i < k; ++i) f.min_sets.push_back(1ull << i);
    return f;
  }
  std::vector<char> pass(size_t{1} << k);
  std::vector<int> atoms;
  for (uint64_t m = 0; m < pass.size(); ++m) {
    atoms.clear();
    for (size_t i = 0; i < k; ++i) {
      if (m >> i & 1) atoms.push_back(static_cast<int>(i));
    }
    fre.AllPotentials(atoms, &passed);
    pass[m] = !passed.empty();
  }
  for (uint64_t m = 0; m < pass.size(); ++m) {
    if (!pass[m]) continue;
    bool minimal = true;
    for (size_t i = 0; i < k && minimal; ++i) {
      if ((m >> i & 1) && pass[m & ~(1ull << i)]) minimal = false;
    }
    if (minimal) f.min_sets.push_back(m);
  }
  if (f.min_sets.size() > kMaxMinSets) {
    f.min_sets.clear();
    for (size_t i = 0; i < k; ++i) f.min_sets.push_back(1ull << i);
  }
  return f;
}

// All expressions' filters, with the atoms numbered once across the set.
struct AtomSet {
  std::vector<Filter> filters;                                    // per expression
  std::vector<std::string> atoms;                                 // global id -> atom
  std::vector<std::vector<std::pair<unsigned, uint64_t>>> users;  // global id -> (expr, bit)
  std::vector<unsigned> unfiltered;                               // expression indices
};

// How common a byte is in log text, roughly (letters by English frequency,
// the space, digits): a window of an atom with fewer common bytes is rarer.
int Commonness(unsigned char c) {
  static const std::string kCommon = " etaoinsrhldcu";
  const size_t k = kCommon.find(static_cast<char>(c));
  if (k != std::string::npos) return 3;
  if (c >= '0' && c <= '9') return 2;
  if (c >= 'a' && c <= 'z') return 1;
  return 1;
}

// The part of `atom` the scan looks for: all of it, or (trim > 0 and the
// atom longer) one window of `trim` bytes: a substring of a required
// literal is required too, and fewer, shorter, shared literals make a
// cheaper literal matcher. mode: 'p' prefix, 's' suffix, 'r' the rarest
// window by Commonness.
std::string Trim(const std::string& atom, int trim, char mode) {
  if (trim <= 0 || atom.size() <= static_cast<size_t>(trim)) return atom;
  const size_t t = static_cast<size_t>(trim);
  if (mode == 'p') return atom.substr(0, t);
  if (mode == 's') return atom.substr(atom.size() - t);
  size_t best = 0;
  int best_score = 1 << 30;
  for (size_t i = 0; i + t <= atom.size(); ++i) {
    int score = 0;
    for (size_t j = i; j < i + t; ++j) score += Commonness(static_cast<unsigned char>(atom[j]));
    if (score < best_score) {
      best_score = score;
      best = i;
    }
  }
  return atom.substr(best, t);
}

int g_trim = 0;
char g_trim_mode = 'r';
bool g_clause = false;

// The cost of looking for an atom: short ones are frequent in any text.
int AtomCost(const std::string& atom) {
  const size_t n = atom.size();
  return n >= 8 ? 2 : n >= 6 ? 3 : n >= 5 ? 5 : n >= 4 ? 8 : 13;
}

// With g_clause: instead of the expression's whole AND/OR filter, the
// cheapest set of its atoms that meets every minimal set (so every match
// holds one of them, at least): one OR of few atoms, often one atom shared
// by many alternatives ("pam_faillock(" rather than ten service names).
void ReduceToClause(Filter* f) {
  const size_t k = f->atoms.size();
  if (f->unfiltered || k > kMaxEnumerated) return;
  uint64_t best = 0;
  int best_cost = 1 << 30;
  for (uint64_t m = 1; m < (uint64_t{1} << k); ++m) {
    bool hits_all = true;
    for (uint64_t set : f->min_sets) {
      if ((set & m) == 0) {
        hits_all = false;
        break;
      }
    }
    if (!hits_all) continue;
    int cost = 0;
    for (size_t i = 0; i < k; ++i) {
      if (m >> i & 1) cost += AtomCost(f->atoms[i]);
    }
    if (cost < best_cost) {
      best_cost = cost;
      best = m;
    }
  }
  f->min_sets.clear();
  for (size_t i = 0; i < k; ++i) {
    if (best >> i & 1) f->min_sets.push_back(1ull << i);
  }
}

bool g_merge = false;

// The longest string every one of `atoms` contains.
std::string LongestCommonSubstring(const std::vector<std::string>& atoms) {
  const std::string& first = atoms.front();
  std::string best;
  for (size_t i = 0; i < first.size(); ++i) {
    for (size_t n = best.size() + 1; i + n <= first.size(); ++n) {
      const std::string cand = first.substr(i, n);
      bool all = true;
      for (size_t k = 1; k < atoms.size() && all; ++k) {
        all = atoms[k].find(cand) != std::string::npos;
      }
      if (!all) break;
      best = cand;
    }
  }
  return best;
}

// With g_merge, after ReduceToClause: a clause of several atoms that share a
// substring of at least `min_len` bytes becomes that one substring (each
// atom holds it, so every match does): "): consecutive login failures for
// user " for ten "pam_faillock(SERVICE:auth): ..." atoms.
void MergeClause(Filter* f, size_t min_len) {
  if (f->unfiltered || f->min_sets.size() < 2) return;
  std::vector<std::string> atoms;
  for (uint64_t m : f->min_sets) {
    if (__builtin_popcountll(m) != 1) return;  // not a clause
    atoms.push_back(f->atoms[__builtin_ctzll(m)]);
  }
  const std::string common = LongestCommonSubstring(atoms);
  if (common.size() < min_len) return;
  f->atoms.assign(1, common);
  f->min_sets.assign(1, 1);
}

bool InFilter(const Filter& f, size_t i) {
  for (uint64_t m : f.min_sets) {
    if (m >> i & 1) return true;
  }
  return false;
}

// Numbers the atoms the filters use (after --trim) and indexes their users.
AtomSet IndexAtoms(std::vector<Filter> filters) {
  AtomSet s;
  s.filters = std::move(filters);
  std::map<std::string, unsigned> ids;
  for (size_t e = 0; e < s.filters.size(); ++e) {
    const Filter& f = s.filters[e];
    if (f.unfiltered) s.unfiltered.push_back(static_cast<unsigned>(e));
    for (size_t i = 0; i < f.atoms.size(); ++i) {
      if (!InFilter(f, i)) continue;
      const std::string lit = Trim(f.atoms[i], g_trim, g_trim_mode);
      auto [it, fresh] = ids.emplace(lit, static_cast<unsigned>(s.atoms.size()));
      if (fresh) {
        s.atoms.push_back(lit);
        s.users.emplace_back();
      }
      s.users[it->second].emplace_back(static_cast<unsigned>(e), 1ull << i);
    }
  }
  return s;
}

AtomSet MakeAtomSet(const std::vector<Expr>& exprs, int min_atom_len) {
  std::vector<Filter> filters;
  for (const Expr& e : exprs) {
    filters.push_back(MakeFilter(e, min_atom_len));
    if (g_clause) ReduceToClause(&filters.back());
    if (g_merge) MergeClause(&filters.back(), static_cast<size_t>(std::max(min_atom_len, 5)));
  }
  return IndexAtoms(std::move(filters));
}

// FilteredRE2's atoms for the same expressions are not the same in every
// process (its simplification of the AND/OR tree is not deterministic: two
// runs gave 1,456 and 1,457 atoms), so `build` writes the filters it
// compiled the databases for and the scan side reads them back. One line
// per expression: unfiltered, atoms in hex, minimal sets.
// Each byte as two hex digits, after `prefix` ("" or "\\x").
std::string Hex(const std::string& bytes, const char* prefix = "") {
  std::string out;
  char buf[8];
  for (unsigned char c : bytes) {
    std::snprintf(buf, sizeof buf, "%s%02x", prefix, c);
    out += buf;
  }
  return out;
}

void WriteFilters(const std::string& path, const std::vector<Filter>& filters) {
  std::ofstream out(path);
  for (const Filter& f : filters) {
    out << f.unfiltered << ' ' << f.atoms.size();
    for (const std::string& a : f.atoms) out << ' ' << Hex(a);
    out << ' ' << f.min_sets.size();
    for (uint64_t m : f.min_sets) out << ' ' << m;
    out << '\n';
  }
}

std::vector<Filter> ReadFilters(const std::string& path) {
  std::vector<Filter> filters;
  for (const std::string& line : ReadLines(path)) {
    std::istringstream in(line);
    Filter f;
    size_t n = 0;
    in >> f.unfiltered >> n;
    for (size_t i = 0; i < n; ++i) {
      std::string hex, bytes;
      in >> hex;
      for (size_t k = 0; k + 1 < hex.size(); k += 2) {
        bytes.push_back(static_cast<char>(std::stoi(hex.substr(k, 2), nullptr, 16)));
      }
      f.atoms.push_back(bytes);
    }
    in >> n;
    for (size_t i = 0; i < n; ++i) {
      uint64_t m = 0;
      in >> m;
      f.min_sets.push_back(m);
    }
    filters.push_back(std::move(f));
  }
  return filters;
}

hs_database_t* CompileOrDie(const std::vector<std::string>& exprs,
                            const std::vector<unsigned>& flags, const std::vector<unsigned>& ids,
                            const hs_platform_info_t* plat) {
  std::vector<const char*> c;
  for (const std::string& e : exprs) c.push_back(e.c_str());
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(c.data(), flags.data(), ids.data(), static_cast<unsigned>(c.size()),
                       HS_MODE_BLOCK, plat, &db, &err) != HS_SUCCESS) {
    Die(std::string("compile: ") + err->message + " (expression " +
        std::to_string(err->expression) + ": " + exprs[err->expression] + ")");
  }
  return db;
}

hs_database_t* CompileLiteralsOrDie(const std::vector<std::string>& lits, unsigned flag,
                                    const hs_platform_info_t* plat) {
  std::vector<const char*> c;
  std::vector<size_t> lens;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < lits.size(); ++i) {
    c.push_back(lits[i].data());
    lens.push_back(lits[i].size());
    flags.push_back(flag);
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_lit_multi(c.data(), flags.data(), ids.data(), lens.data(),
                           static_cast<unsigned>(c.size()), HS_MODE_BLOCK, plat, &db,
                           &err) != HS_SUCCESS) {
    Die(std::string("compile literals: ") + err->message);
  }
  return db;
}

std::string EscapeLiteral(const std::string& lit) { return Hex(lit, "\\x"); }

int Record(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
  static_cast<std::vector<unsigned>*>(ctx)->push_back(id);
  return 0;
}

struct Scanner {
  hs_database_t* db = nullptr;
  hs_scratch_t* scratch = nullptr;
  void Alloc() {
    if (db != nullptr && hs_alloc_scratch(db, &scratch) != HS_SUCCESS) Die("hs_alloc_scratch");
  }
  void Scan(const std::string& text, std::vector<unsigned>* out) const {
    hs_scan(db, text.data(), static_cast<unsigned>(text.size()), 0, scratch, Record, out);
  }
};

// ---- analyze ---------------------------------------------------------------

double Percentile(std::vector<size_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))]);
}

double Mean(const std::vector<size_t>& v) {
  double s = 0;
  for (size_t x : v) s += static_cast<double>(x);
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// Candidate expressions of one line given the atoms found in it.
void Candidates(const AtomSet& s, const std::vector<unsigned>& found, std::vector<uint64_t>* masks,
                std::vector<unsigned>* touched, std::vector<unsigned>* out) {
  out->assign(s.unfiltered.begin(), s.unfiltered.end());
  touched->clear();
  for (unsigned a : found) {
    for (const auto& [e, bit] : s.users[a]) {
      if ((*masks)[e] == 0) touched->push_back(e);
      (*masks)[e] |= bit;
    }
  }
  for (unsigned e : *touched) {
    for (uint64_t m : s.filters[e].min_sets) {
      if (((*masks)[e] & m) == m) {
        out->push_back(e);
        break;
      }
    }
    (*masks)[e] = 0;
  }
  std::sort(out->begin(), out->end());
}

int AnalyzeCmd(int argc, char** argv) {
  const std::string dir = argv[2];
  std::vector<int> lens = {3, 4, 5, 6, 7, 8};
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--trim=", 0) == 0) {
      g_trim = std::stoi(a.substr(7));
      if (a.back() >= 'a') g_trim_mode = a.back();
    }
    if (a == "--clause") g_clause = true;
    if (a == "--merge") g_clause = g_merge = true;
    if (a.rfind("--min_atom_len=", 0) == 0) {
      lens.clear();
      std::stringstream ss(a.substr(15));
      for (std::string n; std::getline(ss, n, ',');) lens.push_back(std::stoi(n));
    }
  }
  const std::vector<Expr> exprs = ReadExprs(dir + "/exprs.tsv");
  std::vector<std::string> res, rule_of;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < exprs.size(); ++i) {
    res.push_back(exprs[i].re);
    flags.push_back(exprs[i].flags);
    ids.push_back(static_cast<unsigned>(i));
  }
  Scanner full{CompileOrDie(res, flags, ids, nullptr)};
  full.Alloc();
  std::map<std::string, std::vector<std::string>> lines;
  for (const char* name : {"quiet256", "as_is"}) lines[name] = ReadLines(dir + "/" + name + ".txt");
  // Real hits per line, once.
  std::map<std::string, std::vector<std::vector<unsigned>>> real;
  for (auto& [name, ls] : lines) {
    for (const std::string& l : ls) {
      std::vector<unsigned> h;
      full.Scan(l, &h);
      std::sort(h.begin(), h.end());
      h.erase(std::unique(h.begin(), h.end()), h.end());
      real[name].push_back(std::move(h));
    }
  }
  std::printf("%zu expressions, %zu rules\n", exprs.size(),
              std::set<std::string>([&] {
                std::set<std::string> r;
                for (const Expr& e : exprs) r.insert(e.rule);
                return r;
              }())
                  .size());
  for (int len : lens) {
    const AtomSet s = MakeAtomSet(exprs, len);
    std::map<size_t, size_t> hist;
    for (const std::string& a : s.atoms) ++hist[a.size()];
    size_t weak = 0, sets = 0;
    for (const Filter& f : s.filters) {
      sets += f.min_sets.size();
      if (!f.unfiltered && f.atoms.size() > kMaxEnumerated) ++weak;
    }
    std::printf(
        "\n== min_atom_len %d: %zu atoms, %zu unfiltered expressions, %zu minimal sets, "
        "%zu filters weakened (>%zu atoms)\n  atom lengths:",
        len, s.atoms.size(), s.unfiltered.size(), sets, weak, kMaxEnumerated);
    for (const auto& [l, n] : hist) std::printf(" %zu:%zu", l, n);
    std::printf("\n");
    Scanner atoms{CompileLiteralsOrDie(s.atoms, HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH, nullptr)};
    atoms.Alloc();
    std::vector<uint64_t> masks(exprs.size());
    std::vector<unsigned> touched, cand, found;
    for (auto& [name, ls] : lines) {
      std::vector<size_t> n_found, n_cand, n_cand_filtered, n_rules, n_real, n_real_rules;
      std::map<unsigned, size_t> atom_lines;  // atom -> lines it is in
      size_t unsound = 0;
      for (size_t li = 0; li < ls.size(); ++li) {
        found.clear();
        atoms.Scan(ls[li], &found);
        Candidates(s, found, &masks, &touched, &cand);
        for (unsigned a : found) ++atom_lines[a];
        n_found.push_back(found.size());
        n_cand.push_back(cand.size());
        n_cand_filtered.push_back(cand.size() - s.unfiltered.size());
        std::set<std::string> rules;
        for (unsigned e : cand) {
          if (!s.filters[e].unfiltered) rules.insert(exprs[e].rule);
        }
        n_rules.push_back(rules.size());
        const std::vector<unsigned>& r = real[name][li];
        size_t real_filtered = 0;
        std::set<std::string> real_rules;
        for (unsigned e : r) {
          if (!std::binary_search(cand.begin(), cand.end(), e)) ++unsound;
          if (!s.filters[e].unfiltered) {
            ++real_filtered;
            real_rules.insert(exprs[e].rule);
          }
        }
        n_real.push_back(real_filtered);
        n_real_rules.push_back(real_rules.size());
      }
      std::printf(
          "  %-8s %5zu lines: atoms found mean %.2f p99 %.0f | filtered candidates: exprs mean "
          "%.2f p99 %.0f, rules mean %.2f p99 %.0f | of which real hits: exprs mean %.3f, rules "
          "mean %.3f | lines with 0 filtered candidates %.1f%% | real hits missed: %zu\n",
          name.c_str(), ls.size(), Mean(n_found), Percentile(n_found, 0.99), Mean(n_cand_filtered),
          Percentile(n_cand_filtered, 0.99), Mean(n_rules), Percentile(n_rules, 0.99), Mean(n_real),
          Mean(n_real_rules),
          100.0 *
              static_cast<double>(std::count(n_cand_filtered.begin(), n_cand_filtered.end(), 0)) /
              static_cast<double>(ls.size()),
          unsound);
      std::vector<std::pair<size_t, unsigned>> top;
      for (const auto& [a, n] : atom_lines) top.emplace_back(n, a);
      std::sort(top.rbegin(), top.rend());
      std::printf("    atoms in most lines:");
      for (size_t i = 0; i < top.size() && i < 12; ++i) {
        std::printf(" [%s] %zu", s.atoms[top[i].second].c_str(), top[i].first);
      }
      std::printf("\n");
    }
    std::printf("  unfiltered:\n");
    for (unsigned e : s.unfiltered) {
      std::printf("    %3u %-32s %s\n", e, exprs[e].rule.c_str(), exprs[e].re.c_str());
    }
    if (len == lens.front() || getenv("ATOMS_ALL")) {
      std::printf("  atoms:");
      for (const std::string& a : s.atoms) std::printf(" [%s]", a.c_str());
      std::printf("\n");
    }
  }
  return 0;
}

// ---- build / scan ----------------------------------------------------------

void WriteDb(const std::string& path, hs_database_t* db) {
  char* bytes = nullptr;
  size_t len = 0;
  if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) Die("serialize");
  std::ofstream(path, std::ios::binary).write(bytes, static_cast<std::streamsize>(len));
  std::free(bytes);
}

hs_database_t* ReadDb(const std::string& path) {
  const std::string bytes = ReadFile(path);
  hs_database_t* db = nullptr;
  if (hs_deserialize_database(bytes.data(), bytes.size(), &db) != HS_SUCCESS) {
    Die("cannot deserialize " + path);
  }
  return db;
}

size_t DbSize(hs_database_t* db) {
  size_t n = 0;
  hs_database_size(db, &n);
  return n;
}

// Writes OUT.full, OUT.lit, OUT.unfiltered, OUT.combined, OUT.rule.<id>
// (serialized databases), OUT.filters (the filters they were built for),
// OUT.len (the atom options) and OUT.exprs (where exprs.tsv is).
int BuildCmd(int argc, char** argv) {
  const std::string dir = argv[2], out = argv[3];
  int len = 0;
  bool avx2 = false;
  for (int i = 4; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--min_atom_len=", 0) == 0) len = std::stoi(a.substr(15));
    if (a == "--clause") g_clause = true;
    if (a == "--merge") g_clause = g_merge = true;
    if (a == "--avx2") avx2 = true;
    if (a.rfind("--trim=", 0) == 0) {
      g_trim = std::stoi(a.substr(7));
      if (a.back() >= 'a') g_trim_mode = a.back();
    }
  }
  if (len == 0) Die("--min_atom_len=N");
  hs_platform_info_t plat{};
  if (avx2) {
    hs_populate_platform(&plat);
    plat.cpu_features = HS_CPU_FEATURES_AVX2;
  }
  const hs_platform_info_t* p = avx2 ? &plat : nullptr;
  const std::vector<Expr> exprs = ReadExprs(dir + "/exprs.tsv");
  const AtomSet s = MakeAtomSet(exprs, len);
  WriteFilters(out + ".filters", s.filters);
  std::vector<std::string> res;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < exprs.size(); ++i) {
    res.push_back(exprs[i].re);
    flags.push_back(exprs[i].flags);
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* full = CompileOrDie(res, flags, ids, p);
  WriteDb(out + ".full", full);
  // ATOMS_CASE_SENSITIVE=1: the atoms as they are, case-sensitive (wrong
  // for caseless expressions: only to see what caseless costs).
  const unsigned lit_case = std::getenv("ATOMS_CASE_SENSITIVE") ? 0u : HS_FLAG_CASELESS;
  // ATOMS_RANDOM=1: as many random 8-byte literals instead of the atoms
  // (cost only: what the literal matcher costs when nothing in the text
  // resembles its literals).
  std::vector<std::string> lits = s.atoms;
  if (std::getenv("ATOMS_RANDOM")) {
    uint64_t x = 88172645463325252ull;
    for (std::string& l : lits) {
      l.assign(8, 'a');
      for (char& c : l) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>('a' + x % 26);
      }
    }
  }
  hs_database_t* lit = CompileLiteralsOrDie(lits, lit_case | HS_FLAG_SINGLEMATCH, p);
  WriteDb(out + ".lit", lit);
  std::vector<std::string> ures;
  std::vector<unsigned> uflags, uids;
  for (unsigned e : s.unfiltered) {
    ures.push_back(exprs[e].re);
    uflags.push_back(exprs[e].flags);
    uids.push_back(e);
  }
  size_t unf_bytes = 0;
  if (!ures.empty()) {
    hs_database_t* unf = CompileOrDie(ures, uflags, uids, p);
    unf_bytes = DbSize(unf);
    WriteDb(out + ".unfiltered", unf);
  }
  // Combined: atom a has id exprs.size() + a.
  for (size_t a = 0; a < s.atoms.size(); ++a) {
    ures.push_back(EscapeLiteral(s.atoms[a]));
    uflags.push_back(HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH);
    uids.push_back(static_cast<unsigned>(exprs.size() + a));
  }
  hs_database_t* comb = CompileOrDie(ures, uflags, uids, p);
  WriteDb(out + ".combined", comb);
  // One database per rule of its filtered expressions.
  std::map<std::string, std::vector<unsigned>> by_rule;
  for (size_t e = 0; e < exprs.size(); ++e) {
    if (!s.filters[e].unfiltered) by_rule[exprs[e].rule].push_back(static_cast<unsigned>(e));
  }
  size_t rule_bytes = 0;
  for (const auto& [rule, es] : by_rule) {
    std::vector<std::string> r;
    std::vector<unsigned> f, i;
    for (unsigned e : es) {
      r.push_back(exprs[e].re);
      f.push_back(exprs[e].flags);
      i.push_back(e);
    }
    hs_database_t* db = CompileOrDie(r, f, i, p);
    rule_bytes += DbSize(db);
    WriteDb(out + ".rule." + rule, db);
    hs_free_database(db);
  }
  std::printf(
      "min_atom_len %d: full %zu B; lit %zu B (%zu atoms); unfiltered %zu B (%zu exprs); "
      "combined %zu B; %zu rule databases %zu B\n",
      len, DbSize(full), DbSize(lit), s.atoms.size(), unf_bytes, s.unfiltered.size(), DbSize(comb),
      by_rule.size(), rule_bytes);
  std::ofstream(out + ".len") << len << ' ' << g_trim << ' ' << g_trim_mode << ' ' << g_clause
                              << ' ' << g_merge << '\n';
  return 0;
}

struct Stage {
  std::vector<Expr> exprs;
  AtomSet s;
  std::vector<unsigned> expr_rule;  // expression -> rule index
  std::vector<std::string> rule_ids;
  Scanner full, lit, unfiltered, combined;
  std::vector<Scanner> per_rule;               // by rule index (db null: no filtered expressions)
  hs_scratch_t* rule_scratch = nullptr;        // one scratch fits every per-rule database
  std::vector<std::unique_ptr<re2::RE2>> re2;  // per expression
  // per-call state
  std::vector<uint64_t> masks;
  std::vector<unsigned> found, touched, hits, rule_hits;
  std::vector<char> rule_seen;
  std::vector<unsigned> cand_rules;
};

void LoadStage(const std::string& dir_exprs, const std::string& out, Stage* st) {
  st->exprs = ReadExprs(dir_exprs);
  std::istringstream conf(ReadLines(out + ".len").at(0));
  int len = 0;  // the filters are read back, not recomputed
  conf >> len >> g_trim >> g_trim_mode >> g_clause >> g_merge;
  st->s = IndexAtoms(ReadFilters(out + ".filters"));
  if (st->s.filters.size() != st->exprs.size()) Die(out + ".filters: not these expressions");
  std::map<std::string, unsigned> rule_index;
  for (const Expr& e : st->exprs) {
    auto [it, fresh] = rule_index.emplace(e.rule, static_cast<unsigned>(st->rule_ids.size()));
    if (fresh) st->rule_ids.push_back(e.rule);
    st->expr_rule.push_back(it->second);
  }
  st->full.db = ReadDb(out + ".full");
  st->full.Alloc();
  st->lit.db = ReadDb(out + ".lit");
  st->lit.Alloc();
  if (!st->s.unfiltered.empty()) {
    st->unfiltered.db = ReadDb(out + ".unfiltered");
    st->unfiltered.Alloc();
  }
  st->combined.db = ReadDb(out + ".combined");
  st->combined.Alloc();
  st->per_rule.resize(st->rule_ids.size());
  for (size_t r = 0; r < st->rule_ids.size(); ++r) {
    const std::string path = out + ".rule." + st->rule_ids[r];
    if (!std::ifstream(path).good()) continue;
    st->per_rule[r].db = ReadDb(path);
    if (hs_alloc_scratch(st->per_rule[r].db, &st->rule_scratch) != HS_SUCCESS) Die("scratch");
  }
  for (Scanner& sc : st->per_rule) sc.scratch = st->rule_scratch;
  for (const Expr& e : st->exprs) {
    st->re2.push_back(std::make_unique<re2::RE2>(Re2Pattern(e), Re2Options(e.flags)));
  }
  st->masks.assign(st->exprs.size(), 0);
  st->rule_seen.assign(st->rule_ids.size(), 0);
}

enum class Variant { kFull, kLit, kCombined, kRe2, kLitOnly, kUnfilteredOnly };

Variant ParseVariant(const std::string& v) {
  if (v == "full") return Variant::kFull;
  if (v == "lit") return Variant::kLit;
  if (v == "combined") return Variant::kCombined;
  if (v == "re2") return Variant::kRe2;
  if (v == "litonly") return Variant::kLitOnly;
  if (v == "unfonly") return Variant::kUnfilteredOnly;
  Die("unknown variant " + v);
  return Variant::kFull;
}

// The rule indices that hit `text`, sorted and unique, in st->rule_hits.
__attribute__((noinline)) void RunStage(Stage& st, Variant v, const std::string& text) {
  st.rule_hits.clear();
  st.hits.clear();
  if (v == Variant::kLitOnly) {
    st.lit.Scan(text, &st.found);
    st.found.clear();
  } else if (v == Variant::kUnfilteredOnly) {
    if (st.unfiltered.db != nullptr) st.unfiltered.Scan(text, &st.hits);
  } else if (v == Variant::kFull) {
    st.full.Scan(text, &st.hits);
    for (unsigned e : st.hits) st.rule_hits.push_back(st.expr_rule[e]);
  } else {
    st.found.clear();
    if (v == Variant::kLit) {
      st.lit.Scan(text, &st.found);
      if (st.unfiltered.db != nullptr) st.unfiltered.Scan(text, &st.hits);
    } else {
      st.combined.Scan(text, &st.hits);
      // Atoms have ids past the expressions; move them out.
      const unsigned n = static_cast<unsigned>(st.exprs.size());
      size_t keep = 0;
      for (unsigned id : st.hits) {
        if (id >= n) {
          st.found.push_back(id - n);
        } else {
          st.hits[keep++] = id;
        }
      }
      st.hits.resize(keep);
    }
    for (unsigned e : st.hits) {
      st.rule_hits.push_back(st.expr_rule[e]);
      st.rule_seen[st.expr_rule[e]] = 1;
    }
    // The filter: candidate expressions -> their rules (unless already hit).
    st.touched.clear();
    for (unsigned a : st.found) {
      for (const auto& [e, bit] : st.s.users[a]) {
        if (st.masks[e] == 0) st.touched.push_back(e);
        st.masks[e] |= bit;
      }
    }
    st.cand_rules.clear();
    for (unsigned e : st.touched) {
      const uint64_t mask = st.masks[e];
      st.masks[e] = 0;
      const unsigned r = st.expr_rule[e];
      if (st.rule_seen[r]) continue;
      for (uint64_t m : st.s.filters[e].min_sets) {
        if ((mask & m) != m) continue;
        if (v == Variant::kRe2) {
          if (re2::RE2::PartialMatch(text, *st.re2[e])) {
            st.rule_hits.push_back(r);
            st.rule_seen[r] = 1;
          }
        } else {
          st.rule_seen[r] = 1;
          st.cand_rules.push_back(r);
        }
        break;
      }
    }
    for (unsigned r : st.cand_rules) {
      const size_t before = st.hits.size();
      st.per_rule[r].Scan(text, &st.hits);
      if (st.hits.size() > before) st.rule_hits.push_back(r);
    }
    for (unsigned r : st.rule_hits) st.rule_seen[r] = 0;
    for (unsigned r : st.cand_rules) st.rule_seen[r] = 0;
  }
  std::sort(st.rule_hits.begin(), st.rule_hits.end());
  st.rule_hits.erase(std::unique(st.rule_hits.begin(), st.rule_hits.end()), st.rule_hits.end());
}

__attribute__((noinline)) size_t StageAll(Stage& st, Variant v,
                                          const std::vector<std::string>& lines, int reps) {
  size_t n = 0;
  for (int r = 0; r < reps; ++r) {
    for (const std::string& l : lines) {
      RunStage(st, v, l);
      n += st.rule_hits.size();
    }
  }
  return n;
}

int RunCmd(const std::string& cmd, int argc, char** argv) {
  if (argc < 5) return 2;
  const std::string out = argv[2];
  const Variant v = ParseVariant(argv[3]);
  const std::vector<std::string> lines = ReadLines(argv[4]);
  const int reps = argc > 5 ? std::atoi(argv[5]) : 1;
  Stage st;
  const std::string exprs_path = ReadLines(out + ".exprs").at(0);
  LoadStage(exprs_path, out, &st);
  if (cmd == "scan") {
    for (const std::string& l : lines) RunStage(st, v, l);  // warm: RE2's DFA caches
    const size_t n = StageAll(st, v, lines, reps);
    std::printf("%zu lines x %d, %zu rule hits\n", lines.size(), reps, n);
  } else if (cmd == "time") {
    double total = 0;
    for (const std::string& l : lines) {
      double best = 1e30;
      for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        RunStage(st, v, l);
        best = std::min(
            best, std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
                      .count());
      }
      total += best;
    }
    std::printf("%s: %.1f ns per line (min of %d, %zu lines)\n", argv[3],
                total / static_cast<double>(lines.size()), reps, lines.size());
  } else if (cmd == "hits") {
    for (const std::string& l : lines) {
      RunStage(st, v, l);
      std::vector<std::string> ids;
      for (unsigned r : st.rule_hits) ids.push_back(st.rule_ids[r]);
      std::sort(ids.begin(), ids.end());
      for (const std::string& id : ids) std::cout << id << ' ';
      std::cout << '\n';
    }
  } else {
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: see the head of bench/atom_probe.cc\n");
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "analyze") return AnalyzeCmd(argc, argv);
  if (cmd == "build") {
    if (argc < 4) return 2;
    const int rc = BuildCmd(argc, argv);
    std::ofstream(std::string(argv[3]) + ".exprs") << argv[2] << "/exprs.tsv\n";
    return rc;
  }
  return RunCmd(cmd, argc, argv);
}
