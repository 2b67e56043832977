// Text helpers shared by the console commands: durations, sizes, times and
// aligned tables with optional colour (only on a terminal).
#ifndef KONSEKI_APP_CONSOLE_CONSOLE_FORMAT_H_
#define KONSEKI_APP_CONSOLE_CONSOLE_FORMAT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/terminal_safe.h"

namespace konseki::app::console {

// TerminalSafe, AppendTerminalSafe, TerminalSafeJson: common/terminal_safe.h.
using konseki::AppendTerminalSafe;
using konseki::TerminalSafe;
using konseki::TerminalSafeJson;

// "45s", "12m", "3h 05m", "2d 04h"; "-" for a negative value.
std::string FormatDuration(double secs);
// "512 B", "1.5 KiB", "20.0 GiB".
std::string FormatBytes(double bytes);
// Unix seconds as local time "2026-12-01 22:31:05"; "never" for 0.
std::string FormatLocalTime(double unix_secs);
// "1h", "30m", "2d", "90s", "1w" (or a plain number of seconds) -> seconds.
StatusOr<int64_t> ParseDurationSecs(std::string_view text);
// Start of a period given as --since (`alerts`, `report`, `search`): a
// duration back from `now` ("1h", "2d", as ParseDurationSecs), "today" or
// "yesterday" (local midnight), or a date and time "2026-12-01",
// "2026-12-01T12:00", "2026-12-01 12:00:30", "2026-12-01T12:00:30.250000"
// in local time ("Z" or "+09:00" at the end for another zone). Unix
// seconds; an error naming the accepted forms for anything else, for dates
// that do not exist (2026-02-30) and for times after `now`.
StatusOr<double> ParseSince(std::string_view text, double now);
// The same forms, a time after `now` included (`search --until`).
StatusOr<double> ParsePointInTime(std::string_view text, double now);
// RFC 3339 "2026-11-23T08:08:42.123456Z" or with "+09:00" -> Unix seconds.
StatusOr<double> ParseRfc3339(std::string_view text);

// ANSI colours, empty strings when disabled.
struct Palette {
  explicit Palette(bool enabled) : on(enabled) {}
  bool on;
  std::string Wrap(std::string_view text, std::string_view code) const;
  std::string Red(std::string_view t) const { return Wrap(t, "31"); }
  std::string BoldRed(std::string_view t) const { return Wrap(t, "1;31"); }
  std::string Yellow(std::string_view t) const { return Wrap(t, "33"); }
  std::string Green(std::string_view t) const { return Wrap(t, "32"); }
  std::string Dim(std::string_view t) const { return Wrap(t, "2"); }
  std::string Bold(std::string_view t) const { return Wrap(t, "1"); }
  // Colour of a severity name: critical bold red, high red, medium yellow.
  std::string Severity(std::string_view name) const;
};
// True when fd is a terminal and NO_COLOR is not set.
bool ColourWanted(int fd);

// Columns padded to their widest cell (ANSI sequences not counted); the last
// column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t rows() const { return rows_.size() - 1; }
  void Print(std::ostream& out, const Palette& p) const;

  // For a table too long to hold (the alert file): widen `widths` by every
  // row in a first pass, then print each row with FormatRow in a second.
  static void Widen(const std::vector<std::string>& row, std::vector<size_t>* widths);
  // One line (no line end); the header row in bold.
  static std::string FormatRow(const std::vector<std::string>& row,
                               const std::vector<size_t>& widths, bool header, const Palette& p);

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace konseki::app::console

#endif  // KONSEKI_APP_CONSOLE_CONSOLE_FORMAT_H_
