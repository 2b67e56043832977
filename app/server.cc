#include "app/server.h"

#include <cstdio>
#include <filesystem>
#include <thread>

#include "matchers/rule_loader.h"
#include "outputs/archive.h"

namespace konseki::app {
namespace {

std::string Version() { return KONSEKI_VERSION; }

size_t WorkerCount(const Config& c) {
  if (c.workers > 0) return c.workers;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

}  // namespace

StatusOr<std::shared_ptr<const matchers::RuleSet>> LoadRules(const std::string& dir) {
  std::string d = dir.empty() ? matchers::DefaultRulesDir() : dir;
  auto rules = matchers::LoadRuleDir(d);
  if (!rules.ok()) return rules.status();
  return matchers::RuleSet::Compile(std::move(rules).value());
}

Server::Server(const Config& config, const Clock& clock) : config_(config), clock_(clock) {}

Server::~Server() { Stop(); }

StatusOr<std::unique_ptr<Server>> Server::Create(const Config& config, const Clock& clock) {
  std::unique_ptr<Server> s(new Server(config, clock));
  if (Status st = s->Init(); !st.ok()) return st;
  return s;
}

Status Server::Init() {
  auto offset = ResolveUtcOffsetSecs(config_.parser_timezone,
                                     std::chrono::duration_cast<std::chrono::seconds>(
                                         clock_.Now().time_since_epoch())
                                         .count());
  if (!offset.ok()) return offset.status();
  receiver::ParserOptions popts;
  popts.default_utc_offset_secs = *offset;
  parser_ = receiver::Parser(popts);

  metrics_.GetGauge("konseki_build_info", "konseki version (always 1).", {{"version", Version()}})
      ->Set(1);
  rules_loaded_ = metrics_.GetGauge("konseki_rules_loaded", "Rules in the live rule set.");

  auto rules = LoadRules(config_.rules_dir);
  if (!rules.ok()) return rules.status();
  rules_loaded_->Set(static_cast<double>((*rules)->rules().size()));
  rules_.Set(std::move(rules).value());

  outputs::AlertWriterOptions aopts;
  aopts.file = config_.alerts_file;
  aopts.to_stdout = config_.alerts_stdout;
  auto writer = outputs::AlertWriter::Create(aopts, metrics_);
  if (!writer.ok()) return writer.status();
  alert_writer_ = std::move(writer).value();

  const size_t n = WorkerCount(config_);
  queues_ = std::make_unique<BatchQueues>(n, config_.queue_max_batches_per_worker, metrics_);

  outputs::ArchiveOptions arch;
  arch.dir = config_.archive_dir;
  if (!outputs::ParseSyncPolicy(config_.archive_sync, &arch.sync)) {
    return Status::InvalidArgument("archive.sync: unknown policy " + config_.archive_sync);
  }
  arch.sync_interval_secs = std::max(1, static_cast<int>(config_.archive_sync_interval_secs));

  HeartbeatOptionsFromConfig(config_, &hb);  // fills state dir etc.
  for (size_t i = 0; i < n; ++i) {
    auto archive = outputs::Archive::Open(arch, clock_, metrics_);
    if (!archive.ok()) return archive.status();
    std::unique_ptr<matchers::HeartbeatTracker> tracker;
    WorkerOptions wopts;
    wopts.index = i;
    wopts.flush_each_batch = arch.sync == outputs::SyncPolicy::kBatch;
    WorkerDeps deps{queues_.get(), &parser_, &rules_, alert_writer_.get(), &metrics_, &clock_};
    workers_.push_back(std::make_unique<Worker>(wopts, deps, std::move(archive).value(),
                                                std::move(tracker)));
  }

  for (size_t id = 0; id < config_.listen.size(); ++id) {
    auto addr = receiver::ListenAddress::Parse(config_.listen[id]);
    if (!addr.ok()) return addr.status();
    std::string name = addr->ToString();
    switch (addr->transport) {
      case receiver::Transport::kUdp: {
        receiver::UdpOptions o;
        o.receive_buffer_bytes = config_.udp_receive_buffer_bytes;
        o.max_message_bytes = config_.max_message_bytes;
        auto l = receiver::UdpListener::Bind(*addr, o, static_cast<uint16_t>(id), metrics_, clock_);
        if (!l.ok()) return l.status();
        receiver::ListenAddress bound = *addr;
        bound.port = (*l)->port();
        bound_.push_back(bound.ToString() + " (receive buffer " +
                         std::to_string((*l)->granted_rcvbuf_bytes()) + " bytes)");
        udp_.push_back(std::move(l).value());
        routers_.push_back(std::make_unique<Router>(*queues_, parser_, true, name, metrics_));
        break;
      }
      case receiver::Transport::kTcp: {
        receiver::TcpOptions o;
        o.max_message_bytes = config_.max_message_bytes;
        o.max_connections = config_.tcp_max_connections;
        auto l = receiver::TcpListener::Bind(*addr, o, static_cast<uint16_t>(id), metrics_, clock_);
        if (!l.ok()) return l.status();
        receiver::ListenAddress bound = *addr;
        bound.port = (*l)->port();
        bound_.push_back(bound.ToString());
        tcp_.push_back(std::move(l).value());
        routers_.push_back(std::make_unique<Router>(*queues_, parser_, false, name, metrics_));
        break;
      }
      default:
        return Status::InvalidArgument("listen: " + name +
                                       ": this transport is not available in this build yet");
    }
  }

  if (!config_.metrics_listen.empty()) {
    auto ms = outputs::MetricsServer::Start(config_.metrics_listen, metrics_);
    if (!ms.ok()) return ms.status();
    metrics_server_ = std::move(ms).value();
  }
  return Status::Ok();
}

void Server::Start() {
  if (started_) return;
  started_ = true;
  for (auto& w : workers_) w->Start();
  size_t r = 0;
  for (auto& l : udp_) l->Start(routers_[r++].get());
  for (auto& l : tcp_) l->Start(routers_[r++].get());
}

void Server::Reload() {
  for (auto& w : workers_) w->RequestReopen();
  alert_writer_->Reopen();
  auto rules = LoadRules(config_.rules_dir);
  if (!rules.ok()) {
    Alert a;
    a.time = a.received = clock_.Now();
    a.host = "konseki";
    a.rule = "konseki.reload";
    a.sign = "konseki.rules_invalid";
    a.severity = Severity::kHigh;
    a.title = "Rule reload failed; the previous rules stay in force";
    a.fields.emplace_back("error", rules.status().message());
    alert_writer_->Emit(a);
    std::fprintf(stderr, "konseki: rule reload failed, keeping the old rules: %s\n",
                 rules.status().ToString().c_str());
    return;
  }
  rules_loaded_->Set(static_cast<double>((*rules)->rules().size()));
  std::fprintf(stderr, "konseki: reloaded %zu rules\n", (*rules)->rules().size());
  rules_.Set(std::move(rules).value());
}

void Server::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Listeners first (their Stop flushes their router), then drain workers.
  for (auto& l : udp_) l->Stop();
  for (auto& l : tcp_) l->Stop();
  for (auto& r : routers_) r->Flush();
  for (auto& w : workers_) w->RequestStop();
  for (auto& w : workers_) w->Join();
  if (metrics_server_) metrics_server_->Stop();
}

std::vector<std::string> Server::BoundListeners() const { return bound_; }

}  // namespace konseki::app
