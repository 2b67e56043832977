// Runs a program for each alert with the alert JSON (and a newline) on its
// standard input: a mail command, a pager script, `logger`. argv is executed
// directly (posix_spawnp, PATH searched for argv[0]); there is no shell, so
// nothing in an alert can inject a command. To use shell features, say so
// explicitly: {"/bin/sh", "-c", "mail -s \"$KONSEKI_ALERT_TITLE\" root"}.
//
// The child gets konseki's environment plus KONSEKI_ALERT_SIGN, _RULE, _HOST,
// _SEVERITY and _TITLE (control bytes replaced by '?'). Host and title can
// come from a sender: quote them in any shell script.
// stdout goes to /dev/null, stderr is inherited (so a failing mail command is
// seen in konseki's log), every other descriptor is closed.
//
// A child is delivered when it exits 0. It fails (and is not retried, since
// it may have acted) with reason "exit_status", "signal", "timeout" (killed
// with SIGKILL after options.timeout) or "spawn". At most max_children run
// at once; further alerts wait in the queue. Children are reaped by pid
// (never waitpid(-1), which would steal other children of the process).
#ifndef KONSEKI_OUTPUTS_EXEC_SINK_H_
#define KONSEKI_OUTPUTS_EXEC_SINK_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"
#include "outputs/alert_delivery_queue.h"

namespace konseki::outputs {

struct ExecSinkOptions {
  std::vector<std::string> argv;  // argv[0] is the program
  // A child still running after this is killed (SIGKILL) and counted.
  std::chrono::milliseconds timeout{30000};
  size_t max_children = 4;
  std::string name = "exec";  // label value of the delivery metrics
  AlertDeliveryQueueOptions queue;
  AlertEncoder encoder;  // empty = AlertToJson
};

// Thread-safe AlertSink; Emit() never blocks (see alert_delivery_queue.h).
class ExecSink final : public AlertSink {
 public:
  // Fails if argv is empty or argv[0] is not an executable file (searched in
  // PATH when it has no '/'). clock decides when a child is past its
  // timeout (nullptr: the system clock); it must outlive the sink.
  // What Create refuses about argv (check-config says it before a start).
  static Status CheckProgram(const ExecSinkOptions& options);
  static StatusOr<std::unique_ptr<ExecSink>> Create(const ExecSinkOptions& options,
                                                    MetricsRegistry& registry,
                                                    const Clock* clock = nullptr);
  // Drains the queue and waits for running children until queue.drain_timeout
  // after RequestStop (or now), then kills and reaps what is left (each
  // counted, reason="shutdown").
  ~ExecSink() override;

  void Emit(const Alert& alert) override { queue_.Push(alert); }
  // Starts the drain time (see AlertDeliveryQueue::RequestStop).
  void RequestStop() { queue_.RequestStop(); }

  // Children running now (for tests and a gauge).
  size_t Running() const;

 private:
  struct Child {
    pid_t pid;
    TimePoint deadline;  // on clock_
    bool killed = false;
  };
  ExecSink(const ExecSinkOptions& options, std::string program, MetricsRegistry& registry,
           const Clock* clock);
  DeliveryResult Deliver(const Alert& alert);
  // Reaps exited children and kills overdue ones. Delivery thread (or the
  // destructor after the thread has stopped).
  void Reap();

  const ExecSinkOptions options_;
  const std::string program_;  // resolved argv[0]
  const SystemClock system_clock_;
  const Clock& clock_;
  std::vector<Child> children_;  // delivery thread only
  std::atomic<size_t> running_{0};
  Gauge* running_gauge_;
  AlertDeliveryQueue queue_;  // last: stops before the members above go
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_EXEC_SINK_H_
