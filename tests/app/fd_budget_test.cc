#include "app/fd_budget.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace konseki::app {
namespace {

using ::testing::HasSubstr;

Config FourListeners() {
  Config c;
  for (const char* uri :
       {"udp://0.0.0.0:514", "tcp://0.0.0.0:514", "relp://0.0.0.0:2514", "tls://0.0.0.0:6514"}) {
    receiver::ListenerSpec spec;
    spec.uri = uri;
    spec.address = *receiver::ListenAddress::Parse(uri);
    c.listen.push_back(spec);
  }
  c.stream.max_connections = 1000;
  return c;
}

TEST(FdBudgetTest, SumsStreamCapsSocketsArchiveFilesAndReserve) {
  FdBudget b = ComputeFdBudget(FourListeners(), 2, 256);
  EXPECT_EQ(b.stream_listeners, 3u);  // UDP holds no connections
  EXPECT_EQ(b.connections, 3000u);
  EXPECT_EQ(b.listening_sockets, 4u);
  EXPECT_EQ(b.metrics_connections, 64u);  // MetricsServerOptions::max_connections
  EXPECT_EQ(b.Total(), 3000u + 4 + 2 * 256 + 64 + kFdReserve);
  EXPECT_EQ(b.Describe(),
            "3000 connections (3 stream listeners x tcp.max_connections) + 4 listening sockets + "
            "2 workers x 256 archive files + 64 metrics connections + 64 reserve = 3644");
}

TEST(FdBudgetTest, SoftLimitIsRaisedToTheHardLimit) {
  FdBudget b = ComputeFdBudget(FourListeners(), 2, 256);
  auto soft = FdSoftLimitFor(b, {1024, 100000});
  ASSERT_TRUE(soft.ok()) << soft.status().ToString();
  EXPECT_EQ(*soft, 100000u);
  soft = FdSoftLimitFor(b, {1024, b.Total()});  // exactly enough
  ASSERT_TRUE(soft.ok());
  EXPECT_EQ(*soft, b.Total());
  soft = FdSoftLimitFor(b, {RLIM_INFINITY, RLIM_INFINITY});
  ASSERT_TRUE(soft.ok());
}

TEST(FdBudgetTest, HardLimitBelowTheBudgetIsRefusedSayingWhatToSet) {
  FdBudget b = ComputeFdBudget(FourListeners(), 2, 256);
  auto soft = FdSoftLimitFor(b, {1024, b.Total() - 1});
  ASSERT_FALSE(soft.ok());
  EXPECT_THAT(soft.status().message(), HasSubstr("hard limit RLIMIT_NOFILE is 3643"));
  EXPECT_THAT(soft.status().message(), HasSubstr("set LimitNOFILE=3644"));
  EXPECT_THAT(soft.status().message(), HasSubstr("3000 connections"));
  EXPECT_THAT(soft.status().message(), HasSubstr("tcp.max_connections"));
}

}  // namespace
}  // namespace konseki::app
