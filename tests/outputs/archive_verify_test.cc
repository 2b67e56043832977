// Tamper tests: every kind of change to a sealed archive is caught, with the
// first failing line and why; an attacker holding the current key cannot
// reseal older epochs.
#include "outputs/archive_verify.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "outputs/seal_format.h"
#include "tests/outputs/seal_test_util.h"

namespace konseki::outputs {
namespace {

constexpr char kFile[] = "web01/2025-12-01.log";

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < s.size();) {
    size_t nl = s.find('\n', pos);
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

std::string JoinLines(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& l : v) s += l + "\n";
  return s;
}

class ArchiveVerifyTest : public SealFixture {
 protected:
  // 20 lines in web01's file: 10 sealed in epoch 0, 10 in epoch 1 (at Stop).
  void SealTwoEpochs() {
    LogMany("web01", 10, "first");
    Advance(kEpoch);
    Poll();
    LogMany("web01", 10, "second");
    ASSERT_TRUE(sealer_->Stop().ok());
    ASSERT_TRUE(Verify().ok()) << last_report_;
  }
  void EditLines(const std::function<void(std::vector<std::string>*)>& edit) {
    std::vector<std::string> lines = SplitLines(ReadFile(kFile));
    edit(&lines);
    WriteFile(kFile, JoinLines(lines));
  }
  void ExpectFailure(uint64_t line, const std::string& why_prefix) {
    VerifyReport r = Verify();
    EXPECT_FALSE(r.ok()) << last_report_;
    const FileVerdict* f = Find(r, kFile);
    ASSERT_NE(f, nullptr);
    EXPECT_TRUE(f->failed) << last_report_;
    EXPECT_EQ(f->fail_line, line) << last_report_;
    EXPECT_EQ(f->why.substr(0, why_prefix.size()), why_prefix) << last_report_;
  }

  // What an attacker holding the key file can do: recompute every digest
  // and tag of the seal stream with the key it has (k_T), optionally
  // claiming every record belongs to epoch T.
  void ResealWithCurrentKey(bool relabel_epochs) {
    auto kf = SealKeyFile::Open(DefaultSealKeyPath(dir_));
    ASSERT_TRUE(kf.ok());
    auto st = kf->Load();
    ASSERT_TRUE(st.ok());
    SealBytes prev{};
    Sha256Stream stream;
    for (const auto& e : std::filesystem::directory_iterator(Path(".seal"))) {
      const std::string rel = ".seal/" + e.path().filename().string();
      std::vector<std::string> lines = SplitLines(ReadFile(rel));
      for (std::string& l : lines) {
        SealRecord r;
        ASSERT_TRUE(ParseSealLine(l, &r)) << l;
        if (r.kind == 'F') {
          const std::string data = ReadFile(std::string(r.path));
          Sha256Stream sha;
          sha.Update(std::string_view(data).substr(r.start, r.end - r.start));
          l = FormatRangeRecord('F', r.path, r.start, r.end, r.lines, sha.Finish());
          l.pop_back();
        }
        if (r.kind != 'E') {
          stream.Update(l + "\n");
          continue;
        }
        const uint64_t epoch = relabel_epochs ? st->epoch : r.epoch;
        const uint64_t next = relabel_epochs ? st->epoch : r.next;
        const SealBytes tag =
            HmacSha256(st->key, SealTagInput(prev, stream.Finish(), epoch, next, r.seq, r.time_ns));
        l = FormatEpochRecord(epoch, next, r.seq, r.time_ns, prev, tag);
        l.pop_back();
        prev = tag;
      }
      WriteFile(rel, JoinLines(lines));
    }
  }
};

TEST_F(ArchiveVerifyTest, EditedLineSameLength) {
  SealTwoEpochs();
  EditLines([](std::vector<std::string>* l) { (*l)[3].replace((*l)[3].find("root"), 4, "toor"); });
  ExpectFailure(4, "edited");
}

TEST_F(ArchiveVerifyTest, EditedLineOtherLength) {
  SealTwoEpochs();
  EditLines([](std::vector<std::string>* l) { (*l)[13] += " and more"; });
  ExpectFailure(14, "edited");
}

TEST_F(ArchiveVerifyTest, InsertedLine) {
  SealTwoEpochs();
  EditLines([](std::vector<std::string>* l) {
    l->insert(l->begin() + 5, "2025-12-01T00:00:15.000000Z 192.0.2.7 <13>forged line");
  });
  ExpectFailure(6, "inserted");
}

TEST_F(ArchiveVerifyTest, RemovedLine) {
  SealTwoEpochs();
  EditLines([](std::vector<std::string>* l) { l->erase(l->begin() + 4); });
  ExpectFailure(5, "removed");
}

TEST_F(ArchiveVerifyTest, ReorderedLines) {
  SealTwoEpochs();
  EditLines([](std::vector<std::string>* l) { std::swap((*l)[6], (*l)[7]); });
  ExpectFailure(7, "reordered");
}

TEST_F(ArchiveVerifyTest, TruncatedFile) {
  SealTwoEpochs();
  EditLines([](std::vector<std::string>* l) { l->resize(15); });
  ExpectFailure(16, "truncated");
}

TEST_F(ArchiveVerifyTest, DeletedDayFileIsMissing) {
  LogMany("web01", 3);
  Advance(86400);
  Poll();
  LogMany("web01", 3);
  ASSERT_TRUE(sealer_->Stop().ok());
  std::filesystem::remove(Path(kFile));
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok());
  const FileVerdict* f = Find(r, kFile);
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->failed);
  EXPECT_EQ(f->why.substr(0, 7), "missing") << last_report_;
  // The day file that is gone is named, not only its compressed form
  // (prod18: "missing: .../2026-12-06.log.zst" sent the admin looking for a
  // .zst).
  EXPECT_NE(f->why.find(Path(kFile) + " (or " + Path(kFile) + ".zst): no such file"),
            std::string::npos)
      << f->why;
  EXPECT_FALSE(Find(r, "web01/2025-12-02.log")->failed);
}

TEST_F(ArchiveVerifyTest, DeletedSealFileBreaksTheChain) {
  LogMany("web01", 3);
  Advance(86400);
  Poll();
  LogMany("web01", 3);
  Advance(86400);
  Poll();
  LogMany("web01", 3);
  ASSERT_TRUE(sealer_->Stop().ok());
  std::filesystem::remove(Path(".seal/2025-12-02.seal"));
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok());
  ASSERT_FALSE(r.chain_errors.empty()) << last_report_;
  EXPECT_NE(r.chain_errors[0].find("records missing"), std::string::npos) << last_report_;
}

TEST_F(ArchiveVerifyTest, RemovedSealRecordsBreakTheChain) {
  SealTwoEpochs();
  std::vector<std::string> lines = SplitLines(ReadFile(".seal/2025-12-01.seal"));
  // Drop the first epoch's records (F and E): its lines lose their seal.
  std::vector<std::string> kept;
  bool dropping = true;
  for (const std::string& l : lines) {
    if (l[0] == 'H' || !dropping) kept.push_back(l);
    if (l[0] == 'E') dropping = false;
  }
  WriteFile(".seal/2025-12-01.seal", JoinLines(kept));
  EXPECT_FALSE(Verify().ok()) << last_report_;
}

// Cutting the last records off the stream and truncating the day file to
// the end the kept records name needs no key, and the stream alone looks
// like a konseki that stopped earlier. The key state counts the records
// the key made: verify reads it (the archive's .state/seal.key) and fails.
TEST_F(ArchiveVerifyTest, RecordsCutOffTheEndFailAgainstTheKeyState) {
  SealTwoEpochs();
  std::vector<std::string> lines = SplitLines(ReadFile(".seal/2025-12-01.seal"));
  std::vector<std::string> kept;
  uint64_t end = 0;
  for (const std::string& l : lines) {
    kept.push_back(l);
    SealRecord r;
    ASSERT_TRUE(ParseSealLine(l, &r));
    if (r.kind == 'F') end = r.end;
    if (r.kind == 'E') break;
  }
  WriteFile(".seal/2025-12-01.seal", JoinLines(kept));
  std::filesystem::resize_file(Path(kFile), end);

  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  EXPECT_TRUE(r.end_checked);
  ASSERT_EQ(r.chain_errors.size(), 1u) << last_report_;
  EXPECT_NE(
      r.chain_errors[0].find("records missing at the end: the key made 2, the stream holds 1"),
      std::string::npos)
      << last_report_;
  EXPECT_EQ(Find(r, kFile)->verified_lines, 10u);

  // Without the key state the end cannot be checked: the report says so
  // prominently, with the age of the last record in epochs.
  std::filesystem::remove(DefaultSealKeyPath(dir_));
  r = Verify();
  EXPECT_FALSE(r.end_checked);
  EXPECT_NE(last_report_.find("WARNING: the end of the stream is NOT checked"), std::string::npos)
      << last_report_;
  EXPECT_NE(last_report_.find(" epochs ("), std::string::npos) << last_report_;
}

// A stream that holds every record the key made passes the end check.
TEST_F(ArchiveVerifyTest, CompleteStreamPassesTheEndCheck) {
  SealTwoEpochs();
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_TRUE(r.end_checked);
  EXPECT_EQ(last_report_.find("WARNING"), std::string::npos) << last_report_;
}

// A back-dated line appended to a copy after the last seal is unsealed (as
// documented, not a failure) but its receive time going back hours is
// noted; sealed lines are konseki's own and only their last stamp counts.
// A line stamped back within the file's day is a note (lines held by a
// write error are written late); one stamped on another day cannot be in
// this file (a line goes to the file of its receive date): misplaced.
TEST_F(ArchiveVerifyTest, UnsealedLineStampedHoursBackIsNoted) {
  SealTwoEpochs();
  EditLines([](std::vector<std::string>* lines) {
    lines->push_back("2025-12-01T00:00:01.000000Z 10.9.9.9 <38>forged sshd[1]: Accepted");
  });
  VerifyReport r = Verify();
  const FileVerdict* f = Find(r, kFile);
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->failed) << last_report_;
  EXPECT_EQ(f->unsealed_lines, 1u);
  EXPECT_NE(f->note.find("receive times go back 928 s at line 21 (2025-12-01T00:00:01.000000Z "
                         "after 2025-12-01T00:15:29.000000Z)"),
            std::string::npos)
      << last_report_;
}

TEST_F(ArchiveVerifyTest, UnsealedLineOfAnotherDayIsMisplaced) {
  SealTwoEpochs();
  EditLines([](std::vector<std::string>* lines) {
    lines->push_back("2025-11-30T22:00:00.000000Z 10.9.9.9 <38>forged sshd[1]: Accepted");
  });
  VerifyReport r = Verify();
  const FileVerdict* f = Find(r, kFile);
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->failed) << last_report_;
  EXPECT_EQ(f->fail_line, 21u);
  EXPECT_EQ(f->misplaced_lines, 1u);
  EXPECT_NE(f->why.find("misplaced: line 21 was received 2025-11-30T22:00:00.000000Z, not on "
                        "2025-12-01"),
            std::string::npos)
      << last_report_;
  EXPECT_NE(f->note.find("receive times go back 8129 s"), std::string::npos) << last_report_;
}

TEST_F(ArchiveVerifyTest, AttackerWithTheCurrentKeyCannotRewriteOlderLines) {
  SealTwoEpochs();
  EditLines([](std::vector<std::string>* l) { (*l)[2].replace((*l)[2].find("root"), 4, "toor"); });
  ResealWithCurrentKey(false);
  // Without the key the forgery is consistent: only the tags can tell.
  EXPECT_TRUE(Verify(false).ok()) << last_report_;
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok());
  ASSERT_FALSE(r.chain_errors.empty()) << last_report_;
  EXPECT_NE(r.chain_errors[0].find("fails authentication for epoch 0"), std::string::npos)
      << last_report_;
}

TEST_F(ArchiveVerifyTest, AttackerCannotRelabelOldRecordsAsTheCurrentEpoch) {
  SealTwoEpochs();
  EditLines([](std::vector<std::string>* l) { (*l)[2].replace((*l)[2].find("root"), 4, "toor"); });
  ResealWithCurrentKey(true);
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  EXPECT_FALSE(r.chain_errors.empty()) << last_report_;
}

TEST_F(ArchiveVerifyTest, EditedSealRecordFailsAuthentication) {
  SealTwoEpochs();
  std::string s = ReadFile(".seal/2025-12-01.seal");
  const size_t f = s.find("\nF ");
  ASSERT_NE(f, std::string::npos);
  const size_t sp = s.find(' ', f + 3);
  s[sp + 1] = s[sp + 1] == '1' ? '2' : '1';  // the start offset
  WriteFile(".seal/2025-12-01.seal", s);
  EXPECT_FALSE(Verify().ok()) << last_report_;
}

TEST_F(ArchiveVerifyTest, FileOutsideTheChainIsReported) {
  LogMany("web01", 2);
  Advance(3 * 86400);
  Poll();
  LogMany("web01", 2);
  ASSERT_TRUE(sealer_->Stop().ok());
  std::filesystem::create_directories(Path("fake"));
  WriteFile("fake/2025-12-02.log", "2025-12-02T10:00:00.000000Z 192.0.2.9 <13>planted\n");
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok());
  const FileVerdict* f = Find(r, "fake/2025-12-02.log");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->why.substr(0, 12), "not-in-chain") << last_report_;
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// `rm -r .seal` must not make an edited archive pass: with the key (whose
// chain began at epoch 0) a missing stream is a failure; without a key,
// verify says nothing is sealed and fails too. No file is "OK".
TEST_F(ArchiveVerifyTest, NoSealStreamFailsWithOrWithoutTheKey) {
  SealTwoEpochs();
  EditLines([](std::vector<std::string>* l) { (*l)[2] += " EDITED"; });
  std::filesystem::remove_all(Path(".seal"));
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  ASSERT_FALSE(r.chain_errors.empty()) << last_report_;
  EXPECT_TRUE(Contains(r.chain_errors[0], "no seal stream")) << last_report_;
  EXPECT_TRUE(Contains(r.chain_errors[0], "the key's chain began on 2025-12-01")) << last_report_;
  EXPECT_TRUE(Contains(last_report_, kFile + std::string(": NOT SEALED:"))) << last_report_;
  EXPECT_FALSE(Contains(last_report_, ": OK:")) << last_report_;
  r = Verify(false);
  EXPECT_FALSE(r.ok()) << last_report_;
  ASSERT_FALSE(r.chain_errors.empty()) << last_report_;
  EXPECT_TRUE(Contains(r.chain_errors[0], "nothing in this archive is sealed")) << last_report_;
}

// A stream whose first file is of the chain's first day but that does not
// start at record 0 lost its beginning: retention never does that. Here an
// attacker holding the key of epoch 2 replaced the stream with one record
// of its own, numbered as if older records had been removed by retention.
TEST_F(ArchiveVerifyTest, StreamStartingLateOnTheChainsFirstDayFails) {
  SealTwoEpochs();
  const std::string header = "H konseki-seal 1 " + std::to_string(vk_.start_unix) + " " +
                             std::to_string(vk_.epoch_secs) + "\n";
  SealKeyState k;
  k.key = vk_.key0;
  k.EvolveTo(2);
  Sha256Stream digest;
  digest.Update(header);
  const int64_t now_ns = clock_.Now().time_since_epoch().count();
  const SealBytes prev{};
  const SealBytes tag = HmacSha256(k.key, SealTagInput(prev, digest.Finish(), 2, 2, 5, now_ns));
  WriteFile(".seal/2025-12-01.seal", header + FormatEpochRecord(2, 2, 5, now_ns, prev, tag));
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  ASSERT_FALSE(r.chain_errors.empty()) << last_report_;
  EXPECT_TRUE(Contains(r.chain_errors[0], "the day the chain began")) << last_report_;
}

// Over days: the stream from 12-02 on. Explained by retention only when the
// day files of 12-01 are gone too and the stream goes on two days past its
// first file; a seal file deleted with its day files kept is a failure.
TEST_F(ArchiveVerifyTest, LateStartIsRetentionOnlyWhenItsDayFilesAreGoneAndDaysWentOn) {
  for (int day = 0; day < 4; ++day) {
    LogMany("web01", 3);
    Advance(86400);
    Poll();
  }
  LogMany("web01", 3);
  ASSERT_TRUE(sealer_->Stop().ok());
  ASSERT_TRUE(Verify().ok()) << last_report_;
  std::filesystem::remove(Path(".seal/2025-12-01.seal"));
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  const FileVerdict* f = Find(r, kFile);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->why.substr(0, 12), "seal-removed") << last_report_;
  // Retention's way: the day files go with their seal file.
  std::filesystem::remove(Path(kFile));
  r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_TRUE(Contains(last_report_, "older seal files were removed (retention)")) << last_report_;
  // But retention keeps two days before the last: a stream starting on the
  // last day is not retention.
  for (const char* day : {"02", "03", "04"}) {
    std::filesystem::remove(Path(std::string(".seal/2025-12-") + day + ".seal"));
    std::filesystem::remove(Path(std::string("web01/2025-12-") + day + ".log"));
  }
  r = Verify();
  EXPECT_FALSE(r.ok()) << last_report_;
  ASSERT_FALSE(r.chain_errors.empty()) << last_report_;
  EXPECT_TRUE(Contains(r.chain_errors[0], "at least two days older")) << last_report_;
}

TEST_F(ArchiveVerifyTest, ChangedUnsealedTailIsNotAFailure) {
  LogMany("web01", 3);
  Advance(kEpoch);
  Poll();
  LogMany("web01", 2);  // current epoch: nothing vouches for these yet
  EditLines([](std::vector<std::string>* l) { l->back() += " edited"; });
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;
  EXPECT_EQ(Find(r, kFile)->unsealed_lines, 2u);
}

// What a sealer that stopped sealing leaves (prod18 #1 before the fix: the
// clock set back after running ahead, the key waiting for it): lines after
// the last seal received epochs ago, and a last record sealed "in the
// future". verify says both as warnings, not a quiet OK.
TEST_F(ArchiveVerifyTest, LinesLeftUnsealedForEpochsAndARecordFromTheFutureAreWarnings) {
  LogMany("web01", 3);
  Advance(kEpoch);
  Poll();
  Advance(36000);
  Log("web01", "while the clock is ahead");
  Poll();  // sealed at the clock's time, 10 h ahead
  Advance(-36000);
  for (int i = 0; i < 4; ++i) {
    Log("web01", "not sealed " + std::to_string(i));
    Advance(kEpoch);  // no Poll: nothing seals them
  }
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << last_report_;  // a warning, not a failure
  EXPECT_EQ(Find(r, kFile)->unsealed_lines, 4u) << last_report_;
  ASSERT_EQ(r.warnings.size(), 2u) << last_report_;
  EXPECT_NE(r.warnings[0].find("after now"), std::string::npos) << last_report_;
  EXPECT_NE(r.warnings[1].find("4 lines in 1 files are not sealed though received more than two "
                               "epochs ago"),
            std::string::npos)
      << last_report_;
  EXPECT_NE(last_report_.find("seal stream: WARNING: 4 lines"), std::string::npos);
  // Lines of the current epoch are no warning.
  sealer_.reset();
  OpenSealer();
  Advance(kEpoch);
  Poll();
  Log("web01", "just now");
  r = Verify();
  EXPECT_TRUE(r.warnings.empty()) << last_report_;
  EXPECT_EQ(Find(r, kFile)->unsealed_lines, 1u) << last_report_;
}

}  // namespace
}  // namespace konseki::outputs
