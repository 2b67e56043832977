// Passes the heartbeat tracker's alerts on, and notes the hosts that went
// silent (host.silent) so that the worker can tell its correlator: a session
// opened while a host was silent may never have reached konseki.
//
// Threading: the tracker emits from its worker's thread, and only that
// worker calls TakeGaps; `next` must be thread-safe (the alert fan-out).
#ifndef KONSEKI_APP_HOST_GAP_SINK_H_
#define KONSEKI_APP_HOST_GAP_SINK_H_

#include <string>
#include <utility>
#include <vector>

#include "common/alert.h"

namespace konseki::app {

class HostGapSink final : public AlertSink {
 public:
  explicit HostGapSink(AlertSink& next) : next_(next) {}
  void Emit(const Alert& alert) override {
    if (alert.sign == "host.silent") gaps_.push_back(alert.host);
    next_.Emit(alert);
  }
  // The hosts gone silent since the last call.
  std::vector<std::string> TakeGaps() { return std::exchange(gaps_, {}); }

 private:
  AlertSink& next_;
  std::vector<std::string> gaps_;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_HOST_GAP_SINK_H_
