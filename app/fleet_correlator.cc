#include "app/fleet_correlator.h"

#include "common/log.h"
#include "common/thread_name.h"

namespace konseki::app {

FleetHit FleetHit::From(const matchers::HitEvent& e) {
  FleetHit h;
  h.input_id = std::string(e.input_id);
  h.sign = std::string(e.sign);
  if (e.fields != nullptr) h.fields = *e.fields;
  h.host = std::string(e.host);
  h.sender = std::string(e.sender);
  h.program = std::string(e.program);
  h.pid = std::string(e.pid);
  h.raw = std::string(e.raw);
  h.event_time = e.event_time;
  h.received = e.received;
  h.message_seq = e.message_seq;
  h.repeats = e.repeats;
  h.dedupe_secs = e.dedupe_secs;
  h.overflow_worker = e.overflow_worker;
  h.superseded_by = std::string(e.superseded_by);
  return h;
}

matchers::HitEvent FleetHit::View() const {
  return {.input_id = input_id,
          .sign = sign,
          .fields = &fields,
          .host = host,
          .sender = sender,
          .program = program,
          .pid = pid,
          .raw = raw,
          .event_time = event_time,
          .received = received,
          .message_seq = message_seq,
          .repeats = repeats,
          .dedupe_secs = dedupe_secs,
          .overflow_worker = overflow_worker,
          .superseded_by = superseded_by,
          .local = {}};  // the fleet correlator computes it
}

FleetCorrelator::FleetCorrelator(const matchers::CorrelatorOptions& options, size_t max_queued,
                                 const RuleSlot& rules, AlertSink& sink, MetricsRegistry& metrics,
                                 const Clock& clock)
    : options_(options),
      max_queued_(max_queued),
      rules_(rules),
      sink_(sink),
      metrics_(metrics),
      clock_(clock) {
  options_.run_host = false;
  options_.run_fleet = true;
  options_.name = "fleet";
  dropped_ = metrics.GetCounter("konseki_correlation_fleet_dropped_total",
                                "Hits for fleet correlations dropped because the fleet "
                                "thread's queue was full.");
}

FleetCorrelator::~FleetCorrelator() { Stop(); }

Status FleetCorrelator::Init(std::vector<DamagedFile>* damaged) {
  auto pack = rules_.correlations();
  generation_ = rules_.generation();
  if (!pack) return Status::Ok();
  auto c = matchers::Correlator::Create(pack, options_, metrics_);
  if (!c.ok()) return c.status();
  if (Status s = (*c)->LoadState(damaged); !s.ok()) {
    return Status(s.code(), "correlation state: " + s.message());
  }
  correlator_ = std::move(c).value();
  return Status::Ok();
}

void FleetCorrelator::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void FleetCorrelator::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_release);
  thread_.join();
}

bool FleetCorrelator::Push(FleetHit&& hit) {
  if (queue_.size_approx() >= max_queued_) {
    dropped_->Inc();
    return false;
  }
  queue_.enqueue(std::move(hit));
  return true;
}

void FleetCorrelator::Refresh() {
  const uint64_t gen = rules_.generation();
  if (gen == generation_) return;
  generation_ = gen;
  auto pack = rules_.correlations();
  if (!pack) {
    correlator_.reset();
    return;
  }
  auto c = matchers::Correlator::Create(pack, options_, metrics_);
  if (!c.ok()) {
    // The loader checked the packs; keep the previous correlations anyway.
    Log(LogLevel::kError, "fleet correlations: %s", c.status().ToString().c_str());
    return;
  }
  if (correlator_) (*c)->TakeStateFrom(*correlator_);
  correlator_ = std::move(c).value();
}

void FleetCorrelator::Handle(FleetHit& h) {
  if (!correlator_) return;
  const matchers::HitEvent e = h.View();
  // The fleet thread sees hits only: hosts are watched from their hits.
  correlator_->ObserveHost(e.host, e.sender, e.received);
  alerts_.clear();
  correlator_->Process(e, &alerts_);
  for (const Alert& a : alerts_) sink_.Emit(a);
}

void FleetCorrelator::Run() {
  SetThreadName("fleet");
  constexpr size_t kBulk = 256;
  // After a partial batch the thread lets hits gather this long before it
  // takes the next: one wake-up per batch instead of one per hit. Waking
  // per hit cost the workers' core ~3% of its time at 7,500 hits/s (perf,
  // bench/ingest blast-pinned, where all threads share one core); 10 ms is
  // nothing next to the windows (seconds to hours) and the 1 s it may take
  // to raise ssh.bruteforce_success.
  constexpr auto kLinger = std::chrono::milliseconds(10);
  std::vector<FleetHit> batch(kBulk);
  TimePoint last_tick{};
  for (;;) {
    Refresh();
    const size_t n =
        queue_.wait_dequeue_bulk_timed(batch.begin(), kBulk, std::chrono::milliseconds(200));
    for (size_t i = 0; i < n; ++i) Handle(batch[i]);
    const TimePoint now = clock_.Now();
    if (correlator_ && now - last_tick >= std::chrono::seconds(1)) {
      last_tick = now;
      correlator_->Tick(now);
      alerts_.clear();
      correlator_->TakeDue(now, &alerts_);  // late_open_secs
      for (const Alert& a : alerts_) sink_.Emit(a);
    }
    const bool stopping = stop_.load(std::memory_order_acquire);
    if (n == 0 && stopping && queue_.size_approx() == 0) break;
    if (n > 0 && n < kBulk && !stopping) std::this_thread::sleep_for(kLinger);
  }
  if (correlator_) {
    if (Status s = correlator_->SaveState(); !s.ok()) {
      Log(LogLevel::kError, "fleet correlations: %s", s.ToString().c_str());
    }
  }
}

}  // namespace konseki::app
