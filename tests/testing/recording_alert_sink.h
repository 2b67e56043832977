// An AlertSink that keeps every alert it is given, for tests of the parts
// that emit alerts (listeners, sinks, workers). Emit may be called from any
// thread while the test thread reads.
#ifndef KONSEKI_TESTS_TESTING_RECORDING_ALERT_SINK_H_
#define KONSEKI_TESTS_TESTING_RECORDING_ALERT_SINK_H_

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "common/alert.h"

namespace konseki::testing {

class RecordingAlertSink : public AlertSink {
 public:
  void Emit(const Alert& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    alerts_.push_back(a);
  }
  // A copy of what was emitted so far, in order.
  std::vector<Alert> alerts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return alerts_;
  }
  // The signs of alerts(), in order.
  std::vector<std::string> Signs() const {
    std::vector<std::string> signs;
    for (const Alert& a : alerts()) signs.push_back(a.sign);
    return signs;
  }
  // How many alerts with this sign were emitted.
  size_t Count(const std::string& sign) const {
    size_t n = 0;
    for (const Alert& a : alerts()) n += a.sign == sign ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Alert> alerts_;
};

// The value of an alert field, or "<absent>".
inline std::string Field(const Alert& a, const std::string& key) {
  for (const auto& [k, v] : a.fields) {
    if (k == key) return v;
  }
  return "<absent>";
}

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_TESTING_RECORDING_ALERT_SINK_H_
