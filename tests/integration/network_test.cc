// Network traces end to end (issue #15): generated firewall and proxy
// traffic replayed on event time through `konseki test-rules --config`, and
// a short live run through the server with util-linux logger as the sender.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

// Deterministic uniform numbers in [-1, 1).
class Lcg {
 public:
  explicit Lcg(uint64_t seed) : s_(seed) {}
  double Next() {
    s_ = s_ * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(s_ >> 11) / static_cast<double>(1ull << 53) * 2 - 1;
  }
  int Int(int lo, int hi) {  // inclusive
    return lo + static_cast<int>((Next() + 1) / 2 * (hi - lo + 1)) % (hi - lo + 1);
  }

 private:
  uint64_t s_;
};

constexpr int64_t kStart = 1'772'524'800;  // 2026-03-03 08:00:00 UTC

// "Mar  3 08:00:00": the RFC 3164 stamp of kStart + t (UTC; the config sets
// parser.timezone UTC).
std::string Stamp(double t) {
  std::time_t s = static_cast<std::time_t>(kStart + static_cast<int64_t>(t));
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%b %e %H:%M:%S", &tm);
  return buf;
}

struct Traffic {
  std::vector<std::pair<double, std::string>> lines;

  void Netfilter(double t, const std::string& host, const std::string& src, const std::string& dst,
                 const std::string& proto, int dport) {
    lines.emplace_back(t, Stamp(t) + " " + host +
                              " kernel: FWD-NEW: IN=eth1 OUT=eth0 MAC=52:54:00:12:34:56:52:54:00:"
                              "65:43:21:08:00 SRC=" +
                              src + " DST=" + dst +
                              " LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=4242 DF PROTO=" + proto +
                              " SPT=40000 DPT=" + std::to_string(dport) + " LEN=40");
  }
  void Squid(double t, const std::string& client, int bytes, const std::string& request) {
    char epoch[32];
    std::snprintf(epoch, sizeof epoch, "%lld.%03d", static_cast<long long>(kStart + t),
                  static_cast<int>((t - static_cast<int64_t>(t)) * 1000));
    lines.emplace_back(t, Stamp(t) + " proxy1 squid[811]: " + epoch + "    120 " + client +
                              " TCP_MISS/200 " + std::to_string(bytes) + " " + request +
                              " - HIER_DIRECT/203.0.113.200 -");
  }
  std::string Text() {
    std::stable_sort(lines.begin(), lines.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out;
    for (const auto& l : lines) out += l.second + "\n";
    return out;
  }
};

// The traffic: three beacons, a person browsing, two expected timers.
Traffic Generate() {
  Traffic tr;
  Lcg r(2026);
  // A 60 s beacon with 3% jitter, for two hours.
  double t = 30;
  for (int i = 0; i < 120; ++i, t += 60 * (1 + 0.03 * r.Next())) {
    tr.Netfilter(t, "gw1", "10.0.0.23", "203.0.113.7", "TCP", 443);
  }
  // A 300 s beacon with 10% jitter that misses its 15th call.
  t = 100;
  for (int i = 0; i < 40; ++i, t += 300 * (1 + 0.1 * r.Next())) {
    if (i != 14) tr.Netfilter(t, "gw1", "10.0.0.24", "198.51.100.44", "TCP", 8443);
  }
  // A beacon through the proxy whose period drifts from 60 s to 104 s.
  t = 200;
  for (int i = 0; i < 45; ++i, t += 60 + i) {
    tr.Squid(t, "10.0.0.25", 4100 + static_cast<int>(20 * r.Next()),
             "CONNECT drift.example.com:443");
  }
  // A person: sessions 10 to 30 min apart, each a few of 20 sites, each site
  // a handful of requests seconds apart.
  t = 60;
  for (int session = 0; session < 14; ++session, t += r.Int(600, 1800)) {
    double s = t;
    const int sites = r.Int(3, 8);
    for (int k = 0; k < sites; ++k) {
      const int site = k < 2 ? k : r.Int(2, 19);  // two favourites every time
      const int requests = r.Int(1, 12);
      for (int q = 0; q < requests; ++q, s += r.Int(0, 8)) {
        tr.Squid(s, "10.0.0.50", r.Int(300, 250000),
                 "CONNECT site" + std::to_string(site) + ".example.org:443");
      }
    }
  }
  // An NTP client polling every 64 s, and a package-update timer every 10 min.
  for (int i = 0; i < 110; ++i)
    tr.Netfilter(10 + 64.0 * i, "gw1", "10.0.0.30", "192.0.2.123", "UDP", 123);
  for (int i = 0; i < 24; ++i) {
    tr.Squid(40 + 600 * i + 5 * r.Next(), "10.0.0.31", 5120,
             "GET http://deb.debian.org/debian/dists/bookworm/InRelease");
  }
  return tr;
}

// "src -> dst" of every net.beacon alert in test-rules JSON output.
std::multiset<std::string> Beacons(const std::string& json) {
  std::multiset<std::string> out;
  std::istringstream in(json);
  auto field = [](const std::string& line, const std::string& name) {
    const std::string key = "\"" + name + "\":\"";
    size_t p = line.find(key);
    if (p == std::string::npos) return std::string("?");
    p += key.size();
    return line.substr(p, line.find('"', p) - p);
  };
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"sign\":\"net.beacon\"") == std::string::npos) continue;
    out.insert(field(line, "src_ip") + " -> " + field(line, "dst"));
  }
  return out;
}

std::string RunTestRules(const TempDir& dir, const std::string& network) {
  std::ofstream(dir.File("net.yaml"))
      << "listen: [udp://127.0.0.1:0]\nparser:\n  timezone: UTC\nnetwork:\n"
      << network;
  ChildProcess p;
  EXPECT_TRUE(p.Start({KonsekiBinary(), "test-rules", "--config", dir.File("net.yaml"), "--json",
                       dir.File("traffic.log")},
                      dir.File("tr")));
  EXPECT_TRUE(WaitFor([&] { return !p.running(); }, std::chrono::seconds(60)));
  EXPECT_THAT(p.Stderr(), ::testing::Not(::testing::HasSubstr("konseki:"))) << p.Stderr();
  return p.Stdout();
}

class NetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
    std::ofstream(dir_.File("traffic.log")) << Generate().Text();
  }
  TempDir dir_;
};

TEST_F(NetworkTest, ReplayedBeaconsAlertOnceAndBrowsingAndAllowListedTimersDoNot) {
  const std::string out =
      RunTestRules(dir_, "  beacon:\n    allow: [192.0.2.123, \"*.debian.org\"]\n");
  EXPECT_EQ(Beacons(out),
            (std::multiset<std::string>{"10.0.0.23 -> 203.0.113.7", "10.0.0.24 -> 198.51.100.44",
                                        "10.0.0.25 -> drift.example.com"}))
      << out.substr(0, 4000);
}

TEST_F(NetworkTest, WithAnEmptyAllowListTheTimersAreBeaconsToo) {
  const std::string out = RunTestRules(dir_, "  beacon:\n    score: 0.8\n    allow: []\n");
  const auto beacons = Beacons(out);
  EXPECT_EQ(beacons.count("10.0.0.30 -> 192.0.2.123"), 1u);
  EXPECT_EQ(beacons.count("10.0.0.31 -> deb.debian.org"), 1u);
  for (const std::string& b : beacons) EXPECT_EQ(b.find("10.0.0.50"), std::string::npos) << b;
}

// The default allow list (patterns/network.yaml) leaves NTP (port 123) out,
// not a package mirror.
TEST_F(NetworkTest, TheDefaultAllowListLeavesTheNtpTimerOut) {
  const std::string out = RunTestRules(dir_, "  beacon:\n    score: 0.8\n");
  const auto beacons = Beacons(out);
  EXPECT_EQ(beacons.count("10.0.0.30 -> 192.0.2.123"), 0u);
  EXPECT_EQ(beacons.count("10.0.0.31 -> deb.debian.org"), 1u);
}

// A near-perfect beacon (score >= 0.95) from its 12th call on, any other at
// its 20th (the packs' early_count / early_score and count).
TEST_F(NetworkTest, NearPerfectBeaconsAreFoundFromTheTwelfthCallOthersAtTheTwentieth) {
  const std::string out = RunTestRules(dir_, "  beacon:\n    allow: [192.0.2.123]\n");
  std::istringstream in(out);
  int early = 0, late = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"sign\":\"net.beacon\"") == std::string::npos) continue;
    const size_t at = line.find("\"score\":\"");
    ASSERT_NE(at, std::string::npos) << line;
    const double score = std::stod(line.substr(at + 9));
    const size_t c = line.find("\"count\":\"");
    ASSERT_NE(c, std::string::npos) << line;
    const int count = std::stoi(line.substr(c + 9));
    if (count < 20) {
      EXPECT_GE(count, 12) << line;
      EXPECT_GE(score, 0.95) << line;
      ++early;
    } else {
      EXPECT_EQ(count, 20) << line;
      ++late;
    }
  }
  EXPECT_GT(early + late, 0) << out.substr(0, 4000);
}

// The server, live: logger sends a 1 s beacon (6 calls needed), an
// allow-listed timer, a person's bursts and firewall drops.
TEST(NetworkLiveTest, LoggerTrafficThroughTheServer) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  if (!HaveProgram("/usr/bin/logger")) GTEST_SKIP() << "util-linux logger not installed";
  TempDir dir;
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen:\n  - tcp://127.0.0.1:0\narchive:\n  dir: " + dir.File("archive") +
                          "\nalerts:\n  file: " + dir.File("alerts.jsonl") +
                          "\n  stdout: false\nworkers: 2\nmetrics:\n  listen: 127.0.0.1:0\n"
                          "heartbeat:\n  state_dir: " +
                          dir.File("state") +
                          "\nnetwork:\n  no_outbound: [10.0.5.0/24]\n  beacon:\n"
                          "    min_connections: 6\n    burst_secs: 0.2\n"
                          "    allow: [192.0.2.123]\n",
                      &err))
      << err;
  auto log = [&](const std::string& text) {
    ChildProcess p;
    ASSERT_TRUE(p.Start({"/usr/bin/logger", "--server", "127.0.0.1", "--port",
                         std::to_string(k.Port("tcp")), "--tcp", "--rfc5424", "-t", "kernel", text},
                        dir.File("logger")));
    ASSERT_TRUE(WaitFor([&] { return !p.running(); }));
  };
  auto conn = [](const std::string& src, const std::string& dst, int port) {
    return "FWD-NEW: IN=eth1 OUT=eth0 SRC=" + src + " DST=" + dst +
           " LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=1 DF PROTO=TCP SPT=40000 DPT=" +
           std::to_string(port) + " WINDOW=64240 RES=0x00 SYN URGP=0";
  };
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i) {
    // Paces the sender (the traffic's period), not a wait for a result.
    std::this_thread::sleep_until(start + std::chrono::seconds(i));
    log(conn("10.0.0.23", "203.0.113.7", 443));
    log(conn("10.0.0.30", "192.0.2.123", 123));
    for (int q = 0; q < (i % 3 == 0 ? 3 : 0); ++q) {
      log(conn("10.0.0.50", "198.51.100." + std::to_string(i * 3 + q), 443));
    }
  }
  log("[UFW BLOCK] IN= OUT=eth0 SRC=10.0.5.7 DST=198.51.100.20 LEN=60 TOS=0x00 PREC=0x00 "
      "TTL=64 ID=1 DF PROTO=TCP SPT=40000 DPT=443 WINDOW=64240 RES=0x00 SYN URGP=0");
  log("[UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.20 DST=10.0.5.7 LEN=60 TOS=0x00 PREC=0x00 "
      "TTL=64 ID=1 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0");
  auto alerts = [&](const std::string& sign) {
    std::vector<std::string> out;
    std::istringstream in(ReadFile(dir.File("alerts.jsonl")));
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"sign\":\"" + sign + "\"") != std::string::npos) out.push_back(line);
    }
    return out;
  };
  ASSERT_TRUE(WaitFor(
      [&] { return !alerts("net.beacon").empty() && !alerts("net.unexpected_outbound").empty(); }));
  EXPECT_EQ(k.process().Signal(SIGTERM), 0);
  const auto beacons = alerts("net.beacon");
  ASSERT_EQ(beacons.size(), 1u);
  EXPECT_THAT(beacons[0], ::testing::HasSubstr("\"src_ip\":\"10.0.0.23\""));
  const auto unexpected = alerts("net.unexpected_outbound");
  ASSERT_EQ(unexpected.size(), 1u);
  // Alert JSON types its fields: blocked is a boolean.
  EXPECT_THAT(unexpected[0], ::testing::HasSubstr("\"blocked\":true")) << unexpected[0];
  // The outbound drop alerts; the inbound one is only counted.
  const auto drops = alerts("firewall.drop");
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_THAT(drops[0], ::testing::HasSubstr("\"direction\":\"outbound\""));
}

}  // namespace
}  // namespace konseki::testing
