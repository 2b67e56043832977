// konseki: syslog receiver and streaming intrusion analyzer.
//
// CLI parsing uses CLI11 (Debian libcli11-dev): subcommands, --help and
// precise usage errors for free, header-only, no global state.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "app/config.h"
#include "app/console/console_commands.h"
#include "app/fd_budget.h"
#include "app/file_identity.h"
#include "app/privileges.h"
#include "app/rule_tool.h"
#include "app/seal_commands.h"
#include "app/search_command.h"
#include "app/server.h"
#include "app/systemd_notify.h"
#include "common/clock.h"
#include "common/log.h"
#include "matchers/rule_loader.h"
#include "outputs/archive.h"
#include "outputs/exec_sink.h"
#include "receiver/local_zone.h"
#include "receiver/zone_map.h"

namespace {

// RLIMIT_NOFILE must hold every listener's connection cap, the archives'
// open files and a reserve (app/fd_budget.h). With `apply`, raises the soft
// limit to the hard one; an error when the hard limit is too low.
konseki::Status SizeFdLimit(const konseki::app::Config& c, bool apply) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return konseki::Status::FromErrno("getrlimit(RLIMIT_NOFILE)", errno);
  }
  const konseki::app::FdBudget budget = konseki::app::ComputeFdBudget(
      c, konseki::app::WorkerThreads(c), konseki::outputs::ArchiveOptions().max_open_files);
  auto soft = konseki::app::FdSoftLimitFor(budget, rl);
  if (!soft.ok()) return soft.status();
  if (apply && rl.rlim_cur != *soft) {
    rl.rlim_cur = *soft;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      return konseki::Status::FromErrno("setrlimit(RLIMIT_NOFILE)", errno);
    }
  }
  return konseki::Status::Ok();
}

// Ticks the server every second, reloads on SIGHUP and returns on SIGINT or
// SIGTERM (blocked in `set` before any thread started).
void WaitForStop(const sigset_t& set, konseki::app::Server* server,
                 konseki::app::SystemdNotifier* systemd) {
  for (;;) {
    const struct timespec one_second = {1, 0};
    int sig = sigtimedwait(&set, nullptr, &one_second);
    systemd->Watchdog();
    if (sig < 0) {
      server->Tick();
      continue;
    }
    if (sig == SIGHUP) {
      konseki::Log(konseki::LogLevel::kInfo, "SIGHUP: reopening files and reloading rules");
      systemd->Reloading();
      server->Reload();
      systemd->Ready("receiving");
      continue;
    }
    systemd->Stopping();
    konseki::Log(konseki::LogLevel::kInfo, "%s: draining and stopping", strsignal(sig));
    return;
  }
}

void LogStarted(const konseki::app::Server& server, const std::string& source) {
  for (const std::string& l : server.BoundListeners()) {
    konseki::Log(konseki::LogLevel::kInfo, "listening on %s", l.c_str());
  }
  for (const std::string& l : server.StartupLines()) {
    konseki::Log(konseki::LogLevel::kInfo, "%s", l.c_str());
  }
  if (server.metrics_port() != 0) {
    konseki::Log(konseki::LogLevel::kInfo, "metrics on port %u", server.metrics_port());
  }
  konseki::Log(konseki::LogLevel::kInfo, "ready (config %s)", source.c_str());
}

int Run(const std::string& config_path) {
  using konseki::app::Config;
  konseki::StatusOr<Config> config =
      config_path.empty()
          ? konseki::app::ParseConfig(konseki::app::EmbeddedDefaultConfig(), "<embedded default>")
          : konseki::app::LoadConfigFile(config_path);
  if (!config.ok()) {
    konseki::Log(konseki::LogLevel::kError, "%s", config.status().message().c_str());
    return 2;
  }

  // Block the signals we handle before any thread starts, so every thread
  // inherits the mask and only sigwait below sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Past RLIMIT_FSIZE a write must fail with EFBIG (the archive then blocks,
  // alerts and retries like on a full disk), not kill the process.
  signal(SIGXFSZ, SIG_IGN);

  if (konseki::Status s = SizeFdLimit(*config, true); !s.ok()) {
    konseki::Log(konseki::LogLevel::kError, "%s: %s", config->source.c_str(), s.message().c_str());
    return 2;
  }

  // Its errors name the file, line and key (Config::Privileges).
  const konseki::app::PrivilegeOptions priv = config->Privileges();
  if (konseki::Status s = konseki::app::CheckRootPolicy(priv); !s.ok()) {
    konseki::Log(konseki::LogLevel::kError, "%s", s.message().c_str());
    return 2;
  }
  if (konseki::Status s = konseki::app::CheckChrootDir(priv); !s.ok()) {
    konseki::Log(konseki::LogLevel::kError, "%s", s.message().c_str());
    return 2;
  }

  konseki::SystemClock clock;
  auto server = konseki::app::Server::Create(*config, clock);
  if (!server.ok()) {
    konseki::Log(konseki::LogLevel::kError, "cannot start: %s", server.status().message().c_str());
    return 1;
  }
  // Everything is bound and open: give up root before reading a byte.
  if (konseki::Status s = konseki::app::DropPrivileges(priv); !s.ok()) {
    konseki::Log(konseki::LogLevel::kError, "cannot drop privileges: %s", s.message().c_str());
    return 1;
  }
  // The archive is written by path (a folder per host) as the user dropped
  // to: a daemon that said "ready" and then blocked on its first line hid an
  // unwritable archive until senders were held back. Checked as that user,
  // so permissions, ACLs and read-only mounts all count.
  if (konseki::Status s = konseki::app::CheckWritableFolder(config->archive.dir); !s.ok()) {
    konseki::Log(konseki::LogLevel::kError, "cannot start: %s: key 'archive.dir': %s",
                 config->source.c_str(), s.message().c_str());
    return 1;
  }
  (*server)->Start();
  LogStarted(**server, config->source);
  konseki::app::SystemdNotifier systemd;
  systemd.Ready("receiving");

  WaitForStop(set, server->get(), &systemd);
  (*server)->Stop();
  if (const uint64_t lost = (*server)->lost_at_stop(); lost > 0) {
    konseki::Log(konseki::LogLevel::kError, "stopped; %llu messages lost (see above)",
                 static_cast<unsigned long long>(lost));
    return 1;
  }
  konseki::Log(konseki::LogLevel::kInfo, "stopped");
  return 0;
}

// One error on stderr per path that the run-as user will not be able to
// create or write (check-config, and the daemon before it binds anything: a
// daemon that said "ready" and then blocked on its first line hid the
// mistake until senders were held back). Returns how many.
size_t ReportUnwritablePaths(const konseki::app::Config& c, const konseki::app::RunAsIds& ids) {
  const std::string user = c.user.empty() ? std::to_string(ids.uid) : c.user;
  struct Path {
    const char* key;
    std::string path;
    bool is_dir;
  };
  std::vector<Path> paths = {{"archive.dir", c.archive.dir, true}};
  if (c.heartbeat.enabled) {
    paths.push_back({"heartbeat.state_dir", konseki::app::HeartbeatStateDir(c), true});
  }
  if (!c.alerts_file.empty()) paths.push_back({"alerts.file", c.alerts_file, false});
  size_t n = 0;
  for (const Path& p : paths) {
    std::string problem = konseki::app::WritableProblem(p.key, p.path, p.is_dir, ids, user);
    if (problem.empty()) continue;
    konseki::Log(konseki::LogLevel::kError, "%s: %s", c.source.c_str(), problem.c_str());
    ++n;
  }
  return n;
}

// test-rules --config: the rules, parser zone and correlation settings the
// server would use with that file (its heartbeat section too; listeners
// aside).
konseki::Status ApplyConfigToTestRules(const konseki::app::Config& c,
                                       const konseki::receiver::LocalZone* local_zone,
                                       std::unique_ptr<konseki::receiver::ZoneMap>* zones,
                                       konseki::app::TestRulesOptions* opts) {
  if (opts->rules_dir.empty()) opts->rules_dir = c.rules_dir;
  opts->overrides = c.rule_overrides;
  auto offset = konseki::app::ResolveUtcOffsetSecs(c.parser_timezone, std::time(nullptr));
  if (!offset.ok()) return offset.status();
  opts->parser.default_utc_offset_secs = *offset;
  if (c.parser_timezone == "local") opts->parser.local_zone = local_zone;
  if (!c.parser_timezones.empty()) {
    auto map = konseki::receiver::ZoneMap::Build(c.parser_timezones);
    if (!map.ok()) return map.status();
    *zones = std::move(map).value();
    opts->parser.zones = zones->get();
  }
  opts->correlation = c.correlation.options;
  opts->correlation.utc_offset_secs = opts->parser.default_utc_offset_secs;
  opts->correlation.local_zone = opts->parser.local_zone;
  if (!c.correlation.enabled) opts->correlate = false;
  opts->heartbeat_options = c.heartbeat.options;
  if (!c.heartbeat.enabled) opts->heartbeat = false;
  return konseki::Status::Ok();
}

// check-config FILE: everything the server would refuse at start, without
// binding anything; 0 when the file is fine.
int RunCheckConfig(const std::string& path) {
  auto c = konseki::app::LoadConfigFile(path);
  if (!c.ok()) {
    konseki::Log(konseki::LogLevel::kError, "%s", c.status().message().c_str());
    return 1;
  }
  // Port 0 works (the daemon logs the port the kernel picked; tests use
  // it), but no sender could be pointed at it: said, not refused.
  if (konseki::Status s = konseki::app::CheckListenPorts(*c); !s.ok()) {
    konseki::Log(konseki::LogLevel::kWarning, "warning: %s", s.message().c_str());
  }
  // Its errors name the file, line and key (Config::Privileges), except
  // the refusal to run as root, which is about keys not given.
  const konseki::app::PrivilegeOptions priv = c->Privileges();
  if (konseki::Status s = konseki::app::CheckRootPolicy(priv); !s.ok()) {
    konseki::Log(konseki::LogLevel::kError, "%s%s", priv.group.empty() ? (path + ": ").c_str() : "",
                 s.message().c_str());
    return 1;
  }
  if (konseki::Status s = SizeFdLimit(*c, false); !s.ok()) {
    konseki::Log(konseki::LogLevel::kError, "%s: %s", path.c_str(), s.message().c_str());
    return 1;
  }
  auto ids = konseki::app::ResolveRunAs(priv);
  if (!ids.ok()) {
    konseki::Log(konseki::LogLevel::kError, "%s", ids.status().message().c_str());
    return 1;
  }
  if (konseki::Status s = konseki::app::CheckChrootDir(priv); !s.ok()) {
    konseki::Log(konseki::LogLevel::kError, "%s", s.message().c_str());
    return 1;
  }
  std::string tls_warning;
  if (konseki::Status s = konseki::app::CheckTlsFiles(*c, &tls_warning); !s.ok()) {
    konseki::Log(konseki::LogLevel::kError, "%s", s.message().c_str());
    return 1;
  }
  if (!tls_warning.empty()) {
    konseki::Log(konseki::LogLevel::kWarning, "warning: %s", tls_warning.c_str());
  }
  // The rules as the daemon will read them: as its user, and through its
  // cache of compiled databases (the unit's ExecStartPre then leaves the
  // database for ExecStart to read back), when the folder the cache lives
  // in is already there (check-config creates no state folder).
  konseki::matchers::HsCache cache;
  cache.dir = konseki::app::RulesCacheDir(*c);
  std::error_code ec;
  const bool cached =
      std::filesystem::is_directory(std::filesystem::path(cache.dir).parent_path(), ec);
  konseki::StatusOr<konseki::app::LoadedRules> rules = konseki::Status::Internal("not loaded");
  {
    auto as_user = konseki::app::ScopedFileIdentity::Enter(*ids);
    if (!as_user.ok()) {
      konseki::Log(konseki::LogLevel::kError, "%s: %s", path.c_str(),
                   as_user.status().message().c_str());
      return 1;
    }
    rules = konseki::app::LoadRulesAndCorrelations(c->rules_dir, c->rule_overrides,
                                                   konseki::matchers::HsCompileIn::kThisProcess,
                                                   cached ? &cache : nullptr);
  }
  if (!rules.ok()) {
    konseki::Log(konseki::LogLevel::kError, "%s", rules.status().message().c_str());
    return 1;
  }
  // The daemon would refuse to start on an exec sink whose program is not
  // there; say it now.
  for (size_t i = 0; i < c->alerts_exec.size(); ++i) {
    if (konseki::Status s = konseki::outputs::ExecSink::CheckProgram(c->alerts_exec[i].options);
        !s.ok()) {
      konseki::Log(konseki::LogLevel::kError, "%s: alerts.exec[%zu]: %s", path.c_str(), i,
                   s.message().c_str());
      return 1;
    }
  }
  for (const std::string& w : konseki::app::UnknownSinkSigns(*c, *rules)) {
    konseki::Log(konseki::LogLevel::kWarning, "warning: %s: %s", path.c_str(), w.c_str());
  }
  if (const size_t unwritable = ReportUnwritablePaths(*c, *ids); unwritable > 0) return 1;
  std::printf("%s: OK (%zu listeners, %zu rules)\n", path.c_str(), c->listen.size(),
              rules->rules->rules().size());
  return 0;
}

// konseki test-rules [--config FILE] [--explain LINE] [options] FILE...
struct TestRulesCommand {
  std::string config_path;
  bool no_correlations = false;
  bool no_heartbeat = false;
  konseki::app::TestRulesOptions opts;
  konseki::app::ExplainOptions explain;
};

CLI::App* AddTestRulesCommand(CLI::App& app, TestRulesCommand* cmd) {
  CLI::App* test_rules = app.add_subcommand(
      "test-rules", "Run the parser and rules over log files and report matches");
  test_rules->add_option("--rules", cmd->opts.rules_dir,
                         "rule pack folder (default: the bundled packs)");
  test_rules->add_option("-c,--config", cmd->config_path,
                         "config file whose rules: section (dir, local_dir, disable, severity, "
                         "ignore), parser.timezone, correlation and heartbeat settings apply, "
                         "as the server would run them");
  test_rules->add_flag("--json", cmd->opts.json, "one JSON object per match");
  test_rules->add_flag("--summary", cmd->opts.summary, "only the counts per rule and sign");
  test_rules->add_flag("--missed", cmd->opts.missed, "print the lines that matched no rule");
  test_rules->add_option("--program", cmd->opts.missed_program,
                         "with --missed: only lines of this program");
  test_rules->add_option("--explain", cmd->explain.line,
                         "show how one LINE is parsed and which rules it hits (no FILE)");
  test_rules->add_option("--sender", cmd->opts.sender,
                         "sender address of every line (a host's own address; the heartbeat "
                         "groups its hosts' silences by it: host.relay_silent)");
  test_rules->add_flag("--no-correlations", cmd->no_correlations, "run the single-line rules only");
  test_rules->add_flag("--no-heartbeat", cmd->no_heartbeat,
                       "do not run the heartbeat tracker (host.silent, host.new, ...) on the "
                       "files' stamps");
  test_rules->add_option("FILE", cmd->opts.files, "log files (- for standard input)");
  return test_rules;
}

// The config file is read once and applies to both forms (with and without
// --explain).
int RunTestRulesCommand(TestRulesCommand cmd) {
  konseki::app::TestRulesOptions& opts = cmd.opts;
  konseki::app::ExplainOptions& explain = cmd.explain;
  const std::string& config_path = cmd.config_path;
  const konseki::receiver::LocalZone local_zone;      // parser.timezone: local
  std::unique_ptr<konseki::receiver::ZoneMap> zones;  // parser.timezones
  opts.correlate = !cmd.no_correlations;
  opts.heartbeat = !cmd.no_heartbeat;
  if (!config_path.empty()) {
    auto c = konseki::app::LoadConfigFile(config_path);
    konseki::Status s =
        c.ok() ? ApplyConfigToTestRules(*c, &local_zone, &zones, &opts) : c.status();
    if (!s.ok()) {
      std::fprintf(stderr, "konseki: %s\n", s.message().c_str());
      return 1;
    }
  }
  if (!explain.line.empty()) {
    explain.rules_dir = opts.rules_dir;
    explain.overrides = opts.overrides;
    explain.parser = opts.parser;
    explain.json = opts.json;
    return konseki::app::RunExplain(explain, std::cout, std::cerr);
  }
  return konseki::app::RunTestRules(opts, std::cout, std::cerr);
}

}  // namespace

// konseki search [options] PATTERN...
CLI::App* AddSearchCommand(CLI::App& app, konseki::app::SearchCommand* cmd) {
  CLI::App* search = app.add_subcommand(
      "search", "Search the archive (plain or compressed), lines in receive-time order");
  search->add_option("--dir", cmd->dir, "archive folder (default: the config's archive.dir)");
  search->add_option("-c,--config", cmd->config_path, "config file");
  search->add_option("--host", cmd->host_glob,
                     "hosts to search: a name as alerts and `konseki hosts` show it, or its "
                     "archive folder's; a glob (default *)");
  search->add_option("--since", cmd->since,
                     "from this time on (as alerts --since: 1h, 2d, today, yesterday, "
                     "YYYY-MM-DD[THH:MM:SS]; local time unless it ends in Z or +HH:MM)");
  search->add_option("--until", cmd->until, "before this time (as --since)");
  search->add_option("--sign", cmd->sign, "lines the rule packs' rules of this sign hit");
  search->add_option("--rules", cmd->rules_dir, "rule pack folder for --sign");
  search->add_flag("-i,--ignore-case", cmd->caseless, "caseless patterns");
  search->add_flag("--stats", cmd->stats, "matches, bytes and speed on stderr");
  search->add_option("--threads", cmd->threads,
                     "scanning threads (default: the CPUs konseki may use)");
  search->add_flag("--no-index", cmd->no_index, "ignore the search indexes: scan every byte");
  search->add_option("PATTERN", cmd->patterns, "Hyperscan (grep -E like) patterns");
  return search;
}

int main(int argc, char** argv) {
  CLI::App app{"konseki: syslog receiver and streaming intrusion analyzer"};
  app.set_version_flag("--version", std::string("konseki ") + KONSEKI_VERSION);
  std::string config_path;
  app.add_option("-c,--config", config_path,
                 "YAML config file (default: the embedded config: UDP and TCP on "
                 "127.0.0.1:5514, archive under ./var/archive, alerts on stdout)");

  auto* check_config = app.add_subcommand("check-config", "Validate a config file and exit");
  // FILE, -c FILE or --config FILE (README: every command that reads a
  // config takes -c); `konseki -c FILE check-config` too.
  std::string check_path, check_config_path;
  check_config->add_option("FILE", check_path, "config file");
  check_config->add_option("-c,--config", check_config_path, "config file (instead of FILE)");

  auto* check_rules = app.add_subcommand("check-rules", "Validate every rule and run its examples");
  std::string rules_dir;
  check_rules->add_option("DIR", rules_dir, "rule pack folder (default: the bundled packs)");

  TestRulesCommand test_cmd;
  CLI::App* test_rules = AddTestRulesCommand(app, &test_cmd);

  auto* seal_setup = app.add_subcommand(
      "seal-setup", "Create the archive's sealing key; print the verification key (last line)");
  std::string seal_config;
  seal_setup->add_option("-c,--config", seal_config, "config file (its archive.dir)")->required();
  bool seal_new_chain = false;
  seal_setup->add_flag("--new-chain", seal_new_chain,
                       "start a new chain although the seal stream holds records of one whose "
                       "key is gone (marked in the stream)");
  auto* verify = app.add_subcommand(
      "verify", "Verify a sealed archive (exit 1 on any failure, and when nothing is sealed)");
  konseki::app::VerifyCommand verify_cmd;
  verify
      ->add_option("--key", verify_cmd.keys,
                   "verification key (or a file holding it); once per chain")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  verify->add_option("-c,--config", verify_cmd.config_path,
                     "config file, for archive.retention_days");
  verify->add_option("PATH", verify_cmd.paths, "archive folders or day files")->required();

  konseki::app::SearchCommand search_cmd;
  CLI::App* search = AddSearchCommand(app, &search_cmd);
  auto* index = app.add_subcommand(
      "index", "Write the search index of closed day files that have no current one");
  konseki::app::IndexCommand index_cmd;
  index->add_option("--dir", index_cmd.dir, "archive folder (default: the config's archive.dir)");
  index->add_option("-c,--config", index_cmd.config_path, "config file");
  index->add_option("--host", index_cmd.host_glob,
                    "hosts (names or folder names, as search --host; glob, default *)");
  index->add_flag("--force", index_cmd.force, "rewrite current indexes too");

  konseki::app::console::ConsoleCommands console(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // app.exit prints --help / --version on stdout (exit 0) or the error and
    // a hint on stderr. A usage error exits 2, as search and verify do for
    // theirs: CLI11's own codes (105 to 114) mean nothing to a script.
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (int rc = console.RunConsole(std::cout, std::cerr); rc >= 0) return rc;

  if (*search || *index) {
    const int64_t today = std::chrono::duration_cast<std::chrono::seconds>(
                              konseki::SystemClock().Now().time_since_epoch())
                              .count() /
                          86400;
    if (*index) {
      index_cmd.today = today;
      return konseki::app::RunIndex(index_cmd, std::cout, std::cerr);
    }
    search_cmd.today = today;
    search_cmd.now =
        std::chrono::duration<double>(konseki::SystemClock().Now().time_since_epoch()).count();
    search_cmd.terminal = isatty(STDOUT_FILENO) != 0;
    return konseki::app::RunSearch(search_cmd, std::cout, std::cerr);
  }
  if (*seal_setup || *verify) {
    konseki::SystemClock clock;
    if (*verify) return konseki::app::RunVerify(verify_cmd, clock, std::cout, std::cerr);
    return konseki::app::RunSealSetup(seal_config, clock, isatty(STDOUT_FILENO) != 0,
                                      seal_new_chain, std::cout, std::cerr);
  }

  if (*check_config) {
    std::string path = check_path;
    for (const std::string* other : {&check_config_path, &config_path}) {
      if (other->empty()) continue;
      if (!path.empty() && path != *other) {
        std::fprintf(stderr, "konseki check-config: two config files given: %s and %s\n",
                     path.c_str(), other->c_str());
        return 2;
      }
      path = *other;
    }
    if (path.empty()) {
      std::fprintf(stderr,
                   "konseki check-config: give the config file: check-config FILE or "
                   "check-config -c FILE\n");
      return 2;
    }
    return RunCheckConfig(path);
  }
  if (*check_rules) {
    return konseki::app::RunCheckRules(
        rules_dir.empty() ? konseki::matchers::DefaultRulesDir() : rules_dir, std::cout, std::cerr);
  }
  if (*test_rules) {
    return RunTestRulesCommand(std::move(test_cmd));
  }
  return Run(config_path);
}
