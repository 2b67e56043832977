#include "matchers/heartbeat_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace konseki::matchers {
namespace {

using konseki::testing::TempDir;

HostState SampleHost() {
  HostState h;
  h.name = "web 1%\n";
  h.sender = "2001:db8::1";
  h.last_message =
      std::string("<13>Nov 23 08:00:00 web1 app: line with \t tab\r\n and \xff byte", 60);
  h.stop_message = "";
  h.first_seen_ns = 1'700'000'000'000'000'000;
  h.last_seen_ns = 1'700'000'100'123'456'789;
  h.stop_time_ns = 1'700'000'050'000'000'000;
  h.last_ts_ns = -5;
  h.offset_baseline_ns = -3'000'000'000;
  h.last_clock_alert_ns = 7;
  h.seen = true;
  h.silent = true;
  h.stop_seen = false;
  h.has_ts = true;
  h.silent_after_stop = true;
  for (int i = 0; i < 50; ++i) h.cadence.AddGap(600 + i, 1.7e9 + i * 700, 604800);
  h.cadence.AddGap(0.25, 1.7e9 + 50 * 700, 604800);
  return h;
}

TEST(HeartbeatStateTest, LineRoundTripsEveryFieldAndAnyBytes) {
  HostState h = SampleHost();
  std::string line;
  AppendHostStateLine(h, &line);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "escaped newlines must not split the line";
  line.pop_back();
  HostState got;
  ASSERT_TRUE(ParseHostStateLine(line, &got)) << line;
  EXPECT_EQ(got.name, h.name);
  EXPECT_EQ(got.sender, h.sender);
  EXPECT_EQ(got.last_message, h.last_message);
  EXPECT_EQ(got.stop_message, h.stop_message);
  EXPECT_EQ(got.first_seen_ns, h.first_seen_ns);
  EXPECT_EQ(got.last_seen_ns, h.last_seen_ns);
  EXPECT_EQ(got.stop_time_ns, h.stop_time_ns);
  EXPECT_EQ(got.last_ts_ns, h.last_ts_ns);
  EXPECT_EQ(got.offset_baseline_ns, h.offset_baseline_ns);
  EXPECT_EQ(got.last_clock_alert_ns, h.last_clock_alert_ns);
  EXPECT_EQ(got.seen, h.seen);
  EXPECT_EQ(got.silent, h.silent);
  EXPECT_EQ(got.stop_seen, h.stop_seen);
  EXPECT_EQ(got.has_ts, h.has_ts);
  EXPECT_EQ(got.silent_after_stop, h.silent_after_stop);
  EXPECT_EQ(got.cadence.time_weights(), h.cadence.time_weights());
  EXPECT_EQ(got.cadence.square_weights(), h.cadence.square_weights());
  EXPECT_DOUBLE_EQ(got.cadence.observed_secs(), h.cadence.observed_secs());
  EXPECT_NEAR(got.cadence.CadenceSecs(0.99), h.cadence.CadenceSecs(0.99), 1e-3);
}

// A state file written before label values were kept valid UTF-8 may hold a
// spoofed host name with invalid bytes ("\xc3\x28" from one UDP datagram):
// it loads with U+FFFD in their place, so it cannot break a scrape again.
TEST(HeartbeatStateTest, InvalidUtf8HostNameLoadsSanitized) {
  HostState h = SampleHost();
  h.name = std::string("\xc3\x28-host\0x", 9);
  std::string line;
  AppendHostStateLine(h, &line);
  line.pop_back();
  HostState got;
  ASSERT_TRUE(ParseHostStateLine(line, &got)) << line;
  EXPECT_EQ(got.name, "\xEF\xBF\xBD(-host\xEF\xBF\xBDx");
  EXPECT_EQ(got.last_message, h.last_message) << "only the name is repaired";
}

TEST(HeartbeatStateTest, NoteSenderKeepsDistinctAddressesMostRecentFirstUpToTheCap) {
  HostState h;
  for (const char* a : {"10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.3", "10.0.0.4"}) {
    NoteSender(a, 3, &h);
  }
  EXPECT_EQ(h.sender, "10.0.0.4");
  EXPECT_EQ(h.senders, (std::vector<std::string>{"10.0.0.4", "10.0.0.3", "10.0.0.1"}));
}

TEST(HeartbeatStateTest, SendersRoundTripAndAnOldSingleSenderLineReadsAsAListOfOne) {
  HostState h = SampleHost();
  NoteSender("192.0.2.1", 8, &h);
  NoteSender("2001:db8::1", 8, &h);
  std::string line;
  AppendHostStateLine(h, &line);
  line.pop_back();
  HostState got;
  ASSERT_TRUE(ParseHostStateLine(line, &got)) << line;
  EXPECT_EQ(got.sender, "2001:db8::1");
  EXPECT_EQ(got.senders, (std::vector<std::string>{"2001:db8::1", "192.0.2.1"}));

  HostState old = SampleHost();  // a state file of a konseki that kept one sender
  old.senders.clear();
  line.clear();
  AppendHostStateLine(old, &line);
  line.pop_back();
  ASSERT_TRUE(ParseHostStateLine(line, &got)) << line;
  EXPECT_EQ(got.sender, "2001:db8::1");
  EXPECT_EQ(got.senders, (std::vector<std::string>{"2001:db8::1"}));
}

TEST(HeartbeatStateTest, MalformedLinesAreRejected) {
  std::string line;
  AppendHostStateLine(SampleHost(), &line);
  line.pop_back();
  HostState got;
  EXPECT_FALSE(ParseHostStateLine("", &got));
  EXPECT_FALSE(ParseHostStateLine("H :a :b 1", &got));
  EXPECT_FALSE(ParseHostStateLine(line + " extra", &got));
  EXPECT_FALSE(ParseHostStateLine("X" + line.substr(1), &got));
  std::string bad_escape = line;
  bad_escape.replace(2, 1, ":%G");  // name ":%G..."
  EXPECT_FALSE(ParseHostStateLine(bad_escape, &got));
  std::string empty_name = "H :" + line.substr(line.find(' ', 2));
  EXPECT_FALSE(ParseHostStateLine(empty_name, &got));
  std::string negative_weight = line;
  size_t pos = negative_weight.find(" 0 ");  // a zero time weight
  ASSERT_NE(pos, std::string::npos);
  negative_weight.replace(pos, 3, " -4 ");
  EXPECT_FALSE(ParseHostStateLine(negative_weight, &got));
}

TEST(HeartbeatStateTest, StateFileNames) {
  EXPECT_EQ(StateFileName(3), "heartbeat.3.state");
  EXPECT_TRUE(IsStateFileName("heartbeat.0.state"));
  EXPECT_TRUE(IsStateFileName("heartbeat.12.state"));
  EXPECT_FALSE(IsStateFileName("heartbeat.0.state.tmp"));
  EXPECT_FALSE(IsStateFileName("heartbeat..state"));
  EXPECT_FALSE(IsStateFileName("heartbeat.x.state"));
  EXPECT_FALSE(IsStateFileName("other.0.state"));
}

TEST(HeartbeatStateTest, AtomicWriteReplacesTheFileAndLeavesNoTemp) {
  TempDir dir;
  std::string path = dir.path() + "/f.state";
  ASSERT_TRUE(WriteFileAtomically(path, "one").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "two\n").ok());
  std::string got;
  ASSERT_TRUE(ReadFileToString(path, &got).ok());
  EXPECT_EQ(got, "two\n");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(HeartbeatStateTest, WriteIntoMissingDirectoryFailsWithThePath) {
  TempDir dir;
  Status st = WriteFileAtomically(dir.path() + "/no/such/f.state", "x");
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_NE(st.message().find("no/such/f.state.tmp"), std::string::npos) << st.ToString();
  std::string got;
  EXPECT_FALSE(ReadFileToString(dir.path() + "/absent", &got).ok());
}

}  // namespace
}  // namespace konseki::matchers
