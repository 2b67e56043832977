// konseki's configuration: the YAML file an admin writes, validated whole at
// start-up. Unknown keys and bad values are errors naming file, line and key;
// nothing is silently ignored.
#ifndef KONSEKI_APP_CONFIG_H_
#define KONSEKI_APP_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "matchers/correlator.h"
#include "matchers/heartbeat_tracker.h"
#include "matchers/rule_packs.h"
#include "outputs/archive_budget.h"
#include "outputs/exec_sink.h"
#include "outputs/filtered_sink.h"
#include "outputs/syslog_forwarder.h"
#include "outputs/throttled_sink.h"
#include "outputs/webhook_sink.h"
#include "receiver/listener_spec.h"
#include "receiver/tls_context.h"

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

// archive.seal, archive.seal_epoch_secs, archive.compress_after_days,
// archive.retention_days, archive.low_space (docs/archive.md).
struct ArchiveKeepConfig {
  // Forward-secure sealing (needs `konseki seal-setup` first). Default off.
  bool seal = false;
  // Key evolution period; must divide 86400. Used by seal-setup only: a
  // running chain keeps the epoch length it was set up with.
  int64_t seal_epoch_secs = 900;
  // Closed day files older than this many days are zstd-compressed; 0 = never.
  int compress_after_days = 0;
  // Day files (and seal files) older than this many days are deleted; 0 = keep forever.
  int retention_days = 0;
  // Free space on the archive's file system below which konseki alerts:
  // "N%" of its size, or a size in bytes with an optional K/M/G/T (1024-based) suffix.
  std::string low_space = "5%";
};

// correlation: the correlation engine. The engine's own options (with their
// documented defaults) are filled directly, so the defaults live in one place
// (matchers/correlator.h):
//   correlation:
//     enabled: true
//     learning_days: 14                  -> options.learning_secs
//     session_min_observed_secs: 86400
//     system_accounts: [svc-app]
//     host_addresses: {web1: [192.0.2.10, "2001:db8::10"]}
//     max_keys: 250000
//     max_keys_per_rule: 100000
//     save_interval_secs: 300
//     state_dir: /var/lib/konseki        # default: the heartbeat's state dir
//     fleet_queue_max: 100000            # hits waiting for the fleet thread
//     overrides: {ssh.bruteforce.host: {window_secs: 300, count: 10}}
// network: sets and parameters of the network correlations, filled into
// CorrelationConfig::options (set_values, beacon_*, drop_severity):
//   network:
//     internal: [10.0.0.0/8, "fd00::/8"]        # replaces the default networks
//     no_outbound: [db1, "db-*", 10.0.5.0/24]   # must not reach the internet
//     drop_severity: {outbound: high, internal: medium, inbound: none}
//     beacon: {allow: [ntp.example.org, 192.0.2.123], score: 0.8,
//              min_connections: 20, window_secs: 86400, max_pairs: 100000}
// (docs/network.md).
struct CorrelationConfig {
  bool enabled = true;
  matchers::CorrelatorOptions options;
  std::string state_dir;
  size_t fleet_queue_max = 100000;
};

struct Config {
  std::string source;  // file name the config came from ("<embedded default>")
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
  std::string user;
  std::string group;
  std::string chroot;
  bool allow_root = false;

  // archive:
  std::string archive_dir = "./var/archive";
  std::string archive_sync = "interval";  // none | interval | batch
  double archive_sync_interval_secs = 1;
  ArchiveKeepConfig archive_keep;  // seal, compression, retention, low space
  // archive.max_hosts and archive.buffer_budget_bytes (defaults: the module's).
  outputs::ArchiveBudgetOptions archive_budget;

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

  // udp:
  int udp_receive_buffer_bytes = 4 << 20;
  // tcp: (every stream listener: tcp, tls, relp, relp+tls)
  size_t tcp_max_connections = 4096;
  // tcp.max_connections_per_source, tcp.first_frame_timeout_secs; unset = the
  // defaults of receiver::ConnectionLimitOptions (receiver/connection_limits.h).
  std::optional<size_t> tcp_max_connections_per_source;
  std::optional<int> tcp_first_frame_timeout_secs;
  // stop_timeout_secs: how long a stop (SIGTERM) may read the stream
  // listeners' open connections, and wait for RELP acks. Unset = the
  // listeners' default (StreamListenerOptions::stop_timeout_ms,
  // receiver/stream_listener.h).
  std::optional<double> stop_timeout_secs;
  // Messages longer than this are truncated (and counted), on every transport.
  // 64 KiB, the listeners' own default (receiver::Framer::kDefaultMaxMessageBytes).
  size_t max_message_bytes = 64 << 10;
  // queue: memory of the batches waiting per worker (message bytes plus
  // ~100 bytes each of bookkeeping) before TCP and RELP stop reading and UDP
  // drops (counted). Bounds the pipeline's memory. 8 MiB is ~25,000 messages
  // of 256 B, tens of milliseconds of a worker's work: enough to keep it
  // busy while TCP is paused, and more only raises peak RSS (64 MiB made it
  // 190-250 MiB under a TCP flood with no gain in rate).
  size_t queue_max_bytes_per_worker = 8 << 20;

  // metrics: listen address of the Prometheus endpoint; empty = disabled.
  std::string metrics_listen = "127.0.0.1:9514";
  // Cap on per-host metric series (konseki_host_last_seen_timestamp_seconds).
  size_t metrics_max_host_series = 1000;

  // parser: offset assumed for RFC 3164 timestamps without a zone.
  // "local" (the log host's zone, as rsyslog does) or "+09:00" / "UTC".
  std::string parser_timezone = "local";

  HeartbeatConfig heartbeat;
  // tls: certificates for tls:// (RFC 5425) and relp+tls:// listeners
  // (receiver/tls_context.h), and how long a handshake may take (default:
  // the stream listeners' own, StreamListenerOptions::handshake_timeout_secs).
  receiver::TlsOptions tls;
  std::optional<double> tls_handshake_timeout_secs;
  CorrelationConfig correlation;
};

// The config used when no --config is given: loopback listeners on 5514,
// archive under ./var/archive, alerts on stdout.
std::string_view EmbeddedDefaultConfig();

// Parses and validates. `source` names the file in error messages.
StatusOr<Config> ParseConfig(std::string_view yaml_text, std::string_view source);
// Reads `path` and parses it.
StatusOr<Config> LoadConfigFile(const std::string& path);

// The number of worker threads: `workers:`, or the number of cores when 0.
size_t WorkerThreads(const Config& config);

// Where the heartbeat state lives: heartbeat.state_dir, or beside the hosts'
// folders in <archive.dir>/.state (a host can never be named ".state": the
// archive refuses leading dots, so they cannot collide).
std::string HeartbeatStateDir(const Config& config);

// Resolves parser_timezone into seconds east of UTC at `unix_secs`.
StatusOr<int> ResolveUtcOffsetSecs(const std::string& tz, int64_t unix_secs);

}  // namespace konseki::app

#endif  // KONSEKI_APP_CONFIG_H_
