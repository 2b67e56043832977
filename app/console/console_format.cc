#include "app/console/console_format.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "common/utc_time.h"

namespace konseki::app::console {
namespace {

size_t VisibleWidth(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b') {
      while (i < s.size() && s[i] != 'm') ++i;
      continue;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++n;  // count UTF-8 lead bytes
  }
  return n;
}

bool ParseInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Local midnight `days_back` days before the day of `now`.
double LocalMidnight(double now, int days_back) {
  time_t t = static_cast<time_t>(now);
  struct tm tm;
  localtime_r(&t, &tm);
  tm.tm_mday -= days_back;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  tm.tm_isdst = -1;
  return static_cast<double>(mktime(&tm));
}

// Takes a trailing "Z" or "+HH:MM"/"-HH:MM" off s into *offset_secs.
bool TakeZone(std::string_view* s, bool* has_zone, int* offset_secs) {
  *has_zone = false;
  *offset_secs = 0;
  if (!s->empty() && (s->back() == 'Z' || s->back() == 'z')) {
    s->remove_suffix(1);
    *has_zone = true;
    return true;
  }
  if (s->size() < 16) return true;
  const std::string_view z = s->substr(s->size() - 6);
  if ((z[0] != '+' && z[0] != '-') || z[3] != ':') return true;
  int h, m;
  if (!ParseInt(z.substr(1, 2), &h) || !ParseInt(z.substr(4, 2), &m) || h > 23 || m > 59) {
    return false;
  }
  *offset_secs = (z[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
  *has_zone = true;
  s->remove_suffix(6);
  return true;
}

// "YYYY-MM-DD[(T| )HH:MM[:SS[.ffffff]]][Z|+HH:MM]": local time unless a zone
// is given (an archive line's stamp, copied, means that instant). Rejects
// dates that do not exist (2026-02-30) instead of rolling them over.
StatusOr<double> ParseDateTime(std::string_view s) {
  const Status bad =
      Status::InvalidArgument("'" + std::string(s) + "' is not a valid date or time");
  bool has_zone;
  int offset;
  if (!TakeZone(&s, &has_zone, &offset)) return bad;
  double fraction = 0;
  if (s.size() > 20 && s.size() <= 26 && s[19] == '.') {
    int digits = 0;
    if (!ParseInt(s.substr(20), &digits)) return bad;
    fraction = digits / std::pow(10.0, static_cast<double>(s.size() - 20));
    s.remove_suffix(s.size() - 19);
  }
  int v[6] = {0, 0, 0, 0, 0, 0};
  if ((s.size() != 10 && s.size() != 16 && s.size() != 19) || s[4] != '-' || s[7] != '-' ||
      !ParseInt(s.substr(0, 4), &v[0]) || !ParseInt(s.substr(5, 2), &v[1]) ||
      !ParseInt(s.substr(8, 2), &v[2])) {
    return bad;
  }
  if (s.size() >= 16 && ((s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
                         !ParseInt(s.substr(11, 2), &v[3]) || !ParseInt(s.substr(14, 2), &v[4]))) {
    return bad;
  }
  if (s.size() == 19 && (s[16] != ':' || !ParseInt(s.substr(17, 2), &v[5]))) return bad;
  if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[3] > 23 || v[4] > 59 || v[5] > 59) return bad;
  struct tm tm = {};
  tm.tm_year = v[0] - 1900;
  tm.tm_mon = v[1] - 1;
  tm.tm_mday = v[2];
  tm.tm_hour = v[3];
  tm.tm_min = v[4];
  tm.tm_sec = v[5];
  tm.tm_isdst = -1;
  const time_t t = has_zone ? timegm(&tm) - offset : mktime(&tm);
  // timegm/mktime roll 2026-02-30 over into March: such a day does not exist.
  if (tm.tm_mday != v[2] || tm.tm_mon != v[1] - 1) return bad;
  return static_cast<double>(t) + fraction;
}

}  // namespace

std::string FormatDuration(double secs) {
  if (!(secs >= 0)) return "-";
  const int64_t s = static_cast<int64_t>(secs);
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(s / 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd %02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

std::string FormatBytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  size_t u = 0;
  while (bytes >= 1024 && u + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[u]);
  return buf;
}

std::string FormatLocalTime(double unix_secs) {
  if (unix_secs <= 0) return "never";
  time_t t = static_cast<time_t>(unix_secs);
  struct tm tm;
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

StatusOr<int64_t> ParseDurationSecs(std::string_view text) {
  std::string_view num = text;
  int64_t unit = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 's':
        unit = 1;
        num.remove_suffix(1);
        break;
      case 'm':
        unit = 60;
        num.remove_suffix(1);
        break;
      case 'h':
        unit = 3600;
        num.remove_suffix(1);
        break;
      case 'd':
        unit = 86400;
        num.remove_suffix(1);
        break;
      case 'w':
        unit = 7 * 86400;
        num.remove_suffix(1);
        break;
      default:
        break;
    }
  }
  int v = 0;
  if (!ParseInt(num, &v)) {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a duration (examples: 90s, 30m, 1h, 2d, 1w)");
  }
  return static_cast<int64_t>(v) * unit;
}

StatusOr<double> ParseSince(std::string_view text, double now) {
  auto t = ParsePointInTime(text, now);
  if (t.ok() && *t > now) {
    return Status::InvalidArgument("'" + std::string(text) + "' (" + FormatLocalTime(*t) +
                                   ") is in the future");
  }
  return t;
}

StatusOr<double> ParsePointInTime(std::string_view text, double now) {
  if (text == "today") return LocalMidnight(now, 0);
  if (text == "yesterday") return LocalMidnight(now, 1);
  if (text.size() >= 10 && text[4] == '-') {
    auto t = ParseDateTime(text);
    if (!t.ok()) {
      return Status::InvalidArgument(t.status().message() +
                                     " (expected a date and time like 2026-12-01, "
                                     "2026-12-01T12:00 or 2026-12-01T12:00:30; local time "
                                     "unless it ends in Z or +HH:MM)");
    }
    return *t;
  }
  auto secs = ParseDurationSecs(text);
  if (!secs.ok()) {
    return Status::InvalidArgument(
        "'" + std::string(text) +
        "' is neither a duration (90s, 30m, 1h, 2d, 1w) nor a start time (2026-12-01, "
        "2026-12-01T12:00, today, yesterday)");
  }
  return now - static_cast<double>(*secs);
}

StatusOr<double> ParseRfc3339(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':' || !ParseInt(s.substr(0, 4), &y) ||
      !ParseInt(s.substr(5, 2), &mo) || !ParseInt(s.substr(8, 2), &d) ||
      !ParseInt(s.substr(11, 2), &h) || !ParseInt(s.substr(14, 2), &mi) ||
      !ParseInt(s.substr(17, 2), &sec)) {
    return Status::InvalidArgument("not an RFC 3339 time: " + std::string(s));
  }
  size_t i = 19;
  double frac = 0;
  if (i < s.size() && s[i] == '.') {
    double scale = 0.1;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10) {
      frac += (s[i] - '0') * scale;
    }
  }
  int offset = 0;
  std::string_view zone = s.substr(i);
  int zh, zm;
  if (zone == "Z" || zone == "z") {
    offset = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':' &&
             ParseInt(zone.substr(1, 2), &zh) && ParseInt(zone.substr(4, 2), &zm)) {
    offset = (zone[0] == '-' ? -1 : 1) * (zh * 3600 + zm * 60);
  } else {
    return Status::InvalidArgument("not an RFC 3339 time zone: " + std::string(s));
  }
  return static_cast<double>(UtcUnixSeconds(y, mo, d, h, mi, sec) - offset) + frac;
}

std::string Palette::Wrap(std::string_view text, std::string_view code) const {
  if (!on) return std::string(text);
  return "\x1b[" + std::string(code) + "m" + std::string(text) + "\x1b[0m";
}

std::string Palette::Severity(std::string_view name) const {
  if (name == "critical") return BoldRed(name);
  if (name == "high") return Red(name);
  if (name == "medium") return Yellow(name);
  if (name == "info") return Dim(name);
  return std::string(name);
}

bool ColourWanted(int fd) {
  const char* no = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  return isatty(fd) && (no == nullptr || *no == '\0') &&
         !(term != nullptr && std::string_view(term) == "dumb");
}

void Table::Widen(const std::vector<std::string>& row, std::vector<size_t>* widths) {
  if (widths->size() < row.size()) widths->resize(row.size(), 0);
  for (size_t c = 0; c < row.size(); ++c) {
    (*widths)[c] = std::max((*widths)[c], VisibleWidth(row[c]));
  }
}

std::string Table::FormatRow(const std::vector<std::string>& row, const std::vector<size_t>& widths,
                             bool header, const Palette& p) {
  std::string line;
  for (size_t c = 0; c < row.size(); ++c) {
    const std::string& cell = row[c];
    line += header ? p.Bold(cell) : cell;
    if (c + 1 < row.size()) line.append(widths[c] - VisibleWidth(cell) + 2, ' ');
  }
  return line;
}

void Table::Print(std::ostream& out, const Palette& p) const {
  std::vector<size_t> width;
  for (const auto& row : rows_) Widen(row, &width);
  for (size_t r = 0; r < rows_.size(); ++r) out << FormatRow(rows_[r], width, r == 0, p) << '\n';
}

}  // namespace konseki::app::console
