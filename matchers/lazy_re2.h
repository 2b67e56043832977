// LazyRe2: an RE2 built the first time it is used, not when the rules load.
//
//   LazyRe2 re(pattern, options);       // nothing compiled yet
//   if (auto err = re.Check(); !err.empty()) ...   // compiles once to check, keeps nothing
//   RE2::FullMatch(value, *re);          // first use compiles and keeps it
//
// A rule pack holds well over a thousand RE2 expressions (extracts, prefilter
// confirmations, program alternations, correlation conditions), ~11 MiB of
// parsed regexps and programs compiled up front; a host only ever hits the
// rules of the daemons it runs, so most of them were never used and still
// resident (issue 17, memory). Thread-safe: several workers may ask at once;
// each compiles, one wins the publish, the others free theirs.
#pragma once

#include <re2/re2.h>

#include <atomic>
#include <string>
#include <utility>
#include <vector>

namespace konseki::matchers {

// The options every rule expression is compiled with (the rule set, its
// reference tests and benches): bytes, not UTF-8 (senders write invalid
// UTF-8, and a field must still be extracted around it; Hyperscan, which
// found the hit, is byte-based too; rule patterns are ASCII, so this
// changes nothing else), caseless unless the rule says, no error log.
re2::RE2::Options Re2Options(bool case_sensitive);

class LazyRe2 {
 public:
  LazyRe2() = default;
  LazyRe2(std::string pattern, const re2::RE2::Options& options)
      : pattern_(std::move(pattern)), options_(options) {}
  LazyRe2(LazyRe2&& other) noexcept
      : pattern_(std::move(other.pattern_)),
        options_(other.options_),
        re_(other.re_.exchange(nullptr, std::memory_order_acq_rel)) {}
  LazyRe2& operator=(LazyRe2&& other) noexcept;
  LazyRe2(const LazyRe2&) = delete;
  LazyRe2& operator=(const LazyRe2&) = delete;
  ~LazyRe2() { delete re_.load(std::memory_order_acquire); }

  // What the pattern is when compiled, read from a throwaway RE2: "" when
  // it compiles, else RE2's error. `groups` and `named` (optional) receive
  // its capturing-group count and its named groups as (index, name) sorted
  // by index.
  std::string Check(int* groups = nullptr,
                    std::vector<std::pair<int, std::string>>* named = nullptr) const;

  const re2::RE2& get() const {
    const re2::RE2* r = re_.load(std::memory_order_acquire);
    return r != nullptr ? *r : Build();
  }
  const re2::RE2& operator*() const { return get(); }
  const re2::RE2* operator->() const { return &get(); }

  const std::string& pattern() const { return pattern_; }
  // Whether the RE2 has been built (tests, memory accounts).
  bool built() const { return re_.load(std::memory_order_acquire) != nullptr; }

 private:
  const re2::RE2& Build() const;

  std::string pattern_;
  re2::RE2::Options options_;
  mutable std::atomic<re2::RE2*> re_{nullptr};
};

}  // namespace konseki::matchers
