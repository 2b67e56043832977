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
//               the A hits within `window_secs` before B; with `field`,
//               `count` distinct values of it among the A hits, and B's
//               value one of them or in the network (/24, /64) of one
//   unpaired    a hit of `on` (a close) with no earlier `after` (its open) for
//               the key, while the host was watched for `min_observed_secs`
//   membership  `field`'s value in `values`, `cidrs`, the named `set`, or one
//               of the host's own addresses
//   first_seen  the tuple `values` never seen before for the key, once the
//               host has been watched for `learning_secs`
//   beacon      connections of one key (source, destination, port) at a
//               regular interval: a bounded reservoir of gaps and sizes per
//               key, scored the way RITA scores beacons (matchers/beacon_score.h)
//   direction   a connection classified inbound / outbound / internal /
//               transit by its addresses against a set of internal networks
//               (and netfilter's IN=/OUT=): counted per host and direction,
//               alerting with a severity per direction
#ifndef KONSEKI_MATCHERS_CORRELATION_H_
#define KONSEKI_MATCHERS_CORRELATION_H_

#include <cstdint>
#include <string>
#include <string_view>
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
  kBeacon,
  kDirection,
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

// `where_equal:` / `unless_equal:` entry ({rip: lip}): the two fields of
// one hit hold the same value, ASCII case aside, two addresses compared as
// addresses ("::ffff:10.0.0.5" is 10.0.0.5). A missing or empty field
// equals nothing: where_equal fails, unless_equal passes. A login whose
// remote address is the host's own local address (Dovecot's rip= and lip=,
// sshd's "Connection from A port P on B port Q").
struct FieldPair {
  std::string field;
  std::string other;
};

// `where_in:` / `unless_in:` entry: the value of any of `fields` (written
// "host,src_ip") is (not) in the named set (values, globs, CIDRs).
struct SetCondition {
  std::vector<std::string> fields;
  std::string set;
};

// The direction of a connection (kind direction).
enum class Direction : uint8_t { kInbound, kOutbound, kInternal, kTransit };
inline constexpr int kDirections = 4;
// "inbound", "outbound", "internal", "transit"; Parse returns false otherwise.
const char* DirectionName(Direction d);
bool ParseDirection(std::string_view name, Direction* out);

// A field reference with an optional transform, written "src_ip|net":
//   net    IPv4 -> its /24 ("192.0.2.0/24"), IPv6 -> its /64; others as is
//   net16  the /16 (IPv4) or /48 (IPv6)
//   lower  ASCII lower case
//   domain the registered domain of a DNS name by the Public Suffix List,
//          lower case (a8f3.evil.example.co.jp -> example.co.jp); an IP
//          literal, a name under arpa or without a public suffix as it is
//          (matchers/public_suffix_list.h). Also in `key:` (the alert names
//          it <field>_domain beside the field)
//   country the ISO 3166-1 alpha-2 code of an IP address's country by GeoIP
//          ("JP"), "--" for an address without one or a value that is no
//          address (matchers/geoip_country.h). In a first_seen tuple a "--"
//          takes no part; in `key:` it is a key (the alert names it
//          <field>_country beside the field)
//   in:S   (first_seen only) whether the value is in the named set S: a
//          first_seen tuple of "src_ip|in:internal" tells an outside source
//          from an inside one, and the alert names the value itself
//   host   (scope fleet) the other watched host whose own address the value
//          is, as a `key:` entry's |host reads it (configured
//          host_addresses, the correlation's learned `set`, the host's only
//          sender, a host named by the literal). In a first_seen tuple an
//          address no other host owns takes no part: the memory is of
//          which servers log in where, and a DHCP lease moving to another
//          address of the same server is no news
struct FieldRef {
  std::string name;
  std::string transform;  // "", "net", "net16", "lower", "domain", "country", "host" or "in:<set>"
};

// One alert an example case must raise.
struct ExpectedAlert {
  std::string sign;
  std::string severity;  // optional: the alert's severity name must be this
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
  // Values of named sets for this case, as the config would set them
  // ({no_outbound: [db1]}).
  std::vector<std::pair<std::string, std::vector<std::string>>> sets;
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

  std::vector<InputRef> on;     // B inputs (every kind)
  std::vector<InputRef> after;  // A inputs: sequence (A), unpaired (open)
  // On every hit (`on` and `after`):
  std::vector<FieldCondition> where;    // all must match
  std::vector<FieldCondition> unless;   // none may match
  std::vector<SetCondition> where_in;   // every one must hold
  std::vector<SetCondition> unless_in;  // none may hold
  std::vector<FieldPair> where_equal;   // every pair equal
  std::vector<FieldPair> unless_equal;  // no pair equal
  // On `after` hits only (sequence, unpaired): none may match. A sequence's
  // guesses without the logins: "Failed publickey" is an offered key, not a
  // guessed password, but "Accepted publickey" is a login.
  std::vector<FieldCondition> after_unless;
  // On `after` hits only (sequence): none may hold. An outside login is
  // the A of login.lateral_movement, while its B comes from inside.
  std::vector<SetCondition> after_unless_in;
  // `severity_if:` the alert takes `severity` when the hit that completed
  // it (a line, or another correlation's alert at any depth: its fields,
  // its time's hour, weekday and work_hours) matches every `where`,
  // `where_in` and `where_equal` of an entry; the first entry that matches
  // wins. A monitoring account's key login from the LAN is low where any
  // other login of a service account is high.
  struct SeverityIf {
    Severity severity = Severity::kLow;
    std::vector<FieldCondition> where;
    std::vector<SetCondition> where_in;
    std::vector<FieldPair> where_equal;
  };
  std::vector<SeverityIf> severity_if;
  std::vector<std::string> key;  // key fields; host is implied for scope host
  // sequence: the key fields of the `after` hits, when they differ from
  // the `on` hits' (empty: `key`). A fleet sequence keyed [src_ip|host] for
  // B takes [host|lower] for A: a login from a host's address after that
  // host's own compromise.
  std::vector<std::string> after_key;
  // sequence: {B_FIELD: A_FIELD} pairs: an A hit counts toward a B only
  // when its A_FIELD equals B's B_FIELD (ASCII case aside; a hit lacking
  // one takes no part), as if both were one more key field (compiled so:
  // B's key gains B_FIELD|lower, A's A_FIELD|lower). A sudo line of alice
  // running usermod, then usermod's line adding alice: {user: user}.
  std::vector<FieldPair> equal_after;
  // sequence: when every A hit in the window carried `field` equal (ASCII
  // case aside) to B's, and there were at most `max_count`, the alert takes
  // `severity` instead and names the value (`sole_<field>`): a mail client
  // retrying a changed password fails as its own user only, a guesser
  // rarely does. Unset: field empty. Written `FIELD|net` / `FIELD|net16`,
  // the values' /24 (/64) or /16 (/48) are compared instead and the alert
  // names B's network (`sole_<field>_net`): a phone retrying a changed
  // password from one carrier's address pool. With `field` (distinct
  // values) only that field's network is allowed: every distinct A value
  // in the window in B's network, at most `max_count` of them.
  struct SoleValue {
    std::string field;  // the transform apart
    uint32_t max_count = 0;
    Severity severity = Severity::kHigh;
    bool by_network = false;  // written with |net or |net16
    bool wide = false;        // by_network: /16 and /48 (net16), else /24 and /64
  } sole_value;

  // threshold, distinct, sequence; unpaired: > 0, an open covers every
  // close of its key within this long after it (0: one close takes it)
  double window_secs = 0;
  uint32_t count = 1;  // threshold N, distinct N, sequence: A hits needed
  // threshold/distinct: re-arm gap (0 = window_secs); membership: > 0 holds
  // further alerts of the same key (host + `key`) until this long without a
  // matching hit (the several lines of one login are one alert), and so do
  // direction and unpaired; 0 = none.
  double quiet_secs = 0;
  // unpaired and distinct, with quiet_secs: the hold's key, when coarser
  // than `key` (host implied for scope host): fields (or pseudo-fields) the
  // hits of many keys share, such as [program] while pairing by [program,
  // pid], or [host] while counting sources per account. Then the hold runs
  // quiet_secs from the alert that started it (not from the last held
  // hit: a steady loss of lines gives one alert per quiet_secs), and the
  // next alert of the quiet key names how many it held (`held`: closes,
  // or distinct's bursts). Empty: the hold is per `key` (unpaired: slides
  // with each held hit; distinct: re-armed after quiet_secs without one).
  std::vector<std::string> quiet_key;
  // sequence: > 0, B alerts only when the last A hit came at least this
  // long before it (a later phase than another correlation's window: a
  // password found in a burst and used hours after it).
  double min_gap_secs = 0;
  // distinct, membership, sequence. distinct only: written FIELD|net,
  // FIELD|net16, FIELD|lower, FIELD|domain or FIELD|country, the values
  // counted are the field's network, lower case, registered domain or
  // country (as a first_seen tuple's: "--", no country, is no value), and
  // the alert names them <field>_<transform>_values: one account's VPN
  // logins from addresses in two countries within two hours (impossible
  // travel) is `field: src_ip|country`, `count: 2`.
  std::string field;
  // distinct: a later event that withdraws a member (a value of `field`)
  // from the window: a hit of `on` whose `same` fields equal those of the
  // member's last input event, within `within_secs` after it (at or after
  // its stamp). The member no longer counts toward `count`; an alert
  // already raised stays. A student's mistyped password followed by that
  // account's login from that address is a typo, not a guess. The
  // correlation's where/unless conditions are for its members and do not
  // apply to these hits; the key is built from them as from a member's.
  // Empty `on`: off. Costs one 64-bit hash of the `same` values per member.
  struct WithdrawnBy {
    std::vector<InputRef> on;
    std::vector<std::string> same;  // fields of both events (names, no transform)
    double within_secs = 0;
  } withdrawn_by;
  std::vector<std::string> summary_fields;  // threshold: distinct values reported
  // threshold, sequence (A hits): a hit whose field of this name holds a
  // whole number N > 1 counts N events, capped at kMaxHitWeight: a line that
  // itself reports several failures ("auth failed, 3 attempts in 14 secs",
  // "PAM 5 more authentication failures"). Without the field, or with a
  // value that is not such a number, the hit counts one. Empty: off.
  std::string weight_field;
  // membership
  std::vector<std::string> values;
  std::vector<std::string> cidrs;
  // A named set (sets: section): membership's values; for a `|host` key,
  // the learned set of each host's own addresses (host_own_addresses).
  std::string set;
  bool host_addresses = false;
  // unpaired: <0 = correlation.session_min_observed_secs
  double min_observed_secs = -1;
  // unpaired: a host.silent gap resets the watch (false for a boot, which
  // makes its own gap; konseki restarts reset it always)
  bool reset_on_host_gap = true;
  // unpaired: the key's last field is a counter the host allocates in
  // increasing order, such as systemd-logind's session ids ("9", "c3": a
  // prefix and a number) or a program's pids (key [program, pid]). A close
  // whose number is above that of an open konseki received from the host
  // during the current watch, with the same prefix (whatever the other key
  // fields: one pid space), was opened during the watch too, so its missing
  // open is alerted at once, without waiting min_observed_secs. A close
  // below every open of the current watch began before them (maybe before
  // the watch) and is never alerted, however long the watch. Neither after
  // the counter wrapped in the watch (an open below half the highest).
  bool ordered = false;
  // unpaired with ordered: hits (rule ids or signs) that say the host's
  // counter started again, such as a boot (Windows 4608: logon ids are
  // unique only until the next boot). The host's lowest and highest opens
  // are forgotten: the next open starts the order again, so a reboot does
  // not end the proof for the watch as a wrap does. The correlation's
  // where/unless do not apply to these hits. Raises nothing itself: a
  // restart seen where there was none only forgets order (the counter
  // still rises; earlier sessions stay below the next open).
  std::vector<InputRef> restart_on;
  // unpaired: a close without its open waits this long (receive time)
  // before it is raised: an open of the key stamped at or before the close
  // that arrives meanwhile (its line delivered late: another forwarder's
  // queue, a reordering relay) pairs with it and nothing is raised. 0: the
  // close is judged when it arrives.
  double late_open_secs = 0;
  // unpaired: a field of the close that says how long its session lasted
  // (the ASA's 113019 "Duration: 2h:11m:09s", the FortiGate's
  // "duration=9120": seconds, "1d 2h:03m:04s", "H:MM:SS"). A close whose
  // duration says it began during the host's current watch (more than
  // kDurationSlackSecs after its start) should have had its open received:
  // its missing open is alerted at once, without waiting
  // min_observed_secs, and the alert names when it began
  // (`session_began`). A close that began before the watch (konseki's
  // start, the host's first line, the last host.silent gap) or within the
  // slack is never alerted, however long the watch. A close without the
  // field, or with a value that is no duration, is judged as without it.
  std::string duration_field;
  // first_seen: the tuple; learning <0 = correlation.learning_days
  std::vector<FieldRef> first_values;
  double learning_secs = -1;
  size_t max_values_per_key = 64;  // first_seen: remembered tuples per key
  // first_seen: a key seen at least established_count times, its first and
  // last sightings at least established_secs apart by the lines' own stamps,
  // is learned for this key: a new tuple alerts even while the host (or the
  // fleet) is still in its learning period. 0 = only the learning period.
  uint32_t established_count = 0;
  double established_secs = 0;
  // first_seen: false = no alert for the first tuple of a key never seen
  // (another rule reports the new key itself, e.g. a user's first login).
  bool new_keys = true;
  // first_seen: a new tuple of a hit whose field is in the set teaches the
  // key but raises no alert (a port reached from outside, then for the
  // first time from inside, is no news; the reverse is).
  std::vector<SetCondition> alert_unless_in;
  // beacon: `count` is the least number of connections in the window before
  // a key is scored; `score` the alert threshold; `reservoir` the gaps (and
  // sizes) kept per key; `size_field` the field with the bytes of a
  // connection (none: the score has no size part); gaps shorter than
  // `burst_secs` are parts of one call.
  double score = 0.8;
  // beacon: from early_count calls (0: off) on, before `count`, a key alerts
  // when it scores at least early_score.
  uint32_t early_count = 0;
  double early_score = 0.95;
  uint32_t reservoir = 32;
  std::string size_field;
  double burst_secs = 2;
  // direction: the address fields, the netfilter interface fields (an empty
  // IN= means the packet came from the logging host itself, an empty OUT=
  // that it was for it; absent fields are not used), the set of internal
  // networks (`set`), the severity per direction (unset: count only) and
  // the counter {host, direction} to count in (optional).
  std::string src_field;
  std::string dst_field;
  std::string in_field;
  std::string out_field;
  bool alert_direction[kDirections] = {false, false, false, false};
  Severity direction_severity[kDirections] = {Severity::kHigh, Severity::kHigh, Severity::kHigh,
                                              Severity::kHigh};
  std::string metric;
  // Constant fields added to every alert ({what: network}).
  std::vector<std::pair<std::string, std::string>> add_fields;
  // Fields of the hit that completed the alert (a sequence's B, a
  // threshold's last hit, an unpaired close; for an alert fed back, that
  // alert's fields) copied into the alert, after the key fields, when the
  // hit has them non-empty: a VPN login after guessing names the tunnel
  // address the VPN gave that session (`carry_fields: [tunnel_ip, user]`),
  // so a fleet sequence can take the alert as its `after` keyed on that
  // address (`after_key: [tunnel_ip]`) and the servers' logins from it as
  // its `on`. A key field of the same name wins. Names, or the
  // pseudo-fields (host, program, ...). Costs only on alerts.
  std::vector<std::string> carry_fields;
  // Its alert takes the place of the alert of the rule hit that raised it
  // (the same line): a su to postgres is one login.system_account, not that
  // and su.success. Host scope only (fleet alerts come later, on another
  // thread).
  bool supersedes = false;
  // With supersedes: takes its place even when less severe. The
  // correlation knows the line is routine: useradd's medium line for an
  // account an admin created at a terminal a second before is low.
  bool replaces = false;
  size_t max_keys = 0;  // 0 = correlation.max_keys_per_rule

  std::vector<CorrelationExample> examples;
  std::string file;
  int line = 0;
};

// unpaired with duration_field: a session that began less than this long
// after the host's watch started is taken as begun before it (a sender's
// clock ahead of the log host's by up to the 300 s the windows accept).
inline constexpr double kDurationSlackSecs = 300;

// The most events one hit counts through weight_field (before the line's
// repeats): a garbled or hostile number cannot fill a window alone. Real
// counts are small (sshd's MaxAuthTries 6, pam_unix's UNIX_MAX_RETRIES 3,
// a Dovecot connection's handful).
inline constexpr uint32_t kMaxHitWeight = 100;

// A named set of values (`sets:`), for membership and where_in/unless_in.
// Values are compared case-insensitively; a value with * ? or [ is a glob
// (fnmatch), an address or CIDR ("10.0.0.0/8", "fc00::/7") matches the
// addresses in it. `learn` adds values from rule hits, per host.
// correlation config may replace a set's values (CorrelatorOptions::set_values).
struct SetLearner {
  std::vector<InputRef> on;
  std::string field;                  // the value to add
  std::vector<FieldCondition> where;  // all must match
};
struct ValueSet {
  std::string id;
  std::vector<std::string> values;
  std::vector<SetLearner> learn;
  // Learned values kept per host, most recently learned last (0: the
  // correlator's bound). A small bound keeps what is current (the
  // addresses a host's DHCP client holds now, not every one it ever had).
  size_t max_learned = 0;
  std::string file;
  int line = 0;
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_CORRELATION_H_
