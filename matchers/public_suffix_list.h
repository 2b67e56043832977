// The registered domain of a DNS name by the Public Suffix List, for the
// correlations' `FIELD|domain` transform: a bot resolving a fresh random
// name under its own domain every minute (a8f3.evil.example.co.jp,
// k29d.evil.example.co.jp, ...) calls one destination, example.co.jp.
//
//   auto psl = PublicSuffixList::Load();      // at compile time, once
//   std::string scratch;                      // one per thread, reused
//   psl->RegisteredDomain("a8f3.evil.example.co.jp", &scratch)  // "example.co.jp"
//
// The list is libpsl's (rockdaboot/libpsl, Debian's libpsl5): psl_latest()
// reads the system's list (the `publicsuffix` package,
// /usr/share/publicsuffix/public_suffix_list.dafsa, updated with the
// distribution) when it is newer than the copy built into libpsl, else the
// built-in one; so a host without the package still has a list.
//
// The PRIVATE section counts (libpsl's psl_registrable_domain takes both
// sections): its suffixes are registries that hand names to customers who
// do not know each other (cloudfront.net, s3.amazonaws.com,
// *.compute-1.amazonaws.com, duckdns.org, github.io). With them, one
// CloudFront distribution or one dynamic-DNS name is one destination; without
// them, every CDN object or every duckdns.org customer a client reaches
// would be one key, a steady stream of unrelated lookups.
//
// Thread-safety: immutable after Load; RegisteredDomain is const and may be
// called from any number of threads, each with its own scratch.
#ifndef KONSEKI_MATCHERS_PUBLIC_SUFFIX_LIST_H_
#define KONSEKI_MATCHERS_PUBLIC_SUFFIX_LIST_H_

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

struct psl_ctx_st;

namespace konseki::matchers {

class PublicSuffixList {
 public:
  // The system's list or libpsl's built-in one (see above); an error only
  // when libpsl has neither.
  static StatusOr<std::unique_ptr<PublicSuffixList>> Load();

  ~PublicSuffixList();
  // Not copyable.
  PublicSuffixList(const PublicSuffixList&) = delete;
  PublicSuffixList& operator=(const PublicSuffixList&) = delete;

  // The registered domain of `name` (one trailing dot ignored, ASCII lower
  // case): the public suffix plus one label. Returned as it is (not
  // lowered) when there is none to take:
  //  - an IP literal (IPv4, IPv6, or any name whose last label is numeric:
  //    no top-level domain is),
  //  - a name without a public suffix (`localhost`, `srv.corp`, `nas.lan`),
  //  - a name that is itself a public suffix (`co.jp`,
  //    `ec2-192-0-2-1.compute-1.amazonaws.com` under `*.compute-1...`),
  //  - a name under `arpa` (reverse lookups: the labels of
  //    4.3.2.1.in-addr.arpa are an address's bytes, and "1.in-addr.arpa"
  //    would merge a /8),
  //  - an empty name or one longer than 253 bytes.
  // The view points into `name` or into *scratch (valid until the next call
  // with the same scratch). Allocates only while *scratch grows.
  // Cost: one lookup per label of the name's last kMaxSuffixLabels + 1
  // (~0.1 us each, bench/correlator_bench.cc), however many labels a
  // sender puts in front.
  std::string_view RegisteredDomain(std::string_view name, std::string* scratch) const;

  // No rule of the list has more labels (5 in the 2026 list: s3.dualstack.
  // ap-northeast-1.amazonaws.com; tests/matchers/public_suffix_list_test.cc
  // checks the installed list), so a registered domain has at most one
  // more, and only that many of a name's last labels are looked up: libpsl
  // tries every suffix of the name, 127 of a 253-byte tunnel name.
  static constexpr int kMaxSuffixLabels = 8;

 private:
  explicit PublicSuffixList(psl_ctx_st* ctx) : ctx_(ctx) {}
  psl_ctx_st* ctx_;  // owned; psl_free'd unless it is libpsl's built-in
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_PUBLIC_SUFFIX_LIST_H_
