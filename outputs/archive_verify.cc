#include "outputs/archive_verify.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <thread>

#include "common/clock.h"
#include "common/usable_cpus.h"
#include "outputs/archive_budget.h"
#include "outputs/archive_reader.h"
#include "outputs/seal_format.h"
#include "outputs/sealer.h"

namespace konseki::outputs {
namespace {

constexpr size_t kChunk = 1 << 20;

std::string Nanos(int64_t ns) { return FormatRfc3339Micros(TimePoint(Duration(ns))); }
constexpr size_t kTail = 4096;

std::vector<std::string> ListNames(const std::string& dir, bool dot) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if ((e->d_name[0] == '.') == dot && std::string_view(e->d_name) != "." &&
          std::string_view(e->d_name) != "..") {
        names.emplace_back(e->d_name);
      }
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool ReadAll(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out->append(buf, static_cast<size_t>(n));
  close(fd);
  return n == 0;
}

// The receive time at the start of an archive line, or "".
std::string LineTime(std::string_view line) {
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos || sp > 40 || line.empty() || line[0] < '0' || line[0] > '9') {
    return "";
  }
  return std::string(line.substr(0, sp));
}

// Last complete line of the bytes ending at a line boundary.
std::string_view LastLine(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  const size_t nl = s.rfind('\n');
  return nl == std::string_view::npos ? s : s.substr(nl + 1);
}

struct LRef {
  size_t file;
  size_t offset;  // of the hex digits in the seal file
  size_t len;
};

struct Range {
  char kind;
  uint64_t start, end, lines;
  SealBytes digest;
  std::vector<LRef> lrefs;
  int64_t sealed_ns = 0;
  bool after_loss = false;  // U range in a segment with a loss record (M)
  // F range of a chain no key was given for, while keys were given
  bool unauthenticated = false;
};

struct FileState {
  int64_t day = 0;
  std::vector<Range> ranges;
};

class Verifier {
 public:
  explicit Verifier(const VerifyOptions& o) : o_(o) {
    if (o_.key) keys_.push_back(*o_.key);
    keys_.insert(keys_.end(), o_.more_keys.begin(), o_.more_keys.end());
    only_.insert(o_.only.begin(), o_.only.end());
  }
  ~Verifier() {
    WipeSealBytes(&key_);
    for (VerificationKey& k : keys_) WipeSealBytes(&k.key0);
  }

  VerifyReport Run() {
    rep_.authenticated = !keys_.empty();
    ReadStream();
    CheckEnd();
    for (auto& [path, fs] : files_) Finish(path, &fs);
    files_.clear();
    RunBatch();
    CheckUnreferenced();
    CheckStale();
    rep_.bytes_hashed = hashed_.load();
    std::sort(rep_.files.begin(), rep_.files.end(),
              [](const FileVerdict& a, const FileVerdict& b) { return a.path < b.path; });
    return std::move(rep_);
  }

 private:
  void ReadStream() {
    const std::string dir = o_.root + "/" + std::string(kSealDirName);
    std::string data;
    for (const std::string& name : ListNames(dir, false)) {
      int64_t day;
      if (name.size() != 15 || name.substr(10) != ".seal" ||
          !ParseDayName(name.substr(0, 10), &day)) {
        continue;
      }
      if (seal_paths_.empty()) first_seal_day_ = day;
      seal_day_ = day;
      seal_paths_.push_back(dir + "/" + name);
      if (!ReadAll(seal_paths_.back(), &data)) {
        rep_.chain_errors.push_back("cannot read " + seal_paths_.back());
        broken_ = true;
        return;
      }
      ReadSealFile(data);
      // Files two days older than this stream day get no more records (two
      // days plus the key's lead on the clock, after the clock went back:
      // records then go to the seal file of the key's day).
      for (auto it = files_.begin(); it != files_.end();) {
        if (it->second.day <= day - 2 - lead_days_) {
          Finish(it->first, &it->second);
          it = files_.erase(it);
        } else {
          ++it;
        }
      }
      RunBatch();
    }
    if (segment_loss_ && !broken_) {
      // A loss record no E seals yet: the loss is recent, report it.
      rep_.chain_errors.push_back(loss_msg_);
      loss_seen_ = true;
    }
    if (seal_paths_.empty() || (!have_e_ && !broken_)) {
      // Nothing is sealed: never an OK. With a key the chain began at its
      // epoch 0, so records must exist; without one, say so plainly.
      const std::string what = seal_paths_.empty()
                                   ? "no seal stream in " + dir
                                   : "the seal stream in " + dir + " holds no seal record";
      if (o_.key) {
        rep_.chain_errors.push_back(
            what + ", but the key's chain began on " + DayName(DayOfUnix(o_.key->start_unix)) +
            ": the seal files were deleted (or the archive was never sealed with this key, or "
            "konseki has not finished its first epoch yet)");
      } else {
        rep_.chain_errors.push_back(what + ": nothing in this archive is sealed");
      }
      return;
    }
    CheckLateStart();
  }

  // Records cut off the end of the stream, with the day files truncated to
  // what the kept records name, look like a konseki that stopped earlier:
  // nothing in the stream itself tells. The key state does: it counts the
  // records the key made (SealKeyState::seq), and the sealer writes each
  // record before it stores the state. Without a readable state the report
  // says how far the last record is from now, prominently.
  void CheckEnd() {
    const std::string path =
        o_.key_state_path.empty() ? DefaultSealKeyPath(o_.root) : o_.key_state_path;
    auto state = ReadSealKeyState(path);
    if (!state.ok()) {
      if (have_e_) {
        const int64_t secs = last_e_epoch_secs_;
        const int64_t age = std::max<int64_t>(0, o_.now_unix - rep_.last_sealed_ns / 1'000'000'000);
        rep_.end_warning =
            "the end of the stream is NOT checked (" + state.status().message() +
            "): its last record (epoch " + std::to_string(rep_.last_epoch) + ", sealed " +
            Nanos(rep_.last_sealed_ns) + ") is " + std::to_string(secs > 0 ? age / secs : 0) +
            " epochs (" + std::to_string(age / 3600) + " h " + std::to_string(age % 3600 / 60) +
            " min) before now: if konseki sealed until now, records were cut off the end. "
            "Give the key state (the archive's .state/seal.key, or --config) to check";
      }
      return;
    }
    WipeSealBytes(&state->key);
    if (broken_) return;
    rep_.end_checked = true;
    const bool same_chain =
        have_e_ && state->start_unix == last_e_start_ && state->epoch_secs == last_e_epoch_secs_;
    const uint64_t held = have_e_ ? last_seq_ + 1 : 0;
    if (state->seq == 0 || (same_chain && state->seq <= held)) return;
    if (!have_e_ || same_chain) {
      rep_.chain_errors.push_back(
          "records missing at the end: the key made " + std::to_string(state->seq) +
          ", the stream holds " + std::to_string(held) +
          (have_e_ ? " (its last record, " + std::to_string(last_seq_) + ", sealed " +
                         Nanos(rep_.last_sealed_ns) + ")"
                   : "") +
          ": records and the lines they sealed were cut off the end (key state " + path +
          "; or konseki could not write them: archive.seal_stopped)");
    } else {
      rep_.chain_errors.push_back(
          "records missing at the end: the key state " + path + " belongs to a chain begun " +
          Nanos(state->start_unix * 1'000'000'000) + " that made " + std::to_string(state->seq) +
          " records, and the stream holds none of them");
    }
  }

  // The day the chain began: the key's epoch 0, else the stream's header.
  int64_t ChainStartDay() const {
    if (!keys_.empty()) {
      int64_t first = keys_.front().start_unix;
      for (const VerificationKey& k : keys_) first = std::min(first, k.start_unix);
      return DayOfUnix(first);
    }
    return have_h_ ? DayOfUnix(first_h_start_) : INT64_MIN;
  }

  // A stream whose first record is not record 0 lost its beginning. Only
  // retention may explain that, and retention (outputs/retention.h) removes
  // a seal file only when it is at least two days older than the day of the
  // pass, together with every day file it sealed (older day files go first).
  // So it is explained only if: no loss record (M) says otherwise; the chain
  // began before the first seal file kept; the stream's last record is at
  // least two days after that file's day; with --config, the retention
  // period allows it (checked at the first record); and no day file of a
  // removed seal file's day is still there (CheckUnreferenced).
  void CheckLateStart() {
    if (from_start_ || broken_ || loss_seen_) return;
    late_start_ = true;
    const int64_t chain_day = ChainStartDay();
    const int64_t last_day = DayOfUnix(rep_.last_sealed_ns / 1'000'000'000);
    const std::string head = "the seal stream starts at record " + std::to_string(first_seq_) +
                             " (epoch " + std::to_string(rep_.first_epoch) + ") on " +
                             DayName(first_seal_day_);
    if (chain_day != INT64_MIN && first_seal_day_ <= chain_day) {
      rep_.chain_errors.push_back(head + ", the day the chain began (" + DayName(chain_day) +
                                  "): its first records were removed (seal file deleted or "
                                  "replaced; retention never removes the chain's first day "
                                  "while keeping that day's later records)");
    } else if (last_day < first_seal_day_ + 2) {
      rep_.chain_errors.push_back(
          head + " but its last record is of " + DayName(last_day) +
          ": retention removes only seal files at least two days older than a day konseki ran "
          "on, so the older seal files were deleted");
    } else {
      rep_.notes.push_back(head + ": older seal files were removed (retention" +
                           (o_.retention_days > 0 ? ", within archive.retention_days" : "") + ")");
    }
  }

  void ReadSealFile(std::string_view data) {
    size_t line_no = 0;
    for (size_t pos = 0; pos < data.size();) {
      const size_t nl = data.find('\n', pos);
      ++line_no;
      if (nl == std::string_view::npos) {
        rep_.notes.push_back(Where(line_no) + ": incomplete last line (not sealed)");
        return;
      }
      OnLine(data.substr(pos, nl - pos), pos, line_no);
      pos = nl + 1;
    }
  }

  std::string Where(size_t line_no) const {
    return seal_paths_.back() + ":" + std::to_string(line_no);
  }

  void OnLine(std::string_view line, size_t offset, size_t line_no) {
    SealRecord r;
    const bool parsed = ParseSealLine(line, &r);
    if (!parsed || r.kind != 'E') stream_.Update(std::string_view(line.data(), line.size() + 1));
    if (!parsed) {
      rep_.notes.push_back(Where(line_no) + ": malformed seal line ignored");
      return;
    }
    switch (r.kind) {
      case 'H':
        if (!have_h_) first_h_start_ = r.start_unix;
        have_h_ = true;
        h_start_ = r.start_unix;
        h_epoch_secs_ = r.epoch_secs;
        // The key of this chain: the one made for its start and epoch
        // length (none: the chain is not authenticated, said at its first E).
        ck_ = nullptr;
        for (const VerificationKey& k : keys_) {
          if (k.start_unix == r.start_unix && k.epoch_secs == r.epoch_secs) ck_ = &k;
        }
        break;
      case 'N':
        // A new chain (a new key) begins. It must follow the last record
        // there is: a cut before it would otherwise hide behind the new key.
        if (have_e_ && !broken_ && (r.seq != last_seq_ || r.tag != last_tag_)) {
          Break(Where(line_no) + ": a new chain begins after record " + std::to_string(r.seq) +
                ", but the stream before it ends at record " + std::to_string(last_seq_) +
                " (records cut before the new chain, or the record was forged)");
        }
        chain_begun_ = true;
        rep_.notes.push_back(
            Where(line_no) + ": a new chain begins on " + Nanos(r.time_ns) +
            ": the sealing key was replaced after record " + std::to_string(r.seq) +
            " (`seal-setup --new-chain`, alert archive.seal_new_chain); each chain is checked "
            "with its own key");
        break;
      case 'L':
        pending_l_[std::string(r.path)].push_back(
            LRef{seal_paths_.size() - 1, offset + 3 + r.path.size(), r.hashes.size()});
        break;
      case 'F':
      case 'U':
      case 'X':
      case 'R': {
        Range rg{r.kind, r.start, r.end, r.lines, r.digest, {}, 0};
        auto it = pending_l_.find(r.path);
        if (it != pending_l_.end()) {
          if (r.kind == 'F') rg.lrefs = std::move(it->second);
          pending_l_.erase(it);
        }
        pending_.emplace_back(std::string(r.path), std::move(rg));
        break;
      }
      case 'M':
        // Judged at the next E: if that record follows the last one kept,
        // the files were put back and nothing is lost.
        segment_loss_ = true;
        loss_msg_ =
            Where(line_no) + ": konseki found its seal stream " +
            (r.why == "missing-at-start"
                 ? std::string("missing when it started")
                 : "deleted or replaced while it ran (" + std::string(r.why) + ")") +
            " on " + Nanos(r.time_ns) + ", before record " + std::to_string(r.seq) +
            ": the seal files before it were removed; what they sealed is no longer vouched for";
        break;
      case 'E':
        OnEpoch(r, line_no);
        break;
    }
  }

  void Break(const std::string& why) {
    if (!broken_) rep_.chain_errors.push_back(why);
    broken_ = true;
  }

  void OnEpoch(const SealRecord& r, size_t line_no) {
    const SealBytes digest = stream_.Finish();
    if (broken_) return;
    const std::string where = Where(line_no);
    const int64_t start = ck_ ? ck_->start_unix : h_start_;
    const int64_t len = ck_ ? ck_->epoch_secs : h_epoch_secs_;
    if (len > 0 && DayOfUnix(start + static_cast<int64_t>(r.epoch) * len) != seal_day_) {
      return Break(where + ": record of epoch " + std::to_string(r.epoch) +
                   " is not in the seal file of its day (moved or relabelled)");
    }
    if (r.seq == 0 && r.epoch != 0) {
      return Break(where + ": the first record of a stream is of epoch 0, not " +
                   std::to_string(r.epoch) + " (relabelled)");
    }
    bool loss = false;
    if (segment_loss_) {
      if (have_e_ && r.epoch == expected_next_ && r.seq == last_seq_ + 1 && r.prev == last_tag_) {
        rep_.notes.push_back(loss_msg_.substr(0, loss_msg_.find(": the seal files")) +
                             "; the stream was put back: the chain goes on unbroken");
      } else {
        loss = true;
        loss_seen_ = true;
        rep_.chain_errors.push_back(loss_msg_);
      }
    }
    if (!have_e_) {
      rep_.first_epoch = r.epoch;
      first_seq_ = r.seq;
      from_start_ = r.seq == 0;
      const int64_t today = DayOfUnix(o_.now_unix);
      if (r.seq != 0 && !loss && o_.retention_days > 0 &&
          first_seal_day_ > today - o_.retention_days - 1) {
        return Break(where + ": the seal stream starts on " + DayName(first_seal_day_) +
                     " but retention keeps " + std::to_string(o_.retention_days) +
                     " days: older seal files were removed");
      }
    } else if (loss) {
      // After a loss record the stream goes on from the key's own record
      // number; the break is already reported.
    } else if (chain_begun_) {
      if (r.seq != 0 || r.prev != SealBytes{}) {
        return Break(where + ": the new chain does not begin with its record 0 (found record " +
                     std::to_string(r.seq) + ")");
      }
    } else if (r.epoch != expected_next_ || r.seq != last_seq_ + 1) {
      return Break(where + ": records missing: expected epoch " + std::to_string(expected_next_) +
                   " record " + std::to_string(last_seq_ + 1) + ", found epoch " +
                   std::to_string(r.epoch) + " record " + std::to_string(r.seq) +
                   " (seal file deleted or records cut)");
    } else if (r.prev != last_tag_) {
      return Break(where + ": record does not follow the previous one (replaced or reordered)");
    }
    const bool unauthenticated = !keys_.empty() && ck_ == nullptr;
    if (unauthenticated && (chain_begun_ || !have_e_)) {
      rep_.chain_errors.push_back(
          where + ": the chain that begins here (start " + Nanos(h_start_ * 1'000'000'000) + ", " +
          std::to_string(h_epoch_secs_) +
          " s epochs) is not authenticated: no --key given matches its start time and epoch "
          "length (wrong key? give each chain's key: --key OLD --key NEW)");
    }
    if (chain_begun_ || !have_e_) ++rep_.chains;
    if (ck_ != nullptr) {
      if (r.epoch < key_epoch_ || key_of_ != ck_) {
        key_ = ck_->key0;
        key_epoch_ = 0;
        key_of_ = ck_;
      }
      for (; key_epoch_ < r.epoch; ++key_epoch_) EvolveSealKey(&key_);
      const SealBytes tag =
          HmacSha256(key_, SealTagInput(r.prev, digest, r.epoch, r.next, r.seq, r.time_ns));
      if (tag != r.tag) {
        return Break(
            where + ": record fails authentication for epoch " + std::to_string(r.epoch) +
            " (the record or what it seals was edited, or forged without that epoch's key)");
      }
    }
    for (auto& [path, rg] : pending_) {
      rg.sealed_ns = r.time_ns;
      // Once the stream lost records, a restart's U range may be bytes that
      // were sealed in the lost part: never "written before a crash".
      rg.after_loss = loss || (loss_seen_ && rg.kind == 'U');
      rg.unauthenticated = unauthenticated;
      FileState& fs = files_[path];
      std::string_view host;
      ParseArchivePath(path, &host, &fs.day);
      fs.ranges.push_back(std::move(rg));
      referenced_.insert(path);
    }
    pending_.clear();
    NoteKeyAhead(r, start, len);
    segment_loss_ = false;
    chain_begun_ = false;
    have_e_ = true;
    expected_next_ = r.next;
    last_tag_ = r.tag;
    last_seq_ = r.seq;
    last_e_start_ = h_start_;
    last_e_epoch_secs_ = h_epoch_secs_;
    ++rep_.records;
    rep_.last_epoch = r.epoch;
    rep_.last_sealed_ns = r.time_ns;
  }

  // A record is written at the end of its epoch, or up to two epochs
  // before it after clean restarts (each moves the key one epoch past the
  // clock). Earlier, the clock was behind the key: it went back after
  // running ahead (or while konseki was stopped), and the sealer went on
  // with keys ahead of the clock (archive.seal_key_ahead).
  void NoteKeyAhead(const SealRecord& r, int64_t start, int64_t len) {
    const int64_t sealed = r.time_ns / 1'000'000'000;
    lead_days_ = std::max(lead_days_, seal_day_ - DayOfUnix(sealed));
    if (len <= 0) return;
    const int64_t begins = start + static_cast<int64_t>(r.epoch) * len;
    if (sealed >= begins - 2 * len) return;
    if (ahead_records_++ == 0) {
      const int64_t ahead = begins - sealed;
      ahead_first_ = "record " + std::to_string(r.seq) + " (epoch " + std::to_string(r.epoch) +
                     ", which begins " + Nanos(begins * 1'000'000'000) + ") was sealed " +
                     Nanos(r.time_ns) + ", " + std::to_string(ahead / 3600) + " h " +
                     std::to_string(ahead % 3600 / 60) + " min before its epoch";
    }
  }

  // What a konseki that stopped sealing leaves behind, seen from now:
  // lines after the last seal received more than two epochs ago (sealed at
  // each epoch end while konseki runs: it crashed and was not started
  // again, its sealing stopped, or an older konseki whose clock went back
  // waits for it to reach the key), and a last record sealed after now.
  void CheckStale() {
    if (ahead_records_ > 0) {
      rep_.notes.push_back(
          std::to_string(ahead_records_) +
          " seal records were written before their epoch began; the first: " + ahead_first_ +
          ": the log host's clock was behind the sealing key (set back after running ahead, or "
          "while konseki was stopped: konseki.clock_jump, archive.seal_key_ahead); sealing went "
          "on with keys ahead of the clock");
    }
    const int64_t len = last_e_epoch_secs_;
    if (!have_e_ || o_.now_unix <= 0 || len <= 0) return;
    const int64_t last_sealed = rep_.last_sealed_ns / 1'000'000'000;
    if (last_sealed > o_.now_unix + len) {
      const int64_t d = last_sealed - o_.now_unix;
      rep_.warnings.push_back(
          "the last seal record was written " + Nanos(rep_.last_sealed_ns) + ", " +
          std::to_string(d / 3600) + " h " + std::to_string(d % 3600 / 60) +
          " min after now by this host's clock: the clock that sealed it ran ahead (the log "
          "host's clock went back since, or this host's clock is behind)");
    }
    const int64_t now_us = o_.now_unix * 1'000'000;
    const int64_t limit_us = (2 * len + 60) * 1'000'000;
    uint64_t lines = 0, files = 0;
    int64_t oldest = INT64_MAX;
    std::string oldest_text;
    for (const FileVerdict& f : rep_.files) {
      if (f.unsealed_lines == 0 || f.first_unsealed_time.size() != StampCheck::kStampLen) continue;
      const int64_t t = StampCheck::Micros(f.first_unsealed_time);
      if (t < 0 || now_us - t <= limit_us) continue;
      lines += f.unsealed_lines;
      ++files;
      if (t < oldest) {
        oldest = t;
        oldest_text = f.first_unsealed_time;
      }
    }
    if (lines == 0) return;
    const int64_t age = (now_us - oldest) / 1'000'000;
    rep_.warnings.push_back(
        std::to_string(lines) + " lines in " + std::to_string(files) +
        " files are not sealed though received more than two epochs ago (the oldest " +
        oldest_text + ", " + std::to_string(age / 3600) + " h " + std::to_string(age % 3600 / 60) +
        " min before now): a running konseki seals every epoch, so it is not sealing them "
        "(crashed or killed and not started again; sealing stopped: archive.seal_stopped; or "
        "its clock went back after running ahead and a konseki without the fix for that waits "
        "for the clock to reach its key)");
  }

  bool Wanted(const std::string& path) const { return only_.empty() || only_.count(path) > 0; }

  // Retention (outputs/retention.h) deletes day files older than
  // archive.retention_days but keeps the seal file of the day before the
  // oldest kept day (it seals that day's first bytes), so a sealed day file
  // of that day is gone while its records are still in the stream, even
  // when the stream begins at record 0 (prod19 finding 2). Told the period
  // (--config), verify expects every day file past it to be gone; a day
  // file within it that is gone still fails as missing.
  bool PastRetention(int64_t day) const {
    return o_.retention_days > 0 && o_.now_unix > 0 &&
           day < DayOfUnix(o_.now_unix) - o_.retention_days;
  }
  std::string RetentionNote() const {
    return "removed (retention: older than archive.retention_days, " +
           std::to_string(o_.retention_days) + " days)";
  }
  // Only the first seal file's day can have sealed day files that retention
  // removed while keeping their records: say how to tell.
  std::string MissingHint(int64_t day) const {
    if (o_.retention_days > 0 || day > first_seal_day_) return "";
    return "; if archive.retention_days removed it, give --config so verify knows the retention "
           "period";
  }

  // Queues a file whose records are complete; RunBatch verifies the queue.
  void Finish(const std::string& path, FileState* fs) {
    if (Wanted(path)) batch_.emplace_back(path, std::move(*fs));
  }

  // Files are independent: hash them on every core. VerifyFile only reads
  // the Verifier's state (and the atomic byte count), writing its own verdict.
  void RunBatch() {
    std::vector<FileVerdict> verdicts(batch_.size());
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < batch_.size();) {
        verdicts[i].path = batch_[i].first;
        VerifyFile(&batch_[i].second, &verdicts[i]);
      }
    };
    const size_t n = std::min<size_t>(batch_.size(), UsableCpus());
    std::vector<std::thread> pool;
    for (size_t t = 1; t < n; ++t) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    for (FileVerdict& v : verdicts) rep_.files.push_back(std::move(v));
    batch_.clear();
  }

  static std::string& Buf() {
    thread_local std::string buf;
    buf.resize(kChunk);
    return buf;
  }

  void VerifyFile(FileState* fs, FileVerdict* v) {
    const std::string batch_path = v->path;  // before ".zst" is added
    // Only a stream whose oldest records were removed has a retention edge.
    const bool edge = !from_start_ && !loss_seen_ && fs->day <= first_seal_day_;
    std::vector<Range>& rs = fs->ranges;
    if (rs.front().start != 0) {
      if (edge) {
        v->note = "begins before the oldest seal file kept (retention)";
      } else {
        return Fail(v, 1, "",
                    "uncovered: no seal record for bytes 0.." + std::to_string(rs[0].start));
      }
    }
    auto reader = ArchiveReader::Open(o_.root, v->path);
    if (!reader.ok()) {
      if (reader.status().code() == StatusCode::kNotFound && (edge || PastRetention(fs->day))) {
        v->note = edge ? "removed (retention edge)" : RetentionNote();
        return;
      }
      return Fail(v, 0, "",
                  "missing: " + reader.status().message() + " (sealed " +
                      std::to_string(rs.back().end) + " bytes)" + MissingHint(fs->day));
    }
    if ((*reader)->compressed()) v->path += ".zst";
    if (rs.front().start != 0) (*reader)->Skip(rs.front().start);
    uint64_t line = 0;
    StampCheck stamps;
    stamps.SetPlace(batch_path, o_);
    const Range* foreign = nullptr;  // the first X or R range
    uint64_t foreign_line = 0;
    for (size_t i = 0; i < rs.size(); ++i) {
      if (i > 0 && rs[i].start != rs[i - 1].end) {
        return Fail(v, line + 1, "",
                    "uncovered: seal records missing for bytes " + std::to_string(rs[i - 1].end) +
                        ".." + std::to_string(rs[i].start));
      }
      std::string tail;
      if (rs[i].kind == 'X' || rs[i].kind == 'R') {
        // Never vouched for, whatever its digest says; the file fails below.
        // An R range has no line count (the sealer could not read it).
        const uint64_t before = stamps.line;
        HashRange(reader->get(), rs[i], &tail, &stamps);
        const uint64_t lines = rs[i].kind == 'X' ? rs[i].lines : stamps.line - before;
        if (foreign == nullptr) {
          foreign = &rs[i];
          foreign_line = line + 1;
        }
        (rs[i].kind == 'X' ? v->foreign_lines : v->unread_lines) += lines;
        line += lines;
        continue;
      }
      // Sealed lines are konseki's own writes in konseki's order: only
      // their last stamp matters to the check of what follows.
      const bool sealed = rs[i].kind == 'F';
      if (!HashRange(reader->get(), rs[i], &tail, sealed ? nullptr : &stamps)) {
        if (rs[i].kind == 'U') {
          return Fail(v, line + 1, "",
                      "unsealed-range-changed: lines found unsealed at a restart changed since");
        }
        return Diagnose(rs, i, line, v);
      }
      if (sealed) stamps.Skip(rs[i].lines, LastLine(tail));
      if (rs[i].kind == 'F' && rs[i].unauthenticated) {
        v->unauthenticated_lines += rs[i].lines;
      } else if (rs[i].kind == 'F') {
        v->verified_lines += rs[i].lines;
        v->verified_bytes += rs[i].end - rs[i].start;
        if (rs[i].lines > 0) v->verified_until = LineTime(LastLine(tail));
        v->sealed_at_ns = rs[i].sealed_ns;
      } else if (rs[i].after_loss) {
        v->lost_unsealed_lines += rs[i].lines;
      } else {
        v->restart_unsealed_lines += rs[i].lines;
      }
      line += rs[i].lines;
    }
    v->unsealed_lines = CountRest(reader->get(), &stamps, &v->first_unsealed_time);
    if (stamps.back_lines > 0) {
      if (!v->note.empty()) v->note += "; ";
      v->note += "receive times go back " + std::to_string(stamps.back_us / 1'000'000) +
                 " s at line " + std::to_string(stamps.back_line) + " (" + stamps.back_text +
                 " after " + stamps.max_at_back + ")" +
                 (stamps.back_lines > 1
                      ? " and at " + std::to_string(stamps.back_lines - 1) + " more lines"
                      : "") +
                 ": lines added by hand, or written late after a write error";
    }
    if (foreign != nullptr && foreign->kind == 'R') {
      Fail(v, foreign_line, "",
           "unread: bytes " + std::to_string(foreign->start) + ".." + std::to_string(foreign->end) +
               " were written by konseki but never sealed: the sealer could not read the file "
               "back (the file or its host folder was unreadable to konseki's user; it raised "
               "archive.seal_unreadable)");
    } else if (foreign != nullptr) {
      Fail(v, foreign_line, "",
           "foreign: bytes " + std::to_string(foreign->start) + ".." +
               std::to_string(foreign->end) +
               " were not written by konseki (another process wrote to this file, while konseki "
               "ran or while it was stopped; the sealer raised archive.foreign_write)");
    }
    FailMisplaced(stamps, v);
  }

  // Receive times (the first 27 bytes of each line, RFC 3339 UTC micros as
  // the archive writes them) that go back by more than kToleranceUs within
  // a file, among the lines no seal vouches for (U and X ranges, the tail
  // after the last seal), each against the latest stamp before it (of a
  // sealed range, its last line): one listener may pass another by a few
  // milliseconds, and lines held by a write error are written late, but a
  // line stamped hours before its neighbours was most likely added by hand
  // (while konseki was stopped, or past its write log). A note, not a
  // failure. Sealed (F) lines are konseki's own writes (the sealer's write
  // log) and are not scanned line by line: that keeps verify at the speed
  // of SHA-256.
  struct StampCheck {
    static constexpr int64_t kToleranceUs = 10'000'000;
    static constexpr size_t kStampLen = 27;  // "YYYY-MM-DDTHH:MM:SS.uuuuuuZ"
    uint64_t line = 0;                       // lines completed
    char head[kStampLen];                    // the first bytes of the current line
    size_t head_len = 0;
    char max_text[kStampLen];  // the latest stamp so far
    bool have_max = false;
    uint64_t back_lines = 0;  // lines more than the tolerance behind
    uint64_t back_line = 0;   // the first of them (1-based, counted from the range read first)
    int64_t back_us = 0;
    std::string back_text, max_at_back;
    // Where the lines belong (SetPlace): the file's day ("YYYY-MM-DD") and,
    // with a host reader, its host folder. Lines of another day or host
    // are misplaced: a copy of another day's or host's file.
    std::string day;
    std::string folder;  // empty: hosts not checked
    const VerifyOptions* opts = nullptr;
    std::string cur;  // the current line, up to kMaxLine bytes (for its host)
    static constexpr size_t kMaxLine = 64 * 1024;
    uint64_t misplaced = 0;
    uint64_t misplaced_line = 0;
    std::string misplaced_time, misplaced_why;

    // path: "host/YYYY-MM-DD.log".
    void SetPlace(std::string_view path, const VerifyOptions& o) {
      const size_t slash = path.find('/');
      if (slash == std::string_view::npos || path.size() < slash + 11) return;
      day.assign(path.substr(slash + 1, 10));
      const std::string_view host = path.substr(0, slash);
      if (o.line_of_host && !IsOverflowFolder(host)) {
        folder.assign(host);
        opts = &o;
      }
    }

    // Per line: a memchr, a 27-byte copy and compare; no allocation.
    void Feed(std::string_view c) {
      const char* p = c.data();
      const char* const end = p + c.size();
      while (p < end) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
        const char* line_end = nl == nullptr ? end : nl;
        if (head_len < kStampLen) {
          const size_t take = std::min<size_t>(line_end - p, kStampLen - head_len);
          std::memcpy(head + head_len, p, take);
          head_len += take;
        }
        if (opts != nullptr && cur.size() < kMaxLine) {
          cur.append(p, std::min<size_t>(line_end - p, kMaxLine - cur.size()));
        }
        if (nl == nullptr) return;
        ++line;
        Check();
        CheckPlace();
        head_len = 0;
        cur.clear();
        p = nl + 1;
      }
    }
    // n sealed lines, the last of them `last`: moves the count and the
    // latest stamp on.
    void Skip(uint64_t n, std::string_view last) {
      line += n;
      head_len = 0;
      cur.clear();
      if (n == 0 || last.size() < kStampLen || last[10] != 'T' || last[26] != 'Z') return;
      if (!have_max || std::memcmp(last.data(), max_text, kStampLen) > 0) {
        std::memcpy(max_text, last.data(), kStampLen);
        have_max = true;
      }
    }
    // A line without a stamp (the piece of a line a crash tore) is not judged.
    void CheckPlace() {
      if (day.empty() || head_len != kStampLen || head[10] != 'T' || head[26] != 'Z') return;
      const std::string_view stamp(head, kStampLen);
      std::string why;
      if (stamp.substr(0, 10) != day) {
        why = "was received " + std::string(stamp) + ", not on " + day +
              ", the day this file is named for (a copy of another day's file?)";
      } else if (opts != nullptr) {
        std::string host;
        if (opts->line_of_host(cur, folder, &host)) return;
        why = "is of host folder '" + host + "', not '" + folder +
              "' (a copy of another host's file?)";
      } else {
        return;
      }
      if (misplaced++ == 0) {
        misplaced_line = line;
        misplaced_time.assign(stamp);
        misplaced_why = std::move(why);
      }
    }
    // Fixed-width stamps order as text: only a line behind the latest one
    // is parsed.
    void Check() {
      if (head_len != kStampLen || head[10] != 'T' || head[26] != 'Z') return;
      if (!have_max || std::memcmp(head, max_text, kStampLen) >= 0) {
        std::memcpy(max_text, head, kStampLen);
        have_max = true;
        return;
      }
      const std::string_view h(head, kStampLen), m(max_text, kStampLen);
      const int64_t t = Micros(h);
      const int64_t max_us = Micros(m);
      if (t < 0 || max_us < 0 || max_us - t <= kToleranceUs) return;
      if (back_lines++ == 0) {
        back_line = line;
        back_us = max_us - t;
        back_text.assign(h);
        max_at_back.assign(m);
      }
    }
    // Microseconds since 1970 of "YYYY-MM-DDTHH:MM:SS.uuuuuuZ", or -1.
    static int64_t Micros(std::string_view s) {
      int64_t day;
      if (!ParseDayName(s.substr(0, 10), &day) || s[13] != ':' || s[16] != ':' || s[19] != '.') {
        return -1;
      }
      int64_t v = day;
      const int kFields[4][3] = {{11, 2, 24}, {14, 2, 60}, {17, 2, 60}, {20, 6, 1'000'000}};
      for (const auto& [at, digits, base] : kFields) {
        int64_t x = 0;
        for (int i = at; i < at + digits; ++i) {
          if (s[i] < '0' || s[i] > '9') return -1;
          x = x * 10 + (s[i] - '0');
        }
        v = v * base + x;
      }
      return v;
    }
  };

  // Lines no seal vouches for that belong to another day or host fail the
  // file (added to a failure already found).
  void FailMisplaced(const StampCheck& stamps, FileVerdict* v) {
    if (stamps.misplaced == 0) return;
    v->misplaced_lines = stamps.misplaced;
    std::string why =
        "misplaced: line " + std::to_string(stamps.misplaced_line) + " " + stamps.misplaced_why +
        (stamps.misplaced > 1 ? " and " + std::to_string(stamps.misplaced - 1) + " more lines"
                              : "");
    if (v->failed) {
      v->why += "; " + why;
    } else {
      Fail(v, stamps.misplaced_line, stamps.misplaced_time, std::move(why));
    }
  }

  // Hashes [start, end) from the reader's position; true if it matches.
  bool HashRange(ArchiveReader* r, const Range& rg, std::string* tail, StampCheck* stamps) {
    Sha256Stream sha;
    uint64_t left = rg.end - rg.start;
    std::string& buf = Buf();
    while (left > 0) {
      auto n = r->Read(buf.data(), static_cast<size_t>(std::min<uint64_t>(left, kChunk)));
      if (!n.ok() || *n == 0) return false;
      std::string_view chunk(buf.data(), *n);
      sha.Update(chunk);
      if (stamps != nullptr) stamps->Feed(chunk);
      hashed_ += *n;
      left -= *n;
      if (chunk.size() >= kTail) {
        tail->assign(chunk.substr(chunk.size() - kTail));
      } else {
        tail->append(chunk);
        if (tail->size() > 2 * kTail) tail->erase(0, tail->size() - kTail);
      }
    }
    return sha.Finish() == rg.digest;
  }

  // first: the receive time of the first line (its first bytes).
  uint64_t CountRest(ArchiveReader* r, StampCheck* stamps = nullptr, std::string* first = nullptr) {
    uint64_t lines = 0;
    bool partial = false;
    std::string& buf = Buf();
    while (true) {
      auto n = r->Read(buf.data(), kChunk);
      if (!n.ok() || *n == 0) break;
      if (first != nullptr && lines == 0 && !partial) {
        first->assign(buf.data(), std::min<size_t>(*n, StampCheck::kStampLen));
      }
      hashed_ += *n;
      if (stamps != nullptr) stamps->Feed(std::string_view(buf.data(), *n));
      lines += static_cast<uint64_t>(std::count(buf.data(), buf.data() + *n, '\n'));
      partial = buf[*n - 1] != '\n';
    }
    return lines + partial;
  }

  void Fail(FileVerdict* v, uint64_t line, std::string time, std::string why) {
    v->failed = true;
    v->fail_line = line;
    v->fail_time = std::move(time);
    v->why = std::move(why);
  }

  std::vector<uint16_t> Hashes(const Range& rg) {
    std::vector<uint16_t> out;
    std::string hex;
    for (const LRef& ref : rg.lrefs) {
      int fd = open(seal_paths_[ref.file].c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      hex.resize(ref.len);
      ssize_t n = pread(fd, hex.data(), hex.size(), static_cast<off_t>(ref.offset));
      close(fd);
      for (size_t i = 0; n == static_cast<ssize_t>(ref.len) && i + 4 <= hex.size(); i += 4) {
        uint16_t h = 0;
        ParseLineHashHex(std::string_view(hex).substr(i, 4), &h);
        out.push_back(h);
      }
    }
    return out;
  }

  // Range i failed its digest: find the first line that differs and why.
  void Diagnose(const std::vector<Range>& rs, size_t i, uint64_t base, FileVerdict* v) {
    std::vector<uint16_t> exp = Hashes(rs[i]);
    const bool have_hashes = exp.size() == rs[i].lines;
    if (i + 1 < rs.size()) {
      std::vector<uint16_t> more = Hashes(rs[i + 1]);
      exp.insert(exp.end(), more.begin(), more.end());
    }
    std::vector<std::string> act = ActualLines(
        v->path, rs[i].start, (rs[i + 1 < rs.size() ? i + 1 : i].end - rs[i].start) + kChunk);
    auto h = [&](size_t k) { return LineHash(act[k]); };
    for (size_t k = 0; have_hashes; ++k) {
      const uint64_t line = base + k + 1;
      if (k >= act.size()) {
        if (k >= exp.size()) break;
        return Fail(v, line, act.empty() ? "" : LineTime(act.back()),
                    "truncated: the file ends before its sealed end (" + std::to_string(rs[i].end) +
                        " bytes sealed)");
      }
      if (k >= exp.size()) return Fail(v, line, LineTime(act[k]), "inserted");
      if (h(k) == exp[k]) continue;
      const bool next_is_this = k + 1 < act.size() && h(k + 1) == exp[k];
      const bool this_is_next = k + 1 < exp.size() && h(k) == exp[k + 1];
      if (this_is_next && next_is_this) return Fail(v, line, LineTime(act[k]), "reordered");
      if (this_is_next) {
        return Fail(v, line, LineTime(act[k]), "removed: the sealed line before this one is gone");
      }
      if (next_is_this) return Fail(v, line, LineTime(act[k]), "inserted");
      return Fail(v, line, LineTime(act[k]), "edited");
    }
    Fail(v, base + 1, "",
         "edited: sealed bytes " + std::to_string(rs[i].start) + ".." + std::to_string(rs[i].end) +
             " changed (lines " + std::to_string(base + 1) + ".." +
             std::to_string(base + rs[i].lines) + ")");
  }

  std::vector<std::string> ActualLines(std::string path, uint64_t start, uint64_t max) {
    std::vector<std::string> lines;
    if (path.size() > 4 && path.compare(path.size() - 4, 4, ".zst") == 0)
      path.resize(path.size() - 4);
    auto r = ArchiveReader::Open(o_.root, path);
    if (!r.ok()) return lines;
    (*r)->Skip(start);
    std::string data;
    std::string& buf = Buf();
    while (data.size() < max) {
      auto n = (*r)->Read(buf.data(), kChunk);
      if (!n.ok() || *n == 0) break;
      data.append(buf.data(), *n);
    }
    for (size_t pos = 0; pos < data.size();) {
      size_t nl = data.find('\n', pos);
      if (nl == std::string::npos) nl = data.size();
      lines.emplace_back(data, pos, nl - pos);
      pos = nl + 1;
    }
    return lines;
  }

  // Day files no seal record covers.
  void CheckUnreferenced() {
    const int64_t last_day =
        rep_.last_sealed_ns > 0 ? DayOfUnix(rep_.last_sealed_ns / 1'000'000'000) : INT64_MIN;
    for (const std::string& host : ListNames(o_.root, false)) {
      for (const std::string& name : ListNames(o_.root + "/" + host, false)) {
        std::string path = host + "/" + name;
        std::string_view h;
        int64_t day;
        if (!ParseArchivePath(path, &h, &day)) continue;
        std::string key = path.size() > 4 && path.compare(path.size() - 4, 4, ".zst") == 0
                              ? path.substr(0, path.size() - 4)
                              : path;
        if (referenced_.count(key) || !Wanted(key)) continue;
        FileVerdict v;
        v.path = path;
        auto r = ArchiveReader::OpenFile(o_.root + "/" + path);
        StampCheck stamps;
        stamps.SetPlace(key, o_);
        if (r.ok()) v.unsealed_lines = CountRest(r->get(), &stamps);
        const int64_t chain_day = ChainStartDay();
        if (!have_e_) {
          v.note = "not sealed (no seal record)";
        } else if (chain_day != INT64_MIN && day < chain_day) {
          v.note = "not sealed (written before sealing began on " + DayName(chain_day) + ")";
        } else if ((late_start_ || loss_seen_) && day < first_seal_day_) {
          // Retention deletes a day file before the seal files that sealed it.
          Fail(&v, 1, "",
               "seal-removed: the seal files of this day were removed but the file is still "
               "here (retention removes both): its lines are no longer vouched for");
        } else if (day > first_seal_day_ && day < last_day - 1) {
          Fail(&v, 1, "",
               "not-in-chain: no seal record covers this file though sealing went on "
               "for days after it (inserted, or written while sealing was off)");
        } else if (day < first_seal_day_) {
          v.note = "not sealed (older than the seal stream)";
        }
        FailMisplaced(stamps, &v);
        rep_.files.push_back(std::move(v));
      }
    }
  }

  const VerifyOptions& o_;
  std::set<std::string> only_;
  VerifyReport rep_;
  std::vector<std::string> seal_paths_;
  int64_t first_seal_day_ = INT64_MIN;
  int64_t seal_day_ = INT64_MIN;
  int64_t h_start_ = 0;
  int64_t h_epoch_secs_ = 0;
  Sha256Stream stream_;
  bool have_e_ = false;
  bool from_start_ = false;    // the stream begins with record 0
  bool late_start_ = false;    // it does not, and no loss record says why
  bool segment_loss_ = false;  // a loss record (M) since the last E
  bool loss_seen_ = false;     // a loss record that the next E shows real
  std::string loss_msg_;
  bool have_h_ = false;
  int64_t first_h_start_ = 0;
  uint64_t first_seq_ = 0;
  bool broken_ = false;
  uint64_t expected_next_ = 0;
  uint64_t last_seq_ = 0;
  int64_t last_e_start_ = 0;  // the chain of the last E: its start and epoch length
  int64_t last_e_epoch_secs_ = 0;
  // Days the key ran ahead of the clock (seal file day - the day a record
  // was written), and the records sealed before their epoch (NoteKeyAhead).
  int64_t lead_days_ = 0;
  uint64_t ahead_records_ = 0;
  std::string ahead_first_;
  SealBytes last_tag_{};
  std::vector<VerificationKey> keys_;    // o_.key and o_.more_keys
  const VerificationKey* ck_ = nullptr;  // the key of the current chain (its H), if given
  bool chain_begun_ = false;             // an N since the last E: a new chain's record 0 next
  SealBytes key_{};
  const VerificationKey* key_of_ = nullptr;  // the key key_ evolved from
  uint64_t key_epoch_ = 0;
  std::vector<std::pair<std::string, Range>> pending_;
  std::map<std::string, std::vector<LRef>, std::less<>> pending_l_;
  std::map<std::string, FileState> files_;
  std::set<std::string> referenced_;
  std::vector<std::pair<std::string, FileState>> batch_;
  std::atomic<uint64_t> hashed_{0};
};

}  // namespace

bool VerifyReport::ok() const {
  if (!chain_errors.empty()) return false;
  for (const FileVerdict& f : files) {
    if (f.failed) return false;
  }
  return true;
}

StatusOr<VerifyReport> VerifyArchive(const VerifyOptions& options) {
  if (options.root.empty()) return Status::InvalidArgument("verify: no archive folder given");
  DIR* d = opendir(options.root.c_str());
  if (d == nullptr) return Status::FromErrno("verify: cannot open " + options.root, errno);
  closedir(d);
  Verifier v(options);
  return v.Run();
}

void PrintVerifyReport(const VerifyReport& rep, double seconds, std::ostream& out) {
  for (const std::string& n : rep.notes) out << "note: " << n << "\n";
  for (const FileVerdict& f : rep.files) {
    out << f.path << ": ";
    if (f.failed) {
      out << "FAILED";
      if (f.fail_line > 0) out << " at line " << f.fail_line;
      if (!f.fail_time.empty()) out << " (" << f.fail_time << ")";
      out << ": " << f.why << ";";
    } else if (rep.records == 0) {
      out << "NOT SEALED:";
    } else {
      out << "OK:";
    }
    out << " " << f.verified_lines << " lines verified";
    if (!f.verified_until.empty()) {
      out << " up to " << f.verified_until << " (sealed " << Nanos(f.sealed_at_ns) << ")";
    }
    if (f.restart_unsealed_lines > 0) {
      out << "; " << f.restart_unsealed_lines << " lines unsealed (written before a crash)";
    }
    if (f.lost_unsealed_lines > 0) {
      out << "; " << f.lost_unsealed_lines
          << " lines unsealed (found at a restart after the seal stream was removed)";
    }
    if (f.unauthenticated_lines > 0) {
      out << "; " << f.unauthenticated_lines
          << " lines sealed by a chain no --key was given for (not authenticated)";
    }
    if (f.foreign_lines > 0) {
      out << "; " << f.foreign_lines << " lines foreign (not written by konseki)";
    }
    if (f.misplaced_lines > 0) {
      out << "; " << f.misplaced_lines << " lines misplaced (of another day or host)";
    }
    if (f.unread_lines > 0) {
      out << "; " << f.unread_lines << " lines unread (the sealer could not read them)";
    }
    if (f.unsealed_lines > 0) {
      out << "; " << f.unsealed_lines
          << (rep.records == 0 ? " lines unsealed" : " lines unsealed (after the last seal)");
    }
    if (!f.note.empty()) out << "; " << f.note;
    out << "\n";
  }
  for (const std::string& e : rep.chain_errors) out << "seal stream: FAILED: " << e << "\n";
  size_t failed = 0;
  for (const FileVerdict& f : rep.files) failed += f.failed;
  out << "seal stream: " << rep.records << " records";
  if (rep.chains > 1) out << " in " << rep.chains << " chains (the key was replaced)";
  out << ", epochs " << rep.first_epoch << ".." << rep.last_epoch;
  if (rep.last_sealed_ns > 0) out << ", last sealed " << Nanos(rep.last_sealed_ns);
  out << (rep.authenticated ? ", tags authenticated"
                            : ", tags NOT checked (no --key: digests and structure only)")
      << "\n";
  if (!rep.end_warning.empty()) out << "seal stream: WARNING: " << rep.end_warning << "\n";
  for (const std::string& w : rep.warnings) out << "seal stream: WARNING: " << w << "\n";
  char speed[128];
  std::snprintf(speed, sizeof(speed), "%.3f GB in %.2f s (%.2f GB/s)",
                static_cast<double>(rep.bytes_hashed) / 1e9, seconds,
                seconds > 0 ? static_cast<double>(rep.bytes_hashed) / 1e9 / seconds : 0.0);
  out << "summary: " << rep.files.size() << " files, " << failed << " failed"
      << (rep.chain_errors.empty() ? "" : ", seal stream broken") << "; read " << speed << "\n";
}

}  // namespace konseki::outputs
