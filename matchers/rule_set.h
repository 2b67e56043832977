// The rule matcher: Hyperscan block-mode databases over every rule's `match`
// expressions, then RE2 extraction only for the rules that hit.
//
// Rules are partitioned by program: a rule whose `program` is a plain list of
// names ("sshd|sshd-session") can only hit messages from those programs, so
// each such name gets one database holding the rules that accept it (its own,
// the program-less ones, the regex-`program` ones that accept the name). A
// message is scanned once, by the database of its app_name (found by a
// case-insensitive lookup), or by the default database (program-less and
// regex-program rules, and the rules whose expressions are all anchored at
// `^`, which cost nothing to carry) when no partition names its program.
// Hyperscan's literal matcher costs in proportion to the floating literals it
// looks for, so a message pays for the rules that can apply to it, not for
// the whole pack (bench/RESULTS.md, "Where the time goes: the matcher").
//
//   auto set = RuleSet::Compile(std::move(rules));      // once, at start-up
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

   private:
    friend class RuleSet;
    Scratch(hs_scratch* s, const RuleSet* owner) : hs_(s), owner_(owner) {}
    hs_scratch* hs_;
    const RuleSet* owner_;
    std::vector<unsigned> rule_hits_;  // rule indices recorded by the callback
  };

  // Compiles all rules (Hyperscan for `match`, one database per program
  // partition; RE2 for `program` and `extract`). Any failure fails the whole
  // set; the message names the file, the line, the rule id and the library's
  // error. Zero rules is allowed (Match then never hits).
  static StatusOr<std::shared_ptr<const RuleSet>> Compile(std::vector<Rule> rules);

  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  StatusOr<std::unique_ptr<Scratch>> NewScratch() const;

  // Scans msg.msg (the whole raw frame for kUnparsed messages) with the
  // database of msg.app_name's partition and appends one RuleHit per rule that
  // hit, in rule order, to *hits (which it clears first). The callback only
  // records rule indices; the program filter and RE2 extraction run
  // afterwards for those rules only.
  // Field values are copies, so hits outlive the message.
  void Match(const Message& msg, Scratch& scratch, std::vector<RuleHit>* hits) const;

  const std::vector<Rule>& rules() const { return rules_; }
  // nullptr if no rule has this id.
  const Rule* FindRule(std::string_view id) const;

  // Number of Hyperscan databases (program partitions with at least one
  // expression) and their total size in bytes, for start-up logs and benches.
  size_t database_count() const;
  size_t database_bytes() const;

 private:
  struct Compiled;  // per-rule RE2 objects
  // The rules one database holds. Hyperscan ids are global expression
  // indices (expr_rule_), the same in every database.
  struct Partition {
    hs_database* db = nullptr;  // null: no expression (never hits)
  };
  RuleSet();
  Status CompileRule(const Rule& rule);
  Status BuildPartitions(const std::vector<std::string>& exprs, const std::vector<unsigned>& flags);
  StatusOr<hs_database*> CompileDatabase(const std::vector<std::string>& exprs,
                                         const std::vector<unsigned>& flags,
                                         const std::vector<unsigned>& rule_indices) const;
  // Index into partitions_ for this app_name (0: the default partition).
  size_t PartitionFor(std::string_view app_name) const;
  bool ProgramMatches(size_t rule_index, std::string_view app_name) const;
  // Writes hits into (*hits)[0..n), reusing existing elements; returns n.
  size_t MatchInto(const Message& msg, Scratch& scratch, std::vector<RuleHit>* hits) const;

  std::vector<Rule> rules_;
  std::vector<std::unique_ptr<Compiled>> compiled_;  // parallel to rules_
  std::vector<unsigned> expr_rule_;                  // Hyperscan id -> rule index
  // [0] is the default partition; empty when there are no rules.
  std::vector<Partition> partitions_;
  // Lower-case program name -> index into partitions_: an open-addressing
  // table (power-of-two size, linear probing, at most half full) so the
  // per-message lookup is a hash of a few bytes and one compare.
  struct ProgramSlot {
    std::string name;  // lower case; empty with used == false: free slot
    size_t partition = 0;
    bool used = false;
  };
  std::vector<ProgramSlot> program_table_;
};

// Builds the alert for one hit: time = msg.timestamp, received, host =
// msg.host(), sender, rule id, sign, severity, title, program = app_name,
// pid = procid, fields, message = raw. Owns all its strings.
Alert MakeAlert(const Message& msg, const RuleHit& hit);

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_RULE_SET_H_
