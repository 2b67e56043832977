// A parsed syslog message: a value of string_views into bytes owned by
// someone else (the batch that carries the frame). Valid only as long as
// those bytes are; copy what you keep.
#ifndef KONSEKI_COMMON_MESSAGE_H_
#define KONSEKI_COMMON_MESSAGE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/clock.h"

namespace konseki {

enum class MessageFormat : uint8_t {
  kRfc5424,   // "<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG"
  kRfc3164,   // BSD syslog as real senders write it (incl. RFC 3339 stamps)
  kUnparsed,  // no recognisable header: kept whole, msg == raw
};

// Why a message fell back to kUnparsed or lost a field (counted by reason).
enum class ParseIssue : uint8_t {
  kNone = 0,
  kEmpty,         // zero-length frame
  kBadPri,        // "<" present but PRI invalid
  kBadTimestamp,  // header present but timestamp unreadable
  kNoHeader,      // plain text line, no syslog header
  kBadStructuredData,
  kInvalidUtf8,  // passed through untouched, only counted
};
// How many ParseIssue values there are (for arrays indexed by issue).
inline constexpr size_t kParseIssueCount = static_cast<size_t>(ParseIssue::kInvalidUtf8) + 1;

struct Message {
  std::string_view raw;  // the whole frame exactly as received (no framing)

  MessageFormat format = MessageFormat::kUnparsed;
  ParseIssue issue = ParseIssue::kNone;

  int pri = -1;  // 0..191, or -1 when the frame had no PRI
  int facility() const { return pri < 0 ? 1 : pri >> 3; }  // RFC 3164: default user
  int severity() const { return pri < 0 ? 5 : pri & 7; }   // default notice

  // Event time from the header; when has_timestamp is false it equals received.
  bool has_timestamp = false;
  // The parser's UTF-8 pass saw that raw holds no byte below 0x20 and no
  // 0x7f: the archive writes it without escaping (false: not known).
  bool raw_plain = false;
  TimePoint timestamp;

  // Empty when the header had none (or NILVALUE); see host below.
  std::string_view hostname;
  std::string_view app_name;         // RFC 3164 TAG without [pid] ("sshd", "postfix/smtpd")
  std::string_view procid;           // "1234" or empty
  std::string_view msgid;            // RFC 5424 only; empty otherwise
  std::string_view structured_data;  // RFC 5424 SD as written ("[id k=\"v\"]"), empty for "-"
  std::string_view msg;              // free text (after the BOM for RFC 5424)

  // How many events this line stands for: N when the sender's repeat
  // reduction wrote one line for N identical ones (rsyslog's "message
  // repeated N times: [text]", whose msg is then the text), else 1.
  uint32_t repeats = 1;

  // Filled by the receiver, not the parser.
  TimePoint received;
  std::string_view sender;  // sender address as text, "192.0.2.1" or "::1"

  // The host this message belongs to: hostname when present, else sender.
  std::string_view host() const { return hostname.empty() ? sender : hostname; }

  // Every field as a default-constructed Message has it, stored in place.
  // `*this = Message()` built the default on the stack and copied it in
  // 16-byte loads right after its narrow stores: a store-forwarding stall
  // on every parsed line (~4% of a pinned TCP run's CPU, bench/RESULTS.md).
  void Clear() {
    raw = {};
    format = MessageFormat::kUnparsed;
    issue = ParseIssue::kNone;
    pri = -1;
    has_timestamp = false;
    raw_plain = false;
    timestamp = {};
    hostname = {};
    app_name = {};
    procid = {};
    msgid = {};
    structured_data = {};
    msg = {};
    repeats = 1;
    received = {};
    sender = {};
  }
};
// A field added to Message must be added to Clear() (and to PackedMessage).
static_assert(sizeof(void*) != 8 || sizeof(Message) == 168,
              "Message changed: update Message::Clear");

}  // namespace konseki

#endif  // KONSEKI_COMMON_MESSAGE_H_
