// The source tree the rule-pack tests read (patterns/, tests/matchers/testdata/).
//
// KONSEKI_TEST_SOURCE_DIR, when set, names another checkout: a rule author
// working in their own worktree runs a built rules_test against their packs
// and sign_eval.tsv without building the tree, e.g.
//   KONSEKI_TEST_SOURCE_DIR=/work/wt-x build/tests/rules_test
//       --gtest_filter='RuleSignEval*:RuleCorpus*:RuleFalsePositive*:RulePacks*'
// Counts compiled into a test (RuleCorpusTest's expected counts) are still
// the built tree's. Otherwise the tree this test was built from.
#ifndef KONSEKI_TESTS_TESTING_SOURCE_DIR_H_
#define KONSEKI_TESTS_TESTING_SOURCE_DIR_H_

#include <cstdlib>
#include <string>

namespace konseki::testing {

inline std::string TestSourceDir() {
  if (const char* dir = std::getenv("KONSEKI_TEST_SOURCE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return KONSEKI_SOURCE_DIR;
}

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_TESTING_SOURCE_DIR_H_
