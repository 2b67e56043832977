#include "common/damaged_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <ctime>

namespace konseki {

StatusOr<std::string> SetAsideDamagedFile(const std::string& path, TimePoint now) {
  const std::time_t secs =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  const std::string base = path + ".corrupt-" + stamp;
  std::string target = base;
  struct stat st;
  for (int n = 2; ::lstat(target.c_str(), &st) == 0; ++n) {
    if (n > 1000) return Status::FromErrno("cannot set " + path + " aside", EEXIST);
    target = base + "-" + std::to_string(n);
  }
  if (std::rename(path.c_str(), target.c_str()) != 0) {
    return Status::FromErrno("cannot rename " + path + " to " + target, errno);
  }
  return target;
}

void SetAside(DamagedFile* d, TimePoint now) {
  auto moved = SetAsideDamagedFile(d->path, now);
  if (moved.ok()) {
    d->moved_to = std::move(moved).value();
  } else {
    d->move_error = moved.status().message();
  }
}

}  // namespace konseki
