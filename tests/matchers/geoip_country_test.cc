// GeoIpCountry: countries of well-known addresses in Debian's geoip-database
// (looked up with geoiplookup/geoiplookup6 1.6.12, database of 2025-07),
// "--" for what has no country, and the loader's errors.
#include "matchers/geoip_country.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdint>
#include <string>

namespace konseki::matchers {
namespace {

class GeoIpCountryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = GeoIpCountry::Load();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    geo_ = std::move(*db);
  }
  std::string Country(std::string_view address) { return std::string(geo_->CountryOf(address)); }
  std::unique_ptr<GeoIpCountry> geo_;
};

TEST_F(GeoIpCountryTest, WellKnownAddressesHaveTheirCountry) {
  // SAKURA internet (133.242/16), IIJ (210.130/16), APNIC's JP block
  // 1.0.16/20; Google's public resolver; a Tor exit relay's range in DE.
  EXPECT_EQ(Country("133.242.0.1"), "JP");
  EXPECT_EQ(Country("210.130.1.1"), "JP");
  EXPECT_EQ(Country("1.0.16.1"), "JP");
  EXPECT_EQ(Country("8.8.8.8"), "US");
  EXPECT_EQ(Country("185.220.101.47"), "DE");
  // NTT's and KDDI's IPv6 blocks; Google's resolver over IPv6.
  EXPECT_EQ(Country("2001:218::1"), "JP");
  EXPECT_EQ(Country("2001:240::1"), "JP");
  EXPECT_EQ(Country("2001:4860:4860::8888"), "US");
}

TEST_F(GeoIpCountryTest, MappedBracketedAndZonedFormsAreTheirAddress) {
  // A dual-stack sshd logs an IPv4 client as ::ffff:a.b.c.d.
  EXPECT_EQ(Country("::ffff:133.242.0.1"), "JP");
  EXPECT_EQ(Country("::FFFF:8.8.8.8"), "US");
  EXPECT_EQ(Country("[2001:4860:4860::8888]"), "US");
  EXPECT_EQ(Country("2001:218::1%eth0"), "JP");
}

TEST_F(GeoIpCountryTest, AddressesWithoutACountryAndNonAddressesAreNone) {
  for (const char* a : {"10.0.0.5", "172.16.4.1", "192.168.1.1", "127.0.0.1", "169.254.1.1",
                        "100.64.0.1", "203.0.113.5", "198.51.100.7", "::1", "fe80::1%eth0",
                        "fd00::5", "2001:db8::1", "::ffff:10.0.0.5", "0.0.0.0"}) {
    EXPECT_EQ(Country(a), "--") << a;
  }
  // sshd with UseDNS yes, login(1)'s tty, a port, garbage a sender chose.
  for (const char* a :
       {"", "host.example.com", "[local]", "133.242.0.1:22", "133.242.0.1 ", "1.2.3", "256.1.1.1",
        "::ffff:", "[]", "x:y", "2001:0db8:0000:0000:0000:0000:0000:0001:0000:0000:0000:0000"}) {
    EXPECT_EQ(Country(a), "--") << a;
  }
  EXPECT_EQ(Country(std::string(1000, '1')), "--");
  EXPECT_EQ(Country(std::string_view("8.8.8.8\0junk", 12)), "--");
}

// The two files (~10 MB) are mapped, not copied into the heap, where they
// were a quarter of the idle daemon's RSS.
TEST(GeoIpCountryLoadTest, TheDatabasesAreMappedNotCopiedIntoTheHeap) {
  const auto heap = [] {
    const struct mallinfo2 m = mallinfo2();
    return static_cast<int64_t>(m.uordblks + m.hblkhd);
  };
  const int64_t before = heap();
  auto db = GeoIpCountry::Load();
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  const int64_t grew = heap() - before;
  EXPECT_LT(grew, int64_t{1} << 20) << "Load took " << grew << " bytes of heap";
  EXPECT_EQ((*db)->CountryOf("8.8.8.8"), "US");
}

TEST(GeoIpCountryLoadTest, AMissingDatabaseNamesTheFileAndThePackage) {
  auto db = GeoIpCountry::Load("/nonexistent/GeoIP.dat", GeoIpCountry::kDefaultV6Path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kNotFound);
  EXPECT_NE(db.status().message().find("/nonexistent/GeoIP.dat"), std::string::npos)
      << db.status().ToString();
  EXPECT_NE(db.status().message().find("geoip-database"), std::string::npos);
  auto v6 = GeoIpCountry::Load(GeoIpCountry::kDefaultV4Path, "/nonexistent/GeoIPv6.dat");
  ASSERT_FALSE(v6.ok());
  EXPECT_NE(v6.status().message().find("/nonexistent/GeoIPv6.dat"), std::string::npos);
}

TEST(GeoIpCountryLoadTest, ADatabaseOfTheOtherFamilyIsRefused) {
  auto swapped = GeoIpCountry::Load(GeoIpCountry::kDefaultV6Path, GeoIpCountry::kDefaultV4Path);
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(swapped.status().message().find("country edition"), std::string::npos)
      << swapped.status().ToString();
}

TEST(GeoIpCountryLoadTest, AFileThatIsNoDatabaseIsRefused) {
  auto db = GeoIpCountry::Load("/etc/hostname", GeoIpCountry::kDefaultV6Path);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("/etc/hostname"), std::string::npos)
      << db.status().ToString();
}

}  // namespace
}  // namespace konseki::matchers
