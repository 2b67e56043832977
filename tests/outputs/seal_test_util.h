// Fixture for the sealer and verify tests: a temp archive written by the real
// Archive, a key set up as `konseki seal-setup` does, a FakeClock at the start
// of an epoch.
#ifndef KONSEKI_TESTS_OUTPUTS_SEAL_TEST_UTIL_H_
#define KONSEKI_TESTS_OUTPUTS_SEAL_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include "common/clock.h"
#include "common/metrics.h"
#include "outputs/archive.h"
#include "outputs/archive_reader.h"
#include "outputs/archive_verify.h"
#include "outputs/seal_key.h"
#include "outputs/sealer.h"
#include "tests/testing/recording_alert_sink.h"

namespace konseki::outputs {

class SealFixture : public ::testing::Test {
 protected:
  static constexpr int64_t kStart = 1'764'547'200;  // 2025-12-01T00:00:00Z
  static constexpr int64_t kEpoch = 900;

  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/seal_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    clock_.Set(TimePoint(std::chrono::seconds(kStart + 10)));
    auto st = NewSealKeyState(kStart + 10, kEpoch, &vk_);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(SealKeyFile::Create(DefaultSealKeyPath(dir_), *st).ok());
    ArchiveOptions ao;
    ao.dir = dir_;
    ao.sync = SyncPolicy::kNone;
    ao.write_log = write_log_;
    auto a = Archive::Open(ao, clock_, metrics_);
    ASSERT_TRUE(a.ok());
    archive_ = std::move(a).value();
    OpenSealer();
  }
  void TearDown() override {
    sealer_.reset();
    archive_.reset();
    std::filesystem::remove_all(dir_);
  }

  void OpenSealer() {
    SealerOptions so;
    so.archive_dir = dir_;
    so.write_log = write_log_;
    auto s = Sealer::Open(so, clock_, metrics_, &alerts_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    sealer_ = std::move(s).value();
  }

  // Archives one message from host, received now, and writes it out.
  void Log(const std::string& host, const std::string& text) {
    std::string raw = "<13>" + text;
    Message m;
    m.raw = raw;
    m.hostname = host;
    m.sender = "192.0.2.7";
    m.received = clock_.Now();
    ASSERT_TRUE(archive_->Append(m).ok());
    ASSERT_TRUE(archive_->Flush().ok());
  }
  void Advance(int64_t secs) { clock_.Advance(std::chrono::seconds(secs)); }
  void Poll() { ASSERT_TRUE(sealer_->Poll().ok()); }
  // Logs n lines to host, one per second of the clock, polling as it goes.
  void LogMany(const std::string& host, int n, const std::string& tag = "msg") {
    for (int i = 0; i < n; ++i) {
      Log(host, tag + " " + std::to_string(i) + " sshd[42]: Accepted password for root");
      Advance(1);
      Poll();
    }
  }

  VerifyReport Verify(bool with_key = true) {
    VerifyOptions o;
    o.root = dir_;
    o.now_unix =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
    if (with_key) o.key = vk_;
    o.line_of_host = line_of_host_;
    auto r = VerifyArchive(o);
    EXPECT_TRUE(r.ok());
    std::ostringstream os;
    PrintVerifyReport(*r, 1, os);
    last_report_ = os.str();
    return *r;
  }
  const FileVerdict* Find(const VerifyReport& r, const std::string& path) {
    for (const FileVerdict& f : r.files) {
      if (f.path == path) return &f;
    }
    ADD_FAILURE() << "no verdict for " << path << "\n" << last_report_;
    return nullptr;
  }

  std::string Path(const std::string& rel) const { return dir_ + "/" + rel; }
  std::string ReadFile(const std::string& rel) const {
    std::ifstream in(Path(rel), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void WriteFile(const std::string& rel, const std::string& data) const {
    std::ofstream out(Path(rel), std::ios::binary | std::ios::trunc);
    out << data;
  }

  std::string dir_;
  FakeClock clock_;
  MetricsRegistry metrics_;
  konseki::testing::RecordingAlertSink alerts_;
  VerificationKey vk_;
  // Shared by the archive and the sealer, as the server wires them.
  std::shared_ptr<ArchiveWriteLog> write_log_ = std::make_shared<ArchiveWriteLog>();
  std::unique_ptr<Archive> archive_;
  std::unique_ptr<Sealer> sealer_;
  std::string last_report_;
  // VerifyOptions::line_of_host for Verify() (the app's reads the raw
  // message with the parser; the lines Log() writes name no host).
  std::function<bool(std::string_view, std::string_view, std::string*)> line_of_host_;
};

}  // namespace konseki::outputs

#endif  // KONSEKI_TESTS_OUTPUTS_SEAL_TEST_UTIL_H_
