#include "tests/testing/corpus_lines.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string_view>

namespace konseki::testing {

std::vector<std::string> CorpusLines(const std::string& corpus_dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> lines;
  static const std::regex kWazuh(R"(^log [0-9]+ (pass|fail) = (.*)$)");
  for (const char* folder : {"crowdsec", "fail2ban", "loghub", "wazuh"}) {
    const fs::path dir = fs::path(corpus_dir) / folder;
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      std::ifstream in(f);
      std::smatch m;
      for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        if (std::string_view(folder) == "wazuh") {
          if (!std::regex_match(line, m, kWazuh)) continue;
          line = m[2].str();
        }
        lines.push_back(line);
      }
    }
  }
  return lines;
}

}  // namespace konseki::testing
