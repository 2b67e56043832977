#include "outputs/filtered_sink.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testing/recording_alert_sink.h"
#include "tests/testing/sample_alert.h"

namespace konseki::outputs {
namespace {

using konseki::testing::RecordingAlertSink;
using konseki::testing::SampleAlert;

TEST(FilteredSinkTest, PassesBySeverityAndSignPrefix) {
  RecordingAlertSink inner;
  FilteredSink sink(inner, {Severity::kMedium, {"ssh.*", "sudo.root"}});
  auto emit = [&](const char* sign, Severity sev) {
    Alert a = SampleAlert();
    a.sign = sign;
    a.severity = sev;
    sink.Emit(a);
  };
  emit("ssh.login", Severity::kMedium);
  emit("ssh.auth_failure", Severity::kLow);  // below min severity
  emit("sudo.root", Severity::kHigh);
  emit("sudo.rootkit", Severity::kHigh);  // exact entry, not a prefix
  emit("sshd.other", Severity::kHigh);    // "ssh.*" needs the dot
  emit("host.silent", Severity::kCritical);
  EXPECT_EQ(inner.Signs(), (std::vector<std::string>{"ssh.login", "sudo.root"}));

  RecordingAlertSink all;
  FilteredSink everything(all, {});
  everything.Emit(SampleAlert());
  EXPECT_EQ(all.alerts().size(), 1u);
}

}  // namespace
}  // namespace konseki::outputs
