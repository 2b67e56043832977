// Stream framing throughput on 256-byte messages: the RFC 6587 Framer against
// std::getline over a std::istringstream (the naive way to split a stream on
// LF), and the RELP frame decoder on the same messages as syslog frames
// against the octet-counted Framer, in the same run.
#include <benchmark/benchmark.h>

#include <sstream>
#include <string>
#include <string_view>

#include "receiver/framer.h"
#include "receiver/relp_frame.h"

namespace konseki::receiver {
namespace {

constexpr size_t kMessageBytes = 256;
constexpr int kMessages = 4096;

std::string Message(int i) {
  std::string m = "<34>1 2026-11-23T08:08:42.123456Z host" + std::to_string(i % 97) +
                  " sshd 4242 - - Failed password for invalid user admin from 10.0.0." +
                  std::to_string(i % 250) + " port 22 ssh2 ";
  m.resize(kMessageBytes, 'x');
  return m;
}

std::string LfStream() {
  std::string s;
  for (int i = 0; i < kMessages; ++i) s += Message(i) + "\n";
  return s;
}

std::string OctetStream() {
  std::string s;
  for (int i = 0; i < kMessages; ++i) s += std::to_string(kMessageBytes) + " " + Message(i);
  return s;
}

std::string RelpStream() {
  std::string s;
  for (int i = 0; i < kMessages; ++i) AppendRelpFrame(i + 1, "syslog", Message(i), &s);
  return s;
}

// Checks that every message was framed once per iteration and sets the
// items and bytes processed.
void Report(benchmark::State& state, size_t frames, size_t stream_bytes) {
  if (frames != static_cast<size_t>(kMessages) * state.iterations()) {
    state.SkipWithError("wrong frame count");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kMessages);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream_bytes));
}

// Feeds the stream in chunks of chunk bytes, as a TCP listener would.
void RunFramer(benchmark::State& state, const std::string& stream) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  Framer framer;
  size_t frames = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < stream.size(); i += chunk) {
      framer.Feed(std::string_view(stream).substr(i, chunk), [&](std::string_view b, bool) {
        ++frames;
        bytes += b.size();
      });
    }
    benchmark::DoNotOptimize(bytes);
  }
  Report(state, frames, stream.size());
}

void BM_Framer_OctetCounted(benchmark::State& state) {
  static const std::string stream = OctetStream();
  RunFramer(state, stream);
}
BENCHMARK(BM_Framer_OctetCounted)->Arg(1460)->Arg(64 * 1024);

void BM_Framer_Lf(benchmark::State& state) {
  static const std::string stream = LfStream();
  RunFramer(state, stream);
}
BENCHMARK(BM_Framer_Lf)->Arg(1460)->Arg(64 * 1024);

// RELP "syslog" frames in the same chunks; the peer is BM_Framer_OctetCounted.
// Frames split across chunks are assembled in the decoder's buffer.
void BM_RelpFrameDecoder_Syslog(benchmark::State& state) {
  static const std::string stream = RelpStream();
  const size_t chunk = static_cast<size_t>(state.range(0));
  RelpFrameDecoder decoder;
  RelpFrame frame;
  size_t frames = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < stream.size(); i += chunk) {
      std::string_view in = std::string_view(stream).substr(i, chunk);
      while (decoder.Next(&in, &frame) == RelpFrameDecoder::Result::kFrame) {
        ++frames;
        bytes += frame.data.size();
      }
    }
    benchmark::DoNotOptimize(bytes);
  }
  Report(state, frames, stream.size());
}
BENCHMARK(BM_RelpFrameDecoder_Syslog)->Arg(1460)->Arg(64 * 1024);

// Peer: the whole stream in one istringstream, split with std::getline.
void BM_Getline_Lf(benchmark::State& state) {
  static const std::string stream = LfStream();
  size_t frames = 0;
  size_t bytes = 0;
  std::string line;
  for (auto _ : state) {
    std::istringstream in(stream);
    while (std::getline(in, line)) {
      ++frames;
      bytes += line.size();
    }
    benchmark::DoNotOptimize(bytes);
  }
  Report(state, frames, stream.size());
}
BENCHMARK(BM_Getline_Lf);

}  // namespace
}  // namespace konseki::receiver

BENCHMARK_MAIN();
