#include "app/server.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "app/file_identity.h"
#include "app/privileges.h"
#include "common/make_dirs.h"
#include "matchers/rule_loader.h"
#include "outputs/archive.h"

namespace konseki::app {
namespace {

std::string Version() { return KONSEKI_VERSION; }

// The tracker's options: the heartbeat: section as parsed, with the state
// folder resolved and the per-host series cap of metrics.max_host_series.
matchers::HeartbeatOptions HeartbeatOptionsFromConfig(const Config& c) {
  matchers::HeartbeatOptions o = c.heartbeat.options;
  o.state_dir = HeartbeatStateDir(c);
  o.max_host_metrics = c.metrics_max_host_series;
  return o;
}

// st with `where` ("konseki.yaml:12: key 'archive.dir'") in front.
Status At(const std::string& where, const Status& st) {
  return Status(st.code(), where + ": " + st.message());
}

receiver::TlsOptions TlsOptionsFromConfig(const TlsConfig& c) {
  receiver::TlsOptions t;
  t.cert_file = c.cert_file;
  t.key_file = c.key_file;
  t.ca_file = c.ca_file;
  t.mutual = c.mutual;
  t.permitted_peers = c.permitted_peers;
  return t;
}

bool UsesTls(const Config& c) {
  for (const ListenConfig& lc : c.listen) {
    auto addr = receiver::ListenAddress::Parse(lc.uri);
    if (addr.ok() && (addr->transport == receiver::Transport::kTls ||
                      addr->transport == receiver::Transport::kRelpTls)) {
      return true;
    }
  }
  return false;
}

}  // namespace

Status CheckTlsFiles(const Config& config) {
  if (!UsesTls(config)) return Status::Ok();
  auto ctx = receiver::TlsContext::Create(TlsOptionsFromConfig(config.tls));
  if (!ctx.ok()) return At(config.Where("tls.cert_file"), ctx.status());
  return Status::Ok();
}

StatusOr<LoadedRules> LoadRulesAndCorrelations(const std::string& dir) {
  std::string d = dir.empty() ? matchers::DefaultRulesDir() : dir;
  auto pack = matchers::LoadPackDir(d);
  if (!pack.ok()) return pack.status();
  auto set = matchers::RuleSet::Compile(std::move(pack->rules));
  if (!set.ok()) return set.status();
  pack->rules.clear();
  LoadedRules out;
  out.rules = std::move(set).value();
  out.correlations = std::make_shared<const matchers::RulePack>(std::move(pack).value());
  return out;
}

StatusOr<std::shared_ptr<const matchers::RuleSet>> LoadRules(const std::string& dir) {
  auto loaded = LoadRulesAndCorrelations(dir);
  if (!loaded.ok()) return loaded.status();
  return std::move(loaded->rules);
}

Server::Server(const Config& config, const Clock& clock) : config_(config), clock_(clock) {}

Server::~Server() { Stop(); }

StatusOr<std::unique_ptr<Server>> Server::Create(const Config& config, const Clock& clock) {
  std::unique_ptr<Server> s(new Server(config, clock));
  if (Status st = s->Init(); !st.ok()) return st;
  return s;
}

Status Server::EnsureTlsContext() {
  if (tls_context_) return Status::Ok();
  auto ctx = receiver::TlsContext::Create(TlsOptionsFromConfig(config_.tls));
  if (!ctx.ok()) return At(config_.Where("tls.cert_file"), ctx.status());
  tls_context_ = std::move(ctx).value();
  return Status::Ok();
}

Status Server::Init() {
  auto offset = ResolveUtcOffsetSecs(
      config_.parser_timezone,
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count());
  if (!offset.ok()) return offset.status();
  receiver::ParserOptions popts;
  popts.default_utc_offset_secs = *offset;
  parser_ = receiver::Parser(popts);

  metrics_.GetGauge("konseki_build_info", "konseki version (always 1).", {{"version", Version()}})
      ->Set(1);
  rules_loaded_ = metrics_.GetGauge("konseki_rules_loaded", "Rules in the live rule set.");

  auto rules = LoadRulesAndCorrelations(config_.rules_dir);
  if (!rules.ok()) return rules.status();
  rules_loaded_->Set(static_cast<double>(rules->rules->rules().size()));
  rules_.Set(std::move(rules->rules), std::move(rules->correlations));

  {
    // What konseki creates must belong to the user it drops to (main calls
    // DropPrivileges right after Create): see app/file_identity.h.
    auto ids = ResolveRunAs(
        PrivilegeOptions{config_.user, config_.group, config_.chroot, config_.allow_root});
    if (!ids.ok()) return ids.status();
    auto as_user = ScopedFileIdentity::Enter(*ids);
    if (!as_user.ok()) return as_user.status();
    if (Status st = OpenOutputs(); !st.ok()) return st;
  }
  if (Status st = BindListeners(); !st.ok()) return st;
  if (!config_.metrics_listen.empty()) {
    auto ms = outputs::MetricsServer::Start(config_.metrics_listen, metrics_);
    if (!ms.ok()) return At(config_.Where("metrics.listen"), ms.status());
    metrics_server_ = std::move(ms).value();
  }
  return Status::Ok();
}

Status Server::OpenOutputs() {
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
  auto writer = outputs::AlertWriter::Open(aopts, metrics_);
  if (!writer.ok()) return At(config_.Where("alerts.file"), writer.status());
  alert_writer_ = std::move(writer).value();
  auto fanout = AlertFanout::Create(config_, *alert_writer_, clock_, metrics_);
  if (!fanout.ok()) return fanout.status();
  alerts_ = std::move(fanout).value();

  const size_t n = WorkerThreads(config_);
  queues_ = std::make_unique<BatchQueues>(n, config_.queue_max_bytes_per_worker, metrics_);

  if (config_.archive_keep.seal) {
    // Before any worker writes: recovery looks at the files as they are.
    outputs::SealerOptions so;
    so.archive_dir = config_.archive_dir;
    auto sealer = outputs::Sealer::Open(so, clock_, metrics_);
    if (!sealer.ok()) return At(config_.Where("archive.seal"), sealer.status());
    sealer_ = std::move(sealer).value();
  }

  {
    outputs::RetentionOptions ro;
    ro.dir = config_.archive_dir;
    ro.compress_after_days = config_.archive_keep.compress_after_days;
    ro.retention_days = config_.archive_keep.retention_days;
    outputs::ParseLowSpace(config_.archive_keep.low_space, &ro.low_space_percent,
                           &ro.low_space_bytes);  // validated by the config
    ro.max_host_series = config_.metrics_max_host_series;
    keeper_ = std::make_unique<outputs::ArchiveKeeper>(ro, clock_, metrics_, *alerts_);
  }

  outputs::ArchiveOptions arch;
  arch.dir = config_.archive_dir;
  if (!outputs::ParseSyncPolicy(config_.archive_sync, &arch.sync)) {
    return Status::InvalidArgument("archive.sync: unknown policy " + config_.archive_sync);
  }
  arch.sync_interval_secs = std::max(1, static_cast<int>(config_.archive_sync_interval_secs));
  // arch.max_open_files keeps its default: main checked that RLIMIT_NOFILE
  // holds that many per worker besides the connections (app/fd_budget.h).

  const matchers::HeartbeatOptions hb = HeartbeatOptionsFromConfig(config_);
  const std::string state_key =
      config_.heartbeat.options.state_dir.empty() ? "archive.dir" : "heartbeat.state_dir";
  if (config_.heartbeat.enabled) {
    if (Status st = MakeDirs(hb.state_dir, 0750); !st.ok()) {
      return At(config_.Where(state_key), st);
    }
  }
  const std::string corr_dir =
      config_.correlation.state_dir.empty() ? hb.state_dir : config_.correlation.state_dir;
  if (Status st = InitFleetCorrelator(corr_dir); !st.ok()) return st;
  for (size_t i = 0; i < n; ++i) {
    auto archive = outputs::Archive::Open(arch, clock_, metrics_);
    if (!archive.ok()) return At(config_.Where("archive.dir"), archive.status());
    std::unique_ptr<matchers::HeartbeatTracker> tracker;
    std::unique_ptr<HostGapSink> gaps;
    if (config_.heartbeat.enabled) {
      // host.silent also restarts the host's watch in its correlator.
      gaps = std::make_unique<HostGapSink>(*alerts_);
      tracker = std::make_unique<matchers::HeartbeatTracker>(hb, i, n, clock_, *gaps, metrics_);
      if (Status st = tracker->LoadState(); !st.ok()) {
        return At(config_.Where(state_key),
                  Status(st.code(), "heartbeat state in " + hb.state_dir + ": " + st.message() +
                                        " (move the file away to start with no state)"));
      }
    }
    WorkerOptions wopts;
    wopts.index = i;
    wopts.flush_each_batch = arch.sync == outputs::SyncPolicy::kBatch;
    wopts.sync_at_stop = arch.sync != outputs::SyncPolicy::kNone;
    auto correlator = MakeWorkerCorrelator(i, corr_dir, &wopts.correlation);
    if (!correlator.ok()) return correlator.status();
    WorkerDeps deps{queues_.get(), &parser_, &rules_, alerts_.get(), &metrics_, &clock_,
                    fleet_.get()};
    workers_.push_back(std::make_unique<Worker>(wopts, deps, std::move(archive).value(),
                                                std::move(tracker), std::move(gaps),
                                                std::move(correlator).value()));
  }
  return Status::Ok();
}

Status Server::BindListeners() {
  for (size_t id = 0; id < config_.listen.size(); ++id) {
    if (Status st = BindListener(id); !st.ok()) {
      std::string where = config_.source;
      if (id < config_.listen_lines.size()) where += ":" + std::to_string(config_.listen_lines[id]);
      return At(where + ": listen " + config_.listen[id].uri, st);
    }
  }
  return Status::Ok();
}

Status Server::BindListener(size_t id) {
  const ListenConfig& lc = config_.listen[id];
  auto addr = receiver::ListenAddress::Parse(lc.uri);
  if (!addr.ok()) return addr.status();
  std::string name = addr->ToString();
  receiver::SenderAllowlist allow;
  if (!lc.allow.empty()) {
    auto a = receiver::SenderAllowlist::Parse(lc.allow);
    if (!a.ok()) return Status::InvalidArgument("listen " + lc.uri + ": " + a.status().message());
    allow = *a;
  }
  receiver::TokenBucketOptions rate;
  rate.messages_per_sec = lc.rate_limit_messages_per_sec;
  rate.burst = lc.rate_limit_burst;
  switch (addr->transport) {
    case receiver::Transport::kUdp: {
      receiver::UdpOptions o;
      o.rcvbuf_bytes = config_.udp_receive_buffer_bytes;
      o.max_message_bytes = config_.max_message_bytes;
      o.allow = allow;
      o.rate_limit = rate;
      o.alerts = alerts_.get();
      auto l = receiver::UdpListener::Bind(*addr, o, static_cast<uint16_t>(id), metrics_, clock_);
      if (!l.ok()) return l.status();
      receiver::ListenAddress bound = *addr;
      bound.port = (*l)->port();
      bound_.push_back(bound.ToString() + " (receive buffer " +
                       std::to_string((*l)->granted_rcvbuf_bytes()) + " bytes)");
      AddListener(std::move(l).value(), true, nullptr);
      break;
    }
    case receiver::Transport::kTcp:
    case receiver::Transport::kTls: {
      receiver::StreamListenerOptions o;
      o.max_message_bytes = config_.max_message_bytes;
      o.max_connections = config_.tcp_max_connections;
      o.limits = StreamLimits();
      if (config_.stop_timeout_secs) o.stop_timeout_ms = StopTimeoutMs();
      o.allow = allow;
      o.rate_limit = rate;
      o.alerts = alerts_.get();
      std::unique_ptr<receiver::StreamTransport> transport;
      if (addr->transport == receiver::Transport::kTls) {
        if (Status s = EnsureTlsContext(); !s.ok()) return s;
        o.handshake_timeout_secs =
            static_cast<int>(std::max(1.0, config_.tls.handshake_timeout_secs));
        transport = std::make_unique<receiver::TlsTransport>(*tls_context_, metrics_, name);
      }
      auto l = receiver::StreamListener::Bind(*addr, o, static_cast<uint16_t>(id), metrics_, clock_,
                                              std::move(transport));
      if (!l.ok()) return l.status();
      receiver::ListenAddress bound = *addr;
      bound.port = (*l)->port();
      bound_.push_back(bound.ToString());
      AddListener(std::move(l).value(), false, nullptr);
      break;
    }
    case receiver::Transport::kRelp:
    case receiver::Transport::kRelpTls: {
      receiver::RelpListenerOptions o;
      o.max_message_bytes = config_.max_message_bytes;
      o.max_connections = config_.tcp_max_connections;
      o.limits = StreamLimits();
      if (config_.stop_timeout_secs) o.shutdown_timeout_ms = StopTimeoutMs();
      o.allow = allow;
      o.rate_limit = rate;
      o.alerts = alerts_.get();
      std::unique_ptr<receiver::StreamTransport> transport;
      if (addr->transport == receiver::Transport::kRelpTls) {
        if (Status s = EnsureTlsContext(); !s.ok()) return s;
        o.handshake_timeout_secs =
            static_cast<int>(std::max(1.0, config_.tls.handshake_timeout_secs));
        transport = std::make_unique<receiver::TlsTransport>(*tls_context_, metrics_, name);
      }
      auto l = receiver::RelpListener::Bind(*addr, o, static_cast<uint16_t>(id), metrics_, clock_,
                                            std::move(transport));
      if (!l.ok()) return l.status();
      receiver::ListenAddress bound = *addr;
      bound.port = (*l)->port();
      bound_.push_back(bound.ToString());
      // Frames are acked back to the listener once archived.
      receiver::RelpListener* raw = l->get();
      AddListener(std::move(l).value(), false, raw);
      listeners_.back().shutdown = [raw] { raw->Shutdown(); };
      break;
    }
    default:
      return Status::InvalidArgument("listen: " + name +
                                     ": this transport is not available in this build yet");
  }
  return Status::Ok();
}

Status Server::InitFleetCorrelator(const std::string& state_dir) {
  if (!config_.correlation.enabled) return Status::Ok();
  if (Status st = MakeDirs(state_dir, 0750); !st.ok()) {
    return At(config_.Where(config_.correlation.state_dir.empty() ? "archive.dir"
                                                                   : "correlation.state_dir"),
              st);
  }
  auto pack = rules_.correlations();
  const bool any_fleet =
      pack && std::any_of(pack->correlations.begin(), pack->correlations.end(),
                          [](const matchers::Correlation& c) {
                            return c.scope == matchers::KeyScope::kFleet;
                          });
  if (!any_fleet) return Status::Ok();
  matchers::CorrelatorOptions o = config_.correlation.options;
  o.state_file = state_dir + "/correlation.fleet.state";
  fleet_ = std::make_unique<FleetCorrelator>(o, config_.correlation.fleet_queue_max, rules_,
                                             *alerts_, metrics_, clock_);
  return fleet_->Init();
}

StatusOr<std::unique_ptr<matchers::Correlator>> Server::MakeWorkerCorrelator(
    size_t i, const std::string& state_dir, matchers::CorrelatorOptions* options) {
  auto pack = rules_.correlations();
  if (!config_.correlation.enabled || !pack) return std::unique_ptr<matchers::Correlator>();
  matchers::CorrelatorOptions& o = *options;
  o = config_.correlation.options;
  o.run_fleet = false;
  o.name = "worker" + std::to_string(i);
  // One file per worker (hosts are sharded by worker). Changing the number
  // of workers starts the host correlations afresh.
  o.state_file = state_dir + "/correlation." + std::to_string(i) + ".state";
  auto c = matchers::Correlator::Create(*pack, o, metrics_);
  if (!c.ok()) return c.status();
  if (Status s = (*c)->LoadState(); !s.ok()) {
    return Status(s.code(), "correlation state: " + s.message() +
                                " (move the file away to start with no state)");
  }
  return c;
}

void Server::Start() {
  if (started_) return;
  started_ = true;
  if (fleet_) fleet_->Start();
  for (auto& w : workers_) w->Start();
  if (sealer_) sealer_->Start();
  keeper_->Start();
  for (ListenerSlot& s : listeners_) s.start(s.router.get());
}

void Server::EmitReloadFailure(const std::string& what, const std::string& sign,
                               const std::string& title, const std::string& error) {
  metrics_
      .GetCounter("konseki_reload_errors_total",
                  "SIGHUP reloads that failed and kept the previous version, by what.",
                  {{"what", what}})
      ->Inc();
  Alert a;
  a.time = a.received = clock_.Now();
  a.host = "konseki";
  a.rule = "konseki.reload";
  a.sign = sign;
  a.severity = Severity::kHigh;
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
    std::fprintf(stderr, "konseki: cannot reopen the alert file, keeping the old one: %s\n",
                 st.ToString().c_str());
  }
  if (tls_context_) {
    // Renewed certificates: new TLS connections get them, open ones keep theirs.
    if (Status st = tls_context_->Reload(); st.ok()) {
      std::fprintf(stderr, "konseki: reloaded TLS certificate %s\n", config_.tls.cert_file.c_str());
    } else {
      EmitReloadFailure("tls", "konseki.tls_reload_failed",
                        "TLS certificate reload failed; the previous certificate stays in use",
                        st.message());
      std::fprintf(stderr, "konseki: TLS reload failed, keeping the old certificate: %s\n",
                   st.ToString().c_str());
    }
  }
  auto rules = LoadRulesAndCorrelations(config_.rules_dir);
  if (!rules.ok()) {
    EmitReloadFailure("rules", "konseki.rules_invalid",
                      "Rule reload failed; the previous rules stay in force",
                      rules.status().message());
    std::fprintf(stderr, "konseki: rule reload failed, keeping the old rules: %s\n",
                 rules.status().ToString().c_str());
    return;
  }
  rules_loaded_->Set(static_cast<double>(rules->rules->rules().size()));
  std::fprintf(stderr, "konseki: reloaded %zu rules, %zu correlations\n",
               rules->rules->rules().size(), rules->correlations->correlations.size());
  rules_.Set(std::move(rules->rules), std::move(rules->correlations));
}

void Server::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Listeners first (their Stop flushes their router), then drain workers.
  // RELP's Stop only stops reading; its thread stays for the acks.
  // Stream listeners drain their connections at the same time.
  for (ListenerSlot& s : listeners_) {
    if (s.request_stop) s.request_stop();
  }
  for (ListenerSlot& s : listeners_) s.stop();
  for (ListenerSlot& s : listeners_) s.router->Flush();
  for (auto& w : workers_) w->RequestStop();
  for (auto& w : workers_) w->Join();
  keeper_->Stop();
  // The archive is written out: seal all of it (nothing left unsealed).
  if (sealer_) {
    if (Status st = sealer_->Stop(); !st.ok()) {
      std::fprintf(stderr, "konseki: final seal: %s\n", st.ToString().c_str());
    }
  }
  // The workers pushed their last fleet hits: drain them and save.
  if (fleet_) fleet_->Stop();
  // Every ack the workers will give is queued now: answer, serverclose, close.
  for (ListenerSlot& s : listeners_) {
    if (s.shutdown) s.shutdown();
  }
  if (metrics_server_) metrics_server_->Stop();
}

void Server::Tick() { alerts_->Tick(); }

template <typename L>
void Server::AddListener(std::unique_ptr<L> listener, bool drop_when_full, AckSink* acks) {
  L* raw = listener.get();
  ListenerSlot s;
  s.listener = std::shared_ptr<L>(std::move(listener));
  s.router = std::make_unique<Router>(*queues_, parser_, drop_when_full, acks);
  s.start = [raw](FrameSink* sink) { raw->Start(sink); };
  s.stop = [raw] { raw->Stop(); };
  if constexpr (requires { raw->RequestStop(); }) s.request_stop = [raw] { raw->RequestStop(); };
  listeners_.push_back(std::move(s));
}

receiver::ConnectionLimitOptions Server::StreamLimits() const {
  receiver::ConnectionLimitOptions o;
  if (config_.tcp_max_connections_per_source) {
    o.max_connections_per_source = *config_.tcp_max_connections_per_source;
  }
  if (config_.tcp_first_frame_timeout_secs) {
    o.first_frame_timeout_secs = *config_.tcp_first_frame_timeout_secs;
  }
  return o;
}

int Server::StopTimeoutMs() const {
  return static_cast<int>(std::lround(config_.stop_timeout_secs.value_or(0) * 1000));
}

std::vector<std::string> Server::BoundListeners() const { return bound_; }

}  // namespace konseki::app
