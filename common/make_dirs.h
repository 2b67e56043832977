// mkdir -p with an exact mode for the folders it creates.
#ifndef KONSEKI_COMMON_MAKE_DIRS_H_
#define KONSEKI_COMMON_MAKE_DIRS_H_

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace konseki {

// Creates `path` and its missing parents. Folders it creates get exactly
// `mode` whatever the umask (konseki's folders are 0750: logs are not for
// every local user); existing folders keep theirs. Fails if path (or a
// parent) exists and is not a folder, naming the path and the errno.
// Thread-safe (no shared state); a concurrent creator is not an error.
Status MakeDirs(const std::string& path, mode_t mode);

}  // namespace konseki

#endif  // KONSEKI_COMMON_MAKE_DIRS_H_
