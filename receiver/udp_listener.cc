#include "receiver/udp_listener.h"

#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/thread_name.h"

namespace konseki::receiver {
namespace {

// Batches received per wake-up before going back to poll; bounds how long one
// flood keeps the thread from seeing Stop().
constexpr int kMaxBatchesPerWake = 64;

}  // namespace

bool UdpListener::SenderKey::Of(const sockaddr_storage& a, SenderKey* out) {
  if (a.ss_family == AF_INET) {
    out->bytes[0] = 4;
    std::memcpy(out->bytes + 1, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, 4);
    return true;
  }
  if (a.ss_family == AF_INET6) {
    out->bytes[0] = 6;
    std::memcpy(out->bytes + 1, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, 16);
    return true;
  }
  return false;
}

bool UdpListener::SenderKey::operator==(const SenderKey& o) const {
  return std::memcmp(bytes, o.bytes, sizeof bytes) == 0;
}

StatusOr<std::unique_ptr<UdpListener>> UdpListener::Bind(const ListenAddress& address,
                                                         const UdpListenerOptions& options,
                                                         uint16_t listener_id,
                                                         MetricsRegistry& metrics,
                                                         const Clock& clock) {
  if (address.transport != Transport::kUdp) {
    return Status::InvalidArgument("UDP listener given non-UDP address " + address.ToString());
  }
  if (options.max_message_bytes == 0 || options.batch_size == 0) {
    return Status::InvalidArgument("UDP listener " + address.ToString() +
                                   ": max_message_bytes and batch_size must be positive");
  }
  if (Status s = options.rate_limit.Validate(); !s.ok()) {
    return Status::InvalidArgument("listener " + address.ToString() + ": " + s.message());
  }
  StatusOr<UniqueFd> fd = BindSocket(address, SOCK_DGRAM);
  if (!fd.ok()) return fd.status();
  StatusOr<WakeFd> wake = WakeFd::Create();
  if (!wake.ok()) return wake.status();
  // The kernel's drop count of the socket: read once per wake-up with
  // SO_MEMINFO (SK_MEMINFO_DROPS, Linux 4.19+) where the kernel has it.
  // SO_RXQ_OVFL instead puts it in a control message on every datagram:
  // 9% of a pinned UDP run's CPU went to building those messages.
  uint32_t meminfo[SK_MEMINFO_VARS] = {};
  socklen_t meminfo_len = sizeof meminfo;
  const bool meminfo_drops =
      getsockopt(fd->get(), SOL_SOCKET, SO_MEMINFO, meminfo, &meminfo_len) == 0 &&
      meminfo_len >= (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t);
  int one = 1;
  if (!meminfo_drops && setsockopt(fd->get(), SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0) {
    return Status::FromErrno("setsockopt(SO_RXQ_OVFL) for " + address.ToString(), errno);
  }
  std::unique_ptr<UdpListener> l(new UdpListener(address, options, listener_id, metrics, clock,
                                                 std::move(fd).value(), std::move(wake).value()));
  l->meminfo_drops_ = meminfo_drops;
  if (options.rcvbuf_bytes > 0) {
    int want = options.rcvbuf_bytes;
    if (setsockopt(l->fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) == 0) {
      l->rcvbuf_forced_ = true;
    } else if (setsockopt(l->fd_.get(), SOL_SOCKET, SO_RCVBUF, &want, sizeof want) != 0) {
      return Status::FromErrno("setsockopt(SO_RCVBUF) for " + address.ToString(), errno);
    }
  }
  int got = 0;
  socklen_t got_len = sizeof got;
  if (getsockopt(l->fd_.get(), SOL_SOCKET, SO_RCVBUF, &got, &got_len) == 0) {
    l->granted_rcvbuf_bytes_ = got / 2;
  }
  return l;
}

UdpListener::UdpListener(const ListenAddress& address, const UdpListenerOptions& options,
                         uint16_t listener_id, MetricsRegistry& metrics, const Clock& clock,
                         UniqueFd fd, WakeFd wake)
    : options_(options),
      listener_id_(listener_id),
      clock_(clock),
      fd_(std::move(fd)),
      wake_(std::move(wake)),
      reporter_(options.alerts, address.ToString(), "udp", metrics, options.refusal_alerts),
      limiter_(options.rate_limit) {
  port_ = BoundPort(fd_.get());
  const std::string name = address.ToString();
  const Labels lt = {{"listener", name}, {"transport", "udp"}};
  received_messages_ =
      metrics.GetCounter("konseki_received_messages_total", "Messages received by a listener", lt);
  received_bytes_ = metrics.GetCounter("konseki_received_bytes_total",
                                       "Message bytes received by a listener", lt);
  truncated_ = metrics.GetCounter("konseki_truncated_messages_total",
                                  "Messages cut to the max message size", {{"listener", name}});
  empty_datagrams_ =
      metrics.GetCounter("konseki_framing_errors_total", "Input that could not be framed as sent",
                         {{"listener", name}, {"reason", "empty_datagram"}});
  kernel_drops_ = metrics.GetCounter("konseki_dropped_messages_total", "Messages dropped",
                                     {{"stage", "kernel"}, {"reason", "udp_receive_buffer"}});
  queue_full_drops_ = metrics.GetCounter("konseki_dropped_messages_total", "Messages dropped",
                                         {{"stage", "receiver"}, {"reason", "queue_full"}});
  queue_waits_ =
      metrics.GetCounter("konseki_receiver_waits_total",
                         "Times a listener stopped reading because a worker's queue was full", lt);
  refused_senders_ = metrics.GetCounter("konseki_refused_senders_total",
                                        "Connections or datagrams from senders not allowed", lt);
  rate_limit_drops_ = metrics.GetCounter("konseki_dropped_messages_total", "Messages dropped",
                                         {{"stage", "receiver"}, {"reason", "rate_limit"}});

  const size_t n = options_.batch_size;
  const size_t slot = options_.max_message_bytes + 1;
  control_slot_ = CMSG_SPACE(sizeof(uint32_t));
  // Not value-initialised: the pages of a slot become resident only as far
  // as datagrams are written into them (256-byte datagrams touch one page of
  // each 64 KiB slot), where zeroing made all batch_size * slot bytes (4 MiB
  // by default) resident for good.
  data_.reset(new char[n * slot]);
  msgs_.resize(n);
  iovs_.resize(n);
  addrs_.resize(n);
  control_.resize(n * control_slot_);
  for (size_t i = 0; i < n; ++i) {
    iovs_[i].iov_base = data_.get() + i * slot;
    iovs_[i].iov_len = slot;
  }
}

UdpListener::~UdpListener() { Stop(); }

void UdpListener::Start(FrameSink* sink) {
  sink_ = sink;
  thread_ = std::thread([this] { Run(); });
}

void UdpListener::Stop() {
  if (!thread_.joinable()) return;
  wake_.Signal();
  thread_.join();
}

void UdpListener::PrepareBatch() {
  for (size_t i = 0; i < msgs_.size(); ++i) {
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_name = &addrs_[i];
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_iov = &iovs_[i];
    h.msg_iovlen = 1;
    // Control space only where each datagram carries the drop count.
    h.msg_control = meminfo_drops_ ? nullptr : control_.data() + i * control_slot_;
    h.msg_controllen = meminfo_drops_ ? 0 : control_slot_;
    h.msg_flags = 0;
    msgs_[i].msg_len = 0;
  }
}

int UdpListener::ReceiveBatch() {
  PrepareBatch();
  int got =
      recvmmsg(fd_.get(), msgs_.data(), static_cast<unsigned>(msgs_.size()), MSG_DONTWAIT, nullptr);
  if (got <= 0) return 0;
  const TimePoint now = clock_.Now();
  BatchTally t;
  t.check_allow = !options_.allow.allows_all();
  t.check_rate = limiter_.enabled();
  for (int i = 0; i < got; ++i) HandleDatagram(static_cast<size_t>(i), now, &t);
  PublishBatch(static_cast<uint64_t>(got), t);
  return got;
}

void UdpListener::HandleDatagram(size_t i, TimePoint now, BatchTally* t) {
  msghdr& h = msgs_[i].msg_hdr;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
      std::memcpy(&t->ovfl, CMSG_DATA(c), sizeof t->ovfl);
      t->saw_ovfl = true;
    }
  }
  size_t len = msgs_[i].msg_len;
  if (t->check_allow || t->check_rate) {
    const SenderAddress src =
        SenderAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&addrs_[i]));
    if (t->check_allow && !options_.allow.Allows(src)) {
      ++t->refused_senders;
      reporter_.Report(src, now);
      return;
    }
    if (t->check_rate && !limiter_.TryTake(src, now)) {
      ++t->rate_limited;
      t->bytes += len;
      return;
    }
  }
  t->bytes += len;
  const char* p = static_cast<const char*>(iovs_[i].iov_base);
  bool cut = (h.msg_flags & MSG_TRUNC) != 0;
  while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\0' || p[len - 1] == '\r')) --len;
  if (len > options_.max_message_bytes) {
    len = options_.max_message_bytes;
    cut = true;
  }
  if (len == 0) {
    ++t->empty;
    return;
  }
  // inet_ntop (an sprintf) per datagram was 7% of the UDP path: format
  // only when the address differs from the previous datagram's. The port
  // is not part of the text, so one host's several sockets share it.
  SenderKey key;
  if (!SenderKey::Of(addrs_[i], &key) || !(key == sender_key_)) {
    sender_ = FormatSender(reinterpret_cast<const sockaddr*>(&addrs_[i]), sender_text_);
    sender_key_ = key;
  }
  Frame f;
  f.bytes = std::string_view(p, len);
  f.sender = sender_;
  f.received = now;
  f.listener_id = listener_id_;
  f.truncated = cut;
  if (cut) ++t->truncated;
  if (!sink_->Push(f) && !WaitAndPush(f)) ++t->refused;
}

bool UdpListener::WaitAndPush(const Frame& f) {
  if (options_.queue_wait.count() <= 0) return false;
  const auto start = std::chrono::steady_clock::now();
  if (start < no_wait_until_) return false;
  queue_waits_->Inc();
  // What this read took so far goes to the workers before we wait on them;
  // f's bytes and sender stay valid (nothing is read meanwhile).
  sink_->Flush();
  const auto deadline = start + options_.queue_wait;
  pollfd wake = {wake_.fd(), POLLIN, 0};
  constexpr timespec kNap = {0, 100'000};
  for (;;) {
    // Stop() ends the wait; Run() sees the same wake and stops.
    if (ppoll(&wake, 1, &kNap, nullptr) > 0 && (wake.revents & POLLIN) != 0) return false;
    if (sink_->Push(f)) return true;
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  no_wait_until_ = deadline + std::chrono::seconds(1);
  return false;
}

void UdpListener::PublishBatch(uint64_t got, const BatchTally& t) {
  received_messages_->Inc(got - t.refused_senders);
  if (t.refused_senders > 0) refused_senders_->Inc(t.refused_senders);
  if (t.rate_limited > 0) rate_limit_drops_->Inc(t.rate_limited);
  received_bytes_->Inc(t.bytes);
  if (t.truncated > 0) truncated_->Inc(t.truncated);
  if (t.empty > 0) empty_datagrams_->Inc(t.empty);
  if (t.refused > 0) queue_full_drops_->Inc(t.refused);
  if (t.saw_ovfl) CountKernelDrops(t.ovfl);
}

void UdpListener::CountKernelDrops(uint32_t running_total) {
  // The kernel keeps a running total (wrapping at 2^32) per socket.
  const uint32_t delta = running_total - last_kernel_drops_;
  last_kernel_drops_ = running_total;
  if (delta > 0) kernel_drops_->Inc(delta);
}

void UdpListener::PollKernelDrops() {
  if (!meminfo_drops_) return;
  uint32_t meminfo[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof meminfo;
  if (getsockopt(fd_.get(), SOL_SOCKET, SO_MEMINFO, meminfo, &len) == 0 &&
      len >= (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t)) {
    CountKernelDrops(meminfo[SK_MEMINFO_DROPS]);
  }
}

bool UdpListener::Drain(int* received) {
  for (int b = 0; b < kMaxBatchesPerWake; ++b) {
    const int got = ReceiveBatch();
    *received += got;
    if (got < static_cast<int>(msgs_.size())) return true;
  }
  return false;
}

void UdpListener::Run() {
  SetThreadName(ListenerThreadName("udp", port_));
  pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {wake_.fd(), POLLIN, 0}};
  const auto window = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.gather_window);
  const timespec gather = {static_cast<time_t>(window.count() / 1'000'000'000),
                           static_cast<long>(window.count() % 1'000'000'000)};
  bool stopping = false;
  while (!stopping) {
    int r = poll(fds, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    stopping = (fds[1].revents & POLLIN) != 0;
    // On stop, still take what is already queued (bounded), so a datagram
    // that arrived before Stop() is not lost.
    int received = 0;
    const bool dry = Drain(&received);
    if (received > 0 && dry && !stopping && window.count() > 0) {
      // Let the stream gather rather than waking a worker per datagram: sleep
      // on the wake fd only (Stop() still ends the wait at once), then take
      // everything that arrived meanwhile in one go. Skipped when the socket
      // did not run dry: then we are behind and must not wait.
      int w = ppoll(&fds[1], 1, &gather, nullptr);
      if (w > 0 && (fds[1].revents & POLLIN) != 0) stopping = true;
      Drain(&received);
    }
    if (received > 0) sink_->Flush();
    // Once per wake-up (at most about once per gather window under load):
    // drops are counted when datagrams arrive after them, as they were when
    // each datagram carried the count.
    PollKernelDrops();
  }
  sink_->Flush();
}

}  // namespace konseki::receiver
