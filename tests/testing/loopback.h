// Loopback sockets for tests that talk to a listener or the binary: a free
// port, a connection, whole sends. Everything is 127.0.0.1.
#ifndef KONSEKI_TESTS_TESTING_LOOPBACK_H_
#define KONSEKI_TESTS_TESTING_LOOPBACK_H_

#include <string>

namespace konseki::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0 where
// the code under test allows it; this is for a binary's config file).
int FreeTcpPort();
// A connected TCP socket (the caller closes it), or -1.
int ConnectTcp(int port);
// The same from a given source address (any 127/8 address is local on
// Linux), so a test can be several senders; -1 on failure.
int ConnectTcpFrom(const std::string& source, int port);
// Sends all of data (MSG_NOSIGNAL); false when the peer went away.
bool SendAll(int fd, const std::string& data);
// One datagram to 127.0.0.1:port.
void SendUdp(int port, const std::string& msg);

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_TESTING_LOOPBACK_H_
