#include "common/make_dirs.h"

#include <sys/stat.h>

#include <cerrno>

namespace konseki {

Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return Status::InvalidArgument("cannot create a folder with an empty name");
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string prefix = path.substr(0, pos);
    if (prefix.empty() || prefix.back() == '/') continue;  // "//" in the path
    if (mkdir(prefix.c_str(), mode) == 0) {
      if (chmod(prefix.c_str(), mode) != 0) return Status::FromErrno("chmod " + prefix, errno);
    } else if (errno != EEXIST) {
      return Status::FromErrno("cannot create folder " + prefix, errno);
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Status::FromErrno("cannot create folder " + path, errno);
  if (!S_ISDIR(st.st_mode)) return Status::FromErrno("cannot create folder " + path, ENOTDIR);
  return Status::Ok();
}

}  // namespace konseki
