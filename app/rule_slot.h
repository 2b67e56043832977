// The live rule set and correlations, swappable at run time (SIGHUP reload):
// workers pick up a new generation between batches and build a new scratch
// (and correlator, keeping the state of unchanged correlations) for it.
#ifndef KONSEKI_APP_RULE_SLOT_H_
#define KONSEKI_APP_RULE_SLOT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "matchers/rule_loader.h"
#include "matchers/rule_set.h"

namespace konseki::app {

// Thread-safe.
class RuleSlot {
 public:
  // `correlations` holds the packs' correlations and sets (its rules may be
  // empty: the RuleSet has them); nullptr: none.
  void Set(std::shared_ptr<const matchers::RuleSet> rules,
           std::shared_ptr<const matchers::RulePack> correlations = nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    rules_ = std::move(rules);
    correlations_ = std::move(correlations);
    generation_.fetch_add(1, std::memory_order_release);
  }
  // Cheap: one atomic load. Changes whenever Set is called.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::shared_ptr<const matchers::RuleSet> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return rules_;
  }
  std::shared_ptr<const matchers::RulePack> correlations() const {
    std::lock_guard<std::mutex> lock(mu_);
    return correlations_;
  }

 private:
  mutable std::mutex mu_;  // guards rules_ and correlations_
  std::shared_ptr<const matchers::RuleSet> rules_;
  std::shared_ptr<const matchers::RulePack> correlations_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_RULE_SLOT_H_
