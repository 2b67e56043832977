// RFC 5424 header reader, one stage of the Parser chain (receiver/parser.h).
// Pure over bytes: no allocation, no clock. Thread-safe.
#ifndef KONSEKI_RECEIVER_RFC5424_PARSER_H_
#define KONSEKI_RECEIVER_RFC5424_PARSER_H_

#include <cstddef>
#include <string_view>

#include "common/message.h"
#include "receiver/parser.h"

namespace konseki::receiver {

class TimestampCache;

// True when line[pos..] (pos just past "<PRI>") starts an RFC 5424 header,
// i.e. with VERSION "1" followed by a space.
bool LooksLikeRfc5424(std::string_view line, size_t pos);

// Reads "1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [SP MSG]" from
// line[pos..]. Precondition: LooksLikeRfc5424(line, pos); out->raw, pri,
// received and timestamp (= received) are already set.
//
// Outcomes (format / issue):
//  - a complete header: kRfc5424; NILVALUE fields stay empty; an unreadable
//    timestamp sets kBadTimestamp and keeps has_timestamp false; a malformed
//    SD leaves structured_data empty, keeps the SD bytes at the start of msg
//    and sets kBadStructuredData;
//  - a header cut short before its SD: kUnparsed / kNoHeader, msg == line,
//    every other view empty.
// All views point into `line`. `cache` (may be null; the caller's thread's)
// is looked up before the timestamp is read and given what was read.
void ParseRfc5424(std::string_view line, size_t pos, const ParserOptions& options,
                  TimestampCache* cache, Message* out);

// Length of the SD-ELEMENTs ("[id k=\"v\"][id2]") starting at sd[0], or 0
// if sd does not start with well-formed structured data. Accepts the escapes
// \" \\ \] (and, leniently, a backslash before any other byte) in values.
// The element list must be followed by the end of input or a space.
size_t ScanStructuredData(std::string_view sd);

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_RFC5424_PARSER_H_
