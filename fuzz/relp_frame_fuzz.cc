// RelpFrameDecoder: any split of the input gives the same frames and the same
// error as the whole input; every decoded frame re-encodes to itself.
//
// Input: byte 0 = chunk size - 1, byte 1 = max_data_bytes, byte 2 bit 0 =
// truncate_oversize; the rest is the RELP byte stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "receiver/relp_frame.h"

namespace {

using konseki::receiver::RelpFrame;
using konseki::receiver::RelpFrameDecoder;
using konseki::receiver::RelpFrameDecoderOptions;
using konseki::receiver::RelpFrameError;

struct Owned {
  uint32_t txnr;
  std::string command;
  std::string data;
  uint32_t datalen;
  bool truncated;
  bool operator==(const Owned&) const = default;
};

RelpFrameError Decode(std::string_view stream, size_t chunk, const RelpFrameDecoderOptions& opt,
                      std::vector<Owned>* out) {
  RelpFrameDecoder d(opt);
  while (!stream.empty()) {
    std::string_view piece = stream.substr(0, chunk);
    stream.remove_prefix(piece.size());
    RelpFrame f;
    RelpFrameDecoder::Result r;
    while ((r = d.Next(&piece, &f)) == RelpFrameDecoder::Result::kFrame) {
      FUZZ_CHECK(f.data.size() <= opt.max_data_bytes);
      FUZZ_CHECK(f.truncated == (f.datalen > f.data.size()));
      FUZZ_CHECK(!f.truncated || opt.truncate_oversize);
      out->push_back(
          {f.txnr, std::string(f.command_name), std::string(f.data), f.datalen, f.truncated});
    }
    if (r == RelpFrameDecoder::Result::kError) {
      FUZZ_CHECK(d.error() != RelpFrameError::kNone);
      return d.error();
    }
    FUZZ_CHECK(piece.empty());
  }
  return d.error();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const size_t chunk = static_cast<size_t>(data[0]) + 1;
  RelpFrameDecoderOptions opt;
  opt.max_data_bytes = data[1];
  opt.truncate_oversize = (data[2] & 1) != 0;
  std::string_view stream(reinterpret_cast<const char*>(data) + 3, size - 3);

  std::vector<Owned> whole, split;
  RelpFrameError e_whole = Decode(stream, stream.size() + 1, opt, &whole);
  RelpFrameError e_split = Decode(stream, chunk, opt, &split);
  FUZZ_CHECK(e_whole == e_split);
  FUZZ_CHECK(whole == split);

  for (const Owned& f : whole) {
    if (f.truncated) continue;
    std::string bytes;
    konseki::receiver::AppendRelpFrame(f.txnr, f.command, f.data, &bytes);
    std::vector<Owned> again;
    FUZZ_CHECK(Decode(bytes, bytes.size(), opt, &again) == RelpFrameError::kNone);
    FUZZ_CHECK(again.size() == 1 && again[0] == f);
  }
  return 0;
}
