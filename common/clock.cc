#include "common/clock.h"

#include <ctime>

namespace konseki {
namespace {

void Append2(int v, char* p) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

void AppendRfc3339Micros(TimePoint t, std::string* out) {
  int64_t ns = t.time_since_epoch().count();
  int64_t secs = ns / 1'000'000'000;
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  time_t tt = static_cast<time_t>(secs);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[32];
  int year = tm.tm_year + 1900;
  buf[0] = static_cast<char>('0' + (year / 1000) % 10);
  buf[1] = static_cast<char>('0' + (year / 100) % 10);
  buf[2] = static_cast<char>('0' + (year / 10) % 10);
  buf[3] = static_cast<char>('0' + year % 10);
  buf[4] = '-';
  Append2(tm.tm_mon + 1, buf + 5);
  buf[7] = '-';
  Append2(tm.tm_mday, buf + 8);
  buf[10] = 'T';
  Append2(tm.tm_hour, buf + 11);
  buf[13] = ':';
  Append2(tm.tm_min, buf + 14);
  buf[16] = ':';
  Append2(tm.tm_sec, buf + 17);
  buf[19] = '.';
  int64_t us = frac / 1000;
  for (int i = 25; i >= 20; --i) {
    buf[i] = static_cast<char>('0' + us % 10);
    us /= 10;
  }
  buf[26] = 'Z';
  out->append(buf, 27);
}

std::string FormatRfc3339Micros(TimePoint t) {
  std::string s;
  AppendRfc3339Micros(t, &s);
  return s;
}

std::string FormatUtcDate(TimePoint t) {
  std::string s = FormatRfc3339Micros(t);
  return s.substr(0, 10);
}

}  // namespace konseki
