#include "receiver/connection_limits.h"

namespace konseki::receiver {

Status ConnectionLimitOptions::Validate() const {
  if (max_connections_per_source == 0 || first_frame_timeout_secs < 0) {
    return Status::InvalidArgument(
        "max_connections_per_source must be positive, first_frame_timeout_secs >= 0");
  }
  return Status::Ok();
}

ConnectionLimits::ConnectionLimits(const ConnectionLimitOptions& options, size_t max_connections,
                                   MetricsRegistry& metrics, const std::string& listener)
    : options_(options), max_connections_(max_connections) {
  constexpr char kHelp[] =
      "Connections closed to make room for new ones or because they never sent a frame";
  evicted_full_ = metrics.GetCounter("konseki_connections_evicted_total", kHelp,
                                     {{"listener", listener}, {"reason", "max_connections"}});
  evicted_per_source_ =
      metrics.GetCounter("konseki_connections_evicted_total", kHelp,
                         {{"listener", listener}, {"reason", "max_connections_per_source"}});
  first_frame_timeouts_ =
      metrics.GetCounter("konseki_connections_evicted_total", kHelp,
                         {{"listener", listener}, {"reason", "first_frame_timeout"}});
  rejected_ =
      metrics.GetCounter("konseki_connections_rejected_total", "Connections closed on accept",
                         {{"listener", listener}, {"reason", "max_connections"}});
}

uint64_t ConnectionLimits::Added(const SenderAddress& src) {
  ++per_source_[src];
  return next_order_++;
}

void ConnectionLimits::Removed(const SenderAddress& src) {
  auto it = per_source_.find(src);
  if (it == per_source_.end()) return;
  if (--it->second == 0) per_source_.erase(it);
}

size_t ConnectionLimits::SourceCount(const SenderAddress& src) const {
  auto it = per_source_.find(src);
  return it == per_source_.end() ? 0 : it->second;
}

bool ConnectionLimits::ScanDue(TimePoint now) {
  // A clock that went back re-arms the scan at once.
  if (now - last_scan_ < std::chrono::seconds(1) && now - last_scan_ >= Duration::zero()) {
    return false;
  }
  last_scan_ = now;
  return true;
}

}  // namespace konseki::receiver
