// Framer throughput on 256-byte messages, against std::getline over a
// std::istringstream (the naive way to split a stream on LF) in the same run.
#include <benchmark/benchmark.h>

#include <sstream>
#include <string>
#include <string_view>

#include "receiver/framer.h"

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
  if (frames != static_cast<size_t>(kMessages) * state.iterations()) {
    state.SkipWithError("wrong frame count");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kMessages);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
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
  if (frames != static_cast<size_t>(kMessages) * state.iterations()) {
    state.SkipWithError("wrong frame count");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kMessages);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_Getline_Lf);

}  // namespace
}  // namespace konseki::receiver

BENCHMARK_MAIN();
