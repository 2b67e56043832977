// Holes in a host's record told by the sender itself: RFC 5424 §7.3.1's
// `[meta sequenceId="N"]`, a counter the originator's logger increments per
// message (rsyslog's RSYSLOG_SyslogProtocol23Format with a meta element,
// syslog-ng's syslog() driver, which writes its per-destination $SEQNUM
// there). A number that goes back, or jumps forward, by more than max_gap
// with no start of the logger in between (a boot, a syslog.started line:
// the rule's heartbeat_boot) means lines were removed or renumbered on the
// way (log.gap, raised by the heartbeat and by test-rules).
//
// Pure over (host, sender, structured data, receive time): the caller
// raises the alert. One state per host and sender address (a relay's lines
// of one host and the host's own are two counters), at most max_entries;
// past it the least recently seen half is forgotten (a forgotten pair's
// next number is only learned). Lines without structured data cost one
// emptiness test.
//
// Not thread-safe: one instance per thread owning the hosts (a heartbeat
// shard, the offline analyzer).
#ifndef KONSEKI_MATCHERS_SEQUENCE_WATCH_H_
#define KONSEKI_MATCHERS_SEQUENCE_WATCH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/alert.h"
#include "common/host_key.h"
#include "common/message.h"

namespace konseki::matchers {

// RFC 5424 §7.3.1: 1..2147483647, then 1 again.
inline constexpr uint32_t kMaxSequenceId = 2147483647u;

// The sequenceId of the `meta` element of RFC 5424 structured data as
// written ("[meta sequenceId=\"42\"]", other elements and parameters
// anywhere around it). False when there is none or it is not a number in
// 1..kMaxSequenceId.
bool ReadSequenceId(std::string_view structured_data, uint32_t* out);

struct SequenceWatchOptions {
  // heartbeat.sequence_gap: the largest step forward, or back, of a
  // sender's sequenceId that is no alert (lines lost in a burst over UDP,
  // reordered, or resent after a reconnect). 0 disables the watch.
  uint32_t max_gap = 100;
  // heartbeat.sequence_alert_interval_secs: at most one alert per host and
  // sender per this long; the next one says how many gaps it held back.
  double alert_interval_secs = 3600;
  // Host and sender pairs remembered.
  size_t max_entries = 100000;
};

// What one line showed.
struct SequenceGap {
  bool alert = false;  // a gap to raise now
  bool back = false;   // the number went back (else: jumped forward)
  uint32_t previous = 0;
  uint32_t current = 0;
  // Gaps of this host and sender held back by alert_interval_secs since
  // its last alert.
  uint64_t held = 0;
};

class SequenceWatch {
 public:
  explicit SequenceWatch(const SequenceWatchOptions& options);
  SequenceWatch(const SequenceWatch&) = delete;
  SequenceWatch& operator=(const SequenceWatch&) = delete;

  // The host's logger (or the host) started, told by a line from this
  // sender: its next number starts a new count. Call before Observe of the
  // same line (the start line itself may carry the new count's first
  // number).
  void NoteLoggerStart(const HostKey& host, std::string_view sender);

  // Per message. The views need only live during the call. Allocates only
  // for a host and sender pair not yet remembered.
  SequenceGap Observe(const HostKey& host, std::string_view sender,
                      std::string_view structured_data, int64_t received_ns);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string host;    // as first seen (compared case-insensitively)
    std::string sender;  // exact
    uint32_t highest = 0;
    bool restarted = false;  // NoteLoggerStart since the last number
    int64_t touched_ns = 0;
    int64_t alerted_ns = 0;  // last alert (0: none)
    uint64_t held = 0;
  };
  static uint64_t KeyOf(const HostKey& host, std::string_view sender);
  Entry* Find(uint64_t key);
  void ForgetOldestHalf();

  const SequenceWatchOptions options_;
  std::unordered_map<uint64_t, Entry> entries_;
};

// The log.gap alert (rule heartbeat.sequence_gap, medium) for a gap that
// msg showed: its fields previous and current, direction ("back" or
// "forward"), skipped (forward: the numbers never received), max_gap,
// held (when > 0), the line itself as message.
Alert SequenceGapAlert(const SequenceGap& gap, const Message& msg, uint32_t max_gap);

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_SEQUENCE_WATCH_H_
