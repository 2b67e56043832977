#include "tests/testing/stop_child.h"

#include <signal.h>
#include <sys/wait.h>

#include "tests/testing/wait_for.h"

namespace konseki::testing {

int StopChild(pid_t pid, std::chrono::milliseconds grace) {
  if (pid <= 0) return -1;
  kill(pid, SIGTERM);
  int status = 0;
  if (!WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, grace)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace konseki::testing
