// Creating konseki's folders and files as the user it will run as.
//
// konseki starts as root (to bind low ports) and drops to `user:` right after
// Server::Create. Everything it creates at start-up (archive dir, heartbeat
// state dir, alerts file and its parent) must then belong to that user, or
// the dropped process cannot write it. And the systemd unit's capability
// bounding set has no CAP_DAC_OVERRIDE or CAP_CHOWN, so root can neither
// write into the admin's 0750 folders owned by that user nor chown
// afterwards. ScopedFileIdentity switches the calling thread's file-system
// uid/gid (setfsuid/setfsgid, needs only CAP_SETUID/CAP_SETGID) to the
// run-as user's: files created in its scope are owned by that user and
// access is checked as that user, exactly as after the drop.
//
// Usage:
//   auto as_user = ScopedFileIdentity::Enter(ids);   // ids from ResolveRunAs
//   if (!as_user.ok()) return as_user.status();
//   ... open/create outputs ...
//   // the destructor restores root's file-system ids (for binding, TLS keys)
#ifndef KONSEKI_APP_FILE_IDENTITY_H_
#define KONSEKI_APP_FILE_IDENTITY_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "app/privileges.h"
#include "common/status.h"

namespace konseki::app {

// Per thread (file-system ids are per thread in Linux): threads started
// inside the scope inherit the user's ids until DropPrivileges changes every
// thread's. Not copyable. Root's supplementary groups still count for access
// checks inside the scope (they are cleared only by DropPrivileges).
class ScopedFileIdentity {
 public:
  // Switches to ids when the process runs as root and ids.uid is not 0;
  // otherwise a no-op scope. Fails (changing nothing) if the kernel refuses.
  static StatusOr<std::unique_ptr<ScopedFileIdentity>> Enter(const RunAsIds& ids);
  ~ScopedFileIdentity();
  ScopedFileIdentity(const ScopedFileIdentity&) = delete;
  ScopedFileIdentity& operator=(const ScopedFileIdentity&) = delete;

 private:
  ScopedFileIdentity(bool active, uid_t old_uid, gid_t old_gid)
      : active_(active), old_uid_(old_uid), old_gid_(old_gid) {}
  bool active_;
  uid_t old_uid_;
  gid_t old_gid_;
};

// check-config: whether `ids` can create (with missing parents) or write
// `path`, a folder when is_dir, else a file, judged from the mode bits of the
// path and its ancestors as they are now (ACLs are not looked at). Returns ""
// when it can, otherwise a message naming `key`, the path, the user and what
// blocks it. `user_name` is how the user is named in the message. Root
// (uid 0) is never warned about.
std::string WritableProblem(const std::string& key, const std::string& path, bool is_dir,
                            const RunAsIds& ids, const std::string& user_name);

// Whether this process, as it runs now (after DropPrivileges), can create
// entries in folder `dir`, or create `dir` in its deepest existing ancestor:
// the kernel's own access check (faccessat with AT_EACCESS), so ACLs,
// capabilities and read-only mounts count. The error names the folder, the
// process's uid and gid, and what blocks it.
Status CheckWritableFolder(const std::string& dir);

}  // namespace konseki::app

#endif  // KONSEKI_APP_FILE_IDENTITY_H_
