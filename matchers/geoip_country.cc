#include "matchers/geoip_country.h"

#include <GeoIP.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace konseki::matchers {

namespace {

// Maps one database (GEOIP_MMAP_CACHE); checks it is a country edition of
// the address family it is read for.
StatusOr<GeoIP*> OpenOne(std::string_view path, bool v6) {
  const std::string p(path);
  // libGeoIP says only "Error Opening file" on stderr: say which, and what
  // to install.
  if (access(p.c_str(), R_OK) != 0) {
    const int err = errno;
    return Status::NotFound("GeoIP country database " + p + " cannot be read (" +
                            std::strerror(err) +
                            ") for the |country transform: install the geoip-database package");
  }
  // Mapped, not read into the heap (GEOIP_MEMORY_CACHE): a lookup reads the
  // same bytes through the same gi->cache pointer either way, but the copy
  // made the 10 MB of both files resident for good (a quarter of the idle
  // daemon's RSS), while a mapping holds only the tree pages lookups have
  // touched, clean and shared with the page cache. Debian's package
  // replaces the files by rename, so a mapped old inode stays valid.
  GeoIP* gi = GeoIP_open(p.c_str(), GEOIP_MMAP_CACHE | GEOIP_SILENCE);
  if (gi == nullptr) {
    return Status::InvalidArgument("GeoIP country database " + p +
                                   " is not a GeoIP database (reinstall geoip-database)");
  }
  const int edition = GeoIP_database_edition(gi);
  const bool ok =
      v6 ? edition == GEOIP_COUNTRY_EDITION_V6 || edition == GEOIP_LARGE_COUNTRY_EDITION_V6
         : edition == GEOIP_COUNTRY_EDITION || edition == GEOIP_LARGE_COUNTRY_EDITION;
  if (!ok) {
    GeoIP_delete(gi);
    return Status::InvalidArgument("GeoIP database " + p + " is edition " +
                                   std::to_string(edition) + ", not the " + (v6 ? "IPv6" : "IPv4") +
                                   " country edition the |country transform reads "
                                   "(geoip-database's GeoIP" +
                                   (v6 ? "v6" : "") + ".dat)");
  }
  return gi;
}

std::string_view CodeOf(int id) {
  if (id <= 0) return GeoIpCountry::kNone;
  const char* code = GeoIP_code_by_id(id);
  if (code == nullptr || code[0] == '\0') return GeoIpCountry::kNone;
  return code;
}

}  // namespace

StatusOr<std::unique_ptr<GeoIpCountry>> GeoIpCountry::Load(std::string_view v4_path,
                                                           std::string_view v6_path) {
  auto v4 = OpenOne(v4_path, false);
  if (!v4.ok()) return v4.status();
  auto v6 = OpenOne(v6_path, true);
  if (!v6.ok()) {
    GeoIP_delete(*v4);
    return v6.status();
  }
  return std::unique_ptr<GeoIpCountry>(new GeoIpCountry(*v4, *v6));
}

GeoIpCountry::~GeoIpCountry() {
  GeoIP_delete(v4_);
  GeoIP_delete(v6_);
}

std::string_view GeoIpCountry::CountryOf(std::string_view address) const {
  std::string_view a = address;
  if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  if (const size_t zone = a.find('%'); zone != std::string_view::npos) a = a.substr(0, zone);
  // The longest IPv6 text form (an IPv4-mapped one) is 45 bytes.
  char text[INET6_ADDRSTRLEN + 1];
  // A NUL would end the C string inet_pton reads before the value does.
  if (a.empty() || a.size() >= sizeof(text) || a.find('\0') != std::string_view::npos) {
    return kNone;
  }
  std::memcpy(text, a.data(), a.size());
  text[a.size()] = '\0';
  GeoIPLookup gl{};
  if (a.find(':') == std::string_view::npos) {
    in_addr v4{};
    if (inet_pton(AF_INET, text, &v4) != 1) return kNone;
    return CodeOf(GeoIP_id_by_ipnum_gl(v4_, ntohl(v4.s_addr), &gl));
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text, &v6) != 1) return kNone;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    uint32_t ipnum = 0;
    for (int i = 12; i < 16; ++i) ipnum = (ipnum << 8) | v6.s6_addr[i];
    return CodeOf(GeoIP_id_by_ipnum_gl(v4_, ipnum, &gl));
  }
  return CodeOf(GeoIP_id_by_ipnum_v6_gl(v6_, v6, &gl));
}

}  // namespace konseki::matchers
