#include "outputs/seal_key.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "outputs/seal_format.h"

namespace konseki::outputs {
namespace {

TEST(SealKeyTest, EvolveIsDeterministicAndOneWay) {
  SealKeyState s;
  s.key.fill(7);
  SealKeyState t = s;
  s.EvolveTo(3);
  EvolveSealKey(&t.key);
  EvolveSealKey(&t.key);
  EvolveSealKey(&t.key);
  EXPECT_EQ(s.key, t.key);
  EXPECT_EQ(s.epoch, 3u);
  SealBytes k0;
  k0.fill(7);
  EXPECT_NE(s.key, k0);
}

TEST(SealKeyTest, VerificationKeyRoundTrips) {
  VerificationKey vk;
  auto s = NewSealKeyState(1'764'547'234, 900, &vk);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(vk.start_unix, 1'764'547'200);  // rounded down to the epoch
  EXPECT_EQ(vk.key0, s->key);
  auto back = VerificationKey::Parse(vk.ToString() + "\n");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->key0, vk.key0);
  EXPECT_EQ(back->start_unix, vk.start_unix);
  EXPECT_EQ(back->epoch_secs, 900);
}

TEST(SealKeyTest, BadVerificationKeysAreRefused) {
  EXPECT_FALSE(VerificationKey::Parse("").ok());
  EXPECT_FALSE(VerificationKey::Parse("ksv1-00-1-900").ok());
  EXPECT_FALSE(VerificationKey::Parse("ksv1-" + std::string(64, 'g') + "-1-900").ok());
  EXPECT_FALSE(VerificationKey::Parse("ksv1-" + std::string(64, 'a') + "-1-7").ok());  // 86400 % 7
  EXPECT_TRUE(VerificationKey::Parse("ksv1-" + std::string(64, 'a') + "-0-60").ok());
}

TEST(SealKeyTest, EpochLengthMustDivideADay) {
  EXPECT_TRUE(CheckSealEpochSecs(900).ok());
  EXPECT_TRUE(CheckSealEpochSecs(86400).ok());
  EXPECT_FALSE(CheckSealEpochSecs(0).ok());
  EXPECT_FALSE(CheckSealEpochSecs(1000).ok());
  EXPECT_FALSE(CheckSealEpochSecs(2 * 86400).ok());
}

class SealKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/seal_key_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(SealKeyFileTest, StoreOverwritesInPlaceAndLoads) {
  VerificationKey vk;
  auto s = NewSealKeyState(1'000'000'000, 60, &vk);
  ASSERT_TRUE(s.ok());
  const std::string path = dir_ + "/state/seal.key";
  ASSERT_TRUE(SealKeyFile::Create(path, *s).ok());
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto f = SealKeyFile::Open(path);
  ASSERT_TRUE(f.ok());
  struct stat before, after;
  ASSERT_EQ(stat(path.c_str(), &before), 0);
  s->EvolveTo(5);
  s->seq = 9;
  s->prev_tag.fill(0xab);
  ASSERT_TRUE(f->Store(*s).ok());
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);  // rewritten in place, not replaced
  EXPECT_EQ(std::filesystem::file_size(path), 256u);
  auto back = f->Load();
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->key, s->key);
  EXPECT_EQ(back->epoch, 5u);
  EXPECT_EQ(back->seq, 9u);
  EXPECT_EQ(back->prev_tag, s->prev_tag);
  EXPECT_EQ(back->start_unix, vk.start_unix);
  // The file holds only the current key, not k_0.
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text.find(HexOf(vk.key0)), std::string::npos);
}

// The clean-stop mark (SealKeyState::clean_stop) is stored and read back;
// a key file of version 1 (written before the mark existed) reads as "not
// stopped cleanly", so its next start keeps unsealed bytes as U.
TEST_F(SealKeyFileTest, CleanStopMarkRoundTripsAndVersion1ReadsAsNotClean) {
  VerificationKey vk;
  auto s = NewSealKeyState(1'000'000'000, 900, &vk);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->clean_stop);
  const std::string path = dir_ + "/seal.key";
  ASSERT_TRUE(SealKeyFile::Create(path, *s).ok());
  auto f = SealKeyFile::Open(path);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->Load()->clean_stop);
  s->clean_stop = true;
  ASSERT_TRUE(f->Store(*s).ok());
  EXPECT_TRUE(f->Load()->clean_stop);
  EXPECT_TRUE(ReadSealKeyState(path)->clean_stop);
  s->clean_stop = false;
  ASSERT_TRUE(f->Store(*s).ok());
  EXPECT_FALSE(f->Load()->clean_stop);

  // A version 1 record, as konseki wrote it before.
  s->seq = 7;
  const std::string body = "konseki-seal-state 1 " + HexOf(s->key) + " " +
                           std::to_string(s->epoch) + " " + std::to_string(s->start_unix) + " " +
                           std::to_string(s->epoch_secs) + " " + HexOf(s->prev_tag) + " 7";
  Sha256Stream sha;
  sha.Update(body);
  const SealBytes sum = sha.Finish();
  std::string rec = body + " " + HexOf(sum.data(), 8);
  rec.resize(255, ' ');
  rec.push_back('\n');
  std::ofstream(path, std::ios::binary | std::ios::trunc) << rec;
  auto v1 = ReadSealKeyState(path);
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->seq, 7u);
  EXPECT_EQ(v1->key, s->key);
  EXPECT_FALSE(v1->clean_stop);
}

TEST_F(SealKeyFileTest, CreateRefusesAnExistingKey) {
  VerificationKey vk;
  auto s = NewSealKeyState(1'000'000'000, 900, &vk);
  const std::string path = dir_ + "/seal.key";
  ASSERT_TRUE(SealKeyFile::Create(path, *s).ok());
  Status again = SealKeyFile::Create(path, *s);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("exists"), std::string::npos);
}

TEST_F(SealKeyFileTest, CorruptRecordIsRefused) {
  VerificationKey vk;
  auto s = NewSealKeyState(1'000'000'000, 900, &vk);
  const std::string path = dir_ + "/seal.key";
  ASSERT_TRUE(SealKeyFile::Create(path, *s).ok());
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30);
    f.put('x');
  }
  auto f = SealKeyFile::Open(path);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->Load().ok());
  EXPECT_EQ(SealKeyFile::Open(dir_ + "/none").status().code(), StatusCode::kNotFound);
}

TEST(SealFormatTest, RecordsRoundTrip) {
  SealBytes d;
  d.fill(1);
  SealRecord r;
  std::string f = FormatRangeRecord('F', "web01/2025-12-01.log", 10, 20, 3, d);
  ASSERT_TRUE(ParseSealLine(std::string_view(f).substr(0, f.size() - 1), &r));
  EXPECT_EQ(r.kind, 'F');
  EXPECT_EQ(r.path, "web01/2025-12-01.log");
  EXPECT_EQ(r.end, 20u);
  EXPECT_EQ(r.digest, d);
  std::string e = FormatEpochRecord(4, 6, 9, 123, d, d);
  ASSERT_TRUE(ParseSealLine(std::string_view(e).substr(0, e.size() - 1), &r));
  EXPECT_EQ(r.epoch, 4u);
  EXPECT_EQ(r.next, 6u);
  EXPECT_FALSE(ParseSealLine("F ../etc/passwd 0 1 1 " + HexOf(d), &r));
  EXPECT_FALSE(ParseSealLine("E 5 4 1 1 " + HexOf(d) + " " + HexOf(d), &r));  // next < epoch
  std::string m = FormatLossRecord(12, 456, "missing-at-start");
  ASSERT_TRUE(ParseSealLine(std::string_view(m).substr(0, m.size() - 1), &r));
  EXPECT_EQ(r.kind, 'M');
  EXPECT_EQ(r.seq, 12u);
  EXPECT_EQ(r.time_ns, 456);
  EXPECT_EQ(r.why, "missing-at-start");
  EXPECT_FALSE(ParseSealLine("M 12 456", &r));
  int64_t day;
  ASSERT_TRUE(ParseDayName("2025-12-01", &day));
  EXPECT_EQ(DayName(day), "2025-12-01");
  EXPECT_EQ(day, 1'764'547'200 / 86400);
}

}  // namespace
}  // namespace konseki::outputs
