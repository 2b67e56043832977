// One alert per episode: a rule's `quiet_secs` (matchers/rule.h). A restart
// of rsyslog writes four syslog.stopped lines within a second (systemd's
// "Stopping", rsyslogd's "exiting on signal 15", "Deactivated
// successfully", "Stopped"), a reboot a handful of system.shutdown lines, a
// sudo typo pam_unix's, audit's and sudo's own line. Each line still hits
// its rule (counted, shown by test-rules, fed to the correlations); only
// the alert is held when an alert of the same sign from the same host was
// raised or held less than quiet_secs before, unless this one is more
// severe (a high audit.daemon_stopped after a medium rsyslogd stop alerts).
// The hold lasts while the lines keep coming (quiet_secs without one ends
// it), as Wazuh's `ignore` and swatch's `throttle` do per rule, but per
// sign and host: the rules of one sign describe the same event. A rule's
// `quiet_after` signs announce it: a reboot's system.shutdown alert holds
// the syslog.stopped alerts of the loggers and auditd stopping after it.
//
// Per worker (a host belongs to one worker): no lock. Time is the
// message's receive time (test-rules: its stamp).
#ifndef KONSEKI_MATCHERS_ALERT_HOLD_H_
#define KONSEKI_MATCHERS_ALERT_HOLD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/alert.h"
#include "common/clock.h"
#include "common/message.h"
#include "matchers/rule.h"
#include "matchers/rule_set.h"

namespace konseki::matchers {

class AlertHold {
 public:
  // Entries quiet for longer than a day are dropped once the table holds
  // this many (a host-and-sign pair costs ~100 bytes).
  static constexpr size_t kMaxEntries = 65536;

  // True if the alert of `rule` (quiet_secs > 0) on a line of `host` at
  // `t` is held. Records the line either way. `key` holds the values of
  // the rule's quiet_key fields (the same sign and host, and these values);
  // the caller leaves the alert unheld when one of them is missing.
  // `severity`: the alert's, when not the rule's (own_downtime_severity).
  bool Held(std::string_view host, const Rule& rule, TimePoint t,
            const std::vector<std::string_view>& key = {},
            std::optional<Severity> severity = std::nullopt);
  // Held for a rule hit of msg (its receive time): the quiet_key fields are
  // the hit's, or the message's own `program` and `pid` (its header). A
  // field the line does not carry means no hold: the alert goes; but a
  // line without a program (no header) holds under the empty program.
  bool Held(const Message& msg, const RuleHit& hit,
            std::optional<Severity> severity = std::nullopt);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    int64_t first_ns = 0;  // the alert raised
    int64_t last_ns = 0;   // the latest line, raised or held
    Severity severity = Severity::kInfo;
    // `now` belongs to the episode: lines out of order by less than the
    // quiet time do too.
    bool Around(int64_t now, int64_t quiet) const {
      return now <= last_ns + quiet && now >= first_ns - quiet;
    }
  };
  // An episode of one of rule.quiet_after's signs from `host` around `now`.
  bool Announced(std::string_view host, const Rule& rule, int64_t now, int64_t quiet);
  void Prune(int64_t now_ns);

  std::unordered_map<std::string, Entry> entries_;
  std::string key_;  // reused: no allocation per held line
  std::string other_;
  std::vector<std::string_view> values_;
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_ALERT_HOLD_H_
