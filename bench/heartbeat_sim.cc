// Simulates hosts with different habits through HeartbeatTracker on a fake
// clock (Tick every simulated second) and prints how the learned threshold
// evolves, how many false host.silent alerts fire, and how long after its
// last message a killed host is reported. Figures quoted in docs/heartbeat.md.
//
//   heartbeat_sim            default options (multiplier 3, floor 300 s, ...)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/message.h"
#include "common/metrics.h"
#include "matchers/heartbeat_tracker.h"

namespace konseki::matchers {
namespace {

class RecordingSink final : public AlertSink {
 public:
  void Emit(const Alert& a) override { alerts.push_back(a); }
  std::vector<Alert> alerts;
};

std::string FieldOf(const Alert& a, const std::string& key) {
  for (const auto& [k, v] : a.fields) {
    if (k == key) return v;
  }
  return "";
}

// Returns the time (seconds since the start) of the message after t.
using NextMessage = std::function<double(double t, std::mt19937_64& rng)>;

void Simulate(const char* name, const char* habit, NextMessage next, double days) {
  FakeClock clock;
  const TimePoint t0 = clock.Now();
  RecordingSink sink;
  MetricsRegistry metrics;
  HeartbeatOptions options;
  HeartbeatTracker tracker(options, 0, 1, clock, sink, metrics);
  std::mt19937_64 rng(2026);
  const double end = days * 86400;
  const std::string host = name;
  const std::string raw = "<46>1 - " + host + " rsyslogd - - - -- MARK --";
  Message m;
  m.raw = raw;
  m.hostname = host;
  m.sender = "192.0.2.7";

  std::printf("\n== %s: %s, %.0f days, then killed ==\n", name, habit, days);
  std::printf("%8s %10s %12s %12s %8s\n", "hour", "messages", "cadence_s", "threshold_s", "alerts");
  const std::vector<double> report_hours = {1, 6, 12, 23, 25, 36, 48, 72, 96};
  size_t report = 0;
  double t_msg = 0;
  double t_tick = 1;
  double last_msg = 0;
  long messages = 0;
  auto at = [&](double secs) {
    return t0 + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(secs));
  };
  while (true) {
    bool killed = t_msg >= end;
    if (!killed && t_msg <= t_tick) {
      clock.Set(at(t_msg));
      m.received = clock.Now();
      tracker.Observe(m);
      ++messages;
      last_msg = t_msg;
      t_msg = next(t_msg, rng);
      continue;
    }
    clock.Set(at(t_tick));
    tracker.Tick();
    while (report < report_hours.size() && t_tick >= report_hours[report] * 3600 && t_tick < end) {
      std::printf("%8.0f %10ld %12.1f %12.0f %8zu\n", report_hours[report], messages,
                  tracker.CadenceSecs(host), tracker.ThresholdSecs(host), sink.alerts.size());
      ++report;
    }
    t_tick += 1;
    if (killed && !sink.alerts.empty() && sink.alerts.back().sign == "host.silent" &&
        t_tick > end) {
      break;
    }
    if (t_tick > end + 86400) break;
  }
  size_t false_alarms = 0;
  for (const Alert& a : sink.alerts) {
    if (a.sign == "host.silent" && a.time < at(end)) ++false_alarms;
  }
  const Alert& last = sink.alerts.back();
  std::printf("false host.silent alerts before the kill: %zu", false_alarms);
  for (const Alert& a : sink.alerts) {
    if (a.sign == "host.silent" && a.time < at(end)) {
      std::printf(" [hour %.1f, threshold %s s]",
                  std::chrono::duration<double>(a.time - t0).count() / 3600,
                  FieldOf(a, "threshold_secs").c_str());
    }
  }
  std::printf("\n");
  std::printf(
      "killed after its last message at hour %.2f: host.silent %s s later "
      "(threshold %s s, cadence %s s, source %s)\n",
      last_msg / 3600, FieldOf(last, "silence_secs").c_str(),
      FieldOf(last, "threshold_secs").c_str(), FieldOf(last, "expected_cadence_secs").c_str(),
      FieldOf(last, "threshold_source").c_str());
}

}  // namespace
}  // namespace konseki::matchers

int main() {
  using konseki::matchers::Simulate;
  // Bursts of 50 lines 0.1 s apart, then 10 minutes (+-30 s) of nothing.
  Simulate(
      "bursty", "bursts of 50 lines, then 600+-30 s quiet",
      [](double t, std::mt19937_64& rng) {
        static int in_burst = 0;
        if (++in_burst < 50) return t + 0.1;
        in_burst = 0;
        return t + 600 + std::uniform_real_distribution<double>(-30, 30)(rng);
      },
      3);
  // rsyslog immark: one "-- MARK --" every 20 minutes, nothing else.
  Simulate(
      "quiet", "one MARK every 1200 s", [](double t, std::mt19937_64&) { return t + 1200; }, 3);
  // Busy by day (Poisson, mean 10 s, 08:00-24:00), only MARKs at night.
  Simulate(
      "office", "Poisson mean 10 s by day, MARK every 1200 s at night",
      [](double t, std::mt19937_64& rng) {
        double hour = std::fmod(t / 3600, 24);
        if (hour >= 8) {
          return t + std::exponential_distribution<double>(0.1)(rng);
        }
        return t + 1200;
      },
      4);
  // Busy around the clock (Poisson, mean 2 s).
  Simulate(
      "busy", "Poisson mean 2 s",
      [](double t, std::mt19937_64& rng) {
        return t + std::exponential_distribution<double>(0.5)(rng);
      },
      2);
  // Busy by day, no immark: nothing at all from 00:00 to 08:00.
  Simulate(
      "nightly-silent", "Poisson mean 10 s by day, nothing at night (no immark)",
      [](double t, std::mt19937_64& rng) {
        double next = t + std::exponential_distribution<double>(0.1)(rng);
        double hour = std::fmod(next / 3600, 24);
        if (hour < 8) next += (8 - hour) * 3600;
        return next;
      },
      4);
  return 0;
}
