#include "app/fd_budget.h"

#include "outputs/metrics_server.h"
#include "receiver/listen_address.h"

namespace konseki::app {

std::string FdBudget::Describe() const {
  return std::to_string(connections) + " connections (" + std::to_string(stream_listeners) +
         " stream listener" + (stream_listeners == 1 ? "" : "s") + " x tcp.max_connections) + " +
         std::to_string(listening_sockets) + " listening sockets + " + std::to_string(workers) +
         " workers x " + std::to_string(archive_files) + " archive files + " +
         (metrics_connections == 0
              ? std::string()
              : std::to_string(metrics_connections) + " metrics connections + ") +
         std::to_string(reserve) + " reserve = " + std::to_string(Total());
}

FdBudget ComputeFdBudget(const Config& config, size_t workers, size_t archive_files) {
  FdBudget b;
  b.workers = workers;
  b.archive_files = archive_files;
  if (!config.metrics_listen.empty()) {
    b.metrics_connections = outputs::MetricsServerOptions().max_connections;
  }
  for (const receiver::ListenerSpec& spec : config.listen) {
    ++b.listening_sockets;
    if (spec.address.transport == receiver::Transport::kUdp) continue;
    ++b.stream_listeners;
    b.connections += config.stream.max_connections;
  }
  return b;
}

StatusOr<rlim_t> FdSoftLimitFor(const FdBudget& budget, const struct rlimit& current) {
  if (current.rlim_max == RLIM_INFINITY || current.rlim_max >= budget.Total()) {
    return current.rlim_max;
  }
  return Status::InvalidArgument(
      "konseki may need " + budget.Describe() + " file descriptors, but the hard limit " +
      "RLIMIT_NOFILE is " + std::to_string(current.rlim_max) +
      ": set LimitNOFILE=" + std::to_string(budget.Total()) +
      " (or more) in konseki.service (`ulimit -Hn " + std::to_string(budget.Total()) +
      "` in a shell, as root), or lower tcp.max_connections " + "or workers");
}

}  // namespace konseki::app
