// Helpers shared by the heartbeat tests: a capturing sink and a message sender.
#ifndef KONSEKI_TESTS_MATCHERS_HEARTBEAT_TEST_UTIL_H_
#define KONSEKI_TESTS_MATCHERS_HEARTBEAT_TEST_UTIL_H_

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/message.h"

namespace konseki::matchers::testing {

class CapturingSink final : public AlertSink {
 public:
  void Emit(const Alert& alert) override { alerts.push_back(alert); }
  size_t Count(std::string_view sign) const {
    return static_cast<size_t>(std::count_if(alerts.begin(), alerts.end(),
                                             [&](const Alert& a) { return a.sign == sign; }));
  }
  size_t Count(std::string_view sign, std::string_view host) const {
    return static_cast<size_t>(std::count_if(alerts.begin(), alerts.end(), [&](const Alert& a) {
      return a.sign == sign && a.host == host;
    }));
  }
  // The last alert with that sign; nullptr if none.
  const Alert* Last(std::string_view sign) const {
    for (auto it = alerts.rbegin(); it != alerts.rend(); ++it) {
      if (it->sign == sign) return &*it;
    }
    return nullptr;
  }
  std::vector<Alert> alerts;
};

// Value of field `key`, or "<absent>".
inline std::string Field(const Alert& a, std::string_view key) {
  for (const auto& [k, v] : a.fields) {
    if (k == key) return v;
  }
  return "<absent>";
}

// A message from `host` received at `received`; the strings live in the
// struct, so build it, pass msg() to Observe and let it go.
struct TestMessage {
  TestMessage(std::string host_in, TimePoint received, std::string raw_in = "",
              std::string sender_in = "192.0.2.10", std::optional<TimePoint> ts = std::nullopt)
      : host(std::move(host_in)), raw(std::move(raw_in)), sender(std::move(sender_in)) {
    if (raw.empty()) raw = "<13>1 - " + host + " app - - - hello";
    m.raw = raw;
    m.hostname = host;
    m.sender = sender;
    m.received = received;
    m.app_name = "app";
    m.has_timestamp = ts.has_value();
    m.timestamp = ts.value_or(received);
    m.msg = raw;
  }
  TestMessage(const TestMessage&) = delete;
  TestMessage& operator=(const TestMessage&) = delete;
  const Message& msg() const { return m; }
  std::string host, raw, sender;
  Message m;
};

}  // namespace konseki::matchers::testing

#endif  // KONSEKI_TESTS_MATCHERS_HEARTBEAT_TEST_UTIL_H_
