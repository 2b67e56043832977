#include "app/file_identity.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

namespace konseki::app {
namespace {

namespace fs = std::filesystem;

std::string UserName(uid_t uid) {
  std::vector<char> buf(16384);
  passwd pw;
  passwd* r = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &r) == 0 && r != nullptr) return pw.pw_name;
  return std::to_string(uid);
}

std::string GroupName(gid_t gid) {
  std::vector<char> buf(16384);
  group gr;
  group* r = nullptr;
  if (getgrgid_r(gid, &gr, buf.data(), buf.size(), &r) == 0 && r != nullptr) return gr.gr_name;
  return std::to_string(gid);
}

// `want` is a mask of r=4, w=2, x=1 for the class (owner, group, other) that
// applies to ids, as the kernel picks it.
bool Allows(const struct stat& st, const RunAsIds& ids, unsigned want) {
  unsigned bits = st.st_mode;
  if (st.st_uid == ids.uid) {
    bits >>= 6;
  } else if (st.st_gid == ids.gid) {
    bits >>= 3;
  }
  return (bits & want) == want;
}

std::string Describe(const std::string& path, const struct stat& st) {
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return path + " (owner " + UserName(st.st_uid) + ":" + GroupName(st.st_gid) + ", mode " + mode +
         ")";
}

}  // namespace

StatusOr<std::unique_ptr<ScopedFileIdentity>> ScopedFileIdentity::Enter(const RunAsIds& ids) {
  if (geteuid() != 0 || ids.uid == 0) {
    return std::unique_ptr<ScopedFileIdentity>(new ScopedFileIdentity(false, 0, 0));
  }
  // setfsuid/setfsgid return the previous id and report no error: a call
  // with an invalid id (-1) reads the current one back.
  const gid_t old_gid = static_cast<gid_t>(setfsgid(ids.gid));
  if (static_cast<gid_t>(setfsgid(static_cast<gid_t>(-1))) != ids.gid) {
    return Status::Internal("setfsgid(" + std::to_string(ids.gid) +
                            ") refused (konseki needs CAP_SETGID to start as root with `user:`)");
  }
  const uid_t old_uid = static_cast<uid_t>(setfsuid(ids.uid));
  if (static_cast<uid_t>(setfsuid(static_cast<uid_t>(-1))) != ids.uid) {
    setfsgid(old_gid);
    return Status::Internal("setfsuid(" + std::to_string(ids.uid) +
                            ") refused (konseki needs CAP_SETUID to start as root with `user:`)");
  }
  return std::unique_ptr<ScopedFileIdentity>(new ScopedFileIdentity(true, old_uid, old_gid));
}

ScopedFileIdentity::~ScopedFileIdentity() {
  if (!active_) return;
  setfsuid(old_uid_);
  setfsgid(old_gid_);
}

std::string WritableProblem(const std::string& key, const std::string& path, bool is_dir,
                            const RunAsIds& ids, const std::string& user_name) {
  if (ids.uid == 0 || path.empty()) return "";
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec).lexically_normal();
  if (ec) return key + ": " + path + ": " + ec.message();
  if (!abs.has_filename()) abs = abs.parent_path();  // "dir/" -> "dir"
  const std::string folder = is_dir ? abs.string() : abs.parent_path().string();
  const std::string hint = "; create it as root with `install -d -o " + user_name + " -g " +
                           GroupName(ids.gid) + " -m 0750 " + folder + "`";
  const std::string head = key + ": " + path + " will not be writable by user " + user_name +
                           " (uid " + std::to_string(ids.uid) + ", gid " + std::to_string(ids.gid) +
                           "): ";
  std::vector<fs::path> parts(abs.begin(), abs.end());
  fs::path prefix;
  for (size_t i = 0; i < parts.size(); ++i) {
    prefix /= parts[i];
    const std::string p = prefix.string();
    struct stat st;
    if (stat(p.c_str(), &st) != 0) {
      if (errno != ENOENT) return head + "cannot stat " + p + ": " + std::strerror(errno);
      // The loop checked every ancestor so far can be entered; the deepest
      // existing one must also let the user create entries.
      const std::string parent = prefix.parent_path().string();
      struct stat pst;
      if (stat(parent.c_str(), &pst) != 0 || Allows(pst, ids, 3)) return "";
      return head + "konseki would create " + p + " inside " + Describe(parent, pst) +
             ", where that user cannot create entries" + hint;
    }
    if (i + 1 < parts.size()) {
      if (!S_ISDIR(st.st_mode)) return head + p + " is not a folder";
      if (!Allows(st, ids, 1)) return head + Describe(p, st) + " cannot be entered" + hint;
    } else if (is_dir) {
      if (!S_ISDIR(st.st_mode)) return head + "it exists and is not a folder";
      if (!Allows(st, ids, 3)) return head + "it is " + Describe(p, st) + hint;
    } else {
      if (S_ISDIR(st.st_mode)) return head + "it is a folder";
      if (!Allows(st, ids, 2)) {
        return head + "it is " + Describe(p, st) + "; `chown " + user_name + " " + p + "`";
      }
    }
  }
  return "";
}

Status CheckWritableFolder(const std::string& dir) {
  std::error_code ec;
  fs::path p = fs::absolute(dir, ec).lexically_normal();
  if (ec) return Status::InvalidArgument(dir + ": " + ec.message());
  if (!p.has_filename()) p = p.parent_path();  // "dir/" -> "dir"
  const std::string who =
      " by uid " + std::to_string(geteuid()) + " (gid " + std::to_string(getegid()) + ")";
  // The folder itself, or the deepest ancestor konseki would create it in.
  for (fs::path at = p;; at = at.parent_path()) {
    struct stat st;
    if (stat(at.c_str(), &st) != 0) {
      if (errno == ENOENT && at.has_relative_path()) continue;
      return Status::FromErrno(at.string() + ": cannot be looked at" + who, errno);
    }
    if (!S_ISDIR(st.st_mode)) {
      return Status::InvalidArgument(at.string() + " is not a folder");
    }
    if (faccessat(AT_FDCWD, at.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
      const int err = errno;
      const std::string what =
          at == p ? "cannot be written" : "cannot create " + p.string() + " in it";
      return Status::FromErrno(at.string() + ": " + what + who, err);
    }
    return Status::Ok();
  }
}

}  // namespace konseki::app
