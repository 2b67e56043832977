#include "matchers/heartbeat_index.h"

#include <utility>

namespace konseki::matchers {

void HeartbeatIndex::Place(Entry e) {
  size_t i = e.hash & mask_;
  while (table_[i].slot != kNone) i = (i + 1) & mask_;
  table_[i] = e;
}

void HeartbeatIndex::Insert(uint64_t hash, uint32_t slot) {
  if ((size_ + 1) * 2 > table_.size()) {
    std::vector<Entry> old = std::move(table_);
    table_.assign(old.empty() ? 16 : old.size() * 2, Entry{});
    mask_ = table_.size() - 1;
    for (const Entry& e : old) {
      if (e.slot != kNone) Place(e);
    }
  }
  Place(Entry{static_cast<uint32_t>(hash), slot});
  ++size_;
}

bool HeartbeatIndex::Erase(uint64_t hash, uint32_t slot) {
  if (size_ == 0) return false;
  size_t i = static_cast<uint32_t>(hash) & mask_;
  while (table_[i].slot != slot) {
    if (table_[i].slot == kNone) return false;
    i = (i + 1) & mask_;
  }
  // Backward-shift deletion: pull later entries of the cluster into the hole
  // when their home position is not between the hole and them.
  size_t hole = i;
  for (size_t j = (hole + 1) & mask_; table_[j].slot != kNone; j = (j + 1) & mask_) {
    size_t home = table_[j].hash & mask_;
    bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      table_[hole] = table_[j];
      hole = j;
    }
  }
  table_[hole] = Entry{};
  --size_;
  return true;
}

}  // namespace konseki::matchers
