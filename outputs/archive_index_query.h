// Which blocks of an indexed archive file (outputs/archive_index.h) can hold
// a match of any of `konseki search`'s patterns: RE2's FilteredRE2 derives
// from each pattern the texts (atoms, lowercased, at least 3 bytes) a match
// must contain, as an AND/OR tree; a block passes if the tree of some
// pattern holds with the atoms the block's filters may contain.
//
//   auto q = IndexQuery::Create({"Failed password", "Invalid user [a-z]+"}, false);
//   if (q->MayMatch(block)) scan(block);
//
// Exactness: MayMatch is false only when no pattern can match in the block.
// A pattern RE2 cannot parse (Hyperscan accepts some syntax RE2 does not),
// or one without a required text of 3 bytes (".*", "[0-9]+", "a|bc"), makes
// every block pass; why_not() says which. Atoms with bytes outside
// printable ASCII are taken as present (RE2 reads the patterns as Latin-1
// and may case-fold such bytes differently from the index).
//
// Immutable after Create; MayMatch is thread-safe. Not copyable.
#ifndef KONSEKI_OUTPUTS_ARCHIVE_INDEX_QUERY_H_
#define KONSEKI_OUTPUTS_ARCHIVE_INDEX_QUERY_H_

#include <memory>
#include <string>
#include <vector>

#include "outputs/archive_index.h"

namespace re2 {
class FilteredRE2;
}

namespace konseki::outputs {

class IndexQuery {
 public:
  static std::unique_ptr<IndexQuery> Create(const std::vector<std::string>& patterns,
                                            bool caseless);
  ~IndexQuery();
  IndexQuery(const IndexQuery&) = delete;
  IndexQuery& operator=(const IndexQuery&) = delete;

  // False: the patterns leave every block a candidate (see why_not()).
  bool filters() const { return filters_; }
  // Empty, or why the index cannot narrow this search by text.
  const std::string& why_not() const { return why_not_; }
  bool MayMatch(const IndexBlock& block) const;
  // The atoms (for tests and --stats).
  const std::vector<std::string>& atoms() const { return atoms_; }

 private:
  IndexQuery();
  std::unique_ptr<re2::FilteredRE2> filter_;
  std::vector<std::string> atoms_;
  bool filters_ = false;
  std::string why_not_;
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_ARCHIVE_INDEX_QUERY_H_
