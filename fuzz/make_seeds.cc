// Writes the seed corpora for the fuzz targets into OUT/<target>/:
// the byte streams of the unit tests (RELP handshake, malformed frames,
// oversize data, framing variants) and, when the shared corpus folder is
// given and exists, real log lines wrapped in each target's input format.
//
// Usage: fuzz_make_seeds OUT [CORPUS_DIR]
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "receiver/relp_frame.h"

namespace fs = std::filesystem;
using konseki::receiver::AppendRelpFrame;

namespace {

std::string Frame(uint32_t txnr, std::string_view cmd, std::string_view data) {
  std::string s;
  AppendRelpFrame(txnr, cmd, data, &s);
  return s;
}

const char kOffers[] =
    "relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog";

// A whole RELP session carrying `lines`.
std::string Session(const std::vector<std::string>& lines, bool close = true) {
  std::string s = Frame(1, "open", kOffers);
  uint32_t t = 2;
  for (const std::string& l : lines) s += Frame(t++, "syslog", l);
  if (close) s += Frame(t, "close", "");
  return s;
}

class Writer {
 public:
  explicit Writer(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }
  void Add(std::string_view bytes) {
    std::ofstream(dir_ / ("seed_" + std::to_string(n_++)), std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  size_t count() const { return n_; }

 private:
  fs::path dir_;
  size_t n_ = 0;
};

std::vector<std::string> CorpusLines(const char* dir, size_t per_file) {
  std::vector<std::string> lines;
  if (dir == nullptr || !fs::is_directory(dir)) return lines;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() != ".md") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    std::ifstream in(f);
    std::string line;
    for (size_t i = 0; i < per_file && std::getline(in, line); ++i) {
      if (!line.empty()) lines.push_back(line);
    }
  }
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT [CORPUS_DIR]\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  const std::vector<std::string> corpus = CorpusLines(argc > 2 ? argv[2] : nullptr, 20);
  const std::vector<std::string> sample = {
      "<13>Nov 23 08:00:00 host app[1]: message one",
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] \xEF\xBB\xBF"
      "An application event",
      "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
      "",
      "x\ny z",
  };

  // RELP streams shared by the frame and session targets.
  std::vector<std::string> relp = {
      Session(sample),
      Session({std::string(500, 'a'), "ok"}),
      Frame(1, "open", kOffers) + Frame(2, "starttls", "") + Frame(3, "open", kOffers) +
          Frame(4, "syslog", "a") + Frame(5, "close", ""),
      Frame(1, "open", "relp_version=0\ncommands=foo,bar"),
      Frame(1, "open", "relp_version=x\ncommands=syslog"),
      Frame(1, "syslog", "before open"),
      Frame(1, "open", kOffers) + Frame(3, "syslog", "gap"),
      Frame(1, "open", kOffers) + Frame(2, "rsp", "200 OK"),
      Frame(1, "open", kOffers) + Frame(0, "serverclose", ""),
      "1 open 5 abc\n",
      "x syslog 1 a\n",
      "1234567890 syslog 1 a\n",
      "1 sys-log 1 a\n",
      "1 syslog 1234567890 a\n",
      "1 syslog 5\nabcde\n",
      "1 syslog 3 abc\r\n",
      "1 close 0 \n",
      "999999999 " + std::string(32, 'q') + " 000000001 a\n",
      "1 syslog 999999999 abc",
  };
  if (!corpus.empty()) relp.push_back(Session(corpus));

  Writer frame_w(out / "relp_frame");
  Writer session_w(out / "relp_session");
  const std::string control = {'\x03', '\x40', '\x01', '\x01', '\x00',
                               '\x7f', '\x11', '\x22', '\x33', '\x44'};
  for (const std::string& s : relp) {
    frame_w.Add(std::string("\x07\x40\x01", 3) + s);
    session_w.Add(s + control);
  }

  Writer framer_w(out / "framer");
  std::string lf, octet, mixed;
  std::vector<std::string> lines = sample;
  lines.insert(lines.end(), corpus.begin(), corpus.end());
  for (size_t i = 0; i < lines.size(); ++i) {
    lf += lines[i] + (i % 3 == 0 ? "\r\n" : "\n");
    octet += std::to_string(lines[i].size()) + " " + lines[i];
    mixed += i % 2 ? std::to_string(lines[i].size()) + " " + lines[i] : lines[i] + '\0';
  }
  for (const std::string& s : {lf, octet, mixed, std::string("12x <13>bad count\n5 ab"),
                               std::string("1073741824 abc"), std::string("007 abcdefg")}) {
    framer_w.Add(std::string("\x0f\xff", 2) + s);
  }

  Writer parser_w(out / "parser");
  for (const std::string& l : lines) parser_w.Add(l);
  for (const char* l : {"<999>Nov 23 08:00:00 host app: bad pri", "<13>1 - - - - - -",
                        "<13>1 2026-11-23T08:00:00.123456+01:00 h a p m [x@1 k=\"v\\\"\"] msg",
                        "<13>Feb 30 25:61:61 host app: bad time", "plain text"}) {
    parser_w.Add(l);
  }
  std::printf(
      "seeds: relp_frame %zu, relp_session %zu, framer %zu, parser %zu (corpus lines %zu)\n",
      frame_w.count(), session_w.count(), framer_w.count(), parser_w.count(), corpus.size());
  return 0;
}
