#include "matchers/hs_compile.h"

#include <errno.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

#include "common/make_dirs.h"

namespace konseki::matchers {
namespace {

// The child's reply: one kind byte, then
//   'D' u64 size, the serialized database;
//   'E' i32 expression, u64 size, the message.
constexpr char kDatabase = 'D';
constexpr char kRefused = 'E';

struct Compiled {
  hs_database* db = nullptr;
  HsCompileError refused;
  bool ok = false;
};

Compiled CompileHere(const HsExpressions& in) {
  std::vector<const char*> exprs;
  std::vector<unsigned> ids;
  exprs.reserve(in.expressions.size());
  ids.reserve(in.expressions.size());
  for (size_t i = 0; i < in.expressions.size(); ++i) {
    exprs.push_back(in.expressions[i].c_str());
    ids.push_back(static_cast<unsigned>(i));
  }
  Compiled out;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), in.flags.data(), ids.data(),
                       static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &out.db,
                       &err) == HS_SUCCESS) {
    out.ok = true;
    return out;
  }
  out.db = nullptr;
  out.refused.expression = err != nullptr ? err->expression : -1;
  out.refused.message = err != nullptr && err->message != nullptr ? err->message : "unknown error";
  hs_free_compile_error(err);
  return out;
}

bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// The child: compile, reply on fd, exit. Only _exit: nothing of the parent
// (atexit handlers, stdio buffers, other threads' objects) runs here.
[[noreturn]] void RunChild(const HsExpressions& in, int fd) {
  Compiled c = CompileHere(in);
  bool ok;
  if (c.ok) {
    char* bytes = nullptr;
    size_t size = 0;
    if (hs_serialize_database(c.db, &bytes, &size) != HS_SUCCESS) _exit(3);
    const uint64_t n = size;
    ok = WriteAll(fd, &kDatabase, 1) && WriteAll(fd, &n, sizeof n) && WriteAll(fd, bytes, size);
  } else {
    const int32_t e = c.refused.expression;
    const uint64_t n = c.refused.message.size();
    ok = WriteAll(fd, &kRefused, 1) && WriteAll(fd, &e, sizeof e) && WriteAll(fd, &n, sizeof n) &&
         WriteAll(fd, c.refused.message.data(), c.refused.message.size());
  }
  _exit(ok ? 0 : 4);
}

// Reads the child's reply to its end. A database reply is sized once its
// length has arrived: appending it 64 KiB at a time doubled the string up to
// twice the database, and the old and new buffers met in the server's peak
// RSS beside the deserialized copy (issue 17).
Status ReadAll(int fd, std::string* out) {
  char buf[65536];
  bool sized = false;
  constexpr size_t kHeader = 1 + sizeof(uint64_t);
  for (;;) {
    const ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::Internal(std::string("reading from it: ") + strerror(errno));
    if (r == 0) return Status::Ok();
    out->append(buf, static_cast<size_t>(r));
    if (!sized && out->size() >= kHeader) {
      sized = true;
      uint64_t n = 0;
      std::memcpy(&n, out->data() + 1, sizeof n);
      if ((*out)[0] == kDatabase && n <= (uint64_t{1} << 32)) out->reserve(kHeader + n);
    }
  }
}

// What the child's exit status says, for errors ("exited with 3").
std::string ExitText(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "stopped";
}

// Parses the child's reply into *db or *refused; *serialized (when not
// null) gets the database's bytes as the child serialized them.
Status ParseReply(const std::string& reply, hs_database** db, HsCompileError* refused,
                  std::string* serialized) {
  size_t pos = 1;
  auto take = [&](void* dst, size_t n) {
    if (reply.size() - pos < n) return false;
    std::memcpy(dst, reply.data() + pos, n);
    pos += n;
    return true;
  };
  uint64_t n = 0;
  if (!reply.empty() && reply[0] == kDatabase && take(&n, sizeof n) && reply.size() - pos == n) {
    if (hs_error_t rc = hs_deserialize_database(reply.data() + pos, n, db); rc != HS_SUCCESS) {
      *db = nullptr;
      return Status::Internal("hs_deserialize_database failed with code " + std::to_string(rc));
    }
    if (serialized != nullptr) serialized->assign(reply, pos, n);
    return Status::Ok();
  }
  int32_t e = -1;
  if (!reply.empty() && reply[0] == kRefused && take(&e, sizeof e) && take(&n, sizeof n) &&
      reply.size() - pos == n) {
    refused->expression = e;
    refused->message = reply.substr(pos);
    return Status::InvalidArgument(refused->message);
  }
  return Status::Internal("short or malformed reply (" + std::to_string(reply.size()) + " bytes)");
}

Status CompileInChild(const HsExpressions& in, hs_database** db, HsCompileError* refused,
                      std::string* serialized) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Internal(std::string("pipe: ") + strerror(errno));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(fds[0]);
    close(fds[1]);
    return Status::Internal(std::string("fork: ") + strerror(err));
  }
  if (pid == 0) {
    // Dies with the thread that forked it, and holds none of the parent's
    // sockets or files open while it works.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    const int fd = fds[1];
    if (fd > 3) close_range(3, static_cast<unsigned>(fd) - 1, 0);
    close_range(static_cast<unsigned>(fd) + 1, ~0u, 0);
    RunChild(in, fd);
  }
  close(fds[1]);
  std::string reply;
  Status read = ReadAll(fds[0], &reply);
  close(fds[0]);
  int status = 0;
  pid_t w;
  do {
    w = waitpid(pid, &status, 0);
  } while (w < 0 && errno == EINTR);
  // With SIGCHLD ignored the child is reaped by the kernel (ECHILD): the
  // reply alone then tells whether it finished.
  const bool exited_ok = w < 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (!read.ok()) return read;
  if (!exited_ok) return Status::Internal("the compiling child " + ExitText(status));
  return ParseReply(reply, db, refused, serialized);
}

// The cache (HsCache in hs_compile.h). File layout: kMagic, u64 key size,
// the key, u64 database size, u64 FNV-1a of the database, the database.
constexpr char kMagic[8] = {'K', 'S', 'K', 'H', 'S', 'D', 'B', '1'};
constexpr uint64_t kMaxCacheFile = uint64_t{1} << 30;

uint64_t Fnv1a(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void AppendU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }

// Everything the database depends on: the expressions and flags in order,
// Hyperscan's version, and the platform a native compile targets.
std::string CacheKey(const HsExpressions& in) {
  std::string key = "konseki hyperscan cache 1\n";
  key += hs_version();
  key += '\n';
  hs_platform_info_t platform{};
  if (hs_populate_platform(&platform) == HS_SUCCESS) {
    AppendU64(&key, platform.tune);
    AppendU64(&key, platform.cpu_features);
  }
  AppendU64(&key, in.expressions.size());
  for (size_t i = 0; i < in.expressions.size(); ++i) {
    AppendU64(&key, i < in.flags.size() ? in.flags[i] : 0);
    AppendU64(&key, in.expressions[i].size());
    key += in.expressions[i];
  }
  return key;
}

std::string CachePath(const std::string& dir, const std::string& key) {
  char name[40];
  std::snprintf(name, sizeof name, "/rules-%016llx.hsdb",
                static_cast<unsigned long long>(Fnv1a(key)));
  return dir + name;
}

// The whole file, or false (missing, unreadable, larger than any database).
bool ReadCacheFile(const std::string& path, std::string* out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  // A file that anyone but its owner may write is not read (UnsafeFolder).
  bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0 &&
            static_cast<uint64_t>(st.st_size) <= kMaxCacheFile;
  if (ok) {
    out->resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < out->size()) {
      const ssize_t r = read(fd, out->data() + got, out->size() - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    ok = got == out->size();
  }
  close(fd);
  return ok;
}

// Why the files of dir cannot be trusted, or "". The key and the checksum
// guard against accidents, not against a writer: anyone who can write a file
// there can write one with the right key and a database made to match
// nothing, and the analyzer would go blind without a word. So a folder that
// its group or others may write (even with the sticky bit: they could still
// add the file first) is not used at all, and a file they may write is not
// read (ReadCacheFile). The owner is not checked: the folder's owner is the
// user that runs konseki (or root), who could change the rules as well.
std::string UnsafeFolder(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return "cannot read " + dir + ": " + strerror(errno);
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return dir + " is writable by users other than its owner (mode " + mode +
           "): a database there could be made to match nothing; chmod go-w it";
  }
  return "";
}

// The database of the file at path when its key is `key` and its bytes are
// whole; nullptr otherwise.
hs_database* LoadCached(const std::string& path, const std::string& key) {
  std::string file;
  if (!ReadCacheFile(path, &file)) return nullptr;
  size_t pos = 0;
  auto u64 = [&](uint64_t* v) {
    if (file.size() - pos < 8) return false;
    std::memcpy(v, file.data() + pos, 8);
    pos += 8;
    return true;
  };
  if (file.size() < sizeof kMagic || std::memcmp(file.data(), kMagic, sizeof kMagic) != 0) {
    return nullptr;
  }
  pos = sizeof kMagic;
  uint64_t key_size = 0, db_size = 0, sum = 0;
  if (!u64(&key_size) || file.size() - pos < key_size ||
      std::string_view(file).substr(pos, key_size) != key) {
    return nullptr;
  }
  pos += key_size;
  if (!u64(&db_size) || !u64(&sum) || file.size() - pos != db_size) return nullptr;
  const std::string_view bytes = std::string_view(file).substr(pos);
  if (Fnv1a(bytes) != sum) return nullptr;
  hs_database* db = nullptr;
  if (hs_deserialize_database(bytes.data(), bytes.size(), &db) != HS_SUCCESS) return nullptr;
  return db;
}

// Writes the file for key under a temporary name and renames it into place,
// then leaves only the HsCache::kKeep newest rules-*.hsdb. Returns what went
// wrong, or "".
std::string StoreCached(const std::string& dir, const std::string& path, const std::string& key,
                        std::string_view db) {
  std::string tmp = dir + "/.rules-XXXXXX";
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return "cannot create a file in " + dir + ": " + strerror(errno);
  std::string head(kMagic, sizeof kMagic);
  AppendU64(&head, key.size());
  head += key;
  AppendU64(&head, db.size());
  AppendU64(&head, Fnv1a(db));
  bool ok = fchmod(fd, 0640) == 0 && WriteAll(fd, head.data(), head.size()) &&
            WriteAll(fd, db.data(), db.size());
  const int err = errno;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = strerror(ok ? errno : err);
    unlink(tmp.c_str());
    return "cannot write " + path + ": " + why;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::pair<fs::file_time_type, fs::path>> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("rules-") && name.ends_with(".hsdb")) {
      files.emplace_back(e.last_write_time(ec), e.path());
    }
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a > b; });
  for (size_t i = HsCache::kKeep; i < files.size(); ++i) {
    if (files[i].second != path) fs::remove(files[i].second, ec);
  }
  return "";
}

// LoadCachedHsDatabase, leaving in *key and *path the file a compile
// should store (empty when the folder cannot be used).
bool LookUp(const HsExpressions& in, HsCache* cache, hs_database** db, std::string* key,
            std::string* path) {
  *db = nullptr;
  if (cache == nullptr) return false;
  cache->hit = false;
  cache->problem.clear();
  if (cache->dir.empty()) return false;
  if (Status st = MakeDirs(cache->dir, 0750); !st.ok()) {
    cache->problem = st.message();
  } else if (std::string unsafe = UnsafeFolder(cache->dir); !unsafe.empty()) {
    cache->problem = std::move(unsafe);
  } else {
    *key = CacheKey(in);
    *path = CachePath(cache->dir, *key);
    if ((*db = LoadCached(*path, *key)) != nullptr) {
      cache->hit = true;
      utimensat(AT_FDCWD, path->c_str(), nullptr, 0);  // the newest again
      return true;
    }
  }
  return false;
}

}  // namespace

bool LoadCachedHsDatabase(const HsExpressions& in, HsCache* cache, hs_database** db) {
  std::string key, path;
  return LookUp(in, cache, db, &key, &path);
}

Status CompileHsDatabase(const HsExpressions& in, HsCompileIn where, hs_database** db,
                         HsCompileError* refused, HsCache* cache) {
  std::string key, path;
  if (LookUp(in, cache, db, &key, &path)) return Status::Ok();
  std::string serialized;
  if (where == HsCompileIn::kChildProcess) {
    Status st = CompileInChild(in, db, refused, path.empty() ? nullptr : &serialized);
    if (st.code() == StatusCode::kInvalidArgument) return st;
    if (!st.ok()) {
      return Status::Internal("cannot compile the rule database in a child process: " +
                              st.message());
    }
  } else {
    Compiled c = CompileHere(in);
    if (!c.ok) {
      *refused = std::move(c.refused);
      return Status::InvalidArgument(refused->message);
    }
    *db = c.db;
    char* bytes = nullptr;
    size_t size = 0;
    if (!path.empty() && hs_serialize_database(*db, &bytes, &size) == HS_SUCCESS) {
      serialized.assign(bytes, size);
      free(bytes);  // Hyperscan's misc allocator: malloc unless a program sets another
    }
  }
  if (!path.empty() && !serialized.empty()) {
    cache->problem = StoreCached(cache->dir, path, key, serialized);
  }
  return Status::Ok();
}

}  // namespace konseki::matchers
