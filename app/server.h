// The running konseki: the only place that knows every stage. Create() takes
// the archive's lock and the state folder's (app/archive_lock.h: one konseki
// per archive.dir and per state folder; held until the Server is destroyed),
// binds the listeners, compiles the rules, opens the outputs; any failure there is fatal and
// precise. Started as root with `user:`, Create() creates and opens the outputs as that user
// (app/file_identity.h), so the caller can then DropPrivileges and still
// write them. Start() starts the threads; Stop() drains.
#ifndef KONSEKI_APP_SERVER_H_
#define KONSEKI_APP_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/alert_fanout.h"
#include "app/alert_tally.h"
#include "app/archive_lock.h"
#include "app/batch_queues.h"
#include "app/config.h"
#include "app/control_socket.h"
#include "app/fleet_correlator.h"
#include "app/loss_watch.h"
#include "app/process_metrics.h"
#include "app/relay_silence.h"
#include "app/router.h"
#include "app/rule_slot.h"
#include "app/status_service.h"
#include "app/worker.h"
#include "common/alert.h"
#include "common/clock.h"
#include "common/clock_step_watch.h"
#include "common/damaged_file.h"
#include "common/metrics.h"
#include "common/status.h"
#include "matchers/heartbeat_tracker.h"
#include "outputs/alert_writer.h"
#include "outputs/archive.h"
#include "outputs/metrics_server.h"
#include "outputs/retention.h"
#include "outputs/sealer.h"
#include "receiver/listener.h"
#include "receiver/parser.h"
#include "receiver/stream_listener.h"
#include "receiver/tls_connection.h"
#include "receiver/tls_context.h"
#include "receiver/udp_listener.h"
#include "receiver/zone_map.h"

namespace konseki::app {

namespace console {
class AlertLog;
}

// check-config: loads the TLS certificate, key and CA of `config` (when a
// tls:// or relp+tls:// listener needs them) as start-up will, binding
// nothing. Errors name the file and line of the tls: keys. *warning (when
// given) is set to what senders would object to in the certificate's dates
// (expired, not yet valid, or ending within Server::kTlsWarnSecs): konseki
// still starts with it (its other listeners work) and raises an alert.
Status CheckTlsFiles(const Config& config, std::string* warning = nullptr);

// Loads and compiles the rule packs of `dir` (empty = bundled packs) with
// the site's packs and overrides (rules.local_dir, disable, severity,
// ignore). Errors name the file and line (of the pack or the config).
StatusOr<std::shared_ptr<const matchers::RuleSet>> LoadRules(
    const std::string& dir, const matchers::RuleOverrides& overrides);

// The same, with the packs' correlations and sets (RulePack::rules empty:
// the RuleSet holds them), without the rules' and correlations' examples
// (check-rules reads those through LoadRulePackSet). The server passes HsCompileIn::kChildProcess
// (at start-up and on SIGHUP): Hyperscan's compiler then never runs in its
// address space; and its cache of compiled databases (RulesCacheDir).
struct LoadedRules {
  std::shared_ptr<const matchers::RuleSet> rules;
  std::shared_ptr<const matchers::RulePack> correlations;
};
StatusOr<LoadedRules> LoadRulesAndCorrelations(
    const std::string& dir, const matchers::RuleOverrides& overrides,
    matchers::HsCompileIn where = matchers::HsCompileIn::kThisProcess,
    matchers::HsCache* cache = nullptr);

// The server's folder of compiled rule databases (matchers::HsCache): the
// first folder of $CACHE_DIRECTORY when set (systemd's CacheDirectory=, the
// unit's /var/cache/konseki), else the state folder's cache/.
std::string RulesCacheDir(const Config& config);

// alerts.syslog / webhook / exec `signs:` entries that no loaded rule or
// correlation raises and that name none of konseki's own alerts (konseki.*,
// receiver.*, host.*, heartbeat.*, archive.*, alert.*): a typo there
// (`ssh.logins`) makes the sink silently never fire. One message per entry,
// for check-config's warnings.
std::vector<std::string> UnknownSinkSigns(const Config& config, const LoadedRules& loaded);

// Not thread-safe: driven by main's signal loop.
class Server {
 public:
  // konseki.tls_certificate_expiring is raised this long before the TLS
  // certificate's end (check-config warns from then on too).
  static constexpr int64_t kTlsWarnSecs = 14 * 86400;
  static StatusOr<std::unique_ptr<Server>> Create(const Config& config, const Clock& clock);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void Start();
  // SIGHUP: reopen archive and alert files; re-read the TLS certificate, key
  // and CA files (for new connections); re-read the `rules:` section of the
  // config file (other sections need a restart), recompile the rules (the
  // bundled and the site's packs) and swap them in. Whatever is invalid
  // keeps its old version and raises an alert.
  void Reload();
  // SIGTERM: stop accepting, drain every queued message into the archive.
  void Stop();
  // After Stop: messages lost because neither the archive nor the spool
  // could be written (each worker logged how many and why); non-zero means
  // the process should exit with a failure status.
  uint64_t lost_at_stop() const;
  // Periodic work of the control thread (about once a second).
  void Tick();

  // "udp://127.0.0.1:5514" as configured -> the address actually bound
  // (with the kernel's port when 0 was asked), for logs and tests.
  std::vector<std::string> BoundListeners() const;
  uint16_t metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }
  // What was loaded, one line each, for the start-up log: archive, alerts,
  // rules, state directory, control socket.
  std::vector<std::string> StartupLines() const;
  MetricsRegistry& metrics() { return metrics_; }

 private:
  // A high-severity alert from SIGHUP handling: what failed to reload.
  // Also counts it in konseki_reload_errors_total{what}.
  void EmitReloadFailure(const std::string& what, const std::string& sign, const std::string& title,
                         const std::string& error);
  Server(const Config& config, const Clock& clock);
  Status Init();
  // Alert writer and sinks, queues, archives, heartbeat trackers, workers.
  // Called as the run-as user (files it creates belong to that user).
  Status OpenOutputs();
  // The parts of OpenOutputs: the alert file and sinks; sealing and
  // retention; the archive options every worker shares; worker i.
  Status OpenAlerts();
  Status OpenArchiveKeeping();
  StatusOr<outputs::ArchiveOptions> WorkerArchiveOptions(size_t workers,
                                                         const std::string& state_dir);
  Status AddWorker(size_t i, const outputs::ArchiveOptions& archive,
                   const matchers::HeartbeatOptions& heartbeat, const std::string& correlation_dir);
  // The state files found damaged by OpenOutputs (correlation, heartbeat,
  // spool): each not yet set aside is (common/damaged_file.h); each gets one
  // log line, konseki_state_files_damaged_total{store} and a
  // konseki.state_corrupt alert (high). The daemon starts with what was
  // read intact: a receiver that refuses to start receives nothing.
  void ReportDamagedFiles();
  // Binds every configured listener (as root when started as root); errors
  // name the config file and line of the listener.
  Status BindListeners();
  Status BindListener(size_t id);
  // The fleet thread (when a fleet correlation exists) and worker i's host
  // correlator (nullptr when correlation is off), with their state loaded.
  Status InitFleetCorrelator(const std::string& state_dir);
  StatusOr<std::unique_ptr<matchers::Correlator>> MakeWorkerCorrelator(
      size_t i, const std::string& state_dir, matchers::CorrelatorOptions* options);
  // parser.timezone as the correlators read the local hour (after Init set
  // parser_).
  void ParserZoneInto(matchers::CorrelatorOptions* o) const;
  // Creates tls_context_ from config_.tls on first use (tls:// and relp+tls://
  // listeners share it).
  Status EnsureTlsContext();

  // The rules: section of the config; Reload re-reads the config file and
  // takes a new one only when the file parses (control thread only).
  // *config_failed: the error is the config file's (it does not load), not
  // the rules'.
  StatusOr<LoadedRules> ReloadRules(bool* config_failed);

  Config config_;
  // Held for the whole life of the server (declared first: released last,
  // after every member that writes the archive). app/archive_lock.h.
  std::unique_ptr<ArchiveLock> archive_lock_;
  // The state folders' locks (heartbeat.state_dir, and correlation.state_dir
  // when it is another folder), released last likewise.
  std::vector<std::unique_ptr<ArchiveLock>> state_locks_;
  // Why a state folder could not be locked (not held by another konseki:
  // it cannot be made or opened), for StartupLines.
  std::vector<std::string> state_lock_warnings_;
  // config_'s rules: section as of the last successful reload.
  std::string rules_dir_;
  matchers::RuleOverrides rule_overrides_;
  const Clock& clock_;
  // Steps of the log host's own wall clock (Tick: konseki.clock_jump); the
  // heartbeat trackers take them out of the receive times (outlives them).
  ClockStepWatch own_clock_{ClockStepWatch::SystemSource()};
  MetricsRegistry metrics_;
  // Damaged state files found while opening, by store ("correlation",
  // "heartbeat", "spool"); reported once by ReportDamagedFiles.
  std::vector<std::pair<std::string, DamagedFile>> damaged_files_;
  std::shared_ptr<ProcessMetrics> process_metrics_;  // process_* metrics
  receiver::LocalZone local_zone_;               // parser.timezone: local (declared before parser_)
  std::unique_ptr<receiver::ZoneMap> zone_map_;  // parser.timezones (before parser_)
  receiver::Parser parser_;
  RuleSlot rules_;
  std::unique_ptr<outputs::AlertWriter> alert_writer_;
  std::unique_ptr<AlertTally> alert_tally_;  // counts, then hands to alert_writer_
  // The alert file's last day as it was before this start, counted into
  // alert_tally_ by seed_thread_ (started by Start, joined by Stop) so that
  // `konseki status` agrees with `konseki alerts` after a restart; nullptr
  // when there is no file yet.
  std::unique_ptr<console::AlertLog> alert_history_;
  std::thread seed_thread_;
  std::atomic<bool> seed_stop_{false};
  std::unique_ptr<AlertFanout> alerts_;  // writer + notifying sinks; what everyone emits to
  std::unique_ptr<BatchQueues> queues_;
  std::unique_ptr<outputs::Sealer> sealer_;  // archive.seal; outlives the workers
  std::shared_ptr<outputs::ArchiveWriteLog>
      archive_write_log_;                           // archive.seal: writes, for sealer_
  std::unique_ptr<outputs::ArchiveKeeper> keeper_;  // compression, retention, free space
  // Fleet-scoped correlations (nullptr: none); outlives the workers that
  // push to it.
  std::unique_ptr<FleetCorrelator> fleet_;
  // Between the trackers and alerts_ (host.silent of hosts behind one
  // sender; nullptr without heartbeat); outlives the workers.
  std::unique_ptr<RelaySilence> relay_silence_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // One per configured listener, in config order. The listener's own thread
  // pushes into its router.
  struct ListenerSlot {
    std::unique_ptr<receiver::Listener> listener;  // declared first: outlives router
    std::unique_ptr<Router> router;
  };
  // What every listener kind takes from its listen: entry and the config.
  // config_.listen[id] and its id (the listener label of the pipeline).
  struct ListenerCommon {
    const receiver::ListenerSpec& spec;
    uint16_t id = 0;
  };
  // udp://; `note` says what receive buffer the kernel granted.
  StatusOr<std::unique_ptr<receiver::Listener>> BindUdp(const ListenerCommon& common,
                                                        std::string* note);
  // tcp://, tls://, relp:// and relp+tls:// (a TlsTransport for the TLS ones).
  StatusOr<std::unique_ptr<receiver::Listener>> BindStream(const ListenerCommon& common);
  std::unique_ptr<receiver::TlsContext> tls_context_;  // outlives the TLS listeners
  // The TLS certificate's dates (Tick, hourly; at once after a reload):
  // konseki.tls_certificate_expired (high) once it or a reload makes
  // verifying senders refuse it, konseki.tls_certificate_expiring (medium)
  // within kTlsWarnSecs of its end; each at most once a day per certificate.
  void CheckTlsCertificate();
  // Registers konseki_tls_certificate_expiry_timestamp_seconds (once) and
  // sets it to v.not_after.
  void SetTlsExpiryGauge(const receiver::TlsContext::Validity& v);
  // An alert of konseki's own (host "konseki"), at the clock's now.
  Alert OwnAlert(std::string rule, std::string sign, Severity severity) const;
  // Messages konseki lost (konseki_dropped_messages_total, any stage):
  // konseki.messages_lost (high) at the first loss, then at most one every
  // five minutes while it goes on (Tick).
  void CheckLosses();
  LossWatch loss_watch_;
  // A step of the log host's own wall clock (own_clock_, read every Tick
  // and by the trackers): konseki.clock_jump (high) with how far and which
  // way, and a log line, once per step.
  void CheckOwnClock();
  Counter* own_clock_steps_ = nullptr;
  int64_t next_tls_check_ns_ = 0;
  int64_t tls_alerted_not_after_ = 0;  // the certificate last alerted, and when
  int64_t tls_alerted_ns_ = 0;
  Gauge* tls_not_after_ = nullptr;
  std::vector<ListenerSlot> listeners_;
  std::vector<std::string> bound_;
  std::unique_ptr<outputs::MetricsServer> metrics_server_;
  Gauge* rules_loaded_ = nullptr;
  Counter* rule_files_skipped_ = nullptr;  // konseki_rule_files_skipped_total
  // The console's view (konseki status / hosts) and its socket; the socket
  // stops before anything it reads is destroyed.
  Status StartControl();
  // LoadRulesAndCorrelations in a child process, with the cache of compiled
  // databases (RulesCacheDir); logs how the database was had and, once per
  // new problem, why the cache is not used. Start-up and SIGHUP.
  StatusOr<LoadedRules> LoadCompiledRules(const std::string& dir,
                                          const matchers::RuleOverrides& overrides);
  void BindControlSocket();
  std::vector<matchers::HeartbeatTracker::HostsReader> host_readers_;  // one per tracker
  std::unique_ptr<StatusService> status_;
  std::unique_ptr<ControlSocket> control_;
  std::string control_error_;  // why there is no control socket
  size_t rules_at_start_ = 0;
  std::string rules_cache_problem_;  // the last cache problem logged (LoadCompiledRules)
  size_t correlations_at_start_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_SERVER_H_
