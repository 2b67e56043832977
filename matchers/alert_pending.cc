#include "matchers/alert_pending.h"

#include <algorithm>
#include <cerrno>
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
      ++changes_;
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
  ++changes_;
}

void PendingAlerts::Raise(Waiting& w, const RuleHit* by, int64_t decided_ns, Decisions* out) {
  // Raised after its line: the alert says when its wait ended; its time,
  // host and message are still its line's.
  w.alert.decided = TimePoint(Duration(decided_ns));
  if (by == nullptr) {
    w.alert.fields.emplace_back("waited_secs", SecondsText(w.deadline_ns - w.line_ns));
    out->alerts.push_back(std::move(w.alert));
    return;
  }
  out->answered.push_back(w.alert.rule);
  if (!w.answered_severity) return;
  w.alert.severity = *w.answered_severity;
  w.alert.fields.emplace_back("answered_by", by->rule->id);
  w.alert.fields.emplace_back("answered_within_secs",
                              SecondsText(std::abs(decided_ns - w.line_ns)));
  out->alerts.push_back(std::move(w.alert));
}

void PendingAlerts::Expire(TimePoint now, Decisions* out) {
  if (waiting_.empty()) return;
  const int64_t t = now.time_since_epoch().count();
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->deadline_ns <= t) {
      Raise(*it, nullptr, it->deadline_ns, out);
      it = waiting_.erase(it);
      ++changes_;
    } else {
      ++it;
    }
  }
}

void PendingAlerts::Flush(TimePoint now, Decisions* out) {
  if (!waiting_.empty()) ++changes_;
  const int64_t t = now.time_since_epoch().count();
  for (Waiting& w : waiting_) Raise(w, nullptr, std::min(t, w.deadline_ns), out);
  waiting_.clear();
}

// The text: "konseki-pending 1\n", then one line per waiting alert of
// length-prefixed tokens ("5:hello"), each followed by one space; a list is
// its count then its items. Length prefixes carry any byte (a line's text
// is the sender's).
namespace {

constexpr std::string_view kPendingMagic = "konseki-pending 1\n";

void Put(std::string_view v, std::string* out) {
  *out += std::to_string(v.size());
  *out += ':';
  *out += v;
  *out += ' ';
}
void PutInt(int64_t v, std::string* out) { Put(std::to_string(v), out); }
int64_t Ns(TimePoint t) { return t.time_since_epoch().count(); }

class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}
  bool Get(std::string* out) {
    size_t colon = s_.find(':', pos_);
    if (colon == std::string_view::npos || colon == pos_ || colon - pos_ > 10) return false;
    uint64_t n = 0;
    for (size_t i = pos_; i < colon; ++i) {
      if (s_[i] < '0' || s_[i] > '9') return false;
      n = n * 10 + static_cast<uint64_t>(s_[i] - '0');
    }
    if (n > s_.size() - colon - 1 || colon + 1 + n >= s_.size() || s_[colon + 1 + n] != ' ') {
      return false;
    }
    out->assign(s_.substr(colon + 1, n));
    pos_ = colon + 2 + n;
    return true;
  }
  bool GetInt(int64_t* out) {
    std::string t;
    if (!Get(&t) || t.empty() || t.size() > 20) return false;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(t.c_str(), &end, 10);
    if (errno != 0 || end != t.c_str() + t.size()) return false;
    *out = v;
    return true;
  }
  bool GetCount(size_t* out) {
    int64_t n = 0;
    if (!GetInt(&n) || n < 0 || n > 100000) return false;
    *out = static_cast<size_t>(n);
    return true;
  }
  bool GetList(std::vector<std::string>* out) {
    size_t n = 0;
    if (!GetCount(&n)) return false;
    out->resize(n);
    for (std::string& v : *out) {
      if (!Get(&v)) return false;
    }
    return true;
  }
  // The end of a record: a newline.
  bool EndLine() {
    if (pos_ >= s_.size() || s_[pos_] != '\n') return false;
    ++pos_;
    return true;
  }
  bool AtEnd() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::string PendingAlerts::Save() const {
  std::string out(kPendingMagic);
  for (const Waiting& w : waiting_) {
    Put(w.host, &out);
    PutInt(w.line_ns, &out);
    PutInt(w.deadline_ns, &out);
    PutInt(static_cast<int64_t>(w.answered_by.size()), &out);
    for (const std::string& v : w.answered_by) Put(v, &out);
    Put(w.answered_severity ? SeverityName(*w.answered_severity) : "", &out);
    PutInt(static_cast<int64_t>(w.answer_key.size()), &out);
    for (const std::string& v : w.answer_key) Put(v, &out);
    Put(w.key_values, &out);
    const Alert& a = w.alert;
    PutInt(Ns(a.time), &out);
    PutInt(Ns(a.received), &out);
    for (const std::string* v : {&a.host, &a.sender, &a.rule, &a.sign}) Put(*v, &out);
    Put(SeverityName(a.severity), &out);
    for (const std::string* v : {&a.title, &a.program, &a.pid}) Put(*v, &out);
    PutInt(static_cast<int64_t>(a.fields.size()), &out);
    for (const auto& [k, v] : a.fields) {
      Put(k, &out);
      Put(v, &out);
    }
    Put(a.message, &out);
    PutInt(static_cast<int64_t>(a.members.size()), &out);
    for (const AlertMember& m : a.members) {
      Put(m.host, &out);
      PutInt(Ns(m.received), &out);
      PutInt(m.overflow_worker, &out);
    }
    out += '\n';
  }
  return out;
}

bool PendingAlerts::Load(std::string_view text) {
  if (!text.starts_with(kPendingMagic)) return false;
  Reader r(text.substr(kPendingMagic.size()));
  std::vector<Waiting> loaded;
  std::string sev;
  auto time_of = [](int64_t ns) { return TimePoint(Duration(ns)); };
  while (!r.AtEnd()) {
    Waiting w;
    Alert& a = w.alert;
    int64_t t = 0, received = 0;
    size_t n = 0;
    if (!r.Get(&w.host) || !r.GetInt(&w.line_ns) || !r.GetInt(&w.deadline_ns) ||
        !r.GetList(&w.answered_by) || !r.Get(&sev)) {
      return false;
    }
    if (!sev.empty()) {
      Severity s;
      if (!ParseSeverity(sev, &s)) return false;
      w.answered_severity = s;
    }
    if (!r.GetList(&w.answer_key) || !r.Get(&w.key_values) || !r.GetInt(&t) ||
        !r.GetInt(&received) || !r.Get(&a.host) || !r.Get(&a.sender) || !r.Get(&a.rule) ||
        !r.Get(&a.sign) || !r.Get(&sev) || !ParseSeverity(sev, &a.severity) || !r.Get(&a.title) ||
        !r.Get(&a.program) || !r.Get(&a.pid) || !r.GetCount(&n)) {
      return false;
    }
    a.time = time_of(t);
    a.received = time_of(received);
    a.fields.resize(n);
    for (auto& [k, v] : a.fields) {
      if (!r.Get(&k) || !r.Get(&v)) return false;
    }
    if (!r.Get(&a.message) || !r.GetCount(&n)) return false;
    a.members.resize(n);
    for (AlertMember& m : a.members) {
      int64_t ow = -1;
      if (!r.Get(&m.host) || !r.GetInt(&received) || !r.GetInt(&ow)) return false;
      m.received = time_of(received);
      m.overflow_worker = static_cast<int32_t>(ow);
    }
    if (!r.EndLine()) return false;
    loaded.push_back(std::move(w));
  }
  // Past kMaxPending too: these were judged already, and Expire raises them.
  for (Waiting& w : loaded) waiting_.push_back(std::move(w));
  if (!loaded.empty()) ++changes_;
  return true;
}

}  // namespace konseki::matchers
