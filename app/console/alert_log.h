// Reading the JSON-lines alert file (alerts.file) for `konseki alerts` and
// `konseki report`: parse, filter, and follow it across log rotation.
#ifndef KONSEKI_APP_CONSOLE_ALERT_LOG_H_
#define KONSEKI_APP_CONSOLE_ALERT_LOG_H_

#include <sys/types.h>

#include <cstdint>
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

// The alerts of `path.1` (the last rotation, if present and not compressed)
// then `path`, in file order, that pass `filter`. *malformed counts the lines
// that could not be parsed (they are skipped). NotFound if neither exists.
StatusOr<std::vector<AlertRecord>> ReadAlerts(const std::string& path, const AlertFilter& filter,
                                              size_t* malformed);

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
