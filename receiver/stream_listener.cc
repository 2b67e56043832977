#include "receiver/stream_listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "common/log.h"
#include "common/thread_name.h"
#include "receiver/framer_protocol.h"
#include "receiver/relp_protocol.h"

namespace konseki::receiver {
namespace {

constexpr int kMaxEvents = 256;
// Connections accepted per round, so a connect storm cannot starve reads.
constexpr int kMaxAcceptsPerRound = 64;
// How often a listener blocked by a full pipeline re-checks HasCapacity()
// (acks and Stop wake it earlier).
constexpr int kBackpressurePollMs = 5;
// How long accepting pauses after running out of file descriptors.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
// Wake-up period while connections are open or paused, to check timeouts
// and rate limits on the injected Clock (which may be fake, so it is
// consulted on each wake-up rather than slept on).
constexpr int kClockCheckMs = 100;
// Deadline checks during Shutdown().
constexpr int kShutdownPollMs = 10;
constexpr uint64_t kListenTag = 0;
constexpr uint64_t kWakeTag = 1;
constexpr size_t kAckBatch = 1024;

// The smaller of two epoll timeouts, -1 meaning none.
int MinTimeout(int a, int b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return std::min(a, b);
}

// The protocol a scheme speaks (see the table in stream_listener.h).
std::unique_ptr<StreamProtocol> ProtocolFor(const ListenAddress& address,
                                            const StreamListenerOptions& options,
                                            MetricsRegistry& metrics) {
  const std::string name = address.ToString();
  switch (address.transport) {
    case Transport::kTcp:
    case Transport::kTls:
      return std::make_unique<FramerProtocol>(options.max_message_bytes, metrics, name);
    case Transport::kRelp:
    case Transport::kRelpTls: {
      RelpSessionOptions o;
      o.max_data_bytes = options.max_message_bytes;
      o.max_unacked = options.max_unacked_per_connection;
      return std::make_unique<RelpProtocol>(o, metrics, name);
    }
    case Transport::kUdp:
      break;
  }
  return nullptr;
}

Status ValidateOptions(const ListenAddress& address, const StreamListenerOptions& options,
                       bool has_transport) {
  const std::string name = "listener " + address.ToString();
  if (address.transport == Transport::kUdp) {
    return Status::InvalidArgument("stream listener given a datagram address " +
                                   address.ToString());
  }
  if (UsesTls(address.transport) != has_transport) {
    return Status::InvalidArgument(name + (has_transport ? ": a transport is for TLS schemes only"
                                                         : ": TLS needs a TLS transport"));
  }
  if (options.max_message_bytes == 0 || options.read_chunk_bytes == 0 ||
      options.max_connections == 0 || options.max_unacked_per_connection == 0 ||
      options.handshake_timeout_secs <= 0 || options.idle_timeout_secs < 0 ||
      options.partial_frame_timeout_secs < 0 || options.stop_timeout_ms < 0 ||
      options.keepalive_idle_secs < 0 ||
      (options.keepalive_idle_secs > 0 &&
       (options.keepalive_interval_secs <= 0 || options.keepalive_count <= 0))) {
    return Status::InvalidArgument(
        name +
        ": max_message_bytes, read_chunk_bytes, max_connections, max_unacked_per_connection "
        "and handshake_timeout_secs must be positive, idle_timeout_secs, "
        "partial_frame_timeout_secs, stop_timeout_ms and keepalive_idle_secs >= 0, "
        "keepalive_interval_secs and keepalive_count positive");
  }
  if (Status s = options.limits.Validate(); !s.ok()) {
    return Status::InvalidArgument(name + ": " + s.message());
  }
  if (Status s = options.rate_limit.Validate(); !s.ok()) {
    return Status::InvalidArgument(name + ": " + s.message());
  }
  return Status::Ok();
}

void ReadWakeFd(int fd) {
  uint64_t v;
  [[maybe_unused]] ssize_t r = ::read(fd, &v, sizeof v);
}

}  // namespace

// One connection: its socket, transport and protocol handler, and input held
// back while the handler takes none. Emits the handler's frames.
struct StreamListener::Connection final : public FrameOut {
  Connection(StreamListener* l, uint32_t s) : listener(l), serial(s) {}
  void Emit(std::string_view bytes, bool truncated, uint32_t ack_id,
            TruncationCause cause) override {
    listener->PushFrame(*this, bytes, truncated, ack_id, cause);
  }

  StreamListener* const listener;
  const uint32_t serial;
  UniqueFd fd;
  std::unique_ptr<StreamConnection> stream;  // declared after fd: destroyed first
  std::unique_ptr<StreamHandler> handler;
  std::string held;               // read but not taken by the handler
  uint32_t events = EPOLLIN;      // current epoll interest
  bool touched = false;           // in touched_ this round
  bool paused = false;            // sender over its rate: not read (in paused_)
  bool in_buffered = false;       // in buffered_
  bool in_held = false;           // in held_
  bool write_wants_read = false;  // the last write waits for the socket to be readable
  bool read_wants_write = false;  // the last read waits for the socket to be writable
  bool sender_closed = false;     // a read found the end of the stream
  TimePoint accepted;
  TimePoint last_activity;  // last bytes read or ack (ConnectionLimits, idle timeout)
  uint64_t order = 0;       // accept order (ConnectionLimits)
  bool framed = false;      // handler->Framed() (ConnectionLimits)
  SenderAddress src;
  char sender[kSenderTextSize];
  size_t sender_len = 0;
};

StatusOr<std::unique_ptr<StreamListener>> StreamListener::Bind(
    const ListenAddress& address, const StreamListenerOptions& options, uint16_t listener_id,
    MetricsRegistry& metrics, const Clock& clock, std::unique_ptr<StreamTransport> transport) {
  if (Status s = ValidateOptions(address, options, transport != nullptr); !s.ok()) return s;
  StatusOr<UniqueFd> fd = BindSocket(address, SOCK_STREAM);
  if (!fd.ok()) return fd.status();
  if (::listen(fd->get(), options.backlog) != 0) {
    return Status::FromErrno("listen " + address.ToString(), errno);
  }
  StatusOr<WakeFd> wake = WakeFd::Create();
  if (!wake.ok()) return wake.status();
  std::unique_ptr<StreamListener> l(new StreamListener(
      address, options, listener_id, metrics, clock, std::move(fd).value(), std::move(wake).value(),
      std::move(transport), ProtocolFor(address, options, metrics)));
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

StreamListener::StreamListener(const ListenAddress& address, const StreamListenerOptions& options,
                               uint16_t listener_id, MetricsRegistry& metrics, const Clock& clock,
                               UniqueFd fd, WakeFd wake, std::unique_ptr<StreamTransport> transport,
                               std::unique_ptr<StreamProtocol> protocol)
    : options_(options),
      transport_(std::move(transport)),
      protocol_(std::move(protocol)),
      acknowledges_(protocol_->Acknowledges()),
      listener_id_(listener_id),
      clock_(clock),
      listen_fd_(std::move(fd)),
      wake_(std::move(wake)),
      drain_(std::chrono::milliseconds(options.stop_timeout_ms)),
      read_buf_(options.read_chunk_bytes),
      ack_buf_(kAckBatch),
      reporter_(options.alerts, address.ToString(), std::string(TransportName(address.transport)),
                metrics, options.refusal_alerts),
      evictions_(options.alerts, address.ToString(), std::string(TransportName(address.transport)),
                 metrics, options.refusal_alerts, RefusalReporter::Kind::kEvicted),
      evictions_full_(options.alerts, address.ToString(),
                      std::string(TransportName(address.transport)), metrics,
                      options.refusal_alerts, RefusalReporter::Kind::kEvictedFull),
      limiter_(options.rate_limit),
      limits_(options.limits, options.max_connections, metrics, address.ToString()) {
  port_ = BoundPort(listen_fd_.get());
  thread_name_ = ListenerThreadName(TransportName(address.transport), port_);
  RegisterMetrics(metrics, address);
}

void StreamListener::RegisterMetrics(MetricsRegistry& metrics, const ListenAddress& address) {
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
  connections_ = metrics.GetGauge("konseki_connections", "Open connections", l);
  refused_senders_ = metrics.GetCounter("konseki_refused_senders_total",
                                        "Connections or datagrams from senders not allowed", lt);
  rate_limit_pauses_ = metrics.GetCounter(
      "konseki_rate_limit_pauses_total",
      "Times a connection stopped being read because its sender exceeded its rate limit", lt);
  stop_unread_bytes_ = metrics.GetCounter(
      "konseki_stop_unread_bytes_total",
      "Bytes a stop left unread in the connections it closed (lost: the sender was not told)", lt);
  stop_unread_connections_ = metrics.GetCounter(
      "konseki_stop_unread_connections_total",
      "Connections a stop closed with input left unread (see konseki_stop_unread_bytes_total)", lt);
  name_ = name;
}

StreamListener::~StreamListener() { Shutdown(); }

void StreamListener::Start(FrameSink* sink) {
  sink_ = sink;
  last_expiry_scan_ = clock_.Now();
  thread_ = std::thread([this] { Run(); });
}

void StreamListener::RequestStop() {
  int running = 0;
  if (phase_.compare_exchange_strong(running, 1)) wake_.Signal();
}

void StreamListener::Stop() {
  if (!thread_.joinable()) return;
  RequestStop();
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return sink_released_; });
  }
  // Without acks to wait for, the thread ends right after releasing the sink.
  if (!acknowledges_) thread_.join();
}

void StreamListener::Shutdown() {
  if (!thread_.joinable()) return;
  Stop();
  if (!thread_.joinable()) return;
  phase_.store(2, std::memory_order_release);
  wake_.Signal();
  thread_.join();
}

void StreamListener::Acknowledge(const uint64_t* cookies, size_t count) {
  if (count == 0) return;
  acks_.enqueue_bulk(cookies, count);
  wake_.Signal();
}

void StreamListener::PushFrame(const Connection& c, std::string_view bytes, bool truncated,
                               uint32_t ack_id, TruncationCause cause) {
  Frame f;
  f.bytes = bytes;
  f.sender = std::string_view(c.sender, c.sender_len);
  f.received = round_now_;
  f.listener_id = listener_id_;
  f.truncated = truncated;
  f.truncation_cause = cause;
  if (acknowledges_) f.ack_cookie = (static_cast<uint64_t>(c.serial) << 32) | ack_id;
  ++pending_frames_;
  if (truncated) ++pending_truncated_;
  // A refused frame is never acknowledged: a RELP sender keeps and resends it.
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
      if (errno == EINTR || errno == ECONNABORTED) continue;
      accept_errors_->Inc();
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        PauseAccept();
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
    uint32_t victim = 0;
    if (limits_.SourceFull(src) && state_ == State::kRunning) ReapFinished(src);
    const bool source_full = limits_.SourceFull(src);
    switch (limits_.Admit(src, conns_, &victim, /*may_evict=*/state_ == State::kRunning)) {
      case ConnectionLimits::Admission::kAdmit:
        break;
      case ConnectionLimits::Admission::kEvictFirst: {
        SenderAddress victim_src;
        bool framed = false;
        const bool held_data = EvictConnection(victim, &victim_src, &framed);
        // A never-framed connection (a scanner, a flood, a TLS handshake
        // never completed) carried no message: no alert, as the first-frame
        // timeout.
        if (source_full) {
          evictions_.ReportEviction(victim_src, src, held_data, acknowledges_, clock_.Now());
        } else if (framed) {
          evictions_full_.ReportEviction(victim_src, src, held_data, acknowledges_, clock_.Now());
        }
        break;
      }
      case ConnectionLimits::Admission::kRefuse:
        ::close(fd);
        continue;
    }
    AddConnection(fd, ss, src);
  }
  return true;
}

void StreamListener::AddConnection(int fd, const sockaddr_storage& ss, const SenderAddress& src) {
  // Answers (RELP acks) are small and must not wait for Nagle.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (options_.keepalive_idle_secs > 0) {
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &options_.keepalive_idle_secs,
               sizeof options_.keepalive_idle_secs);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &options_.keepalive_interval_secs,
               sizeof options_.keepalive_interval_secs);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &options_.keepalive_count,
               sizeof options_.keepalive_count);
  }
  const uint32_t serial = next_serial_++;
  if (next_serial_ < 2) next_serial_ = 2;  // after 2^32 connections
  auto c = std::make_unique<Connection>(this, serial);
  c->fd.Reset(fd);
  c->stream = transport_ != nullptr ? transport_->Wrap(fd) : std::make_unique<PlainConnection>(fd);
  if (c->stream == nullptr) {
    accept_errors_->Inc();
    return;  // c closes fd
  }
  c->handler = protocol_->NewHandler(c.get());
  c->src = src;
  c->accepted = c->last_activity = clock_.Now();
  c->sender_len = FormatSender(reinterpret_cast<const sockaddr*>(&ss), c->sender).size();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = serial;
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    accept_errors_->Inc();
    return;  // c closes fd
  }
  c->order = limits_.Added(src);
  conns_.emplace(serial, std::move(c));
  connections_->Set(static_cast<double>(conns_.size()));
}

void StreamListener::PauseAccept() {
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, listen_fd_.get(), nullptr);
  accept_paused_ = true;
  accept_resume_ = std::chrono::steady_clock::now() + kAcceptPause;
}

void StreamListener::ResumeAccept() {
  if (!accept_paused_ || std::chrono::steady_clock::now() < accept_resume_) return;
  accept_paused_ = false;
  if (!listen_fd_.valid()) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTag;
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_.get(), &ev);
}

bool StreamListener::Reading(const Connection* c) const {
  return state_ != State::kAnswering && !c->paused && c->held.empty() && c->handler->WantsInput();
}

void StreamListener::Charge(Connection* c, uint64_t frames) {
  if (!limiter_.enabled() || state_ != State::kRunning) return;
  if (limiter_.TakeWithDebt(c->src, round_now_, static_cast<double>(frames)) || c->paused) return;
  c->paused = true;
  paused_.push_back(c->serial);
  rate_limit_pauses_->Inc();
}

void StreamListener::Offer(Connection* c, std::string_view bytes) {
  const uint64_t frames_before = pending_frames_;
  // Rate limited: frame only as many messages as the sender has tokens
  // (one read holds hundreds); the rest is held until it has more.
  const size_t used =
      limiter_.enabled() && state_ == State::kRunning
          ? c->handler->OnBytesLimited(bytes, limiter_.Available(c->src, round_now_))
          : c->handler->OnBytes(bytes);
  c->framed = c->handler->Framed();
  if (used < bytes.size()) {
    c->held.assign(bytes.substr(used));
    if (!c->in_held) {
      c->in_held = true;
      held_.push_back(c->serial);
    }
  }
  // Charged for what was framed; a handler without a frame limit (RELP)
  // may leave a debt, which the connection waits out.
  Charge(c, pending_frames_ - frames_before);
}

void StreamListener::OfferHeld(Connection* c) {
  if (c->held.empty() || state_ == State::kAnswering || c->paused || !c->handler->WantsInput() ||
      !sink_->HasCapacity()) {
    return;
  }
  std::string held;
  held.swap(c->held);
  Offer(c, held);
}

bool StreamListener::ReadSome(Connection* c) {
  if (!c->held.empty()) {
    OfferHeld(c);
    return true;
  }
  c->read_wants_write = false;
  size_t total = 0;
  while (total < read_buf_.size()) {
    const size_t want = read_buf_.size() - total;
    const bool was_established = c->stream->Established();
    const IoResult r = c->stream->Read(read_buf_.data() + total, want);
    if (!was_established && c->stream->Established()) c->last_activity = round_now_;
    switch (r.status) {
      case IoStatus::kOk:
        break;
      case IoStatus::kWantRead:
        return true;
      case IoStatus::kWantWrite:
        c->read_wants_write = true;
        return true;
      case IoStatus::kClosed:
        c->sender_closed = true;
        return false;
      case IoStatus::kError:
        return false;
    }
    pending_bytes_ += r.bytes;
    c->last_activity = round_now_;
    Offer(c, std::string_view(read_buf_.data() + total, r.bytes));
    total += r.bytes;
    // A short read with nothing left inside the transport most likely
    // emptied the socket: spare the read that would say EAGAIN (epoll is
    // level-triggered, so anything still there is served next round).
    if (!Reading(c) || (r.bytes < want && !c->stream->HasBufferedInput())) break;
  }
  if (total == read_buf_.size()) round_filled_ = true;
  return true;
}

bool StreamListener::WriteOut(Connection* c) {
  c->write_wants_read = false;
  while (!c->handler->PendingOutput().empty()) {
    const std::string_view out = c->handler->PendingOutput();
    const IoResult r = c->stream->Write(out.data(), out.size());
    switch (r.status) {
      case IoStatus::kOk:
        if (r.bytes == 0) return true;  // nothing taken: wait for EPOLLOUT
        c->handler->ConsumeOutput(r.bytes);
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

bool StreamListener::Settle(Connection* c) {
  const bool output = !c->handler->PendingOutput().empty();
  if (c->handler->Done() && !output) {
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

bool StreamListener::WriteAndSettle(Connection* c) {
  if (!WriteOut(c)) {
    CloseConnection(c->serial);
    return false;
  }
  return Settle(c);
}

// A burst of connections is accepted before any is read, so a sender that
// connects, writes one line and closes (logger --tcp from cron on the hosts
// behind one NAT or relay, a script) fills its max_connections_per_source
// slots with connections that are already finished. Evicting the longest
// idle one of them was harmless (its line is read first), but now and then
// the victim was a sender that had connected and not yet written: its line
// went into a closed socket (5 to 17 lines of 3,000 such connections from 8
// senders; the test PerSourceCapReapsFinishedConnectionsBeforeEvictingAnOpenOne
// holds that case). Reaping the finished ones
// first leaves the slots to connections that are really open. Plain TCP/TLS
// only: RELP resends what was not acknowledged.
void StreamListener::ReapFinished(const SenderAddress& src) {
  if (acknowledges_) return;
  reap_.clear();
  for (const auto& [serial, c] : conns_) {
    if (c->src == src && !c->framed && c->stream->Established() && Reading(c.get())) {
      reap_.push_back(serial);
    }
  }
  for (uint32_t serial : reap_) {
    if (!sink_->HasCapacity()) return;
    auto it = conns_.find(serial);
    if (it == conns_.end()) continue;
    Connection* c = it->second.get();
    // A read that took bytes stops short of the end of the stream; a
    // second one sees it (one that took none found the socket empty).
    const uint64_t before = pending_bytes_;
    bool open = ReadSome(c);
    if (open && pending_bytes_ != before && Reading(c)) open = ReadSome(c);
    if (!open) {
      CloseConnection(serial);
    } else {
      WriteAndSettle(c);
    }
  }
}

bool StreamListener::EvictConnection(uint32_t serial, SenderAddress* src, bool* framed) {
  auto it = conns_.find(serial);
  if (it == conns_.end()) return false;
  Connection* c = it->second.get();
  *src = c->src;
  // Plain TCP and TLS have no acknowledgements: what the sender already
  // wrote counts as delivered, and may still sit in the socket (a burst of
  // new connections is accepted before any of them is read). Read it first,
  // as far as the sink takes it. RELP resends what was not acknowledged.
  if (!acknowledges_ && c->stream->Established() && Reading(c) && sink_->HasCapacity()) {
    ReadSome(c);
  }
  *framed = c->framed;
  // Held data: input not read (in the socket, held back, inside TLS), an
  // unfinished message (emitted cut at the close), or messages awaiting
  // their acknowledgement.
  int queued = 0;
  if (::ioctl(c->fd.get(), FIONREAD, &queued) != 0) queued = 0;
  const bool held_data = queued > 0 || !c->held.empty() || c->stream->HasBufferedInput() ||
                         c->handler->HoldsUnfinished() || c->handler->AwaitsAcks();
  CloseConnection(serial);
  return held_data;
}

void StreamListener::CloseConnection(uint32_t serial) {
  // close(2) removes the fd from the epoll set. A RELP connection's
  // unanswered messages stay with the sender; acks still to come for them
  // count as late.
  auto it = conns_.find(serial);
  if (it == conns_.end()) return;
  Connection* c = it->second.get();
  if (state_ != State::kAnswering && c->stream->Established()) {
    c->handler->OnClose(c->sender_closed);
  }
  if (c->paused) std::erase(paused_, serial);
  limits_.Removed(c->src);
  conns_.erase(it);
  connections_->Set(static_cast<double>(conns_.size()));
}

void StreamListener::ApplyAcks() {
  size_t n;
  while ((n = acks_.try_dequeue_bulk(ack_buf_.begin(), ack_buf_.size())) > 0) {
    for (size_t i = 0; i < n; ++i) {
      const uint64_t cookie = ack_buf_[i];
      auto it = conns_.find(static_cast<uint32_t>(cookie >> 32));
      if (it == conns_.end() || !it->second->handler->Ack(static_cast<uint32_t>(cookie))) {
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
    OfferHeld(c);
    if (state_ == State::kAnswering) c->handler->Stopping();
    WriteAndSettle(c);
  }
  touched_.clear();
}

void StreamListener::RefeedHeld() {
  std::vector<uint32_t> serve;
  serve.swap(held_);
  for (uint32_t serial : serve) {
    auto it = conns_.find(serial);
    if (it == conns_.end()) continue;
    Connection* c = it->second.get();
    c->in_held = false;
    if (c->held.empty()) continue;
    // Offer() lists it in held_ again if the handler still leaves some.
    OfferHeld(c);
    if (WriteAndSettle(c) && !c->held.empty() && !c->in_held) {
      c->in_held = true;
      held_.push_back(serial);
    }
  }
}

int StreamListener::ResumeReady(TimePoint now) {
  std::vector<uint32_t> ready;
  const int timeout = limiter_.TakeResumable(now, kClockCheckMs, conns_, &paused_, &ready);
  bool refeed = false;
  for (uint32_t serial : ready) {
    Connection* c = conns_.at(serial).get();
    c->paused = false;
    c->last_activity = now;
    // Held input (in held_) is offered by RefeedHeld at the start of the
    // next round, which must not wait for epoll (nothing will wake it:
    // the socket is not watched while input is held); otherwise read on
    // EPOLLIN, or next round if the transport holds some (Settle).
    refeed = refeed || !c->held.empty();
    Settle(c);
  }
  return refeed ? 0 : timeout;
}

void StreamListener::ServeBuffered() {
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
    if (!ReadSome(c)) {
      CloseConnection(c->serial);
      continue;
    }
    WriteAndSettle(c);
  }
}

void StreamListener::CloseExpired(TimePoint now) {
  if (now - last_expiry_scan_ >= std::chrono::seconds(1) ||
      now - last_expiry_scan_ < Duration::zero()) {
    last_expiry_scan_ = now;
    FlushStalled(now);
    CloseHandshakeOrIdleExpired(now);
  }
  // After the handshake check: a connection past both timeouts counts as a
  // handshake failure.
  std::vector<uint32_t> unframed;
  limits_.Expired(now, conns_, &unframed);
  for (uint32_t serial : unframed) CloseConnection(serial);
}

void StreamListener::FlushStalled(TimePoint now) {
  if (options_.partial_frame_timeout_secs <= 0 || state_ != State::kRunning ||
      !sink_->HasCapacity()) {
    return;
  }
  const auto limit = std::chrono::seconds(options_.partial_frame_timeout_secs);
  for (const auto& [serial, c] : conns_) {
    if (!c->stream->Established() || c->paused || !c->held.empty() ||
        now - c->last_activity < limit || !c->handler->HoldsUnfinished() ||
        c->stream->HasBufferedInput()) {
      continue;
    }
    // Bytes in the socket (a round that did not get to this connection):
    // the rest may be among them.
    int queued = 0;
    if (::ioctl(c->fd.get(), FIONREAD, &queued) != 0 || queued > 0) continue;
    c->handler->OnStall();
  }
}

void StreamListener::CloseHandshakeOrIdleExpired(TimePoint now) {
  const auto handshake_limit = std::chrono::seconds(options_.handshake_timeout_secs);
  const auto idle_limit = std::chrono::seconds(options_.idle_timeout_secs);
  std::vector<uint32_t> expired;
  for (const auto& [serial, c] : conns_) {
    if (!c->stream->Established()) {
      if (now - c->accepted >= handshake_limit) {
        c->stream->HandshakeTimedOut();
        expired.push_back(serial);
      }
    } else if (options_.idle_timeout_secs > 0 && !c->paused &&
               now - c->last_activity >= idle_limit) {
      // A paused connection is skipped: it is quiet because we do not read it.
      expired.push_back(serial);
    }
  }
  for (uint32_t serial : expired) CloseConnection(serial);
}

void StreamListener::BeginStop() {
  if (!acknowledges_) {
    // Connections the kernel completed before the stop may hold all that a
    // sender sent before closing: take them too, as far as they fit. From
    // now on the rate limit no longer applies and no open connection is
    // evicted for a new one: it may hold unread input.
    state_ = State::kDraining;
    if (!accept_paused_) {
      while (AcceptSome()) {
      }
    }
    for (uint32_t serial : paused_) {
      Connection* c = conns_.at(serial).get();
      c->paused = false;
      Settle(c);
    }
    paused_.clear();
  }
  accept_paused_ = false;
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, listen_fd_.get(), nullptr);
  listen_fd_.Reset();  // new connections are refused from now on
  if (!acknowledges_) {
    drain_.Begin();
    return;
  }
  // Acknowledging: stop reading now (what is unread stays with the sender,
  // never acked, and is resent), and keep answering.
  state_ = State::kAnswering;
  ReleaseSink();
  held_.clear();
  std::vector<uint32_t> serials;
  for (const auto& [serial, c] : conns_) serials.push_back(serial);
  for (uint32_t serial : serials) {
    Connection* c = conns_.at(serial).get();
    c->held.clear();  // never offered, so never acked: the sender resends it
    c->in_held = false;
    c->handler->Stopping();
    WriteAndSettle(c);
  }
}

void StreamListener::ReleaseSink() {
  sink_->Flush();
  PublishCounters();
  {
    std::lock_guard<std::mutex> lock(mu_);
    sink_released_ = true;
  }
  cv_.notify_all();
}

void StreamListener::CloseAll() {
  round_now_ = clock_.Now();
  std::vector<uint32_t> serials;
  serials.reserve(conns_.size());
  for (const auto& [serial, c] : conns_) serials.push_back(serial);
  uint64_t unread_bytes = 0;
  uint64_t unread_conns = 0;
  for (uint32_t serial : serials) {
    Connection* c = conns_.at(serial).get();
    if (!acknowledges_) {
      // What the drain could not take by the deadline (a blocked pipeline:
      // the archive full): gone with the close, and the sender does not
      // know. Counted and logged so the admin can ask for a resend.
      int queued = 0;
      if (::ioctl(c->fd.get(), FIONREAD, &queued) != 0) queued = 0;
      const uint64_t unread = static_cast<uint64_t>(std::max(queued, 0)) + c->held.size();
      if (unread > 0) {
        unread_bytes += unread;
        ++unread_conns;
      }
    }
    c->handler->Goodbye();
    WriteOut(c);
    // Best effort close_notify; the socket is non-blocking.
    if (c->stream->Established()) c->stream->Shutdown();
    CloseConnection(serial);
  }
  if (unread_conns > 0) {
    stop_unread_bytes_->Inc(unread_bytes);
    stop_unread_connections_->Inc(unread_conns);
    stop_unread_bytes_total_.fetch_add(unread_bytes, std::memory_order_relaxed);
    // The alert file outlives the stop's log in the journal: `konseki
    // alerts` after the restart shows what to ask the senders for.
    if (options_.alerts != nullptr) {
      Alert a;
      a.time = a.received = clock_.Now();
      a.host = "konseki";
      a.rule = a.sign = "receiver.stop_unread";
      a.severity = Severity::kHigh;
      a.title = "The stop closed connections of " + name_ +
                " with input not read: those lines are lost, their senders were not told";
      a.fields = {{"listener", name_},
                  {"connections", std::to_string(unread_conns)},
                  {"unread_bytes", std::to_string(unread_bytes)}};
      options_.alerts->Emit(a);
    }
    Log(LogLevel::kError,
        "%s: the stop closed %llu connection%s with %llu bytes not read in konseki's socket "
        "buffers (and whatever the senders still queued: the pipeline was blocked until "
        "stop_timeout_secs, e.g. the archive full); those lines are lost and their senders "
        "were not told: ask them to resend, or use relp://",
        name_.c_str(), static_cast<unsigned long long>(unread_conns), unread_conns == 1 ? "" : "s",
        static_cast<unsigned long long>(unread_bytes));
  }
}

void StreamListener::PublishCounters() {
  if (pending_frames_ > 0) received_messages_->Inc(pending_frames_);
  if (pending_bytes_ > 0) received_bytes_->Inc(pending_bytes_);
  if (pending_truncated_ > 0) truncated_->Inc(pending_truncated_);
  if (pending_refused_ > 0) queue_full_drops_->Inc(pending_refused_);
  if (pending_late_acks_ > 0) protocol_->CountLateAcks(pending_late_acks_);
  pending_frames_ = pending_bytes_ = pending_truncated_ = pending_refused_ = pending_late_acks_ = 0;
  protocol_->PublishCounters();
}

bool StreamListener::Advance() {
  const int phase = phase_.load(std::memory_order_acquire);
  if (phase >= 1 && state_ == State::kRunning) BeginStop();
  if (state_ == State::kDraining) return !drain_.Done(conns_.size());
  if (phase == 2 && state_ == State::kAnswering) {
    if (!shutdown_started_) {
      shutdown_started_ = true;
      shutdown_deadline_ =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.stop_timeout_ms);
    }
    return !conns_.empty() && std::chrono::steady_clock::now() < shutdown_deadline_;
  }
  return true;
}

int StreamListener::Timeout() {
  int timeout = shutdown_started_ ? kShutdownPollMs : -1;
  if (!conns_.empty()) timeout = MinTimeout(timeout, kClockCheckMs);
  if (accept_paused_) timeout = MinTimeout(timeout, static_cast<int>(kAcceptPause.count()));
  if (state_ == State::kRunning) timeout = MinTimeout(timeout, ResumeReady(round_now_));
  if (state_ != State::kAnswering && !buffered_.empty()) timeout = 0;
  return drain_.Clamp(timeout);
}

bool StreamListener::Serve(Connection* c, uint32_t ev, bool* blocked) {
  const bool in = (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0;
  const bool out = (ev & EPOLLOUT) != 0;
  if ((out || (in && c->write_wants_read)) && !WriteOut(c)) {
    CloseConnection(c->serial);
    return false;
  }
  if (in || (out && c->read_wants_write)) {
    if (!Reading(c)) {
      // Not reading: only a hang-up or error matters.
      if (ev & (EPOLLHUP | EPOLLERR)) {
        CloseConnection(c->serial);
        return false;
      }
    } else if (!sink_->HasCapacity()) {
      *blocked = true;  // level-triggered: reported again next round
    } else if (!ReadSome(c)) {
      CloseConnection(c->serial);
      return false;
    } else if (!WriteOut(c)) {
      CloseConnection(c->serial);
      return false;
    }
  }
  return Settle(c);
}

bool StreamListener::HandleEvents(const epoll_event* events, int n) {
  bool blocked = false;
  for (int i = 0; i < n; ++i) {
    const uint64_t tag = events[i].data.u64;
    if (tag == kWakeTag) {
      ReadWakeFd(wake_.fd());
    } else if (tag == kListenTag) {
      // Not while the pipeline is full: nothing could be read from a new
      // connection, and a full listener would evict an open one for it.
      // Level-triggered: reported again.
      if (state_ == State::kRunning && !blocked && sink_->HasCapacity()) AcceptSome();
    } else if (auto it = conns_.find(static_cast<uint32_t>(tag)); it != conns_.end()) {
      Serve(it->second.get(), events[i].events, &blocked);
    }
  }
  return blocked;
}

bool StreamListener::Round(std::vector<epoll_event>* events) {
  if (!Advance()) return false;
  round_now_ = clock_.Now();
  const bool reading = state_ != State::kAnswering;
  if (acknowledges_) ApplyAcks();
  if (reading && !held_.empty() && sink_->HasCapacity()) RefeedHeld();
  // Frames fed outside an epoll round must reach the workers before we
  // block: their acks are what wakes us.
  if (reading && pending_frames_ > 0) sink_->Flush();
  // Before epoll_wait may block for good.
  if (pending_frames_ > 0 || pending_late_acks_ > 0) PublishCounters();
  if (reading && !sink_->HasCapacity()) {
    // Backpressure: leave the data in the kernel; acks and Stop wake us.
    PublishCounters();
    pollfd p{wake_.fd(), POLLIN, 0};
    if (poll(&p, 1, kBackpressurePollMs) > 0) ReadWakeFd(wake_.fd());
    drain_.Round(true);
    return true;
  }
  ResumeAccept();
  const int n = epoll_wait(epoll_fd_.get(), events->data(), kMaxEvents, Timeout());
  if (n < 0 && errno != EINTR) return false;
  round_now_ = clock_.Now();
  const uint64_t bytes_before = pending_bytes_;
  round_filled_ = false;
  bool blocked = HandleEvents(events->data(), std::max(n, 0));
  const uint64_t read = pending_bytes_ - bytes_before;
  if (!acknowledges_ && options_.gather_window.count() > 0 && state_ == State::kRunning &&
      !blocked && read > 0 && !round_filled_ && buffered_.empty() && held_.empty()) {
    // A light round (the senders' bytes arrive faster than we wake, a few
    // frames at a time): let them gather in the sockets, then read again and
    // flush once. Each round woke the workers (futex) and this thread
    // (epoll) for ~64 frames at 400k msgs/s, which cost more per message
    // than reading them. The wake fd ends the wait (it stays readable, so
    // epoll reports it).
    const auto us = options_.gather_window.count();
    const timespec gather = {static_cast<time_t>(us / 1'000'000),
                             static_cast<long>(us % 1'000'000) * 1000};
    pollfd p{wake_.fd(), POLLIN, 0};
    ppoll(&p, 1, &gather, nullptr);
    const int m = epoll_wait(epoll_fd_.get(), events->data(), kMaxEvents, 0);
    round_now_ = clock_.Now();
    if (m > 0) blocked = HandleEvents(events->data(), m) || blocked;
  }
  if (state_ != State::kAnswering) {
    if (!blocked && !buffered_.empty() && sink_->HasCapacity()) ServeBuffered();
    drain_.Round(blocked || pending_bytes_ != bytes_before);
    CloseExpired(clock_.Now());
    if (pending_frames_ > 0) sink_->Flush();
  }
  PublishCounters();
  return true;
}

void StreamListener::Run() {
  SetThreadName(thread_name_);
  // OpenSSL writes with write(2): a client gone away must give EPIPE here,
  // not kill the process (the signal is thread-directed).
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, nullptr);

  std::vector<epoll_event> events(kMaxEvents);
  while (Round(&events)) {
  }
  // Without acks: each connection's last frame goes out with the flush.
  // With acks: whatever is still unacknowledged stays with the senders.
  CloseAll();
  // Also after an epoll failure ended the loop early: Stop() must not wait.
  bool released;
  {
    std::lock_guard<std::mutex> lock(mu_);
    released = sink_released_;
  }
  if (!released) ReleaseSink();
  PublishCounters();
  connections_->Set(0);
}

}  // namespace konseki::receiver
