// An alert and the interface every alert consumer implements.
#ifndef KONSEKI_COMMON_ALERT_H_
#define KONSEKI_COMMON_ALERT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace konseki {

enum class Severity : uint8_t { kInfo, kLow, kMedium, kHigh, kCritical };

// "info", "low", "medium", "high", "critical".
const char* SeverityName(Severity s);
// Parses the names above; false if unknown.
bool ParseSeverity(std::string_view name, Severity* out);

// One line an alert is made of (correlation alerts): where it is in the
// archive. The file is <archive.dir>/<folder>/<UTC date of received>.log,
// where <folder> is SanitizeHost(host), or the overflow folder
// "%overflow-<overflow_worker>" when the archive wrote the line there (a host
// past archive.max_hosts, or whose own folder could not be written:
// outputs/archive.h); outputs write it out.
struct AlertMember {
  std::string host;
  TimePoint received;
  int32_t overflow_worker = -1;  // >= 0: in that worker's overflow folder
};

// Owns all its strings: alerts are rare and outlive the batch they came from.
struct Alert {
  TimePoint time;      // event time (the message's timestamp, or detection time)
  TimePoint received;  // when the triggering message arrived (or detection time)
  std::string host;
  std::string sender;
  std::string rule;  // rule id, or detector id such as "heartbeat.silent"
  std::string sign;  // e.g. "ssh.auth_failure", "host.silent"
  Severity severity = Severity::kMedium;
  std::string title;
  std::string program;
  std::string pid;
  std::vector<std::pair<std::string, std::string>> fields;  // extracted values, in order
  std::string message;  // the original line (raw frame), empty for pure detector alerts
  // Correlation alerts: up to 20 of the lines that made it (empty otherwise).
  std::vector<AlertMember> members;
  // An alert that waited for its answer (a rule's pending_secs, or a
  // correlation's alert in such a rule's place) is raised after its line,
  // under a later line or by the clock: `decided` is when its wait ended
  // (the answering line's receive time, the end of pending_secs, or the
  // shutdown or end of input that cut it short). time, received, host and
  // message stay those of the line that caused it. Zero (the epoch) for an
  // alert raised on its own line.
  TimePoint decided{};
  // The number the caller gave the line that caused the alert
  // (matchers::OfflineAnalyzer::set_line_seq: test-rules numbers its input's
  // lines), 0 when the lines are not numbered (the server). Neither written
  // to the alert JSON nor saved with a waiting alert.
  uint64_t origin_seq = 0;
};

// Receives alerts. Implementations say whether they are thread-safe; the
// pipeline only hands alerts to a thread-safe sink.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void Emit(const Alert& alert) = 0;
};

}  // namespace konseki

#endif  // KONSEKI_COMMON_ALERT_H_
