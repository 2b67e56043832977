// The daemon's local control socket: a Unix stream socket (no network) that
// `konseki status`, `konseki hosts` and the other console commands ask.
//
// Protocol: the client sends one request line ("status\n", "hosts\n", at
// most 256 bytes); the server answers with one JSON document followed by
// "\n" and closes the connection. Unknown requests get {"error": "..."}.
//
// Access: the socket file is mode 0660, owned by whoever binds it; the
// server binds it as the run-as user (app/file_identity.h), so members of the
// daemon's group can ask without sudo. It is bound before the privilege drop
// and the chroot and keeps working after both (the descriptor stays open;
// clients outside the chroot use the path as configured).
//
// Usage:
//   auto cs = ControlSocket::Bind(opts, [&](std::string_view req) { ... });
//   (*cs)->Start();   // one thread serves every client at once (poll), the
//                     // handler called for one request at a time
//   ...
//   (*cs)->Stop();    // also done by the destructor
#ifndef KONSEKI_APP_CONTROL_SOCKET_H_
#define KONSEKI_APP_CONTROL_SOCKET_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "common/status.h"
#include "receiver/unique_fd.h"

namespace konseki::app {

struct ControlSocketOptions {
  // Socket path; its parent directory is created if missing. A stale socket
  // left by a killed konseki is replaced. At most 107 bytes (sun_path).
  std::string path;
  // A client that does not send its line (or read the answer) within this
  // time is dropped. Clients are served at once, so a stuck one (or many,
  // up to 16 held open; past that the oldest is dropped) delays no other.
  int io_timeout_ms = 2000;
};

// Not copyable. Start/Stop from one (control) thread; the handler runs on the
// socket's own thread, one request at a time, and must be thread-safe with
// respect to the rest of the process.
class ControlSocket {
 public:
  using Handler = std::function<std::string(std::string_view request)>;

  static StatusOr<std::unique_ptr<ControlSocket>> Bind(const ControlSocketOptions& options,
                                                       Handler handler);
  ~ControlSocket();
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  void Start();
  // Stops serving and removes the socket file (best effort: after a
  // privilege drop the directory may no longer be writable).
  void Stop();
  const std::string& path() const { return options_.path; }

 private:
  ControlSocket(const ControlSocketOptions& options, Handler handler, receiver::UniqueFd fd,
                receiver::UniqueFd wake);
  void Run();

  const ControlSocketOptions options_;
  const Handler handler_;
  receiver::UniqueFd fd_;
  receiver::UniqueFd wake_;  // eventfd: Stop wakes the poll
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Client side: sends `request` to the socket at `path` and returns the answer
// (without the trailing newline). Unavailable when nobody listens there (the
// daemon is down), with the reason.
StatusOr<std::string> AskControlSocket(const std::string& path, std::string_view request,
                                       int timeout_ms = 5000);

}  // namespace konseki::app

#endif  // KONSEKI_APP_CONTROL_SOCKET_H_
