#include "matchers/public_suffix_list.h"

#include <libpsl.h>

namespace konseki::matchers {

namespace {

constexpr size_t kMaxNameBytes = 253;

}  // namespace

StatusOr<std::unique_ptr<PublicSuffixList>> PublicSuffixList::Load() {
  // NULL: the distribution's file (psl_dist_filename()) if newer than the
  // built-in list, else the built-in list.
  psl_ctx_t* ctx = psl_latest(nullptr);
  if (ctx == nullptr) {
    const char* dist = psl_dist_filename();
    return Status::NotFound(
        "no Public Suffix List for the |domain transform: libpsl has no "
        "built-in list and " +
        std::string(dist != nullptr ? dist : "/usr/share/publicsuffix") +
        " cannot be read (install the publicsuffix package)");
  }
  return std::unique_ptr<PublicSuffixList>(new PublicSuffixList(ctx));
}

// psl_free leaves libpsl's static built-in context alone.
PublicSuffixList::~PublicSuffixList() { psl_free(ctx_); }

std::string_view PublicSuffixList::RegisteredDomain(std::string_view name,
                                                    std::string* scratch) const {
  std::string_view n = name;
  if (!n.empty() && n.back() == '.') n.remove_suffix(1);
  if (n.empty() || n.size() > kMaxNameBytes) return name;
  const size_t dot = n.rfind('.');
  const std::string_view tld = dot == std::string_view::npos ? n : n.substr(dot + 1);
  if (tld.empty()) return name;
  bool numeric = true;
  for (const char ch : tld) {
    // ':' or brackets: an IPv6 literal.
    if (ch == ':' || ch == '[' || ch == ']') return name;
    numeric = numeric && ch >= '0' && ch <= '9';
  }
  if (numeric) return name;
  // An empty label (".com", "a..com") is no name; NUL would cut the C
  // string libpsl reads.
  if (n.front() == '.') return name;
  scratch->clear();
  char prev = 0;
  for (const char ch : n) {
    if (ch == '\0' || (ch == '.' && prev == '.')) return name;
    scratch->push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch);
    prev = ch;
  }
  const std::string_view lowered_tld =
      std::string_view(*scratch).substr(scratch->size() - tld.size());
  if (lowered_tld == "arpa") return name;
  // The top-level domain must be on the list itself: libpsl's implicit `*`
  // rule would make any last label a suffix (srv.corp -> srv.corp, but
  // a.srv.corp -> srv.corp).
  scratch->push_back('\0');
  const char* tld_c = scratch->data() + (scratch->size() - 1 - tld.size());
  if (!psl_is_public_suffix2(ctx_, tld_c, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE)) return name;
  // The last kMaxSuffixLabels + 1 labels hold the longest public suffix
  // and the label before it.
  size_t start = scratch->size() - 1;
  for (int labels = 0; start > 0; --start) {
    if ((*scratch)[start - 1] == '.' && ++labels == kMaxSuffixLabels + 1) break;
  }
  const char* reg = psl_registrable_domain(ctx_, scratch->data() + start);
  if (reg == nullptr) return name;
  const size_t from = static_cast<size_t>(reg - scratch->data());
  return std::string_view(*scratch).substr(from, scratch->size() - 1 - from);
}

}  // namespace konseki::matchers
