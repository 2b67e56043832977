// Linux audit records write a value that holds a blank, a double quote, a
// control byte or a byte >= 0x7F as bare upper-case hex instead of a quoted
// string: the kernel (kernel/audit.c audit_log_n_untrustedstring after
// audit_string_contains_control: `*p == '"' || *p < 0x21 || *p > 0x7e`;
// kernel/auditsc.c audit_log_execve_info for EXECVE's `a%d=`,
// audit_log_proctitle for PROCTITLE; drivers/tty/tty_audit.c writes TTY
// `data=` with audit_log_n_hex always) and libaudit
// (linux-audit/audit-userspace lib/audit_logging.c
// audit_value_needs_encoding / audit_encode_value: sudo's USER_CMD `cmd=`
// and `cwd=`, `acct=`, `exe=`, `comm=`).
//
//   type=USER_CMD ... msg='cwd="/" cmd=73797374656D63746C2073746F7020617564697464 ...'
//   -> type=USER_CMD ... msg='cwd="/" cmd="systemctl stop auditd" ...'
//
// RuleSet::Match scans (and extracts from) the decoded copy when a line
// holds such a value, so one rule reads `systemctl stop auditd` however the
// record spelled it; the archive and the alert keep the bytes as received.
// Pure functions over bytes; thread-safe.
#ifndef KONSEKI_MATCHERS_AUDIT_HEX_H_
#define KONSEKI_MATCHERS_AUDIT_HEX_H_

#include <string>
#include <string_view>

namespace konseki::matchers {

// An audit record as a log host receives it: auditd's and its syslog
// plugin's "type=X msg=audit(...)", the kernel's printk "audit: type=N
// audit(...)", and journald's records under the identifier "audit"
// ("audit[PID]: USER_CMD pid=..."). RuleSet decodes only these lines.
// kAuditRecordTrigger is the Hyperscan expression (case-sensitive) of the
// text part, added to the rules' database so that other lines pay no
// extra pass (nothing measurable: bench/RESULTS.md, thirty-seventh
// session); IsAuditRecord says the same in C++ (tools, tests).
inline constexpr std::string_view kAuditRecordTrigger = R"((?:msg=audit\(| audit\([0-9]))";
inline constexpr std::string_view kAuditProgram = "audit";
bool IsAuditRecord(std::string_view text, std::string_view app_name);

// Writes into *out text with every hex-encoded audit value `KEY=HEX`
// rewritten as `KEY="decoded"` (NUL, the other control bytes and 0x7F as a
// blank, trailing blanks dropped, an invalid UTF-8 byte as '?') and returns
// true; returns false, leaving *out unspecified, when text holds none.
// A value is decoded when
//  - KEY is one the kernel or libaudit encodes (acct, cmd, comm, cwd,
//    data, dir, exe, key, name, ocomm, path, proctitle, profile; `aN` and
//    `aN[i]` only in an EXECVE record, one with `argc=`, since a SYSCALL
//    record's a0..a3 are bare hex numbers),
//  - it follows the start of text, a blank, ' or ", and runs to the end, a
//    blank, ' or the ENRICHED separator 0x1D,
//  - it is an even number (>= 4) of upper-case hex digits, and
//  - its bytes hold one that needs encoding (audit_value_needs_encoding;
//    always for TTY `data=`): otherwise the writer would have quoted it.
// *out never grows past text.size(): reuse one buffer and a warm caller
// does not allocate.
bool DecodeAuditHex(std::string_view text, std::string* out);

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_AUDIT_HEX_H_
