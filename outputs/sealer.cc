#include "outputs/sealer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "common/thread_name.h"
#include "outputs/archive_alert.h"

namespace konseki::outputs {
namespace {

constexpr size_t kReadChunk = 1 << 20;
constexpr size_t kMaxHashHex = 64 * 1024;  // spill L records past this
constexpr size_t kMaxOut = 256 * 1024;     // write the stream past this

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool ReadWhole(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out->append(buf, static_cast<size_t>(n));
  close(fd);
  return n == 0;
}

}  // namespace

std::string DefaultSealKeyPath(const std::string& archive_dir) {
  return archive_dir + "/.state/seal.key";
}

SealStreamSummary SummarizeSealStream(const std::string& archive_dir) {
  SealStreamSummary sum;
  const std::string dir = archive_dir + "/" + std::string(kSealDirName);
  std::string data;
  SealRecord r;
  int64_t h_start = 0, h_secs = 0;
  for (const std::string& name : ListDir(dir)) {
    if (!ReadWhole(dir + "/" + name, &data)) continue;
    for (size_t pos = 0; pos < data.size();) {
      const size_t nl = data.find('\n', pos);
      if (nl == std::string::npos) break;
      if (ParseSealLine(std::string_view(data).substr(pos, nl - pos), &r)) {
        if (r.kind == 'H') {
          h_start = r.start_unix;
          h_secs = r.epoch_secs;
        } else if (r.kind == 'E') {
          ++sum.records;
          sum.last_seq = r.seq;
          sum.last_time_ns = r.time_ns;
          sum.last_chain_start = h_start;
          sum.last_chain_epoch_secs = h_secs;
        }
      }
      pos = nl + 1;
    }
  }
  return sum;
}

struct Sealer::Tracked {
  std::string path;  // "host/YYYY-MM-DD.log"
  int64_t day = 0;
  uint64_t sealed_end = 0;  // end of the last F/U
  uint64_t read_end = 0;    // hashed up to here (a line boundary)
  uint64_t lines = 0;       // lines in [sealed_end, read_end)
  Sha256Stream sha;         // over [sealed_end, read_end)
  std::string hashes;       // line hashes not yet written as L
  bool shrunk_reported = false;
  // With a write log: what the writers reported past read_end, in order.
  std::vector<ArchiveWriteLog::Range> written;
  // Unreported bytes [tail_at, tail_size) were first seen at tail_since.
  uint64_t tail_at = UINT64_MAX;
  uint64_t tail_size = 0;
  TimePoint tail_since;
  // The file's size at Recover: a predecessor's bytes (a line a crash tore
  // is completed by the next writer and sealed with it), never foreign.
  uint64_t recovered_end = 0;
  // errno of the last failed stat/open of the file (not ENOENT): the
  // run-as user cannot read it (its host folder made root's 0700 after a
  // restore, a chmod). 0 while it can. See Sealer::ReportUnreadable.
  int unreadable = 0;
};

struct Sealer::Metrics {
  Counter* bytes;
  Counter* foreign;
  Counter* records;
  Counter* errors;
  Gauge* epoch;
  Gauge* stopped;
  Gauge* key_ahead;
  explicit Metrics(MetricsRegistry& r)
      : bytes(r.GetCounter("konseki_archive_sealed_bytes_total",
                           "Archive bytes read back and hashed by the sealer.")),
        foreign(r.GetCounter("konseki_archive_foreign_bytes_total",
                             "Bytes found in archive day files that konseki did not write "
                             "(archive.foreign_write); recorded, never sealed as genuine.")),
        records(r.GetCounter("konseki_archive_seal_records_total",
                             "Authenticated seal records (E) written.")),
        errors(r.GetCounter("konseki_archive_seal_errors_total",
                            "Seal stream or key write failures and archive files that shrank.")),
        epoch(r.GetGauge("konseki_archive_seal_epoch", "Epoch of the current sealing key.")),
        stopped(r.GetGauge("konseki_archive_seal_stopped",
                           "1 while seal records cannot be written (archive.seal_stopped), "
                           "else 0.")),
        key_ahead(r.GetGauge("konseki_archive_seal_key_ahead_seconds",
                             "How far the sealing key's epoch begins after the clock's now "
                             "(0 normally; up to N epochs after N clean restarts within an "
                             "epoch, or more after the clock went back, shrinking by one epoch "
                             "every second epoch boundary).")) {}
};

StatusOr<std::unique_ptr<Sealer>> Sealer::Open(const SealerOptions& options, const Clock& clock,
                                               MetricsRegistry& metrics, AlertSink* alerts) {
  if (options.archive_dir.empty()) return Status::InvalidArgument("sealer: archive.dir is empty");
  SealerOptions o = options;
  if (o.key_file.empty()) o.key_file = DefaultSealKeyPath(o.archive_dir);
  auto kf = SealKeyFile::Open(o.key_file);
  if (!kf.ok() && kf.status().code() == StatusCode::kNotFound) {
    // "Run seal-setup" is the wrong advice when a chain exists: its key is
    // gone, by accident or not, and a new key cannot continue that chain.
    const SealStreamSummary sum = SummarizeSealStream(o.archive_dir);
    if (sum.records > 0) {
      return Status::NotFound(
          "seal key " + o.key_file + " not found, but the seal stream in " + o.archive_dir + "/" +
          std::string(kSealDirName) + " holds " + std::to_string(sum.records) +
          " seal records (the last, record " + std::to_string(sum.last_seq) + ", sealed " +
          FormatRfc3339Micros(TimePoint(Duration(sum.last_time_ns))) +
          "): the key of an existing chain is gone (a restore without .state/, an admin error, "
          "or tampering). Put the key file back if you have it; check the archive with the "
          "verification key you kept (`konseki verify --key KEY " +
          o.archive_dir +
          "`); only then start a new chain with `konseki seal-setup --new-chain --config FILE`");
    }
  }
  if (!kf.ok()) return kf.status();
  auto state = kf->Load();
  if (!state.ok()) return state.status();
  const std::string seal_dir = o.archive_dir + "/" + std::string(kSealDirName);
  if (mkdir(o.archive_dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::FromErrno("sealer: cannot create " + o.archive_dir, errno);
  }
  if (mkdir(seal_dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::FromErrno("sealer: cannot create " + seal_dir, errno);
  }
  std::unique_ptr<Sealer> s(
      new Sealer(o, clock, metrics, std::move(kf).value(), std::move(state).value()));
  s->alerts_ = alerts;
  if (Status st = s->Recover(); !st.ok()) return st;
  s->NoteKeyAheadAtStart();
  s->CheckKeyAhead();
  return s;
}

Sealer::Sealer(const SealerOptions& options, const Clock& clock, MetricsRegistry& metrics,
               SealKeyFile key_file, SealKeyState state)
    : options_(options),
      clock_(clock),
      metrics_(std::make_unique<Metrics>(metrics)),
      key_file_(std::move(key_file)),
      state_(state),
      was_clean_(state.clean_stop) {
  WipeSealBytes(&state.key);
  // Every store from now on says "not stopped cleanly", until Stop's.
  state_.clean_stop = false;
  metrics_->epoch->Set(static_cast<double>(state_.epoch));
  record_wall_ = WallEpoch();
}

Sealer::~Sealer() {
  Stop();
  WipeSealBytes(&state_.key);
}

int64_t Sealer::NowUnix() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
}

uint64_t Sealer::WallEpoch() const {
  const int64_t d = NowUnix() - state_.start_unix;
  return d <= 0 ? 0 : static_cast<uint64_t>(d / state_.epoch_secs);
}

void Sealer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Sealer::Run() {
  SetThreadName("sealer");
  std::unique_lock<std::mutex> lock(mu_);
  std::string last_error;  // logged once while it repeats (a full disk: every poll)
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_interval_ms),
                 [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    Status st = Poll();
    if (!st.ok() && st.message() != last_error) {
      Log(LogLevel::kError, "sealer: %s", st.message().c_str());
    }
    last_error = st.ok() ? "" : st.message();
    lock.lock();
  }
}

Status Sealer::Stop() {
  if (stopped_) return Status::Ok();
  stopped_ = true;
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  Status st = Scan(ScanMode::kFinal);
  // Clean only if everything on disk was read and sealed: otherwise the
  // next start must take what it finds unsealed for ours (U), not foreign.
  Status sealed = Seal(std::max(WallEpoch(), state_.epoch) + 1, /*clean_stop=*/st.ok());
  if (seal_fd_ >= 0) {
    close(seal_fd_);
    seal_fd_ = -1;
  }
  return st.ok() ? sealed : st;
}

Status Sealer::Poll() {
  CheckSealFile();
  Status st = Scan(ScanMode::kPoll);
  const uint64_t wall = WallEpoch();
  // The clock went back across an epoch boundary since the last record (a
  // `date -s`, a VM snapshot restored, a bad NTP source after running
  // ahead): its next boundary is the end of the epoch, whatever the key's.
  if (wall < record_wall_) {
    clock_went_back_ = true;
    Log(LogLevel::kWarning,
        "sealer: the clock went back %llu epochs since the last seal record (from epoch %llu to "
        "%llu; the key is at epoch %llu): sealing goes on at each epoch end, under keys ahead of "
        "the clock",
        static_cast<unsigned long long>(record_wall_ - wall),
        static_cast<unsigned long long>(record_wall_), static_cast<unsigned long long>(wall),
        static_cast<unsigned long long>(state_.epoch));
    record_wall_ = wall;
    look_ahead_ = true;  // at the next Scan
  }
  // Seal at every wall-clock epoch boundary. A key ahead of the clock (a
  // restart in the epoch a clean stop moved it past, or the clock set back
  // after it ran ahead) catches up one epoch at every second boundary:
  // waiting for the clock to reach it would leave the lines of every epoch
  // in between unsealed (ten hours after a clock ten hours ahead), and one
  // key step per boundary would keep it ahead for good (prod23: every clean
  // restart added an epoch).
  const bool boundary = wall > state_.epoch || wall > record_wall_;
  if (boundary && state_.epoch >= wall && !held_boundary_ && !key_sealed_) {
    // The key is already at (or past) the epoch that begins now: a clean
    // restart (or the clock set back) put it there. Hold this boundary: no
    // record, the key stays, and the lines read so far are sealed with the
    // next epoch's at the next boundary. Each hold takes the key one epoch
    // closer to the clock, and never two in a row, so no line waits more
    // than two epochs for its seal. Only a key that has sealed nothing is
    // held (a record evolves the key past its epoch before the state is
    // stored; the one exception, the record of what a start found unsealed,
    // E(k, k), sets key_sealed_ and the boundary seals), so holding never
    // keeps a key that sealed anything.
    held_boundary_ = true;
    record_wall_ = wall;
  } else if (boundary) {
    const uint64_t seq = state_.seq;
    Status s = Seal(std::max(wall, state_.epoch + 1));
    ReportSealing(s);
    if (state_.seq != seq) held_boundary_ = false;  // a record was made: the next may hold
    if (st.ok()) st = s;
  } else if (out_.size() > kMaxOut) {
    Status s = FlushOut(false);
    if (!s.ok()) ReportSealing(s);
    if (st.ok()) st = s;
  }
  CheckKeyAhead();
  return st;
}

// Why the key is ahead of the clock at a start. Each clean stop moves the
// key one epoch past the clock's (Stop), so a start in the same epoch finds
// it ahead: normal, said at info. Only a clock behind the epoch of the last
// seal record (each record carries the wall time it was written at) was set
// back while konseki was stopped; the lead alone cannot tell (prod23: four
// clean restarts in a minute put the key four epochs ahead, and every later
// start blamed the clock).
void Sealer::NoteKeyAheadAtStart() {
  const uint64_t wall = WallEpoch();
  if (state_.epoch <= wall) return;
  if (last_record_unix_ != INT64_MIN) {
    const int64_t d = last_record_unix_ - state_.start_unix;
    const uint64_t record_epoch = d <= 0 ? 0 : static_cast<uint64_t>(d / state_.epoch_secs);
    if (wall < record_epoch) clock_went_back_ = true;
  } else if (state_.epoch > wall + kRestartLead) {
    clock_went_back_ = true;  // no record to compare with: the lead must do
  }
  if (clock_went_back_) return;  // CheckKeyAhead says it
  Log(LogLevel::kInfo,
      "sealer: the sealing key (epoch %llu) is %llu epochs ahead of the clock, as the last run "
      "left it (each clean stop moves the key one epoch past the current one; a clock set back "
      "while konseki ran leaves it further ahead). The clock is not behind the last seal record, "
      "so it was not set back while konseki was stopped. The key catches up one epoch at every "
      "second epoch boundary",
      static_cast<unsigned long long>(state_.epoch),
      static_cast<unsigned long long>(state_.epoch - wall));
}

// A key further ahead of the clock than restarts explain after the clock
// went back (while konseki ran: konseki.clock_jump tells that too; or while
// it was stopped: only this tells). Sealing goes on, but the records are
// labelled with epochs (and seal files with days) ahead of their time until
// the key has caught up: the admin must know. Once per episode, and again
// when the key gets further ahead. A lead from clean restarts alone (the
// clock never went back) is no sign of anything: no alert.
void Sealer::CheckKeyAhead() {
  const uint64_t wall = WallEpoch();
  const int64_t ahead_secs = std::max<int64_t>(0, state_.EpochStart(state_.epoch) - NowUnix());
  metrics_->key_ahead->Set(static_cast<double>(ahead_secs));
  if (state_.epoch <= wall + kRestartLead) {
    reported_lead_ = 0;
    clock_went_back_ = false;  // the episode is over
    return;
  }
  if (!clock_went_back_) return;
  const uint64_t lead = state_.epoch - wall;
  if (lead <= reported_lead_) return;
  reported_lead_ = lead;
  const std::string key_time =
      FormatRfc3339Micros(TimePoint(std::chrono::seconds(state_.EpochStart(state_.epoch))));
  Log(LogLevel::kWarning,
      "sealer: the sealing key (epoch %llu, which begins %s) is %llu epochs (%lld s) ahead of "
      "the clock: the log host's clock went back after running ahead (or was set back while "
      "konseki was stopped). Sealing goes on, and the key catches up one epoch at every second "
      "epoch boundary; until then seal records and files carry the key's epochs and days "
      "(archive.seal_key_ahead)",
      static_cast<unsigned long long>(state_.epoch), key_time.c_str(),
      static_cast<unsigned long long>(lead), static_cast<long long>(ahead_secs));
  if (alerts_ == nullptr) return;
  alerts_->Emit(ArchiveAlert(clock_.Now(), "archive.seal_key_ahead", Severity::kMedium,
                             "The archive's sealing key is ahead of the log host's clock "
                             "(the clock went back); sealing goes on",
                             {{"dir", options_.archive_dir},
                              {"key_epoch", std::to_string(state_.epoch)},
                              {"clock_epoch", std::to_string(wall)},
                              {"key_epoch_begins", key_time},
                              {"ahead_secs", std::to_string(ahead_secs)}}));
}

// A seal record or the key that could not be written means lines stay
// unsealed and the old key stays on disk past its epoch: the admin must
// know. Once per episode: an alert, the gauge, one log line; the next
// record written ends the episode. Failures in between are counted only.
void Sealer::ReportSealing(const Status& written) {
  if (written.ok() == !sealing_stopped_) return;
  sealing_stopped_ = !written.ok();
  metrics_->stopped->Set(sealing_stopped_ ? 1 : 0);
  if (sealing_stopped_) {
    Log(LogLevel::kError,
        "sealer: sealing stopped: %s; the archive is still written, its new lines stay unsealed "
        "and the key does not evolve until a seal record can be written (retried every poll)",
        written.message().c_str());
  } else {
    Log(LogLevel::kInfo, "sealer: sealing works again (epoch %llu)",
        static_cast<unsigned long long>(state_.epoch));
  }
  if (alerts_ == nullptr) return;
  std::vector<std::pair<std::string, std::string>> fields = {
      {"dir", options_.archive_dir}, {"epoch", std::to_string(state_.epoch)}};
  if (sealing_stopped_) fields.emplace_back("error", written.message());
  alerts_->Emit(ArchiveAlert(
      clock_.Now(), sealing_stopped_ ? "archive.seal_stopped" : "archive.seal_resumed",
      sealing_stopped_ ? Severity::kHigh : Severity::kInfo,
      sealing_stopped_ ? "Sealing of the archive stopped" : "Sealing of the archive resumed",
      std::move(fields)));
}

// The part of the stream after the last E was never sealed: drop it, so
// the restart's U records and E describe the files as they are now.
Status Sealer::TrimStreamTail() {
  const std::string path = SealPath(DayOfUnix(state_.EpochStart(state_.epoch)));
  std::string data;
  if (!ReadWhole(path, &data)) return Status::Ok();  // no file for this epoch yet
  size_t keep = 0;
  size_t pos = 0;
  SealRecord r;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) break;
    // A new chain's N and H (a crash before its first E) stay too.
    if (ParseSealLine(std::string_view(data).substr(pos, nl - pos), &r) &&
        (r.kind == 'E' || r.kind == 'H' || r.kind == 'N')) {
      keep = nl + 1;
    }
    pos = nl + 1;
  }
  if (keep < data.size() && truncate(path.c_str(), static_cast<off_t>(keep)) != 0) {
    return Status::FromErrno("sealer: cannot trim unsealed tail of " + path, errno);
  }
  // Bytes kept after the last E (the header of a file with no E yet) are
  // part of what the next E seals.
  size_t last_e = 0;
  for (size_t p = 0; p < keep;) {
    size_t nl = data.find('\n', p);
    if (data[p] == 'E') last_e = nl + 1;
    p = nl + 1;
  }
  stream_.Update(std::string_view(data).substr(last_e, keep - last_e));
  return Status::Ok();
}

// Where each file's sealed bytes end, from the stream of the last days.
void Sealer::LoadSealedEnds() {
  const std::string dir = options_.archive_dir + "/" + std::string(kSealDirName);
  const int64_t today = DayOfUnix(NowUnix());
  std::string data;
  SealRecord r;
  for (const std::string& name : ListDir(dir)) {
    int64_t day;
    if (name.size() != 15 || !ParseDayName(name.substr(0, 10), &day) || day < today - 2) continue;
    if (!ReadWhole(dir + "/" + name, &data)) continue;
    for (size_t pos = 0; pos < data.size();) {
      size_t nl = data.find('\n', pos);
      if (nl == std::string::npos) break;
      const bool parsed = ParseSealLine(std::string_view(data).substr(pos, nl - pos), &r);
      if (parsed && r.kind == 'M') recent_loss_ = true;
      if (parsed && (r.kind == 'F' || r.kind == 'U' || r.kind == 'X' || r.kind == 'R')) {
        auto it = tracked_.find(r.path);
        if (it == tracked_.end()) {
          auto t = std::make_unique<Tracked>();
          t->path = std::string(r.path);
          std::string_view host;
          ParseArchivePath(r.path, &host, &t->day);
          it = tracked_.emplace(t->path, std::move(t)).first;
        }
        it->second->sealed_end = it->second->read_end = std::max(it->second->sealed_end, r.end);
      }
      pos = nl + 1;
    }
  }
}

Status Sealer::Recover() {
  // The key file is rewritten after each E: if we crashed in between, the
  // stream is ahead of it. Catch up with the last E of the newest file, if
  // that record is of this key's chain (the H before it names the key's
  // start and epoch length).
  const std::string dir = options_.archive_dir + "/" + std::string(kSealDirName);
  std::vector<std::string> names = ListDir(dir);
  std::string data;
  SealRecord r;
  bool found = false;
  uint64_t last_seq = 0;
  // The newest record is another chain's and this key made none: a new
  // chain begins here (seal-setup --new-chain). prev_*: that record.
  bool new_chain = false;
  bool new_chain_marked = false;  // its N record is already there (a crash before our first E)
  uint64_t prev_seq = 0;
  SealBytes prev_tag{};
  int64_t prev_start = 0;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    if (!ReadWhole(dir + "/" + *it, &data)) continue;
    SealRecord last;
    bool last_ours = false;
    bool n_after_last = false;
    int64_t h_start = 0, h_secs = 0, last_h_start = 0;
    for (size_t pos = 0; pos < data.size();) {
      size_t nl = data.find('\n', pos);
      if (nl == std::string::npos) break;
      if (ParseSealLine(std::string_view(data).substr(pos, nl - pos), &r)) {
        if (r.kind == 'H') {
          h_start = r.start_unix;
          h_secs = r.epoch_secs;
        } else if (r.kind == 'N') {
          n_after_last = true;
        } else if (r.kind == 'E') {
          last = r;
          last_ours = h_start == state_.start_unix && h_secs == state_.epoch_secs;
          last_h_start = h_start;
          n_after_last = false;
        }
      }
      pos = nl + 1;
    }
    if (last.kind != 'E') continue;
    if (!last_ours) {
      // Another chain's record is the newest: with a fresh key, ours begins
      // now; with a key that made records, they are gone (reported below).
      if (state_.seq == 0) {
        new_chain = true;
        new_chain_marked = n_after_last;
        prev_seq = last.seq;
        prev_tag = last.tag;
        prev_start = last_h_start;
      }
      break;
    }
    found = true;
    last_seq = last.seq;
    last_record_unix_ = last.time_ns / 1'000'000'000;
    if (last.seq >= state_.seq) {
      state_.EvolveTo(std::max(last.next, state_.epoch));
      state_.prev_tag = last.tag;
      state_.seq = last.seq + 1;
      if (Status st = key_file_.Store(state_); !st.ok()) return st;
    }
    break;
  }
  if (Status st = TrimStreamTail(); !st.ok()) return st;
  // The key has made records the stream no longer holds: its files were
  // deleted (or never written: a key copied without its archive). Say so in
  // the stream itself, authenticated by the next record, so verify reports
  // a break and not a crash; and tell the admin now.
  const bool lost = state_.seq > 0 && (!found || last_seq + 1 < state_.seq);
  if (lost) {
    const std::string what = !found ? "holds no seal record at all"
                                    : "ends at record " + std::to_string(last_seq) + " (" +
                                          std::to_string(state_.seq - last_seq - 1) +
                                          " records missing at the end)";
    ReportStreamLoss("missing-at-start", "the key has made " + std::to_string(state_.seq) +
                                             " seal records but the seal stream in " + dir + " " +
                                             what + " (seal files deleted or cut?)");
  }
  if (new_chain && !new_chain_marked) ReportNewChain(prev_seq, prev_tag, prev_start, dir);
  LoadSealedEnds();
  // After a clean stop everything konseki wrote is sealed: bytes found
  // unsealed now were put there while it was stopped (a line appended by
  // hand, a day file copied in from another host or day). After a crash
  // they are most likely its own last lines (U). A lost stream explains
  // unsealed bytes by itself (what it sealed is gone): U after the loss,
  // whether found now or by the last run (a loss record in the seal files
  // of the days followed).
  foreign_at_start_ = was_clean_ && !lost && !recent_loss_;
  if (Status st = Scan(ScanMode::kRecover); !st.ok()) return st;
  foreign_at_start_ = false;
  // From here the lines are this run's: a crash must leave them U. (A Seal
  // above stored this already.)
  if (was_clean_) {
    if (Status st = key_file_.Store(state_); !st.ok()) return st;
    was_clean_ = false;
  }
  return Status::Ok();
}

// This key's chain follows another in the same stream: the old key is gone
// (seal-setup --new-chain refuses to run otherwise). The N record names the
// previous chain's last record and the H after it this key's chain, both
// authenticated by this key's first record, so verify checks each chain
// with its own key and shows the replacement; the admin hears it now.
void Sealer::ReportNewChain(uint64_t prev_seq, const SealBytes& prev_tag, int64_t prev_start,
                            const std::string& dir) {
  const int64_t now_ns = clock_.Now().time_since_epoch().count();
  Emit(FormatNewChainRecord(prev_seq, now_ns, prev_tag));
  Emit(FormatSealHeader(state_.start_unix, state_.epoch_secs));
  if (Status st = FlushOut(true); !st.ok()) metrics_->errors->Inc();
  const std::string prev_began = FormatRfc3339Micros(TimePoint(std::chrono::seconds(prev_start)));
  Log(LogLevel::kWarning,
      "sealer: a new sealing chain begins in %s after record %llu of the previous chain (begun "
      "%s): the sealing key was replaced (seal-setup --new-chain). The previous chain's "
      "verification key checks the records before this point, the new one those after",
      dir.c_str(), static_cast<unsigned long long>(prev_seq), prev_began.c_str());
  if (alerts_ == nullptr) return;
  alerts_->Emit(ArchiveAlert(clock_.Now(), "archive.seal_new_chain", Severity::kHigh,
                             "The archive's sealing key was replaced: a new chain begins",
                             {{"dir", options_.archive_dir},
                              {"previous_record", std::to_string(prev_seq)},
                              {"previous_chain_start", prev_began}}));
}

// The stream written so far is gone: a loss record starts the stream again
// (verify reports the break), one alert, one error, one log line.
void Sealer::ReportStreamLoss(std::string_view why, const std::string& detail) {
  metrics_->errors->Inc();
  Log(LogLevel::kError,
      "sealer: the seal stream is missing or replaced (%.*s): %s; sealing goes on in a new "
      "stream (`konseki verify` reports a break here unless the files are put back)",
      static_cast<int>(why.size()), why.data(), detail.c_str());
  Emit(FormatLossRecord(state_.seq, clock_.Now().time_since_epoch().count(), why));
  // On disk at once: the evidence must not wait for the epoch's end.
  if (Status st = FlushOut(true); !st.ok()) metrics_->errors->Inc();
  if (alerts_ == nullptr) return;
  alerts_->Emit(ArchiveAlert(clock_.Now(), "archive.seal_stream_missing", Severity::kHigh,
                             "The archive's seal stream was deleted or replaced",
                             {{"dir", options_.archive_dir},
                              {"epoch", std::to_string(state_.epoch)},
                              {"record", std::to_string(state_.seq)},
                              {"why", std::string(why)},
                              {"error", detail}}));
}

// The seal file we append to must still be the one at its path: deleting
// it (or .seal/) or putting another file there would otherwise go unseen,
// the records going on into an unlinked inode. Checked every poll and before
// each record; on a change the descriptor is dropped and a loss record
// opens the stream again at the path.
void Sealer::CheckSealFile() {
  if (seal_fd_ < 0) return;
  const std::string path = SealPath(seal_day_);
  struct stat open_st;
  struct stat path_st;
  std::string_view why;
  const bool open_ok = fstat(seal_fd_, &open_st) == 0;
  const bool path_ok = stat(path.c_str(), &path_st) == 0;
  const bool path_gone = !path_ok && (errno == ENOENT || errno == ENOTDIR);
  if (path_ok && open_ok &&
      (path_st.st_ino != open_st.st_ino || path_st.st_dev != open_st.st_dev)) {
    why = "replaced";  // another file at the path (the old one moved away or deleted)
  } else if (!open_ok || open_st.st_nlink == 0 || path_gone) {
    why = "unlinked";  // deleted, renamed away, or .seal/ removed or replaced
  } else {
    return;  // the same file (or a transient stat error: checked again next poll)
  }
  close(seal_fd_);
  seal_fd_ = -1;
  // What was already written to the lost file is gone; what was not yet
  // written (out_) is kept, in a new segment after the header and the loss
  // record.
  stream_.Finish();
  deferred_.insert(0, out_);
  out_.clear();
  ReportStreamLoss(why,
                   path + " was " +
                       std::string(why == "replaced" ? "replaced by another file" : "deleted") +
                       " while konseki was writing it");
}

std::string Sealer::SealPath(int64_t day) const {
  return options_.archive_dir + "/" + std::string(kSealDirName) + "/" + SealFileName(day);
}

Status Sealer::Scan(ScanMode mode) {
  const bool recovering = mode == ScanMode::kRecover;
  const int64_t today = DayOfUnix(NowUnix());
  Status first;
  bool unsealed = false;
  // Before the files are looked at: a write that lands after this is seen
  // as unreported bytes for a while (the grace), never as foreign at once.
  if (options_.write_log) options_.write_log->TakeInto(&written_);
  auto follow = [&](Tracked* t) {
    if (auto w = written_.find(t->path); w != written_.end()) {
      t->written.insert(t->written.end(), w->second.begin(), w->second.end());
      written_.erase(w);
    }
    const uint64_t sealed_before = t->sealed_end;
    Status st = ReadNew(t, mode);
    if (!st.ok() && first.ok()) first = st;
    // Foreign bytes found at the start (an X): on disk with the next record, now.
    if (recovering && t->sealed_end != sealed_before) unsealed = true;
    if (recovering && t->read_end > t->sealed_end) {
      // Written after the last seal and before this start: record, don't vouch.
      Emit(FormatRangeRecord('U', t->path, t->sealed_end, t->read_end, t->lines, t->sha.Finish()));
      t->sealed_end = t->read_end;
      t->lines = 0;
      t->hashes.clear();
      unsealed = true;
    }
  };
  for (const std::string& host : ListDir(options_.archive_dir)) {
    if (look_ahead_) {
      // Once, at the start and after the clock went back: day files of days
      // after today, written while the clock ran ahead (followed below).
      for (const std::string& name : ListDir(options_.archive_dir + "/" + host)) {
        const std::string path = host + "/" + name;
        std::string_view h;
        int64_t day;
        if (name.size() != 14 || !ParseArchivePath(path, &h, &day) || day <= today ||
            tracked_.count(path) > 0) {
          continue;
        }
        auto t = std::make_unique<Tracked>();
        t->path = path;
        t->day = day;
        tracked_.emplace(path, std::move(t));
      }
    }
    for (int64_t day = today - 1; day <= today; ++day) {
      const std::string path = host + "/" + DayName(day) + ".log";
      auto it = tracked_.find(path);
      if (it == tracked_.end()) {
        struct stat st;
        // A file the run-as user may not stat (EACCES: its folder is no
        // longer readable) that the writers wrote to is followed: ReadNew
        // reports it.
        if (stat((options_.archive_dir + "/" + path).c_str(), &st) != 0 &&
            (errno == ENOENT || errno == ENOTDIR || written_.count(path) == 0)) {
          continue;
        }
        auto t = std::make_unique<Tracked>();
        t->path = path;
        t->day = day;
        it = tracked_.emplace(path, std::move(t)).first;
      }
      follow(it->second.get());
    }
  }
  look_ahead_ = false;
  // Files of days after today were written while the clock ran ahead: the
  // clock is back, but their last lines still need their seal. A writer's
  // report names such a file even if no Scan saw it before the step back.
  for (const auto& [path, ranges] : written_) {
    std::string_view h;
    int64_t day;
    if (tracked_.count(path) > 0 || !ParseArchivePath(path, &h, &day) || day <= today) continue;
    auto t = std::make_unique<Tracked>();
    t->path = path;
    t->day = day;
    tracked_.emplace(path, std::move(t));
  }
  for (auto& [path, t] : tracked_) {
    if (t->day > today) follow(t.get());
  }
  // Files of days the Archive no longer writes, fully sealed: forget them.
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    Tracked* t = it->second.get();
    it = (t->day < today - 1 && t->read_end == t->sealed_end && t->written.empty())
             ? tracked_.erase(it)
             : std::next(it);
  }
  written_.clear();  // writes to files no longer followed (older days)
  if (unsealed) {
    Status st = Seal(std::max(WallEpoch(), state_.epoch));
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

Status Sealer::ReadNew(Tracked* t, ScanMode mode) {
  const std::string full = options_.archive_dir + "/" + t->path;
  struct stat pre;
  // Most files did not grow since the last poll: a stat, no open.
  if (stat(full.c_str(), &pre) == 0 && static_cast<uint64_t>(pre.st_size) == t->read_end) {
    return Status::Ok();
  }
  int fd = open(full.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // Not created yet, or removed (verify reports it); else unreadable,
    // if it is there at all: read or sealed before, or written to.
    if (errno != ENOENT && (t->read_end > 0 || !t->written.empty())) ReportUnreadable(t, errno);
    return Status::Ok();
  }
  if (t->unreadable != 0) ReportUnreadable(t, 0);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Status::FromErrno("sealer: stat " + full, errno);
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < t->read_end) {
    close(fd);
    if (!t->shrunk_reported) {
      t->shrunk_reported = true;
      metrics_->errors->Inc();
      return Status::IoError("sealer: " + full + " shrank below its sealed size " +
                             std::to_string(t->read_end) + " (edited or rotated?)");
    }
    return Status::Ok();
  }
  if (mode == ScanMode::kRecover) t->recovered_end = size;
  if (mode == ScanMode::kRecover && foreign_at_start_) {
    // Up to the end, a torn last line included: no writer of ours left one.
    Status foreign = SealForeign(fd, t, size, /*at_start=*/true);
    close(fd);
    return foreign;
  }
  const bool check_writers = options_.write_log != nullptr && mode != ScanMode::kRecover;
  Status result;
  while (t->read_end < size) {
    uint64_t limit = size;
    uint64_t gap_end = 0;  // a writer's range begins here, past foreign bytes
    if (check_writers) {
      // The writers' bytes from read_end on: [read_end, own).
      std::vector<ArchiveWriteLog::Range>& w = t->written;
      size_t drop = 0;
      while (drop < w.size() && w[drop].end <= t->read_end) ++drop;
      w.erase(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(drop));
      uint64_t own = std::max(t->read_end, std::min(t->recovered_end, size));
      size_t k = 0;
      for (; k < w.size() && w[k].start <= own; ++k) own = std::max(own, w[k].end);
      if (own == t->read_end) {
        // The bytes at read_end are no writer's, or not reported yet.
        uint64_t foreign_end = 0;
        if (!w.empty()) {
          foreign_end = std::min(w.front().start, size);  // a writer wrote after them
        } else if (mode == ScanMode::kFinal) {
          foreign_end = size;
        } else if (t->tail_at == t->read_end &&
                   clock_.Now() - t->tail_since >=
                       std::chrono::milliseconds(options_.foreign_grace_ms)) {
          foreign_end = std::min(t->tail_size, size);
        } else {
          if (t->tail_at != t->read_end) {
            t->tail_at = t->read_end;
            t->tail_size = size;
            t->tail_since = clock_.Now();
          }
          break;
        }
        result = SealForeign(fd, t, foreign_end);
        if (!result.ok()) break;
        continue;
      }
      t->tail_at = UINT64_MAX;
      if (k < w.size()) gap_end = std::min(w[k].start, size);
      limit = std::min(own, size);
    }
    read_buf_.resize(static_cast<size_t>(std::min<uint64_t>(kReadChunk, limit - t->read_end)));
    ssize_t n = pread(fd, read_buf_.data(), read_buf_.size(), static_cast<off_t>(t->read_end));
    if (n <= 0) {
      if (n < 0) result = Status::FromErrno("sealer: read " + full, errno);
      break;
    }
    std::string_view chunk(read_buf_.data(), static_cast<size_t>(n));
    const size_t last_nl = chunk.rfind('\n');
    if (last_nl == std::string_view::npos) {
      // A partial line: wait for its end. A writer's line cut by a failed
      // write and followed by foreign bytes is sealed with them as foreign.
      if (gap_end > limit && t->read_end + chunk.size() == limit) {
        result = SealForeign(fd, t, gap_end);
        if (result.ok()) continue;
      }
      break;
    }
    chunk = chunk.substr(0, last_nl + 1);
    t->sha.Update(chunk);
    for (size_t pos = 0; pos < chunk.size();) {
      const size_t nl = chunk.find('\n', pos);
      AppendLineHashHex(LineHash(chunk.substr(pos, nl - pos)), &t->hashes);
      ++t->lines;
      pos = nl + 1;
    }
    t->read_end += chunk.size();
    metrics_->bytes->Inc(chunk.size());
    if (t->hashes.size() >= kMaxHashHex) {
      Emit("L " + t->path + " " + t->hashes + "\n");
      t->hashes.clear();
    }
  }
  close(fd);
  return result;
}

// Bytes of a followed file that no writer put there: never sealed as
// genuine. What was read before them is closed with an F, they get an X
// of their own (verify fails the file), and the admin hears it at once.
Status Sealer::SealForeign(int fd, Tracked* t, uint64_t end, bool at_start) {
  const uint64_t start = t->read_end;
  if (end <= start) return Status::Ok();
  if (t->read_end > t->sealed_end) {
    if (!t->hashes.empty()) Emit("L " + t->path + " " + t->hashes + "\n");
    Emit(FormatRangeRecord('F', t->path, t->sealed_end, t->read_end, t->lines, t->sha.Finish()));
    t->hashes.clear();
    t->lines = 0;
    t->sealed_end = t->read_end;
  }
  Sha256Stream sha;
  uint64_t lines = 0;
  std::string first_line;
  for (uint64_t pos = start; pos < end;) {
    read_buf_.resize(static_cast<size_t>(std::min<uint64_t>(kReadChunk, end - pos)));
    ssize_t n = pread(fd, read_buf_.data(), read_buf_.size(), static_cast<off_t>(pos));
    if (n <= 0) {
      return Status::FromErrno("sealer: read " + options_.archive_dir + "/" + t->path,
                               n < 0 ? errno : EIO);
    }
    std::string_view chunk(read_buf_.data(), static_cast<size_t>(n));
    if (pos == start) first_line = chunk.substr(0, std::min<size_t>(chunk.find('\n'), 160));
    sha.Update(chunk);
    lines += static_cast<uint64_t>(std::count(chunk.begin(), chunk.end(), '\n'));
    pos += chunk.size();
  }
  Emit(FormatRangeRecord('X', t->path, start, end, lines, sha.Finish()));
  t->sealed_end = t->read_end = end;
  t->tail_at = UINT64_MAX;
  metrics_->foreign->Inc(end - start);
  Log(LogLevel::kError,
      "sealer: %s/%s: bytes %llu..%llu (%llu lines) were not written by konseki (another "
      "process wrote to the archive%s): recorded as foreign, not sealed as genuine "
      "(archive.foreign_write)",
      options_.archive_dir.c_str(), t->path.c_str(), static_cast<unsigned long long>(start),
      static_cast<unsigned long long>(end), static_cast<unsigned long long>(lines),
      at_start ? " while konseki was stopped: it had stopped cleanly, sealing all it wrote" : "");
  if (alerts_ == nullptr) return Status::Ok();
  for (char& c : first_line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  alerts_->Emit(ArchiveAlert(clock_.Now(), "archive.foreign_write", Severity::kHigh,
                             "Bytes konseki did not write were found in an archive file",
                             {{"dir", options_.archive_dir},
                              {"file", t->path},
                              {"offset", std::to_string(start)},
                              {"bytes", std::to_string(end - start)},
                              {"lines", std::to_string(lines)},
                              {"first_line", first_line},
                              {"found", at_start ? "at-start-after-clean-stop" : "running"}}));
  return Status::Ok();
}

// The writers go on appending through the descriptor they hold, but the
// sealer opens the file by name each round as the run-as user: a host
// folder made root's 0700 (a restore, a chown -R) or a file chmod'ed away
// leaves konseki's new lines there unsealed. prod19 found that silent. Once
// per episode: an alert naming the host and file, a seal error, a log line;
// and each seal records what the writers put there meanwhile (RecordUnread).
// err 0: the file can be read again.
void Sealer::ReportUnreadable(Tracked* t, int err) {
  if ((err != 0) == (t->unreadable != 0)) {
    t->unreadable = err;
    return;
  }
  t->unreadable = err;
  const std::string full = options_.archive_dir + "/" + t->path;
  if (err == 0) {
    Log(LogLevel::kInfo, "sealer: %s can be read again: its new lines are sealed again",
        full.c_str());
    return;
  }
  metrics_->errors->Inc();
  Log(LogLevel::kError,
      "sealer: cannot read %s back to seal it: %s. konseki may still append to it through the "
      "descriptor it holds, but those lines are not sealed: each seal record marks them as "
      "unread and `konseki verify` fails the file (archive.seal_unreadable). Give the host "
      "folder and its files back to konseki's user (owner and mode as the rest of the archive)",
      full.c_str(), std::strerror(err));
  if (alerts_ == nullptr) return;
  std::string_view host;
  int64_t day;
  ParseArchivePath(t->path, &host, &day);
  alerts_->Emit(ArchiveAlert(clock_.Now(), "archive.seal_unreadable", Severity::kHigh,
                             "konseki cannot read an archive file back to seal it; its new lines "
                             "stay unsealed",
                             {{"dir", options_.archive_dir},
                              {"folder_host", std::string(host)},
                              {"file", t->path},
                              {"error", std::strerror(err)}}));
}

// Bytes the writers reported past read_end of a file the sealer cannot
// read: an R record (never vouched for; verify fails the file), and the
// file is followed on after them. Without a write log nothing says how far
// konseki wrote: only the alert tells.
void Sealer::RecordUnread(Tracked* t) {
  uint64_t end = t->read_end;
  for (const ArchiveWriteLog::Range& w : t->written) end = std::max(end, w.end);
  t->written.clear();
  if (end == t->read_end) return;
  Emit(FormatRangeRecord('R', t->path, t->read_end, end, 0, SealBytes{}));
  t->sealed_end = t->read_end = end;
  t->tail_at = UINT64_MAX;
}

Status Sealer::Seal(uint64_t next, bool clean_stop) {
  for (auto& [path, t] : tracked_) {
    if (t->read_end != t->sealed_end) {
      if (!t->hashes.empty()) Emit("L " + t->path + " " + t->hashes + "\n");
      Emit(FormatRangeRecord('F', t->path, t->sealed_end, t->read_end, t->lines, t->sha.Finish()));
      t->hashes.clear();
      t->sealed_end = t->read_end;
      t->lines = 0;
    }
    if (t->unreadable != 0) RecordUnread(t.get());
  }
  if (Status st = EnsureSealFile(); !st.ok()) {
    metrics_->errors->Inc();
    return st;
  }
  CheckSealFile();
  const int64_t now_ns = clock_.Now().time_since_epoch().count();
  record_wall_ = WallEpoch();
  const SealBytes digest = stream_.Finish();
  const SealBytes tag = HmacSha256(
      state_.key, SealTagInput(state_.prev_tag, digest, state_.epoch, next, state_.seq, now_ns));
  out_ += FormatEpochRecord(state_.epoch, next, state_.seq, now_ns, state_.prev_tag, tag);
  metrics_->records->Inc();
  // Evolve before anything can fail: the old key must not outlive its epoch.
  state_.prev_tag = tag;
  ++state_.seq;
  const uint64_t used = state_.epoch;
  state_.EvolveTo(next);
  key_sealed_ = state_.epoch == used;  // E(k, k): the key goes on, and has sealed a record
  metrics_->epoch->Set(static_cast<double>(state_.epoch));
  Status st = FlushOut(true);
  // The mark goes with the record that sealed everything, once it is on
  // disk: a stop whose last record was not written is no clean stop.
  state_.clean_stop = clean_stop && st.ok();
  Status stored = key_file_.Store(state_);
  state_.clean_stop = false;
  if (!st.ok() || !stored.ok()) metrics_->errors->Inc();
  return st.ok() ? stored : st;
}

// While the seal file cannot be opened, records wait in deferred_: they
// are hashed into the stream only once the file (and its header, which
// comes first in the stream) exists, so the stream stays in file order.
void Sealer::Emit(std::string_view line) {
  if (!EnsureSealFile().ok()) {
    metrics_->errors->Inc();
    deferred_.append(line);
    return;
  }
  stream_.Update(line);
  out_.append(line);
}

// Opens the stream file of the key's epoch day, writing its header if new.
Status Sealer::EnsureSealFile() {
  const int64_t day = DayOfUnix(state_.EpochStart(state_.epoch));
  if (seal_fd_ >= 0 && day != seal_day_) CheckSealFile();  // before leaving it for good
  if (day == seal_day_ && seal_fd_ >= 0) return Status::Ok();
  if (Status st = FlushOut(true); !st.ok()) return st;
  if (seal_fd_ >= 0) close(seal_fd_);
  seal_fd_ = -1;
  const std::string path = SealPath(day);
  seal_fd_ = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (seal_fd_ < 0 && errno == ENOENT) {
    // .seal/ itself was removed: make it again (the loss is reported by
    // CheckSealFile or Recover; here we only go on sealing).
    const std::string seal_dir = options_.archive_dir + "/" + std::string(kSealDirName);
    if (mkdir(seal_dir.c_str(), 0750) == 0 || errno == EEXIST) {
      seal_fd_ = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    }
  }
  if (seal_fd_ < 0) return Status::FromErrno("sealer: cannot open " + path, errno);
  seal_day_ = day;
  struct stat st;
  if (fstat(seal_fd_, &st) == 0 && st.st_size == 0) {
    const std::string h = FormatSealHeader(state_.start_unix, state_.epoch_secs);
    stream_.Update(h);
    out_.insert(0, h);
  }
  stream_.Update(deferred_);
  out_.append(deferred_);
  deferred_.clear();
  return Status::Ok();
}

Status Sealer::FlushOut(bool sync) {
  if (seal_fd_ < 0) return Status::Ok();
  size_t off = 0;
  while (off < out_.size()) {
    ssize_t w = write(seal_fd_, out_.data() + off, out_.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      out_.erase(0, off);
      return Status::FromErrno("sealer: write seal stream", w < 0 ? errno : EIO);
    }
    off += static_cast<size_t>(w);
  }
  out_.clear();
  if (sync && fdatasync(seal_fd_) != 0) return Status::FromErrno("sealer: fdatasync", errno);
  return Status::Ok();
}

}  // namespace konseki::outputs
