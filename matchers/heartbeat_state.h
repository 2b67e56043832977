// What the heartbeat tracker knows about one host, and how it is written to
// and read from the state files that survive a restart.
//
// State file (text, one host per line, so a damaged line costs one host):
//   konseki-heartbeat-state 1
//   H <name> <senders> <flags> <first_seen_ns> <last_seen_ns> <stop_time_ns>
//     <last_ts_ns> <offset_baseline_ns> <last_clock_alert_ns> <observed_secs>
//     <decayed_at_secs> <20 time weights> <20 square weights> <stop_message>
//     <last_message>                                   (all on one line)
//   end <number of H lines>
// <senders> is one string: the host's sender addresses, most recent first,
// separated by LF (older files hold one address: it reads as a list of one).
// Strings are written as ':' followed by the bytes with '%', space, control
// characters and 0x7f as %XX, so any host name or message survives.
#ifndef KONSEKI_MATCHERS_HEARTBEAT_STATE_H_
#define KONSEKI_MATCHERS_HEARTBEAT_STATE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "matchers/cadence_estimator.h"

namespace konseki::matchers {

// Times are Unix nanoseconds; 0 means "never". A plain value, not thread-safe.
// Fields are ordered hot (touched by every message) first.
struct HostState {
  std::string name;                // as first seen (lookups compare it, case-insensitively)
  int64_t last_seen_ns = 0;        // receive time of the newest message
  int64_t last_ts_ns = 0;          // newest host timestamp (reset when the clock went back)
  int64_t offset_baseline_ns = 0;  // max of (host timestamp - receive time) since last reset
  // heartbeat.sender_change_secs: receive time of the first line from an
  // address the host never used (0: no watch; tested by every message).
  int64_t move_since_ns = 0;
  bool seen = false;               // false: an expected host that never reported
  bool silent = false;             // host.silent fired and the host has not come back
  bool stop_seen = false;          // stop_message/stop_time_ns are set
  bool has_ts = false;             // last_ts_ns/offset_baseline_ns are set
  bool silent_after_stop = false;  // the host.silent alert said a stop message preceded it
  // The host's home address (home_sender), the one most of its lines come
  // from: a majority vote over its lines (Boyer-Moore), each line from home
  // adding one vote up to kHomeVotesMax, each line from another address
  // taking one; at 0 the next line's sender becomes home. A forger must
  // outnumber the host's own lines to take it, and the new address of a
  // host that really moved is home after at most kHomeVotesMax + 1 of its
  // lines. sender_is_home caches
  // sender == home_sender (compared when either changes, not per line). Not
  // saved: after a konseki restart the first sender is home.
  static constexpr uint32_t kHomeVotesMax = 1000;
  bool sender_is_home = false;
  uint32_t home_votes = 0;
  std::string sender;  // last sender address
  // Distinct sender addresses, most recent first (sender included), at most
  // HeartbeatOptions::max_senders_per_host; kept up to date by NoteSender.
  std::vector<std::string> senders;
  std::string last_message;  // last raw line, cut to HeartbeatOptions::max_last_message_bytes
  CadenceEstimator cadence;
  std::string stop_message;  // raw line the rule engine flagged as syslog.stopped
  int64_t first_seen_ns = 0;
  int64_t stop_time_ns = 0;         // receive time of stop_message
  int64_t last_clock_alert_ns = 0;  // when host.clock_jump last fired
  std::string home_sender;          // see home_votes
  // The senders (hashed) of the host.clock_jump alerts of the current
  // interval and when: the home sender has an alert of its own, the others
  // share the rest, so forged lines from other addresses cannot use up the
  // host's own alert (HeartbeatTracker::CheckClock). Not saved.
  static constexpr int kClockAlertSenders = 3;
  uint64_t clock_alert_sender[kClockAlertSenders] = {};
  int64_t clock_alert_ns[kClockAlertSenders] = {};
  // A step back not yet confirmed (TrackClock): receive time of the step
  // (0: none), the offset after it, how far and from which stamp. Not saved.
  int64_t back_rx_ns = 0;
  int64_t back_offset_ns = 0;
  int64_t back_jump_ns = 0;
  int64_t back_from_ts_ns = 0;
  // A clock behind the receive time by more than the tolerance, not yet
  // proven (TrackClock): receive time the steady offset was first seen
  // (0: no watch) and that offset; behind_told: alerted (kind behind or
  // backwards) and not back within the tolerance since. Not saved.
  int64_t behind_rx_ns = 0;
  int64_t behind_offset_ns = 0;
  bool behind_told = false;
  // The last system.shutdown line and its receive time (0: none). Not
  // saved: after a restart of konseki a planned silence is reported as
  // any other.
  int64_t shutdown_time_ns = 0;
  std::string shutdown_message;
  // The same for the last system.suspend line (the host went to sleep).
  // suspend_silent: the host's current silence was told at low for it,
  // and its suspend_max_secs alert is still to come. Not saved.
  int64_t suspend_time_ns = 0;
  std::string suspend_message;
  bool suspend_silent = false;
  // The last high or critical alert about the host (NoteAlert): receive
  // time (0: none), its sign and title. Not saved.
  int64_t alert_time_ns = 0;
  std::string alert_sign;
  std::string alert_title;
  // heartbeat.sender_change_secs: the address a watch started with and the
  // host's last sender before it (move_since_ns). Not saved.
  std::string move_sender;
  std::string move_from;
};

inline constexpr std::string_view kStateFileHeader = "konseki-heartbeat-state 1";

// "heartbeat.<shard>.state".
std::string StateFileName(size_t shard);
// True for "heartbeat.<digits>.state" (not for the ".tmp" files of a write).
bool IsStateFileName(std::string_view file_name);

// Makes `sender` the host's last sender and the first of its senders: moved
// to the front when already known, else added there, dropping the least
// recently seen address past `cap` (0 is taken as 1).
void NoteSender(std::string_view sender, size_t cap, HostState* host);

// Appends one "H ..." line, newline included.
void AppendHostStateLine(const HostState& host, std::string* out);
// Parses one "H ..." line (without its newline). False if malformed; *out is
// then unspecified.
bool ParseHostStateLine(std::string_view line, HostState* out);

// Writes data to path.tmp, fsyncs it, renames it over path and fsyncs the
// directory, so readers see the old file or the new one, never a mix.
Status WriteFileAtomically(const std::string& path, std::string_view data);
// Reads a whole file.
Status ReadFileToString(const std::string& path, std::string* out);

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_HEARTBEAT_STATE_H_
