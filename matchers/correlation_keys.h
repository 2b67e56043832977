// Per-key state of the correlation kinds and the LRU table that bounds it.
// Internal to the Correlator; one owner thread, no locks.
#ifndef KONSEKI_MATCHERS_CORRELATION_KEYS_H_
#define KONSEKI_MATCHERS_CORRELATION_KEYS_H_

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace konseki::matchers {

// A line that took part, for the alert's archive locations.
struct KeyMember {
  std::string host;
  int64_t received_ns = 0;
  int64_t event_ns = 0;
  int32_t overflow_worker = -1;  // AlertMember::overflow_worker
};

// A beacon key's reservoir: the last `reservoir` gaps between calls (ms)
// and connection sizes (bytes), as rings. Heap only for beacon keys.
struct BeaconState {
  std::vector<uint32_t> gaps_ms;  // ring, at most the reservoir
  std::vector<uint32_t> sizes;    // ring, at most the reservoir (empty: no size field)
  uint32_t gap_next = 0;          // next ring slot to overwrite when full
  uint32_t size_next = 0;
  int64_t alerted_ns = 0;     // event time of the last alert (0: none yet)
  uint64_t scored_count = 0;  // `count` when last scored
};

// sequence: the last B (`on`) hit of a key that completed nothing, kept
// window_secs of receive time: A hits stamped at or before it that arrive
// after it (a forwarder's queue sending its backlog late) run its check
// again. Owns copies of what the alert needs (the line and its fields).
// Heap only for keys whose B came without its A hits; not in the state
// file (a restart forgets it).
struct StoredHit {
  std::string input_id, sign, host, sender, program, pid, raw;
  std::vector<std::pair<std::string, std::string>> fields;
  int64_t event_ns = 0;  // the clamped stamp the windows used
  int64_t received_ns = 0;
  uint32_t repeats = 1;
  int severity = 0;  // Severity
  int32_t overflow_worker = -1;
};

// One key of one correlation. Each kind uses a part:
//   threshold  times (last `count` event times), members, values (summary)
//   distinct   values + value_times (up to `count` most recent distinct)
//   sequence   times (A hits), members, late_b (a B that came first)
//   unpaired   open (an open without its close yet), last_ns
//   first_seen hashes (seen tuples, oldest first)
//   beacon     beacon (reservoir), first_ns/last_ns (window), count
struct KeyState {
  std::vector<int64_t> times;
  std::vector<int64_t> value_times;
  std::vector<std::string> values;
  std::vector<uint64_t> hashes;
  std::vector<KeyMember> members;
  int64_t first_ns = 0;
  int64_t last_ns = 0;
  uint64_t count = 0;
  bool alerted = false;  // threshold/distinct: inside a burst already alerted
  bool open = false;     // unpaired
  std::unique_ptr<BeaconState> beacon;
  std::unique_ptr<StoredHit> late_b;  // sequence
};

// Keys of one correlation, least recently used last. Not thread-safe.
class KeyTable {
 public:
  struct Node {
    std::string key;
    int64_t touched_ns = 0;  // receive time of the last hit
    KeyState state;
  };

  // The key's state, moved to the front; nullptr when absent.
  KeyState* Find(std::string_view key, int64_t now_ns);
  // The key's state, created if absent (*inserted says which).
  KeyState* FindOrInsert(std::string_view key, int64_t now_ns, bool* inserted);
  void Erase(std::string_view key);
  // Removes the least recently used key; false when empty.
  bool PopOldest(std::string* key);
  // The least recently used node, nullptr when empty.
  const Node* Oldest() const { return lru_.empty() ? nullptr : &lru_.back(); }
  size_t size() const { return index_.size(); }
  // Oldest first (so that inserting in this order restores the LRU order).
  template <typename F>
  void ForEachOldestFirst(F f) const {
    for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) f(*it);
  }

 private:
  std::list<Node> lru_;                                                    // front: most recent
  std::unordered_map<std::string_view, std::list<Node>::iterator> index_;  // views into lru_
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_CORRELATION_KEYS_H_
