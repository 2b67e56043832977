#include "common/alert.h"

namespace konseki {

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kLow:
      return "low";
    case Severity::kMedium:
      return "medium";
    case Severity::kHigh:
      return "high";
    case Severity::kCritical:
      return "critical";
  }
  return "medium";
}

bool ParseSeverity(std::string_view name, Severity* out) {
  static constexpr Severity kAll[] = {Severity::kInfo, Severity::kLow, Severity::kMedium,
                                      Severity::kHigh, Severity::kCritical};
  for (Severity s : kAll) {
    if (name == SeverityName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

}  // namespace konseki
