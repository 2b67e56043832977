// How many file descriptors konseki may need at once, and the start-up check
// that RLIMIT_NOFILE allows them.
//
// Every descriptor user has its own cap: each stream listener (tcp://, tls://,
// relp://, relp+tls://) holds at most tcp.max_connections connections plus
// its listening socket, a UDP listener one socket, and each worker's archive
// at most ArchiveOptions::max_open_files files, the metrics endpoint at most
// MetricsServerOptions::max_connections. The budget is their sum plus
// kFdReserve for everything else (archive and state folders, the background
// sync, heartbeat state writes, alert file and sinks, rule files on SIGHUP). When the limit covers
// the budget, a connection flood reaches a listener's cap (counted, refused) long before EMFILE, so
// the archive, sync and state paths never run out of descriptors.
#ifndef KONSEKI_APP_FD_BUDGET_H_
#define KONSEKI_APP_FD_BUDGET_H_

#include <sys/resource.h>

#include <cstddef>
#include <string>

#include "app/config.h"
#include "common/status.h"

namespace konseki::app {

// Descriptors kept for everything that has no cap of its own.
inline constexpr size_t kFdReserve = 64;

// A plain value; the parts are kept for the error message.
struct FdBudget {
  size_t stream_listeners = 0;   // tcp, tls, relp and relp+tls listeners
  size_t connections = 0;        // sum of their connection caps
  size_t listening_sockets = 0;  // one per listener, UDP included
  size_t workers = 0;
  size_t archive_files = 0;  // max_open_files per worker
  size_t metrics_connections = 0;
  size_t reserve = kFdReserve;

  size_t Total() const {
    return connections + listening_sockets + workers * archive_files + metrics_connections +
           reserve;
  }
  // "4096 connections (1 stream listener x 4096) + 2 listening sockets +
  // 2 workers x 256 archive files + 64 reserve = 4674".
  std::string Describe() const;
};

// The budget of `config` run with `workers` workers, each archive keeping up
// to `archive_files` open files. Listener URIs are assumed valid (config
// parsing checked them).
FdBudget ComputeFdBudget(const Config& config, size_t workers, size_t archive_files);

// The soft limit to set for `budget` given the current limit: the hard limit
// (more descriptors cost nothing until used). An error, saying the numbers
// and what to set (LimitNOFILE= in the unit, ulimit -Hn, or smaller caps),
// when the hard limit is below the budget. Pure: main applies the result.
StatusOr<rlim_t> FdSoftLimitFor(const FdBudget& budget, const struct rlimit& current);

}  // namespace konseki::app

#endif  // KONSEKI_APP_FD_BUDGET_H_
