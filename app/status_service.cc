#include "app/status_service.h"

#include <malloc.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/json_string.h"

namespace konseki::app {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr int64_t kRateWindowNs = 10 * kNsPerSec;

int64_t Ns(TimePoint t) { return t.time_since_epoch().count(); }

int64_t BootTimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
double Secs(int64_t ns) { return static_cast<double>(ns) / kNsPerSec; }

std::string LabelOf(const MetricValue& m, std::string_view key) {
  for (const auto& [k, v] : m.labels) {
    if (k == key) return v;
  }
  return "";
}

double Sum(const std::vector<MetricValue>& snap, std::string_view name) {
  double total = 0;
  for (const MetricValue& m : snap) {
    if (m.name == name) total += m.value;
  }
  return total;
}

JsonValue BySeverity(const AlertTally::Counts& c) {
  JsonValue o = JsonValue::Object();
  for (size_t i = 0; i < c.size(); ++i) o.Set(SeverityName(static_cast<Severity>(i)), c[i]);
  return o;
}

}  // namespace

std::string ControlSocketPath(const Config& c) { return StateDir(c) + "/konseki.sock"; }

std::string HostStateName(const matchers::HostRow& row, int64_t now_ns) {
  if (!row.seen) return "expected-never-seen";
  if (row.silent) return row.silent_after_stop ? "stopped" : "silent";
  if (now_ns - row.first_seen_ns < 86400 * kNsPerSec) return "new";
  return "ok";
}

void AppendJsonNumber(double v, std::string* out) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) {
    out->push_back('0');
    return;
  }
  out->append(buf, end);
}

void AppendHostJson(const matchers::HostRow& r, int64_t now_ns, std::string* out) {
  *out += "{\"name\":";
  AppendJsonString(r.name, out);
  *out += ",\"sender\":";
  AppendJsonString(r.sender, out);
  *out += ",\"senders\":[";
  for (size_t i = 0; i < r.senders.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(r.senders[i], out);
  }
  *out += "],\"first_seen\":";
  AppendJsonNumber(Secs(r.first_seen_ns), out);
  *out += ",\"last_seen\":";
  AppendJsonNumber(Secs(r.last_seen_ns), out);
  *out += ",\"cadence_secs\":";
  AppendJsonNumber(r.cadence_secs, out);
  *out += ",\"threshold_secs\":";
  AppendJsonNumber(r.threshold_secs, out);
  *out += ",\"state\":";
  AppendJsonString(HostStateName(r, now_ns), out);
  *out += r.expected ? ",\"expected\":true" : ",\"expected\":false";
  *out += ",\"messages_today\":";
  *out += std::to_string(r.messages_today);
  *out += ",\"rate_per_sec\":";
  AppendJsonNumber(r.rate_per_sec, out);
  *out += ",\"last_flood\":";
  AppendJsonNumber(Secs(r.last_flood_ns), out);
  out->push_back('}');
}

StatusService::StatusService(StatusSources sources)
    : src_(std::move(sources)),
      start_ns_(Ns(src_.clock->Now())),
      uptime_start_ns_(UptimeClockNs()),
      reload_success_(src_.metrics->GetGauge(
          "konseki_reload_success",
          "1 if the last rule load (start or SIGHUP) succeeded, 0 if it failed.")),
      reload_time_(src_.metrics->GetGauge("konseki_reload_timestamp_seconds",
                                          "Unix time of the last rule load (start or SIGHUP).")),
      last_reload_ns_(start_ns_) {
  reload_success_->Set(1);
  reload_time_->Set(Secs(start_ns_));
  // heartbeat.expected_hosts that never reported have no last-seen series:
  // this one makes them visible (and alertable) in Prometheus too.
  src_.metrics->AddGaugeCallback(
      "konseki_host_expected_never_seen",
      "1 for each host of heartbeat.expected_hosts that has not sent a message yet.",
      [readers = src_.hosts](std::vector<Sample>* out) {
        std::vector<matchers::HostRow> rows;
        for (const auto& read : readers) read(&rows);
        for (const matchers::HostRow& r : rows) {
          if (!r.seen) out->push_back({{{"host", r.name}}, 1});
        }
      });
}

int64_t StatusService::UptimeClockNs() const {
  return src_.uptime_clock != nullptr ? Ns(src_.uptime_clock->Now()) : BootTimeNs();
}

void StatusService::NoteReload(bool ok, const std::string& error) {
  const int64_t now = Ns(src_.clock->Now());
  std::lock_guard<std::mutex> lock(mu_);
  last_reload_ns_ = now;
  last_reload_ok_ = ok;
  last_reload_error_ = error;
  reload_success_->Set(ok ? 1 : 0);
  reload_time_->Set(Secs(now));
}

std::vector<double> StatusService::ReceivedPerListener(const std::vector<MetricValue>& snap) const {
  std::vector<double> out(src_.listeners.size(), 0);
  for (const MetricValue& m : snap) {
    if (m.name != "konseki_received_messages_total") continue;
    const std::string l = LabelOf(m, "listener");
    for (size_t i = 0; i < src_.listeners.size(); ++i) {
      if (src_.listeners[i].first == l) out[i] += m.value;
    }
  }
  return out;
}

void StatusService::Tick() {
  RateSample s{Ns(src_.clock->Now()),
               ReceivedPerListener(src_.metrics->Snapshot("konseki_received_"))};
  std::lock_guard<std::mutex> lock(mu_);
  samples_.push_back(std::move(s));
  while (samples_.size() > 2 && samples_.back().ns - samples_[1].ns >= kRateWindowNs) {
    samples_.pop_front();
  }
}

JsonValue StatusService::Listeners(const std::vector<MetricValue>& snap) {
  std::vector<double> rate(src_.listeners.size(), 0);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (samples_.size() >= 2 && samples_.back().ns > samples_.front().ns) {
      const double dt = Secs(samples_.back().ns - samples_.front().ns);
      for (size_t i = 0; i < rate.size(); ++i) {
        rate[i] = (samples_.back().received[i] - samples_.front().received[i]) / dt;
      }
    }
  }
  const std::vector<double> received = ReceivedPerListener(snap);
  JsonValue out = JsonValue::Array();
  for (size_t i = 0; i < src_.listeners.size(); ++i) {
    const std::string& name = src_.listeners[i].first;
    JsonValue l = JsonValue::Object();
    l.Set("name", name).Set("bound", src_.listeners[i].second);
    l.Set("transport", name.substr(0, name.find(':')));
    double conns = 0;
    for (const MetricValue& m : snap) {
      if (m.name == "konseki_connections" && LabelOf(m, "listener") == name) conns += m.value;
    }
    l.Set("connections", static_cast<int64_t>(conns));
    l.Set("received_messages", static_cast<int64_t>(received[i]));
    l.Set("messages_per_sec", rate[i]);
    out.Append(l);
  }
  return out;
}

JsonValue StatusService::Archive(const std::vector<MetricValue>& snap) const {
  JsonValue a = JsonValue::Object();
  a.Set("dir", src_.config->archive.dir);
  struct statvfs fs;
  if (::statvfs(src_.config->archive.dir.c_str(), &fs) == 0) {
    a.Set("free_bytes", static_cast<int64_t>(fs.f_bavail * fs.f_frsize));
    a.Set("total_bytes", static_cast<int64_t>(fs.f_blocks * fs.f_frsize));
  }
  a.Set("written_messages",
        static_cast<int64_t>(Sum(snap, "konseki_archive_written_messages_total")));
  a.Set("write_errors", static_cast<int64_t>(Sum(snap, "konseki_archive_write_errors_total")));
  bool blocked = false;
  for (size_t w = 0; w < src_.queues->num_workers(); ++w) blocked |= src_.queues->Blocked(w);
  a.Set("blocked", blocked);
  return a;
}

JsonValue StatusService::Queue() const {
  const BatchQueues& q = *src_.queues;
  double max_fill = 0;
  int64_t blocked = 0;
  for (size_t w = 0; w < q.num_workers(); ++w) {
    max_fill =
        std::max(max_fill, static_cast<double>(q.QueuedBytes(w)) /
                               static_cast<double>(std::max<size_t>(1, q.max_bytes_per_worker())));
    blocked += q.Blocked(w) ? 1 : 0;
  }
  JsonValue o = JsonValue::Object();
  o.Set("workers", static_cast<int64_t>(q.num_workers()));
  o.Set("max_bytes_per_worker", static_cast<int64_t>(q.max_bytes_per_worker()));
  o.Set("max_fill", max_fill);
  o.Set("blocked_workers", blocked);
  return o;
}

JsonValue StatusService::Alerts() const {
  JsonValue o = JsonValue::Object();
  o.Set("file", src_.config->alerts_file);
  o.Set("last_hour", BySeverity(src_.tally->Last(std::chrono::hours(1))));
  o.Set("last_day", BySeverity(src_.tally->Last(std::chrono::hours(24))));
  o.Set("counting_earlier", src_.tally->seeding());
  return o;
}

JsonValue StatusService::Rules() {
  JsonValue r = JsonValue::Object();
  r.Set("loaded", static_cast<int64_t>(src_.metrics->ValueOf("konseki_rules_loaded")));
  r.Set("dir", src_.rules_dir);
  JsonValue last = JsonValue::Object();
  {
    std::lock_guard<std::mutex> lock(mu_);
    last.Set("time", Secs(last_reload_ns_)).Set("ok", last_reload_ok_);
    last.Set("error", last_reload_error_);
  }
  r.Set("last_reload", last);
  return r;
}

JsonValue StatusService::Status() {
  const int64_t now = Ns(src_.clock->Now());
  const std::vector<MetricValue> snap = src_.metrics->Snapshot("konseki_");
  JsonValue s = JsonValue::Object();
  s.Set("version", KONSEKI_VERSION).Set("pid", static_cast<int64_t>(::getpid()));
  s.Set("start_time", Secs(start_ns_)).Set("uptime_secs", Secs(UptimeClockNs() - uptime_start_ns_));
  s.Set("config", src_.config->source);
  s.Set("listeners", Listeners(snap));
  JsonValue drops = JsonValue::Array();
  for (const MetricValue& m : snap) {
    // Messages lost; hosts the heartbeat could not watch (its table full);
    // alerts a notifying sink gave up on (someone was not told); alert lines
    // the alerts file (or stdout) did not take whole: a full disk loses
    // them, `konseki alerts` never shows them.
    std::string stage;
    std::string reason = LabelOf(m, "reason");
    if (m.name == "konseki_dropped_messages_total") {
      stage = LabelOf(m, "stage");
    } else if (m.name == "konseki_heartbeat_dropped_total" && LabelOf(m, "reason") == "max_hosts") {
      stage = "heartbeat";
    } else if (m.name == "konseki_alert_delivery_dropped_total") {
      stage = "alerts." + LabelOf(m, "sink");
    } else if (m.name == "konseki_alert_write_errors_total") {
      stage = "alerts";
      reason = "write_error";
    } else {
      continue;
    }
    JsonValue d = JsonValue::Object();
    d.Set("stage", stage).Set("reason", reason);
    d.Set("messages", static_cast<int64_t>(m.value));
    drops.Append(d);
  }
  // Messages cut at max_message_bytes (kept, not dropped, but their end is
  // lost) and the senders that sent them (konseki.message_truncated).
  // Messages cut short because their sender stalled mid-message or the
  // connection closed first (kept as they were; the rest, if it came, is
  // its own line) are "cut_short", not blamed on max_message_bytes.
  double truncated = 0;
  double truncating_senders = 0;
  double cut_short = 0;
  double cut_short_senders = 0;
  for (const MetricValue& m : snap) {
    const bool too_long = LabelOf(m, "reason") == "max_message_bytes";
    if (m.name == "konseki_processed_truncated_messages_total") {
      (too_long ? truncated : cut_short) += m.value;
    }
    if (m.name == "konseki_truncated_senders_total") {
      (too_long ? truncating_senders : cut_short_senders) += m.value;
    }
  }
  JsonValue cut = JsonValue::Object();
  cut.Set("messages", static_cast<int64_t>(truncated));
  cut.Set("senders", static_cast<int64_t>(truncating_senders));
  JsonValue shortened = JsonValue::Object();
  shortened.Set("messages", static_cast<int64_t>(cut_short));
  shortened.Set("senders", static_cast<int64_t>(cut_short_senders));
  s.Set("drops", drops).Set("truncated", cut).Set("cut_short", shortened);
  // Connections konseki closed to make room for new ones (a connection
  // flood, a NAT or relay at its per-source cap): their senders' next lines
  // went into closed sockets (plain TCP; receiver.connections_evicted).
  double evicted_full = 0;
  double evicted_per_source = 0;
  for (const MetricValue& m : snap) {
    if (m.name != "konseki_connections_evicted_total") continue;
    const std::string reason = LabelOf(m, "reason");
    if (reason == "max_connections") evicted_full += m.value;
    if (reason == "max_connections_per_source") evicted_per_source += m.value;
  }
  JsonValue evicted = JsonValue::Object();
  evicted.Set("max_connections", static_cast<int64_t>(evicted_full));
  evicted.Set("max_connections_per_source", static_cast<int64_t>(evicted_per_source));
  s.Set("evicted", evicted);
  // TLS handshakes that failed, by reason (all TLS listeners): a sender
  // writing plain syslog to a tls:// port (not_tls) loses every line and
  // does not know; only the metric said so.
  JsonValue tls_failed = JsonValue::Object();
  std::vector<std::pair<std::string, double>> tls_reasons;
  for (const MetricValue& m : snap) {
    if (m.name != "konseki_tls_handshake_failures_total" || m.value == 0) continue;
    const std::string reason = LabelOf(m, "reason");
    auto it = std::find_if(tls_reasons.begin(), tls_reasons.end(),
                           [&](const auto& r) { return r.first == reason; });
    if (it == tls_reasons.end()) {
      tls_reasons.emplace_back(reason, m.value);
    } else {
      it->second += m.value;
    }
  }
  for (const auto& [reason, n] : tls_reasons) tls_failed.Set(reason, static_cast<int64_t>(n));
  s.Set("tls_handshake_failures", tls_failed);
  // State files found damaged at this start and set aside (their lost
  // content is in the konseki.state_corrupt alerts).
  s.Set("damaged_state_files",
        static_cast<int64_t>(Sum(snap, "konseki_state_files_damaged_total")));
  s.Set("queue", Queue()).Set("archive", Archive(snap));
  s.Set("rules", Rules()).Set("alerts", Alerts());
  std::vector<matchers::HostRow> rows;
  for (const auto& read : src_.hosts) read(&rows);
  std::vector<std::string_view> names;
  for (const matchers::HostRow& r : rows) {
    if (r.silent || !r.seen) names.push_back(r.name);
  }
  const size_t shown = std::min(names.size(), kStatusSilentNames);
  std::partial_sort(names.begin(), names.begin() + static_cast<ptrdiff_t>(shown), names.end());
  JsonValue silent = JsonValue::Array();
  for (size_t i = 0; i < shown; ++i) silent.Append(names[i]);
  // Hosts that raised host.flood within the hour (`konseki hosts` has the
  // FLOOD column).
  std::vector<std::string_view> flooding;
  for (const matchers::HostRow& r : rows) {
    if (r.last_flood_ns != 0 && now - r.last_flood_ns < int64_t{3600} * 1000000000) {
      flooding.push_back(r.name);
    }
  }
  const size_t flood_shown = std::min(flooding.size(), kStatusSilentNames);
  std::partial_sort(flooding.begin(), flooding.begin() + static_cast<ptrdiff_t>(flood_shown),
                    flooding.end());
  JsonValue flood_names = JsonValue::Array();
  for (size_t i = 0; i < flood_shown; ++i) flood_names.Append(flooding[i]);
  JsonValue h = JsonValue::Object();
  h.Set("tracked", static_cast<int64_t>(rows.size()))
      .Set("silent", static_cast<int64_t>(names.size()));
  h.Set("silent_hosts", silent);
  h.Set("flooding", static_cast<int64_t>(flooding.size())).Set("flooding_hosts", flood_names);
  s.Set("hosts", h);
  return s;
}

std::string StatusService::HostsJson() {
  const int64_t now = Ns(src_.clock->Now());
  std::string out;
  {
    std::vector<matchers::HostRow> rows;
    for (const auto& read : src_.hosts) read(&rows);
    std::sort(rows.begin(), rows.end(), [](const matchers::HostRow& a, const matchers::HostRow& b) {
      return a.name < b.name;
    });
    out.reserve(64 + rows.size() * 256);
    out += "{\"time\":";
    AppendJsonNumber(Secs(now), &out);
    out += ",\"hosts\":[";
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendHostJson(rows[i], now, &out);
    }
    out += "]}";
  }
  // The rows' many small strings are freed by now: give the pages back, so
  // an answer about 100,000 hosts does not stay in the daemon's memory.
  malloc_trim(0);
  return out;
}

std::string StatusService::Handle(std::string_view request) {
  if (request == "status") return Status().Dump();
  if (request == "hosts") return HostsJson();
  JsonValue e = JsonValue::Object();
  e.Set("error",
        "unknown request '" + std::string(request.substr(0, 64)) + "' (known: status, hosts)");
  return e.Dump();
}

}  // namespace konseki::app
