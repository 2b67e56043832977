#include "matchers/heartbeat_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>

#include "common/utf8.h"

namespace konseki::matchers {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

void AppendEscaped(std::string_view s, std::string* out) {
  out->push_back(':');
  for (unsigned char c : s) {
    if (c == '%' || c <= ' ' || c == 0x7f) {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool Unescape(std::string_view field, std::string* out) {
  if (field.empty() || field[0] != ':') return false;
  out->clear();
  for (size_t i = 1; i < field.size(); ++i) {
    if (field[i] != '%') {
      out->push_back(field[i]);
      continue;
    }
    if (i + 2 >= field.size()) return false;
    int hi = HexValue(field[i + 1]);
    int lo = HexValue(field[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, p);
  out->push_back(' ');
}

// Shortest representation that reads back exactly (and fast: a save writes
// 42 numbers per host on the worker thread).
template <typename T>
void AppendFloat(T v, std::string* out) {
  char buf[40];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, p);
  out->push_back(' ');
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace

std::string StateFileName(size_t shard) { return "heartbeat." + std::to_string(shard) + ".state"; }

bool IsStateFileName(std::string_view name) {
  constexpr std::string_view kPrefix = "heartbeat.";
  constexpr std::string_view kSuffix = ".state";
  if (name.size() <= kPrefix.size() + kSuffix.size()) return false;
  if (name.substr(0, kPrefix.size()) != kPrefix) return false;
  if (name.substr(name.size() - kSuffix.size()) != kSuffix) return false;
  std::string_view digits =
      name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

void NoteSender(std::string_view sender, size_t cap, HostState* h) {
  h->sender.assign(sender);
  auto& list = h->senders;
  auto it = std::find(list.begin(), list.end(), sender);
  if (it != list.end()) {
    std::rotate(list.begin(), it, it + 1);
    return;
  }
  list.insert(list.begin(), std::string(sender));
  if (list.size() > std::max<size_t>(cap, 1)) list.pop_back();
}

void AppendHostStateLine(const HostState& h, std::string* out) {
  out->append("H ");
  AppendEscaped(h.name, out);
  out->push_back(' ');
  std::string senders = h.senders.empty() ? h.sender : "";
  for (const std::string& a : h.senders) {
    if (!senders.empty()) senders.push_back('\n');
    senders += a;
  }
  AppendEscaped(senders, out);
  out->push_back(' ');
  int64_t flags = (h.seen ? 1 : 0) | (h.silent ? 2 : 0) | (h.stop_seen ? 4 : 0) |
                  (h.has_ts ? 8 : 0) | (h.silent_after_stop ? 16 : 0);
  AppendInt(flags, out);
  AppendInt(h.first_seen_ns, out);
  AppendInt(h.last_seen_ns, out);
  AppendInt(h.stop_time_ns, out);
  AppendInt(h.last_ts_ns, out);
  AppendInt(h.offset_baseline_ns, out);
  AppendInt(h.last_clock_alert_ns, out);
  AppendFloat(h.cadence.observed_secs(), out);
  AppendFloat(h.cadence.decayed_at_secs(), out);
  for (float w : h.cadence.time_weights()) AppendFloat(w, out);
  for (float w : h.cadence.square_weights()) AppendFloat(w, out);
  AppendEscaped(h.stop_message, out);
  out->push_back(' ');
  AppendEscaped(h.last_message, out);
  out->push_back('\n');
}

bool ParseHostStateLine(std::string_view line, HostState* out) {
  constexpr size_t kFields = 1 + 2 + 7 + 2 + 2 * CadenceEstimator::kBuckets + 2;
  std::array<std::string_view, kFields> f;
  size_t n = 0;
  size_t pos = 0;
  while (pos <= line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    if (n == kFields) return false;
    f[n++] = line.substr(pos, end - pos);
    pos = end + 1;
  }
  if (n != kFields || f[0] != "H") return false;
  size_t i = 1;
  if (!Unescape(f[i++], &out->name) || out->name.empty()) return false;
  // Files written before host names were kept valid UTF-8 may hold any byte.
  if (!IsValidUtf8(out->name) || out->name.find('\0') != std::string::npos) {
    out->name = ValidUtf8(out->name);
  }
  std::string senders;
  if (!Unescape(f[i++], &senders)) return false;
  out->senders.clear();
  for (size_t start = 0; start < senders.size();) {
    size_t nl = senders.find('\n', start);
    if (nl == std::string::npos) nl = senders.size();
    if (nl > start) out->senders.push_back(senders.substr(start, nl - start));
    start = nl + 1;
  }
  out->sender = out->senders.empty() ? "" : out->senders.front();
  int64_t flags = 0;
  if (!ParseNumber(f[i++], &flags) || flags < 0 || flags > 31) return false;
  out->seen = flags & 1;
  out->silent = flags & 2;
  out->stop_seen = flags & 4;
  out->has_ts = flags & 8;
  out->silent_after_stop = flags & 16;
  for (int64_t* v : {&out->first_seen_ns, &out->last_seen_ns, &out->stop_time_ns, &out->last_ts_ns,
                     &out->offset_baseline_ns, &out->last_clock_alert_ns}) {
    if (!ParseNumber(f[i++], v)) return false;
  }
  double observed = 0, decayed_at = 0;
  if (!ParseNumber(f[i++], &observed) || !ParseNumber(f[i++], &decayed_at)) return false;
  std::array<float, CadenceEstimator::kBuckets> time{}, square{};
  for (float& w : time) {
    if (!ParseNumber(f[i++], &w)) return false;
  }
  for (float& w : square) {
    if (!ParseNumber(f[i++], &w)) return false;
  }
  out->cadence = CadenceEstimator();
  if (!out->cadence.RestoreFrom(time, square, observed, decayed_at)) return false;
  if (!Unescape(f[i++], &out->stop_message)) return false;
  if (!Unescape(f[i++], &out->last_message)) return false;
  return true;
}

Status WriteFileAtomically(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (fd.get() < 0) return Status::FromErrno("open " + tmp, errno);
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::unlink(tmp.c_str());
      return Status::FromErrno("write " + tmp, err);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd.get()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno("fsync " + tmp, err);
  }
  if (::close(fd.Release()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno("close " + tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno("rename " + tmp + " to " + path, err);
  }
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0) return Status::FromErrno("open directory " + dir, errno);
  if (::fsync(dfd.get()) != 0) return Status::FromErrno("fsync directory " + dir, errno);
  return Status::Ok();
}

Status ReadFileToString(const std::string& path, std::string* out) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Status::FromErrno("open " + path, errno);
  out->clear();
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read " + path, errno);
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace konseki::matchers
