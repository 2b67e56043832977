// The correlators built from one pack (the fleet thread's and each worker's)
// read one copy of its definitions (matchers/correlator.h, Create).
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "matchers/correlator.h"
#include "tests/matchers/correlator_test_util.h"

namespace konseki::matchers {
namespace {

int64_t HeapBytes() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<int64_t>(m.uordblks + m.hblkhd);
}

// A threshold correlation of two hits of rule r1 per src_ip, whose
// description weighs kBig bytes: the copy of a definition shows in the heap.
constexpr int64_t kBig = int64_t{4} << 20;

std::shared_ptr<const RulePack> BigPack() {
  auto pack = std::make_shared<RulePack>();
  Correlation c = Corr("burst", CorrelationKind::kThreshold);
  c.on = {Id("r1")};
  c.key = {"src_ip"};
  c.window_secs = 60;
  c.count = 2;
  c.description.assign(static_cast<size_t>(kBig), 'x');
  pack->correlations.push_back(std::move(c));
  return pack;
}

// Alerts of one r1 hit from 192.0.2.9 on host web1 at kT0 + t seconds.
std::vector<Alert> HitAt(Correlator& c, double t) {
  static const Fields kFields = {{"src_ip", "192.0.2.9"}};
  static uint64_t seq = 0;
  HitEvent e;
  e.input_id = "r1";
  e.sign = "test.r1";
  e.fields = &kFields;
  e.host = "web1";
  e.event_time = e.received = At(t);
  e.message_seq = ++seq;
  c.ObserveHost(e.host, "192.0.2.250", e.received);
  std::vector<Alert> out;
  c.Process(e, &out);
  return out;
}

TEST(CorrelatorShareTest, CorrelatorsOfOnePackShareItsDefinitions) {
  const std::shared_ptr<const RulePack> pack = BigPack();
  MetricsRegistry metrics;
  CorrelatorOptions worker;
  worker.run_fleet = false;
  auto first = Correlator::Create(pack, worker, metrics);
  ASSERT_TRUE(first.ok()) << first.status().ToString();

  int64_t before = HeapBytes();
  auto second = Correlator::Create(pack, worker, metrics);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  const int64_t shared = HeapBytes() - before;
  EXPECT_LT(shared, kBig / 4) << "a correlator over a shared pack took " << shared << " bytes";

  // The control: over a pack given by reference, the correlator copies the
  // definitions (and the measure sees a copy).
  before = HeapBytes();
  auto copied = Correlator::Create(*pack, worker, metrics);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  const int64_t copy = HeapBytes() - before;
  EXPECT_GE(copy, kBig) << "a correlator over a copied pack took " << copy << " bytes";

  // Each still keeps its own state over the shared definition.
  EXPECT_TRUE(HitAt(**first, 0).empty());
  ASSERT_EQ(HitAt(**first, 1).size(), 1u);
  EXPECT_TRUE(HitAt(**second, 2).empty());
  const std::vector<Alert> alerts = HitAt(**second, 3);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "burst");
}

TEST(CorrelatorShareTest, AnOverrideChangesOnlyItsOwnCorrelatorsCopy) {
  const std::shared_ptr<const RulePack> pack = BigPack();
  MetricsRegistry metrics;
  CorrelatorOptions plain;
  CorrelatorOptions site;
  site.overrides["burst"].count = 1;
  auto a = Correlator::Create(pack, plain, metrics);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  const int64_t before = HeapBytes();
  auto b = Correlator::Create(pack, site, metrics);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_GE(HeapBytes() - before, kBig);  // the overridden definition is b's own

  EXPECT_EQ(HitAt(**b, 0).size(), 1u);  // count 1 here
  EXPECT_TRUE(HitAt(**a, 0).empty());   // the pack's count 2 there
  EXPECT_EQ(pack->correlations[0].count, 2u);
  EXPECT_EQ(HitAt(**a, 1).size(), 1u);
}

}  // namespace
}  // namespace konseki::matchers
