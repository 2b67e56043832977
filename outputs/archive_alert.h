// The alerts konseki raises about its own archive (retention's free-space
// check, the sealer): from host "konseki", rule "konseki.archive".
#ifndef KONSEKI_OUTPUTS_ARCHIVE_ALERT_H_
#define KONSEKI_OUTPUTS_ARCHIVE_ALERT_H_

#include <string>
#include <utility>
#include <vector>

#include "common/alert.h"

namespace konseki::outputs {

inline Alert ArchiveAlert(TimePoint now, std::string sign, Severity severity, std::string title,
                          std::vector<std::pair<std::string, std::string>> fields) {
  Alert a;
  a.time = a.received = now;
  a.host = "konseki";
  a.rule = "konseki.archive";
  a.sign = std::move(sign);
  a.severity = severity;
  a.title = std::move(title);
  a.fields = std::move(fields);
  return a;
}

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ARCHIVE_ALERT_H_
