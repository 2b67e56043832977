// Cost of sealing the archive and speed of `konseki verify`, each against a
// peer in the same run.
//
//   BM_Archive_Plain            Archive::Append of corpus lines (8 hosts),
//                               Flush every 8192 messages, no sealing
//   BM_Archive_Sealed           the same plus Sealer::Poll after each Flush on
//                               the same thread, so the CPU time includes
//                               reading the lines back and hashing them (in
//                               konseki the sealer has its own thread)
//   BM_Verify_Archive           VerifyArchive (with the key) of a sealed
//                               archive of ~256 MB of corpus lines
//   BM_Sha256_ReadOnly          the floor: read the same files and SHA-256 them
//
// Files go to $KONSEKI_BENCH_DIR, else /dev/shm, else /tmp. Overhead per
// message = Sealed - Plain (CPU ns per item); verify/floor = the two GB/s.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/message.h"
#include "common/metrics.h"
#include "outputs/archive.h"
#include "outputs/archive_verify.h"
#include "outputs/seal_format.h"
#include "outputs/seal_key.h"
#include "outputs/sealer.h"

namespace konseki::outputs {
namespace {

namespace fs = std::filesystem;

std::string BenchDir(const std::string& name) {
  const char* env = std::getenv("KONSEKI_BENCH_DIR");
  std::string base = env ? env : fs::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string d = base + "/konseki_seal_bench_" + name + "_" + std::to_string(getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Every line of the corpus (loghub, crowdsec, fail2ban, wazuh).
const std::vector<std::string>& CorpusLines() {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> out;
    const fs::path dir(KONSEKI_CORPUS_DIR);
    if (fs::exists(dir)) {
      for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file() || e.path().filename() == "README.md") continue;
        std::ifstream in(e.path());
        for (std::string l; std::getline(in, l);) {
          if (!l.empty()) out.push_back("<13>" + l);
        }
      }
    }
    if (out.empty()) out.push_back("<13>Nov 23 08:00:00 h sshd[1]: Accepted password for root");
    return out;
  }();
  return lines;
}

struct Setup {
  std::string dir;
  FakeClock clock{TimePoint(std::chrono::seconds(1'764'547'200 + 60))};
  MetricsRegistry metrics;
  VerificationKey vk;
  std::unique_ptr<Archive> archive;
  std::unique_ptr<Sealer> sealer;

  Setup(const std::string& name, bool seal) : dir(BenchDir(name)) {
    auto st = NewSealKeyState(1'764'547'200, 900, &vk);
    SealKeyFile::Create(DefaultSealKeyPath(dir), *st);
    ArchiveOptions ao;
    ao.dir = dir;
    ao.sync = SyncPolicy::kNone;
    archive = std::move(Archive::Open(ao, clock, metrics)).value();
    if (seal) {
      SealerOptions so;
      so.archive_dir = dir;
      sealer = std::move(Sealer::Open(so, clock, metrics)).value();
    }
  }
  ~Setup() {
    sealer.reset();
    archive.reset();
    fs::remove_all(dir);
  }
};

void RunArchive(benchmark::State& state, bool seal, const char* name) {
  Setup s(name, seal);
  const auto& lines = CorpusLines();
  static const char* kHosts[] = {"web01", "web02", "db01", "mail", "fw1", "fw2", "vpn", "dns"};
  Message m;
  m.sender = "192.0.2.7";
  size_t i = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    m.raw = lines[i % lines.size()];
    m.hostname = kHosts[i % 8];
    m.received = s.clock.Now();
    s.archive->Append(m);
    bytes += m.raw.size() + 40;
    if (++i % 8192 == 0) {
      s.archive->Flush();
      if (s.sealer) s.sealer->Poll();
    }
  }
  s.archive->Flush();
  if (s.sealer) s.sealer->Poll();
  state.SetItemsProcessed(static_cast<int64_t>(i));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void BM_Archive_Plain(benchmark::State& state) { RunArchive(state, false, "plain"); }
void BM_Archive_Sealed(benchmark::State& state) { RunArchive(state, true, "sealed"); }
BENCHMARK(BM_Archive_Plain)->Iterations(2'000'000)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_Archive_Sealed)->Iterations(2'000'000)->Unit(benchmark::kNanosecond);

// A sealed archive of about 256 MB, made once.
struct SealedArchive {
  std::unique_ptr<Setup> s;
  uint64_t bytes = 0;
  std::vector<std::string> files;
};
SealedArchive& Sealed() {
  static SealedArchive a = [] {
    SealedArchive out;
    out.s = std::make_unique<Setup>("verify", true);
    const auto& lines = CorpusLines();
    Message m;
    m.sender = "192.0.2.7";
    static const char* kHosts[] = {"web01", "web02", "db01", "mail"};
    for (size_t i = 0; out.bytes < (256u << 20); ++i) {
      m.raw = lines[i % lines.size()];
      m.hostname = kHosts[i % 4];
      m.received = out.s->clock.Now();
      out.s->archive->Append(m);
      out.bytes += m.raw.size() + 40;
      if (i % 65536 == 0) {
        out.s->archive->Flush();
        out.s->sealer->Poll();
        out.s->clock.Advance(std::chrono::seconds(60));  // 15 epochs per 15 flushes
      }
    }
    out.s->archive->Flush();
    out.s->sealer->Stop();
    for (const auto& e : fs::recursive_directory_iterator(out.s->dir)) {
      if (e.is_regular_file() && e.path().extension() == ".log") out.files.push_back(e.path());
    }
    return out;
  }();
  return a;
}

void BM_Verify_Archive(benchmark::State& state) {
  SealedArchive& a = Sealed();
  uint64_t bytes = 0;
  for (auto _ : state) {
    VerifyOptions o;
    o.root = a.s->dir;
    o.key = a.s->vk;
    auto r = VerifyArchive(o);
    if (!r.ok() || !r->ok()) state.SkipWithError("verify failed");
    bytes += r->bytes_hashed;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Verify_Archive)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Sha256_ReadOnly(benchmark::State& state) {
  SealedArchive& a = Sealed();
  uint64_t bytes = 0;
  std::vector<char> buf(1 << 20);
  for (auto _ : state) {
    for (const std::string& f : a.files) {
      Sha256Stream sha;
      int fd = open(f.c_str(), O_RDONLY);
      ssize_t n;
      while ((n = read(fd, buf.data(), buf.size())) > 0) {
        sha.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
        bytes += static_cast<uint64_t>(n);
      }
      close(fd);
      benchmark::DoNotOptimize(sha.Finish());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Sha256_ReadOnly)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace konseki::outputs

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
