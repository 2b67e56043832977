// The Correlator's internals, shared by correlator.cc (dispatch, hosts,
// alerts), correlator_kinds.cc (the six kinds) and correlator_state.cc
// (save, load, reload). Not part of the interface.
#ifndef KONSEKI_MATCHERS_CORRELATOR_IMPL_H_
#define KONSEKI_MATCHERS_CORRELATOR_IMPL_H_

#include <re2/re2.h>

#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/ascii.h"
#include "common/host_key.h"
#include "matchers/correlation_keys.h"
#include "matchers/correlator.h"
#include "matchers/geoip_country.h"
#include "matchers/lazy_re2.h"
#include "matchers/public_suffix_list.h"
#include "receiver/sender_allowlist.h"

namespace konseki::matchers {

// Heterogeneous lookup by string_view in string-keyed maps.
struct SvHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
template <typename V>
using SvMap = std::unordered_map<std::string, V, SvHash, std::equal_to<>>;

// Host names, case-insensitive over ASCII letters (as HostKey): found by a
// HostKey without hashing the name again, or by any spelling of the name.
// Not noexcept on purpose: libstdc++ then keeps each node's hash, so a
// lookup compares hashes before names and never rehashes a stored name.
struct HostNameHash {
  using is_transparent = void;
  size_t operator()(std::string_view name) const { return HostKeyHash(name); }
  size_t operator()(const HostKey& key) const { return key.hash; }
};
struct HostNameEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return HostNamesEqual(a, b); }
  bool operator()(const HostKey& a, std::string_view b) const { return HostNamesEqual(a.name, b); }
  bool operator()(std::string_view a, const HostKey& b) const { return HostNamesEqual(a, b.name); }
};
template <typename V>
using HostMap = std::unordered_map<std::string, V, HostNameHash, HostNameEq>;
using SvSet = std::unordered_set<std::string, SvHash, std::equal_to<>>;

inline int64_t ToNs(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromNs(int64_t ns) { return TimePoint(Duration(ns)); }
inline int64_t SecsToNs(double s) { return static_cast<int64_t>(s * 1e9); }
uint64_t Fnv64(std::string_view s, uint64_t h = 1469598103934665603ull);
using konseki::AsciiLower;  // common/ascii.h
// The lower-case form of a value's first 256 bytes (kMaxValueBytes), held in
// the object itself: the per-hit set and membership lookups' probe without a
// heap allocation (AsciiLower's string is for what a correlation keeps).
class LowerValue {
 public:
  static constexpr size_t kMax = 256;
  explicit LowerValue(std::string_view s);
  std::string_view view() const { return {buf_, size_}; }
  const char* c_str() const { return buf_; }  // NUL-terminated, for fnmatch

 private:
  char buf_[kMax + 1];
  size_t size_;
};
// A hit's value of `name`: an extracted field, else one of the pseudo-fields
// host, sender, program, pid, superseded_by, and the event's local time
// hour ("00".."23"), weekday ("mon".."sun") and work_hours ("yes"/"no",
// correlation.working_hours; HitEvent::local); empty when none.
// "field|stem" is the field's value without the number a script gave it
// (NameStem).
std::string_view FieldValue(const HitEvent& hit, std::string_view name);
// An extracted field of the hit, nullptr when the rule did not extract it.
const std::string* HitField(const HitEvent& hit, std::string_view name);
// `where_equal` / `unless_equal`: both fields (FieldValue) non-empty and
// equal, ASCII case aside, or two spellings of one IP address. No
// allocation.
bool FieldsEqual(const HitEvent& hit, const FieldPair& pair);

// A set condition with its set resolved (index into Impl::sets).
// An address's network, as `|net` writes it: "a.b.c.0/24" for IPv4 (and
// IPv4-mapped), the /64 for IPv6. Anything else is returned as it is.
// With wide: the /16 (IPv4) or /48 (IPv6), as `|net16` writes it.
std::string NetOf(std::string_view v, bool wide = false);

// A `key` entry: a field, with `|net` (its network), `|lower`, `|domain`
// (its registered domain by the Public Suffix List), `|country` (its
// address's country by GeoIP) or `|host` (the other watched host whose own
// address the value is).
struct KeyRef {
  std::string name;        // the field
  std::string transform;   // "", "net", "lower", "domain", "country" or "host"
  std::string alert_name;  // the alert's field: name, or name + "_net", "_domain", "_country",
                           // "_host"
};

struct CompiledSetCondition {
  std::vector<std::string> fields;
  size_t set = 0;
};

struct CompiledCorrelation {
  explicit CompiledCorrelation(const Correlation& d) : def(d) {}
  // The pack's definition, shared read-only with the other correlators built
  // from the pack, or this correlator's copy with the site's overrides
  // applied (Impl::overridden); both live as long as the Impl.
  const Correlation& def;
  uint64_t fingerprint = 0;
  // Some condition, key or tuple reads hour, weekday or work_hours: its
  // alerts name the local time (local_time, work_hours).
  bool reads_local_time = false;
  std::vector<LazyRe2> where;
  std::vector<LazyRe2> unless;
  std::vector<LazyRe2> after_unless;
  std::vector<CompiledSetCondition> where_in;
  std::vector<KeyRef> key;        // def.key, split at '|'
  std::vector<KeyRef> after_key;  // def.after_key (empty: key)
  std::vector<KeyRef> quiet_key;  // def.quiet_key (empty: the hold is by key)
  // first_seen in the fleet keyed by the pseudo-field host (as it is, no
  // transform): each key is one host's memory, learned over that host's
  // learning period (from its first hit here), as scope host learns.
  bool learns_per_host = false;
  std::vector<CompiledSetCondition> after_unless_in;
  std::vector<CompiledSetCondition> unless_in;
  std::vector<CompiledSetCondition> alert_unless_in;  // first_seen
  // first_seen: per def.first_values entry, its `in:` set (set = sets.size()
  // when the entry has no such transform).
  std::vector<CompiledSetCondition> tuple_sets;
  struct CompiledSeverityIf {
    Severity severity = Severity::kLow;
    std::vector<LazyRe2> where;
    std::vector<std::string> where_fields;
    std::vector<CompiledSetCondition> where_in;
    std::vector<FieldPair> where_equal;
  };
  std::vector<CompiledSeverityIf> severity_if;
  receiver::SenderAllowlist cidrs;
  bool has_cidrs = false;
  SvSet values;  // lower case
  int set = -1;  // index into Impl::sets
  int64_t window_ns = 0;
  int64_t quiet_ns = 0;
  int64_t min_observed_ns = 0;
  int64_t learning_ns = 0;
  int64_t burst_ns = 0;   // beacon
  int64_t within_ns = 0;  // distinct: def.withdrawn_by.within_secs
  // distinct: def.field split at '|' (transform empty, or net, net16,
  // lower, domain, country; "name|stem" stays whole in name, FieldValue's),
  // and the alert's name of its values.
  FieldRef distinct_field;
  std::string distinct_values_name;
  // distinct with withdrawn_by: members withdrawn (a typo answered by its
  // login); nullptr otherwise.
  Counter* withdrawn = nullptr;
  size_t max_keys = 0;
  KeyTable keys;
  // Dedupe: the message (or dispatch) a role last took a hit from.
  uint64_t last_seq[4] = {0, 0, 0, 0};  // per Correlator::Impl::Role
  uint64_t last_dispatch[4] = {0, 0, 0, 0};
  Counter* evictions = nullptr;
  Counter* alerts = nullptr;
  // unpaired with `ordered`: per host (lower case) and counter prefix, the
  // lowest and highest number of an open received during the host's
  // current watch (the watch's start is kept with it; another start makes
  // it stale). `wrapped`: an open came with
  // less than half the highest number, so the counter started again (pids
  // at pid_max) and a number above the lowest proves nothing any more in
  // this watch.
  struct LowestOpen {
    int64_t watch_ns = 0;
    uint64_t number = 0;
    uint64_t highest = 0;
    bool wrapped = false;
  };
  std::unordered_map<std::string, LowestOpen> lowest_open;
  // unpaired without window_secs: the keys closes took lately, a ring of
  // kTakenKeys (made at the first close): a close of the same key with the
  // same stamp received within kTakenSecs is that close resent (RELP or TCP
  // after a reconnect), covered by the open the first one took.
  struct TakenKey {
    uint64_t key_hash = 0;
    int64_t event_ns = 0;
    int64_t received_ns = 0;
  };
  std::vector<TakenKey> taken;
  size_t taken_next = 0;
  // direction: `metric` counters per host (lower case) and direction, at
  // most Impl::kMaxCounterHosts hosts; later ones count under host "other".
  SvMap<std::array<Counter*, kDirections>> direction_counters;
};

struct CompiledLearner {
  SetLearner def;
  std::vector<LazyRe2> where;
};

struct CompiledSet {
  ValueSet def;
  SvSet values;                     // lower case, with the configured additions
  receiver::SenderAllowlist cidrs;  // addresses and CIDRs among the values
  bool has_cidrs = false;
  std::vector<std::string> globs;  // lower case
  std::vector<CompiledLearner> learners;
  // True when `value` is one of the values, matches a glob, or is an
  // address in one of the CIDRs (learned values aside).
  bool Contains(std::string_view value) const;
};

struct HostInfo {
  // Receive time the current watch began; 0: not watched (the next message
  // starts it). Reset by host gaps, restarts and evictions.
  int64_t watched_since_ns = 0;
  // Like watched_since_ns but not reset by host gaps (unpaired rules with
  // reset_on_host_gap: false, e.g. boots, which make their own gap).
  int64_t up_since_ns = 0;
  // First receive time ever (persisted): start of the learning period.
  int64_t first_seen_ns = 0;
  std::vector<receiver::SenderAddress> addresses;  // senders seen, at most kMaxAddresses
  // The host's name when it is an IP address literal (an RFC 5424 or 3164
  // HOSTNAME a sender without a resolvable name fills with its address,
  // RFC 5424 6.2.4): one of its own addresses. Parsed once, when the slot
  // is made (the name never changes), so the per-message path does nothing
  // more for it; not persisted (made again from the name at load).
  std::optional<receiver::SenderAddress> name_address;
  // The sender of the host's last message, as received (not persisted):
  // ObserveHost parses and records a sender only when it changes, which
  // keeps the per-message cost to one host lookup.
  std::string sender;
  std::vector<std::vector<std::string>> learned;  // per set index, lower case
};

struct Correlator::Impl {
  // kWithdraw: a hit of a distinct correlation's withdrawn_by.on; kRestart:
  // of an ordered unpaired correlation's restart_on.
  enum Role { kOn = 0, kAfter = 1, kWithdraw = 2, kRestart = 3 };
  static constexpr int kRoles = 4;
  struct Sub {
    uint32_t corr;
    Role role;
  };
  struct LearnSub {
    uint32_t set;
    uint32_t learner;
  };
  static constexpr size_t kMaxAddresses = 8;
  static constexpr size_t kMaxLearnedPerSet = 1024;
  static constexpr size_t kMaxValueBytes = 256;
  static constexpr size_t kMaxSummaryValues = 10;
  // Sequence: A stamps kept per key beyond `count`, so the alert's count is
  // the A hits in the window (up to this many), not the threshold. 8 bytes
  // each, and only keys with that many hits in the window hold them.
  static constexpr size_t kMaxSequenceStamps = 100;
  // sequence with `field`: distinct values of the A hits kept per key.
  static constexpr size_t kMaxSequenceValues = 256;
  static constexpr size_t kMaxCounterHosts = 1000;
  // unpaired: closes remembered per correlation for their resends (24
  // bytes each), and for how long (receive time).
  static constexpr size_t kTakenKeys = 1024;
  static constexpr int64_t kTakenNs = 600'000'000'000;
  // Alerts feeding correlations nest at most this deep (the loader refuses
  // cycles; this is a backstop).
  static constexpr int kMaxDepth = 16;

  Impl(const CorrelatorOptions& o, MetricsRegistry& m)
      : options(o), metrics(m), calendar(o.work_hours, o.utc_offset_secs, o.local_zone) {}

  // Set-up (correlator.cc).
  // Compiles `pack`, which is *shared_pack.
  Status Compile(const RulePack& pack);
  Status CompileOne(const Correlation& def, const RulePack& pack);

  // Dispatch (correlator.cc).
  void Dispatch(const HitEvent& hit, int depth, std::vector<Alert>* out);
  void Learn(const HitEvent& hit);
  bool Passes(const CompiledCorrelation& c, const HitEvent& hit) const;
  // The `after_unless` conditions, for an `after` hit.
  bool PassesAfter(const CompiledCorrelation& c, const HitEvent& hit) const;
  bool BuildKey(const CompiledCorrelation& c, const HitEvent& hit, std::string* key,
                Role role = kOn) const;
  // The key text of these key fields (host first for scope host).
  bool BuildKeyOf(const CompiledCorrelation& c, const std::vector<KeyRef>& refs,
                  const HitEvent& hit, std::string* key) const;
  // `|host`: the lower-case name of the watched host other than hit.host
  // whose own address `value` is (configured, learned in set `set` (an
  // index into sets, or sets.size() for none), or its only sender); empty
  // when none.
  std::string AddressHost(std::string_view value, size_t set, std::string_view hit_host) const;
  // The same into *out (cleared when none): a first_seen tuple's reused
  // buffer, no allocation once it has grown.
  void AddressHostInto(std::string_view value, size_t set, std::string_view hit_host,
                       std::string* out) const;
  // Rebuilds learned_host from the hosts' learned sets (after a load).
  void IndexLearnedAddresses();
  int64_t EventNs(const HitEvent& hit);
  // The hit's event time as the windows use it; *clamped 1 (too far ahead),
  // -1 (too far behind: the receive time is returned) or 0. Counts nothing.
  int64_t ClampedNs(const HitEvent& hit, int* clamped) const;
  // The host's record (created with now_ns as its first sight when
  // `create`, evicting one past options.max_hosts), nullptr when unknown.
  HostInfo* Host(const HostKey& host, bool create, int64_t now_ns);
  HostInfo* Host(std::string_view host, bool create, int64_t now_ns) {
    return Host(HostKey::Of(host), create, now_ns);
  }
  bool Watched(const CompiledCorrelation& c, const HitEvent& hit) const;
  bool IsHostAddress(std::string_view host, std::string_view value) const;
  KeyState* Insert(CompiledCorrelation& c, std::string_view key, int64_t now_ns);
  void EraseKey(CompiledCorrelation& c, std::string_view key);
  void Evicted(CompiledCorrelation& c, const std::string& key);
  Alert MakeAlert(const CompiledCorrelation& c, const HitEvent& hit, int64_t t_ns) const;
  // `by` is the hit that completed the alert (a line at depth 0, another
  // correlation's alert deeper, a sequence's B replayed): severity_if reads
  // it, local time included.
  void Raise(CompiledCorrelation& c, const HitEvent& by, Alert alert, int depth,
             std::vector<Alert>* out);
  // severity_if's severity for an alert completed by `by` (`base` when no
  // entry matches).
  Severity SeverityFor(const CompiledCorrelation& c, const HitEvent& by, Severity base) const;
  // Raise's last part: counts the alert, appends it and feeds it to the
  // correlations that take it.
  void Emit(CompiledCorrelation& c, Alert alert, int depth, std::vector<Alert>* out);

  // The kinds (correlator_kinds.cc). Each gets the hit's clamped event time.
  void Threshold(CompiledCorrelation& c, const HitEvent& hit, const std::string& key, int64_t t,
                 int depth, std::vector<Alert>* out);
  void Distinct(CompiledCorrelation& c, const HitEvent& hit, const std::string& key, int64_t t,
                int depth, std::vector<Alert>* out);
  // distinct withdrawn_by: the hash of the hit's `same` values (0 when one
  // is missing: nothing to withdraw, or a member nothing withdraws).
  uint64_t SameHash(const CompiledCorrelation& c, const HitEvent& hit) const;
  // distinct withdrawn_by: drops the key's members whose input event had
  // this hit's `same` values, within_secs or less before it.
  void Withdraw(CompiledCorrelation& c, const HitEvent& hit, const std::string& key, int64_t t);
  void Sequence(CompiledCorrelation& c, Role role, const HitEvent& hit, const std::string& key,
                int64_t t, int depth, std::vector<Alert>* out);
  // sequence: keeps a B hit that completed nothing as the key's late_b.
  void KeepLateB(CompiledCorrelation& c, const HitEvent& hit, const std::string& key, int64_t t);
  // sequence: runs the key's late_b's check again (an A hit stamped at or
  // before it has just come); puts it back when it completes nothing.
  void ReplayLateB(CompiledCorrelation& c, const std::string& key, int64_t now_ns, int depth,
                   std::vector<Alert>* out);
  // unpaired `ordered`: the host's current watch start (0: not watched).
  int64_t WatchStart(const CompiledCorrelation& c, const HitEvent& hit) const;
  // restart_on: forgets the host's lowest and highest opens (every prefix).
  void RestartCounter(CompiledCorrelation& c, const HitEvent& hit);
  void Unpaired(CompiledCorrelation& c, Role role, const HitEvent& hit, const std::string& key,
                int64_t t, int depth, std::vector<Alert>* out);
  void Membership(CompiledCorrelation& c, const HitEvent& hit, const std::string& key, int64_t t,
                  int depth, std::vector<Alert>* out);
  // quiet_secs: true when an alert of this key came less than quiet_secs
  // before this hit, with no quiet_secs gap between matching hits since
  // (the hit is then held back); records the hit either way.
  bool HeldQuiet(CompiledCorrelation& c, const HitEvent& hit, const std::string& key, int64_t t);
  // quiet_key: true when an alert of this (quiet) key came less than
  // quiet_secs before this hit (held, and counted); else the hold starts
  // here and *held_before is how many the last one held.
  bool HeldFixed(CompiledCorrelation& c, const HitEvent& hit, const std::string& key, int64_t t,
                 uint64_t* held_before);
  void FirstSeen(CompiledCorrelation& c, const HitEvent& hit, const std::string& key, int64_t t,
                 int depth, std::vector<Alert>* out);
  // correlator_net.cc
  void Beacon(CompiledCorrelation& c, const HitEvent& hit, const std::string& key, int64_t t,
              int depth, std::vector<Alert>* out);
  void DirectionOf(CompiledCorrelation& c, const HitEvent& hit, const std::string& key, int64_t t,
                   int depth, std::vector<Alert>* out);
  Counter* DirectionCounter(CompiledCorrelation& c, std::string_view host, Direction d);
  bool InSet(const CompiledSetCondition& cond, const HitEvent& hit) const;
  // `lower` is among the values the host taught set `set` (`learn:`).
  bool Learned(std::string_view host, size_t set, std::string_view lower) const;
  Status CompileSet(const ValueSet& def, CompiledSet* out) const;

  CorrelatorOptions options;
  MetricsRegistry& metrics;
  // What CompiledCorrelation::def refers to: the pack (shared, read-only,
  // with the correlators of the other threads), and the definitions the
  // site's settings change (ApplyOptions), copied here (a deque: stable
  // addresses). Three correlators (fleet + 2 workers) each copying the
  // 461 bundled definitions held 1.7 MiB of the idle heap
  // (bench/RESULTS.md, session forty-first).
  std::shared_ptr<const RulePack> shared_pack;
  std::deque<Correlation> overridden;
  // The local time of hits (hour, weekday, work_hours), computed per hit
  // only when reads_local_time: some correlation or set learner reads it.
  LocalCalendar calendar;
  bool reads_local_time = false;
  std::vector<std::unique_ptr<CompiledCorrelation>> corrs;
  std::vector<CompiledSet> sets;
  SvMap<std::vector<Sub>> by_id;
  SvMap<std::vector<Sub>> by_sign;
  SvMap<std::vector<LearnSub>> learn_by_id;
  SvMap<std::vector<LearnSub>> learn_by_sign;
  SvMap<std::vector<receiver::SenderAddress>> configured_addresses;  // lower-case host

  HostMap<HostInfo> hosts;  // keys lower case
  // Sender address -> Fnv64 of the one host seen from it, 0 when several
  // hosts came from it (a relay: not any host's own address).
  std::unordered_map<receiver::SenderAddress, uint64_t, receiver::SenderAddressHash> sender_owner;
  // `|host` keys (only when some correlation has one, address_hosts):
  // address -> lower-case host, from the configured host_addresses, the
  // sets such keys name (the host that learned it last; checked against
  // its learned list, which may have dropped it since), and the senders
  // (empty when several hosts came from it: a relay).
  bool address_hosts = false;
  std::vector<bool> address_sets;  // per set: a `|host` key names it
  std::unordered_map<receiver::SenderAddress, std::string, receiver::SenderAddressHash>
      configured_host, learned_host, sender_host;
  size_t total_keys = 0;
  int64_t first_start_ns = 0;  // first start ever (persisted): fleet learning
  std::string tuple_value;     // FirstSeen's buffer for one tuple value (reused)
  uint64_t dispatch_seq = 0;
  // unpaired late_open_secs: closes without their open, waiting (oldest
  // first) for an open stamped at or before them; at most kMaxHeldCloses
  // (the oldest is raised early to make room). Not in the state file.
  struct HeldClose {
    CompiledCorrelation* corr = nullptr;
    std::string key;
    std::string quiet_key;  // the hold Unpaired started for it ("": none)
    int64_t close_ns = 0;   // the close's event time
    int64_t due_ns = 0;     // receive time its wait ends
    Alert alert;
  };
  static constexpr size_t kMaxHeldCloses = 4096;
  std::deque<HeldClose> held_closes;
  // Set by Unpaired around its Raise: Raise keeps the alert in
  // held_closes instead of emitting it.
  HeldClose* holding = nullptr;
  // The number OfflineAnalyzer gives the alerts of the line being
  // processed (Alert::origin_seq), kept with a held alert.
  uint64_t origin_seq = 0;
  // Emits the held closes due at now_ns (all of them with `all`).
  void ReleaseHeld(int64_t now_ns, bool all, std::vector<Alert>* out);
  bool replaying_late_b = false;  // ReplayLateB is running: keep no B
  // Dispatch's key text, one per nesting depth (an alert raised while a hit
  // is dispatched is dispatched inside that call): reused, so building a key
  // longer than the small-string buffer does not allocate per hit.
  std::array<std::string, kMaxDepth + 1> key_scratch;
  // Set by Raise when a `supersedes` correlation alerts on the hit being
  // processed (depth 0); read and cleared by Process.
  bool superseded = false;
  Severity hit_severity = Severity::kInfo;  // of the hit being processed
  // The hit being processed (depth 0), whose superseded_by Raise fills in.
  HitEvent* current_local = nullptr;
  std::string_view superseded_by;  // of the last Process (a correlation's id)

  // `|domain`: the Public Suffix List, loaded by Compile when a key or a
  // first_seen tuple of the pack takes the transform (null otherwise), and
  // the lowered name it reads (reused: no allocation once grown).
  std::unique_ptr<PublicSuffixList> psl;
  bool uses_domain = false;  // set by CompileOne
  mutable std::string domain_scratch;
  // The registered domain of v (v itself without a list).
  std::string_view DomainOf(std::string_view v) const {
    return psl ? psl->RegisteredDomain(v, &domain_scratch) : v;
  }

  // `|country`: the GeoIP country databases, loaded by Compile when a key or
  // a first_seen tuple of the pack takes the transform (null otherwise).
  std::unique_ptr<GeoIpCountry> geoip;
  bool uses_country = false;  // set by CompileOne
  // The country code of address v ("--" without a country or a database).
  std::string_view CountryOf(std::string_view v) const {
    return geoip ? geoip->CountryOf(v) : GeoIpCountry::kNone;
  }

  // Working space of beacon scoring.
  std::vector<double> gaps_scratch, sizes_scratch, mad_scratch;

  // dedupe_secs: hashes of the hits of such rules taken lately, by the
  // hash's low bits (kDedupeSlots, made at the first such hit; a collision
  // only forgets the older hit: a resend then counts, as before).
  struct DedupeSlot {
    uint64_t hash = 0;
    int64_t received_ns = 0;
  };
  static constexpr size_t kDedupeSlots = 4096;  // 64 KiB per correlator
  std::vector<DedupeSlot> dedupe;
  // True when the hit is a resend of one taken within its rule's
  // dedupe_secs (then counted in resent); records it otherwise.
  bool Resent(const HitEvent& hit);
  Counter* resent = nullptr;

  int64_t last_save_ns = 0;
  Counter* hits = nullptr;
  // Alerts left out because another of the same sign, as severe or more,
  // came from the same hit (Correlator::Process).
  Counter* merged = nullptr;
  // Ids of the fleet correlations, where one process runs both scopes: their
  // alerts are not merged with a host correlation's (the server makes them on
  // another thread, so it raises both).
  std::unordered_set<std::string> fleet_ids;
  Counter* clamped_future = nullptr;
  Counter* clamped_past = nullptr;
  Counter* host_evictions = nullptr;
  Gauge* keys_gauge = nullptr;
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_CORRELATOR_IMPL_H_
