// An alert that waits for its answer: a rule's `pending_secs` and
// `answered_by` (matchers/rule.h). rsyslogd's "exiting on signal 15" is a
// logger stopped, or a logger restarted by a package upgrade or an admin's
// `systemctl restart`, which writes the same stop lines and then, a second
// later, the logger's start ("[origin software="rsyslogd" ...] start",
// "Started System Logging Service."). At the stop line the two cannot be
// told apart; a few seconds later they can. So the rule's alert waits:
// when a line of one of `answered_by`'s signs (or rules) comes from the same host
// within pending_secs before or after it (receive time), the alert is
// answered: raised at `answered_severity` (low for the loggers: the
// restart is on record) with the fields `answered_by` (the answering
// rule) and `answered_within_secs` (how far apart the two lines were), or dropped when that is
// unset. When nothing answers within pending_secs, the alert goes as written (with `waited_secs`),
// pending_secs after its line: the price of the proof. The journal's catch-up after a restart puts
// systemd's "Stopped ..." lines after the logger's start: hence the look back.
// An earlier line of the same process (the same extracted `pid` field, such
// as rsyslogd's x-pid; not the header's pid: systemd[1] writes the start,
// the stop and the shutdown lines of every unit) answers nothing: a
// daemon's own start line before its stop is no restart (an attacker who
// stops the logger within a minute of its start must not look like an
// upgrade).
// With the rule's `answer_key` the answer must be about the same thing and
// come after it: a new account's alert waits for userdel of that account
// (a CI runner's site rule, docs/rules.md), not of any account of the
// host, and a deletion before a re-creation of the name answers nothing.
//
// Per worker (a host belongs to one worker): no lock. Time is the receive
// time (test-rules: the line's stamp); Expire is called with the clock's
// time (the worker's housekeeping; test-rules: each line's stamp, and Flush
// at the end of the input).
#ifndef KONSEKI_MATCHERS_ALERT_PENDING_H_
#define KONSEKI_MATCHERS_ALERT_PENDING_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/alert.h"
#include "common/clock.h"
#include "common/message.h"
#include "matchers/rule.h"
#include "matchers/rule_set.h"

namespace konseki::matchers {

class PendingAlerts {
 public:
  // What a call decided: alerts to raise now, and the rules whose alert was
  // answered (raised at answered_severity, or dropped), for the counters.
  struct Decisions {
    std::vector<Alert> alerts;
    std::vector<std::string> answered;  // rule ids
    bool empty() const { return alerts.empty() && answered.empty(); }
    void clear() {
      alerts.clear();
      answered.clear();
    }
  };

  // At most this many alerts wait at once; beyond, an alert goes at once
  // (no loss, only no proof). Answers are remembered for this many
  // host-and-sign pairs before the oldest are forgotten.
  static constexpr size_t kMaxPending = 4096;
  static constexpr size_t kMaxAnswers = 65536;

  // A hit of a rule whose sign or id answers pending alerts
  // (Rule::answers_pending): remembered for alerts still
  // to come (those without an answer_key), and answers those waiting (with
  // an answer_key, those whose hit had the same values). Answered alerts
  // that are still raised go to *out.
  // The host and the receive time are msg's; the pid is hit's `pid` field.
  void Answer(const Message& msg, const RuleHit& hit, Decisions* out);

  // The alert of a hit of a rule with pending_secs (MakeAlert(msg, hit)),
  // line received at msg.received. Answered already (a line of one of
  // answered_by's signs came at most pending_secs before): to *out at once
  // when answered_severity is set. Otherwise it waits.
  void Defer(const Message& msg, const RuleHit& hit, Alert alert, Decisions* out);

  // The alerts (*alerts)[from..] a correlation raised in place of hit's
  // alert (supersedes: true): when hit's rule waits (an alerting rule with
  // pending_secs) they wait in its place, for its answer (Defer), and leave
  // *alerts. True when they did (the caller then holds hit as it would
  // have held the rule's own alert).
  bool DeferInPlaceOf(const Message& msg, const RuleHit& hit, std::vector<Alert>* alerts,
                      size_t from, Decisions* out);

  // Alerts unanswered pending_secs after their line, as of `now`: to *out.
  void Expire(TimePoint now, Decisions* out);
  // Every alert still waiting, unanswered (end of a replay, shutdown), as
  // of `now` (the alerts' `decided`; the deadline when that came first).
  void Flush(TimePoint now, Decisions* out);

  size_t waiting() const { return waiting_.size(); }

  // The alerts still waiting, as text, for a crash: a line received and
  // judged is not lost with the process (prod15: SIGKILL within a logger
  // stop's minute lost its alert and the critical correlation waiting in
  // its place). changes() counts every change of what waits, so the caller
  // saves only after one. Answers remembered for alerts still to come are
  // not saved (an answer lost costs a raised alert, not a lost one).
  uint64_t changes() const { return changes_; }
  std::string Save() const;
  // Adds the alerts of a Save() to those waiting (in their deadline order
  // with Expire). False, adding nothing, on text that is not a Save()'s.
  bool Load(std::string_view text);

 private:
  // The rule's settings are copied: the rules may be reloaded meanwhile.
  struct Waiting {
    std::string host;  // lower-cased
    int64_t line_ns = 0;
    int64_t deadline_ns = 0;
    std::vector<std::string> answered_by;
    std::optional<Severity> answered_severity;
    // The rule's answer_key and the waiting hit's values of it (KeyValues);
    // empty: any answering line of the host.
    std::vector<std::string> answer_key;
    std::string key_values;
    Alert alert;  // alert.rule: the rule's id
  };
  // Raises w's alert (by: the answering hit, else unanswered), its wait
  // ended at decided_ns (Alert::decided).
  void Raise(Waiting& w, const RuleHit* by, int64_t decided_ns, Decisions* out);
  // Remembers the answering line under host_ + name (a sign or a rule id).
  void Remember(std::string_view name, int64_t t_ns, const std::string& rule_id,
                std::string_view pid);

  // Host (lower-cased) + '\x1f' + sign or rule id -> the latest answering line.
  struct LastAnswer {
    int64_t t_ns = 0;
    std::string rule;
    std::string pid;  // of the answering line (empty: none)
  };
  std::unordered_map<std::string, LastAnswer> answers_;
  std::deque<Waiting> waiting_;  // in line order, mostly
  uint64_t changes_ = 0;
  std::string host_;  // reused
  std::string key_;
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_ALERT_PENDING_H_
