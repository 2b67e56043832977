#pragma once

#include <string>
#include <string_view>

namespace konseki {

// Names the calling thread (Linux keeps 15 bytes; the rest is cut), so
// `top -H`, `ps -L`, perf and gdb tell konseki's threads apart: "worker 0",
// "udp 514", "tcp 601", "alerts file". Failing to name is not an error.
void SetThreadName(std::string_view name);

// The name a listener's thread gets: its scheme and port ("relp-tls 2514").
std::string ListenerThreadName(std::string_view scheme, unsigned port);

}  // namespace konseki
