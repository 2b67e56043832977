#include "receiver/stream_connection.h"

#include <sys/socket.h>

#include <cerrno>

namespace konseki::receiver {

IoResult PlainConnection::Read(char* buf, size_t len) {
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, len, 0);
    if (n > 0) return {IoStatus::kOk, static_cast<size_t>(n)};
    if (n == 0) return {IoStatus::kClosed, 0};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoStatus::kWantRead, 0};
    return {IoStatus::kError, 0};
  }
}

IoResult PlainConnection::Write(const char* buf, size_t len) {
  for (;;) {
    const ssize_t n = ::send(fd_, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return {IoStatus::kOk, static_cast<size_t>(n)};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoStatus::kWantWrite, 0};
    return {IoStatus::kError, 0};
  }
}

}  // namespace konseki::receiver
