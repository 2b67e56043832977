#include "app/relay_silence.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace konseki::app {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = TimePoint(seconds(1'700'000'000));
int64_t Ns(TimePoint t) { return t.time_since_epoch().count(); }

class CaptureSink : public AlertSink {
 public:
  void Emit(const Alert& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    alerts.push_back(a);
  }
  std::vector<Alert> WithSign(const std::string& sign) const {
    std::vector<Alert> out;
    for (const Alert& a : alerts) {
      if (a.sign == sign) out.push_back(a);
    }
    return out;
  }
  std::vector<Alert> alerts;

 private:
  std::mutex mu_;
};

std::string FieldOf(const Alert& a, const std::string& key) {
  for (const auto& [k, v] : a.fields) {
    if (k == key) return v;
  }
  return "<absent>";
}

matchers::HostRow Row(const std::string& name, const std::string& sender, TimePoint last_seen) {
  matchers::HostRow r;
  r.name = name;
  r.sender = sender;
  r.seen = true;
  r.first_seen_ns = Ns(kT0 - seconds(3600));
  r.last_seen_ns = Ns(last_seen);
  return r;
}

// host.silent as HeartbeatTracker::FireSilent makes it (the fields read).
Alert Silent(const std::string& host, const std::string& sender, TimePoint last_seen,
             TimePoint now) {
  Alert a;
  a.time = a.received = now;
  a.host = host;
  a.sender = sender;
  a.rule = "heartbeat.silent";
  a.sign = "host.silent";
  a.severity = Severity::kHigh;
  a.title = host + " silent";
  a.fields = {{"last_seen", FormatRfc3339Micros(last_seen)},
              {"silence_secs",
               std::to_string(std::chrono::duration_cast<seconds>(now - last_seen).count())}};
  return a;
}

class RelaySilenceTest : public ::testing::Test {
 protected:
  void Make(RelaySilenceOptions o = {}) {
    relay_ = std::make_unique<RelaySilence>(o, sink_, metrics_);
    // Two trackers (workers): the hosts of one relay are split over them.
    relay_->SetReaders({[this](std::vector<matchers::HostRow>* out) {
                          for (size_t i = 0; i < rows_.size(); i += 2) out->push_back(rows_[i]);
                        },
                        [this](std::vector<matchers::HostRow>* out) {
                          for (size_t i = 1; i < rows_.size(); i += 2) out->push_back(rows_[i]);
                        }});
  }
  CaptureSink sink_;
  MetricsRegistry metrics_;
  std::vector<matchers::HostRow> rows_;
  std::unique_ptr<RelaySilence> relay_;
};

// live21 F4: relay1 killed, h1..h3 behind it stop in the same second.
TEST_F(RelaySilenceTest, HostsOfOneSenderStoppedTogetherNameEachOtherAndRaiseOneRelayAlert) {
  Make();
  const TimePoint t = kT0;
  rows_ = {Row("h1", "10.0.0.5", t), Row("h2", "10.0.0.5", t + milliseconds(300)),
           Row("h3", "10.0.0.5", t + milliseconds(600)),
           Row("db1", "10.0.0.9", t + seconds(29))};  // another sender, alive
  relay_->Emit(Silent("h1", "10.0.0.5", t, t + seconds(30)));
  relay_->Emit(Silent("h2", "10.0.0.5", t + milliseconds(300), t + seconds(30)));
  relay_->Emit(Silent("h3", "10.0.0.5", t + milliseconds(600), t + seconds(31)));

  const auto silent = sink_.WithSign("host.silent");
  ASSERT_EQ(silent.size(), 3u);  // each host keeps its own alert
  EXPECT_EQ(FieldOf(silent[0], "same_sender_silent"), "h2, h3");
  EXPECT_EQ(FieldOf(silent[0], "same_sender_silent_count"), "2");
  EXPECT_EQ(FieldOf(silent[0], "sender_alive"), "false");
  EXPECT_EQ(silent[0].severity, Severity::kHigh);
  EXPECT_EQ(FieldOf(silent[1], "same_sender_silent"), "h1, h3");
  EXPECT_EQ(FieldOf(silent[2], "same_sender_silent"), "h1, h2");

  const auto relay = sink_.WithSign("host.relay_silent");
  ASSERT_EQ(relay.size(), 1u) << "one per outage of the sender";
  EXPECT_EQ(relay[0].host, "10.0.0.5");  // no name known for the address
  EXPECT_EQ(relay[0].sender, "10.0.0.5");
  EXPECT_EQ(relay[0].severity, Severity::kHigh);
  EXPECT_EQ(FieldOf(relay[0], "hosts"), "h1, h2, h3");
  EXPECT_EQ(FieldOf(relay[0], "host_count"), "3");
  EXPECT_EQ(FieldOf(relay[0], "last_stopped"), FormatRfc3339Micros(t + milliseconds(600)));
  // The relay alert comes right after the host alert that completed it.
  EXPECT_EQ(sink_.alerts[1].sign, "host.relay_silent");
}

TEST_F(RelaySilenceTest, RelayOwnHostSilentWhileItForwardsIsLow) {
  RelaySilenceOptions o;
  o.host_addresses["relay1"] = {"10.0.0.5"};
  Make(o);
  const TimePoint t = kT0;
  rows_ = {Row("relay1", "10.0.0.5", t), Row("h1", "10.0.0.5", t + seconds(28)),
           Row("h2", "10.0.0.5", t + seconds(29)), Row("h3", "10.0.0.5", t + seconds(27))};
  relay_->Emit(Silent("relay1", "10.0.0.5", t, t + seconds(30)));
  const auto silent = sink_.WithSign("host.silent");
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_EQ(silent[0].severity, Severity::kLow) << silent[0].title;
  EXPECT_EQ(FieldOf(silent[0], "sender_alive"), "true");
  EXPECT_EQ(FieldOf(silent[0], "sender_alive_hosts"), "3");
  EXPECT_EQ(FieldOf(silent[0], "sender_host"), "relay1");
  EXPECT_EQ(FieldOf(silent[0], "sender_last_forwarded"), FormatRfc3339Micros(t + seconds(29)));
  EXPECT_EQ(FieldOf(silent[0], "same_sender_silent_count"), "0");
  EXPECT_NE(silent[0].title.find("still forwards 3 hosts' lines from 10.0.0.5"), std::string::npos)
      << silent[0].title;
  EXPECT_TRUE(sink_.WithSign("host.relay_silent").empty());
}

TEST_F(RelaySilenceTest, HostBehindALiveRelayStaysHighAndSaysTheRelayForwards) {
  RelaySilenceOptions o;
  o.host_addresses["relay1"] = {"10.0.0.5"};
  Make(o);
  const TimePoint t = kT0;
  rows_ = {Row("h1", "10.0.0.5", t), Row("h2", "10.0.0.5", t + seconds(29)),
           Row("relay1", "10.0.0.5", t + seconds(25))};
  relay_->Emit(Silent("h1", "10.0.0.5", t, t + seconds(30)));
  const auto silent = sink_.WithSign("host.silent");
  ASSERT_EQ(silent.size(), 1u);
  // h1's own logger died: the relay still forwarding changes nothing.
  EXPECT_EQ(silent[0].severity, Severity::kHigh);
  EXPECT_EQ(FieldOf(silent[0], "sender_alive"), "true");
  EXPECT_EQ(FieldOf(silent[0], "sender_alive_hosts"), "2");
  EXPECT_NE(silent[0].title.find("still forwards 2 other hosts"), std::string::npos)
      << silent[0].title;

  EXPECT_TRUE(sink_.WithSign("host.relay_silent").empty());
}

TEST_F(RelaySilenceTest, OneOtherHostIsSaidInTheSingular) {
  Make(RelaySilenceOptions{});
  const TimePoint t = kT0;
  rows_ = {Row("h1", "10.0.0.5", t), Row("h2", "10.0.0.5", t + seconds(29))};
  relay_->Emit(Silent("h1", "10.0.0.5", t, t + seconds(30)));
  const auto silent = sink_.WithSign("host.silent");
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_NE(silent[0].title.find("still forwards 1 other host"), std::string::npos)
      << silent[0].title;
  EXPECT_EQ(silent[0].title.find("1 other hosts"), std::string::npos) << silent[0].title;
}

TEST_F(RelaySilenceTest, RelayDeadWithItsOwnHostNamesTheRelay) {
  RelaySilenceOptions o;
  o.host_addresses["relay1"] = {"10.0.0.5"};
  Make(o);
  const TimePoint t = kT0;
  rows_ = {Row("relay1", "10.0.0.5", t + seconds(1)), Row("h1", "10.0.0.5", t)};
  relay_->Emit(Silent("h1", "10.0.0.5", t, t + seconds(30)));
  const auto relay = sink_.WithSign("host.relay_silent");
  ASSERT_EQ(relay.size(), 1u);
  EXPECT_EQ(relay[0].host, "relay1");
  EXPECT_EQ(FieldOf(relay[0], "hosts"), "h1, relay1");
  EXPECT_EQ(FieldOf(relay[0], "sender_host"), "relay1");
}

TEST_F(RelaySilenceTest, AHostAloneOnItsSenderOrStoppedApartIsNotGrouped) {
  Make();
  const TimePoint t = kT0;
  rows_ = {Row("web1", "10.0.0.7", t), Row("h1", "10.0.0.5", t),
           Row("h2", "10.0.0.5", t - seconds(20))};  // stopped 20 s earlier: not together
  relay_->Emit(Silent("web1", "10.0.0.7", t, t + seconds(30)));
  relay_->Emit(Silent("h1", "10.0.0.5", t, t + seconds(30)));
  const auto silent = sink_.WithSign("host.silent");
  ASSERT_EQ(silent.size(), 2u);
  EXPECT_EQ(FieldOf(silent[0], "same_sender_silent_count"), "0");
  EXPECT_EQ(FieldOf(silent[1], "same_sender_silent_count"), "0");
  EXPECT_EQ(silent[1].severity, Severity::kHigh);
  EXPECT_TRUE(sink_.WithSign("host.relay_silent").empty());
}

TEST_F(RelaySilenceTest, ARelayThatCameBackAndDiedAgainIsAlertedAgain) {
  Make();
  TimePoint t = kT0;
  rows_ = {Row("h1", "10.0.0.5", t), Row("h2", "10.0.0.5", t)};
  relay_->Emit(Silent("h1", "10.0.0.5", t, t + seconds(30)));
  relay_->Emit(Silent("h2", "10.0.0.5", t, t + seconds(30)));
  ASSERT_EQ(sink_.WithSign("host.relay_silent").size(), 1u);
  t += seconds(600);
  rows_ = {Row("h1", "10.0.0.5", t), Row("h2", "10.0.0.5", t)};
  relay_->Emit(Silent("h2", "10.0.0.5", t, t + seconds(30)));
  EXPECT_EQ(sink_.WithSign("host.relay_silent").size(), 2u);
}

// The snapshots lag (heartbeat.metrics_interval_secs): a host alerted
// here that the copy does not hold yet is still grouped.
TEST_F(RelaySilenceTest, SilencesAlertedHereGroupHostsTheSnapshotDoesNotHold) {
  Make();
  const TimePoint t = kT0;
  rows_ = {};
  relay_->Emit(Silent("h1", "10.0.0.5", t, t + seconds(30)));
  relay_->Emit(Silent("h2", "10.0.0.5", t + seconds(1), t + seconds(31)));
  const auto silent = sink_.WithSign("host.silent");
  ASSERT_EQ(silent.size(), 2u);
  EXPECT_EQ(FieldOf(silent[1], "same_sender_silent"), "h1");
  EXPECT_EQ(sink_.WithSign("host.relay_silent").size(), 1u);
}

TEST_F(RelaySilenceTest, OtherAlertsAndGroupingOffPassUnchanged) {
  RelaySilenceOptions o;
  o.same_sender_secs = 0;
  Make(o);
  rows_ = {Row("h1", "10.0.0.5", kT0), Row("h2", "10.0.0.5", kT0)};
  Alert resumed = Silent("h1", "10.0.0.5", kT0, kT0 + seconds(30));
  resumed.sign = "host.resumed";
  relay_->Emit(resumed);
  relay_->Emit(Silent("h1", "10.0.0.5", kT0, kT0 + seconds(30)));
  relay_->Emit(Silent("h2", "10.0.0.5", kT0, kT0 + seconds(30)));
  ASSERT_EQ(sink_.alerts.size(), 3u);
  for (const Alert& a : sink_.alerts) {
    EXPECT_EQ(FieldOf(a, "same_sender_silent"), "<absent>");
    EXPECT_EQ(a.fields.size(), 2u);
  }
}

// heartbeat31 a11: a relay stops at t; the hosts behind it had their last
// lines where their own spacing put them (web1, a line every 30 s, 6 s
// before; db1 8 s after, the last line the relay forwarded). An hour on,
// db1's line after the judged host's is no sign that the sender forwards:
// db1 has been quiet since. Grouped, one relay alert.
TEST_F(RelaySilenceTest, HostsStoppedWithinTheirOwnSpacingOfADeadRelayAreGrouped) {
  Make();
  const TimePoint t = kT0;
  rows_ = {Row("relay1", "10.0.0.5", t), Row("web1", "10.0.0.5", t - seconds(6)),
           Row("db1", "10.0.0.5", t + seconds(8)),
           Row("old1", "10.0.0.5", t - seconds(600))};  // stopped long before
  rows_[1].cadence_secs = 30;
  rows_[2].cadence_secs = 300;
  rows_[3].cadence_secs = 60;
  relay_->Emit(Silent("relay1", "10.0.0.5", t, t + seconds(3600)));
  const auto silent = sink_.WithSign("host.silent");
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_EQ(FieldOf(silent[0], "sender_alive"), "false");
  EXPECT_EQ(FieldOf(silent[0], "same_sender_silent"), "db1, web1");
  const auto relay = sink_.WithSign("host.relay_silent");
  ASSERT_EQ(relay.size(), 1u);
  EXPECT_EQ(FieldOf(relay[0], "hosts"), "db1, relay1, web1");
  EXPECT_EQ(FieldOf(relay[0], "first_stopped"), FormatRfc3339Micros(t - seconds(6)));
  EXPECT_EQ(FieldOf(relay[0], "last_stopped"), FormatRfc3339Micros(t + seconds(8)));
}

// The same spread while the sender still forwards: a host seen after the
// judged one and not quiet for half its silence (nor its own spacing)
// keeps the sender alive; one before it, within its spacing but not yet
// past it, is in neither list.
TEST_F(RelaySilenceTest, APeerSeenLaterAndNotQuietSinceKeepsTheSenderAlive) {
  Make();
  const TimePoint t = kT0;
  rows_ = {Row("h1", "10.0.0.5", t), Row("h2", "10.0.0.5", t + seconds(200)),
           Row("h3", "10.0.0.5", t - seconds(100))};
  rows_[2].cadence_secs = 600;  // logs every 10 min: not due yet
  relay_->Emit(Silent("h1", "10.0.0.5", t, t + seconds(300)));
  const auto silent = sink_.WithSign("host.silent");
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_EQ(FieldOf(silent[0], "sender_alive_hosts"), "1");
  EXPECT_EQ(FieldOf(silent[0], "same_sender_silent_count"), "0");
  EXPECT_TRUE(sink_.WithSign("host.relay_silent").empty());
}

}  // namespace
}  // namespace konseki::app
