// konseki's parser held to rsyslog's own parser tests: every vector of
// tests/receiver/testdata/rsyslog_parser_vectors.tsv (inputs and the fields
// rsyslog's tests expect, with their source file and line) goes through
// `konseki test-rules --explain LINE --json` (app::RunExplain) and each
// field rsyslog's test checks is compared. Where konseki reads a line
// differently, kDifferences below names the vector, the field, konseki's
// value and the reason; docs/parser.md explains each reason. A difference
// that disappears, or a new one, fails the test.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "app/json_value.h"
#include "app/rule_tool.h"

namespace konseki {
namespace {

// Why konseki's reading differs from what an rsyslog test expects.
enum class Why {
  // rsyslog ran the test with a non-default option konseki does not offer;
  // konseki reads the line as rsyslog does with its defaults (or better).
  kRsyslogOption,
  // An RFC 5424 SD-ELEMENT with a space after '=' is not structured data:
  // konseki counts bad_structured_data and keeps the text in MSG, where
  // the rules see it; rsyslog accepts it as SD.
  kInvalidSdStaysInMsg,
  // A run of spaces after the HOSTNAME is one separator: the next word is
  // the TAG. rsyslog reads an empty TAG and moves the word into MSG.
  kSpaceRunIsOneSeparator,
  // The word after the timestamp is the HOSTNAME whatever its characters
  // (rsyslog refuses '#', and '@' unless permit.AtSignsInHostname).
  kAnyHostnameToken,
  // A line with neither PRI nor timestamp has no header: konseki keeps it
  // whole as MSG; rsyslog makes its first two words HOSTNAME and TAG.
  kNoHeaderNoFields,
};

const char* WhyName(Why w) {
  switch (w) {
    case Why::kRsyslogOption:
      return "rsyslog option not offered by konseki";
    case Why::kInvalidSdStaysInMsg:
      return "invalid structured data stays in MSG";
    case Why::kSpaceRunIsOneSeparator:
      return "a run of spaces is one separator";
    case Why::kAnyHostnameToken:
      return "the HOSTNAME position takes any token";
    case Why::kNoHeaderNoFields:
      return "no header, no invented fields";
  }
  return "?";
}

struct Difference {
  const char* id;
  const char* field;
  const char* konseki;  // konseki's value of the field
  Why why;
};

const Difference kDifferences[] = {
    {"parse1.19", "msg",
     "[exampleSDID@32473 iut=\"3\" eventSource= \"Application\" eventID=\"1011\"]"
     "[examplePriority@32473 class=\"high\"]",
     Why::kInvalidSdStaysInMsg},
    {"parse1.20", "msg",
     "[exampleSDID@32473 iut=\"3\" eventSource= \"Application\" eventID=\"1011\"] BOMAn "
     "application event log entry...",
     Why::kInvalidSdStaysInMsg},
    {"parse1.21", "program", "netips-warden2-p", Why::kSpaceRunIsOneSeparator},
    {"parse1.21", "tag", "netips-warden2-p", Why::kSpaceRunIsOneSeparator},
    {"parse1.21", "msg",
     "[audit] user=[*SMS] src=192.168.11.11 iface=5 access=9 Update State Reset",
     Why::kSpaceRunIsOneSeparator},
    {"parse2.01", "program", "MSWinEventLog", Why::kAnyHostnameToken},
    {"parse2.01", "tag", "MSWinEventLog", Why::kAnyHostnameToken},
    {"parse2.01", "msg",
     "0#011Security#01119023582#011Fri Oct 16 16:30:44 2009#011592#011Security#011rgabcde#011User"
     "#011Success Audit#011XSXSXSN01#011Detailed Tracking#011#0112572#01119013885",
     Why::kAnyHostnameToken},
    {"nodate.02", "host", "", Why::kNoHeaderNoFields},
    {"nodate.02", "program", "", Why::kNoHeaderNoFields},
    {"nodate.02", "tag", "", Why::kNoHeaderNoFields},
    {"nodate.02", "msg", "This is a message!", Why::kNoHeaderNoFields},
    {"8bit_escape.01", "msg", "This msg contains 8-bit European chars: \xc3\xa4\xc3\xb6\xc3\xbc",
     Why::kRsyslogOption},
    {"atsigns_off.02", "tag", "tag:", Why::kAnyHostnameToken},
    {"atsigns_off.04", "tag", "tag4:", Why::kAnyHostnameToken},
    {"default_tag.01", "tag", "msgnum:", Why::kRsyslogOption},
    {"default_tag.01", "msg", "1", Why::kRsyslogOption},
    {"default_tag.02", "tag", "msgnum:", Why::kRsyslogOption},
    {"default_tag.02", "msg", "2", Why::kRsyslogOption},
    {"default_tag.03", "tag", "tag", Why::kRsyslogOption},
    {"default_tag.03", "msg", "msgnum:3", Why::kRsyslogOption},
    {"tag_colon.03", "tag", "tag3", Why::kRsyslogOption},
    {"tag_colon.04", "tag", "tag4", Why::kRsyslogOption},
    {"hostname_tag_off.01", "program", "testapp", Why::kRsyslogOption},
    {"hostname_tag_off.01", "tag", "testapp:", Why::kRsyslogOption},
    {"hostname_tag_off.01", "msg", "parse-off-message", Why::kRsyslogOption},
};

std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char c = s[++i];
      out += c == 't' ? '\t' : c == 'r' ? '\r' : c == 'n' ? '\n' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> cols;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
    cols.push_back(line.substr(start, tab - start));
  }
  cols.push_back(line.substr(start));
  return cols;
}

struct Vector {
  std::string id, source, input;
  std::map<std::string, std::string> expect;  // field -> rsyslog's value (or ~ / !~ form)
  std::string offset, options;
  int line = 0;
};

std::vector<Vector> LoadVectors() {
  std::ifstream in(std::string(KONSEKI_SOURCE_DIR) +
                   "/tests/receiver/testdata/rsyslog_parser_vectors.tsv");
  std::vector<Vector> vectors;
  std::string line;
  int n = 0;
  const char* kFields[] = {"pri",  "facility", "severity", "time", "",
                           "host", "program",  "pid",      "tag",  "msg"};
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> c = SplitTabs(line);
    EXPECT_EQ(c.size(), 14u) << "testdata line " << n;
    if (c.size() != 14) continue;
    Vector v{c[0], c[1], Unescape(c[2]), {}, c[7], c[13], n};
    for (int i = 0; i < 10; ++i) {
      if (*kFields[i] != '\0' && c[3 + i] != "*") v.expect[kFields[i]] = Unescape(c[3 + i]);
    }
    vectors.push_back(std::move(v));
  }
  return vectors;
}

const char* const kFacilities[] = {"kern",   "user",   "mail",   "daemon", "auth",     "syslog",
                                   "lpr",    "news",   "uucp",   "cron",   "authpriv", "ftp",
                                   "ntp",    "audit",  "alert",  "clock",  "local0",   "local1",
                                   "local2", "local3", "local4", "local5", "local6",   "local7"};
const char* const kSeverities[] = {"emerg",   "alert",  "crit", "err",
                                   "warning", "notice", "info", "debug"};

// konseki's UTC time ("2025-03-06T16:57:54.000000Z") in the vector's offset,
// as rsyslog's %timestamp% ("Mar  6 16:57:54") or as ISO without zone.
std::string RsyslogTime(const std::string& utc, const std::string& offset, bool iso) {
  struct tm tm = {};
  if (strptime(utc.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return "unreadable " + utc;
  time_t t = timegm(&tm);
  if (offset.size() == 6) {
    const int secs = (std::stoi(offset.substr(1, 2)) * 60 + std::stoi(offset.substr(4, 2))) * 60;
    t += offset[0] == '-' ? -secs : secs;
  }
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, iso ? "%Y-%m-%dT%H:%M:%S" : "%b %e %H:%M:%S", &tm);
  return buf;
}

// konseki's reading of one line, field by field under rsyslog's names.
std::map<std::string, std::string> KonsekiFields(const std::string& rules_dir, const Vector& v) {
  app::ExplainOptions opts;
  opts.rules_dir = rules_dir;
  opts.line = v.input;
  opts.json = true;
  std::ostringstream out, err;
  EXPECT_EQ(app::RunExplain(opts, out, err), 0) << err.str();
  auto j = app::JsonValue::Parse(out.str());
  EXPECT_TRUE(j.ok()) << out.str();
  if (!j.ok()) return {};
  // No PRI: RFC 3164 section 4.3.3's default, user.notice (13), as rsyslog.
  const int pri = j->Get("pri").is_null() ? 13 : static_cast<int>(j->Int("pri"));
  const std::string time = j->Str("time");
  const auto expected_time = v.expect.find("time");
  const bool iso = expected_time != v.expect.end() && expected_time->second.size() == 19 &&
                   expected_time->second[10] == 'T';
  return {{"pri", std::to_string(pri)},
          {"facility", pri >> 3 < 24 ? kFacilities[pri >> 3] : "?"},
          {"severity", kSeverities[pri & 7]},
          {"time", RsyslogTime(time, v.offset, iso)},
          {"host", j->Str("host")},
          {"program", j->Str("program")},
          {"pid", j->Str("pid")},
          {"tag", j->Str("tag")},
          {"msg", j->Str("message")},
          {"format", j->Str("format")}};
}

// True when `actual` is what rsyslog's test expects (`expected` may be
// "~text", "!~text", or "-" for host: none in the message).
bool Agrees(const std::string& field, const std::string& expected, const std::string& actual) {
  if (expected.rfind("!~", 0) == 0) return actual.find(expected.substr(2)) == std::string::npos;
  if (expected.rfind("~", 0) == 0) return actual.find(expected.substr(1)) != std::string::npos;
  if (field == "host" && expected == "-") return actual.empty();
  return actual == expected;
}

class RsyslogVectorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/konseki_rsyslog_vectors_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    // One rule: --explain needs a rule set; the parse is what is compared.
    std::ofstream(dir_ + "/one.yaml")
        << "rules:\n  - id: t.one\n    sign: crash\n    title: t\n    severity: low\n"
           "    description: d\n    match: 'segfault at'\n    examples:\n"
           "      match: [\"Jan  1 00:00:00 h kernel: a[1]: segfault at 0\"]\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(RsyslogVectorsTest, KonsekiAgreesWithRsyslogOrTheDifferenceIsNamed) {
  const std::vector<Vector> vectors = LoadVectors();
  ASSERT_GE(vectors.size(), 70u);
  std::map<std::pair<std::string, std::string>, const Difference*> differences;
  for (const Difference& d : kDifferences) differences[{d.id, d.field}] = &d;
  std::set<std::pair<std::string, std::string>> seen;
  int compared = 0, agreed = 0, first_space = 0;
  std::map<std::string, int> per_reason;
  for (const Vector& v : vectors) {
    const std::map<std::string, std::string> got = KonsekiFields(dir_, v);
    if (got.empty()) continue;
    for (const auto& [field, expected] : v.expect) {
      ++compared;
      const std::string& actual = got.at(field);
      const std::string where =
          v.id + " (" + v.source + ", testdata line " + std::to_string(v.line) + ") field " + field;
      auto d = differences.find({v.id, field});
      if (d != differences.end()) {
        seen.insert(d->first);
        ++per_reason[WhyName(d->second->why)];
        EXPECT_EQ(actual, d->second->konseki) << where << ": konseki's reading changed";
        EXPECT_FALSE(Agrees(field, expected, actual))
            << where << ": listed as a difference (" << WhyName(d->second->why)
            << ") but konseki now agrees with rsyslog; remove it from kDifferences";
        continue;
      }
      // RFC 3164: rsyslog's %msg% keeps the space that ends the TAG (unless
      // remove.msgFirstSpace="on"); konseki's MSG starts after it, as RFC
      // 5424's MSG does after its SP. docs/parser.md, "The space after the TAG".
      // RFC 5424: a space right after the SD's SP is that same TAG space as
      // rsyslog's RFC 5424 templates write it ("%STRUCTURED-DATA% %msg%"), so
      // konseki drops it there too (rsyslog keeps it in MSG).
      std::string want = expected;
      const bool tag_space = (got.at("format") == "rfc3164" && !got.at("tag").empty()) ||
                             got.at("format") == "rfc5424";
      if (field == "msg" && tag_space && !want.empty() && want[0] == ' ' &&
          v.options.find("msgFirstSpace") == std::string::npos) {
        want.erase(0, 1);
        ++first_space;
      }
      EXPECT_TRUE(Agrees(field, want, actual))
          << where << ": rsyslog expects \"" << expected << "\", konseki reads \"" << actual
          << "\" (input: " << v.input
          << "; rsyslog options: " << (v.options.empty() ? "defaults" : v.options) << ")";
      if (Agrees(field, want, actual)) ++agreed;
    }
  }
  for (const Difference& d : kDifferences) {
    EXPECT_TRUE(seen.count({d.id, d.field})) << d.id << " " << d.field << ": no such checked field";
  }
  std::ostringstream summary;
  summary << vectors.size() << " vectors, " << compared << " fields compared: " << agreed
          << " agree (" << first_space << " after dropping the space that ends the TAG)";
  for (const auto& [why, n] : per_reason) summary << ", " << n << " differ: " << why;
  std::printf("%s\n", summary.str().c_str());
  RecordProperty("summary", summary.str());
}

}  // namespace
}  // namespace konseki
