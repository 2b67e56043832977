#include "matchers/hs_compile.h"

#include <errno.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

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

// Parses the child's reply into *db or *refused.
Status ParseReply(const std::string& reply, hs_database** db, HsCompileError* refused) {
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

Status CompileInChild(const HsExpressions& in, hs_database** db, HsCompileError* refused) {
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
  return ParseReply(reply, db, refused);
}

}  // namespace

Status CompileHsDatabase(const HsExpressions& in, HsCompileIn where, hs_database** db,
                         HsCompileError* refused) {
  *db = nullptr;
  if (where == HsCompileIn::kChildProcess) {
    Status st = CompileInChild(in, db, refused);
    if (st.ok() || st.code() == StatusCode::kInvalidArgument) return st;
    return Status::Internal("cannot compile the rule database in a child process: " + st.message());
  }
  Compiled c = CompileHere(in);
  if (c.ok) {
    *db = c.db;
    return Status::Ok();
  }
  *refused = std::move(c.refused);
  return Status::InvalidArgument(refused->message);
}

}  // namespace konseki::matchers
