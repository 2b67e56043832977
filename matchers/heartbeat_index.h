// The host-name index of HeartbeatTracker: an open-addressing table from the
// low 32 bits of a host's hash to its slot; the caller confirms the name
// against its own record. 8 bytes per entry in one array (load <= 1/2), so a
// lookup touches one or two entries and then the host's record, instead of
// the bucket, previous node, node and key of a std::unordered_map.
//
// Not thread-safe; owned by one tracker.
#ifndef KONSEKI_MATCHERS_HEARTBEAT_INDEX_H_
#define KONSEKI_MATCHERS_HEARTBEAT_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace konseki::matchers {

class HeartbeatIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // The slot whose hash matches and for which is_host(slot) is true, or kNone.
  template <typename IsHost>
  uint32_t Find(uint64_t hash, IsHost&& is_host) const {
    if (size_ == 0) return kNone;
    const uint32_t h = static_cast<uint32_t>(hash);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Entry& e = table_[i];
      if (e.slot == kNone) return kNone;
      if (e.hash == h && is_host(e.slot)) return e.slot;
    }
  }
  // Precondition: slot is not in the index, slot != kNone.
  void Insert(uint64_t hash, uint32_t slot);
  // Removes the entry of slot (found by its hash). False if absent.
  bool Erase(uint64_t hash, uint32_t slot);
  size_t size() const { return size_; }

 private:
  struct Entry {
    uint32_t hash = 0;
    uint32_t slot = kNone;  // kNone: empty
  };
  void Place(Entry e);

  std::vector<Entry> table_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_HEARTBEAT_INDEX_H_
