#include "outputs/exec_sink.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "outputs/alert_json.h"

extern char** environ;

namespace konseki::outputs {
namespace {

using SteadyClock = std::chrono::steady_clock;

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return IsExecutableFile(name) ? name : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (IsExecutableFile(candidate)) return candidate;
    start = end + 1;
  }
  return "";
}

std::string EnvValue(std::string_view v) {
  std::string out(v);
  for (char& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 32 || u == 127) c = '?';
  }
  return out;
}

// Writes all of data to the non-blocking fd before deadline. Returns 0, or
// the errno that stopped it (EPIPE: the child closed its stdin, ETIMEDOUT,
// ECANCELED: the queue is aborting).
int WriteAll(int fd, std::string_view data, SteadyClock::time_point deadline,
             const AlertDeliveryQueue& queue) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n >= 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return errno;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return ETIMEDOUT;
    if (queue.Aborting()) return ECANCELED;
    pollfd p{fd, POLLOUT, 0};
    poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
  }
  return 0;
}

// Discards a SIGPIPE raised by a write on this thread (SIGPIPE is blocked
// here, so it stays pending instead of killing the process).
void ConsumePendingSigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  timespec zero{};
  while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
  }
}

}  // namespace

Status ExecSink::CheckProgram(const ExecSinkOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return Status::InvalidArgument("exec alert sink: argv is empty");
  }
  if (FindProgram(options.argv[0]).empty()) {
    return Status::NotFound("exec alert sink: \"" + options.argv[0] +
                            "\" is not an executable file" +
                            (options.argv[0].find('/') == std::string::npos ? " in PATH" : ""));
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<ExecSink>> ExecSink::Create(const ExecSinkOptions& options,
                                                     MetricsRegistry& registry,
                                                     const Clock* clock) {
  if (Status s = CheckProgram(options); !s.ok()) return s;
  std::string program = FindProgram(options.argv[0]);
  if (options.max_children == 0) {
    return Status::InvalidArgument("exec alert sink: max_children must be at least 1");
  }
  return std::unique_ptr<ExecSink>(new ExecSink(options, std::move(program), registry, clock));
}

ExecSink::ExecSink(const ExecSinkOptions& options, std::string program, MetricsRegistry& registry,
                   const Clock* clock)
    : options_(options),
      program_(std::move(program)),
      clock_(clock != nullptr ? *clock : system_clock_),
      running_gauge_(registry.GetGauge("konseki_alert_exec_children", "Alert commands running now.",
                                       {{"sink", options.name}})),
      queue_(options.name, options.queue, registry) {
  queue_.Start([this](const Alert& a) { return Deliver(a); }, [this] { Reap(); },
               std::chrono::milliseconds(50));
}

ExecSink::~ExecSink() {
  queue_.Stop();
  // Give running children what is left of the drain time, then kill what
  // is left so no zombie outlives the sink.
  const auto deadline = queue_.DrainDeadline();
  while (!children_.empty() && SteadyClock::now() < deadline) {
    Reap();
    if (!children_.empty()) usleep(10'000);
  }
  for (Child& c : children_) {
    kill(-c.pid, SIGKILL);
    kill(c.pid, SIGKILL);
    int status = 0;
    waitpid(c.pid, &status, 0);
    queue_.CountFailure("timeout");
    queue_.CountDropped("shutdown");
  }
  children_.clear();
  running_gauge_->Set(0);
}

size_t ExecSink::Running() const { return running_.load(std::memory_order_relaxed); }

void ExecSink::Reap() {
  const TimePoint now = clock_.Now();
  for (auto it = children_.begin(); it != children_.end();) {
    int status = 0;
    const pid_t r = waitpid(it->pid, &status, WNOHANG);
    if (r == 0) {
      if (!it->killed && now >= it->deadline) {
        kill(-it->pid, SIGKILL);  // its process group: sh -c and what it started
        kill(it->pid, SIGKILL);
        it->killed = true;
      }
      ++it;
      continue;
    }
    if (r < 0) {
      // Reaped elsewhere (e.g. SIGCHLD set to SIG_IGN): outcome unknown.
      queue_.CountFailure("lost");
      queue_.CountDropped("permanent_error");
    } else if (it->killed) {
      queue_.CountFailure("timeout");
      queue_.CountDropped("permanent_error");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      queue_.CountDelivered();
    } else {
      queue_.CountFailure(WIFSIGNALED(status) ? "signal" : "exit_status");
      queue_.CountDropped("permanent_error");
    }
    it = children_.erase(it);
  }
  running_.store(children_.size(), std::memory_order_relaxed);
  running_gauge_->Set(static_cast<double>(children_.size()));
}

DeliveryResult ExecSink::Deliver(const Alert& alert) {
  // Writes to a child that closed its stdin must return EPIPE, not kill us.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);

  while (children_.size() >= options_.max_children) {
    Reap();
    if (children_.size() < options_.max_children) break;
    if (!queue_.Sleep(std::chrono::milliseconds(10))) return DeliveryResult::Dropped("shutdown");
  }

  const std::string json = (options_.encoder ? options_.encoder(alert) : AlertToJson(alert)) + "\n";

  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "KONSEKI_ALERT_", 14) != 0) env_strings.emplace_back(*e);
  }
  env_strings.push_back("KONSEKI_ALERT_SIGN=" + EnvValue(alert.sign));
  env_strings.push_back("KONSEKI_ALERT_RULE=" + EnvValue(alert.rule));
  env_strings.push_back("KONSEKI_ALERT_HOST=" + EnvValue(alert.host));
  env_strings.push_back(std::string("KONSEKI_ALERT_SEVERITY=") + SeverityName(alert.severity));
  env_strings.push_back("KONSEKI_ALERT_TITLE=" + EnvValue(alert.title));
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = options_.argv;
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    queue_.CountFailure("spawn");
    return DeliveryResult::Dropped("permanent_error");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[0], 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, program_.c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(pipefd[0]);
  if (rc != 0) {
    close(pipefd[1]);
    queue_.CountFailure("spawn");
    return DeliveryResult::Dropped("permanent_error");
  }
  children_.push_back(Child{pid, clock_.Now() + options_.timeout, false});
  running_.store(children_.size(), std::memory_order_relaxed);
  running_gauge_->Set(static_cast<double>(children_.size()));

  fcntl(pipefd[1], F_SETFL, O_NONBLOCK);
  // A child that exits without reading (EPIPE) is judged by its exit status;
  // one that never reads is killed at its deadline by Reap().
  if (WriteAll(pipefd[1], json, SteadyClock::now() + options_.timeout, queue_) == EPIPE) {
    ConsumePendingSigpipe();
  }
  close(pipefd[1]);
  return DeliveryResult::Pending();
}

}  // namespace konseki::outputs
