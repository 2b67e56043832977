// The archive cannot be written, for real: konseki must raise an alert, count
// the failures, stop reading TCP, withhold RELP acknowledgements, lose
// nothing, not crash, and take everything once it can write again.
//
// Two genuine failures, no fault injection in konseki:
//  - ENOSPC: konseki runs in its own user and mount namespace (unshare -Urm,
//    no root needed) with the archive on a private tmpfs. The test reaches
//    that tmpfs through /proc/<pid>/root, fills it with a filler file, and
//    frees the space by deleting the filler.
//  - EFBIG: konseki runs under RLIMIT_FSIZE (prlimit(1) before exec); the
//    test raises the limit with prlimit(2). No privileges needed.
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

constexpr char kUnshare[] = "/usr/bin/unshare";
constexpr char kPrlimit[] = "/usr/bin/prlimit";
constexpr char kRsyslogd[] = "/usr/sbin/rsyslogd";
constexpr char kOmrelp[] = "/usr/lib/x86_64-linux-gnu/rsyslog/omrelp.so";
// Mounts a tmpfs of size $1 on $2, then execs the rest of the arguments.
constexpr char kMountThenExec[] =
    "mount -t tmpfs -o size=\"$1\" tmpfs \"$2\" && shift 2 && exec \"$@\"";

std::string Line(const std::string& host, int seq) {
  return "<13>Nov 23 08:00:00 " + host + " app[1]: seq=" + std::to_string(seq) + " end\n";
}

// Alerts (JSON lines) with this sign.
size_t CountAlerts(const std::string& alerts_file, const std::string& sign) {
  size_t n = 0;
  std::istringstream in(ReadFile(alerts_file));
  for (std::string l; std::getline(in, l);) {
    n += l.find("\"sign\":\"" + sign + "\"") != std::string::npos;
  }
  return n;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Streams lines seq=from..to-1 of host on one blocking TCP connection from a
// thread, in chunks: blocks (as any sender would) while konseki does not read.
class TcpFeeder {
 public:
  TcpFeeder(int port, std::string host, int from, int to)
      : host_(std::move(host)), fd_(ConnectTcp(port)) {
    thread_ = std::thread([this, from, to] {
      constexpr int kChunk = 500;
      for (int i = from; i < to; i += kChunk) {
        std::string text;
        for (int j = i; j < std::min(to, i + kChunk); ++j) text += Line(host_, j);
        if (!SendAll(fd_, text)) return;
        sent_.store(std::min(to, i + kChunk) - from);
      }
      done_.store(true);
    });
  }
  ~TcpFeeder() {
    if (thread_.joinable()) {
      shutdown(fd_, SHUT_RDWR);  // unblocks the thread if the test failed early
      thread_.join();
    }
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  bool done() const { return done_.load(); }
  int sent() const { return sent_.load(); }
  void Join() { thread_.join(); }

 private:
  std::string host_;
  int fd_;
  std::atomic<int> sent_{0};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// A raw RELP client: one open session, syslog frames, answers collected.
class RawRelp {
 public:
  explicit RawRelp(int port) : fd_(ConnectTcp(port)) {}
  ~RawRelp() {
    if (fd_ >= 0) close(fd_);
  }
  bool Send(int txnr, const std::string& command, const std::string& data) {
    return SendAll(fd_, std::to_string(txnr) + " " + command + " " + std::to_string(data.size()) +
                            " " + data + "\n");
  }
  // Everything received so far (non-blocking).
  const std::string& Received() {
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
      in_.append(buf, static_cast<size_t>(n));
    }
    return in_;
  }

 private:
  int fd_;
  std::string in_;
};

class DiskFullTest : public ::testing::Test {
 protected:
  double Metric(const std::string& name, const std::string& labels = "") {
    return SumMetric(FetchMetrics(konseki_.MetricsPort()), name, labels);
  }
  // While the worker retries the flush every 200 ms, waits for `retries` more
  // failures, so "nothing happened meanwhile" checks cover real time without
  // a fixed sleep.
  bool WaitForRetries(int retries) {
    const double start = Metric("konseki_worker_archive_errors_total");
    return WaitFor(
        [&] { return Metric("konseki_worker_archive_errors_total") >= start + retries; });
  }
  std::string Config(const std::string& archive, const std::string& listen,
                     const std::string& state_dir = "") {
    return "listen: [" + listen + "]\narchive: {dir: " + archive +
           "}\n"
           "alerts: {file: " +
           alerts_ +
           ", stdout: false}\n"
           "metrics: {listen: '127.0.0.1:0'}\nworkers: 1\n"
           "queue: {max_bytes_per_worker: 1048576}\nheartbeat: {enabled: false" +
           (state_dir.empty() ? "" : ", state_dir: " + state_dir) +
           "}\n"
           // The correlation state has its own folder, so that a state_dir
           // that cannot exist fails only the spool (what these tests watch).
           "correlation: {state_dir: " +
           dir_.File("correlation") + "}\n";
  }
  // Waits until konseki has stopped reading TCP (blocked): the count of
  // TCP messages read stays the same over several flush retries.
  double HeldTcpMessages() {
    double read = -1;
    for (int i = 0; i < 20; ++i) {
      if (!WaitForRetries(3)) return -1;
      const double now = Metric("konseki_received_messages_total", "transport=\"tcp\"");
      if (now == read) return read;
      read = now;
    }
    return -1;
  }

  TempDir dir_;
  const std::string alerts_ = dir_.File("alerts.jsonl");
  Konseki konseki_;
};

// True if `unshare -Urm` and a tmpfs mount work here (user namespaces may be
// disabled, or the test may run in a container that forbids mounts).
bool CanMountPrivateTmpfs(const TempDir& dir, std::string* why) {
  if (!HaveProgram(kUnshare)) {
    *why = "unshare(1) not installed (util-linux)";
    return false;
  }
  std::filesystem::create_directories(dir.File("probe"));
  ChildProcess p;
  if (!p.Start({kUnshare, "-Urm", "--", "/bin/sh", "-c", kMountThenExec, "sh", "1m",
                dir.File("probe"), "/bin/echo", "mounted"},
               dir.File("probe"))) {
    *why = "fork failed";
    return false;
  }
  WaitFor([&] { return !p.running(); });
  if (p.Stdout().find("mounted") != std::string::npos) return true;
  *why = "cannot mount a tmpfs in a user+mount namespace: " + p.Stderr();
  return false;
}

TEST_F(DiskFullTest, FullTmpfsHoldsBackTcpAndRelpAndLosesNothing) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram(kRsyslogd)) GTEST_SKIP() << "rsyslogd not installed (apt-get install rsyslog)";
  if (!std::filesystem::exists(kOmrelp)) {
    GTEST_SKIP() << "omrelp not installed (apt-get install rsyslog-relp)";
  }
  std::string why;
  if (!CanMountPrivateTmpfs(dir_, &why)) GTEST_SKIP() << why;

  const std::string disk = dir_.File("disk");
  std::filesystem::create_directories(disk);
  std::string err;
  ASSERT_TRUE(
      konseki_.Start(dir_, Config(disk + "/archive", "tcp://127.0.0.1:0, relp://127.0.0.1:0"), &err,
                     {kUnshare, "-Urm", "--", "/bin/sh", "-c", kMountThenExec, "sh", "32m", disk}))
      << err;
  // konseki's view of `disk`: the tmpfs, which exists only in its namespace.
  const std::string root = "/proc/" + std::to_string(konseki_.process().pid()) + "/root" + disk;
  const std::string archive = root + "/archive";
  struct statfs fs;
  ASSERT_EQ(statfs(root.c_str(), &fs), 0) << std::strerror(errno);
  ASSERT_EQ(fs.f_type, static_cast<decltype(fs.f_type)>(TMPFS_MAGIC));

  // rsyslogd forwards with omrelp, retrying forever, keeping what is not acked.
  const int rs_in = FreeTcpPort();
  std::filesystem::create_directories(dir_.File("rs"));
  std::ofstream(dir_.File("rsyslog.conf"))
      << RsyslogTcpToRelpConfig(dir_.File("rs"), rs_in, konseki_.Port("relp"));
  ChildProcess rs;
  ASSERT_TRUE(
      rs.Start({kRsyslogd, "-n", "-f", dir_.File("rsyslog.conf"), "-i", dir_.File("rsyslog.pid")},
               dir_.File("rsyslogd")));
  int rs_fd = -1;
  ASSERT_TRUE(WaitFor([&] { return (rs_fd = ConnectTcp(rs_in)) >= 0; })) << rs.Stderr();

  // Before: both paths work.
  constexpr int kTcp = 100000;  // ~8 MB on the wire, ~12 MB archived
  constexpr int kBefore = 100;
  constexpr int kRelp = 2000;
  {
    int fd = ConnectTcp(konseki_.Port("tcp"));
    std::string text;
    for (int i = 0; i < kBefore; ++i) text += Line("df-tcp", i);
    ASSERT_TRUE(SendAll(fd, text));
    close(fd);
  }
  RawRelp raw(konseki_.Port("relp"));
  ASSERT_TRUE(raw.Send(1, "open", "relp_version=0\nrelp_software=t\ncommands=syslog"));
  ASSERT_TRUE(WaitFor([&] { return raw.Received().find("1 rsp ") != std::string::npos; }));
  ASSERT_TRUE(WaitFor([&] { return CountSeqs(archive, "df-tcp", kTcp).distinct == kBefore; }))
      << konseki_.process().Stderr();

  // Fill the file system.
  const std::string filler = root + "/filler";
  size_t filler_bytes = 0;
  {
    FILE* f = std::fopen(filler.c_str(), "w");
    ASSERT_NE(f, nullptr) << std::strerror(errno);
    std::setvbuf(f, nullptr, _IONBF, 0);
    const std::string mib(1 << 20, 'x');
    size_t n;
    while ((n = std::fwrite(mib.data(), 1, mib.size(), f)) == mib.size()) filler_bytes += n;
    filler_bytes += n;
    EXPECT_EQ(errno, ENOSPC);
    std::fclose(f);
  }

  // While full: one raw RELP frame is read and hits the full disk (its ack
  // must be held back); then, while konseki is blocked, a TCP stream and a
  // RELP stream through rsyslogd.
  const auto t_full = std::chrono::steady_clock::now();
  ASSERT_TRUE(raw.Send(2, "syslog", "<13>Nov 23 08:00:00 df-raw app[1]: seq=0 end"));
  ASSERT_TRUE(WaitFor([&] { return CountAlerts(alerts_, "archive.write_failed") >= 1; }))
      << konseki_.process().Stderr();
  TcpFeeder tcp(konseki_.Port("tcp"), "df-tcp", kBefore, kTcp);
  ASSERT_TRUE(tcp.connected());
  {
    std::string text;
    for (int i = 0; i < kRelp; ++i) text += Line("df-relp", i);
    ASSERT_TRUE(SendAll(rs_fd, text));
    close(rs_fd);
  }
  const double time_to_alert = Seconds(std::chrono::steady_clock::now() - t_full);
  EXPECT_GT(Metric("konseki_archive_write_errors_total", "reason=\"no_space\""), 0);
  // Blocked: konseki reads no more TCP (the sender's data waits in the
  // kernel, then the sender blocks) and acknowledges nothing over RELP.
  ASSERT_TRUE(WaitForRetries(2));
  const double tcp_read = Metric("konseki_received_messages_total", "transport=\"tcp\"");
  const double relp_read = Metric("konseki_received_messages_total", "transport=\"relp\"");
  ASSERT_TRUE(WaitForRetries(5));  // another second
  EXPECT_EQ(Metric("konseki_received_messages_total", "transport=\"tcp\""), tcp_read);
  EXPECT_EQ(Metric("konseki_received_messages_total", "transport=\"relp\""), relp_read);
  EXPECT_LT(tcp_read, kTcp);
  EXPECT_GE(relp_read, 1);  // the raw frame was read...
  EXPECT_EQ(raw.Received().find("2 rsp "), std::string::npos) << raw.Received();  // ...not acked
  EXPECT_EQ(CountAlerts(alerts_, "archive.write_failed"), 1u);  // once per episode
  EXPECT_EQ(CountAlerts(alerts_, "archive.write_resumed"), 0u);
  EXPECT_EQ(Metric("konseki_dropped_messages_total"), 0);
  EXPECT_TRUE(konseki_.process().running());
  const bool sender_blocked = !tcp.done();
  const int sent_while_full = tcp.sent();
  const double errors_while_full = Metric("konseki_worker_archive_errors_total");

  // Free the space: everything arrives.
  ASSERT_EQ(unlink(filler.c_str()), 0) << std::strerror(errno);
  const auto t_freed = std::chrono::steady_clock::now();
  SeqCounts tcp_counts, relp_counts;
  const bool all = WaitFor(
      [&] {
        if (!tcp.done() || Metric("konseki_archive_written_messages_total") < kTcp + kRelp + 1) {
          return false;
        }
        tcp_counts = CountSeqs(archive, "df-tcp", kTcp);
        relp_counts = CountSeqs(archive, "df-relp", kRelp);
        return tcp_counts.distinct == kTcp && relp_counts.distinct == kRelp &&
               raw.Received().find("2 rsp ") != std::string::npos;
      },
      std::chrono::seconds(90));
  const double time_to_recover = Seconds(std::chrono::steady_clock::now() - t_freed);
  tcp.Join();
  std::printf(
      "disk full (tmpfs, ENOSPC): filler %zu bytes; alert after %.2f s; while full the TCP sender "
      "had written %d of %d lines (%s), konseki had read %.0f TCP + %.0f RELP, %.0f failed "
      "flushes/appends; after freeing: all archived in %.2f s: TCP %zu distinct %zu duplicates, "
      "RELP (rsyslogd omrelp) %zu of %d distinct %zu duplicates, raw RELP acked\n",
      filler_bytes, time_to_alert, sent_while_full + kBefore, kTcp,
      sender_blocked ? "blocked" : "all in kernel buffers", tcp_read, relp_read, errors_while_full,
      time_to_recover, tcp_counts.distinct, tcp_counts.duplicates, relp_counts.distinct, kRelp,
      relp_counts.duplicates);
  ASSERT_TRUE(all) << "TCP " << tcp_counts.distinct << "/" << kTcp << ", RELP "
                   << relp_counts.distinct << "/" << kRelp << "\n"
                   << konseki_.process().Stderr() << rs.Stderr();
  EXPECT_EQ(tcp_counts.duplicates, 0u);  // TCP: exactly once, no torn or repeated line
  EXPECT_EQ(CountSeqs(archive, "df-raw", 1).distinct, 1u);
  EXPECT_EQ(CountSeqs(archive, "df-raw", 1).duplicates, 0u);
  EXPECT_TRUE(WaitFor([&] { return CountAlerts(alerts_, "archive.write_resumed") == 1; }))
      << ReadFile(alerts_);
  EXPECT_EQ(CountAlerts(alerts_, "archive.write_failed"), 1u);
  EXPECT_EQ(Metric("konseki_dropped_messages_total"), 0);
  EXPECT_NE(konseki_.process().Stderr().find("archive writable again"), std::string::npos);
  EXPECT_TRUE(konseki_.process().running());
  rs.Signal(SIGTERM);
}

// Fills the file system of `root` (a path inside konseki's tmpfs) with a
// filler file; returns its size.
size_t FillUp(const std::string& root) {
  size_t filler_bytes = 0;
  FILE* f = std::fopen((root + "/filler").c_str(), "w");
  if (f == nullptr) return 0;
  std::setvbuf(f, nullptr, _IONBF, 0);
  const std::string mib(1 << 20, 'x');
  size_t n;
  while ((n = std::fwrite(mib.data(), 1, mib.size(), f)) == mib.size()) filler_bytes += n;
  filler_bytes += n;
  std::fclose(f);
  return filler_bytes;
}

// Issue #10 item 6: a SIGTERM while the archive was full dropped the 5,000
// lines konseki held, exited 0 and said nothing. Now the worker retries until
// the stop deadline, saves what it holds in <state_dir>/spool, and the next
// start (here on a disk with room) archives it, exactly once.
TEST_F(DiskFullTest, StopWhileFullSpoolsAndTheNextStartArchivesIt) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  std::string why;
  if (!CanMountPrivateTmpfs(dir_, &why)) GTEST_SKIP() << why;
  const std::string disk = dir_.File("disk");
  const std::string state = dir_.File("state");  // outside the tmpfs
  std::filesystem::create_directories(disk);
  std::string err;
  ASSERT_TRUE(
      konseki_.Start(dir_, Config(disk + "/archive", "tcp://127.0.0.1:0", state), &err,
                     {kUnshare, "-Urm", "--", "/bin/sh", "-c", kMountThenExec, "sh", "8m", disk}))
      << err;
  const std::string root = "/proc/" + std::to_string(konseki_.process().pid()) + "/root" + disk;
  ASSERT_GT(FillUp(root), 0u);

  constexpr int kLines = 5000;
  {
    int fd = ConnectTcp(konseki_.Port("tcp"));
    std::string text;
    for (int i = 0; i < kLines; ++i) text += Line("df-spool", i);
    ASSERT_TRUE(SendAll(fd, text));
    close(fd);
  }
  ASSERT_TRUE(WaitFor([&] { return CountAlerts(alerts_, "archive.write_failed") >= 1; }))
      << konseki_.process().Stderr();
  const double held = HeldTcpMessages();
  ASSERT_GT(held, 0) << konseki_.process().Stderr();
  EXPECT_EQ(Metric("konseki_archive_written_messages_total"), 0);

  const auto t_stop = std::chrono::steady_clock::now();
  const int status = konseki_.process().Signal(SIGTERM, std::chrono::seconds(60));
  const double stop_secs = Seconds(std::chrono::steady_clock::now() - t_stop);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << konseki_.process().Stderr();
  EXPECT_NE(konseki_.process().Stderr().find("archived at the next start"), std::string::npos)
      << konseki_.process().Stderr();
  const std::string spool = state + "/spool/worker-0.spool";
  ASSERT_TRUE(std::filesystem::exists(spool));
  const auto spool_bytes = std::filesystem::file_size(spool);
  // scen13 prod finding 3: the lines konseki never read (still in the
  // connection's socket buffer when the stop closed it) are lost; the stop
  // says how much, per listener, so the admin can ask for a resend.
  const std::string stop_log = konseki_.process().Stderr();
  const size_t unread_at = stop_log.find("the stop closed 1 connection with ");
  if (held < kLines) {
    EXPECT_NE(unread_at, std::string::npos) << stop_log;
    if (unread_at != std::string::npos) {
      std::printf("stop while full: %s\n",
                  stop_log.substr(unread_at, stop_log.find('\n', unread_at) - unread_at).c_str());
    }
  }

  Konseki next;
  const std::string archive2 = dir_.File("archive2");
  ASSERT_TRUE(next.Start(dir_, Config(archive2, "tcp://127.0.0.1:0", state), &err)) << err;
  SeqCounts c;
  const bool all = WaitFor([&] {
    c = CountSeqs(archive2, "df-spool", kLines);
    return c.distinct >= static_cast<size_t>(held) && !std::filesystem::exists(spool);
  });
  std::printf(
      "stop while full: konseki held %.0f of %d lines; SIGTERM -> exit %d after %.2f s, spool %ju "
      "bytes; next start archived %zu distinct, %zu duplicates, %zu cut\n",
      held, kLines, WEXITSTATUS(status), stop_secs, static_cast<uintmax_t>(spool_bytes), c.distinct,
      c.duplicates, c.cut);
  ASSERT_TRUE(all) << c.distinct << "\n" << next.process().Stderr();
  EXPECT_EQ(c.duplicates, 0u);
  // The stop closes the connection with the rest of the stream unread (the
  // pipeline was full): a message whose head was read is kept, marked
  // truncated, and is not a whole "seq=N end" line. One connection, at most
  // one such message.
  EXPECT_LE(c.cut, 1u);
  // TCP keeps order: what was held is a run from the first line on.
  for (size_t i = 0; i < c.distinct; ++i) EXPECT_EQ(c.times[i], 1) << "seq " << i;
  EXPECT_NE(next.process().Stderr().find("from the spool"), std::string::npos);
}

// If even the spool cannot be written, the stop says so: non-zero exit and
// how many messages were lost, and why.
TEST_F(DiskFullTest, StopWithNeitherArchiveNorSpoolWritableExitsNonZero) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram(kPrlimit)) GTEST_SKIP() << "prlimit(1) not installed (util-linux)";
  // A state folder that cannot exist: its parent is a regular file.
  std::ofstream(dir_.File("not-a-dir")) << "x";
  std::string err;
  ASSERT_TRUE(konseki_.Start(
      dir_, Config(dir_.File("archive"), "tcp://127.0.0.1:0", dir_.File("not-a-dir/state")), &err,
      {kPrlimit, "--fsize=65536:unlimited", "--"}))
      << err;
  TcpFeeder tcp(konseki_.Port("tcp"), "df-lost", 0, 5000);
  ASSERT_TRUE(tcp.connected());
  ASSERT_TRUE(WaitFor([&] { return CountAlerts(alerts_, "archive.write_failed") >= 1; }))
      << konseki_.process().Stderr();
  ASSERT_GT(HeldTcpMessages(), 0);
  const int status = konseki_.process().Signal(SIGTERM, std::chrono::seconds(60));
  const std::string log = konseki_.process().Stderr();
  std::printf("stop with no spool: exit status %d; log: %s\n", WEXITSTATUS(status),
              log.substr(log.find("LOST") == std::string::npos ? 0 : log.find("LOST")).c_str());
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(log.find("LOST"), std::string::npos) << log;
  EXPECT_NE(log.find("messages lost"), std::string::npos) << log;
}

// One host's folder that konseki cannot open (a restore left a file, or a
// root-owned folder, in its place) must not hold back every sender: that
// host's lines go to the overflow folder with one archive.host_unwritable
// alert, the other hosts' lines to their own folders, nothing is held.
TEST_F(DiskFullTest, OneHostsUnwritableFolderGoesToOverflowAndTheOthersGoOn) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  namespace fs = std::filesystem;
  const std::string archive = dir_.File("archive");
  fs::create_directories(archive);
  { std::ofstream(archive + "/restored") << "a file where the host's folder should be\n"; }
  std::string err;
  ASSERT_TRUE(konseki_.Start(dir_, Config(archive, "tcp://127.0.0.1:0"), &err)) << err;
  auto lines_in = [&](const std::string& folder) {
    size_t n = 0;
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(archive + "/" + folder, ec)) {
      std::istringstream in(ReadFile(f.path().string()));
      for (std::string l; std::getline(in, l);) n += l.find(" end") != std::string::npos;
    }
    return n;
  };
  constexpr int kLines = 2000;
  {
    TcpFeeder blocked(konseki_.Port("tcp"), "restored", 0, kLines);
    TcpFeeder healthy(konseki_.Port("tcp"), "healthy", 0, kLines);
    ASSERT_TRUE(blocked.connected() && healthy.connected());
    blocked.Join();
    healthy.Join();
  }
  ASSERT_TRUE(WaitFor([&] {
    return lines_in("healthy") == kLines && lines_in("%overflow-0") == kLines;
  })) << "healthy "
      << lines_in("healthy") << ", overflow " << lines_in("%overflow-0") << "\n"
      << konseki_.process().Stderr();
  EXPECT_EQ(CountAlerts(alerts_, "archive.host_unwritable"), 1u);
  EXPECT_EQ(CountAlerts(alerts_, "archive.write_failed"), 0u);
  EXPECT_NE(ReadFile(alerts_).find("\"folder_host\":\"restored\""), std::string::npos)
      << ReadFile(alerts_);
  EXPECT_EQ(Metric("konseki_archive_diverted_total"), 1);
  EXPECT_EQ(Metric("konseki_archive_overflow_messages_total"), kLines);
  EXPECT_TRUE(fs::is_regular_file(archive + "/restored"));  // left as the admin left it
}

TEST_F(DiskFullTest, FileSizeLimitBlocksWithoutCrashUntilRaised) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram(kPrlimit)) GTEST_SKIP() << "prlimit(1) not installed (util-linux)";
  constexpr rlim_t kLimit = 256 * 1024;
  const std::string archive = dir_.File("archive");
  std::string err;
  ASSERT_TRUE(konseki_.Start(dir_, Config(archive, "tcp://127.0.0.1:0"), &err,
                             {kPrlimit, "--fsize=" + std::to_string(kLimit) + ":unlimited", "--"}))
      << err;
  const pid_t pid = konseki_.process().pid();
  ASSERT_EQ(ReadFile("/proc/" + std::to_string(pid) + "/comm"), "konseki\n");

  // Each line is ~100 bytes in the archive: the file hits the limit early on.
  constexpr int kTcp = 20000;
  const auto t_start = std::chrono::steady_clock::now();
  TcpFeeder tcp(konseki_.Port("tcp"), "df-fsize", 0, kTcp);
  ASSERT_TRUE(tcp.connected());
  ASSERT_TRUE(WaitFor([&] { return CountAlerts(alerts_, "archive.write_failed") >= 1; }))
      << konseki_.process().Stderr();
  const double time_to_alert = Seconds(std::chrono::steady_clock::now() - t_start);
  EXPECT_GT(Metric("konseki_archive_write_errors_total", "reason=\"no_space\""), 0);
  ASSERT_TRUE(WaitForRetries(2));
  const double tcp_read = Metric("konseki_received_messages_total", "transport=\"tcp\"");
  ASSERT_TRUE(WaitForRetries(5));
  EXPECT_EQ(Metric("konseki_received_messages_total", "transport=\"tcp\""), tcp_read);
  EXPECT_LT(tcp_read, kTcp);
  EXPECT_TRUE(konseki_.process().running()) << "killed by SIGXFSZ?";
  EXPECT_EQ(CountAlerts(alerts_, "archive.write_failed"), 1u);
  const std::vector<std::string> files = [&] {
    std::vector<std::string> v;
    for (const auto& e : std::filesystem::recursive_directory_iterator(archive + "/df-fsize")) {
      v.push_back(e.path());
    }
    return v;
  }();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(std::filesystem::file_size(files[0]), kLimit);  // written up to the limit

  const rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
  ASSERT_EQ(prlimit(pid, RLIMIT_FSIZE, &unlimited, nullptr), 0) << std::strerror(errno);
  const auto t_raised = std::chrono::steady_clock::now();
  SeqCounts c;
  const bool all = WaitFor(
      [&] {
        if (!tcp.done() || Metric("konseki_archive_written_messages_total") < kTcp) return false;
        c = CountSeqs(archive, "df-fsize", kTcp);
        return c.distinct == kTcp;
      },
      std::chrono::seconds(60));
  const double time_to_recover = Seconds(std::chrono::steady_clock::now() - t_raised);
  tcp.Join();
  std::printf(
      "file size limit (RLIMIT_FSIZE %zu, EFBIG): alert after %.2f s, konseki had read %.0f of %d "
      "lines while blocked; after raising: all archived in %.2f s: %zu distinct %zu duplicates\n",
      static_cast<size_t>(kLimit), time_to_alert, tcp_read, kTcp, time_to_recover, c.distinct,
      c.duplicates);
  ASSERT_TRUE(all) << c.distinct << "/" << kTcp << "\n" << konseki_.process().Stderr();
  EXPECT_EQ(c.duplicates, 0u);
  EXPECT_TRUE(WaitFor([&] { return CountAlerts(alerts_, "archive.write_resumed") == 1; }))
      << ReadFile(alerts_);
  EXPECT_EQ(Metric("konseki_dropped_messages_total"), 0);
  EXPECT_TRUE(konseki_.process().running());
}

// Mounts a tmpfs of size $1 on $2, runs `konseki seal-setup` (the key's last
// line to $3), runs konseki (the rest of the arguments) passing SIGTERM on,
// and when it has exited copies $2/archive to $4 (the tmpfs dies with the
// namespace), exiting with konseki's status.
constexpr char kMountSealRunCopy[] =
    "mount -t tmpfs -o size=\"$1\" tmpfs \"$2\" || exit 90\n"
    "disk=$2 key=$3 copy=$4; shift 4\n"
    "\"$1\" seal-setup --config \"$3\" > \"$key\" || exit 91\n"
    "\"$@\" & pid=$!\n"
    "trap 'kill -TERM $pid' TERM INT\n"
    "wait $pid; rc=$?\n"
    "if [ $rc -gt 128 ]; then wait $pid; rc=$?; fi\n"
    "cp -a \"$disk/archive\" \"$copy\" || exit 92\n"
    "exit $rc\n";

// Issue #16: a clean archive verifies after a disk-full episode with sealing
// on (epochs of 1 s, so records are written all through the episode). If
// the seal stream itself could not be written meanwhile, sealing must say
// it stopped and resumed.
TEST_F(DiskFullTest, SealedArchiveVerifiesAfterTheDiskWasFull) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  std::string why;
  if (!CanMountPrivateTmpfs(dir_, &why)) GTEST_SKIP() << why;
  const std::string disk = dir_.File("disk");
  const std::string copy = dir_.File("archive-copy");
  const std::string key_file = dir_.File("verification.key");
  std::filesystem::create_directories(disk);
  std::string config = Config(disk + "/archive", "tcp://127.0.0.1:0");
  config.replace(config.find('}'), 1, ", seal: true, seal_epoch_secs: 1}");
  std::string err;
  ASSERT_TRUE(konseki_.Start(dir_, config, &err,
                             {kUnshare, "-Urm", "--", "/bin/sh", "-c", kMountSealRunCopy, "sh",
                              "8m", disk, key_file, copy}))
      << err;
  const std::string root = "/proc/" + std::to_string(konseki_.process().pid()) + "/root" + disk;
  const std::string archive = root + "/archive";
  auto send = [&](int from, int to) {
    int fd = ConnectTcp(konseki_.Port("tcp"));
    std::string text;
    for (int i = from; i < to; ++i) text += Line("df-seal", i);
    EXPECT_TRUE(SendAll(fd, text));
    close(fd);
  };
  constexpr int kBefore = 200, kAll = 5000;
  send(0, kBefore);
  ASSERT_TRUE(WaitFor([&] { return CountSeqs(archive, "df-seal", kAll).distinct == kBefore; }));
  ASSERT_TRUE(WaitFor([&] { return Metric("konseki_archive_seal_records_total") >= 2; }));

  ASSERT_GT(FillUp(root), 0u);
  send(kBefore, kAll);
  ASSERT_TRUE(WaitFor([&] { return CountAlerts(alerts_, "archive.write_failed") >= 1; }))
      << konseki_.process().Stderr();
  ASSERT_TRUE(WaitForRetries(5));  // some seconds of epochs while full
  const double seal_errors = Metric("konseki_archive_seal_errors_total");

  ASSERT_EQ(unlink((root + "/filler").c_str()), 0) << std::strerror(errno);
  ASSERT_TRUE(WaitFor([&] { return CountSeqs(archive, "df-seal", kAll).distinct == kAll; }))
      << konseki_.process().Stderr();
  const double records = Metric("konseki_archive_seal_records_total");
  ASSERT_TRUE(WaitFor([&] { return Metric("konseki_archive_seal_records_total") > records; }));
  const size_t stopped = CountAlerts(alerts_, "archive.seal_stopped");
  EXPECT_TRUE(WaitFor([&] { return CountAlerts(alerts_, "archive.seal_resumed") == stopped; }))
      << ReadFile(alerts_);
  EXPECT_EQ(Metric("konseki_archive_seal_stopped"), 0);
  EXPECT_EQ(konseki_.process().Signal(SIGTERM, std::chrono::seconds(60)), 0)
      << konseki_.process().Stderr();

  std::string key = ReadFile(key_file);
  while (!key.empty() && key.back() == '\n') key.pop_back();
  key = key.substr(key.rfind('\n') == std::string::npos ? 0 : key.rfind('\n') + 1);
  ASSERT_EQ(key.rfind("ksv1-", 0), 0u) << key;
  ChildProcess verify;
  ASSERT_TRUE(verify.Start({KonsekiBinary(), "verify", "--key", key, copy}, dir_.File("verify")));
  const int status = verify.Signal(0, std::chrono::seconds(60));
  const std::string report = verify.Stdout() + verify.Stderr();
  std::printf("sealed archive after disk full: %.0f seal errors while full, %zu seal_stopped; %s",
              seal_errors, stopped, report.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << report;
  EXPECT_NE(report.find(": OK: " + std::to_string(kAll) + " lines verified"), std::string::npos)
      << report;
  EXPECT_EQ(report.find("unsealed"), std::string::npos) << report;
}

}  // namespace
}  // namespace konseki::testing
