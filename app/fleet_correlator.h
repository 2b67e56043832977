// The fleet correlation thread: runs the fleet-scoped correlations (one
// source trying many hosts is one key) for the whole process.
//
// Workers own hosts, so a fleet key's hits arrive from every worker. Rather
// than a lock on the data path, each worker copies the few hits a fleet
// correlation takes (InputFilter) into one lock-free moodycamel queue; this
// thread alone owns the fleet keys. Push never blocks: past
// `max_queued` waiting hits it drops and counts
// (konseki_correlation_fleet_dropped_total), like UDP under overload.
//
// Partitioning later: the key space splits by a hash of the key fields (not
// of the host), so N fleet threads, or N receivers each running one, would
// each own 1/N of the keys; a worker (or a receiver forwarding to its peers)
// would send a hit to the owner of hash(key) mod N. Keys are plain strings
// of field values, independent of which receiver saw the line, which is what
// makes that split possible; membership-by-host-address needs the host's
// state and stays host-scoped. A `field|host` key (the host owning an
// address: matchers/correlator.h) reads every host's learned addresses, so
// a split would have to send those few learning hits (lease lines) to every
// fleet thread.
//
// Threading: Push is thread-safe (any worker); Start/Stop from the control
// thread. The correlator, its state file and its alerts belong to this
// thread; alerts go to the thread-safe sink.
#ifndef KONSEKI_APP_FLEET_CORRELATOR_H_
#define KONSEKI_APP_FLEET_CORRELATOR_H_

#include <concurrentqueue/blockingconcurrentqueue.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "app/rule_slot.h"
#include "common/alert.h"
#include "common/clock.h"
#include "common/damaged_file.h"
#include "common/metrics.h"
#include "matchers/correlator.h"

namespace konseki::app {

// One hit for the fleet thread; owns its strings.
struct FleetHit {
  std::string input_id;
  std::string sign;
  matchers::Fields fields;
  std::string host;
  std::string sender;
  std::string program;
  std::string pid;
  std::string raw;
  TimePoint event_time;
  TimePoint received;
  uint64_t message_seq = 0;  // unique across workers (worker in the top bits)
  uint32_t repeats = 1;
  uint32_t dedupe_secs = 0;  // HitEvent::dedupe_secs
  int32_t overflow_worker = -1;
  std::string superseded_by;  // HitEvent::superseded_by

  static FleetHit From(const matchers::HitEvent& e);
  // The hit as the correlator takes it (views into this FleetHit).
  matchers::HitEvent View() const;
};

class FleetCorrelator {
 public:
  // options.run_host is forced off; options.state_file is where the fleet
  // state lives. rules, sink, metrics and clock must outlive this.
  FleetCorrelator(const matchers::CorrelatorOptions& options, size_t max_queued,
                  const RuleSlot& rules, AlertSink& sink, MetricsRegistry& metrics,
                  const Clock& clock);
  ~FleetCorrelator();
  FleetCorrelator(const FleetCorrelator&) = delete;
  FleetCorrelator& operator=(const FleetCorrelator&) = delete;

  // Builds the correlator from the slot's current correlations and loads the
  // saved state. Errors (a state file that cannot be read) are fatal; a
  // damaged one is appended to *damaged (Correlator::LoadState).
  Status Init(std::vector<DamagedFile>* damaged = nullptr);
  void Start();
  // Processes what is queued, saves the state and joins.
  void Stop();
  // Thread-safe, never blocks. False when dropped (queue full or stopped).
  bool Push(FleetHit&& hit);

 private:
  void Run();
  void Refresh();
  void Handle(FleetHit& hit);

  matchers::CorrelatorOptions options_;
  const size_t max_queued_;
  const RuleSlot& rules_;
  AlertSink& sink_;
  MetricsRegistry& metrics_;
  const Clock& clock_;
  moodycamel::BlockingConcurrentQueue<FleetHit> queue_;
  uint64_t generation_ = ~uint64_t{0};
  std::unique_ptr<matchers::Correlator> correlator_;  // this thread's
  std::vector<Alert> alerts_;
  Counter* dropped_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_FLEET_CORRELATOR_H_
