// Reading the JSON-lines alert file (alerts.file) for `konseki alerts`,
// `report` and `status`: parse, filter, stream (bounded memory, whatever
// the number of alerts) and follow it across log rotation.
#ifndef KONSEKI_APP_CONSOLE_ALERT_LOG_H_
#define KONSEKI_APP_CONSOLE_ALERT_LOG_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "app/json_value.h"
#include "common/alert.h"
#include "common/status.h"

namespace konseki::app::console {

// One alert line. `json` is the whole object (fields, message, ...).
struct AlertRecord {
  double time = 0;  // Unix seconds of "received" (when konseki saw it)
  Severity severity = Severity::kInfo;
  std::string sign;
  std::string host;
  std::string title;
  JsonValue json;
};

// Parses one line; false (and *out unspecified) for a malformed one.
bool ParseAlertLine(std::string_view line, AlertRecord* out);

struct AlertFilter {
  double since = 0;  // keep alerts received at or after (Unix seconds)
  std::string sign;  // exact, or a prefix "ssh.*"; empty = all
  std::string host;  // exact, case-insensitive; empty = all
  Severity min_severity = Severity::kInfo;
  bool Matches(const AlertRecord& a) const;
};

// The alert file and the files logrotate left beside it (`path.1`,
// `path.2.gz`, ...: plain or gzip, as dist/konseki.logrotate's
// delaycompress leaves them), as far back as one window needs. Memory does
// not grow with the number of alerts: ForEach hands over one alert at a
// time. Not thread-safe.
//
//   auto log = AlertLog::Open(path, since);
//   (*log)->ForEach(filter, [&](const AlertRecord& a, std::string_view line) { ... });
class AlertLog {
 public:
  // Opens `path` and the rotated files before it that can hold alerts
  // received at or after `since`: path.N (or path.N.gz) is read when the
  // first alert of the file after it is not older than `since`. NotFound
  // when none of them exists; an error naming the file when one exists but
  // cannot be read.
  static StatusOr<std::unique_ptr<AlertLog>> Open(const std::string& path, double since);
  ~AlertLog();
  AlertLog(const AlertLog&) = delete;
  AlertLog& operator=(const AlertLog&) = delete;

  // Calls `fn` with each alert that passes `filter` and its line (no line
  // end), oldest file first, in file order. Every call reads the same lines:
  // the current file only up to its size at Open (what the daemon appends
  // later is for --follow), so two passes (widths, then rows) agree.
  // `stop` (optional, set from another thread) ends the pass early.
  using Visitor = std::function<void(const AlertRecord& alert, std::string_view line)>;
  void ForEach(const AlertFilter& filter, const Visitor& fn,
               const std::atomic<bool>* stop = nullptr);

  // Lines the last ForEach could not parse (skipped).
  size_t malformed() const { return malformed_; }
  // What the last ForEach could not read, one note per file, oldest file
  // first: "skipped N malformed lines in FILE", "FILE is damaged (zlib:
  // ...): its alerts after that point are not read" (a truncated or
  // corrupt rotation ends where zlib stops understanding it).
  const std::vector<std::string>& notes() const { return notes_; }
  // The files read, oldest first.
  std::vector<std::string> files() const;
  // When the files do not reach back to `since`: the oldest file read is a
  // rotated one (logrotate removed those before it, or nothing older was
  // written) and its first alert is younger than `since`. That alert's
  // receive time, else 0.
  double reaches_back_only_to() const { return reaches_back_only_to_; }

 private:
  class File;
  AlertLog() = default;

  std::vector<std::unique_ptr<File>> files_;  // oldest first
  size_t malformed_ = 0;
  std::vector<std::string> notes_;
  double reaches_back_only_to_ = 0;
};

// Follows a file like `tail -F`: returns the complete lines appended since
// the last call; when the file was rotated (another inode at the path) or
// truncated, it finishes the old file and starts the new one from its
// beginning. A missing file is waited for. Not thread-safe.
class FileFollower {
 public:
  // Starts at the current end of `path` (what exists now is not returned).
  explicit FileFollower(std::string path);
  ~FileFollower();
  FileFollower(const FileFollower&) = delete;
  FileFollower& operator=(const FileFollower&) = delete;
  std::vector<std::string> Poll();

 private:
  void Open(bool at_end);
  void ReadAvailable(std::vector<std::string>* lines);

  std::string path_;
  int fd_ = -1;
  ino_t inode_ = 0;
  dev_t dev_ = 0;
  off_t offset_ = 0;
  std::string partial_;  // bytes after the last newline
};

}  // namespace konseki::app::console

#endif  // KONSEKI_APP_CONSOLE_ALERT_LOG_H_
