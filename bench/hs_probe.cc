// The Hyperscan scan of the rule set alone, for instruction counts under
// callgrind (load-independent, unlike wall time on a shared machine) and
// minimum-of-N timings. Its input is what `rule_set_bench --dump_fixture=DIR`
// writes: exprs.tsv (flags, rule id, expression) and one text per line.
//
//   hs_probe compile DIR/exprs.tsv OUT.db [--avx2] [--exclude=ID,ID...] [--exclude_line=N,N...]
//                    [--flags=+N|-N]
//       compiles natively (--avx2: for an AVX2 target, the widest valgrind
//       runs) and serializes the database; prints hs_database_info and size.
//       --exclude leaves out rules, --exclude_line expressions (0-based lines
//       of exprs.tsv); --flags adds or removes Hyperscan flags everywhere.
//   hs_probe scan OUT.db DIR/quiet256.txt [REPS]
//       deserializes and scans every line REPS times in ScanAll(): run under
//       valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*ScanAll*'
//       and divide Ir by lines x REPS.
//   hs_probe time OUT.db DIR/quiet256.txt [REPS]
//       the minimum of REPS scans per line, summed: ns per line.
//   hs_probe hits OUT.db DIR/as_is.txt
//       per line, the sorted rule ids that hit (to diff two databases).
//   hs_probe lines OUT.db DIR/quiet256.txt [REPS]
//       per line, the minimum of REPS scans in ns and the line: which lines
//       cost most (sort -n).
#include <hs/hs.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench/probe_files.h"

namespace {

using konseki::bench::ReadFile;
using konseki::bench::ReadLines;

struct Db {
  hs_database_t* db = nullptr;
  hs_scratch_t* scratch = nullptr;
  std::vector<std::string> ids;  // expression index -> rule id (from OUT.db.ids)
};

Db Load(const std::string& path) {
  Db d;
  const std::string bytes = ReadFile(path);
  if (hs_deserialize_database(bytes.data(), bytes.size(), &d.db) != HS_SUCCESS) {
    std::fprintf(stderr, "cannot deserialize %s\n", path.c_str());
    std::exit(1);
  }
  if (hs_alloc_scratch(d.db, &d.scratch) != HS_SUCCESS) {
    std::fprintf(stderr, "hs_alloc_scratch failed (platform?)\n");
    std::exit(1);
  }
  d.ids = ReadLines(path + ".ids");
  return d;
}

int Count(unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
  ++*static_cast<size_t*>(ctx);
  return 0;
}

int Record(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
  static_cast<std::vector<unsigned>*>(ctx)->push_back(id);
  return 0;
}

__attribute__((noinline)) size_t ScanAll(const Db& d, const std::vector<std::string>& lines,
                                         int reps) {
  size_t n = 0;
  for (int r = 0; r < reps; ++r) {
    for (const std::string& l : lines) {
      hs_scan(d.db, l.data(), static_cast<unsigned>(l.size()), 0, d.scratch, Count, &n);
    }
  }
  return n;
}

int CompileCmd(int argc, char** argv) {
  if (argc < 4) return 2;
  bool avx2 = false;
  std::set<std::string> exclude;
  std::set<size_t> exclude_lines;
  long add_flags = 0, remove_flags = 0;
  for (int i = 4; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--avx2") {
      avx2 = true;
    } else if (a.rfind("--exclude=", 0) == 0) {
      std::stringstream ss(a.substr(10));
      for (std::string id; std::getline(ss, id, ',');) exclude.insert(id);
    } else if (a.rfind("--exclude_line=", 0) == 0) {
      std::stringstream ss(a.substr(15));
      for (std::string n; std::getline(ss, n, ',');) exclude_lines.insert(std::stoul(n));
    } else if (a.rfind("--flags=+", 0) == 0) {
      add_flags = std::strtol(a.c_str() + 9, nullptr, 0);
    } else if (a.rfind("--flags=-", 0) == 0) {
      remove_flags = std::strtol(a.c_str() + 9, nullptr, 0);
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  std::vector<std::string> exprs, ids;
  std::vector<unsigned> flags;
  size_t line_no = 0;
  for (const std::string& line : ReadLines(argv[2])) {
    if (exclude_lines.count(line_no++)) continue;
    const size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    const std::string id = line.substr(t1 + 1, t2 - t1 - 1);
    if (exclude.count(id)) continue;
    flags.push_back((std::stoul(line.substr(0, t1)) | add_flags) & ~remove_flags);
    ids.push_back(id);
    exprs.push_back(line.substr(t2 + 1));
  }
  std::vector<const char*> c;
  std::vector<unsigned> idx;
  for (size_t i = 0; i < exprs.size(); ++i) {
    c.push_back(exprs[i].c_str());
    idx.push_back(static_cast<unsigned>(i));
  }
  hs_platform_info_t plat{};
  if (avx2) {
    hs_populate_platform(&plat);
    plat.cpu_features = HS_CPU_FEATURES_AVX2;
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  const auto t0 = std::chrono::steady_clock::now();
  if (hs_compile_multi(c.data(), flags.data(), idx.data(), static_cast<unsigned>(c.size()),
                       HS_MODE_BLOCK, avx2 ? &plat : nullptr, &db, &err) != HS_SUCCESS) {
    std::fprintf(stderr, "compile: %s (expression %d)\n", err->message, err->expression);
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char* info = nullptr;
  hs_database_info(db, &info);
  size_t size = 0;
  hs_database_size(db, &size);
  char* bytes = nullptr;
  size_t len = 0;
  hs_serialize_database(db, &bytes, &len);
  std::ofstream(argv[3], std::ios::binary).write(bytes, static_cast<std::streamsize>(len));
  std::ofstream out_ids(std::string(argv[3]) + ".ids");
  for (const std::string& id : ids) out_ids << id << '\n';
  std::printf("%zu expressions, %s, %zu bytes, compiled in %.2f s\n", exprs.size(), info, size,
              secs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: see the head of bench/hs_probe.cc\n");
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "compile") return CompileCmd(argc, argv);
  if (argc < 4) return 2;
  const Db d = Load(argv[2]);
  const std::vector<std::string> lines = ReadLines(argv[3]);
  const int reps = argc > 4 ? std::atoi(argv[4]) : 1;
  if (cmd == "scan") {
    const size_t n = ScanAll(d, lines, reps);
    std::printf("%zu lines x %d, %zu matches\n", lines.size(), reps, n);
  } else if (cmd == "time" || cmd == "lines") {
    double total = 0;
    size_t n = 0;
    for (const std::string& l : lines) {
      double best = 1e30;
      for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        hs_scan(d.db, l.data(), static_cast<unsigned>(l.size()), 0, d.scratch, Count, &n);
        best = std::min(
            best, std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
                      .count());
      }
      total += best;
      if (cmd == "lines") std::printf("%.0f\t%s\n", best, l.c_str());
    }
    if (cmd == "lines") return 0;
    std::printf("%.1f ns per line (min of %d, %zu lines)\n", total / lines.size(), reps,
                lines.size());
  } else if (cmd == "hits") {
    std::vector<unsigned> hit;
    for (const std::string& l : lines) {
      hit.clear();
      hs_scan(d.db, l.data(), static_cast<unsigned>(l.size()), 0, d.scratch, Record, &hit);
      std::set<std::string> rules;
      for (unsigned h : hit) rules.insert(d.ids[h]);
      for (const std::string& r : rules) std::cout << r << ' ';
      std::cout << '\n';
    }
  } else {
    return 2;
  }
  return 0;
}
