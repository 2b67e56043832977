// RelpSession's steady state does not allocate per message: after a warm-up
// that sizes its buffers, feeding, acking and draining frames (whole or split
// across reads) performs no heap allocation. Its own binary, because it
// replaces the global operator new to count.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "receiver/relp_session.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<size_t> allocations{0};
}  // namespace

// GCC flags free() in a replaced operator delete although it pairs with the
// malloc in the replaced operator new right above.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t n) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace konseki::receiver {
namespace {

class AckAtOnce : public RelpHandler {
 public:
  void OnSyslog(uint32_t txnr, std::string_view data, bool) override {
    bytes += data.size();
    session->Ack(txnr);
  }
  RelpSession* session = nullptr;
  size_t bytes = 0;
};

// Feeds frames txnr..txnr+n-1 in pieces of `piece` bytes, draining output.
uint32_t Pump(RelpSession* s, uint32_t txnr, int n, size_t piece, std::string* scratch) {
  scratch->clear();
  for (int i = 0; i < n; ++i) {
    AppendRelpFrame(txnr++, "syslog", "<13>Nov 23 08:00:00 host app[1]: a message of some length",
                    scratch);
  }
  std::string_view rest = *scratch;
  while (!rest.empty()) {
    size_t used = s->Feed(rest.substr(0, piece));
    rest.remove_prefix(used);
    s->ConsumeOutput(s->PendingOutput().size());
  }
  return txnr;
}

TEST(RelpAllocTest, SteadyStateFeedAckAndDrainDoNotAllocate) {
  AckAtOnce handler;
  RelpSession session(RelpSessionOptions{}, &handler);
  handler.session = &session;
  std::string open;
  AppendRelpFrame(1, "open", "relp_version=0\ncommands=syslog", &open);
  ASSERT_EQ(session.Feed(open), open.size());
  session.ConsumeOutput(session.PendingOutput().size());

  std::string scratch;
  scratch.reserve(1 << 20);
  uint32_t txnr = 2;
  for (size_t piece : {size_t{1} << 20, size_t{7}})
    txnr = Pump(&session, txnr, 5000, piece, &scratch);

  counting = true;
  txnr = Pump(&session, txnr, 5000, size_t{1} << 20, &scratch);  // whole frames
  txnr = Pump(&session, txnr, 5000, 7, &scratch);                // split frames
  counting = false;
  EXPECT_EQ(allocations.load(), 0u);
  EXPECT_EQ(session.state(), RelpSession::State::kOpen);
  EXPECT_EQ(session.unacked(), 0u);
  EXPECT_GT(handler.bytes, 0u);
}

}  // namespace
}  // namespace konseki::receiver
