// A min-heap of (due time, slot) used by HeartbeatTracker to find the hosts
// whose silence deadline has passed without scanning all of them.
//
// Entries are never updated in place: the owner keeps, per slot, the due time
// of the entry it considers live and discards popped entries that no longer
// match (lazy deletion). So a message costs nothing here; a host costs one
// O(log n) push per threshold period, when its entry comes due and is re-armed.
//
// Not thread-safe; owned by one tracker.
#ifndef KONSEKI_MATCHERS_DEADLINE_QUEUE_H_
#define KONSEKI_MATCHERS_DEADLINE_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace konseki::matchers {

class DeadlineQueue {
 public:
  struct Entry {
    int64_t due_ns;  // Unix time in nanoseconds
    uint32_t slot;
  };

  void Push(int64_t due_ns, uint32_t slot);
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // Precondition: !empty(). The entry with the earliest due time.
  const Entry& Top() const { return heap_.front(); }
  // Precondition: !empty().
  void Pop();
  void Clear() { heap_.clear(); }

 private:
  static bool Later(const Entry& a, const Entry& b) { return a.due_ns > b.due_ns; }
  std::vector<Entry> heap_;
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_DEADLINE_QUEUE_H_
