// A fresh temporary directory for one test, removed with everything in it
// on destruction (kept when KONSEKI_KEEP_TEMP is set, to look at after a
// failure). Shared by the unit and integration tests.
#ifndef KONSEKI_TESTS_TESTING_TEMP_DIR_H_
#define KONSEKI_TESTS_TESTING_TEMP_DIR_H_

#include <string>

namespace konseki::testing {

// Not copyable. path() is empty only when mkdtemp failed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Writes text to File(name) and returns that path.
  std::string Write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_TESTING_TEMP_DIR_H_
