// Prometheus scrape endpoint: serves MetricsRegistry::RenderPrometheus() at
// GET /metrics over plain HTTP (cpp-httplib).
//
// Slow and silent clients: each connection is served on its own thread
// (started on demand, up to max_connections, then kept for reuse), so a
// client that connects and sends nothing holds only its own thread, and only
// until read_timeout. With the former two shared threads and 5 s timeouts,
// 40 silent connections made a scrape wait 99 s; now a scrape is answered at
// once while fewer than max_connections clients hold connections. Past that,
// new connections wait in the kernel's listen backlog (128) and are accepted
// in order as threads free, each within read_timeout: a flood delays a
// scrape by about (waiting connections / max_connections) * read_timeout,
// never for good, and the endpoint never holds more than max_connections
// descriptors (app/fd_budget.h counts them).
#ifndef KONSEKI_OUTPUTS_METRICS_SERVER_H_
#define KONSEKI_OUTPUTS_METRICS_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/metrics.h"
#include "common/status.h"

namespace httplib {
class Server;
}

namespace konseki::outputs {

struct MetricsServerOptions {
  // Connections served at once, one thread each (a thread's stack is mostly
  // untouched virtual memory). 0 is taken as 1.
  size_t max_connections = 64;
  // A client that sends nothing for this long (before its first request or
  // between keep-alive requests, or in the middle of one) is disconnected, so
  // a slow or silent client holds a thread at most this long per read.
  std::chrono::seconds read_timeout{2};
  std::chrono::seconds write_timeout{5};
  // Requests served on one keep-alive connection before it is closed.
  size_t keep_alive_max_requests = 10;
  // Value of the version label of konseki_build_info; empty = this build's.
  std::string version;
};

// Endpoints: GET/HEAD /metrics (text format 0.0.4), GET/HEAD / (a small HTML
// page linking /metrics), 404 for other paths, 405 for other methods.
//
// Registers in the registry: konseki_build_info{version} = 1 and
// konseki_metrics_scrapes_total.
//
// Thread-safety: Stop() and port() may be called from any thread. The
// registry must outlive the server.
class MetricsServer {
 public:
  // Binds `listen` synchronously and starts serving on a background thread.
  // listen is "host:port": "127.0.0.1:9514", "[::1]:0", "0.0.0.0:9514", or
  // ":9514" for every IPv4 address. Port 0 picks a free port (see port()).
  // Errors (bad address, address in use, permission) name the address.
  static StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                        MetricsRegistry& registry,
                                                        const MetricsServerOptions& options = {});

  ~MetricsServer();  // Stops.
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The bound port (the chosen one when asked for port 0).
  uint16_t port() const { return port_; }

  // Stops accepting, finishes in-flight requests and joins the threads.
  // Idempotent.
  void Stop();

 private:
  MetricsServer(MetricsRegistry& registry, const MetricsServerOptions& options);

  MetricsRegistry& registry_;
  Counter* scrapes_;
  std::unique_ptr<httplib::Server> server_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;  // owned by server_
  std::atomic<bool> serve_returned_{false};
  std::mutex stop_mu_;  // serializes Stop()
  std::thread thread_;
};

// Splits "host:port" / "[v6]:port" / ":port" into host and port. Exposed for
// tests and for the config loader's validation.
Status ParseListenAddress(const std::string& listen, std::string* host, uint16_t* port);

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_METRICS_SERVER_H_
