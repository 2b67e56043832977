#include "outputs/filtered_sink.h"

namespace konseki::outputs {

bool FilteredSink::Passes(const Alert& alert) const {
  if (alert.severity < options_.min_severity) return false;
  if (options_.signs.empty()) return true;
  for (const std::string& s : options_.signs) {
    if (s.size() >= 2 && s.compare(s.size() - 2, 2, ".*") == 0) {
      if (std::string_view(alert.sign).substr(0, s.size() - 1) ==
          std::string_view(s).substr(0, s.size() - 1)) {
        return true;
      }
    } else if (alert.sign == s) {
      return true;
    }
  }
  return false;
}

}  // namespace konseki::outputs
