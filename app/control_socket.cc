#include "app/control_socket.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "common/thread_name.h"

namespace konseki::app {
namespace {

constexpr size_t kMaxRequestBytes = 256;

StatusOr<sockaddr_un> SocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("control socket path '" + path + "' is empty or longer than " +
                                   std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

void SetTimeouts(int fd, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Removes a socket left by a konseki that was killed; refuses to replace
// anything that is not a socket, or a socket someone still answers on.
Status RemoveStale(const std::string& path, const sockaddr_un& addr) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Status::Ok();
  if (!S_ISSOCK(st.st_mode)) {
    return Status::InvalidArgument("control socket: " + path + " exists and is not a socket");
  }
  receiver::UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe.valid() &&
      ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    return Status::Unavailable("control socket: " + path +
                               " is in use: is another konseki running with this state directory?");
  }
  ::unlink(path.c_str());
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<ControlSocket>> ControlSocket::Bind(const ControlSocketOptions& options,
                                                             Handler handler) {
  auto addr = SocketAddress(options.path);
  if (!addr.ok()) return addr.status();
  std::error_code ec;
  auto parent = std::filesystem::path(options.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec)
    return Status::IoError("control socket: cannot create " + parent.string() + ": " +
                           ec.message());
  if (Status s = RemoveStale(options.path, *addr); !s.ok()) return s;

  receiver::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Status::FromErrno("control socket: socket", errno);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    return Status::FromErrno("control socket: bind " + options.path, errno);
  }
  if (::chmod(options.path.c_str(), 0660) != 0) {
    return Status::FromErrno("control socket: chmod " + options.path, errno);
  }
  if (::listen(fd.get(), 16) != 0) return Status::FromErrno("control socket: listen", errno);
  receiver::UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return Status::FromErrno("control socket: eventfd", errno);
  return std::unique_ptr<ControlSocket>(
      new ControlSocket(options, std::move(handler), std::move(fd), std::move(wake)));
}

ControlSocket::ControlSocket(const ControlSocketOptions& options, Handler handler,
                             receiver::UniqueFd fd, receiver::UniqueFd wake)
    : options_(options), handler_(std::move(handler)), fd_(std::move(fd)), wake_(std::move(wake)) {}

ControlSocket::~ControlSocket() { Stop(); }

void ControlSocket::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void ControlSocket::Stop() {
  if (stop_.exchange(true)) return;
  uint64_t one = 1;
  ssize_t ignored = ::write(wake_.get(), &one, sizeof one);
  (void)ignored;
  if (thread_.joinable()) thread_.join();
  ::unlink(options_.path.c_str());
}

void ControlSocket::Run() {
  SetThreadName("control");
  while (!stop_.load(std::memory_order_acquire)) {
    pollfd p[2] = {{fd_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) continue;
    if (p[1].revents != 0) break;
    receiver::UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (conn.valid()) Serve(conn.get());
  }
}

void ControlSocket::Serve(int fd) {
  SetTimeouts(fd, options_.io_timeout_ms);
  std::string request;
  char buf[kMaxRequestBytes];
  while (request.find('\n') == std::string::npos && request.size() < kMaxRequestBytes) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  size_t eol = request.find('\n');
  if (eol == std::string::npos) return;  // too long, timed out or closed: no answer
  request.resize(eol);
  if (!request.empty() && request.back() == '\r') request.pop_back();
  std::string answer = handler_(request);
  answer += '\n';
  WriteAll(fd, answer);
}

StatusOr<std::string> AskControlSocket(const std::string& path, std::string_view request,
                                       int timeout_ms) {
  auto addr = SocketAddress(path);
  if (!addr.ok()) return addr.status();
  receiver::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno("socket", errno);
  SetTimeouts(fd.get(), timeout_ms);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    int err = errno;
    if (err == EACCES) {
      return Status::IoError("cannot open " + path +
                             ": permission denied (run as root or as a member of the "
                             "daemon's group)");
    }
    return Status::Unavailable("konseki is not running (no answer on " + path + ": " +
                               std::strerror(err) + ")");
  }
  std::string line(request);
  line += '\n';
  if (!WriteAll(fd.get(), line)) return Status::FromErrno("send to " + path, errno);
  std::string answer;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read from " + path, errno);
    if (n == 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  if (answer.empty() || answer.back() != '\n') {
    return Status::IoError("incomplete answer from " + path);
  }
  answer.pop_back();
  return answer;
}

}  // namespace konseki::app
