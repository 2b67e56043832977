#include "app/truncation_watch.h"

namespace konseki::app {

TruncationWatch::Verdict TruncationWatch::Note(std::string_view sender, TimePoint now) {
  Verdict v;
  auto it = index_.find(sender);
  if (it == index_.end()) {
    if (index_.size() >= options_.max_senders && !lru_.empty()) {
      index_.erase(lru_.back().sender);
      lru_.pop_back();
    }
    lru_.push_front(Entry{std::string(sender), now, 0});
    index_.emplace(lru_.front().sender, lru_.begin());
    v.alert = v.new_sender = true;
    v.messages = 1;
    return v;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  Entry& e = *it->second;
  ++e.since_alert;
  if (now - e.last_alert >= options_.quiet) {
    v.alert = true;
    v.messages = e.since_alert;
    e.since_alert = 0;
    e.last_alert = now;
  }
  return v;
}

}  // namespace konseki::app
