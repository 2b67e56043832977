// Small socket helpers shared by the UDP and TCP listeners.
#ifndef KONSEKI_RECEIVER_SOCKET_UTIL_H_
#define KONSEKI_RECEIVER_SOCKET_UTIL_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "receiver/listen_address.h"
#include "receiver/unique_fd.h"

namespace konseki::receiver {

// Room for any address written by FormatSender ("ffff:...:255.255.255.255").
inline constexpr size_t kSenderTextSize = 48;

// Writes the numeric address of sa (without port) into out, NUL-terminated,
// and returns it as a view into out. IPv4-mapped IPv6 addresses are written as
// IPv4 ("::ffff:10.0.0.1" -> "10.0.0.1") so one host has one name.
std::string_view FormatSender(const sockaddr* sa, char (&out)[kSenderTextSize]);

// socket(2) + bind(2) for address with the given type (SOCK_DGRAM,
// SOCK_STREAM), non-blocking and close-on-exec. TCP sockets get SO_REUSEADDR.
// Errors name the address and what to do.
StatusOr<UniqueFd> BindSocket(const ListenAddress& address, int type);

// The port the socket is bound to (the kernel's choice when 0 was asked).
uint16_t BoundPort(int fd);

// An eventfd used to wake a listener thread; Signal() is thread-safe.
class WakeFd {
 public:
  static StatusOr<WakeFd> Create();
  int fd() const { return fd_.get(); }
  void Signal() const;
  // Consumes the signals so far (the fd stops being readable until the next).
  void Clear() const;

 private:
  UniqueFd fd_;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_SOCKET_UTIL_H_
