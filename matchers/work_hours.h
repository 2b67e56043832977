// The local time of an event and the site's working hours, as correlations
// read them: the pseudo-fields `hour` ("00".."23"), `weekday` ("mon".."sun")
// and `work_hours` ("yes" / "no") of a hit (matchers/correlator.h
// FieldValue). The guides' night-time signs (a domain admin's first login
// from a new network at 01:34, a first sudo at 03:00, a large upload at
// 03:14) need the hour; what is night is the site's (a plant with night
// shifts, a team across zones), hence correlation.working_hours.
//
//   WorkHours hours;                                  // Mon-Fri 07:00-21:00
//   ParseShift("22:00-06:00", &shift);                // config (app/config.cc)
//   LocalCalendar cal(hours, /*utc_offset_secs=*/0, &local_zone);
//   LocalTime lt = cal.At(event_time);                // per hit: no allocation
//
// The local time is the event's instant in parser.timezone: "local" reads the
// zone's offset through receiver::LocalZone (cached per UTC hour: a relaxed
// atomic load, no localtime_r per hit), a fixed zone ("UTC", "+09:00") adds
// its offset. An RFC 3164 stamp (no zone) thus reads back as the wall time it
// was written with; an RFC 5424 stamp with its own offset reads in the log
// host's zone.
#ifndef KONSEKI_MATCHERS_WORK_HOURS_H_
#define KONSEKI_MATCHERS_WORK_HOURS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "receiver/local_zone.h"

namespace konseki::matchers {

// One shift: [start, end) in minutes of the local day. end <= start crosses
// midnight: it ends on the next day ("22:00-06:00"); start == end is a whole
// day from start on. A shift belongs to the day it starts on: Friday's
// "22:00-06:00" covers Saturday 03:00 when Friday is a working day.
struct Shift {
  uint16_t start_min = 7 * 60;
  uint16_t end_min = 21 * 60;
};

// correlation.working_hours. The default (Monday to Friday, 07:00 to 21:00)
// leaves out the admin who starts early or stays late; what falls outside is
// the night and the weekend. A site that works around the clock gives
// days: every day and hours: ["00:00-24:00"] (work_hours is then always "yes").
struct WorkHours {
  // Working days, bit d for weekday d (0 = Sunday ... 6 = Saturday).
  uint8_t days = 0b0111110;
  std::vector<Shift> shifts = {Shift{}};
  // Local dates that are no working days (public holidays, the company's
  // days off), as days since 1970-01-01; sorted, unique.
  std::vector<int32_t> holidays;
};

// "HH:MM-HH:MM" (24:00 as an end). False on anything else.
bool ParseShift(std::string_view text, Shift* out);
// "mon".."sun" or "monday".."sunday" (any case) -> 0 (Sunday) .. 6. False
// otherwise.
bool ParseWeekday(std::string_view text, int* out);
// "YYYY-MM-DD" (a real date) -> days since 1970-01-01. False otherwise.
bool ParseLocalDate(std::string_view text, int32_t* out);

// An event's local time; hour < 0: not computed (no correlation reads it).
struct LocalTime {
  int8_t hour = -1;    // 0..23
  int8_t minute = 0;   // 0..59
  int8_t weekday = 0;  // 0 = Sunday .. 6
  bool work = false;   // within WorkHours
};

// The pseudo-fields' text: "00".."23", "sun".."sat", "yes"/"no"; empty for
// a LocalTime not computed. Views of static storage.
std::string_view HourText(const LocalTime& t);
std::string_view WeekdayText(const LocalTime& t);
std::string_view WorkHoursText(const LocalTime& t);
// "sat 01:34", for an alert (allocates; alerts only).
std::string LocalTimeText(const LocalTime& t);

// Immutable once built; thread-safe (LocalZone's cache is atomic). The zone,
// when given, is not owned and must outlive the calendar.
class LocalCalendar {
 public:
  LocalCalendar() = default;
  LocalCalendar(WorkHours hours, int utc_offset_secs, const receiver::LocalZone* zone)
      : hours_(std::move(hours)), offset_secs_(utc_offset_secs), zone_(zone) {}

  // No allocation, no localtime_r (the zone caches its offset per UTC hour).
  LocalTime At(TimePoint t) const;
  // Whether minute `minute_of_day` of local day `day` (days since the epoch)
  // is within the working hours.
  bool InWorkHours(int64_t day, int minute_of_day) const;

 private:
  bool WorkingDay(int64_t day) const;

  WorkHours hours_;
  int offset_secs_ = 0;
  const receiver::LocalZone* zone_ = nullptr;
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_WORK_HOURS_H_
