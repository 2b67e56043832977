// Fields carried from one line to a later one of the same connection or
// process: rules' `remember` and `recall` (Rule::Carry). Some daemons name
// the client once per connection and not in the lines that matter:
// PostgreSQL's default log_line_prefix ("%m [%p] %q%u@%d ") has no %h, so a
// password failure names no source, while log_connections' "connection
// received: host=203.0.113.9 port=50112" of the same backend pid does;
// slapd names the address in a connection's ACCEPT and the bind's result
// only by "conn=1001". A remember rule stores its hit's fields under (host,
// name, key values); a recall rule's hit gets the stored fields it lacks,
// before the alerts, rules.ignore's check and the correlations see it, so
// a burst of such failures is keyed by its source like any other. An empty
// key is the host alone (cloud-init's boot stage, then useradd).
//
// Per worker (a host belongs to one worker): no lock. Time is the
// message's receive time (test-rules: its stamp). At most kMaxEntries
// (host, name, key) entries: when full, those past their time go, and if
// none did, the oldest half (`evicted()` counts them).
#ifndef KONSEKI_MATCHERS_FIELD_CARRY_H_
#define KONSEKI_MATCHERS_FIELD_CARRY_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/message.h"
#include "matchers/alert_ignore.h"
#include "matchers/rule_set.h"

namespace konseki::matchers {

class FieldCarry {
 public:
  static constexpr size_t kMaxEntries = 65536;

  // For each hit in order: a recall adds the stored fields the hit lacks
  // (or has empty) and re-checks `ignore` on them; then a remember stores
  // the hit's fields (those it has, non-empty) and restarts their time.
  // Returns true if a hit got a field.
  bool Apply(const Message& msg, const AlertIgnore& ignore, std::vector<RuleHit>* hits);

  size_t size() const { return entries_.size(); }
  uint64_t evicted() const { return evicted_; }

 private:
  struct Entry {
    int64_t expires_ns = 0;
    int64_t stored_ns = 0;
    std::vector<std::pair<std::string, std::string>> fields;
  };
  // The (host, name, key values) key of `carry` for the hit into key_;
  // false when the hit (and the line) lacks a key field.
  bool MakeKey(const Message& msg, const RuleHit& hit, const Rule::Carry& carry);
  void Prune(int64_t now_ns);

  std::unordered_map<std::string, Entry> entries_;
  std::string key_;  // reused
  uint64_t evicted_ = 0;
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_FIELD_CARRY_H_
