#include "matchers/work_hours.h"

#include <gtest/gtest.h>

#include "common/utc_time.h"

namespace konseki::matchers {
namespace {

// 2026-12-04 is a Friday.
LocalTime AtUtc(const LocalCalendar& cal, int d, int h, int mi) {
  return cal.At(UtcTime(2026, 12, d, h, mi, 0));
}

TEST(WorkHoursTest, ShiftsWeekdaysAndDatesParse) {
  Shift s;
  EXPECT_TRUE(ParseShift("07:00-21:00", &s));
  EXPECT_EQ(s.start_min, 420);
  EXPECT_EQ(s.end_min, 1260);
  EXPECT_TRUE(ParseShift("00:00-24:00", &s));
  EXPECT_EQ(s.end_min, 1440);
  EXPECT_TRUE(ParseShift("22:00-06:00", &s));
  for (const char* bad : {"", "7-21", "07:00", "24:00-06:00", "07:00-24:01", "07:60-08:00",
                          "07:00-21:00x", "07:00--21:00"}) {
    EXPECT_FALSE(ParseShift(bad, &s)) << bad;
  }
  int d = -1;
  EXPECT_TRUE(ParseWeekday("Sun", &d));
  EXPECT_EQ(d, 0);
  EXPECT_TRUE(ParseWeekday("saturday", &d));
  EXPECT_EQ(d, 6);
  EXPECT_FALSE(ParseWeekday("mo", &d));
  int32_t day = 0;
  EXPECT_TRUE(ParseLocalDate("1970-01-02", &day));
  EXPECT_EQ(day, 1);
  EXPECT_TRUE(ParseLocalDate("2028-02-29", &day));
  EXPECT_FALSE(ParseLocalDate("2026-02-29", &day));
  EXPECT_FALSE(ParseLocalDate("2026-13-01", &day));
  EXPECT_FALSE(ParseLocalDate("26-12-01", &day));
}

TEST(WorkHoursTest, TheDefaultIsMondayToFridayFromSevenToNine) {
  const LocalCalendar cal(WorkHours{}, 0, nullptr);
  LocalTime t = AtUtc(cal, 4, 10, 5);  // Friday
  EXPECT_EQ(HourText(t), "10");
  EXPECT_EQ(WeekdayText(t), "fri");
  EXPECT_EQ(WorkHoursText(t), "yes");
  EXPECT_EQ(LocalTimeText(t), "fri 10:05");
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 4, 6, 59)), "no");
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 4, 7, 0)), "yes");
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 4, 20, 59)), "yes");
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 4, 21, 0)), "no");
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 5, 10, 0)), "no");  // Saturday
  EXPECT_EQ(WeekdayText(AtUtc(cal, 6, 10, 0)), "sun");
  // Not computed: every pseudo-field is empty.
  EXPECT_EQ(HourText(LocalTime{}), "");
  EXPECT_EQ(WorkHoursText(LocalTime{}), "");
}

TEST(WorkHoursTest, TheOffsetMovesTheDayAndHour) {
  const LocalCalendar tokyo(WorkHours{}, 9 * 3600, nullptr);
  LocalTime t = AtUtc(tokyo, 4, 16, 34);  // Friday 16:34 UTC = Saturday 01:34 JST
  EXPECT_EQ(LocalTimeText(t), "sat 01:34");
  EXPECT_EQ(WorkHoursText(t), "no");
  const LocalCalendar ny(WorkHours{}, -5 * 3600, nullptr);
  EXPECT_EQ(LocalTimeText(AtUtc(ny, 5, 3, 0)), "fri 22:00");
}

// A shift across midnight belongs to the day it starts on; a holiday
// starts none.
TEST(WorkHoursTest, ANightShiftBelongsToTheDayItStartsOn) {
  WorkHours w;
  w.shifts = {Shift{22 * 60, 6 * 60}};
  int32_t holiday = 0;
  ASSERT_TRUE(ParseLocalDate("2026-12-10", &holiday));  // a Thursday
  w.holidays = {holiday};
  const LocalCalendar cal(w, 0, nullptr);
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 4, 23, 0)), "yes");  // Friday night
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 5, 3, 0)), "yes");   // its Saturday morning
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 5, 23, 0)), "no");   // Saturday night: no shift
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 7, 3, 0)), "no");    // Monday 03:00: Sunday's
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 7, 12, 0)), "no");   // a night shop's noon
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 10, 23, 0)), "no");  // the holiday's night
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 11, 3, 0)), "no");
  EXPECT_EQ(WorkHoursText(AtUtc(cal, 10, 3, 0)), "yes");  // Wednesday's shift
  // Around the clock.
  w.days = 0b1111111;
  w.shifts = {Shift{0, 24 * 60}};
  w.holidays.clear();
  const LocalCalendar always(w, 0, nullptr);
  for (int h = 0; h < 24; ++h) EXPECT_EQ(WorkHoursText(AtUtc(always, 6, h, 30)), "yes") << h;
}

}  // namespace
}  // namespace konseki::matchers
