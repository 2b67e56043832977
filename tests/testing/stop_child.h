// Stopping a child process a test started (rsyslogd, prometheus, ...), by
// its pid: never by name, so nothing else on the machine is touched.
#ifndef KONSEKI_TESTS_TESTING_STOP_CHILD_H_
#define KONSEKI_TESTS_TESTING_STOP_CHILD_H_

#include <sys/types.h>

#include <chrono>

namespace konseki::testing {

// SIGTERM, then waits up to `grace` for the child to exit and SIGKILLs it if
// it has not; the child is always reaped. Returns its exit status, or -1 if
// it died of a signal (the SIGKILL included). pid <= 0: does nothing, -1.
int StopChild(pid_t pid, std::chrono::milliseconds grace = std::chrono::seconds(5));

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_TESTING_STOP_CHILD_H_
