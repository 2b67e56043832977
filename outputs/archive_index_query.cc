#include "outputs/archive_index_query.h"

#include <re2/filtered_re2.h>
#include <re2/re2.h>

namespace konseki::outputs {

constexpr int kMinAtomLen = 3;  // the index's shortest gram

IndexQuery::IndexQuery() : filter_(std::make_unique<re2::FilteredRE2>(kMinAtomLen)) {}
IndexQuery::~IndexQuery() = default;

std::unique_ptr<IndexQuery> IndexQuery::Create(const std::vector<std::string>& patterns,
                                               bool caseless) {
  std::unique_ptr<IndexQuery> q(new IndexQuery());
  if (patterns.empty()) {
    q->why_not_ = "no pattern";
    return q;
  }
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingLatin1);  // bytes, as Hyperscan reads them
  o.set_case_sensitive(!caseless);
  o.set_log_errors(false);
  for (const std::string& p : patterns) {
    int id;
    if (q->filter_->Add(p, o, &id) != RE2::NoError) {
      q->why_not_ = "pattern \"" + p + "\" is not one RE2 can analyse";
      return q;
    }
  }
  q->filter_->Compile(&q->atoms_);
  // Patterns without a required text pass with no atom at all.
  std::vector<int> always;
  q->filter_->AllPotentials({}, &always);
  if (!always.empty()) {
    q->why_not_ = "pattern \"" + patterns[static_cast<size_t>(always[0])] +
                  "\" has no required text of " + std::to_string(kMinAtomLen) + " bytes";
    return q;
  }
  q->filters_ = true;
  return q;
}

bool IndexQuery::MayMatch(const IndexBlock& block) const {
  if (!filters_) return true;
  thread_local std::vector<int> present, potential;
  present.clear();
  for (size_t i = 0; i < atoms_.size(); ++i) {
    if (block.MayContain(atoms_[i])) present.push_back(static_cast<int>(i));
  }
  if (present.empty()) return false;
  filter_->AllPotentials(present, &potential);
  return !potential.empty();
}

}  // namespace konseki::outputs
