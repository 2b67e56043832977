// The admin's console commands, in the konseki binary:
//   konseki status                   one screen about the running daemon
//   konseki hosts [--silent] [--json]
//   konseki alerts [--since 1h|2026-12-01T12:00|today] [--sign S] [--host H] [--min-severity L]
//                  [--follow] [--json]
//   konseki report [--since 24h|yesterday|2026-12-01] [--mail-to ADDR]
// Each reads the daemon's config (-c, default /etc/konseki/konseki.yaml) to
// find its control socket (app/control_socket.h) and files. When the daemon
// is down they say so and use the files where that makes sense (the alert
// file, the heartbeat state files).
#ifndef KONSEKI_APP_CONSOLE_CONSOLE_COMMANDS_H_
#define KONSEKI_APP_CONSOLE_CONSOLE_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

#include "app/console/console_env.h"

namespace konseki::app::console {

inline constexpr const char* kDefaultConfigPath = "/etc/konseki/konseki.yaml";

struct HostsOptions {
  bool silent = false;  // only silent, stopped and expected-never-seen hosts
  bool json = false;
};

struct AlertsOptions {
  std::string since = "24h";
  std::string sign;
  std::string host;
  std::string min_severity = "info";
  bool follow = false;
  bool json = false;
};

struct ReportOptions {
  std::string since = "24h";
  std::string mail_to;
  // The mailer (`sendmail -t` reads the recipients from the headers).
  std::string sendmail = "/usr/sbin/sendmail";
};

int RunStatus(const ConsoleEnv& env);
int RunHosts(const ConsoleEnv& env, const HostsOptions& options);
int RunAlerts(const ConsoleEnv& env, const AlertsOptions& options);
int RunReport(const ConsoleEnv& env, const ReportOptions& options);
// The report text (for RunReport and tests).
StatusOr<std::string> BuildReport(const ConsoleEnv& env, double since);

// Registers the four subcommands on `app`; after parsing, RunConsole runs
// the one that was given (returns -1 when none was).
class ConsoleCommands {
 public:
  explicit ConsoleCommands(CLI::App& app);
  int RunConsole(std::ostream& out, std::ostream& err);

 private:
  int Run(CLI::App* which, std::ostream& out, std::ostream& err);
  std::string config_path_ = kDefaultConfigPath;
  CLI::App* status_;
  CLI::App* hosts_;
  CLI::App* alerts_;
  CLI::App* report_;
  HostsOptions hosts_opts_;
  AlertsOptions alerts_opts_;
  ReportOptions report_opts_;
};

}  // namespace konseki::app::console

#endif  // KONSEKI_APP_CONSOLE_CONSOLE_COMMANDS_H_
