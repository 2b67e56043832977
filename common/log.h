// Daemon log lines on stderr, with a priority the systemd journal understands.
//
// Under systemd stderr is usually connected to the journal, which stores
// every line at the unit's default priority unless the line starts with an
// sd-daemon(3) prefix: "<3>" error, "<4>" warning, "<6>" info. With the
// prefix, `journalctl -p warning -u konseki` shows konseki's problems only.
// On a terminal, in a file or a pipe the prefix would be noise, so it is
// written only when stderr is the journal's stream.
//
// Detection as systemd.exec(5) documents it: systemd sets JOURNAL_STREAM to
// "<device>:<inode>" (decimal) of the stream it connected to stderr; a
// process checks that fd 2 is still that file (it may have been redirected
// by a wrapper, or JOURNAL_STREAM inherited by a child whose stderr is a
// terminal).
//
// Thread-safe: no state; each call formats the whole text and writes it with
// one fwrite on the unbuffered stderr, so lines of concurrent threads do not
// interleave within a line. The environment is read at every call (log
// lines are rare: start-up, reloads, archive trouble).
#ifndef KONSEKI_COMMON_LOG_H_
#define KONSEKI_COMMON_LOG_H_

#include <string>
#include <string_view>

namespace konseki {

// The values are the sd-daemon(3) / syslog(3) priorities.
enum class LogLevel { kError = 3, kWarning = 4, kInfo = 6 };

// True when `journal_stream` (the JOURNAL_STREAM value, may be null) names
// the device and inode of `fd`.
bool IsJournalStream(const char* journal_stream, int fd);

// "konseki: <text>\n", each line of a multi-line text on its own line with
// the same "<N>" prefix when `journal` is true.
std::string FormatLogLines(LogLevel level, bool journal, std::string_view text);

// printf-style text of one event; writes FormatLogLines(level,
// IsJournalStream(getenv("JOURNAL_STREAM"), 2), text) to stderr.
void Log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace konseki

#endif  // KONSEKI_COMMON_LOG_H_
