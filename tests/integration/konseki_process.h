// Test support: runs the real konseki binary (or any peer such as rsyslogd)
// as a child process in a temp dir, and waits on conditions with bounded
// timeouts. Used by the integration tests only.
#ifndef KONSEKI_TESTS_INTEGRATION_KONSEKI_PROCESS_H_
#define KONSEKI_TESTS_INTEGRATION_KONSEKI_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/testing/loopback.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait_for.h"

namespace konseki::testing {

// A child process with stdout and stderr captured to files in a dir.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();  // SIGKILLs the child if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (a path) with argv; output to <log_prefix>.out/.err;
  // TestCacheEnv() and then `env` added to the environment.
  bool Start(const std::vector<std::string>& argv, const std::string& log_prefix,
             const std::map<std::string, std::string>& env = {});
  pid_t pid() const { return pid_; }
  bool running();
  // The exit code once running() has seen the child exit; -1 before, or
  // when a signal ended it.
  int exit_code() const { return exit_code_; }
  // Sends sig and waits up to timeout for exit; returns the exit status as
  // from waitpid (or -1 on timeout, after which the child is SIGKILLed).
  int Signal(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void Kill();  // SIGKILL and reap
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_prefix_;
};

// The konseki binary in the build tree.
std::string KonsekiBinary();

// What ChildProcess adds to every child's environment: CACHE_DIRECTORY,
// the build tree's one folder of compiled rule databases (app/server.h
// RulesCacheDir), so the packs are compiled once per build tree, not once
// per daemon or check-config a test runs.
std::map<std::string, std::string> TestCacheEnv();

// How long a start or a SIGHUP reload may take to compile every rule pack:
// a few CPU seconds, but on a loaded machine (ctest -j2 beside builds) it
// has taken 40 s. A bound on a wait, not what the tests time.
inline constexpr std::chrono::seconds kCompileTimeout{90};

// konseki started on a config text; knows its bound ports.
class Konseki {
 public:
  // Writes config_yaml to <dir>/konseki.yaml and starts the binary; waits for
  // "ready" on stderr. Returns false (with the log in *error) if it failed.
  // A non-empty `wrapper` is put before the konseki command line (e.g.
  // {"/usr/bin/prlimit", "--fsize=65536:unlimited", "--"}); it must exec
  // konseki in the same process so that process().pid() is konseki's.
  bool Start(const TempDir& dir, const std::string& config_yaml, std::string* error,
             const std::vector<std::string>& wrapper = {});
  // The folder of compiled rule databases for the next Start (CACHE_DIRECTORY;
  // TestCacheEnv's shared one unless set).
  void set_cache_dir(std::string dir) { cache_dir_ = std::move(dir); }
  // "udp" / "tcp" -> port of the first such listener.
  int Port(const std::string& transport) const;
  int MetricsPort() const { return metrics_port_; }
  ChildProcess& process() { return process_; }

 private:
  ChildProcess process_;
  std::map<std::string, int> ports_;
  int metrics_port_ = 0;
  std::string cache_dir_;
};

// The archive and alert file a daemon test starts with (config lines):
// "archive: {dir: DIR/archive}" and "alerts: {file: DIR/alerts.jsonl,
// stdout: false}".
std::string ArchiveAndAlertsConfig(const TempDir& dir);

// All lines of every file below dir (recursively), in path order.
std::vector<std::string> ReadAllLines(const std::string& dir);
std::string ReadFile(const std::string& path);
// Lines of all files in <archive>/<host>/.
std::vector<std::string> ArchiveLines(const std::string& archive_dir, const std::string& host);
// True if `path` names an executable.
bool HaveProgram(const std::string& path);

// Lines of <archive>/<host>/ that contain needle.
size_t CountInArchive(const std::string& archive, const std::string& host,
                      const std::string& needle);

// How often each sequence number 0..total-1 (a line ending " seq=N end") of host
// is in the archive: times[n], how many numbers are there, and how many
// extra copies (RELP resends after a restart).
struct SeqCounts {
  std::vector<int> times;
  size_t distinct = 0;
  size_t duplicates = 0;
  size_t cut = 0;  // lines whose " seq=N" is not followed by " end" and the line's end
};
SeqCounts CountSeqs(const std::string& archive, const std::string& host, int total);

// rsyslog.conf for a real rsyslogd that takes lines on imtcp 127.0.0.1:tcp_in
// and forwards them with omrelp to konseki on 127.0.0.1:relp_port, queueing
// in memory and retrying forever (what a no-loss sender is configured as).
std::string RsyslogTcpToRelpConfig(const std::string& work_dir, int tcp_in, int relp_port);

// The body of GET /metrics from 127.0.0.1:port ("" if it could not be had).
std::string FetchMetrics(int port);
// Sum of the samples of metric `name` in a Prometheus text exposition whose
// labels contain `labels` (e.g. "transport=\"tls\""; empty: every series).
double SumMetric(const std::string& exposition, const std::string& name,
                 const std::string& labels = "");

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_INTEGRATION_KONSEKI_PROCESS_H_
