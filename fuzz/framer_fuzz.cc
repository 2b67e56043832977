// Framer (RFC 6587): the frames of a stream do not depend on how it is split
// into Feed calls, never exceed the max, and memory stays bounded.
//
// Input: byte 0 = chunk size - 1, byte 1 = max_message_bytes; the rest is the
// TCP byte stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "receiver/framer.h"

namespace {

using konseki::receiver::Framer;
using konseki::receiver::OwnedFrame;

std::vector<OwnedFrame> Frames(std::string_view stream, size_t chunk, size_t max) {
  Framer framer(max);
  std::vector<OwnedFrame> out;
  while (!stream.empty()) {
    std::string_view piece = stream.substr(0, chunk);
    stream.remove_prefix(piece.size());
    framer.Feed(piece, &out);
    // The header promises max + 1; the digits of an octet count (up to 12)
    // are held too, which matters only for a max below 12.
    FUZZ_CHECK(framer.buffered_bytes() <= std::max<size_t>(max + 1, 12));
  }
  framer.Finish(&out);
  for (const OwnedFrame& f : out) FUZZ_CHECK(f.bytes.size() <= max);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t chunk = static_cast<size_t>(data[0]) + 1;
  const size_t max = static_cast<size_t>(data[1]) + 1;
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  FUZZ_CHECK(Frames(stream, stream.size() + 1, max) == Frames(stream, chunk, max));
  return 0;
}
