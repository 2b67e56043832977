// UDP load for bench/ingest/run: sends the lines of a pre-generated file, one
// datagram per line, from N sockets (N source ports, like N loggen
// connections) as fast as sendmmsg(2) takes them, for a duration or a count.
// loggen sends one datagram per system call and tops out near rsyslog's own
// receive rate on this machine; this finds how much more a receiver takes.
//
// Usage: udp_blaster --file F --port P [--connections 4] [--duration 10]
//                    [--count 0] [--rate 0]
// --rate: datagrams per second in all (0: as fast as the kernel takes
// them), paced per batch, so a receiver's stalls show as loss at a load it
// otherwise keeps up with.
// Prints one JSON line: {"sent": N, "secs": S, "errors": [...]}.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/ingest/tool_flags.h"

namespace {

struct Args {
  std::string file;
  int port = 0;
  int connections = 4;
  double duration = 10;
  uint64_t count = 0;  // 0: until the duration ends
  double rate = 0;     // datagrams/s in all; 0: unpaced
};

constexpr char kUsage[] =
    "udp_blaster --file F --port P [--connections N] [--duration SECS] [--count N] [--rate N]";

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr, "udp_blaster: %s\nusage: %s\n", why, kUsage);
  std::exit(2);
}

Args Parse(int argc, char** argv) {
  Args a;
  konseki::bench::ParseToolFlags(argc, argv, "udp_blaster", kUsage,
                                 [&a](std::string_view k, const char* v) {
                                   if (k == "--file") {
                                     a.file = v;
                                   } else if (k == "--port") {
                                     a.port = std::atoi(v);
                                   } else if (k == "--connections") {
                                     a.connections = std::atoi(v);
                                   } else if (k == "--duration") {
                                     a.duration = std::atof(v);
                                   } else if (k == "--count") {
                                     a.count = std::strtoull(v, nullptr, 10);
                                   } else if (k == "--rate") {
                                     a.rate = std::atof(v);
                                   } else {
                                     return false;
                                   }
                                   return true;
                                 });
  if (a.file.empty() || a.port <= 0 || a.port > 65535 || a.connections <= 0) {
    Usage("--file and --port are required; --connections must be positive");
  }
  return a;
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  std::ifstream in(a.file, std::ios::binary);
  if (!in) Usage("cannot read --file");
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < data.size();) {
    size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    if (end > pos) lines.emplace_back(data.data() + pos, end - pos);
    pos = end + 1;
  }
  if (lines.empty()) Usage("--file has no lines");

  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(a.duration));
  std::atomic<uint64_t> sent{0};
  std::mutex errors_mu;
  std::vector<std::string> errors;
  auto fail = [&](std::string what) {
    std::lock_guard<std::mutex> lock(errors_mu);
    if (errors.size() < 3) errors.push_back(std::move(what));
  };

  auto worker = [&](int k) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(a.port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0) {
      fail(std::string("connect: ") + std::strerror(errno));
      ::close(fd);
      return;
    }
    const uint64_t quota =
        a.count == 0 ? 0 : a.count / a.connections + (k == 0 ? a.count % a.connections : 0);
    constexpr size_t kBatch = 64;
    std::vector<iovec> iov(kBatch);
    std::vector<mmsghdr> msgs(kBatch);
    size_t next = (static_cast<size_t>(k) * lines.size()) / a.connections;  // spread the starts
    uint64_t mine = 0;
    while (quota == 0 || mine < quota) {
      // The clock is read once per batch: cheap next to 64 datagrams.
      if (std::chrono::steady_clock::now() >= deadline) break;
      size_t n = kBatch;
      if (quota != 0) n = std::min<uint64_t>(n, quota - mine);
      for (size_t i = 0; i < n; ++i) {
        const std::string_view line = lines[next];
        next = next + 1 == lines.size() ? 0 : next + 1;
        iov[i] = {const_cast<char*>(line.data()), line.size()};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      size_t done = 0;
      while (done < n) {
        const int r = ::sendmmsg(fd, msgs.data() + done, static_cast<unsigned>(n - done), 0);
        if (r > 0) {
          done += static_cast<size_t>(r);
        } else if (r < 0 && (errno == EINTR || errno == ENOBUFS || errno == EAGAIN)) {
          continue;
        } else if (r < 0 && errno == ECONNREFUSED) {
          // An ICMP port unreachable from an earlier datagram (the receiver
          // was not up yet): those were lost on the wire; the rest go on.
          continue;
        } else {
          fail(std::string("sendmmsg: ") + std::strerror(errno));
          ::close(fd);
          sent += mine + done;
          return;
        }
      }
      mine += n;
      if (a.rate > 0) {
        // Where this sender should be by now at its share of the rate.
        const auto due =
            start +
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::duration<double>(static_cast<double>(mine) * a.connections / a.rate));
        std::this_thread::sleep_until(due);
      }
    }
    sent += mine;
    ::close(fd);
  };

  std::vector<std::thread> threads;
  for (int k = 0; k < a.connections; ++k) threads.emplace_back(worker, k);
  for (auto& t : threads) t.join();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string errs;
  for (const std::string& e : errors) errs += (errs.empty() ? "\"" : ", \"") + JsonEscape(e) + "\"";
  std::printf("{\"sent\": %llu, \"secs\": %.6f, \"errors\": [%s]}\n",
              static_cast<unsigned long long>(sent.load()), secs, errs.c_str());
  return errors.empty() ? 0 : 1;
}
