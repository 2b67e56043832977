// RFC 3164 (BSD syslog) reader as real senders write it, one stage of the
// Parser chain (receiver/parser.h). Pure over bytes: no allocation, no clock.
// Thread-safe.
#ifndef KONSEKI_RECEIVER_RFC3164_PARSER_H_
#define KONSEKI_RECEIVER_RFC3164_PARSER_H_

#include <cstddef>
#include <string_view>

#include "common/message.h"
#include "receiver/parser.h"

namespace konseki::receiver {

class TimestampCache;

// Reads "[TIMESTAMP] [HOSTNAME] [TAG[[PID]]:] MSG" from line[pos..], pos just
// past "<PRI>" (has_pri) or 0. Accepted timestamps: "Mmm dd hh:mm:ss" (incl.
// " d" days, an optional year and fraction), RFC 3339 ("2026-11-23T08:00:00
// .123456+09:00") and ISO-ish "2026-11-23 08:00:00[.frac][+-zone]". A missing
// year is inferred from out->received (ResolveBsdTimestamp); a missing zone is
// options.default_utc_offset_secs.
//
// Hostname vs tag: the first token after the timestamp is the TAG (and there
// is no hostname) when it contains '[' or ends with ':' ("sshd[12]:",
// "kernel:"), except for IPv6 addresses; otherwise it is the hostname. A
// lone ':' after the hostname (Cisco ASA's "ID : %ASA-6-605004: ...") is
// skipped when a TAG closed by ':' or "[pid]" follows. The TAG ends at ' ',
// ':', '[' or a TAB, and a bare word also at rsyslog's "#011" (Snare's
// "MSWinEventLog<TAB>..."); "[pid]" gives procid; one ':' and one space (or
// TAB, or "#011") after the tag are consumed. The rest is msg, kept as is
// (kernel "[  1.2]" uptime included).
//
// Without a timestamp: returns false if !has_pri (the caller keeps the line
// unparsed); with a PRI, fills kRfc3164 with kBadTimestamp, no hostname, and
// a tag only when written "tag:" or "tag[pid]". Precondition: out->raw, pri,
// received and timestamp (= received) are already set. All views point into
// `line`. `cache` (may be null; the caller's thread's) is looked up before
// the timestamp is read and given what was read.
bool ParseRfc3164(std::string_view line, size_t pos, bool has_pri, const ParserOptions& options,
                  TimestampCache* cache, Message* out);

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_RFC3164_PARSER_H_
