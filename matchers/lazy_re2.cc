#include "matchers/lazy_re2.h"

#include <algorithm>
#include <memory>

namespace konseki::matchers {

re2::RE2::Options Re2Options(bool case_sensitive) {
  re2::RE2::Options o;
  o.set_case_sensitive(case_sensitive);
  o.set_log_errors(false);
  o.set_encoding(re2::RE2::Options::EncodingLatin1);
  return o;
}

LazyRe2& LazyRe2::operator=(LazyRe2&& other) noexcept {
  if (this != &other) {
    delete re_.exchange(other.re_.exchange(nullptr, std::memory_order_acq_rel),
                        std::memory_order_acq_rel);
    pattern_ = std::move(other.pattern_);
    options_ = other.options_;
  }
  return *this;
}

std::string LazyRe2::Check(int* groups, std::vector<std::pair<int, std::string>>* named) const {
  const re2::RE2 probe(pattern_, options_);
  if (!probe.ok()) return probe.error().empty() ? "cannot compile" : probe.error();
  if (groups != nullptr) *groups = probe.NumberOfCapturingGroups();
  if (named != nullptr) {
    named->clear();
    for (const auto& [name, index] : probe.NamedCapturingGroups()) named->emplace_back(index, name);
    std::sort(named->begin(), named->end());
  }
  return {};
}

// Out of line and rare: once per expression and process (or a few times
// when workers race; the losers' copies are freed at once).
const re2::RE2& LazyRe2::Build() const {
  auto fresh = std::make_unique<re2::RE2>(pattern_, options_);
  re2::RE2* expected = nullptr;
  if (re_.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel,
                                  std::memory_order_acquire)) {
    return *fresh.release();
  }
  return *expected;
}

}  // namespace konseki::matchers
