// What app/ sees of every listener kind (udp://, tcp://, tls://, relp://,
// relp+tls://): bind elsewhere (each kind's Bind factory), then Start, stop
// in two phases, and say where acknowledgements go. The server holds a
// std::unique_ptr<Listener> per configured listener and knows no kind.
//
// Stopping is two-phase because a listener that answers its senders only
// once a message is stored (RELP) must outlive the workers' drain:
//   RequestStop()  begin stopping, do not wait (so every listener drains at
//                  the same time); optional, Stop() does it too.
//   Stop()         stop taking input; when it returns the listener has
//                  flushed its sink and never uses it again.
//   Shutdown()     after the workers drained: deliver the last
//                  acknowledgements, close everything and join.
#ifndef KONSEKI_RECEIVER_LISTENER_H_
#define KONSEKI_RECEIVER_LISTENER_H_

#include <cstdint>

#include "common/frame.h"

namespace konseki::receiver {

// Thread-safety: Start, RequestStop, Stop, Shutdown and the destructor are
// called from one control thread; port() and ack_sink() from any thread.
// The destructor stops and shuts down if needed.
class Listener {
 public:
  virtual ~Listener() = default;

  // The bound port (the kernel's choice when the address said port 0).
  virtual uint16_t port() const = 0;
  // Starts the listener's thread. sink must stay valid until Stop() returns
  // and is used only by that thread. Call at most once.
  virtual void Start(FrameSink* sink) = 0;
  // Starts what Stop() does without waiting for it. Thread-safe.
  virtual void RequestStop() = 0;
  // Stops taking input and flushes the sink; the sink is not used once this
  // returns. Idempotent.
  virtual void Stop() = 0;
  // After the workers drained (every Acknowledge they will make is made):
  // answers what is left, closes every connection and joins. Bounded (each
  // kind's options say how long). Calls Stop() first if needed. Idempotent.
  virtual void Shutdown() = 0;
  // Where the pipeline reports frames stored (Frame::ack_cookie), or null if
  // this listener does not acknowledge (then cookies are 0).
  virtual AckSink* ack_sink() { return nullptr; }
  // True if a frame the pipeline cannot take is to be dropped (and counted)
  // rather than waited for: a datagram listener cannot push back.
  virtual bool drops_when_full() const { return false; }
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_LISTENER_H_
