#include "tests/testing/temp_dir.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace konseki::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "konseki-test-XXXXXX").string();
  const char* p = mkdtemp(tmpl.data());
  path_ = p ? p : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty() && std::getenv("KONSEKI_KEEP_TEMP") == nullptr) {
    std::filesystem::remove_all(path_, ec);
  }
}

std::string TempDir::Write(const std::string& name, const std::string& text) const {
  const std::string p = File(name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

}  // namespace konseki::testing
