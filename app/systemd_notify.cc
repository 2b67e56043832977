#include "app/systemd_notify.h"

#include <time.h>

#ifdef KONSEKI_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace konseki::app {
namespace {

uint64_t MonotonicUsec() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

void Notify(const std::string& state) {
#ifdef KONSEKI_HAVE_SYSTEMD
  sd_notify(0, state.c_str());
#else
  (void)state;
#endif
}

}  // namespace

SystemdNotifier::SystemdNotifier() {
#ifdef KONSEKI_HAVE_SYSTEMD
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0) watchdog_usec_ = usec;
#endif
}

void SystemdNotifier::Ready(const std::string& status) { Notify("READY=1\nSTATUS=" + status); }

void SystemdNotifier::Reloading() {
  Notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(MonotonicUsec()));
}

void SystemdNotifier::Stopping() { Notify("STOPPING=1"); }

void SystemdNotifier::Watchdog() {
  if (watchdog_usec_ == 0) return;
  const uint64_t now = MonotonicUsec();
  if (now - last_ping_usec_ < watchdog_usec_ / 2) return;
  last_ping_usec_ = now;
  Notify("WATCHDOG=1");
}

}  // namespace konseki::app
