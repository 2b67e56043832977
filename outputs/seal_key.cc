#include "outputs/seal_key.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <vector>

namespace konseki::outputs {
namespace {

constexpr std::string_view kEvolveLabel = "konseki-seal-evolve";
// Version 2 adds the clean-stop mark; version 1 records (before it) are
// read as "not stopped cleanly", which is what they could not tell.
constexpr std::string_view kStateMagic = "konseki-seal-state 2";
// Fixed record size: one sector, so the in-place rewrite is atomic.
constexpr size_t kRecordBytes = 256;

SealBytes Sha256(std::string_view a, std::string_view b) {
  SealBytes out{};
  unsigned int n = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, a.data(), a.size());
  EVP_DigestUpdate(ctx, b.data(), b.size());
  EVP_DigestFinal_ex(ctx, out.data(), &n);
  EVP_MD_CTX_free(ctx);
  return out;
}

template <typename T>
bool ParseNum(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> Fields(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t e = s.find(sep, pos);
    out.push_back(s.substr(pos, e == std::string_view::npos ? e : e - pos));
    if (e == std::string_view::npos) return out;
    pos = e + 1;
  }
}

// The record without padding and checksum.
std::string StateBody(const SealKeyState& s) {
  std::string b(kStateMagic);
  b += " " + HexOf(s.key) + " " + std::to_string(s.epoch) + " " + std::to_string(s.start_unix) +
       " " + std::to_string(s.epoch_secs) + " " + HexOf(s.prev_tag) + " " + std::to_string(s.seq) +
       " " + (s.clean_stop ? "1" : "0");
  return b;
}

std::string Checksum(std::string_view body) {
  SealBytes h = Sha256(body, "");
  return HexOf(h.data(), 8);
}

void Wipe(std::string* s) {
  explicit_bzero(s->data(), s->size());
  s->clear();
}

StatusOr<SealKeyState> ReadStateRecord(int fd, const std::string& path) {
  std::string rec(kRecordBytes, '\0');
  ssize_t n = pread(fd, rec.data(), rec.size(), 0);
  if (n < 0) return Status::FromErrno("seal key: cannot read " + path, errno);
  rec.resize(static_cast<size_t>(n));
  while (!rec.empty() && (rec.back() == ' ' || rec.back() == '\n')) rec.pop_back();
  const size_t sp = rec.rfind(' ');
  SealKeyState s;
  std::vector<std::string_view> f =
      Fields(std::string_view(rec).substr(0, sp == std::string::npos ? 0 : sp), ' ');
  const bool v1 = f.size() == 8 && f[1] == "1";
  const bool v2 = f.size() == 9 && f[1] == "2" && (f[8] == "0" || f[8] == "1");
  const bool ok = sp != std::string::npos && rec.substr(sp + 1) == Checksum(rec.substr(0, sp)) &&
                  (v1 || v2) && f[0] == "konseki-seal-state" &&
                  ParseHex(f[2], s.key.data(), s.key.size()) && ParseNum(f[3], &s.epoch) &&
                  ParseNum(f[4], &s.start_unix) && ParseNum(f[5], &s.epoch_secs) &&
                  ParseHex(f[6], s.prev_tag.data(), s.prev_tag.size()) && ParseNum(f[7], &s.seq) &&
                  CheckSealEpochSecs(s.epoch_secs).ok();
  s.clean_stop = v2 && f[8] == "1";
  Wipe(&rec);
  if (!ok) {
    WipeSealBytes(&s.key);
    return Status::InvalidArgument("seal key " + path +
                                   " is corrupt (bad format or checksum); sealing cannot go on");
  }
  return s;
}

}  // namespace

void EvolveSealKey(SealBytes* k) {
  SealBytes next =
      Sha256(kEvolveLabel, std::string_view(reinterpret_cast<const char*>(k->data()), k->size()));
  *k = next;
  WipeSealBytes(&next);
}

SealBytes HmacSha256(const SealBytes& key, std::string_view data) {
  SealBytes out{};
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &n);
  return out;
}

std::string HexOf(const uint8_t* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = kDigits[p[i] >> 4];
    s[2 * i + 1] = kDigits[p[i] & 15];
  }
  return s;
}

bool ParseHex(std::string_view hex, uint8_t* out, size_t n) {
  if (hex.size() != 2 * n) return false;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < n; ++i) {
    int hi = val(hex[2 * i]);
    int lo = val(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

void WipeSealBytes(SealBytes* b) { explicit_bzero(b->data(), b->size()); }

Status CheckSealEpochSecs(int64_t epoch_secs) {
  if (epoch_secs <= 0 || epoch_secs > 86400 || 86400 % epoch_secs != 0) {
    return Status::InvalidArgument(
        "archive.seal_epoch_secs must divide 86400 (e.g. 60, 300, 900, "
        "3600); got " +
        std::to_string(epoch_secs));
  }
  return Status::Ok();
}

std::string VerificationKey::ToString() const {
  return "ksv1-" + HexOf(key0) + "-" + std::to_string(start_unix) + "-" +
         std::to_string(epoch_secs);
}

StatusOr<VerificationKey> VerificationKey::Parse(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  std::vector<std::string_view> f = Fields(text, '-');
  VerificationKey vk;
  if (f.size() != 4 || f[0] != "ksv1" || !ParseHex(f[1], vk.key0.data(), vk.key0.size()) ||
      !ParseNum(f[2], &vk.start_unix) || !ParseNum(f[3], &vk.epoch_secs) ||
      !CheckSealEpochSecs(vk.epoch_secs).ok()) {
    return Status::InvalidArgument(
        "not a verification key: expected ksv1-<64 hex>-<start>-<epoch secs> as printed by "
        "`konseki seal-setup`");
  }
  return vk;
}

void SealKeyState::EvolveTo(uint64_t to) {
  while (epoch < to) {
    EvolveSealKey(&key);
    ++epoch;
  }
}

StatusOr<SealKeyState> NewSealKeyState(int64_t now_unix, int64_t epoch_secs, VerificationKey* vk) {
  if (Status st = CheckSealEpochSecs(epoch_secs); !st.ok()) return st;
  SealKeyState s;
  if (RAND_bytes(s.key.data(), static_cast<int>(s.key.size())) != 1) {
    return Status::Internal("seal-setup: OpenSSL RAND_bytes failed");
  }
  s.epoch_secs = epoch_secs;
  s.start_unix = now_unix - ((now_unix % epoch_secs) + epoch_secs) % epoch_secs;
  vk->key0 = s.key;
  vk->start_unix = s.start_unix;
  vk->epoch_secs = epoch_secs;
  return s;
}

SealKeyFile::~SealKeyFile() {
  if (fd_ >= 0) close(fd_);
}

Status SealKeyFile::Create(const std::string& path, const SealKeyState& state) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    for (size_t pos = dir.find('/', 1);; pos = dir.find('/', pos + 1)) {
      const std::string prefix = dir.substr(0, pos);
      // The key's own folder is private; parents (the archive) as the Archive makes them.
      if (mkdir(prefix.c_str(), pos == std::string::npos ? 0700 : 0750) != 0 && errno != EEXIST) {
        return Status::FromErrno("seal key: cannot create folder " + prefix, errno);
      }
      if (pos == std::string::npos) break;
    }
  }
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::InvalidArgument(
          "seal key " + path +
          " exists: a sealing chain was already set up. Remove it only to start a new chain "
          "(the old verification key then covers the old archive only)");
    }
    return Status::FromErrno("seal key: cannot create " + path, errno);
  }
  fchmod(fd, 0600);
  SealKeyFile f(fd, path);
  return f.Store(state);
}

StatusOr<SealKeyFile> SealKeyFile::Open(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return Status::NotFound("seal key " + path +
                              " not found: run `konseki seal-setup --config FILE` first");
    }
    return Status::FromErrno("seal key: cannot open " + path, errno);
  }
  return SealKeyFile(fd, path);
}

StatusOr<SealKeyState> SealKeyFile::Load() const { return ReadStateRecord(fd_, path_); }

StatusOr<SealKeyState> ReadSealKeyState(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("seal key state " + path + " not found");
    return Status::FromErrno("seal key state: cannot open " + path, errno);
  }
  StatusOr<SealKeyState> s = ReadStateRecord(fd, path);
  close(fd);
  return s;
}

Status SealKeyFile::Store(const SealKeyState& state) {
  std::string body = StateBody(state);
  std::string rec = body + " " + Checksum(body);
  Wipe(&body);
  rec.resize(kRecordBytes - 1, ' ');
  rec.push_back('\n');
  ssize_t n = pwrite(fd_, rec.data(), rec.size(), 0);
  const int err = errno;
  Wipe(&rec);
  if (n != static_cast<ssize_t>(kRecordBytes)) {
    return Status::FromErrno("seal key: cannot write " + path_, n < 0 ? err : EIO);
  }
  if (fdatasync(fd_) != 0) return Status::FromErrno("seal key: fdatasync " + path_, errno);
  return Status::Ok();
}

}  // namespace konseki::outputs
