#include "app/archive_line_host.h"

#include "common/message.h"
#include "outputs/host_path.h"

namespace konseki::app {
namespace {

constexpr size_t kTimeLen = 27;  // "2025-12-01T10:00:00.000000Z"

}  // namespace

bool UnescapeControls(std::string_view raw, std::string* out) {
  out->clear();
  bool any = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '#' && i + 3 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '1' &&
        raw[i + 2] >= '0' && raw[i + 2] <= '7' && raw[i + 3] >= '0' && raw[i + 3] <= '7') {
      const int c = (raw[i + 1] - '0') * 64 + (raw[i + 2] - '0') * 8 + (raw[i + 3] - '0');
      if (c < 0x20 || c == 0x7f) {
        out->push_back(static_cast<char>(c));
        i += 3;
        any = true;
        continue;
      }
    }
    out->push_back(raw[i]);
  }
  return any;
}

bool SplitArchiveLine(std::string_view line, std::string_view* sender, std::string_view* raw) {
  if (line.size() < kTimeLen + 2) return false;
  std::string_view rest = line.substr(kTimeLen + 1);
  const size_t sp = rest.find(' ');
  if (sp == std::string_view::npos) return false;
  *sender = rest.substr(0, sp);
  if (*sender == "-") *sender = {};
  *raw = rest.substr(sp + 1);
  return true;
}

void FolderOfRaw(const receiver::Parser& parser, std::string_view sender, std::string_view raw,
                 std::string* folder) {
  Message msg;
  parser.Parse(raw, TimePoint(), &msg);
  outputs::SanitizeHost(msg.hostname.empty() ? sender : msg.hostname, folder);
}

}  // namespace konseki::app
