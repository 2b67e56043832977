// What every console command (status, hosts, alerts, report) starts from:
// the daemon's config (to find its control socket and files), the streams to
// write to and the time.
#ifndef KONSEKI_APP_CONSOLE_CONSOLE_ENV_H_
#define KONSEKI_APP_CONSOLE_CONSOLE_ENV_H_

#include <ostream>
#include <string>

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

// Loads `config_path` (the daemon's config) and sets up colours for a
// terminal stdout.
StatusOr<ConsoleEnv> MakeConsoleEnv(const std::string& config_path, std::ostream& out,
                                    std::ostream& err, bool colour);

// The hosts the daemon tracks, from the daemon ("hosts" request) or, when it
// is down, from the heartbeat state files it saved (*from_files is then set
// and threshold_secs is -1: it is only known to the running daemon).
StatusOr<JsonValue> LoadHosts(const ConsoleEnv& env, bool* from_files);

}  // namespace konseki::app::console

#endif  // KONSEKI_APP_CONSOLE_CONSOLE_ENV_H_
