// RELP frames (rsyslog's Reliable Event Logging Protocol, as spoken by
// librelp/omrelp): an incremental decoder for the bytes a client sends and an
// encoder for the frames a server answers with. Pure: no sockets, no clock.
//
//   FRAME   = TXNR SP COMMAND SP DATALEN [SP DATA] TRAILER
//   TXNR    = 1*9DIGIT           (the server checks the sequence, not us)
//   COMMAND = 1*32ALPHA
//   DATALEN = 1*9DIGIT           (SP DATA present only when DATALEN > 0)
//   TRAILER = LF
//
// The grammar is checked as strictly as librelp's own receiver does
// (relpframe.c), so whatever librelp accepts we accept and vice versa.
#ifndef KONSEKI_RECEIVER_RELP_FRAME_H_
#define KONSEKI_RECEIVER_RELP_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace konseki::receiver {

// Largest transaction number; the next one after it is 1 (0 is reserved for
// server hints such as serverclose).
inline constexpr uint32_t kRelpMaxTxnr = 999'999'999;

// The transaction number that follows `txnr` (1..kRelpMaxTxnr, wrapping to 1).
constexpr uint32_t RelpNextTxnr(uint32_t txnr) { return txnr >= kRelpMaxTxnr ? 1 : txnr + 1; }

enum class RelpCommand : uint8_t {
  kOpen,
  kSyslog,
  kClose,
  kRsp,
  kServerClose,
  kOther,  // syntactically valid but unknown to us (answered with 500)
};

// Why the decoder gave up. The connection cannot be resynchronised after any
// of these: the caller closes it.
enum class RelpFrameError : uint8_t {
  kNone = 0,
  kBadTxnr,      // TXNR missing, not digits, more than 9 digits, or not followed by SP
  kBadCommand,   // COMMAND empty, longer than 32, not letters, or not followed by SP
  kBadDatalen,   // DATALEN missing, more than 9 digits, or not followed by SP / LF
  kBadTrailer,   // the byte after DATA (or after DATALEN 0) is not LF
  kDataTooLong,  // DATALEN above the limit and truncation is off
};

// Stable snake_case name for metric labels ("bad_txnr"); "none" for kNone.
std::string_view RelpFrameErrorName(RelpFrameError error);

// One decoded frame. `data` points either into the input passed to Next or
// into the decoder's own buffer: valid until the next call to Next.
struct RelpFrame {
  uint32_t txnr = 0;
  RelpCommand command = RelpCommand::kOther;
  std::string_view command_name;  // as sent ("syslog"); same lifetime as data
  std::string_view data;          // at most max_data_bytes of DATA
  uint32_t datalen = 0;           // DATALEN as announced by the sender
  bool truncated = false;         // datalen > data.size(): the rest was skipped
};

struct RelpFrameDecoderOptions {
  // Largest DATA kept per frame, in bytes. librelp's default is 128 KiB too.
  size_t max_data_bytes = 128 * 1024;
  // DATALEN above max_data_bytes: true keeps the first max_data_bytes and
  // skips the rest (the frame is marked truncated); false is kDataTooLong.
  // Truncating avoids a poison message that a client would resend forever.
  bool truncate_oversize = true;
};

// Incremental decoder; bytes may arrive split at any boundary. A frame that
// arrives whole inside one input is returned without copying; a frame split
// across inputs is assembled in an internal buffer that grows up to
// max_data_bytes once and is then reused. Not thread-safe; not copyable.
class RelpFrameDecoder {
 public:
  enum class Result { kNeedMore, kFrame, kError };

  explicit RelpFrameDecoder(const RelpFrameDecoderOptions& options = {});
  RelpFrameDecoder(const RelpFrameDecoder&) = delete;
  RelpFrameDecoder& operator=(const RelpFrameDecoder&) = delete;

  // Consumes bytes from the front of *input until one frame is complete
  // (kFrame, *frame filled, *input advanced past its trailer), the input is
  // exhausted (kNeedMore, everything consumed), or the bytes are malformed
  // (kError, sticky: every later call returns kError).
  Result Next(std::string_view* input, RelpFrame* frame);

  RelpFrameError error() const { return error_; }
  // True between frames (no partial frame held).
  bool AtFrameBoundary() const { return state_ == State::kTxnr && digits_ == 0; }

 private:
  enum class State : uint8_t { kTxnr, kCommand, kDatalen, kData, kTrailer, kError };
  Result Fail(RelpFrameError error);
  void Reset();
  // Next's steps, one per state: each consumes bytes from the front of *in
  // (at least one, except kDatalen handing its last byte to kTrailer) and
  // returns the error found, kNone if none.
  RelpFrameError TakeTxnr(std::string_view* in);
  RelpFrameError TakeCommand(std::string_view* in);
  RelpFrameError TakeDatalen(std::string_view* in);
  void TakeData(std::string_view* in);
  // Fills *frame from the finished frame and resets for the next one.
  void CompleteFrame(RelpFrame* frame);

  RelpFrameDecoderOptions options_;
  State state_ = State::kTxnr;
  RelpFrameError error_ = RelpFrameError::kNone;
  uint32_t digits_ = 0;  // digits seen in the current TXNR / DATALEN
  uint32_t txnr_ = 0;
  uint32_t datalen_ = 0;
  uint32_t data_seen_ = 0;  // DATA bytes consumed so far (kept or skipped)
  char command_[32];
  uint8_t command_len_ = 0;
  std::string buffer_;          // DATA of a frame split across inputs
  std::string_view data_view_;  // DATA when it lay whole in one input
  bool data_in_buffer_ = false;
};

// Appends "TXNR SP COMMAND SP DATALEN [SP DATA] LF" to *out.
void AppendRelpFrame(uint32_t txnr, std::string_view command, std::string_view data,
                     std::string* out);

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_RELP_FRAME_H_
