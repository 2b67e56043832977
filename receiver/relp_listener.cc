#include "receiver/relp_listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace konseki::receiver {
namespace {

constexpr int kMaxEvents = 256;
constexpr int kMaxAcceptsPerRound = 64;
// How often a listener blocked by a full pipeline re-checks HasCapacity()
// (acks and Stop wake it earlier).
constexpr int kBackpressurePollMs = 5;
// Deadline checks during Shutdown().
constexpr int kShutdownPollMs = 10;
constexpr uint64_t kListenTag = 0;
constexpr uint64_t kWakeTag = 1;
constexpr size_t kAckBatch = 1024;

}  // namespace

// One connection: its socket, its session, and input held back while the
// session's window is full.
struct RelpListener::Connection final : public RelpHandler {
  Connection(RelpListener* l, uint32_t s, const RelpSessionOptions& o, const RelpCounters* c)
      : listener(l), serial(s), session(o, this, c) {}
  void OnSyslog(uint32_t txnr, std::string_view data, bool truncated) override {
    listener->OnSyslog(this, txnr, data, truncated);
  }

  RelpListener* listener;
  const uint32_t serial;
  UniqueFd fd;
  RelpSession session;
  std::string held;           // read but not consumed by Feed (window full)
  uint32_t events = EPOLLIN;  // current epoll interest
  bool touched = false;       // in touched_ this round
  bool server_closed = false;
  char sender[kSenderTextSize];
  size_t sender_len = 0;
};

StatusOr<std::unique_ptr<RelpListener>> RelpListener::Bind(const ListenAddress& address,
                                                           const RelpListenerOptions& options,
                                                           uint16_t listener_id,
                                                           MetricsRegistry& metrics,
                                                           const Clock& clock) {
  if (address.transport != Transport::kRelp) {
    return Status::InvalidArgument("RELP listener given non-RELP address " + address.ToString());
  }
  if (options.max_message_bytes == 0 || options.read_chunk_bytes == 0 ||
      options.max_connections == 0 || options.max_unacked_per_connection == 0 ||
      options.shutdown_timeout_ms < 0) {
    return Status::InvalidArgument(
        "RELP listener " + address.ToString() +
        ": max_message_bytes, read_chunk_bytes, max_connections and max_unacked_per_connection "
        "must be positive, shutdown_timeout_ms >= 0");
  }
  StatusOr<UniqueFd> fd = BindSocket(address, SOCK_STREAM);
  if (!fd.ok()) return fd.status();
  if (::listen(fd->get(), options.backlog) != 0) {
    return Status::FromErrno("listen " + address.ToString(), errno);
  }
  StatusOr<WakeFd> wake = WakeFd::Create();
  if (!wake.ok()) return wake.status();
  std::unique_ptr<RelpListener> l(new RelpListener(address, options, listener_id, metrics, clock,
                                                   std::move(fd).value(), std::move(wake).value()));
  l->epoll_fd_.Reset(epoll_create1(EPOLL_CLOEXEC));
  if (!l->epoll_fd_.valid()) return Status::FromErrno("epoll_create1", errno);
  const std::pair<int, uint64_t> watched[] = {{l->listen_fd_.get(), kListenTag},
                                              {l->wake_.fd(), kWakeTag}};
  for (const auto& [wfd, tag] : watched) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (epoll_ctl(l->epoll_fd_.get(), EPOLL_CTL_ADD, wfd, &ev) != 0) {
      return Status::FromErrno("epoll_ctl", errno);
    }
  }
  return l;
}

RelpListener::RelpListener(const ListenAddress& address, const RelpListenerOptions& options,
                           uint16_t listener_id, MetricsRegistry& metrics, const Clock& clock,
                           UniqueFd fd, WakeFd wake)
    : options_(options),
      listener_id_(listener_id),
      clock_(clock),
      listen_fd_(std::move(fd)),
      wake_(std::move(wake)),
      relp_counters_(RelpCounters::Register(&metrics)),
      read_buf_(options.read_chunk_bytes),
      ack_buf_(kAckBatch) {
  port_ = BoundPort(listen_fd_.get());
  session_options_.max_data_bytes = options.max_message_bytes;
  session_options_.max_unacked = options.max_unacked_per_connection;
  const std::string name = address.ToString();
  const Labels l = {{"listener", name}};
  const Labels lt = {{"listener", name}, {"transport", "relp"}};
  received_messages_ =
      metrics.GetCounter("konseki_received_messages_total", "Messages received by a listener", lt);
  received_bytes_ = metrics.GetCounter("konseki_received_bytes_total",
                                       "Message bytes received by a listener", lt);
  truncated_ = metrics.GetCounter("konseki_truncated_messages_total",
                                  "Messages cut to the max message size", l);
  queue_full_drops_ = metrics.GetCounter("konseki_dropped_messages_total", "Messages dropped",
                                         {{"stage", "receiver"}, {"reason", "queue_full"}});
  rejected_max_connections_ =
      metrics.GetCounter("konseki_connections_rejected_total", "Connections closed on accept",
                         {{"listener", name}, {"reason", "max_connections"}});
  accept_errors_ = metrics.GetCounter("konseki_accept_errors_total", "accept(2) failures", l);
  late_acks_ = metrics.GetCounter(
      "konseki_relp_late_acks_total",
      "Acknowledgements for messages whose RELP connection had closed (the sender resends them)",
      l);
  connections_ = metrics.GetGauge("konseki_connections", "Open connections", l);
}

RelpListener::~RelpListener() { Shutdown(); }

void RelpListener::Start(FrameSink* sink) {
  sink_ = sink;
  thread_ = std::thread([this] { Run(); });
}

void RelpListener::Stop() {
  if (!thread_.joinable() || phase_.load() >= 1) return;
  phase_.store(1, std::memory_order_release);
  wake_.Signal();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return sink_released_; });
}

void RelpListener::Shutdown() {
  if (!thread_.joinable()) return;
  Stop();
  phase_.store(2, std::memory_order_release);
  wake_.Signal();
  thread_.join();
}

void RelpListener::Acknowledge(const uint64_t* cookies, size_t count) {
  if (count == 0) return;
  acks_.enqueue_bulk(cookies, count);
  wake_.Signal();
}

void RelpListener::OnSyslog(Connection* c, uint32_t txnr, std::string_view data, bool truncated) {
  Frame f;
  f.bytes = data;
  f.sender = std::string_view(c->sender, c->sender_len);
  f.received = round_now_;
  f.listener_id = listener_id_;
  f.truncated = truncated;
  f.ack_cookie = (static_cast<uint64_t>(c->serial) << 32) | txnr;
  ++pending_frames_;
  if (truncated) ++pending_truncated_;
  // A refused frame is never acknowledged: the sender keeps and resends it.
  if (!sink_->Push(f)) ++pending_refused_;
}

void RelpListener::AcceptSome() {
  for (int i = 0; i < kMaxAcceptsPerRound; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      accept_errors_->Inc();
      return;  // out of descriptors and the like: retried on the next round
    }
    if (conns_.size() >= options_.max_connections) {
      rejected_max_connections_->Inc();
      ::close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint32_t serial = next_serial_++;
    if (next_serial_ < 2) next_serial_ = 2;  // after 2^32 connections
    auto c = std::make_unique<Connection>(this, serial, session_options_, &relp_counters_);
    c->fd.Reset(fd);
    c->sender_len = FormatSender(reinterpret_cast<const sockaddr*>(&ss), c->sender).size();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = serial;
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      accept_errors_->Inc();
      continue;  // c closes fd
    }
    conns_.emplace(serial, std::move(c));
    connections_->Set(static_cast<double>(conns_.size()));
  }
}

void RelpListener::FeedHeld(Connection* c) {
  if (c->held.empty() || stopping_ || !c->session.WantsInput() || !sink_->HasCapacity()) return;
  size_t used = c->session.Feed(c->held);
  if (c->session.Done()) {
    c->held.clear();
  } else {
    c->held.erase(0, used);
  }
}

bool RelpListener::ReadOnce(Connection* c) {
  if (!c->held.empty()) {
    FeedHeld(c);
    return true;
  }
  ssize_t n = ::recv(c->fd.get(), read_buf_.data(), read_buf_.size(), 0);
  if (n > 0) {
    pending_bytes_ += static_cast<uint64_t>(n);
    std::string_view in(read_buf_.data(), static_cast<size_t>(n));
    size_t used = c->session.Feed(in);
    if (used < in.size() && !c->session.Done()) {
      c->held.assign(in.substr(used));
      held_.push_back(c->serial);
    }
    return true;
  }
  if (n == 0) return false;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

bool RelpListener::WriteOut(Connection* c) {
  while (!c->session.PendingOutput().empty()) {
    std::string_view out = c->session.PendingOutput();
    ssize_t n = ::send(c->fd.get(), out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c->session.ConsumeOutput(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  return true;
}

bool RelpListener::Settle(Connection* c) {
  const bool output = !c->session.PendingOutput().empty();
  if (c->session.Done() && !output) {
    CloseConnection(c->serial);
    return false;
  }
  uint32_t want = 0;
  if (!stopping_ && c->held.empty() && c->session.WantsInput()) want |= EPOLLIN;
  if (output) want |= EPOLLOUT;
  if (want != c->events) {
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c->serial;
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, c->fd.get(), &ev);
    c->events = want;
  }
  return true;
}

void RelpListener::CloseConnection(uint32_t serial) {
  // close(2) removes the fd from the epoll set. Its unanswered messages stay
  // with the sender; acks still to come for them count as late.
  if (conns_.erase(serial) > 0) connections_->Set(static_cast<double>(conns_.size()));
}

void RelpListener::ApplyAcks() {
  size_t n;
  while ((n = acks_.try_dequeue_bulk(ack_buf_.begin(), ack_buf_.size())) > 0) {
    for (size_t i = 0; i < n; ++i) {
      const uint64_t cookie = ack_buf_[i];
      auto it = conns_.find(static_cast<uint32_t>(cookie >> 32));
      if (it == conns_.end() || !it->second->session.Ack(static_cast<uint32_t>(cookie))) {
        ++pending_late_acks_;
        continue;
      }
      Connection* c = it->second.get();
      if (!c->touched) {
        c->touched = true;
        touched_.push_back(c->serial);
      }
    }
  }
  for (uint32_t serial : touched_) {
    auto it = conns_.find(serial);
    if (it == conns_.end()) continue;
    Connection* c = it->second.get();
    c->touched = false;
    FeedHeld(c);
    if (stopping_ && !c->server_closed && c->session.unacked() == 0) {
      c->session.ServerClose();
      c->server_closed = true;
    }
    if (!WriteOut(c)) {
      CloseConnection(serial);
      continue;
    }
    Settle(c);
  }
  touched_.clear();
}

void RelpListener::RefeedHeld() {
  size_t keep = 0;
  for (uint32_t serial : held_) {
    auto it = conns_.find(serial);
    if (it == conns_.end()) continue;
    Connection* c = it->second.get();
    FeedHeld(c);
    if (!WriteOut(c)) {
      CloseConnection(serial);
      continue;
    }
    if (!Settle(c)) continue;
    if (!c->held.empty()) held_[keep++] = serial;
  }
  held_.resize(keep);
}

void RelpListener::EnterStopping() {
  stopping_ = true;
  held_.clear();
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, listen_fd_.get(), nullptr);
  listen_fd_.Reset();  // new connections are refused from now on
  sink_->Flush();
  PublishCounters();
  {
    std::lock_guard<std::mutex> lock(mu_);
    sink_released_ = true;
  }
  cv_.notify_all();
  std::vector<uint32_t> serials;
  for (const auto& [serial, c] : conns_) serials.push_back(serial);
  for (uint32_t serial : serials) {
    Connection* c = conns_[serial].get();
    // Never fed, so never acked: the sender resends it.
    c->held.clear();
    if (c->session.unacked() == 0) {
      c->session.ServerClose();
      c->server_closed = true;
    }
    if (!WriteOut(c)) {
      CloseConnection(serial);
      continue;
    }
    Settle(c);
  }
}

void RelpListener::PublishCounters() {
  if (pending_frames_ > 0) received_messages_->Inc(pending_frames_);
  if (pending_bytes_ > 0) received_bytes_->Inc(pending_bytes_);
  if (pending_truncated_ > 0) truncated_->Inc(pending_truncated_);
  if (pending_refused_ > 0) queue_full_drops_->Inc(pending_refused_);
  if (pending_late_acks_ > 0) late_acks_->Inc(pending_late_acks_);
  pending_frames_ = pending_bytes_ = pending_truncated_ = pending_refused_ = pending_late_acks_ = 0;
}

void RelpListener::Run() {
  std::vector<epoll_event> events(kMaxEvents);
  std::chrono::steady_clock::time_point deadline{};
  bool deadline_set = false;
  for (;;) {
    const int phase = phase_.load(std::memory_order_acquire);
    if (phase >= 1 && !stopping_) EnterStopping();
    if (phase == 2) {
      if (!deadline_set) {
        deadline = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(options_.shutdown_timeout_ms);
        deadline_set = true;
      }
      if (conns_.empty() || std::chrono::steady_clock::now() >= deadline) break;
    }
    round_now_ = clock_.Now();
    ApplyAcks();
    if (!stopping_ && !held_.empty() && sink_->HasCapacity()) RefeedHeld();
    // Frames fed outside an epoll round must reach the workers before we
    // block: their acks are what wakes us.
    if (!stopping_ && pending_frames_ > 0) sink_->Flush();
    if (pending_frames_ > 0 || pending_late_acks_ > 0) PublishCounters();
    if (!stopping_ && !sink_->HasCapacity()) {
      // Backpressure: leave the data in the kernel; acks and Stop wake us.
      if (pending_frames_ > 0) sink_->Flush();
      PublishCounters();
      pollfd p{wake_.fd(), POLLIN, 0};
      if (poll(&p, 1, kBackpressurePollMs) > 0) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = ::read(wake_.fd(), &v, sizeof v);
      }
      continue;
    }
    const int timeout = phase == 2 ? kShutdownPollMs : -1;
    int n = epoll_wait(epoll_fd_.get(), events.data(), kMaxEvents, timeout);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      const uint32_t ev = events[i].events;
      if (tag == kWakeTag) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = ::read(wake_.fd(), &v, sizeof v);
        continue;
      }
      if (tag == kListenTag) {
        if (!stopping_) AcceptSome();
        continue;
      }
      auto it = conns_.find(static_cast<uint32_t>(tag));
      if (it == conns_.end()) continue;
      Connection* c = it->second.get();
      if (ev & EPOLLOUT) {
        if (!WriteOut(c)) {
          CloseConnection(c->serial);
          continue;
        }
      }
      if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (stopping_ || (c->events & EPOLLIN) == 0) {
          // Not reading: only a hang-up or error matters.
          if (ev & (EPOLLHUP | EPOLLERR)) {
            CloseConnection(c->serial);
            continue;
          }
        } else {
          // Events not handled this round stay pending (level-triggered).
          if (!sink_->HasCapacity()) continue;
          if (!ReadOnce(c) || !WriteOut(c)) {
            CloseConnection(c->serial);
            continue;
          }
        }
      }
      Settle(c);
    }
    if (!stopping_ && pending_frames_ > 0) sink_->Flush();
    PublishCounters();
  }
  // Final: whatever is still unacknowledged stays with the senders.
  for (auto& [serial, c] : conns_) {
    if (!c->server_closed) c->session.ServerClose();
    WriteOut(c.get());
  }
  conns_.clear();
  PublishCounters();
  connections_->Set(0);
  // Also after an epoll failure ended the loop early: Stop() must not wait.
  {
    std::lock_guard<std::mutex> lock(mu_);
    sink_released_ = true;
  }
  cv_.notify_all();
}

}  // namespace konseki::receiver
