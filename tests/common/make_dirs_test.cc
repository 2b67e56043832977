#include "common/make_dirs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace konseki {
namespace {

namespace fs = std::filesystem;

std::string TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "konseki-mkdirs-XXXXXX").string();
  return mkdtemp(tmpl.data()) ? tmpl : "";
}

mode_t ModeOf(const std::string& p) {
  struct stat st = {};
  stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

TEST(MakeDirsTest, CreatedFoldersGetExactlyTheModeWhateverTheUmask) {
  const std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  const mode_t old = umask(0);
  Status s = MakeDirs(dir + "/a/b", 0750);
  umask(old);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ModeOf(dir + "/a"), 0750u);
  EXPECT_EQ(ModeOf(dir + "/a/b"), 0750u);
  // An existing folder keeps its mode; a second call is fine.
  ASSERT_EQ(chmod((dir + "/a").c_str(), 0700), 0);
  EXPECT_TRUE(MakeDirs(dir + "/a/b", 0750).ok());
  EXPECT_EQ(ModeOf(dir + "/a"), 0700u);
  fs::remove_all(dir);
}

TEST(MakeDirsTest, AFileInTheWayIsAnErrorNamingIt) {
  const std::string dir = TempDir();
  std::ofstream(dir + "/file") << "x";
  Status s = MakeDirs(dir + "/file/sub", 0750);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir + "/file"), std::string::npos) << s.message();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace konseki
