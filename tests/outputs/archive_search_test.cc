#include "outputs/archive_search.h"

#include <fnmatch.h>
#include <gtest/gtest.h>
#include <re2/re2.h>
#include <zstd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "outputs/archive_index.h"
#include "outputs/retention.h"
#include "tests/outputs/seal_test_util.h"

namespace konseki::outputs {
namespace {

namespace fs = std::filesystem;

class ArchiveSearchTest : public SealFixture {
 protected:
  std::vector<std::string> Search(SearchOptions o, Status* st = nullptr,
                                  SearchStats* stats_out = nullptr) {
    o.root = dir_;
    auto s = ArchiveSearch::Create(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    std::vector<std::string> lines;
    SearchStats stats;
    Status r = (*s)->Run([&](std::string_view l) { lines.emplace_back(l); }, &stats);
    if (st) *st = r;
    EXPECT_EQ(stats.matches, lines.size());
    if (stats_out) *stats_out = stats;
    return lines;
  }
  // "...<13>TEXT" -> TEXT
  static std::vector<std::string> Texts(const std::vector<std::string>& lines) {
    std::vector<std::string> out;
    for (const std::string& l : lines) out.push_back(l.substr(l.find("<13>") + 4));
    return out;
  }
};

TEST_F(ArchiveSearchTest, ManyPatternsOneOrderAcrossHostsAndCompressedDays) {
  Log("web01", "a Failed password for root");
  Advance(1);
  Log("db02", "b Invalid user admin");
  Advance(1);
  Log("web01", "c nothing to see");
  Advance(86400);
  Log("db02", "d Failed password for bob");
  Advance(1);
  Log("web01", "e Invalid user guest");
  ASSERT_TRUE(archive_->Flush().ok());
  // The first day compressed, as retention leaves it.
  for (const char* h : {"web01", "db02"}) {
    const std::string p = Path(std::string(h) + "/2025-12-01.log");
    ASSERT_TRUE(CompressFile(p, p + ".zst", 3).ok());
    fs::remove(p);
  }
  SearchOptions o;
  o.patterns = {"Failed password", "Invalid user [a-z]+"};
  EXPECT_EQ(Texts(Search(o)),
            (std::vector<std::string>{"a Failed password for root", "b Invalid user admin",
                                      "d Failed password for bob", "e Invalid user guest"}));
  o.host_glob = "web*";
  EXPECT_EQ(Texts(Search(o)),
            (std::vector<std::string>{"a Failed password for root", "e Invalid user guest"}));
  o.host_glob = "*";
  ASSERT_TRUE(NormalizeSearchTime("2025-12-02", &o.since));
  EXPECT_EQ(Texts(Search(o)),
            (std::vector<std::string>{"d Failed password for bob", "e Invalid user guest"}));
  o.since.clear();
  ASSERT_TRUE(NormalizeSearchTime("2025-12-01T00:00:11", &o.until));
  EXPECT_EQ(Texts(Search(o)), (std::vector<std::string>{"a Failed password for root"}));
}

TEST_F(ArchiveSearchTest, CaseAnchorsAndEveryLineOnce) {
  Log("web01", "x FAILED twice: failed failed");
  Log("web01", "y last");
  ASSERT_TRUE(archive_->Flush().ok());
  SearchOptions o;
  o.patterns = {"failed"};
  EXPECT_EQ(Search(o).size(), 1u);  // one line, though it matches three times
  o.patterns = {"FAILED", "failed"};
  EXPECT_EQ(Search(o).size(), 1u);
  o.patterns = {"y last$"};
  EXPECT_EQ(Texts(Search(o)), (std::vector<std::string>{"y last"}));
  o.patterns = {"^2025-12-01T00:00:10"};
  EXPECT_EQ(Search(o).size(), 2u);
  o.patterns = {"fAiLeD TWICE"};
  EXPECT_TRUE(Search(o).empty());
  o.caseless = true;
  EXPECT_EQ(Search(o).size(), 1u);
}

// grep -E prints every line for '^', '.*', 'x?' or 'sshd|' (each line holds
// an empty match); '^' once left out the last line of each file (its match
// at a line's start was taken for the line before). A last line without its
// '\n' (a torn write) counts; after the last '\n' there is no line.
TEST_F(ArchiveSearchTest, PatternsMatchingTheEmptyStringMatchEveryLineAsGrep) {
  Log("web01", "a sshd[1]: Accepted password for root");
  Advance(1);
  Log("db02", "b cron[2]: job");
  Advance(1);
  Log("web01", "c last of the day");
  ASSERT_TRUE(archive_->Flush().ok());
  const std::vector<std::string> all = {"a sshd[1]: Accepted password for root", "b cron[2]: job",
                                        "c last of the day"};
  SearchOptions o;
  for (const char* p : {"^", ".*", "x?", "sshd|", "$", "^|nothing", "(^)"}) {
    o.patterns = {p};
    EXPECT_EQ(Texts(Search(o)), all) << p;
  }
  o.patterns = {"^$"};  // can match "" but no archive line is empty
  EXPECT_TRUE(Search(o).empty());
  o.patterns = {"^", "sshd"};
  EXPECT_EQ(Search(o).size(), 3u);
  o.patterns = {"^2025-12-01T00:00:1[01]"};  // not empty: unchanged
  EXPECT_EQ(Search(o).size(), 2u);

  // A torn last line, and the same day compressed.
  std::ofstream(Path("web01/2025-12-01.log"), std::ios::app) << "torn";
  o.patterns = {"^"};
  EXPECT_EQ(Search(o).size(), 4u);
  o.patterns = {"n$"};
  EXPECT_EQ(Search(o), (std::vector<std::string>{"torn"}));
  o.patterns = {"^torn$"};
  EXPECT_EQ(Search(o), (std::vector<std::string>{"torn"}));
  const std::string p = Path("db02/2025-12-01.log");
  ASSERT_TRUE(CompressFile(p, p + ".zst", 3).ok());
  fs::remove(p);
  o.patterns = {"^"};
  EXPECT_EQ(Search(o).size(), 4u);
  o.patterns = {"x?"};
  EXPECT_EQ(Search(o).size(), 4u);
}

TEST_F(ArchiveSearchTest, BadPatternNamesIt) {
  SearchOptions o;
  o.root = dir_;
  o.patterns = {"ok", "bad(["};
  auto s = ArchiveSearch::Create(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("bad(["), std::string::npos);
}

// Hosts past archive.max_hosts share %overflow-<worker>/: a host glob
// searches those folders too, keeping the lines whose host the filter
// accepts; a glob naming the folder takes all of it; without a filter the
// folders are left out with a note. Through an index the same.
TEST_F(ArchiveSearchTest, HostGlobAlsoSearchesOverflowFoldersLineByLine) {
  Log("web1", "a Accepted password for root");
  ASSERT_TRUE(archive_->Flush().ok());
  fs::create_directories(Path("%overflow-0"));
  fs::create_directories(Path("%overflow-1"));
  std::ofstream(Path("%overflow-0/2025-12-01.log"))
      << "2025-12-01T00:00:01.000000Z 192.0.2.9 <13>Dec  1 00:00:01 spoof1 x: Accepted nothing\n"
         "2025-12-01T00:00:02.000000Z 192.0.2.7 <13>Dec  1 00:00:02 web7 sshd: Accepted password\n";
  std::ofstream(Path("%overflow-1/2025-12-01.log"))
      << "2025-12-01T00:00:03.000000Z 192.0.2.8 <13>Dec  1 00:00:03 web8 sshd: Accepted key\n";
  SearchOptions o;
  o.patterns = {"Accepted"};
  o.host_glob = "web7";
  SearchStats stats;
  EXPECT_TRUE(Search(o, nullptr, &stats).empty());
  ASSERT_EQ(stats.notes.size(), 1u);
  EXPECT_EQ(stats.notes[0], "2 overflow folder(s) (hosts past archive.max_hosts) not searched");
  o.overflow_host_filter = [](std::string_view line) {
    return line.find(" web7 ") != std::string_view::npos;
  };
  auto lines = Search(o, nullptr, &stats);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("web7 sshd: Accepted password"), std::string::npos);
  EXPECT_TRUE(stats.notes.empty());
  o.host_glob = "web*";
  o.overflow_host_filter = [](std::string_view line) {  // as if it parsed the host
    return line.find(" web") != std::string_view::npos;
  };
  lines = Search(o);
  ASSERT_EQ(lines.size(), 3u);  // web7 and web8 from the overflow, then web1's own folder
  EXPECT_NE(lines[0].find("web7"), std::string::npos);
  EXPECT_NE(lines[1].find("web8"), std::string::npos);
  EXPECT_NE(lines[2].find("root"), std::string::npos);
  o.host_glob = "%overflow-0";
  o.overflow_host_filter = [](std::string_view) { return false; };  // no host's folder is that
  EXPECT_EQ(Search(o).size(), 2u);  // the folder asked for by name: every line of it
  // The overflow day file indexed (as retention does): the same lines.
  ASSERT_TRUE(ArchiveIndex::Build(Path("%overflow-0/2025-12-01.log")).ok());
  o.host_glob = "web7";
  o.since = "2025-12-01T00:00:00.000000Z";
  o.overflow_host_filter = [](std::string_view line) {
    return line.find(" web7 ") != std::string_view::npos;
  };
  lines = Search(o, nullptr, &stats);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("web7 sshd"), std::string::npos);
  EXPECT_GE(stats.indexed_files, 1u);
}

// Random archive: three hosts, two days, timestamps that collide within and
// across hosts, a torn fragment; plain files, files of many small frames
// (CompressFile), frames cut inside a line, and a stream without content
// sizes. Every search must print exactly the lines a per-line RE2 scan
// keeps, in the order of a stable sort by (day, receive time), ties in host
// order then file order.
class SearchReferenceTest : public ArchiveSearchTest {
 protected:
  struct Line {
    int64_t day;
    std::string key;  // timestamp (a fragment: the last kept line's, see below)
    std::string text;
  };
  void SetUp() override {
    ArchiveSearchTest::SetUp();
    std::mt19937 rnd(7);
    const std::vector<std::string> words = {
        "Failed", "password", "for",  "root",    "Invalid", "user", "admin", "FAILED",
        "from",   "sshd[7]:", "port", "kernel:", "IN=eth0", "OUT=", "x"};
    const char* hosts[] = {"alpha", "beta", "gamma"};
    for (int d = 0; d < 2; ++d) {
      for (const char* h : hosts) {
        std::string body;
        int secs = 0;
        for (int i = 0; i < 2000; ++i) {
          secs += static_cast<int>(rnd() % 3 == 0);  // many equal timestamps
          char ts[40];
          std::snprintf(ts, sizeof(ts), "2025-12-0%dT%02d:%02d:%02d.000000Z", d + 1, secs / 3600,
                        secs / 60 % 60, secs % 60);
          std::string line = std::string(ts) + " 192.0.2.1 <13>";
          for (int w = 0, n = 2 + static_cast<int>(rnd() % 6); w < n; ++w) {
            line += (w ? " " : "") + words[rnd() % words.size()];
          }
          body += line + "\n";
          if (d == 0 && i == 700 && std::string(h) == "alpha") body += "password fragment root\n";
          // Rare IOC lines, for the index: one in a small frame, one in a plain file.
          if ((d == 0 && i == 300 && std::string(h) == "beta") ||
              (d == 1 && i == 1500 && std::string(h) == "gamma")) {
            body += std::string(ts) + " 192.0.2.1 <13>curl http://203.0.113.77/kdevtmpfsi\n";
          }
        }
        const std::string rel = std::string(h) + "/2025-12-0" + std::to_string(d + 1) + ".log";
        files_.push_back({rel, body});
        fs::create_directories(dir_ + "/" + h);
        std::ofstream(dir_ + "/" + rel) << body;
      }
    }
    // day 1: alpha plain, beta in 997-byte frames, gamma in two frames cut
    // mid-line; day 2: alpha unsized stream, beta default frames, gamma plain.
    ASSERT_TRUE(
        CompressFile(Path("beta/2025-12-01.log"), Path("beta/2025-12-01.log.zst"), 3, 997).ok());
    WriteZstd("gamma/2025-12-01.log",
              {files_[2].second.substr(0, 50001), files_[2].second.substr(50001)}, true);
    WriteZstd("alpha/2025-12-02.log", {files_[3].second}, false);
    ASSERT_TRUE(CompressFile(Path("beta/2025-12-02.log"), Path("beta/2025-12-02.log.zst"), 3).ok());
    for (const char* rel : {"beta/2025-12-01.log", "gamma/2025-12-01.log", "alpha/2025-12-02.log",
                            "beta/2025-12-02.log"}) {
      fs::remove(Path(rel));
    }
  }
  void WriteZstd(const std::string& rel, const std::vector<std::string>& frames, bool sized) {
    std::string out;
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, sized ? 1 : 0);
    for (const std::string& f : frames) {
      std::string z(ZSTD_compressBound(f.size()), '\0');
      ZSTD_outBuffer o{z.data(), z.size(), 0};
      ZSTD_inBuffer i{f.data(), f.size(), 0};
      ASSERT_EQ(ZSTD_compressStream2(c, &o, &i, ZSTD_e_end), 0u);
      out.append(z.data(), o.pos);
    }
    ZSTD_freeCCtx(c);
    std::ofstream(Path(rel + ".zst"), std::ios::binary) << out;
  }
  std::vector<std::string> Reference(const SearchOptions& o) {
    std::vector<std::unique_ptr<RE2>> res;
    RE2::Options ro;
    ro.set_case_sensitive(!o.caseless);
    for (const std::string& p : o.patterns) res.push_back(std::make_unique<RE2>(p, ro));
    std::vector<Line> kept;
    for (const auto& [rel, body] : files_) {
      if (fnmatch(o.host_glob.c_str(), rel.substr(0, rel.find('/')).c_str(), 0) != 0) continue;
      const int64_t day = rel[rel.find(".log") - 1] - '0';
      std::string last_key;
      std::istringstream in(body);
      for (std::string line; std::getline(in, line);) {
        const std::string ts = line.substr(0, 27);
        if (line.size() >= 27 &&
            ((!o.since.empty() && ts < o.since) || (!o.until.empty() && ts >= o.until))) {
          continue;
        }
        if (!std::any_of(res.begin(), res.end(),
                         [&](const auto& re) { return RE2::PartialMatch(line, *re); })) {
          continue;
        }
        // A line without a timestamp keeps the time of the kept line before it.
        if (line.size() >= 27 && line[10] == 'T') last_key = ts;
        kept.push_back({day, last_key, line});
      }
    }
    std::stable_sort(kept.begin(), kept.end(), [](const Line& a, const Line& b) {
      return std::tie(a.day, a.key) < std::tie(b.day, b.key);
    });
    std::vector<std::string> out;
    for (const Line& l : kept) out.push_back(l.text);
    return out;
  }
  std::vector<std::pair<std::string, std::string>> files_;  // rel path, plaintext
};

TEST_F(SearchReferenceTest, SameLinesInTheSameOrderAsAPerLineScan) {
  const std::vector<std::pair<std::vector<std::string>, bool>> cases = {
      {{"Failed password"}, false}, {{"Invalid user [a-z]+", "^2025-12-01T00:0", "root$"}, false},
      {{"failed"}, true},           {{"kernel: .*IN=[a-z0-9]* OUT="}, false},
      {{"password"}, false},        {{"^"}, false},
      {{".*", "x?"}, false},        {{"sshd|"}, false},
  };
  for (const auto& [patterns, caseless] : cases) {
    SearchOptions o;
    o.patterns = patterns;
    o.caseless = caseless;
    const auto want = Reference(o);
    EXPECT_GT(want.size(), 10u) << patterns[0];
    EXPECT_EQ(Search(o), want) << patterns[0];
    o.host_glob = "[ag]*";
    ASSERT_TRUE(NormalizeSearchTime("2025-12-01T00:10", &o.since));
    ASSERT_TRUE(NormalizeSearchTime("2025-12-02T00:05", &o.until));
    EXPECT_EQ(Search(o), Reference(o)) << patterns[0] << " in a window";
  }
}

// The data files as they are on disk (plain or .zst), their indexes built
// with small blocks for plain files so that blocks, not only files, are skipped.
class IndexedSearchTest : public SearchReferenceTest {
 protected:
  void BuildIndexes() {
    for (const auto& [rel, body] : files_) {
      ASSERT_TRUE(ArchiveIndex::Build(DataPath(rel), 4096).ok()) << rel;
    }
  }
  std::string DataPath(const std::string& rel) {
    return fs::exists(Path(rel)) ? Path(rel) : Path(rel) + ".zst";
  }
  static SearchOptions Rare() {
    SearchOptions o;
    o.patterns = {"203\\.0\\.113\\.77", "kdevtmpfsi"};
    o.expect_index_before_day = INT64_MAX;
    return o;
  }
  static bool Noted(const SearchStats& s, const std::string& what) {
    return std::any_of(s.notes.begin(), s.notes.end(),
                       [&](const std::string& n) { return n.find(what) != std::string::npos; });
  }
};

TEST_F(IndexedSearchTest, SameLinesAsAPerLineScanWhileSkippingBlocks) {
  BuildIndexes();
  const std::vector<std::pair<std::vector<std::string>, bool>> cases = {
      {{"Failed password"}, false},
      {{"Invalid user [a-z]+", "^2025-12-01T00:0", "root$"}, false},
      {{"failed"}, true},
      {{"kernel: .*IN=[a-z0-9]* OUT="}, false},
      {{"203\\.0\\.113\\.77", "kdevtmpfsi"}, false},
      {{"KDEVTMPFSI"}, true},
      {{"x"}, false},
      {{"^"}, false},
      {{"sshd\\[7\\]:|"}, false},
  };
  for (const auto& [patterns, caseless] : cases) {
    SearchOptions o;
    o.patterns = patterns;
    o.caseless = caseless;
    SearchStats stats;
    EXPECT_EQ(Search(o, nullptr, &stats), Reference(o)) << patterns[0];
    // "x" has no text of 3 bytes the index could look for, "^" and "sshd|"
    // match the empty string: noted, scanned.
    const bool narrows = patterns[0] != "x" && patterns[0] != "^" && patterns[0].back() != '|';
    EXPECT_EQ(stats.indexed_files, narrows ? 6u : 0u) << patterns[0];
    EXPECT_EQ(stats.notes.empty(), narrows) << patterns[0];
    o.host_glob = "[ag]*";
    ASSERT_TRUE(NormalizeSearchTime("2025-12-01T00:10", &o.since));
    ASSERT_TRUE(NormalizeSearchTime("2025-12-02T00:05", &o.until));
    EXPECT_EQ(Search(o, nullptr, &stats), Reference(o)) << patterns[0] << " in a window";
    EXPECT_GT(stats.skipped_bytes, 0u) << patterns[0] << " in a window";
  }
  SearchOptions o = Rare();
  SearchStats stats;
  EXPECT_EQ(Search(o, nullptr, &stats).size(), 2u);
  EXPECT_GT(stats.skipped_bytes, stats.bytes * 5);  // most of the archive left unread
  o.use_index = false;
  EXPECT_EQ(Search(o, nullptr, &stats), Reference(o));
  EXPECT_EQ(stats.skipped_bytes, 0u);
  EXPECT_EQ(stats.indexed_files, 0u);
}

TEST_F(IndexedSearchTest, MissingStaleOrCorruptIndexIsIgnoredWithANote) {
  BuildIndexes();
  // Missing.
  fs::remove(DataPath("alpha/2025-12-01.log") + std::string(kIndexSuffix));
  SearchStats stats;
  EXPECT_EQ(Search(Rare(), nullptr, &stats), Reference(Rare()));
  EXPECT_TRUE(Noted(stats, "1 day file(s) without an index (alpha/2025-12-01.log)"));
  EXPECT_EQ(stats.indexed_files, 5u);
  // Stale: a line appended after indexing holds a match the index knows nothing of.
  const std::string line = "2025-12-02T23:59:59.000000Z 192.0.2.1 <13>late kdevtmpfsi\n";
  std::ofstream(Path("gamma/2025-12-02.log"), std::ios::app) << line;
  files_[5].second += line;
  const auto want = Reference(Rare());
  EXPECT_EQ(want.back(), line.substr(0, line.size() - 1));
  EXPECT_EQ(Search(Rare(), nullptr, &stats), want);
  EXPECT_TRUE(Noted(stats, "stale index")) << stats.notes.size();
  // Corrupt.
  {
    std::fstream f(DataPath("beta/2025-12-01.log") + std::string(kIndexSuffix),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(300);
    f.put('\x7f');
  }
  EXPECT_EQ(Search(Rare(), nullptr, &stats), want);
  EXPECT_TRUE(Noted(stats, "corrupt index"));
  EXPECT_EQ(stats.indexed_files, 3u);
  // Files of days not expected to have an index yet get no note.
  SearchOptions o = Rare();
  o.expect_index_before_day = INT64_MIN;
  EXPECT_EQ(Search(o, nullptr, &stats), want);
  EXPECT_FALSE(Noted(stats, "without an index"));
}

TEST_F(IndexedSearchTest, CorruptFilterPagesLetTheirBlocksBeScannedWithANote) {
  BuildIndexes();
  // gamma's last day is plain, with many blocks; zero its filter pages.
  const std::string idx = DataPath("gamma/2025-12-02.log") + std::string(kIndexSuffix);
  const size_t size = fs::file_size(idx);
  ASSERT_GT(size, 8192u);
  {
    std::fstream f(idx, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    f << std::string(size - 4096, '\0');
  }
  SearchStats stats;
  EXPECT_EQ(Search(Rare(), nullptr, &stats), Reference(Rare()));
  EXPECT_TRUE(Noted(stats, "corrupt index")) << stats.notes.size();
  EXPECT_TRUE(Noted(stats, "gamma/2025-12-02.log"));
  EXPECT_EQ(stats.indexed_files, 6u);
}

TEST_F(IndexedSearchTest, ADenseSearchStopsConsultingTheIndex) {
  BuildIndexes();
  SearchOptions o;
  o.patterns = {"<13>"};  // in every block
  SearchStats stats;
  EXPECT_EQ(Search(o, nullptr, &stats), Reference(o));
  EXPECT_EQ(stats.indexed_files, 6u);  // 64 MiB by default: all consulted
  EXPECT_EQ(stats.index_given_up_files, 0u);
  o.index_give_up_bytes = 1;
  EXPECT_EQ(Search(o, nullptr, &stats), Reference(o));
  EXPECT_LT(stats.indexed_files, 6u);
  EXPECT_EQ(stats.indexed_files + stats.index_given_up_files, 6u);
  EXPECT_EQ(stats.skipped_bytes, 0u);
  // A rare search skips blocks: the index stays in use.
  o = Rare();
  o.index_give_up_bytes = 1;
  EXPECT_EQ(Search(o, nullptr, &stats), Reference(o));
  EXPECT_GT(stats.skipped_bytes, 0u);
  // With a time window the index is always consulted.
  o.patterns = {"<13>"};
  ASSERT_TRUE(NormalizeSearchTime("2025-12-01T00:10", &o.since));
  EXPECT_EQ(Search(o, nullptr, &stats), Reference(o));
  EXPECT_EQ(stats.index_given_up_files, 0u);
}

TEST(SearchTimeTest, Normalizes) {
  std::string t;
  ASSERT_TRUE(NormalizeSearchTime("2025-12-01", &t));
  EXPECT_EQ(t, "2025-12-01T00:00:00.000000Z");
  ASSERT_TRUE(NormalizeSearchTime("2025-12-01T10:20", &t));
  EXPECT_EQ(t, "2025-12-01T10:20:00.000000Z");
  ASSERT_TRUE(NormalizeSearchTime("2025-12-01 10:20:30.5Z", &t));
  EXPECT_EQ(t, "2025-12-01T10:20:30.500000Z");
  EXPECT_FALSE(NormalizeSearchTime("yesterday", &t));
  EXPECT_FALSE(NormalizeSearchTime("2025-12-01X10", &t));
}

}  // namespace
}  // namespace konseki::outputs
