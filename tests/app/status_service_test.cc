#include "app/status_service.h"

#include <gtest/gtest.h>

#include <map>

namespace konseki::app {
namespace {

struct NullSink : AlertSink {
  void Emit(const Alert&) override {}
};

class StatusServiceTest : public ::testing::Test {
 protected:
  StatusServiceTest() : queues_(2, 1000, metrics_), tally_(null_, clock_) {
    config_.archive.dir = "/";
    config_.source = "test.yaml";
    src_.config = &config_;
    src_.metrics = &metrics_;
    src_.queues = &queues_;
    src_.tally = &tally_;
    src_.clock = &clock_;
    src_.uptime_clock = &clock_;  // moves with the wall clock unless a test says otherwise
    src_.listeners = {{"udp://127.0.0.1:0", "udp://127.0.0.1:40000"}};
    src_.rules_dir = "/rules";
    const int64_t now = clock_.Now().time_since_epoch().count();
    src_.hosts.push_back([now](std::vector<matchers::HostRow>* out) {
      matchers::HostRow ok{"web1",
                           "192.0.2.1",
                           now - int64_t{3} * 86400'000'000'000,
                           now - 5'000'000'000,
                           60,
                           300,
                           true,
                           false,
                           false,
                           false,
                           42,
                           {"192.0.2.1", "198.51.100.9"},
                           2.5,
                           0};
      matchers::HostRow never{"db1", "", 0, 0, 0, 300, false, true, false, false, 0, {}, 0, 0};
      matchers::HostRow stopped = ok;
      stopped.name = "app1";
      stopped.silent = stopped.silent_after_stop = true;
      out->push_back(ok);
      out->push_back(never);
      out->push_back(stopped);
    });
  }

  FakeClock clock_;
  MetricsRegistry metrics_;
  BatchQueues queues_;
  NullSink null_;
  AlertTally tally_;
  Config config_;
  StatusSources src_;
};

// Drops are also the hosts the heartbeat could not watch (its table full)
// and the alerts a notifying sink gave up on: someone was not told.
TEST_F(StatusServiceTest, DropsIncludeUnwatchedHostsAndAlertsGivenUp) {
  metrics_.GetCounter("konseki_heartbeat_dropped_total", "", {{"reason", "max_hosts"}})->Inc(103);
  metrics_.GetCounter("konseki_heartbeat_dropped_total", "", {{"reason", "no_host"}})->Inc(2);
  metrics_
      .GetCounter("konseki_alert_delivery_dropped_total", "",
                  {{"sink", "mail"}, {"reason", "permanent_error"}})
      ->Inc(6);
  // Alert lines the alerts file did not take (a full disk): lost to
  // `konseki alerts` and the report.
  metrics_.GetCounter("konseki_alert_write_errors_total", "")->Inc(404);
  StatusService s(src_);
  JsonValue drops = s.Status().Get("drops");
  ASSERT_EQ(drops.size(), 3u);
  std::map<std::string, int64_t> got;
  for (size_t i = 0; i < drops.size(); ++i) {
    got[drops.At(i).Str("stage") + "/" + drops.At(i).Str("reason")] = drops.At(i).Int("messages");
  }
  EXPECT_EQ(got["heartbeat/max_hosts"], 103);
  EXPECT_EQ(got["alerts.mail/permanent_error"], 6);
  EXPECT_EQ(got["alerts/write_error"], 404);
}

// State files found damaged at the start (and set aside) are in the
// status, so `konseki status` can point at the konseki.state_corrupt alerts.
TEST_F(StatusServiceTest, StatusCountsDamagedStateFilesSetAsideAtStart) {
  StatusService s(src_);
  EXPECT_EQ(s.Status().Int("damaged_state_files", -1), 0);
  metrics_.GetCounter("konseki_state_files_damaged_total", "", {{"store", "heartbeat"}})->Inc(2);
  metrics_.GetCounter("konseki_state_files_damaged_total", "", {{"store", "spool"}})->Inc();
  EXPECT_EQ(s.Status().Int("damaged_state_files", -1), 3);
}

TEST_F(StatusServiceTest, StatusHasListenerRatesDropsRulesAlertsAndSilentHosts) {
  Counter* rx = metrics_.GetCounter("konseki_received_messages_total", "",
                                    {{"listener", "udp://127.0.0.1:0"}, {"transport", "udp"}});
  metrics_
      .GetCounter("konseki_dropped_messages_total", "",
                  {{"stage", "receiver"}, {"reason", "queue_full"}})
      ->Inc(7);
  metrics_.GetGauge("konseki_rules_loaded", "")->Set(55);
  StatusService s(src_);
  s.Tick();
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(std::chrono::seconds(1));
    rx->Inc(20);
    s.Tick();
  }
  Alert a;
  a.severity = Severity::kHigh;
  tally_.Emit(a);
  s.NoteReload(false, "bad rule x");

  JsonValue j = s.Status();
  JsonValue l = j.Get("listeners").At(0);
  EXPECT_EQ(l.Str("bound"), "udp://127.0.0.1:40000");
  EXPECT_EQ(l.Str("transport"), "udp");
  EXPECT_EQ(l.Int("received_messages"), 200);
  EXPECT_DOUBLE_EQ(l.Num("messages_per_sec"), 20);
  EXPECT_EQ(j.Get("drops").At(0).Int("messages"), 7);
  EXPECT_EQ(j.Get("rules").Int("loaded"), 55);
  EXPECT_FALSE(j.Get("rules").Get("last_reload").Bool("ok", true));
  EXPECT_EQ(j.Get("rules").Get("last_reload").Str("error"), "bad rule x");
  EXPECT_EQ(j.Get("alerts").Get("last_hour").Int("high"), 1);
  EXPECT_FALSE(j.Get("alerts").Bool("counting_earlier", true));
  tally_.SetSeeding(true);  // the alert file of before the start being read
  EXPECT_TRUE(s.Status().Get("alerts").Bool("counting_earlier", false));
  tally_.SetSeeding(false);
  EXPECT_EQ(j.Get("queue").Int("workers"), 2);
  EXPECT_FALSE(j.Get("archive").Bool("blocked", true));
  EXPECT_EQ(j.Get("hosts").Int("tracked"), 3);
  EXPECT_EQ(j.Get("hosts").Int("silent"), 2);
  EXPECT_EQ(j.Get("hosts").Get("silent_hosts").size(), 2u);
  EXPECT_DOUBLE_EQ(j.Num("uptime_secs"), 10);
  EXPECT_EQ(metrics_.ValueOf("konseki_reload_success"), 0);
  EXPECT_GT(metrics_.ValueOf("konseki_reload_timestamp_seconds"), 0);
}

// prod23: the log host's clock set back past the start made uptime negative
// and `konseki status` print "up -". Uptime comes from a clock that never
// steps; start_time stays the wall-clock time of the start.
TEST_F(StatusServiceTest, UptimeSurvivesTheClockSetBackPastTheStart) {
  FakeClock steady(TimePoint(std::chrono::seconds(5000)));
  src_.uptime_clock = &steady;
  const int64_t start =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  StatusService s(src_);
  clock_.Advance(-std::chrono::hours(2));
  steady.Advance(std::chrono::seconds(90));
  JsonValue j = s.Status();
  EXPECT_DOUBLE_EQ(j.Num("uptime_secs"), 90);
  EXPECT_DOUBLE_EQ(j.Num("start_time"), static_cast<double>(start));
  // Without an uptime clock: CLOCK_BOOTTIME, not the wall clock.
  src_.uptime_clock = nullptr;
  StatusService boot(src_);
  clock_.Advance(-std::chrono::hours(2));
  const double up = boot.Status().Num("uptime_secs");
  EXPECT_GE(up, 0);
  EXPECT_LT(up, 60);
}

// A flood of invented host names must not fill the one-screen status: the
// first names (in order) and the count of all.
TEST_F(StatusServiceTest, StatusNamesTheFirstTenSilentHostsAndCountsThemAll) {
  src_.hosts.push_back([](std::vector<matchers::HostRow>* out) {
    for (int i = 0; i < 500; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "spoof%03d", 499 - i);
      out->push_back({name, "", 0, 0, 0, 300, false, true, false, false, 0, {}, 0, 0});
    }
  });
  StatusService s(src_);
  JsonValue h = s.Status().Get("hosts");
  EXPECT_EQ(h.Int("tracked"), 503);
  EXPECT_EQ(h.Int("silent"), 502);
  JsonValue names = h.Get("silent_hosts");
  ASSERT_EQ(names.size(), kStatusSilentNames);
  EXPECT_EQ(names.At(0).AsString(), "app1");
  EXPECT_EQ(names.At(1).AsString(), "db1");
  EXPECT_EQ(names.At(2).AsString(), "spoof000");
  EXPECT_EQ(names.At(9).AsString(), "spoof007");
}

// Hosts whose host.flood was within the hour are named in the status (the
// FLOOD column of `konseki hosts` has the time); an older flood is not.
TEST_F(StatusServiceTest, StatusNamesTheHostsThatFloodedWithinTheHour) {
  const int64_t now = clock_.Now().time_since_epoch().count();
  src_.hosts.push_back([now](std::vector<matchers::HostRow>* out) {
    const int64_t s = 1000000000;
    out->push_back({"noisy", "", 0, 0, 0, 300, true, false, false, false, 0, {}, 5, now - 60 * s});
    out->push_back({"loud", "", 0, 0, 0, 300, true, false, false, false, 0, {}, 5, now - 3599 * s});
    out->push_back({"past", "", 0, 0, 0, 300, true, false, false, false, 0, {}, 5, now - 3601 * s});
  });
  StatusService s(src_);
  JsonValue h = s.Status().Get("hosts");
  EXPECT_EQ(h.Int("flooding"), 2);
  JsonValue names = h.Get("flooding_hosts");
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names.At(0).AsString(), "loud");
  EXPECT_EQ(names.At(1).AsString(), "noisy");
}

TEST_F(StatusServiceTest, HostsAreSortedWithTheirStates) {
  StatusService s(src_);
  auto parsed = JsonValue::Parse(s.HostsJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_GT(parsed->Num("time"), 0);
  JsonValue h = parsed->Get("hosts");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h.At(0).Str("name"), "app1");
  EXPECT_EQ(h.At(0).Str("state"), "stopped");
  EXPECT_EQ(h.At(1).Str("state"), "expected-never-seen");
  EXPECT_TRUE(h.At(1).Bool("expected"));
  EXPECT_EQ(h.At(2).Str("state"), "ok");
  EXPECT_EQ(h.At(2).Int("messages_today"), 42);
  EXPECT_EQ(h.At(2).Num("rate_per_sec"), 2.5);
  EXPECT_EQ(h.At(2).Num("last_flood"), 0);
  EXPECT_EQ(h.At(2).Num("threshold_secs"), 300);
  EXPECT_EQ(h.At(2).Str("sender"), "192.0.2.1");
  ASSERT_EQ(h.At(2).Get("senders").size(), 2u);
  EXPECT_EQ(h.At(2).Get("senders").At(1).AsString(), "198.51.100.9");
  EXPECT_EQ(h.At(1).Get("senders").size(), 0u);
  EXPECT_NE(s.Handle("nonsense").find("\"error\""), std::string::npos);
}

TEST(HostStateNameTest, NewForADayThenOk) {
  matchers::HostRow r;
  r.seen = true;
  r.first_seen_ns = 0;
  EXPECT_EQ(HostStateName(r, int64_t{3600} * 1'000'000'000), "new");
  EXPECT_EQ(HostStateName(r, int64_t{90000} * 1'000'000'000), "ok");
}

}  // namespace
}  // namespace konseki::app
