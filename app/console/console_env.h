// What every console command (status, hosts, alerts, report) starts from:
// the daemon's config (to find its control socket and files), the streams to
// write to and the time.
#ifndef KONSEKI_APP_CONSOLE_CONSOLE_ENV_H_
#define KONSEKI_APP_CONSOLE_CONSOLE_ENV_H_

#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/config.h"
#include "app/console/console_format.h"
#include "app/json_value.h"
#include "common/status.h"

namespace konseki::app::console {

// Exit codes of the console commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;       // bad arguments, unreadable files
inline constexpr int kExitNotRunning = 3;  // konseki status: the daemon is down (as LSB status)

struct ConsoleEnv {
  Config config;
  std::ostream* out;
  std::ostream* err;
  Palette palette{false};
  double now = 0;  // Unix seconds

  // Asks the running daemon; Unavailable when it is down (the message says
  // so and names the socket).
  StatusOr<JsonValue> Ask(const std::string& request) const;
};

// Loads `config_path` (the daemon's config: LoadConsoleConfig, so an error
// the console does not need to stop at, outside the keys it reads, is a
// warning on err) and sets up colours for a terminal stdout.
StatusOr<ConsoleEnv> MakeConsoleEnv(const std::string& config_path, std::ostream& out,
                                    std::ostream& err, bool colour);

// The hosts as JSON text ({"time": T, "hosts": [...]}, status_service.h's
// AppendHostJson), each host's object found in it but parsed only when a
// command asks for it: a tree of 100,000 hosts took ~4 KB each.
class HostList {
 public:
  // Finds the hosts in the daemon's answer; an {"error": ...} answer or
  // text that is not such a document is an error.
  static StatusOr<HostList> FromText(std::string text);
  // Takes each host's object as it is appended to text() (AppendHostJson).
  void Begin(double time);
  std::string* text() { return &text_; }
  void EndHost(size_t begin) { spans_.emplace_back(begin, text_.size() - begin); }

  double time() const { return time_; }
  size_t size() const { return spans_.size(); }
  // The i-th host's object as JSON text, and parsed (null if malformed).
  std::string_view Text(size_t i) const {
    return std::string_view(text_).substr(spans_[i].first, spans_[i].second);
  }
  JsonValue Host(size_t i) const;

 private:
  double time_ = 0;
  std::string text_;
  std::vector<std::pair<size_t, size_t>> spans_;  // offset and length in text_
};

// The hosts the daemon tracks, from the daemon ("hosts" request) or, when it
// is down, from the heartbeat state files it saved (*from_files is then set
// and threshold_secs is -1: it is only known to the running daemon).
StatusOr<HostList> LoadHosts(const ConsoleEnv& env, bool* from_files);

}  // namespace konseki::app::console

#endif  // KONSEKI_APP_CONSOLE_CONSOLE_ENV_H_
