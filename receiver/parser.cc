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

}  // namespace

void Parser::Parse(std::string_view bytes, TimePoint received, TimestampCache* cache,
                   Message* out) const {
  *out = Message();
  out->raw = bytes;
  out->received = received;
  out->timestamp = received;

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
    *out = Message();
    out->raw = bytes;
    out->received = received;
    out->timestamp = received;
    out->pri = kept_pri;
    out->issue = issue == ParseIssue::kNone ? ParseIssue::kNoHeader : issue;
    out->msg = line;
    return;
  }
  if (options_.validate_utf8 && out->issue == ParseIssue::kNone && !IsValidUtf8(line)) {
    out->issue = ParseIssue::kInvalidUtf8;
  }
}

}  // namespace konseki::receiver
