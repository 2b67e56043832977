// Dropping root after the listeners are bound: config keys `user`, `group`,
// `chroot` and `allow_root`.
#ifndef KONSEKI_APP_PRIVILEGES_H_
#define KONSEKI_APP_PRIVILEGES_H_

#include <sys/types.h>
#include <unistd.h>

#include <string>

#include "common/status.h"

namespace konseki::app {

struct PrivilegeOptions {
  // `user:` name (or numeric uid) to run as after binding; empty keeps the
  // current user.
  std::string user;
  // `group:` name (or numeric gid); empty = the user's primary group. Only
  // valid together with `user:`. Supplementary groups are always cleared.
  std::string group;
  // `chroot:` directory to confine the process to after binding; empty = none.
  // Every path used after start-up (archive, alerts, state) must then exist
  // inside it under the same name.
  std::string chroot_dir;
  // `allow_root: true` runs as root on purpose when no `user:` is set.
  bool allow_root = false;
  // Where the config gave `user:`, `group:` and `chroot:`, to start their
  // errors with file, line and key ("c.yaml:6: key 'user'", Config::Where;
  // Config::Privileges() fills them); empty = the bare key ("user").
  std::string user_where;
  std::string group_where;
  std::string chroot_where;
};

// The ids konseki runs as after DropPrivileges.
struct RunAsIds {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Resolves `user:`/`group:` (names or numeric ids) through the passwd and
// group databases; an empty `user:` gives the current euid/egid. Errors name
// the key and say what to do (unknown user or group). Side-effect free:
// check-config and start-up call it before binding anything.
StatusOr<RunAsIds> ResolveRunAs(const PrivilegeOptions& options);

// The start-up policy: running as root (euid 0) needs either `user:` (to drop
// to after binding) or `allow_root: true`; `user:` naming uid 0 needs
// `allow_root: true` too. Errors name the config keys and what to write.
// Cheap and side-effect free: call it right after loading the config, before
// binding, so a bad config fails before anything opens.
Status CheckRootPolicy(const PrivilegeOptions& options, uid_t euid = geteuid());

// `chroot:` names an existing folder (no-op when unset). Side-effect free:
// check-config and start-up call it, so a missing folder is said before the
// rules are compiled and the ports bound, not by DropPrivileges after them.
Status CheckChrootDir(const PrivilegeOptions& options);

// Call once, after binding the listeners and opening files, and before any
// thread is started (PR_SET_NO_NEW_PRIVS is per thread and inherited only by
// threads and children created afterwards; the uid/gid changes apply to every
// thread). In order:
//   1. CheckRootPolicy, and resolve user/group (before chroot, which hides
//      /etc/passwd). Errors here change nothing.
//   2. chroot(chroot_dir) and chdir("/") if set.
//   3. setgroups({gid}), setgid(gid), setuid(uid) if `user:` is set.
//   4. Verifies the change stuck: real/effective/saved ids are the target
//      ones and setuid(0)/setegid(0) fail, so root cannot be regained.
//   5. prctl(PR_SET_NO_NEW_PRIVS, 1), always (even without `user:`), so
//      no child (alert exec hooks) can gain privileges through set-uid files.
// Not running as root with `user:` set is fine if it names the current user
// and group (a no-op), otherwise an error saying to start as root or remove
// the keys. Any failure is fatal for the caller: the process may be half
// dropped and must exit.
Status DropPrivileges(const PrivilegeOptions& options);

}  // namespace konseki::app

#endif  // KONSEKI_APP_PRIVILEGES_H_
