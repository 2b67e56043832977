#include "app/control_socket.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/thread_name.h"

namespace konseki::app {
namespace {

constexpr size_t kMaxRequestBytes = 256;
// Connections served at once (each a descriptor of the daemon's budget).
constexpr size_t kMaxClients = 16;

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

// One thread, every client at once: each connection is read and answered
// without blocking (poll), so clients that connect and send nothing, or do
// not read their answer, cost a slot until their deadline and delay nobody.
// Past kMaxClients the oldest is dropped for the newcomer (a console
// command sends its line as it connects: one kept waiting that long has
// had its time).
void ControlSocket::Run() {
  SetThreadName("control");
  struct Client {
    receiver::UniqueFd fd;
    std::chrono::steady_clock::time_point deadline;
    std::string in;   // the request so far
    std::string out;  // the answer; empty until the request line is complete
    size_t sent = 0;
  };
  std::vector<Client> clients;
  std::vector<pollfd> p;
  const auto timeout = std::chrono::milliseconds(options_.io_timeout_ms);
  while (!stop_.load(std::memory_order_acquire)) {
    p.assign({{fd_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}});
    auto now = std::chrono::steady_clock::now();
    int wait_ms = -1;
    for (const Client& c : clients) {
      p.push_back({c.fd.get(), static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count();
      const int ms = static_cast<int>(std::max<int64_t>(0, left)) + 1;
      wait_ms = wait_ms < 0 ? ms : std::min(wait_ms, ms);
    }
    if (::poll(p.data(), p.size(), wait_ms) < 0) continue;
    if (p[1].revents != 0) break;
    now = std::chrono::steady_clock::now();
    std::vector<bool> done(clients.size(), false);
    for (size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      const short ev = p[i + 2].revents;
      if (now >= c.deadline) {
        done[i] = true;  // too slow (also one that dribbles its line): no answer
        continue;
      }
      if (ev == 0) continue;
      if (c.out.empty()) {
        char buf[kMaxRequestBytes];
        const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
          done[i] = true;  // closed before its line, or an error
          continue;
        }
        c.in.append(buf, static_cast<size_t>(n));
        const size_t eol = c.in.find('\n');
        if (eol == std::string::npos) {
          done[i] = c.in.size() >= kMaxRequestBytes;  // too long: no answer
          continue;
        }
        c.in.resize(eol);
        if (!c.in.empty() && c.in.back() == '\r') c.in.pop_back();
        c.out = handler_(c.in) + "\n";
        c.deadline = now + timeout;  // as long again to take the answer
      }
      const ssize_t n =
          ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        done[i] = true;
        continue;
      }
      c.sent += static_cast<size_t>(n);
      done[i] = c.sent == c.out.size();
    }
    size_t kept = 0;
    for (size_t i = 0; i < clients.size(); ++i) {
      if (!done[i]) clients[kept++] = std::move(clients[i]);
    }
    clients.resize(kept);
    if (p[0].revents == 0) continue;
    for (;;) {
      receiver::UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!conn.valid()) break;
      if (clients.size() >= kMaxClients) clients.erase(clients.begin());
      clients.push_back(Client{std::move(conn), now + timeout, {}, {}, 0});
    }
  }
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
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Status::IoError("no answer from konseki on " + path + " within " +
                             std::to_string(timeout_ms) + " ms (busy or hung: see its log)");
    }
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
