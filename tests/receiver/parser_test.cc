// Behaviour of the parser chain on RFC 5424 (incl. the RFC's own examples) and
// on RFC 3164 as real senders write it.
#include "receiver/parser.h"

#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/utc_time.h"
#include "receiver/parse_issue.h"

namespace konseki::receiver {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kReceived = UtcTime(2026, 11, 23, 8, 30, 0);

Message ParseWith(std::string_view bytes, const ParserOptions& options = {},
                  TimePoint received = kReceived) {
  Message m;
  Parser(options).Parse(bytes, received, &m);
  return m;
}

// --- RFC 5424, section 6.5 examples ---

TEST(Rfc5424Test, Example1NoStructuredDataWithBom) {
  const std::string in =
      "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
      "\xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8";
  const Message m = ParseWith(in);
  EXPECT_EQ(m.format, MessageFormat::kRfc5424);
  EXPECT_EQ(m.issue, ParseIssue::kNone);
  EXPECT_EQ(m.pri, 34);
  EXPECT_EQ(m.facility(), 4);
  EXPECT_EQ(m.severity(), 2);
  EXPECT_TRUE(m.has_timestamp);
  EXPECT_EQ(m.timestamp, UtcTime(2003, 10, 11, 22, 14, 15) + milliseconds(3));
  EXPECT_EQ(m.hostname, "mymachine.example.com");
  EXPECT_EQ(m.app_name, "su");
  EXPECT_EQ(m.procid, "");
  EXPECT_EQ(m.msgid, "ID47");
  EXPECT_EQ(m.structured_data, "");
  EXPECT_EQ(m.msg, "'su root' failed for lonvick on /dev/pts/8");
  EXPECT_EQ(m.raw, in);
  EXPECT_EQ(m.received, kReceived);
}

TEST(Rfc5424Test, Example2NegativeOffsetAndMicroseconds) {
  const Message m = ParseWith(
      "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make "
      "the do-nuts.");
  EXPECT_EQ(m.format, MessageFormat::kRfc5424);
  EXPECT_EQ(m.pri, 165);
  EXPECT_EQ(m.timestamp, UtcTime(2003, 8, 24, 12, 14, 15) + microseconds(3));
  EXPECT_EQ(m.hostname, "192.0.2.1");
  EXPECT_EQ(m.app_name, "myproc");
  EXPECT_EQ(m.procid, "8710");
  EXPECT_EQ(m.msgid, "");
  EXPECT_EQ(m.msg, "%% It's time to make the do-nuts.");
}

TEST(Rfc5424Test, Example3StructuredDataAndBomMessage) {
  const Message m = ParseWith(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
      "\xEF\xBB\xBF"
      "An application event log entry...");
  EXPECT_EQ(m.format, MessageFormat::kRfc5424);
  EXPECT_EQ(m.issue, ParseIssue::kNone);
  EXPECT_EQ(m.app_name, "evntslog");
  EXPECT_EQ(m.msgid, "ID47");
  EXPECT_EQ(m.structured_data,
            "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]");
  EXPECT_EQ(m.msg, "An application event log entry...");
}

TEST(Rfc5424Test, Example4TwoElementsAndNoMsg) {
  const Message m = ParseWith(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
      "[examplePriority@32473 class=\"high\"]");
  EXPECT_EQ(m.format, MessageFormat::kRfc5424);
  EXPECT_EQ(m.issue, ParseIssue::kNone);
  EXPECT_EQ(m.structured_data,
            "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
            "[examplePriority@32473 class=\"high\"]");
  EXPECT_TRUE(m.msg.empty());
}

// Cisco Meraki's syslog: VERSION 1, an epoch stamp, the device, the log's
// category and its text, no PROCID/MSGID/SD ("Syslog Event Types and Log
// Samples"). The category is the program, the text the message.
TEST(Rfc5424Test, MerakiEpochStampAndCategory) {
  const std::string vpn =
      "<134>1 1647478092.669153546 MX84 events client_vpn_connect user id 'jwick@example.net' "
      "local ip 172.16.0.145 connected from 81.2.69.193";
  Message m = ParseWith(vpn);
  EXPECT_EQ(m.format, MessageFormat::kRfc5424);
  EXPECT_EQ(m.issue, ParseIssue::kNone);
  EXPECT_TRUE(m.has_timestamp);
  EXPECT_EQ(m.timestamp, UtcTime(2022, 3, 17, 0, 48, 12) + std::chrono::nanoseconds(669153546));
  EXPECT_EQ(m.hostname, "MX84");
  EXPECT_EQ(m.app_name, "events");
  EXPECT_EQ(m.procid, "");
  EXPECT_EQ(m.msg,
            "client_vpn_connect user id 'jwick@example.net' local ip 172.16.0.145 connected from "
            "81.2.69.193");
  m = ParseWith(
      "<134>1 1563249630.774247467 remote_DC1_appliance security_event ids_alerted "
      "signature=1:41944:2 priority=1");
  EXPECT_EQ(m.app_name, "security_event");
  EXPECT_EQ(m.msg, "ids_alerted signature=1:41944:2 priority=1");
  // Not an epoch stamp: the RFC 5424 reading's bad time stamp, as before.
  for (const std::string_view other :
       {"<134>1 16474780.5 MX84 events a b c d", "<134>1 1647478092 MX84 events a b c d",
        "<134>1 1647478092.66x MX84 events a b c d",
        // Beyond the nanosecond clock (fuzz_smoke's 77177777777 overflowed it).
        "<134>1 77177777777.5 MX84 events a b c d", "<134>1 9999999999.5 MX84 events a b c d"}) {
    m = ParseWith(other);
    EXPECT_EQ(m.issue, ParseIssue::kBadTimestamp) << other;
  }
}

TEST(Rfc5424Test, NilValueForEveryHeaderField) {
  const Message m = ParseWith("<13>1 - - - - - -");
  EXPECT_EQ(m.format, MessageFormat::kRfc5424);
  EXPECT_EQ(m.issue, ParseIssue::kNone);
  EXPECT_FALSE(m.has_timestamp);
  EXPECT_EQ(m.timestamp, kReceived);
  EXPECT_TRUE(m.hostname.empty());
  EXPECT_TRUE(m.app_name.empty());
  EXPECT_TRUE(m.procid.empty());
  EXPECT_TRUE(m.msgid.empty());
  EXPECT_TRUE(m.structured_data.empty());
  EXPECT_TRUE(m.msg.empty());
}

TEST(Rfc5424Test, EmptyMsgAfterSpace) {
  const Message m = ParseWith("<13>1 - host app 1 - - ");
  EXPECT_EQ(m.format, MessageFormat::kRfc5424);
  EXPECT_EQ(m.hostname, "host");
  EXPECT_TRUE(m.msg.empty());
}

TEST(Rfc5424Test, StructuredDataEscapesDoNotEndTheValue) {
  const Message m =
      ParseWith(R"(<13>1 - h a - - [id@1 q="say \"hi\"" bs="c:\\" br="x\]y"][b@2] the msg)");
  EXPECT_EQ(m.issue, ParseIssue::kNone);
  EXPECT_EQ(m.structured_data, R"([id@1 q="say \"hi\"" bs="c:\\" br="x\]y"][b@2])");
  EXPECT_EQ(m.msg, "the msg");
}

TEST(Rfc5424Test, UnescapedBracketInsideQuotedValueIsTolerated) {
  const Message m = ParseWith(R"(<13>1 - h a - - [id v="a]b"] m)");
  EXPECT_EQ(m.structured_data, R"([id v="a]b"])");
  EXPECT_EQ(m.msg, "m");
}

TEST(Rfc5424Test, MalformedStructuredDataStaysInMsg) {
  const Message m = ParseWith(R"(<13>1 - h app - - [id a="unterminated] rest)");
  EXPECT_EQ(m.format, MessageFormat::kRfc5424);
  EXPECT_EQ(m.issue, ParseIssue::kBadStructuredData);
  EXPECT_EQ(m.hostname, "h");
  EXPECT_TRUE(m.structured_data.empty());
  EXPECT_EQ(m.msg, R"([id a="unterminated] rest)");
}

TEST(Rfc5424Test, GarbageAfterStructuredDataIsMalformed) {
  const Message m = ParseWith("<13>1 - h app - - [id]x msg");
  EXPECT_EQ(m.issue, ParseIssue::kBadStructuredData);
  EXPECT_EQ(m.msg, "[id]x msg");
}

TEST(Rfc5424Test, UnreadableTimestampKeepsTheRestOfTheHeader) {
  const Message m = ParseWith("<13>1 2003-13-01T00:00:00Z host app 7 ID - msg");
  EXPECT_EQ(m.format, MessageFormat::kRfc5424);
  EXPECT_EQ(m.issue, ParseIssue::kBadTimestamp);
  EXPECT_FALSE(m.has_timestamp);
  EXPECT_EQ(m.timestamp, kReceived);
  EXPECT_EQ(m.hostname, "host");
  EXPECT_EQ(m.procid, "7");
  EXPECT_EQ(m.msg, "msg");
}

TEST(Rfc5424Test, HeaderCutShortIsKeptWholeAsUnparsed) {
  const std::string in = "<13>1 2003-10-11T22:14:15.003Z host app";
  const Message m = ParseWith(in);
  EXPECT_EQ(m.format, MessageFormat::kUnparsed);
  EXPECT_EQ(m.issue, ParseIssue::kNoHeader);
  EXPECT_EQ(m.msg, in);
  EXPECT_EQ(m.raw, in);
  EXPECT_TRUE(m.hostname.empty());
  EXPECT_TRUE(m.app_name.empty());
  EXPECT_FALSE(m.has_timestamp);
}

// The header's spaces are found 64 bytes at a time: fields of every length
// around the window edges (a hostname up to 255 bytes), headers cut short
// inside and after a window, and header bytes that only look like spaces.
TEST(Rfc5424Test, HeaderFieldsOfEveryLengthAcrossTheScanWindows) {
  for (size_t host_len = 1; host_len <= 140; ++host_len) {
    for (size_t app_len : {1, 7, 48}) {
      const std::string host(host_len, 'h');
      const std::string app(app_len, '\xa0');  // no space, though 0x20 | 0x80
      const std::string head = "<13>1 2003-10-11T22:14:15.003Z " + host + " " + app + " 42 ID" +
                               std::to_string(host_len);
      const Message m = ParseWith(head + " - text " + host);
      ASSERT_EQ(m.format, MessageFormat::kRfc5424) << host_len << " " << app_len;
      EXPECT_TRUE(m.has_timestamp);
      EXPECT_EQ(m.hostname, host);
      EXPECT_EQ(m.app_name, app);
      EXPECT_EQ(m.procid, "42");
      EXPECT_EQ(m.msgid, "ID" + std::to_string(host_len));
      EXPECT_EQ(m.msg, "text " + host);
      // Cut short: no space after MSGID, or nothing after it.
      EXPECT_EQ(ParseWith(head).format, MessageFormat::kUnparsed) << host_len;
      EXPECT_EQ(ParseWith(head + " ").format, MessageFormat::kUnparsed) << host_len;
      const Message bare = ParseWith(head + " -");
      EXPECT_EQ(bare.format, MessageFormat::kRfc5424) << host_len;
      EXPECT_EQ(bare.msg, "");
    }
  }
}
// raw_plain: the archive writes the frame unescaped only when the parser's
// UTF-8 pass saw no control byte anywhere in it.
TEST(ParserTest, RawIsPlainOnlyWithoutControlBytes) {
  EXPECT_TRUE(ParseWith("<13>1 - h a - - - text").raw_plain);
  EXPECT_TRUE(ParseWith("<13>Dec  3 10:00:00 h sshd[1]: caf\xC3\xA9").raw_plain);
  EXPECT_FALSE(ParseWith("<13>1 - h a - - - a\tb").raw_plain);
  EXPECT_FALSE(ParseWith("<13>1 - h a - - - a\x7f").raw_plain);
  EXPECT_FALSE(ParseWith("<13>1 - h a - - - text\n").raw_plain);  // a line end the parser strips
  EXPECT_FALSE(
      ParseWith("<13>1 - h a - - - \xff").raw_plain);  // invalid UTF-8: not scanned to the end
  EXPECT_FALSE(ParseWith("plain text, no header").raw_plain);  // unparsed: not known
  ParserOptions no_check;
  no_check.validate_utf8 = false;
  EXPECT_FALSE(ParseWith("<13>1 - h a - - - text", no_check).raw_plain);
}

TEST(Rfc5424Test, BomOnlyStrippedAtStartOfMsg) {
  const Message m = ParseWith("<13>1 - h a - - - x\xEF\xBB\xBFy");
  EXPECT_EQ(m.msg, "x\xEF\xBB\xBFy");
}

// --- RFC 3164 as real senders write it ---

TEST(Rfc3164Test, ClassicHeaderWithPid) {
  const Message m = ParseWith("<38>Nov 23 08:00:01 web1 sshd[4242]: Accepted publickey for ops");
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.issue, ParseIssue::kNone);
  EXPECT_EQ(m.pri, 38);
  EXPECT_TRUE(m.has_timestamp);
  EXPECT_EQ(m.timestamp, UtcTime(2026, 11, 23, 8, 0, 1));
  EXPECT_EQ(m.hostname, "web1");
  EXPECT_EQ(m.app_name, "sshd");
  EXPECT_EQ(m.procid, "4242");
  EXPECT_TRUE(m.msgid.empty());
  EXPECT_EQ(m.msg, "Accepted publickey for ops");
}

TEST(Rfc3164Test, DoubleSpaceBeforeSingleDigitDay) {
  const Message m = ParseWith("<13>Nov  3 07:05:09 host app: x");
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.timestamp, UtcTime(2026, 11, 3, 7, 5, 9));
  EXPECT_EQ(m.hostname, "host");
  EXPECT_EQ(m.app_name, "app");
  EXPECT_EQ(m.msg, "x");
}

TEST(Rfc3164Test, SingleSpaceSingleDigitAndZeroPaddedDays) {
  EXPECT_EQ(ParseWith("Feb 1 00:00:00 myhost proftpd[1]: x").timestamp,
            UtcTime(2026, 2, 1, 0, 0, 0));
  EXPECT_EQ(ParseWith("Jun 09 07:30:58 myhost proftpd[1]: x").timestamp,
            UtcTime(2026, 6, 9, 7, 30, 58));
}

TEST(Rfc3164Test, RsyslogForwardFormatWithRfc3339Stamp) {
  const Message m = ParseWith("<13>2026-11-23T08:00:00.123456+09:00 host tag[123]: msg");
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.issue, ParseIssue::kNone);
  EXPECT_EQ(m.timestamp, UtcTime(2026, 11, 22, 23, 0, 0) + microseconds(123456));
  EXPECT_EQ(m.hostname, "host");
  EXPECT_EQ(m.app_name, "tag");
  EXPECT_EQ(m.procid, "123");
  EXPECT_EQ(m.msg, "msg");
}

TEST(Rfc3164Test, IsoSpaceSeparatedStampWithCompactOffsetAndDoubleSpace) {
  const Message m =
      ParseWith("2020-03-23 06:47:42.801612-0700  localhost sshd[3186]: error: PAM: unknown user");
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.timestamp, UtcTime(2020, 3, 23, 13, 47, 42) + microseconds(801612));
  EXPECT_EQ(m.hostname, "localhost");
  EXPECT_EQ(m.app_name, "sshd");
  EXPECT_EQ(m.procid, "3186");
  EXPECT_EQ(m.msg, "error: PAM: unknown user");
}

TEST(Rfc3164Test, IsoStampWithoutZoneUsesDefaultOffset) {
  ParserOptions options;
  options.default_utc_offset_secs = 9 * 3600;
  const Message m = ParseWith("2026-11-23 08:00:00 host app: x", options);
  EXPECT_EQ(m.timestamp, UtcTime(2026, 11, 22, 23, 0, 0));
}

TEST(Rfc3164Test, YearBeforeMonth) {
  const Message m =
      ParseWith("2015 Nov 13 13:40:01 ether rsyslogd-2177: imuxsock begins to drop messages");
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.timestamp, UtcTime(2015, 11, 13, 13, 40, 1));
  EXPECT_EQ(m.hostname, "ether");
  EXPECT_EQ(m.app_name, "rsyslogd-2177");
}

TEST(Rfc3164Test, MissingHostnameDecidedByBracketOrColon) {
  Message m = ParseWith("<13>Nov 23 08:00:00 sshd[12]: msg");
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_TRUE(m.hostname.empty());
  EXPECT_EQ(m.app_name, "sshd");
  EXPECT_EQ(m.procid, "12");
  EXPECT_EQ(m.msg, "msg");

  m = ParseWith("<13>Nov 23 08:00:00 myapp: hello there");
  EXPECT_TRUE(m.hostname.empty());
  EXPECT_EQ(m.app_name, "myapp");
  EXPECT_EQ(m.msg, "hello there");
}

TEST(Rfc3164Test, KernelUptimeStaysInMsg) {
  Message m = ParseWith("<6>Nov 23 08:00:00 kernel: [  123.456] usb 1-1: new device");
  EXPECT_TRUE(m.hostname.empty());
  EXPECT_EQ(m.app_name, "kernel");
  EXPECT_TRUE(m.procid.empty());
  EXPECT_EQ(m.msg, "[  123.456] usb 1-1: new device");

  m = ParseWith(
      "Jun  8 14:34:33 sd-126005 kernel: [50028442.088484] IN=enp1s0 OUT= SRC=195.54.160.107");
  EXPECT_EQ(m.hostname, "sd-126005");
  EXPECT_EQ(m.app_name, "kernel");
  EXPECT_EQ(m.msg, "[50028442.088484] IN=enp1s0 OUT= SRC=195.54.160.107");
}

struct TagCase {
  const char* line;
  const char* app;
  const char* procid;
  const char* msg;
};

class TagTest : public testing::TestWithParam<TagCase> {};

TEST_P(TagTest, SplitsTagPidAndMsg) {
  const TagCase& c = GetParam();
  const Message m = ParseWith(c.line);
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.hostname, "h1");
  EXPECT_EQ(m.app_name, c.app);
  EXPECT_EQ(m.procid, c.procid);
  EXPECT_EQ(m.msg, c.msg);
}

INSTANTIATE_TEST_SUITE_P(
    RealWorldTags, TagTest,
    testing::Values(
        TagCase{"<86>Nov 23 08:00:00 h1 sshd-session[4242]: Connection closed", "sshd-session",
                "4242", "Connection closed"},
        TagCase{"<22>Nov 23 08:00:00 h1 postfix/smtpd[26897]: warning: unknown[192.0.2.1]: "
                "SASL LOGIN authentication failed",
                "postfix/smtpd", "26897",
                "warning: unknown[192.0.2.1]: SASL LOGIN authentication failed"},
        TagCase{"<85>Nov 23 08:00:00 h1 (sd-pam)[1234]: pam_unix(systemd-user:session): closed",
                "(sd-pam)", "1234", "pam_unix(systemd-user:session): closed"},
        TagCase{"<78>Nov 23 08:00:01 h1 CRON[999]: (root) CMD (run-parts /etc/cron.hourly)", "CRON",
                "999", "(root) CMD (run-parts /etc/cron.hourly)"},
        TagCase{"Jun 14 15:16:01 h1 sshd(pam_unix)[19939]: authentication failure;",
                "sshd(pam_unix)", "19939", "authentication failure;"},
        TagCase{"Feb  7 15:10:42 h1 pure-ftpd: (pam_unix) authentication failure;", "pure-ftpd", "",
                "(pam_unix) authentication failure;"},
        // Tag ended by a space (rsyslog's rule): the rest is msg.
        TagCase{"Jun 19 04:09:11 h1 syslogd 1.4.1: restart.", "syslogd", "", "1.4.1: restart."},
        TagCase{"Jul  7 08:06:15 h1  -- root[2421]: ROOT LOGIN ON tty2", "--", "",
                "root[2421]: ROOT LOGIN ON tty2"},
        // "[pid]" without a colon (proftpd).
        TagCase{"Jan 10 00:00:00 h1 proftpd[12345] h1.example.com (1.2.3.4[1.2.3.4]): USER x",
                "proftpd", "12345", "h1.example.com (1.2.3.4[1.2.3.4]): USER x"},
        // An unclosed bracket is message text.
        TagCase{"Jan 10 00:00:00 h1 foo[bar baz", "foo", "", "[bar baz"},
        TagCase{"Jan 10 00:00:00 h1 app:", "app", "", ""}));

TEST(Rfc3164Test, NoPriUsesDefaultFacilityAndSeverity) {
  const Message m = ParseWith("Nov 23 08:00:00 host sshd[1]: x");
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.pri, -1);
  EXPECT_EQ(m.facility(), 1);
  EXPECT_EQ(m.severity(), 5);
}

TEST(Rfc3164Test, PriWithoutTimestampKeepsTextAsMsg) {
  Message m = ParseWith("<13>sshd[12]: hi");
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.issue, ParseIssue::kBadTimestamp);
  EXPECT_FALSE(m.has_timestamp);
  EXPECT_EQ(m.timestamp, kReceived);
  EXPECT_TRUE(m.hostname.empty());
  EXPECT_EQ(m.app_name, "sshd");
  EXPECT_EQ(m.procid, "12");
  EXPECT_EQ(m.msg, "hi");

  m = ParseWith("<13>hello world");
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_TRUE(m.app_name.empty());
  EXPECT_EQ(m.msg, "hello world");
}

// busybox syslogd's own file (Alpine, OpenWrt): "facility.priority"
// between the host and the tag. Over the network (with a PRI) the token is
// the sender's, and a word that only looks like one is left alone.
TEST(Rfc3164Test, BusyboxFacilityPriorityInAFileIsNoTag) {
  Message m = ParseWith("Dec  3 11:01:07 alpine1 authpriv.info sshd[4207]: Failed password");
  EXPECT_EQ(m.hostname, "alpine1");
  EXPECT_EQ(m.app_name, "sshd");
  EXPECT_EQ(m.procid, "4207");
  EXPECT_EQ(m.msg, "Failed password");
  m = ParseWith("Sep 25 02:33:53 host01 syslog.info syslogd exiting");
  EXPECT_EQ(m.app_name, "syslogd");
  EXPECT_EQ(m.msg, "exiting");
  m = ParseWith("Jun 27 15:50:12 (none) user.notice kernel: klogd: exiting");
  EXPECT_EQ(m.app_name, "kernel");
  EXPECT_EQ(m.msg, "klogd: exiting");
  m = ParseWith("Dec  3 12:11:03 alpine1 local7.warn crontab[5303]: (root) REPLACE (root)");
  EXPECT_EQ(m.app_name, "crontab");
  for (const char* kept : {"<38>Dec  3 11:01:07 alpine1 auth.info sshd[1]: x",
                           "Dec  3 11:01:07 alpine1 auth.infos sshd[1]: x",
                           "Dec  3 11:01:07 alpine1 web.info sshd[1]: x"}) {
    m = ParseWith(kept);
    EXPECT_NE(m.app_name, "sshd") << kept;
  }
}

// OpenWrt's logread file (`logread -F FILE`, ubox log/logread.c): ctime's
// stamp with its year, the facility.priority pair, the tag; no host. Read
// in the log host's zone like any zoneless stamp; the same line relayed
// whole inside another header is unwrapped the same way.
TEST(Rfc3164Test, OpenWrtLogreadFileLine) {
  ParserOptions tokyo;
  tokyo.default_utc_offset_secs = 9 * 3600;
  Message m = ParseWith(
      "Mon Dec  7 13:01:02 2026 authpriv.warn dropbear[6862]: Bad password attempt for 'root' "
      "from 203.0.113.241:5000",
      tokyo);
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.issue, ParseIssue::kNone);
  EXPECT_TRUE(m.has_timestamp);
  EXPECT_EQ(m.timestamp, UtcTime(2026, 12, 7, 4, 1, 2));
  EXPECT_EQ(m.hostname, "");
  EXPECT_EQ(m.app_name, "dropbear");
  EXPECT_EQ(m.procid, "6862");
  EXPECT_EQ(m.msg, "Bad password attempt for 'root' from 203.0.113.241:5000");
  m = ParseWith(
      "Mon Dec  7 13:02:00 2026 kern.info kernel: [812345.123456] uhttpd[1533]: segfault at 0");
  EXPECT_EQ(m.app_name, "kernel");
  EXPECT_EQ(m.msg, "[812345.123456] uhttpd[1533]: segfault at 0");
  EXPECT_EQ(m.timestamp, UtcTime(2026, 12, 7, 13, 2, 0));
  m = ParseWith(
      "Thu Nov 19 23:59:59 2026 daemon.info procd: Instance uhttpd::instance1 s in a "
      "crash loop 6 crashes, 0 seconds since last crash");
  EXPECT_EQ(m.app_name, "procd");
  EXPECT_EQ(m.timestamp, UtcTime(2026, 11, 19, 23, 59, 59));
  // Not this form: no weekday, a year that is no year, over the network,
  // no facility.priority (an xferlog line: its own stamp, a number).
  for (const char* other : {"Mon Mar  2 11:00:12 2026 1 192.0.2.150 734208 /srv/ftp/x b _ i a "
                            "dropbear[1]: ftp 0 * c",
                            "Mox Dec  7 13:01:02 2026 authpriv.warn dropbear[1]: x",
                            "Mon Dec  7 13:01:02 20x6 authpriv.warn dropbear[1]: x",
                            "Mon Dec  7 13:01:02 20261 authpriv.warn dropbear[1]: x",
                            "<38>Mon Dec  7 13:01:02 2026 authpriv.warn dropbear[1]: x"}) {
    m = ParseWith(other);
    EXPECT_NE(m.app_name, "dropbear") << other;
  }
}

// AIX syslogd's forwarded form (rsyslog's contrib/pmaixforwardedfrom):
// "Message forwarded from HOST:" or AIX 7's "From HOST:" where the host
// belongs, any case; a space before the ':' is some other text.
TEST(Rfc3164Test, AixMessageForwardedFromNamesTheHost) {
  Message m = ParseWith(
      "<38>Dec  7 09:50:01 Message forwarded from aix-erp01: sshd[8126598]: Failed password for "
      "root from 203.0.113.71 port 51022 ssh2");
  EXPECT_EQ(m.hostname, "aix-erp01");
  EXPECT_EQ(m.app_name, "sshd");
  EXPECT_EQ(m.procid, "8126598");
  EXPECT_EQ(m.msg, "Failed password for root from 203.0.113.71 port 51022 ssh2");
  m = ParseWith("<38>Dec  7 09:50:01 From aix02: sshd[1]: Accepted password for root");
  EXPECT_EQ(m.hostname, "aix02");
  EXPECT_EQ(m.app_name, "sshd");
  m = ParseWith("<38>Dec  7 09:50:01 message FORWARDED from aix03: cron[2]: x");
  EXPECT_EQ(m.hostname, "aix03");
  EXPECT_EQ(m.app_name, "cron");
  // Not this form: a host named "mx1", a space before the ':'.
  m = ParseWith("<38>Dec  7 09:50:01 mx1 postfix/smtpd[3]: connect from x");
  EXPECT_EQ(m.hostname, "mx1");
  m = ParseWith("<38>Dec  7 09:50:01 From aix02 : sshd[1]: x");
  EXPECT_NE(m.app_name, "sshd");
  m = ParseWith("<38>Dec  7 09:50:01 fw1 kernel: x");
  EXPECT_EQ(m.hostname, "fw1");
}

// A header form and what the parser must read from it.
struct HeaderCase {
  const char* line;
  const char* host;
  const char* program;
  const char* msg;
};

void ExpectHeaders(const std::vector<HeaderCase>& cases) {
  for (const HeaderCase& c : cases) {
    const Message m = ParseWith(c.line);
    EXPECT_EQ(m.format, MessageFormat::kRfc3164) << c.line;
    EXPECT_EQ(m.hostname, c.host) << c.line;
    EXPECT_EQ(m.app_name, c.program) << c.line;
    EXPECT_EQ(m.msg, c.msg) << c.line;
  }
}

// FreeBSD's syslogd (usr.sbin/syslogd/syslogd.c, fprintlog_rfc3164, F_FORW)
// relays another host's line as "STAMP Forwarded from HOST: TAG: MSG", the
// host unresolved as its address; its own lines carry no host at all.
TEST(Rfc3164Test, FreeBsdRelayForwardedFromNamesTheOriginHost) {
  const std::vector<HeaderCase> cases = {
      {"<38>Dec  6 06:10:09 Forwarded from web1: sshd-session[4250]: Accepted password for root "
       "from 203.0.113.50 port 41010 ssh2",
       "web1", "sshd-session", "Accepted password for root from 203.0.113.50 port 41010 ssh2"},
      {"<13>Dec  6 06:10:09 Forwarded from 2001:db8::7: su: BAD SU alice to root on /dev/pts/1",
       "2001:db8::7", "su", "BAD SU alice to root on /dev/pts/1"},
      // The relay's own line: no host.
      {"<38>Dec  6 06:10:09 sshd[4242]: Failed password for root", "", "sshd",
       "Failed password for root"},
      // Not the relay's header: a host's own line that says it.
      {"<38>Dec  6 06:10:09 gw1 fwd: Forwarded from web1: sshd[1]: x", "gw1", "fwd",
       "Forwarded from web1: sshd[1]: x"},
  };
  ExpectHeaders(cases);
  EXPECT_EQ(ParseWith(cases[0].line).procid, "4250");
}

// FortiOS' default syslog format has no header: the log's fields, date and
// time first (Fortinet FortiOS Log Message Reference, "Log message
// fields"). The device's name is the host, date/time in tz the stamp, the
// fields the message; a FortiOS 5/6.0 log has no tz (the log host's zone)
// and may leave the values unquoted; FortiMail names itself by device_id.
TEST(Rfc3164Test, FortinetHeaderlessLogNamesItsDeviceAndTime) {
  const std::string vpn =
      "<185>date=2026-12-07 time=03:20:01 devname=\"FGT-HQ\" devid=\"FG100FTK21000123\" "
      "eventtime=1796580001000000000 tz=\"+0900\" logid=\"0101039426\" type=\"event\" "
      "subtype=\"vpn\" level=\"alert\" vd=\"root\" logdesc=\"SSL VPN login fail\" "
      "remip=5.181.86.22 user=\"kimura\"";
  Message m = ParseWith(vpn);
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.issue, ParseIssue::kNone);
  EXPECT_EQ(m.pri, 185);
  EXPECT_TRUE(m.has_timestamp);
  EXPECT_EQ(m.timestamp, UtcTime(2026, 12, 6, 18, 20, 1));
  EXPECT_EQ(m.hostname, "FGT-HQ");
  EXPECT_EQ(m.app_name, "");
  EXPECT_EQ(m.msg, vpn.substr(5));

  ParserOptions tokyo;
  tokyo.default_utc_offset_secs = 9 * 3600;
  const std::string old =
      "date=2016-06-17 time=02:37:41 devname=Mobipay_Firewall devid=FGTXXXX9999999999 "
      "logid=0100032002 type=event subtype=system level=alert";
  m = ParseWith(old, tokyo);
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.timestamp, UtcTime(2016, 6, 16, 17, 37, 41));
  EXPECT_EQ(m.hostname, "Mobipay_Firewall");
  EXPECT_EQ(m.msg, old);

  m = ParseWith(
      "<190>date=2026-12-07 time=09:00:00 device_id=FE-3KE3R17000012 log_id=0001001623 "
      "type=event subtype=admin pri=information user=admin ui=GUI(198.51.100.4) "
      "action=login status=success tz=\"-05:00\"");
  EXPECT_EQ(m.hostname, "FE-3KE3R17000012");
  EXPECT_EQ(m.timestamp, UtcTime(2026, 12, 7, 14, 0, 0));

  // Not a Fortinet log: the parser's usual answers.
  for (const std::string_view other :
       {"<185>date=2026-12-07 is today", "<185>date=2026-13-07 time=03:20:01 devname=x",
        "<185>date=2026-12-07 time=03:20:01x devname=x"}) {
    m = ParseWith(other);
    EXPECT_EQ(m.issue, ParseIssue::kBadTimestamp) << other;
    EXPECT_EQ(m.hostname, "") << other;
    EXPECT_EQ(m.timestamp, kReceived) << other;
  }
}

TEST(Rfc3164Test, Ipv6HostnameIsNotATag) {
  const Message m = ParseWith("<13>Nov 23 08:00:00 2001:db8::1 sshd[1]: x");
  EXPECT_EQ(m.hostname, "2001:db8::1");
  EXPECT_EQ(m.app_name, "sshd");
}

// Cisco ASA with "logging device-id" writes its id, then " : ", then the
// message id as the TAG; with "logging timestamp" the stamp has a year
// (Cisco ASA Series General Operations CLI Configuration Guide, "Including
// the Device ID in Non-EMBLEM Format Syslog Messages", "Including the Date
// and Time in Syslog Messages"). firewall.yaml and vpn.yaml key on that
// TAG (program '%(?:ASA|FTD|PIX)-[0-7]-1060...').
TEST(Rfc3164Test, CiscoAsaDeviceIdColonIsNoPartOfTheTag) {
  const std::vector<HeaderCase> cases = {
      {"<166>Dec 07 2026 02:10:11 asa-tokyo01 : %ASA-6-113005: AAA user authentication Rejected "
       ": reason = AAA failure : server = 10.0.8.20 : user = bob : user IP = 203.0.113.9",
       "asa-tokyo01", "%ASA-6-113005",
       "AAA user authentication Rejected : reason = AAA failure : server = 10.0.8.20 : user = "
       "bob : user IP = 203.0.113.9"},
      {"<164>Dec  7 02:10:11 asa-tokyo01 : %ASA-4-106023: Deny tcp src outside:203.0.113.9/4000 "
       "dst inside:10.0.0.5/22 by access-group \"outside_in\" [0x0, 0x0]",
       "asa-tokyo01", "%ASA-4-106023",
       "Deny tcp src outside:203.0.113.9/4000 dst inside:10.0.0.5/22 by access-group "
       "\"outside_in\" [0x0, 0x0]"},
      // "logging device-id ipaddress inside".
      {"<166>Dec  7 02:10:11 10.0.0.1 : %ASA-6-605004: Login denied from 192.0.2.10/32597 to "
       "outside:192.0.2.14/ssh for user \"root\"",
       "10.0.0.1", "%ASA-6-605004",
       "Login denied from 192.0.2.10/32597 to outside:192.0.2.14/ssh for user \"root\""},
      // Without a device id, and without "logging timestamp".
      {"<166>Dec  7 02:10:11 asa1 %ASA-6-605005: Login permitted", "asa1", "%ASA-6-605005",
       "Login permitted"},
      {"<166>%ASA-6-605004: Login denied from 192.0.2.10/1", "", "%ASA-6-605004",
       "Login denied from 192.0.2.10/1"},
      // A lone ':' not followed by a TAG stays in the text.
      {"<13>Dec  7 02:10:11 host1 : plain words", "host1", "", ": plain words"},
  };
  ExpectHeaders(cases);
  EXPECT_EQ(ParseWith(cases[0].line).timestamp, UtcTime(2026, 12, 7, 2, 10, 11));
}

// Snare for Windows: "MSWinEventLog<TAB>criticality<TAB>log<TAB>..." (Snare
// Agent, "Appendix A - Windows Event Output Format"); a relay that escapes
// control characters (rsyslog's default, "#011") writes the TABs as #011.
// The TAG is MSWinEventLog, the rest is the text.
TEST(Rfc3164Test, SnareTabEndsTheTag) {
  const std::vector<HeaderCase> cases = {
      {"<13>Dec  7 02:10:11 dc01 MSWinEventLog\t1\tSecurity\t123\tMon Dec 07 02:10:11 "
       "2026\t4625\tMicrosoft-Windows-Security-Auditing",
       "dc01", "MSWinEventLog",
       "1\tSecurity\t123\tMon Dec 07 02:10:11 2026\t4625\tMicrosoft-Windows-Security-Auditing"},
      {"<13>Dec  7 02:10:11 dc01 MSWinEventLog#0111#011Security#011123#011Mon Dec 07 02:10:11 "
       "2026#0114625",
       "dc01", "MSWinEventLog", "1#011Security#011123#011Mon Dec 07 02:10:11 2026#0114625"},
      // Any other '#' is part of the TAG.
      {"<13>Dec  7 02:10:11 dc01 a#b: x", "dc01", "a#b", "x"},
      {"<13>Dec  7 02:10:11 dc01 a#01: x", "dc01", "a#01", "x"},
  };
  ExpectHeaders(cases);
}

TEST(Rfc3164Test, DefaultOffsetAppliesToBsdStamps) {
  ParserOptions options;
  options.default_utc_offset_secs = 9 * 3600;
  const Message m = ParseWith("<13>Nov 23 08:00:00 host app: x", options);
  EXPECT_EQ(m.timestamp, UtcTime(2026, 11, 22, 23, 0, 0));
  // An explicit zone wins over the default.
  EXPECT_EQ(ParseWith("<13>2026-11-23T08:00:00Z host app: x", options).timestamp,
            UtcTime(2026, 11, 23, 8, 0, 0));
}

// --- Year inference ---

TEST(YearInferenceTest, DecemberReceivedInJanuaryIsLastYear) {
  const Message m = ParseWith("<13>Dec 31 23:59:58 host app: x", {}, UtcTime(2027, 1, 1, 0, 0, 5));
  EXPECT_EQ(m.timestamp, UtcTime(2026, 12, 31, 23, 59, 58));
}

TEST(YearInferenceTest, JanuaryFromAFastClockReceivedOnNewYearsEveIsNextYear) {
  const Message m =
      ParseWith("<13>Jan  1 00:00:02 host app: x", {}, UtcTime(2026, 12, 31, 23, 59, 0));
  EXPECT_EQ(m.timestamp, UtcTime(2027, 1, 1, 0, 0, 2));
}

TEST(YearInferenceTest, NeverMoreThanAMonthInTheFuture) {
  const TimePoint received = UtcTime(2026, 11, 23, 8, 0, 0);
  // 27 days ahead: a sender clock that is off, kept in this year.
  EXPECT_EQ(ParseWith("<13>Dec 20 08:00:00 h a: x", {}, received).timestamp,
            UtcTime(2026, 12, 20, 8, 0, 0));
  // 32 days ahead: must be last year.
  const Message m = ParseWith("<13>Dec 25 08:00:00 h a: x", {}, received);
  EXPECT_EQ(m.timestamp, UtcTime(2025, 12, 25, 8, 0, 0));
  EXPECT_LE(m.timestamp, received + hours(24 * 31));
}

TEST(YearInferenceTest, ZoneOffsetAppliesAcrossTheYearBoundary) {
  // 2026-12-31T16:00Z is already Jan 1 in UTC+9: "Jan  1 00:30" is this new year.
  ParserOptions options;
  options.default_utc_offset_secs = 9 * 3600;
  const Message m =
      ParseWith("<13>Jan  1 00:30:00 h a: x", options, UtcTime(2026, 12, 31, 15, 31, 0));
  EXPECT_EQ(m.timestamp, UtcTime(2026, 12, 31, 15, 30, 0));
}

TEST(YearInferenceTest, Feb29OnlyInLeapYears) {
  const Message m = ParseWith("<13>Feb 29 12:00:00 h a: x", {}, UtcTime(2027, 3, 1, 0, 0, 0));
  EXPECT_EQ(m.timestamp, UtcTime(2024, 2, 29, 12, 0, 0));
}

// --- Unparsed, line ends, UTF-8 ---

TEST(UnparsedTest, PlainTextIsKeptWhole) {
  for (const std::string_view in :
       {std::string_view("hello world"),
        std::string_view("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok"),
        std::string_view("type=SYSCALL msg=audit(1684329817.579:2995): arch=c000003e"),
        std::string_view("2015/01/08 11:31:23 [error] 80:2 blah")}) {
    const Message m = ParseWith(in);
    EXPECT_EQ(m.format, MessageFormat::kUnparsed) << in;
    EXPECT_EQ(m.issue, ParseIssue::kNoHeader) << in;
    EXPECT_EQ(m.msg, in);
    EXPECT_EQ(m.raw.data(), in.data());
    EXPECT_EQ(m.raw.size(), in.size());
    EXPECT_TRUE(m.hostname.empty());
    EXPECT_EQ(m.pri, -1);
  }
}

TEST(UnparsedTest, BadPriIsKeptWhole) {
  for (const std::string_view in :
       {std::string_view("<999>Nov 23 08:00:00 host app: x"), std::string_view("<>x"),
        std::string_view("<192>x"), std::string_view("<1234>x"), std::string_view("<"),
        std::string_view("<13"), std::string_view("<a>x"), std::string_view("<html>")}) {
    const Message m = ParseWith(in);
    EXPECT_EQ(m.format, MessageFormat::kUnparsed) << in;
    EXPECT_EQ(m.issue, ParseIssue::kBadPri) << in;
    EXPECT_EQ(m.msg, in);
    EXPECT_EQ(m.raw, in);
    EXPECT_TRUE(m.hostname.empty());
  }
}

TEST(UnparsedTest, EmptyFrame) {
  const Message m = ParseWith("");
  EXPECT_EQ(m.format, MessageFormat::kUnparsed);
  EXPECT_EQ(m.issue, ParseIssue::kEmpty);
  EXPECT_TRUE(m.msg.empty());
}

TEST(LineEndTest, TrailingNewlineIsOutsideMsgButInRaw) {
  for (const std::string& in : {std::string("<13>Nov 23 08:00:00 host app: text\n"),
                                std::string("<13>Nov 23 08:00:00 host app: text\r\n")}) {
    const Message m = ParseWith(in);
    EXPECT_EQ(m.msg, "text");
    EXPECT_EQ(m.raw, in);
  }
  EXPECT_EQ(ParseWith("<13>1 - h a - - - text\r\n").msg, "text");
  EXPECT_EQ(ParseWith("plain text\n").msg, "plain text");
}

// rsyslog's RSYSLOG_SyslogProtocol23Format: "%STRUCTURED-DATA% %msg%", the
// MSG of an RFC 3164 line starting with its TAG's space.
TEST(Rfc5424Test, TheTagsSpaceInRsyslogsMsgIsNoPartOfTheText) {
  Message m = ParseWith(
      "<38>1 2026-11-23T08:00:00+00:00 web1 sshd 900 - -  Accepted password for root from "
      "192.0.2.1 port 1 ssh2");
  EXPECT_EQ(m.format, MessageFormat::kRfc5424);
  EXPECT_EQ(m.msg, "Accepted password for root from 192.0.2.1 port 1 ssh2");
  m = ParseWith("<38>1 2026-11-23T08:00:00Z web1 app - - [a b=\"1\"]  text");
  EXPECT_EQ(m.structured_data, "[a b=\"1\"]");
  EXPECT_EQ(m.msg, "text");
  // One space comes off, as in the RFC 3164 reading; a second one stays.
  EXPECT_EQ(ParseWith("<38>1 2026-11-23T08:00:00Z web1 app - - -   two").msg, " two");
  EXPECT_EQ(ParseWith("<38>1 2026-11-23T08:00:00Z web1 app - - - one").msg, "one");
}

// --- What a sender wrapped around the daemon's text ---

// rsyslog's "#ooo" escape of a line end the sender left at the message's end
// (a kept LF: InterNetNews/inn#373; a CRLF sender's CR: rsyslog#241) is
// dropped from msg as a raw line end is; raw keeps it, and "#012" inside a
// message (a multi-line record) stays.
TEST(Rfc3164Test, TrailingEscapedLineEndsAreDroppedFromTheMessageOnly) {
  const std::string kLine =
      "<86>Dec  7 10:01:24 web01 sudo:   alice : TTY=pts/2 ; PWD=/home/alice ; USER=root ; "
      "COMMAND=/usr/bin/cat /etc/shadow#015#012";
  Message m = ParseWith(kLine);
  EXPECT_EQ(m.msg,
            "  alice : TTY=pts/2 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/cat /etc/shadow");
  EXPECT_EQ(m.raw, kLine);
  EXPECT_EQ(ParseWith("<38>Dec  7 10:01:07 web01 innd[88]: starting#012").msg, "starting");
  EXPECT_EQ(ParseWith("<38>1 2026-12-07T10:01:07Z web01 sshd 42 - - user=root#012").msg,
            "user=root");
  EXPECT_EQ(ParseWith("<38>Dec  7 10:01:07 web01 app[1]: line one#012line two").msg,
            "line one#012line two");
  EXPECT_EQ(ParseWith("<38>Dec  7 10:01:07 web01 app[1]: count #0125").msg, "count #0125");
  EXPECT_EQ(ParseWith("<38>Dec  7 10:01:07 web01 app[1]: #012").msg, "");
}

// rsyslog's repeat reduction (runtime/ratelimit.c): " message repeated %d
// times: [%.800s]" over the original MSG, leading space included.
TEST(RepeatedTest, RsyslogRepeatLineUnwrapsToTheTextAndItsCount) {
  const std::string in =
      "<38>Dec 10 07:48:43 LabSZ sshd[24490]: message repeated 5 times: [ Failed password for "
      "root from 112.95.230.3 port 44911 ssh2]";
  const Message m = ParseWith(in);
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.app_name, "sshd");
  EXPECT_EQ(m.procid, "24490");
  EXPECT_EQ(m.msg, "Failed password for root from 112.95.230.3 port 44911 ssh2");
  EXPECT_EQ(m.repeats, 5u);
  EXPECT_EQ(m.raw, in);  // the archive keeps every byte
}

TEST(RepeatedTest, Rfc5424AndNoLeadingSpaceAndACutLine) {
  Message m = ParseWith(
      "<38>1 2026-11-23T08:00:00Z web1 sshd 42 - - message repeated 12 times: [Failed password "
      "for admin from 192.0.2.9 port 1 ssh2]");
  EXPECT_EQ(m.format, MessageFormat::kRfc5424);
  EXPECT_EQ(m.msg, "Failed password for admin from 192.0.2.9 port 1 ssh2");
  EXPECT_EQ(m.repeats, 12u);
  // Cut by a transport's size limit: no closing bracket, still the text.
  m = ParseWith(
      "<38>Dec 10 07:48:43 h sshd[1]: message repeated 2 times: [ Failed password for ro");
  EXPECT_EQ(m.msg, "Failed password for ro");
  EXPECT_EQ(m.repeats, 2u);
}

TEST(RepeatedTest, AnythingElseIsLeftAsWritten) {
  for (const char* text : {
           "message repeated 0 times: [ x]",            // no events
           "message repeated times: [ x]",              // no count
           "message repeated 5 times [ x]",             // not rsyslog's wording
           "message repeated 99999999999 times: [ x]",  // over 32 bits
           "the message repeated 5 times: [ x]",
           "last message repeated 5 times",  // no text to count: left alone
       }) {
    const Message m = ParseWith(std::string("<38>Dec 10 07:48:43 h app[1]: ") + text);
    EXPECT_EQ(m.msg, text);
    EXPECT_EQ(m.repeats, 1u) << text;
  }
  EXPECT_EQ(ParseWith("<38>Dec 10 07:48:43 h app[1]: hello").repeats, 1u);
  // An unparsed line is kept whole.
  const Message u = ParseWith("message repeated 5 times: [ x]");
  EXPECT_EQ(u.format, MessageFormat::kUnparsed);
  EXPECT_EQ(u.msg, "message repeated 5 times: [ x]");
  EXPECT_EQ(u.repeats, 1u);
}

// The notices that stand for repeats of the host's line before them
// (sysklogd and BSD syslogd's fprintlog, rsyslog's old form, macOS,
// syslog-ng's log_writer_emit_suppress_summary): read here, replayed by
// the worker.
TEST(RepeatNoticeTest, EverySyslogdsWordingGivesItsCount) {
  struct Case {
    const char* msg;
    uint32_t count;
    const char* quoted;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"last message repeated 5 times", 5, ""},         // sysklogd, FreeBSD ("syslogd")
           {" last message repeated 12 times", 12, ""},      // rsyslog, under the line's tag
           {"--- last message repeated 1 time ---", 1, ""},  // macOS
           {"--- last message repeated 3 times ---", 3, ""},
           {"Last message 'Failed password for ' repeated 7 times, suppressed by syslog-ng on "
            "loghost.example.org",
            7, "Failed password for "},
           // %.20s of a text holding the quote and "' repeated " itself.
           {"Last message 'it' repeated 'x ' repeated 2 times, suppressed by syslog-ng on h", 2,
            "it' repeated 'x "},
           {"Last message '' repeated 4 times, suppressed by syslog-ng on h", 4, ""},
       }) {
    uint32_t count = 0;
    std::string_view quoted = "unset";
    ASSERT_TRUE(ReadRepeatNotice(c.msg, &count, &quoted)) << c.msg;
    EXPECT_EQ(count, c.count) << c.msg;
    EXPECT_EQ(quoted, c.quoted) << c.msg;
  }
}

// sysklogd's and BSD syslogd's fprintlog write the notice after the host
// with no tag, and forward it with neither host nor tag: "last" is not the
// program, nor the host (the evasion tester: 42 guesses counted as 7).
TEST(RepeatNoticeTest, AnUntaggedNoticeIsNoHostAndNoProgram) {
  Message m = ParseWith("<38>Dec  5 10:00:10 oldbox last message repeated 5 times");
  EXPECT_EQ(m.hostname, "oldbox");
  EXPECT_EQ(m.app_name, "");
  EXPECT_EQ(m.msg, "last message repeated 5 times");
  m = ParseWith("<38>Dec  5 10:00:10 last message repeated 5 times");
  EXPECT_EQ(m.hostname, "");
  EXPECT_EQ(m.app_name, "");
  EXPECT_EQ(m.msg, "last message repeated 5 times");
  m = ParseWith("<38>Dec  5 10:00:10 mac1 --- last message repeated 2 times ---");
  EXPECT_EQ(m.hostname, "mac1");
  EXPECT_EQ(m.msg, "--- last message repeated 2 times ---");
  // A host really named "last", a program really named "last": their lines
  // are theirs.
  m = ParseWith("<38>Dec  5 10:00:10 last sshd[7]: Accepted publickey for a from 192.0.2.1");
  EXPECT_EQ(m.hostname, "last");
  EXPECT_EQ(m.app_name, "sshd");
  m = ParseWith("<38>Dec  5 10:00:10 h1 last: message repeated 5 times");
  EXPECT_EQ(m.hostname, "h1");
  EXPECT_EQ(m.app_name, "last");
  EXPECT_EQ(m.msg, "message repeated 5 times");
}

TEST(RepeatNoticeTest, AnythingElseIsNoNotice) {
  for (const char* msg : {
           "last message repeated",                    // no count
           "last message repeated 0 times",            // no repeats
           "last message repeated 99999999999 times",  // over 32 bits
           "last message repeated 5 times, then 6",    // more text: a daemon's own line
           "the last message repeated 5 times",
           "last message repeated five times",
           "--- last message repeated 2 times",  // macOS closes its dashes
           "last message repeated 2 times ---",
           "message repeated 5 times: [ x]",       // rsyslog's form with the text: the parser's
           "Last message 'abc' repeated 5 times",  // syslog-ng always names itself
           "Last message 'abcdefghijklmnopqrstuvwxyz' repeated 5 times, suppressed by syslog-ng "
           "on h",  // more than 20 quoted bytes
           "",
       }) {
    uint32_t count = 0;
    std::string_view quoted;
    EXPECT_FALSE(ReadRepeatNotice(msg, &count, &quoted)) << msg;
  }
}

// rsyslog imfile forwarding /var/log/auth.log with Tag="auth:": the file's
// line, header and all, is the text of the forwarded message.
TEST(FileLineTest, AFileLineSentAsTheTextIsTheDaemonsMessage) {
  Message m = ParseWith(
      "<133>Nov 23 08:29:59 web1 auth: Nov 20 07:48:43 web1 sshd[24490]: Failed password for "
      "root from 203.0.113.5 port 44911 ssh2");
  EXPECT_EQ(m.hostname, "web1");
  EXPECT_EQ(m.app_name, "sshd");
  EXPECT_EQ(m.procid, "24490");
  EXPECT_EQ(m.msg, "Failed password for root from 203.0.113.5 port 44911 ssh2");
  // The line's own stamp: a file read from its start holds days-old lines.
  EXPECT_EQ(m.timestamp, UtcTime(2026, 11, 20, 7, 48, 43));
  // RFC 3339 file format (RSYSLOG_FileFormat), RFC 5424 outside, and a
  // repeat line inside.
  m = ParseWith(
      "<133>1 2026-11-23T08:30:00Z relay imfile - - - 2026-11-23T08:29:58.123456+00:00 db1 "
      "sshd[7]: message repeated 3 times: [ Failed password for root from 192.0.2.1 port 2 ssh2]");
  EXPECT_EQ(m.hostname, "relay");
  EXPECT_EQ(m.app_name, "sshd");
  EXPECT_EQ(m.msg, "Failed password for root from 192.0.2.1 port 2 ssh2");
  EXPECT_EQ(m.repeats, 3u);
  EXPECT_EQ(m.timestamp, UtcTime(2026, 11, 23, 8, 29, 58) + microseconds(123456));
}

TEST(FileLineTest, TextThatOnlyLooksLikeAHeaderIsLeftAsWritten) {
  for (const char* text : {
           "Nov 20 07:48:43 web1 sshd restarted",          // no tag written as a tag
           "Nov 20 07:48:43 sshd[1]: no host in it",       // no host
           "Nov 20 is the day the job ran: ok",            // no stamp
           "2026/11/20 07:48:43 [error] 12#12: upstream",  // nginx's own stamp
           "192.0.2.1 - - [20/Nov/2026:07:48:43 +0000] \"GET / HTTP/1.1\" 200 1",
       }) {
    const Message m = ParseWith(std::string("<13>Nov 23 08:00:00 h app[1]: ") + text);
    EXPECT_EQ(m.app_name, "app") << text;
    EXPECT_EQ(m.msg, text);
    EXPECT_EQ(m.timestamp, UtcTime(2026, 11, 23, 8, 0, 0)) << text;
  }
}

// Solaris' syslogd: "[ID <msgid> <facility>.<level>] " before the text.
TEST(SolarisIdTest, PrefixComesOffTheMessage) {
  Message m = ParseWith(
      "Aug 18 07:30:25 192.168.1.5 sshd[20247]: [ID 800047 auth.notice] Failed none for root "
      "from 192.168.1.1 port 36942 ssh2");
  EXPECT_EQ(m.app_name, "sshd");
  EXPECT_EQ(m.msg, "Failed none for root from 192.168.1.1 port 36942 ssh2");
  m = ParseWith("<13>Aug 18 07:30:25 sol su: [ID 366847 auth.warning] 'su root' failed for bob");
  EXPECT_EQ(m.msg, "'su root' failed for bob");
  for (const char* text : {"[ID abc auth.notice] x", "[ID 1 auth] x", "[ID 1 Auth.Notice] x",
                           "[ID 1 auth.notice x", "[IDS 1 auth.notice] x", "[ 1.234] x"}) {
    EXPECT_EQ(ParseWith(std::string("<13>Aug 18 07:30:25 sol app: ") + text).msg, text);
  }
}

TEST(Utf8Test, JapanesePassesThroughUntouched) {
  const std::string in =
      "<13>Nov 23 08:00:00 ホスト app[1]: ログイン失敗 ユーザー=太郎 from 192.0.2.1";
  const Message m = ParseWith(in);
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.issue, ParseIssue::kNone);
  EXPECT_EQ(m.hostname, "ホスト");
  EXPECT_EQ(m.msg, "ログイン失敗 ユーザー=太郎 from 192.0.2.1");
}

TEST(Utf8Test, InvalidUtf8IsOnlyCounted) {
  const std::string in = "<13>Nov 23 08:00:00 host app: bad \xC3\x28 and \xED\xA0\x80 end";
  Message m = ParseWith(in);
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.issue, ParseIssue::kInvalidUtf8);
  EXPECT_EQ(m.msg, "bad \xC3\x28 and \xED\xA0\x80 end");

  ParserOptions options;
  options.validate_utf8 = false;
  m = ParseWith(in, options);
  EXPECT_EQ(m.issue, ParseIssue::kNone);
}

TEST(Utf8Test, OverlongAndTruncatedSequencesAreInvalid) {
  for (const std::string tail :
       {"\xC0\xAF", "\xE0\x80\xAF", "\xF4\x90\x80\x80", "\xE3\x81", "\xFF", "\x80"}) {
    EXPECT_EQ(ParseWith("<13>1 - h a - - - x" + tail).issue, ParseIssue::kInvalidUtf8);
  }
  EXPECT_EQ(ParseWith("<13>1 - h a - - - \xF0\x9F\x98\x80 ok").issue, ParseIssue::kNone);
}

TEST(NulTest, NulBytesAreKeptInMsg) {
  static constexpr char kIn[] = "<13>Nov 23 08:00:00 host app: a\0b\0";
  const std::string in(kIn, sizeof(kIn) - 1);
  const Message m = ParseWith(in);
  EXPECT_EQ(m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(m.msg, std::string_view("a\0b\0", 4));
}

TEST(ParseIssueNameTest, NamesAreDistinctSnakeCase) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(ParseIssue::kInvalidUtf8); ++i) {
    const std::string_view name = ParseIssueName(static_cast<ParseIssue>(i));
    EXPECT_NE(name, "unknown") << i;
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789"), name.npos);
    names.insert(name);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(ParseIssue::kInvalidUtf8) + 1);
  EXPECT_EQ(ParseIssueName(ParseWith("<999>x").issue), "bad_pri");
  EXPECT_EQ(MessageFormatName(ParseWith("<13>1 - - - - - -").format), "rfc5424");
  EXPECT_EQ(MessageFormatName(ParseWith("plain").format), "unparsed");
}

}  // namespace
}  // namespace konseki::receiver
