#include "common/log.h"

#include <sys/stat.h>

#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace konseki {

bool IsJournalStream(const char* journal_stream, int fd) {
  if (journal_stream == nullptr) return false;
  uintmax_t dev = 0;
  uintmax_t ino = 0;
  int end = 0;
  if (std::sscanf(journal_stream, "%" SCNuMAX ":%" SCNuMAX "%n", &dev, &ino, &end) != 2 ||
      journal_stream[end] != '\0') {
    return false;
  }
  struct stat st = {};
  if (fstat(fd, &st) != 0) return false;
  return static_cast<uintmax_t>(st.st_dev) == dev && static_cast<uintmax_t>(st.st_ino) == ino;
}

std::string FormatLogLines(LogLevel level, bool journal, std::string_view text) {
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  const std::string tag = journal ? "<" + std::to_string(static_cast<int>(level)) + ">" : "";
  std::string out;
  out.reserve(text.size() + tag.size() + 10);
  size_t start = 0;
  while (true) {
    const size_t nl = text.find('\n', start);
    // Continuation lines of a multi-line text are indented, not re-labelled.
    out += tag;
    out += start == 0 ? "konseki: " : "  ";
    out.append(text.substr(start, nl == std::string_view::npos ? nl : nl - start));
    out += '\n';
    if (nl == std::string_view::npos) return out;
    start = nl + 1;
  }
}

void Log(LogLevel level, const char* format, ...) {
  char stack[512];
  std::string text;
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(stack, sizeof(stack), format, args);
  va_end(args);
  if (n >= 0 && static_cast<size_t>(n) < sizeof(stack)) {
    text.assign(stack, n);
  } else if (n >= 0) {
    text.resize(n + 1);
    std::vsnprintf(text.data(), text.size(), format, copy);
    text.resize(n);
  }
  va_end(copy);
  const std::string line =
      FormatLogLines(level, IsJournalStream(std::getenv("JOURNAL_STREAM"), 2), text);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace konseki
