#include "receiver/socket_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace konseki::receiver {

std::string_view FormatSender(const sockaddr* sa, char (&out)[kSenderTextSize]) {
  out[0] = '\0';
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, out, sizeof out);
  } else if (sa->sa_family == AF_INET6) {
    const in6_addr& a6 = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      inet_ntop(AF_INET, &a6.s6_addr[12], out, sizeof out);
    } else {
      inet_ntop(AF_INET6, &a6, out, sizeof out);
    }
  }
  return std::string_view(out);
}

StatusOr<UniqueFd> BindSocket(const ListenAddress& address, int type) {
  const std::string where = address.ToString();
  UniqueFd fd(::socket(address.ipv6 ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno("socket() for " + where, errno);
  if (type == SOCK_STREAM) {
    int one = 1;
    if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
      return Status::FromErrno("setsockopt(SO_REUSEADDR) for " + where, errno);
    }
  }
  sockaddr_storage ss;
  socklen_t len = 0;
  address.ToSockaddr(&ss, &len);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    int err = errno;
    std::string what = "bind " + where;
    if (err == EADDRINUSE) {
      what += " (another process listens there; stop it or choose another port)";
    } else if (err == EACCES) {
      what += " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    } else if (err == EADDRNOTAVAIL) {
      what += " (the address is not configured on this host)";
    }
    return Status::FromErrno(what, err);
  }
  return fd;
}

uint16_t BoundPort(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

StatusOr<WakeFd> WakeFd::Create() {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return Status::FromErrno("eventfd", errno);
  WakeFd w;
  w.fd_.Reset(fd);
  return w;
}

void WakeFd::Signal() const {
  uint64_t one = 1;
  // A full counter (EAGAIN) still leaves the fd readable, which is all we need.
  [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof one);
}

void WakeFd::Clear() const {
  uint64_t v;
  [[maybe_unused]] ssize_t n = ::read(fd_.get(), &v, sizeof v);
}

}  // namespace konseki::receiver
