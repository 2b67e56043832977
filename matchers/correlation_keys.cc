#include "matchers/correlation_keys.h"

namespace konseki::matchers {

KeyState* KeyTable::Find(std::string_view key, int64_t now_ns) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  it->second->touched_ns = now_ns;
  return &it->second->state;
}

KeyState* KeyTable::FindOrInsert(std::string_view key, int64_t now_ns, bool* inserted) {
  if (KeyState* s = Find(key, now_ns)) {
    *inserted = false;
    return s;
  }
  lru_.push_front(Node{std::string(key), now_ns, KeyState{}});
  index_.emplace(std::string_view(lru_.front().key), lru_.begin());
  *inserted = true;
  return &lru_.front().state;
}

void KeyTable::Erase(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  auto node = it->second;
  index_.erase(it);
  lru_.erase(node);
}

bool KeyTable::PopOldest(std::string* key) {
  if (lru_.empty()) return false;
  index_.erase(std::string_view(lru_.back().key));
  if (key != nullptr) *key = std::move(lru_.back().key);
  lru_.pop_back();
  return true;
}

}  // namespace konseki::matchers
