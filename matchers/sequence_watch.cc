#include "matchers/sequence_watch.h"

#include <algorithm>
#include <vector>

namespace konseki::matchers {

bool ReadSequenceId(std::string_view sd, uint32_t* out) {
  // SD-ELEMENT = "[" SD-ID *(SP SD-PARAM) "]", PARAM-VALUE quoted with
  // \" \\ \] escaped (RFC 5424 §6.3).
  const size_t n = sd.size();
  size_t i = 0;
  while (i < n) {
    if (sd[i] != '[') return false;
    size_t id_end = ++i;
    while (id_end < n && sd[id_end] != ' ' && sd[id_end] != ']') ++id_end;
    const bool meta = sd.substr(i, id_end - i) == "meta";
    i = id_end;
    while (i < n && sd[i] == ' ') {
      const size_t eq = sd.find('=', ++i);
      if (eq == std::string_view::npos || eq + 1 >= n || sd[eq + 1] != '"') return false;
      const std::string_view name = sd.substr(i, eq - i);
      i = eq + 2;
      const size_t value_start = i;
      while (i < n && sd[i] != '"') i += (sd[i] == '\\' && i + 1 < n) ? 2 : 1;
      if (i >= n) return false;
      const std::string_view value = sd.substr(value_start, i - value_start);
      ++i;
      if (meta && name == "sequenceId") {
        if (value.empty() || value.size() > 10) return false;
        uint64_t v = 0;
        for (char c : value) {
          if (c < '0' || c > '9') return false;
          v = v * 10 + static_cast<uint64_t>(c - '0');
        }
        if (v == 0 || v > kMaxSequenceId) return false;
        *out = static_cast<uint32_t>(v);
        return true;
      }
    }
    if (i >= n || sd[i] != ']') return false;
    ++i;
  }
  return false;
}

SequenceWatch::SequenceWatch(const SequenceWatchOptions& options) : options_(options) {}

uint64_t SequenceWatch::KeyOf(const HostKey& host, std::string_view sender) {
  uint64_t h = 1469598103934665603ull ^ (static_cast<uint64_t>(host.hash) * 0x9E3779B97F4A7C15ull);
  for (char c : sender) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

SequenceWatch::Entry* SequenceWatch::Find(uint64_t key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  return &it->second;
}

void SequenceWatch::NoteLoggerStart(const HostKey& host, std::string_view sender) {
  if (options_.max_gap == 0) return;
  Entry* e = Find(KeyOf(host, sender));
  if (e != nullptr && HostNamesEqual(e->host, host.name) && e->sender == sender) {
    e->restarted = true;
  }
}

void SequenceWatch::ForgetOldestHalf() {
  std::vector<int64_t> touched;
  touched.reserve(entries_.size());
  for (const auto& [key, e] : entries_) touched.push_back(e.touched_ns);
  auto mid = touched.begin() + static_cast<ptrdiff_t>(touched.size() / 2);
  std::nth_element(touched.begin(), mid, touched.end());
  const int64_t cut = *mid;
  std::erase_if(entries_, [cut](const auto& kv) { return kv.second.touched_ns < cut; });
  // All touched at one instant: make room all the same.
  if (entries_.size() >= options_.max_entries) entries_.clear();
}

SequenceGap SequenceWatch::Observe(const HostKey& host, std::string_view sender,
                                   std::string_view structured_data, int64_t received_ns) {
  if (options_.max_gap == 0 || structured_data.empty()) return {};
  uint32_t seq = 0;
  if (!ReadSequenceId(structured_data, &seq)) return {};
  const uint64_t key = KeyOf(host, sender);
  Entry* e = Find(key);
  if (e == nullptr) {
    if (entries_.size() >= std::max<size_t>(1, options_.max_entries)) ForgetOldestHalf();
    Entry fresh;
    fresh.host.assign(host.name);
    fresh.sender.assign(sender);
    fresh.highest = seq;
    fresh.touched_ns = received_ns;
    entries_.emplace(key, std::move(fresh));
    return {};
  }
  e->touched_ns = received_ns;
  if (!HostNamesEqual(e->host, host.name) || e->sender != sender) {
    // Another pair with the same hash: it takes the place.
    *e = Entry{std::string(host.name), std::string(sender), seq, false, received_ns, 0, 0};
    return {};
  }
  const uint32_t prev = e->highest;
  if (e->restarted) {
    e->restarted = false;
    e->highest = seq;
    return {};
  }
  if (seq == prev) return {};
  // Distances around the circle 1..kMaxSequenceId (the wrap to 1 is a step).
  const uint64_t forward =
      seq > prev ? uint64_t{seq} - prev : uint64_t{kMaxSequenceId} - prev + seq;
  const uint64_t back = seq < prev ? uint64_t{prev} - seq : uint64_t{kMaxSequenceId} - seq + prev;
  if (forward <= options_.max_gap) {
    e->highest = seq;
    return {};
  }
  // Reordered on the way, or resent after a reconnect: the count goes on
  // from the highest number.
  if (back <= options_.max_gap) return {};
  SequenceGap g;
  g.back = seq < prev;
  g.previous = prev;
  g.current = seq;
  e->highest = seq;
  const int64_t interval_ns = static_cast<int64_t>(options_.alert_interval_secs * 1e9);
  if (e->alerted_ns != 0 && received_ns >= e->alerted_ns &&
      received_ns - e->alerted_ns < interval_ns) {
    ++e->held;
    return {};
  }
  g.alert = true;
  g.held = e->held;
  e->held = 0;
  e->alerted_ns = received_ns;
  return g;
}

Alert SequenceGapAlert(const SequenceGap& gap, const Message& msg, uint32_t max_gap) {
  Alert a;
  a.time = msg.has_timestamp ? msg.timestamp : msg.received;
  a.received = msg.received;
  a.host.assign(msg.host());
  a.sender.assign(msg.sender);
  a.rule = "heartbeat.sequence_gap";
  a.sign = "log.gap";
  a.severity = Severity::kMedium;
  a.title = gap.back ? "The sender's RFC 5424 sequenceId went back with no start of its logger: "
                       "lines were removed or renumbered on the way"
                     : "The sender's RFC 5424 sequenceId jumped forward with no start of its "
                       "logger: lines were lost or removed on the way";
  a.program.assign(msg.app_name);
  a.pid.assign(msg.procid);
  a.fields.emplace_back("previous", std::to_string(gap.previous));
  a.fields.emplace_back("current", std::to_string(gap.current));
  a.fields.emplace_back("direction", gap.back ? "back" : "forward");
  if (!gap.back) {
    const uint64_t step = gap.current > gap.previous
                              ? uint64_t{gap.current} - gap.previous
                              : uint64_t{kMaxSequenceId} - gap.previous + gap.current;
    a.fields.emplace_back("skipped", std::to_string(step - 1));
  }
  a.fields.emplace_back("max_gap", std::to_string(max_gap));
  if (gap.held > 0) a.fields.emplace_back("held", std::to_string(gap.held));
  a.message.assign(msg.raw);
  return a;
}

}  // namespace konseki::matchers
