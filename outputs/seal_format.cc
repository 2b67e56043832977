#include "outputs/seal_format.h"

#include <openssl/evp.h>

#include <charconv>
#include <cstring>
#include <vector>

#include "common/clock.h"

namespace konseki::outputs {
namespace {

template <typename T>
bool Num(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

// Splits on single spaces; at most `max` fields (the last keeps the rest).
size_t Split(std::string_view s, std::string_view* f, size_t max) {
  size_t n = 0;
  while (n < max) {
    const size_t sp = n + 1 == max ? std::string_view::npos : s.find(' ');
    f[n++] = s.substr(0, sp);
    if (sp == std::string_view::npos) break;
    s.remove_prefix(sp + 1);
  }
  return n;
}

bool ParsePathField(std::string_view p) {
  std::string_view host;
  int64_t day;
  return ParseArchivePath(p, &host, &day);
}

}  // namespace

std::string DayName(int64_t z) { return FormatUtcDate(TimePoint(std::chrono::seconds(z * 86400))); }

bool ParseDayName(std::string_view s, int64_t* day) {
  int y, m, d;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-' || !Num(s.substr(0, 4), &y) ||
      !Num(s.substr(5, 2), &m) || !Num(s.substr(8, 2), &d) || m < 1 || m > 12 || d < 1 || d > 31) {
    return false;
  }
  // days_from_civil.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  *day = era * 146097 + doe - 719468;
  return true;
}

bool ParseArchivePath(std::string_view path, std::string_view* host, int64_t* day) {
  const size_t slash = path.find('/');
  if (slash == 0 || slash == std::string_view::npos || path[0] == '.') return false;
  std::string_view file = path.substr(slash + 1);
  if (file.size() < 14 || file.substr(10, 4) != ".log") return false;
  if (file.size() != 14 && file.substr(14) != ".zst") return false;
  *host = path.substr(0, slash);
  return ParseDayName(file.substr(0, 10), day);
}

uint16_t LineHash(std::string_view line) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ line.size();
  size_t i = 0;
  for (; i + 8 <= line.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, line.data() + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
  }
  uint64_t w = 0;
  std::memcpy(&w, line.data() + i, line.size() - i);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 32;
  h *= 0xff51afd7ed558ccdull;
  return static_cast<uint16_t>(h >> 48);
}

void AppendLineHashHex(uint16_t h, std::string* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const char s[4] = {kDigits[h >> 12], kDigits[(h >> 8) & 15], kDigits[(h >> 4) & 15],
                     kDigits[h & 15]};
  out->append(s, 4);
}

bool ParseLineHashHex(std::string_view hex4, uint16_t* h) {
  uint8_t b[2];
  if (!ParseHex(hex4, b, 2)) return false;
  *h = static_cast<uint16_t>(b[0] << 8 | b[1]);
  return true;
}

bool ParseSealLine(std::string_view line, SealRecord* r) {
  std::string_view f[8];
  *r = SealRecord();
  if (line.size() < 2 || line[1] != ' ') return false;
  r->kind = line[0];
  line.remove_prefix(2);
  switch (r->kind) {
    case 'H':
      return Split(line, f, 5) == 4 && f[0] == "konseki-seal" && f[1] == "1" &&
             Num(f[2], &r->start_unix) && Num(f[3], &r->epoch_secs);
    case 'L':
      if (Split(line, f, 3) != 2 || !ParsePathField(f[0]) || f[1].size() % 4 != 0) return false;
      r->path = f[0];
      r->hashes = f[1];
      return true;
    case 'F':
    case 'U':
    case 'X':
    case 'R':
      if (Split(line, f, 6) != 5 || !ParsePathField(f[0])) return false;
      r->path = f[0];
      return Num(f[1], &r->start) && Num(f[2], &r->end) && Num(f[3], &r->lines) &&
             r->start <= r->end && ParseHex(f[4], r->digest.data(), r->digest.size());
    case 'E':
      return Split(line, f, 7) == 6 && Num(f[0], &r->epoch) && Num(f[1], &r->next) &&
             Num(f[2], &r->seq) && Num(f[3], &r->time_ns) && r->next >= r->epoch &&
             ParseHex(f[4], r->prev.data(), r->prev.size()) &&
             ParseHex(f[5], r->tag.data(), r->tag.size());
    case 'N':
      return Split(line, f, 4) == 3 && Num(f[0], &r->seq) && Num(f[1], &r->time_ns) &&
             ParseHex(f[2], r->tag.data(), r->tag.size());
    case 'M':
      if (Split(line, f, 4) != 3 || f[2].empty()) return false;
      r->why = f[2];
      return Num(f[0], &r->seq) && Num(f[1], &r->time_ns);
    default:
      return false;
  }
}

std::string FormatSealHeader(int64_t start_unix, int64_t epoch_secs) {
  return "H konseki-seal 1 " + std::to_string(start_unix) + " " + std::to_string(epoch_secs) + "\n";
}

std::string FormatRangeRecord(char kind, std::string_view path, uint64_t start, uint64_t end,
                              uint64_t lines, const SealBytes& digest) {
  std::string s(1, kind);
  s.append(" ").append(path);
  s += " " + std::to_string(start) + " " + std::to_string(end) + " " + std::to_string(lines) + " " +
       HexOf(digest) + "\n";
  return s;
}

std::string FormatLossRecord(uint64_t seq, int64_t time_ns, std::string_view why) {
  std::string s = "M " + std::to_string(seq) + " " + std::to_string(time_ns) + " ";
  s.append(why).append("\n");
  return s;
}

std::string FormatNewChainRecord(uint64_t prev_seq, int64_t time_ns, const SealBytes& prev_tag) {
  return "N " + std::to_string(prev_seq) + " " + std::to_string(time_ns) + " " + HexOf(prev_tag) +
         "\n";
}

std::string SealTagInput(const SealBytes& prev, const SealBytes& stream_digest, uint64_t epoch,
                         uint64_t next, uint64_t seq, int64_t time_ns) {
  return "konseki-seal-v1 " + HexOf(prev) + " " + HexOf(stream_digest) + " " +
         std::to_string(epoch) + " " + std::to_string(next) + " " + std::to_string(seq) + " " +
         std::to_string(time_ns);
}

std::string FormatEpochRecord(uint64_t epoch, uint64_t next, uint64_t seq, int64_t time_ns,
                              const SealBytes& prev, const SealBytes& tag) {
  return "E " + std::to_string(epoch) + " " + std::to_string(next) + " " + std::to_string(seq) +
         " " + std::to_string(time_ns) + " " + HexOf(prev) + " " + HexOf(tag) + "\n";
}

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
}

Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(ctx_); }

void Sha256Stream::Update(std::string_view data) {
  EVP_DigestUpdate(ctx_, data.data(), data.size());
}

SealBytes Sha256Stream::Finish() {
  SealBytes out{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_, out.data(), &n);
  EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
  return out;
}

}  // namespace konseki::outputs
