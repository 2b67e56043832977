#include "matchers/alert_hold.h"

namespace konseki::matchers {

bool AlertHold::Held(const Message& msg, const RuleHit& hit, std::optional<Severity> severity) {
  const Rule& rule = *hit.rule;
  values_.clear();
  for (const std::string& name : rule.quiet_key) {
    const std::string_view v = HitKeyValue(msg, hit, name);
    // A line without a header names no program: the host's headerless
    // lines (a raw log file relayed as is) are one program's, the empty
    // one. Any other missing field could be anyone's: no hold.
    if (v.empty() && name != "program") return false;
    values_.push_back(v);
  }
  return Held(msg.host(), rule, msg.received, values_, severity);
}

bool AlertHold::Held(std::string_view host, const Rule& rule, TimePoint t,
                     const std::vector<std::string_view>& key,
                     std::optional<Severity> severity_in) {
  const Severity severity = severity_in.value_or(rule.severity);
  const int64_t now = t.time_since_epoch().count();
  const int64_t quiet = int64_t{rule.quiet_secs} * 1'000'000'000;
  key_.assign(host);
  key_ += '\x1f';
  key_ += rule.sign;
  for (std::string_view v : key) {
    key_ += '\x1f';
    key_ += v;
  }
  const bool announced = Announced(host, rule, now, quiet);
  auto it = entries_.find(key_);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxEntries) Prune(now);
    entries_.emplace(key_, Entry{now, now, severity});
    return announced;
  }
  Entry& e = it->second;
  if (!e.Around(now, quiet)) {
    e = Entry{now, now, severity};
    return announced;
  }
  if (now > e.last_ns) e.last_ns = now;
  if (severity <= e.severity) return true;
  // A more severe line of the episode: its alert goes (unless a sign of
  // quiet_after announced it), and holds the rest.
  e.severity = severity;
  return announced;
}

bool AlertHold::Announced(std::string_view host, const Rule& rule, int64_t now, int64_t quiet) {
  for (const std::string& sign : rule.quiet_after) {
    other_.assign(host);
    other_ += '\x1f';
    other_ += sign;
    auto it = entries_.find(other_);
    if (it != entries_.end() && it->second.Around(now, quiet)) return true;
  }
  return false;
}

void AlertHold::Prune(int64_t now_ns) {
  constexpr int64_t kDay = int64_t{86400} * 1'000'000'000;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.last_ns < now_ns - kDay || it->second.last_ns > now_ns + kDay) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  // Still full (a day of more host-and-sign pairs than the cap): start afresh
  // rather than grow; the worst case is one alert more per pair.
  if (entries_.size() >= kMaxEntries) entries_.clear();
}

}  // namespace konseki::matchers
