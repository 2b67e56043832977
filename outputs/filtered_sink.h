// FilteredSink: passes on only the alerts of chosen severities and signs
// (the `min_severity` and `signs` of every alerts.syslog / webhook / exec
// sink).
#ifndef KONSEKI_OUTPUTS_FILTERED_SINK_H_
#define KONSEKI_OUTPUTS_FILTERED_SINK_H_

#include <string>
#include <utility>
#include <vector>

#include "common/alert.h"

namespace konseki::outputs {

struct FilteredSinkOptions {
  // Alerts below this severity are not passed on.
  Severity min_severity = Severity::kInfo;
  // Signs to pass; empty = every sign. An entry ending in ".*" matches every
  // sign with that prefix ("ssh.*" matches "ssh.login", "ssh.auth_failure").
  std::vector<std::string> signs;
};

// Passes on only the alerts a notifying sink should see, e.g. "mail me
// high and critical alerts and every ssh.login". Immutable, so thread-safe
// when the inner sink is. The inner sink must outlive it.
class FilteredSink final : public AlertSink {
 public:
  FilteredSink(AlertSink& inner, FilteredSinkOptions options)
      : inner_(inner), options_(std::move(options)) {}
  void Emit(const Alert& alert) override {
    if (Passes(alert)) inner_.Emit(alert);
  }
  bool Passes(const Alert& alert) const;

 private:
  AlertSink& inner_;
  const FilteredSinkOptions options_;
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_FILTERED_SINK_H_
