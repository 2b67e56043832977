// The country of an IP address, for the correlations' `FIELD|country`
// transform: a login from a country the account never logged in from (the
// guides' "a login from abroad at night") is news that an ISP's /16 is not.
//
//   auto geo = GeoIpCountry::Load();          // at compile time, once
//   geo->CountryOf("133.242.0.1")             // "JP"
//   geo->CountryOf("10.0.0.5")                // "--"
//
// The databases are MaxMind's legacy GeoIP Country format as Debian ships
// them (package geoip-database: /usr/share/GeoIP/GeoIP.dat for IPv4,
// GeoIPv6.dat for IPv6, updated with the distribution), read through the
// legacy libGeoIP (libgeoip1, libgeoip-dev). Both files are mapped
// read-only (GEOIP_MMAP_CACHE, ~10 MB of address space; resident are only
// the pages lookups have touched, clean file pages): a lookup makes no
// system call and keeps no state in the handle (the `_gl` calls), so it is
// thread-safe and allocates nothing.
//
// Thread-safety: immutable after Load; CountryOf is const and may be called
// from any number of threads.
#ifndef KONSEKI_MATCHERS_GEOIP_COUNTRY_H_
#define KONSEKI_MATCHERS_GEOIP_COUNTRY_H_

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

struct GeoIPTag;

namespace konseki::matchers {

class GeoIpCountry {
 public:
  // Debian's paths (package geoip-database).
  static constexpr const char* kDefaultV4Path = "/usr/share/GeoIP/GeoIP.dat";
  static constexpr const char* kDefaultV6Path = "/usr/share/GeoIP/GeoIPv6.dat";

  // Opens both country databases. NotFound naming the file and the package
  // (geoip-database) when one cannot be read; InvalidArgument when a file
  // is not a country database of its address family (a City or ASN file).
  static StatusOr<std::unique_ptr<GeoIpCountry>> Load(std::string_view v4_path = kDefaultV4Path,
                                                      std::string_view v6_path = kDefaultV6Path);

  ~GeoIpCountry();
  // Not copyable.
  GeoIpCountry(const GeoIpCountry&) = delete;
  GeoIpCountry& operator=(const GeoIpCountry&) = delete;

  // The ISO 3166-1 alpha-2 code of the address's country in upper case
  // ("JP", "US"; also the database's own "EU", "AP", "A1" for ranges it
  // places only on a continent or names an anonymous proxy), or "--" when
  // there is none to give:
  //  - an address the database does not place: private (10/8, 172.16/12,
  //    192.168/16, fc00::/7), loopback, link-local, CGNAT (100.64/10),
  //    documentation and other reserved ranges, unallocated space;
  //  - a value that is no IP address (a host name sshd logged with UseDNS,
  //    "[local]", a port suffix, empty).
  // An address may be bracketed ("[2001:db8::1]") and carry a zone
  // ("fe80::1%eth0"); an IPv4-mapped IPv6 address (::ffff:203.0.113.5, as
  // a dual-stack sshd logs an IPv4 client) is looked up as IPv4.
  // The view is static (libGeoIP's table). Allocates nothing.
  std::string_view CountryOf(std::string_view address) const;

  // What CountryOf returns for an address without a country.
  static constexpr std::string_view kNone = "--";

 private:
  GeoIpCountry(GeoIPTag* v4, GeoIPTag* v6) : v4_(v4), v6_(v6) {}
  GeoIPTag* v4_;  // owned (GeoIP_delete)
  GeoIPTag* v6_;  // owned (GeoIP_delete)
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_GEOIP_COUNTRY_H_
