#include "app/relay_silence.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "common/ascii.h"

namespace konseki::app {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;
// The snapshots change every heartbeat.metrics_interval_secs (10 s by
// default): a second-old copy serves a burst of alerts (a relay with
// hundreds of hosts) with one pass.
constexpr int64_t kRowsMaxAgeNs = kNsPerSec;

int64_t Ns(TimePoint t) { return t.time_since_epoch().count(); }

std::string Secs(double secs) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.0f", secs);
  return buf;
}

std::string FormatSecsShort(double secs) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%g", secs);
  return buf;
}

const std::string* FieldOf(const Alert& a, std::string_view key) {
  for (const auto& [k, v] : a.fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

// "1 host", "N hosts" (with `what` between: "1 other host").
std::string Hosts(size_t n, std::string_view what = "") {
  std::string out = std::to_string(n) + " ";
  if (!what.empty()) (out += what) += " ";
  return out + (n == 1 ? "host" : "hosts");
}

// "a, b, c" of at most max names, then "and N more".
std::string NameList(const std::vector<std::string>& names, size_t max) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < max; ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  if (names.size() > max) out += " and " + std::to_string(names.size() - max) + " more";
  return out;
}

}  // namespace

RelaySilence::RelaySilence(const RelaySilenceOptions& options, AlertSink& next,
                           MetricsRegistry& metrics)
    : options_(options), next_(next) {
  relay_alerts_ =
      metrics.GetCounter("konseki_heartbeat_alerts_total", "Heartbeat alerts emitted, by sign.",
                         {{"sign", "host.relay_silent"}});
  for (const auto& [host, addresses] : options_.host_addresses) {
    for (const std::string& a : addresses) owner_of_.emplace(AsciiLower(a), host);
  }
}

void RelaySilence::SetReaders(std::vector<matchers::HeartbeatTracker::HostsReader> readers) {
  std::lock_guard<std::mutex> lock(mu_);
  readers_ = std::move(readers);
}

void RelaySilence::Emit(const Alert& alert) {
  if (alert.sign != "host.silent" || alert.sender.empty() || options_.same_sender_secs <= 0) {
    next_.Emit(alert);
    return;
  }
  Alert a = alert;
  std::vector<Alert> extra;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Judge(a, &extra);
  }
  next_.Emit(a);
  for (const Alert& e : extra) {
    relay_alerts_->Inc();
    next_.Emit(e);
  }
}

void RelaySilence::RefreshRows(int64_t now_ns) {
  if (rows_at_ns_ != 0 && now_ns - rows_at_ns_ < kRowsMaxAgeNs && now_ns >= rows_at_ns_) return;
  rows_at_ns_ = now_ns;
  rows_.clear();
  for (const auto& read : readers_) read(&rows_);
  by_sender_.clear();
  for (matchers::HostRow& r : rows_) {
    if (!r.seen || r.sender.empty()) continue;
    by_sender_[AsciiLower(r.sender)].push_back(
        {AsciiLower(r.name), std::move(r.name), r.last_seen_ns, r.cadence_secs});
  }
  rows_.clear();
}

void RelaySilence::Judge(Alert& a, std::vector<Alert>* extra) {
  const int64_t now = Ns(a.time);
  const int64_t window = static_cast<int64_t>(options_.same_sender_secs * kNsPerSec);
  RefreshRows(now);
  const std::string self = AsciiLower(a.host);
  const std::string sender = AsciiLower(a.sender);

  // This host's last line: its row (exact), else the alert's own
  // silence_secs (whole seconds).
  static const std::vector<Peer> kNone;
  const auto peers_it = by_sender_.find(sender);
  const std::vector<Peer>& peers = peers_it != by_sender_.end() ? peers_it->second : kNone;
  int64_t last = 0;
  for (const Peer& p : peers) {
    if (p.key == self) last = p.last_seen_ns;
  }
  if (last == 0) {
    const std::string* silence = FieldOf(a, "silence_secs");
    const std::string* seen = FieldOf(a, "last_seen");
    if (silence == nullptr || (seen != nullptr && *seen == "never")) return;
    last = now - static_cast<int64_t>(std::strtod(silence->c_str(), nullptr) * kNsPerSec);
  }

  // The other hosts of this sender: still sending, or stopped together
  // with this one. The rows decide for a host they hold; the silences
  // alerted here since the copy was made add the hosts it does not.
  //  - still sending: a line after this host's last (plus the window) and
  //    the host not quiet itself since: quiet for less than half of this
  //    host's silence, or less than its own usual spacing (cadence);
  //  - stopped together: its last line within the window of this host's;
  //    or after it, and quiet since (the sender's last lines before it
  //    died: a host that logs every 30 s has its last line up to 30 s
  //    before the relay stops, one that logs every 5 min up to 5 min);
  //    or before it, by less than its own spacing, and quiet since (it
  //    had no line due before this host stopped);
  //  - else a silence of its own, older (it is in neither list).
  const int64_t silence = now - last;
  std::map<std::string, std::pair<std::string, int64_t>> stopped;  // key -> name, last seen
  size_t alive = 0;
  int64_t alive_last = 0;
  std::unordered_set<std::string_view> in_rows;
  for (const Peer& p : peers) {
    if (p.key == self) continue;
    in_rows.insert(p.key);
    const int64_t spacing = static_cast<int64_t>(p.cadence_secs * kNsPerSec);
    const bool quiet = now - p.last_seen_ns >= std::max(silence / 2, spacing);
    if (p.last_seen_ns > last + window && !quiet) {
      ++alive;
      alive_last = std::max(alive_last, p.last_seen_ns);
    } else if (p.last_seen_ns >= last - window ||
               (quiet && p.last_seen_ns >= last - std::max(window, spacing))) {
      stopped.emplace(p.key, std::make_pair(p.name, p.last_seen_ns));
    }
  }
  for (const Silence& s : recent_) {
    if (s.sender != sender || s.key == self || in_rows.count(s.key) != 0) continue;
    if (s.last_seen_ns >= last - window && s.last_seen_ns <= last + window) {
      stopped.emplace(s.key, std::make_pair(s.host, s.last_seen_ns));
    }
  }
  recent_.push_back({self, a.host, sender, last});
  while (recent_.size() > options_.max_recent) recent_.pop_front();

  std::vector<std::string> names;
  for (const auto& [key, v] : stopped) names.push_back(v.first);
  const auto owner_it = owner_of_.find(sender);
  const std::string owner = owner_it != owner_of_.end() ? owner_it->second : "";
  const bool is_owner = !owner.empty() && AsciiLower(owner) == self;

  a.fields.emplace_back("same_sender_silent", NameList(names, options_.max_names));
  a.fields.emplace_back("same_sender_silent_count", std::to_string(names.size()));
  a.fields.emplace_back("sender_alive", alive > 0 ? "true" : "false");
  a.fields.emplace_back("sender_alive_hosts", std::to_string(alive));
  if (alive > 0) {
    a.fields.emplace_back("sender_last_forwarded",
                          FormatRfc3339Micros(TimePoint(Duration(alive_last))));
  }
  a.fields.emplace_back("sender_host", owner);
  if (alive > 0) {
    if (is_owner) {
      // The relay forwards: its own logger (no immark) said nothing, its
      // forwarding goes on. A kill of the relay's rsyslogd stops both.
      if (a.severity == Severity::kHigh) a.severity = Severity::kLow;
      a.title +=
          "; its own lines only: it still forwards " + Hosts(alive) + "' lines from " + a.sender;
    } else {
      a.title += "; its sender " + a.sender + " still forwards " + Hosts(alive, "other");
    }
  } else if (!names.empty()) {
    a.title += "; " + Hosts(names.size(), "more") + " of sender " + a.sender + " stopped with it";
  }

  // One host.relay_silent per outage of the sender: two or more hosts
  // (its own name among them) stopped together and it forwards nothing.
  if (alive > 0 || names.empty()) return;
  int64_t first = last;
  int64_t newest = last;
  for (const auto& [key, v] : stopped) {
    first = std::min(first, v.second);
    newest = std::max(newest, v.second);
  }
  auto out = outages_.find(sender);
  if (out != outages_.end() && last <= out->second.stopped_ns + window) return;
  if (out == outages_.end() && outages_.size() >= options_.max_recent) {
    auto oldest = std::min_element(
        outages_.begin(), outages_.end(),
        [](const auto& x, const auto& y) { return x.second.alerted_ns < y.second.alerted_ns; });
    outages_.erase(oldest);
  }
  outages_[sender] = {newest, now};

  names.push_back(a.host);
  std::sort(names.begin(), names.end());
  Alert r;
  r.time = r.received = a.time;
  r.host = owner.empty() ? a.sender : owner;
  r.sender = a.sender;
  r.rule = "heartbeat.relay_silent";
  r.sign = "host.relay_silent";
  r.severity = Severity::kHigh;
  r.title = "sender " + a.sender + (owner.empty() ? "" : " (" + owner + ")") +
            " silent: " + std::to_string(names.size()) + " hosts stopped within " +
            FormatSecsShort(std::round(static_cast<double>(newest - first) / 1e8) / 10) +
            " s of each other: " + NameList(names, options_.max_names);
  r.fields = {{"sender_host", owner},
              {"hosts", NameList(names, options_.max_names)},
              {"host_count", std::to_string(names.size())},
              {"first_stopped", FormatRfc3339Micros(TimePoint(Duration(first)))},
              {"last_stopped", FormatRfc3339Micros(TimePoint(Duration(newest)))},
              {"silence_secs", Secs(static_cast<double>(now - newest) / kNsPerSec)},
              {"same_sender_secs", FormatSecsShort(options_.same_sender_secs)}};
  extra->push_back(std::move(r));
}

}  // namespace konseki::app
