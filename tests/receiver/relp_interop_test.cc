// RelpSession against real RELP clients: librelp's own client API, and (when
// installed) rsyslogd forwarding with omrelp. A small loopback TCP server in
// this file feeds the bytes of each accepted connection to a RelpSession.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "receiver/relp_session.h"
#include "tests/receiver/librelp_client.h"
#include "tests/testing/stop_child.h"
#include "tests/testing/temp_dir.h"

extern "C" {
#include <librelp.h>
}

namespace konseki::receiver {
namespace {

using namespace std::chrono_literals;
using konseki::receiver::testing::SendWithLibrelp;
using konseki::testing::TempDir;

// Serves RELP on 127.0.0.1:<ephemeral>, one connection at a time, on its own
// thread. kImmediate acks each message inside OnSyslog; kDeferredReverse acks
// only when the session stops taking input (window full) or the client
// closes, and then newest first, to exercise out-of-order acks.
class LoopbackRelpServer {
 public:
  enum class AckPolicy { kImmediate, kDeferredReverse };
  struct SessionEnd {
    RelpSession::State state;
    RelpError error;
    size_t unacked;
    size_t stalls;  // times Feed left input unconsumed (backpressure)
  };

  LoopbackRelpServer(const RelpSessionOptions& options, AckPolicy policy)
      : options_(options), policy_(policy), counters_(RelpCounters::Register(&registry_)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listen_fd_, 8) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1:0";
      return;
    }
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~LoopbackRelpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) close(listen_fd_);
  }

  // The session that has received n messages first sends serverclose and
  // drops the connection without acking what is pending (deferred policy).
  void ServerCloseAfter(size_t n) { server_close_after_ = n; }
  // The payloads that were unacked when that happened.
  std::vector<std::string> unacked_at_close() {
    std::lock_guard<std::mutex> lock(mu_);
    return unacked_at_close_;
  }

  uint16_t port() const { return port_; }
  MetricsRegistry& registry() { return registry_; }

  // Waits (bounded) until at least n messages arrived; returns a copy.
  std::vector<std::string> WaitForMessages(size_t n, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
    return messages_;
  }
  // Waits (bounded) until n connections have ended; returns how they ended.
  std::vector<SessionEnd> WaitForSessions(size_t n, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return ends_.size() >= n; });
    return ends_;
  }

 private:
  class Handler : public RelpHandler {
   public:
    explicit Handler(LoopbackRelpServer* server) : server_(server) {}
    void OnSyslog(uint32_t txnr, std::string_view data, bool) override {
      {
        std::lock_guard<std::mutex> lock(server_->mu_);
        server_->messages_.emplace_back(data);
      }
      server_->cv_.notify_all();
      ++received;
      if (server_->policy_ == AckPolicy::kImmediate) {
        session->Ack(txnr);
      } else {
        pending.push_back(txnr);
        pending_data.emplace_back(data);
      }
    }
    RelpSession* session = nullptr;
    size_t received = 0;
    std::vector<uint32_t> pending;
    std::vector<std::string> pending_data;

   private:
    LoopbackRelpServer* server_;
  };

  void Run() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      Serve(fd);
      close(fd);
    }
  }

  static bool WriteAll(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void Serve(int fd) {
    Handler handler(this);
    RelpSession session(options_, &handler, &counters_);
    handler.session = &session;
    std::string in;
    std::vector<char> buf(64 * 1024);
    size_t stalls = 0;
    bool peer_gone = false;
    while (!stop_) {
      for (;;) {
        in.erase(0, session.Feed(in));
        if (!in.empty() && !session.Done()) ++stalls;
        const bool blocked = !session.WantsInput() && !session.Done();
        const bool closing = session.state() == RelpSession::State::kClosing;
        if (policy_ == AckPolicy::kDeferredReverse && !handler.pending.empty() &&
            (blocked || closing)) {
          for (auto it = handler.pending.rbegin(); it != handler.pending.rend(); ++it) {
            session.Ack(*it);
          }
          handler.pending.clear();
          handler.pending_data.clear();
          continue;
        }
        break;
      }
      const size_t close_after = server_close_after_.exchange(0);
      if (close_after > 0) {
        if (handler.received >= close_after && !handler.pending.empty() && !session.Done()) {
          std::lock_guard<std::mutex> lock(mu_);
          unacked_at_close_ = handler.pending_data;
          session.ServerClose();
        } else {
          server_close_after_ = close_after;  // not yet: keep the request
        }
      }
      if (!WriteAll(fd, session.PendingOutput())) break;
      session.ConsumeOutput(session.PendingOutput().size());
      if (session.Done() || peer_gone) break;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      ssize_t n = recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) {
        peer_gone = true;
        continue;
      }
      in.append(buf.data(), static_cast<size_t>(n));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ends_.push_back({session.state(), session.error(), session.unacked(), stalls});
    }
    cv_.notify_all();
  }

  const RelpSessionOptions options_;
  const AckPolicy policy_;
  MetricsRegistry registry_;
  RelpCounters counters_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;  // guards messages_ and ends_
  std::condition_variable cv_;
  std::vector<std::string> messages_;
  std::vector<SessionEnd> ends_;
  std::vector<std::string> unacked_at_close_;
  std::atomic<size_t> server_close_after_{0};
};

std::vector<std::string> MakeMessages(size_t n, size_t pad = 0) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back("<13>Nov 23 08:00:00 host app[1]: message " + std::to_string(i) + " " +
                  std::string(pad, 'p'));
  }
  return out;
}

TEST(RelpLibrelpInteropTest, ClientGetsEveryMessageAcknowledged) {
  LoopbackRelpServer server(RelpSessionOptions{}, LoopbackRelpServer::AckPolicy::kImmediate);
  const auto messages = MakeMessages(2000);
  // A window of 16 means the client blocks unless our answers reach it.
  EXPECT_THAT(SendWithLibrelp(server.port(), messages, 16), ::testing::IsEmpty());
  EXPECT_EQ(server.WaitForMessages(messages.size(), 10s), messages);
  auto ends = server.WaitForSessions(1, 10s);
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].state, RelpSession::State::kClosed);  // the client's close was answered
  EXPECT_EQ(ends[0].unacked, 0u);
  EXPECT_EQ(server.registry().ValueOf("konseki_relp_acks_total"), 2000);
  EXPECT_EQ(server.registry().ValueOf("konseki_relp_client_closes_total"), 1);
}

TEST(RelpLibrelpInteropTest, ClientWithLargerWindowIsThrottledByDeferredReverseAcks) {
  LoopbackRelpServer server(RelpSessionOptions{.max_unacked = 4},
                            LoopbackRelpServer::AckPolicy::kDeferredReverse);
  const auto messages = MakeMessages(500);
  EXPECT_THAT(SendWithLibrelp(server.port(), messages, 64), ::testing::IsEmpty());
  EXPECT_EQ(server.WaitForMessages(messages.size(), 10s), messages);
  auto ends = server.WaitForSessions(1, 10s);
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].state, RelpSession::State::kClosed);
  EXPECT_EQ(ends[0].unacked, 0u);
  EXPECT_GT(ends[0].stalls, 0u);  // the window of 4 did hold the client back
  EXPECT_EQ(server.registry().ValueOf("konseki_relp_acks_total"), 500);
}

TEST(RelpLibrelpInteropTest, OversizeMessagesAreTruncatedAndStillAcknowledged) {
  LoopbackRelpServer server(RelpSessionOptions{.max_data_bytes = 16 * 1024},
                            LoopbackRelpServer::AckPolicy::kImmediate);
  const auto messages = MakeMessages(5, 100 * 1024);
  EXPECT_THAT(SendWithLibrelp(server.port(), messages, 16), ::testing::IsEmpty());
  auto got = server.WaitForMessages(messages.size(), 10s);
  ASSERT_EQ(got.size(), messages.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], messages[i].substr(0, 16 * 1024));
  EXPECT_EQ(server.registry().ValueOf("konseki_relp_truncated_messages_total"), 5);
}

// --- rsyslogd with omrelp -------------------------------------------------

const char kRsyslogd[] = "/usr/sbin/rsyslogd";
const char kOmrelp[] = "/usr/lib/x86_64-linux-gnu/rsyslog/omrelp.so";

// rsyslogd -n with its own config; SIGTERM and reaped on destruction.
class Rsyslogd {
 public:
  Rsyslogd(const std::filesystem::path& conf, const std::filesystem::path& pidfile) {
    pid_ = fork();
    if (pid_ == 0) {
      execl(kRsyslogd, kRsyslogd, "-n", "-f", conf.c_str(), "-i", pidfile.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Rsyslogd() { Stop(); }
  bool running() const { return pid_ > 0; }
  // SIGTERM, then waits up to 10 s; returns the exit status (-1 if killed).
  int Stop() {
    if (pid_ <= 0) return status_;
    status_ = konseki::testing::StopChild(pid_, std::chrono::seconds(10));
    pid_ = -1;
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// Reads the port imtcp wrote to listenPortFileName, waiting up to 10 s.
int WaitForPortFile(const std::filesystem::path& file) {
  for (int i = 0; i < 1000; ++i) {
    std::ifstream in(file);
    int port = 0;
    if (in >> port && port > 0) return port;
    std::this_thread::sleep_for(10ms);
  }
  return 0;
}

// Writes an rsyslog config: imtcp on an ephemeral loopback port (written to
// port_file) forwarding every line verbatim with omrelp to relp_port.
void WriteRsyslogConf(const std::filesystem::path& dir, const std::filesystem::path& conf,
                      const std::filesystem::path& port_file, uint16_t relp_port) {
  std::ofstream out(conf);
  out << "global(workDirectory=\"" << dir.string() << "\")\n"
      << "module(load=\"imtcp\")\n"
      << "module(load=\"omrelp\")\n"
      << "template(name=\"raw\" type=\"string\" string=\"%rawmsg%\")\n"
      << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"0\" listenPortFileName=\""
      << port_file.string() << "\" ruleset=\"fwd\")\n"
      << "ruleset(name=\"fwd\") {\n"
      << "  action(type=\"omrelp\" target=\"127.0.0.1\" port=\"" << relp_port
      << "\" template=\"raw\" windowSize=\"64\"\n"
      << "         action.resumeInterval=\"1\" action.resumeRetryCount=\"-1\")\n"
      << "}\n";
}

// Sends each message as one LF-terminated line to 127.0.0.1:port.
void SendLines(int port, const std::vector<std::string>& messages) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string lines;
  for (const std::string& m : messages) lines += m + "\n";
  std::string_view rest = lines;
  while (!rest.empty()) {
    ssize_t n = send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    rest.remove_prefix(static_cast<size_t>(n));
  }
  close(fd);
}

bool HaveRsyslogRelp() { return access(kRsyslogd, X_OK) == 0 && access(kOmrelp, R_OK) == 0; }

TEST(RelpRsyslogInteropTest, OmrelpResendsWhatWasUnackedAtServerClose) {
  if (!HaveRsyslogRelp()) {
    GTEST_SKIP() << "rsyslogd with omrelp not installed (Debian: rsyslog rsyslog-relp)";
  }
  LoopbackRelpServer server(RelpSessionOptions{.max_unacked = 16},
                            LoopbackRelpServer::AckPolicy::kDeferredReverse);
  server.ServerCloseAfter(200);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::filesystem::path root(dir.path());
  const auto conf = root / "rsyslog.conf";
  const auto port_file = root / "imtcp.port";
  WriteRsyslogConf(root, conf, port_file, server.port());
  Rsyslogd rsyslogd(conf, root / "rsyslogd.pid");
  const int tcp_port = WaitForPortFile(port_file);
  ASSERT_GT(tcp_port, 0) << "rsyslogd did not start; config in " << conf;

  // omrelp resends its unacked window only when it reconnects, which it does
  // for the next message: send in two rounds around the serverclose.
  const auto messages = MakeMessages(1000);
  const std::vector<std::string> first(messages.begin(), messages.begin() + 500);
  const std::vector<std::string> second(messages.begin() + 500, messages.end());
  SendLines(tcp_port, first);
  ASSERT_EQ(server.WaitForSessions(1, 20s).size(), 1u) << "no serverclose happened";
  const std::vector<std::string> unacked = server.unacked_at_close();
  ASSERT_FALSE(unacked.empty());  // the close did leave messages unacked
  SendLines(tcp_port, second);

  // Every message arrives; exactly the ones unacked at the close twice.
  const std::vector<std::string> got =
      server.WaitForMessages(messages.size() + unacked.size(), 20s);
  std::map<std::string, int> seen;
  for (const std::string& m : got) ++seen[m];
  for (const std::string& m : messages) {
    const bool was_unacked = std::find(unacked.begin(), unacked.end(), m) != unacked.end();
    EXPECT_EQ(seen[m], was_unacked ? 2 : 1) << m;
  }
  EXPECT_EQ(rsyslogd.Stop(), 0);
}

TEST(RelpRsyslogInteropTest, OmrelpForwardsEveryMessageAndClosesCleanly) {
  if (!HaveRsyslogRelp()) {
    GTEST_SKIP() << "rsyslogd with omrelp not installed (Debian: rsyslog rsyslog-relp)";
  }
  LoopbackRelpServer server(RelpSessionOptions{.max_unacked = 16},
                            LoopbackRelpServer::AckPolicy::kDeferredReverse);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::filesystem::path root(dir.path());
  const auto conf = root / "rsyslog.conf";
  const auto port_file = root / "imtcp.port";
  WriteRsyslogConf(root, conf, port_file, server.port());
  Rsyslogd rsyslogd(conf, root / "rsyslogd.pid");
  ASSERT_TRUE(rsyslogd.running());
  const int tcp_port = WaitForPortFile(port_file);
  ASSERT_GT(tcp_port, 0) << "rsyslogd did not start; config in " << conf;

  const auto messages = MakeMessages(1000);
  SendLines(tcp_port, messages);
  EXPECT_EQ(server.WaitForMessages(messages.size(), 20s), messages);
  EXPECT_EQ(rsyslogd.Stop(), 0);
  // On shutdown omrelp closes its RELP session: the close must have been
  // answered after every message was acked.
  auto ends = server.WaitForSessions(1, 10s);
  ASSERT_GE(ends.size(), 1u);
  EXPECT_EQ(ends.back().state, RelpSession::State::kClosed);
  EXPECT_EQ(ends.back().unacked, 0u);
  EXPECT_EQ(server.registry().ValueOf("konseki_relp_acks_total"), messages.size());
}

}  // namespace
}  // namespace konseki::receiver
