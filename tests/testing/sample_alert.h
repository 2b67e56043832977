// One fully filled alert for the tests of the alert sinks (formatting,
// queueing, filtering): every field set, a time with microseconds.
#ifndef KONSEKI_TESTS_TESTING_SAMPLE_ALERT_H_
#define KONSEKI_TESTS_TESTING_SAMPLE_ALERT_H_

#include <chrono>
#include <string>
#include <utility>

#include "common/alert.h"
#include "common/clock.h"

namespace konseki::testing {

// An SSH login alert (sign ssh.login, high) from `host` by `rule`, at
// 2023-11-14T22:13:20.123456Z.
inline Alert SampleAlert(std::string rule = "ssh-accepted", std::string host = "web-1") {
  Alert a;
  a.time = TimePoint(std::chrono::seconds(1'700'000'000) + std::chrono::microseconds(123456));
  a.received = a.time;
  a.host = std::move(host);
  a.sender = "127.0.0.1";
  a.rule = std::move(rule);
  a.sign = "ssh.login";
  a.severity = Severity::kHigh;
  a.title = "SSH login accepted";
  a.program = "sshd";
  a.pid = "4242";
  a.fields = {{"user", "root"}, {"src", "203.0.113.9"}};
  a.message = "<38>Nov 14 22:13:20 web-1 sshd[4242]: Accepted password for root";
  return a;
}

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_TESTING_SAMPLE_ALERT_H_
