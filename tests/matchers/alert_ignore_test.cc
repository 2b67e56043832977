#include "matchers/alert_ignore.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace konseki::matchers {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

TEST(AlertIgnoreTest, DefaultIgnoresNothing) {
  AlertIgnore a;
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(a.Ignores({{"src_ip", "10.0.0.1"}, {"user", "root"}}));
}

TEST(AlertIgnoreTest, SourcesMatchTheSrcIpFieldOnly) {
  auto a = AlertIgnore::Create({"10.0.0.0/8", "::1"}, {});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->Ignores({{"src_ip", "10.1.2.3"}}));
  EXPECT_TRUE(a->Ignores({{"src_ip", "::ffff:10.1.2.3"}}));  // one host, two spellings
  EXPECT_TRUE(a->Ignores({{"src_ip", "::1"}}));
  EXPECT_FALSE(a->Ignores({{"src_ip", "11.1.2.3"}}));
  EXPECT_FALSE(a->Ignores({{"dst_ip", "10.1.2.3"}}));
  EXPECT_FALSE(a->Ignores({{"src_ip", "scanner.example.org"}}));  // a name is not an address
  EXPECT_FALSE(a->Ignores({}));
}

TEST(AlertIgnoreTest, UsersMatchTheUserFieldExactly) {
  auto a = AlertIgnore::Create({}, {"nagios", "backup"});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->Ignores({{"method", "password"}, {"user", "backup"}}));
  EXPECT_FALSE(a->Ignores({{"user", "Nagios"}}));
  EXPECT_FALSE(a->Ignores({{"target_user", "nagios"}}));
}

TEST(AlertIgnoreTest, BadEntriesAreErrors) {
  EXPECT_FALSE(AlertIgnore::Create({"10.0.0.1/8"}, {}).ok());
  EXPECT_FALSE(AlertIgnore::Create({"not-an-address"}, {}).ok());
  EXPECT_FALSE(AlertIgnore::Create({}, {""}).ok());
  EXPECT_FALSE(AlertIgnore::Create({}, {"two words"}).ok());
}

}  // namespace
}  // namespace konseki::matchers
