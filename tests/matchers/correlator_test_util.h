// Test support for the correlator tests: a driver that feeds hits built
// from plain values, and small builders.
#ifndef KONSEKI_TESTS_MATCHERS_CORRELATOR_TEST_UTIL_H_
#define KONSEKI_TESTS_MATCHERS_CORRELATOR_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/host_key.h"
#include "matchers/correlator.h"

namespace konseki::matchers {

inline const TimePoint kT0 = TimePoint(std::chrono::seconds(1'750'000'000));

inline TimePoint At(double secs) {
  return kT0 + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(secs));
}

inline Correlation Corr(const std::string& id, CorrelationKind kind) {
  Correlation c;
  c.id = id;
  c.sign = "test." + id;
  c.title = "title " + id;
  c.kind = kind;
  return c;
}

inline InputRef Id(const std::string& id) { return InputRef{id, ""}; }
inline InputRef Sign(const std::string& sign) { return InputRef{"", sign}; }

// A membership correlation on one input: its field in a fixed list of values.
inline Correlation Membership(const std::string& id, InputRef on, const std::string& field,
                              std::vector<std::string> values) {
  Correlation c = Corr(id, CorrelationKind::kMembership);
  c.on = {std::move(on)};
  c.field = field;
  c.values = std::move(values);
  return c;
}

// A distinct correlation on one input: `count` different values of `field`
// within `window_secs` for one key.
inline Correlation Distinct(const std::string& id, InputRef on, std::vector<std::string> key,
                            const std::string& field, uint32_t count, double window_secs) {
  Correlation c = Corr(id, CorrelationKind::kDistinct);
  c.on = {std::move(on)};
  c.key = std::move(key);
  c.field = field;
  c.count = count;
  c.window_secs = window_secs;
  return c;
}

// Drives a Correlator with hits built from plain values.
class Driver {
 public:
  explicit Driver(RulePack pack, CorrelatorOptions options = {}) : pack_(std::move(pack)) {
    auto c = Correlator::Create(pack_, options, metrics_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (c.ok()) correlator_ = std::move(c).value();
  }

  // One hit of rule `rule` (sign `sign`) on host at event time t (seconds
  // after kT0), received at the same instant unless rx >= 0.
  std::vector<Alert> Hit(const std::string& rule, const std::string& sign, Fields fields,
                         const std::string& host, double t, double rx = -1,
                         const std::string& sender = "192.0.2.250") {
    fields_ = std::move(fields);
    HitEvent e;
    e.input_id = rule;
    e.sign = sign;
    e.fields = &fields_;
    e.host = host;
    e.sender = sender;
    e.program = "sshd";
    e.pid = "1";
    e.event_time = At(t);
    e.received = At(rx >= 0 ? rx : t);
    e.message_seq = ++seq_;
    e.repeats = next_repeats_;
    next_repeats_ = 1;
    e.dedupe_secs = next_dedupe_;
    next_dedupe_ = 0;
    e.overflow_worker = next_overflow_;
    next_overflow_ = -1;
    // As the worker calls it: with the key the Router hashed.
    correlator_->ObserveHost(HostKey::Of(host), sender, e.received);
    std::vector<Alert> out;
    correlator_->Process(e, &out);
    return out;
  }
  // The next Hit stands for n events (a "message repeated n times" line).
  Driver& Repeats(uint32_t n) {
    next_repeats_ = n;
    return *this;
  }
  // The next Hit's rule has dedupe_secs n (matchers/rule.h).
  Driver& Dedupe(uint32_t n) {
    next_dedupe_ = n;
    return *this;
  }
  // The next Hit's line was archived in worker w's overflow folder.
  Driver& InOverflow(int32_t w) {
    next_overflow_ = w;
    return *this;
  }
  Correlator& c() { return *correlator_; }
  MetricsRegistry& metrics() { return metrics_; }
  const RulePack& pack() const { return pack_; }

 private:
  RulePack pack_;
  MetricsRegistry metrics_;
  std::unique_ptr<Correlator> correlator_;
  Fields fields_;
  uint64_t seq_ = 0;
  uint32_t next_repeats_ = 1;
  uint32_t next_dedupe_ = 0;
  int32_t next_overflow_ = -1;
};

inline RulePack Pack(std::vector<Correlation> corrs, std::vector<ValueSet> sets = {}) {
  RulePack p;
  p.correlations = std::move(corrs);
  p.sets = std::move(sets);
  return p;
}

inline std::string FieldOf(const Alert& a, const std::string& name) {
  for (const auto& [k, v] : a.fields) {
    if (k == name) return v;
  }
  return "<none>";
}

}  // namespace konseki::matchers

#endif  // KONSEKI_TESTS_MATCHERS_CORRELATOR_TEST_UTIL_H_
