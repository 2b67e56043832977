#include "bench/extra_rules.h"

#include <sstream>
#include <string>

namespace konseki::bench {
namespace {

// One message format as a daemon family prints it. Each program in
// `programs` ('|'-separated) gets its own rule, as packs do when forks of a
// daemon keep the wording (vsftpd / pure-ftpd, dovecot / courier, ...).
struct Format {
  const char* programs;
  const char* sign;
  const char* match;
  const char* extract;
};

// Wording from the daemons' own log lines (and the fail2ban / wazuh test
// lines in the shared corpus).
constexpr Format kFormats[] = {
    // FTP
    {"vsftpd|pure-ftpd|proftpd", "ssh.auth_failure", R"re(FAIL LOGIN: Client ")re",
     R"re(\[(?P<user>[^\]]*)\] FAIL LOGIN: Client "(?:::ffff:)?(?P<src_ip>[^"]+)")re"},
    {"proftpd|vsftpd|ftpd", "ssh.auth_failure", R"re(: Login incorrect\.?$)re",
     R"re(\((?P<host>\S*)\[(?P<src_ip>[^\]]+)\]\).*?USER (?P<user>\S+))re"},
    {"proftpd|pure-ftpd", "ssh.auth_failure", R"re(no such user found from )re",
     R"re(no such user found from (?P<host>\S+) \[(?P<src_ip>[^\]]+)\] to)re"},
    {"pure-ftpd|vsftpd", "ssh.auth_failure", R"re(Authentication failed for user \[)re",
     R"re(\(\?@(?P<src_ip>[^)]+)\) \[WARNING\] Authentication failed for user \[(?P<user>[^\]]*)\])re"},
    {"ftpd|wu-ftpd", "ssh.auth_failure", R"re(^repeated login failures from )re",
     R"re(from (?P<src_ip>\S+))re"},
    // Mail: IMAP/POP3
    {"dovecot|imap-login|pop3-login|auth", "ssh.auth_failure",
     R"re((?:imap|pop3|managesieve)-login: (?:Aborted login|Disconnected) \(auth failed, [0-9]+ attempts)re",
     R"re(user=<(?P<user>[^>]*)>.*?rip=(?P<src_ip>[^,]+))re"},
    {"dovecot|auth-worker", "ssh.auth_failure",
     R"re(pam\([^,]+,[^)]+\): pam_authenticate\(\) failed)re",
     R"re(pam\((?P<user>[^,]+),(?P<src_ip>[^,)]+))re"},
    {"courier-imap|courierpop3login|imapd", "ssh.auth_failure",
     R"re(LOGIN FAILED, (?:user|method)=)re",
     R"re(LOGIN FAILED, user=(?P<user>[^,]*), ip=\[(?:::ffff:)?(?P<src_ip>[^\]]+)\])re"},
    {"cyrus/imap|cyrus/pop3|imapd", "ssh.auth_failure", R"re(badlogin: \S+ \[[0-9a-f.:]+\] \S+ )re",
     R"re(badlogin: (?P<host>\S+) \[(?P<src_ip>[^\]]+)\] (?P<mech>\S+) (?P<user>\S+))re"},
    // Mail: SMTP
    {"postfix/smtpd|postfix/submission/smtpd|postfix/smtps/smtpd", "mail.relay_denied",
     R"re(: SASL (?:LOGIN|PLAIN|CRAM-MD5) authentication failed)re",
     R"re(\[(?P<src_ip>[^\]]+)\]: SASL (?P<mech>\S+) authentication failed)re"},
    {"postfix/smtpd|postfix/postscreen", "mail.relay_denied", R"re(: Helo command rejected: )re",
     R"re(RCPT from (?P<host>[^\[]*)\[(?P<src_ip>[^\]]+)\]: (?P<status>\d{3}) )re"},
    {"postfix/smtpd|postfix/postscreen", "mail.relay_denied", R"re(blocked using [a-z0-9.-]+; )re",
     R"re(\[(?P<src_ip>[^\]]+)\]:? .*?blocked using (?P<rbl>[^;]+))re"},
    {"postfix/postscreen", "mail.relay_denied", R"re(^PREGREET [0-9]+ after )re",
     R"re(after (?P<delay>[\d.]+) from \[(?P<src_ip>[^\]]+)\])re"},
    {"sendmail|sm-mta", "mail.relay_denied", R"re(Relaying denied)re",
     R"re(relay=(?:(?P<host>\S+) )?\[(?P<src_ip>[^\]]+)\])re"},
    {"exim|exim4", "mail.relay_denied", R"re(rejected RCPT <[^>]*>: relay not permitted)re",
     R"re(\[(?P<src_ip>[^\]]+)\](?::\d+)? .*?rejected RCPT <(?P<rcpt>[^>]*)>)re"},
    {"exim|exim4", "ssh.auth_failure", R"re(authenticator failed for )re",
     R"re(authenticator failed for .*?\[(?P<src_ip>[^\]]+)\](?::\d+)?: 535 )re"},
    {"opendkim|opendmarc", "mail.relay_denied", R"re(bad signature data)re",
     R"re(^(?P<queue_id>[0-9A-F]+): bad signature data)re"},
    // DNS
    {"named|bind9", "firewall.drop", R"re(query \(cache\) '[^']+' denied)re",
     R"re(client (?:@\S+ )?(?P<src_ip>[0-9a-f.:]+)#(?P<port>\d+).*?query \(cache\) '(?P<query>[^']+)' denied)re"},
    {"named|bind9", "firewall.drop", R"re(zone transfer '[^']+' denied)re",
     R"re(client (?:@\S+ )?(?P<src_ip>[0-9a-f.:]+)#\d+.*?zone transfer '(?P<zone>[^']+)' denied)re"},
    {"named", "firewall.drop", R"re(update '[^']+' denied)re",
     R"re(client (?:@\S+ )?(?P<src_ip>[0-9a-f.:]+)#\d+.*?update '(?P<zone>[^']+)' denied)re"},
    {"unbound|dnsmasq", "firewall.drop", R"re(refused query from )re",
     R"re(refused query from (?P<src_ip>\S+))re"},
    // Web and proxies (syslog-shipped)
    {"squid|squid3", "web.5xx", R"re( TCP_DENIED/40[37] )re",
     R"re(^\s*\d+\.\d+\s+\d+ (?P<src_ip>\S+) TCP_DENIED/(?P<status>\d+) \d+ (?P<method>\S+) (?P<url>\S+))re"},
    {"haproxy", "web.5xx", R"re( [0-9]+/[0-9]+/[0-9]+/[0-9]+/[0-9]+ 50[234] )re",
     R"re((?P<src_ip>[0-9a-f.:]+):\d+ \[[^\]]+\] (?P<frontend>\S+) (?P<backend>\S+) \S+ (?P<status>5\d\d))re"},
    {"haproxy", "web.5xx", R"re(Server \S+ is DOWN, reason: )re",
     R"re(Server (?P<server>\S+) is DOWN, reason: (?P<reason>[^,]+))re"},
    {"nginx", "web.5xx", R"re(upstream timed out \(110: Connection timed out\))re",
     R"re(client: (?P<src_ip>[^,]+), server: (?P<server>[^,]*), request: "(?P<request>[^"]*)")re"},
    {"nginx", "ssh.auth_failure", R"re(user "[^"]*" was not found in ")re",
     R"re(user "(?P<user>[^"]*)" was not found in "(?P<file>[^"]*)", client: (?P<src_ip>[^,]+))re"},
    {"nginx", "web.5xx", R"re(limiting requests, excess: )re",
     R"re(limiting requests, excess: (?P<excess>[\d.]+) by zone "(?P<zone>[^"]*)", client: (?P<src_ip>[^,]+))re"},
    {"apache2|httpd", "ssh.auth_failure", R"re(AH01618: user \S+ not found)re",
     R"re(\[client (?P<src_ip>[^\]:]+)(?::\d+)?\] AH01618: user (?P<user>\S+) not found)re"},
    {"apache2|httpd", "ssh.auth_failure", R"re(AH01617: user \S+: authentication failure for )re",
     R"re(\[client (?P<src_ip>[^\]:]+)(?::\d+)?\] AH01617: user (?P<user>\S+): authentication failure)re"},
    {"apache2|httpd", "web.5xx", R"re(ModSecurity: Access denied with code [0-9]+)re",
     R"re(ModSecurity: Access denied with code (?P<status>\d+).*?\[id "(?P<rule_id>\d+)"\])re"},
    {"php-fpm|php7.4-fpm|php8.2-fpm", "crash", R"re(child [0-9]+ exited on signal [0-9]+)re",
     R"re(\[pool (?P<pool>[^\]]+)\] child (?P<pid>\d+) exited on signal (?P<signo>\d+))re"},
    // VPN and remote access
    {"openvpn|ovpn-server", "ssh.auth_failure", R"re(TLS Error: TLS handshake failed)re",
     R"re((?P<src_ip>[0-9a-f.:]+):(?P<port>\d+) TLS Error: TLS handshake failed)re"},
    {"openvpn|ovpn-server", "ssh.auth_failure",
     R"re(AUTH_FAILED|auth-user-pass-verify script failed)re",
     R"re((?:(?P<user>[^/\s]+)/)?(?P<src_ip>[0-9a-f.:]+):\d+ .*?(?:AUTH_FAILED|script failed))re"},
    {"charon|ipsec|pluto", "ssh.auth_failure",
     R"re(authentication of '[^']*' with [A-Z-]+ failed)re",
     R"re(authentication of '(?P<peer>[^']*)' with (?P<method>\S+) failed)re"},
    {"xrdp|xrdp-sesman", "ssh.auth_failure", R"re(pam_authenticate failed|login failed for user)re",
     R"re(login failed for user: (?P<user>\S+))re"},
    {"dropbear", "ssh.auth_failure", R"re(^Bad password attempt for ')re",
     R"re(^Bad password attempt for '(?P<user>[^']*)' from (?P<src_ip>[0-9a-f.:]+):(?P<port>\d+))re"},
    {"dropbear", "ssh.auth_failure", R"re(^Login attempt for nonexistent user)re",
     R"re(from (?P<src_ip>[0-9a-f.:]+):(?P<port>\d+))re"},
    // Databases and directory
    {"postgres|postgresql", "ssh.auth_failure",
     R"re(FATAL:  password authentication failed for user ")re",
     R"re(password authentication failed for user "(?P<user>[^"]*)")re"},
    {"postgres|postgresql", "ssh.auth_failure", R"re(FATAL:  no pg_hba\.conf entry for host ")re",
     R"re(no pg_hba\.conf entry for host "(?P<src_ip>[^"]*)", user "(?P<user>[^"]*)")re"},
    {"mysqld|mariadbd", "ssh.auth_failure", R"re(Access denied for user '[^']*'@')re",
     R"re(Access denied for user '(?P<user>[^']*)'@'(?P<src_ip>[^']*)')re"},
    {"mongod", "ssh.auth_failure", R"re(Authentication failed)re",
     R"re("user":"(?P<user>[^"]*)".*?"remote":"(?P<src_ip>[^:"]+))re"},
    {"slapd", "ssh.auth_failure", R"re(RESULT tag=97 err=49 )re",
     R"re(conn=(?P<conn>\d+) op=(?P<op>\d+))re"},
    {"krb5kdc", "ssh.auth_failure", R"re(PREAUTH_FAILED|CLIENT_NOT_FOUND)re",
     R"re(\((?P<etypes>[^)]*)\) (?P<src_ip>[0-9a-f.:]+): (?P<error>\S+): (?P<principal>\S+))re"},
    {"sssd_be|sssd", "ssh.auth_failure", R"re(authentication failure; logname=)re",
     R"re(rhost=(?P<src_ip>\S*)\s+user=(?P<user>\S+))re"},
    // Local privilege and accounts
    {"pkexec|polkitd", "sudo.violation",
     R"re(Error executing command as another user: Not authorized)re",
     R"re(^(?P<user>\S+): Error executing command as another user: Not authorized \[USER=(?P<target_user>[^\]]+)\] \[TTY=(?P<tty>[^\]]*)\] \[CWD=(?P<cwd>[^\]]*)\] \[COMMAND=(?P<command>[^\]]*)\])re"},
    {"doas", "sudo.violation", R"re(^command not permitted for )re",
     R"re(^command not permitted for (?P<user>\S+): (?P<command>.*)$)re"},
    {"chage|chfn|chsh", "account.change", R"re(^changed user '[^']+' )re",
     R"re(^changed user '(?P<user>[^']+)' (?P<what>.*)$)re"},
    {"groupdel|groupmod", "account.change", R"re(^(?:removed|change) group ')re",
     R"re(group '(?P<group>[^']+)')re"},
    {"login|systemd-logind", "ssh.login", R"re(^ROOT LOGIN +ON )re", R"re(ON (?P<tty>\S+))re"},
    {"login", "ssh.auth_failure", R"re(^FAILED LOGIN \([0-9]+\) on ')re",
     R"re(^FAILED LOGIN \((?P<count>\d+)\) on '(?P<tty>[^']+)'(?: FROM '(?P<src_host>[^']*)')? FOR '(?P<user>[^']*)')re"},
    {"systemd-logind", "ssh.login", R"re(^New session [0-9]+ of user )re",
     R"re(^New session (?P<session>\S+) of user (?P<user>\S+)\.)re"},
    // Services, crashes, integrity
    {"systemd", "crash", R"re(: Main process exited, code=(?:killed|dumped), status=)re",
     R"re(^(?P<unit>\S+): Main process exited, code=(?P<code>\w+), status=(?P<status>\S+))re"},
    {"systemd-coredump", "crash", R"re(^Process [0-9]+ \([^)]*\) of user [0-9]+ dumped core)re",
     R"re(^Process (?P<pid>\d+) \((?P<program>[^)]*)\) of user (?P<uid>\d+) dumped core)re"},
    {"abrt-hook-ccpp|abrtd", "crash", R"re(Saved core dump of pid [0-9]+)re",
     R"re(pid (?P<pid>\d+) \((?P<exe>[^)]*)\))re"},
    {"aide", "account.change", R"re(AIDE found differences between database and filesystem)re",
     R"re(between (?P<what>database and filesystem))re"},
    {"auditd", "syslog.stopped", R"re(^The audit daemon is exiting)re",
     R"re(^The (?P<what>audit daemon))re"},
    {"smartd", "crash", R"re(Currently unreadable \(pending\) sectors)re",
     R"re(Device: (?P<device>\S+).*?(?P<count>\d+) Currently unreadable)re"},
    {"clamd|freshclam", "crash", R"re(: [A-Za-z0-9._-]+ FOUND$)re",
     R"re(^(?P<path>\S+): (?P<signature>\S+) FOUND$)re"},
    {"fail2ban.actions|fail2ban-server", "firewall.drop", R"re(\] Ban [0-9a-f.:]+$)re",
     R"re(\[(?P<jail>[^\]]+)\] Ban (?P<src_ip>\S+)$)re"},
    {"ufw|firewalld", "firewall.drop", R"re(WARNING: COMMAND_FAILED: )re",
     R"re(COMMAND_FAILED: '(?P<command>[^']*)')re"},
    {"docker|dockerd|containerd", "crash", R"re(level=error msg="[^"]*(?:OOM|killed)[^"]*")re",
     R"re(msg="(?P<msg>[^"]*)")re"},
    {"kubelet", "crash", R"re(Back-off restarting failed container)re",
     R"re(container (?P<container>\S+) in pod (?P<pod>\S+))re"},
    {"snmpd", "ssh.auth_failure",
     R"re(Connection from UDP: \[[0-9.]+\]:[0-9]+->\[[0-9.]+\]:[0-9]+ REFUSED)re",
     R"re(from UDP: \[(?P<src_ip>[\d.]+)\]:(?P<port>\d+))re"},
    {"rsyncd|rsync", "ssh.auth_failure", R"re(auth failed on module )re",
     R"re(auth failed on module (?P<module>\S+) from (?P<host>\S+) \((?P<src_ip>[^)]+)\))re"},
    {"smbd|samba", "ssh.auth_failure",
     R"re(NT_STATUS_(?:WRONG_PASSWORD|NO_SUCH_USER|LOGON_FAILURE))re",
     R"re(user \[(?P<domain>[^\]]*)\]\\\[(?P<user>[^\]]*)\].*?remote host \[ipv4:(?P<src_ip>[\d.]+))re"},
    {"asterisk", "ssh.auth_failure",
     R"re(failed for '[^']*' - (?:Wrong password|No matching endpoint found))re",
     R"re(Request '(?P<method>\w+)' from '[^']*' failed for '(?P<src_ip>[^':]+)(?::\d+)?')re"},
    {"gitea|gogs|gitlab-sshd", "ssh.auth_failure", R"re(Failed authentication attempt for )re",
     R"re(Failed authentication attempt for (?P<user>\S+) from (?P<src_ip>[^:\s]+))re"},
    {"grafana|grafana-server", "ssh.auth_failure", R"re(msg="Invalid username or password")re",
     R"re(remote_addr=(?P<src_ip>\S+))re"},
    // Program-less: wording that appears whatever the sender calls itself.
    {"", "crash", R"re(Out of memory: Kill(?:ed)? process [0-9]+ )re",
     R"re(Kill(?:ed)? process (?P<pid>\d+) \((?P<program>[^)]*)\))re"},
    {"", "crash", R"re(blocked for more than [0-9]+ seconds)re",
     R"re(task (?P<program>\S+):(?P<pid>\d+) blocked for more than (?P<seconds>\d+) seconds)re"},
    {"", "firewall.drop", R"re(possible SYN flooding on port [0-9]+)re",
     R"re(possible SYN flooding on port (?P<port>\d+))re"},
};

std::vector<std::string> Split(const char* programs) {
  std::vector<std::string> out;
  std::stringstream ss(programs);
  for (std::string p; std::getline(ss, p, '|');) out.push_back(p);
  if (out.empty()) out.emplace_back();
  return out;
}

}  // namespace

std::vector<matchers::Rule> ExtraRules(size_t count) {
  std::vector<matchers::Rule> rules;
  size_t n = 0;
  for (const Format& f : kFormats) {
    for (const std::string& program : Split(f.programs)) {
      if (rules.size() == count) return rules;
      matchers::Rule& r = rules.emplace_back();
      r.id =
          "bench." + (program.empty() ? std::string("any") : program) + "." + std::to_string(n++);
      r.sign = f.sign;
      r.title = "bench rule " + r.id;
      r.description = "generated for bench/rule_set_bench";
      r.program = program;
      r.match = {f.match};
      r.extract = {f.extract};
      r.file = "bench/extra_rules.cc";
      r.match_lines = {0};
    }
  }
  return rules;
}

}  // namespace konseki::bench
