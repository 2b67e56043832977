// Tells systemd (Type=notify) how the daemon is doing: READY=1 once every
// listener is bound and the privileges dropped, RELOADING=1/READY=1 around
// SIGHUP, STOPPING=1 on SIGTERM, and WATCHDOG=1 from the control loop when
// the unit sets WatchdogSec= (a stuck control loop gets the daemon
// restarted). Without systemd (no NOTIFY_SOCKET) or without libsystemd at
// build time every call does nothing.
#ifndef KONSEKI_APP_SYSTEMD_NOTIFY_H_
#define KONSEKI_APP_SYSTEMD_NOTIFY_H_

#include <cstdint>
#include <string>

namespace konseki::app {

// Not thread-safe: called from main's control loop only.
class SystemdNotifier {
 public:
  SystemdNotifier();
  void Ready(const std::string& status);
  void Reloading();
  void Stopping();
  // Sends WATCHDOG=1 when at least half the watchdog interval has passed
  // since the last one; cheap to call every loop iteration.
  void Watchdog();
  bool watchdog_enabled() const { return watchdog_usec_ > 0; }

 private:
  uint64_t watchdog_usec_ = 0;
  uint64_t last_ping_usec_ = 0;
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_SYSTEMD_NOTIFY_H_
