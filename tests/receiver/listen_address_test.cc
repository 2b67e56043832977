#include "receiver/listen_address.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

namespace konseki::receiver {
namespace {

TEST(ListenAddressTest, ParsesUdpIpv4) {
  StatusOr<ListenAddress> a = ListenAddress::Parse("udp://127.0.0.1:5514");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->transport, Transport::kUdp);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 5514);
  EXPECT_FALSE(a->ipv6);
  EXPECT_EQ(a->ToString(), "udp://127.0.0.1:5514");
}

TEST(ListenAddressTest, ParsesTcpAnyAddress) {
  StatusOr<ListenAddress> a = ListenAddress::Parse("tcp://0.0.0.0:514");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->transport, Transport::kTcp);
  EXPECT_EQ(a->port, 514);
}

TEST(ListenAddressTest, ParsesBracketedIpv6AndCanonicalizes) {
  StatusOr<ListenAddress> a = ListenAddress::Parse("tcp://[0:0::1]:5514");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->ipv6);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->ToString(), "tcp://[::1]:5514");
}

TEST(ListenAddressTest, ParsesRelpTlsAndUppercaseScheme) {
  EXPECT_EQ(ListenAddress::Parse("relp://[::]:2514")->transport, Transport::kRelp);
  EXPECT_EQ(ListenAddress::Parse("tls://10.0.0.1:6514")->transport, Transport::kTls);
  EXPECT_EQ(ListenAddress::Parse("RELP+TLS://10.0.0.1:2515")->transport, Transport::kRelpTls);
  EXPECT_EQ(ListenAddress::Parse("relp+tls://[::1]:2515")->ToString(), "relp+tls://[::1]:2515");
  EXPECT_EQ(ListenAddress::Parse("UDP://1.2.3.4:0")->ToString(), "udp://1.2.3.4:0");
}

TEST(ListenAddressTest, ToStringRoundTrips) {
  for (const char* uri :
       {"udp://127.0.0.1:5514", "tcp://[::1]:1", "relp://0.0.0.0:65535", "tls://[fe80::1]:6514"}) {
    StatusOr<ListenAddress> a = ListenAddress::Parse(uri);
    ASSERT_TRUE(a.ok()) << uri;
    EXPECT_EQ(a->ToString(), uri);
    EXPECT_EQ(*ListenAddress::Parse(a->ToString()), *a);
  }
}

TEST(ListenAddressTest, ToSockaddrFillsFamilyAndPort) {
  sockaddr_storage ss;
  socklen_t len = 0;
  ListenAddress::Parse("tcp://[::1]:5514")->ToSockaddr(&ss, &len);
  EXPECT_EQ(ss.ss_family, AF_INET6);
  EXPECT_EQ(len, sizeof(sockaddr_in6));
  EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port), 5514);
  ListenAddress::Parse("udp://127.0.0.1:514")->ToSockaddr(&ss, &len);
  EXPECT_EQ(ss.ss_family, AF_INET);
  EXPECT_EQ(ntohl(reinterpret_cast<sockaddr_in*>(&ss)->sin_addr.s_addr), 0x7f000001u);
}

// Each bad input must fail with InvalidArgument, quote the input and say what
// is wrong.
TEST(ListenAddressTest, RejectsWithPreciseErrors) {
  const struct {
    const char* uri;
    const char* says;
  } cases[] = {
      {"127.0.0.1:514", "missing \"://\""},
      {"http://1.2.3.4:80", "unknown transport \"http\""},
      {"udp://", "missing host and port"},
      {"udp://1.2.3.4", "missing \":PORT\""},
      {"udp://1.2.3.4:", "missing port number"},
      {"udp://:514", "missing host"},
      {"udp://1.2.3.4:65536", "out of range"},
      {"udp://1.2.3.4:1234567", "out of range"},
      {"udp://1.2.3.4:51x", "not a decimal number"},
      {"udp://1.2.3.4:-1", "not a decimal number"},
      {"tcp://localhost:514", "not a numeric IPv4 address"},
      {"tcp://256.1.1.1:514", "not a numeric IPv4 address"},
      {"tcp://::1:514", "must be written in brackets"},
      {"tcp://[::1:514", "closing ']'"},
      {"tcp://[::1]514", "missing \":PORT\" after the IPv6"},
      {"tcp://[zz::1]:514", "not a numeric IPv6 address"},
      {"tcp://1.2.3.4:514/x", "unexpected path"},
  };
  for (const auto& c : cases) {
    StatusOr<ListenAddress> a = ListenAddress::Parse(c.uri);
    ASSERT_FALSE(a.ok()) << c.uri;
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument) << c.uri;
    EXPECT_NE(a.status().message().find(c.says), std::string::npos)
        << c.uri << " gave: " << a.status().message();
    EXPECT_NE(a.status().message().find(std::string("\"") + c.uri + "\""), std::string::npos)
        << a.status().message();
  }
}

}  // namespace
}  // namespace konseki::receiver
