// The worker path per message (issue 17): frames pushed through the Router
// as a listener thread pushes them, handed to one Worker that rebuilds the
// Message, writes the archive line, runs the bundled rule packs, the host
// correlations and the heartbeat tracker (tests/testing/worker_path.h: the
// server's assembly; alerts end in a counting sink).
//
// Counters, over the timed loop after two warm-up passes (hosts known,
// buffers and batch pool grown):
//   allocs_per_msg  heap allocations (all threads, tests/testing/alloc_counter.h)
//                   per message; the steady state should be 0 for lines that
//                   raise nothing, and what alerts cost for the others
//   alerts_per_msg  alerts the rules and correlations raised per message
// items/s is the path's throughput on two threads (this one routing, the
// worker processing), so ns per message is a ceiling, not a CPU profile.
//
// Arg 0: frames per Router flush (one "read": 256 ≈ a 64 KiB TCP read,
// 16 ≈ a UDP wake-up at low rate). Cases:
//   Benign  256-byte lines of 16 hosts that match no rule (round robin:
//           every line another host than the line before)
//   OneHost the same lines, all of one host (a TCP connection per host)
//   Relay   the same lines of 200 hosts, round robin (a relay forwarding a
//           fleet over one connection; below archive.max_open_files)
//   Blast   bench/ingest/run's blaster mix: Benign with 1% sshd failures
//   Loghub  the corpus's Linux and OpenSSH syslog files (attack-heavy: most
//           lines hit a rule), when KONSEKI_CORPUS_DIR has them
//   Loggen  what bench/ingest/run's loggen scenarios send: 256-byte RFC 5424
//           lines of one host ("localhost", prg00000, a BOM, "seq: ...")
// Arg 1 (Loggen): 1 = the worker runs to completion (app/worker.h), as the
// server runs one worker on one CPU: then the whole path runs on this thread
// and `valgrind --tool=callgrind --toggle-collect='*WorkerPath::Push*'`
// counts it (instructions per message = total / messages pushed, warm-up
// included).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/testing/alloc_counter.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/worker_path.h"

namespace konseki {
namespace {

using testing::AllocationCount;
using testing::WorkerPath;

constexpr size_t kLines = 8192;
constexpr size_t kLineBytes = 256;
constexpr char kSender[] = "192.0.2.10";

// The shape of bench/ingest/run's blaster file: `hosts` hosts (16 there),
// seven programs, `failures_every` > 0 puts an sshd "Failed password" line
// every that many.
std::vector<std::string> SyntheticLines(size_t failures_every, size_t hosts = 16) {
  static const char* const kProgs[] = {"CRON", "kernel", "nginx", "postfix/smtpd", "systemd"};
  std::vector<std::string> lines;
  for (size_t i = 0; i < kLines; ++i) {
    std::string line = "<38>Dec  2 08:00:00 web" + std::to_string(i % hosts) + " ";
    if (failures_every > 0 && i % failures_every == 7) {
      line += "sshd[" + std::to_string(1000 + i % 9000) +
              "]: Failed password for invalid user admin from 203.0.113." +
              std::to_string(i % 250 + 1) + " port " + std::to_string(1024 + i) + " ssh2";
    } else {
      line += std::string(kProgs[i % 5]) + "[" + std::to_string(1000 + i % 9000) +
              "]: seq: " + std::to_string(i) + ", routine message for the worker benchmark ";
    }
    while (line.size() < kLineBytes) line += "PADD";
    line.resize(kLineBytes);
    lines.push_back(std::move(line));
  }
  return lines;
}

std::vector<std::string> LoghubLines() {
  std::vector<std::string> lines;
  for (const char* file : {"Linux_2k.log", "OpenSSH_2k.log"}) {
    std::ifstream in(std::string(KONSEKI_CORPUS_DIR) + "/loghub/" + file);
    for (std::string l; std::getline(in, l);) {
      if (!l.empty()) lines.push_back("<38>" + l);
    }
  }
  return lines;
}

// loggen -S -P -s 256's lines (syslog-ng 3.38).
std::vector<std::string> LoggenLines() {
  std::vector<std::string> lines;
  for (size_t i = 0; i < kLines; ++i) {
    char seq[16];
    std::snprintf(seq, sizeof(seq), "%010zu", i);
    std::string line =
        "<38>1 2026-12-03T02:34:51+00:00 localhost prg00000 1234 - - \xEF\xBB\xBFseq: " +
        std::string(seq) + ", thread: 0000, runid: 1796265291, stamp: 2026-12-03T02:34:51 ";
    while (line.size() < kLineBytes) line += "PADD";
    line.resize(kLineBytes);
    lines.push_back(std::move(line));
  }
  return lines;
}

void RunPath(benchmark::State& state, const std::vector<std::string>& lines,
             bool run_to_completion = false) {
  if (lines.empty()) {
    state.SkipWithError("no lines (corpus missing?)");
    return;
  }
  testing::TempDir tmp;
  testing::WorkerPathOptions options;
  options.dir = tmp.path();
  options.run_to_completion = run_to_completion;
  auto path = WorkerPath::Create(options);
  if (!path.ok()) {
    state.SkipWithError(path.status().ToString().c_str());
    return;
  }
  WorkerPath& p = **path;
  const size_t per_read = static_cast<size_t>(state.range(0));
  uint64_t total = 0;
  for (int warm = 0; warm < 2; ++warm) {
    p.Push(lines, kSender, per_read);
    total += lines.size();
    if (!p.WaitProcessed(total)) state.SkipWithError("worker did not keep up");
  }
  const uint64_t allocs0 = AllocationCount();
  const uint64_t alerts0 = p.alerts();
  uint64_t messages = 0;
  for (auto _ : state) {
    p.Push(lines, kSender, per_read);
    total += lines.size();
    messages += lines.size();
    if (!p.WaitProcessed(total)) state.SkipWithError("worker did not keep up");
  }
  const double n = static_cast<double>(messages);
  state.SetItemsProcessed(static_cast<int64_t>(messages));
  state.counters["allocs_per_msg"] = static_cast<double>(AllocationCount() - allocs0) / n;
  state.counters["alerts_per_msg"] = static_cast<double>(p.alerts() - alerts0) / n;
}

void BM_WorkerPath_Benign(benchmark::State& state) {
  static const std::vector<std::string> lines = SyntheticLines(0);
  RunPath(state, lines);
}
void BM_WorkerPath_OneHost(benchmark::State& state) {
  static const std::vector<std::string> lines = SyntheticLines(0, 1);
  RunPath(state, lines);
}
void BM_WorkerPath_Relay(benchmark::State& state) {
  static const std::vector<std::string> lines = SyntheticLines(0, 200);
  RunPath(state, lines);
}
void BM_WorkerPath_Blast(benchmark::State& state) {
  static const std::vector<std::string> lines = SyntheticLines(100);
  RunPath(state, lines);
}
void BM_WorkerPath_Loghub(benchmark::State& state) {
  static const std::vector<std::string> lines = LoghubLines();
  RunPath(state, lines);
}
void BM_WorkerPath_Loggen(benchmark::State& state) {
  static const std::vector<std::string> lines = LoggenLines();
  RunPath(state, lines, state.range(1) != 0);
}

BENCHMARK(BM_WorkerPath_Benign)->Arg(256)->Arg(16)->UseRealTime();
BENCHMARK(BM_WorkerPath_OneHost)->Arg(256)->UseRealTime();
BENCHMARK(BM_WorkerPath_Relay)->Arg(256)->UseRealTime();
BENCHMARK(BM_WorkerPath_Blast)->Arg(256)->Arg(16)->UseRealTime();
BENCHMARK(BM_WorkerPath_Loghub)->Arg(256)->UseRealTime();
BENCHMARK(BM_WorkerPath_Loggen)
    ->Args({256, 0})
    ->Args({256, 1})
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
}  // namespace konseki

BENCHMARK_MAIN();
