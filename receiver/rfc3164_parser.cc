#include "receiver/rfc3164_parser.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

#include "receiver/parser.h"
#include "receiver/timestamp.h"
#include "receiver/timestamp_cache.h"
#include "receiver/zone_map.h"

namespace konseki::receiver {
namespace {

// A BSD stamp without a year may lie at most this far after reception
// (sender clocks run ahead; a stamp further ahead belongs to last year).
constexpr Duration kMaxFuture = std::chrono::hours(24 * 31);

constexpr std::string_view kFreeBsdForwarded = "Forwarded from ";

// Longest "[pid]" we look for; longer brackets are message text.
constexpr size_t kMaxPidLength = 128;

size_t SkipSpaces(std::string_view s, size_t pos) {
  while (pos < s.size() && s[pos] == ' ') ++pos;
  return pos;
}

size_t TokenEnd(std::string_view s, size_t pos) {
  const size_t end = s.find(' ', pos);
  return end == std::string_view::npos ? s.size() : end;
}

// "2001:db8::1:" style tokens: hex digits, dots and at least two colons.
bool IsIpv6Like(std::string_view token) {
  int colons = 0;
  for (const char c : token) {
    if (c == ':') {
      ++colons;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                 c == '.')) {
      return false;
    }
  }
  return colons >= 2;
}

bool LooksLikeTag(std::string_view token) {
  if (token.find('[') != std::string_view::npos) return true;
  return token.ends_with(':') && !IsIpv6Like(token);
}

// A timestamp at line[pos] must end at the end of input or a space; a ':'
// right after it (Cisco's "Mar  1 18:46:11.123: ...") is taken with it.
bool AtBoundary(std::string_view line, size_t* end) {
  if (*end < line.size() && line[*end] == ':' &&
      (*end + 1 == line.size() || line[*end + 1] == ' ')) {
    ++*end;
  }
  return *end == line.size() || line[*end] == ' ';
}

// The UTC hour around `t`: LocalZone::OffsetAt gives one offset for all of it.
ReceivedSpan HourOf(TimePoint t) {
  const auto hour = std::chrono::floor<std::chrono::hours>(t);
  return {hour, hour + std::chrono::hours(1)};
}

ReceivedSpan Intersect(const ReceivedSpan& a, const ReceivedSpan& b) {
  return {std::max(a.from, b.from), std::min(a.until, b.until)};
}

// On success *end is past the stamp and the ':' AtBoundary takes with it;
// line[*end] is then a space or the end of the line, which is what the
// cache's entries and lookups assume.
// Inlined: the one call per line is in ParseRfc3164 (ApplySenderZone's is
// out of line and rare; with two calls GCC kept it out of line, +50
// instructions a line in bench/parser_bench).
[[gnu::always_inline]] inline bool ReadTimestamp(std::string_view line, size_t pos,
                                                 const ParserOptions& options,
                                                 TimestampCache* cache, Message* out, size_t* end) {
  const std::string_view s = line.substr(pos);
  TimePoint t;
  if (cache != nullptr) {
    if (const size_t n = cache->Find(s, MessageFormat::kRfc3164, options, out->received, &t);
        n > 0) {
      *end = pos + n;
      out->timestamp = t;
      return true;
    }
  }
  size_t n = ReadIsoTimestamp(s, options.default_utc_offset_secs, &t);
  if (n > 0) {
    *end = pos + n;
    if (!AtBoundary(line, end)) return false;
    out->timestamp = t;
    if (cache != nullptr)
      cache->Store(line.substr(pos, *end - pos), MessageFormat::kRfc3164, options, ReceivedSpan(),
                   t);
    return true;
  }
  BsdTimestamp bsd;
  n = ReadBsdTimestamp(s, &bsd);
  if (n == 0) return false;
  *end = pos + n;
  if (!AtBoundary(line, end)) return false;
  const int offset = options.local_zone != nullptr ? options.local_zone->OffsetAt(out->received)
                                                   : options.default_utc_offset_secs;
  ReceivedSpan span;
  if (!ResolveBsdTimestamp(bsd, out->received, offset, kMaxFuture, &t,
                           cache != nullptr ? &span : nullptr)) {
    return false;
  }
  if (options.local_zone != nullptr) {
    t = options.local_zone->FixOffset(t, offset);
    span = Intersect(span, HourOf(out->received));
  }
  out->timestamp = t;
  if (cache != nullptr)
    cache->Store(line.substr(pos, *end - pos), MessageFormat::kRfc3164, options, span, t);
  return true;
}

// Bytes that end a tag (' ', ':', '[', a TAB) and a pid (' ', ']'), and
// those of them that end a bare word (' ', a TAB): one table load per byte
// instead of three compares (the tag and pid scans were 100 instructions of
// a 256-byte line's parse).
constexpr std::array<uint8_t, 256> kEnds = [] {
  std::array<uint8_t, 256> t{};
  t[' '] = 7;
  t['\t'] = 5;
  t[':'] = 1;
  t['['] = 1;
  t[']'] = 2;
  return t;
}();
constexpr uint8_t kEndsTag = 1;
constexpr uint8_t kEndsPid = 2;
constexpr uint8_t kEndsWord = 4;

// A TAB as rsyslog writes it when it escapes control characters
// ($EscapeControlCharactersOnReceive, on by default: runtime/parser.c
// SanitizeMsg).
constexpr std::string_view kEscapedTab = "#011";

bool Ends(char c, uint8_t what) { return (kEnds[static_cast<uint8_t>(c)] & what) != 0; }

// Reads TAG[pid]: at line[pos]; sets app_name/procid and returns where msg
// starts. With strong_only, a bare word ("hello world") is not a tag. A TAB
// ends a bare word as a space does, and so does a relay's "#011": Snare for
// Windows writes "MSWinEventLog<TAB>1<TAB>Security<TAB>..." (Snare Agent,
// "Appendix A - Windows Event Output Format").
size_t ReadTag(std::string_view line, size_t pos, bool strong_only, Message* out) {
  size_t p = pos;
  while (p < line.size() && !Ends(line[p], kEndsTag)) ++p;
  if (p == pos) return pos;
  const std::string_view tag = line.substr(pos, p - pos);
  if (p == line.size() || Ends(line[p], kEndsWord)) {
    if (strong_only) return pos;
    // Only a bare word is searched: a TAG closed by ':' or [pid] keeps a '#'.
    if (const size_t esc = tag.find(kEscapedTab); esc != std::string_view::npos && esc > 0) {
      out->app_name = tag.substr(0, esc);
      return pos + esc + kEscapedTab.size();
    }
    out->app_name = tag;
    return p == line.size() ? p : p + 1;
  }
  if (line[p] == '[') {
    const size_t open = p;
    size_t close = open + 1;
    const size_t limit = std::min(line.size(), open + kMaxPidLength + 1);
    while (close < limit && !Ends(line[close], kEndsPid)) ++close;
    if (close >= line.size() || line[close] != ']') {
      if (strong_only) return pos;
      out->app_name = tag;
      return open;
    }
    out->app_name = tag;
    out->procid = line.substr(open + 1, close - open - 1);
    p = close + 1;
    if (p < line.size() && line[p] == ':') ++p;
  } else {  // ':'
    out->app_name = tag;
    ++p;
  }
  if (p < line.size() && line[p] == ' ') ++p;
  return p;
}

// busybox syslogd writes its own file as "STAMP HOST FACILITY.PRIORITY
// MSG" (syslogd.c's timestamp_and_log, unless -S): "Dec  3 11:01:07
// alpine1 authpriv.info sshd[4207]: ...". Returns where the token after
// `pos` ends (past its space) when it is such a pair of the names
// <syslog.h> gives busybox (facilitynames, prioritynames), else pos.
size_t SkipFacilityPriority(std::string_view line, size_t pos) {
  // The longest facility name is 8 bytes: look no further for its dot.
  const size_t dot = line.substr(0, pos + 9).find('.', pos);
  if (dot == std::string_view::npos || dot - pos < 3) return pos;
  const size_t end = line.find(' ', dot);
  if (end == std::string_view::npos || end - dot < 4 || end - dot > 8) return pos;
  const std::string_view facility = line.substr(pos, dot - pos);
  const std::string_view priority = line.substr(dot + 1, end - dot - 1);
  static constexpr std::string_view kFacilities[] = {
      "auth",   "authpriv", "cron",     "daemon", "ftp",    "kern",  "lpr",    "mail",
      "mark",   "news",     "security", "syslog", "user",   "uucp",  "local0", "local1",
      "local2", "local3",   "local4",   "local5", "local6", "local7"};
  static constexpr std::string_view kPriorities[] = {"alert",  "crit",  "debug", "emerg",
                                                     "err",    "error", "info",  "none",
                                                     "notice", "panic", "warn",  "warning"};
  auto in = [](std::string_view word, const auto& names) {
    for (std::string_view n : names) {
      if (word == n) return true;
    }
    return false;
  };
  if (!in(facility, kFacilities) || !in(priority, kPriorities)) return pos;
  return end + 1;
}

// Reads the TAG after a Cisco ASA device id's lone ':' at line[pos] (see
// ParseRfc3164) and the text after it; false, leaving *out as it was, when
// no TAG closed by ':' or [pid] follows. Out of line: rarely taken.
[[gnu::noinline]] bool ReadTagAfterDeviceId(std::string_view line, size_t pos, Message* out) {
  const size_t tag_pos = SkipSpaces(line, pos + 1);
  const size_t msg_pos = ReadTag(line, tag_pos, /*strong_only=*/true, out);
  if (msg_pos == tag_pos) return false;
  out->msg = line.substr(msg_pos);
  return true;
}

// `n` decimal digits at s[pos..]: their value, or -1.
int Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    const unsigned d = static_cast<unsigned>(static_cast<unsigned char>(s[pos + i]) - '0');
    if (d > 9) return -1;
    v = v * 10 + static_cast<int>(d);
  }
  return v;
}

// The value of the key=value pair `key` (" devname=") among the first
// kFortinetKeysSpan bytes of `text`, quotes taken off; empty when absent.
constexpr size_t kFortinetKeysSpan = 512;

std::string_view KvValue(std::string_view text, std::string_view key) {
  const size_t at = text.substr(0, kFortinetKeysSpan).find(key);
  if (at == std::string_view::npos) return {};
  size_t p = at + key.size();
  if (p < text.size() && text[p] == '"') {
    const size_t close = text.find('"', p + 1);
    if (close == std::string_view::npos) return {};
    return text.substr(p + 1, close - p - 1);
  }
  return text.substr(p, TokenEnd(text, p) - p);
}

// FortiOS (FortiGate) and the Fortinet appliances built on its log format
// (FortiWeb, FortiMail, FortiAnalyzer forwarding) send over syslog, in the
// default `set format default`, no syslog header at all: the log's own
// fields, date and time first ("<189>date=2026-12-03 time=01:10:40
// devname="FGT-HQ" devid="FG100F..." eventtime=1796227840000000000
// tz="+0900" logid="0100032546" type="event" ...": Fortinet's FortiOS Log
// Message Reference, "Log message fields"; tz since FortiOS 6.2, quotes
// optional before 6.0). Read as the header they stand for: the device's
// name (devname; the serial devid or device_id when it has none) is the
// host and date/time the stamp, in tz when given, else the device's zone
// from parser.timezones, else the log host's zone as for any zoneless
// stamp. The fields stay the message, as rules
// read them. False (nothing set) for any other text.
bool ReadFortinetHeader(std::string_view line, size_t pos, const ParserOptions& options,
                        Message* out) {
  const std::string_view text = line.substr(pos);
  // "date=YYYY-MM-DD time=hh:mm:ss" and a space or the end.
  constexpr std::string_view kDate = "date=";
  constexpr std::string_view kTime = " time=";
  constexpr size_t kTimeAt = kDate.size() + 10;
  constexpr size_t kEnd = kTimeAt + kTime.size() + 8;
  if (text.size() < kEnd || !text.starts_with(kDate) ||
      text.compare(kTimeAt, kTime.size(), kTime) != 0 || text[kDate.size() + 4] != '-' ||
      text[kDate.size() + 7] != '-' || text[kTimeAt + kTime.size() + 2] != ':' ||
      text[kTimeAt + kTime.size() + 5] != ':' || (text.size() > kEnd && text[kEnd] != ' ')) {
    return false;
  }
  const int year = Digits(text, kDate.size(), 4);
  const int month = Digits(text, kDate.size() + 5, 2);
  const int day = Digits(text, kDate.size() + 8, 2);
  const size_t t = kTimeAt + kTime.size();
  const int hour = Digits(text, t, 2);
  const int minute = Digits(text, t + 3, 2);
  const int second = Digits(text, t + 6, 2);
  if (year < 1970 || year > 2200 || month < 1 || month > 12 || day < 1 ||
      day > static_cast<int>(DaysInMonth(year, static_cast<unsigned>(month))) || hour < 0 ||
      hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return false;
  }
  const int64_t wall_secs =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second;
  // tz="+0900" / "-0500" (FortiOS writes hhmm; "+09:00" read too).
  int offset = 0;
  bool zoned = false;
  if (const std::string_view tz = KvValue(text, " tz="); tz.size() >= 5) {
    const bool colon = tz.size() >= 6 && tz[3] == ':';
    const int hh = Digits(tz, 1, 2);
    const int mm = Digits(tz, colon ? 4 : 3, 2);
    if ((tz[0] == '+' || tz[0] == '-') && hh >= 0 && hh <= 14 && mm >= 0 && mm < 60) {
      offset = (hh * 3600 + mm * 60) * (tz[0] == '-' ? -1 : 1);
      zoned = true;
    }
  }
  std::string_view host = KvValue(text, " devname=");
  if (host.empty()) host = KvValue(text, " devid=");
  if (host.empty()) host = KvValue(text, " device_id=");
  // Without tz: the device's own zone from parser.timezones (by its name
  // or sender address), else the log host's.
  const LocalZone* local = options.local_zone;
  int fallback = options.default_utc_offset_secs;
  if (!zoned && options.zones != nullptr && !options.zones->empty()) {
    if (const ZoneMap::Zone* z = options.zones->Find(host, out->sender, nullptr)) {
      local = z->zone;
      fallback = z->fixed_offset_secs;
    }
  }
  if (!zoned) offset = local != nullptr ? local->OffsetAt(out->received) : fallback;
  TimePoint stamp{std::chrono::seconds(wall_secs - offset)};
  if (!zoned && local != nullptr) stamp = local->FixOffset(stamp, offset);
  out->format = MessageFormat::kRfc3164;
  out->issue = ParseIssue::kNone;
  out->timestamp = stamp;
  out->has_timestamp = true;
  out->hostname = host;
  out->msg = text;
  return true;
}

// OpenWrt's logread (openwrt/ubox log/logread.c, read_cb(): printf("%s
// %s.%s%s %s\n", ctime without its '\n', facility, priority, " kernel:"
// for the kernel's lines, msg)) prints, and with `-F FILE` (uci
// system.log_file) writes, "Mon Dec  7 13:01:02 2026 authpriv.warn
// dropbear[6862]: ..." : ctime's "Www Mmm dd hh:mm:ss yyyy" in the device's
// local time, then the facility.priority pair, then TAG[pid]: MSG; no
// host. Only lines without <PRI> (a file, or a file line relayed whole
// inside another header): sets the stamp and returns where the tag starts,
// or 0 (nothing set) for any other text.
[[gnu::noinline]] size_t ReadCtimeFileStamp(std::string_view line, size_t pos,
                                            const ParserOptions& options, Message* out) {
  const std::string_view text = line.substr(pos);
  static constexpr std::string_view kDays[] = {"Mon ", "Tue ", "Wed ", "Thu ",
                                               "Fri ", "Sat ", "Sun "};
  if (text.size() < 25 || std::none_of(std::begin(kDays), std::end(kDays),
                                       [&](std::string_view d) { return text.starts_with(d); })) {
    return 0;
  }
  BsdTimestamp bsd;
  const size_t n = ReadBsdTimestamp(text.substr(4), &bsd);
  // "Mmm dd hh:mm:ss" then " yyyy" and a space or the end.
  size_t at = 4 + n;
  if (n == 0 || bsd.year != 0 || at + 5 > text.size() || text[at] != ' ') return 0;
  const int year = Digits(text, at + 1, 4);
  at += 5;
  if (year < 1970 || (at < text.size() && text[at] != ' ')) return 0;
  bsd.year = year;
  const int offset = options.local_zone != nullptr ? options.local_zone->OffsetAt(out->received)
                                                   : options.default_utc_offset_secs;
  // logread always writes the pair; wu-ftpd's and vsftpd's xferlog lines
  // start with the same ctime stamp and a number ("... 2026 1 192.0.2.150
  // 734208 /srv/ftp/..."): the whole line is theirs.
  const size_t pair = SkipSpaces(line, pos + at);
  const size_t tag_pos = SkipFacilityPriority(line, pair);
  if (tag_pos == pair) return 0;
  TimePoint t;
  if (!ResolveBsdTimestamp(bsd, out->received, offset, kMaxFuture, &t)) return 0;
  if (options.local_zone != nullptr) t = options.local_zone->FixOffset(t, offset);
  out->format = MessageFormat::kRfc3164;
  out->issue = ParseIssue::kNone;
  out->timestamp = t;
  out->has_timestamp = true;
  return tag_pos;
}

// AIX syslogd forwards another host's line with "Message forwarded from
// HOST: " (AIX 7 also "From HOST: ") where RFC 3164's HOSTNAME belongs:
// "<38>Dec  7 09:50:01 Message forwarded from aix-erp01: sshd[8126598]:
// Failed password ..." (rsyslog's contrib/pmaixforwardedfrom, which drops
// the words and the ':' after the host, case-insensitively; a space before
// the ':' means it is not this form). Sets the host and returns where the
// tag starts, or 0 (nothing set). Out of line: rarely taken.
[[gnu::noinline]] size_t ReadAixForwardedHost(std::string_view line, size_t pos, Message* out) {
  auto starts_with_nocase = [&](std::string_view word) {
    if (line.size() - pos < word.size()) return false;
    for (size_t i = 0; i < word.size(); ++i) {
      const char c = line[pos + i];
      if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c) != word[i]) return false;
    }
    return true;
  };
  size_t host_pos = 0;
  if (starts_with_nocase("message forwarded from ")) {
    host_pos = pos + 23;
  } else if (starts_with_nocase("from ")) {
    host_pos = pos + 5;
  } else {
    return 0;
  }
  size_t end = host_pos;
  while (end < line.size() && line[end] != ' ' && line[end] != ':') ++end;
  if (end == host_pos || end >= line.size() || line[end] != ':') return 0;
  out->hostname = line.substr(host_pos, end - host_pos);
  return SkipSpaces(line, end + 1);
}

// The whole of `rest` is a repeat notice (ReadRepeatNotice's forms).
// MayBeRepeatNotice's byte compare first: this runs for every line.
bool UntaggedRepeatNotice(std::string_view rest) {
  if (!MayBeRepeatNotice(rest)) return false;
  uint32_t count = 0;
  std::string_view quoted;
  return ReadRepeatNotice(rest, &count, &quoted);
}

}  // namespace

namespace {

// parser.timezones: a line whose HOST (or sender) has a zone of its own
// gets its stamp read again in that zone (the stamp comes before the HOST,
// so it was read in the global one). One table probe for every other line.
[[gnu::noinline]] void ApplySenderZone(std::string_view line, size_t stamp_pos,
                                       const ParserOptions& options, TimestampCache* cache,
                                       Message* out) {
  const ZoneMap::Zone* zone = options.zones->Find(out->hostname, out->sender,
                                                  cache != nullptr ? &cache->zone_memo() : nullptr);
  if (zone == nullptr) return;
  ParserOptions own = options;
  own.local_zone = zone->zone;
  // An ISO stamp without an offset reads default_utc_offset_secs: a named
  // zone's offset at reception.
  own.default_utc_offset_secs =
      zone->zone != nullptr ? zone->zone->OffsetAt(out->received) : zone->fixed_offset_secs;
  own.zones = nullptr;
  size_t end = 0;
  ReadTimestamp(line, stamp_pos, own, cache, out, &end);  // it read before: it reads again
}

bool ParseRfc3164Header(std::string_view line, size_t pos, bool has_pri,
                        const ParserOptions& options, TimestampCache* cache, Message* out);

}  // namespace

bool ParseRfc3164(std::string_view line, size_t pos, bool has_pri, const ParserOptions& options,
                  TimestampCache* cache, Message* out) {
  if (!ParseRfc3164Header(line, pos, has_pri, options, cache, out)) return false;
  if (options.zones != nullptr && out->has_timestamp && !options.zones->empty()) {
    ApplySenderZone(line, has_pri ? SkipSpaces(line, pos) : pos, options, cache, out);
  }
  return true;
}

namespace {

bool ParseRfc3164Header(std::string_view line, size_t pos, bool has_pri,
                        const ParserOptions& options, TimestampCache* cache, Message* out) {
  if (has_pri) pos = SkipSpaces(line, pos);
  size_t ts_end = 0;
  if (!ReadTimestamp(line, pos, options, cache, out, &ts_end)) {
    out->timestamp = out->received;
    if (ReadFortinetHeader(line, pos, options, out)) return true;
    if (!has_pri) {
      const size_t tag_pos = ReadCtimeFileStamp(line, pos, options, out);
      if (tag_pos == 0) return false;
      out->msg = line.substr(ReadTag(line, tag_pos, /*strong_only=*/false, out));
      return true;
    }
    out->format = MessageFormat::kRfc3164;
    out->issue = ParseIssue::kBadTimestamp;
    const size_t msg_pos = ReadTag(line, pos, /*strong_only=*/true, out);
    out->msg = line.substr(msg_pos);
    return true;
  }
  out->format = MessageFormat::kRfc3164;
  out->has_timestamp = true;
  pos = SkipSpaces(line, ts_end);
  // sysklogd and BSD syslogd write their repeat notice without a tag, and
  // forward it without a host too ("<38>Dec  5 10:00:10 last message
  // repeated 5 times"): "last" is neither the host nor the program.
  if (UntaggedRepeatNotice(line.substr(pos))) {
    out->msg = line.substr(pos);
    return true;
  }
  // FreeBSD's syslogd (12+, fprintlog_rfc3164) forwards another host's line
  // as "<PRI>STAMP Forwarded from HOST: TAG[pid]: MSG" and its own without
  // a host; HOST is a name or, unresolved, an address (IPv6 with colons).
  if (line.substr(pos).starts_with(kFreeBsdForwarded)) {
    const size_t host_pos = pos + kFreeBsdForwarded.size();
    const size_t host_end = TokenEnd(line, host_pos);
    if (host_end > host_pos + 1 && line[host_end - 1] == ':') {
      out->hostname = line.substr(host_pos, host_end - 1 - host_pos);
      pos = ReadTag(line, SkipSpaces(line, host_end), /*strong_only=*/false, out);
      out->msg = line.substr(pos);
      return true;
    }
  }
  if (pos < line.size() && ((line[pos] | 0x20) == 'm' || (line[pos] | 0x20) == 'f')) {
    if (const size_t tag_pos = ReadAixForwardedHost(line, pos, out); tag_pos != 0) {
      out->msg = line.substr(ReadTag(line, tag_pos, /*strong_only=*/false, out));
      return true;
    }
  }
  const size_t token_end = TokenEnd(line, pos);
  if (token_end > pos && !LooksLikeTag(line.substr(pos, token_end - pos))) {
    out->hostname = line.substr(pos, token_end - pos);
    pos = SkipSpaces(line, token_end);
    // Only in a file (a line over the network starts with its <PRI>).
    if (!has_pri) pos = SkipFacilityPriority(line, pos);
    if (UntaggedRepeatNotice(line.substr(pos))) {
      out->msg = line.substr(pos);
      return true;
    }
  }
  // Cisco ASA with "logging device-id" writes "<PRI>STAMP ID : %ASA-6-605004:
  // text" (ID: hostname, address, context name or string): the lone ':' is
  // the id's and the message id is the TAG (rsyslog's pmrfc3164 would read
  // TAG ":" and text "%ASA-6-..."). Only when a TAG closed by ':' or [pid]
  // follows; otherwise the ':' stays in the text.
  if (pos + 1 < line.size() && line[pos] == ':' && line[pos + 1] == ' ' &&
      ReadTagAfterDeviceId(line, pos, out)) {
    return true;
  }
  pos = ReadTag(line, pos, /*strong_only=*/false, out);
  out->msg = line.substr(pos);
  return true;
}

}  // namespace

}  // namespace konseki::receiver
