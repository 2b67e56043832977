// An AlertSink for listener tests: keeps every alert, safe to Emit from the
// listener's thread while the test thread reads.
#ifndef KONSEKI_TESTS_RECEIVER_RECORDING_ALERT_SINK_H_
#define KONSEKI_TESTS_RECEIVER_RECORDING_ALERT_SINK_H_

#include <mutex>
#include <string>
#include <vector>

#include "common/alert.h"

namespace konseki::receiver {

class RecordingAlertSink : public AlertSink {
 public:
  void Emit(const Alert& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    alerts_.push_back(a);
  }
  // A copy of what was emitted so far.
  std::vector<Alert> alerts() {
    std::lock_guard<std::mutex> lock(mu_);
    return alerts_;
  }

 private:
  std::mutex mu_;
  std::vector<Alert> alerts_;
};

// The value of an alert field, or "<absent>".
inline std::string Field(const Alert& a, const std::string& key) {
  for (const auto& [k, v] : a.fields) {
    if (k == key) return v;
  }
  return "<absent>";
}

}  // namespace konseki::receiver

#endif  // KONSEKI_TESTS_RECEIVER_RECORDING_ALERT_SINK_H_
