// Stable snake_case names of MessageFormat and ParseIssue, for metric labels
// (konseki_parse_issues_total{reason="bad_pri"}) and archive fields, so every
// stage spells them the same way.
#ifndef KONSEKI_RECEIVER_PARSE_ISSUE_H_
#define KONSEKI_RECEIVER_PARSE_ISSUE_H_

#include <string_view>

#include "common/message.h"

namespace konseki::receiver {

constexpr std::string_view MessageFormatName(MessageFormat format) {
  switch (format) {
    case MessageFormat::kRfc5424:
      return "rfc5424";
    case MessageFormat::kRfc3164:
      return "rfc3164";
    case MessageFormat::kUnparsed:
      return "unparsed";
  }
  return "unknown";
}

constexpr std::string_view ParseIssueName(ParseIssue issue) {
  switch (issue) {
    case ParseIssue::kNone:
      return "none";
    case ParseIssue::kEmpty:
      return "empty";
    case ParseIssue::kBadPri:
      return "bad_pri";
    case ParseIssue::kBadTimestamp:
      return "bad_timestamp";
    case ParseIssue::kNoHeader:
      return "no_header";
    case ParseIssue::kBadStructuredData:
      return "bad_structured_data";
    case ParseIssue::kInvalidUtf8:
      return "invalid_utf8";
  }
  return "unknown";
}

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_PARSE_ISSUE_H_
