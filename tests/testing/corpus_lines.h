// The lines of the real-world corpus (shared/corpus, see its README) as a
// matcher sees them: fail2ban '#' comments and empty lines skipped, wazuh
// INI `log N pass|fail = <line>` entries unwrapped. Shared by the matcher
// tests and bench/rule_set_bench.
#ifndef KONSEKI_TESTS_TESTING_CORPUS_LINES_H_
#define KONSEKI_TESTS_TESTING_CORPUS_LINES_H_

#include <string>
#include <vector>

namespace konseki::testing {

// Every line of the crowdsec, fail2ban, loghub and wazuh folders of
// `corpus_dir`, files in name order. Empty when the folder is absent (a
// user's checkout has no shared/): callers skip.
std::vector<std::string> CorpusLines(const std::string& corpus_dir);

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_TESTING_CORPUS_LINES_H_
