// A correlation rule as written in the `correlations:` section of a rule pack
// (patterns/*.yaml), and the named value sets of its `sets:` section. Plain
// data, copyable: the loader fills them, the Correlator runs them.
//
// A correlation consumes rule hits (and other correlations' alerts), never
// raw lines. Six generic kinds; no sign is special-cased in C++:
//   threshold   `count` hits with equal key within `window_secs`: one alert per
//               burst, re-armed after `quiet_secs` without a hit
//   distinct    `count` distinct values of `field` per key within `window_secs`
//   sequence    `count` hits of `after` (A), then a hit of `on` (B), equal key,
//               the A hits within `window_secs` before B
//   unpaired    a hit of `on` (a close) with no earlier `after` (its open) for
//               the key, while the host was watched for `min_observed_secs`
//   membership  `field`'s value in `values`, `cidrs`, the named `set`, or one
//               of the host's own addresses
//   first_seen  the tuple `values` never seen before for the key, once the
//               host has been watched for `learning_secs`
#ifndef KONSEKI_MATCHERS_CORRELATION_H_
#define KONSEKI_MATCHERS_CORRELATION_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/alert.h"

namespace konseki::matchers {

enum class CorrelationKind : uint8_t {
  kThreshold,
  kDistinct,
  kSequence,
  kUnpaired,
  kMembership,
  kFirstSeen,
};
// "threshold", "distinct", ... ; Parse returns false for unknown names.
const char* CorrelationKindName(CorrelationKind k);
bool ParseCorrelationKind(std::string_view name, CorrelationKind* out);

// host: keys include the host (state lives on the worker owning the host).
// fleet: keys are the key fields alone (one source trying many hosts is one
// key); such rules run on the fleet correlation thread.
enum class KeyScope : uint8_t { kHost, kFleet };

// One entry of `on:` / `after:`: a rule or correlation id, or "sign:<name>"
// (every rule and correlation with that sign).
struct InputRef {
  std::string id;    // empty when sign is set
  std::string sign;  // empty when id is set
};

// `where:` / `unless:` entry: the field's value must (not) fully match the
// RE2 pattern (caseless). A missing field is the empty string.
struct FieldCondition {
  std::string field;
  std::string pattern;
};

// A field reference with an optional transform, written "src_ip|net":
//   net    IPv4 -> its /24 ("192.0.2.0/24"), IPv6 -> its /64; others as is
//   lower  ASCII lower case
struct FieldRef {
  std::string name;
  std::string transform;  // "", "net" or "lower"
};

// One alert an example case must raise.
struct ExpectedAlert {
  std::string sign;
  std::vector<std::pair<std::string, std::string>> fields;  // must be present, equal
  int source_line = 0;
};

// One `examples:` case: full syslog lines run through the parser, the rules
// and the correlator (event time from the lines' stamps); the correlation's
// own alerts must be exactly `alerts` (in order). An empty list is a
// negative case.
struct CorrelationExample {
  std::vector<std::string> lines;
  std::vector<ExpectedAlert> alerts;
  std::string sender;  // optional sender address for every line
  int source_line = 0;
};

struct Correlation {
  std::string id;    // unique across rules and correlations
  std::string sign;  // checked like a rule's sign
  std::string title;
  Severity severity = Severity::kHigh;
  std::string description;
  CorrelationKind kind = CorrelationKind::kThreshold;
  KeyScope scope = KeyScope::kHost;

  std::vector<InputRef> on;            // B inputs (every kind)
  std::vector<InputRef> after;         // A inputs: sequence (A), unpaired (open)
  std::vector<FieldCondition> where;   // on `on` hits: all must match
  std::vector<FieldCondition> unless;  // on `on` hits: none may match
  std::vector<std::string> key;        // key fields; host is implied for scope host

  double window_secs = 0;                   // threshold, distinct, sequence
  uint32_t count = 1;                       // threshold N, distinct N, sequence: A hits needed
  double quiet_secs = 0;                    // threshold/distinct re-arm gap; 0 = window_secs
  std::string field;                        // distinct, membership
  std::vector<std::string> summary_fields;  // threshold: distinct values reported
  // membership
  std::vector<std::string> values;
  std::vector<std::string> cidrs;
  std::string set;  // a named set (sets: section)
  bool host_addresses = false;
  // unpaired: <0 = correlation.session_min_observed_secs
  double min_observed_secs = -1;
  // unpaired: a host.silent gap resets the watch (false for a boot, which
  // makes its own gap; konseki restarts reset it always)
  bool reset_on_host_gap = true;
  // first_seen: the tuple; learning <0 = correlation.learning_days
  std::vector<FieldRef> first_values;
  double learning_secs = -1;
  size_t max_values_per_key = 64;  // first_seen: remembered tuples per key
  // first_seen: false = no alert for the first tuple of a key never seen
  // (another rule reports the new key itself, e.g. a user's first login).
  bool new_keys = true;
  // Constant fields added to every alert ({what: network}).
  std::vector<std::pair<std::string, std::string>> add_fields;
  size_t max_keys = 0;  // 0 = correlation.max_keys_per_rule

  std::vector<CorrelationExample> examples;
  std::string file;
  int line = 0;
};

// A named set of values (`sets:`), for membership. Values are compared
// case-insensitively. `learn` adds values from rule hits, per host.
struct SetLearner {
  std::vector<InputRef> on;
  std::string field;                  // the value to add
  std::vector<FieldCondition> where;  // all must match
};
struct ValueSet {
  std::string id;
  std::vector<std::string> values;
  std::vector<SetLearner> learn;
  std::string file;
  int line = 0;
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_CORRELATION_H_
