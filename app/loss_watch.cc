#include "app/loss_watch.h"

namespace konseki::app {

LossWatch::Verdict LossWatch::Note(const std::map<std::string, uint64_t>& totals, TimePoint now) {
  for (const auto& [cause, total] : totals) {
    uint64_t& last = last_[cause];
    const uint64_t delta = total >= last ? total - last : total;
    last = total;
    if (delta > 0) pending_[cause] += delta;
  }
  Verdict v;
  if (pending_.empty()) return v;
  if (alerted_ && now - last_alert_ < quiet_) return v;
  v.alert = true;
  v.since = alerted_ ? now - last_alert_ : Duration{};
  for (const auto& [cause, n] : pending_) v.messages += n;
  v.by_cause.swap(pending_);
  alerted_ = true;
  last_alert_ = now;
  return v;
}

}  // namespace konseki::app
