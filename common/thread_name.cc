#include "common/thread_name.h"

#include <pthread.h>

namespace konseki {

void SetThreadName(std::string_view name) {
  char buf[16];
  const size_t n = name.size() < sizeof buf - 1 ? name.size() : sizeof buf - 1;
  name.copy(buf, n);
  buf[n] = '\0';
  pthread_setname_np(pthread_self(), buf);
}

std::string ListenerThreadName(std::string_view scheme, unsigned port) {
  std::string name(scheme);
  name += ' ';
  name += std::to_string(port);
  return name;
}

}  // namespace konseki
