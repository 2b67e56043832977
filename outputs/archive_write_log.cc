#include "outputs/archive_write_log.h"

namespace konseki::outputs {

void ArchiveWriteLog::Record(std::string_view path, uint64_t start, uint64_t end) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ranges_.find(path);
  if (it == ranges_.end()) it = ranges_.emplace(std::string(path), std::vector<Range>()).first;
  std::vector<Range>& v = it->second;
  if (!v.empty() && v.back().end == start) {
    v.back().end = end;
  } else {
    v.push_back(Range{start, end});
  }
}

void ArchiveWriteLog::TakeInto(Ranges* out) {
  Ranges taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    taken.swap(ranges_);
  }
  for (auto& [path, v] : taken) {
    std::vector<Range>& dst = (*out)[path];
    dst.insert(dst.end(), v.begin(), v.end());
  }
}

}  // namespace konseki::outputs
