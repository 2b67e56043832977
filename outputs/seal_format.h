// The seal stream: what the sealer writes and `konseki verify` reads.
//
// One text file per UTC day of the epochs it seals, <archive>/.seal/<YYYY-MM-DD>.seal
// (a host folder never starts with '.', outputs/host_path.h). Read in date
// order the files form one stream of records, one per line:
//
//   H konseki-seal 1 <start unix> <epoch secs>        first line of each file
//   L <path> <hex>            16-bit hashes (4 hex digits each) of the next
//                             lines of <path>, for diagnosis only
//   F <path> <start> <end> <lines> <sha256>           bytes [start, end) of
//                             <path> ("host/YYYY-MM-DD.log") are sealed
//   U <path> <start> <end> <lines> <sha256>           bytes found unsealed at
//                             a restart (after a crash): recorded, not vouched for
//   X <path> <start> <end> <lines> <sha256>           bytes konseki did not
//                             write (another process appended them to a day
//                             file it follows, or they were found unsealed
//                             by a start after a clean stop): recorded, never
//                             vouched for; verify fails the file (foreign)
//   R <path> <start> <end> 0 <64 zeros>                bytes konseki wrote
//                             that the sealer could not read back (the file
//                             or its host folder unreadable to konseki's
//                             user: archive.seal_unreadable): never vouched
//                             for; verify fails the file (unread)
//   M <seq> <time ns> <why>   the sealer found the stream it had written gone
//                             (a restart finding no record up to the key's, or
//                             the open seal file unlinked or replaced): the
//                             records before record <seq> are lost. <why>:
//                             missing-at-start, unlinked, replaced. verify
//                             reports it as a break (docs/archive.md)
//   N <seq> <time ns> <tag>   a new chain (a new key: seal-setup --new-chain)
//                             begins after record <seq> (with <tag>) of the
//                             previous one; an H with the new chain's start
//                             follows, and its first E (record 0, epoch 0)
//                             seals both. Each chain is verified with its own key
//   E <epoch> <next> <seq> <time ns> <prev tag> <tag> seals everything since
//                             the previous E
//
// tag = HMAC-SHA-256(k_epoch, SealTagInput(prev, sha256 of the stream bytes
// after the previous E line up to this E line, epoch, next, seq, time)).
// Each E names the epoch of the next E (`next` >= `epoch`: a restart or an
// idle stretch skips epochs explicitly, under the key of the older epoch), so
// records cannot be removed, reordered or forged without the key of their epoch.
// Bytes of a file are sealed in order: each F/U/X/R of a path starts where the
// previous one ended.
#ifndef KONSEKI_OUTPUTS_SEAL_FORMAT_H_
#define KONSEKI_OUTPUTS_SEAL_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "outputs/seal_key.h"

struct evp_md_ctx_st;

namespace konseki::outputs {

inline constexpr std::string_view kSealDirName = ".seal";

// Days since 1970-01-01 <-> "YYYY-MM-DD".
std::string DayName(int64_t day);
bool ParseDayName(std::string_view s, int64_t* day);
inline int64_t DayOfUnix(int64_t secs) { return secs >= 0 ? secs / 86400 : (secs - 86399) / 86400; }
// "<YYYY-MM-DD>.seal"
inline std::string SealFileName(int64_t day) { return DayName(day) + ".seal"; }
// Splits "host/YYYY-MM-DD.log" (also ".log.zst"); false if not that shape.
bool ParseArchivePath(std::string_view path, std::string_view* host, int64_t* day);

// 16-bit hash of one line (without its '\n'). Not cryptographic: it only
// locates the first differing line once a sealed range fails its SHA-256.
uint16_t LineHash(std::string_view line);
void AppendLineHashHex(uint16_t h, std::string* out);
bool ParseLineHashHex(std::string_view hex4, uint16_t* h);

struct SealRecord {
  char kind = 0;                           // 'H', 'L', 'F', 'U', 'X', 'R', 'M', 'N', 'E'
  std::string_view path;                   // L F U X R
  std::string_view hashes;                 // L
  uint64_t start = 0, end = 0, lines = 0;  // F U X R
  SealBytes digest{};                      // F U X R
  uint64_t epoch = 0, next = 0, seq = 0;   // E (seq: M, N too)
  int64_t time_ns = 0;                     // E M N
  std::string_view why;                    // M
  SealBytes prev{}, tag{};                 // E (tag: N too)
  int64_t start_unix = 0, epoch_secs = 0;  // H
};
// Parses one line (without '\n'); false if malformed. Views point into line.
bool ParseSealLine(std::string_view line, SealRecord* r);

std::string FormatSealHeader(int64_t start_unix, int64_t epoch_secs);
std::string FormatRangeRecord(char kind, std::string_view path, uint64_t start, uint64_t end,
                              uint64_t lines, const SealBytes& digest);
// "M <seq> <time ns> <why>\n"; why is one word.
std::string FormatLossRecord(uint64_t seq, int64_t time_ns, std::string_view why);
// "N <prev seq> <time ns> <prev tag>\n".
std::string FormatNewChainRecord(uint64_t prev_seq, int64_t time_ns, const SealBytes& prev_tag);
std::string SealTagInput(const SealBytes& prev, const SealBytes& stream_digest, uint64_t epoch,
                         uint64_t next, uint64_t seq, int64_t time_ns);
std::string FormatEpochRecord(uint64_t epoch, uint64_t next, uint64_t seq, int64_t time_ns,
                              const SealBytes& prev, const SealBytes& tag);

// Incremental SHA-256 (OpenSSL EVP). Not copyable.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::string_view data);
  // Returns the digest of everything since construction or the last Finish.
  SealBytes Finish();

 private:
  evp_md_ctx_st* ctx_;
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_SEAL_FORMAT_H_
