// Clock-jump detection for one host (host.clock_jump of the heartbeat):
// pure over the host's clock track, one timestamp and its receive time, so
// it is tested without a tracker. HeartbeatTracker rate-limits and raises
// the alert.
#ifndef KONSEKI_MATCHERS_CLOCK_JUMP_H_
#define KONSEKI_MATCHERS_CLOCK_JUMP_H_

#include <cstdint>
#include <string_view>

#include "matchers/heartbeat_state.h"

namespace konseki::matchers {

struct ClockJump {
  // "ahead" (the first timestamp is ahead of the receive time), "behind"
  // (the timestamps stay behind it, steadily), "backwards" or "forward";
  // empty when the timestamp shows no jump.
  std::string_view kind;
  int64_t jump_ns = 0;          // how far
  int64_t offset_ns = 0;        // host timestamp - receive time
  int64_t previous_ts_ns = -1;  // the host's newest timestamp before the jump; -1: ahead, behind
};

// How long a step back is held before it is a jump: a line this much later
// (receive time) must keep the stepped offset (see TrackClock). A clock
// behind the receive time needs the same proof.
inline constexpr int64_t kBackConfirmNs = 60'000'000'000;
// How much a clock behind may drift and still be "steady" over that proof
// (at most the tolerance): a slow clock keeps its offset to a few seconds of
// delivery jitter, a backlog catches up by far more than this a minute.
inline constexpr int64_t kBehindSteadyNs = 30'000'000'000;

// Takes one message's host timestamp and receive time (Unix ns) into the
// host's track (HostState::has_ts, last_ts_ns, offset_baseline_ns) and
// returns the jump it shows beyond tolerance_ns. Late timestamps (queued or
// relayed lines) are normal; early ones and steps back are not. A step back
// is returned with the first line at least kBackConfirmNs after it whose
// offset has not risen beyond the tolerance since (the clock runs on from
// its new time); stamps catching up faster drop it. A host whose stamps
// stay behind the receive time by more than tolerance_ns (a slow clock from
// its first line, or a step back not yet told) is "behind" with the first
// line at least kBackConfirmNs after the offset was first seen whose offset
// stayed within kBehindSteadyNs of it throughout; told once, until a line
// comes within the tolerance again. A forwarder's backlog catches up faster
// and is not.
ClockJump TrackClock(int64_t ts_ns, int64_t received_ns, int64_t tolerance_ns, HostState* h);

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_CLOCK_JUMP_H_
