// The server side of one RELP connection, pure over bytes: the listener feeds
// what it read from the socket, the session hands syslog payloads with their
// transaction numbers to a RelpHandler and produces the bytes to write back.
//
// The point of RELP is that a message is acknowledged only once it is safe.
// RelpSession therefore never answers a syslog frame by itself: the caller
// calls Ack(txnr) (or AckUpTo) once the message is durably archived, and only
// then does "TXNR rsp 6 200 OK" appear in the output. Until then librelp/omrelp
// keep the message and resend it on a new connection if this one breaks.
//
// Responses are written in transaction order even when acks arrive out of
// order. librelp's client would accept any order (it looks each rsp up in its
// unacked list), but in-order answers are what every client can take.
//
// Bounded: at most max_unacked frames are between receipt and response; when
// that many are outstanding, or when more than max_output_bytes of responses
// wait to be written, Feed stops consuming (backpressure: the caller stops
// reading the socket until Ack or ConsumeOutput makes room). Only a frame
// split across reads is copied, into one buffer of at most
// max(max_data_bytes, 4 KiB) that is reused; the rest of an oversized frame is
// skipped, never stored. Steady state allocates nothing per message.
//
// Typical listener loop:
//   size_t used = session.Feed(read_bytes);   // OnSyslog runs inside
//   keep read_bytes.substr(used) for the next Feed
//   write(session.PendingOutput()); session.ConsumeOutput(written);
//   if (session.Done() && session.PendingOutput().empty()) close the socket.
#ifndef KONSEKI_RECEIVER_RELP_SESSION_H_
#define KONSEKI_RECEIVER_RELP_SESSION_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics.h"
#include "receiver/relp_frame.h"

namespace konseki::receiver {

struct RelpSessionOptions {
  // Largest syslog payload kept, in bytes; longer ones are truncated (or are an
  // error, see truncate_oversize). Matches librelp's default of 128 KiB.
  size_t max_data_bytes = 128 * 1024;
  // Oversized DATA: true delivers the first max_data_bytes marked truncated and
  // acks it normally; false ends the session with kDataTooLong.
  bool truncate_oversize = true;
  // Frames received but not yet answered (syslog frames awaiting Ack, plus
  // any frame queued behind one). omrelp's default window is 128.
  size_t max_unacked = 1024;
  // Feed stops consuming while more response bytes than this wait to be
  // written (a client that does not read its answers).
  size_t max_output_bytes = 64 * 1024;
  // The relp_software offer: "name,version[,url]".
  std::string software = "konseki,0.1.0";
};

// Why a session ended in the error state. Every one means the caller must
// close the connection (after writing any pending output).
enum class RelpError : uint8_t {
  kNone = 0,
  kBadTxnr,  // frame syntax: see RelpFrameError
  kBadCommand,
  kBadDatalen,
  kBadTrailer,
  kDataTooLong,
  kTxnrOutOfSequence,  // TXNR is not the one after the previous frame's
  kNotOpen,            // a command other than open before open
  kUnexpectedCommand,  // the client sent rsp or serverclose
  kOpenRefused,        // open without relp_version or without the syslog command
};
inline constexpr size_t kRelpErrorCount = 10;

// Stable snake_case name for metric labels ("txnr_out_of_sequence").
std::string_view RelpErrorName(RelpError error);

// Counters shared by all sessions of a listener; register once, pass to each
// session. The pointers stay owned by the registry.
struct RelpCounters {
  Counter* frames = nullptr;                       // konseki_relp_frames_total
  Counter* messages = nullptr;                     // konseki_relp_messages_total
  Counter* truncated = nullptr;                    // konseki_relp_truncated_messages_total
  Counter* acks = nullptr;                         // konseki_relp_acks_total
  Counter* unknown_commands = nullptr;             // konseki_relp_unknown_commands_total
  Counter* client_closes = nullptr;                // konseki_relp_client_closes_total
  std::array<Counter*, kRelpErrorCount> errors{};  // konseki_relp_errors_total{reason}

  static RelpCounters Register(MetricsRegistry* registry);
};

// Receives the syslog payloads. Called from inside RelpSession::Feed.
class RelpHandler {
 public:
  virtual ~RelpHandler() = default;
  // `data` is valid only during the call (copy it). `truncated` says DATA was
  // longer than max_data_bytes. The handler may call session.Ack(txnr) right
  // here (e.g. tests, or a pipeline without durability), or later.
  virtual void OnSyslog(uint32_t txnr, std::string_view data, bool truncated) = 0;
};

// One per connection. Not thread-safe: Feed, Ack, ConsumeOutput and
// ServerClose must be called from the connection's thread (acks from the
// archive are marshalled back to it). Not copyable. `handler` and `counters`
// (may be null) must outlive the session.
class RelpSession {
 public:
  enum class State : uint8_t {
    kAwaitingOpen,  // nothing but open accepted
    kOpen,          // syslog frames flow
    kClosing,       // close received; its answer waits for earlier acks
    kClosed,        // close answered or serverclose sent: flush, then close
    kError,         // protocol error (error()): flush, then close
  };

  RelpSession(const RelpSessionOptions& options, RelpHandler* handler,
              const RelpCounters* counters = nullptr);
  RelpSession(const RelpSession&) = delete;
  RelpSession& operator=(const RelpSession&) = delete;

  // Processes bytes read from the connection and returns how many it
  // consumed. Fewer than input.size() means: the window is full, the output
  // backlog is too large, or the session is done; feed the rest again later
  // (after Ack / ConsumeOutput) or, once Done(), drop it.
  size_t Feed(std::string_view input);

  // Marks the syslog frame `txnr` safe. Returns false if txnr is not a syslog
  // frame awaiting its ack (unknown, already acked, or not a syslog frame).
  bool Ack(uint32_t txnr);
  // Acks every syslog frame awaiting its ack from the oldest up to and
  // including txnr (in transaction order, wrap-aware). Returns how many.
  size_t AckUpTo(uint32_t txnr);

  // Bytes to write to the connection, oldest first.
  std::string_view PendingOutput() const { return std::string_view(output_).substr(output_pos_); }
  // Drops the first n bytes of PendingOutput() (they were written).
  void ConsumeOutput(size_t n);

  // Server shutdown: queues "0 serverclose 0" and stops processing input.
  // Frames not yet answered stay unanswered; the client resends them on its
  // next connection (so they may be archived twice: RELP is at-least-once).
  // omrelp reconnects only when its next message comes, so a quiet sender
  // keeps them until then: for a graceful stop, stop calling Feed, wait
  // (bounded) until unacked() == 0 and the output is written, then call this.
  void ServerClose();

  State state() const { return state_; }
  RelpError error() const { return error_; }
  // Closed or error: no more input will be processed.
  bool Done() const { return state_ == State::kClosed || state_ == State::kError; }
  // False while Feed would consume nothing (window full, backlog, done).
  bool WantsInput() const;
  // Syslog frames delivered and not yet acked.
  size_t unacked() const { return unacked_; }
  // Frames received and not yet answered (the window in use).
  size_t outstanding() const { return count_; }
  // Transaction number the next client frame must carry.
  uint32_t expected_txnr() const { return expected_txnr_; }

 private:
  friend class RelpSessionTestPeer;  // moves the TXNR sequence near its wrap

  // What a received frame still needs before its answer can be written.
  enum class Slot : uint8_t {
    kSyslogPending,  // waiting for Ack
    kSyslogAcked,    // "200 OK"
    kOpenOk,         // "200 OK\n" + offers
    kAlreadyOpen,    // a second open: "200 connection already open - ignored"
    kUnknown,        // "500 command not supported"
    kClose,          // "200 OK", then the session is closed
  };

  void ProcessFrame(const RelpFrame& frame);
  void HandleOpen(const RelpFrame& frame);
  void Push(Slot slot);
  void Drain();
  void AppendRsp(uint32_t txnr, std::string_view text);
  void SetError(RelpError error);
  // Index into slots_ of txnr, or -1 if it is not outstanding.
  long IndexOf(uint32_t txnr) const;

  RelpSessionOptions options_;
  RelpHandler* handler_;
  const RelpCounters* counters_;
  RelpFrameDecoder decoder_;

  State state_ = State::kAwaitingOpen;
  RelpError error_ = RelpError::kNone;
  uint32_t expected_txnr_ = 1;

  // Ring of outstanding frames: slot i of the ring (counted from head_) is
  // transaction head_txnr_ + i. Contiguous because TXNRs are sequential.
  std::vector<Slot> slots_;
  size_t head_ = 0;
  size_t count_ = 0;
  uint32_t head_txnr_ = 1;
  size_t unacked_ = 0;

  std::string output_;
  size_t output_pos_ = 0;
  bool server_closed_ = false;  // serverclose written: nothing may follow it
  std::string open_response_;   // "200 OK\nrelp_version=0\n..." built once
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_RELP_SESSION_H_
