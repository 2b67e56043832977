// The physical floor for bench/ingest/run (issue 17): a receiver that does
// nothing the kernel does not have to do. It binds TCP and UDP on one
// loopback port, reads with the cheapest calls there are (recvmmsg, 64
// datagrams per call, for UDP; read() of 256 KiB per epoll wake-up for TCP)
// and counts messages, and either discards the bytes (receive floor) or,
// with --out, appends them to a file in 256 KiB write(2)s like `dd bs=256k`
// (receive + write floor). Its CPU per message in the same run is what a
// syslog receiver cannot go below on this machine; the harness reports
// konseki's CPU per message as a multiple of it.
//
// Counting is the only user-space work: a datagram is a message; on TCP an
// octet-counted frame (RFC 6587, "LEN SP ...") or an LF-terminated line is
// one, decided per frame by its first byte as konseki's framer does. The
// count goes to --count-file every 50 ms (the harness polls it).
//
// UDP wake-ups: like konseki's UDP listener (UdpOptions::gather_window), a
// wake-up that found datagrams is followed by a 1 ms pause (--gather-us) before
// the next drain, so at 100k msgs/s one recvmmsg takes ~100 datagrams instead
// of one or two: without it this "floor" would pay more system calls per
// message than konseki does. TCP likewise (konseki's stream listener since
// 19ee650): an epoll round whose reads took less than one 256 KiB read's
// worth is followed by the same pause, so the next round reads more at once.
//
// With --rules DIR ("floor-scan" in the harness) it also does the two parts
// of konseki's analysis no design can skip: every message is framed
// (receiver::Framer on TCP), parsed (receiver::Parser, with the timestamp
// cache) and matched against every rule of DIR (matchers::RuleSet: one
// Hyperscan scan, the program filter, RE2 extraction of hits), in the
// receiving thread, with nothing else: no queue, no archive formatting, no
// heartbeat, no correlation. konseki cannot spend less per message than
// this does with the same packs on the same machine; the harness compares
// the targets against it.
//
// Usage: floor_receiver --port P --count-file F [--out FILE]
//                       [--rcvbuf BYTES] [--gather-us 1000] [--rules DIR]
// Stops on SIGTERM/SIGINT after writing the final count.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bench/ingest/tool_flags.h"
#include "common/clock.h"
#include "common/message.h"
#include "matchers/rule_packs.h"
#include "matchers/rule_set.h"
#include "receiver/framer.h"
#include "receiver/parser.h"
#include "receiver/timestamp_cache.h"

namespace {

constexpr size_t kReadBytes = 256 << 10;
constexpr size_t kDatagrams = 64;
constexpr size_t kMaxDatagram = 64 << 10;

volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

struct Args {
  int port = 0;
  std::string count_file;
  std::string out;  // empty: discard
  int rcvbuf = 4 << 20;
  int gather_us = 1000;
  std::string rules;  // empty: count only
};

constexpr char kUsage[] =
    "floor_receiver --port P --count-file F [--out FILE] [--rcvbuf BYTES] [--gather-us N] "
    "[--rules DIR]";

Args Parse(int argc, char** argv) {
  Args a;
  konseki::bench::ParseToolFlags(argc, argv, "floor_receiver", kUsage,
                                 [&a](std::string_view k, const char* v) {
                                   if (k == "--port") {
                                     a.port = std::atoi(v);
                                   } else if (k == "--count-file") {
                                     a.count_file = v;
                                   } else if (k == "--out") {
                                     a.out = v;
                                   } else if (k == "--rcvbuf") {
                                     a.rcvbuf = std::atoi(v);
                                   } else if (k == "--gather-us") {
                                     a.gather_us = std::atoi(v);
                                   } else if (k == "--rules") {
                                     a.rules = v;
                                   } else {
                                     return false;
                                   }
                                   return true;
                                 });
  if (a.port <= 0 || a.count_file.empty()) {
    std::fprintf(stderr, "floor_receiver: --port and --count-file are required\nusage: %s\n",
                 kUsage);
    std::exit(2);
  }
  return a;
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "floor_receiver: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int BindSocket(int type, int port, int rcvbuf) {
  const int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) Die("socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (type == SOCK_DGRAM) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("bind");
  if (type == SOCK_STREAM && listen(fd, 128) != 0) Die("listen");
  return fd;
}

// Where a TCP connection is in its stream: inside an octet-counted frame
// (`skip` bytes left), reading a frame's length digits, or inside an LF line.
struct StreamState {
  enum Mode { kFrameStart, kLength, kOctets, kLine } mode = kFrameStart;
  size_t value = 0;  // length digits so far, or octets left
};

// Counts the messages that end in data[0, n) and advances s.
uint64_t CountFrames(const char* data, size_t n, StreamState* s) {
  uint64_t messages = 0;
  size_t i = 0;
  while (i < n) {
    switch (s->mode) {
      case StreamState::kFrameStart:
        if (data[i] >= '1' && data[i] <= '9') {
          s->mode = StreamState::kLength;
          s->value = 0;
        } else {
          s->mode = StreamState::kLine;
        }
        break;
      case StreamState::kLength:
        if (data[i] >= '0' && data[i] <= '9') {
          s->value = s->value * 10 + static_cast<size_t>(data[i] - '0');
        } else {  // the space after the length
          s->mode = s->value > 0 ? StreamState::kOctets : StreamState::kFrameStart;
        }
        ++i;
        break;
      case StreamState::kOctets: {
        const size_t take = std::min(s->value, n - i);
        i += take;
        s->value -= take;
        if (s->value == 0) {
          ++messages;
          s->mode = StreamState::kFrameStart;
        }
        break;
      }
      case StreamState::kLine: {
        const void* lf = std::memchr(data + i, '\n', n - i);
        if (lf == nullptr) return messages;  // the line goes on in the next read
        i = static_cast<size_t>(static_cast<const char*>(lf) - data) + 1;
        ++messages;
        s->mode = StreamState::kFrameStart;
        break;
      }
    }
  }
  return messages;
}

// --rules: parse and match each message, as a worker does, and count hits.
class Scanner {
 public:
  explicit Scanner(const std::string& dir) {
    auto set = konseki::matchers::CompileRulePacks(dir, {});
    if (!set.ok()) {
      std::fprintf(stderr, "floor_receiver: --rules %s: %s\n", dir.c_str(),
                   set.status().message().c_str());
      std::exit(1);
    }
    set_ = std::move(set).value();
    auto scratch = set_->NewScratch();
    if (!scratch.ok()) {
      std::fprintf(stderr, "floor_receiver: scratch: %s\n", scratch.status().message().c_str());
      std::exit(1);
    }
    scratch_ = std::move(scratch).value();
  }
  // The receive time of what the next calls scan (once per read, as konseki).
  void Received(konseki::TimePoint t) { received_ = t; }
  void Scan(std::string_view bytes) {
    parser_.Parse(bytes, received_, &cache_, &msg_);
    set_->Match(msg_, *scratch_, &hits_);
    hit_count_ += hits_.size();
  }
  uint64_t hits() const { return hit_count_; }

 private:
  std::shared_ptr<const konseki::matchers::RuleSet> set_;
  std::unique_ptr<konseki::matchers::RuleSet::Scratch> scratch_;
  konseki::receiver::Parser parser_;
  konseki::receiver::TimestampCache cache_;
  konseki::Message msg_;
  std::vector<konseki::matchers::RuleHit> hits_;
  konseki::TimePoint received_;
  uint64_t hit_count_ = 0;
};

class Floor {
 public:
  explicit Floor(const Args& a) : args_(a), buf_(kReadBytes) {
    if (!a.out.empty()) {
      out_fd_ = open(a.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
      if (out_fd_ < 0) Die("open --out");
      out_buf_.reserve(kReadBytes + kMaxDatagram);
    }
    if (!a.rules.empty()) scanner_ = std::make_unique<Scanner>(a.rules);
    count_fd_ = open(a.count_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (count_fd_ < 0) Die("open --count-file");
    dgrams_.resize(kDatagrams * kMaxDatagram / 8);  // 8 KiB per slot
    for (size_t k = 0; k < kDatagrams; ++k) {
      iov_[k] = {dgrams_.data() + k * (kMaxDatagram / 8), kMaxDatagram / 8};
      msgs_[k] = {};
      msgs_[k].msg_hdr.msg_iov = &iov_[k];
      msgs_[k].msg_hdr.msg_iovlen = 1;
    }
  }

  int Run();
  uint64_t hits() const { return scanner_ ? scanner_->hits() : 0; }

 private:
  void Add(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) Die("epoll_ctl");
  }
  void Store(const char* data, size_t n) {
    if (out_fd_ < 0) return;
    out_buf_.append(data, n);
    if (out_buf_.size() >= kReadBytes) WriteOut();
  }
  void WriteOut() {
    size_t off = 0;
    while (off < out_buf_.size()) {
      const ssize_t w = write(out_fd_, out_buf_.data() + off, out_buf_.size() - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) Die("write --out");
      off += static_cast<size_t>(w);
    }
    out_buf_.clear();
  }
  // Returns the datagrams read.
  int ReadUdp();
  // Returns the bytes read.
  size_t ReadTcp(int fd);
  void Accept();
  void WriteCount() {
    char text[32];
    const int n =
        std::snprintf(text, sizeof(text), "%llu\n", static_cast<unsigned long long>(messages_));
    if (pwrite(count_fd_, text, static_cast<size_t>(n), 0) < 0) Die("write --count-file");
  }

  Args args_;
  int ep_ = -1, udp_ = -1, tcp_ = -1, out_fd_ = -1, count_fd_ = -1;
  uint64_t messages_ = 0;
  std::vector<char> buf_;
  std::vector<char> dgrams_;
  iovec iov_[kDatagrams];
  mmsghdr msgs_[kDatagrams];
  std::string out_buf_;
  std::unordered_map<int, StreamState> streams_;
  std::unique_ptr<Scanner> scanner_;
  std::unordered_map<int, konseki::receiver::Framer> framers_;  // --rules: TCP frames
};

int Floor::ReadUdp() {
  int total = 0;
  for (;;) {
    const int n = recvmmsg(udp_, msgs_, kDatagrams, MSG_DONTWAIT, nullptr);
    if (n <= 0) return total;
    total += n;
    messages_ += static_cast<uint64_t>(n);
    if (scanner_) {
      scanner_->Received(
          std::chrono::time_point_cast<konseki::Duration>(std::chrono::system_clock::now()));
      for (int k = 0; k < n; ++k) {
        scanner_->Scan({static_cast<const char*>(iov_[k].iov_base), msgs_[k].msg_len});
      }
    }
    for (int k = 0; k < n && out_fd_ >= 0; ++k) {
      Store(static_cast<const char*>(iov_[k].iov_base), msgs_[k].msg_len);
      Store("\n", 1);
    }
  }
}

size_t Floor::ReadTcp(int fd) {
  // --rules: each whole frame is scanned and counted.
  const auto scan = [this](std::string_view frame, bool) {
    scanner_->Scan(frame);
    ++messages_;
  };
  size_t total = 0;
  for (;;) {
    const ssize_t n = read(fd, buf_.data(), buf_.size());
    if (n > 0) {
      const std::string_view data(buf_.data(), static_cast<size_t>(n));
      total += data.size();
      if (scanner_) {
        scanner_->Received(
            std::chrono::time_point_cast<konseki::Duration>(std::chrono::system_clock::now()));
        framers_[fd].Feed(data, scan);
      } else {
        messages_ += CountFrames(data.data(), data.size(), &streams_[fd]);
      }
      Store(data.data(), data.size());
      if (data.size() < buf_.size()) return total;  // drained: back to epoll
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return total;
    streams_.erase(fd);
    if (auto it = framers_.find(fd); it != framers_.end()) {
      it->second.Finish(scan);
      framers_.erase(it);
    }
    close(fd);  // also leaves the epoll set
    return total;
  }
}

void Floor::Accept() {
  for (;;) {
    const int c = accept4(tcp_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;
    streams_[c] = StreamState();
    Add(c);
  }
}

int Floor::Run() {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (ep_ < 0) Die("epoll_create1");
  udp_ = BindSocket(SOCK_DGRAM, args_.port, args_.rcvbuf);
  tcp_ = BindSocket(SOCK_STREAM, args_.port, 0);
  Add(udp_);
  Add(tcp_);
  WriteCount();
  auto last = std::chrono::steady_clock::now();
  epoll_event events[64];
  while (!g_stop) {
    const int n = epoll_wait(ep_, events, 64, 50);
    bool udp_data = false;
    size_t tcp_bytes = 0;
    for (int k = 0; k < n; ++k) {
      const int fd = events[k].data.fd;
      if (fd == udp_) {
        udp_data = ReadUdp() > 0;
      } else if (fd == tcp_) {
        Accept();
      } else {
        tcp_bytes += ReadTcp(fd);
      }
    }
    const bool light_tcp = tcp_bytes > 0 && tcp_bytes < kReadBytes;
    if ((udp_data || light_tcp) && args_.gather_us > 0) {
      usleep(static_cast<useconds_t>(args_.gather_us));
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last >= std::chrono::milliseconds(50)) {
      // Whatever waits in the write buffer goes out with the count, so the
      // file holds every counted message when the harness reads the count.
      if (out_fd_ >= 0 && !out_buf_.empty()) WriteOut();
      WriteCount();
      last = now;
    }
  }
  if (out_fd_ >= 0) WriteOut();
  WriteCount();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  Floor floor(args);
  const int rc = floor.Run();
  if (!args.rules.empty()) {
    std::fprintf(stderr, "floor_receiver: %llu rule hits\n",
                 static_cast<unsigned long long>(floor.hits()));
  }
  return rc;
}
