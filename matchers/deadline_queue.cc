#include "matchers/deadline_queue.h"

#include <algorithm>

namespace konseki::matchers {

void DeadlineQueue::Push(int64_t due_ns, uint32_t slot) {
  heap_.push_back(Entry{due_ns, slot});
  std::push_heap(heap_.begin(), heap_.end(), Later);
}

void DeadlineQueue::Pop() {
  std::pop_heap(heap_.begin(), heap_.end(), Later);
  heap_.pop_back();
}

}  // namespace konseki::matchers
