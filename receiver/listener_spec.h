// ListenerSpec: one `listen:` entry of the config, parsed once: where to
// listen and what every listener kind (UDP, TCP, TLS, RELP) applies to its
// senders. Each kind's own options (UdpListenerOptions,
// StreamListenerOptions, RelpListenerOptions) carry the rest.
#ifndef KONSEKI_RECEIVER_LISTENER_SPEC_H_
#define KONSEKI_RECEIVER_LISTENER_SPEC_H_

#include <string>

#include "receiver/listen_address.h"
#include "receiver/sender_allowlist.h"
#include "receiver/token_bucket.h"

namespace konseki::receiver {

// A plain value; copyable.
struct ListenerSpec {
  std::string uri;                // as written ("udp://127.0.0.1:5514"), for messages
  ListenAddress address;          // uri, parsed
  SenderAllowlist allow;          // listen[].allow; empty: every sender
  TokenBucketOptions rate_limit;  // listen[].rate_limit, per sender; 0: unlimited
  int line = 0;                   // 1-based line in the config file, 0 if unknown
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_LISTENER_SPEC_H_
