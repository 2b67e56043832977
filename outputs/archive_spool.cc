#include "outputs/archive_spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string_view>

namespace konseki::outputs {
namespace {

constexpr std::string_view kMagic = "konseki-spool 1\n";
constexpr std::string_view kPrefix = "worker-";
constexpr std::string_view kSuffix = ".spool";

// A folder name a spool may name: one path component, as SanitizeHost makes.
bool ValidFolder(std::string_view f) {
  if (f.empty() || f.size() > 255 || f[0] == '.') return false;
  return std::all_of(f.begin(), f.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == ':' ||
           c == '.' || c == '%' || c == '~';
  });
}

Status WriteAllTo(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t w = write(fd, data.data(), data.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Status::FromErrno("spool: write " + path, w < 0 ? errno : EIO);
    data.remove_prefix(static_cast<size_t>(w));
  }
  return Status::Ok();
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

}  // namespace

std::string SpoolPath(const std::string& spool_dir, size_t worker) {
  return spool_dir + "/" + std::string(kPrefix) + std::to_string(worker) + std::string(kSuffix);
}

std::vector<std::string> SpoolFilesFor(const std::string& spool_dir, size_t worker,
                                       size_t workers) {
  std::vector<std::string> files;
  DIR* d = opendir(spool_dir.c_str());
  if (d == nullptr) return files;
  while (const dirent* e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name.size() <= kPrefix.size() + kSuffix.size() ||
        name.substr(0, kPrefix.size()) != kPrefix ||
        name.substr(name.size() - kSuffix.size()) != kSuffix) {
      continue;
    }
    size_t j = 0;
    if (!ParseNumber(name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size()),
                     &j)) {
      continue;
    }
    if (workers > 0 && j % workers == worker) files.push_back(spool_dir + "/" + std::string(name));
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

Status WriteSpool(const std::string& path, const std::vector<SpoolRecord>& records) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  for (size_t i = 1; i <= dir.size(); ++i) {  // mkdir -p, 0750
    if (i < dir.size() && dir[i] != '/') continue;
    const std::string prefix = dir.substr(0, i);
    if (mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST) {
      return Status::FromErrno("spool: cannot create " + prefix, errno);
    }
  }
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Status::FromErrno("spool: cannot create " + tmp, errno);
  Status st = WriteAllTo(fd, kMagic, tmp);
  for (const SpoolRecord& r : records) {
    if (!st.ok()) break;
    const std::string head = r.folder + " " + std::to_string(r.day) + " " +
                             std::to_string(r.messages) + " " + (r.continues ? "1" : "0") + " " +
                             std::to_string(r.data.size()) + "\n";
    st = WriteAllTo(fd, head, tmp);
    if (st.ok()) st = WriteAllTo(fd, r.data, tmp);
  }
  if (st.ok() && fsync(fd) != 0) st = Status::FromErrno("spool: fsync " + tmp, errno);
  close(fd);
  if (st.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    st = Status::FromErrno("spool: rename to " + path, errno);
  }
  if (!st.ok()) {
    unlink(tmp.c_str());
    return st;
  }
  if (const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return Status::Ok();
}

Status ReadSpool(const std::string& path, std::vector<SpoolRecord>* out,
                 std::vector<DamagedFile>* damaged) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno("spool: cannot open " + path, errno);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IoError("spool: cannot read " + path);
  std::vector<SpoolRecord> records;
  // Where the damage starts, why, and the lines of a cut record kept.
  size_t bad_at = std::string::npos;
  std::string why;
  uint64_t cut_messages_lost = 0;
  bool cut_count_known = false;
  size_t pos = 0;
  if (text.compare(0, kMagic.size(), kMagic) != 0) {
    bad_at = 0;
    why = text.empty() ? "empty file" : "not a konseki spool";
  } else {
    pos = kMagic.size();
  }
  while (bad_at == std::string::npos && pos < text.size()) {
    const size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) {
      bad_at = pos;
      why = "record header without newline";
      break;
    }
    std::string_view head(text.data() + pos, eol - pos);
    std::string_view f[5];
    bool fields = true;
    for (int i = 0; i < 5 && fields; ++i) {
      const size_t sp = i < 4 ? head.find(' ') : head.size();
      if (sp == std::string_view::npos) {
        fields = false;
        break;
      }
      f[i] = head.substr(0, sp);
      head.remove_prefix(std::min(head.size(), sp + 1));
    }
    SpoolRecord r;
    size_t size = 0;
    if (!fields) {
      why = "record header needs 5 fields";
    } else if (!ValidFolder(f[0])) {
      why = "bad folder name";
    } else if (!ParseNumber(f[1], &r.day) || !ParseNumber(f[2], &r.messages) ||
               (f[3] != "0" && f[3] != "1") || !ParseNumber(f[4], &size)) {
      why = "bad record header";
    }
    if (!why.empty()) {
      bad_at = pos;
      break;
    }
    r.folder = std::string(f[0]);
    r.continues = f[3] == "1";
    if (size > text.size() - eol - 1) {
      bad_at = pos;
      why = "record longer than the file";
      // A torn last record: its complete lines are as good as any.
      std::string_view part(text.data() + eol + 1, text.size() - eol - 1);
      const size_t last_nl = part.rfind('\n');
      if (damaged != nullptr && last_nl != std::string_view::npos) {
        r.data = std::string(part.substr(0, last_nl + 1));
        const auto lines = static_cast<uint64_t>(std::count(r.data.begin(), r.data.end(), '\n'));
        // A record that continues a line starts with that line's end: not
        // a message of its own.
        const uint64_t kept = r.continues && lines > 0 ? lines - 1 : lines;
        cut_count_known = r.messages >= kept;
        cut_messages_lost = cut_count_known ? r.messages - kept : 0;
        r.messages = kept;
        pos = eol + 1 + r.data.size();
        bad_at = pos;
        records.push_back(std::move(r));
      } else {
        cut_count_known = true;
        cut_messages_lost = r.messages;
      }
      break;
    }
    r.data = text.substr(eol + 1, size);
    records.push_back(std::move(r));
    pos = eol + 1 + size;
  }
  if (bad_at != std::string::npos) {
    if (damaged == nullptr) {
      return Status::InvalidArgument("spool file " + path + " is damaged at byte " +
                                     std::to_string(bad_at) + ": " + why +
                                     " (move it away to start without it)");
    }
    DamagedFile d;
    d.path = path;
    d.what = "damaged at byte " + std::to_string(bad_at) + " of " + std::to_string(text.size()) +
             ": " + why;
    d.lost = "the last " + std::to_string(text.size() - bad_at) + " bytes";
    if (cut_count_known) {
      d.lost += " (" + std::to_string(cut_messages_lost) + " messages)";
    }
    uint64_t kept = 0;
    for (const SpoolRecord& r : records) kept += r.messages;
    d.lost += "; the " + std::to_string(kept) + " messages before it are archived";
    damaged->push_back(std::move(d));
  }
  for (SpoolRecord& r : records) out->push_back(std::move(r));
  return Status::Ok();
}

}  // namespace konseki::outputs
