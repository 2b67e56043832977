// Where a listener binds: a transport and a numeric IP address and port,
// written as a URI in the config ("udp://0.0.0.0:514", "tcp://[::1]:5514").
#ifndef KONSEKI_RECEIVER_LISTEN_ADDRESS_H_
#define KONSEKI_RECEIVER_LISTEN_ADDRESS_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace konseki::receiver {

enum class Transport { kUdp, kTcp, kRelp, kTls, kRelpTls };

// "udp", "tcp", "relp", "tls", "relp+tls".
std::string_view TransportName(Transport t);

// True for the schemes whose connections run over TLS (tls://, relp+tls://):
// they need the tls: section, and the server gives their stream listener a
// TlsTransport. The one place that says which schemes are TLS.
constexpr bool UsesTls(Transport t) { return t == Transport::kTls || t == Transport::kRelpTls; }

// A parsed listen URI. A plain value: copyable, no resources.
//
// Accepted form: SCHEME "://" HOST ":" PORT, where SCHEME is udp, tcp, relp,
// tls or relp+tls (RELP over TLS; case-insensitive), HOST is a numeric IPv4 address (dotted quad)
// or a numeric IPv6 address in brackets, and PORT is 0..65535 (0 asks the kernel for a free port,
// for tests). Host names are refused on purpose: a listener must not depend on DNS at start-up.
struct ListenAddress {
  Transport transport = Transport::kUdp;
  std::string host;  // numeric, without brackets: "0.0.0.0", "::1"
  uint16_t port = 0;
  bool ipv6 = false;

  // Parses a URI as above. Errors are InvalidArgument and quote the input,
  // say which part is wrong and show a valid example.
  static StatusOr<ListenAddress> Parse(std::string_view uri);

  // The canonical URI, e.g. "tcp://[::1]:5514"; Parse(ToString()) round-trips.
  // Used as the `listener` metric label.
  std::string ToString() const;

  // Fills *storage and *len for bind(2). The port is the one given here (use
  // the listener's port() for the port the kernel chose when it was 0).
  void ToSockaddr(sockaddr_storage* storage, socklen_t* len) const;

  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_LISTEN_ADDRESS_H_
