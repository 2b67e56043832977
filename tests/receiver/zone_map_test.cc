// parser.timezones (receiver/zone_map.h): a zone per RFC 3164 sender, by the
// line's HOST or the sender's network (time24 r6: a US Eastern host read in
// the Tokyo log host's zone was 14 h off).
#include "receiver/zone_map.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "receiver/parser.h"
#include "receiver/timestamp_cache.h"

namespace konseki::receiver {
namespace {

TimePoint Utc(int64_t secs) { return TimePoint(std::chrono::seconds(secs)); }

std::unique_ptr<ZoneMap> Build(const std::vector<ZoneRuleSpec>& rules) {
  auto m = ZoneMap::Build(rules);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : nullptr;
}

TEST(ZoneMapTest, NamedZoneReadFromZoneinfoHasDaylightSaving) {
  auto z = LocalZone::Load("America/New_York");
  ASSERT_TRUE(z.ok()) << z.status().message();
  EXPECT_EQ((*z)->OffsetAt(Utc(1783400402)), -4 * 3600);  // 2026-07-07: EDT
  EXPECT_EQ((*z)->OffsetAt(Utc(1796623202)), -5 * 3600);  // 2026-12-07: EST
  // 2026-03-08 07:00 UTC: 02:00 EST becomes 03:00 EDT.
  EXPECT_EQ((*z)->OffsetAt(Utc(1772953200 - 1)), -5 * 3600);
  EXPECT_EQ((*z)->OffsetAt(Utc(1772953200)), -4 * 3600);
  auto tokyo = LocalZone::Load("Asia/Tokyo");
  ASSERT_TRUE(tokyo.ok());
  EXPECT_EQ((*tokyo)->OffsetAt(Utc(1783400402)), 9 * 3600);
}

// zic -b slim leaves later years' daylight saving to the footer's POSIX
// rule, which is not read: such a file is refused, a fat one read.
TEST(ZoneMapTest, SlimZoneinfoFileIsRefusedFatOneRead) {
  if (access("/usr/sbin/zic", X_OK) != 0) GTEST_SKIP() << "no zic";
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("konseki-zic-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "t.zi") << "Rule US 2007 max - Mar Sun>=8 2:00 1:00 D\n"
                                 "Rule US 2007 max - Nov Sun>=1 2:00 0 S\n"
                                 "Zone Test/East -5:00 US E%sT\n";
  for (const char* kind : {"slim", "fat"}) {
    const std::string cmd = std::string("/usr/sbin/zic -b ") + kind + " -d " +
                            (dir / kind).string() + " " + (dir / "t.zi").string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  const char* old = getenv("TZDIR");
  const std::string saved = old != nullptr ? old : "";
  setenv("TZDIR", (dir / "slim").c_str(), 1);
  auto slim = LocalZone::Load("Test/East");
  setenv("TZDIR", (dir / "fat").c_str(), 1);
  auto fat = LocalZone::Load("Test/East");
  if (old != nullptr) {
    setenv("TZDIR", saved.c_str(), 1);
  } else {
    unsetenv("TZDIR");
  }
  fs::remove_all(dir);
  ASSERT_FALSE(slim.ok());
  EXPECT_NE(slim.status().message().find("slim"), std::string::npos) << slim.status().message();
  ASSERT_TRUE(fat.ok()) << fat.status().message();
  EXPECT_EQ((*fat)->OffsetAt(Utc(1783400402)), -4 * 3600);
  EXPECT_EQ((*fat)->OffsetAt(Utc(1796623202)), -5 * 3600);
}

TEST(ZoneMapTest, BadEntriesAreErrorsNamingThem) {
  struct Case {
    ZoneRuleSpec spec;
    std::string_view want;
  };
  const Case cases[] = {
      {{{"a"}, {}, "Mars/Olympus"}, "unknown zone"},
      {{{"a"}, {}, "../../etc/passwd"}, "not a zone name"},
      {{{"a"}, {}, "+25:00"}, "not a zone name"},
      {{{"a"}, {}, ""}, "zone is required"},
      {{{}, {}, "UTC"}, "hosts, networks"},
      {{{}, {"10.8.0.0/33"}, "UTC"}, "10.8.0.0/33"},
      {{{}, {"10.8.0.1/16"}, "UTC"}, "host bits"},
      {{{}, {"not-an-address"}, "UTC"}, "not an address or CIDR"},
      {{{"two words"}, {}, "UTC"}, "not a host name"},
  };
  for (const Case& c : cases) {
    auto m = ZoneMap::Build({{{"ok"}, {}, "UTC"}, c.spec});
    ASSERT_FALSE(m.ok()) << c.want;
    EXPECT_NE(m.status().message().find("parser.timezones[1]"), std::string::npos)
        << m.status().message();
    EXPECT_NE(m.status().message().find(c.want), std::string::npos) << m.status().message();
  }
}

TEST(ZoneMapTest, FindsByNameThenPatternThenNetwork) {
  auto map = Build({{{"us-legacy", "US-*"}, {}, "America/New_York"},
                    {{}, {"10.8.0.0/16", "2001:db8::/32"}, "-05:00"},
                    {{"*.example.jp"}, {"192.0.2.7"}, "UTC"}});
  ASSERT_NE(map, nullptr);
  ZoneMap::Memo memo;
  const ZoneMap::Zone* ny = map->Find("us-legacy", "", &memo);
  ASSERT_NE(ny, nullptr);
  EXPECT_NE(ny->zone, nullptr);
  EXPECT_EQ(map->Find("US-LEGACY", "", &memo), ny);  // host names are case-insensitive
  EXPECT_EQ(map->Find("us-east-7", "", &memo), ny);
  EXPECT_EQ(map->Find("web01", "", &memo), nullptr);
  const ZoneMap::Zone* fixed = map->Find("web01", "10.8.3.4", &memo);
  ASSERT_NE(fixed, nullptr);
  EXPECT_EQ(fixed->zone, nullptr);
  EXPECT_EQ(fixed->fixed_offset_secs, -5 * 3600);
  EXPECT_EQ(map->Find("web01", "10.8.3.4", &memo), fixed);  // the memo's answer
  EXPECT_EQ(map->Find("web01", "10.9.3.4", &memo), nullptr);
  EXPECT_EQ(map->Find("", "2001:db8::5", nullptr), fixed);
  EXPECT_EQ(map->Find("us-legacy", "10.8.3.4", &memo), ny);  // the name first
  const ZoneMap::Zone* utc = map->Find("web01", "192.0.2.7", &memo);
  ASSERT_NE(utc, nullptr);
  EXPECT_EQ(utc->fixed_offset_secs, 0);
  EXPECT_EQ(map->Find("db.example.jp", "", nullptr), utc);
}

// The parser reads a mapped sender's stamps in its zone, on a DST date and
// a winter date, with and without the thread's cache; others stay in
// parser.timezone (+09:00 here, a Tokyo log host).
TEST(ZoneMapTest, ParserReadsAMappedSendersStampsInItsZone) {
  auto map = Build({{{"us-legacy"}, {}, "America/New_York"}, {{}, {"10.8.0.0/16"}, "-05:00"}});
  ASSERT_NE(map, nullptr);
  ParserOptions o;
  o.default_utc_offset_secs = 9 * 3600;
  o.zones = map.get();
  const Parser p(o);
  for (const bool cached : {false, true}) {
    SCOPED_TRACE(cached ? "with cache" : "without cache");
    TimestampCache cache;
    TimestampCache* c = cached ? &cache : nullptr;
    Message m;
    // Summer: 01:00:02 EDT is 05:00:02 UTC.
    p.Parse("<38>Jul  7 01:00:02 us-legacy sshd[1200]: Failed password for root", Utc(1783400403),
            "", c, &m);
    EXPECT_EQ(m.timestamp, Utc(1783400402));
    // Winter: 01:00:02 EST is 06:00:02 UTC (r6's line 1).
    p.Parse("<38>Dec  7 01:00:02 us-legacy sshd[1200]: Failed password for root", Utc(1796623203),
            "", c, &m);
    EXPECT_EQ(m.hostname, "us-legacy");
    EXPECT_EQ(m.timestamp, Utc(1796623202));
    // The same stamp text from a Tokyo host: +09:00 (15:00:02 JST = 06:00:02 UTC
    // would be "Dec  7 15:00:02"; this one is 16:00:02 UTC the day before).
    p.Parse("<38>Dec  7 01:00:02 web01 sshd[7733]: Accepted password", Utc(1796623203), "", c, &m);
    EXPECT_EQ(m.timestamp, Utc(1796623202 - 14 * 3600));
    // By network: a fixed -05:00 for any HOST from 10.8/16.
    p.Parse("<38>Jul  7 01:00:02 box sshd[1]: x", Utc(1783400403 + 3600), "10.8.1.1", c, &m);
    EXPECT_EQ(m.sender, "10.8.1.1");
    EXPECT_EQ(m.timestamp, Utc(1783400402 + 3600));
    // A file line without <PRI> (test-rules input) and an RFC 5424 stamp's own zone.
    p.Parse("Dec  7 01:00:02 us-legacy sshd[1200]: x", Utc(1796623203), "", c, &m);
    EXPECT_EQ(m.timestamp, Utc(1796623202));
    // An ISO stamp without an offset: the zone's offset at reception.
    p.Parse("<38>2026-12-07T01:00:02 us-legacy sshd[1200]: x", Utc(1796623203), "", c, &m);
    EXPECT_EQ(m.timestamp, Utc(1796623202));
    p.Parse("<38>2026-12-07T01:00:02-05:00 us-legacy sshd[1200]: x", Utc(1796623203), "", c, &m);
    EXPECT_EQ(m.timestamp, Utc(1796623202));
    p.Parse("<38>1 2026-12-07T01:00:02+09:00 us-legacy sshd 1 - - x", Utc(1796623203), "", c, &m);
    EXPECT_EQ(m.timestamp, Utc(1796605202 - 9 * 3600));
  }
}

// FortiOS' headerless log without tz (FortiOS before 6.2): the device's own
// zone from parser.timezones, by its devname or its sender's network; a log
// with tz keeps its own.
TEST(ZoneMapTest, FortinetLogWithoutTzReadsItsDevicesZone) {
  auto map = Build({{{"FGT-NY*"}, {}, "America/New_York"}, {{}, {"10.9.0.0/16"}, "-05:00"}});
  ASSERT_NE(map, nullptr);
  ParserOptions o;
  o.default_utc_offset_secs = 9 * 3600;
  o.zones = map.get();
  const Parser p(o);
  Message m;
  // 01:00:02 EST is 06:00:02 UTC.
  p.Parse("<185>date=2026-12-07 time=01:00:02 devname=FGT-NY01 devid=FGT60F type=event",
          Utc(1796623203), "", nullptr, &m);
  EXPECT_EQ(m.hostname, "FGT-NY01");
  EXPECT_EQ(m.timestamp, Utc(1796623202));
  p.Parse("<185>date=2026-12-07 time=01:00:02 devname=branch devid=FGT60F type=event",
          Utc(1796623203), "10.9.4.4", nullptr, &m);
  EXPECT_EQ(m.timestamp, Utc(1796623202));
  // Unmapped: the log host's +09:00.
  p.Parse("<185>date=2026-12-07 time=15:00:02 devname=FGT-HQ devid=FGT60F type=event",
          Utc(1796623203), "", nullptr, &m);
  EXPECT_EQ(m.timestamp, Utc(1796623202));
  // tz wins over the map.
  p.Parse("<185>date=2026-12-07 time=15:00:02 devname=FGT-NY01 tz=\"+0900\" type=event",
          Utc(1796623203), "", nullptr, &m);
  EXPECT_EQ(m.timestamp, Utc(1796623202));
}

}  // namespace
}  // namespace konseki::receiver
