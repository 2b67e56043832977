// A parsed Message stored as offsets into its frame's bytes, so the parse a
// listener thread does to route a frame (app/router.h) travels with the
// frame in its batch and the worker rebuilds the Message without parsing the
// bytes a second time (issue 7: the second parse cost ~13% of a core).
#ifndef KONSEKI_COMMON_PACKED_MESSAGE_H_
#define KONSEKI_COMMON_PACKED_MESSAGE_H_

#include <cstdint>
#include <string_view>

#include "common/clock.h"
#include "common/message.h"

namespace konseki {

// Value type, trivially copyable; holds no pointers, so it stays valid when
// the frame's bytes are copied or moved (it is relative to their start).
struct PackedMessage {
  struct Span {
    uint32_t offset = 0;
    uint32_t length = 0;
  };

  // Every Message field the parser fills, except raw and received (which
  // the carrier of the frame keeps) and sender (the receiver's).
  Span hostname, app_name, procid, msgid, structured_data, msg;
  TimePoint timestamp;
  uint32_t repeats = 1;
  int16_t pri = -1;
  MessageFormat format = MessageFormat::kUnparsed;
  ParseIssue issue = ParseIssue::kNone;
  bool has_timestamp = false;
  bool raw_plain = false;

  // Packs `m`, whose views must lie inside `frame` (what Parser::Parse
  // promises for the bytes it was given). Returns false, leaving *out in an
  // unspecified state, when a non-empty view points elsewhere: the caller
  // must then keep the frame unparsed and parse it again where it is used.
  static bool Pack(const Message& m, std::string_view frame, PackedMessage* out) {
    const char* base = frame.data();
    auto span = [&](std::string_view v, Span* s) {
      if (v.empty()) {
        *s = Span();
        return true;
      }
      if (v.data() < base || v.data() + v.size() > base + frame.size()) return false;
      s->offset = static_cast<uint32_t>(v.data() - base);
      s->length = static_cast<uint32_t>(v.size());
      return true;
    };
    if (!span(m.hostname, &out->hostname) || !span(m.app_name, &out->app_name) ||
        !span(m.procid, &out->procid) || !span(m.msgid, &out->msgid) ||
        !span(m.structured_data, &out->structured_data) || !span(m.msg, &out->msg)) {
      return false;
    }
    out->timestamp = m.timestamp;
    out->pri = static_cast<int16_t>(m.pri);
    out->repeats = m.repeats;
    out->format = m.format;
    out->issue = m.issue;
    out->has_timestamp = m.has_timestamp;
    out->raw_plain = m.raw_plain;
    return true;
  }

  // Rebuilds the Message over `frame` (the same bytes given to Pack, or a
  // copy of them); its views point into `frame` and `sender`, which must
  // outlive *out.
  void Unpack(std::string_view frame, TimePoint received, std::string_view sender,
              Message* out) const {
    auto view = [&](const Span& s) { return std::string_view(frame.data() + s.offset, s.length); };
    out->raw = frame;
    out->format = format;
    out->issue = issue;
    out->pri = pri;
    out->repeats = repeats;
    out->has_timestamp = has_timestamp;
    out->raw_plain = raw_plain;
    out->timestamp = timestamp;
    out->hostname = view(hostname);
    out->app_name = view(app_name);
    out->procid = view(procid);
    out->msgid = view(msgid);
    out->structured_data = view(structured_data);
    out->msg = view(msg);
    out->received = received;
    out->sender = sender;
  }
};

}  // namespace konseki

#endif  // KONSEKI_COMMON_PACKED_MESSAGE_H_
