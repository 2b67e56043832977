// The server never runs Hyperscan's compiler in its own process, at start-up
// or on reload (issue 17: its code pages and transient heap would stay in
// the server's RSS). This binary interposes hs_compile_multi: every call
// appends the calling process's pid to a file, then goes on to libhs.
#include <dlfcn.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hs/hs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app/config.h"
#include "app/server.h"
#include "common/clock.h"
#include "tests/testing/temp_dir.h"

namespace {

// Set by the test before the server compiles; read in the forked children
// too (their copy of it).
std::string g_compile_log;

}  // namespace

extern "C" hs_error_t hs_compile_multi(const char* const* expressions, const unsigned int* flags,
                                       const unsigned int* ids, unsigned int elements,
                                       unsigned int mode, const hs_platform_info_t* platform,
                                       hs_database_t** db, hs_compile_error_t** error) {
  if (!g_compile_log.empty()) {
    const int fd = open(g_compile_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      const std::string line = std::to_string(getpid()) + "\n";
      (void)!write(fd, line.data(), line.size());
      close(fd);
    }
  }
  using Fn = hs_error_t (*)(const char* const*, const unsigned int*, const unsigned int*,
                            unsigned int, unsigned int, const hs_platform_info_t*, hs_database_t**,
                            hs_compile_error_t**);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "hs_compile_multi"));
  if (real == nullptr) return HS_UNKNOWN_ERROR;
  return real(expressions, flags, ids, elements, mode, platform, db, error);
}

namespace konseki::app {
namespace {

double RulesLoaded(Server& server) {
  return server.metrics().GetGauge("konseki_rules_loaded", "")->Value();
}

uint64_t RuleReloadErrors(Server& server) {
  return server.metrics()
      .GetCounter("konseki_reload_errors_total", "", {{"what", "rules"}})
      ->Value();
}

std::vector<long> CompilingPids(const std::string& path) {
  std::vector<long> pids;
  std::ifstream in(path);
  for (long pid; in >> pid;) pids.push_back(pid);
  return pids;
}

TEST(ServerCompileChildTest, RulesAreCompiledInAChildAtStartAndOnReload) {
  testing::TempDir dir;
  g_compile_log = dir.File("compiles");
  unsetenv("CACHE_DIRECTORY");  // the cache is the state folder's cache/
  auto config = ParseConfig(
      "listen: [udp://127.0.0.1:0]\n"
      "archive: {dir: " +
          dir.File("archive") +
          "}\n"
          "alerts: {file: " +
          dir.File("alerts.jsonl") +
          ", stdout: false}\n"
          "metrics: {listen: ''}\n"
          "workers: 2\n"
          "allow_root: true\n",
      "<test>");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  SystemClock clock;
  auto server = Server::Create(*config, clock);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  // The bundled packs are two databases: the message text's and the
  // structured-data rules' (windows.yaml's NXLog SD rules), each compiled
  // in a child of its own.
  constexpr size_t kDatabases = 2;
  std::vector<long> pids = CompilingPids(g_compile_log);
  ASSERT_EQ(pids.size(), kDatabases) << "the bundled packs were compiled once at start-up";
  for (const long pid : pids) EXPECT_NE(pid, static_cast<long>(getpid()));
  EXPECT_GT(RulesLoaded(**server), 100);

  // A reload of the same packs reads the compiled databases back from the
  // cache (the state folder's cache/ here): no compile.
  (*server)->Start();
  (*server)->Reload();
  EXPECT_EQ(CompilingPids(g_compile_log).size(), kDatabases) << "the reload read the cache";
  EXPECT_EQ(RuleReloadErrors(**server), 0u);

  // Without the cache, a reload with the worker threads running compiles
  // in children forked from a process with threads.
  std::filesystem::remove_all(dir.File("archive/.state/cache"));
  (*server)->Reload();
  pids = CompilingPids(g_compile_log);
  ASSERT_EQ(pids.size(), 2 * kDatabases) << "the reload compiled once more";
  for (size_t i = kDatabases; i < pids.size(); ++i) {
    EXPECT_NE(pids[i], static_cast<long>(getpid()));
    EXPECT_NE(pids[i], pids[0]);
  }
  EXPECT_EQ(RuleReloadErrors(**server), 0u);
  EXPECT_GT(RulesLoaded(**server), 100);
  (*server)->Stop();
  g_compile_log.clear();
}

}  // namespace
}  // namespace konseki::app
