#include "outputs/host_path.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace konseki::outputs {
namespace {

// Properties every folder name must have, whatever the input.
void ExpectSafe(const std::string& name) {
  ASSERT_FALSE(name.empty());
  EXPECT_LE(name.size(), kMaxHostDirLen);
  EXPECT_NE(name, ".");
  EXPECT_NE(name, "..");
  EXPECT_NE(name[0], '.');
  for (unsigned char c : name) {
    EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                c == '_' || c == ':' || c == '%' || c == '~')
        << "byte " << int(c) << " in " << name;
  }
}

TEST(HostPathTest, OrdinaryNamesAndAddressesAreKept) {
  EXPECT_EQ(SanitizedHost("web01.example.com"), "web01.example.com");
  EXPECT_EQ(SanitizedHost("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(SanitizedHost("2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(SanitizedHost("my_host-1"), "my_host-1");
}

TEST(HostPathTest, UppercaseIsFolded) {
  EXPECT_EQ(SanitizedHost("WEB01.Example.COM"), "web01.example.com");
}

TEST(HostPathTest, TraversalCannotEscape) {
  EXPECT_EQ(SanitizedHost("../etc"), "%2e.%2fetc");
  EXPECT_EQ(SanitizedHost(".."), "%2e.");
  EXPECT_EQ(SanitizedHost("."), "%2e");
  EXPECT_EQ(SanitizedHost("/"), "%2f");
  EXPECT_EQ(SanitizedHost("a/b"), "a%2fb");
  EXPECT_EQ(SanitizedHost(".hidden"), "%2ehidden");
  for (const char* h : {"../etc", "..", ".", "/", "a/b", "/etc/passwd", "..\\..", "~root"}) {
    ExpectSafe(SanitizedHost(h));
  }
}

TEST(HostPathTest, NulControlAndHighBytesAreEncoded) {
  EXPECT_EQ(SanitizedHost(std::string("a\0b", 3)), "a%00b");
  EXPECT_EQ(SanitizedHost("a\nb\tc\x7f"), "a%0ab%09c%7f");
  EXPECT_EQ(SanitizedHost("\xe3\x83\x9b"), "%e3%83%9b");  // "ホ"
  EXPECT_EQ(SanitizedHost("50%"), "50%25");
  EXPECT_EQ(SanitizedHost("a b"), "a%20b");
}

TEST(HostPathTest, EmptyHasItsOwnName) {
  EXPECT_EQ(SanitizedHost(""), "%none");
  ExpectSafe(SanitizedHost(""));
}

TEST(HostPathTest, OverlongNamesAreCutWithAHash) {
  std::string a(1000, 'a');
  std::string b = a;
  b[999] = 'b';
  std::string sa = SanitizedHost(a);
  std::string sb = SanitizedHost(b);
  ExpectSafe(sa);
  ExpectSafe(sb);
  EXPECT_EQ(sa.size(), kMaxHostDirLen);
  EXPECT_NE(sa, sb);
  EXPECT_EQ(sa.substr(0, 100), std::string(100, 'a'));
  EXPECT_EQ(SanitizedHost(a), sa);  // deterministic
  // Case-folded like the shard hash: same folder for the same host.
  std::string upper(1000, 'A');
  EXPECT_EQ(SanitizedHost(upper), sa);

  // Cut never splits "%xx".
  for (size_t n = 60; n < 80; ++n) {
    std::string s = std::string(n, '/') + std::string(200, 'x');
    std::string out = SanitizedHost(s);
    ExpectSafe(out);
    size_t tilde = out.rfind('~');
    ASSERT_NE(tilde, std::string::npos);
    std::string body = out.substr(0, tilde);
    for (size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '%') {
        ASSERT_LE(i + 3, body.size()) << out;
        i += 2;
      }
    }
  }
}

TEST(HostPathTest, ExactlyMaxLengthIsNotHashed) {
  std::string h(kMaxHostDirLen, 'x');
  EXPECT_EQ(SanitizedHost(h), h);
  EXPECT_NE(SanitizedHost(h + "x"), h + "x");
}

TEST(HostPathTest, DistinctHostsGetDistinctFolders) {
  std::set<std::string> seen;
  const char* hosts[] = {"a/b", "a_b",   "a%2fb", "a.b",   "a:b", "a%b",
                         ".ab", "%2eab", "",      "%none", "a b", "a\tb"};
  for (const char* h : hosts) {
    EXPECT_TRUE(seen.insert(SanitizedHost(h)).second) << h;
  }
}

TEST(HostPathTest, ArbitraryBytesAlwaysSafe) {
  uint32_t x = 12345;
  for (int i = 0; i < 2000; ++i) {
    std::string h;
    size_t len = i % 300;
    for (size_t j = 0; j < len; ++j) {
      x = x * 1103515245u + 12345u;
      h.push_back(static_cast<char>(x >> 16));
    }
    ExpectSafe(SanitizedHost(h));
  }
}

// `konseki search --host` takes a host as alerts and `konseki hosts` name it
// as well as its folder's name; a glob over either.
TEST(HostPathTest, AGlobNamesAFolderByItsHostNameOrByTheFolderName) {
  for (const char* host : {"WEB-01", "caf\xc3\xa9", "lost+found", "a/b", "%overflow-0"}) {
    const std::string folder = SanitizedHost(host);
    EXPECT_TRUE(HostGlobMatches(host, folder)) << host << " -> " << folder;
    EXPECT_TRUE(HostGlobMatches(folder, folder)) << folder;
  }
  EXPECT_TRUE(HostGlobMatches("web-01", "web-01"));
  EXPECT_TRUE(HostGlobMatches("Web-0?", "web-01"));
  EXPECT_TRUE(HostGlobMatches("caf*", "caf%c3%a9"));
  EXPECT_TRUE(HostGlobMatches("lost+*", "lost%2bfound"));
  EXPECT_FALSE(HostGlobMatches("web-02", "web-01"));
  EXPECT_FALSE(HostGlobMatches("lost+found", "lost%2bfoundx"));
  EXPECT_FALSE(HostGlobMatches("caf\xc3\xa9", "cafe"));
  // A name cut to kMaxHostDirLen (with its hash) is found by the full name.
  const std::string long_host = std::string(300, 'H');
  EXPECT_TRUE(HostGlobMatches(long_host, SanitizedHost(long_host)));
  EXPECT_FALSE(HostGlobMatches(long_host + "x", SanitizedHost(long_host)));
}

}  // namespace
}  // namespace konseki::outputs
