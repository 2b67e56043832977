// RFC 6587 stream framing for one TCP connection, pure over bytes (no sockets).
#ifndef KONSEKI_RECEIVER_FRAMER_H_
#define KONSEKI_RECEIVER_FRAMER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace konseki::receiver {

// Counts of malformed framing. A plain struct, not thread-safe: one listener
// thread may share one FramerStats between all of its connections' framers.
struct FramerStats {
  uint64_t frames = 0;                 // frames emitted, truncated ones included
  uint64_t truncated = 0;              // frames longer than the max, cut to the max
  uint64_t malformed_octet_count = 0;  // digits not followed by SP; framed by LF instead
  uint64_t incomplete_at_close = 0;    // a frame cut short by close (see Finish)
  uint64_t stalled = 0;                // an unfinished frame emitted by FlushStalled
};

// One frame that owns its bytes (for tests and tools; the listeners use the
// callback form, which does not copy).
struct OwnedFrame {
  std::string bytes;
  bool truncated = false;
  friend bool operator==(const OwnedFrame&, const OwnedFrame&) = default;
};

// Cuts a byte stream into syslog messages. Framing is detected per frame:
//   - a frame starting with a digit is octet-counted: "LEN SP MSG" where LEN is
//     a decimal count of MSG bytes (RFC 6587 3.4.1), at most 12 digits, no
//     leading zero; one trailing LF or CR LF inside MSG is dropped (a sender's
//     template newline, as rsyslog's receiver drops it), and a MSG that was
//     only that is skipped;
//   - anything else is non-transparent framing (RFC 6587 3.4.2) ended by LF or
//     NUL; a CR just before the terminator is removed. Empty frames are skipped.
//   - digits followed by anything but SP (or a leading 0, or too many digits)
//     is a malformed octet count: the frame, digits included, is framed by LF
//     instead and counted in FramerStats::malformed_octet_count.
//
// Messages longer than max_message_bytes are emitted cut to that size with
// truncated = true, as soon as the max is reached; the rest of that message is
// skipped without buffering (exactly LEN bytes for octet counting, up to the
// next LF/NUL otherwise), so the connection stays usable after a hostile
// "1073741824 " prefix. Memory is bounded: the framer buffers at most
// max_message_bytes + 1 bytes of an unfinished frame, and nothing when frames
// arrive whole within one Feed call (they are emitted as views into the input).
//
// Not thread-safe; one Framer per connection. Not copyable, movable.
class Framer {
 public:
  static constexpr size_t kDefaultMaxMessageBytes = 64 * 1024;

  // stats may be null; if not, it must outlive the Framer.
  explicit Framer(size_t max_message_bytes = kDefaultMaxMessageBytes, FramerStats* stats = nullptr);
  Framer(const Framer&) = delete;
  Framer& operator=(const Framer&) = delete;
  Framer(Framer&&) = default;
  Framer& operator=(Framer&&) = default;

  // Consumes the next bytes of the stream and calls
  // on_frame(std::string_view bytes, bool truncated) for each complete frame.
  // The view is valid only during the call (it points into `data` or into the
  // framer's buffer). Any split of the stream into Feed calls gives the same
  // frames.
  template <typename F>
  void Feed(std::string_view data, F&& on_frame) {
    using Fn = std::remove_reference_t<F>;
    FeedImpl(
        data,
        [](void* ctx, std::string_view bytes, bool truncated) {
          (*static_cast<Fn*>(ctx))(bytes, truncated);
        },
        const_cast<void*>(static_cast<const void*>(&on_frame)));
  }

  // How the stream ended.
  enum class End : uint8_t {
    // The sender closed it: an unterminated LF frame is its last message
    // (RFC 6587 lets the close end a frame), emitted as any other.
    kSenderClosed,
    // Cut before the sender ended it (our stop, a timeout, an eviction, a
    // read error): the rest of an unterminated LF frame may still have been
    // on its way, so it is emitted truncated = true and counted in
    // incomplete_at_close.
    kCut,
  };

  // The connection closed: emits a final unterminated LF frame if any (see
  // End), or what arrived of an octet-counted frame (truncated = true,
  // counted in incomplete_at_close). The framer is then reset and may be
  // reused.
  template <typename F>
  void Finish(F&& on_frame, End end = End::kSenderClosed) {
    using Fn = std::remove_reference_t<F>;
    FinishImpl([](void* ctx, std::string_view bytes,
                  bool truncated) { (*static_cast<Fn*>(ctx))(bytes, truncated); },
               const_cast<void*>(static_cast<const void*>(&on_frame)), end);
  }

  // The sender stopped in the middle of a message (the caller decides when:
  // StreamListenerOptions::partial_frame_timeout_secs) while the stream
  // stays open: emits the bytes that arrived of the unfinished frame
  // (truncated = true, counted in FramerStats::stalled), as Finish(kCut)
  // would, so a message held back is archived and matched now rather than
  // at close. Nothing is lost if the rest comes after all: it is framed as
  // a frame of its own (truncated = true too; an octet-counted frame's
  // rest is its remaining LEN bytes, an LF frame's runs to the next LF or
  // NUL), and the stream stays in step. No-op without such bytes
  // (HasUnfinishedFrame false, e.g. only "LEN SP" arrived).
  template <typename F>
  void FlushStalled(F&& on_frame) {
    using Fn = std::remove_reference_t<F>;
    FlushStalledImpl([](void* ctx, std::string_view bytes,
                        bool truncated) { (*static_cast<Fn*>(ctx))(bytes, truncated); },
                     const_cast<void*>(static_cast<const void*>(&on_frame)));
  }
  // During an on_frame call of Feed/FeedSome: the frame is the rest of one
  // FlushStalled emitted (truncated for that reason, not for its length).
  bool emitting_rest_of_stalled() const { return emitting_rest_; }
  // True if bytes of a message that has not ended are held (what
  // FlushStalled would emit).
  bool HasUnfinishedFrame() const {
    return (state_ == State::kOctetBody || state_ == State::kLf) && !buf_.empty();
  }

  // Feed that emits at most max_frames frames (a sender's rate-limit
  // tokens): stops right after the last of them and returns how many bytes
  // of `data` it consumed; the caller feeds the rest (data.substr(n)) later.
  // Fewer than max_frames frames: all of data is consumed.
  template <typename F>
  size_t FeedSome(std::string_view data, uint64_t max_frames, F&& on_frame) {
    using Fn = std::remove_reference_t<F>;
    return FeedImpl(
        data,
        [](void* ctx, std::string_view bytes, bool truncated) {
          (*static_cast<Fn*>(ctx))(bytes, truncated);
        },
        const_cast<void*>(static_cast<const void*>(&on_frame)), max_frames);
  }

  // Convenience forms that append copies to *out.
  void Feed(std::string_view data, std::vector<OwnedFrame>* out);
  size_t FeedSome(std::string_view data, uint64_t max_frames, std::vector<OwnedFrame>* out);
  void Finish(std::vector<OwnedFrame>* out, End end = End::kSenderClosed);
  void FlushStalled(std::vector<OwnedFrame>* out);

  // Bytes of an unfinished frame held right now (<= max_message_bytes + 1).
  size_t buffered_bytes() const { return buf_.size(); }
  size_t max_message_bytes() const { return max_; }
  // The counters this framer adds to (the shared ones if given).
  const FramerStats& stats() const { return stats_ != nullptr ? *stats_ : own_stats_; }

 private:
  using Emit = void (*)(void* ctx, std::string_view bytes, bool truncated);
  enum class State : uint8_t {
    kFrameStart,  // nothing of the next frame seen yet
    kOctetLen,    // reading LEN digits (held in buf_)
    kOctetBody,   // collecting MSG bytes into buf_; remaining_ bytes of MSG left
    kOctetSkip,   // MSG was longer than the max; skipping remaining_ bytes
    kLf,          // collecting an LF-terminated frame into buf_
    kLfSkip,      // an LF frame exceeded the max; skipping to the next LF/NUL
  };
  static constexpr size_t kMaxLenDigits = 12;

  // Returns the bytes consumed: all of data unless max_frames were emitted.
  size_t FeedImpl(std::string_view data, Emit emit, void* ctx, uint64_t max_frames = UINT64_MAX);
  void FinishImpl(Emit emit, void* ctx, End end);
  void FlushStalledImpl(Emit emit, void* ctx);
  // Emits an octet-counted message: drops one trailing LF or CR LF unless
  // truncated.
  void EmitOctet(std::string_view msg, bool truncated, Emit emit, void* ctx);
  // Emits an LF-framed message: strips one trailing CR, cuts to the max.
  void EmitLf(std::string_view msg, Emit emit, void* ctx);
  void EmitFrame(std::string_view msg, bool truncated, Emit emit, void* ctx);
  // Frames EmitFrame may still emit in this FeedImpl call.
  uint64_t budget_ = UINT64_MAX;
  // Empties buf_, giving back a large allocation so idle connections stay small.
  void ClearBuffer();
  FramerStats& mutable_stats() { return stats_ != nullptr ? *stats_ : own_stats_; }

  size_t max_;
  FramerStats* stats_;  // not owned; null means own_stats_
  FramerStats own_stats_;
  State state_ = State::kFrameStart;
  uint64_t remaining_ = 0;  // kOctetBody: MSG bytes not yet seen; kOctetSkip: to skip
  uint64_t kept_ = 0;       // kOctetBody: MSG bytes to keep in total (min(LEN, max))
  bool octet_truncated_ = false;
  // The frame being collected is the rest of one FlushStalled emitted: it
  // is emitted truncated = true.
  bool rest_of_stalled_ = false;
  bool emitting_rest_ = false;  // see emitting_rest_of_stalled()
  std::string buf_;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_FRAMER_H_
