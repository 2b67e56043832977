// konseki's configuration: the YAML file an admin writes, validated whole at
// start-up. Unknown keys and bad values are errors naming file, line and key;
// nothing is silently ignored.
#ifndef KONSEKI_APP_CONFIG_H_
#define KONSEKI_APP_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "app/privileges.h"
#include "common/status.h"
#include "matchers/correlator.h"
#include "matchers/heartbeat_tracker.h"
#include "matchers/rule_packs.h"
#include "outputs/archive.h"
#include "outputs/archive_budget.h"
#include "outputs/exec_sink.h"
#include "outputs/filtered_sink.h"
#include "outputs/retention.h"
#include "outputs/seal_key.h"
#include "outputs/syslog_forwarder.h"
#include "outputs/throttled_sink.h"
#include "outputs/webhook_sink.h"
#include "receiver/listener_spec.h"
#include "receiver/stream_listener.h"
#include "receiver/tls_context.h"
#include "receiver/udp_listener.h"
#include "receiver/zone_map.h"

namespace konseki::app {

// heartbeat: the keys are the fields of matchers::HeartbeatOptions (same
// names, same defaults: documented there and in docs/heartbeat.md), so the
// config cannot drift from what the tracker supports.
struct HeartbeatConfig {
  bool enabled = true;
  // options.state_dir empty: <archive.dir>/.state (see HeartbeatStateDir).
  // options.max_host_metrics is metrics.max_host_series.
  matchers::HeartbeatOptions options;
};

// One alerts.syslog[] / webhook[] / exec[] entry: the sink's own options
// (outputs/syslog_forwarder.h, webhook_sink.h, exec_sink.h: the defaults
// live there) and which alerts it gets (min_severity, signs).
template <typename SinkOptions>
struct AlertSinkSpec {
  SinkOptions options;
  outputs::FilteredSinkOptions filter;
};

// archive.seal and archive.seal_epoch_secs (docs/archive.md).
struct ArchiveSealConfig {
  // Forward-secure sealing (needs `konseki seal-setup` first). Off by default.
  bool enabled = false;
  // Key evolution period; must divide 86400. Used by seal-setup only: a
  // running chain keeps the epoch length it was set up with.
  int64_t epoch_secs = outputs::kDefaultSealEpochSecs;
};

// The archive's options with no archive: keys: the module's defaults, and
// dir ./var/archive (archive.dir has no module default: it is required).
outputs::ArchiveOptions DefaultArchiveOptions();

// correlation: the correlation engine. Its keys fill the engine's own
// options (matchers/correlator.h documents each and its default):
// learning_days (-> options.learning_secs), session_min_observed_secs,
// system_accounts, host_addresses, max_keys, max_keys_per_rule,
// save_interval_secs and overrides. enabled, state_dir and fleet_queue_max
// are the app's (below).
// network: the sets and parameters of the network correlations, filled into
// options (set_values, beacon_*, drop_severity; docs/network.md).
struct CorrelationConfig {
  bool enabled = true;
  matchers::CorrelatorOptions options;
  // Where the correlators keep their state; empty: the heartbeat's state dir.
  std::string state_dir;
  // Hits waiting for the fleet correlation thread (FleetCorrelator's
  // max_queued); beyond it they are dropped and counted.
  size_t fleet_queue_max = 100000;
};

struct Config {
  std::string source;  // file name the config came from ("<embedded default>")
  std::string text;    // the YAML it was parsed from (SIGHUP compares it)
  // Line (1-based) of every key given, by dotted name ("archive.dir"), for
  // start-up errors that happen after parsing (a listen: entry has its own).
  std::map<std::string, int, std::less<>> key_lines;
  // "<source>:<line>: key 'archive.dir'" (without ":<line>" if unknown).
  std::string Where(std::string_view key) const;

  // listen: one entry per listener, "udp://127.0.0.1:5514", "tcp://[::1]:5514",
  // or {uri: ..., allow: [...], rate_limit: {messages_per_sec, burst}}.
  std::vector<receiver::ListenerSpec> listen;

  // Privileges, applied after binding: run as user/group, optionally
  // chrooted. Running as root without user: is refused unless allow_root.
  // Given but empty is an error (a template's `user: ${KONSEKI_USER}` left
  // unfilled must not read as "no user").
  std::string user;
  std::string group;
  std::string chroot;
  bool allow_root = false;
  // The four above, with where each key was given so their errors name the
  // file and line (every caller of ResolveRunAs/DropPrivileges uses this).
  PrivilegeOptions Privileges() const;

  // archive: every key fills a module's own options, whose defaults are
  // documented there (docs/archive.md):
  //   dir, sync, sync_interval_secs  -> archive (outputs/archive.h; the
  //     per-worker fields, spool_dir and budget are set by the server)
  //   max_hosts, buffer_budget_bytes -> archive_budget (outputs/archive_budget.h)
  //   compress_after_days, retention_days, low_space -> archive_retention
  //     (outputs/retention.h; dir and max_host_series are set by the server)
  //   seal, seal_epoch_secs          -> archive_seal
  outputs::ArchiveOptions archive = DefaultArchiveOptions();
  outputs::ArchiveBudgetOptions archive_budget;
  outputs::RetentionOptions archive_retention;
  ArchiveSealConfig archive_seal;

  // alerts:
  std::string alerts_file;  // JSON lines; empty = none
  bool alerts_stdout = true;
  // alerts.throttle: applies to the notifying sinks, never to the alert file.
  outputs::ThrottledSinkOptions alerts_throttle;
  std::vector<AlertSinkSpec<outputs::SyslogForwarderOptions>> alerts_syslog;
  std::vector<AlertSinkSpec<outputs::WebhookSinkOptions>> alerts_webhook;
  std::vector<AlertSinkSpec<outputs::ExecSinkOptions>> alerts_exec;

  // rules: dir with *.yaml packs; empty = the bundled packs.
  std::string rules_dir;
  // rules.local_dir, disable, severity, ignore: the site's packs and
  // overrides (matchers/rule_packs.h; ids are checked when rules load).
  matchers::RuleOverrides rule_overrides;

  // workers: threads that parse, archive and analyse. 0 = number of cores.
  size_t workers = 0;

  // udp: and max_message_bytes fill every UDP listener's options
  // (receiver/udp_listener.h: the defaults live there). allow, rate_limit
  // and alerts are per listener (listen:), set by the server.
  receiver::UdpListenerOptions udp;
  // tcp: (max_connections, max_connections_per_source,
  // first_frame_timeout_secs), max_message_bytes, stop_timeout_secs and
  // tls.handshake_timeout_secs fill every stream listener's options (tcp,
  // tls, relp, relp+tls; receiver/stream_listener.h and
  // connection_limits.h: the defaults live there). stop_timeout_secs also
  // bounds the workers' retries of a blocked archive at a stop. allow,
  // rate_limit and alerts are per listener, set by the server.
  receiver::StreamListenerOptions stream;
  // queue: memory of the batches waiting per worker (message bytes plus
  // ~100 bytes each of bookkeeping) before TCP and RELP stop reading and UDP
  // drops (counted). Bounds the pipeline's memory. 8 MiB is ~25,000 messages
  // of 256 B, tens of milliseconds of a worker's work: enough to keep it
  // busy while TCP is paused, and more only raises peak RSS (64 MiB made it
  // 190-250 MiB under a TCP flood with no gain in rate).
  size_t queue_max_bytes_per_worker = 8 << 20;

  // metrics: listen address of the Prometheus endpoint; empty = disabled.
  // metrics.max_host_series (the cap on per-host series) fills
  // heartbeat.options.max_host_metrics and archive_retention.max_host_series
  // (default kDefaultMaxHostSeries, common/metrics.h).
  std::string metrics_listen = "127.0.0.1:9514";

  // parser: offset assumed for RFC 3164 timestamps without a zone.
  // "local" (the log host's zone, as rsyslog does) or "+09:00" / "UTC".
  std::string parser_timezone = "local";
  // parser.timezones: per-host / per-sender-network zones for RFC 3164
  // senders writing in another zone (receiver/zone_map.h); checked (zone
  // files read, networks parsed) when the config is read.
  std::vector<receiver::ZoneRuleSpec> parser_timezones;

  HeartbeatConfig heartbeat;
  // tls: certificates for tls:// (RFC 5425) and relp+tls:// listeners
  // (receiver/tls_context.h); tls.handshake_timeout_secs is
  // stream.handshake_timeout_secs.
  receiver::TlsOptions tls;
  CorrelationConfig correlation;
};

// The config used when no --config is given: loopback listeners on 5514,
// archive under ./var/archive, alerts on stdout.
std::string_view EmbeddedDefaultConfig();

// Parses and validates. `source` names the file in error messages.
StatusOr<Config> ParseConfig(std::string_view yaml_text, std::string_view source);
// Reads `path` and parses it.
StatusOr<Config> LoadConfigFile(const std::string& path);

// For the console commands (status, hosts, alerts, report), which need only
// alerts.file, heartbeat.state_dir and archive.dir (the control socket, the
// alert file, the state files): the file as LoadConfigFile reads it; or,
// when the daemon would refuse it for another key (an admin's edit in
// progress while the daemon runs on the config it loaded), a Config with
// those three keys as written and every other key at its default, and the
// daemon's error in *warning. Still an error: a YAML syntax error, an error
// in one of the three keys or their sections given twice, and an unknown
// key where it may be one of them misspelt (at the top level, or in a
// section that lacks its key: "alerts: {fiel: ...}").
StatusOr<Config> LoadConsoleConfig(const std::string& path, std::string* warning);

// The top-level sections (listen, archive, heartbeat, ...) whose content
// differs between the running config's text and the file's now, besides
// rules: (which SIGHUP applies): edits that take effect at a restart. Empty
// when either text is not a YAML mapping.
std::vector<std::string> SectionsNeedingRestart(std::string_view running, std::string_view file);

// The number of worker threads: `workers:`, or the number of cores when 0.
size_t WorkerThreads(const Config& config);

// Where the heartbeat state lives: heartbeat.state_dir, or beside the hosts'
// folders in <archive.dir>/.state (a host can never be named ".state": the
// archive refuses leading dots, so they cannot collide).
std::string HeartbeatStateDir(const Config& config);

// A listener on port 0 gets a port the kernel picks, which no sender can
// know: an error naming the file, line and key, which check-config prints
// as a warning. The daemon accepts port 0 (it logs the port it got, which
// is how tests and ad-hoc runs use it).
Status CheckListenPorts(const Config& config);

// Resolves parser_timezone into seconds east of UTC at `unix_secs`.
StatusOr<int> ResolveUtcOffsetSecs(const std::string& tz, int64_t unix_secs);

}  // namespace konseki::app

#endif  // KONSEKI_APP_CONFIG_H_
