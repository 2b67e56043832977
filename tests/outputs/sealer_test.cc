#include "outputs/sealer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "outputs/seal_format.h"
#include "tests/outputs/seal_test_util.h"

namespace konseki::outputs {
namespace {

using SealerTest = SealFixture;
constexpr char kDay1[] = "web01/2025-12-01.log";

std::vector<std::string> Signs(const konseki::testing::RecordingAlertSink& sink) {
  std::vector<std::string> out;
  for (const Alert& a : sink.alerts()) out.push_back(a.sign);
  return out;
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_F(SealerTest, CleanArchiveVerifiesAfterStop) {
  LogMany("web01", 5);
  Advance(kEpoch);
  Poll();  // seals epoch 0
  LogMany("web01", 3);
  LogMany("db02", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_TRUE(r.authenticated);
  const FileVerdict* f = Find(r, kDay1);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->verified_lines, 8u);
  EXPECT_EQ(f->unsealed_lines, 0u);
  EXPECT_FALSE(f->verified_until.empty());
  EXPECT_EQ(Find(r, "db02/2025-12-01.log")->verified_lines, 2u);
  EXPECT_EQ(r.records, 2u);
}

// Sealing stops when its records cannot be written (here the seal folder
// is replaced by a file: ENOTDIR, even for root). The admin hears it once
// (alert, gauge, log): first that the stream it was writing is gone
// (archive.seal_stream_missing), then that sealing stopped; konseki retries
// every poll, and once records can be written again (the folder put back)
// the lines archived meanwhile are sealed and the whole archive verifies:
// the loss record is followed by a record that continues the chain, so
// verify notes the episode and passes.
TEST_F(SealerTest, SealWriteFailureAlertsOnceThenResumesAndEverythingVerifies) {
  auto signs = [&] { return Signs(alerts_); };
  auto gauge = [&] { return metrics_.GetGauge("konseki_archive_seal_stopped", "")->Value(); };
  LogMany("web01", 3);
  Advance(kEpoch);
  Poll();
  const std::string seal = Path(std::string(kSealDirName));
  std::filesystem::rename(seal, seal + ".away");
  WriteFile(std::string(kSealDirName), "not a folder");
  Advance(86400);
  EXPECT_FALSE(sealer_->Poll().ok());
  EXPECT_EQ(signs(),
            (std::vector<std::string>{"archive.seal_stream_missing", "archive.seal_stopped"}));
  for (int i = 0; i < 3; ++i) {
    Log("web01", "while sealing fails " + std::to_string(i));
    Advance(kEpoch);
    EXPECT_FALSE(sealer_->Poll().ok());
  }
  EXPECT_EQ(signs().size(), 2u);
  EXPECT_EQ(alerts_.alerts()[1].severity, Severity::kHigh);
  EXPECT_EQ(gauge(), 1);
  EXPECT_GT(metrics_.GetCounter("konseki_archive_seal_errors_total", "")->Value(), 0u);

  std::filesystem::remove(seal);
  std::filesystem::rename(seal + ".away", seal);
  Log("web01", "after the repair");
  Advance(kEpoch);
  Poll();
  EXPECT_EQ(signs(), (std::vector<std::string>{"archive.seal_stream_missing",
                                               "archive.seal_stopped", "archive.seal_resumed"}));
  EXPECT_EQ(gauge(), 0);
  ASSERT_TRUE(sealer_->Stop().ok());
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_TRUE(Contains(last_report_, "the stream was put back: the chain goes on unbroken"))
      << last_report_;
  EXPECT_EQ(Find(r, kDay1)->verified_lines, 3u) << last_report_;
  EXPECT_EQ(Find(r, "web01/2025-12-02.log")->verified_lines, 4u) << last_report_;
  EXPECT_EQ(Find(r, "web01/2025-12-02.log")->unsealed_lines, 0u) << last_report_;
}

TEST_F(SealerTest, LinesOfTheCurrentEpochAreUnsealedNotVerified) {
  LogMany("web01", 4);
  Advance(kEpoch);
  Poll();
  LogMany("web01", 3);  // epoch 1: not sealed yet
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->verified_lines, 4u);
  EXPECT_EQ(Find(r, kDay1)->unsealed_lines, 3u);
}

TEST_F(SealerTest, KeyEvolvesEachEpochAndTheKeyFileHoldsOnlyTheCurrentOne) {
  LogMany("web01", 1);
  Advance(3 * kEpoch);
  Poll();
  EXPECT_EQ(sealer_->key_epoch(), 3u);
  auto f = SealKeyFile::Open(DefaultSealKeyPath(dir_));
  ASSERT_TRUE(f.ok());
  auto s = f->Load();
  ASSERT_TRUE(s.ok());
  SealKeyState expect;
  expect.key = vk_.key0;
  expect.EvolveTo(3);
  EXPECT_EQ(s->epoch, 3u);
  EXPECT_EQ(s->key, expect.key);
  // The skipped epochs are announced by the record (next = 3), so verify
  // accepts the gap.
  LogMany("web01", 1);
  ASSERT_TRUE(sealer_->Stop().ok());
  EXPECT_TRUE(Verify().ok()) << last_report_;
}

TEST_F(SealerTest, RestartContinuesTheChain) {
  LogMany("web01", 3);
  ASSERT_TRUE(sealer_->Stop().ok());
  sealer_.reset();
  Advance(10);
  OpenSealer();
  LogMany("web01", 2);
  Advance(kEpoch);
  Poll();
  sealer_.reset();  // the destructor stops and seals too
  OpenSealer();
  LogMany("web01", 1);
  ASSERT_TRUE(sealer_->Stop().ok());
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->verified_lines, 6u);
  EXPECT_EQ(Find(r, kDay1)->restart_unsealed_lines, 0u);
}

TEST_F(SealerTest, CrashLeavesLinesReportedAsUnsealedAfterRestart) {
  LogMany("web01", 3);
  Advance(kEpoch);
  Poll();
  LogMany("web01", 2);  // written, then the process dies before the next seal
  // A crash: the seal stream and key stay as they are on disk now.
  const std::string snap = dir_ + "/snap";
  std::filesystem::create_directories(snap);
  std::filesystem::copy(Path(".seal"), snap + "/seal");
  std::filesystem::copy_file(DefaultSealKeyPath(dir_), snap + "/seal.key");
  ASSERT_TRUE(sealer_->Stop().ok());
  sealer_.reset();
  std::filesystem::remove_all(Path(".seal"));
  std::filesystem::copy(snap + "/seal", Path(".seal"));
  std::filesystem::copy_file(snap + "/seal.key", DefaultSealKeyPath(dir_),
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove_all(snap);
  OpenSealer();
  LogMany("web01", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  const FileVerdict* f = Find(r, kDay1);
  EXPECT_EQ(f->verified_lines, 5u);
  EXPECT_EQ(f->restart_unsealed_lines, 2u);
}

// A crash that tore the last line: the restart records the whole lines as
// unsealed (U) and the next writer completes the torn one ('\n'); the torn
// bytes are the predecessor's, not foreign.
TEST_F(SealerTest, LineTornByACrashIsNotForeignAfterTheRestart) {
  LogMany("web01", 3);
  Advance(kEpoch);
  Poll();
  LogMany("web01", 2);
  const std::string snap = dir_ + "/snap";
  std::filesystem::create_directories(snap);
  std::filesystem::copy(Path(".seal"), snap + "/seal");
  std::filesystem::copy_file(DefaultSealKeyPath(dir_), snap + "/seal.key");
  ASSERT_TRUE(sealer_->Stop().ok());
  sealer_.reset();
  archive_.reset();
  std::filesystem::remove_all(Path(".seal"));
  std::filesystem::copy(snap + "/seal", Path(".seal"));
  std::filesystem::copy_file(snap + "/seal.key", DefaultSealKeyPath(dir_),
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove_all(snap);
  {
    std::ofstream out(Path(kDay1), std::ios::app);
    out << "2025-12-01T00:15:20.000000Z 192.0.2.7 <13>torn by the cr";
  }
  OpenSealer();  // before any writer, as the server does
  ArchiveOptions ao;
  ao.dir = dir_;
  ao.sync = SyncPolicy::kNone;
  ao.write_log = write_log_;
  auto a = Archive::Open(ao, clock_, metrics_);
  ASSERT_TRUE(a.ok());
  archive_ = std::move(a).value();
  LogMany("web01", 2);
  Advance(4);
  Poll();
  ASSERT_TRUE(sealer_->Stop().ok());
  EXPECT_TRUE(alerts_.alerts().empty()) << alerts_.alerts()[0].sign;
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  const FileVerdict* f = Find(r, kDay1);
  EXPECT_EQ(f->verified_lines, 6u) << last_report_;
  EXPECT_EQ(f->restart_unsealed_lines, 2u) << last_report_;
  EXPECT_EQ(f->foreign_lines, 0u) << last_report_;
}

// A crash as the restart sees it: the seal stream and key state of the
// moment (the sealer's own Stop is undone).
void CrashSealer(std::unique_ptr<Sealer>* sealer, const std::string& dir) {
  const std::string snap = dir + "/snap";
  std::filesystem::create_directories(snap);
  std::filesystem::copy(dir + "/.seal", snap + "/seal");
  std::filesystem::copy_file(DefaultSealKeyPath(dir), snap + "/seal.key");
  ASSERT_TRUE((*sealer)->Stop().ok());
  sealer->reset();
  std::filesystem::remove_all(dir + "/.seal");
  std::filesystem::copy(snap + "/seal", dir + "/.seal");
  std::filesystem::copy_file(snap + "/seal.key", DefaultSealKeyPath(dir),
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove_all(snap);
}

std::string Field(const Alert& a, const std::string& name) {
  for (const auto& [k, v] : a.fields) {
    if (k == name) return v;
  }
  return "";
}

// prod18 finding 2: a clean stop seals every byte konseki wrote, so bytes
// found unsealed at the next start were put there while it was stopped: a
// sealed day file copied into a new host folder, or as another host's file
// of another day. They are foreign (X), alerted, and verify fails both
// files, naming them; the files konseki wrote still verify.
TEST_F(SealerTest, FileCopiedInAfterACleanStopIsForeignAtTheRestart) {
  LogMany("web01", 3);
  LogMany("db02", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  sealer_.reset();
  std::filesystem::create_directories(Path("mail03"));
  std::filesystem::copy_file(Path(kDay1), Path("mail03/2025-12-01.log"));
  std::filesystem::copy_file(Path(kDay1), Path("db02/2025-11-30.log"));
  Advance(10);
  OpenSealer();
  ASSERT_EQ(Signs(alerts_),
            (std::vector<std::string>{"archive.foreign_write", "archive.foreign_write"}));
  for (const Alert& a : alerts_.alerts()) {
    EXPECT_EQ(a.severity, Severity::kHigh);
    EXPECT_EQ(Field(a, "found"), "at-start-after-clean-stop");
    EXPECT_EQ(Field(a, "lines"), "3");
  }
  EXPECT_EQ(Field(alerts_.alerts()[0], "file"), "db02/2025-11-30.log");
  EXPECT_EQ(Field(alerts_.alerts()[1], "file"), "mail03/2025-12-01.log");
  // On disk at once, not at the end of the epoch.
  EXPECT_TRUE(Contains(ReadFile(".seal/2025-12-01.seal"), "\nX mail03/2025-12-01.log 0 "));
  LogMany("web01", 1);
  ASSERT_TRUE(sealer_->Stop().ok());

  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  const FileVerdict* copy = Find(r, "mail03/2025-12-01.log");
  ASSERT_NE(copy, nullptr);
  EXPECT_TRUE(copy->failed);
  EXPECT_TRUE(Contains(copy->why, "foreign: bytes 0..")) << last_report_;
  EXPECT_EQ(copy->foreign_lines, 3u);
  EXPECT_EQ(copy->restart_unsealed_lines, 0u);
  const FileVerdict* other_day = Find(r, "db02/2025-11-30.log");
  ASSERT_NE(other_day, nullptr);
  EXPECT_TRUE(other_day->failed);
  EXPECT_TRUE(Contains(other_day->why, "foreign")) << last_report_;
  EXPECT_TRUE(Contains(other_day->why, "misplaced: line 1 was received 2025-12-01T"))
      << last_report_;
  EXPECT_EQ(other_day->misplaced_lines, 3u);
  EXPECT_FALSE(Find(r, kDay1)->failed) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->verified_lines, 4u);
  EXPECT_FALSE(Find(r, "db02/2025-12-01.log")->failed) << last_report_;
  EXPECT_TRUE(Contains(last_report_, "mail03/2025-12-01.log: FAILED")) << last_report_;
}

// After a crash (kill -9) the lines found unsealed are most likely
// konseki's own last ones: they stay U and raise no alert, and konseki's
// own verify as before. A copied file among them stays U too, but verify
// fails it: its lines were received on another day, or are another host's.
TEST_F(SealerTest, FileCopiedInAfterACrashStaysUnsealedButVerifyFindsItMisplaced) {
  LogMany("web01", 3);
  Advance(kEpoch);
  Poll();
  LogMany("web01", 2);  // unsealed when the process dies
  CrashSealer(&sealer_, dir_);
  std::filesystem::create_directories(Path("db02"));
  std::filesystem::copy_file(Path(kDay1), Path("db02/2025-11-30.log"));
  std::filesystem::create_directories(Path("web02"));
  std::filesystem::copy_file(Path(kDay1), Path("web02/2025-12-01.log"));
  OpenSealer();
  EXPECT_TRUE(alerts_.alerts().empty()) << alerts_.alerts()[0].sign;
  LogMany("web01", 1);
  ASSERT_TRUE(sealer_->Stop().ok());
  // What the app's reader says of every line Log() wrote: host web01.
  line_of_host_ = [](std::string_view, std::string_view folder, std::string* host) {
    *host = "web01";
    return folder == "web01";
  };
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  const FileVerdict* own = Find(r, kDay1);
  EXPECT_FALSE(own->failed) << last_report_;
  EXPECT_EQ(own->verified_lines, 4u);
  EXPECT_EQ(own->restart_unsealed_lines, 2u);
  EXPECT_EQ(own->misplaced_lines, 0u);
  const FileVerdict* other_day = Find(r, "db02/2025-11-30.log");
  EXPECT_TRUE(other_day->failed);
  EXPECT_EQ(other_day->restart_unsealed_lines, 5u) << last_report_;
  EXPECT_EQ(other_day->foreign_lines, 0u);
  EXPECT_TRUE(Contains(other_day->why, "misplaced: line 1 was received 2025-12-01T"))
      << last_report_;
  EXPECT_TRUE(Contains(other_day->why, "and 4 more lines")) << last_report_;
  const FileVerdict* other_host = Find(r, "web02/2025-12-01.log");
  EXPECT_TRUE(other_host->failed);
  EXPECT_EQ(other_host->restart_unsealed_lines, 5u);
  EXPECT_TRUE(Contains(other_host->why, "is of host folder 'web01', not 'web02'")) << last_report_;
  EXPECT_TRUE(Contains(last_report_, "5 lines misplaced (of another day or host)")) << last_report_;
}

// The clean-stop mark holds for one start only: a konseki started after a
// clean stop and then killed leaves its own unsealed lines U, not foreign.
TEST_F(SealerTest, CrashAfterAStartFromACleanStopLeavesItsLinesUnsealedNotForeign) {
  LogMany("web01", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  sealer_.reset();
  EXPECT_TRUE(ReadSealKeyState(DefaultSealKeyPath(dir_))->clean_stop);
  Advance(10);
  OpenSealer();  // nothing to record: the mark is cleared all the same
  EXPECT_FALSE(ReadSealKeyState(DefaultSealKeyPath(dir_))->clean_stop);
  LogMany("web01", 2);
  CrashSealer(&sealer_, dir_);
  OpenSealer();
  EXPECT_TRUE(alerts_.alerts().empty()) << alerts_.alerts()[0].sign;
  ASSERT_TRUE(sealer_->Stop().ok());
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->restart_unsealed_lines, 2u) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->foreign_lines, 0u) << last_report_;
}

// A copy no record covers (a day the sealer does not follow) was a note
// ("older than the seal stream"); its lines received on another day fail it.
TEST_F(SealerTest, UnsealedCopyOfAnotherDayFailsAsMisplaced) {
  LogMany("web01", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  std::filesystem::copy_file(Path(kDay1), Path("web01/2025-11-20.log"));
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  const FileVerdict* f = Find(r, "web01/2025-11-20.log");
  EXPECT_TRUE(f->failed);
  EXPECT_TRUE(Contains(f->why, "misplaced")) << last_report_;
  EXPECT_EQ(f->misplaced_lines, 2u);
}

TEST_F(SealerTest, ChainSpansDaysAndHosts) {
  LogMany("web01", 2);
  LogMany("db02", 2);
  Advance(86400);
  Poll();
  LogMany("web01", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  EXPECT_TRUE(std::filesystem::exists(Path(".seal/2025-12-01.seal")));
  EXPECT_TRUE(std::filesystem::exists(Path(".seal/2025-12-02.seal")));
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_EQ(Find(r, "web01/2025-12-02.log")->verified_lines, 2u);
}

TEST_F(SealerTest, WrongKeyFailsAuthentication) {
  LogMany("web01", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  vk_.key0[0] ^= 1;
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.chain_errors.size(), 1u) << last_report_;
  EXPECT_NE(r.chain_errors[0].find("fails authentication"), std::string::npos);
}

// The sealer keeps its seal file open: `rm -r .seal` under it must not go on
// into an unlinked inode unseen. The next poll notices (st_nlink 0), alerts,
// counts an error and starts the stream again with a loss record, which
// verify reports as a break (exit 1), not as a clean archive.
TEST_F(SealerTest, SealFolderDeletedWhileRunningIsNoticedAndVerifyReportsABreak) {
  LogMany("db02", 1);  // sealed in the file about to be lost; nothing after
  LogMany("web01", 3);
  Advance(kEpoch);
  Poll();  // record 0 written: the seal file is open
  std::filesystem::remove_all(Path(".seal"));
  Poll();
  EXPECT_EQ(Signs(alerts_), std::vector<std::string>{"archive.seal_stream_missing"});
  EXPECT_EQ(alerts_.alerts()[0].severity, Severity::kHigh);
  EXPECT_GT(metrics_.GetCounter("konseki_archive_seal_errors_total", "")->Value(), 0u);
  EXPECT_TRUE(std::filesystem::exists(Path(".seal/2025-12-01.seal")));
  EXPECT_TRUE(Contains(ReadFile(".seal/2025-12-01.seal"), "\nM 1 "))
      << ReadFile(".seal/2025-12-01.seal");
  LogMany("web01", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  ASSERT_FALSE(r.chain_errors.empty()) << last_report_;
  EXPECT_TRUE(Contains(r.chain_errors[0], "deleted or replaced while it ran (unlinked)"))
      << last_report_;
  // The lines sealed in the lost file have no seal any more: not OK.
  EXPECT_TRUE(Find(r, kDay1)->failed) << last_report_;
  EXPECT_EQ(Signs(alerts_).size(), 1u);  // once per loss, not per poll
  // A restart finds db02's line in no record of the stream: unsealed, but
  // not "written before a crash" (it was sealed in the lost file).
  sealer_.reset();
  OpenSealer();
  ASSERT_TRUE(sealer_->Stop().ok());
  r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  EXPECT_EQ(Find(r, "db02/2025-12-01.log")->lost_unsealed_lines, 1u) << last_report_;
  EXPECT_FALSE(Contains(last_report_, "crash")) << last_report_;
}

TEST_F(SealerTest, SealFileReplacedWhileRunningIsNoticed) {
  LogMany("web01", 3);
  Advance(kEpoch);
  Poll();
  const std::string seal = ".seal/2025-12-01.seal";
  const std::string copy = ReadFile(seal);
  std::filesystem::rename(Path(seal), Path(seal + ".old"));
  // Another file: an attacker's rewrite without the first record.
  WriteFile(seal, copy.substr(0, copy.find('\n') + 1));
  LogMany("web01", 1);
  EXPECT_EQ(Signs(alerts_), std::vector<std::string>{"archive.seal_stream_missing"});
  EXPECT_TRUE(Contains(alerts_.alerts()[0].fields.back().second, "replaced by another file"));
  ASSERT_TRUE(sealer_->Stop().ok());
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  ASSERT_FALSE(r.chain_errors.empty()) << last_report_;
  EXPECT_TRUE(Contains(r.chain_errors[0], "(replaced)")) << last_report_;
}

// A restart that finds the key past its first record but no stream: the
// stream was removed (a clean stop seals everything, a crash leaves the
// stream). Alert, and a loss record so that verify fails and does not call
// the lines "written before a crash".
TEST_F(SealerTest, RestartWithoutTheStreamAlertsAndVerifyDoesNotBlameACrash) {
  LogMany("web01", 3);
  ASSERT_TRUE(sealer_->Stop().ok());
  sealer_.reset();
  std::filesystem::remove_all(Path(".seal"));
  Advance(10);
  OpenSealer();
  EXPECT_EQ(Signs(alerts_), std::vector<std::string>{"archive.seal_stream_missing"});
  LogMany("web01", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  ASSERT_FALSE(r.chain_errors.empty()) << last_report_;
  EXPECT_TRUE(Contains(r.chain_errors[0], "missing when it started")) << last_report_;
  const FileVerdict* f = Find(r, kDay1);
  EXPECT_EQ(f->lost_unsealed_lines, 3u) << last_report_;
  EXPECT_EQ(f->restart_unsealed_lines, 0u) << last_report_;
  EXPECT_EQ(f->verified_lines, 2u) << last_report_;
  EXPECT_FALSE(Contains(last_report_, "crash")) << last_report_;
  EXPECT_TRUE(Contains(last_report_, "found at a restart after the seal stream was removed"))
      << last_report_;
}

// A clean stop moves the key past the current epoch. A restart in that same
// epoch finds the key at the next one: the first boundary holds (no record;
// the key is already the epoch's that begins), the next seals the lines of
// both epochs, and from then on the key is the clock's again (it used to
// stay one step ahead for good).
TEST_F(SealerTest, RestartInTheStoppedEpochCatchesUpWithTheClock) {
  LogMany("web01", 2);  // clock: 12 s into epoch 0
  ASSERT_TRUE(sealer_->Stop().ok());
  sealer_.reset();
  OpenSealer();
  EXPECT_EQ(sealer_->key_epoch(), 1u);
  Log("web01", "written right after the restart");
  Advance(kEpoch - 2);  // 10 s past the boundary of epoch 1: held
  Poll();
  EXPECT_EQ(sealer_->key_epoch(), 1u);
  Log("web01", "in epoch 1");
  Advance(kEpoch);  // the boundary of epoch 2: both epochs' lines sealed under k_1
  Poll();
  EXPECT_EQ(sealer_->key_epoch(), 2u);
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->verified_lines, 4u) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->unsealed_lines, 0u) << last_report_;
  // Caught up: the key is the clock's epoch, sealed at each boundary as usual.
  EXPECT_EQ(metrics_.GetGauge("konseki_archive_seal_key_ahead_seconds", "")->Value(), 0);
  Log("web01", "in epoch 2");
  Advance(kEpoch);
  Poll();
  EXPECT_EQ(sealer_->key_epoch(), 3u);
  r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->unsealed_lines, 0u) << last_report_;
  EXPECT_FALSE(Contains(last_report_, "before their epoch began")) << last_report_;
  ASSERT_TRUE(sealer_->Stop().ok());
  EXPECT_TRUE(Verify().ok()) << last_report_;
  EXPECT_TRUE(Signs(alerts_).empty());
}

// A start after a clean stop that finds bytes appended meanwhile records
// them at once (X) in a record E(k, k) under the key it starts with. That
// key has sealed something: the first boundary must seal and evolve it, not
// hold it for another epoch to catch up with the clock.
TEST_F(SealerTest, AKeyThatSealedWhatTheStartFoundIsNotHeldOverABoundary) {
  LogMany("web01", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  sealer_.reset();
  {
    std::ofstream out(Path(kDay1), std::ios::app);
    out << "appended while konseki was stopped\n";
  }
  OpenSealer();
  EXPECT_EQ(Signs(alerts_), std::vector<std::string>{"archive.foreign_write"});
  EXPECT_EQ(sealer_->key_epoch(), 1u);
  Log("web01", "after the start");
  Advance(kEpoch - 2);  // the boundary of epoch 1
  Poll();
  EXPECT_EQ(sealer_->key_epoch(), 2u);  // sealed and evolved: k_1 is gone
  Advance(kEpoch);
  Poll();  // k_2 has sealed nothing: held, the key is the clock's now
  EXPECT_EQ(sealer_->key_epoch(), 2u);
  Advance(kEpoch);
  Poll();
  EXPECT_EQ(sealer_->key_epoch(), 3u);
  VerifyReport r = Verify();
  EXPECT_EQ(Find(r, kDay1)->verified_lines, 3u) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->unsealed_lines, 0u) << last_report_;
}

// prod23: four clean restarts within one epoch (upgrades, config edits) put
// the key four epochs ahead of the clock. That is no sign of a clock set
// back: no archive.seal_key_ahead at any start (each start after the third
// raised it, blaming the clock). The key catches up one epoch every second
// boundary, no line waits more than two boundaries for its seal, no record's
// key survives on disk, and once caught up a restart is one step ahead only.
TEST_F(SealerTest, ManyRestartsInOneEpochCatchUpWithoutAClockAlert) {
  LogMany("web01", 2);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(sealer_->Stop().ok());
    sealer_.reset();
    OpenSealer();
  }
  EXPECT_EQ(sealer_->key_epoch(), 4u);
  EXPECT_TRUE(Signs(alerts_).empty());
  int caught_up_at = -1;
  for (int b = 1; b <= 10; ++b) {
    Log("web01", "before boundary " + std::to_string(b));
    Advance(kEpoch);
    Poll();
    const uint64_t wall = static_cast<uint64_t>(b);
    if (caught_up_at < 0 && sealer_->key_epoch() == wall) caught_up_at = b;
    // Every line is sealed by the second boundary after it was written.
    if (b % 2 == 0) {
      VerifyReport r = Verify();
      EXPECT_TRUE(r.ok()) << last_report_;
      EXPECT_EQ(Find(r, kDay1)->unsealed_lines, 0u) << "boundary " << b << "\n" << last_report_;
    }
    // Forward security: the key on disk is past every epoch a record used.
    auto state = ReadSealKeyState(DefaultSealKeyPath(dir_));
    ASSERT_TRUE(state.ok());
    uint64_t last_record_epoch = 0;
    std::istringstream in(ReadFile(".seal/2025-12-01.seal"));
    for (std::string line; std::getline(in, line);) {
      SealRecord rec;
      if (ParseSealLine(line, &rec) && rec.kind == 'E') last_record_epoch = rec.epoch;
    }
    EXPECT_GT(state->epoch, last_record_epoch) << "boundary " << b;
  }
  EXPECT_EQ(caught_up_at, 7);  // 4 epochs ahead: held at boundaries 1, 3, 5 and 7
  EXPECT_EQ(sealer_->key_epoch(), 10u);
  EXPECT_EQ(metrics_.GetGauge("konseki_archive_seal_key_ahead_seconds", "")->Value(), 0);
  // A clean restart now is one step ahead, not five.
  ASSERT_TRUE(sealer_->Stop().ok());
  sealer_.reset();
  OpenSealer();
  EXPECT_EQ(sealer_->key_epoch(), 11u);
  EXPECT_TRUE(Signs(alerts_).empty());
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->verified_lines, 12u) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->unsealed_lines, 0u) << last_report_;
}

// prod18 #1: the log host's clock stepped ahead (past midnight) and then set
// right. While ahead the key moved to the clock's epoch (it cannot go
// back); once the clock is right again the sealer must go on sealing at
// each epoch end, not wait hours for the clock to reach the key. The lines
// of both days verify, nothing is left unsealed, and the admin is told
// that the key runs ahead of the clock.
TEST_F(SealerTest, ClockSetBackAfterRunningAheadKeepsSealingEveryEpoch) {
  LogMany("web01", 3);
  Advance(kEpoch);
  Poll();                           // epoch 0 sealed, key at 1
  constexpr int64_t kJump = 86000;  // 23 h 53 min: into 2025-12-02
  Advance(kJump);
  Log("web01", "received while the clock is ahead 1");
  Poll();  // the clock left epoch 1 for 96: sealed, key at 96
  EXPECT_EQ(sealer_->key_epoch(), 96u);
  Log("web01", "received while the clock is ahead 2");  // not read before the step back
  Log("db02", "a host whose day file the sealer never saw before the step back");
  Advance(-kJump);
  Log("web01", "received after the clock was set right");
  Poll();
  ASSERT_EQ(Signs(alerts_), std::vector<std::string>{"archive.seal_key_ahead"});
  const Alert& a = alerts_.alerts()[0];
  EXPECT_EQ(a.severity, Severity::kMedium);
  auto field = [&](const std::string& k) {
    for (const auto& [name, v] : a.fields) {
      if (name == k) return v;
    }
    return std::string();
  };
  EXPECT_EQ(field("key_epoch"), "96");
  EXPECT_EQ(field("clock_epoch"), "1");
  EXPECT_GT(metrics_.GetGauge("konseki_archive_seal_key_ahead_seconds", "")->Value(), 80000);
  Log("web01", "a line later in the epoch");
  Advance(kEpoch);
  Poll();  // the clock's next boundary: held, the key is ahead (it catches up)
  EXPECT_EQ(sealer_->key_epoch(), 96u);
  Advance(kEpoch);
  Poll();  // the one after: everything so far is sealed
  EXPECT_EQ(sealer_->key_epoch(), 97u);
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->verified_lines, 5u) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->unsealed_lines, 0u) << last_report_;
  EXPECT_EQ(Find(r, "web01/2025-12-02.log")->verified_lines, 2u) << last_report_;
  EXPECT_EQ(Find(r, "web01/2025-12-02.log")->unsealed_lines, 0u) << last_report_;
  EXPECT_EQ(Find(r, "db02/2025-12-02.log")->verified_lines, 1u) << last_report_;
  EXPECT_TRUE(r.warnings.empty()) << last_report_;
  EXPECT_TRUE(Contains(last_report_, "note: 1 seal records were written before their epoch began"))
      << last_report_;
  // And on: a key step at every second boundary while it catches up with
  // the clock; one alert only.
  for (int i = 0; i < 3; ++i) {
    Log("web01", "epoch " + std::to_string(i));
    Advance(kEpoch);
    Poll();
  }
  EXPECT_EQ(sealer_->key_epoch(), 98u);
  EXPECT_EQ(alerts_.alerts().size(), 1u);
  r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  // The last boundary held: its epoch's line waits for the next one.
  EXPECT_EQ(Find(r, kDay1)->unsealed_lines, 1u) << last_report_;
  ASSERT_TRUE(sealer_->Stop().ok());
  r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->verified_lines, 8u) << last_report_;
}

// The clock set back while konseki was stopped: only the key state tells.
// The start says so (archive.seal_key_ahead) and sealing goes on.
TEST_F(SealerTest, StartWithTheKeyAheadOfTheClockAlertsAndSeals) {
  LogMany("web01", 2);
  Advance(10 * kEpoch);
  Poll();
  ASSERT_TRUE(sealer_->Stop().ok());
  sealer_.reset();
  Advance(-10 * kEpoch);
  OpenSealer();
  EXPECT_EQ(Signs(alerts_), std::vector<std::string>{"archive.seal_key_ahead"});
  Log("web01", "after the start");
  Advance(kEpoch);
  Poll();  // held: the key is ahead, it catches up
  Advance(kEpoch);
  Poll();
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->verified_lines, 3u) << last_report_;
  EXPECT_EQ(Find(r, kDay1)->unsealed_lines, 0u) << last_report_;
}

// A line appended by hand to a live day file, stamped hours before its
// neighbours, between lines konseki writes: the archive reports every
// write's range, so the sealer seals konseki's lines (F) and records the
// forged one as foreign (X) with an alert; verify fails the file at that
// line and notes the receive time going back.
TEST_F(SealerTest, LineAppendedByHandToALiveFileIsForeignNotSealed) {
  LogMany("web01", 3);
  {
    std::ofstream out(Path(kDay1), std::ios::app);
    out << "2025-11-30T22:00:00.000000Z 10.9.9.9 <38>Nov 30 22:00:00 web01 sshd[77]: "
           "Accepted password for root from 10.9.9.9 port 1 ssh2\n";
  }
  LogMany("web01", 3);
  EXPECT_EQ(Signs(alerts_), std::vector<std::string>{"archive.foreign_write"});
  const Alert& a = alerts_.alerts()[0];
  EXPECT_EQ(a.severity, Severity::kHigh);
  Advance(kEpoch);
  Poll();
  ASSERT_TRUE(sealer_->Stop().ok());
  EXPECT_GT(metrics_.GetCounter("konseki_archive_foreign_bytes_total", "")->Value(), 100u);
  EXPECT_TRUE(Contains(ReadFile(".seal/2025-12-01.seal"), "\nX " + std::string(kDay1) + " "));

  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  const FileVerdict* f = Find(r, kDay1);
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->failed);
  EXPECT_EQ(f->fail_line, 4u) << last_report_;
  EXPECT_TRUE(Contains(f->why, "foreign: bytes ")) << last_report_;
  EXPECT_EQ(f->verified_lines, 6u);
  EXPECT_EQ(f->foreign_lines, 1u);
  EXPECT_TRUE(Contains(f->note, "receive times go back")) << last_report_;
}

// Foreign bytes at the end of a file (no later write of konseki's to prove
// them foreign) are foreign once they stay unreported past the grace, and
// at once at Stop (after the writers' last flush). konseki's own writes
// in between are never foreign, whatever the poll timing.
TEST_F(SealerTest, ForeignBytesAtTheEndAreForeignAfterTheGraceOrAtStop) {
  LogMany("web01", 2);
  {
    std::ofstream out(Path(kDay1), std::ios::app);
    out << "2025-12-01T00:00:01.000000Z 10.9.9.9 forged\n";
  }
  Poll();
  EXPECT_TRUE(alerts_.alerts().empty());  // could still be a write not reported yet
  Advance(4);
  Poll();
  EXPECT_EQ(Signs(alerts_), std::vector<std::string>{"archive.foreign_write"});

  LogMany("web01", 2);
  {
    std::ofstream out(Path(kDay1), std::ios::app);
    out << "2025-12-01T00:00:02.000000Z 10.9.9.9 forged at the stop\n";
  }
  ASSERT_TRUE(sealer_->Stop().ok());
  EXPECT_EQ(alerts_.alerts().size(), 2u);
  VerifyReport r = Verify();
  const FileVerdict* f = Find(r, kDay1);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->fail_line, 3u) << last_report_;
  EXPECT_EQ(f->verified_lines, 4u) << last_report_;
  EXPECT_EQ(f->foreign_lines, 2u) << last_report_;
  EXPECT_EQ(f->unsealed_lines, 0u) << last_report_;
}

// prod19 finding 1: a host folder the run-as user can no longer read (a
// root restore left it root:root 0700) kept taking the host's lines through
// the writer's open descriptor, and the sealer, opening by name, silently
// skipped them: no alert, no seal error, verify OK. Here the folder is
// replaced by a file (ENOTDIR; root reads through any mode), the same for
// the sealer. It alerts once naming the host and file, counts a seal error,
// records what konseki wrote meanwhile as an R range at the seal, and
// seals again once the folder is back; verify fails the file as unread.
TEST_F(SealerTest, FileTheSealerCannotReadAlertsAndItsLinesAreRecordedUnread) {
  LogMany("web01", 3);
  Advance(kEpoch);
  Poll();
  std::filesystem::rename(Path("web01"), dir_ + "-web01.away");  // out of the archive
  WriteFile("web01", "not a folder\n");
  LogMany("web01", 2);  // through the writer's descriptor, into the moved folder
  EXPECT_EQ(Signs(alerts_), std::vector<std::string>{"archive.seal_unreadable"});
  ASSERT_FALSE(alerts_.alerts().empty());
  const Alert a = alerts_.alerts()[0];
  EXPECT_EQ(a.severity, Severity::kHigh);
  bool named = false;
  for (const auto& [k, v] : a.fields) named |= k == "file" && v == kDay1;
  EXPECT_TRUE(named);
  EXPECT_EQ(metrics_.GetCounter("konseki_archive_seal_errors_total", "")->Value(), 1u);
  Advance(kEpoch);
  Poll();  // the seal records the two lines as unread
  EXPECT_TRUE(Contains(ReadFile(".seal/2025-12-01.seal"), "\nR " + std::string(kDay1) + " "));
  std::filesystem::remove(Path("web01"));
  std::filesystem::rename(dir_ + "-web01.away", Path("web01"));
  LogMany("web01", 2);  // sealed again, after the R range
  ASSERT_TRUE(sealer_->Stop().ok());
  EXPECT_EQ(alerts_.alerts().size(), 1u);  // once per episode
  EXPECT_EQ(metrics_.GetCounter("konseki_archive_seal_errors_total", "")->Value(), 1u);

  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  const FileVerdict* f = Find(r, kDay1);
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->failed);
  EXPECT_EQ(f->fail_line, 4u) << last_report_;
  EXPECT_TRUE(Contains(f->why, "unread: bytes ")) << last_report_;
  EXPECT_EQ(f->verified_lines, 5u) << last_report_;
  EXPECT_EQ(f->unread_lines, 2u) << last_report_;
  EXPECT_EQ(f->unsealed_lines, 0u) << last_report_;
}

// Unreadable until the clean stop: the stop's seal records the lines as
// unread, so verify does not pass them as "unsealed (after the last seal)".
TEST_F(SealerTest, FileStillUnreadableAtTheStopIsRecordedUnread) {
  LogMany("web01", 3);
  std::filesystem::rename(Path("web01"), dir_ + "-web01.away");  // out of the archive
  WriteFile("web01", "not a folder\n");
  LogMany("web01", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  EXPECT_EQ(Signs(alerts_), std::vector<std::string>{"archive.seal_unreadable"});
  std::filesystem::remove(Path("web01"));
  std::filesystem::rename(dir_ + "-web01.away", Path("web01"));
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  const FileVerdict* f = Find(r, kDay1);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->fail_line, 4u) << last_report_;
  EXPECT_EQ(f->verified_lines, 3u) << last_report_;
  EXPECT_EQ(f->unread_lines, 2u) << last_report_;
  EXPECT_EQ(f->unsealed_lines, 0u) << last_report_;
}

// The key file is lost while the stream holds records: the start error
// says so (not just "run seal-setup"). A new key (seal-setup --new-chain)
// begins a new chain in the same stream, marked by an N record naming the
// previous chain's last record and alerted; each key verifies its own
// chain, and only both keys verify the whole archive. Records cut before
// the N break the stream.
TEST_F(SealerTest, NewChainAfterALostKeyIsMarkedAndEachKeyVerifiesItsPart) {
  LogMany("web01", 3);
  Advance(kEpoch);
  Poll();
  ASSERT_TRUE(sealer_->Stop().ok());
  sealer_.reset();
  std::filesystem::remove(DefaultSealKeyPath(dir_));
  SealerOptions so;
  so.archive_dir = dir_;
  auto refused = Sealer::Open(so, clock_, metrics_, &alerts_);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(Contains(refused.status().message(), "holds 2 seal records"))
      << refused.status().message();
  EXPECT_TRUE(Contains(refused.status().message(), "seal-setup --new-chain"));

  Advance(kEpoch);
  VerificationKey vk2;
  auto st = NewSealKeyState(
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count(),
      kEpoch, &vk2);
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(SealKeyFile::Create(DefaultSealKeyPath(dir_), *st).ok());
  OpenSealer();
  EXPECT_EQ(Signs(alerts_), std::vector<std::string>{"archive.seal_new_chain"});
  LogMany("web01", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  EXPECT_TRUE(Contains(ReadFile(".seal/2025-12-01.seal"), "\nN 1 "));

  VerifyOptions o;
  o.root = dir_;
  o.key = vk_;
  auto old_only = VerifyArchive(o);
  ASSERT_TRUE(old_only.ok());
  EXPECT_FALSE(old_only->ok());
  ASSERT_EQ(old_only->files.size(), 1u);
  EXPECT_EQ(old_only->files[0].verified_lines, 3u);
  EXPECT_EQ(old_only->files[0].unauthenticated_lines, 2u);
  o.more_keys = {vk2};
  auto both = VerifyArchive(o);
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(both->ok()) << (both->chain_errors.empty() ? "" : both->chain_errors[0]);
  EXPECT_EQ(both->chains, 2u);
  EXPECT_EQ(both->files[0].verified_lines, 5u);

  // The old chain's last record cut: the N no longer follows the stream.
  std::string seal = ReadFile(".seal/2025-12-01.seal");
  const size_t n = seal.find("\nN ");
  const size_t e = seal.rfind("\nE ", n - 1);
  WriteFile(".seal/2025-12-01.seal", seal.erase(e + 1, n - e));
  auto cut = VerifyArchive(o);
  ASSERT_TRUE(cut.ok());
  EXPECT_FALSE(cut->ok());
  ASSERT_FALSE(cut->chain_errors.empty());
  EXPECT_TRUE(Contains(cut->chain_errors[0], "records cut before the new chain"))
      << cut->chain_errors[0];
}

TEST_F(SealerTest, MissingKeyFileIsAPreciseStartupError) {
  std::filesystem::remove(DefaultSealKeyPath(dir_));
  SealerOptions so;
  so.archive_dir = dir_;
  auto s = Sealer::Open(so, clock_, metrics_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("seal-setup"), std::string::npos);
}

}  // namespace
}  // namespace konseki::outputs
