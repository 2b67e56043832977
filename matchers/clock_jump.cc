#include "matchers/clock_jump.h"

#include <algorithm>

namespace konseki::matchers {
namespace {

// The "behind" watch of TrackClock, for a line that showed no other jump.
void WatchBehind(int64_t received_ns, int64_t tolerance_ns, HostState* h, ClockJump* j) {
  if (j->offset_ns >= -tolerance_ns) {
    h->behind_rx_ns = 0;  // on time (or late within the tolerance): no slow clock
    h->behind_told = false;
    return;
  }
  // A step back waiting for its own proof tells it (as backwards).
  if (h->behind_told || h->back_rx_ns != 0) return;
  const int64_t band = std::min(tolerance_ns, kBehindSteadyNs);
  if (h->behind_rx_ns == 0 || j->offset_ns > h->behind_offset_ns + band ||
      j->offset_ns < h->behind_offset_ns - band) {
    // The first line behind, or the offset moved (a backlog catching up, a
    // queue growing): the minute of proof starts again from here.
    h->behind_rx_ns = received_ns;
    h->behind_offset_ns = j->offset_ns;
    return;
  }
  if (received_ns - h->behind_rx_ns < kBackConfirmNs) return;
  j->kind = "behind";
  j->jump_ns = -j->offset_ns;
  h->behind_rx_ns = 0;
  h->behind_told = true;
}

}  // namespace

ClockJump TrackClock(int64_t ts_ns, int64_t received_ns, int64_t tolerance_ns, HostState* h) {
  ClockJump j;
  j.offset_ns = ts_ns - received_ns;
  if (h->back_rx_ns != 0 && ts_ns >= h->last_ts_ns - tolerance_ns) {
    if (j.offset_ns > h->back_offset_ns + tolerance_ns) {
      h->back_rx_ns = 0;  // caught up faster than real time: replayed lines
    } else if (received_ns - h->back_rx_ns >= kBackConfirmNs) {
      j.kind = "backwards";
      j.jump_ns = h->back_jump_ns;
      j.previous_ts_ns = h->back_from_ts_ns;
      h->back_rx_ns = 0;
      h->last_ts_ns = std::max(h->last_ts_ns, ts_ns);
      h->offset_baseline_ns = std::max(h->offset_baseline_ns, j.offset_ns);
      // Behind the receive time now: told as this jump, not again as behind.
      h->behind_rx_ns = 0;
      h->behind_told = j.offset_ns < -tolerance_ns;
      return j;
    }
  }
  if (!h->has_ts) {
    h->has_ts = true;
    h->last_ts_ns = ts_ns;
    // A late first line is a queued one (a relay's or a forwarder's backlog
    // after an outage, a replay): the stamps catching up with the receive
    // time afterwards are no jump. Only a rise above the receive time is.
    h->offset_baseline_ns = std::max<int64_t>(j.offset_ns, 0);
    if (j.offset_ns > tolerance_ns) {
      j.kind = "ahead";
      j.jump_ns = j.offset_ns;
    }
  } else if (ts_ns < h->last_ts_ns - tolerance_ns) {
    // Held until a line at least kBackConfirmNs later keeps the new offset:
    // a clock set back runs on from there at the receive time's pace, while
    // older lines sent after newer ones (a backlog behind live lines, a
    // story replayed after another) catch up faster than real time.
    h->back_rx_ns = received_ns;
    h->back_offset_ns = j.offset_ns;
    h->back_jump_ns = h->last_ts_ns - ts_ns;
    h->back_from_ts_ns = h->last_ts_ns;
    h->last_ts_ns = ts_ns;
    // Stamps returning to the receive time after a step back are the clock
    // set right again, not a jump of its own.
    h->offset_baseline_ns = std::max<int64_t>(j.offset_ns, 0);
  } else if (j.offset_ns > h->offset_baseline_ns + tolerance_ns) {
    // The baseline is the highest offset seen: queueing only makes offsets
    // smaller, so a rise beyond it is the host's clock moving forward.
    j.kind = "forward";
    j.jump_ns = j.offset_ns - h->offset_baseline_ns;
    j.previous_ts_ns = h->last_ts_ns;
    h->offset_baseline_ns = j.offset_ns;
    h->last_ts_ns = std::max(h->last_ts_ns, ts_ns);
  } else {
    h->last_ts_ns = std::max(h->last_ts_ns, ts_ns);
    h->offset_baseline_ns = std::max(h->offset_baseline_ns, j.offset_ns);
  }
  if (j.kind.empty()) WatchBehind(received_ns, tolerance_ns, h, &j);
  return j;
}

}  // namespace konseki::matchers
