// A detection rule as written in patterns/*.yaml: the value type shared by
// the loader, the matcher and the rule tools. Plain data, copyable.
#ifndef KONSEKI_MATCHERS_RULE_H_
#define KONSEKI_MATCHERS_RULE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/alert.h"

namespace konseki::matchers {

// The fixed sign vocabulary. A rule whose `sign` is not one of these is a
// load error: consumers (alert routing, dashboards) key on these names.
// clang-format off
inline constexpr std::string_view kSigns[] = {
    "tcpd.refused",   "mail.relay_denied", "crash",          "web.5xx",     "ssh.auth_failure",
    "ssh.login",      "sudo.violation",    "account.change", "cron.change", "kernel.module",
    "system.boot",    "syslog.stopped",    "firewall.drop",  "su.success",  "system.shutdown",
    "ssh.key_change", "log.tamper",        "exec.tmp_path",
    // A logger started again (an input: answers syslog.stopped's pending
    // alerts, patterns/syslog.yaml).
    "syslog.started",
    // The host goes to sleep (suspend, hibernate) and wakes again: its
    // silence in between is announced (patterns/system.yaml; heartbeat).
    "system.suspend", "system.resume",
    // The host's own logging dropped lines (patterns/log_loss.yaml).
    "log.lost",
    // Correlation signs (patterns/correlations.yaml; issue #12).
    "ssh.bruteforce", "ssh.bruteforce_success", "ssh.spray", "ssh.user_enum",
    "login.system_account", "login.local_source", "account.created_then_used",
    "session.close_without_open", "login.first_seen", "system.unclean_boot",
    // A login from another watched host's own address after that host was
    // entered from outside or compromised (patterns/correlations.yaml).
    "login.lateral",
    // The same change (a downloading cron job, an authorized_keys write,
    // an account made admin) on several hosts at once: one alert naming
    // them (patterns/correlations.yaml). Its own sign: the host-scoped
    // correlations that take cron.change, account.change and
    // ssh.key_change cannot take a fleet correlation's alert.
    "fleet.change",
    // Inputs of correlations (patterns/sessions.yaml).
    "session.open", "session.close", "session.switch",
    // Network traces (patterns/network.yaml; issue #15).
    "net.connection", "net.beacon", "net.unexpected_outbound",
    // A resolver asked for a machine-generated domain name (patterns/dns.yaml).
    "net.dga",
    // One source probing many ports, or one port on many hosts, and dropped
    // (patterns/network.yaml's net.portscan.* correlations).
    "net.portscan",
    // A network interface put into promiscuous mode (a sniffer; patterns/kernel.yaml).
    "net.promiscuous",
    // Resolver query lines, inputs of net.beacon.dns (patterns/dns.yaml).
    "net.dns_query",
    // The host's own address from its DHCP client's lease lines, input of
    // login.local_source (patterns/network.yaml).
    "net.address",
    // Password logins to other services (login(1), FTP, IMAP/POP3, SMTP AUTH,
    // Samba, the database servers; patterns/login.yaml, service_auth.yaml,
    // database.yaml) and their correlations.
    "auth.failure", "auth.login", "auth.bruteforce", "auth.user_enum", "auth.bruteforce_success",
    // One mail account logging in from many addresses at once (stolen password).
    "auth.many_sources",
    // One client causing many 5xx answers (patterns/correlations.yaml).
    "web.5xx_burst",
    // Attacks that the web server answered with 200, and commands its
    // account ran (a web shell in use; patterns/web.yaml).
    "web.attack",
    // Persistence an intruder leaves behind and the clock set by hand
    // (patterns/persistence.yaml): a systemd unit written or enabled, a
    // file made setuid or setgid, the system clock set outside NTP.
    "persistence.service", "persistence.setuid", "system.clock_change",
    // Web login forms (WordPress, phpMyAdmin, Drupal, XML-RPC): attempts and
    // successes, inputs of web.bruteforce and its success correlation.
    "web.login_attempt", "web.login",
    // One client guessing web passwords (patterns/correlations.yaml).
    "web.bruteforce",
    // Scanners' probes answered 4xx, and log4j JNDI lookups (patterns/web.yaml).
    "web.probe",
    // Every access-log 404 (an input, as net.connection is), and one client
    // asking for many different missing paths: content discovery
    // (patterns/web.yaml, correlations.yaml).
    "web.not_found", "web.scan",
    // One program crashing again and again (an exploit retrying a memory
    // corruption), one client refused relay for many recipients (a relay
    // probe): correlations over the crash and relay-refusal rules.
    "crash.repeated", "mail.relay_probe",
    // A port of an internal host reached from outside for the first time
    // (patterns/network.yaml's net.first_seen.source).
    "net.first_seen",
    // Zone transfers refused to, or started for, an address (patterns/dns.yaml),
    // and resolver queries shaped like DNS tunnelling.
    "net.dns_zone_transfer", "net.dns_tunnel",
    // An intrusion prevention tool's ban of an address (fail2ban; patterns/ips.yaml).
    "ips.ban",
    // A web application firewall's verdict (ModSecurity; patterns/web_error.yaml).
    "web.waf",
    // sshd refusing new connections because too many are unauthenticated at
    // once (MaxStartups): a connection flood (patterns/sshd.yaml).
    "ssh.flood",
};
// clang-format on

// True if `sign` is in kSigns.
bool IsKnownSign(std::string_view sign);

// One example line of a rule: a full syslog line (header included) that is
// run through the real receiver::Parser and then the whole RuleSet.
struct RuleExample {
  std::string line;
  // For `match` examples: fields the hit must yield, each with exactly this
  // value (other extracted fields are allowed). Empty for `no_match`.
  std::vector<std::pair<std::string, std::string>> fields;
  int source_line = 0;  // 1-based line in the YAML file, for error messages
};

struct Rule {
  std::string id;    // stable, unique across all packs ("sshd.failed_password")
  std::string sign;  // one of kSigns
  std::string title;
  Severity severity = Severity::kMedium;
  std::string description;  // what it means and what to check next

  // Anchored, case-insensitive RE2 over Message::app_name, applied after a
  // Hyperscan hit ("sshd|sshd-session"); when the whole name does not match,
  // over what follows its last '/' ("/usr/sbin/sshd"). Empty: any program.
  std::string program;
  // Programs the rule never applies to, in lower case: compared without
  // case with the whole name and with what follows its last '/' (so
  // "/usr/sbin/cron" is cron), before `program`. Empty: none.
  std::vector<std::string> program_except;
  // Digits, or empty. When set, a line that carries a PROCID must carry
  // this one ("1": systemd's PID 1, not a user's systemd --user manager,
  // which writes the same words); a line without a PROCID is not held to it.
  std::string pid;

  // Which part of a message `match`, `prefilter` and `extract` read.
  enum class Text : uint8_t {
    // The free text, Message::msg (the whole frame of an unparsed line).
    kMessage,
    // The RFC 5424 structured data as written, Message::structured_data
    // ("[NXLOG@14506 EventID=\"4625\" ...]"): for senders that put the whole
    // event there and leave the text empty (NXLog's to_syslog_ietf after
    // delete($Message)). A line without structured data (RFC 3164, "-")
    // never hits such a rule. YAML `text: structured_data`.
    kStructuredData,
  };
  Text text = Text::kMessage;
  // The rule applies only to a line whose free text (Message::msg) is empty
  // or blank. For the structured-data twin of a text rule: NXLog's
  // to_syslog_ietf sends the same [NXLOG@14506 ...] element with the
  // rendered event text (which the text rule reads) and, after
  // delete($Message), without it; the twin reads the second form only, so
  // one event is one hit either way (a burst counted once, not twice).
  bool empty_message = false;

  // Hyperscan expressions (PCRE syntax subset) over the rule's `text`
  // (Message::msg unless set); any of them hitting makes the rule hit. At
  // least one.
  std::vector<std::string> match;
  // Optional. When set, Hyperscan scans for these expressions instead of
  // `match`, and a line they find is a hit only if RE2 finds one of `match`
  // in it: for `match` expressions whose only literals are short or
  // frequent, which put Hyperscan's literal matcher into its slowest mode
  // for every line (issue 17). Each must be a necessary condition: every
  // line a `match` expression finds, a prefilter expression finds too
  // (check-rules' examples and RuleSetReferenceTest, which runs RE2 on
  // `match` over the corpus, catch one that is not).
  std::vector<std::string> prefilter;
  // RE2 patterns with named groups, tried in order on the same text; the
  // first that matches yields the fields. May be empty (a hit without fields).
  std::vector<std::string> extract;
  // Every `extract` expression runs and each adds the fields it finds (their
  // group names must differ): several short expressions, each started at its
  // own key (`\bSRC=`, `\bPROTO=`), in place of one with `.*?` gaps walked
  // across the line (issue 17).
  bool extract_all = false;
  // Optional RE2 expression over the same text `match` reads: a hit whose
  // text it also finds is dropped (no alert, no fields, no correlation
  // input), as if the rule had not hit. For lines of the rule's own program
  // that only repeat an outsider's words (nginx's error log quoting a
  // requested path, Apache's AH00128 "File does not exist:"), which a
  // `program` filter cannot tell apart. Run only on the rule's hits (RE2,
  // compiled on the first), never in the Hyperscan database. Empty: none.
  std::string unless;
  int unless_line = 0;  // 1-based line of `unless`, for error messages
  // Both `match`, `extract` and `unless` are caseless unless this is set.
  bool case_sensitive = false;
  // false: an input of correlations only. Its hits are counted, feed the
  // correlator and show in test-rules, but raise no alert of their own.
  bool alert = true;
  // Site packs only (rules.local_dir): this rule takes the place of the
  // bundled rule with the same id (matchers/rule_packs.h).
  bool replace = false;
  // The line says the host's logging stopped on purpose (a syslog daemon
  // exiting): the heartbeat links it to the silence that follows
  // (HeartbeatTracker::NoteStopMessage). Default: the sign is syslog.stopped.
  bool heartbeat_stop = false;
  // The line announces a planned shutdown or reboot of the host: a silence
  // that follows within heartbeat.shutdown_link_secs is planned, and
  // host.silent says so at medium (HeartbeatTracker::NoteShutdownMessage).
  // Default: the sign is system.shutdown.
  bool heartbeat_shutdown = false;
  // The line announces that the host goes to sleep (suspend, hibernate): a
  // silence that follows within heartbeat.shutdown_link_secs is host.silent
  // at low, unless a logger's stop line or a high alert came with it, and
  // a medium once more if it lasts heartbeat.suspend_max_secs
  // (HeartbeatTracker::NoteSuspendMessage). Default: the sign is
  // system.suspend.
  bool heartbeat_suspend = false;
  // The line says the host is up (again): a boot, a logger started. It
  // ends an announced shutdown's hold on the host's next silence
  // (HeartbeatTracker::NoteBootMessage), and an announced suspend's. Default:
  // the sign is system.boot, syslog.started or system.resume.
  bool heartbeat_boot = false;
  // > 0: one alert per episode (matchers/alert_hold.h). The rule's alert is
  // held when an alert of the same sign from the same host was raised or
  // held less than this many seconds before and was not less severe; the
  // hit is still counted, shown and fed to the correlations. 0: every hit
  // alerts.
  int quiet_secs = 0;
  // With quiet_secs: fields whose values join the hold's key (sign and
  // host): `pid` makes one crash's lines (the kernel's segfault, the
  // core dump, the daemon's "child exited on signal 11") one alert, and
  // leaves the next crash its own. A field of the hit, or the line's own
  // `program` or `pid`; a line without one of them is not held.
  std::vector<std::string> quiet_key;
  // With quiet_secs: signs that announce this one. The rule's alert is also
  // held, whatever its severity, while an alert of one of them from the
  // same host was raised or held less than quiet_secs before (an episode
  // of that sign kept without quiet_key values): a reboot stops the loggers
  // and auditd, and system.shutdown's alert has told it once.
  std::vector<std::string> quiet_after;
  // > 0: the rule's alert waits up to this many seconds for its answer
  // (matchers/alert_pending.h): a line of one of `answered_by`'s signs (or
  // rules, by id) from the same host within pending_secs before or after
  // the line (a logger's start after its stop: a restart). Answered:
  // raised at answered_severity when set, else dropped. Unanswered: raised
  // as written, pending_secs late. Applies after quiet_secs' hold.
  int pending_secs = 0;
  // > 0: a hit identical to one of this rule taken by the correlations less
  // than this many seconds before (receive time) is not taken again: the
  // same host, stamp, program, pid and extracted fields is the line resent
  // (RELP or TCP after a reconnect), not a second event. Only for lines a
  // daemon cannot write twice (sshd's failures: pam_unix's fail delay and
  // a new port per connection; a pid's one session close), never for web
  // access lines (one client's requests in one second are identical). The
  // rule's own alert is not affected.
  int dedupe_secs = 0;
  std::vector<std::string> answered_by;  // signs, or rule ids
  std::optional<Severity> answered_severity;
  // With pending_secs: fields of the hit whose values the answering line's
  // hit must carry too (useradd's alert is answered by userdel of the same
  // account only, not by another's), and only a line after it answers (a
  // deletion before a re-creation is its past, not its answer). Empty: any
  // answering line of the host, before or after.
  std::vector<std::string> answer_key;
  // The line is the sender seeing konseki itself gone (rsyslog suspending
  // its forwarding action while konseki was down): a hit on a line whose
  // own time stamp falls within konseki's own last downtime (from the last
  // save of the heartbeat state before the stop to this start, with
  // app::WorkerOptions::own_down_margin either side) is raised at this
  // severity (when lower than the rule's, a site override included), with the
  // fields konseki_down "true", konseki_down_from and konseki_down_until.
  // Only the server knows its downtime; test-rules never lowers.
  std::optional<Severity> own_downtime_severity;
  // Set by RuleSet::Compile: this rule's sign or id is in some rule's
  // answered_by.
  bool answers_pending = false;
  // Fields a later line of the same connection or process needs and does
  // not carry (matchers/field_carry.h): PostgreSQL names the client in
  // "connection received: host=..." and not in the password failure of the
  // same backend pid; slapd names it in the connection's ACCEPT and not in
  // its BIND's RESULT. `remember` stores the hit's `fields` under the host,
  // `name` and the values of `key` (fields of the hit, or the line's
  // `program` or `pid`) for `secs`; `recall` adds to its hits the fields a
  // remember of the same name stored under the same key values, where the
  // line itself has none. Empty name: none.
  struct Carry {
    std::string name;
    std::vector<std::string> key;  // may be empty: the host alone
    std::vector<std::string> fields;
    int secs = 0;  // remember only
  };
  Carry remember;
  Carry recall;

  std::vector<RuleExample> examples_match;
  std::vector<RuleExample> examples_no_match;

  // Where the rule was written, for start-up errors.
  std::string file;
  int line = 0;                      // 1-based line of the rule's `id`
  std::vector<int> match_lines;      // 1-based line of each `match` entry
  std::vector<int> prefilter_lines;  // 1-based line of each `prefilter` entry
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_RULE_H_
