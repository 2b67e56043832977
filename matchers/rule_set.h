// The rule matcher: every rule's `match` expressions in ONE Hyperscan
// block-mode database, then extraction only for the rules that hit
// (SimpleRegex for the simple extract expressions, RE2 for the others and
// for prefilter confirmations).
// Rules that read the structured data (Rule::text) have a second database,
// scanned only over a message that has structured data, and only when some
// rule reads it: other lines pay a few tests for it (bench/RESULTS.md).
//
//   auto set = RuleSet::Compile(std::move(rules));      // once, at start-up
//   // (the server: RuleSet::Compile(std::move(rules), ignore, HsCompileIn::kChildProcess))
//   auto scratch = (*set)->NewScratch();                // once per worker thread
//   std::vector<RuleHit> hits;
//   (*set)->Match(msg, **scratch, &hits);               // per message
//   for (const RuleHit& h : hits) sink.Emit(MakeAlert(msg, h));
#ifndef KONSEKI_MATCHERS_RULE_SET_H_
#define KONSEKI_MATCHERS_RULE_SET_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/alert.h"
#include "common/message.h"
#include "common/status.h"
#include "matchers/alert_ignore.h"
#include "matchers/audit_hex.h"
#include "matchers/hs_compile.h"
#include "matchers/rule.h"

struct hs_database;
struct hs_scratch;

namespace re2 {
class RE2;
}

namespace konseki::matchers {

// One rule that matched one message. `rule` points into the RuleSet that
// produced it and stays valid as long as that RuleSet lives.
struct RuleHit {
  const Rule* rule = nullptr;
  std::vector<std::pair<std::string, std::string>> fields;  // extracted, in group order
  // rules.ignore holds its src_ip or user (AlertIgnore): count it, raise no alert.
  bool ignored = false;
};

// Immutable once compiled; all const methods are thread-safe. Share it with
// std::shared_ptr<const RuleSet>; each thread brings its own Scratch.
class RuleSet {
 public:
  // Per-thread scan state (RAII over hs_scratch_t plus a small hit buffer).
  // Not thread-safe: one per worker. Valid only with the RuleSet that made it,
  // which must outlive it.
  class Scratch {
   public:
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

    // Bytes of Hyperscan scratch memory (0 for a set without rules).
    size_t bytes() const;

   private:
    friend class RuleSet;
    Scratch(hs_scratch* s, const RuleSet* owner) : hs_(s), owner_(owner) {}
    hs_scratch* hs_;
    const RuleSet* owner_;
    std::vector<unsigned> rule_hits_;  // expr_hit_ values recorded by the callback
    // Buffers that Match dropped from the end of a caller's vector (a message
    // with fewer hits, or a hit with fewer fields, than the previous one),
    // handed to the next hits and fields appended, so changing hit and field
    // counts allocate nothing once warm. Never more than the most hits and
    // fields one message has had.
    std::vector<std::vector<std::pair<std::string, std::string>>> spare_fields_;
    std::vector<std::pair<std::string, std::string>> spare_values_;
    // The scanned text in ASCII lower case, made once per message for the
    // caseless extracts' start literals (Match reuses the buffer); the
    // structured data's, for the rules that read it.
    std::string lowered_;
    std::string lowered_sd_;
    // An audit record as the rules read it (DecodeAuditRecord: hex values
    // decoded, EXECVE's cmdline=), for the records that need it; reused.
    AuditBuffers audit_;
  };

  // Compiles all rules (Hyperscan for `match`, RE2 for `program` and
  // `extract`). Any failure fails the whole set; the message names the file,
  // the line, the rule id and the library's error. Zero rules is allowed
  // (Match then never hits).
  // `ignore` marks hits (RuleHit::ignored) whose fields it holds.
  // `where`: where Hyperscan's compiler runs (matchers/hs_compile.h); the
  // RE2 programs are always compiled here. The result and the error messages
  // are the same either way; kChildProcess can also fail with Internal when
  // no child could run. `cache` (optional): the folder of compiled databases
  // looked up first and filled after a compile (HsCache, hs_compile.h).
  static StatusOr<std::shared_ptr<const RuleSet>> Compile(
      std::vector<Rule> rules, AlertIgnore ignore = {},
      HsCompileIn where = HsCompileIn::kThisProcess, HsCache* cache = nullptr);

  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  StatusOr<std::unique_ptr<Scratch>> NewScratch() const;

  // Scans msg.msg (the whole raw frame for kUnparsed messages) — or, when
  // it is an audit record with a hex-encoded value or an EXECVE record
  // (matchers/audit_hex.h), its decoded copy with the `cmdline="..."` of
  // the arguments, which every rule's match, prefilter and extract then
  // read — and
  // msg.structured_data when it is not empty and some rule reads it, and
  // appends one RuleHit per rule that hit, in rule order, to *hits (which it
  // clears first). A line the rule's `unless` finds (in the same text) is
  // not a hit of that rule. Each rule's match, prefilter and extract read its own
  // Rule::text only. The callback only records rule indices; the program filter and
  // RE2 extraction run afterwards for those rules only. Field values are
  // copies, so hits outlive the message. Pass the same vector every time
  // (do not clear it): its hits and their field buffers are recycled, with
  // the surplus kept in `scratch`, so a warm worker does not allocate.
  void Match(const Message& msg, Scratch& scratch, std::vector<RuleHit>* hits) const;

  const std::vector<Rule>& rules() const { return rules_; }
  // Some rule reads the structured data (Rule::Text::kStructuredData).
  bool reads_structured_data() const { return sd_db_ != nullptr; }
  // Bytes of the Hyperscan databases (0 without rules), for memory accounts.
  size_t database_bytes() const;
  // RE2 expressions (program, prefilter confirmation, unless, extract) of all rules,
  // and how many of them have been compiled: each is compiled the first
  // time a line needs it (matchers/lazy_re2.h), so a rule that never hits
  // costs no RE2 memory.
  size_t re2_expressions() const;
  size_t re2_built() const;
  // nullptr if no rule has this id.
  const Rule* FindRule(std::string_view id) const;
  // rules.ignore, for hits whose fields change after Match (field_carry.h).
  const AlertIgnore& ignore() const { return ignore_; }
  // Some rule has a remember or a recall (matchers/field_carry.h).
  bool has_carry() const { return has_carry_; }

 private:
  struct Compiled;  // per-rule RE2 objects
  RuleSet();
  bool ProgramMatches(size_t rule_index, std::string_view app_name) const;
  // True unless the rule has a `prefilter` and none of its `match`
  // expressions is in text (RE2). `lowered`: text in ASCII lower case when
  // the rule's Compiled::confirm_lowered says it is read, else anything.
  bool Confirms(size_t rule_index, std::string_view text, std::string_view lowered) const;
  // Writes hits into (*hits)[0..n), reusing existing elements; returns n.
  size_t MatchInto(const Message& msg, Scratch& scratch, std::vector<RuleHit>* hits) const;

  std::vector<Rule> rules_;
  AlertIgnore ignore_;
  bool has_carry_ = false;
  std::vector<std::unique_ptr<Compiled>> compiled_;  // parallel to rules_
  // Hyperscan id -> rule index << 1, | 1 when the expression is one of the
  // rule's `match` expressions itself (a prefilter written as the match):
  // its hit needs no RE2 confirmation.
  std::vector<unsigned> expr_hit_;
  hs_database* db_ = nullptr;  // null when no rule reads the message text
  // The same for the rules that read the structured data: their
  // expressions, and null when there are none.
  std::vector<unsigned> sd_expr_hit_;
  hs_database* sd_db_ = nullptr;
};

// A hit's value of `name` for a key (quiet_key, remember / recall): the
// extracted field, else the line's own `program` or `pid` from its header;
// empty when neither has it.
std::string_view HitKeyValue(const Message& msg, const RuleHit& hit, std::string_view name);

// value without its "::ffff:" when `name` is an address field ("ip",
// "*_ip") holding an IPv4-mapped IPv6 address; else value.
std::string_view UnmappedIpv4(std::string_view name, std::string_view value);

// Builds the alert for one hit: time = msg.timestamp, received, host =
// msg.host(), sender, rule id, sign, severity, title, program = app_name,
// pid = procid, fields, message = raw. Owns all its strings.
Alert MakeAlert(const Message& msg, const RuleHit& hit);

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_RULE_SET_H_
