#include "receiver/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>
#include <cstring>

namespace konseki::receiver {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status Error(std::string_view uri, std::string_view what) {
  std::string m = "listen address \"";
  m += uri;
  m += "\": ";
  m += what;
  m += " (expected e.g. udp://0.0.0.0:514, tcp://[::1]:5514, relp://0.0.0.0:2514)";
  return Status::InvalidArgument(std::move(m));
}

Status ParseScheme(std::string_view uri, std::string_view scheme_text, Transport* transport) {
  const std::string scheme = Lower(scheme_text);
  if (scheme == "udp") {
    *transport = Transport::kUdp;
  } else if (scheme == "tcp") {
    *transport = Transport::kTcp;
  } else if (scheme == "relp") {
    *transport = Transport::kRelp;
  } else if (scheme == "tls") {
    *transport = Transport::kTls;
  } else if (scheme == "relp+tls") {
    *transport = Transport::kRelpTls;
  } else {
    return Error(uri, "unknown transport \"" + std::string(scheme_text) +
                          "\"; use udp, tcp, relp, tls or relp+tls");
  }
  return Status::Ok();
}

// "HOST:PORT" or "[IPV6]:PORT" into its parts (views into rest).
Status SplitHostPort(std::string_view uri, std::string_view rest, std::string_view* host,
                     std::string_view* port_text, bool* ipv6) {
  if (rest.empty()) return Error(uri, "missing host and port");
  if (rest.find('/') != std::string_view::npos) {
    return Error(uri, "unexpected path after host:port");
  }
  if (rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return Error(uri, "IPv6 address lacks the closing ']'");
    *host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (after.empty() || after.front() != ':') {
      return Error(uri, "missing \":PORT\" after the IPv6 address");
    }
    *port_text = after.substr(1);
    *ipv6 = true;
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return Error(uri, "missing \":PORT\"");
    *host = rest.substr(0, colon);
    *port_text = rest.substr(colon + 1);
    if (host->find(':') != std::string_view::npos) {
      return Error(uri, "an IPv6 address must be written in brackets, e.g. [::1]:514");
    }
  }
  if (host->empty()) return Error(uri, "missing host (use 0.0.0.0 or [::] for all addresses)");
  return Status::Ok();
}

// The numeric address in canonical text form, so "0:0::1" and "::1" give the
// same metric label.
Status CanonicalHost(std::string_view uri, const std::string& host, bool ipv6, std::string* out) {
  char buf[INET6_ADDRSTRLEN];
  if (ipv6) {
    in6_addr addr6;
    if (inet_pton(AF_INET6, host.c_str(), &addr6) != 1) {
      return Error(uri, "\"" + host + "\" is not a numeric IPv6 address");
    }
    inet_ntop(AF_INET6, &addr6, buf, sizeof buf);
  } else {
    in_addr addr4;
    if (inet_pton(AF_INET, host.c_str(), &addr4) != 1) {
      return Error(uri,
                   "\"" + host + "\" is not a numeric IPv4 address (host names are not resolved)");
    }
    inet_ntop(AF_INET, &addr4, buf, sizeof buf);
  }
  *out = buf;
  return Status::Ok();
}

}  // namespace

std::string_view TransportName(Transport t) {
  switch (t) {
    case Transport::kUdp:
      return "udp";
    case Transport::kTcp:
      return "tcp";
    case Transport::kRelp:
      return "relp";
    case Transport::kTls:
      return "tls";
    case Transport::kRelpTls:
      return "relp+tls";
  }
  return "unknown";
}

StatusOr<ListenAddress> ListenAddress::Parse(std::string_view uri) {
  ListenAddress a;
  size_t sep = uri.find("://");
  if (sep == std::string_view::npos) {
    return Error(uri, "missing \"://\" after the transport");
  }
  if (Status s = ParseScheme(uri, uri.substr(0, sep), &a.transport); !s.ok()) return s;
  std::string_view host;
  std::string_view port_text;
  if (Status s = SplitHostPort(uri, uri.substr(sep + 3), &host, &port_text, &a.ipv6); !s.ok()) {
    return s;
  }
  if (Status s = CanonicalHost(uri, std::string(host), a.ipv6, &a.host); !s.ok()) return s;
  if (port_text.empty()) return Error(uri, "missing port number after ':'");
  if (port_text.size() > 5) return Error(uri, "port out of range 0..65535");
  uint32_t port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') {
      return Error(uri, "port \"" + std::string(port_text) + "\" is not a decimal number");
    }
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) return Error(uri, "port out of range 0..65535");
  a.port = static_cast<uint16_t>(port);
  return a;
}

std::string ListenAddress::ToString() const {
  std::string out(TransportName(transport));
  out += "://";
  if (ipv6) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

void ListenAddress::ToSockaddr(sockaddr_storage* storage, socklen_t* len) const {
  std::memset(storage, 0, sizeof *storage);
  if (ipv6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(storage);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    inet_pton(AF_INET6, host.c_str(), &sa->sin6_addr);
    *len = sizeof(sockaddr_in6);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(storage);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &sa->sin_addr);
    *len = sizeof(sockaddr_in);
  }
}

}  // namespace konseki::receiver
