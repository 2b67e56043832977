#include "receiver/tcp_listener.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace konseki::receiver {
namespace {

constexpr int kMaxEvents = 256;
// Connections accepted per round, so a connect storm cannot starve reads.
constexpr int kMaxAcceptsPerRound = 64;
// How often a blocked listener re-checks HasCapacity().
constexpr int kBackpressurePollMs = 5;
// How long accepting pauses after running out of file descriptors.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
// Wake-up period while an idle timeout is configured (the Clock may be fake,
// so it is consulted on each wake-up rather than slept on).
constexpr int kIdleCheckMs = 100;
// Longest wait before re-checking paused (rate-limited) connections; the
// Clock may be fake, so its time is re-read on each wake-up.
constexpr int kMaxRateLimitCheckMs = 100;

}  // namespace

StatusOr<std::unique_ptr<TcpListener>> TcpListener::Bind(const ListenAddress& address,
                                                         const TcpOptions& options,
                                                         uint16_t listener_id,
                                                         MetricsRegistry& metrics,
                                                         const Clock& clock) {
  if (address.transport != Transport::kTcp) {
    return Status::InvalidArgument("TCP listener given non-TCP address " + address.ToString());
  }
  if (options.max_message_bytes == 0 || options.read_chunk_bytes == 0 ||
      options.max_connections == 0 || options.idle_timeout_secs < 0 ||
      options.stop_timeout_ms < 0) {
    return Status::InvalidArgument(
        "TCP listener " + address.ToString() +
        ": max_message_bytes, read_chunk_bytes and max_connections must be positive, "
        "idle_timeout_secs and stop_timeout_ms >= 0");
  }
  if (Status s = options.limits.Validate(); !s.ok()) {
    return Status::InvalidArgument("listener " + address.ToString() + ": " + s.message());
  }
  if (Status s = options.rate_limit.Validate(); !s.ok()) {
    return Status::InvalidArgument("listener " + address.ToString() + ": " + s.message());
  }
  StatusOr<UniqueFd> fd = BindSocket(address, SOCK_STREAM);
  if (!fd.ok()) return fd.status();
  if (::listen(fd->get(), options.backlog) != 0) {
    return Status::FromErrno("listen " + address.ToString(), errno);
  }
  StatusOr<WakeFd> wake = WakeFd::Create();
  if (!wake.ok()) return wake.status();
  std::unique_ptr<TcpListener> l(new TcpListener(address, options, listener_id, metrics, clock,
                                                 std::move(fd).value(), std::move(wake).value()));
  l->epoll_fd_.Reset(epoll_create1(EPOLL_CLOEXEC));
  if (!l->epoll_fd_.valid()) return Status::FromErrno("epoll_create1", errno);
  for (int watched : {l->listen_fd_.get(), l->wake_.fd()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = watched;
    if (epoll_ctl(l->epoll_fd_.get(), EPOLL_CTL_ADD, watched, &ev) != 0) {
      return Status::FromErrno("epoll_ctl", errno);
    }
  }
  return l;
}

TcpListener::TcpListener(const ListenAddress& address, const TcpOptions& options,
                         uint16_t listener_id, MetricsRegistry& metrics, const Clock& clock,
                         UniqueFd fd, WakeFd wake)
    : options_(options),
      listener_id_(listener_id),
      clock_(clock),
      listen_fd_(std::move(fd)),
      wake_(std::move(wake)),
      read_buf_(options.read_chunk_bytes),
      reporter_(options.alerts, address.ToString(), "tcp", metrics, options.refusal_alerts),
      limiter_(options.rate_limit),
      limits_(options.limits, options.max_connections, metrics, address.ToString()) {
  port_ = BoundPort(listen_fd_.get());
  const std::string name = address.ToString();
  const Labels l = {{"listener", name}};
  const Labels lt = {{"listener", name}, {"transport", "tcp"}};
  received_messages_ =
      metrics.GetCounter("konseki_received_messages_total", "Messages received by a listener", lt);
  received_bytes_ = metrics.GetCounter("konseki_received_bytes_total",
                                       "Message bytes received by a listener", lt);
  truncated_ = metrics.GetCounter("konseki_truncated_messages_total",
                                  "Messages cut to the max message size", l);
  malformed_octet_count_ =
      metrics.GetCounter("konseki_framing_errors_total", "Input that could not be framed as sent",
                         {{"listener", name}, {"reason", "malformed_octet_count"}});
  incomplete_frame_ =
      metrics.GetCounter("konseki_framing_errors_total", "Input that could not be framed as sent",
                         {{"listener", name}, {"reason", "incomplete_frame"}});
  queue_full_drops_ = metrics.GetCounter("konseki_dropped_messages_total", "Messages dropped",
                                         {{"stage", "receiver"}, {"reason", "queue_full"}});
  accept_errors_ = metrics.GetCounter("konseki_accept_errors_total", "accept(2) failures", l);
  connections_ = metrics.GetGauge("konseki_connections", "Open connections", l);
  refused_senders_ = metrics.GetCounter("konseki_refused_senders_total",
                                        "Connections or datagrams from senders not allowed", lt);
  rate_limit_pauses_ = metrics.GetCounter(
      "konseki_rate_limit_pauses_total",
      "Times a connection stopped being read because its sender exceeded its rate limit", lt);
}

TcpListener::~TcpListener() { Stop(); }

void TcpListener::Start(FrameSink* sink) {
  sink_ = sink;
  last_idle_scan_ = clock_.Now();
  thread_ = std::thread([this] { Run(); });
}

void TcpListener::Stop() {
  if (!thread_.joinable()) return;
  wake_.Signal();
  thread_.join();
}

void TcpListener::PushFrame(const Connection& c, std::string_view bytes, bool truncated,
                            TimePoint now) {
  Frame f;
  f.bytes = bytes;
  f.sender = std::string_view(c.sender, c.sender_len);
  f.received = now;
  f.listener_id = listener_id_;
  f.truncated = truncated;
  ++pending_frames_;
  if (!sink_->Push(f)) ++pending_refused_;
}

bool TcpListener::AcceptSome() {
  for (int i = 0; i < kMaxAcceptsPerRound; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      if (errno == EINTR) continue;
      accept_errors_->Inc();
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Level-triggered epoll would report the pending connection forever:
        // stop watching the listen socket for a moment.
        epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, listen_fd_.get(), nullptr);
        accept_paused_ = true;
        accept_resume_ = std::chrono::steady_clock::now() + kAcceptPause;
        return false;
      }
      continue;  // ECONNABORTED and the like concern one connection only
    }
    const SenderAddress src = SenderAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&ss));
    if (!options_.allow.Allows(src)) {
      refused_senders_->Inc();
      ::close(fd);
      reporter_.Report(src, clock_.Now());
      continue;
    }
    int victim = -1;
    switch (limits_.Admit(src, conns_, &victim)) {
      case ConnectionLimits::Admission::kAdmit:
        break;
      case ConnectionLimits::Admission::kEvictFirst:
        CloseConnection(victim);
        break;
      case ConnectionLimits::Admission::kRefuse:
        ::close(fd);
        continue;
    }
    auto c = std::make_unique<Connection>();
    c->fd.Reset(fd);
    c->framer = Framer(options_.max_message_bytes, &framer_stats_);
    c->last_activity = clock_.Now();
    c->src = src;
    c->sender_len = FormatSender(reinterpret_cast<const sockaddr*>(&ss), c->sender).size();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      accept_errors_->Inc();
      continue;  // c closes fd
    }
    c->order = limits_.Added(src);
    conns_.emplace(fd, std::move(c));
    connections_->Set(static_cast<double>(conns_.size()));
  }
  return true;
}

void TcpListener::BeginStop(StopDrain* drain) {
  // Connections the kernel completed before the stop may hold all that a
  // sender sent before closing: take them too.
  if (!accept_paused_) {
    while (AcceptSome()) {
    }
  }
  accept_paused_ = false;
  // The rate limit no longer applies: what the senders sent is read now.
  draining_ = true;
  std::vector<int> resume;
  resume.swap(paused_);
  for (int fd : resume) {
    conns_.at(fd)->paused = false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) CloseConnection(fd);
  }
  drain->Begin(epoll_fd_.get(), &listen_fd_, wake_.fd());
}

bool TcpListener::ReadOnce(Connection* c, TimePoint now) {
  ssize_t n = ::recv(c->fd.get(), read_buf_.data(), read_buf_.size(), 0);
  if (n > 0) {
    pending_bytes_ += static_cast<uint64_t>(n);
    c->last_activity = now;
    const uint64_t frames_before = pending_frames_;
    c->framer.Feed(
        std::string_view(read_buf_.data(), static_cast<size_t>(n)),
        [&](std::string_view bytes, bool truncated) { PushFrame(*c, bytes, truncated, now); });
    if (pending_frames_ != frames_before) c->framed = true;
    if (limiter_.enabled() && !draining_ &&
        !limiter_.TakeWithDebt(c->src, now, static_cast<double>(pending_frames_ - frames_before))) {
      Pause(c);
    }
    return true;
  }
  if (n == 0) return false;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

void TcpListener::CloseConnection(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Connection* c = it->second.get();
  const TimePoint now = clock_.Now();
  c->framer.Finish(
      [&](std::string_view bytes, bool truncated) { PushFrame(*c, bytes, truncated, now); });
  if (c->paused) std::erase(paused_, fd);
  limits_.Removed(c->src);
  // close(2) removes the fd from the epoll set.
  conns_.erase(it);
  connections_->Set(static_cast<double>(conns_.size()));
}

void TcpListener::CloseIdle(TimePoint now) {
  std::vector<int> idle;
  limits_.Expired(now, conns_, &idle);
  for (int fd : idle) CloseConnection(fd);
  if (options_.idle_timeout_secs <= 0) return;
  if (now - last_idle_scan_ < std::chrono::seconds(1) &&
      now - last_idle_scan_ >= Duration::zero()) {
    return;
  }
  last_idle_scan_ = now;
  const auto limit = std::chrono::seconds(options_.idle_timeout_secs);
  idle.clear();
  for (const auto& [fd, c] : conns_) {
    // A paused connection is quiet because we do not read it.
    if (!c->paused && now - c->last_activity >= limit) idle.push_back(fd);
  }
  for (int fd : idle) CloseConnection(fd);
}

void TcpListener::Pause(Connection* c) {
  if (c->paused) return;
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, c->fd.get(), nullptr);
  c->paused = true;
  paused_.push_back(c->fd.get());
  rate_limit_pauses_->Inc();
}

int TcpListener::ResumeReady(TimePoint now) {
  std::vector<int> ready;
  const int timeout = limiter_.TakeResumable(now, kMaxRateLimitCheckMs, conns_, &paused_, &ready);
  for (int fd : ready) {
    Connection* c = conns_.at(fd).get();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    c->paused = false;
    c->last_activity = now;
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) CloseConnection(fd);
  }
  return timeout;
}

void TcpListener::PublishCounters() {
  if (pending_frames_ > 0) received_messages_->Inc(pending_frames_);
  if (pending_bytes_ > 0) received_bytes_->Inc(pending_bytes_);
  if (pending_refused_ > 0) queue_full_drops_->Inc(pending_refused_);
  pending_frames_ = pending_bytes_ = pending_refused_ = 0;
  const FramerStats& s = framer_stats_;
  FramerStats& p = published_stats_;
  if (s.truncated != p.truncated) truncated_->Inc(s.truncated - p.truncated);
  if (s.malformed_octet_count != p.malformed_octet_count) {
    malformed_octet_count_->Inc(s.malformed_octet_count - p.malformed_octet_count);
  }
  if (s.incomplete_at_close != p.incomplete_at_close) {
    incomplete_frame_->Inc(s.incomplete_at_close - p.incomplete_at_close);
  }
  p = s;
}

void TcpListener::CloseAll() {
  std::vector<int> fds;
  fds.reserve(conns_.size());
  for (const auto& [fd, c] : conns_) fds.push_back(fd);
  for (int fd : fds) CloseConnection(fd);
}

void TcpListener::Run() {
  std::vector<epoll_event> events(kMaxEvents);
  StopDrain drain{std::chrono::milliseconds(options_.stop_timeout_ms)};
  while (!drain.Done(conns_.size())) {
    if (!sink_->HasCapacity()) {
      // Backpressure: leave the data in the kernel. Only Stop() wakes us early.
      pollfd p{wake_.fd(), POLLIN, 0};
      if (poll(&p, drain.active() ? 0 : 1, kBackpressurePollMs) > 0) BeginStop(&drain);
      drain.Round(true);
      continue;
    }
    if (accept_paused_ && std::chrono::steady_clock::now() >= accept_resume_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = listen_fd_.get();
      epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_.get(), &ev);
      accept_paused_ = false;
    }
    int timeout = -1;
    if (options_.idle_timeout_secs > 0 || (limits_.needs_ticks() && !conns_.empty())) {
      timeout = kIdleCheckMs;
    }
    if (accept_paused_) timeout = static_cast<int>(kAcceptPause.count());
    const int resume_ms = ResumeReady(clock_.Now());
    if (resume_ms >= 0 && (timeout < 0 || resume_ms < timeout)) timeout = resume_ms;
    int n = epoll_wait(epoll_fd_.get(), events.data(), kMaxEvents, drain.Clamp(timeout));
    if (n < 0 && errno != EINTR) break;
    const TimePoint now = clock_.Now();
    const uint64_t bytes_before = pending_bytes_;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_.fd()) {
        if (!drain.active()) BeginStop(&drain);
      } else if (fd == listen_fd_.get()) {
        if (!drain.active()) AcceptSome();
      } else {
        // Events not handled this round stay pending (level-triggered).
        if (!sink_->HasCapacity()) break;
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        if (!ReadOnce(it->second.get(), now)) CloseConnection(fd);
      }
    }
    drain.Round(pending_bytes_ != bytes_before);
    CloseIdle(now);
    if (pending_frames_ > 0) sink_->Flush();
    PublishCounters();
  }
  CloseAll();
  sink_->Flush();
  PublishCounters();
  connections_->Set(0);
}

}  // namespace konseki::receiver
