// File reading shared by the Hyperscan probes (hs_probe, atom_probe):
// fixtures are a line per message, databases and filters whole files.
#ifndef KONSEKI_BENCH_PROBE_FILES_H_
#define KONSEKI_BENCH_PROBE_FILES_H_

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace konseki::bench {

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace konseki::bench

#endif  // KONSEKI_BENCH_PROBE_FILES_H_
