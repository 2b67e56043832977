#include "outputs/host_path.h"

#include <cstdint>

#include "common/host_shard.h"

namespace konseki::outputs {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kEmptyHost = "%none";
// '~' + 16 hex digits.
constexpr size_t kHashSuffixLen = 17;

bool IsKept(unsigned char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  if (c == '-' || c == '_' || c == ':') return true;
  return c == '.' && !first;
}

}  // namespace

void SanitizeHost(std::string_view host, std::string* out) {
  out->clear();
  if (host.empty()) {
    out->assign(kEmptyHost);
    return;
  }
  bool first = true;
  bool truncated = false;
  for (unsigned char c : host) {
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + ('a' - 'A'));
    bool kept = IsKept(c, first);
    if (out->size() + (kept ? 1 : 3) > kMaxHostDirLen) {
      truncated = true;
      break;
    }
    if (kept) {
      out->push_back(static_cast<char>(c));
    } else {
      char enc[3] = {'%', kHex[c >> 4], kHex[c & 15]};
      out->append(enc, 3);
    }
    first = false;
  }
  if (!truncated) return;

  // Too long: cut at a boundary that leaves room for the hash suffix.
  size_t keep = kMaxHostDirLen - kHashSuffixLen;
  if (out->size() > keep) {
    // Never cut inside "%xx": a '%' is always the start of a triple.
    size_t cut = keep;
    if (cut >= 1 && (*out)[cut - 1] == '%')
      cut -= 1;
    else if (cut >= 2 && (*out)[cut - 2] == '%')
      cut -= 2;
    out->resize(cut);
  }
  uint64_t h = HostHash(host);  // FNV-1a of the case-folded bytes
  out->push_back('~');
  for (int shift = 60; shift >= 0; shift -= 4) out->push_back(kHex[(h >> shift) & 15]);
}

std::string SanitizedHost(std::string_view host) {
  std::string out;
  SanitizeHost(host, &out);
  return out;
}

}  // namespace konseki::outputs
