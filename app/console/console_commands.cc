#include "app/console/console_commands.h"

#include <unistd.h>

#include <cstdlib>

namespace konseki::app::console {

ConsoleCommands::ConsoleCommands(CLI::App& app) {
  auto add_config = [this](CLI::App* cmd) {
    cmd->add_option("-c,--config", config_path_,
                    "the daemon's config file, to find its control socket and files")
        ->capture_default_str();
  };
  status_ = app.add_subcommand("status", "One screen about the running daemon");
  add_config(status_);

  hosts_ = app.add_subcommand("hosts", "Every host the heartbeat tracks, with its state");
  add_config(hosts_);
  hosts_->add_flag("--silent", hosts_opts_.silent,
                   "only silent, stopped and expected-but-never-seen hosts");
  hosts_->add_flag("--json", hosts_opts_.json, "one JSON document");

  alerts_ = app.add_subcommand("alerts", "Alerts from the alert file, newest last");
  add_config(alerts_);
  alerts_
      ->add_option("--since", alerts_opts_.since,
                   "how far back: 90s, 30m, 1h, 2d, 1w, or from: today, yesterday, 2026-12-01, "
                   "2026-12-01T12:00 (local time; Z or +HH:MM for another zone)")
      ->capture_default_str();
  alerts_->add_option("--sign", alerts_opts_.sign, "only this sign (or a prefix: 'ssh.*')");
  alerts_->add_option("--host", alerts_opts_.host, "only this host");
  alerts_
      ->add_option("--min-severity", alerts_opts_.min_severity,
                   "info, low, medium, high or critical")
      ->capture_default_str();
  alerts_->add_flag("-f,--follow", alerts_opts_.follow,
                    "keep printing new alerts (like tail -F; survives rotation)");
  alerts_->add_flag("--json", alerts_opts_.json, "JSON lines as in the alert file");

  report_ = app.add_subcommand("report", "A plain-text digest (silent and new hosts, alerts, ...)");
  add_config(report_);
  report_
      ->add_option("--since", report_opts_.since,
                   "period covered: 24h, 7d, ..., or from: today, yesterday, 2026-12-01, "
                   "2026-12-01T12:00 (local time)")
      ->capture_default_str();
  report_->add_option("--mail-to", report_opts_.mail_to,
                      "mail it to this address through /usr/sbin/sendmail -t");
  // For tests and unusual systems: another sendmail-compatible program.
  if (const char* s = std::getenv("KONSEKI_SENDMAIL"); s != nullptr && *s != '\0') {
    report_opts_.sendmail = s;
  }
}

int ConsoleCommands::RunConsole(std::ostream& out, std::ostream& err) {
  for (CLI::App* c : {status_, hosts_, alerts_, report_}) {
    if (c->parsed()) return Run(c, out, err);
  }
  return -1;
}

int ConsoleCommands::Run(CLI::App* which, std::ostream& out, std::ostream& err) {
  auto env = MakeConsoleEnv(config_path_, out, err, ColourWanted(STDOUT_FILENO));
  if (!env.ok()) {
    err << "konseki " << which->get_name() << ": " << env.status().message() << "\n";
    return kExitError;
  }
  if (which == status_) return RunStatus(*env);
  if (which == hosts_) return RunHosts(*env, hosts_opts_);
  if (which == alerts_) return RunAlerts(*env, alerts_opts_);
  return RunReport(*env, report_opts_);
}

}  // namespace konseki::app::console
