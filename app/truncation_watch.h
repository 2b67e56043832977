// Senders whose messages were cut at max_message_bytes, for the
// konseki.message_truncated alert: a sender can pad a line so that what it
// wanted hidden falls past the cut, out of the archive and out of the rules,
// and the cut must be on record, not only in a counter.
//
// One alert per sender per `quiet`: the first cut message of a sender, then
// the first one at least `quiet` after its last alert, which carries how
// many were cut since. A sender padding every line is one alert an hour.
//
// Memory: at most max_senders senders (least recently cut forgotten first;
// sender addresses of UDP can be spoofed); a forgotten sender counts as new
// again. Not thread-safe: one per worker.
#ifndef KONSEKI_APP_TRUNCATION_WATCH_H_
#define KONSEKI_APP_TRUNCATION_WATCH_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"

namespace konseki::app {

struct TruncationWatchOptions {
  // Least time between two alerts about one sender.
  Duration quiet = std::chrono::hours(1);
  // Senders remembered.
  size_t max_senders = 1024;
};

class TruncationWatch {
 public:
  explicit TruncationWatch(TruncationWatchOptions options = {}) : options_(options) {}
  TruncationWatch(const TruncationWatch&) = delete;
  TruncationWatch& operator=(const TruncationWatch&) = delete;

  struct Verdict {
    bool alert = false;       // raise konseki.message_truncated now
    bool new_sender = false;  // not remembered before this message
    uint64_t messages = 0;    // with alert: cut since the last alert, this one included
  };
  // One cut message from `sender`, received at `now`.
  Verdict Note(std::string_view sender, TimePoint now);

  size_t senders() const { return index_.size(); }

 private:
  struct Entry {
    std::string sender;
    TimePoint last_alert;
    uint64_t since_alert = 0;  // cut messages since last_alert, not alerted
  };
  const TruncationWatchOptions options_;
  std::list<Entry> lru_;  // most recently cut first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // keys view lru_
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_TRUNCATION_WATCH_H_
