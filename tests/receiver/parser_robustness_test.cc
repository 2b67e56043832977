// Malformed input and the real-world corpus: the parser must never crash,
// never read outside its input, and always keep the raw bytes.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "receiver/parser.h"

// GCC 12 reports a false -Wmaybe-uninitialized inside <regex> under
// -fsanitize builds; the regex here is only the test's independent oracle.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop

namespace konseki::receiver {
namespace {

namespace fs = std::filesystem;

const TimePoint kReceived = TimePoint(std::chrono::seconds(1'795'420'800));  // 2026-11-23

// The input copied to a heap block of exactly its size, so a sanitizer build
// catches a read one byte past the end.
class ExactBuffer {
 public:
  explicit ExactBuffer(std::string_view s) : size_(s.size()), data_(new char[s.size()]) {
    if (size_ > 0) std::memcpy(data_.get(), s.data(), size_);
  }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  size_t size_;
  std::unique_ptr<char[]> data_;
};

bool Inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

std::string_view WithoutLineEnd(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Invariants that hold for every input.
void ExpectSane(std::string_view in, const Message& m) {
  SCOPED_TRACE(std::string(in.substr(0, 200)));
  EXPECT_EQ(m.raw.data(), in.data());
  EXPECT_EQ(m.raw.size(), in.size());
  EXPECT_EQ(m.received, kReceived);
  for (const std::string_view v :
       {m.hostname, m.app_name, m.procid, m.msgid, m.structured_data, m.msg}) {
    EXPECT_TRUE(Inside(v, in));
  }
  EXPECT_GE(m.pri, -1);
  EXPECT_LE(m.pri, 191);
  if (!m.has_timestamp) {
    EXPECT_EQ(m.timestamp, kReceived);
  }
  if (m.format == MessageFormat::kUnparsed) {
    EXPECT_NE(m.issue, ParseIssue::kNone);
    EXPECT_EQ(m.msg.data(), in.data());
    EXPECT_EQ(m.msg, WithoutLineEnd(in));
    EXPECT_TRUE(m.hostname.empty());
    EXPECT_TRUE(m.app_name.empty());
    EXPECT_TRUE(m.procid.empty());
    EXPECT_TRUE(m.structured_data.empty());
    EXPECT_FALSE(m.has_timestamp);
  }
  if (m.format != MessageFormat::kRfc5424) {
    EXPECT_TRUE(m.msgid.empty());
    EXPECT_TRUE(m.structured_data.empty());
  }
}

// A parsed message together with the bytes its views point into.
struct Parsed {
  ExactBuffer bytes;
  Message m;
};

Parsed ParseChecked(std::string_view s) {
  Parsed p{ExactBuffer(s), Message()};
  Parser().Parse(p.bytes.view(), kReceived, &p.m);
  ExpectSane(p.bytes.view(), p.m);
  return p;
}

const char* const kValid[] = {
    "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' "
    "failed",
    "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
    "iut=\"3\" eventSource=\"App\\\"x\\]\"][examplePriority@32473 class=\"high\"] msg",
    "<13>2026-11-23T08:00:00.123456+09:00 host tag[123]: msg",
    "<13>Nov  3 08:00:00 host sshd[12]: Failed password for root",
    "<6>Nov 23 08:00:00 kernel: [  123.456] usb 1-1",
    "2020-03-23 06:47:42.801612-0700  localhost sshd[3186]: error",
    "2015 Nov 13 13:40:01 ether rsyslogd-2177: imuxsock",
    "<13>Nov 23 08:00:00 ホスト app[1]: ログイン失敗",
};

TEST(ParserMalformedTest, EveryTruncationOfValidMessagesIsSane) {
  for (const char* valid : kValid) {
    const std::string_view full(valid);
    for (size_t n = 0; n <= full.size(); ++n) ParseChecked(full.substr(0, n));
  }
}

TEST(ParserMalformedTest, EverySingleByteSubstitutionIsSane) {
  const char kSpecial[] = {'\0', ' ', '<', '>', '[', ']', '"', '\\', ':', '-', '1', '\n', '\xFF'};
  for (const char* valid : kValid) {
    std::string s(valid);
    for (size_t i = 0; i < s.size(); ++i) {
      const char saved = s[i];
      for (const char c : kSpecial) {
        s[i] = c;
        ParseChecked(s);
      }
      s[i] = saved;
    }
  }
}

TEST(ParserMalformedTest, BadPrisAreUnparsedWithBadPri) {
  for (const std::string_view in : {"<999>1 - - - - - -", "<>", "<>x", "<192>x", "<-1>x", "<1a>x",
                                    "<", "<1", "<12345>x", "<0001>x"}) {
    const Parsed p = ParseChecked(in);
    const Message& m = p.m;
    EXPECT_EQ(m.format, MessageFormat::kUnparsed) << in;
    EXPECT_EQ(m.issue, ParseIssue::kBadPri) << in;
  }
}

TEST(ParserMalformedTest, RandomBinaryGarbageIsSane) {
  std::mt19937 rng(20261123);  // fixed seed: reproducible
  std::uniform_int_distribution<int> len(0, 300), byte(0, 255);
  const std::string_view alphabet = "<>[]\"\\:- 0123456789TZ+.Nov";
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  for (int i = 0; i < 3000; ++i) {
    std::string s(static_cast<size_t>(len(rng)), '\0');
    // Half pure bytes, half drawn from syslog's own punctuation (reaches deeper states).
    for (char& c : s) c = i % 2 ? static_cast<char>(byte(rng)) : alphabet[pick(rng)];
    if (i % 3 == 0) s = "<13>1 " + s;
    if (i % 3 == 1) s = "<13>Nov 23 08:00:00 " + s;
    ParseChecked(s);
  }
}

TEST(ParserMalformedTest, NulBytesAndInvalidUtf8KeepRaw) {
  const std::string nul_line("<13>Nov 23 08:00:00 h\0st ap\0p[1\0]: m\0g", 38);
  ParseChecked(nul_line);
  ParseChecked(std::string(50, '\0'));
  const Parsed p = ParseChecked("<13>1 - h\xFF a\xC3 - - [i\xE9 a=\"\xF5\"] \xC0\x80");
  const Message& m = p.m;
  EXPECT_EQ(m.format, MessageFormat::kRfc5424);
}

TEST(ParserMalformedTest, OneMegabyteLinesAreSane) {
  const size_t kMb = 1 << 20;
  const Parsed big = ParseChecked("<13>Nov 23 08:00:00 host app[1]: " + std::string(kMb, 'x'));
  EXPECT_EQ(big.m.format, MessageFormat::kRfc3164);
  EXPECT_EQ(big.m.msg.size(), kMb);
  const Parsed open_sd = ParseChecked("<13>1 - h a - - [id " + std::string(kMb, 'a'));
  EXPECT_EQ(open_sd.m.issue, ParseIssue::kBadStructuredData);
  ParseChecked("<13>1 - h a - - [id a=\"" + std::string(kMb, '\\'));
  ParseChecked(std::string(kMb, '<'));
  ParseChecked(std::string(kMb, '['));
  ParseChecked("<13>Nov 23 08:00:00 host app[" + std::string(kMb, '1'));
  ParseChecked("<13>Nov 23 08:00:00 " + std::string(kMb, 'h'));
}

// --- The real-world corpus (shared/corpus beside the checkout) ---

std::vector<std::string> ReadLines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

fs::path CorpusDir() { return fs::path(KONSEKI_CORPUS_DIR); }

#define SKIP_WITHOUT_CORPUS()                                                      \
  if (!fs::is_directory(CorpusDir())) {                                            \
    GTEST_SKIP() << "real-world corpus not found at " << CorpusDir()               \
                 << " (shared/corpus beside the checkout); corpus checks skipped"; \
  }

// An independent check of "this line starts with a syslog timestamp".
bool StartsWithStamp(const std::string& line) {
  static const std::regex kStamp(
      R"(^(<\d{1,3}>)?((\d{4} )?[A-Z][a-z]{2} [ 0-9]?\d (\d{4} )?\d\d:\d\d:\d\d|)"
      R"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)( |\.|[+-]|Z))");
  return std::regex_search(line, kStamp);
}

struct CorpusStats {
  int lines = 0, stamped = 0, rfc3164 = 0, rfc5424 = 0, unparsed = 0;
};

void ParseCorpusLine(const std::string& line, CorpusStats* stats) {
  const Parsed p = ParseChecked(line);
  const Message& m = p.m;
  ++stats->lines;
  if (m.format == MessageFormat::kRfc3164) ++stats->rfc3164;
  if (m.format == MessageFormat::kRfc5424) ++stats->rfc5424;
  if (m.format == MessageFormat::kUnparsed) ++stats->unparsed;
  if (StartsWithStamp(line)) {
    ++stats->stamped;
    EXPECT_NE(m.format, MessageFormat::kUnparsed) << line;
    EXPECT_TRUE(m.has_timestamp) << line;
  }
}

TEST(ParserCorpusTest, LinuxLoghubIsAllRfc3164FromCombo) {
  SKIP_WITHOUT_CORPUS();
  const auto lines = ReadLines(CorpusDir() / "loghub" / "Linux_2k.log");
  ASSERT_EQ(lines.size(), 2000u);
  for (const std::string& line : lines) {
    const Parsed p = ParseChecked(line);
    const Message& m = p.m;
    EXPECT_EQ(m.format, MessageFormat::kRfc3164) << line;
    EXPECT_TRUE(m.has_timestamp) << line;
    EXPECT_EQ(m.hostname, "combo") << line;
    EXPECT_FALSE(m.app_name.empty()) << line;
  }
}

TEST(ParserCorpusTest, OpenSshLoghubIsSshdWithPid) {
  SKIP_WITHOUT_CORPUS();
  const auto lines = ReadLines(CorpusDir() / "loghub" / "OpenSSH_2k.log");
  ASSERT_EQ(lines.size(), 2000u);
  for (const std::string& line : lines) {
    const Parsed p = ParseChecked(line);
    const Message& m = p.m;
    EXPECT_EQ(m.format, MessageFormat::kRfc3164) << line;
    EXPECT_EQ(m.hostname, "LabSZ") << line;
    EXPECT_EQ(m.app_name, "sshd") << line;
    EXPECT_FALSE(m.procid.empty()) << line;
    EXPECT_EQ(m.procid.find_first_not_of("0123456789"), std::string_view::npos) << line;
    // The PRI-less header is gone from msg, the text after "sshd[pid]: " is whole;
    // rsyslog's "message repeated N times: [ text]" is the text, N times.
    const std::string_view text = WithoutLineEnd(line);  // this file has CRLF line ends
    if (text.find(": message repeated ") != std::string_view::npos) {
      EXPECT_GT(m.repeats, 1u) << line;
      EXPECT_TRUE(text.ends_with("[ " + std::string(m.msg) + "]")) << line;
      continue;
    }
    EXPECT_EQ(m.repeats, 1u) << line;
    EXPECT_EQ(m.msg.data() + m.msg.size(), m.raw.data() + text.size()) << line;
    EXPECT_TRUE(text.ends_with(": " + std::string(m.msg))) << line;
  }
}

TEST(ParserCorpusTest, ApacheErrorLogIsKeptUnparsed) {
  SKIP_WITHOUT_CORPUS();
  for (const std::string& line : ReadLines(CorpusDir() / "loghub" / "Apache_2k.log")) {
    const Parsed p = ParseChecked(line);
    const Message& m = p.m;
    EXPECT_EQ(m.format, MessageFormat::kUnparsed) << line;
  }
}

TEST(ParserCorpusTest, CrowdsecAndFail2banLinesAreSane) {
  SKIP_WITHOUT_CORPUS();
  CorpusStats stats;
  for (const char* folder : {"crowdsec", "fail2ban"}) {
    for (const auto& entry : fs::directory_iterator(CorpusDir() / folder)) {
      for (const std::string& line : ReadLines(entry.path())) {
        if (line.starts_with("#")) continue;
        ParseCorpusLine(line, &stats);
      }
    }
  }
  EXPECT_GT(stats.lines, 500);
  EXPECT_GT(stats.stamped, 300);  // the syslog-shaped share of these folders
  EXPECT_GE(stats.rfc3164, stats.stamped);
  RecordProperty("lines", stats.lines);
  RecordProperty("rfc3164", stats.rfc3164);
  RecordProperty("unparsed", stats.unparsed);
}

TEST(ParserCorpusTest, WazuhTestLinesAreSane) {
  SKIP_WITHOUT_CORPUS();
  static const std::regex kLog(R"(^log \d+ (pass|fail) = (.*)$)");
  CorpusStats stats;
  for (const auto& entry : fs::directory_iterator(CorpusDir() / "wazuh")) {
    if (entry.path().extension() != ".ini") continue;
    for (const std::string& line : ReadLines(entry.path())) {
      std::smatch match;
      if (!std::regex_match(line, match, kLog)) continue;
      ParseCorpusLine(match[2].str(), &stats);
    }
  }
  EXPECT_GT(stats.lines, 150);
  EXPECT_GT(stats.stamped, 50);
  EXPECT_GE(stats.rfc3164, stats.stamped);
}

}  // namespace
}  // namespace konseki::receiver
