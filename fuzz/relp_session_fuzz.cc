// RelpSession driven by a client byte stream, fed in pseudo-random pieces
// while acks arrive in pseudo-random order and output is drained in
// pseudo-random amounts. Checks the properties the listener relies on:
//   - the window and payload limits hold at every step;
//   - every answer is a well-formed frame, answers come in transaction order
//     1, 2, 3, ... with nothing after a serverclose;
//   - delivered transaction numbers increase; Ack is refused for anything
//     not delivered and not yet acked.
//
// Input: the last 8 bytes are options and a PRNG seed (FuzzedDataProvider
// takes integers from the end), the rest is the stream.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics.h"
#include "fuzz/fuzz_check.h"
#include "receiver/relp_session.h"

namespace {

using konseki::receiver::RelpFrame;
using konseki::receiver::RelpFrameDecoder;
using konseki::receiver::RelpFrameDecoderOptions;
using konseki::receiver::RelpHandler;
using konseki::receiver::RelpSession;
using konseki::receiver::RelpSessionOptions;

class Handler : public RelpHandler {
 public:
  explicit Handler(size_t max_data) : max_data_(max_data) {}
  void OnSyslog(uint32_t txnr, std::string_view data, bool truncated) override {
    FUZZ_CHECK(data.size() <= max_data_);
    FUZZ_CHECK(!truncated || data.size() == max_data_);
    FUZZ_CHECK(txnr > last_txnr_);
    last_txnr_ = txnr;
    pending.insert(txnr);
  }
  std::set<uint32_t> pending;

 private:
  size_t max_data_;
  uint32_t last_txnr_ = 0;
};

// Checks the server's answers as a client would read them.
class OutputChecker {
 public:
  void Add(std::string_view bytes) {
    FUZZ_CHECK(!after_serverclose_ || bytes.empty());
    RelpFrame f;
    RelpFrameDecoder::Result r;
    while ((r = decoder_.Next(&bytes, &f)) == RelpFrameDecoder::Result::kFrame) {
      if (f.command_name == "serverclose") {
        FUZZ_CHECK(f.txnr == 0 && f.data.empty());
        after_serverclose_ = true;
        FUZZ_CHECK(bytes.empty());
        continue;
      }
      FUZZ_CHECK(f.command_name == "rsp");
      FUZZ_CHECK(f.txnr == next_txnr_);
      next_txnr_ = konseki::receiver::RelpNextTxnr(next_txnr_);
      FUZZ_CHECK(f.data.size() >= 3);
      FUZZ_CHECK(f.data.substr(0, 3) == "200" || f.data.substr(0, 3) == "500");
    }
    FUZZ_CHECK(r != RelpFrameDecoder::Result::kError);
  }

 private:
  RelpFrameDecoder decoder_{RelpFrameDecoderOptions{.max_data_bytes = 1 << 20}};
  uint32_t next_txnr_ = 1;
  bool after_serverclose_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  RelpSessionOptions opt;
  opt.max_unacked = fdp.ConsumeIntegralInRange<size_t>(1, 16);
  opt.max_data_bytes = fdp.ConsumeIntegralInRange<size_t>(1, 300);
  opt.truncate_oversize = fdp.ConsumeBool();
  opt.max_output_bytes = fdp.ConsumeIntegralInRange<size_t>(0, 300);
  uint32_t rng = fdp.ConsumeIntegral<uint32_t>() | 1;
  const std::string stream = fdp.ConsumeRemainingBytesAsString();
  auto next = [&rng](uint32_t n) {  // xorshift32, uniform enough for choices
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng % n;
  };

  // Shared by all inputs, as by all connections of a listener.
  static konseki::MetricsRegistry registry;
  static const konseki::receiver::RelpCounters counters =
      konseki::receiver::RelpCounters::Register(&registry);
  Handler handler(opt.max_data_bytes);
  RelpSession session(opt, &handler, &counters);
  OutputChecker output;
  std::string_view rest = stream;
  size_t idle_rounds = 0;
  while (idle_rounds < 3) {
    bool progress = false;
    if (!rest.empty()) {
      size_t n = session.Feed(rest.substr(0, 1 + next(64)));
      rest.remove_prefix(n);
      progress |= n > 0;
    }
    FUZZ_CHECK(session.outstanding() <= opt.max_unacked);
    FUZZ_CHECK(session.unacked() == handler.pending.size());
    FUZZ_CHECK(session.unacked() <= session.outstanding());

    switch (next(8)) {
      case 0:
      case 1:
        if (!handler.pending.empty()) {  // ack one, any order
          auto it = handler.pending.begin();
          std::advance(it, next(static_cast<uint32_t>(handler.pending.size())));
          FUZZ_CHECK(session.Ack(*it));
          FUZZ_CHECK(!session.Ack(*it));
          handler.pending.erase(it);
          progress = true;
        }
        break;
      case 2:
        if (!handler.pending.empty()) {  // ack a prefix
          auto it = handler.pending.begin();
          std::advance(it, next(static_cast<uint32_t>(handler.pending.size())));
          const uint32_t upto = *it;
          const size_t expect = std::distance(handler.pending.begin(), it) + 1;
          FUZZ_CHECK(session.AckUpTo(upto) == expect);
          handler.pending.erase(handler.pending.begin(), std::next(it));
          progress = true;
        }
        break;
      case 3:
        FUZZ_CHECK(!session.Ack(next(5) == 0 ? 0 : session.expected_txnr()));
        break;
      case 4:
        if (next(64) == 0) session.ServerClose();
        break;
      default:
        break;
    }
    std::string_view out = session.PendingOutput();
    if (!out.empty()) {
      const size_t take = next(3) == 0 ? out.size() : next(static_cast<uint32_t>(out.size()) + 1);
      output.Add(out.substr(0, take));
      session.ConsumeOutput(take);
      progress |= take > 0;
    }
    if (!progress) {
      // Stuck: the listener would wait for the archive. Ack everything.
      for (uint32_t t : handler.pending) FUZZ_CHECK(session.Ack(t));
      handler.pending.clear();
      output.Add(session.PendingOutput());
      session.ConsumeOutput(session.PendingOutput().size());
      ++idle_rounds;
      if (session.Done() || rest.empty()) break;
    } else {
      idle_rounds = 0;
    }
  }
  return 0;
}
