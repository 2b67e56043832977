#include "receiver/relp_listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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
// Longest wait before re-checking paused (rate-limited) connections, and
// the wake-up period while TLS handshakes may time out: the Clock may be
// fake, so its time is re-read on each wake-up rather than slept on.
constexpr int kMaxClockCheckMs = 100;

// The smaller of two epoll timeouts, -1 meaning none.
int MinTimeout(int a, int b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return std::min(a, b);
}

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
  std::unique_ptr<StreamConnection> stream;  // declared after fd: destroyed first
  RelpSession session;
  std::string held;           // read but not consumed by Feed (window full)
  uint32_t events = EPOLLIN;  // current epoll interest
  bool touched = false;       // in touched_ this round
  bool server_closed = false;
  bool paused = false;            // sender over its rate: not read (in paused_)
  bool in_buffered = false;       // in buffered_
  bool write_wants_read = false;  // the last write waits for the socket to be readable
  bool read_wants_write = false;  // the last read waits for the socket to be writable
  TimePoint accepted;
  TimePoint last_activity;  // last bytes read or ack written (ConnectionLimits)
  uint64_t order = 0;       // accept order (ConnectionLimits)
  bool framed = false;      // the RELP open completed
  SenderAddress src;
  char sender[kSenderTextSize];
  size_t sender_len = 0;
};

StatusOr<std::unique_ptr<RelpListener>> RelpListener::Bind(
    const ListenAddress& address, const RelpListenerOptions& options, uint16_t listener_id,
    MetricsRegistry& metrics, const Clock& clock, std::unique_ptr<StreamTransport> transport) {
  if (address.transport != Transport::kRelp && address.transport != Transport::kRelpTls) {
    return Status::InvalidArgument("RELP listener given non-RELP address " + address.ToString());
  }
  if ((address.transport == Transport::kRelpTls) != (transport != nullptr)) {
    return Status::InvalidArgument("RELP listener " + address.ToString() +
                                   (transport == nullptr ? ": relp+tls needs a TLS transport"
                                                         : ": a transport is for relp+tls only"));
  }
  if (options.max_message_bytes == 0 || options.read_chunk_bytes == 0 ||
      options.max_connections == 0 || options.max_unacked_per_connection == 0 ||
      options.shutdown_timeout_ms < 0) {
    return Status::InvalidArgument(
        "RELP listener " + address.ToString() +
        ": max_message_bytes, read_chunk_bytes, max_connections and max_unacked_per_connection "
        "must be positive, shutdown_timeout_ms >= 0");
  }
  if (transport != nullptr && options.handshake_timeout_secs <= 0) {
    return Status::InvalidArgument("RELP listener " + address.ToString() +
                                   ": handshake_timeout_secs must be positive");
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
  std::unique_ptr<RelpListener> l(new RelpListener(address, options, listener_id, metrics, clock,
                                                   std::move(fd).value(), std::move(wake).value(),
                                                   std::move(transport)));
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
                           UniqueFd fd, WakeFd wake, std::unique_ptr<StreamTransport> transport)
    : options_(options),
      listener_id_(listener_id),
      clock_(clock),
      transport_(std::move(transport)),
      listen_fd_(std::move(fd)),
      wake_(std::move(wake)),
      relp_counters_(RelpCounters::Register(&metrics)),
      read_buf_(options.read_chunk_bytes),
      ack_buf_(kAckBatch),
      reporter_(options.alerts, address.ToString(), std::string(TransportName(address.transport)),
                metrics, options.refusal_alerts),
      limiter_(options.rate_limit),
      limits_(options.limits, options.max_connections, metrics, address.ToString()) {
  port_ = BoundPort(listen_fd_.get());
  session_options_.max_data_bytes = options.max_message_bytes;
  session_options_.max_unacked = options.max_unacked_per_connection;
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
  queue_full_drops_ = metrics.GetCounter("konseki_dropped_messages_total", "Messages dropped",
                                         {{"stage", "receiver"}, {"reason", "queue_full"}});
  accept_errors_ = metrics.GetCounter("konseki_accept_errors_total", "accept(2) failures", l);
  late_acks_ = metrics.GetCounter(
      "konseki_relp_late_acks_total",
      "Acknowledgements for messages whose RELP connection had closed (the sender resends them)",
      l);
  connections_ = metrics.GetGauge("konseki_connections", "Open connections", l);
  refused_senders_ = metrics.GetCounter("konseki_refused_senders_total",
                                        "Connections or datagrams from senders not allowed", lt);
  rate_limit_pauses_ = metrics.GetCounter(
      "konseki_rate_limit_pauses_total",
      "Times a connection stopped being read because its sender exceeded its rate limit", lt);
}

RelpListener::~RelpListener() { Shutdown(); }

void RelpListener::Start(FrameSink* sink) {
  sink_ = sink;
  last_expiry_scan_ = clock_.Now();
  thread_ = std::thread([this] { Run(); });
}

void RelpListener::RequestStop() {
  int running = 0;
  if (thread_.joinable() && phase_.compare_exchange_strong(running, 1)) wake_.Signal();
}

void RelpListener::Stop() {
  if (!thread_.joinable()) return;
  RequestStop();
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
    const SenderAddress src = SenderAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&ss));
    if (!options_.allow.Allows(src)) {
      refused_senders_->Inc();
      ::close(fd);
      reporter_.Report(src, clock_.Now());
      continue;
    }
    uint32_t victim = 0;
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
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint32_t serial = next_serial_++;
    if (next_serial_ < 2) next_serial_ = 2;  // after 2^32 connections
    auto c = std::make_unique<Connection>(this, serial, session_options_, &relp_counters_);
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
    c->src = src;
    c->accepted = c->last_activity = clock_.Now();
    c->sender_len = FormatSender(reinterpret_cast<const sockaddr*>(&ss), c->sender).size();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = serial;
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      accept_errors_->Inc();
      continue;  // c closes fd
    }
    c->order = limits_.Added(src);
    conns_.emplace(serial, std::move(c));
    connections_->Set(static_cast<double>(conns_.size()));
  }
}

bool RelpListener::Reading(const Connection* c) const {
  return !stopping_ && !c->paused && c->held.empty() && c->session.WantsInput();
}

void RelpListener::Charge(Connection* c, uint64_t frames) {
  if (!limiter_.enabled() || frames == 0) return;
  if (limiter_.TakeWithDebt(c->src, round_now_, static_cast<double>(frames)) || c->paused) return;
  c->paused = true;
  paused_.push_back(c->serial);
  rate_limit_pauses_->Inc();
}

void RelpListener::FeedHeld(Connection* c) {
  if (c->held.empty() || stopping_ || c->paused || !c->session.WantsInput() ||
      !sink_->HasCapacity()) {
    return;
  }
  const uint64_t frames_before = pending_frames_;
  size_t used = c->session.Feed(c->held);
  if (c->session.Done()) {
    c->held.clear();
  } else {
    c->held.erase(0, used);
  }
  Charge(c, pending_frames_ - frames_before);
}

bool RelpListener::ReadOnce(Connection* c) {
  if (!c->held.empty()) {
    FeedHeld(c);
    return true;
  }
  c->read_wants_write = false;
  // Up to read_chunk_bytes per round. TLS returns one record per Read (often
  // one small RELP frame), so keep reading while the transport has more
  // buffered; a short plain read means the socket is empty.
  size_t total = 0;
  while (total < read_buf_.size()) {
    const size_t want = read_buf_.size() - total;
    const IoResult r = c->stream->Read(read_buf_.data() + total, want);
    switch (r.status) {
      case IoStatus::kOk:
        break;
      case IoStatus::kWantRead:
        return true;
      case IoStatus::kWantWrite:
        c->read_wants_write = true;
        return true;
      case IoStatus::kClosed:
      case IoStatus::kError:
        return false;
    }
    pending_bytes_ += r.bytes;
    c->last_activity = round_now_;
    const uint64_t frames_before = pending_frames_;
    std::string_view in(read_buf_.data() + total, r.bytes);
    total += r.bytes;
    size_t used = c->session.Feed(in);
    c->framed = c->session.state() != RelpSession::State::kAwaitingOpen;
    if (used < in.size() && !c->session.Done()) {
      c->held.assign(in.substr(used));
      held_.push_back(c->serial);
    }
    Charge(c, pending_frames_ - frames_before);
    if (!Reading(c) || (r.bytes < want && !c->stream->HasBufferedInput())) break;
  }
  return true;
}

bool RelpListener::WriteOut(Connection* c) {
  c->write_wants_read = false;
  while (!c->session.PendingOutput().empty()) {
    // PendingOutput() only grows at its end while a write waits, so a retry
    // starts with the bytes the transport was given before (TLS needs that).
    std::string_view out = c->session.PendingOutput();
    const IoResult r = c->stream->Write(out.data(), out.size());
    switch (r.status) {
      case IoStatus::kOk:
        if (r.bytes == 0) return true;  // nothing taken: wait for EPOLLOUT
        c->session.ConsumeOutput(r.bytes);
        continue;
      case IoStatus::kWantWrite:
        return true;  // Settle asks for EPOLLOUT while output is pending
      case IoStatus::kWantRead:
        c->write_wants_read = true;  // e.g. TLS must read a record first
        return true;
      case IoStatus::kClosed:
      case IoStatus::kError:
        return false;
    }
  }
  return true;
}

bool RelpListener::Settle(Connection* c) {
  const bool output = !c->session.PendingOutput().empty();
  if (c->session.Done() && !output) {
    CloseConnection(c->serial);
    return false;
  }
  const bool reading = Reading(c);
  uint32_t want = 0;
  if (reading || c->write_wants_read) want |= EPOLLIN;
  if ((output && !c->write_wants_read) || (reading && c->read_wants_write)) want |= EPOLLOUT;
  if (want != c->events) {
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c->serial;
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, c->fd.get(), &ev);
    c->events = want;
  }
  // Input already decrypted by TLS would not wake epoll.
  if (reading && !c->in_buffered && c->stream->HasBufferedInput()) {
    c->in_buffered = true;
    buffered_.push_back(c->serial);
  }
  return true;
}

void RelpListener::CloseConnection(uint32_t serial) {
  // close(2) removes the fd from the epoll set. Its unanswered messages stay
  // with the sender; acks still to come for them count as late.
  auto it = conns_.find(serial);
  if (it == conns_.end()) return;
  limits_.Removed(it->second->src);
  conns_.erase(it);
  connections_->Set(static_cast<double>(conns_.size()));
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
      c->last_activity = round_now_;
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

int RelpListener::ResumeReady(TimePoint now) {
  std::vector<uint32_t> ready;
  const int timeout = limiter_.TakeResumable(now, kMaxClockCheckMs, conns_, &paused_, &ready);
  for (uint32_t serial : ready) {
    Connection* c = conns_.at(serial).get();
    c->paused = false;
    // Held input (in held_) is fed by RefeedHeld; otherwise read on EPOLLIN.
    Settle(c);
  }
  return timeout;
}

void RelpListener::ServeBuffered() {
  std::vector<uint32_t> serve;
  serve.swap(buffered_);
  for (size_t i = 0; i < serve.size(); ++i) {
    auto it = conns_.find(serve[i]);
    if (it == conns_.end()) continue;
    Connection* c = it->second.get();
    if (!sink_->HasCapacity()) {
      buffered_.insert(buffered_.end(), serve.begin() + static_cast<ptrdiff_t>(i), serve.end());
      return;
    }
    // Not reading now: Settle lists it again once it reads again.
    c->in_buffered = false;
    if (!Reading(c)) continue;
    if (!ReadOnce(c) || !WriteOut(c)) {
      CloseConnection(c->serial);
      continue;
    }
    Settle(c);
  }
}

void RelpListener::CloseExpired(TimePoint now) {
  // Handshakes first: a connection past both timeouts counts as a handshake
  // failure.
  const bool scan = transport_ != nullptr && (now - last_expiry_scan_ >= std::chrono::seconds(1) ||
                                              now - last_expiry_scan_ < Duration::zero());
  if (scan) {
    last_expiry_scan_ = now;
    const auto limit = std::chrono::seconds(options_.handshake_timeout_secs);
    std::vector<uint32_t> expired;
    for (const auto& [serial, c] : conns_) {
      if (!c->stream->Established() && now - c->accepted >= limit) {
        c->stream->HandshakeTimedOut();
        expired.push_back(serial);
      }
    }
    for (uint32_t serial : expired) CloseConnection(serial);
  }
  std::vector<uint32_t> unframed;
  limits_.Expired(now, conns_, &unframed);
  for (uint32_t serial : unframed) CloseConnection(serial);
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
  // OpenSSL writes with write(2): a client gone away must give EPIPE here,
  // not kill the process (the signal is thread-directed).
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, nullptr);

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
    int timeout = phase == 2 ? kShutdownPollMs : -1;
    if (!stopping_) timeout = MinTimeout(timeout, ResumeReady(round_now_));
    if ((transport_ != nullptr || limits_.needs_ticks()) && !conns_.empty()) {
      timeout = MinTimeout(timeout, kMaxClockCheckMs);
    }
    if (!stopping_ && !buffered_.empty()) timeout = 0;
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
      const bool in = (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0;
      const bool out = (ev & EPOLLOUT) != 0;
      if (out || (in && c->write_wants_read)) {
        if (!WriteOut(c)) {
          CloseConnection(c->serial);
          continue;
        }
      }
      if (in || (out && c->read_wants_write)) {
        if (!Reading(c)) {
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
    if (!stopping_ && !buffered_.empty() && sink_->HasCapacity()) ServeBuffered();
    if (!stopping_) CloseExpired(clock_.Now());
    if (!stopping_ && pending_frames_ > 0) sink_->Flush();
    PublishCounters();
  }
  // Final: whatever is still unacknowledged stays with the senders.
  for (auto& [serial, c] : conns_) {
    if (!c->server_closed) c->session.ServerClose();
    WriteOut(c.get());
    c->stream->Shutdown();
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
