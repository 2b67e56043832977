#include "receiver/local_zone.h"

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace konseki::receiver {
namespace {

int64_t ReadBig(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  if (bytes == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

// A zone name as the tz database writes them: letters, digits, '_', '-',
// '+' and '/' between parts, no ".." (the name becomes a path).
bool IsZoneName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' || name.back() == '/') return false;
  if (name.find("..") != std::string_view::npos || name.find("//") != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '+' || c == '/';
  });
}

}  // namespace

StatusOr<std::unique_ptr<LocalZone>> LocalZone::Load(std::string_view name) {
  const std::string quoted = "time zone '" + std::string(name) + "'";
  if (!IsZoneName(name)) {
    return Status::InvalidArgument(quoted + " is not a zone name (Area/City, as America/New_York)");
  }
  const char* dir = std::getenv("TZDIR");
  const std::string path =
      std::string(dir != nullptr && dir[0] != '\0' ? dir : "/usr/share/zoneinfo") + "/" +
      std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(quoted + ": unknown zone (no file " + path + ")");
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const auto bad = [&] {
    return Status::InvalidArgument(quoted + ": " + path + " is not a TZif file");
  };
  // Header: "TZif", version, 15 bytes, then six counts (RFC 8536 3.1).
  constexpr size_t kHeader = 44;
  if (data.size() < kHeader || data.compare(0, 4, "TZif") != 0) return bad();
  size_t at = 0;
  int time_bytes = 4;
  auto counts = [&](size_t h, int64_t c[6]) {
    for (int i = 0; i < 6; ++i) c[i] = ReadBig(p + h + 20 + 4 * i, 4);
  };
  int64_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  counts(0, c);
  if (data[4] >= '2') {
    // Skip the version 1 block: the 64-bit one after it covers every date.
    const size_t v1 = kHeader + c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (data.size() < v1 + kHeader || data.compare(v1, 4, "TZif") != 0) return bad();
    at = v1;
    time_bytes = 8;
    counts(at, c);
  }
  for (const int64_t n : c) {
    if (n < 0 || n > 100000) return bad();
  }
  const int64_t timecnt = c[3];
  const int64_t typecnt = c[4];
  const size_t times_at = at + kHeader;
  const size_t index_at = times_at + static_cast<size_t>(timecnt * time_bytes);
  const size_t types_at = index_at + static_cast<size_t>(timecnt);
  if (typecnt < 1 || data.size() < types_at + static_cast<size_t>(typecnt * 6)) return bad();
  auto zone = std::make_unique<LocalZone>();
  zone->named_ = true;
  zone->initial_offset_ = static_cast<int32_t>(ReadBig(p + types_at, 4));
  zone->transitions_.reserve(static_cast<size_t>(timecnt));
  zone->offsets_.reserve(static_cast<size_t>(timecnt));
  for (int64_t i = 0; i < timecnt; ++i) {
    const uint8_t type = p[index_at + i];
    if (type >= typecnt) return bad();
    const int64_t t = ReadBig(p + times_at + i * time_bytes, time_bytes);
    if (!zone->transitions_.empty() && t <= zone->transitions_.back()) return bad();
    zone->transitions_.push_back(t);
    zone->offsets_.push_back(static_cast<int32_t>(ReadBig(p + types_at + type * 6, 4)));
  }
  // The footer (v2+): a POSIX TZ rule for the times after the last
  // transition. A "slim" file (zic -b slim) stops its transitions early
  // and leaves the daylight saving of later years to that rule, which is
  // not read here: refuse it rather than read summer stamps an hour off.
  if (time_bytes == 8) {
    const size_t footer =
        types_at + static_cast<size_t>(typecnt * 6 + c[5] + c[2] * 12 + c[1] + c[0]);
    const size_t end = footer < data.size() ? data.find('\n', footer + 1) : std::string::npos;
    const bool dst_rule = end != std::string::npos &&
                          data.substr(footer, end - footer).find(',') != std::string::npos;
    constexpr int64_t k2033 = 2'000'000'000;
    if (dst_rule && (zone->transitions_.empty() || zone->transitions_.back() < k2033)) {
      return Status::InvalidArgument(quoted + ": " + path +
                                     " is a 'slim' zoneinfo file (its daylight saving rule for "
                                     "later years is not read): give a fixed offset (\"-05:00\") "
                                     "or install the 'fat' files");
    }
  }
  return zone;
}

int LocalZone::Compute(int64_t hour) const {
  const int64_t start = hour * 3600;
  if (named_) {
    const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), start);
    if (it == transitions_.begin()) return initial_offset_;
    return offsets_[static_cast<size_t>(it - transitions_.begin() - 1)];
  }
  time_t tt = static_cast<time_t>(start);
  struct tm tm;
  localtime_r(&tt, &tm);
  return static_cast<int>(tm.tm_gmtoff);
}

int LocalZone::OffsetAt(TimePoint t) const {
  const int64_t secs = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  const int64_t hour = secs >= 0 ? secs / 3600 : (secs - 3599) / 3600;
  std::atomic<uint64_t>& slot = cache_[static_cast<uint64_t>(hour) % kSlots];
  const uint64_t entry = slot.load(std::memory_order_relaxed);
  if (entry != 0 && static_cast<int64_t>(entry >> 20) == hour) {
    return static_cast<int>(static_cast<int64_t>(entry & ((1 << 20) - 1)) - kBias);
  }
  // Zone changes happen on whole UTC hours in every zone in use today, so
  // one lookup per hour is exact for all its seconds.
  const int offset = Compute(hour);
  if (hour >= 0 && hour < (int64_t{1} << 43)) {
    slot.store((static_cast<uint64_t>(hour) << 20) | static_cast<uint64_t>(offset + kBias),
               std::memory_order_relaxed);
  }
  return offset;
}

TimePoint LocalZone::FixOffset(TimePoint t, int assumed_offset_secs) const {
  const int first = OffsetAt(t);
  if (first == assumed_offset_secs) return t;
  // Same wall time under the offset in force around it.
  const TimePoint moved = t + std::chrono::seconds(assumed_offset_secs - first);
  if (OffsetAt(moved) == first) return moved;
  return t;  // a wall time in the spring gap: no instant has it
}

}  // namespace konseki::receiver
