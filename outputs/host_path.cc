#include "outputs/host_path.h"

#include <fnmatch.h>

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

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The folder's "%xx" escapes turned back into their bytes (the case fold
// and a cut name's "~hash" stay).
std::string HostOfFolder(std::string_view folder) {
  std::string host;
  for (size_t i = 0; i < folder.size(); ++i) {
    if (folder[i] == '%' && i + 2 < folder.size()) {
      const int hi = HexValue(folder[i + 1]), lo = HexValue(folder[i + 2]);
      if (hi >= 0 && lo >= 0) {
        host.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    host.push_back(folder[i]);
  }
  return host;
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

bool HostGlobMatches(const std::string& glob, const std::string& folder) {
  if (fnmatch(glob.c_str(), folder.c_str(), 0) == 0) return true;
  if (fnmatch(glob.c_str(), HostOfFolder(folder).c_str(), FNM_CASEFOLD) == 0) return true;
  return glob.find_first_of("*?[\\") == std::string::npos && SanitizedHost(glob) == folder;
}

}  // namespace konseki::outputs
