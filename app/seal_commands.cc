#include "app/seal_commands.h"

#include <qrencode.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "app/archive_line_host.h"
#include "app/archive_lock.h"
#include "app/config.h"
#include "app/file_identity.h"
#include "app/privileges.h"
#include "outputs/archive_verify.h"
#include "outputs/seal_key.h"
#include "outputs/sealer.h"
#include "receiver/parser.h"

namespace konseki::app {
namespace {

int64_t UnixNow(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
}

// Two rows of modules per text line with Unicode half blocks, quiet zone included.
void PrintQr(const std::string& text, std::ostream& out) {
  QRcode* qr = QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_L, QR_MODE_8, 1);
  if (qr == nullptr) return;
  const int w = qr->width;
  auto dark = [&](int x, int y) {
    return x >= 0 && y >= 0 && x < w && y < w && (qr->data[y * w + x] & 1);
  };
  for (int y = -2; y < w + 2; y += 2) {
    for (int x = -2; x < w + 2; ++x) {
      const bool top = dark(x, y);
      const bool bottom = dark(x, y + 1);
      // Light modules are drawn (light-on-dark terminals scan best inverted).
      out << (!top && !bottom ? "\u2588" : !top ? "\u2580" : !bottom ? "\u2584" : " ");
    }
    out << "\n";
  }
  QRcode_free(qr);
}

std::string ReadKeyArg(const std::string& key) {
  struct stat st;
  if (key.rfind("ksv1-", 0) != 0 && stat(key.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    std::ifstream in(key);
    std::string line, last;
    while (std::getline(in, line)) {
      if (line.rfind("ksv1-", 0) == 0) last = line;
    }
    return last;
  }
  return key;
}

// A seal stream with records and no key: the chain's key is gone. A new key
// cannot continue that chain, so a new one begins only when asked
// (--new-chain; the daemon then marks it in the stream), and not in the
// epoch the last chain began in (the two would have the same header).
Status CheckExistingChain(const std::string& archive_dir, const std::string& key_path,
                          const outputs::SealKeyState& state, bool new_chain) {
  struct stat st;
  if (stat(key_path.c_str(), &st) == 0) return Status::Ok();  // Create says it exists
  const outputs::SealStreamSummary sum = outputs::SummarizeSealStream(archive_dir);
  if (sum.records == 0) return Status::Ok();
  const std::string what =
      "the seal stream in " + archive_dir + "/.seal holds " + std::to_string(sum.records) +
      " seal records (the last, record " + std::to_string(sum.last_seq) + ", sealed " +
      FormatRfc3339Micros(TimePoint(Duration(sum.last_time_ns))) + ") but " + key_path + " is gone";
  if (!new_chain) {
    return Status::InvalidArgument(
        what +
        ": a restore without .state/, an admin error, or tampering. Put the key file back if "
        "you have it, and check the archive with the verification key you kept (`konseki "
        "verify --key KEY " +
        archive_dir +
        "`). To start a new chain anyway, run seal-setup with --new-chain: konseki marks where "
        "it begins, the old key still verifies the records before it");
  }
  if (sum.last_chain_start == state.start_unix && sum.last_chain_epoch_secs == state.epoch_secs) {
    return Status::InvalidArgument(
        what + ", and its chain began in this same epoch: run seal-setup --new-chain again after " +
        FormatRfc3339Micros(TimePoint(std::chrono::seconds(state.start_unix + state.epoch_secs))));
  }
  return Status::Ok();
}

}  // namespace

int RunSealSetup(const std::string& config_path, const Clock& clock, bool qr_terminal,
                 bool new_chain, std::ostream& out, std::ostream& err) {
  auto c = LoadConfigFile(config_path);
  if (!c.ok()) {
    err << "konseki: " << c.status().message() << "\n";
    return 1;
  }
  outputs::VerificationKey vk;
  auto state = outputs::NewSealKeyState(UnixNow(clock), c->archive_seal.epoch_secs, &vk);
  if (!state.ok()) {
    err << "konseki: " << state.status().message() << "\n";
    return 1;
  }
  const std::string key_path = outputs::DefaultSealKeyPath(c->archive.dir);
  Status st;
  {
    // The running konseki (as `user:`) rewrites the key at every epoch: create
    // it as that user, as the server creates its outputs (app/file_identity.h).
    auto ids = ResolveRunAs(c->Privileges());
    auto as_user = ids.ok() ? ScopedFileIdentity::Enter(*ids)
                            : StatusOr<std::unique_ptr<ScopedFileIdentity>>(ids.status());
    // Not while a konseki runs on this archive (or another seal-setup).
    auto lock = as_user.ok() ? ArchiveLock::Acquire(c->archive.dir, "konseki seal-setup")
                             : StatusOr<std::unique_ptr<ArchiveLock>>(as_user.status());
    st =
        lock.ok() ? CheckExistingChain(c->archive.dir, key_path, *state, new_chain) : lock.status();
    if (st.ok()) st = outputs::SealKeyFile::Create(key_path, *state);
  }
  outputs::WipeSealBytes(&state->key);
  if (!st.ok()) {
    err << "konseki: " << st.message() << "\n";
    return 1;
  }
  out << "Sealing key written to " << key_path << " (epoch " << vk.epoch_secs << " s, starting "
      << FormatRfc3339Micros(TimePoint(std::chrono::seconds(vk.start_unix))) << ").\n"
      << (c->archive_seal.enabled ? "Start (or restart) konseki to seal the archive.\n"
                                  : "Set archive.seal: true and restart konseki to seal the "
                                    "archive.\n");
  if (new_chain) {
    out << "A new chain: konseki marks where it begins in the seal stream (alert "
           "archive.seal_new_chain);\nverify the records before it with the old verification "
           "key, after it with this one\n(konseki verify --key OLD --key NEW).\n";
  }
  out << "Keep the verification key below OFF this host (it can verify, and forge, every epoch);\n"
      << "check the archive with: konseki verify --key KEY " << c->archive.dir << "\n";
  if (qr_terminal) PrintQr(vk.ToString(), out);
  out << vk.ToString() << "\n";
  outputs::WipeSealBytes(&vk.key0);
  return 0;
}

int RunVerify(const VerifyCommand& cmd, const Clock& clock, std::ostream& out, std::ostream& err) {
  std::vector<outputs::VerificationKey> keys;
  for (const std::string& arg : cmd.keys) {
    auto k = outputs::VerificationKey::Parse(ReadKeyArg(arg));
    if (!k.ok()) {
      err << "konseki verify: --key: " << k.status().message() << "\n";
      return 2;
    }
    keys.push_back(*k);
  }
  int64_t retention_days = 0;
  std::string config_key_state;
  if (!cmd.config_path.empty()) {
    auto c = LoadConfigFile(cmd.config_path);
    if (!c.ok()) {
      err << "konseki verify: " << c.status().message() << "\n";
      return 2;
    }
    retention_days = c->archive_retention.retention_days;
    config_key_state = outputs::DefaultSealKeyPath(c->archive.dir);
  }
  // Group the arguments by archive folder: a day file names its own.
  std::map<std::string, std::vector<std::string>> roots;
  for (std::string p : cmd.paths) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    struct stat st;
    if (stat(p.c_str(), &st) != 0 && stat((p + ".zst").c_str(), &st) != 0) {
      err << "konseki verify: " << p << ": no such file or folder\n";
      return 2;
    }
    if (S_ISDIR(st.st_mode)) {
      roots[p];
      continue;
    }
    const size_t s1 = p.rfind('/');
    const size_t s0 = s1 == std::string::npos || s1 == 0 ? std::string::npos : p.rfind('/', s1 - 1);
    std::string root = s0 == std::string::npos ? "." : p.substr(0, s0);
    std::string rel = p.substr(s0 == std::string::npos ? 0 : s0 + 1);
    if (rel.size() > 4 && rel.compare(rel.size() - 4, 4, ".zst") == 0) rel.resize(rel.size() - 4);
    roots[root].push_back(rel);
  }
  // Reads back the host of the lines no seal vouches for (misplaced lines).
  const receiver::Parser parser;
  bool ok = true;
  for (const auto& [root, only] : roots) {
    outputs::VerifyOptions o;
    o.root = root;
    o.only = only;
    if (!keys.empty()) o.key = keys.front();
    o.more_keys.assign(keys.begin() + (keys.empty() ? 0 : 1), keys.end());
    o.retention_days = retention_days;
    o.now_unix = UnixNow(clock);
    o.line_of_host = [&parser](std::string_view line, std::string_view folder, std::string* host) {
      return ArchiveLineHostIs(
          parser, line, [&](const std::string& f) { return f == folder; }, host);
    };
    // The archive's own key state, else (a copy without .state/) the config's.
    struct stat st;
    if (stat(outputs::DefaultSealKeyPath(root).c_str(), &st) != 0 && !config_key_state.empty()) {
      o.key_state_path = config_key_state;
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto rep = outputs::VerifyArchive(o);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!rep.ok()) {
      err << "konseki verify: " << rep.status().message() << "\n";
      return 2;
    }
    if (roots.size() > 1) out << "== " << root << "\n";
    outputs::PrintVerifyReport(*rep, secs, out);
    ok = ok && rep->ok();
  }
  return ok ? 0 : 1;
}

}  // namespace konseki::app
