#include "app/server.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "app/console/alert_log.h"
#include "app/file_identity.h"
#include "app/privileges.h"
#include "common/log.h"
#include "common/make_dirs.h"
#include "common/thread_name.h"
#include "common/usable_cpus.h"
#include "matchers/rule_loader.h"
#include "outputs/archive.h"

namespace konseki::app {
namespace {

std::string Version() { return KONSEKI_VERSION; }

// The tracker's options: the heartbeat: section as parsed, with the state
// folder resolved.
matchers::HeartbeatOptions HeartbeatOptionsFromConfig(const Config& c) {
  matchers::HeartbeatOptions o = c.heartbeat.options;
  o.state_dir = HeartbeatStateDir(c);
  return o;
}

// The key that names the heartbeat state folder in errors.
const char* HeartbeatStateKey(const Config& c) {
  return c.heartbeat.options.state_dir.empty() ? "archive.dir" : "heartbeat.state_dir";
}

// `path` made absolute (the lock file names the holder's config for a
// refusal read from another working directory); as given when that fails.
std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

// Whether two existing paths name one folder (one locks it once: flock
// refuses a second open of the lock file, even in the same process).
bool SameFolder(const std::string& a, const std::string& b) {
  std::error_code ec;
  return std::filesystem::equivalent(a, b, ec);
}

// st with `where` ("konseki.yaml:12: key 'archive.dir'") in front.
Status At(const std::string& where, const Status& st) {
  return Status(st.code(), where + ": " + st.message());
}

// The config key a TlsContext::Create error is about, to name its line:
// the messages start with the key ("tls.key_file /x.key: No such file or
// directory", "tls.ca_file ...: not a regular file"); anything else is
// about the certificate.
std::string TlsErrorKey(const Status& st) {
  for (const char* key : {"tls.key_file", "tls.ca_file", "tls.permitted_peers"}) {
    if (st.message().starts_with(key)) return key;
  }
  return "tls.cert_file";
}

bool UsesTls(const Config& c) {
  for (const receiver::ListenerSpec& spec : c.listen) {
    if (receiver::UsesTls(spec.address.transport)) return true;
  }
  return false;
}

// Every rule's match counter and the alert counter of each sign that can
// raise an alert (alerting rules and correlations; an input-only rule's sign
// raises none) exist at 0 from the start (and after a reload), so the first
// alert shows in increase().
void RegisterRuleSeries(const LoadedRules& loaded, MetricsRegistry& m) {
  auto alerts = [&m](const std::string& sign, Severity severity) {
    m.GetCounter("konseki_alerts_total", "Alerts raised, by sign and severity.",
                 {{"sign", sign}, {"severity", SeverityName(severity)}});
  };
  for (const matchers::Rule& r : loaded.rules->rules()) {
    m.GetCounter("konseki_rule_matches_total", "Messages matched, per rule.", {{"rule", r.id}});
    if (r.alert) alerts(r.sign, r.severity);
  }
  for (const matchers::Correlation& c : loaded.correlations->correlations) {
    alerts(c.sign, c.severity);
  }
}

}  // namespace

Status CheckTlsFiles(const Config& config, std::string* warning) {
  if (!UsesTls(config)) return Status::Ok();
  auto ctx = receiver::TlsContext::Create(config.tls);
  if (!ctx.ok()) return At(config.Where(TlsErrorKey(ctx.status())), ctx.status());
  bool unusable = false;
  const std::string problem = receiver::TlsContext::DescribeValidity(
      (*ctx)->validity(), static_cast<int64_t>(time(nullptr)), Server::kTlsWarnSecs, &unusable);
  if (warning != nullptr && !problem.empty()) {
    *warning =
        config.Where("tls.cert_file") + ": tls.cert_file " + config.tls.cert_file + " " + problem;
  }
  return Status::Ok();
}

std::vector<std::string> UnknownSinkSigns(const Config& config, const LoadedRules& loaded) {
  std::set<std::string, std::less<>> known;
  for (const matchers::Rule& r : loaded.rules->rules()) known.insert(r.sign);
  for (const matchers::Correlation& c : loaded.correlations->correlations) known.insert(c.sign);
  const auto own = [](std::string_view s) {
    for (std::string_view p :
         {"konseki.", "receiver.", "host.", "heartbeat.", "archive.", "alert."}) {
      if (s.substr(0, p.size()) == p) return true;
    }
    return false;
  };
  const auto raised = [&](const std::string& s) {
    if (own(s) || s == "log.gap") return true;
    if (s.size() >= 2 && s.compare(s.size() - 2, 2, ".*") == 0) {
      const std::string_view prefix = std::string_view(s).substr(0, s.size() - 1);  // "ssh."
      auto it = known.lower_bound(prefix);
      return it != known.end() && std::string_view(*it).substr(0, prefix.size()) == prefix;
    }
    return known.count(s) > 0;
  };
  std::vector<std::string> out;
  const auto check = [&](const char* kind, size_t i, const outputs::FilteredSinkOptions& f) {
    for (const std::string& s : f.signs) {
      if (raised(s)) continue;
      out.push_back("alerts." + std::string(kind) + "[" + std::to_string(i) + "].signs: '" + s +
                    "' is raised by no loaded rule or correlation, nor by konseki itself: this "
                    "entry never passes an alert");
    }
  };
  for (size_t i = 0; i < config.alerts_syslog.size(); ++i) {
    check("syslog", i, config.alerts_syslog[i].filter);
  }
  for (size_t i = 0; i < config.alerts_webhook.size(); ++i) {
    check("webhook", i, config.alerts_webhook[i].filter);
  }
  for (size_t i = 0; i < config.alerts_exec.size(); ++i) {
    check("exec", i, config.alerts_exec[i].filter);
  }
  return out;
}

StatusOr<LoadedRules> LoadRulesAndCorrelations(const std::string& dir,
                                               const matchers::RuleOverrides& overrides,
                                               matchers::HsCompileIn where,
                                               matchers::HsCache* cache) {
  StatusOr<matchers::AlertIgnore> ignore =
      matchers::AlertIgnore::Create(overrides.ignore_sources, overrides.ignore_users);
  if (!ignore.ok()) return Status::InvalidArgument("rules.ignore: " + ignore.status().message());
  auto pack = matchers::LoadRulePackSet(dir.empty() ? matchers::DefaultRulesDir() : dir, overrides);
  if (!pack.ok()) return pack.status();
  // The examples are check-rules' (app/rule_tool); the server would keep
  // ~4,000 lines of them for good (1.4 MiB with the bundled packs).
  for (matchers::Rule& r : pack->rules) {
    std::vector<matchers::RuleExample>().swap(r.examples_match);
    std::vector<matchers::RuleExample>().swap(r.examples_no_match);
  }
  for (matchers::Correlation& c : pack->correlations) {
    std::vector<matchers::CorrelationExample>().swap(c.examples);
  }
  // The rules' vector grew by push_back while the packs were read (2,048
  // slots of 792 bytes for 1,128 rules): kept for the daemon's life.
  pack->rules.shrink_to_fit();
  // And give the examples, the YAML trees and the old vector back now, not
  // at Start: the start-up peak is reached while the compiled database
  // arrives (the cache file's bytes and the deserialized copy, ~4.7 MiB
  // each, live together), on top of what is resident here.
  malloc_trim(0);
  auto set =
      matchers::RuleSet::Compile(std::move(pack->rules), std::move(ignore).value(), where, cache);
  if (!set.ok()) return set.status();
  pack->rules.clear();
  LoadedRules out;
  out.rules = std::move(set).value();
  out.correlations = std::make_shared<const matchers::RulePack>(std::move(pack).value());
  return out;
}

std::string RulesCacheDir(const Config& config) {
  if (const char* env = std::getenv("CACHE_DIRECTORY"); env != nullptr && *env != '\0') {
    const std::string_view dirs(env);
    return std::string(dirs.substr(0, dirs.find(':')));
  }
  return HeartbeatStateDir(config) + "/cache";
}

StatusOr<std::shared_ptr<const matchers::RuleSet>> LoadRules(
    const std::string& dir, const matchers::RuleOverrides& overrides) {
  auto loaded = LoadRulesAndCorrelations(dir, overrides);
  if (!loaded.ok()) return loaded.status();
  return std::move(loaded->rules);
}

Server::Server(const Config& config, const Clock& clock)
    : config_(config),
      rules_dir_(config.rules_dir),
      rule_overrides_(config.rule_overrides),
      clock_(clock) {}

Server::~Server() { Stop(); }

StatusOr<std::unique_ptr<Server>> Server::Create(const Config& config, const Clock& clock) {
  std::unique_ptr<Server> s(new Server(config, clock));
  if (Status st = s->Init(); !st.ok()) return st;
  return s;
}

Status Server::EnsureTlsContext() {
  if (tls_context_) return Status::Ok();
  auto ctx = receiver::TlsContext::Create(config_.tls);
  if (!ctx.ok()) return At(config_.Where(TlsErrorKey(ctx.status())), ctx.status());
  tls_context_ = std::move(ctx).value();
  // Registered now, not at the first Tick: a scrape right after the daemon
  // is ready has it (an absent() alert rule must not flap on restarts).
  SetTlsExpiryGauge(tls_context_->validity());
  return Status::Ok();
}

void Server::SetTlsExpiryGauge(const receiver::TlsContext::Validity& v) {
  if (tls_not_after_ == nullptr) {
    tls_not_after_ = metrics_.GetGauge(
        "konseki_tls_certificate_expiry_timestamp_seconds",
        "Unix time at which the TLS server certificate in use (tls.cert_file) expires.");
  }
  tls_not_after_->Set(static_cast<double>(v.not_after));
}

Status Server::Init() {
  {
    // Before anything is written (and before the rules are compiled: fail
    // fast): one konseki per archive. Taken as the run-as user, so that the
    // lock file belongs to it; the lock stays valid across the drop.
    auto ids = ResolveRunAs(config_.Privileges());
    if (!ids.ok()) return ids.status();
    auto as_user = ScopedFileIdentity::Enter(*ids);
    if (!as_user.ok()) return as_user.status();
    const std::string who = "konseki daemon, config " + AbsolutePath(config_.source);
    auto lock = ArchiveLock::Acquire(config_.archive.dir, who);
    if (!lock.ok()) return At(config_.Where("archive.dir"), lock.status());
    archive_lock_ = std::move(lock).value();
    // And one konseki per state folder: a second daemon with its own
    // archive but this state folder would take over the control socket's
    // answers and the state files (app/archive_lock.h).
    // Only a holder is fatal here: a folder that cannot be made or a lock
    // file that cannot be opened means this konseki cannot write there
    // either (no sharing), and what needs the folder says so itself (the
    // heartbeat at start, the control socket as a warning, the spool at
    // the stop).
    const auto lock_state = [&](const std::string& dir, const char* key) {
      auto l = ArchiveLock::AcquireStateDir(dir, who, key);
      if (l.ok()) {
        state_locks_.push_back(std::move(l).value());
      } else if (l.status().code() == StatusCode::kUnavailable) {
        return At(config_.Where(key), l.status());
      } else {
        state_lock_warnings_.push_back(At(config_.Where(key), l.status()).message());
      }
      return Status::Ok();
    };
    const std::string hb_dir = HeartbeatStateDir(config_);
    RETURN_IF_ERROR(lock_state(hb_dir, HeartbeatStateKey(config_)));
    const std::string& corr_dir = config_.correlation.state_dir;
    if (config_.correlation.enabled && !corr_dir.empty() && !SameFolder(corr_dir, hb_dir)) {
      RETURN_IF_ERROR(lock_state(corr_dir, "correlation.state_dir"));
    }
  }
  auto offset = ResolveUtcOffsetSecs(
      config_.parser_timezone,
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count());
  if (!offset.ok()) return offset.status();
  receiver::ParserOptions popts;
  popts.default_utc_offset_secs = *offset;
  if (config_.parser_timezone == "local") popts.local_zone = &local_zone_;
  if (!config_.parser_timezones.empty()) {
    auto zones = receiver::ZoneMap::Build(config_.parser_timezones);
    if (!zones.ok()) return zones.status();
    zone_map_ = std::move(zones).value();
    popts.zones = zone_map_.get();
  }
  parser_ = receiver::Parser(popts);

  metrics_.GetGauge("konseki_build_info", "konseki version (always 1).", {{"version", Version()}})
      ->Set(1);
  rules_loaded_ = metrics_.GetGauge("konseki_rules_loaded", "Rules in the live rule set.");
  rule_files_skipped_ =
      metrics_.GetCounter("konseki_rule_files_skipped_total",
                          "Rule pack entries (*.yaml, *.yml) a rule load (start or SIGHUP) "
                          "skipped because they are not regular files.");

  // What konseki creates must belong to the user it drops to (main calls
  // DropPrivileges right after Create): see app/file_identity.h. The rules
  // are read as that user too, as every SIGHUP will read them.
  auto ids = ResolveRunAs(config_.Privileges());
  if (!ids.ok()) return ids.status();
  StatusOr<LoadedRules> rules = Status::Internal("not loaded");
  {
    auto as_user = ScopedFileIdentity::Enter(*ids);
    if (!as_user.ok()) return as_user.status();
    rules = LoadCompiledRules(rules_dir_, rule_overrides_);
  }
  if (!rules.ok()) return rules.status();
  rules_loaded_->Set(static_cast<double>(rules->rules->rules().size()));
  rules_at_start_ = rules->rules->rules().size();
  correlations_at_start_ = config_.correlation.enabled && rules->correlations
                               ? rules->correlations->correlations.size()
                               : 0;
  RegisterRuleSeries(*rules, metrics_);
  process_metrics_ = ProcessMetrics::Register(metrics_);
  rules_.Set(std::move(rules->rules), std::move(rules->correlations));

  {
    auto as_user = ScopedFileIdentity::Enter(*ids);
    if (!as_user.ok()) return as_user.status();
    if (Status st = OpenOutputs(); !st.ok()) return st;
    // Created as the run-as user too: owner and group of the socket are the
    // daemon's, with no chown (the unit's bounding set has no CAP_CHOWN).
    BindControlSocket();
  }
  if (Status st = BindListeners(); !st.ok()) return st;
  if (!config_.metrics_listen.empty()) {
    auto ms = outputs::MetricsServer::Start(config_.metrics_listen, metrics_);
    if (!ms.ok()) return At(config_.Where("metrics.listen"), ms.status());
    metrics_server_ = std::move(ms).value();
  }
  return StartControl();
}

StatusOr<LoadedRules> Server::LoadCompiledRules(const std::string& dir,
                                                const matchers::RuleOverrides& overrides) {
  matchers::HsCache cache;
  cache.dir = RulesCacheDir(config_);
  const auto start = std::chrono::steady_clock::now();
  auto rules =
      LoadRulesAndCorrelations(dir, overrides, matchers::HsCompileIn::kChildProcess, &cache);
  if (!rules.ok()) return rules;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (cache.hit) {
    Log(LogLevel::kInfo, "rules: %zu rules, their compiled database read from %s (%.2f s)",
        rules->rules->rules().size(), cache.dir.c_str(), secs);
  } else {
    Log(LogLevel::kInfo, "rules: %zu rules compiled (%.2f s)", rules->rules->rules().size(), secs);
  }
  // A pack the admin put in the folder that is not a regular file (a FIFO,
  // a symlink to a device or to nothing) is not read: once per load, a log
  // line naming them all and the counter (prod23: skipped silently).
  if (const std::vector<std::string>& skipped = rules->correlations->skipped_files;
      !skipped.empty()) {
    std::string names;
    for (const std::string& f : skipped) names += (names.empty() ? "" : ", ") + f;
    Log(LogLevel::kWarning,
        "rules: %zu rule pack files skipped, not regular files (not loaded): %s", skipped.size(),
        names.c_str());
    if (rule_files_skipped_ != nullptr) rule_files_skipped_->Inc(skipped.size());
  }
  if (!cache.problem.empty() && cache.problem != rules_cache_problem_) {
    Log(LogLevel::kWarning, "rules: the cache of compiled rules is not used: %s",
        cache.problem.c_str());
  }
  rules_cache_problem_ = cache.problem;
  return rules;
}

Status Server::StartControl() {
  StatusSources src;
  src.config = &config_;
  src.metrics = &metrics_;
  src.queues = queues_.get();
  src.tally = alert_tally_.get();
  src.clock = &clock_;
  src.hosts = host_readers_;
  for (size_t i = 0; i < config_.listen.size() && i < bound_.size(); ++i) {
    src.listeners.emplace_back(config_.listen[i].address.ToString(), bound_[i]);
  }
  src.rules_dir = config_.rules_dir.empty() ? matchers::DefaultRulesDir() : config_.rules_dir;
  status_ = std::make_unique<StatusService>(std::move(src));
  return Status::Ok();
}

void Server::BindControlSocket() {
  // Without its socket konseki still receives, archives and alerts: the
  // console falls back to the files, so this is a warning, not a failure.
  // The handler runs only after Start(), when status_ exists.
  ControlSocketOptions copts;
  copts.path = ControlSocketPath(config_);
  auto cs =
      ControlSocket::Bind(copts, [this](std::string_view req) { return status_->Handle(req); });
  if (cs.ok()) {
    control_ = std::move(cs).value();
  } else {
    control_error_ = cs.status().message();
  }
}

std::vector<std::string> Server::StartupLines() const {
  std::vector<std::string> lines;
  lines.push_back("archive in " + config_.archive.dir +
                  " (sync: " + outputs::SyncPolicyName(config_.archive.sync) + ")");
  lines.push_back("alerts to " +
                  (config_.alerts_file.empty() ? std::string("no file") : config_.alerts_file) +
                  (config_.alerts_stdout ? " and stdout" : "") + ", " +
                  std::to_string(alerts_->notifying_sinks()) + " notifying sinks");
  lines.push_back(std::to_string(rules_at_start_) + " rules and " +
                  std::to_string(correlations_at_start_) + " correlations from " +
                  (config_.rules_dir.empty() ? matchers::DefaultRulesDir() : config_.rules_dir) +
                  (rule_overrides_.local_dir.empty() ? "" : " and " + rule_overrides_.local_dir));
  lines.push_back(std::string("state in ") + HeartbeatStateDir(config_) +
                  (config_.heartbeat.enabled ? " (heartbeat on, " : " (heartbeat off, ") +
                  std::to_string(workers_.size()) + " workers)");
  for (const std::string& w : state_lock_warnings_) {
    lines.push_back("warning: state folder not locked: " + w);
  }
  lines.push_back(control_ ? "control socket " + control_->path()
                           : "warning: no control socket (console commands read files only): " +
                                 control_error_);
  return lines;
}

Status Server::OpenAlerts() {
  outputs::AlertWriterOptions aopts;
  aopts.path = config_.alerts_file;
  aopts.to_stdout = config_.alerts_stdout;
  if (!aopts.path.empty()) {
    std::filesystem::path parent = std::filesystem::path(aopts.path).parent_path();
    if (!parent.empty()) {
      if (Status st = MakeDirs(parent.string(), 0750); !st.ok()) {
        return At(config_.Where("alerts.file"), st);
      }
    }
  }
  if (!aopts.path.empty()) {
    // Before the writer appends anything: what is there now was not counted
    // by this process. A file that cannot be read only loses the counts.
    auto history = console::AlertLog::Open(
        aopts.path, std::chrono::duration<double>(clock_.Now().time_since_epoch()).count() - 86400);
    if (history.ok()) {
      alert_history_ = std::move(history).value();
    } else if (history.status().code() != StatusCode::kNotFound) {
      Log(LogLevel::kWarning, "status will not count the alerts before this start: %s",
          history.status().ToString().c_str());
    }
  }
  auto writer = outputs::AlertWriter::Open(aopts, metrics_);
  if (!writer.ok()) return At(config_.Where("alerts.file"), writer.status());
  alert_writer_ = std::move(writer).value();
  alert_tally_ = std::make_unique<AlertTally>(*alert_writer_, clock_);
  auto fanout = AlertFanout::Create(config_, *alert_tally_, clock_, metrics_);
  if (!fanout.ok()) return fanout.status();
  alerts_ = std::move(fanout).value();
  return Status::Ok();
}

Status Server::OpenArchiveKeeping() {
  if (config_.archive_seal.enabled) {
    // Before any worker writes: recovery looks at the files as they are.
    outputs::SealerOptions so;
    so.archive_dir = config_.archive.dir;
    // The workers' archives report their writes: only those are sealed.
    archive_write_log_ = std::make_shared<outputs::ArchiveWriteLog>();
    so.write_log = archive_write_log_;
    auto sealer = outputs::Sealer::Open(so, clock_, metrics_, alerts_.get());
    if (!sealer.ok()) return At(config_.Where("archive.seal"), sealer.status());
    sealer_ = std::move(sealer).value();
  }
  outputs::RetentionOptions ro = config_.archive_retention;
  ro.dir = config_.archive.dir;
  keeper_ = std::make_unique<outputs::ArchiveKeeper>(ro, clock_, metrics_, *alerts_);
  return Status::Ok();
}

StatusOr<outputs::ArchiveOptions> Server::WorkerArchiveOptions(size_t workers,
                                                               const std::string& state_dir) {
  // dir, sync and sync_interval_secs as the config gave them.
  outputs::ArchiveOptions arch = config_.archive;
  // arch.max_open_files keeps its default: main checked that RLIMIT_NOFILE
  // holds that many per worker besides the connections (app/fd_budget.h).
  // Held lines that cannot be archived by the stop deadline are saved here
  // and archived at the next start (Archive::Spool).
  arch.spool_dir = state_dir + "/spool";
  arch.workers = workers;
  arch.write_log = archive_write_log_;  // null unless sealing
  // One buffer budget and one host-folder cap for all workers' archives.
  arch.budget = std::make_shared<outputs::ArchiveBudget>(config_.archive_budget);
  if (Status st = arch.budget->CountExistingHosts(arch.dir); !st.ok()) {
    return At(config_.Where("archive.dir"), st);
  }
  // Host folders retention removes give their slot back.
  if (keeper_) keeper_->SetHostBudget(arch.budget);
  return arch;
}

namespace {
std::string PendingFileName(size_t worker) {
  return "pending." + std::to_string(worker) + ".state";
}
}  // namespace

Status Server::AddWorker(size_t i, const outputs::ArchiveOptions& archive_options,
                         const matchers::HeartbeatOptions& hb, const std::string& corr_dir) {
  outputs::ArchiveOptions arch = archive_options;
  arch.worker = i;
  auto archive = outputs::Archive::Open(arch, clock_, metrics_);
  if (!archive.ok()) return At(config_.Where("archive.dir"), archive.status());
  if (const uint64_t loaded = (*archive)->spooled_messages_loaded(); loaded > 0) {
    Log(LogLevel::kInfo, "worker %zu: %llu messages from the spool in %s to archive", i,
        static_cast<unsigned long long>(loaded), arch.spool_dir.c_str());
  }
  for (const DamagedFile& d : (*archive)->damaged_spool_files()) {
    damaged_files_.emplace_back("spool", d);
  }
  std::unique_ptr<matchers::HeartbeatTracker> tracker;
  std::unique_ptr<HostGapSink> gaps;
  if (config_.heartbeat.enabled) {
    // host.silent also restarts the host's watch in its correlator.
    gaps = std::make_unique<HostGapSink>(*relay_silence_);
    tracker = std::make_unique<matchers::HeartbeatTracker>(hb, i, arch.workers, clock_, *gaps,
                                                           metrics_, &own_clock_);
    std::vector<DamagedFile> damaged;
    if (Status st = tracker->LoadState(&damaged); !st.ok()) {
      return At(config_.Where(HeartbeatStateKey(config_)),
                Status(st.code(), "heartbeat state in " + hb.state_dir + ": " + st.message() +
                                      " (move the file away to start with no state)"));
    }
    // Every tracker reads every file (keeping its own shard's hosts): the
    // first one reports.
    if (i == 0) {
      for (DamagedFile& d : damaged) damaged_files_.emplace_back("heartbeat", std::move(d));
    }
    host_readers_.push_back(tracker->Hosts());
  }
  WorkerOptions wopts;
  wopts.index = i;
  // konseki's own downtime, for the rules' own_downtime_severity: the
  // senders' lines about konseki being gone (rsyslog's suspended action).
  if (tracker != nullptr && tracker->previous_save() != TimePoint{}) {
    wopts.own_down_from = tracker->previous_save();
    wopts.own_down_until = tracker->started();
  }
  wopts.flush_each_batch = arch.sync == outputs::SyncPolicy::kBatch;
  wopts.sync_at_stop = arch.sync != outputs::SyncPolicy::kNone;
  // A blocked archive is retried this long after the listeners' drain
  // (stop_timeout_secs: one bound for both).
  wopts.stop_timeout = std::chrono::milliseconds(config_.stream.stop_timeout_ms);
  // One worker on one CPU: the TCP, TLS or RELP listener that closes a
  // batch processes it (no hand-off, no switch to the worker's thread and
  // back per batch; UDP's batches still go through the queue, app/router.h).
  // With more CPUs the hand-off lets reading and processing overlap; with
  // archive.sync: batch it lets the listener read while the worker waits
  // for its fsync.
  wopts.run_to_completion = arch.workers == 1 && UsableCpus() == 1 && !wopts.flush_each_batch;
  // The alerts waiting for an answer, kept over a crash: beside the
  // correlation state. The last worker also takes the files of workers a
  // smaller worker count no longer has.
  if (Status st = MakeDirs(corr_dir, 0750); !st.ok()) {
    Log(LogLevel::kError, "worker %zu: alerts waiting for an answer are not kept over a crash: %s",
        i, st.ToString().c_str());
  } else {
    wopts.pending_file = corr_dir + "/" + PendingFileName(i);
  }
  if (!wopts.pending_file.empty() && i + 1 == arch.workers) {
    for (size_t j = arch.workers; j < arch.workers + 256; ++j) {
      const std::string extra = corr_dir + "/" + PendingFileName(j);
      if (::access(extra.c_str(), F_OK) == 0) wopts.pending_extra.push_back(extra);
    }
  }
  auto correlator = MakeWorkerCorrelator(i, corr_dir, &wopts.correlation);
  if (!correlator.ok()) return correlator.status();
  WorkerDeps deps{queues_.get(), &parser_, &rules_,     alerts_.get(),
                  &metrics_,     &clock_,  fleet_.get()};
  workers_.push_back(std::make_unique<Worker>(wopts, deps, std::move(archive).value(),
                                              std::move(tracker), std::move(gaps),
                                              std::move(correlator).value()));
  if (wopts.run_to_completion) queues_->SetRunner(i, workers_.back().get());
  return Status::Ok();
}

Status Server::OpenOutputs() {
  RETURN_IF_ERROR(OpenAlerts());
  const size_t n = WorkerThreads(config_);
  queues_ = std::make_unique<BatchQueues>(n, config_.queue_max_bytes_per_worker, metrics_);
  RETURN_IF_ERROR(OpenArchiveKeeping());
  const matchers::HeartbeatOptions hb = HeartbeatOptionsFromConfig(config_);
  if (config_.heartbeat.enabled) {
    if (Status st = MakeDirs(hb.state_dir, 0750); !st.ok()) {
      return At(config_.Where(HeartbeatStateKey(config_)), st);
    }
  }
  auto arch = WorkerArchiveOptions(n, hb.state_dir);
  if (!arch.ok()) return arch.status();
  const std::string corr_dir =
      config_.correlation.state_dir.empty() ? hb.state_dir : config_.correlation.state_dir;
  RETURN_IF_ERROR(InitFleetCorrelator(corr_dir));
  if (config_.heartbeat.enabled) {
    RelaySilenceOptions ro;
    ro.same_sender_secs = hb.same_sender_secs;
    ro.host_addresses = config_.correlation.options.host_addresses;
    relay_silence_ = std::make_unique<RelaySilence>(ro, *alerts_, metrics_);
  }
  for (size_t i = 0; i < n; ++i) RETURN_IF_ERROR(AddWorker(i, *arch, hb, corr_dir));
  if (relay_silence_) relay_silence_->SetReaders(host_readers_);
  ReportDamagedFiles();
  return Status::Ok();
}

void Server::ReportDamagedFiles() {
  for (auto& [store, d] : damaged_files_) {
    if (d.moved_to.empty() && d.move_error.empty()) SetAside(&d, clock_.Now());
    const std::string where =
        d.moved_to.empty() ? "left in place: " + d.move_error : "moved to " + d.moved_to;
    Log(LogLevel::kError, "%s state file %s is damaged (%s); lost: %s; %s; starting with the rest",
        store.c_str(), d.path.c_str(), d.what.c_str(), d.lost.c_str(), where.c_str());
    metrics_
        .GetCounter("konseki_state_files_damaged_total",
                    "State files (correlation, heartbeat, spool) found damaged at start and "
                    "set aside, by store.",
                    {{"store", store}})
        ->Inc();
    Alert a = OwnAlert("konseki.state", "konseki.state_corrupt", Severity::kHigh);
    a.title = "Damaged " + store + " state file set aside at start; what could not be read is lost";
    a.fields.emplace_back("store", store);
    a.fields.emplace_back("file", d.path);
    a.fields.emplace_back("damage", d.what);
    a.fields.emplace_back("lost", d.lost);
    a.fields.emplace_back("moved_to", d.moved_to.empty() ? d.move_error : d.moved_to);
    alerts_->Emit(a);
  }
  damaged_files_.clear();
}

Status Server::BindListeners() {
  for (size_t id = 0; id < config_.listen.size(); ++id) {
    if (Status st = BindListener(id); !st.ok()) {
      const receiver::ListenerSpec& spec = config_.listen[id];
      std::string where = config_.source;
      if (spec.line > 0) where += ":" + std::to_string(spec.line);
      return At(where + ": listen " + spec.uri, st);
    }
  }
  return Status::Ok();
}

Status Server::BindListener(size_t id) {
  const receiver::ListenerSpec& spec = config_.listen[id];
  const ListenerCommon common{spec, static_cast<uint16_t>(id)};
  std::string note;
  // Every scheme but udp:// is a stream listener (its protocol follows the
  // scheme, receiver/stream_listener.h).
  StatusOr<std::unique_ptr<receiver::Listener>> l =
      spec.address.transport == receiver::Transport::kUdp ? BindUdp(common, &note)
                                                          : BindStream(common);
  if (!l.ok()) return l.status();
  receiver::ListenAddress bound = spec.address;
  bound.port = (*l)->port();
  bound_.push_back(bound.ToString() + note);
  ListenerSlot s;
  s.listener = std::move(l).value();
  s.router = std::make_unique<Router>(*queues_, parser_, s.listener->drops_when_full(),
                                      s.listener->ack_sink());
  listeners_.push_back(std::move(s));
  return Status::Ok();
}

StatusOr<std::unique_ptr<receiver::Listener>> Server::BindUdp(const ListenerCommon& common,
                                                              std::string* note) {
  receiver::UdpListenerOptions o = config_.udp;
  o.allow = common.spec.allow;
  o.rate_limit = common.spec.rate_limit;
  o.alerts = alerts_.get();
  auto l = receiver::UdpListener::Bind(common.spec.address, o, common.id, metrics_, clock_);
  if (!l.ok()) return l.status();
  *note = " (receive buffer " + std::to_string((*l)->granted_rcvbuf_bytes()) + " bytes)";
  return std::unique_ptr<receiver::Listener>(std::move(l).value());
}

StatusOr<std::unique_ptr<receiver::Listener>> Server::BindStream(const ListenerCommon& common) {
  receiver::StreamListenerOptions o = config_.stream;
  o.allow = common.spec.allow;
  o.rate_limit = common.spec.rate_limit;
  o.alerts = alerts_.get();
  std::unique_ptr<receiver::StreamTransport> transport;
  if (receiver::UsesTls(common.spec.address.transport)) {
    if (Status s = EnsureTlsContext(); !s.ok()) return s;
    transport = std::make_unique<receiver::TlsTransport>(*tls_context_, metrics_,
                                                         common.spec.address.ToString());
  }
  auto l = receiver::StreamListener::Bind(common.spec.address, o, common.id, metrics_, clock_,
                                          std::move(transport));
  if (!l.ok()) return l.status();
  return std::unique_ptr<receiver::Listener>(std::move(l).value());
}

Status Server::InitFleetCorrelator(const std::string& state_dir) {
  if (!config_.correlation.enabled) return Status::Ok();
  if (Status st = MakeDirs(state_dir, 0750); !st.ok()) {
    return At(config_.Where(config_.correlation.state_dir.empty() ? "archive.dir"
                                                                  : "correlation.state_dir"),
              st);
  }
  auto pack = rules_.correlations();
  const bool any_fleet = pack && std::any_of(pack->correlations.begin(), pack->correlations.end(),
                                             [](const matchers::Correlation& c) {
                                               return c.scope == matchers::KeyScope::kFleet;
                                             });
  if (!any_fleet) return Status::Ok();
  matchers::CorrelatorOptions o = config_.correlation.options;
  ParserZoneInto(&o);
  o.state_file = state_dir + "/correlation.fleet.state";
  fleet_ = std::make_unique<FleetCorrelator>(o, config_.correlation.fleet_queue_max, rules_,
                                             *alerts_, metrics_, clock_);
  std::vector<DamagedFile> damaged;
  RETURN_IF_ERROR(fleet_->Init(&damaged));
  for (DamagedFile& d : damaged) damaged_files_.emplace_back("correlation", std::move(d));
  return Status::Ok();
}

void Server::ParserZoneInto(matchers::CorrelatorOptions* o) const {
  // The hour correlations read is the parser's: a zoneless stamp reads back
  // as the wall time it was written with.
  o->local_zone = parser_.options().local_zone;
  o->utc_offset_secs = parser_.options().default_utc_offset_secs;
}

StatusOr<std::unique_ptr<matchers::Correlator>> Server::MakeWorkerCorrelator(
    size_t i, const std::string& state_dir, matchers::CorrelatorOptions* options) {
  auto pack = rules_.correlations();
  if (!config_.correlation.enabled || !pack) return std::unique_ptr<matchers::Correlator>();
  matchers::CorrelatorOptions& o = *options;
  o = config_.correlation.options;
  ParserZoneInto(&o);
  o.run_fleet = false;
  o.name = "worker" + std::to_string(i);
  // One file per worker (hosts are sharded by worker). Changing the number
  // of workers starts the host correlations afresh.
  o.state_file = state_dir + "/correlation." + std::to_string(i) + ".state";
  auto c = matchers::Correlator::Create(pack, o, metrics_);
  if (!c.ok()) return c.status();
  std::vector<DamagedFile> damaged;
  if (Status s = (*c)->LoadState(&damaged); !s.ok()) {
    return Status(s.code(), "correlation state: " + s.message());
  }
  for (DamagedFile& d : damaged) damaged_files_.emplace_back("correlation", std::move(d));
  return c;
}

void Server::Start() {
  if (started_) return;
  started_ = true;
  // Loading the rule packs (YAML, RE2; Hyperscan's compiler runs in a
  // child) frees memory that glibc keeps in the heap for reuse that never
  // comes: give it back before the threads start.
  malloc_trim(0);
  if (control_) control_->Start();
  if (fleet_) fleet_->Start();
  for (auto& w : workers_) w->Start();
  if (sealer_) sealer_->Start();
  keeper_->Start();
  for (ListenerSlot& s : listeners_) s.listener->Start(s.router.get());
  if (alert_history_) {
    alert_tally_->SetSeeding(true);
    seed_thread_ = std::thread([this] {
      SetThreadName("alert history");
      console::AlertFilter last_day;
      last_day.since =
          std::chrono::duration<double>(clock_.Now().time_since_epoch()).count() - 86400;
      size_t n = 0;
      alert_history_->ForEach(
          last_day,
          [&](const console::AlertRecord& a, std::string_view) {
            alert_tally_->Seed(a.time, a.severity);
            ++n;
          },
          &seed_stop_);
      alert_history_.reset();
      alert_tally_->SetSeeding(false);
      if (n > 0)
        Log(LogLevel::kInfo, "status counts %zu alerts of the last day from before this start", n);
    });
  }
}

Alert Server::OwnAlert(std::string rule, std::string sign, Severity severity) const {
  Alert a;
  a.time = a.received = clock_.Now();
  a.host = "konseki";
  a.rule = std::move(rule);
  a.sign = std::move(sign);
  a.severity = severity;
  return a;
}

void Server::EmitReloadFailure(const std::string& what, const std::string& sign,
                               const std::string& title, const std::string& error) {
  metrics_
      .GetCounter("konseki_reload_errors_total",
                  "SIGHUP reloads that failed and kept the previous version, by what.",
                  {{"what", what}})
      ->Inc();
  Alert a = OwnAlert("konseki.reload", sign, Severity::kHigh);
  a.title = title;
  a.fields.emplace_back("error", error);
  alerts_->Emit(a);
}

void Server::Reload() {
  for (auto& w : workers_) w->RequestReopen();
  if (Status st = alert_writer_->Reopen(); !st.ok()) {
    // The writer keeps its old descriptor: alerts go on into the old file,
    // and this alert is the first of them.
    EmitReloadFailure("alerts_file", "konseki.alerts_reopen_failed",
                      "Alert file could not be reopened; alerts go on into the previous file",
                      st.message());
    Log(LogLevel::kError, "cannot reopen the alert file, keeping the old one: %s",
        st.ToString().c_str());
  }
  if (tls_context_) {
    // Renewed certificates: new TLS connections get them, open ones keep theirs.
    if (Status st = tls_context_->Reload(); st.ok()) {
      Log(LogLevel::kInfo, "reloaded TLS certificate %s", config_.tls.cert_file.c_str());
      next_tls_check_ns_ = 0;  // the new one's dates, at the next Tick
    } else {
      EmitReloadFailure("tls", "konseki.tls_reload_failed",
                        "TLS certificate reload failed; the previous certificate stays in use",
                        st.message());
      Log(LogLevel::kError, "TLS reload failed, keeping the old certificate: %s",
          st.ToString().c_str());
    }
  }
  bool config_failed = false;
  auto rules = ReloadRules(&config_failed);
  if (!rules.ok() && config_failed) {
    // The file does not load at all (a typo in any section): say that, and
    // which key, rather than blame the rules.
    EmitReloadFailure("config", "konseki.config_invalid",
                      "Config reload failed: the config file does not load; the running config "
                      "and rules stay in force (a restart would fail the same way)",
                      rules.status().message());
    Log(LogLevel::kError,
        "config reload failed, keeping the running config and rules (a restart would fail "
        "too): %s",
        rules.status().message().c_str());
    // `status` shows this under Rules: say it was the config file.
    status_->NoteReload(false,
                        "config file (running config and rules kept): " + rules.status().message());
    return;
  }
  if (!rules.ok()) {
    EmitReloadFailure("rules", "konseki.rules_invalid",
                      "Rule reload failed; the previous rules stay in force",
                      rules.status().message());
    Log(LogLevel::kError, "rule reload failed, keeping the old rules: %s",
        rules.status().ToString().c_str());
    status_->NoteReload(false, rules.status().message());
    return;
  }
  status_->NoteReload(true, "");
  rules_loaded_->Set(static_cast<double>(rules->rules->rules().size()));
  RegisterRuleSeries(*rules, metrics_);
  const size_t rule_count = rules->rules->rules().size();
  const size_t correlation_count = rules->correlations->correlations.size();
  rules_.Set(std::move(rules->rules), std::move(rules->correlations));
  // Said once the new set is in force: a line sent after this is matched by
  // it (the log used to come first, and a line sent on seeing it could still
  // meet the old rules).
  Log(LogLevel::kInfo, "reloaded %zu rules, %zu correlations", rule_count, correlation_count);
  malloc_trim(0);  // the new compilation's garbage, as at Start
}

StatusOr<LoadedRules> Server::ReloadRules(bool* config_failed) {
  std::string dir = rules_dir_;
  matchers::RuleOverrides overrides = rule_overrides_;
  // The embedded default has no file to re-read; under chroot the file is
  // out of reach, so the section read at start stays.
  if (!config_.source.empty() && config_.source[0] != '<' && config_.chroot.empty()) {
    auto fresh = LoadConfigFile(config_.source);
    if (!fresh.ok()) {
      *config_failed = true;
      return fresh.status();
    }
    dir = fresh->rules_dir;
    overrides = fresh->rule_overrides;
    // SIGHUP applies rules: (and reopens files, reloads TLS): say which
    // other edits wait for a restart, instead of ignoring them silently.
    const std::vector<std::string> waiting = SectionsNeedingRestart(config_.text, fresh->text);
    if (!waiting.empty()) {
      std::string names;
      for (const std::string& k : waiting) names += (names.empty() ? "" : ", ") + k;
      Log(LogLevel::kWarning,
          "SIGHUP: %s changed in %s since the start: applied at the next restart "
          "(SIGHUP applies rules:, reopens the files and reloads the TLS certificate)",
          names.c_str(), config_.source.c_str());
    }
  }
  auto rules = LoadCompiledRules(dir, overrides);
  if (!rules.ok()) return rules.status();
  rules_dir_ = std::move(dir);
  rule_overrides_ = std::move(overrides);
  return rules;
}

void Server::Stop() {
  seed_stop_ = true;
  if (seed_thread_.joinable()) seed_thread_.join();
  if (control_) control_->Stop();
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Listeners first (their Stop flushes their router), then drain workers.
  // RELP's Stop only stops reading; its thread stays for the acks.
  // Stream listeners drain their connections at the same time.
  for (ListenerSlot& s : listeners_) s.listener->RequestStop();
  for (ListenerSlot& s : listeners_) s.listener->Stop();
  for (ListenerSlot& s : listeners_) s.router->Flush();
  for (auto& w : workers_) w->RequestStop();
  for (auto& w : workers_) w->Join();
  keeper_->Stop();
  // The archive is written out: seal all of it (nothing left unsealed).
  if (sealer_) {
    if (Status st = sealer_->Stop(); !st.ok()) {
      Log(LogLevel::kError, "final seal: %s", st.ToString().c_str());
    }
  }
  // The workers pushed their last fleet hits: drain them and save.
  if (fleet_) fleet_->Stop();
  // Every ack the workers will give is queued now: answer, serverclose, close.
  for (ListenerSlot& s : listeners_) s.listener->Shutdown();
  if (metrics_server_) metrics_server_->Stop();
}

void Server::CheckTlsCertificate() {
  const receiver::TlsContext::Validity v = tls_context_->validity();
  SetTlsExpiryGauge(v);
  const int64_t now_ns = clock_.Now().time_since_epoch().count();
  const int64_t now = now_ns / 1'000'000'000;
  bool unusable = false;
  const std::string problem =
      receiver::TlsContext::DescribeValidity(v, now, kTlsWarnSecs, &unusable);
  if (problem.empty()) return;
  if (tls_alerted_not_after_ == v.not_after && now_ns - tls_alerted_ns_ < 86400'000'000'000LL) {
    return;
  }
  tls_alerted_not_after_ = v.not_after;
  tls_alerted_ns_ = now_ns;
  Alert a =
      OwnAlert("konseki.tls",
               unusable ? "konseki.tls_certificate_expired" : "konseki.tls_certificate_expiring",
               unusable ? Severity::kHigh : Severity::kMedium);
  a.title = "TLS certificate " + config_.tls.cert_file + " " + problem;
  auto rfc3339 = [](int64_t t) { return FormatRfc3339Micros(TimePoint(std::chrono::seconds(t))); };
  a.fields = {{"cert_file", config_.tls.cert_file},
              {"subject", v.subject},
              {"not_before", rfc3339(v.not_before)},
              {"not_after", rfc3339(v.not_after)}};
  alerts_->Emit(a);
  Log(unusable ? LogLevel::kError : LogLevel::kWarning, "TLS certificate %s %s",
      config_.tls.cert_file.c_str(), problem.c_str());
}

void Server::CheckLosses() {
  std::map<std::string, uint64_t> totals;
  for (const MetricValue& m : metrics_.Snapshot("konseki_dropped_messages_total")) {
    if (m.name != "konseki_dropped_messages_total") continue;
    std::string stage, reason;
    for (const auto& [k, v] : m.labels) {
      if (k == "stage") stage = v;
      if (k == "reason") reason = v;
    }
    totals[stage + "." + reason] += static_cast<uint64_t>(m.value);
  }
  const LossWatch::Verdict v = loss_watch_.Note(totals, clock_.Now());
  if (!v.alert) return;
  Alert a = OwnAlert("konseki.loss", "konseki.messages_lost", Severity::kHigh);
  std::string causes;
  a.fields.emplace_back("messages", std::to_string(v.messages));
  for (const auto& [cause, n] : v.by_cause) {
    if (!causes.empty()) causes += ", ";
    causes += cause + " " + std::to_string(n);
    a.fields.emplace_back(cause, std::to_string(n));
  }
  if (v.since.count() > 0) {
    a.fields.emplace_back(
        "since_secs",
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(v.since).count()));
  }
  a.title = "konseki lost " + std::to_string(v.messages) + " messages (" + causes + ")";
  alerts_->Emit(a);
  Log(LogLevel::kWarning, "%s", a.title.c_str());
}

// The log host's own clock stepped: every receive time, day file and seal
// epoch follows it, and without this alert the only sign would be the
// hosts' clock jumps it fakes (now taken out: own_clock_ is the trackers').
void Server::CheckOwnClock() {
  own_clock_.Refresh();
  for (const ClockStepWatch::Step& step : own_clock_.TakeSteps()) {
    if (own_clock_steps_ == nullptr) {
      own_clock_steps_ = metrics_.GetCounter(
          "konseki_clock_steps_total",
          "Steps of the log host's own wall clock (CLOCK_REALTIME against CLOCK_BOOTTIME, "
          "more than 5 s between two readings): konseki.clock_jump.");
    }
    own_clock_steps_->Inc();
    const bool forward = step.jump_ns > 0;
    const int64_t secs = ((forward ? step.jump_ns : -step.jump_ns) + 500'000'000) / 1'000'000'000;
    const std::string before = FormatRfc3339Micros(TimePoint(Duration(step.wall_before_ns)));
    const std::string after = FormatRfc3339Micros(TimePoint(Duration(step.wall_after_ns)));
    Alert a = OwnAlert("konseki.clock", "konseki.clock_jump", Severity::kHigh);
    a.title = "the log host's own clock jumped " + std::string(forward ? "forward" : "back") +
              " by " + std::to_string(secs) + " s (from " + before + " to " + after +
              "): archive receive times, day files and seal epochs follow it; the hosts' "
              "clock-jump check discounts it";
    a.fields = {{"kind", forward ? "forward" : "back"},
                {"jump_secs", std::to_string(secs)},
                {"clock_before", before},
                {"clock_after", after}};
    alerts_->Emit(a);
    Log(LogLevel::kError, "%s", a.title.c_str());
  }
}

void Server::Tick() {
  alerts_->Tick();
  status_->Tick();
  CheckOwnClock();
  CheckLosses();
  if (tls_context_ && clock_.Now().time_since_epoch().count() >= next_tls_check_ns_) {
    next_tls_check_ns_ = clock_.Now().time_since_epoch().count() + 3600'000'000'000LL;
    CheckTlsCertificate();
  }
  // A drained backlog leaves its batches pooled, and glibc keeps the pages
  // of what it frees: when no worker has anything queued, free the pool's
  // excess and hand the pages back (unpinned udp in the ingest harness: a
  // run that peaked at 27 MiB ended at 22.3; see bench/RESULTS.md).
  if (queues_ && queues_->pooled_bytes() > queues_->pool_max_bytes()) {
    bool idle = true;
    for (size_t w = 0; w < queues_->num_workers(); ++w) idle = idle && queues_->Depth(w) == 0;
    if (idle && queues_->ShrinkPool() > 0) malloc_trim(0);
  }
}

uint64_t Server::lost_at_stop() const {
  uint64_t n = 0;
  for (const auto& w : workers_) n += w->lost_at_stop();
  return n;
}

std::vector<std::string> Server::BoundListeners() const { return bound_; }

}  // namespace konseki::app
