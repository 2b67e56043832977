#include "receiver/stream_listener.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace konseki::receiver {
namespace {

constexpr int kMaxEvents = 256;
// Connections accepted per round, so a connect storm cannot starve reads.
constexpr int kMaxAcceptsPerRound = 64;
// How often a blocked listener re-checks HasCapacity().
constexpr int kBackpressurePollMs = 5;
// How long accepting pauses after running out of file descriptors.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
// Wake-up period while connections are open, to check handshake and idle
// timeouts on the injected Clock (which may be fake, so it is consulted on
// each wake-up rather than slept on).
constexpr int kTimeoutCheckMs = 100;
// Longest wait before re-checking paused (rate-limited) connections; the
// Clock may be fake, so its time is re-read on each wake-up.
constexpr int kMaxRateLimitCheckMs = 100;

}  // namespace

struct StreamListener::Connection {
  UniqueFd fd;
  std::unique_ptr<StreamConnection> stream;  // declared after fd: freed first
  Framer framer;
  bool failed = false;      // EOF or error seen: no close_notify
  bool in_pending = false;  // listed in pending_
  bool paused = false;      // out of tokens: not in the epoll set
  bool framed = false;      // a frame completed
  uint64_t order = 0;       // accept order (ConnectionLimits)
  uint32_t events = EPOLLIN;
  TimePoint accepted;
  TimePoint last_activity;
  char sender[kSenderTextSize];
  size_t sender_len = 0;
  SenderAddress src;
};

StatusOr<std::unique_ptr<StreamListener>> StreamListener::Bind(
    const ListenAddress& address, const StreamListenerOptions& options, uint16_t listener_id,
    MetricsRegistry& metrics, const Clock& clock, std::unique_ptr<StreamTransport> transport) {
  const bool plain = address.transport == Transport::kTcp;
  if (!plain && address.transport != Transport::kTls) {
    return Status::InvalidArgument("stream listener given non-TCP/TLS address " +
                                   address.ToString());
  }
  if (plain != (transport == nullptr)) {
    return Status::InvalidArgument(
        "listener " + address.ToString() +
        (plain ? ": a transport is for tls:// only" : ": tls:// needs a TLS transport"));
  }
  if (options.max_message_bytes == 0 || options.read_chunk_bytes == 0 ||
      options.max_connections == 0 || options.handshake_timeout_secs <= 0 ||
      options.idle_timeout_secs < 0 || options.stop_timeout_ms < 0) {
    return Status::InvalidArgument(
        "listener " + address.ToString() +
        ": max_message_bytes, read_chunk_bytes, max_connections and handshake_timeout_secs "
        "must be positive, idle_timeout_secs and stop_timeout_ms >= 0");
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
  std::unique_ptr<StreamListener> l(
      new StreamListener(address, options, listener_id, metrics, clock, std::move(fd).value(),
                         std::move(wake).value(), std::move(transport)));
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

StreamListener::StreamListener(const ListenAddress& address, const StreamListenerOptions& options,
                               uint16_t listener_id, MetricsRegistry& metrics, const Clock& clock,
                               UniqueFd fd, WakeFd wake, std::unique_ptr<StreamTransport> transport)
    : options_(options),
      transport_(std::move(transport)),
      listener_id_(listener_id),
      clock_(clock),
      listen_fd_(std::move(fd)),
      wake_(std::move(wake)),
      read_buf_(options.read_chunk_bytes),
      reporter_(options.alerts, address.ToString(), std::string(TransportName(address.transport)),
                metrics, options.refusal_alerts),
      limiter_(options.rate_limit),
      limits_(options.limits, options.max_connections, metrics, address.ToString()) {
  port_ = BoundPort(listen_fd_.get());
  const std::string name = address.ToString();
  const Labels l = {{"listener", name}};
  const Labels lt = {{"listener", name},
                     {"transport", std::string(TransportName(address.transport))}};
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

StreamListener::~StreamListener() { Stop(); }

void StreamListener::Start(FrameSink* sink) {
  sink_ = sink;
  last_expiry_scan_ = clock_.Now();
  thread_ = std::thread([this] { Run(); });
}

void StreamListener::Stop() {
  if (!thread_.joinable()) return;
  wake_.Signal();
  thread_.join();
}

void StreamListener::PushFrame(const Connection& c, std::string_view bytes, bool truncated,
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

bool StreamListener::AcceptSome() {
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
        epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, listen_fd_.get(), nullptr);
        accept_paused_ = true;
        accept_resume_ = std::chrono::steady_clock::now() + kAcceptPause;
        return false;
      }
      continue;
    }
    // Before any TLS work: a refused sender costs an accept and a close.
    const SenderAddress src = SenderAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&ss));
    if (!options_.allow.Allows(src)) {
      refused_senders_->Inc();
      ::close(fd);
      reporter_.Report(src, clock_.Now());
      continue;
    }
    int victim = -1;
    switch (limits_.Admit(src, conns_, &victim, /*may_evict=*/!draining_)) {
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
    if (transport_ != nullptr) {
      c->stream = transport_->Wrap(fd);
    } else {
      c->stream = std::make_unique<PlainConnection>(fd);
    }
    if (c->stream == nullptr) {
      accept_errors_->Inc();
      continue;  // c closes fd
    }
    c->framer = Framer(options_.max_message_bytes, &framer_stats_);
    c->accepted = c->last_activity = clock_.Now();
    c->src = src;
    c->sender_len = FormatSender(reinterpret_cast<const sockaddr*>(&ss), c->sender).size();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      accept_errors_->Inc();
      continue;
    }
    c->order = limits_.Added(src);
    conns_.emplace(fd, std::move(c));
    connections_->Set(static_cast<double>(conns_.size()));
  }
  return true;
}

void StreamListener::BeginStop(StopDrain* drain) {
  // The rate limit no longer applies: what the senders sent is read now. And
  // no open connection is evicted for a new one: it may hold unread input.
  draining_ = true;
  // Connections the kernel completed before the stop may hold all that a
  // sender sent before closing: take them too, as far as they fit.
  if (!accept_paused_) {
    while (AcceptSome()) {
    }
  }
  accept_paused_ = false;
  std::vector<int> resume;
  resume.swap(paused_);
  for (int fd : resume) {
    Connection* c = conns_.at(fd).get();
    c->paused = false;
    epoll_event ev{};
    ev.events = c->events;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      CloseConnection(fd);
    } else if (!c->in_pending) {
      c->in_pending = true;  // OpenSSL may hold decrypted records for it
      pending_.push_back(fd);
    }
  }
  drain->Begin(epoll_fd_.get(), &listen_fd_, wake_.fd());
}

void StreamListener::WantEvents(Connection* c, uint32_t events) {
  if (c->events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = c->fd.get();
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, c->fd.get(), &ev) == 0) c->events = events;
}

bool StreamListener::ReadSome(Connection* c, TimePoint now) {
  size_t total = 0;
  while (total < read_buf_.size()) {
    const bool was_established = c->stream->Established();
    const IoResult r = c->stream->Read(read_buf_.data(), read_buf_.size());
    if (!was_established && c->stream->Established()) c->last_activity = now;
    switch (r.status) {
      case IoStatus::kOk:
        total += r.bytes;
        pending_bytes_ += r.bytes;
        c->last_activity = now;
        c->framer.Feed(
            std::string_view(read_buf_.data(), r.bytes),
            [&](std::string_view bytes, bool truncated) { PushFrame(*c, bytes, truncated, now); });
        // A short plain read emptied the socket: spare the recv that would
        // say EAGAIN. (TLS returns one record per read, so it goes on.)
        if (transport_ == nullptr && r.bytes < read_buf_.size()) return true;
        continue;
      case IoStatus::kWantRead:
        WantEvents(c, EPOLLIN);
        return true;
      case IoStatus::kWantWrite:
        WantEvents(c, EPOLLOUT);
        return true;
      case IoStatus::kClosed:
      case IoStatus::kError:
        c->failed = true;
        return false;
    }
  }
  // Budget used up. Bytes already inside the transport would not wake epoll.
  if (c->stream->HasBufferedInput() && !c->in_pending) {
    c->in_pending = true;
    pending_.push_back(c->fd.get());
  }
  return true;
}

bool StreamListener::Service(Connection* c, TimePoint now) {
  const uint64_t frames_before = pending_frames_;
  const uint64_t bytes_before = pending_bytes_;
  const bool open = ReadSome(c, now);
  if (pending_frames_ != frames_before) c->framed = true;
  // Charged after the read: what was read is delivered, and the connection
  // then waits until its sender's debt is repaid.
  if (open && limiter_.enabled() && !draining_ && pending_bytes_ != bytes_before &&
      !limiter_.TakeWithDebt(c->src, now, static_cast<double>(pending_frames_ - frames_before))) {
    Pause(c);
  }
  return open;
}

void StreamListener::Pause(Connection* c) {
  if (c->paused) return;
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, c->fd.get(), nullptr);
  c->paused = true;
  paused_.push_back(c->fd.get());
  rate_limit_pauses_->Inc();
}

int StreamListener::ResumeReady(TimePoint now) {
  std::vector<int> ready;
  const int timeout = limiter_.TakeResumable(now, kMaxRateLimitCheckMs, conns_, &paused_, &ready);
  for (int fd : ready) {
    Connection* c = conns_.at(fd).get();
    epoll_event ev{};
    ev.events = c->events;
    ev.data.fd = fd;
    c->paused = false;
    c->last_activity = now;
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      CloseConnection(fd);
    } else if (!c->in_pending) {
      // Records already decrypted into OpenSSL's buffer would not wake epoll.
      c->in_pending = true;
      pending_.push_back(fd);
    }
  }
  return timeout;
}

void StreamListener::CloseConnection(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Connection* c = it->second.get();
  if (c->stream->Established()) {
    const TimePoint now = clock_.Now();
    c->framer.Finish(
        [&](std::string_view bytes, bool truncated) { PushFrame(*c, bytes, truncated, now); });
  }
  if (c->paused) std::erase(paused_, fd);
  limits_.Removed(c->src);
  conns_.erase(it);  // close(2) removes the fd from the epoll set
  connections_->Set(static_cast<double>(conns_.size()));
}

void StreamListener::CloseExpired(TimePoint now) {
  if (now - last_expiry_scan_ >= std::chrono::seconds(1) ||
      now - last_expiry_scan_ < Duration::zero()) {
    last_expiry_scan_ = now;
    CloseHandshakeOrIdleExpired(now);
  }
  // After the handshake check: a connection past both timeouts counts as a
  // handshake failure.
  std::vector<int> unframed;
  limits_.Expired(now, conns_, &unframed);
  for (int fd : unframed) CloseConnection(fd);
}

void StreamListener::CloseHandshakeOrIdleExpired(TimePoint now) {
  const auto handshake_limit = std::chrono::seconds(options_.handshake_timeout_secs);
  const auto idle_limit = std::chrono::seconds(options_.idle_timeout_secs);
  std::vector<int> expired;
  for (const auto& [fd, c] : conns_) {
    if (!c->stream->Established()) {
      if (now - c->accepted >= handshake_limit) {
        c->stream->HandshakeTimedOut();
        expired.push_back(fd);
      }
    } else if (options_.idle_timeout_secs > 0 && !c->paused &&
               now - c->last_activity >= idle_limit) {
      // A paused connection is skipped: it is quiet because we do not read it.
      expired.push_back(fd);
    }
  }
  for (int fd : expired) CloseConnection(fd);
}

void StreamListener::PublishCounters() {
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

void StreamListener::CloseAll() {
  std::vector<int> fds;
  fds.reserve(conns_.size());
  for (const auto& [fd, c] : conns_) fds.push_back(fd);
  for (int fd : fds) {
    Connection* c = conns_[fd].get();
    // Best effort close_notify; the socket is non-blocking.
    if (c->stream->Established() && !c->failed) c->stream->Shutdown();
    CloseConnection(fd);
  }
}

void StreamListener::Run() {
  // OpenSSL writes handshake records with write(2): a client gone away must
  // give EPIPE here, not kill the process (the signal is thread-directed).
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, nullptr);

  std::vector<epoll_event> events(kMaxEvents);
  std::vector<int> serve_pending;
  StopDrain drain{std::chrono::milliseconds(options_.stop_timeout_ms)};
  while (!drain.Done(conns_.size())) {
    if (!sink_->HasCapacity()) {
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
    int timeout = conns_.empty() ? -1 : kTimeoutCheckMs;
    if (accept_paused_) timeout = static_cast<int>(kAcceptPause.count());
    const int resume_ms = ResumeReady(clock_.Now());
    if (resume_ms >= 0 && (timeout < 0 || resume_ms < timeout)) timeout = resume_ms;
    if (!pending_.empty()) timeout = 0;
    int n = epoll_wait(epoll_fd_.get(), events.data(), kMaxEvents, drain.Clamp(timeout));
    if (n < 0 && errno != EINTR) break;
    const TimePoint now = clock_.Now();
    const uint64_t bytes_before = pending_bytes_;
    bool blocked = false;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_.fd()) {
        if (!drain.active()) BeginStop(&drain);
      } else if (fd == listen_fd_.get()) {
        if (!drain.active()) AcceptSome();
      } else {
        if (!sink_->HasCapacity()) {
          blocked = true;
          break;
        }
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        if (!Service(it->second.get(), now)) CloseConnection(fd);
      }
    }
    if (!blocked && !pending_.empty()) {
      serve_pending.swap(pending_);
      for (size_t i = 0; i < serve_pending.size(); ++i) {
        const int fd = serve_pending[i];
        auto it = conns_.find(fd);
        if (it == conns_.end() || !it->second->in_pending) continue;
        if (it->second->paused) {
          it->second->in_pending = false;  // ResumeReady lists it again
          continue;
        }
        if (!sink_->HasCapacity()) {
          // Keep the rest for a later round.
          pending_.insert(pending_.end(), serve_pending.begin() + i, serve_pending.end());
          break;
        }
        it->second->in_pending = false;
        if (!Service(it->second.get(), now)) CloseConnection(fd);
      }
      serve_pending.clear();
    }
    drain.Round(blocked || pending_bytes_ != bytes_before);
    CloseExpired(now);
    if (pending_frames_ > 0) sink_->Flush();
    PublishCounters();
  }
  CloseAll();
  sink_->Flush();
  PublishCounters();
  connections_->Set(0);
}

}  // namespace konseki::receiver
