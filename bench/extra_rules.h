// Extra rules for the matcher bench, so RuleSet is measured with a pack of
// the size the rule-breadth work aims at (150+ rules) even while the bundled
// packs are smaller. They are built from real daemon message formats (FTP,
// mail, DNS, proxy, VPN, databases, PAM, ...), one rule per program of a
// family, with literal-heavy expressions, program filters and named-group
// extraction as real packs write them; no random strings.
#ifndef KONSEKI_BENCH_EXTRA_RULES_H_
#define KONSEKI_BENCH_EXTRA_RULES_H_

#include <cstddef>
#include <vector>

#include "matchers/rule.h"

namespace konseki::bench {

// Up to `count` rules (ids "bench.<program>.<n>"), fewer if the format table
// runs out; each has a program, at least one `match` and one `extract`.
std::vector<matchers::Rule> ExtraRules(size_t count);

}  // namespace konseki::bench

#endif  // KONSEKI_BENCH_EXTRA_RULES_H_
