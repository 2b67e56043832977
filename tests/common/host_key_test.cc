#include "common/host_key.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/host_shard.h"
#include "tests/testing/host_key_collisions.h"

namespace konseki {
namespace {

// FNV-1a over the case-folded bytes, one byte at a time: what HostHash was
// and must stay (it picks the worker of a host and names the archive folder
// of a long host name, outputs/host_path.h).
uint64_t ReferenceHostHash(std::string_view host) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : host) {
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string Fold(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return s;
}

std::string RandomName(std::mt19937& rng, size_t length) {
  // Letters of both cases, the bytes around them ('@', '[', '`', '{') and
  // high bytes, which must not be folded.
  static const std::string kBytes = "aAzZmM09.-_@[`{\x80\xc3\xdf\xff";
  std::string s;
  for (size_t i = 0; i < length; ++i) s.push_back(kBytes[rng() % kBytes.size()]);
  return s;
}

TEST(HostKeyTest, HostHashIsByteWiseFnv1aOfTheFoldedName) {
  std::mt19937 rng(17);
  for (size_t length = 0; length <= 40; ++length) {
    for (int i = 0; i < 50; ++i) {
      const std::string name = RandomName(rng, length);
      ASSERT_EQ(HostHash(name), ReferenceHostHash(name)) << length;
    }
  }
  // Every single byte value, in every position of a word.
  for (int c = 0; c < 256; ++c) {
    for (size_t pos = 0; pos < 9; ++pos) {
      std::string name(9, 'x');
      name[pos] = static_cast<char>(c);
      ASSERT_EQ(HostHash(name), ReferenceHostHash(name)) << c << " at " << pos;
    }
  }
  EXPECT_EQ(HostHash(""), 1469598103934665603ull);
}

TEST(HostKeyTest, KeyIgnoresAsciiCaseOnly) {
  EXPECT_EQ(HostKey::Of("Web01.Example.COM").hash, HostKey::Of("web01.example.com").hash);
  EXPECT_TRUE(HostNamesEqual("Web01.Example.COM", "web01.example.com"));
  EXPECT_FALSE(HostNamesEqual("web01", "web02"));
  EXPECT_FALSE(HostNamesEqual("web01", "web01."));
  EXPECT_FALSE(HostNamesEqual("\xc3\x89", "\xc3\xa9"));  // É and é: not ASCII, not folded
  EXPECT_FALSE(HostNamesEqual("@", "`"));                // 0x40 and 0x60: not letters
  EXPECT_FALSE(HostNamesEqual("[", "{"));
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const std::string a = RandomName(rng, rng() % 30);
    std::string b = a;
    for (char& c : b) {
      if (c >= 'a' && c <= 'z' && rng() % 2) c = static_cast<char>(c - 32);
    }
    ASSERT_TRUE(HostNamesEqual(a, b)) << a << " " << b;
    ASSERT_EQ(HostKeyHash(a), HostKeyHash(b));
    const std::string c = RandomName(rng, a.size());
    ASSERT_EQ(HostNamesEqual(a, c), Fold(a) == Fold(c)) << a << " " << c;
  }
}

TEST(HostKeyTest, ShardOfHashIsHostShard) {
  for (const char* host : {"web01", "WEB01", "198.51.100.7", "", "a.very.long.host.name.example"}) {
    for (size_t n : {1, 2, 3, 8}) EXPECT_EQ(ShardOfHash(HostHash(host), n), HostShard(host, n));
  }
}

TEST(HostKeyTest, CollidingNamesCollide) {
  const auto names = testing::CollidingHostNames(0xffffffffu, 2);
  ASSERT_EQ(names.size(), 2u);
  EXPECT_NE(names[0], names[1]);
  EXPECT_EQ(HostKeyHash(names[0]), HostKeyHash(names[1]));
  EXPECT_FALSE(HostNamesEqual(names[0], names[1]));
}

}  // namespace
}  // namespace konseki
