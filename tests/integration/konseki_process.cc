#include "tests/integration/konseki_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string_view>
#include <thread>

namespace konseki::testing {

namespace fs = std::filesystem;

ChildProcess::~ChildProcess() { Kill(); }

bool ChildProcess::Start(const std::vector<std::string>& argv, const std::string& log_prefix,
                         const std::map<std::string, std::string>& env) {
  log_prefix_ = log_prefix;
  std::string out = log_prefix + ".out", err = log_prefix + ".err";
  pid_ = fork();
  if (pid_ < 0) return false;
  if (pid_ == 0) {
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int e = open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(o, 1);
    dup2(e, 2);
    // Reset the signal mask and dispositions the test may have changed.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Every konseki a test runs (daemon, check-config) shares the build
    // tree's cache of compiled rules unless the test names its own.
    for (const auto& [k, v] : TestCacheEnv()) setenv(k.c_str(), v.c_str(), 1);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return true;
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return false;
  }
  return true;
}

int ChildProcess::Signal(int sig, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  return -1;
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string ChildProcess::Stdout() const { return ReadFile(log_prefix_ + ".out"); }
std::string ChildProcess::Stderr() const { return ReadFile(log_prefix_ + ".err"); }

std::string KonsekiBinary() { return std::string(KONSEKI_BINARY_DIR) + "/konseki"; }

std::map<std::string, std::string> TestCacheEnv() {
  return {{"CACHE_DIRECTORY", std::string(KONSEKI_BINARY_DIR) + "/test-rules-cache"}};
}

bool Konseki::Start(const TempDir& dir, const std::string& config_yaml, std::string* error,
                    const std::vector<std::string>& wrapper) {
  std::string conf = dir.File("konseki.yaml");
  // Tests run as root on CI machines; konseki refuses that unless told.
  std::ofstream(conf) << config_yaml
                      << (config_yaml.find("allow_root:") == std::string::npos
                              ? "allow_root: true\n"
                              : "");
  std::vector<std::string> argv = wrapper;
  for (const std::string& a : {KonsekiBinary(), std::string("--config"), conf}) argv.push_back(a);
  std::map<std::string, std::string> env;
  if (!cache_dir_.empty()) env["CACHE_DIRECTORY"] = cache_dir_;
  if (!process_.Start(argv, dir.File("konseki"), env)) {
    *error = "fork failed";
    return false;
  }
  // Starting compiles every rule pack: longer than WaitFor's default 15 s
  // on a loaded machine.
  bool ready = WaitFor(
      [&] {
        return process_.Stderr().find("konseki: ready") != std::string::npos || !process_.running();
      },
      kCompileTimeout);
  std::string err = process_.Stderr();
  if (!ready || err.find("konseki: ready") == std::string::npos) {
    *error = "konseki did not start:\n" + err;
    return false;
  }
  static const std::regex kListen(R"(listening on (udp|tcp|relp|tls|relp\+tls)://\S*:(\d+))");
  for (std::sregex_iterator it(err.begin(), err.end(), kListen), end; it != end; ++it) {
    ports_.emplace((*it)[1].str(), std::stoi((*it)[2].str()));
  }
  static const std::regex kMetrics(R"(metrics on port (\d+))");
  std::smatch m;
  if (std::regex_search(err, m, kMetrics)) metrics_port_ = std::stoi(m[1].str());
  return true;
}

int Konseki::Port(const std::string& transport) const {
  auto it = ports_.find(transport);
  return it == ports_.end() ? 0 : it->second;
}

std::string ArchiveAndAlertsConfig(const TempDir& dir) {
  return "archive: {dir: " + dir.File("archive") + "}\nalerts: {file: " + dir.File("alerts.jsonl") +
         ", stdout: false}\n";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> ReadAllLines(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return {};
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> lines;
  for (const auto& f : files) {
    std::istringstream in(ReadFile(f));
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> ArchiveLines(const std::string& archive_dir, const std::string& host) {
  return ReadAllLines(archive_dir + "/" + host);
}

bool HaveProgram(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

size_t CountInArchive(const std::string& archive, const std::string& host,
                      const std::string& needle) {
  size_t n = 0;
  for (const auto& l : ArchiveLines(archive, host)) n += l.find(needle) != std::string::npos;
  return n;
}

std::string FetchMetrics(int port) {
  int fd = ConnectTcp(port);
  if (fd < 0) return "";
  std::string body;
  if (SendAll(fd, "GET /metrics HTTP/1.0\r\n\r\n")) {
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) body.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t start = body.find("\r\n\r\n");
  return start == std::string::npos ? "" : body.substr(start + 4);
}

double SumMetric(const std::string& exposition, const std::string& name,
                 const std::string& labels) {
  double sum = 0;
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, name.size(), name) != 0 || line.size() == name.size()) continue;
    const char next = line[name.size()];
    if (next != '{' && next != ' ') continue;  // another metric with this prefix
    const size_t space = line.rfind(' ');
    if (!labels.empty() && line.substr(0, space).find(labels) == std::string::npos) continue;
    sum += std::strtod(line.c_str() + space + 1, nullptr);
  }
  return sum;
}

SeqCounts CountSeqs(const std::string& archive, const std::string& host, int total) {
  SeqCounts c;
  c.times.assign(static_cast<size_t>(total), 0);
  for (const std::string& line : ArchiveLines(archive, host)) {
    const size_t p = line.find(" seq=");
    if (p == std::string::npos) continue;
    char* after = nullptr;
    const long n = std::strtol(line.c_str() + p + 5, &after, 10);
    // Only a whole line counts: a message cut short (at a stop, it is
    // archived marked truncated) lacks the " end" after its number.
    if (std::string_view(after) != " end") {
      ++c.cut;
      continue;
    }
    if (n < 0 || n >= total) continue;
    if (c.times[static_cast<size_t>(n)]++ == 0) {
      ++c.distinct;
    } else {
      ++c.duplicates;
    }
  }
  return c;
}

std::string RsyslogTcpToRelpConfig(const std::string& work_dir, int tcp_in, int relp_port) {
  return "global(workDirectory=\"" + work_dir +
         "\")\n"
         "module(load=\"imtcp\")\nmodule(load=\"omrelp\")\n"
         "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" +
         std::to_string(tcp_in) +
         "\" ruleset=\"fwd\")\n"
         "ruleset(name=\"fwd\") { action(type=\"omrelp\" target=\"127.0.0.1\" port=\"" +
         std::to_string(relp_port) +
         "\" timeout=\"5\" conn.timeout=\"2\" queue.type=\"LinkedList\" "
         "queue.size=\"200000\" action.resumeRetryCount=\"-1\" action.resumeInterval=\"1\") }\n";
}

}  // namespace konseki::testing
