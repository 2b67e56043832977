#include "matchers/alert_pending.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace konseki::matchers {

namespace {

constexpr int64_t kSecond = 1'000'000'000;

void LowerInto(std::string_view s, std::string* out) {
  out->assign(s);
  for (char& c : *out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
}

std::string SecondsText(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f", static_cast<double>(std::max<int64_t>(ns, 0)) / kSecond);
  return buf;
}

bool Lists(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The hit's values of `fields`, joined by '\x1f'; false when it lacks one.
bool KeyValues(const std::vector<std::pair<std::string, std::string>>& hit_fields,
               const std::vector<std::string>& fields, std::string* out) {
  out->clear();
  for (size_t i = 0; i < fields.size(); ++i) {
    auto it = std::find_if(hit_fields.begin(), hit_fields.end(),
                           [&](const auto& f) { return f.first == fields[i]; });
    if (it == hit_fields.end()) return false;
    if (i > 0) *out += '\x1f';
    *out += it->second;
  }
  return true;
}

// The process a line is about when its rule extracts it (rsyslogd's x-pid).
// Not the header's pid: systemd[1] writes both the start and the stop of
// every unit, and the shutdown lines that answer them.
std::string_view ExtractedPid(const RuleHit& hit) {
  for (const auto& [k, v] : hit.fields) {
    if (k == "pid") return v;
  }
  return {};
}

}  // namespace

void PendingAlerts::Remember(std::string_view name, int64_t t_ns, const std::string& rule_id,
                             std::string_view pid) {
  key_ = host_;
  key_ += '\x1f';
  key_ += name;
  auto it = answers_.find(key_);
  if (it == answers_.end()) {
    if (answers_.size() >= kMaxAnswers) {
      // Forget answers older than an hour (no rule waits that long); still
      // full, start afresh: the worst case is one alert raised unanswered.
      const int64_t old = t_ns - 3600 * kSecond;
      std::erase_if(answers_, [old](const auto& e) { return e.second.t_ns < old; });
      if (answers_.size() >= kMaxAnswers) answers_.clear();
    }
    answers_.emplace(key_, LastAnswer{t_ns, rule_id, std::string(pid)});
    return;
  }
  if (t_ns >= it->second.t_ns) {
    it->second.t_ns = t_ns;
    it->second.rule = rule_id;
    it->second.pid.assign(pid);
  }
}

void PendingAlerts::Answer(const Message& msg, const RuleHit& hit, Decisions* out) {
  const int64_t now = msg.received.time_since_epoch().count();
  const Rule& rule = *hit.rule;
  LowerInto(msg.host(), &host_);
  const std::string_view pid = ExtractedPid(hit);
  Remember(rule.sign, now, rule.id, pid);
  Remember(rule.id, now, rule.id, pid);
  std::string values;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    const int64_t window = it->deadline_ns - it->line_ns;
    if (it->host == host_ &&
        (Lists(it->answered_by, rule.sign) || Lists(it->answered_by, rule.id)) &&
        now >= it->line_ns - window && now <= it->line_ns + window &&
        (it->answer_key.empty() ||
         (now >= it->line_ns && KeyValues(hit.fields, it->answer_key, &values) &&
          values == it->key_values))) {
      Raise(*it, &hit, now, out);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
}

bool PendingAlerts::DeferInPlaceOf(const Message& msg, const RuleHit& hit,
                                   std::vector<Alert>* alerts, size_t from, Decisions* out) {
  if (!hit.rule->alert || hit.rule->pending_secs <= 0 || alerts->size() <= from) return false;
  for (size_t k = from; k < alerts->size(); ++k) Defer(msg, hit, std::move((*alerts)[k]), out);
  alerts->resize(from);
  return true;
}

void PendingAlerts::Defer(const Message& msg, const RuleHit& hit, Alert alert, Decisions* out) {
  const Rule& rule = *hit.rule;
  const int64_t now = msg.received.time_since_epoch().count();
  const int64_t window = int64_t{rule.pending_secs} * kSecond;
  LowerInto(msg.host(), &host_);
  // With answer_key, only a line about the same thing (the same account)
  // answers: a hit without the fields has nothing to wait for.
  std::string values;
  if (!rule.answer_key.empty() && !KeyValues(hit.fields, rule.answer_key, &values)) {
    out->alerts.push_back(std::move(alert));
    return;
  }
  // Answered before it came: the latest answering line within the window
  // (not for an answer_key: only a later line about the same thing answers).
  const LastAnswer* best = nullptr;
  const std::string_view pid = ExtractedPid(hit);
  const std::vector<std::string> none;
  for (const std::string& name : rule.answer_key.empty() ? rule.answered_by : none) {
    key_ = host_;
    key_ += '\x1f';
    key_ += name;
    auto it = answers_.find(key_);
    if (it == answers_.end() || it->second.t_ns < now - window || it->second.t_ns > now + window) {
      continue;
    }
    // The same process's own earlier line (its start before its stop).
    if (!it->second.pid.empty() && it->second.pid == pid) continue;
    if (best == nullptr || it->second.t_ns > best->t_ns) best = &it->second;
  }
  if (best != nullptr) {
    out->answered.push_back(rule.id);
    if (rule.answered_severity) {
      alert.severity = *rule.answered_severity;
      alert.fields.emplace_back("answered_by", best->rule);
      alert.fields.emplace_back("answered_within_secs", SecondsText(now - best->t_ns));
      out->alerts.push_back(std::move(alert));
    }
    return;
  }
  if (waiting_.size() >= kMaxPending) {
    out->alerts.push_back(std::move(alert));  // no room to wait: raised as written
    return;
  }
  waiting_.push_back(Waiting{host_, now, now + window, rule.answered_by, rule.answered_severity,
                             rule.answer_key, std::move(values), std::move(alert)});
}

void PendingAlerts::Raise(Waiting& w, const RuleHit* by, int64_t answer_ns, Decisions* out) {
  if (by == nullptr) {
    w.alert.fields.emplace_back("waited_secs", SecondsText(w.deadline_ns - w.line_ns));
    out->alerts.push_back(std::move(w.alert));
    return;
  }
  out->answered.push_back(w.alert.rule);
  if (!w.answered_severity) return;
  w.alert.severity = *w.answered_severity;
  w.alert.fields.emplace_back("answered_by", by->rule->id);
  w.alert.fields.emplace_back("answered_within_secs", SecondsText(std::abs(answer_ns - w.line_ns)));
  out->alerts.push_back(std::move(w.alert));
}

void PendingAlerts::Expire(TimePoint now, Decisions* out) {
  if (waiting_.empty()) return;
  const int64_t t = now.time_since_epoch().count();
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->deadline_ns <= t) {
      Raise(*it, nullptr, 0, out);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
}

void PendingAlerts::Flush(Decisions* out) {
  for (Waiting& w : waiting_) Raise(w, nullptr, 0, out);
  waiting_.clear();
}

}  // namespace konseki::matchers
