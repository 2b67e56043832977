#include "receiver/sender_allowlist.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <mutex>
#include <string>
#include <vector>

#include "tests/testing/recording_alert_sink.h"

namespace konseki::receiver {
namespace {

using konseki::testing::Field;
using konseki::testing::RecordingAlertSink;

using ::testing::HasSubstr;

SenderAddress Addr(const std::string& text) {
  std::optional<SenderAddress> a = SenderAddress::Parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(SenderAddress{});
}

SenderAllowlist List(const std::vector<std::string>& entries) {
  StatusOr<SenderAllowlist> l = SenderAllowlist::Parse(entries);
  EXPECT_TRUE(l.ok()) << l.status().ToString();
  return l.ok() ? *l : SenderAllowlist{};
}

TEST(SenderAddressTest, Ipv4AndMappedIpv6AreOneKey) {
  EXPECT_EQ(Addr("10.1.2.3"), Addr("::ffff:10.1.2.3"));
  EXPECT_TRUE(Addr("10.1.2.3").is_v4());
  EXPECT_FALSE(Addr("2001:db8::1").is_v4());
  EXPECT_EQ(Addr("::ffff:10.1.2.3").ToString(), "10.1.2.3");
  EXPECT_EQ(Addr("2001:DB8:0::1").ToString(), "2001:db8::1");
  EXPECT_FALSE(SenderAddress::Parse("host.example").has_value());
  EXPECT_FALSE(SenderAddress::Parse("").has_value());
  EXPECT_FALSE(SenderAddress::Parse("10.0.0.256").has_value());
}

TEST(SenderAddressTest, FromSockaddrBothFamilies) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  inet_pton(AF_INET, "192.0.2.7", &v4.sin_addr);
  EXPECT_EQ(SenderAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&v4)), Addr("192.0.2.7"));
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:192.0.2.7", &v6.sin6_addr);
  EXPECT_EQ(SenderAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&v6)), Addr("192.0.2.7"));
  inet_pton(AF_INET6, "fe80::1", &v6.sin6_addr);
  EXPECT_EQ(SenderAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&v6)), Addr("fe80::1"));
}

TEST(SenderAllowlistTest, DefaultAllowsEveryone) {
  SenderAllowlist any;
  EXPECT_TRUE(any.allows_all());
  EXPECT_TRUE(any.Allows(Addr("203.0.113.9")));
  EXPECT_TRUE(any.Allows(Addr("2001:db8::9")));
  EXPECT_EQ(any.ToString(), "any");
}

TEST(SenderAllowlistTest, Ipv4RangesAndHosts) {
  SenderAllowlist l = List({"10.0.0.0/8", "192.0.2.7", "172.16.0.0/12"});
  EXPECT_FALSE(l.allows_all());
  EXPECT_TRUE(l.Allows(Addr("10.0.0.0")));
  EXPECT_TRUE(l.Allows(Addr("10.255.255.255")));
  EXPECT_FALSE(l.Allows(Addr("11.0.0.0")));
  EXPECT_FALSE(l.Allows(Addr("9.255.255.255")));
  EXPECT_TRUE(l.Allows(Addr("192.0.2.7")));
  EXPECT_FALSE(l.Allows(Addr("192.0.2.8")));
  EXPECT_TRUE(l.Allows(Addr("172.31.255.1")));
  EXPECT_FALSE(l.Allows(Addr("172.32.0.1")));
  // A dual-stack socket reports IPv4 peers as mapped addresses.
  EXPECT_TRUE(l.Allows(Addr("::ffff:10.9.8.7")));
  EXPECT_FALSE(l.Allows(Addr("::a09:807")));  // IPv4-compatible, not mapped
  EXPECT_FALSE(l.Allows(Addr("2001:db8::1")));
  EXPECT_EQ(l.ToString(), "10.0.0.0/8, 192.0.2.7/32, 172.16.0.0/12");
}

TEST(SenderAllowlistTest, Ipv6RangesWithAndWithoutBrackets) {
  SenderAllowlist l = List({"::1/128", "[2001:db8::]/32", "fe80::/10"});
  EXPECT_TRUE(l.Allows(Addr("::1")));
  EXPECT_FALSE(l.Allows(Addr("::2")));
  EXPECT_TRUE(l.Allows(Addr("2001:db8:ffff::1")));
  EXPECT_FALSE(l.Allows(Addr("2001:db9::1")));
  EXPECT_TRUE(l.Allows(Addr("febf::1")));  // fe80::/10 ends at febf:...
  EXPECT_FALSE(l.Allows(Addr("fec0::1")));
  EXPECT_FALSE(l.Allows(Addr("127.0.0.1")));
}

TEST(SenderAllowlistTest, OddPrefixesAndZeroPrefix) {
  SenderAllowlist l = List({"192.0.2.128/25"});
  EXPECT_TRUE(l.Allows(Addr("192.0.2.128")));
  EXPECT_TRUE(l.Allows(Addr("192.0.2.255")));
  EXPECT_FALSE(l.Allows(Addr("192.0.2.127")));
  SenderAllowlist all_v4 = List({"0.0.0.0/0"});
  EXPECT_TRUE(all_v4.Allows(Addr("203.0.113.1")));
  EXPECT_FALSE(all_v4.Allows(Addr("2001:db8::1")));
  SenderAllowlist all = List({"::/0"});
  EXPECT_TRUE(all.Allows(Addr("2001:db8::1")));
  EXPECT_TRUE(all.Allows(Addr("203.0.113.1")));
}

TEST(SenderAllowlistTest, ErrorsNameTheEntryAndTheFix) {
  auto err = [](const std::vector<std::string>& e) {
    StatusOr<SenderAllowlist> l = SenderAllowlist::Parse(e);
    EXPECT_FALSE(l.ok());
    return l.ok() ? std::string() : l.status().message();
  };
  EXPECT_THAT(err({}), HasSubstr("remove the `allow` key"));
  EXPECT_THAT(err({"10.0.0.0/8", "10.0.0.1/8"}),
              HasSubstr("allow[1] \"10.0.0.1/8\": host bits set beyond /8; did you mean "
                        "10.0.0.0/8?"));
  EXPECT_THAT(err({"10.0.0.0/33"}), HasSubstr("longer than 32 bits"));
  EXPECT_THAT(err({"::/129"}), HasSubstr("longer than 128 bits"));
  EXPECT_THAT(err({"10.0.0.0/"}), HasSubstr("must be a number 0..32"));
  EXPECT_THAT(err({"10.0.0.0/-1"}), HasSubstr("must be a number"));
  EXPECT_THAT(err({"logs.example.com"}), HasSubstr("host names are not accepted"));
  EXPECT_THAT(err({"2001:db8::1/32"}), HasSubstr("did you mean 2001:db8::/32?"));
}

TEST(RefusalReporterTest, OneAlertPerSourcePerIntervalWithFields) {
  RecordingAlertSink sink;
  MetricsRegistry metrics;
  FakeClock clock;
  RefusalReporter r(&sink, "tcp://0.0.0.0:514", "tcp", metrics);
  EXPECT_TRUE(r.Report(Addr("192.0.2.1"), clock.Now()));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(r.Report(Addr("192.0.2.1"), clock.Now()));
  clock.Advance(std::chrono::seconds(59));
  EXPECT_FALSE(r.Report(Addr("192.0.2.1"), clock.Now()));
  clock.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(r.Report(Addr("192.0.2.1"), clock.Now()));
  const std::vector<Alert> alerts = sink.alerts();
  ASSERT_EQ(alerts.size(), 2u);
  const Alert& a = alerts[1];
  EXPECT_EQ(a.sign, "receiver.refused");
  EXPECT_EQ(Field(a, "src_ip"), "192.0.2.1");
  EXPECT_EQ(Field(a, "listener"), "tcp://0.0.0.0:514");
  EXPECT_EQ(Field(a, "transport"), "tcp");
  EXPECT_EQ(Field(a, "suppressed"), "6");
  EXPECT_EQ(Field(alerts[0], "suppressed"), "0");
  EXPECT_EQ(metrics.ValueOf("konseki_suppressed_alerts_total", {{"sign", "receiver.refused"}}), 6);
}

TEST(RefusalReporterTest, GlobalCapHoldsBackASpoofedFlood) {
  RecordingAlertSink sink;
  MetricsRegistry metrics;
  FakeClock clock;
  RefusalReporterOptions o;
  o.max_alerts_per_minute = 5;
  o.max_tracked_sources = 100;
  RefusalReporter r(&sink, "udp://0.0.0.0:514", "udp", metrics, o);
  // 10000 distinct sources within one minute.
  for (uint32_t i = 0; i < 10000; ++i) {
    SenderAddress a = Addr("10.0.0.0");
    a.bytes[13] = static_cast<uint8_t>(i >> 8);
    a.bytes[14] = static_cast<uint8_t>(i);
    r.Report(a, clock.Now());
  }
  EXPECT_EQ(sink.alerts().size(), 5u);
  EXPECT_EQ(r.suppressed_total(), 9995u);
  clock.Advance(std::chrono::minutes(1));
  EXPECT_TRUE(r.Report(Addr("203.0.113.5"), clock.Now()));
  EXPECT_EQ(Field(sink.alerts().back(), "suppressed"), "9995");
}

TEST(RefusalReporterTest, NullSinkStillRateLimits) {
  MetricsRegistry metrics;
  FakeClock clock;
  RefusalReporter r(nullptr, "tcp://[::]:514", "tcp", metrics);
  EXPECT_TRUE(r.Report(Addr("::1"), clock.Now()));
  EXPECT_FALSE(r.Report(Addr("::1"), clock.Now()));
}

}  // namespace
}  // namespace konseki::receiver
