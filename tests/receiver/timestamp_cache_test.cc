#include "receiver/timestamp_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "receiver/local_zone.h"
#include "receiver/parser.h"
#include "receiver/timestamp.h"

namespace konseki::receiver {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

TimePoint Utc(int64_t secs) { return TimePoint(seconds(secs)); }

// Unix seconds of a UTC date and time.
int64_t At(int64_t year, unsigned month, unsigned day, unsigned h = 0, unsigned m = 0,
           unsigned s = 0) {
  return DaysFromCivil(year, month, day) * 86400 + h * 3600 + m * 60 + s;
}

void ExpectSameMessage(const Message& want, const Message& got, const std::string& line) {
  SCOPED_TRACE(line);
  EXPECT_EQ(want.format, got.format);
  EXPECT_EQ(want.issue, got.issue);
  EXPECT_EQ(want.pri, got.pri);
  EXPECT_EQ(want.has_timestamp, got.has_timestamp);
  EXPECT_EQ(want.timestamp, got.timestamp);
  EXPECT_EQ(want.hostname, got.hostname);
  EXPECT_EQ(want.app_name, got.app_name);
  EXPECT_EQ(want.procid, got.procid);
  EXPECT_EQ(want.msgid, got.msgid);
  EXPECT_EQ(want.structured_data, got.structured_data);
  EXPECT_EQ(want.msg, got.msg);
  EXPECT_EQ(want.raw, got.raw);
  EXPECT_EQ(want.received, got.received);
}

// Parses `line` with `cache` and without one; both must agree.
Message ParseBoth(const Parser& parser, TimestampCache* cache, const std::string& line,
                  TimePoint received) {
  Message fresh, cached;
  parser.Parse(line, received, &fresh);
  parser.Parse(line, received, cache, &cached);
  ExpectSameMessage(fresh, cached, line);
  return cached;
}

// The parser takes a stamp from the cache when it is there: an entry stored
// with a wrong instant shows up in the message (and nowhere else).
TEST(TimestampCacheTest, ParserTakesWhatTheCacheHolds) {
  const ParserOptions options;
  const Parser parser(options);
  const TimePoint received = Utc(At(2026, 12, 2, 8, 0, 3));
  const TimePoint planted = Utc(12345);
  TimestampCache cache;
  cache.Store("Dec  2 08:00:00", MessageFormat::kRfc3164, options, ReceivedSpan(), planted);
  cache.Store("2026-12-02T08:00:00Z", MessageFormat::kRfc5424, options, ReceivedSpan(), planted);
  Message m;
  parser.Parse("<38>Dec  2 08:00:00 web1 app: x", received, &cache, &m);
  EXPECT_EQ(m.timestamp, planted);
  EXPECT_EQ(m.hostname, "web1");
  parser.Parse("<13>1 2026-12-02T08:00:00Z web1 app - - - x", received, &cache, &m);
  EXPECT_EQ(m.timestamp, planted);
  parser.Parse("<38>Dec  2 08:00:00 web1 app: x", received, &m);  // no cache
  EXPECT_EQ(m.timestamp, Utc(At(2026, 12, 2, 8)));
  // Outside the entry's span, or under other options, the stamp is read.
  TimestampCache narrow;
  narrow.Store("Dec  2 08:00:00", MessageFormat::kRfc3164, options,
               ReceivedSpan{received - seconds(1), received}, planted);
  parser.Parse("<38>Dec  2 08:00:00 web1 app: x", received - seconds(1), &narrow, &m);
  EXPECT_EQ(m.timestamp, planted);
  parser.Parse("<38>Dec  2 08:00:00 web1 app: x", received, &narrow, &m);
  EXPECT_EQ(m.timestamp, Utc(At(2026, 12, 2, 8)));
  ParserOptions tokyo;
  tokyo.default_utc_offset_secs = 9 * 3600;
  Parser(tokyo).Parse("<38>Dec  2 08:00:00 web1 app: x", received, &cache, &m);
  EXPECT_EQ(m.timestamp, Utc(At(2026, 12, 1, 23)));
}

TEST(TimestampCacheTest, WholeSecondsAreKeptAndIsoFractionsShareThem) {
  const ParserOptions options;
  const Parser parser(options);
  const TimePoint received = Utc(At(2026, 12, 2, 8, 0, 3));
  TimestampCache cache;
  Message m;
  TimePoint t;
  parser.Parse("<38>Dec  2 08:00:00 web1 app: x", received, &cache, &m);
  EXPECT_EQ(cache.Find("Dec  2 08:00:00 web1", MessageFormat::kRfc3164, options, received, &t),
            15u);
  EXPECT_EQ(t, Utc(At(2026, 12, 2, 8)));
  EXPECT_EQ(cache.Find("Dec  2 08:00:00", MessageFormat::kRfc5424, options, received, &t), 0u);
  // A microsecond stamp is kept as its second ...
  parser.Parse("<13>1 2026-12-02T08:00:01.123456+01:00 web1 app - - - x", received, &cache, &m);
  EXPECT_EQ(cache.Find("2026-12-02T08:00:01+01:00", MessageFormat::kRfc5424, options, received, &t),
            25u);
  EXPECT_EQ(t, Utc(At(2026, 12, 2, 7, 0, 1)));
  // ... which the other fractions of that second find, each with its own.
  EXPECT_EQ(
      cache.Find("2026-12-02T08:00:01.5+01:00", MessageFormat::kRfc5424, options, received, &t),
      27u);
  EXPECT_EQ(t, Utc(At(2026, 12, 2, 7, 0, 1)) + std::chrono::milliseconds(500));
  EXPECT_EQ(cache.Find("2026-12-02T08:00:01,0000000019999+01:00", MessageFormat::kRfc5424, options,
                       received, &t),
            39u);
  EXPECT_EQ(t, Utc(At(2026, 12, 2, 7, 0, 1)) + Duration(1));
  // Not a fraction, another zone, another second: read.
  for (const char* other :
       {"2026-12-02T08:00:01.+01:00", "2026-12-02T08:00:01.5+02:00", "2026-12-02T08:00:01.5Z",
        "2026-12-02T08:00:02.5+01:00", "2026-12-02T08:00:01.5+01:00:"}) {
    EXPECT_EQ(cache.Find(other, MessageFormat::kRfc5424, options, received, &t), 0u) << other;
  }
  // Both entries in use; a Cisco stamp with milliseconds replaces neither.
  parser.Parse("<38>Dec  2 08:00:00.250: web1 app: x", received, &cache, &m);
  EXPECT_EQ(cache.Find("Dec  2 08:00:00.250:", MessageFormat::kRfc3164, options, received, &t), 0u);
  EXPECT_EQ(cache.Find("Dec  2 08:00:00", MessageFormat::kRfc3164, options, received, &t), 15u);
  // A third whole-second stamp replaces the older entry.
  parser.Parse("<38>Dec  2 08:00:02 web1 app: x", received, &cache, &m);
  EXPECT_EQ(cache.Find("Dec  2 08:00:00", MessageFormat::kRfc3164, options, received, &t), 0u);
  EXPECT_EQ(cache.Find("Dec  2 08:00:02", MessageFormat::kRfc3164, options, received, &t), 15u);
  EXPECT_EQ(cache.Find("2026-12-02T08:00:01+01:00", MessageFormat::kRfc5424, options, received, &t),
            25u);
}

TEST(TimestampCacheTest, HitGivesWhatReadingGives) {
  Parser parser;
  TimestampCache cache;
  const TimePoint received = Utc(At(2026, 12, 2, 8, 0, 3));
  const std::string line = "<38>Dec  2 08:00:00 web1 CRON[12]: hello";
  Message m = ParseBoth(parser, &cache, line, received);
  EXPECT_EQ(m.timestamp, Utc(At(2026, 12, 2, 8)));
  // The same stamp again (now from the cache), on a line of another host.
  m = ParseBoth(parser, &cache, "<38>Dec  2 08:00:00 web2 nginx: x", received);
  EXPECT_EQ(m.timestamp, Utc(At(2026, 12, 2, 8)));
  EXPECT_EQ(m.hostname, "web2");
}

TEST(TimestampCacheTest, SameBytesInAnotherYearContextAreReadAgain) {
  Parser parser;
  TimestampCache cache;
  const std::string line = "<38>Jan 15 10:00:00 web1 app: x";
  // 36 days before the stamp's next occurrence: that is beyond the 31 days
  // a stamp may lie ahead, so it is last January's.
  Message m = ParseBoth(parser, &cache, line, Utc(At(2026, 12, 10)));
  EXPECT_EQ(m.timestamp, Utc(At(2026, 1, 15, 10)));
  // Ten days later the next January is within 31 days: the same bytes now
  // mean 2027, not what the cache held.
  m = ParseBoth(parser, &cache, line, Utc(At(2026, 12, 20)));
  EXPECT_EQ(m.timestamp, Utc(At(2027, 1, 15, 10)));
  // And back.
  m = ParseBoth(parser, &cache, line, Utc(At(2026, 12, 10)));
  EXPECT_EQ(m.timestamp, Utc(At(2026, 1, 15, 10)));

  // Across the new year: the same stamp received a year later.
  const std::string march = "<38>Mar  1 00:00:00 web1 app: x";
  m = ParseBoth(parser, &cache, march, Utc(At(2026, 6, 1)));
  EXPECT_EQ(m.timestamp, Utc(At(2026, 3, 1)));
  m = ParseBoth(parser, &cache, march, Utc(At(2027, 6, 1)));
  EXPECT_EQ(m.timestamp, Utc(At(2027, 3, 1)));
}

TEST(TimestampCacheTest, TheAnswerChangesExactlyWhereTheSpanEnds) {
  BsdTimestamp bsd;
  ASSERT_GT(ReadBsdTimestamp("Jan 15 10:00:00", &bsd), 0u);
  const Duration max_future = hours(24 * 31);
  TimePoint t, t2;
  ReceivedSpan span, span2;
  ASSERT_TRUE(ResolveBsdTimestamp(bsd, Utc(At(2026, 12, 10)), 0, max_future, &t, &span));
  EXPECT_EQ(t, Utc(At(2026, 1, 15, 10)));
  // 2027-01-15 10:00 comes within 31 days at 2026-12-15 10:00.
  EXPECT_EQ(span.until, Utc(At(2026, 12, 15, 10)));
  // The stamp came within 31 days of reception at 2025-12-15 10:00, but the
  // candidates are this year's: the span starts at the local new year.
  EXPECT_EQ(span.from, Utc(At(2026, 1, 1)));
  ASSERT_TRUE(ResolveBsdTimestamp(bsd, span.until - Duration(1), 0, max_future, &t2, &span2));
  EXPECT_EQ(t2, t);
  ASSERT_TRUE(ResolveBsdTimestamp(bsd, span.until, 0, max_future, &t2, &span2));
  EXPECT_EQ(t2, Utc(At(2027, 1, 15, 10)));
  EXPECT_EQ(span2.from, span.until);

  // A stamp with its year does not depend on the receive time.
  ASSERT_GT(ReadBsdTimestamp("2015 Nov 13 13:40:01", &bsd), 0u);
  ASSERT_TRUE(ResolveBsdTimestamp(bsd, Utc(At(2026, 12, 10)), 0, max_future, &t, &span));
  EXPECT_EQ(span.from, TimePoint::min());
  EXPECT_EQ(span.until, TimePoint::max());

  // With an offset, the new year is the sender's local one. (The span
  // starts when this June's stamp came within 31 days.)
  ASSERT_GT(ReadBsdTimestamp("Jun  1 00:00:00", &bsd), 0u);
  ASSERT_TRUE(ResolveBsdTimestamp(bsd, Utc(At(2026, 8, 1)), 9 * 3600, max_future, &t, &span));
  EXPECT_EQ(t, Utc(At(2026, 6, 1) - 9 * 3600));
  EXPECT_EQ(span.from, t - max_future);
  EXPECT_EQ(span.until, Utc(At(2027, 1, 1) - 9 * 3600));
  ASSERT_TRUE(ResolveBsdTimestamp(bsd, span.until, 9 * 3600, max_future, &t2, &span2));
  EXPECT_EQ(span2.from, span.until);
}

TEST(TimestampCacheTest, StampsThatDifferOnlyInTheSecondsAreNotConfused) {
  Parser parser;
  TimestampCache cache;
  const TimePoint received = Utc(At(2026, 12, 2, 8, 0, 5));
  for (int round = 0; round < 2; ++round) {
    for (int s = 0; s < 4; ++s) {
      const std::string line = "<38>Dec  2 08:00:0" + std::to_string(s) + " web1 app: x";
      const Message m = ParseBoth(parser, &cache, line, received);
      EXPECT_EQ(m.timestamp, Utc(At(2026, 12, 2, 8, 0, s)));
    }
  }
}

TEST(TimestampCacheTest, StampsThatDifferInAnyOneByteAreNotConfused) {
  Parser parser;
  TimestampCache cache;
  const TimePoint received = Utc(At(2026, 12, 2, 8, 0, 5));
  for (const std::string stamp :
       {"Dec 12 08:00:00", "2026-12-02T08:00:01+01:00", "2026 Dec 12 08:00:00"}) {
    for (const std::string head : {"<38>", "<13>1 "}) {
      for (size_t i = 0; i < stamp.size(); ++i) {
        std::string changed = stamp;
        changed[i] = changed[i] == '1' ? '0' : '1';
        // The stamp cached, then the one that differs in byte i, twice.
        ParseBoth(parser, &cache, head + stamp + " host app - - - x", received);
        ParseBoth(parser, &cache, head + changed + " host app - - - x", received);
        ParseBoth(parser, &cache, head + changed + " host app - - - x", received);
        if (HasFailure()) return;
      }
    }
  }
}

TEST(TimestampCacheTest, ACachedPrefixDoesNotPassForALongerOrBrokenStamp) {
  Parser parser;
  TimestampCache cache;
  const TimePoint received = Utc(At(2026, 12, 2, 8, 0, 5));
  ParseBoth(parser, &cache, "<38>Dec  2 08:00:00 web1 app: x", received);
  // The cached 15 bytes start each of these; none is that stamp.
  Message m = ParseBoth(parser, &cache, "<38>Dec  2 08:00:00.250 web1 app: x", received);
  EXPECT_EQ(m.timestamp, Utc(At(2026, 12, 2, 8)) + std::chrono::milliseconds(250));
  m = ParseBoth(parser, &cache, "<38>Dec  2 08:00:00x web1 app: x", received);
  EXPECT_EQ(m.issue, ParseIssue::kBadTimestamp);
  m = ParseBoth(parser, &cache, "<38>Dec  2 08:00:001 web1 app: x", received);
  EXPECT_EQ(m.issue, ParseIssue::kBadTimestamp);
  m = ParseBoth(parser, &cache, "<38>Dec  2 08:00:00: web1 app: x", received);  // Cisco's ':'
  EXPECT_EQ(m.issue, ParseIssue::kNone);
  m = ParseBoth(parser, &cache, "<38>Dec  2 08:00:00", received);  // the stamp ends the line
  EXPECT_TRUE(m.has_timestamp);
  m = ParseBoth(parser, &cache, "<38>Dec  2 08:00:00:x web1", received);
  EXPECT_EQ(m.issue, ParseIssue::kBadTimestamp);

  // RFC 3339 in an RFC 3164 line, zone "+09": a ':' after it makes the zone
  // unreadable, so the stamp must be read again, not taken from the cache.
  m = ParseBoth(parser, &cache, "<13>2026-11-23T08:00:00+09 host tag: x", received);
  EXPECT_EQ(m.timestamp, Utc(At(2026, 11, 22, 23)));
  m = ParseBoth(parser, &cache, "<13>2026-11-23T08:00:00+09: host tag: x", received);
  EXPECT_EQ(m.issue, ParseIssue::kBadTimestamp);
  m = ParseBoth(parser, &cache, "<13>2026-11-23T08:00:00+09:30 host tag: x", received);
  EXPECT_EQ(m.timestamp, Utc(At(2026, 11, 22, 22, 30)));
}

TEST(TimestampCacheTest, InvalidStampsAreNeverAnswered) {
  Parser parser;
  TimestampCache cache;
  const TimePoint received = Utc(At(2026, 12, 2));
  for (int round = 0; round < 2; ++round) {
    // Feb 29 with a year that is not a leap year, Feb 30, hour 24: read
    // every time, and every time refused.
    for (const char* line :
         {"<38>2027 Feb 29 10:00:00 web1 app: x", "<38>Feb 30 10:00:00 web1 app: x",
          "<38>Dec  2 24:00:00 web1 app: x", "<13>1 2026-13-01T00:00:00Z host app - - - x"}) {
      const Message m = ParseBoth(parser, &cache, line, received);
      EXPECT_EQ(m.issue, ParseIssue::kBadTimestamp) << line;
      EXPECT_FALSE(m.has_timestamp) << line;
    }
    ParseBoth(parser, &cache, "<38>Dec  2 08:00:00 web1 app: x", received);
  }
}

TEST(TimestampCacheTest, HitAfterAMissOnTheOtherFormat) {
  Parser parser;
  TimestampCache cache;
  const TimePoint received = Utc(At(2026, 12, 2));
  const std::string r5424 = "<13>1 2026-11-23T08:00:00Z host app 1 - - x";
  const std::string r3164 = "<13>2026-11-23T08:00:00Z host app: x";
  const TimePoint want = Utc(At(2026, 11, 23, 8));
  EXPECT_EQ(ParseBoth(parser, &cache, r5424, received).timestamp, want);  // miss, stored
  EXPECT_EQ(ParseBoth(parser, &cache, "<38>Dec  2 08:00:00 web1 app: x", received).timestamp,
            Utc(At(2026, 12, 2, 8)));                                     // miss, stored
  EXPECT_EQ(ParseBoth(parser, &cache, r3164, received).timestamp, want);  // miss (other format)
  EXPECT_EQ(ParseBoth(parser, &cache, r5424, received).timestamp, want);  // hit

  // An RFC 3164 stamp takes a ':' after it; the same bytes as an RFC 5424
  // token are not a timestamp.
  ParseBoth(parser, &cache, "<13>2026-11-23T08:00:00Z: host app: x", received);
  const Message m =
      ParseBoth(parser, &cache, "<13>1 2026-11-23T08:00:00Z: host app 1 - - x", received);
  EXPECT_EQ(m.issue, ParseIssue::kBadTimestamp);
}

TEST(TimestampCacheTest, OneCacheUnderTwoParsersKeepsTheirOffsetsApart) {
  ParserOptions utc, tokyo;
  tokyo.default_utc_offset_secs = 9 * 3600;
  const Parser a(utc), b(tokyo);
  TimestampCache cache;
  const TimePoint received = Utc(At(2026, 12, 2, 12));
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(ParseBoth(a, &cache, "<38>Dec  2 08:00:00 h app: x", received).timestamp,
              Utc(At(2026, 12, 2, 8)));
    EXPECT_EQ(ParseBoth(b, &cache, "<38>Dec  2 08:00:00 h app: x", received).timestamp,
              Utc(At(2026, 12, 1, 23)));
    EXPECT_EQ(ParseBoth(a, &cache, "<13>1 2026-12-02T08:00:00 h app - - - x", received).timestamp,
              Utc(At(2026, 12, 2, 8)));
    EXPECT_EQ(ParseBoth(b, &cache, "<13>1 2026-12-02T08:00:00 h app - - - x", received).timestamp,
              Utc(At(2026, 12, 1, 23)));
  }
}

// Europe/Berlin changes to summer time at 2025-03-30 01:00 UTC and back at
// 2025-10-26 01:00 UTC: around each change the offset at reception is part
// of what a zoneless stamp means.
TEST(TimestampCacheTest, LocalZoneOffsetIsPartOfTheAnswer) {
  const char* old = getenv("TZ");
  const std::string old_tz = old != nullptr ? old : "";
  setenv("TZ", "Europe/Berlin", 1);
  tzset();
  constexpr int64_t kSpringChange = 1743296400;  // 2025-03-30T01:00:00Z
  constexpr int64_t kAutumnChange = 1761440400;  // 2025-10-26T01:00:00Z
  time_t probe = static_cast<time_t>(kSpringChange);
  struct tm tm;
  localtime_r(&probe, &tm);
  const bool have_zone = tm.tm_gmtoff == 7200;
  if (have_zone) {
    LocalZone zone;
    ParserOptions o;
    o.default_utc_offset_secs = 3600;
    o.local_zone = &zone;
    const Parser parser(o);
    TimestampCache cache;
    const std::string line = "<38>Mar 30 01:30:00 web1 app: x";
    for (int round = 0; round < 2; ++round) {
      ParseBoth(parser, &cache, line, Utc(kSpringChange - 1800));
      ParseBoth(parser, &cache, line, Utc(kSpringChange - 1));
      ParseBoth(parser, &cache, line, Utc(kSpringChange));
      ParseBoth(parser, &cache, line, Utc(kSpringChange + 1800));
      ParseBoth(parser, &cache, "<38>Mar 30 03:30:00 web1 app: x", Utc(kSpringChange + 1800));
      // 02:30 happens twice on 2025-10-26 (00:30Z in summer time, 01:30Z in
      // winter time): the reading follows the offset at reception.
      const std::string autumn = "<38>Oct 26 02:30:00 web1 app: x";
      EXPECT_EQ(ParseBoth(parser, &cache, autumn, Utc(kAutumnChange - 1)).timestamp,
                Utc(kAutumnChange - 1800));
      EXPECT_EQ(ParseBoth(parser, &cache, autumn, Utc(kAutumnChange + 1)).timestamp,
                Utc(kAutumnChange + 1800));
    }
  }
  if (old != nullptr) {
    setenv("TZ", old_tz.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
  if (!have_zone) GTEST_SKIP() << "no tzdata for Europe/Berlin (apt-get install tzdata)";
}

// Lines built from stamps and what may follow them, received at times
// around new years and the 31-day horizon, in random order: every line
// parsed with the cache reads as without it.
TEST(TimestampCacheTest, RandomLinesReadTheSameWithAndWithoutTheCache) {
  const std::vector<std::string> stamps = {"Dec 31 23:59:59",
                                           "Jan  1 00:00:00",
                                           "Jan  1 00:00:01",
                                           "Jan 31 12:00:00",
                                           "Feb 29 12:00:00",
                                           "Feb 28 12:00:00",
                                           "Dec  2 08:00:00",
                                           "Dec  2 08:00:00.5",
                                           "Dec  2 08:00:00,25",
                                           "2024 Feb 29 01:02:03",
                                           "Dec 2 08:00:00",
                                           "Dec 02 08:00:00",
                                           "Mar  1 18:46:11.123:",
                                           "2026-12-31T23:59:59Z",
                                           "2026-12-31T23:59:59+09",
                                           "2026-12-31T23:59:59+0930",
                                           "2026-12-31T23:59:59.123456789-07:00",
                                           "2026-12-31T23:59:59.5Z",
                                           "2026-12-31T23:59:59,25+09:00",
                                           "2026-12-31T23:59:59.Z",
                                           "2026-12-31T23:59:59.1234567891234+01:00",
                                           "2026-12-31 23:59:59.5",
                                           "2026-12-31T23:59:59.5",
                                           "2026-12-31T23:59:59.000001-07:00",
                                           "2026-12-31T23:59:58.999+0930",
                                           "2026-12-31 23:59:59",
                                           "Jun  8 14:34:33",
                                           "Dec  2 08:00:0",
                                           "Dec  2 08:00",
                                           "-"};
  const std::vector<std::string> after = {
      " web1 sshd[1]: x", ": web1 x", "x web1", ".7 web1 x", "1 web1", "", " ", ":", ": ",
      ":30 h x"};
  const std::vector<std::string> heads = {"<38>", "<13>1 ", ""};
  const std::vector<int64_t> around = {At(2026, 12, 31, 23, 59, 59), At(2027, 1, 1),
                                       At(2026, 12, 1, 0, 0, 1),     At(2026, 12, 2, 8),
                                       At(2028, 2, 29, 12),          At(2026, 1, 31, 12),
                                       At(2027, 12, 31, 15)};
  ParserOptions offset;
  offset.default_utc_offset_secs = -5 * 3600;
  const Parser parsers[] = {Parser(), Parser(offset)};
  std::mt19937_64 rng(17);
  TimestampCache cache;
  for (int i = 0; i < 20000; ++i) {
    const std::string line =
        heads[rng() % heads.size()] + stamps[rng() % stamps.size()] + after[rng() % after.size()];
    // Near the interesting instants, up to a day and a half either side.
    const int64_t base = around[rng() % around.size()];
    const int64_t jitter = static_cast<int64_t>(rng() % (3 * 86400)) - 3 * 86400 / 2;
    const TimePoint received =
        Utc(base + (rng() % 4 == 0 ? jitter : jitter % 5)) + Duration(rng() % 1000000000);
    const Parser& parser = parsers[rng() % 2];
    ParseBoth(parser, &cache, line, received);
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace konseki::receiver
