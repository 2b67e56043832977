#include "app/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace konseki::app {
namespace {

constexpr char kRootHelp[] =
    "add `user: konseki` (and optionally `group: konseki`) to the config so konseki drops root "
    "right after binding its ports, or set `allow_root: true` to run as root on purpose";

// How an error about `key` starts: where the config gave it, or the key.
std::string At(const std::string& where, const char* key) {
  return where.empty() ? std::string(key) : where;
}

bool ParseId(const std::string& s, unsigned* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

StatusOr<RunAsIds> ResolveRunAs(const PrivilegeOptions& o) {
  RunAsIds t;
  if (o.user.empty()) {
    t.uid = geteuid();
    t.gid = getegid();
    return t;
  }
  std::vector<char> buf(16384);
  passwd pw;
  passwd* pw_result = nullptr;
  int err = getpwnam_r(o.user.c_str(), &pw, buf.data(), buf.size(), &pw_result);
  if (pw_result != nullptr) {
    t.uid = pw.pw_uid;
    t.gid = pw.pw_gid;
  } else {
    unsigned id = 0;
    if (!ParseId(o.user, &id)) {
      return Status::InvalidArgument(
          At(o.user_where, "user") + ": \"" + o.user + "\" is not a user on this host" +
          (err != 0 ? " (" + std::string(strerror(err)) + ")" : std::string()) +
          "; create it (e.g. `useradd --system --no-create-home konseki`) or name an existing "
          "user");
    }
    t.uid = id;
    t.gid = id;
    if (getpwuid_r(id, &pw, buf.data(), buf.size(), &pw_result) == 0 && pw_result != nullptr) {
      t.gid = pw.pw_gid;
    } else if (o.group.empty()) {
      return Status::InvalidArgument(At(o.user_where, "user") + ": uid " + o.user +
                                     " has no passwd entry, so `group:` must be given too");
    }
  }
  if (!o.group.empty()) {
    group gr;
    group* gr_result = nullptr;
    err = getgrnam_r(o.group.c_str(), &gr, buf.data(), buf.size(), &gr_result);
    if (gr_result != nullptr) {
      t.gid = gr.gr_gid;
    } else {
      unsigned id = 0;
      if (!ParseId(o.group, &id)) {
        return Status::InvalidArgument(At(o.group_where, "group") + ": \"" + o.group +
                                       "\" is not a group on this host; create it or name an "
                                       "existing group");
      }
      t.gid = id;
    }
  }
  return t;
}

Status CheckRootPolicy(const PrivilegeOptions& o, uid_t euid) {
  if (!o.group.empty() && o.user.empty()) {
    return Status::InvalidArgument(At(o.group_where, "group") + ": \"" + o.group +
                                   "\" is set without `user:`; set `user:` as well (konseki "
                                   "changes group only when it changes user)");
  }
  if (euid == 0 && o.user.empty() && !o.allow_root) {
    return Status::InvalidArgument(std::string("refusing to run as root: ") + kRootHelp);
  }
  return Status::Ok();
}

Status CheckChrootDir(const PrivilegeOptions& o) {
  if (o.chroot_dir.empty()) return Status::Ok();
  struct stat st;
  if (stat(o.chroot_dir.c_str(), &st) != 0) {
    return Status::FromErrno(At(o.chroot_where, "chroot") + ": \"" + o.chroot_dir +
                                 "\" (create that folder or remove `chroot:`)",
                             errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(At(o.chroot_where, "chroot") + ": \"" + o.chroot_dir +
                                   "\" is not a directory");
  }
  return Status::Ok();
}

Status DropPrivileges(const PrivilegeOptions& o) {
  const uid_t euid = geteuid();
  if (Status s = CheckRootPolicy(o, euid); !s.ok()) return s;
  RunAsIds t;
  const bool switching = !o.user.empty();
  if (switching) {
    StatusOr<RunAsIds> r = ResolveRunAs(o);
    if (!r.ok()) return r.status();
    t = *r;
    if (t.uid == 0 && !o.allow_root) {
      return Status::InvalidArgument(At(o.user_where, "user") + ": \"" + o.user +
                                     "\" is root (uid 0); name an unprivileged user, or set "
                                     "`allow_root: true` to run as root on purpose");
    }
    if (euid != 0 &&
        (t.uid != getuid() || t.uid != euid || t.gid != getgid() || t.gid != getegid())) {
      return Status::InvalidArgument(At(o.user_where, "user") + ": \"" + o.user +
                                     "\": switching user needs root, but konseki runs as uid " +
                                     std::to_string(euid) +
                                     "; start it as root (it drops to `user:` after binding) or "
                                     "remove `user:`/`group:` from the config");
    }
  }
  if (!o.chroot_dir.empty()) {
    RETURN_IF_ERROR(CheckChrootDir(o));
    if (chdir(o.chroot_dir.c_str()) != 0 || chroot(".") != 0) {
      return Status::FromErrno(At(o.chroot_where, "chroot") + ": \"" + o.chroot_dir +
                                   "\" (needs root or CAP_SYS_CHROOT; remove `chroot:` "
                                   "otherwise)",
                               errno);
    }
    if (chdir("/") != 0) return Status::FromErrno("chdir(\"/\") after chroot", errno);
  }
  if (switching && euid == 0) {
    if (setgroups(1, &t.gid) != 0) return Status::FromErrno("setgroups", errno);
    if (setresgid(t.gid, t.gid, t.gid) != 0) {
      return Status::FromErrno("setresgid(" + std::to_string(t.gid) + ")", errno);
    }
    if (setresuid(t.uid, t.uid, t.uid) != 0) {
      return Status::FromErrno("setresuid(" + std::to_string(t.uid) + ")", errno);
    }
  }
  if (switching) {
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != t.uid ||
        eu != t.uid || su != t.uid || rg != t.gid || eg != t.gid || sg != t.gid) {
      return Status::Internal("user: \"" + o.user + "\": the uid/gid change did not take effect");
    }
    if ((t.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) || (t.gid != 0 && setegid(0) == 0)) {
      return Status::Internal("user: \"" + o.user +
                              "\": root could be regained after dropping privileges");
    }
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::FromErrno("prctl(PR_SET_NO_NEW_PRIVS)", errno);
  }
  return Status::Ok();
}

}  // namespace konseki::app
