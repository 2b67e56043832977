#include "matchers/heartbeat_tracker.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/host_key.h"
#include "common/host_shard.h"
#include "tests/matchers/heartbeat_test_util.h"
#include "tests/testing/host_key_collisions.h"
#include "tests/testing/temp_dir.h"

namespace konseki::matchers {
namespace {

using konseki::testing::TempDir;

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::CapturingSink;
using testing::Field;
using testing::TestMessage;

class HeartbeatTrackerTest : public ::testing::Test {
 protected:
  HeartbeatTrackerTest() {
    options_.new_host_learning_secs = 0;  // most tests want host.new at once
    options_.save_interval_secs = 0;
    options_.stall_secs = 600;  // tests tick every 60 s at most, except the stall test
  }

  HeartbeatTracker& Make(size_t shard = 0, size_t num_shards = 1,
                         ClockStepWatch* own_clock = nullptr) {
    tracker_ = std::make_unique<HeartbeatTracker>(options_, shard, num_shards, clock_, sink_,
                                                  metrics_, own_clock);
    return *tracker_;
  }

  void Send(std::string_view host, std::string raw = "", std::optional<TimePoint> ts = std::nullopt,
            std::string sender = "192.0.2.10") {
    TestMessage m(std::string(host), clock_.Now(), std::move(raw), std::move(sender), ts);
    tracker_->Observe(m.msg());
  }
  // As the worker calls it: with the key the Router hashed.
  void SendKeyed(std::string_view host, std::string raw = "") {
    TestMessage m(std::string(host), clock_.Now(), std::move(raw));
    tracker_->Observe(m.msg(), HostKey::Of(m.msg().host()));
  }

  // Advances the clock by `total` in `step`s, ticking after each.
  void Run(Duration total, Duration step = seconds(1)) {
    for (Duration d{0}; d < total; d += step) {
      clock_.Advance(step);
      tracker_->Tick();
    }
  }

  FakeClock clock_;
  CapturingSink sink_;
  MetricsRegistry metrics_;
  HeartbeatOptions options_;
  std::unique_ptr<HeartbeatTracker> tracker_;
};

TEST_F(HeartbeatTrackerTest, OptionsValidationNamesTheKey) {
  EXPECT_TRUE(ValidateHeartbeatOptions(HeartbeatOptions()).ok());
  HeartbeatOptions o;
  o.floor_secs = 100;
  o.ceiling_secs = 50;
  Status st = ValidateHeartbeatOptions(o);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("heartbeat.ceiling_secs"), std::string::npos);
  o = HeartbeatOptions();
  o.overrides.push_back({"a", "b*", 10});
  EXPECT_NE(ValidateHeartbeatOptions(o).message().find("overrides[0]"), std::string::npos);
  o = HeartbeatOptions();
  o.cadence_quantile = 1.5;
  EXPECT_FALSE(ValidateHeartbeatOptions(o).ok());
}

TEST_F(HeartbeatTrackerTest, FirstMessageOfAHostRaisesHostNewOnce) {
  Make();
  Send("web1", "<13>1 - web1 sshd - - - first");
  Send("web1");
  ASSERT_EQ(sink_.Count("host.new"), 1u);
  const Alert* a = sink_.Last("host.new");
  EXPECT_EQ(a->host, "web1");
  EXPECT_EQ(a->rule, "heartbeat.new");
  EXPECT_EQ(a->sender, "192.0.2.10");
  EXPECT_EQ(a->message, "<13>1 - web1 sshd - - - first");
  EXPECT_EQ(Field(*a, "sender"), "192.0.2.10");
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_alerts_total", {{"sign", "host.new"}}), 1);
  tracker_->Tick();  // the message counter is added up by Tick
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_messages_total"), 2);
}

TEST_F(HeartbeatTrackerTest, OnAFirstRunTheFleetSeenAtStartIsNotNew) {
  options_.new_host_learning_secs = 600;
  Make();
  Send("a");
  clock_.Advance(seconds(599));
  Send("b");
  clock_.Advance(seconds(2));
  Send("c");
  EXPECT_EQ(sink_.Count("host.new"), 1u);
  EXPECT_EQ(sink_.Last("host.new")->host, "c");
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_suppressed_alerts_total",
                             {{"sign", "host.new"}, {"reason", "first_run"}}),
            2);
}

TEST_F(HeartbeatTrackerTest, HostNewIsRateLimited) {
  options_.new_host_alerts_per_minute = 5;
  Make();
  for (int i = 0; i < 20; ++i) Send("spoof" + std::to_string(i));
  EXPECT_EQ(sink_.Count("host.new"), 5u);
  clock_.Advance(seconds(60));
  for (int i = 20; i < 40; ++i) Send("spoof" + std::to_string(i));
  EXPECT_EQ(sink_.Count("host.new"), 10u);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_suppressed_alerts_total",
                             {{"sign", "host.new"}, {"reason", "rate_limit"}}),
            30);
  EXPECT_EQ(tracker_->hosts_tracked(), 40u);
}

// A replay of files (test-rules): a host is judged silent only once the
// input showed it logging for as long as its threshold, and only when a
// high alert (or a stop line) about it came before its last line; it is
// armed again by its next line; no host.new. Live (the default) every
// silence alerts.
TEST_F(HeartbeatTrackerTest, AReplayJudgesOnlyHostsItSawLogAndWhoseSilenceIsLinked) {
  options_.silence_after_secs = 600;
  for (const bool replay : {false, true}) {
    sink_.alerts.clear();
    Make().set_replay(replay);
    Send("burst");  // one line, then nothing: its rhythm is unknown
    Run(seconds(700), seconds(10));
    EXPECT_EQ(sink_.Count("host.silent"), replay ? 0u : 1u);
    EXPECT_EQ(sink_.Count("host.new"), replay ? 0u : 1u);
    // Lines every 60 s for 11 minutes, then silence: silent 600 s after
    // the last line; in a replay only "killed", whose last line came
    // after a high alert about it.
    for (int i = 0; i < 11; ++i) {
      Send("steady");
      Send("killed");
      Run(seconds(60), seconds(10));
    }
    Alert login;
    login.host = "killed";
    login.sign = "ssh.login";
    login.severity = Severity::kHigh;
    login.received = clock_.Now();
    tracker_->NoteAlert(login);
    Send("steady");
    Send("killed");
    Send("burst");  // a second line, 23 min after its first: armed again
    Run(seconds(590), seconds(10));
    EXPECT_EQ(sink_.Count("host.silent"), replay ? 0u : 1u);
    Run(seconds(20), seconds(10));
    ASSERT_EQ(sink_.Count("host.silent"), replay ? 1u : 4u) << replay;
    if (replay) {
      EXPECT_EQ(sink_.Last("host.silent")->host, "killed");
      EXPECT_EQ(sink_.Last("host.silent")->severity, Severity::kCritical);
    }
  }
}

TEST_F(HeartbeatTrackerTest, FixedThresholdFiresOncePerOutageAndResumes) {
  options_.silence_after_secs = 60;
  Make();
  Send("web1", "<13>1 - web1 app - - - last words");
  TimePoint last = clock_.Now();
  Run(seconds(59));
  EXPECT_EQ(sink_.Count("host.silent"), 0u);
  Run(seconds(2));
  ASSERT_EQ(sink_.Count("host.silent"), 1u);
  const Alert a = *sink_.Last("host.silent");
  EXPECT_EQ(a.rule, "heartbeat.silent");
  EXPECT_EQ(a.severity, Severity::kHigh);
  EXPECT_EQ(a.host, "web1");
  EXPECT_EQ(Field(a, "last_seen"), FormatRfc3339Micros(last));
  EXPECT_EQ(Field(a, "silence_secs"), "60");
  EXPECT_EQ(Field(a, "threshold_secs"), "60");
  EXPECT_EQ(Field(a, "threshold_source"), "fixed");
  EXPECT_EQ(Field(a, "preceded_by_stop"), "false");
  EXPECT_EQ(Field(a, "last_message"), "<13>1 - web1 app - - - last words");
  EXPECT_NE(Field(a, "expected_cadence_secs"), "<absent>");
  EXPECT_EQ(tracker_->hosts_silent(), 1u);

  Run(seconds(3 * 3600), seconds(10));  // a long outage is still one alert
  EXPECT_EQ(sink_.Count("host.silent"), 1u);

  Send("web1");
  ASSERT_EQ(sink_.Count("host.resumed"), 1u);
  const Alert* r = sink_.Last("host.resumed");
  EXPECT_EQ(Field(*r, "gap_secs"), std::to_string(61 + 3 * 3600));
  EXPECT_EQ(Field(*r, "last_seen"), FormatRfc3339Micros(last));
  EXPECT_EQ(tracker_->hosts_silent(), 0u);

  Run(seconds(61));  // a second outage is a second alert
  EXPECT_EQ(sink_.Count("host.silent"), 2u);
  EXPECT_EQ(sink_.Count("host.new"), 1u);
}

TEST_F(HeartbeatTrackerTest, StopMessageJustBeforeTheSilenceMakesItCritical) {
  options_.silence_after_secs = 60;
  Make();
  Send("web1");
  TestMessage stop("web1", clock_.Now(), "<46>1 - web1 rsyslogd - - - exiting on signal 15");
  tracker_->Observe(stop.msg());
  tracker_->NoteStopMessage(stop.msg());
  Run(seconds(61));
  ASSERT_EQ(sink_.Count("host.silent"), 1u);
  const Alert* a = sink_.Last("host.silent");
  EXPECT_EQ(a->severity, Severity::kCritical);
  EXPECT_EQ(Field(*a, "preceded_by_stop"), "true");
  EXPECT_EQ(Field(*a, "stop_message"), "<46>1 - web1 rsyslogd - - - exiting on signal 15");
  EXPECT_NE(a->title.find("stop"), std::string::npos);
  Send("web1");
  EXPECT_EQ(Field(*sink_.Last("host.resumed"), "preceded_by_stop"), "true");
}

// A reboot the host announced (system.shutdown), then rsyslogd's stop: the
// silence is planned (medium, both lines named); an announcement older than
// shutdown_link_secs before the last message is not (critical as before).
TEST_F(HeartbeatTrackerTest, AnnouncedShutdownMakesTheSilencePlanned) {
  options_.silence_after_secs = 60;
  Make();
  Send("web1");
  // web2 announced a reboot, came back, and logged for 16 minutes.
  TestMessage old("web2", clock_.Now(), "<38>1 - web2 systemd-logind - - - System is rebooting.");
  tracker_->NoteShutdownMessage(old.msg());
  tracker_->Observe(old.msg());
  for (int i = 0; i < 17; ++i) {
    clock_.Advance(seconds(55));
    Send("web1");
    Send("web2");
  }
  clock_.Advance(seconds(5));
  TestMessage reboot("web1", clock_.Now(),
                     "<38>1 - web1 systemd-logind - - - System is rebooting.");
  tracker_->NoteShutdownMessage(reboot.msg());
  tracker_->Observe(reboot.msg());
  clock_.Advance(seconds(2));
  for (const std::string host : {"web1", "web2"}) {
    TestMessage stop(host, clock_.Now(),
                     "<46>1 - " + host + " rsyslogd - - - exiting on signal 15");
    tracker_->NoteStopMessage(stop.msg());
    tracker_->Observe(stop.msg());
  }
  Run(seconds(61));
  ASSERT_EQ(sink_.Count("host.silent"), 2u);
  for (const Alert& a : sink_.alerts) {
    if (a.sign != "host.silent") continue;
    EXPECT_EQ(Field(a, "preceded_by_stop"), "true") << a.host;
    if (a.host == "web1") {
      EXPECT_EQ(a.severity, Severity::kMedium);
      EXPECT_EQ(Field(a, "planned_shutdown"), "true");
      EXPECT_EQ(Field(a, "shutdown_message"),
                "<38>1 - web1 systemd-logind - - - System is rebooting.");
      EXPECT_NE(a.title.find("announced shutdown"), std::string::npos) << a.title;
    } else {
      EXPECT_EQ(a.severity, Severity::kCritical) << "announced 942 s before its last line";
      EXPECT_EQ(Field(a, "planned_shutdown"), "false");
      EXPECT_EQ(Field(a, "shutdown_message"), "<absent>");
    }
  }
}

// The live tester's b06: a host rebooted as announced and came back; a
// logger killed minutes later is no planned silence. The boot line ends
// the announcement (web1); so does the host resuming after the planned
// silence (web2's reboot took longer than its threshold).
TEST_F(HeartbeatTrackerTest, AShutdownAnnouncementEndsWithTheBootOrTheResume) {
  options_.silence_after_secs = 60;
  Make();
  for (const std::string host : {"web1", "web2"}) {
    TestMessage reboot(host, clock_.Now(),
                       "<38>1 - " + host + " systemd-logind - - - System is rebooting.");
    tracker_->NoteShutdownMessage(reboot.msg());
    tracker_->Observe(reboot.msg());
  }
  Run(seconds(30));
  TestMessage boot("web1", clock_.Now(),
                   "<6>1 - web1 kernel - - - Linux version 6.1.0-28-amd64 (debian-kernel@lists)");
  tracker_->NoteBootMessage(boot.msg());
  tracker_->Observe(boot.msg());
  Run(seconds(40));  // web2 is silent (planned, medium); web1 is up
  ASSERT_EQ(sink_.Count("host.silent"), 1u);
  EXPECT_EQ(sink_.Last("host.silent")->host, "web2");
  EXPECT_EQ(sink_.Last("host.silent")->severity, Severity::kMedium);
  Send("web2");  // back: host.resumed
  ASSERT_EQ(sink_.Count("host.resumed"), 1u);
  Send("web1");
  // Both log on for five minutes, then their loggers are killed without a line.
  for (int i = 0; i < 10; ++i) {
    Run(seconds(30));
    Send("web1");
    Send("web2");
  }
  sink_.alerts.clear();
  Run(seconds(61));
  ASSERT_EQ(sink_.Count("host.silent"), 2u);
  for (const Alert& a : sink_.alerts) {
    if (a.sign != "host.silent") continue;
    EXPECT_EQ(a.severity, Severity::kHigh) << a.host;
    EXPECT_EQ(Field(a, "planned_shutdown"), "false") << a.host;
  }
}

// heartbeat31 b4: a laptop announces its suspend (systemd-sleep, the
// kernel's PM line) and sleeps. Its silence is low, said to follow the
// suspend; told once more at medium when it lasts suspend_max_secs without
// the host coming back. A suspend line with a logger's stop line after it
// (a real suspend stops no logger) is no suspend: critical as before.
TEST_F(HeartbeatTrackerTest, AnAnnouncedSuspendMakesTheSilenceLowUntilItLastsTooLong) {
  options_.silence_after_secs = 60;
  options_.suspend_max_secs = 600;
  Make();
  for (const std::string host : {"lap1", "lap2"}) {
    Send(host);
    TestMessage sleep(host, clock_.Now(),
                      "<6>1 - " + host + " systemd-sleep - - - Entering sleep state 'suspend'...");
    tracker_->NoteSuspendMessage(sleep.msg());
    tracker_->Observe(sleep.msg());
  }
  TestMessage stop("lap2", clock_.Now(), "<46>1 - lap2 rsyslogd - - - exiting on signal 15");
  tracker_->NoteStopMessage(stop.msg());
  tracker_->Observe(stop.msg());
  Run(seconds(61));
  ASSERT_EQ(sink_.Count("host.silent"), 2u);
  for (const Alert& a : sink_.alerts) {
    if (a.sign != "host.silent") continue;
    if (a.host == "lap1") {
      EXPECT_EQ(a.severity, Severity::kLow);
      EXPECT_EQ(Field(a, "suspended"), "true");
      EXPECT_EQ(Field(a, "suspend_message"),
                "<6>1 - lap1 systemd-sleep - - - Entering sleep state 'suspend'...");
      EXPECT_NE(a.title.find("announced suspend"), std::string::npos) << a.title;
    } else {
      EXPECT_EQ(a.severity, Severity::kCritical) << "a logger stopped after the suspend line";
      EXPECT_EQ(Field(a, "suspended"), "false");
    }
  }
  sink_.alerts.clear();
  Run(seconds(600));
  ASSERT_EQ(sink_.Count("host.silent"), 1u);
  const Alert* overdue = sink_.Last("host.silent");
  EXPECT_EQ(overdue->host, "lap1");
  EXPECT_EQ(overdue->severity, Severity::kMedium);
  EXPECT_EQ(Field(*overdue, "suspend_overdue"), "true");
  EXPECT_NE(overdue->title.find("not woken up"), std::string::npos) << overdue->title;
  sink_.alerts.clear();
  Run(seconds(600));
  EXPECT_EQ(sink_.Count("host.silent"), 0u) << "told once";
}

// The laptop wakes (the resume line: a boot line to the tracker) and
// logs on; its logger killed later is high, not a suspend. One that wakes
// after its low silence resumes, and nothing more is told.
TEST_F(HeartbeatTrackerTest, ASuspendAnnouncementEndsWithTheResumeLine) {
  options_.silence_after_secs = 60;
  options_.suspend_max_secs = 600;
  Make();
  for (const std::string host : {"lap1", "lap2"}) {
    TestMessage sleep(host, clock_.Now(),
                      "<6>1 - " + host + " kernel - - - PM: suspend entry (deep)");
    tracker_->NoteSuspendMessage(sleep.msg());
    tracker_->Observe(sleep.msg());
  }
  Run(seconds(30));
  TestMessage wake("lap1", clock_.Now(), "<6>1 - lap1 kernel - - - PM: suspend exit");
  tracker_->NoteBootMessage(wake.msg());
  tracker_->Observe(wake.msg());
  Run(seconds(40));
  ASSERT_EQ(sink_.Count("host.silent"), 1u);
  EXPECT_EQ(sink_.Last("host.silent")->host, "lap2");
  EXPECT_EQ(sink_.Last("host.silent")->severity, Severity::kLow);
  Send("lap2");  // woke after its silence was told
  ASSERT_EQ(sink_.Count("host.resumed"), 1u);
  sink_.alerts.clear();
  Run(seconds(61));
  ASSERT_EQ(sink_.Count("host.silent"), 2u);
  for (const Alert& a : sink_.alerts) {
    if (a.sign != "host.silent") continue;
    EXPECT_EQ(a.severity, Severity::kHigh) << a.host;
    EXPECT_EQ(Field(a, "suspended"), "false") << a.host;
  }
  sink_.alerts.clear();
  Run(seconds(700));
  EXPECT_EQ(sink_.Count("host.silent"), 0u) << "no suspend to outlast";
}

TEST_F(HeartbeatTrackerTest, StopMessageLongBeforeTheLastMessageIsNotLinked) {
  options_.silence_after_secs = 120;
  Make();
  TestMessage stop("web1", clock_.Now(), "<46>1 - web1 rsyslogd - - - exiting on signal 15");
  tracker_->Observe(stop.msg());
  tracker_->NoteStopMessage(stop.msg());
  for (int i = 0; i < 10; ++i) {  // rsyslogd came back and logged for ten minutes
    Run(seconds(60));
    Send("web1");
  }
  Run(seconds(121));
  ASSERT_EQ(sink_.Count("host.silent"), 1u);
  EXPECT_EQ(sink_.Last("host.silent")->severity, Severity::kHigh);
  EXPECT_EQ(Field(*sink_.Last("host.silent"), "preceded_by_stop"), "false");
}

TEST_F(HeartbeatTrackerTest, StopMessageNotedBeforeObserveIsLinkedToo) {
  options_.silence_after_secs = 60;
  Make();
  Send("old");
  clock_.Advance(seconds(5));
  // The worker's order: NoteStopMessage, then Observe; "new" is seen first here.
  for (std::string host : {"old", "new"}) {
    TestMessage stop(host, clock_.Now(),
                     "<46>1 - " + host + " rsyslogd - - - exiting on signal 15");
    tracker_->NoteStopMessage(stop.msg());
    tracker_->Observe(stop.msg());
  }
  EXPECT_EQ(tracker_->hosts_tracked(), 2u);
  EXPECT_EQ(sink_.Count("host.new"), 2u);
  Run(seconds(61));
  ASSERT_EQ(sink_.Count("host.silent"), 2u);
  for (const Alert& a : sink_.alerts) {
    if (a.sign != "host.silent") continue;
    EXPECT_EQ(a.severity, Severity::kCritical) << a.host;
    EXPECT_EQ(Field(a, "preceded_by_stop"), "true") << a.host;
  }
}

TEST_F(HeartbeatTrackerTest, NewHostThresholdIsTheLearningPrior) {
  Make();
  Send("web1");
  // 3 x 1200 s (initial cadence) while learning.
  EXPECT_DOUBLE_EQ(tracker_->ThresholdSecs("web1"), 3600);
  EXPECT_EQ(tracker_->ThresholdSecs("nobody"), -1);
  for (int i = 0; i < 100; ++i) {
    clock_.Advance(seconds(5));
    Send("web1");
  }
  EXPECT_NEAR(tracker_->CadenceSecs("web1"), 5, 0.01);
  EXPECT_DOUBLE_EQ(tracker_->ThresholdSecs("web1"), 3600);  // still learning
}

TEST_F(HeartbeatTrackerTest, BurstyHostLearnsItsQuietGapWithoutFalseAlarms) {
  Make();
  TimePoint last;
  for (int cycle = 0; cycle < 2 * 144; ++cycle) {  // two days of 10-minute cycles
    for (int i = 0; i < 50; ++i) {
      Send("bursty");
      last = clock_.Now();
      clock_.Advance(milliseconds(100));
      tracker_->Tick();
    }
    Run(seconds(600), seconds(10));
  }
  EXPECT_EQ(sink_.Count("host.silent"), 0u);
  EXPECT_NEAR(tracker_->CadenceSecs("bursty"), 600, 1);
  EXPECT_NEAR(tracker_->ThresholdSecs("bursty"), 1800, 3);
  // Now kill it: the alert comes one threshold after the last message.
  Run(seconds(1800 - 600 - 20), seconds(10));
  EXPECT_EQ(sink_.Count("host.silent"), 0u);
  Run(seconds(40), seconds(1));
  ASSERT_EQ(sink_.Count("host.silent"), 1u);
  double silence = std::stod(Field(*sink_.Last("host.silent"), "silence_secs"));
  EXPECT_GE(silence, 1800);
  EXPECT_LE(silence, 1805);
  EXPECT_EQ(Field(*sink_.Last("host.silent"), "threshold_source"), "learned");
  (void)last;
}

TEST_F(HeartbeatTrackerTest, BusyDayAndMarkOnlyNightsRaiseNoFalseAlarm) {
  Make();
  for (int day = 0; day < 4; ++day) {
    for (int i = 0; i < 16 * 360; ++i) {  // 16 h, a line every 10 s
      Send("office");
      Run(seconds(10), seconds(10));
    }
    for (int i = 0; i < 24; ++i) {  // 8 h of "-- MARK --" every 20 min
      Send("office", "<46>1 - office rsyslogd - - - -- MARK --");
      Run(seconds(1200), seconds(10));
    }
  }
  EXPECT_EQ(sink_.Count("host.silent"), 0u);
  EXPECT_NEAR(tracker_->CadenceSecs("office"), 1200, 1);
  EXPECT_NEAR(tracker_->ThresholdSecs("office"), 3600, 5);
}

TEST_F(HeartbeatTrackerTest, AnOutageAfterLearningDoesNotRaiseTheThreshold) {
  options_.learning_secs = 3600;
  Make();
  for (int i = 0; i < 720; ++i) {  // 2 h, a line every 10 s
    Send("steady");
    Run(seconds(10), seconds(10));
  }
  ASSERT_DOUBLE_EQ(tracker_->ThresholdSecs("steady"), 300);  // floor
  Run(seconds(3 * 3600), seconds(10));
  ASSERT_EQ(sink_.Count("host.silent"), 1u);
  Send("steady");
  EXPECT_EQ(sink_.Count("host.resumed"), 1u);
  // The outage taught nothing beyond the usual 10 s cadence.
  EXPECT_NEAR(tracker_->CadenceSecs("steady"), 10, 0.01);
  EXPECT_DOUBLE_EQ(tracker_->ThresholdSecs("steady"), 300);
}

TEST_F(HeartbeatTrackerTest, AThresholdThatDropsIsReArmedEarly) {
  options_.learning_secs = 600;
  Make();
  for (int i = 0; i < 80; ++i) {  // 800 s, a line every 10 s: learning ends at 600 s
    Send("busy");
    Run(seconds(10), seconds(10));
  }
  ASSERT_DOUBLE_EQ(tracker_->ThresholdSecs("busy"), 300);
  // The heap entry armed while learning (3600 s) must not delay the alert.
  Run(seconds(400), seconds(1));
  ASSERT_EQ(sink_.Count("host.silent"), 1u);
  EXPECT_LE(std::stod(Field(*sink_.Last("host.silent"), "silence_secs")), 301);
}

TEST_F(HeartbeatTrackerTest, ExpectedHostThatNeverReportsIsAlertedAndIsNeverNew) {
  options_.silence_after_secs = 60;
  options_.expected_hosts = {"db1"};
  Make();
  EXPECT_EQ(tracker_->hosts_tracked(), 1u);
  Run(seconds(59));
  EXPECT_EQ(sink_.Count("host.silent"), 0u);
  Run(seconds(2));
  ASSERT_EQ(sink_.Count("host.silent"), 1u);
  const Alert* a = sink_.Last("host.silent");
  EXPECT_EQ(a->host, "db1");
  EXPECT_EQ(Field(*a, "last_seen"), "never");
  EXPECT_NE(a->title.find("expected"), std::string::npos);
  Run(seconds(100));
  Send("DB1");  // case-insensitive
  EXPECT_EQ(sink_.Count("host.new"), 0u);
  ASSERT_EQ(sink_.Count("host.resumed"), 1u);
  EXPECT_EQ(Field(*sink_.Last("host.resumed"), "last_seen"), "never");
}

TEST_F(HeartbeatTrackerTest, ExpectedHostsAreSplitByShard) {
  for (int i = 0; i < 100; ++i) options_.expected_hosts.push_back("h" + std::to_string(i));
  size_t total = 0;
  for (size_t shard = 0; shard < 4; ++shard) {
    HeartbeatTracker t(options_, shard, 4, clock_, sink_, metrics_);
    size_t mine = 0;
    for (const std::string& h : options_.expected_hosts) {
      bool own = HostShard(h, 4) == shard;
      EXPECT_EQ(t.ThresholdSecs(h) >= 0, own) << h;
      mine += own;
    }
    EXPECT_EQ(t.hosts_tracked(), mine);
    total += t.hosts_tracked();
  }
  EXPECT_EQ(total, 100u);
}

TEST_F(HeartbeatTrackerTest, OverridesByNameAndPatternWin) {
  options_.silence_after_secs = 60;
  options_.overrides = {{"web1", "", 120}, {"", "laptop-*", 0}, {"", "web*", 30}};
  Make();
  Send("WEB1");
  Send("web2");
  Send("Laptop-7");
  Send("db");
  EXPECT_DOUBLE_EQ(tracker_->ThresholdSecs("web1"), 120);
  EXPECT_DOUBLE_EQ(tracker_->ThresholdSecs("web2"), 30);
  EXPECT_DOUBLE_EQ(tracker_->ThresholdSecs("laptop-7"), 0);
  EXPECT_DOUBLE_EQ(tracker_->ThresholdSecs("db"), 60);
  Run(seconds(31));
  EXPECT_EQ(sink_.Count("host.silent", "web2"), 1u);
  EXPECT_EQ(sink_.Count("host.silent"), 1u);
  Run(seconds(30));
  EXPECT_EQ(sink_.Count("host.silent", "db"), 1u);
  Run(seconds(60));
  EXPECT_EQ(sink_.Count("host.silent", "WEB1"), 1u);
  EXPECT_EQ(Field(*sink_.Last("host.silent"), "threshold_source"), "override");
  Run(seconds(86400), seconds(60));
  EXPECT_EQ(sink_.Count("host.silent", "Laptop-7"), 0u);
  EXPECT_EQ(sink_.Count("host.silent"), 3u);
}

// heartbeat.sequence_gap: a sender's RFC 5424 meta sequenceId going back
// with no start of its logger between is log.gap (medium); after a boot
// or logger start line (NoteBootMessage, before Observe of that line) the
// count starts again.
TEST_F(HeartbeatTrackerTest, ASequenceIdGoingBackWithoutALoggerStartIsLogGap) {
  Make();
  auto send = [&](uint32_t n, bool boot = false) {
    const std::string sd = "[meta sequenceId=\"" + std::to_string(n) + "\"]";
    TestMessage m("nas01", clock_.Now(),
                  "<86>1 2026-12-04T11:20:00Z nas01 CRON 31000 - " + sd + " x");
    m.m.structured_data = sd;
    m.m.app_name = "CRON";
    if (boot) tracker_->NoteBootMessage(m.msg());
    tracker_->Observe(m.msg());
    clock_.Advance(seconds(1));
  };
  for (uint32_t n = 51201; n <= 51280; ++n) send(n);
  EXPECT_EQ(sink_.Count("log.gap"), 0u);
  send(51081);
  ASSERT_EQ(sink_.Count("log.gap"), 1u);
  const Alert* a = sink_.Last("log.gap");
  EXPECT_EQ(a->rule, "heartbeat.sequence_gap");
  EXPECT_EQ(a->severity, Severity::kMedium);
  EXPECT_EQ(a->host, "nas01");
  EXPECT_EQ(a->program, "CRON");
  EXPECT_EQ(Field(*a, "previous"), "51280");
  EXPECT_EQ(Field(*a, "current"), "51081");
  EXPECT_EQ(Field(*a, "direction"), "back");
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_alerts_total", {{"sign", "log.gap"}}), 1);
  // syslog-ng restarted: "syslog-ng starting up" carries sequenceId 1.
  send(1, /*boot=*/true);
  send(2);
  EXPECT_EQ(sink_.Count("log.gap"), 1u);
  // Lines without structured data (RFC 3164) are not judged.
  Send("nas01");
  EXPECT_EQ(sink_.Count("log.gap"), 1u);
}

TEST_F(HeartbeatTrackerTest, ClockJumpsAreAlertedOncePerIntervalAndLateLinesAreNot) {
  options_.clock_jump_tolerance_secs = 300;
  options_.clock_jump_alert_interval_secs = 3600;
  Make();
  TimePoint t0 = clock_.Now();
  Send("h", "", t0 - seconds(2));
  clock_.Advance(seconds(4000));  // link down; the relay queues lines and then replays them
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(seconds(1));
    Send("h", "", t0 + seconds(60 * i));
  }
  EXPECT_EQ(sink_.Count("host.clock_jump"), 0u) << "queued lines are not a jump";
  clock_.Advance(seconds(1));
  Send("h", "", clock_.Now() + seconds(290));  // within tolerance of the baseline (-2 s)
  EXPECT_EQ(sink_.Count("host.clock_jump"), 0u);
  clock_.Advance(seconds(1));
  Send("h", "", clock_.Now() - seconds(7200));  // set back 2 h
  EXPECT_EQ(sink_.Count("host.clock_jump"), 0u) << "held until the clock runs on from there";
  clock_.Advance(seconds(60));
  Send("h", "<13>1 - h app - - - back", clock_.Now() - seconds(7200));
  ASSERT_EQ(sink_.Count("host.clock_jump"), 1u);
  const Alert* a = sink_.Last("host.clock_jump");
  EXPECT_EQ(a->rule, "heartbeat.clock_jump");
  EXPECT_EQ(Field(*a, "kind"), "backwards");
  EXPECT_EQ(Field(*a, "offset_secs"), "-7200");
  EXPECT_EQ(a->message, "<13>1 - h app - - - back");
  clock_.Advance(seconds(1));
  Send("h", "", clock_.Now() + seconds(3600));  // forward again, inside the interval
  EXPECT_EQ(sink_.Count("host.clock_jump"), 1u);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_suppressed_alerts_total",
                             {{"sign", "host.clock_jump"}, {"reason", "rate_limit"}}),
            1);
  clock_.Advance(seconds(3600));
  Send("h", "", clock_.Now() + seconds(3600));  // steady at +1 h: baseline
  Send("h", "", clock_.Now() + seconds(5000));  // +23 min more
  ASSERT_EQ(sink_.Count("host.clock_jump"), 2u);
  EXPECT_EQ(Field(*sink_.Last("host.clock_jump"), "kind"), "forward");
}

TEST_F(HeartbeatTrackerTest, AClockBehindFromTheFirstLineIsReportedOnceAfterAMinute) {
  // live21 F3: ntp-slow's stamps are 3 h behind from its first line on, a
  // line every 5 s (the mirror of a clock ahead, told at first sight).
  options_.clock_jump_tolerance_secs = 300;
  Make();
  for (int i = 0; i < 30; ++i) {
    Send("ntp-slow", "<13>1 - ntp-slow app - - - " + std::to_string(i),
         clock_.Now() - seconds(10800));
    if (i == 11) {
      EXPECT_EQ(sink_.Count("host.clock_jump"), 0u) << "55 s: no proof yet";
    }
    clock_.Advance(seconds(5));
  }
  ASSERT_EQ(sink_.Count("host.clock_jump"), 1u);
  const Alert* a = sink_.Last("host.clock_jump");
  EXPECT_EQ(a->severity, Severity::kMedium);
  EXPECT_EQ(Field(*a, "kind"), "behind");
  EXPECT_EQ(Field(*a, "jump_secs"), "10800");
  EXPECT_EQ(Field(*a, "offset_secs"), "-10800");
  EXPECT_EQ(Field(*a, "previous_host_timestamp"), "<absent>");
  EXPECT_EQ(a->title, "clock of ntp-slow is 10800 s behind the receive time");
  EXPECT_EQ(a->message, "<13>1 - ntp-slow app - - - 12");
}

TEST_F(HeartbeatTrackerTest, AForwardersBacklogHoursOldIsNoClockJumpAndResumedSaysItLoggedOn) {
  // live21 F3 and F6: db1 logs every 5 s, its link is cut for 3 h, then its
  // queue (every line of the cut, original stamps) arrives within 10 s and
  // live lines follow.
  options_.clock_jump_tolerance_secs = 300;
  options_.silence_after_secs = 60;
  Make();
  for (int i = 0; i < 12; ++i) {
    Send("db1", "", clock_.Now());
    clock_.Advance(seconds(5));
  }
  const TimePoint cut = clock_.Now() - seconds(5);  // the last line's stamp
  Run(seconds(3 * 3600), seconds(10));
  ASSERT_EQ(sink_.Count("host.silent"), 1u);
  const int queued = 3 * 3600 / 5;
  for (int i = 1; i <= queued; ++i) {
    if (i % 216 == 0) clock_.Advance(seconds(1));
    Send("db1", "", cut + seconds(5 * i));
  }
  ASSERT_EQ(sink_.Count("host.resumed"), 1u);
  const Alert* r = sink_.Last("host.resumed");
  EXPECT_EQ(Field(*r, "host_stamp_gap_secs"), "5");
  EXPECT_EQ(Field(*r, "logged_during_silence"), "true");
  EXPECT_EQ(Field(*r, "last_host_timestamp"), FormatRfc3339Micros(cut));
  EXPECT_EQ(Field(*r, "host_timestamp"), FormatRfc3339Micros(cut + seconds(5)));
  EXPECT_NE(r->title.find("the host logged on"), std::string::npos) << r->title;
  for (int i = 0; i < 40; ++i) {
    clock_.Advance(seconds(5));
    Send("db1", "", clock_.Now());
  }
  EXPECT_EQ(sink_.Count("host.clock_jump"), 0u);
}

TEST_F(HeartbeatTrackerTest, ResumedAfterTheHostItselfWasDownSaysItsStampsShowTheSilence) {
  options_.silence_after_secs = 60;
  Make();
  Send("app1", "", clock_.Now());
  Run(seconds(300));
  ASSERT_EQ(sink_.Count("host.silent"), 1u);
  Send("app1", "", clock_.Now() - seconds(1));  // stamped on its own clock, 1 s in transit
  ASSERT_EQ(sink_.Count("host.resumed"), 1u);
  const Alert* r = sink_.Last("host.resumed");
  EXPECT_EQ(Field(*r, "gap_secs"), "300");
  EXPECT_EQ(Field(*r, "host_stamp_gap_secs"), "299");
  EXPECT_EQ(Field(*r, "logged_during_silence"), "false");
  EXPECT_EQ(r->title, "app1 resumed after 300 s of silence");
  // Lines without a stamp of the host's own (RFC 3164 from a file without
  // one never reach here, but a sender may omit it in RFC 5424): unknown.
  Run(seconds(300));
  Send("app1");
  EXPECT_EQ(Field(*sink_.Last("host.resumed"), "logged_during_silence"), "unknown");
  EXPECT_EQ(Field(*sink_.Last("host.resumed"), "host_stamp_gap_secs"), "unknown");
}

// The log host's clocks as the ClockStepWatch reads them: the wall clock is
// the test's FakeClock (the receive times), the steady one runs with real
// time only.
class LogHostClocks final : public ClockStepWatch::Source {
 public:
  explicit LogHostClocks(const FakeClock& wall) : wall_(wall) {}
  ClockStepWatch::Reading Read() const override {
    return {wall_.Now().time_since_epoch().count(), steady_ns.load()};
  }
  std::atomic<int64_t> steady_ns{1'000'000'000'000};

 private:
  const FakeClock& wall_;
};

// prod18 #3: the log host's own clock set back 2 h for 90 s (or forward),
// while alpha and beta send every second with correct stamps and gamma's
// own clock jumps an hour ahead during the step. Without the watch every
// host is blamed ("forward", 7199 s); with it only gamma's real jump is
// alerted, by its own size. `ticks`: the server reads the clocks every
// second; without, the trackers must notice the step themselves (lines
// received before the server's next tick).
TEST_F(HeartbeatTrackerTest, TheLogHostsOwnClockStepIsNotBlamedOnTheHosts) {
  struct Case {
    int64_t step_secs;
    bool watch;
    bool ticks;
    std::vector<std::string> blamed;  // hosts alerted, in order
  };
  const Case cases[] = {
      {-7200, false, false, {"alpha", "beta", "gamma"}},  // before the fix (the report)
      {-7200, true, true, {"gamma"}},
      {-7200, true, false, {"gamma"}},
      {7200, true, true, {"gamma"}},
      {7200, true, false, {"gamma"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.step_secs) + (c.watch ? " watch" : "") +
                 (c.ticks ? " ticks" : ""));
    sink_.alerts.clear();
    LogHostClocks clocks(clock_);
    ClockStepWatch watch(clocks);
    Make(0, 1, c.watch ? &watch : nullptr);
    TimePoint real = clock_.Now();
    auto second = [&](int64_t log_host_step, int64_t gamma_ahead) {
      real += seconds(1);
      clocks.steady_ns += 1'000'000'000;
      clock_.Set(real + seconds(log_host_step));
      if (c.ticks) watch.Refresh();
      Send("alpha", "", real);
      Send("beta", "", real);
      Send("gamma", "", real + seconds(gamma_ahead));
    };
    for (int i = 0; i < 20; ++i) second(0, 0);
    for (int i = 0; i < 90; ++i) second(c.step_secs, i < 10 ? 0 : 3600);
    for (int i = 0; i < 60; ++i) second(0, 3600);
    std::vector<std::string> blamed;
    for (const Alert& a : sink_.alerts) {
      if (a.sign == "host.clock_jump") blamed.push_back(a.host);
    }
    EXPECT_EQ(blamed, c.blamed);
    if (c.watch) {
      const Alert* a = sink_.Last("host.clock_jump");
      ASSERT_NE(a, nullptr);
      EXPECT_EQ(Field(*a, "kind"), "forward");
      EXPECT_EQ(Field(*a, "jump_secs"), "3600");
      // Read every second, the watch saw both steps (for konseki.clock_jump).
      if (c.ticks) {
        EXPECT_EQ(watch.TakeSteps().size(), 2u);
      }
    }
    clock_.Set(real);
  }
}

TEST_F(HeartbeatTrackerTest, ClockAheadAtFirstSightIsAlertedOnce) {
  Make();
  Send("tz", "", clock_.Now() + seconds(3600));
  ASSERT_EQ(sink_.Count("host.clock_jump"), 1u);
  EXPECT_EQ(Field(*sink_.Last("host.clock_jump"), "kind"), "ahead");
  for (int i = 0; i < 100; ++i) {
    clock_.Advance(seconds(3600));
    Send("tz", "", clock_.Now() + seconds(3600));
  }
  EXPECT_EQ(sink_.Count("host.clock_jump"), 1u);
}

TEST_F(HeartbeatTrackerTest, StartupWaitsOneThresholdEvenForStaleRestoredHosts) {
  TempDir dir;
  options_.state_dir = dir.path();
  options_.silence_after_secs = 300;
  // 100 hosts of one message each: their silences are not rate-limited.
  options_.new_host_alerts_per_minute = 0;
  Make();
  for (int i = 0; i < 100; ++i) Send("host" + std::to_string(i));
  Run(seconds(301));
  ASSERT_EQ(sink_.Count("host.silent"), 100u);
  Send("host0");                                                  // host0 came back
  for (int i = 1; i < 50; ++i) Send("host" + std::to_string(i));  // so did 49 more
  ASSERT_TRUE(tracker_->SaveState().ok());
  tracker_.reset();
  sink_.alerts.clear();

  clock_.Advance(seconds(3600));  // konseki down for an hour
  Make();
  ASSERT_TRUE(tracker_->LoadState().ok());
  EXPECT_EQ(tracker_->hosts_tracked(), 100u);
  EXPECT_EQ(tracker_->hosts_silent(), 50u);
  Run(seconds(150));
  for (int i = 0; i < 25; ++i) Send("host" + std::to_string(i));  // half report again
  Run(seconds(149));
  EXPECT_EQ(sink_.alerts.size(), 0u) << "no flood: no host.new, no silent before one threshold";
  Run(seconds(2));
  // host25..49 were fine before the restart and did not report since.
  EXPECT_EQ(sink_.Count("host.silent"), 25u);
  EXPECT_EQ(sink_.Count("host.silent", "host25"), 1u);
  EXPECT_EQ(sink_.Count("host.silent", "host60"), 0u) << "already alerted before the restart";
  Send("host60");
  EXPECT_EQ(sink_.Count("host.resumed", "host60"), 1u);
  EXPECT_EQ(sink_.Count("host.new"), 0u);
}

TEST_F(HeartbeatTrackerTest, StartupGraceDelaysSilence) {
  options_.silence_after_secs = 60;
  options_.startup_grace_secs = 600;
  Make();
  Send("a");
  Run(seconds(599));
  EXPECT_EQ(sink_.Count("host.silent"), 0u);
  Run(seconds(2));
  EXPECT_EQ(sink_.Count("host.silent"), 1u);
}

TEST_F(HeartbeatTrackerTest, LearnedStateSurvivesARestart) {
  TempDir dir;
  options_.state_dir = dir.path();
  Make();
  for (int i = 0; i < 3 * 72; ++i) {  // 3 days of MARKs every 20 min
    Send("quiet");
    Run(seconds(1200), seconds(60));
  }
  double threshold = tracker_->ThresholdSecs("quiet");
  ASSERT_NEAR(threshold, 3600, 5);
  ASSERT_TRUE(tracker_->SaveState().ok());
  tracker_.reset();
  Make();
  ASSERT_TRUE(tracker_->LoadState().ok());
  EXPECT_NEAR(tracker_->ThresholdSecs("quiet"), threshold, 0.01);
  EXPECT_NEAR(tracker_->CadenceSecs("quiet"), 1200, 1);
}

TEST_F(HeartbeatTrackerTest, ChangingTheWorkerCountKeepsEveryHostExactlyOnce) {
  TempDir dir;
  options_.state_dir = dir.path();
  std::set<std::string> all;
  for (size_t shard = 0; shard < 3; ++shard) {
    HeartbeatTracker t(options_, shard, 3, clock_, sink_, metrics_);
    for (int i = 0; i < 300; ++i) {
      std::string h = "host" + std::to_string(i);
      if (HostShard(h, 3) != shard) continue;
      TestMessage m(h, clock_.Now());
      t.Observe(m.msg());
      all.insert(h);
    }
    ASSERT_TRUE(t.SaveState().ok());
  }
  ASSERT_EQ(all.size(), 300u);
  std::set<std::string> seen;
  size_t total = 0;
  for (size_t shard = 0; shard < 2; ++shard) {
    HeartbeatTracker t(options_, shard, 2, clock_, sink_, metrics_);
    ASSERT_TRUE(t.LoadState().ok());
    total += t.hosts_tracked();
    for (const std::string& h : all) {
      if (t.ThresholdSecs(h) >= 0) {
        EXPECT_EQ(HostShard(h, 2), shard) << h;
        seen.insert(h);
      }
    }
  }
  EXPECT_EQ(total, 300u);
  EXPECT_EQ(seen, all);
}

TEST_F(HeartbeatTrackerTest, NewestRecordWinsWhenStaleFilesHoldAHost) {
  TempDir dir;
  options_.state_dir = dir.path();
  options_.silence_after_secs = 60;
  {
    HeartbeatTracker old(options_, 1, 2, clock_, sink_, metrics_);  // writes heartbeat.1.state
    for (int i = 0; i < 50; ++i) {
      std::string h = "n" + std::to_string(i);
      if (HostShard(h, 2) == 1) {
        TestMessage m(h, clock_.Now());
        old.Observe(m.msg());
      }
    }
    ASSERT_TRUE(old.SaveState().ok());
  }
  clock_.Advance(seconds(1000));
  {
    HeartbeatTracker one(options_, 0, 1, clock_, sink_, metrics_);  // now one worker
    ASSERT_TRUE(one.LoadState().ok());
    for (int i = 0; i < 50; ++i) {
      TestMessage m("n" + std::to_string(i), clock_.Now());
      one.Observe(m.msg());
    }
    ASSERT_TRUE(one.SaveState().ok());  // heartbeat.0.state; heartbeat.1.state is stale
  }
  clock_.Advance(seconds(30));
  sink_.alerts.clear();
  Make();
  ASSERT_TRUE(tracker_->LoadState().ok());
  EXPECT_EQ(tracker_->hosts_tracked(), 50u);
  Run(seconds(59));  // one threshold after the restart
  EXPECT_EQ(sink_.Count("host.silent"), 0u);
  Run(seconds(2));
  EXPECT_EQ(sink_.Count("host.silent"), 50u);
  // Silence counted from the newest record (90 s), not the stale one (1090 s).
  EXPECT_EQ(Field(*sink_.Last("host.silent"), "silence_secs"), "90");
}

TEST_F(HeartbeatTrackerTest, DamagedStateLinesAreSkippedAndCounted) {
  TempDir dir;
  options_.state_dir = dir.path();
  Make();
  Send("good");
  ASSERT_TRUE(tracker_->SaveState().ok());
  std::string path = dir.path() + "/heartbeat.0.state";
  std::string content;
  {
    std::ifstream in(path);
    std::getline(in, content, '\0');
  }
  size_t end = content.find("end ");
  ASSERT_NE(end, std::string::npos);
  content = content.substr(0, end) + "H garbage line\n";  // and no "end": truncated
  {
    std::ofstream out(path, std::ios::trunc);
    out << content;
  }
  {
    std::ofstream junk(dir.path() + "/heartbeat.7.state");
    junk << "not a state file\n";
  }
  tracker_.reset();
  Make();
  EXPECT_TRUE(tracker_->LoadState().ok());
  EXPECT_EQ(tracker_->hosts_tracked(), 1u);
  EXPECT_GE(tracker_->ThresholdSecs("good"), 0);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_errors_total", {{"reason", "state_parse"}}), 3);
}

// docs/heartbeat.md promises that silent hosts stay silent across a restart:
// a damaged file keeps what it holds intact and each damaged file is
// reported (path, what, what was lost) for the server to log and alert.
TEST_F(HeartbeatTrackerTest, DamagedStateFilesAreReportedWithWhatWasLost) {
  TempDir dir;
  options_.state_dir = dir.path();
  Make();
  for (int i = 0; i < 4; ++i) Send("h" + std::to_string(i));
  ASSERT_TRUE(tracker_->SaveState().ok());
  const std::string path = dir.path() + "/heartbeat.0.state";
  std::string content;
  {
    std::ifstream in(path);
    std::getline(in, content, '\0');
  }
  // Cut in the middle of the third host line: two hosts intact.
  size_t third = 0;
  for (int i = 0; i < 3; ++i) third = content.find("\nH ", third + 1);
  ASSERT_NE(third, std::string::npos);
  std::ofstream(path, std::ios::trunc) << content.substr(0, third + 12);
  std::ofstream(dir.path() + "/heartbeat.1.state", std::ios::trunc);  // empty
  std::ofstream(dir.path() + "/heartbeat.2.state", std::ios::trunc) << "\x8f\x01garbage";
  tracker_.reset();
  Make();
  std::vector<DamagedFile> damaged;
  EXPECT_TRUE(tracker_->LoadState(&damaged).ok());
  EXPECT_EQ(tracker_->hosts_tracked(), 2u);
  ASSERT_EQ(damaged.size(), 3u);
  EXPECT_EQ(damaged[0].path, path);
  EXPECT_NE(damaged[0].what.find("cut short (no end line) after 3 host lines"), std::string::npos)
      << damaged[0].what;
  EXPECT_NE(damaged[0].lost.find("after the 2 read intact"), std::string::npos) << damaged[0].lost;
  EXPECT_EQ(damaged[1].what, "empty file");
  EXPECT_NE(damaged[2].what.find("not a heartbeat state"), std::string::npos);
  EXPECT_NE(damaged[2].lost.find("all of it"), std::string::npos);
  // A whole file reports nothing.
  ASSERT_TRUE(tracker_->SaveState().ok());
  std::filesystem::remove(dir.path() + "/heartbeat.1.state");
  std::filesystem::remove(dir.path() + "/heartbeat.2.state");
  tracker_.reset();
  Make();
  damaged.clear();
  EXPECT_TRUE(tracker_->LoadState(&damaged).ok());
  EXPECT_TRUE(damaged.empty());
  EXPECT_EQ(tracker_->hosts_tracked(), 2u);
}

TEST_F(HeartbeatTrackerTest, MissingStateDirIsAFirstRunAndSaveCreatesIt) {
  TempDir dir;
  options_.state_dir = dir.path() + "/sub/dir";
  Make();
  EXPECT_TRUE(tracker_->LoadState().ok());
  Send("a");
  ASSERT_TRUE(tracker_->SaveState().ok());
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(options_.state_dir)) {
    names.push_back(e.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"heartbeat.0.state"});
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_state_saves_total"), 1);
}

TEST_F(HeartbeatTrackerTest, TickSavesPeriodically) {
  TempDir dir;
  options_.state_dir = dir.path();
  options_.save_interval_secs = 60;
  Make();
  Send("a");
  Run(seconds(59));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/heartbeat.0.state"));
  Run(seconds(1));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/heartbeat.0.state"));
  Run(seconds(120));
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_state_saves_total"), 3);
}

TEST_F(HeartbeatTrackerTest, MaxHostsRefusesAndCounts) {
  options_.max_hosts = 20;
  HeartbeatTracker t(options_, 1, 2, clock_, sink_, metrics_);  // this shard's share: 10
  for (int i = 0; i < 15; ++i) {
    TestMessage m("h" + std::to_string(i), clock_.Now());
    t.Observe(m.msg());
  }
  EXPECT_EQ(t.hosts_tracked(), 10u);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_dropped_total", {{"reason", "max_hosts"}}), 5);
}

// A flood of spoofed names must not keep real hosts out for
// forget_after_secs: at max_hosts, a host that sent a single message and
// nothing for transient_host_secs gives its slot, oldest first; hosts that
// sent twice, expected hosts and overridden hosts never do.
TEST_F(HeartbeatTrackerTest, AtMaxHostsTheOldestSingleMessageHostGivesItsSlot) {
  options_.max_hosts = 6;
  options_.transient_host_secs = 600;
  options_.expected_hosts = {"db1"};
  options_.overrides = {{"", "laptop-*", 0}};
  Make();
  Send("real");
  clock_.Advance(seconds(1));
  Send("real");  // twice: established
  Send("laptop-1");
  for (int i = 1; i <= 3; ++i) {
    clock_.Advance(seconds(1));
    Send("spoof" + std::to_string(i));
  }
  EXPECT_EQ(tracker_->hosts_tracked(), 6u);  // db1 (expected), real, laptop-1, spoof1..3

  Send("new1");  // the single-message hosts are too young to give way
  EXPECT_EQ(tracker_->hosts_tracked(), 6u);
  EXPECT_EQ(tracker_->ThresholdSecs("new1"), -1);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_dropped_total", {{"reason", "max_hosts"}}), 1);

  clock_.Advance(seconds(599));
  Send("spoof3");              // its second message: no longer a candidate
  clock_.Advance(seconds(1));  // spoof1 quiet 602 s, spoof2 601 s
  Send("new1");
  EXPECT_NE(tracker_->ThresholdSecs("new1"), -1);
  EXPECT_EQ(tracker_->ThresholdSecs("spoof1"), -1);  // the oldest went
  EXPECT_NE(tracker_->ThresholdSecs("spoof2"), -1);
  Send("new2");
  EXPECT_EQ(tracker_->ThresholdSecs("spoof2"), -1);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_evicted_hosts_total"), 2);

  // Nobody left to give way: new1 and new2 are young, the rest established,
  // expected or overridden.
  Send("new3");
  EXPECT_EQ(tracker_->ThresholdSecs("new3"), -1);
  clock_.Advance(seconds(3600));
  Send("new4");  // new1 (the older of the two) gives way
  EXPECT_EQ(tracker_->ThresholdSecs("new1"), -1);
  EXPECT_NE(tracker_->ThresholdSecs("new4"), -1);
  for (const char* kept : {"db1", "real", "laptop-1", "spoof3", "new2"}) {
    EXPECT_NE(tracker_->ThresholdSecs(kept), -1) << kept;
  }
  EXPECT_EQ(tracker_->hosts_tracked(), 6u);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_evicted_hosts_total"), 3);
}

// A flood of invented names, each sending one line, fills the table
// within transient_host_secs: the table being full is an alert (once an
// hour, high), and a real host refused once takes a single-message host's
// slot however young at its next line, so it is watched and its silence
// alerts.
TEST_F(HeartbeatTrackerTest, AFullTableIsAnAlertAndAHostThatSendsAgainGetsASlot) {
  options_.max_hosts = 5;
  options_.transient_host_secs = 600;
  options_.silence_after_secs = 20;
  Make();
  Send("real");
  clock_.Advance(seconds(1));
  Send("real");
  for (int i = 0; i < 30; ++i) Send("flood" + std::to_string(i));  // 4 fit
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_dropped_total", {{"reason", "max_hosts"}}), 26);
  ASSERT_EQ(sink_.Count("heartbeat.max_hosts_reached"), 1u);
  const Alert* full = sink_.Last("heartbeat.max_hosts_reached");
  EXPECT_EQ(full->severity, Severity::kHigh);
  EXPECT_EQ(full->host, "konseki");

  clock_.Advance(seconds(8));
  Send("db9");  // refused: the flood's hosts are young
  EXPECT_EQ(tracker_->ThresholdSecs("db9"), -1);
  Send("db9");  // again: a flood host gives way
  EXPECT_NE(tracker_->ThresholdSecs("db9"), -1);
  EXPECT_EQ(tracker_->hosts_tracked(), 5u);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_evicted_hosts_total"), 1);
  EXPECT_NE(tracker_->ThresholdSecs("real"), -1);  // established hosts never give way
  clock_.Advance(seconds(1));
  Send("db9");
  // db9's syslogd is killed: its silence is seen.
  Run(seconds(60));
  EXPECT_EQ(sink_.Count("host.silent", "db9"), 1u);

  // Still full a minute later: no second alert within the hour.
  for (int i = 30; i < 40; ++i) Send("flood" + std::to_string(i));
  EXPECT_EQ(sink_.Count("heartbeat.max_hosts_reached"), 1u);
  // An hour on, the flood's hosts give way to the next names; once none
  // is left, the next refusal alerts again.
  clock_.Advance(seconds(3600));
  for (int i = 0; i < 3; ++i) Send("next" + std::to_string(i));
  EXPECT_EQ(sink_.Count("heartbeat.max_hosts_reached"), 1u);
  EXPECT_EQ(tracker_->hosts_tracked(), 5u);
  Send("next3");
  EXPECT_EQ(sink_.Count("heartbeat.max_hosts_reached"), 2u);
  EXPECT_EQ(Field(*sink_.Last("heartbeat.max_hosts_reached"), "refused"),
            "37");  // 25 + db9 + 10 + next3
  EXPECT_NE(tracker_->ThresholdSecs("db9"), -1);
}

TEST_F(HeartbeatTrackerTest, TransientHostSecsZeroNeverEvicts) {
  options_.max_hosts = 2;
  options_.transient_host_secs = 0;
  Make();
  Send("a");
  Send("b");
  clock_.Advance(seconds(86400));
  Send("c");
  EXPECT_EQ(tracker_->ThresholdSecs("c"), -1);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_evicted_hosts_total"), 0);
}

// Saved single-message hosts stay candidates after a restart.
TEST_F(HeartbeatTrackerTest, SavedSingleMessageHostsCanBeEvictedAfterARestart) {
  TempDir dir;
  options_.state_dir = dir.path();
  options_.max_hosts = 2;
  Make();
  Send("once");
  Send("twice");
  clock_.Advance(seconds(1));
  Send("twice");
  ASSERT_TRUE(tracker_->SaveState().ok());
  tracker_.reset();
  clock_.Advance(seconds(700));
  Make();
  ASSERT_TRUE(tracker_->LoadState().ok());
  Send("newcomer");
  EXPECT_NE(tracker_->ThresholdSecs("newcomer"), -1);
  EXPECT_EQ(tracker_->ThresholdSecs("once"), -1);
  EXPECT_NE(tracker_->ThresholdSecs("twice"), -1);
}

// A flood of spoofed names would come back a threshold later as one
// host.silent per name: the silences of single-message hosts share the
// host.new rate. A host that sent twice is never limited, and a limited one
// that sends again is watched like any other.
TEST_F(HeartbeatTrackerTest, SilenceOfSingleMessageHostsIsRateLimited) {
  options_.silence_after_secs = 60;
  options_.new_host_alerts_per_minute = 5;
  Make();
  Send("real");
  clock_.Advance(seconds(1));
  Send("real");
  for (int i = 0; i < 20; ++i) Send("spoof" + std::to_string(i));
  Run(seconds(61));
  EXPECT_EQ(sink_.Count("host.silent", "real"), 1u);
  EXPECT_EQ(sink_.Count("host.silent"), 6u);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_suppressed_alerts_total",
                             {{"sign", "host.silent"}, {"reason", "single_message_rate_limit"}}),
            15);
  EXPECT_EQ(tracker_->hosts_silent(), 6u);
  Run(seconds(3600), seconds(60));  // the limited ones are not alerted late
  EXPECT_EQ(sink_.Count("host.silent"), 6u);

  std::string limited;
  for (int i = 0; i < 20 && limited.empty(); ++i) {
    const std::string name = "spoof" + std::to_string(i);
    if (sink_.Count("host.silent", name) == 0) limited = name;
  }
  ASSERT_FALSE(limited.empty());
  Send(limited);  // its next line is no "resumed"
  EXPECT_EQ(sink_.Count("host.resumed", limited), 0u);
  Run(seconds(61));
  EXPECT_EQ(sink_.Count("host.silent", limited), 1u);
}

TEST_F(HeartbeatTrackerTest, HostNamesFoldOnlyAsciiLetters) {
  Make();
  Send("Web-Server-01.Example.NET");
  Send("web-server-01.example.net");  // same host, any case, any length
  Send("WEB-SERVER-01.EXAMPLE.NET");
  EXPECT_EQ(tracker_->hosts_tracked(), 1u);
  EXPECT_EQ(sink_.Count("host.new"), 1u);
  // Bytes 0x20 apart that are not letters are different hosts, at every
  // position of an 8-byte word.
  const std::string pairs[][2] = {{"@", "`"}, {"[", "{"}, {"Z", "z"}, {"\xC3\x89", "\xC3\xA9"}};
  for (const auto& pair : pairs) {
    for (size_t pad = 0; pad < 9; ++pad) {
      Send(std::string(pad, 'h') + pair[0]);
      Send(std::string(pad, 'H') + pair[1]);
    }
  }
  // "Z"/"z" fold together; the other three pairs stay apart.
  EXPECT_EQ(tracker_->hosts_tracked(), 1u + 9 * (2 + 2 + 1 + 2));
}

TEST_F(HeartbeatTrackerTest, MessagesWithoutAUsableHostAreCounted) {
  Make();
  TestMessage none("", clock_.Now(), "x", "");
  tracker_->Observe(none.msg());
  TestMessage huge(std::string(300, 'a'), clock_.Now());
  tracker_->Observe(huge.msg());
  TestMessage by_sender("", clock_.Now(), "plain text", "198.51.100.7");
  tracker_->Observe(by_sender.msg());
  EXPECT_EQ(tracker_->hosts_tracked(), 1u);
  EXPECT_GE(tracker_->ThresholdSecs("198.51.100.7"), 0);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_dropped_total", {{"reason", "no_host"}}), 1);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_dropped_total", {{"reason", "host_too_long"}}), 1);
}

TEST_F(HeartbeatTrackerTest, GaugesAndTheLastSeenSnapshotArePublishedByTick) {
  options_.silence_after_secs = 60;
  options_.max_host_metrics = 3;
  Make();
  for (std::string h : {"a", "b", "c", "d"}) Send(h);
  Run(seconds(30));
  Send("z");
  Run(seconds(31));  // a..d silent, z not
  Send("a");
  Run(seconds(10));
  EXPECT_EQ(metrics_.ValueOf("konseki_hosts_tracked"), 5);
  EXPECT_EQ(metrics_.ValueOf("konseki_hosts_silent"), 3);
  std::string text = metrics_.RenderPrometheus();
  size_t series = 0;
  for (size_t p = 0;
       (p = text.find("konseki_host_last_seen_timestamp_seconds{", p)) != std::string::npos; ++p) {
    ++series;
  }
  EXPECT_EQ(series, 3u) << text;
  // The silent ones come first.
  EXPECT_NE(text.find("konseki_host_last_seen_timestamp_seconds{host=\"b\"} 1700000000"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("{host=\"z\"}"), std::string::npos) << text;
  tracker_.reset();
  EXPECT_EQ(metrics_.ValueOf("konseki_hosts_tracked"), 0);
  EXPECT_EQ(metrics_.RenderPrometheus().find("{host="), std::string::npos);
}

TEST_F(HeartbeatTrackerTest, AStallOfKonsekiItselfRestartsTheGrace) {
  options_.silence_after_secs = 60;
  Make();
  Send("a");
  tracker_->Tick();
  clock_.Advance(seconds(3600));  // the worker was stuck (or the VM paused)
  tracker_->Tick();
  EXPECT_EQ(sink_.Count("host.silent"), 0u);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_stalls_total"), 1);
  Run(seconds(59));
  EXPECT_EQ(sink_.Count("host.silent"), 0u);
  Run(seconds(2));
  EXPECT_EQ(sink_.Count("host.silent"), 1u);
}

TEST_F(HeartbeatTrackerTest, LongSilentHostsAreForgotten) {
  options_.silence_after_secs = 60;
  options_.forget_after_secs = 86400;
  options_.expected_hosts = {"keep"};
  Make();
  Send("gone");
  Send("keep");
  Run(seconds(86400 - 60), seconds(60));
  EXPECT_EQ(tracker_->hosts_tracked(), 2u);
  Run(seconds(120), seconds(60));
  EXPECT_EQ(tracker_->hosts_tracked(), 1u);
  EXPECT_EQ(tracker_->ThresholdSecs("gone"), -1);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_forgotten_hosts_total"), 1);
  Send("gone");
  EXPECT_EQ(sink_.Count("host.new", "gone"), 2u);
}

// A host's last message is copied in place while it fits the buffer its
// longer lines grew: after lines that grow, shrink, are empty or longer than
// max_last_message_bytes, host.silent reports the true last one, cut.
TEST_F(HeartbeatTrackerTest, SilenceReportsTheTrueLastMessageWhateverItsLength) {
  options_.silence_after_secs = 60;
  options_.max_last_message_bytes = 40;
  const std::vector<std::string> lasts = {
      "short", std::string(39, 'a') + "b", "", std::string(100, 'x') + "tail", "a bit longer", "z"};
  auto send = [&](const std::string& line) {
    TestMessage m("web1", clock_.Now(), "x");
    m.m.raw = line;  // as it is, even empty
    tracker_->Observe(m.msg(), HostKey::Of("web1"));
  };
  for (const std::string& last : lasts) {
    sink_.alerts.clear();
    Make();
    for (const std::string& line :
         {std::string("medium length line"), std::string(80, 'L'), std::string("s")}) {
      send(line);
    }
    send(last);
    Run(seconds(61));
    ASSERT_EQ(sink_.Count("host.silent"), 1u) << last;
    EXPECT_EQ(Field(*sink_.Last("host.silent"), "last_message"), last.substr(0, 40)) << last;
  }
}

// In the worker's batch (BeginBatch..EndBatch) a host's last line is copied
// once per run of its lines, from bytes that live until EndBatch: after runs
// of interleaved hosts, host.silent of each still quotes its true last line,
// also when a Tick comes inside the batch and when the batch ends on another
// host's line.
TEST_F(HeartbeatTrackerTest, InABatchEachHostKeepsItsLastLineOfTheLastRun) {
  options_.silence_after_secs = 60;
  Make();
  std::vector<std::unique_ptr<TestMessage>> batch;  // the batch's bytes
  auto observe = [&](const std::string& host, const std::string& line) {
    batch.push_back(std::make_unique<TestMessage>(host, clock_.Now(), line));
    tracker_->Observe(batch.back()->msg(), HostKey::Of(host), false);
  };
  tracker_->BeginBatch();
  observe("web1", "<13>1 - web1 app - - - w1 first");
  observe("web1", "<13>1 - web1 app - - - w1 second");
  observe("db1", "<13>1 - db1 app - - - d1 only");
  observe("web1", std::string(600, 'W'));  // longer than max_last_message_bytes
  observe("web1", "<13>1 - web1 app - - - w1 last");
  tracker_->Tick();  // reads the last lines: takes the pending one first
  observe("mail1", "<13>1 - mail1 app - - - m1 first");
  observe("db1", "<13>1 - db1 app - - - d1 last");
  observe("mail1", "<13>1 - mail1 app - - - m1 last");
  tracker_->EndBatch();
  batch.clear();  // the batch's bytes are gone; the tracker kept copies
  Run(seconds(61));
  ASSERT_EQ(sink_.Count("host.silent"), 3u);
  std::map<std::string, std::string> last;
  for (const Alert& a : sink_.alerts) {
    if (a.sign == "host.silent") last[a.host] = Field(a, "last_message");
  }
  EXPECT_EQ(last["web1"], "<13>1 - web1 app - - - w1 last");
  EXPECT_EQ(last["db1"], "<13>1 - db1 app - - - d1 last");
  EXPECT_EQ(last["mail1"], "<13>1 - mail1 app - - - m1 last");
}

// The index is keyed by the 32-bit HostKey hash: two names with the same
// hash are two hosts, each with its own state, also once the other one is
// forgotten (its index entry erased) and its slot reused.
TEST_F(HeartbeatTrackerTest, HostsWhoseKeysCollideStayApart) {
  options_.silence_after_secs = 60;
  options_.forget_after_secs = 600;
  const std::vector<std::string> names = konseki::testing::CollidingHostNames(0xffffffffu, 2);
  ASSERT_EQ(HostKeyHash(names[0]), HostKeyHash(names[1]));
  Make();
  SendKeyed(names[0], "first of 0");
  SendKeyed(names[1], "first of 1");
  EXPECT_EQ(tracker_->hosts_tracked(), 2u);
  EXPECT_EQ(sink_.Count("host.new", names[0]), 1u);
  EXPECT_EQ(sink_.Count("host.new", names[1]), 1u);
  Run(seconds(300), seconds(60));
  SendKeyed(names[1], "back 1");  // resumes; names[0] stays silent
  EXPECT_EQ(sink_.Count("host.resumed", names[1]), 1u);
  EXPECT_EQ(sink_.Count("host.resumed", names[0]), 0u);
  Run(seconds(420), seconds(60));  // names[0] forgotten, names[1] not
  EXPECT_EQ(tracker_->hosts_tracked(), 1u);
  EXPECT_EQ(tracker_->ThresholdSecs(names[0]), -1);
  EXPECT_EQ(tracker_->ThresholdSecs(names[1]), 60);
  SendKeyed(names[1], "again 1");  // still found after its twin's entry was erased
  EXPECT_EQ(sink_.Count("host.new", names[1]), 1u);
  SendKeyed("other", "takes the freed slot");
  SendKeyed(names[0], "new again 0");
  EXPECT_EQ(sink_.Count("host.new", names[0]), 2u);
  EXPECT_EQ(tracker_->hosts_tracked(), 3u);
}

// Many hosts interleaved message by message, in changing case, observed with
// the worker's key and forgotten and re-learned between two of their
// messages: one host each, in any spelling.
TEST_F(HeartbeatTrackerTest, InterleavedHostsObservedByKeyAreOneHostEach) {
  options_.silence_after_secs = 60;
  options_.forget_after_secs = 120;
  options_.new_host_alerts_per_minute = 0;  // unlimited
  Make();
  const int kHosts = 300;
  for (int r = 0; r < 3; ++r) {
    for (int h = 0; h < kHosts; ++h) {
      SendKeyed((r % 2 ? "HOST-" : "host-") + std::to_string(h), "r" + std::to_string(r));
    }
  }
  EXPECT_EQ(tracker_->hosts_tracked(), static_cast<size_t>(kHosts));
  EXPECT_EQ(sink_.Count("host.new"), static_cast<size_t>(kHosts));
  Run(seconds(300), seconds(60));  // all silent, then forgotten
  EXPECT_EQ(tracker_->hosts_tracked(), 0u);
  for (int h = kHosts - 1; h >= 0; --h) SendKeyed("Host-" + std::to_string(h));
  EXPECT_EQ(tracker_->hosts_tracked(), static_cast<size_t>(kHosts));
  EXPECT_EQ(sink_.Count("host.new"), 2u * kHosts);
  for (int h = 0; h < kHosts; ++h)
    ASSERT_EQ(tracker_->ThresholdSecs("host-" + std::to_string(h)), 60);
}

// same_origin (the worker's repeats of one host and sender) skips the
// lookup, the sender check and the clock check of a line stamped and
// received as the line before: every observable result is the one of full
// observations, also across silences, resumptions, clock jumps (and their
// repeats) and a host forgotten between two of its messages.
TEST_F(HeartbeatTrackerTest, SameOriginRepeatsGiveTheResultsOfFullObservations) {
  options_.silence_after_secs = 60;
  options_.forget_after_secs = 300;
  options_.metrics_interval_secs = 1;
  options_.new_host_alerts_per_minute = 0;  // unlimited
  Make();
  CapturingSink full_sink;
  MetricsRegistry full_metrics;
  HeartbeatTracker full(options_, 0, 1, clock_, full_sink, full_metrics);
  struct Line {
    const char* host;
    const char* sender;
    int advance_secs;  // before the line, with a Tick after each second
    int ts_offset_secs;
  };
  const std::vector<Line> lines = {
      {"a", "192.0.2.1", 0, 0},    {"a", "192.0.2.1", 0, 0},     {"a", "192.0.2.1", 1, 0},
      {"a", "192.0.2.2", 0, 0},    {"a", "192.0.2.2", 0, 0},     {"b", "192.0.2.2", 0, 0},
      {"b", "192.0.2.2", 2, 0},    {"A", "192.0.2.2", 0, 0},     {"A", "192.0.2.2", 0, 0},
      {"a", "192.0.2.2", 90, 0},   {"a", "192.0.2.2", 0, 0},     {"a", "192.0.2.2", 0, 7200},
      {"a", "192.0.2.2", 0, 7200}, {"a", "192.0.2.2", 0, -7200}, {"a", "192.0.2.2", 400, 0},
      {"a", "192.0.2.2", 0, 0},    {"b", "192.0.2.1", 0, 0}};
  const Line* prev = nullptr;
  for (const Line& l : lines) {
    for (int i = 0; i < l.advance_secs; ++i) {
      clock_.Advance(seconds(1));
      tracker_->Tick();
      full.Tick();
    }
    TestMessage m(l.host, clock_.Now(), std::string("line of ") + l.host, l.sender,
                  clock_.Now() + seconds(l.ts_offset_secs));
    const HostKey key = HostKey::Of(m.msg().host());
    const bool same = prev != nullptr && std::string_view(prev->host) == l.host &&
                      std::string_view(prev->sender) == l.sender;
    tracker_->Observe(m.msg(), key, same);
    full.Observe(m.msg(), key);
    prev = &l;
  }
  clock_.Advance(seconds(2));
  tracker_->Tick();
  full.Tick();
  std::vector<HostRow> got, want;
  tracker_->Hosts()(&got);
  full.Hosts()(&want);
  ASSERT_EQ(got.size(), want.size());
  ASSERT_EQ(got.size(), 2u);  // "a" (also "A"), "b": both forgotten and new again
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name);
    EXPECT_EQ(got[i].sender, want[i].sender) << got[i].name;
    EXPECT_EQ(got[i].senders, want[i].senders) << got[i].name;
    EXPECT_EQ(got[i].messages_today, want[i].messages_today) << got[i].name;
    EXPECT_EQ(got[i].last_seen_ns, want[i].last_seen_ns) << got[i].name;
    EXPECT_EQ(got[i].first_seen_ns, want[i].first_seen_ns) << got[i].name;
    EXPECT_EQ(got[i].cadence_secs, want[i].cadence_secs) << got[i].name;
    EXPECT_EQ(got[i].threshold_secs, want[i].threshold_secs) << got[i].name;
    EXPECT_EQ(got[i].silent, want[i].silent) << got[i].name;
  }
  ASSERT_EQ(sink_.alerts.size(), full_sink.alerts.size());
  for (size_t i = 0; i < sink_.alerts.size(); ++i) {
    EXPECT_EQ(sink_.alerts[i].sign, full_sink.alerts[i].sign);
    EXPECT_EQ(sink_.alerts[i].host, full_sink.alerts[i].host);
  }
  for (const char* sign : {"host.new", "host.silent", "host.resumed", "host.clock_jump"}) {
    EXPECT_GE(full_sink.Count(sign), 1u) << sign << ": the sequence should raise it";
  }
}

TEST_F(HeartbeatTrackerTest, TheDeadlineHeapStaysProportionalToHosts) {
  Make();
  for (int minute = 0; minute < 24 * 60; ++minute) {
    for (int h = 0; h < 200; ++h) {
      if ((h + minute) % 3 == 0) Send("h" + std::to_string(h));
    }
    Run(seconds(60), seconds(60));
    ASSERT_LE(tracker_->deadline_entries(), 2 * tracker_->hosts_tracked() + 1024);
  }
  EXPECT_EQ(sink_.Count("host.silent"), 0u);
}

}  // namespace
}  // namespace konseki::matchers

namespace konseki::matchers {
namespace {

using std::chrono::seconds;

TEST_F(HeartbeatTrackerTest, HostsReaderListsSeenAndExpectedHostsAndOutlivesTheTracker) {
  options_.silence_after_secs = 600;
  options_.metrics_interval_secs = 10;
  options_.expected_hosts = {"db1"};
  Make();
  HeartbeatTracker::HostsReader reader = tracker_->Hosts();
  for (int i = 0; i < 3; ++i) Send("web1", "line", std::nullopt, "192.0.2.7");
  Run(seconds(11));
  std::vector<HostRow> rows;
  reader(&rows);
  ASSERT_EQ(rows.size(), 2u);
  const HostRow& db = rows[0].name == "db1" ? rows[0] : rows[1];
  const HostRow& web = rows[0].name == "db1" ? rows[1] : rows[0];
  EXPECT_TRUE(db.expected);
  EXPECT_FALSE(db.seen);
  EXPECT_EQ(db.messages_today, 0u);
  EXPECT_TRUE(web.seen);
  EXPECT_FALSE(web.expected);
  EXPECT_EQ(web.sender, "192.0.2.7");
  EXPECT_EQ(web.messages_today, 3u);
  EXPECT_EQ(web.threshold_secs, 600);
  EXPECT_GT(web.last_seen_ns, 0);

  // The count starts again on the next UTC day.
  Run(std::chrono::hours(24), seconds(30));
  Send("web1");
  Run(seconds(11));
  rows.clear();
  reader(&rows);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ((rows[0].name == "web1" ? rows[0] : rows[1]).messages_today, 1u);

  tracker_.reset();
  rows.clear();
  reader(&rows);
  EXPECT_TRUE(rows.empty());
}

TEST_F(HeartbeatTrackerTest, HostsListEverySenderAddressMostRecentFirstBoundedAndSaved) {
  TempDir dir;
  options_.state_dir = dir.path();
  options_.metrics_interval_secs = 10;
  options_.max_senders_per_host = 3;
  Make();
  for (const char* a : {"192.0.2.1", "192.0.2.2", "192.0.2.1", "2001:db8::9"}) {
    Send("web1", "line", std::nullopt, a);
  }
  Run(seconds(11));
  std::vector<HostRow> rows;
  tracker_->Hosts()(&rows);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].sender, "2001:db8::9");
  EXPECT_EQ(rows[0].senders, (std::vector<std::string>{"2001:db8::9", "192.0.2.1", "192.0.2.2"}));

  Send("web1", "line", std::nullopt, "192.0.2.4");  // past the cap: the oldest goes
  ASSERT_TRUE(tracker_->SaveState().ok());
  tracker_.reset();
  Make();
  ASSERT_TRUE(tracker_->LoadState().ok());
  Run(seconds(11));
  rows.clear();
  tracker_->Hosts()(&rows);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].senders, (std::vector<std::string>{"192.0.2.4", "2001:db8::9", "192.0.2.1"}));
}

// A host name whose lines start coming from an address it never used while
// its own address stays quiet: its logger killed and another machine
// speaking for it (or a renumbered host: medium, the admin knows which).
TEST_F(HeartbeatTrackerTest, AHostsLinesMovingToANewAddressWhileTheOldIsQuietIsSaidOnce) {
  options_.sender_change_secs = 600;
  Make();
  for (int i = 0; i < 20; ++i) {
    Send("db1", "line", std::nullopt, "192.0.2.5");
    Run(seconds(60), seconds(60));
  }
  const TimePoint first_new = clock_.Now();
  for (int i = 0; i < 10; ++i) {
    Send("db1", "forged", std::nullopt, "192.0.2.99");
    Run(seconds(60), seconds(60));
  }
  EXPECT_EQ(sink_.Count("host.sender_changed"), 0u) << "not before 600 s";
  Send("db1", "forged at 600 s", std::nullopt, "192.0.2.99");
  ASSERT_EQ(sink_.Count("host.sender_changed"), 1u);
  const Alert* a = sink_.Last("host.sender_changed");
  EXPECT_EQ(a->host, "db1");
  EXPECT_EQ(a->sender, "192.0.2.99");
  EXPECT_EQ(a->severity, Severity::kMedium);
  EXPECT_EQ(a->message, "forged at 600 s");
  EXPECT_EQ(Field(*a, "previous_sender"), "192.0.2.5");
  EXPECT_EQ(Field(*a, "previous_senders"), "192.0.2.5");
  EXPECT_EQ(Field(*a, "since"), FormatRfc3339Micros(first_new));
  EXPECT_EQ(Field(*a, "quiet_secs"), "600");
  EXPECT_EQ(Field(*a, "preceded_by_stop"), "false");
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_alerts_total", {{"sign", "host.sender_changed"}}),
            1);
  for (int i = 0; i < 30; ++i) {
    Run(seconds(60), seconds(60));
    Send("db1", "forged", std::nullopt, "192.0.2.99");
  }
  EXPECT_EQ(sink_.Count("host.sender_changed"), 1u) << "the new address is the host's now";
  EXPECT_EQ(sink_.Count("host.silent"), 0u);
}

TEST_F(HeartbeatTrackerTest, ASecondAddressInUseOrAYoungHostIsNoSenderChange) {
  options_.sender_change_secs = 600;
  Make();
  // Dual-stack: the old address still sends while the new one does.
  for (int i = 0; i < 20; ++i) {
    Send("web1", "line", std::nullopt, "192.0.2.10");
    Run(seconds(60), seconds(60));
  }
  for (int i = 0; i < 30; ++i) {
    Send("web1", "v6", std::nullopt, "2001:db8::10");
    if (i == 5) Send("web1", "v4 again", std::nullopt, "192.0.2.10");
    Run(seconds(60), seconds(60));
  }
  // A host first seen less than sender_change_secs before its move.
  Send("new1", "line", std::nullopt, "192.0.2.20");
  Run(seconds(60), seconds(60));
  for (int i = 0; i < 30; ++i) {
    Send("new1", "line", std::nullopt, "192.0.2.21");
    Run(seconds(60), seconds(60));
  }
  EXPECT_EQ(sink_.Count("host.sender_changed"), 0u);

  // Off: the same move as the test above says nothing.
  options_.sender_change_secs = 0;
  sink_.alerts.clear();
  Make();
  for (int i = 0; i < 20; ++i) {
    Send("db1", "line", std::nullopt, "192.0.2.5");
    Run(seconds(60), seconds(60));
  }
  for (int i = 0; i < 20; ++i) {
    Send("db1", "forged", std::nullopt, "192.0.2.99");
    Run(seconds(60), seconds(60));
  }
  EXPECT_EQ(sink_.Count("host.sender_changed"), 0u);
}

TEST_F(HeartbeatTrackerTest, ALoggerStopLineBeforeTheNewAddressMakesTheChangeCritical) {
  options_.sender_change_secs = 600;
  Make();
  for (int i = 0; i < 20; ++i) {
    Send("db1", "line", std::nullopt, "192.0.2.5");
    Run(seconds(60), seconds(60));
  }
  TestMessage stop("db1", clock_.Now(),
                   "<46>Dec  5 03:00:00 db1 rsyslogd: [origin software=\"rsyslogd\"] exiting on "
                   "signal 15.",
                   "192.0.2.5");
  tracker_->Observe(stop.msg());
  tracker_->NoteStopMessage(stop.msg());
  Run(seconds(20), seconds(20));
  for (int i = 0; i <= 11; ++i) {
    Send("db1", "forged", std::nullopt, "192.0.2.99");
    Run(seconds(60), seconds(60));
  }
  ASSERT_EQ(sink_.Count("host.sender_changed"), 1u);
  const Alert* a = sink_.Last("host.sender_changed");
  EXPECT_EQ(a->severity, Severity::kCritical);
  EXPECT_EQ(Field(*a, "preceded_by_stop"), "true");
  EXPECT_NE(Field(*a, "stop_message").find("exiting on signal 15"), std::string::npos);
}

// Any sender may write any host name: one forged line stamped days ahead
// must not use up the host's own clock-jump alert for the interval.
TEST_F(HeartbeatTrackerTest, AForgedLineCannotUseUpTheHostsOwnClockJumpAlert) {
  options_.clock_jump_tolerance_secs = 300;
  options_.clock_jump_alert_interval_secs = 3600;
  Make();
  for (int i = 0; i < 5; ++i) {
    Send("victim", "", clock_.Now(), "192.0.2.5");
    clock_.Advance(seconds(10));
  }
  Send("victim", "forged", clock_.Now() + seconds(3 * 86400), "203.0.113.66");
  ASSERT_EQ(sink_.Count("host.clock_jump"), 1u);
  EXPECT_EQ(Field(*sink_.Last("host.clock_jump"), "sender"), "203.0.113.66");
  clock_.Advance(seconds(3));
  Send("victim", "forged again", clock_.Now() + seconds(4 * 86400), "203.0.113.66");
  EXPECT_EQ(sink_.Count("host.clock_jump"), 1u) << "the same sender is limited";
  clock_.Advance(seconds(3));
  // The host's own clock is set a week ahead (beyond the forged line's
  // offset, which is the highest seen so far).
  Send("victim", "real", clock_.Now() + seconds(7 * 86400), "192.0.2.5");
  ASSERT_EQ(sink_.Count("host.clock_jump"), 2u);
  EXPECT_EQ(sink_.Last("host.clock_jump")->message, "real");
  EXPECT_EQ(Field(*sink_.Last("host.clock_jump"), "sender"), "192.0.2.5");
  // Senders beyond three in the interval are limited too (a spoofing flood).
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(seconds(3));
    Send("victim", "", clock_.Now() + seconds((8 + i) * 86400), "198.51.100." + std::to_string(i));
  }
  EXPECT_EQ(sink_.Count("host.clock_jump"), 3u);
}

// prod16 F2: three forged senders each stamp one line days ahead (three
// alerts, the host's limit); the host's own clock set back an hour is still
// alerted: its home address (the one most of its lines come from) keeps an
// alert of its own. A fourth forged address is limited.
TEST_F(HeartbeatTrackerTest, ForgedSendersCannotUseUpTheHomeSendersClockJumpAlert) {
  options_.clock_jump_tolerance_secs = 300;
  options_.clock_jump_alert_interval_secs = 3600;
  Make();
  for (int i = 0; i < 20; ++i) {
    Send("h", "", clock_.Now(), "127.0.0.1");
    clock_.Advance(seconds(5));
  }
  for (int d = 2; d <= 4; ++d) {
    Send("h", "forged", clock_.Now() + seconds(d * 86400), "127.0.0." + std::to_string(d));
    clock_.Advance(seconds(1));
  }
  EXPECT_EQ(sink_.Count("host.clock_jump"), 2u) << "the other senders share two alerts";
  Send("h", "forged", clock_.Now() + seconds(5 * 86400), "127.0.0.5");
  EXPECT_EQ(sink_.Count("host.clock_jump"), 2u);
  // The real clock is set back 1 h and the host keeps logging for 90 s.
  for (int i = 0; i < 90; i += 5) {
    Send("h", "real " + std::to_string(i), clock_.Now() - seconds(3600), "127.0.0.1");
    clock_.Advance(seconds(5));
  }
  ASSERT_EQ(sink_.Count("host.clock_jump"), 3u);
  const Alert* a = sink_.Last("host.clock_jump");
  EXPECT_EQ(Field(*a, "kind"), "backwards");
  EXPECT_EQ(Field(*a, "sender"), "127.0.0.1");
  // Its own allowance is one per interval too.
  Send("h", "", clock_.Now() + seconds(86400), "127.0.0.1");
  EXPECT_EQ(sink_.Count("host.clock_jump"), 3u);
}

// The home sender is the address most of a host's lines come from: a forger
// sending more lines than the host takes it (its jumps then count as the
// host's own), and the host's own address then shares the others' alerts;
// a host that moved to a new address makes it home after its lines
// outnumber the old address's.
TEST_F(HeartbeatTrackerTest, TheHomeSenderIsTheAddressMostLinesComeFrom) {
  options_.clock_jump_tolerance_secs = 300;
  options_.clock_jump_alert_interval_secs = 3600;
  Make();
  for (int i = 0; i < 3; ++i) {
    Send("m", "", clock_.Now(), "192.0.2.1");
    clock_.Advance(seconds(5));
  }
  for (int i = 0; i < 10; ++i) {
    Send("m", "", clock_.Now(), "192.0.2.2");
    clock_.Advance(seconds(5));
  }
  // Two other addresses fill the others' share.
  Send("m", "", clock_.Now() + seconds(2 * 86400), "192.0.2.1");
  Send("m", "", clock_.Now() + seconds(3 * 86400), "192.0.2.3");
  Send("m", "", clock_.Now() + seconds(4 * 86400), "192.0.2.4");
  EXPECT_EQ(sink_.Count("host.clock_jump"), 2u);
  EXPECT_EQ(Field(*sink_.Last("host.clock_jump"), "sender"), "192.0.2.3");
  // 192.0.2.2, home now, still has its own.
  Send("m", "", clock_.Now() + seconds(5 * 86400), "192.0.2.2");
  ASSERT_EQ(sink_.Count("host.clock_jump"), 3u);
  EXPECT_EQ(Field(*sink_.Last("host.clock_jump"), "sender"), "192.0.2.2");
}

// An intruder's kill -9 of the logger leaves no stop line: a silence soon
// after a high alert about the host (a root login from outside) is critical.
TEST_F(HeartbeatTrackerTest, ASilenceSoonAfterAHighAlertAboutTheHostIsCritical) {
  options_.silence_after_secs = 300;
  options_.alert_link_secs = 1800;
  Make();
  auto alert = [&](const std::string& host, Severity severity, const std::string& sign) {
    Alert a;
    a.time = a.received = clock_.Now();
    a.host = host;
    a.sign = sign;
    a.severity = severity;
    a.title = sign + " on " + host;
    tracker_->NoteAlert(a);
  };
  for (const char* h : {"web1", "web2", "web4"}) Send(h, "line");
  alert("web1", Severity::kHigh, "login.root_remote");
  alert("web2", Severity::kMedium, "ssh.bruteforce");         // medium: not linked
  alert("web4", Severity::kCritical, "host.clock_jump");      // the heartbeat's own: not linked
  alert("nosuch", Severity::kCritical, "login.root_remote");  // untracked: ignored
  // web3: a high alert, then 31 minutes of lines: its silence stands alone.
  Send("web3", "line");
  alert("web3", Severity::kHigh, "login.root_remote");
  for (int i = 0; i < 31; ++i) {
    clock_.Advance(seconds(60));
    Send("web3", "line");
    tracker_->Tick();
  }
  Run(seconds(400), seconds(10));

  ASSERT_EQ(sink_.Count("host.silent", "web1"), 1u);
  const Alert* a = nullptr;
  for (const Alert& x : sink_.alerts) {
    if (x.sign == "host.silent" && x.host == "web1") a = &x;
  }
  EXPECT_EQ(a->severity, Severity::kCritical);
  EXPECT_EQ(Field(*a, "after_alert"), "login.root_remote");
  EXPECT_EQ(Field(*a, "after_alert_title"), "login.root_remote on web1");
  EXPECT_NE(a->title.find("after login.root_remote"), std::string::npos) << a->title;
  for (const Alert& x : sink_.alerts) {
    if (x.sign != "host.silent" || x.host == "web1") continue;
    EXPECT_EQ(x.severity, Severity::kHigh) << x.host;
    EXPECT_EQ(Field(x, "after_alert"), "") << x.host;
  }
  EXPECT_EQ(sink_.Count("host.silent", "web2"), 1u);
  EXPECT_EQ(sink_.Count("host.silent", "web3"), 1u);
  EXPECT_EQ(sink_.Count("host.silent", "web4"), 1u);
}

TEST_F(HeartbeatTrackerTest, FloodOptionsAreValidatedByName) {
  HeartbeatOptions o;
  o.flood_window_secs = 0;
  EXPECT_NE(ValidateHeartbeatOptions(o).message().find("heartbeat.flood_window_secs"),
            std::string::npos);
  o = HeartbeatOptions();
  o.flood_multiplier = 0.5;
  EXPECT_NE(ValidateHeartbeatOptions(o).message().find("heartbeat.flood_multiplier"),
            std::string::npos);
  o = HeartbeatOptions();
  o.flood_min_messages = -1;
  EXPECT_NE(ValidateHeartbeatOptions(o).message().find("heartbeat.flood_min_messages"),
            std::string::npos);
  o = HeartbeatOptions();
  o.flood_min_messages = 0;  // off
  EXPECT_TRUE(ValidateHeartbeatOptions(o).ok());
}

// The fleet tester's S10: a line every 5 s, then 50,000 in 2 s.
TEST_F(HeartbeatTrackerTest, AHostFloodingFarAboveItsOwnRateIsOneMediumAlertWithTheCounts) {
  Make();
  auto usual_hour = [&] {
    for (int i = 0; i < 720; ++i) {
      Send("chatty");
      Run(seconds(5), seconds(5));
    }
  };
  usual_hour();
  EXPECT_EQ(sink_.Count("host.flood"), 0u);
  for (int s = 0; s < 2; ++s) {
    for (int i = 0; i < 25000; ++i) Send("chatty");
    Run(seconds(1));
  }
  ASSERT_EQ(sink_.Count("host.flood"), 1u);
  const Alert* a = sink_.Last("host.flood");
  EXPECT_EQ(a->rule, "heartbeat.flood");
  EXPECT_EQ(a->severity, Severity::kMedium);
  EXPECT_EQ(a->host, "chatty");
  EXPECT_EQ(Field(*a, "messages"), "25000");
  EXPECT_EQ(Field(*a, "window_secs"), "1");
  EXPECT_EQ(Field(*a, "rate_per_sec"), "25000.0");
  EXPECT_EQ(Field(*a, "usual_rate_per_sec"), "0.200");
  EXPECT_EQ(Field(*a, "times_usual"), "125000");
  EXPECT_NE(a->title.find("chatty is flooding: 25000 messages in 1 s"), std::string::npos)
      << a->title;
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_alerts_total", {{"sign", "host.flood"}}), 1);
  // A second flood within the hour is counted, not alerted; after the
  // hour it is alerted again.
  Run(seconds(10));
  for (int i = 0; i < 30000; ++i) Send("chatty");
  Run(seconds(1));
  EXPECT_EQ(sink_.Count("host.flood"), 1u);
  EXPECT_EQ(metrics_.ValueOf("konseki_heartbeat_suppressed_alerts_total",
                             {{"sign", "host.flood"}, {"reason", "rate_limit"}}),
            1);
  Run(seconds(10));
  usual_hour();
  for (int i = 0; i < 30000; ++i) Send("chatty");
  Run(seconds(1));
  EXPECT_EQ(sink_.Count("host.flood"), 2u);
  std::vector<HostRow> rows;
  Run(seconds(10));
  tracker_->Hosts()(&rows);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].last_flood_ns, sink_.Last("host.flood")->time.time_since_epoch().count());
  EXPECT_GT(rows[0].rate_per_sec, 1);
}

TEST_F(HeartbeatTrackerTest, ABusyHostAtItsUsualRateAndASmallBurstAreNoFlood) {
  Make();
  // busy: 2,000 lines a second for a minute, steadily; quiet: one line a
  // minute, then a cron run's 500 lines at once (under the floor).
  for (int s = 0; s < 60; ++s) {
    for (int i = 0; i < 2000; ++i) Send("busy");
    if (s % 60 == 0) Send("quiet");
    Run(seconds(1));
  }
  for (int i = 0; i < 500; ++i) Send("quiet");
  for (int s = 0; s < 30; ++s) {
    for (int i = 0; i < 2000; ++i) Send("busy");
    Run(seconds(1));
  }
  EXPECT_EQ(sink_.Count("host.flood"), 0u);
  // The learned rates, for `konseki hosts`.
  Run(seconds(10));
  std::vector<HostRow> rows;
  tracker_->Hosts()(&rows);
  ASSERT_EQ(rows.size(), 2u);
  for (const HostRow& r : rows) {
    if (r.name == "busy") {
      EXPECT_NEAR(r.rate_per_sec, 2000, 300);
    } else {
      EXPECT_GT(r.rate_per_sec, 0);
      EXPECT_LT(r.rate_per_sec, 20);
    }
    EXPECT_EQ(r.last_flood_ns, 0);
  }
}

TEST_F(HeartbeatTrackerTest, AHostWithoutAWindowOfHistoryIsNotJudgedAndZeroMinMessagesTurnsItOff) {
  Make();
  // Its first messages are a flood: nothing learned to compare with.
  for (int i = 0; i < 50000; ++i) Send("fresh");
  Run(seconds(2));
  EXPECT_EQ(sink_.Count("host.flood"), 0u);

  options_.flood_min_messages = 0;
  Make();
  for (int i = 0; i < 12; ++i) {
    Send("chatty");
    Run(seconds(5));
  }
  for (int i = 0; i < 50000; ++i) Send("chatty");
  Run(seconds(2));
  EXPECT_EQ(sink_.Count("host.flood"), 0u);
}

TEST_F(HeartbeatTrackerTest, FloodThresholdsAreTheOptions) {
  options_.flood_min_messages = 100;
  options_.flood_multiplier = 10;
  options_.flood_window_secs = 5;
  Make();
  auto per_second = [&](int n, int secs) {
    for (int s = 0; s < secs; ++s) {
      for (int i = 0; i < n; ++i) Send("app");
      Run(seconds(1));
    }
  };
  per_second(5, 30);  // learned: 5 a second
  per_second(40, 5);  // 8x, over the floor from the third second: not enough
  per_second(5, 5);
  EXPECT_EQ(sink_.Count("host.flood"), 0u);
  per_second(120, 1);  // ~13x its learned rate (now 9.4/s), over the floor
  ASSERT_EQ(sink_.Count("host.flood"), 1u);
  EXPECT_EQ(Field(*sink_.Last("host.flood"), "messages"), "120");
  EXPECT_EQ(Field(*sink_.Last("host.flood"), "min_messages"), "100");
  EXPECT_EQ(Field(*sink_.Last("host.flood"), "multiplier"), "10");
}

}  // namespace
}  // namespace konseki::matchers
