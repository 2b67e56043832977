#include "receiver/parser.h"

#include <cstdint>
#include <cstring>

#include "common/utf8.h"
#include "receiver/rfc3164_parser.h"
#include "receiver/rfc5424_parser.h"

namespace konseki::receiver {
namespace {

// Reads "<PRI>" at line[0]. Returns bytes consumed (0: no '<'), or -1 when a
// '<' starts something that is not a valid PRI (0..191, 1-3 digits).
int ReadPri(std::string_view line, int* pri) {
  if (line.empty() || line[0] != '<') return 0;
  // The digit at line[i], or a value > 9 past the end or for a non-digit.
  const auto digit = [line](size_t i) {
    return i < line.size() ? static_cast<unsigned>(static_cast<unsigned char>(line[i]) - '0') : 10u;
  };
  unsigned value = digit(1);
  if (value > 9) return -1;
  size_t p = 2;
  if (const unsigned d = digit(2); d <= 9) {
    value = value * 10 + d;
    p = 3;
    if (const unsigned d3 = digit(3); d3 <= 9) {
      value = value * 10 + d3;
      p = 4;
    }
  }
  if (p >= line.size() || line[p] != '>' || value > 191) return -1;
  *pri = static_cast<int>(value);
  return static_cast<int>(p + 1);
}

// A log file's line forwarded as the text of another message (rsyslog's
// imfile reading /var/log/auth.log with Tag="auth:", or any relay that
// tails files): "<PRI>Dec  3 05:40:01 web1 auth: Dec  3 05:40:00 web1
// sshd[777]: Failed password ...". The daemon's tag, pid, text and stamp are
// the inner header's (the stamp matters: a file read from its start carries
// days of old lines); the host stays the outer one unless it had none. Only a
// whole inner header counts: a stamp, a host and a tag written "tag:" or
// "tag[pid]".
void UnwrapFileLine(const ParserOptions& options, Message* out) {
  const std::string_view m = out->msg;
  if (m.size() < 20) return;
  const char c = m[0];
  // A month name ("Dec  3 ...") or a year ("2026-12-03T..."): anything else
  // cannot start a stamp, and costs one comparison.
  if (!((c >= 'A' && c <= 'S' && m[3] == ' ') || (c == '1' || c == '2'))) return;
  Message inner;
  inner.raw = m;
  inner.received = out->received;
  inner.timestamp = out->received;
  inner.sender = out->sender;
  if (!ParseRfc3164(m, 0, /*has_pri=*/false, options, nullptr, &inner)) return;
  if (!inner.has_timestamp || inner.hostname.empty() || inner.app_name.empty()) return;
  // The tag was closed by ':' or "[pid]" (then ':'): the byte before the text.
  const char* text = inner.msg.data();
  const char* start = m.data();
  size_t before = static_cast<size_t>(text - start);
  if (before > 0 && start[before - 1] == ' ') --before;
  if (before == 0 || (start[before - 1] != ':' && start[before - 1] != ']')) return;
  out->app_name = inner.app_name;
  out->procid = inner.procid;
  out->msg = inner.msg;
  out->timestamp = inner.timestamp;
  out->has_timestamp = true;
  if (out->hostname.empty()) out->hostname = inner.hostname;
}

// A sender's repeat reduction: rsyslog (RepeatedMsgReduction, on in
// Ubuntu's rsyslog.conf) writes one line for N identical ones as
// "message repeated N times: [<msg>]", where <msg> is the original MSG with
// its leading space (runtime/ratelimit.c: " message repeated %d times:
// [%.800s]"). The text becomes the message and N its repeat count, so rules
// see what the daemon wrote and correlations count N events. The brackets
// are the sender's: a cut line (no ']') still unwraps, and the count must be
// a positive number.
void UnwrapRepeated(Message* out) {
  constexpr std::string_view kHead = "message repeated ";
  constexpr std::string_view kTimes = " times: [";
  std::string_view m = out->msg;
  if (!m.empty() && m.front() == ' ') m.remove_prefix(1);
  if (m.size() < kHead.size() + 1 + kTimes.size() || m.compare(0, kHead.size(), kHead) != 0) {
    return;
  }
  size_t p = kHead.size();
  uint64_t n = 0;
  const size_t digits_start = p;
  while (p < m.size() && p - digits_start < 10 && m[p] >= '0' && m[p] <= '9') {
    n = n * 10 + static_cast<uint64_t>(m[p] - '0');
    ++p;
  }
  if (p == digits_start || n == 0 || n > UINT32_MAX || m.compare(p, kTimes.size(), kTimes) != 0) {
    return;
  }
  m.remove_prefix(p + kTimes.size());
  if (!m.empty() && m.front() == ' ') m.remove_prefix(1);
  if (!m.empty() && m.back() == ']') m.remove_suffix(1);
  out->msg = m;
  out->repeats = static_cast<uint32_t>(n);
}

// rsyslog escapes a control byte it did not drop as "#ooo"
// ($EscapeControlCharactersOnReceive, on by default): a line end a sender left
// at the end of its message (a kept LF, InterNetNews/inn#373; a CRLF sender's
// CR, rsyslog#241) arrives as a trailing "#012" / "#015". It is dropped from
// the message as a raw line end is (raw keeps it), so a rule anchored at the
// message's end and the last field read what the daemon wrote. Only at the
// end: "#012" inside a message is a real multi-line record.
void DropTrailingEscapedLineEnds(Message* out) {
  std::string_view m = out->msg;
  while (m.size() >= 4 && m[m.size() - 4] == '#' && m[m.size() - 3] == '0' &&
         m[m.size() - 2] == '1' && (m.back() == '2' || m.back() == '5')) {
    m.remove_suffix(4);
  }
  out->msg = m;
}

// Solaris' syslogd puts a message id and the facility.level between the tag
// and the text: "sshd[20247]: [ID 800047 auth.notice] Failed none for ...".
// The text after it is the message (the id is no part of what the daemon
// wrote).
void StripSolarisId(Message* out) {
  std::string_view m = out->msg;
  if (m.size() < 8 || m.compare(0, 4, "[ID ") != 0) return;
  size_t p = 4;
  const size_t digits_start = p;
  while (p < m.size() && m[p] >= '0' && m[p] <= '9') ++p;
  if (p == digits_start || p >= m.size() || m[p] != ' ') return;
  ++p;
  // facility.level: letters, digits and one dot, then "] ".
  const size_t name_start = p;
  bool dot = false;
  while (p < m.size() && m[p] != ']') {
    const char c = m[p];
    if (c == '.') {
      if (dot) return;
      dot = true;
    } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return;
    }
    ++p;
  }
  if (!dot || p == name_start || p >= m.size()) return;
  ++p;  // ']'
  if (p < m.size() && m[p] == ' ') ++p;
  out->msg = m.substr(p);
}

}  // namespace

void Parser::ParseKeepingSender(std::string_view bytes, TimePoint received, TimestampCache* cache,
                                Message* out) const {
  const std::string_view sender = out->sender;
  out->Clear();
  out->raw = bytes;
  out->received = received;
  out->timestamp = received;
  out->sender = sender;

  // The framer strips line ends; tolerate them anyway, outside every view but raw.
  std::string_view line = bytes;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);

  if (line.empty()) {
    out->issue = ParseIssue::kEmpty;
    out->msg = line;
    return;
  }

  int pri = -1;
  const int pri_len = ReadPri(line, &pri);
  if (pri_len < 0) {
    out->issue = ParseIssue::kBadPri;
    out->msg = line;
    return;
  }
  out->pri = pri;
  const size_t pos = static_cast<size_t>(pri_len);

  if (pri_len > 0 && LooksLikeRfc5424(line, pos)) {
    ParseRfc5424(line, pos, options_, cache, out);
  } else if (!ParseRfc3164(line, pos, pri_len > 0, options_, cache, out)) {
    out->format = MessageFormat::kUnparsed;
    out->issue = ParseIssue::kNoHeader;
    out->msg = line;
  }

  if (out->format == MessageFormat::kUnparsed) {
    // Nothing of a half-read header survives: the line is kept whole.
    const int kept_pri = out->pri;
    const ParseIssue issue = out->issue;
    out->Clear();
    out->raw = bytes;
    out->received = received;
    out->timestamp = received;
    out->sender = sender;
    out->pri = kept_pri;
    out->issue = issue == ParseIssue::kNone ? ParseIssue::kNoHeader : issue;
    out->msg = line;
    return;
  }
  if (!out->msg.empty()) UnwrapFileLine(options_, out);
  if (!out->msg.empty()) {
    if (out->msg.front() == '[') StripSolarisId(out);
    UnwrapRepeated(out);
    if (out->msg.size() >= 4 && (out->msg.back() == '2' || out->msg.back() == '5')) {
      DropTrailingEscapedLineEnds(out);
    }
  }
  if (options_.validate_utf8 && out->issue == ParseIssue::kNone) {
    bool control = false;
    if (!IsValidUtf8(line, &control)) {
      out->issue = ParseIssue::kInvalidUtf8;
    } else {
      // Over the whole frame (a stripped line end is a control byte).
      out->raw_plain = !control && line.size() == bytes.size();
    }
  }
}

namespace {

bool StartsWithCaseless(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    if (c != lower_prefix[i]) return false;
  }
  return true;
}

// "repeated N time(s)" at the start of *m: N, and *m is what follows.
bool ReadRepeatedCount(std::string_view* m, uint32_t* count) {
  constexpr std::string_view kRepeated = "repeated ";
  if (m->compare(0, kRepeated.size(), kRepeated) != 0) return false;
  size_t p = kRepeated.size();
  uint64_t n = 0;
  const size_t digits_start = p;
  while (p < m->size() && p - digits_start < 10 && (*m)[p] >= '0' && (*m)[p] <= '9') {
    n = n * 10 + static_cast<uint64_t>((*m)[p] - '0');
    ++p;
  }
  if (p == digits_start || n == 0 || n > UINT32_MAX) return false;
  constexpr std::string_view kTime = " time";
  if (m->compare(p, kTime.size(), kTime) != 0) return false;
  p += kTime.size();
  if (p < m->size() && (*m)[p] == 's') ++p;
  m->remove_prefix(p);
  *count = static_cast<uint32_t>(n);
  return true;
}

}  // namespace

bool ReadRepeatNotice(std::string_view msg, uint32_t* count, std::string_view* quoted) {
  std::string_view m = msg;
  if (!m.empty() && m.front() == ' ') m.remove_prefix(1);
  const bool dashes = m.compare(0, 4, "--- ") == 0;
  if (dashes) m.remove_prefix(4);
  constexpr std::string_view kHead = "last message ";
  if (!StartsWithCaseless(m, kHead)) return false;
  m.remove_prefix(kHead.size());
  std::string_view q;
  if (!m.empty() && m.front() == '\'') {
    // syslog-ng: '%.20s' of the earlier text, so the closing quote is within
    // 21 bytes; the text itself may hold "' ".
    constexpr std::string_view kClose = "' repeated ";
    for (size_t at = m.find(kClose, 1); at != std::string_view::npos && at <= 21;
         at = m.find(kClose, at + 1)) {
      std::string_view rest = m.substr(at + 2);
      uint32_t n = 0;
      constexpr std::string_view kBy = ", suppressed by syslog-ng on ";
      if (ReadRepeatedCount(&rest, &n) && rest.compare(0, kBy.size(), kBy) == 0) {
        *count = n;
        *quoted = m.substr(1, at - 1);
        return !dashes;
      }
    }
    return false;
  }
  uint32_t n = 0;
  if (!ReadRepeatedCount(&m, &n)) return false;
  while (!m.empty() && m.back() == ' ') m.remove_suffix(1);
  if (dashes) {
    if (m != " ---") return false;
  } else if (!m.empty()) {
    return false;
  }
  *count = n;
  *quoted = q;
  return true;
}

bool RepeatNoticeFits(const Message& notice, const Message& earlier, std::string_view quoted) {
  if (!notice.app_name.empty() && notice.app_name != "syslogd" &&
      notice.app_name != earlier.app_name) {
    return false;
  }
  return earlier.msg.substr(0, quoted.size()) == quoted;
}

}  // namespace konseki::receiver
