// The host folder the daemon archived a line in, read back from the line.
//
// An archive line is "<received> <sender> <raw>" (outputs/archive.h); the
// daemon put it in the folder of its host: the raw message's header host
// name, else the sender (app/router.cc, Message::host()), through
// SanitizeHost. The archive holds the raw bytes with control bytes escaped
// ("#ooo"), the daemon parsed them unescaped: both readings are tried, so
// an escape can make a line of another host pass (never the reverse).
// Used by `konseki search --host` for the overflow folders and by `konseki
// verify` for the lines no seal vouches for.
//
// Thread-safe: the parser is const; the buffers are thread_local.
#ifndef KONSEKI_APP_ARCHIVE_LINE_HOST_H_
#define KONSEKI_APP_ARCHIVE_LINE_HOST_H_

#include <string>
#include <string_view>

#include "receiver/parser.h"

namespace konseki::app {

// raw with the archive's "#ooo" escapes of control bytes (outputs/archive.h)
// turned back into the bytes; false if it holds none.
bool UnescapeControls(std::string_view raw, std::string* out);

// Whether `accept(folder)` holds for the folder of the line read either way
// (see above). A line too short to hold a stamp, a sender and a raw
// message: false, accept not called. *first (may be null): the folder of
// the first reading.
template <typename Accept>
bool ArchiveLineHostIs(const receiver::Parser& parser, std::string_view line, Accept&& accept,
                       std::string* first = nullptr);

// Details for the template.
bool SplitArchiveLine(std::string_view line, std::string_view* sender, std::string_view* raw);
void FolderOfRaw(const receiver::Parser& parser, std::string_view sender, std::string_view raw,
                 std::string* folder);

template <typename Accept>
bool ArchiveLineHostIs(const receiver::Parser& parser, std::string_view line, Accept&& accept,
                       std::string* first) {
  std::string_view sender, raw;
  if (!SplitArchiveLine(line, &sender, &raw)) return false;
  thread_local std::string folder, unescaped;
  FolderOfRaw(parser, sender, raw, &folder);
  if (first != nullptr) *first = folder;
  if (accept(folder)) return true;
  if (!UnescapeControls(raw, &unescaped)) return false;
  FolderOfRaw(parser, sender, unescaped, &folder);
  return accept(folder);
}

}  // namespace konseki::app

#endif  // KONSEKI_APP_ARCHIVE_LINE_HOST_H_
