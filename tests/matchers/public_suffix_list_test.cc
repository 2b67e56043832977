// PublicSuffixList: registered domains of the names a DNS beacon and its
// benign look-alikes ask for, and the names kept as they are.
#include "matchers/public_suffix_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <string>

namespace konseki::matchers {
namespace {

class PublicSuffixListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto list = PublicSuffixList::Load();
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    psl_ = std::move(*list);
  }
  std::string Domain(std::string_view name) {
    return std::string(psl_->RegisteredDomain(name, &scratch_));
  }
  std::unique_ptr<PublicSuffixList> psl_;
  std::string scratch_;
};

TEST_F(PublicSuffixListTest, RandomNamesUnderOneDomainShareIt) {
  EXPECT_EQ(Domain("a8f3.evil.example.co.jp"), "example.co.jp");
  EXPECT_EQ(Domain("k29d.evil.example.co.jp"), "example.co.jp");
  EXPECT_EQ(Domain("www.example.com"), "example.com");
  EXPECT_EQ(Domain("example.com"), "example.com");
}

TEST_F(PublicSuffixListTest, CaseAndOneTrailingDotAreIgnored) {
  // unbound's and BIND's names end in a dot; resolvers keep the asker's case
  // (0x20 randomisation).
  EXPECT_EQ(Domain("A8F3.Evil.Example.CO.JP."), "example.co.jp");
  EXPECT_EQ(Domain("x.example.org."), "example.org");
}

TEST_F(PublicSuffixListTest, PrivateSuffixesCount) {
  // One CloudFront distribution, one S3 bucket, one dynamic-DNS customer.
  EXPECT_EQ(Domain("d3kx7y2a1b2c3d.cloudfront.net"), "d3kx7y2a1b2c3d.cloudfront.net");
  EXPECT_EQ(Domain("a.b.mybucket.s3.amazonaws.com"), "mybucket.s3.amazonaws.com");
  EXPECT_EQ(Domain("c2.evil.duckdns.org"), "evil.duckdns.org");
  // A name that is itself a (wildcard) suffix stays whole.
  EXPECT_EQ(Domain("ec2-198-51-100-7.compute-1.amazonaws.com"),
            "ec2-198-51-100-7.compute-1.amazonaws.com");
}

TEST_F(PublicSuffixListTest, PoolsAndServiceRecordsTakeTheirDomain) {
  EXPECT_EQ(Domain("2.debian.pool.ntp.org"), "ntp.org");
  EXPECT_EQ(Domain("_ldap._tcp.dc._msdcs.corp.example.co.jp"), "example.co.jp");
}

TEST_F(PublicSuffixListTest, AddressesReverseNamesAndUnlistedNamesStayAsTheyAre) {
  EXPECT_EQ(Domain("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(Domain("2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(Domain("[2001:db8::1]"), "[2001:db8::1]");
  EXPECT_EQ(Domain("4.3.2.1.in-addr.arpa"), "4.3.2.1.in-addr.arpa");
  EXPECT_EQ(Domain("b.a.9.8.ip6.arpa."), "b.a.9.8.ip6.arpa.");
  EXPECT_EQ(Domain("localhost"), "localhost");
  EXPECT_EQ(Domain("a.srv.corp"), "a.srv.corp");
  EXPECT_EQ(Domain("nas.LAN"), "nas.LAN");
  EXPECT_EQ(Domain("co.jp"), "co.jp");
  EXPECT_EQ(Domain(""), "");
  EXPECT_EQ(Domain("."), ".");
  EXPECT_EQ(Domain(std::string(300, 'a') + ".com"), std::string(300, 'a') + ".com");
}

TEST_F(PublicSuffixListTest, MalformedNamesDoNotCrash) {
  const std::string nul("a\0b.com", 7);
  for (const std::string_view n :
       std::initializer_list<std::string_view>{"..", "a..com", ".com", "com.", nul, "\xff\xfe.jp",
                                               "-.-.co.jp", "a.b.c.d.e.f.g.h.i.j.k.l.m.jp"}) {
    (void)Domain(n);
  }
  EXPECT_EQ(Domain(".com"), ".com");
}

TEST_F(PublicSuffixListTest, ManyLabelsInFrontChangeNothing) {
  std::string tunnel;
  for (int i = 0; i < 40; ++i) tunnel += "ab" + std::to_string(i) + ".";
  EXPECT_EQ(Domain(tunnel + "t.evil.example.co.jp"), "example.co.jp");
  EXPECT_EQ(Domain(tunnel + "x.s3.dualstack.ap-northeast-1.amazonaws.com"),
            "x.s3.dualstack.ap-northeast-1.amazonaws.com");
  EXPECT_EQ(Domain("a.b.c.d.e.f.g.h.i.j.k.l.m.jp"), "m.jp");
  EXPECT_EQ(Domain("a.b.c.d.e.f.g.h.i.j.k.l.city.kawasaki.jp"), "city.kawasaki.jp");
  EXPECT_EQ(Domain("a.b.c.d.e.f.g.h.i.j.k.l.ward.kawasaki.jp"), "l.ward.kawasaki.jp");
}

// Only the last kMaxSuffixLabels + 1 labels are looked up: no rule of the
// installed list may be longer.
TEST(PublicSuffixListFileTest, NoRuleHasMoreLabelsThanTheWindow) {
  std::ifstream in("/usr/share/publicsuffix/public_suffix_list.dat");
  if (!in) GTEST_SKIP() << "publicsuffix not installed";
  std::string line;
  int rules = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line.starts_with("//")) continue;
    const std::string rule = line.substr(0, line.find_first_of(" \t"));
    if (rule.empty()) continue;
    ++rules;
    const int labels = 1 + static_cast<int>(std::count(rule.begin(), rule.end(), '.'));
    EXPECT_LE(labels, PublicSuffixList::kMaxSuffixLabels) << rule;
  }
  EXPECT_GT(rules, 5000);
}

TEST_F(PublicSuffixListTest, AWarmScratchIsReused) {
  (void)Domain("a8f3.evil.example.co.jp");
  const char* before = scratch_.data();
  (void)Domain("k29d.evil.example.co.jp");
  EXPECT_EQ(scratch_.data(), before);
}

}  // namespace
}  // namespace konseki::matchers
