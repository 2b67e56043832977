#include "matchers/work_hours.h"

#include <algorithm>
#include <array>
#include <chrono>

#include "common/ascii.h"

namespace konseki::matchers {

namespace {

constexpr std::array<std::string_view, 24> kHours = {
    "00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
    "12", "13", "14", "15", "16", "17", "18", "19", "20", "21", "22", "23"};
constexpr std::array<std::string_view, 7> kDays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
constexpr std::array<std::string_view, 7> kDayNames = {"sunday",   "monday", "tuesday", "wednesday",
                                                       "thursday", "friday", "saturday"};

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// 1970-01-01 was a Thursday.
int WeekdayOf(int64_t day) { return static_cast<int>(((day % 7) + 7 + 4) % 7); }

bool TwoDigits(std::string_view s, int* out) {
  if (s.size() != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') return false;
  *out = (s[0] - '0') * 10 + (s[1] - '0');
  return true;
}

bool ReadClock(std::string_view s, bool end, int* minutes) {
  int h = 0, m = 0;
  if (s.size() != 5 || s[2] != ':' || !TwoDigits(s.substr(0, 2), &h) ||
      !TwoDigits(s.substr(3, 2), &m) || m > 59) {
    return false;
  }
  if (h > 24 || (h == 24 && (!end || m != 0))) return false;
  *minutes = h * 60 + m;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

bool ParseShift(std::string_view text, Shift* out) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) return false;
  int start = 0, end = 0;
  if (!ReadClock(text.substr(0, dash), false, &start) ||
      !ReadClock(text.substr(dash + 1), true, &end)) {
    return false;
  }
  out->start_min = static_cast<uint16_t>(start);
  out->end_min = static_cast<uint16_t>(end);
  return true;
}

bool ParseWeekday(std::string_view text, int* out) {
  const std::string lower = AsciiLower(text);
  for (int d = 0; d < 7; ++d) {
    if (lower == kDays[static_cast<size_t>(d)] || lower == kDayNames[static_cast<size_t>(d)]) {
      *out = d;
      return true;
    }
  }
  return false;
}

bool ParseLocalDate(std::string_view text, int32_t* out) {
  int c = 0, y2 = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !TwoDigits(text.substr(0, 2), &c) ||
      !TwoDigits(text.substr(2, 2), &y2) || !TwoDigits(text.substr(5, 2), &m) ||
      !TwoDigits(text.substr(8, 2), &d)) {
    return false;
  }
  const int y = c * 100 + y2;
  static constexpr int kMonthDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > kMonthDays[m - 1]) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (m == 2 && d == 29 && !leap) return false;
  *out = static_cast<int32_t>(DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)));
  return true;
}

std::string_view HourText(const LocalTime& t) {
  return t.hour < 0 ? std::string_view() : kHours[static_cast<size_t>(t.hour)];
}

std::string_view WeekdayText(const LocalTime& t) {
  return t.hour < 0 ? std::string_view() : kDays[static_cast<size_t>(t.weekday)];
}

std::string_view WorkHoursText(const LocalTime& t) {
  if (t.hour < 0) return {};
  return t.work ? "yes" : "no";
}

std::string LocalTimeText(const LocalTime& t) {
  if (t.hour < 0) return {};
  std::string s(WeekdayText(t));
  s += ' ';
  s += HourText(t);
  s += ':';
  s += static_cast<char>('0' + t.minute / 10);
  s += static_cast<char>('0' + t.minute % 10);
  return s;
}

bool LocalCalendar::WorkingDay(int64_t day) const {
  if ((hours_.days & (1u << WeekdayOf(day))) == 0) return false;
  return !std::binary_search(hours_.holidays.begin(), hours_.holidays.end(), day);
}

bool LocalCalendar::InWorkHours(int64_t day, int minute_of_day) const {
  for (const Shift& s : hours_.shifts) {
    if (s.start_min < s.end_min) {
      if (minute_of_day >= s.start_min && minute_of_day < s.end_min && WorkingDay(day)) return true;
      continue;
    }
    // Across midnight (or a whole day from start_min): the part from the
    // start belongs to today's shift, the part before the end to
    // yesterday's.
    if (minute_of_day >= s.start_min && WorkingDay(day)) return true;
    if (minute_of_day < s.end_min && WorkingDay(day - 1)) return true;
    if (s.start_min == s.end_min && minute_of_day < s.start_min && WorkingDay(day - 1)) return true;
  }
  return false;
}

LocalTime LocalCalendar::At(TimePoint t) const {
  int64_t secs = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  secs += zone_ != nullptr ? zone_->OffsetAt(t) : offset_secs_;
  const int64_t day = FloorDiv(secs, 86400);
  const int minute_of_day = static_cast<int>((secs - day * 86400) / 60);
  LocalTime lt;
  lt.hour = static_cast<int8_t>(minute_of_day / 60);
  lt.minute = static_cast<int8_t>(minute_of_day % 60);
  lt.weekday = static_cast<int8_t>(WeekdayOf(day));
  lt.work = InWorkHours(day, minute_of_day);
  return lt;
}

}  // namespace konseki::matchers
