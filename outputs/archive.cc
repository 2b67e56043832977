#include "outputs/archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <functional>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/log.h"
#include "outputs/host_path.h"

namespace konseki::outputs {
namespace {

constexpr mode_t kFileMode = 0640;
constexpr mode_t kDirMode = 0750;
constexpr int64_t kNoDay = kNoArchiveDay;
constexpr int64_t kNanosPerDay = 86'400LL * 1'000'000'000LL;
// OpenFile's *err when a new host folder would pass max_hosts (not an errno).
constexpr int kOverHostCap = -1;

// Why a write failed, as the {reason} label of the error counter.
enum Reason : size_t { kNoSpace, kPermission, kPath, kTooManyFiles, kOther, kNumReasons };
constexpr std::array<const char*, kNumReasons> kReasonNames = {"no_space", "permission", "path",
                                                               "too_many_files", "other"};

Reason ReasonOf(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return kNoSpace;
    case EACCES:
    case EPERM:
    case EROFS:
      return kPermission;
    case ENOENT:
    case ENOTDIR:
    case EEXIST:
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
      return kPath;
    case EMFILE:
    case ENFILE:
      return kTooManyFiles;
    default:
      return kOther;
  }
}

int64_t DayOf(TimePoint t) {
  int64_t ns = t.time_since_epoch().count();
  int64_t d = ns / kNanosPerDay;
  if (ns % kNanosPerDay < 0) --d;
  return d;
}

// "YYYY-MM-DD" of a day number (H. Hinnant's civil_from_days).
void FormatDay(int64_t z, char out[10]) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2);
  if (y < 0) y = 0;
  if (y > 9999) y = 9999;
  out[0] = static_cast<char>('0' + y / 1000);
  out[1] = static_cast<char>('0' + y / 100 % 10);
  out[2] = static_cast<char>('0' + y / 10 % 10);
  out[3] = static_cast<char>('0' + y % 10);
  out[4] = '-';
  out[5] = static_cast<char>('0' + m / 10);
  out[6] = static_cast<char>('0' + m % 10);
  out[7] = '-';
  out[8] = static_cast<char>('0' + d / 10);
  out[9] = static_cast<char>('0' + d % 10);
}

// mkdir -p with kDirMode for the folders it creates.
int MakeDirs(const std::string& path) {
  std::string prefix;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    prefix = path.substr(0, pos);
    if (prefix.empty()) continue;
    if (mkdir(prefix.c_str(), kDirMode) == 0) {
      chmod(prefix.c_str(), kDirMode);  // exact mode whatever the umask
    } else if (errno != EEXIST) {
      return errno;
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return errno;
  if (!S_ISDIR(st.st_mode)) return ENOTDIR;
  return 0;
}

}  // namespace

struct Archive::Metrics {
  Counter* written_messages;
  Counter* written_bytes;
  std::array<Counter*, kNumReasons> errors;
  Counter* sync_errors;
  Counter* torn_lines;
  Counter* overflow_messages;
  Counter* diverted_hosts;
  Gauge* buffer_bytes;
  Gauge* host_folders;
  Counter* dropped_buffer_full;
  Counter* dropped_shutdown;

  explicit Metrics(MetricsRegistry& r) {
    written_messages =
        r.GetCounter("konseki_archive_written_messages_total", "Lines written to archive files.");
    written_bytes =
        r.GetCounter("konseki_archive_written_bytes_total", "Bytes written to archive files.");
    for (size_t i = 0; i < kNumReasons; ++i) {
      errors[i] = r.GetCounter("konseki_archive_write_errors_total",
                               "Failed opens, writes and fsyncs in the archive, by cause.",
                               {{"reason", kReasonNames[i]}});
    }
    sync_errors = r.GetCounter(
        "konseki_archive_sync_errors_total",
        "Failed fsync/syncfs of the archive (written data not confirmed on disk; writes go on).");
    torn_lines = r.GetCounter(
        "konseki_archive_torn_lines_total",
        "Archive files found ending inside a line (after a crash), completed with a newline.");
    overflow_messages = r.GetCounter(
        "konseki_archive_overflow_messages_total",
        "Lines written to the overflow folders: of hosts past archive.max_hosts, and of hosts "
        "whose own folder cannot be opened (konseki_archive_diverted_total).");
    diverted_hosts = r.GetCounter(
        "konseki_archive_diverted_total",
        "Times a host's own folder or file could not be opened (permission, not a folder) while "
        "the overflow folder could: that host's lines went there (retried every minute).");
    buffer_bytes = r.GetGauge("konseki_archive_buffer_bytes",
                              "Memory held by the archive's write buffers, all workers.");
    host_folders = r.GetGauge("konseki_archive_host_folders",
                              "Host folders in the archive (capped by archive.max_hosts).");
    const char* help = "Messages dropped, by pipeline stage and reason.";
    dropped_buffer_full = r.GetCounter("konseki_dropped_messages_total", help,
                                       {{"stage", "archive"}, {"reason", "buffer_full"}});
    dropped_shutdown = r.GetCounter("konseki_dropped_messages_total", help,
                                    {{"stage", "archive"}, {"reason", "shutdown"}});
  }
};

bool ParseSyncPolicy(std::string_view name, SyncPolicy* out) {
  if (name == "none") {
    *out = SyncPolicy::kNone;
  } else if (name == "interval") {
    *out = SyncPolicy::kInterval;
  } else if (name == "batch") {
    *out = SyncPolicy::kBatch;
  } else {
    return false;
  }
  return true;
}

const char* SyncPolicyName(SyncPolicy p) {
  switch (p) {
    case SyncPolicy::kNone:
      return "none";
    case SyncPolicy::kInterval:
      return "interval";
    case SyncPolicy::kBatch:
      return "batch";
  }
  return "?";
}

namespace {

// " <sender escaped, or -> ".
void AppendSender(std::string_view sender, std::string* out);
void AppendLineRest(const Message& msg, std::string* out);

// Index of the first byte in [i, n) of p that must be escaped (< 0x20 or
// 0x7f), or n. Messages rarely hold one, so this scan is the work.
inline size_t NextControl(const char* p, size_t i, size_t n) {
#if defined(__SSE2__)
  // Sixteen bytes per step: b <= 0x1f (unsigned) or b == 0x7f. The last
  // partial block is read as the (overlapping) final sixteen bytes.
  const __m128i k1f = _mm_set1_epi8(0x1f);
  const __m128i k7f = _mm_set1_epi8(0x7f);
  auto control = [&](size_t at) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
    return _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, k1f), v), _mm_cmpeq_epi8(v, k7f));
  };
  auto mask = [&](size_t at) { return static_cast<unsigned>(_mm_movemask_epi8(control(at))); };
  for (; i + 32 <= n; i += 32) {
    if (_mm_movemask_epi8(_mm_or_si128(control(i), control(i + 16))) != 0) break;
  }
  for (; i + 16 <= n; i += 16) {
    if (const unsigned m = mask(i); m != 0) return i + static_cast<size_t>(__builtin_ctz(m));
  }
  if (i < n && n >= 16) {
    const size_t base = n - 16;
    const unsigned m = mask(base) >> (i - base);
    return m != 0 ? i + static_cast<size_t>(__builtin_ctz(m)) : n;
  }
#else
  // Eight bytes per step (no byte < 0x20, none == 0x7f).
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHigh = 0x8080808080808080ull;
    const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
    const uint64_t x = w ^ (kOnes * 0x7f);
    const uint64_t is_del = (x - kOnes) & ~x & kHigh;
    if ((below_space | is_del) != 0) break;
  }
#endif
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == 0x7f) return i;
  }
  return n;
}

}  // namespace

void AppendEscaped(std::string_view raw, std::string* out) {
  const char* p = raw.data();
  const size_t n = raw.size();
  size_t start = 0;
  for (;;) {
    const size_t i = NextControl(p, start, n);
    out->append(p + start, i - start);
    if (i == n) return;
    const auto c = static_cast<unsigned char>(p[i]);
    const char esc[4] = {'#', static_cast<char>('0' + (c >> 6)),
                         static_cast<char>('0' + ((c >> 3) & 7)), static_cast<char>('0' + (c & 7))};
    out->append(esc, 4);
    start = i + 1;
  }
}

void AppendArchiveLine(const Message& msg, std::string* out) {
  AppendRfc3339Micros(msg.received, out);
  AppendLineRest(msg, out);
}

void Archive::AppendLine(const Message& msg, std::string* out, bool same_origin) {
  // Same text as AppendRfc3339Micros, but formatted once per receive time
  // (the frames of one read, or of one UDP wake-up, share it: usually the
  // whole batch), and the "YYYY-MM-DDTHH:MM:SS." part once per second.
  const int64_t ns = msg.received.time_since_epoch().count();
  bool changed = false;
  if (ns != stamp_ns_) {
    FormatStamp(ns);
    changed = true;
  }
  // The sender's text too: one connection's lines (a read, a batch) share it.
  if (!(same_origin && !sender_text_.empty()) &&
      (msg.sender != last_sender_ || sender_text_.empty())) {
    last_sender_.assign(msg.sender);
    sender_text_.clear();
    AppendSender(msg.sender, &sender_text_);
    changed = true;
  }
  // Both in one piece, appended with one call (was two per line).
  if (changed) {
    line_prefix_.assign(stamp_, sizeof(stamp_));
    line_prefix_.append(sender_text_);
  }
  out->append(line_prefix_);
  // The parser's UTF-8 pass looked for control bytes already.
  if (msg.raw_plain) {
    out->append(msg.raw);
  } else {
    AppendEscaped(msg.raw, out);
  }
  out->push_back('\n');
}

void Archive::FormatStamp(int64_t ns) {
  stamp_ns_ = ns;
  int64_t secs = ns / 1'000'000'000;
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  if (secs != ts_second_) {
    ts_scratch_.clear();
    AppendRfc3339Micros(TimePoint(std::chrono::seconds(secs)), &ts_scratch_);
    std::memcpy(ts_prefix_, ts_scratch_.data(), sizeof(ts_prefix_));
    ts_second_ = secs;
  }
  std::memcpy(stamp_, ts_prefix_, sizeof(ts_prefix_));
  int64_t us = frac / 1000;
  for (size_t i = sizeof(ts_prefix_) + 5; i >= sizeof(ts_prefix_); --i) {
    stamp_[i] = static_cast<char>('0' + us % 10);
    us /= 10;
  }
  stamp_[sizeof(stamp_) - 1] = 'Z';
}

namespace {

void AppendSender(std::string_view sender, std::string* out) {
  out->push_back(' ');
  if (sender.empty()) {
    out->push_back('-');
  } else {
    // The sender comes from the socket address, but escape it anyway so a
    // line can never be split by what a transport put there.
    AppendEscaped(sender, out);
  }
  out->push_back(' ');
}

void AppendLineRest(const Message& msg, std::string* out) {
  AppendSender(msg.sender, out);
  AppendEscaped(msg.raw, out);
  out->push_back('\n');
}

}  // namespace

StatusOr<std::unique_ptr<Archive>> Archive::Open(const ArchiveOptions& options, const Clock& clock,
                                                 MetricsRegistry& metrics) {
  if (options.dir.empty()) {
    return Status::InvalidArgument("archive.dir is empty: set the folder for the per-host archive");
  }
  if (options.sync == SyncPolicy::kInterval && options.sync_interval_secs <= 0) {
    return Status::InvalidArgument(
        "archive.sync_interval_secs must be > 0 with archive.sync: interval");
  }
  if (options.buffer_bytes == 0 || options.max_open_files == 0) {
    return Status::InvalidArgument("archive: buffer_bytes and max_open_files must be > 0");
  }
  std::unique_ptr<Archive> a(new Archive(options, clock, std::make_unique<Metrics>(metrics)));
  if (int err = a->OpenDir(); err != 0) {
    return a->CountError("cannot create or open the archive folder", "", err);
  }
  if (options.budget == nullptr) {
    if (Status st = a->budget_->CountExistingHosts(options.dir); !st.ok()) return st;
  }
  if (Status st = a->LoadSpool(); !st.ok()) return st;
  return a;
}

Archive::Archive(const ArchiveOptions& options, const Clock& clock,
                 std::unique_ptr<Metrics> metrics)
    : options_(options),
      clock_(clock),
      metrics_(std::move(metrics)),
      budget_(options.budget != nullptr ? options.budget
                                        : std::make_shared<ArchiveBudget>(ArchiveBudgetOptions())),
      files_(
          options.max_open_files, options.buffer_bytes, budget_, clock,
          [this](Entry* e) { CloseEntry(e); }, [this](Entry* e) { WriteEntry(e); }),
      overflow_folder_(OverflowFolder(options.worker)),
      spool_path_(options.spool_dir.empty() ? std::string()
                                            : SpoolPath(options.spool_dir, options.worker)),
      last_sync_(clock.Now()),
      sync_ops_(options.sync_ops != nullptr ? *options.sync_ops : SyncOps::Real()) {
  if (options_.sync == SyncPolicy::kInterval) {
    syncer_ = std::make_unique<ArchiveSyncer>(options_.dir, sync_ops_, metrics_->sync_errors);
  }
  key_.reserve(kMaxHostDirLen);
  // Room for every open file's host twice over (a slot is 64 bytes: 32 KiB
  // with the default 256 files), within [64, 4096] slots.
  size_t slots = 64;
  while (slots < 2 * options_.max_open_files && slots < 4096) slots *= 2;
  host_cache_ = std::make_unique<HostCacheSlot[]>(slots);
  host_cache_mask_ = slots - 1;
  last_sender_.reserve(64);  // INET6_ADDRSTRLEN and more: no allocation per new sender
  sender_text_.reserve(80);
  line_prefix_.reserve(sizeof(stamp_) + 80);
  path_.reserve(kMaxHostDirLen + 32);
  ts_scratch_.reserve(32);
}

Archive::~Archive() {
  syncer_.reset();  // the final Sync() below is done here, in order
  Flush();
  files_.ForEach([this](Entry& e) { CloseEntry(&e); });
  if (!stranded_.empty()) {
    WriteStranded();
    for (const Stranded& s : stranded_) metrics_->dropped_shutdown->Inc(s.messages);
  }
  if (options_.sync != SyncPolicy::kNone) Sync();
  if (dir_fd_ >= 0) close(dir_fd_);
  files_.ForEach([this](Entry& e) {
    e.buf.clear();
    files_.ReleaseBuffer(&e);
  });
}

bool Archive::StrandedContinues(std::string_view folder, int64_t day) const {
  for (const Stranded& s : stranded_) {
    if (s.continues && s.day == day && s.folder == folder) return true;
  }
  return false;
}

void Archive::StrandBuffer(Entry* e) {
  stranded_.push_back(
      Stranded{std::string(Folder(*e)), e->day, std::move(e->buf), e->messages, e->continues});
  e->buf = std::string();
  files_.Account(e);
  e->messages = 0;
  e->continues = false;
}

Status Archive::LoadSpool() {
  if (options_.spool_dir.empty()) return Status::Ok();
  std::vector<std::string> files =
      SpoolFilesFor(options_.spool_dir, options_.worker, options_.workers);
  const size_t first = stranded_.size();
  std::vector<std::string> intact;
  for (const std::string& f : files) {
    const size_t before = damaged_spool_.size();
    if (Status st = ReadSpool(f, &stranded_, &damaged_spool_); !st.ok()) return st;
    if (damaged_spool_.size() == before) {
      intact.push_back(f);
      continue;
    }
    // What it held intact is in stranded_ now (held until written, spooled
    // again at a stop): the file itself goes aside, out of the spool's way.
    SetAside(&damaged_spool_.back(), clock_.Now());
  }
  for (size_t i = first; i < stranded_.size(); ++i) {
    pending_bytes_ += stranded_[i].data.size();
    spool_loaded_messages_ += stranded_[i].messages;
  }
  spool_files_ = std::move(intact);
  return Status::Ok();
}

uint64_t Archive::held_messages() const {
  uint64_t n = 0;
  files_.ForEach([&n](const Entry& e) { n += e.messages; });
  for (const Stranded& s : stranded_) n += s.messages;
  return n;
}

StatusOr<uint64_t> Archive::Spool() {
  if (spool_path_.empty()) return Status::Unavailable("archive: no spool folder configured");
  files_.ForEach([this](Entry& e) {
    if (!e.buf.empty()) StrandBuffer(&e);
  });
  uint64_t n = 0;
  for (const Stranded& s : stranded_) n += s.messages;
  if (stranded_.empty()) return n;
  if (Status st = WriteSpool(spool_path_, stranded_); !st.ok()) return st;
  // The new file holds what the files taken back at the start still held.
  for (const std::string& f : spool_files_) {
    if (f != spool_path_) unlink(f.c_str());
  }
  spool_files_.clear();
  stranded_.clear();
  pending_bytes_ = 0;
  return n;
}

bool Archive::TakeHostCapReached() { return std::exchange(host_cap_reached_, false); }

std::string_view Archive::Folder(const Entry& e) const {
  return e.overflow || e.diverted ? std::string_view(overflow_folder_) : e.host;
}

void Archive::ReleaseIdleBuffers() {
  files_.ReleaseIdleBuffers(options_.buffer_idle_release);
  metrics_->buffer_bytes->Set(static_cast<double>(budget_->buffer_bytes()));
  metrics_->host_folders->Set(static_cast<double>(budget_->hosts()));
}

size_t Archive::open_files() const {
  size_t n = 0;
  files_.ForEach([&n](const Entry& e) { n += e.fd >= 0; });
  return n;
}

uint64_t Archive::background_syncs() const { return syncer_ ? syncer_->completed() : 0; }

size_t Archive::buffer_capacity_bytes() const {
  size_t n = 0;
  files_.ForEach([&n](const Entry& e) { n += e.buf.capacity(); });
  return n;
}

Status Archive::CountError(std::string_view what, std::string_view path, int err) {
  if (what == "fsync" || what == "syncfs") {
    metrics_->sync_errors->Inc();
  } else {
    metrics_->errors[ReasonOf(err)]->Inc();
  }
  std::string m = "archive: ";
  m.append(what).append(" ").append(options_.dir);
  if (!path.empty()) m.append("/").append(path);
  return Status::FromErrno(m, err);
}

int Archive::OpenDir() {
  if (dir_fd_ >= 0) return 0;
  int err = MakeDirs(options_.dir);
  if (err != 0) return err;
  dir_fd_ = open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return dir_fd_ < 0 ? errno : 0;
}

void Archive::BuildPath(std::string_view host, int64_t day) {
  char date[10];
  FormatDay(day, date);
  path_.assign(host);
  path_.push_back('/');
  path_.append(date, sizeof(date));
  path_.append(".log");
}

// O_APPEND put the write at the end of the file, past any bytes another
// process appended: the descriptor's offset after it is where it ended.
void Archive::ReportWrite(int fd, uint64_t bytes) {
  if (!options_.write_log) return;
  const off_t end = lseek(fd, 0, SEEK_CUR);
  if (end < 0 || static_cast<uint64_t>(end) < bytes) return;
  options_.write_log->Record(path_, static_cast<uint64_t>(end) - bytes, static_cast<uint64_t>(end));
}

int Archive::CompleteTornLine(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  if (st.st_size == 0) return 0;
  char last = '\n';
  const ssize_t n = pread(fd, &last, 1, st.st_size - 1);
  if (n < 0) return errno;
  if (n == 0 || last == '\n') return 0;
  while (true) {
    const ssize_t w = write(fd, "\n", 1);
    if (w == 1) break;
    if (w < 0 && errno == EINTR) continue;
    return w < 0 ? errno : EIO;
  }
  ReportWrite(fd, 1);
  metrics_->torn_lines->Inc();
  metrics_->written_bytes->Inc(1);
  return 0;
}

int Archive::OpenFile(std::string_view host, int64_t day, bool continues, int* err) {
  BuildPath(host, day);  // also names the file in error messages
  *err = OpenDir();      // after Reopen, or when the folder was missing
  if (*err != 0) return -1;
  // Read access only to look at the last byte (CompleteTornLine).
  int fd = openat(dir_fd_, path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd < 0 && errno == EACCES) {
    // A file we may append to but not read: write on without the check.
    fd = openat(dir_fd_, path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    continues = true;
  }
  if (fd >= 0) {
    // A line cut short by a failed write and still held (stranded) ends
    // this file on purpose: it is completed when the held data is written.
    if (!continues && !StrandedContinues(host, day)) *err = CompleteTornLine(fd);
    if (*err == 0) return fd;
    close(fd);
    return -1;
  }
  if (errno != ENOENT) {
    *err = errno;
    return -1;
  }
  // First line of the day (or of the host): create what is missing.
  path_[host.size()] = '\0';
  bool took_slot = false;
  if (host != overflow_folder_) {
    took_slot = budget_->TryAddHost();
    struct stat st;
    if (!took_slot && fstatat(dir_fd_, path_.c_str(), &st, 0) != 0) {
      path_[host.size()] = '/';
      *err = kOverHostCap;  // a new folder past max_hosts
      return -1;
    }
  }
  int mkdir_err = 0;
  if (mkdirat(dir_fd_, path_.c_str(), kDirMode) == 0) {
    // Exactly kDirMode whatever the umask. Should it fail, the folder keeps
    // mkdirat's mode, kDirMode less the umask: never wider, so nothing to do.
    if (fchmodat(dir_fd_, path_.c_str(), kDirMode, 0) != 0) errno = 0;
    need_syncfs_ = true;
  } else {
    mkdir_err = errno;
    if (took_slot) budget_->UndoAddHost();  // it existed (and was counted), or failed
  }
  if (mkdir_err != 0 && mkdir_err != EEXIST) {
    *err = mkdir_err;
    path_[host.size()] = '/';
    if (*err == ENOENT) {
      // The archive folder itself was removed: recreate it on the retry.
      close(dir_fd_);
      dir_fd_ = -1;
    }
    return -1;
  }
  path_[host.size()] = '/';
  fd =
      openat(dir_fd_, path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, kFileMode);
  if (fd >= 0) {
    fchmod(fd, kFileMode);
    need_syncfs_ = true;
    return fd;
  }
  if (errno == EEXIST) {  // someone created it in between
    fd = openat(dir_fd_, path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) return fd;
  }
  *err = errno;
  return -1;
}

namespace {

// An open error that belongs to one host's path (its folder or file is not
// ours to write, or is not a folder/file), not to the archive as a whole
// (a full or read-only file system, too many open files, I/O errors).
bool HostPathError(int err) {
  switch (err) {
    case EACCES:
    case EPERM:
    case ENOTDIR:
    case EISDIR:
    case ELOOP:
      return true;
    default:
      return false;
  }
}

}  // namespace

Status Archive::OpenEntry(Entry* e) {
  int err = 0;
  e->fd = OpenFile(Folder(*e), e->day, e->continues, &err);
  if (e->fd < 0 && err == kOverHostCap) {
    e->overflow = true;
    if (budget_->FirstOverflow()) host_cap_reached_ = true;
    e->fd = OpenFile(overflow_folder_, e->day, e->continues, &err);
  }
  if (e->fd >= 0) {
    if (!e->diverted && e->divert_reported) {
      e->divert_reported = false;
      Log(LogLevel::kInfo, "archive: %s/%.*s can be written again", options_.dir.c_str(),
          static_cast<int>(e->host.size()), e->host.data());
    }
    return Status::Ok();
  }
  // One host's folder (a restore left it root's, a file in its place): its
  // lines go to the overflow folder, where search --host finds them, and
  // every other host goes on. Not with a line begun in its own file.
  if (!e->overflow && !e->diverted && !e->continues && HostPathError(err)) {
    const Status own = CountError("open", path_, err);
    int overflow_err = 0;
    e->fd = OpenFile(overflow_folder_, e->day, e->continues, &overflow_err);
    if (e->fd >= 0) {
      e->diverted = true;
      e->diverted_at = clock_.Now();
      metrics_->diverted_hosts->Inc();
      if (!e->divert_reported) {
        e->divert_reported = true;
        diverted_.push_back({std::string(e->host), own.message(), overflow_folder_});
        Log(LogLevel::kError, "%s: its lines go to %s/%s/ until it can be written",
            own.message().c_str(), options_.dir.c_str(), overflow_folder_.c_str());
      }
      return Status::Ok();
    }
    e->blocked = true;
    const Status overflow = CountError("open", path_, overflow_err);
    return Status(own.code(), own.message() + "; and its overflow folder: " + overflow.message());
  }
  e->blocked = true;
  return CountError("open", path_, err);
}

Status Archive::WriteAll(int fd, std::string* buf, uint64_t* messages, bool* continues) {
  size_t off = 0;
  const size_t n = buf->size();
  int err = 0;
  while (off < n) {
    ssize_t w = write(fd, buf->data() + off, n - off);
    if (w > 0) {
      off += static_cast<size_t>(w);
      ReportWrite(fd, static_cast<uint64_t>(w));
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      err = w < 0 ? errno : EIO;
      break;
    }
  }
  metrics_->written_bytes->Inc(off);
  pending_bytes_ -= off;
  if (off > 0) *continues = (*buf)[off - 1] != '\n';
  if (err == 0) {
    buf->clear();
    metrics_->written_messages->Inc(*messages);
    *messages = 0;
    return Status::Ok();
  }
  // Keep what was not written; a line cut in two is completed by the retry.
  buf->erase(0, off);
  return CountError("write", path_, err);
}

void Archive::ReserveAhead(Entry* e, size_t bytes) {
  if (reserve_unsupported_ || !options_.reserve_ahead) return;
  if (e->reserve_chunk == 0) {  // the first write since the open: where the file ends
    struct stat st;
    if (fstat(e->fd, &st) != 0) return;
    e->file_end = e->reserved_end = static_cast<uint64_t>(st.st_size);
    e->reserve_chunk = std::min<uint64_t>(options_.buffer_bytes, kArchiveReserveMax);
  }
  if (e->file_end + bytes <= e->reserved_end) return;
  // A quiet host's file reserves about one buffer past its end, a busy one
  // up to kArchiveReserveMax: given back when the file closes (CloseFd).
  const uint64_t from = e->reserved_end;
  const uint64_t len = e->file_end + bytes - from + e->reserve_chunk;
  if (fallocate(e->fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(from), static_cast<off_t>(len)) ==
      0) {
    e->reserved_end = from + len;
    e->reserve_chunk = std::min(2 * e->reserve_chunk, kArchiveReserveMax);
  } else if (errno == EOPNOTSUPP || errno == ENOSYS) {
    reserve_unsupported_ = true;  // NFS, some FUSE file systems: write as before
  }
  // Otherwise (ENOSPC, EDQUOT): the write finds out and says so.
}

void Archive::CloseFd(Entry* e) {
  if (e->reserved_end > e->file_end) {
    // ftruncate to the file's own size frees the blocks reserved past it
    // (ext4, XFS); the size as fstat reads it, so no byte is cut.
    struct stat st;
    if (fstat(e->fd, &st) == 0 && static_cast<uint64_t>(st.st_size) < e->reserved_end &&
        ftruncate(e->fd, st.st_size) != 0) {
      errno = 0;  // the blocks stay reserved: nothing is lost
    }
  }
  close(e->fd);
  e->fd = -1;
  e->file_end = e->reserved_end = e->reserve_chunk = 0;
}

Status Archive::WriteEntry(Entry* e) {
  if (e->buf.empty()) return Status::Ok();
  BuildPath(Folder(*e), e->day);  // for the error message only
  ReserveAhead(e, e->buf.size());
  const size_t before = e->buf.size();
  Status st = WriteAll(e->fd, &e->buf, &e->messages, &e->continues);
  e->file_end += before - e->buf.size();
  e->reserved_end = std::max(e->reserved_end, e->file_end);
  e->unsynced = true;
  if (st.ok() && e->buf.capacity() > 2 * (options_.buffer_bytes + kArchiveLineSlack)) {
    // A huge line (up to 4x max message size once escaped) grew this buffer:
    // give the memory back so max_open_files such hosts cannot pin it.
    files_.ReleaseBuffer(e);
  }
  if (!st.ok()) {
    // Reopen by path on retry: the file may have been removed or replaced.
    CloseFd(e);
    e->blocked = true;
    need_syncfs_ = true;
  }
  return st;
}

void Archive::CloseEntry(Entry* e) {
  if (!e->buf.empty()) {
    if (e->fd < 0 && !e->blocked && e->day != kNoDay) OpenEntry(e);
    if (e->fd >= 0) WriteEntry(e);
    if (!e->buf.empty()) {
      StrandBuffer(e);
    }
  }
  if (e->fd >= 0) {
    if (e->unsynced) need_syncfs_ = true;
    CloseFd(e);
  }
  e->unsynced = false;
  e->blocked = false;
  e->diverted = false;  // the next file (a new day, a reopen) tries the host's folder again
}

Status Archive::WriteStranded() {
  Status first;
  size_t kept = 0;
  for (size_t i = 0; i < stranded_.size(); ++i) {
    Stranded& s = stranded_[i];
    int err = 0;
    int fd = OpenFile(s.folder, s.day, s.continues, &err);
    Status st =
        fd >= 0 ? WriteAll(fd, &s.data, &s.messages, &s.continues) : CountError("open", path_, err);
    if (fd >= 0) {
      close(fd);
      need_syncfs_ = true;
    }
    if (!st.ok()) {
      if (first.ok()) first = st;
      if (kept != i) stranded_[kept] = std::move(s);
      ++kept;
    }
  }
  stranded_.resize(kept);
  return first;
}

Archive::Entry* Archive::EntryOf(const HostKey& host) {
  // Entries are never freed, and FindOrCreate is the only place an entry
  // changes host (LRU recycling, which starts a new generation of the
  // cache), so a cached pointer stays right.
  size_t i = host.hash & host_cache_mask_;
  for (;; i = (i + 1) & host_cache_mask_) {
    const HostCacheSlot& slot = host_cache_[i];
    if (slot.generation != host_cache_generation_) break;  // empty: not cached
    if (slot.hash == host.hash && slot.length == host.name.size() &&
        std::memcmp(slot.raw, host.name.data(), host.name.size()) == 0) {
      // A batch is mostly one host's lines (one TCP connection per host):
      // the same entry as the line before is already the most recent.
      if (slot.entry != last_entry_) {
        files_.Touch(slot.entry);  // as FindOrCreate's hit does
        last_entry_ = slot.entry;
      }
      return last_entry_;
    }
  }
  SanitizeHost(host.name, &key_);
  last_entry_ = files_.FindOrCreate(key_);
  // FindOrCreate may have recycled an entry a slot remembers (only past
  // max_open_files hosts), or the table is 3/4 full: start a generation
  // (every slot empty), where the probe starts at the host's home slot.
  const bool recycled = files_.recycled() != host_cache_recycled_;
  if (recycled || 4 * (host_cache_used_ + 1) > 3 * (host_cache_mask_ + 1)) {
    ++host_cache_generation_;
    host_cache_used_ = 0;
    host_cache_recycled_ = files_.recycled();
    i = host.hash & host_cache_mask_;
  }
  if (host.name.size() > kHostCacheNameBytes) return last_entry_;
  HostCacheSlot& slot = host_cache_[i];  // the first empty slot of the probe
  slot.generation = host_cache_generation_;
  slot.entry = last_entry_;
  slot.hash = host.hash;
  slot.length = static_cast<uint8_t>(host.name.size());
  std::memcpy(slot.raw, host.name.data(), host.name.size());
  ++host_cache_used_;
  return last_entry_;
}

Status Archive::Append(const Message& msg) { return Append(msg, HostKey::Of(msg.host())); }

Status Archive::Append(const Message& msg, const HostKey& host, bool same_origin) {
  const int64_t day = DayOf(msg.received);
  Entry* e = same_origin && last_entry_ != nullptr ? last_entry_ : EntryOf(host);
  if (e->day != day) {
    CloseEntry(e);  // writes out the previous day's lines
    e->day = day;
  }
  Status st;
  if (e->fd < 0 && !e->blocked) st = OpenEntry(e);

  // Buffers grow from the shared budget to what a host sends between writes
  // and keep that size until idle, so the steady state does not allocate.
  // No room in the budget: the line is written through (buffer freed right
  // after). The room asked for is the line unless escaping makes it longer
  // (then the string grows on its own and Account charges the difference).
  // The usual line fits in its host's buffer: tested here, not in a call
  // per line.
  const size_t room = msg.raw.size() + msg.sender.size() + 64;
  const bool through = e->buf.capacity() - e->buf.size() < room && !files_.ReserveBuffer(e, room);
  e->touched = true;
  const size_t before = e->buf.size();
  AppendLine(msg, &e->buf, same_origin);
  files_.Account(e);
  const size_t len = e->buf.size() - before;
  if (e->fd < 0 && pending_bytes_ + len > options_.max_pending_bytes) {
    e->buf.resize(before);
    if (e->buf.empty()) files_.ReleaseBuffer(e);
    metrics_->dropped_buffer_full->Inc();
    if (!st.ok()) return st;
    return Status::Unavailable(
        "archive: " + std::string(e->host) +
        ": line dropped, archive.max_pending_bytes of unwritable data reached");
  }
  pending_bytes_ += len;
  ++e->messages;
  if (e->overflow || e->diverted) metrics_->overflow_messages->Inc();
  if (e->fd >= 0 && (through || e->buf.size() >= options_.buffer_bytes)) {
    Status w = WriteEntry(e);
    if (st.ok()) st = w;
    if (through && e->buf.empty()) files_.ReleaseBuffer(e);
  }
  return st;
}

Status Archive::Flush() {
  Status first;
  const TimePoint now = clock_.Now();
  files_.ForEach([&](Entry& e) {
    e.blocked = false;
    if (e.diverted && now - e.diverted_at >= kDivertRetry) {
      // Try the host's own folder again with its next line: what is
      // buffered goes to the overflow file first (in order there).
      if (e.fd >= 0 && !e.buf.empty()) {
        if (Status st = WriteEntry(&e); !st.ok() && first.ok()) first = st;
      }
      if (e.buf.empty()) {
        if (e.fd >= 0) {
          if (e.unsynced) need_syncfs_ = true;
          CloseFd(&e);
        }
        e.diverted = false;
      }
    }
    if (e.buf.empty()) return;
    Status st;
    if (e.fd < 0) st = OpenEntry(&e);
    if (st.ok()) st = WriteEntry(&e);
    if (!st.ok() && first.ok()) first = st;
  });
  if (!stranded_.empty()) {
    Status st = WriteStranded();
    if (!st.ok() && first.ok()) first = st;
  }
  if (stranded_.empty() && !spool_files_.empty()) {
    // Everything taken back from the spool is in the archive now.
    for (const std::string& f : spool_files_) unlink(f.c_str());
    spool_files_.clear();
  }
  ReleaseIdleBuffers();
  if (options_.sync == SyncPolicy::kBatch) {
    Sync();  // its outcome goes to TakeSyncOutcome
  } else if (syncer_ != nullptr) {
    const TimePoint now = clock_.Now();
    if (now - last_sync_ >= std::chrono::seconds(options_.sync_interval_secs)) {
      syncer_->Request();
      last_sync_ = now;
    }
  }
  return first;
}

Status Archive::Sync() {
  Status first;
  files_.ForEach([&](Entry& e) {
    if (e.fd < 0 || !e.unsynced) return;
    if (const int err = sync_ops_.Fsync(e.fd); err == 0) {
      e.unsynced = false;
    } else if (first.ok()) {
      BuildPath(Folder(e), e.day);
      first = CountError("fsync", path_, err);
    }
  });
  if (need_syncfs_ && dir_fd_ >= 0) {
    // Covers files closed before they were synced and new folder entries.
    if (const int err = sync_ops_.Syncfs(dir_fd_); err == 0) {
      need_syncfs_ = false;
    } else if (first.ok()) {
      first = CountError("syncfs", "", err);
    }
  }
  last_sync_ = clock_.Now();
  sync_outcome_ = first;
  return first;
}

std::optional<Status> Archive::TakeSyncOutcome() {
  std::optional<Status> out = std::move(sync_outcome_);
  sync_outcome_.reset();
  if (syncer_ != nullptr) {
    const uint64_t done = syncer_->completed();
    if (done != syncs_seen_) {
      syncs_seen_ = done;
      if (const int err = syncer_->last_error(); err != 0) {
        out = Status::FromErrno("archive: syncfs " + options_.dir, err);
      } else if (!out.has_value()) {
        out = Status::Ok();
      }
    }
  }
  return out;
}

void Archive::Reopen() {
  Flush();
  files_.ForEach([this](Entry& e) { CloseEntry(&e); });
  if (dir_fd_ >= 0) {
    close(dir_fd_);
    dir_fd_ = -1;
  }
}

}  // namespace konseki::outputs
