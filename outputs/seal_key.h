// Forward-secure sealing keys for the archive (see docs/archive.md).
//
// The sealer holds one 32-byte key per epoch (default 15 min). At the end of
// each epoch the key evolves one way:
//
//   k_{i+1} = SHA-256("konseki-seal-evolve" || k_i)
//
// and k_i is overwritten. Whoever takes the host at time T finds k_T (in
// memory and in the key file) and cannot compute k_j for j < T, so cannot
// make tags for epochs already sealed. The verification key, kept off the
// host by the admin, is k_0 with the start time and epoch length: from it
// `konseki verify` computes every k_i.
//
// The key file (SealKeyFile) is one fixed-size record overwritten in place
// (pwrite at offset 0 + fdatasync) rather than replaced by rename: the old
// key's bytes are overwritten on the same disk blocks (on a file system that
// writes in place: ext4, xfs; copy-on-write file systems such as btrfs or ZFS
// may keep old blocks, see docs/archive.md). The record is 256 bytes, inside
// one sector, so the write is atomic on the devices we know; a checksum
// catches a torn record on load.
//
// Thread-safety: value types and free functions; SealKeyFile is not
// thread-safe (the sealer thread owns it).
#ifndef KONSEKI_OUTPUTS_SEAL_KEY_H_
#define KONSEKI_OUTPUTS_SEAL_KEY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace konseki::outputs {

using SealBytes = std::array<uint8_t, 32>;

// Default archive.seal_epoch_secs. Epoch lengths must divide a day, so no
// epoch straddles midnight UTC.
inline constexpr int64_t kDefaultSealEpochSecs = 900;

// k <- SHA-256("konseki-seal-evolve" || k); temporaries are wiped.
void EvolveSealKey(SealBytes* k);
// HMAC-SHA-256(key, data).
SealBytes HmacSha256(const SealBytes& key, std::string_view data);
// Lowercase hex; parse returns false on bad length or digit.
std::string HexOf(const uint8_t* p, size_t n);
inline std::string HexOf(const SealBytes& b) { return HexOf(b.data(), b.size()); }
bool ParseHex(std::string_view hex, uint8_t* out, size_t n);
// explicit_bzero, for keys in memory.
void WipeSealBytes(SealBytes* b);

// What the admin keeps off the host. Text form, one line:
//   "ksv1-<64 hex digits of k_0>-<start unix secs>-<epoch secs>"
struct VerificationKey {
  SealBytes key0{};
  int64_t start_unix = 0;  // start of epoch 0 (a multiple of epoch_secs)
  int64_t epoch_secs = kDefaultSealEpochSecs;

  std::string ToString() const;
  static StatusOr<VerificationKey> Parse(std::string_view text);
};

// Validates an epoch length: > 0, at most a day, divides 86400.
Status CheckSealEpochSecs(int64_t epoch_secs);

// The sealer's secret state, stored in the key file.
struct SealKeyState {
  SealBytes key{};         // k_epoch
  uint64_t epoch = 0;      // the epoch `key` belongs to
  int64_t start_unix = 0;  // start of epoch 0
  int64_t epoch_secs = kDefaultSealEpochSecs;
  SealBytes prev_tag{};  // tag of the last seal record (zeros: none yet)
  uint64_t seq = 0;      // sequence number of the next seal record
  // Stored true only by the sealer's clean stop, with the record that
  // sealed everything (Sealer::Stop), and false by every other store: a
  // start that reads true knows every byte its predecessor wrote is sealed,
  // so unsealed bytes in a day file are someone else's (foreign), not lines
  // a crash left unsealed. Key files written before this field read false.
  bool clean_stop = false;

  // Moves key forward to epoch `to` (>= epoch), wiping each old key.
  void EvolveTo(uint64_t to);
  // Start of epoch i, unix seconds.
  int64_t EpochStart(uint64_t i) const { return start_unix + static_cast<int64_t>(i) * epoch_secs; }
};

// Makes a fresh state: random k_0, epoch 0 starting at `now_unix` rounded
// down to a multiple of epoch_secs. Fills *vk with its verification key.
StatusOr<SealKeyState> NewSealKeyState(int64_t now_unix, int64_t epoch_secs, VerificationKey* vk);

// Reads a key file without opening it for writing (`konseki verify` reads
// how many records the key has made). The caller wipes the key.
StatusOr<SealKeyState> ReadSealKeyState(const std::string& path);

// The key file. Not copyable; owns the descriptor.
class SealKeyFile {
 public:
  // Creates `path` (mode 0600, fails if it exists: an existing key means an
  // existing chain) holding `state`; missing parent folders are made 0700.
  static Status Create(const std::string& path, const SealKeyState& state);
  // Opens an existing key file for reading and rewriting.
  static StatusOr<SealKeyFile> Open(const std::string& path);

  SealKeyFile(SealKeyFile&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  SealKeyFile& operator=(SealKeyFile&&) = delete;
  SealKeyFile(const SealKeyFile&) = delete;
  ~SealKeyFile();

  StatusOr<SealKeyState> Load() const;
  // Overwrites the record in place and fdatasyncs.
  Status Store(const SealKeyState& state);
  const std::string& path() const { return path_; }

 private:
  SealKeyFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_SEAL_KEY_H_
