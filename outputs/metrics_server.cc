#include "outputs/metrics_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <vector>

#include "common/thread_name.h"

#ifndef KONSEKI_VERSION
#define KONSEKI_VERSION "unknown"
#endif

namespace konseki::outputs {
namespace {

constexpr int kListenBacklog = 128;

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

constexpr char kIndexPage[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>konseki</title></head>\n"
    "<body><h1>konseki</h1><p><a href=\"/metrics\">Metrics</a></p></body></html>\n";

// httplib only says "bind failed"; redo the bind once to learn why, so the
// operator reads "Address already in use" rather than a bare failure.
std::string WhyBindFails(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) return gai_strerror(rc);
  std::string why = "unknown reason";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      why = std::strerror(errno);
    } else if (listen(fd, 1) != 0) {
      why = std::strerror(errno);
    }
    close(fd);
  }
  freeaddrinfo(res);
  return why;
}

// httplib's task queue: one thread per connection, started on demand up to
// max_threads and kept for the next connections. With max_threads
// connections open, enqueue() holds httplib's accept loop, so further
// connections wait in the kernel's listen backlog (holding no descriptor of
// ours) and are accepted in order as threads free. httplib::ThreadPool
// starts all its threads up front and queues accepted sockets without limit.
class ConnectionThreads : public httplib::TaskQueue {
 public:
  explicit ConnectionThreads(size_t max_threads) : max_threads_(max_threads) {}
  ~ConnectionThreads() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mu_);
    room_.wait(lock, [this] { return active_ < max_threads_; });
    ++active_;
    jobs_.push_back(std::move(fn));
    if (jobs_.size() > idle_ && threads_.size() < max_threads_) {
      threads_.emplace_back([this] { Work(); });
    } else {
      cv_.notify_one();
    }
  }

  // Runs what is queued (each job serves and closes its socket), then joins.
  void shutdown() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      threads.swap(threads_);
    }
    cv_.notify_all();
    for (std::thread& t : threads) t.join();
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) return;  // stopping, nothing left
      std::function<void()> fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
      --active_;
      room_.notify_one();
    }
  }

  const size_t max_threads_;
  std::mutex mu_;                 // guards everything below
  std::condition_variable cv_;    // a job is queued, or stopping
  std::condition_variable room_;  // active_ fell below max_threads_
  std::deque<std::function<void()>> jobs_;
  size_t active_ = 0;  // connections queued or being served
  std::vector<std::thread> threads_;
  size_t idle_ = 0;  // threads waiting for a job
  bool stop_ = false;
};

}  // namespace

Status ParseListenAddress(const std::string& listen, std::string* host, uint16_t* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("metrics listen address \"" + listen +
                                   "\" has no port: write host:port, e.g. 127.0.0.1:9514");
  }
  std::string h = listen.substr(0, colon);
  const std::string p = listen.substr(colon + 1);
  if (!h.empty() && h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') {
      return Status::InvalidArgument("metrics listen address \"" + listen +
                                     "\": IPv6 host must be written [addr]:port");
    }
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string::npos) {
    return Status::InvalidArgument("metrics listen address \"" + listen +
                                   "\": put an IPv6 address in brackets, e.g. [::1]:9514");
  }
  if (h.empty()) h = "0.0.0.0";
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || value > 65535) {
    return Status::InvalidArgument("metrics listen address \"" + listen + "\": bad port \"" + p +
                                   "\" (want 0-65535)");
  }
  *host = std::move(h);
  *port = static_cast<uint16_t>(value);
  return Status::Ok();
}

MetricsServer::MetricsServer(MetricsRegistry& registry, const MetricsServerOptions& options)
    : registry_(registry),
      scrapes_(
          registry.GetCounter("konseki_metrics_scrapes_total", "GET /metrics requests answered.")),
      server_(std::make_unique<httplib::Server>()) {
  const std::string version = options.version.empty() ? KONSEKI_VERSION : options.version;
  registry_
      .GetGauge("konseki_build_info", "Always 1; the version label names the running build.",
                {{"version", version}})
      ->Set(1);

  // httplib's default sets SO_REUSEPORT, which would let a second konseki
  // silently share the port; keep only SO_REUSEADDR (fast restarts) and make
  // the socket close-on-exec so alert commands do not inherit it.
  server_->set_socket_options([this](socket_t sock) {
    listen_fd_ = sock;  // the last one tried is the one bound
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    fcntl(sock, F_SETFD, FD_CLOEXEC);
  });
  const size_t threads = options.max_connections == 0 ? 1 : options.max_connections;
  server_->new_task_queue = [threads] { return new ConnectionThreads(threads); };
  server_->set_read_timeout(options.read_timeout);
  server_->set_write_timeout(options.write_timeout);
  server_->set_keep_alive_timeout(options.read_timeout.count());
  server_->set_keep_alive_max_count(options.keep_alive_max_requests);
  // A scrape request has no body; refuse anything large before reading it.
  server_->set_payload_max_length(4096);

  server_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.method == "GET" || req.method == "HEAD")
      return httplib::Server::HandlerResponse::Unhandled;
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("method not allowed\n", "text/plain; charset=utf-8");
    return httplib::Server::HandlerResponse::Handled;
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    scrapes_->Inc();
    res.set_content(registry_.RenderPrometheus(), kContentType);
  });
  server_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kIndexPage, "text/html; charset=utf-8");
  });
  server_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404)
      res.set_content("not found; try /metrics\n", "text/plain; charset=utf-8");
  });
}

StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen,
                                                              MetricsRegistry& registry,
                                                              const MetricsServerOptions& options) {
  std::string host;
  uint16_t port = 0;
  if (Status s = ParseListenAddress(listen, &host, &port); !s.ok()) return s;

  std::unique_ptr<MetricsServer> server(new MetricsServer(registry, options));
  if (port == 0) {
    int bound = server->server_->bind_to_any_port(host);
    if (bound <= 0) {
      return Status::IoError("metrics: cannot listen on " + listen + ": " + WhyBindFails(host, 0));
    }
    server->port_ = static_cast<uint16_t>(bound);
  } else {
    if (!server->server_->bind_to_port(host, port)) {
      return Status::IoError("metrics: cannot listen on " + listen + ": " +
                             WhyBindFails(host, port));
    }
    server->port_ = port;
  }
  // httplib listens with a backlog of 5: connections beyond it wait for a
  // SYN retransmit (1 s, then 3 s...), so a few silent clients connecting at
  // once delayed a scrape's connect by seconds. Listening again changes it.
  if (server->listen_fd_ >= 0) ::listen(server->listen_fd_, kListenBacklog);
  httplib::Server* raw = server->server_.get();
  std::atomic<bool>* done = &server->serve_returned_;
  server->thread_ = std::thread([raw, done] {
    SetThreadName("metrics");  // httplib's pool threads inherit it
    raw->listen_after_bind();
    done->store(true, std::memory_order_release);
  });
  // httplib's stop() is a no-op until the accept loop runs; wait for it so a
  // Stop() right after Start() cannot leave the thread serving forever.
  while (!raw->is_running() && !done->load(std::memory_order_acquire)) {
    std::this_thread::yield();
  }
  return server;
}

void MetricsServer::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

MetricsServer::~MetricsServer() { Stop(); }

}  // namespace konseki::outputs
