#include "outputs/syslog_forwarder.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "outputs/alert_json.h"

namespace konseki::outputs {
namespace {

int SyslogSeverity(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return 2;
    case Severity::kHigh:
      return 3;
    case Severity::kMedium:
      return 4;
    case Severity::kLow:
      return 5;
    case Severity::kInfo:
      return 6;
  }
  return 4;
}

// HOSTNAME / APP-NAME / MSGID: printable US-ASCII without spaces, "-" if empty.
void AppendHeaderField(std::string_view v, size_t max, std::string* out) {
  if (v.empty()) {
    *out += '-';
    return;
  }
  for (size_t i = 0; i < v.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(v[i]);
    *out += (c > 32 && c < 127) ? static_cast<char>(c) : '_';
  }
}

// PARAM-VALUE: '"', '\' and ']' escaped; control bytes (which a receiver
// would split lines on) replaced, UTF-8 kept.
void AppendParamValue(std::string_view v, std::string* out) {
  for (char ch : v) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\' || ch == ']') {
      *out += '\\';
      *out += ch;
    } else if (c < 32 || c == 127) {
      *out += '?';
    } else {
      *out += ch;
    }
  }
}

void AppendParam(std::string_view name, std::string_view value, std::string* out) {
  *out += ' ';
  *out += name;
  *out += "=\"";
  AppendParamValue(value, out);
  *out += '"';
}

std::string LocalHostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "-";
  return buf;
}

}  // namespace

std::string FormatSyslog5424(const Alert& alert, std::string_view json,
                             const SyslogForwarderOptions& options, std::string_view hostname,
                             std::string_view procid) {
  std::string out;
  out.reserve(json.size() + 256);
  out += '<';
  out += std::to_string(options.facility * 8 + SyslogSeverity(alert.severity));
  out += ">1 ";
  AppendRfc3339Micros(alert.time, &out);
  out += ' ';
  AppendHeaderField(hostname, 255, &out);
  out += ' ';
  AppendHeaderField(options.app_name, 48, &out);
  out += ' ';
  AppendHeaderField(procid, 128, &out);
  out += " alert [";
  AppendHeaderField(options.sd_id, 32, &out);
  AppendParam("sign", alert.sign, &out);
  AppendParam("rule", alert.rule, &out);
  AppendParam("severity", SeverityName(alert.severity), &out);
  AppendParam("host", alert.host, &out);
  out += "] ";
  out += json;
  return out;
}

StatusOr<std::unique_ptr<SyslogForwarder>> SyslogForwarder::Create(
    const SyslogForwarderOptions& options, MetricsRegistry& registry) {
  if (options.host.empty()) {
    return Status::InvalidArgument("syslog forwarder: host is empty");
  }
  if (options.port == 0) {
    return Status::InvalidArgument("syslog forwarder " + options.host + ": port 0");
  }
  if (options.facility < 0 || options.facility > 23) {
    return Status::InvalidArgument("syslog forwarder " + options.host + ": facility " +
                                   std::to_string(options.facility) + " not in 0..23");
  }
  if (options.max_attempts < 1) {
    return Status::InvalidArgument("syslog forwarder " + options.host +
                                   ": max_attempts must be at least 1");
  }
  return std::unique_ptr<SyslogForwarder>(new SyslogForwarder(options, registry));
}

SyslogForwarder::SyslogForwarder(const SyslogForwarderOptions& options, MetricsRegistry& registry)
    : options_(options),
      hostname_(options.hostname.empty() ? LocalHostname() : options.hostname),
      procid_(std::to_string(getpid())),
      backoff_(options.initial_backoff, options.max_backoff),
      queue_(options.name, options.queue, registry) {
  queue_.Start([this](const Alert& a) { return Deliver(a); });
}

SyslogForwarder::~SyslogForwarder() {
  queue_.Stop();
  Close();
}

void SyslogForwarder::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Status SyslogForwarder::Connect() {
  const bool tcp = options_.transport == SyslogTransport::kTcp;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(options_.port);
  if (int rc = getaddrinfo(options_.host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    return Status::Unavailable("resolve " + options_.host + ": " + gai_strerror(rc));
  }
  Status last = Status::Unavailable("no address for " + options_.host);
  timeval tv{};
  tv.tv_sec = options_.io_timeout.count() / 1000;
  tv.tv_usec = (options_.io_timeout.count() % 1000) * 1000;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = Status::FromErrno("socket", errno);
      continue;
    }
    // On Linux SO_SNDTIMEO also bounds connect().
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    // A connected UDP socket reports the collector's ICMP port unreachable
    // as ECONNREFUSED on a later send, which we count and retry.
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      last = Status::FromErrno("connect " + options_.host + ":" + service, errno);
      close(fd);
      continue;
    }
    fd_ = fd;
    freeaddrinfo(res);
    return Status::Ok();
  }
  freeaddrinfo(res);
  return last;
}

// A TCP collector that went away shows up as a readable socket with EOF (or
// an error); sending into it would "succeed" into the void once.
bool SyslogForwarder::PeerClosed() const {
  if (options_.transport != SyslogTransport::kTcp) return false;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP)) return true;
  char c;
  ssize_t n = recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

int SyslogForwarder::SendFrame(const std::string& frame) {
  size_t off = 0;
  while (off < frame.size()) {
    ssize_t n = send(fd_, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    off += static_cast<size_t>(n);
  }
  return 0;
}

DeliveryResult SyslogForwarder::Deliver(const Alert& alert) {
  const std::string json = options_.encoder ? options_.encoder(alert) : AlertToJson(alert);
  const std::string msg = FormatSyslog5424(alert, json, options_, hostname_, procid_);
  std::string frame;
  if (options_.transport == SyslogTransport::kTcp) {
    frame = options_.octet_counting ? std::to_string(msg.size()) + " " + msg : msg + "\n";
  } else {
    frame = msg;
  }
  for (int attempt = 1;; ++attempt) {
    if (fd_ >= 0 && PeerClosed()) Close();
    const char* reason = nullptr;
    if (fd_ < 0 && !Connect().ok()) {
      reason = "connect";
    } else if (fd_ >= 0) {
      const int err = SendFrame(frame);
      if (err == 0) {
        backoff_.Reset();
        return DeliveryResult::Delivered();
      }
      if (err == EMSGSIZE) {
        queue_.CountFailure("too_large");
        return DeliveryResult::Dropped("permanent_error");
      }
      reason = "send";
      Close();
    }
    queue_.CountFailure(reason);
    if (attempt >= options_.max_attempts) return DeliveryResult::Dropped("retries_exhausted");
    if (!queue_.Sleep(backoff_.Next())) return DeliveryResult::Dropped("shutdown");
  }
}

}  // namespace konseki::outputs
