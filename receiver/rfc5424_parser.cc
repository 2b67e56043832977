#include "receiver/rfc5424_parser.h"

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "receiver/timestamp.h"
#include "receiver/timestamp_cache.h"

namespace konseki::receiver {
namespace {

constexpr std::string_view kNil = "-";
constexpr std::string_view kBom = "\xEF\xBB\xBF";

#if defined(__SSE2__)
// One bit per byte of p[0..63]: set where the byte is a space.
inline uint64_t SpaceMask64(const char* p) {
  const __m128i sp = _mm_set1_epi8(' ');
  auto m16 = [&](int at) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
    return static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, sp))));
  };
  return m16(0) | (m16(16) << 16) | (m16(32) << 32) | (m16(48) << 48);
}
#endif

// The header's kFields space-ended tokens from line[*pos] (TIMESTAMP,
// HOSTNAME, APP-NAME, PROCID, MSGID); advances *pos past the last one's
// space. False when the line ends before the last space (the header is cut
// short). One 64-byte compare finds the spaces of a usual header at once:
// five memchr calls on fields of 1-32 bytes cost 7% of a pinned TCP run.
constexpr int kFields = 5;
bool SplitHeader(std::string_view line, size_t* pos, std::string_view* fields) {
  size_t start = *pos;
  int got = 0;
#if defined(__SSE2__)
  for (size_t p = start; got < kFields && p + 64 <= line.size(); p += 64) {
    for (uint64_t m = SpaceMask64(line.data() + p); m != 0 && got < kFields; m &= m - 1) {
      const size_t at = p + static_cast<size_t>(__builtin_ctzll(m));
      // at >= start, inside the line: no substr bounds check (~30
      // instructions per header in callgrind of bench/worker_bench Loggen).
      fields[got++] = std::string_view(line.data() + start, at - start);
      start = at + 1;
    }
  }
#endif
  for (; got < kFields; ++got) {
    const size_t end = line.find(' ', start);
    if (end == std::string_view::npos) return false;
    fields[got] = line.substr(start, end - start);
    start = end + 1;
  }
  *pos = start;
  return true;
}

// Inlined: it was a call per field, four per line.
inline __attribute__((always_inline)) std::string_view NilToEmpty(std::string_view field) {
  return field.size() == 1 && field[0] == '-' ? std::string_view() : field;
}

// SD-NAME: 1..32 printable US-ASCII except '=', SP, ']', '"'. Returns its
// length (0 if none); stops at the first byte not allowed.
size_t ScanSdName(std::string_view s, size_t pos) {
  size_t p = pos;
  while (p < s.size() && p - pos < 32) {
    const unsigned char c = static_cast<unsigned char>(s[p]);
    if (c <= 32 || c >= 127 || c == '=' || c == ']' || c == '"') break;
    ++p;
  }
  return p - pos;
}

}  // namespace

bool LooksLikeRfc5424(std::string_view line, size_t pos) {
  return pos + 2 <= line.size() && line[pos] == '1' && line[pos + 1] == ' ';
}

size_t ScanStructuredData(std::string_view sd) {
  size_t p = 0;
  if (sd.empty() || sd[0] != '[') return 0;
  while (p < sd.size() && sd[p] == '[') {
    ++p;
    const size_t id_len = ScanSdName(sd, p);
    if (id_len == 0) return 0;
    p += id_len;
    for (;;) {
      if (p >= sd.size()) return 0;
      if (sd[p] == ']') {
        ++p;
        break;
      }
      if (sd[p] != ' ') return 0;
      ++p;
      const size_t name_len = ScanSdName(sd, p);
      if (name_len == 0) return 0;
      p += name_len;
      if (p + 1 >= sd.size() || sd[p] != '=' || sd[p + 1] != '"') return 0;
      p += 2;
      // PARAM-VALUE up to the closing quote; a backslash escapes the next byte.
      for (;;) {
        if (p >= sd.size()) return 0;
        const char c = sd[p];
        if (c == '"') break;
        p += c == '\\' ? 2 : 1;
      }
      ++p;  // closing quote
    }
  }
  if (p < sd.size() && sd[p] != ' ') return 0;
  return p;
}

// Cisco Meraki MX/MR/MS send "<134>1 1647478092.669153546 MX84 events
// client_vpn_connect user id 'u' local ip ... connected from ..." (Meraki's
// "Syslog Event Types and Log Samples"): RFC 5424's VERSION, then the epoch
// time in seconds with a fraction, the device's name, the log's category
// (events, urls, flows, firewall, ids-alerts, security_event, airmarshal_
// events) and its text, with no PROCID, MSGID or structured data. Read as
// that: the stamp, the host, the category as the program and the text from
// the token after it as the message (read as RFC 5424 the event's name was
// the PROCID and connect and disconnect read the same). False (nothing
// set) for any stamp that is not an epoch time; only lines whose stamp
// failed reach it.
namespace {
bool ReadMerakiHeader(std::string_view line, std::string_view ts, std::string_view host,
                      std::string_view app, std::string_view text_start, Message* out) {
  size_t i = 0;
  int64_t secs = 0;
  while (i < ts.size() && ts[i] >= '0' && ts[i] <= '9' && i < 11) {
    secs = secs * 10 + (ts[i] - '0');
    ++i;
  }
  // 9-10 digits up to 2100-01-01: the nanosecond clock's range (the
  // fuzzer's 77177777777 overflowed it).
  if (i < 9 || i >= ts.size() || ts[i] != '.' || i + 1 == ts.size() || ts.size() - i - 1 > 9 ||
      secs > 4102444800) {
    return false;
  }
  int64_t nanos = 0;
  size_t digits = 0;
  for (size_t j = i + 1; j < ts.size(); ++j, ++digits) {
    if (ts[j] < '0' || ts[j] > '9') return false;
    nanos = nanos * 10 + (ts[j] - '0');
  }
  for (; digits < 9; ++digits) nanos *= 10;
  out->format = MessageFormat::kRfc5424;
  out->issue = ParseIssue::kNone;
  out->has_timestamp = true;
  out->timestamp = TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos)));
  out->hostname = NilToEmpty(host);
  out->app_name = NilToEmpty(app);
  out->procid = {};
  out->msgid = {};
  out->msg = line.substr(static_cast<size_t>(text_start.data() - line.data()));
  return true;
}
}  // namespace

void ParseRfc5424(std::string_view line, size_t pos, const ParserOptions& options,
                  TimestampCache* cache, Message* out) {
  size_t p = pos + 2;  // "1 "
  std::string_view fields[kFields];
  if (!SplitHeader(line, &p, fields) || p >= line.size()) {
    out->format = MessageFormat::kUnparsed;
    out->issue = ParseIssue::kNoHeader;
    out->msg = line;
    return;
  }
  const std::string_view ts = fields[0], host = fields[1], app = fields[2], procid = fields[3],
                         msgid = fields[4];
  out->format = MessageFormat::kRfc5424;
  if (ts != kNil) {
    TimePoint t;
    if (cache != nullptr &&
        cache->Find(ts, MessageFormat::kRfc5424, options, out->received, &t) == ts.size()) {
      out->has_timestamp = true;
      out->timestamp = t;
    } else if (ReadIsoTimestamp(ts, options.default_utc_offset_secs, &t) == ts.size()) {
      out->has_timestamp = true;
      out->timestamp = t;
      // A whole token: the next byte is a space. The reading does not depend
      // on the receive time.
      if (cache != nullptr) cache->Store(ts, MessageFormat::kRfc5424, options, ReceivedSpan(), t);
    } else if (ReadMerakiHeader(line, ts, host, app, procid, out)) {
      return;
    } else {
      out->issue = ParseIssue::kBadTimestamp;
    }
  }
  out->hostname = NilToEmpty(host);
  out->app_name = NilToEmpty(app);
  out->procid = NilToEmpty(procid);
  out->msgid = NilToEmpty(msgid);

  const std::string_view rest = line.substr(p);
  size_t sd_len = 0;
  if (rest[0] == '-' && (rest.size() == 1 || rest[1] == ' ')) {
    sd_len = 1;
  } else {
    sd_len = ScanStructuredData(rest);
    if (sd_len == 0) {
      // Keep every byte reachable: the unreadable SD stays at the head of msg.
      if (out->issue == ParseIssue::kNone) out->issue = ParseIssue::kBadStructuredData;
      out->msg = rest;
      return;
    }
    out->structured_data = rest.substr(0, sd_len);
  }
  if (sd_len < rest.size()) {
    std::string_view msg = rest.substr(sd_len + 1);  // past the SP
    if (msg.starts_with(kBom)) msg.remove_prefix(kBom.size());
    // rsyslog's RFC 5424 templates (RSYSLOG_SyslogProtocol23Format, the one
    // docs/senders.md gives) write "%STRUCTURED-DATA% %msg%", and the MSG of
    // a line rsyslog read as RFC 3164 (everything from /dev/log and the
    // journal) starts with the space that ended its TAG: "- -  Failed
    // password ...". That space is the TAG's separator, which the RFC 3164
    // reading drops too; kept, every rule anchored at the text's start missed
    // such lines. One space comes off; a second one stays.
    if (!msg.empty() && msg.front() == ' ') msg.remove_prefix(1);
    out->msg = msg;
  }
}

}  // namespace konseki::receiver
