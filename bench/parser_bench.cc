// Parser throughput over the real-world corpus versus naive header parsers
// doing the same job in the same run: a std::regex one and a sscanf one
// (each splits PRI / timestamp / host / tag / pid / msg for RFC 3164 and
// RFC 5424 and converts the timestamp with timegm).
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/utc_time.h"
#include "receiver/parser.h"
#include "receiver/timestamp_cache.h"
#include "receiver/zone_map.h"

namespace konseki::receiver {
namespace {

namespace fs = std::filesystem;

const TimePoint kReceived = TimePoint(std::chrono::seconds(1'795'420'800));

void AddFile(const fs::path& path, bool wazuh, std::vector<std::string>* out) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  static const std::regex kLog(R"(^log \d+ (pass|fail) = (.*)$)");
  while (std::getline(in, line)) {
    if (wazuh) {
      std::smatch m;
      if (std::regex_match(line, m, kLog)) out->push_back(m[2].str());
    } else if (!line.empty() && line[0] != '#') {
      out->push_back(line);
    }
  }
}

// Every corpus line (loghub, crowdsec, fail2ban, wazuh test lines), or a
// small built-in mix when the corpus is absent.
const std::vector<std::string>& Lines() {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> v;
    const fs::path dir(KONSEKI_CORPUS_DIR);
    if (fs::is_directory(dir)) {
      for (const char* sub : {"loghub", "crowdsec", "fail2ban", "wazuh"}) {
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(dir / sub)) files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (const auto& f : files) AddFile(f, std::string_view(sub) == "wazuh", &v);
      }
    }
    if (v.empty()) {
      v = {
          "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed",
          "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
          "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] entry",
          "<13>2026-11-23T08:00:00.123456+09:00 host tag[123]: msg",
          "<38>Nov 23 08:00:01 web1 sshd[4242]: Failed password for root from 192.0.2.1 port 22",
          "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
          "Jun  8 14:34:33 sd-126005 kernel: [50028442.088484] IN=enp1s0 OUT= SRC=195.54.160.107",
          "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok",
      };
    }
    return v;
  }();
  return lines;
}

// The corpus is nearly all RFC 3164; this set exercises the RFC 5424 path
// (timestamps with fractions, structured data with escapes) with the same
// message texts: the syslog-shaped corpus lines re-sent as RFC 5424. Each
// line's stamp is a second of its own (minute and second step with the
// line), or, with lines_per_second > 1, that many lines share a second
// (their microseconds differ), as from a sender writing thousands a second.
std::vector<std::string> MakeRfc5424Lines(int lines_per_second);
const std::vector<std::string>& Rfc5424Lines() {
  static const std::vector<std::string> lines = MakeRfc5424Lines(1);
  return lines;
}
const std::vector<std::string>& Rfc5424LinesSharingSeconds() {
  static const std::vector<std::string> lines = MakeRfc5424Lines(64);
  return lines;
}

std::vector<std::string> MakeRfc5424Lines(int lines_per_second) {
  std::vector<std::string> v;
  const Parser parser;
  int seq = 0;
  for (const auto& line : Lines()) {
    Message m;
    parser.Parse(line, kReceived, &m);
    if (m.format != MessageFormat::kRfc3164) continue;
    char head[512];
    std::snprintf(head, sizeof(head),
                  "<%d>1 2026-11-23T08:%02d:%02d.%06d+09:00 %.*s %.*s %.*s ID%d "
                  "[origin@32473 seq=\"%d\" note=\"a \\\"q\\\" \\]\"] ",
                  m.pri < 0 ? 38 : m.pri, (seq / lines_per_second) % 60,
                  (seq / lines_per_second / 60) % 60, seq * 7 % 1000000,
                  static_cast<int>(m.hostname.empty() ? 1 : m.hostname.size()),
                  m.hostname.empty() ? "-" : m.hostname.data(),
                  static_cast<int>(m.app_name.empty() ? 1 : m.app_name.size()),
                  m.app_name.empty() ? "-" : m.app_name.data(),
                  static_cast<int>(m.procid.empty() ? 1 : m.procid.size()),
                  m.procid.empty() ? "-" : m.procid.data(), seq % 100, seq);
    v.push_back(std::string(head) + std::string(m.msg));
    ++seq;
  }
  return v;
}

int64_t TotalBytes(const std::vector<std::string>& lines) {
  int64_t n = 0;
  for (const auto& l : lines) n += static_cast<int64_t>(l.size());
  return n;
}

// Runs parse(line) over every line per iteration and reports lines and bytes.
template <typename Fn>
void RunOver(benchmark::State& state, const std::vector<std::string>& lines, Fn parse) {
  for (auto _ : state) {
    for (const auto& line : lines) parse(line);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(lines.size()));
  state.SetBytesProcessed(state.iterations() * TotalBytes(lines));
  state.counters["lines"] = static_cast<double>(lines.size());
}

void RunParser(benchmark::State& state, const std::vector<std::string>& lines) {
  ParserOptions options;
  options.validate_utf8 = state.range(0) != 0;
  const Parser parser(options);
  Message m;
  RunOver(state, lines, [&](const std::string& line) {
    parser.Parse(line, kReceived, &m);
    benchmark::DoNotOptimize(m);
  });
}

void BM_Parser_Corpus(benchmark::State& state) { RunParser(state, Lines()); }
BENCHMARK(BM_Parser_Corpus)->ArgName("utf8_check")->Arg(1)->Arg(0);

void BM_Parser_Rfc5424(benchmark::State& state) { RunParser(state, Rfc5424Lines()); }
BENCHMARK(BM_Parser_Rfc5424)->ArgName("utf8_check")->Arg(1);

// The same lines parsed as the Router parses them, with a TimestampCache
// (receiver/timestamp_cache.h), against the runs above. The corpus files
// repeat a stamp on neighbouring lines as real senders do; every
// Rfc5424Lines() line has a stamp of its own, so that case costs what the
// cache's misses add.
void RunParserWithCache(benchmark::State& state, const std::vector<std::string>& lines) {
  const Parser parser;
  TimestampCache cache;
  Message m;
  RunOver(state, lines, [&](const std::string& line) {
    parser.Parse(line, kReceived, &cache, &m);
    benchmark::DoNotOptimize(m);
  });
}
void BM_Parser_CorpusWithCache(benchmark::State& state) { RunParserWithCache(state, Lines()); }

// The same with parser.timezones set (receiver/zone_map.h): four exact
// names, a pattern and a network none of the corpus's hosts has (what every
// other sender's line pays), then with a map naming every host's zone
// (each line's stamp read again in it).
void RunParserWithZones(benchmark::State& state, bool all) {
  std::vector<ZoneRuleSpec> specs = {
      {{"us-legacy", "us-legacy2", "nyc-db1", "nyc-db2", "nyc-*"}, {}, "America/New_York"},
      {{}, {"10.8.0.0/16"}, "-05:00"}};
  if (all) specs.insert(specs.begin(), {{"*"}, {}, "America/New_York"});
  auto zones = ZoneMap::Build(specs);
  if (!zones.ok()) {
    state.SkipWithError(zones.status().message().c_str());
    return;
  }
  ParserOptions o;
  o.zones = zones->get();
  const Parser parser(o);
  TimestampCache cache;
  Message m;
  RunOver(state, Lines(), [&](const std::string& line) {
    parser.Parse(line, kReceived, "192.0.2.1", &cache, &m);
    benchmark::DoNotOptimize(m);
  });
}
void BM_Parser_CorpusWithCacheAndZones(benchmark::State& state) {
  RunParserWithZones(state, state.range(0) != 0);
}
BENCHMARK(BM_Parser_CorpusWithCacheAndZones)->ArgName("all_mapped")->Arg(0)->Arg(1);
BENCHMARK(BM_Parser_CorpusWithCache);
void BM_Parser_Rfc5424WithCache(benchmark::State& state) {
  RunParserWithCache(state, Rfc5424Lines());
}
BENCHMARK(BM_Parser_Rfc5424WithCache);
void BM_Parser_Rfc5424SharingSeconds(benchmark::State& state) {
  RunParser(state, Rfc5424LinesSharingSeconds());
}
BENCHMARK(BM_Parser_Rfc5424SharingSeconds)->ArgName("utf8_check")->Arg(1);
void BM_Parser_Rfc5424SharingSecondsWithCache(benchmark::State& state) {
  RunParserWithCache(state, Rfc5424LinesSharingSeconds());
}
BENCHMARK(BM_Parser_Rfc5424SharingSecondsWithCache);

// --- Naive peers ---

struct Fields {
  int pri = -1;
  std::string_view host, app, pid, msgid, sd, msg;
  int64_t epoch = 0;
  bool parsed = false;
};

int MonthIndex(const char* name) {
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (std::strncmp(name, kMonths[i], 3) == 0) return i + 1;
  }
  return 0;
}

// Timestamp via sscanf + timegm, as a hand-written receiver would.
int64_t ScanTime(const char* s) {
  int y, mo, d, h, mi, sec;
  char mon[4];
  if (std::sscanf(s, "%4d-%2d-%2d%*c%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) == 6) {
    return UtcUnixSeconds(y, mo, d, h, mi, sec);
  }
  if (std::sscanf(s, "%3s %d %d:%d:%d", mon, &d, &h, &mi, &sec) == 5) {
    return UtcUnixSeconds(2026, MonthIndex(mon), d, h, mi, sec);
  }
  return 0;
}

std::string_view Group(const std::cmatch& m, int i, const char* base) {
  if (!m[i].matched) return {};
  return {base + (m[i].first - base), static_cast<size_t>(m[i].length())};
}

class RegexParser {
 public:
  void Parse(const std::string& line, Fields* f) {
    *f = Fields();
    const char* b = line.c_str();
    if (std::regex_match(b, b + line.size(), m_, rfc5424_)) {
      f->pri = std::atoi(m_[1].first);
      f->epoch = ScanTime(m_[2].first);
      f->host = Group(m_, 3, b);
      f->app = Group(m_, 4, b);
      f->pid = Group(m_, 5, b);
      f->msgid = Group(m_, 6, b);
      f->sd = Group(m_, 7, b);
      f->msg = Group(m_, 8, b);
      f->parsed = true;
    } else if (std::regex_match(b, b + line.size(), m_, rfc3164_)) {
      if (m_[1].matched) f->pri = std::atoi(m_[1].first);
      f->epoch = ScanTime(m_[2].first);
      f->host = Group(m_, 3, b);
      f->app = Group(m_, 4, b);
      f->pid = Group(m_, 5, b);
      f->msg = Group(m_, 6, b);
      f->parsed = true;
    } else {
      f->msg = line;
    }
  }

 private:
  const std::regex rfc5424_{
      R"(<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^"\]]|"(?:[^"\\]|\\.)*")*\])+)(?: ([\s\S]*))?)"};
  const std::regex rfc3164_{
      R"((?:<(\d{1,3})>)?((?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)|)"
      R"((?:[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d)) +(?:([^ :\[]+) +)?([^ :\[]+)(?:\[(\d+)\])?:? ?([\s\S]*))"};
  std::cmatch m_;
};

void RunRegex(benchmark::State& state, const std::vector<std::string>& lines) {
  RegexParser parser;
  Fields f;
  RunOver(state, lines, [&](const std::string& line) {
    parser.Parse(line, &f);
    benchmark::DoNotOptimize(f);
  });
}

void BM_RegexBaseline_Corpus(benchmark::State& state) { RunRegex(state, Lines()); }
BENCHMARK(BM_RegexBaseline_Corpus);

void BM_RegexBaseline_Rfc5424(benchmark::State& state) { RunRegex(state, Rfc5424Lines()); }
BENCHMARK(BM_RegexBaseline_Rfc5424);

// sscanf with %n offsets: the classic C receiver.
void SscanfParse(const std::string& line, Fields* f) {
  *f = Fields();
  const char* s = line.c_str();
  int n = 0;
  if (std::sscanf(s, "<%d>%n", &f->pri, &n) == 1 && n > 0) {
    s += n;
  } else {
    f->pri = -1;
  }
  int ts = 0, host_b = 0, host_e = 0, tag_b = 0, tag_e = 0, app_b, app_e, pid_b, pid_e, id_b, id_e;
  if (s[0] == '1' && s[1] == ' ' &&
      std::sscanf(s, "1 %*s%n %n%*s%n %n%*s%n %n%*s%n %n%*s%n %n", &ts, &host_b, &host_e, &app_b,
                  &app_e, &pid_b, &pid_e, &id_b, &id_e, &tag_b) >= 0 &&
      tag_b > 0) {
    f->epoch = ScanTime(s + 2);
    f->host = std::string_view(s + host_b, host_e - host_b);
    f->app = std::string_view(s + app_b, app_e - app_b);
    f->pid = std::string_view(s + pid_b, pid_e - pid_b);
    f->msgid = std::string_view(s + id_b, id_e - id_b);
    const char* sd = s + tag_b;
    const char* sp = std::strchr(sd, ' ');
    f->sd = sp ? std::string_view(sd, sp - sd) : std::string_view(sd);
    f->msg = sp ? std::string_view(sp + 1) : std::string_view();
    f->parsed = true;
    return;
  }
  int y, mo, d, h, mi, sec, end = 0;
  char mon[4];
  if (std::sscanf(s, "%4d-%2d-%2d%*c%2d:%2d:%2d%*[^ ]%n", &y, &mo, &d, &h, &mi, &sec, &end) >= 6 ||
      std::sscanf(s, "%3s %d %d:%d:%d%n", mon, &d, &h, &mi, &sec, &end) == 5) {
    f->epoch = ScanTime(s);
  }
  if (end == 0) {
    f->msg = line;
    return;
  }
  s += end;
  if (std::sscanf(s, " %n%*[^ ]%n %n%*[^ :[]%n", &host_b, &host_e, &tag_b, &tag_e) >= 0 &&
      tag_e > 0) {
    f->host = std::string_view(s + host_b, host_e - host_b);
    f->app = std::string_view(s + tag_b, tag_e - tag_b);
    s += tag_e;
    pid_b = pid_e = 0;
    if (std::sscanf(s, "[%n%*[0-9]%n]", &pid_b, &pid_e) >= 0 && pid_e > 0) {
      f->pid = std::string_view(s + pid_b, pid_e - pid_b);
      s += pid_e + 1;
    }
    if (*s == ':') ++s;
    if (*s == ' ') ++s;
  }
  f->msg = s;
  f->parsed = true;
}

void RunSscanf(benchmark::State& state, const std::vector<std::string>& lines) {
  Fields f;
  RunOver(state, lines, [&](const std::string& line) {
    SscanfParse(line, &f);
    benchmark::DoNotOptimize(f);
  });
}

void BM_SscanfBaseline_Corpus(benchmark::State& state) { RunSscanf(state, Lines()); }
BENCHMARK(BM_SscanfBaseline_Corpus);

void BM_SscanfBaseline_Rfc5424(benchmark::State& state) { RunSscanf(state, Rfc5424Lines()); }
BENCHMARK(BM_SscanfBaseline_Rfc5424);

}  // namespace
}  // namespace konseki::receiver

BENCHMARK_MAIN();
