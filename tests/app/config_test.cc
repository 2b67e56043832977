#include "app/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "app/worker.h"
#include "outputs/archive.h"
#include "outputs/retention.h"
#include "receiver/framer.h"
#include "receiver/stream_listener.h"
#include "receiver/udp_listener.h"
#include "tests/testing/temp_dir.h"

namespace konseki::app {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, EmbeddedDefaultListensOnLoopbackAndArchivesUnderVar) {
  auto c = ParseConfig(EmbeddedDefaultConfig(), "<embedded default>");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->listen.size(), 2u);
  EXPECT_EQ(c->listen[0].uri, "udp://127.0.0.1:5514");
  EXPECT_EQ(c->listen[1].uri, "tcp://127.0.0.1:5514");
  EXPECT_TRUE(c->allow_root);
  EXPECT_EQ(c->archive.dir, "./var/archive");
  EXPECT_TRUE(c->alerts_stdout);
  EXPECT_EQ(c->metrics_listen, "127.0.0.1:9514");
}

TEST(ConfigTest, ReadsTheDocumentedKeys) {
  auto c = ParseConfig(R"(
listen:
  - udp://127.0.0.1:5514
  - tcp://[::1]:6514
archive:
  dir: /srv/konseki
  sync: batch
alerts:
  file: /var/log/konseki/alerts.jsonl
  stdout: false
workers: 3
heartbeat:
  silence_after_secs: 90
  expected_hosts: [db1, web1]
  overrides:
    - host: "batch-*"
      silence_after_secs: 7200
)",
                       "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen.size(), 2u);
  EXPECT_EQ(c->archive.dir, "/srv/konseki");
  EXPECT_EQ(c->archive.sync, outputs::SyncPolicy::kBatch);
  EXPECT_EQ(c->alerts_file, "/var/log/konseki/alerts.jsonl");
  EXPECT_FALSE(c->alerts_stdout);
  EXPECT_EQ(c->workers, 3u);
  EXPECT_EQ(c->heartbeat.options.silence_after_secs, 90);
  EXPECT_EQ(c->heartbeat.options.expected_hosts, (std::vector<std::string>{"db1", "web1"}));
  ASSERT_EQ(c->heartbeat.options.overrides.size(), 1u);
  EXPECT_EQ(c->heartbeat.options.overrides[0].host_pattern, "batch-*");
  EXPECT_EQ(c->heartbeat.options.overrides[0].silence_after_secs, 7200);
}

// The name labels a sink's metrics and log lines: two unnamed webhooks both
// called "webhook" shared one queue-depth gauge and one set of counters.
TEST(ConfigTest, EverySinkGetsItsOwnName) {
  auto c = ParseConfig(R"(
listen: [udp://127.0.0.1:5514]
alerts:
  webhook:
    - url: http://127.0.0.1:8080/chat
    - url: http://127.0.0.1:8081/pager
    - {url: "http://127.0.0.1:8082/x", name: ticket}
  exec:
    - argv: [/bin/true]
)",
                       "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->alerts_webhook.size(), 3u);
  EXPECT_EQ(c->alerts_webhook[0].options.name, "webhook");
  EXPECT_EQ(c->alerts_webhook[1].options.name, "webhook-2");
  EXPECT_EQ(c->alerts_webhook[2].options.name, "ticket");
  EXPECT_EQ(c->alerts_exec[0].options.name, "exec");

  auto twice = ParseConfig(R"(
listen: [udp://127.0.0.1:5514]
alerts:
  webhook:
    - {url: "http://127.0.0.1:8080/chat", name: ops}
  exec:
    - {argv: [/bin/true], name: ops}
)",
                           "b.yaml");
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.status().message(), HasSubstr("b.yaml:7"));
  EXPECT_THAT(twice.status().message(), HasSubstr("alerts.exec.name"));
  EXPECT_THAT(twice.status().message(), HasSubstr("a sink named 'ops' is already configured"));
}

TEST(ConfigTest, ReadsAlertDeliverySinks) {
  auto c = ParseConfig(R"(
listen: [udp://127.0.0.1:5514]
alerts:
  throttle: {window_secs: 300, max_per_rule_host: 2, max_per_rule: 5}
  syslog:
    - {host: siem.example.org, port: 6514, transport: tcp, min_severity: high}
  webhook:
    - url: http://127.0.0.1:8080/hook
      headers: {Authorization: "Bearer x"}
  exec:
    - argv: [/usr/bin/mail, -s, konseki, root]
      signs: ["ssh.login"]
)",
                       "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->alerts_throttle.window, std::chrono::seconds(300));
  EXPECT_EQ(c->alerts_throttle.max_per_rule_host, 2);
  ASSERT_EQ(c->alerts_syslog.size(), 1u);
  EXPECT_EQ(c->alerts_syslog[0].options.port, 6514);
  EXPECT_EQ(c->alerts_syslog[0].options.transport, outputs::SyslogTransport::kTcp);
  EXPECT_EQ(c->alerts_syslog[0].filter.min_severity, Severity::kHigh);
  ASSERT_EQ(c->alerts_webhook.size(), 1u);
  EXPECT_EQ(c->alerts_webhook[0].options.headers[0].second, "Bearer x");
  ASSERT_EQ(c->alerts_exec.size(), 1u);
  EXPECT_EQ(c->alerts_exec[0].options.argv.size(), 4u);
  EXPECT_EQ(c->alerts_exec[0].filter.signs, std::vector<std::string>{"ssh.login"});

  auto bad = ParseConfig("listen: [udp://127.0.0.1:1]\nalerts:\n  webhook:\n    - url: ftp://x\n",
                         "b.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("b.yaml:4"));
  EXPECT_THAT(bad.status().message(), HasSubstr("alerts.webhook.url"));
  auto sev = ParseConfig(
      "listen: [udp://127.0.0.1:1]\nalerts:\n  exec:\n    - {argv: [x], min_severity: loud}\n",
      "c.yaml");
  ASSERT_FALSE(sev.ok());
  EXPECT_THAT(sev.status().message(), HasSubstr("min_severity"));
}

TEST(ConfigTest, UnknownKeyNamesFileLineAndKey) {
  auto c =
      ParseConfig("listen: [udp://127.0.0.1:1]\narchive:\n  dir: x\n  sinc: batch\n", "k.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("k.yaml:4"));
  EXPECT_THAT(c.status().message(), HasSubstr("archive.sinc"));
  EXPECT_THAT(c.status().message(), HasSubstr("unknown key"));
}

TEST(ConfigTest, ArchiveBudgetAndHostCapKeys) {
  auto d = ParseConfig("listen: [udp://127.0.0.1:1]\n", "k.yaml");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->archive_budget.max_hosts, outputs::ArchiveBudgetOptions().max_hosts);
  EXPECT_EQ(d->archive_budget.buffer_bytes, outputs::ArchiveBudgetOptions().buffer_bytes);
  auto c = ParseConfig(
      "listen: [udp://127.0.0.1:1]\narchive: {dir: x, max_hosts: 500, "
      "buffer_budget_bytes: 16777216}\n",
      "k.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->archive_budget.max_hosts, 500u);
  EXPECT_EQ(c->archive_budget.buffer_bytes, 16777216u);
  auto bad =
      ParseConfig("listen: [udp://127.0.0.1:1]\narchive: {buffer_budget_bytes: 10}\n", "k.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("archive.buffer_budget_bytes"));
}

TEST(ConfigTest, RulesSectionReadsSitePacksAndOverridesWithTheirLines) {
  auto c = ParseConfig(R"(listen: [udp://127.0.0.1:1]
rules:
  dir: /usr/share/konseki/patterns
  local_dir: /etc/konseki/rules.d
  disable: [web.http_5xx, cron.job_error]
  severity:
    sshd.accepted: low
    sshd.root_password_login: critical
  ignore:
    sources: [10.0.5.0/24, "2001:db8::/32"]
    users: [nagios]
)",
                       "k.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const matchers::RuleOverrides& o = c->rule_overrides;
  EXPECT_EQ(c->rules_dir, "/usr/share/konseki/patterns");
  EXPECT_EQ(o.local_dir, "/etc/konseki/rules.d");
  EXPECT_EQ(o.local_dir_where, "k.yaml:4: key 'rules.local_dir'");
  ASSERT_EQ(o.disable.size(), 2u);
  EXPECT_EQ(o.disable[1].id, "cron.job_error");
  EXPECT_EQ(o.disable[1].where, "k.yaml:5: key 'rules.disable'");
  ASSERT_EQ(o.severity.size(), 2u);
  EXPECT_EQ(o.severity[1].id, "sshd.root_password_login");
  EXPECT_EQ(o.severity[1].severity, Severity::kCritical);
  EXPECT_EQ(o.severity[1].where, "k.yaml:8: key 'rules.severity'");
  EXPECT_EQ(o.ignore_sources, (std::vector<std::string>{"10.0.5.0/24", "2001:db8::/32"}));
  EXPECT_EQ(o.ignore_users, (std::vector<std::string>{"nagios"}));
}

// The example of docs/rules.md is a valid rules: section naming real
// bundled rules (without its site folder, which only a real host has).
TEST(ConfigTest, TheRulesDocExampleLoadsWithTheBundledPacks) {
  std::ifstream in(std::string(KONSEKI_SOURCE_DIR) + "/docs/rules.md");
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t start = doc.find("```yaml\nrules:\n");
  ASSERT_NE(start, std::string::npos) << "no rules: example in docs/rules.md";
  const size_t end = doc.find("```", start + 7);
  const std::string example = doc.substr(start + 8, end - start - 8);
  auto c = ParseConfig("listen: [udp://127.0.0.1:1]\n" + example, "rules.md");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->rule_overrides.disable.empty());
  EXPECT_FALSE(c->rule_overrides.ignore_users.empty());
  matchers::RuleOverrides o = c->rule_overrides;
  o.local_dir.clear();
  auto rules = matchers::LoadRulePacks(std::string(KONSEKI_SOURCE_DIR) + "/patterns", o);
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
}

// A config that ParseConfig must refuse with an error containing `expect`.
struct BadConfig {
  std::string yaml;
  const char* expect;
};

// Parses each case as `source` (after `prefix`): each must fail, its error
// containing the case's text and naming `source` ("<source>:").
void ExpectRejected(const std::vector<BadConfig>& cases, const std::string& source,
                    const std::string& prefix = "") {
  for (const BadConfig& tc : cases) {
    auto c = ParseConfig(prefix + tc.yaml, source);
    ASSERT_FALSE(c.ok()) << tc.yaml;
    EXPECT_THAT(c.status().message(), HasSubstr(tc.expect)) << tc.yaml;
    EXPECT_THAT(c.status().message(), HasSubstr(source + ":")) << tc.yaml;
  }
}

// Each default lives in its module's options header: a config that leaves
// a section out gets exactly the module's defaults. Fails if Config (or the
// parser) sets a value of its own beside the module's.
TEST(ConfigTest, UnsetKeysKeepTheModulesOwnDefaults) {
  auto c = ParseConfig("listen: [udp://127.0.0.1:1]\n", "d.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const outputs::ArchiveOptions archive;
  EXPECT_EQ(c->archive.sync, archive.sync);
  EXPECT_EQ(c->archive.sync_interval_secs, archive.sync_interval_secs);
  EXPECT_EQ(c->archive.buffer_bytes, archive.buffer_bytes);
  EXPECT_EQ(c->archive.max_open_files, archive.max_open_files);
  const outputs::RetentionOptions retention;
  EXPECT_EQ(c->archive_retention.compress_after_days, retention.compress_after_days);
  EXPECT_EQ(c->archive_retention.retention_days, retention.retention_days);
  EXPECT_EQ(c->archive_retention.low_space_percent, retention.low_space_percent);
  EXPECT_EQ(c->archive_retention.low_space_bytes, retention.low_space_bytes);
  EXPECT_EQ(c->archive_retention.max_host_series, retention.max_host_series);
  EXPECT_EQ(c->archive_seal.epoch_secs, outputs::kDefaultSealEpochSecs);
  const receiver::UdpListenerOptions udp;
  EXPECT_EQ(c->udp.rcvbuf_bytes, udp.rcvbuf_bytes);
  EXPECT_EQ(c->udp.max_message_bytes, udp.max_message_bytes);
  const receiver::StreamListenerOptions stream;
  EXPECT_EQ(c->stream.max_message_bytes, stream.max_message_bytes);
  EXPECT_EQ(c->stream.max_connections, stream.max_connections);
  EXPECT_EQ(c->stream.limits.max_connections_per_source, stream.limits.max_connections_per_source);
  EXPECT_EQ(c->stream.limits.first_frame_timeout_secs, stream.limits.first_frame_timeout_secs);
  EXPECT_EQ(c->stream.partial_frame_timeout_secs, stream.partial_frame_timeout_secs);
  EXPECT_EQ(c->stream.stop_timeout_ms, stream.stop_timeout_ms);
  EXPECT_EQ(c->stream.handshake_timeout_secs, stream.handshake_timeout_secs);
  const matchers::HeartbeatOptions hb;
  EXPECT_EQ(c->heartbeat.options.max_host_metrics, hb.max_host_metrics);
  EXPECT_EQ(c->heartbeat.options.max_hosts, hb.max_hosts);
  EXPECT_EQ(c->heartbeat.options.silence_after_secs, hb.silence_after_secs);
}

// One config key that fills two modules' options needs the two modules to
// agree on its default; these are the keys where they could drift apart.
TEST(ConfigTest, ModulesSharingAKeyShareItsDefault) {
  // max_message_bytes: every listener (RELP included: relp:// is a stream
  // listener; its old options said 128 KiB while the config said 64 KiB).
  EXPECT_EQ(receiver::StreamListenerOptions().max_message_bytes,
            receiver::UdpListenerOptions().max_message_bytes);
  EXPECT_EQ(receiver::StreamListenerOptions().max_message_bytes,
            receiver::Framer::kDefaultMaxMessageBytes);
  // metrics.max_host_series: the heartbeat's and the archive keeper's series.
  EXPECT_EQ(matchers::HeartbeatOptions().max_host_metrics,
            outputs::RetentionOptions().max_host_series);
  // stop_timeout_secs: the stream listeners' drain and the workers' retries.
  EXPECT_EQ(std::chrono::milliseconds(receiver::StreamListenerOptions().stop_timeout_ms),
            WorkerOptions().stop_timeout);
}

// The embedded default config states the defaults a try-out relies on; they
// are the ones an empty section gives, so the two cannot tell different stories.
TEST(ConfigTest, EmbeddedDefaultAgreesWithTheBuiltInDefaults) {
  auto embedded = ParseConfig(EmbeddedDefaultConfig(), "<embedded default>");
  auto bare = ParseConfig("listen: [udp://127.0.0.1:1]\n", "d.yaml");
  ASSERT_TRUE(embedded.ok() && bare.ok());
  EXPECT_EQ(embedded->archive.dir, bare->archive.dir);
  EXPECT_EQ(embedded->alerts_stdout, bare->alerts_stdout);
  EXPECT_EQ(embedded->metrics_listen, bare->metrics_listen);
}

TEST(ConfigTest, OneKeyFillsEveryModuleThatTakesIt) {
  auto c = ParseConfig(R"(listen: [udp://127.0.0.1:1]
max_message_bytes: 1000
stop_timeout_secs: 2.5
metrics: {max_host_series: 7}
tls: {handshake_timeout_secs: 0.2}
tcp: {max_connections: 9, max_connections_per_source: 3, first_frame_timeout_secs: 4,
      partial_frame_timeout_secs: 5, idle_timeout_secs: 600, keepalive_idle_secs: 120,
      keepalive_interval_secs: 30, keepalive_count: 3}
udp: {receive_buffer_bytes: 8192}
archive: {sync_interval_secs: 2.7, low_space: 7%}
)",
                       "k.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->udp.max_message_bytes, 1000u);
  EXPECT_EQ(c->stream.max_message_bytes, 1000u);
  EXPECT_EQ(c->stream.stop_timeout_ms, 2500);
  EXPECT_EQ(c->heartbeat.options.max_host_metrics, 7u);
  EXPECT_EQ(c->archive_retention.max_host_series, 7u);
  EXPECT_EQ(c->stream.handshake_timeout_secs, 1);  // whole seconds, at least 1
  EXPECT_EQ(c->stream.max_connections, 9u);
  EXPECT_EQ(c->stream.limits.max_connections_per_source, 3u);
  EXPECT_EQ(c->stream.limits.first_frame_timeout_secs, 4);
  EXPECT_EQ(c->stream.partial_frame_timeout_secs, 5);
  // prod19b finding 3: dead senders are reaped (keepalive), idle ones may be.
  EXPECT_EQ(c->stream.idle_timeout_secs, 600);
  EXPECT_EQ(c->stream.keepalive_idle_secs, 120);
  EXPECT_EQ(c->stream.keepalive_interval_secs, 30);
  EXPECT_EQ(c->stream.keepalive_count, 3);
  EXPECT_EQ(c->udp.rcvbuf_bytes, 8192);
  EXPECT_EQ(c->archive.sync_interval_secs, 2);  // whole seconds
  EXPECT_EQ(c->archive_retention.low_space_percent, 7);
}

TEST(ConfigTest, BadRulesSectionsNameFileLineAndKey) {
  ExpectRejected(
      {
          {"rules: {disabled: [a]}\n", "k.yaml:2: key 'rules.disabled': unknown key"},
          {"rules: {disable: a.b}\n", "k.yaml:2: key 'rules.disable': expected a list"},
          {"rules:\n  disable: [a.b, a.b]\n",
           "k.yaml:3: key 'rules.disable': rule a.b is listed twice"},
          {"rules: {severity: [a.b]}\n", "key 'rules.severity': expected a mapping"},
          {"rules:\n  severity:\n    a.b: urgent\n",
           "k.yaml:4: key 'rules.severity.a.b': expected info"},
          {"rules:\n  disable: [a.b]\n  severity: {a.b: high}\n",
           "k.yaml:4: key 'rules.severity': rule a.b is also in rules.disable"},
          {"rules: {ignore: {sources: [10.0.0.1/8]}}\n",
           "key 'rules.ignore': sources[0] \"10.0.0.1/8\": host bits set"},
          {"rules: {ignore: {hosts: [a]}}\n", "key 'rules.ignore.hosts': unknown key"},
          {"rules: {ignore: {users: [\"\"]}}\n", "key 'rules.ignore'"},
          {"rules: {local_dir: \"\"}\n", "key 'rules.local_dir': must not be empty"},
      },
      "k.yaml", "listen: [udp://127.0.0.1:1]\n");
}

// `user: ""` (a template's variable left unfilled) was read as no user and
// ended in "refusing to run as root"; it is an empty value.
TEST(ConfigTest, EmptyUserGroupOrChrootIsRefusedNotReadAsLeftOut) {
  ExpectRejected(
      {
          {"user: \"\"\n", "p.yaml:2: key 'user': empty; leave the key out to run as the user"},
          {"user: konseki\ngroup: ''\n", "p.yaml:3: key 'group': empty; leave the key out"},
          {"chroot: \"\"\n", "p.yaml:2: key 'chroot': empty; leave the key out"},
      },
      "p.yaml", "listen: [udp://127.0.0.1:1]\n");
}

// An unknown `user:` or `group:` is found after parsing (ResolveRunAs, at
// check-config and start): its error named the file but not the line.
TEST(ConfigTest, UnknownUserOrGroupErrorsNameFileLineAndKey) {
  auto c = ParseConfig(
      "listen: [udp://127.0.0.1:1]\nallow_root: true\nuser: konseki-no-such-user-9f3\n", "u.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto ids = ResolveRunAs(c->Privileges());
  ASSERT_FALSE(ids.ok());
  EXPECT_THAT(ids.status().message(),
              ::testing::StartsWith(
                  "u.yaml:3: key 'user': \"konseki-no-such-user-9f3\" is not a user on this host"));
  EXPECT_THAT(DropPrivileges(c->Privileges()).message(),
              ::testing::StartsWith("u.yaml:3: key 'user': "));

  c = ParseConfig("listen: [udp://127.0.0.1:1]\nuser: \"" + std::to_string(getuid()) +
                      "\"\n\ngroup: konseki-no-such-group-9f3\n",
                  "g.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_THAT(ResolveRunAs(c->Privileges()).status().message(),
              ::testing::StartsWith("g.yaml:4: key 'group': \"konseki-no-such-group-9f3\" is not "
                                    "a group on this host"));

  c = ParseConfig("listen: [udp://127.0.0.1:1]\ngroup: adm\n", "n.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_THAT(CheckRootPolicy(c->Privileges(), 1000).message(),
              ::testing::StartsWith("n.yaml:2: key 'group': \"adm\" is set without `user:`"));

  c = ParseConfig("listen: [udp://127.0.0.1:1]\nchroot: /nonexistent-konseki-chroot-9f3\n",
                  "r.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_THAT(CheckChrootDir(c->Privileges()).message(),
              ::testing::StartsWith("r.yaml:2: key 'chroot': \"/nonexistent-konseki-chroot-9f3\""));
}

// parser.timezones: per-host and per-network zones for RFC 3164 senders.
TEST(ConfigTest, ParserTimezonesAreRead) {
  auto c = ParseConfig(R"(
listen: [udp://127.0.0.1:1]
parser:
  timezone: "+09:00"
  timezones:
    - {hosts: [us-legacy, "us-*"], zone: America/New_York}
    - {networks: [10.8.0.0/16, "2001:db8::/32"], zone: "-05:00"}
)",
                       "tz.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->parser_timezones.size(), 2u);
  EXPECT_EQ(c->parser_timezones[0].hosts, (std::vector<std::string>{"us-legacy", "us-*"}));
  EXPECT_EQ(c->parser_timezones[0].zone, "America/New_York");
  EXPECT_EQ(c->parser_timezones[1].networks,
            (std::vector<std::string>{"10.8.0.0/16", "2001:db8::/32"}));
  EXPECT_EQ(c->parser_timezones[1].zone, "-05:00");
}

TEST(ConfigTest, BadValuesAreErrorsNotDefaults) {
  ExpectRejected(
      {
          {"listen: [udp://127.0.0.1:1]\nworkers: many\n", "workers"},
          {"listen: [udp://127.0.0.1:1]\nworkers: -1\n", "out of range"},
          {"listen: [udp://127.0.0.1:1]\narchive: {sync: sometimes}\n", "none, interval, batch"},
          {"listen: [udp://127.0.0.1:1]\nalerts: {stdout: maybe}\n", "true or false"},
          {"listen: [ftp://127.0.0.1:1]\n", "listen"},
          {"listen: [tcp://localhost:514]\n", "listen"},
          {"listen: udp://127.0.0.1:1\n", "expected a list"},
          {"listen: [udp://127.0.0.1:1]\nparser: {timezone: Mars/Olympus}\n", "timezone"},
          {"listen: [udp://127.0.0.1:1]\nparser: {timezones: [{hosts: [a], zone: Mars/Olympus}]}\n",
           "parser.timezones[0]: time zone 'Mars/Olympus': unknown zone"},
          {"listen: [udp://127.0.0.1:1]\nparser: {timezones: [{networks: [10.8.0.0/40], zone: "
           "UTC}]}\n",
           "network '10.8.0.0/40' is not an address or CIDR"},
          {"listen: [udp://127.0.0.1:1]\nparser: {timezones: [{zone: UTC}]}\n", "hosts, networks"},
          {"listen: [udp://127.0.0.1:1]\nparser: {timezones: [{host: [a], zone: UTC}]}\n", "host"},
          {"listen: [udp://127.0.0.1:1]\nparser: {timezones: {a: UTC}}\n", "must be a list"},
          {"listen: [udp://127.0.0.1:1]\nheartbeat: {overrides: [{host: a}]}\n",
           "silence_after_secs"},
          {"listen: [udp://127.0.0.1:1]\nheartbeat: {suspend_max_secs: -1}\n", "suspend_max_secs"},
          {"archive: {dir: x}\n", "at least one listener"},
          {"listen: [udp://127.0.0.1:1\n", "YAML syntax error"},
      },
      "bad.yaml");
}

// docs/heartbeat.md's configuration table and the parser must agree: every
// documented heartbeat key is accepted (it used to reject forget_after_secs,
// max_hosts, learning_secs, ...).
TEST(ConfigTest, EveryHeartbeatKeyOfTheDocsIsAccepted) {
  std::ifstream in(std::string(KONSEKI_SOURCE_DIR) + "/docs/heartbeat.md");
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::set<std::string> keys;
  std::regex row(R"(\n\| `heartbeat\.([a-z_]+)`([^|]*)\|)");
  for (std::sregex_iterator it(doc.begin(), doc.end(), row), end; it != end; ++it) {
    keys.insert((*it)[1].str());
    std::string more = (*it)[2].str();  // " / `learning_secs`"
    std::regex other(R"(`([a-z_]+)`)");
    for (std::sregex_iterator o(more.begin(), more.end(), other); o != end; ++o) {
      keys.insert((*o)[1].str());
    }
  }
  ASSERT_GE(keys.size(), 20u) << "the table of docs/heartbeat.md was not found";
  for (const std::string& k : keys) {
    std::string value = "1";
    if (k == "expected_hosts") value = "[db1]";
    if (k == "overrides") value = "[{host_pattern: 'db-*', silence_after_secs: 60}]";
    if (k == "state_dir") value = "/var/lib/konseki/state";
    if (k == "new_host_alerts" || k == "enabled") value = "true";
    if (k == "cadence_quantile") value = "0.9";
    if (k == "ceiling_secs") value = "100000";
    auto c = ParseConfig("listen: [udp://127.0.0.1:1]\nheartbeat:\n  " + k + ": " + value + "\n",
                         "hb.yaml");
    EXPECT_TRUE(c.ok()) << k << ": " << c.status().ToString();
  }
}

TEST(ConfigTest, HeartbeatKeysReachTheTrackerOptions) {
  auto c = ParseConfig(R"(listen: [udp://127.0.0.1:1]
heartbeat:
  forget_after_secs: 600
  transient_host_secs: 1800
  max_hosts: 5000
  max_senders_per_host: 4
  learning_secs: 7200
  new_host_alerts: false
  suspend_max_secs: 86400
  overrides:
    - {host_pattern: "lab-*", silence_after_secs: 0}
    - {host: db1, silence_after_secs: 60}
)",
                       "hb.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const matchers::HeartbeatOptions& o = c->heartbeat.options;
  EXPECT_EQ(o.forget_after_secs, 600);
  EXPECT_EQ(o.transient_host_secs, 1800);
  EXPECT_EQ(o.max_hosts, 5000u);
  EXPECT_EQ(o.max_senders_per_host, 4u);
  EXPECT_EQ(o.learning_secs, 7200);
  EXPECT_FALSE(o.new_host_alerts);
  EXPECT_EQ(o.suspend_max_secs, 86400);
  ASSERT_EQ(o.overrides.size(), 2u);
  EXPECT_EQ(o.overrides[0].host_pattern, "lab-*");
  EXPECT_EQ(o.overrides[1].host, "db1");
  // Untouched keys keep the tracker's defaults.
  EXPECT_EQ(o.multiplier, matchers::HeartbeatOptions().multiplier);
  // The tracker's own checks run at parse time (so check-config sees them).
  auto bad = ParseConfig(
      "listen: [udp://127.0.0.1:1]\nheartbeat: {floor_secs: 500, ceiling_secs: 100}\n", "hb.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("hb.yaml:2"));
  // An unclosed class would be a literal '[' to fnmatch: never matching the
  // hosts the admin meant (prod18). Closed classes, escapes, "[]x]" are fine.
  const auto with_glob = [](const char* glob) {
    return ParseConfig(std::string("listen: [udp://127.0.0.1:1]\nheartbeat:\n  overrides:\n") +
                           "    - {host_pattern: '" + glob + "', silence_after_secs: 60}\n",
                       "hb.yaml");
  };
  for (const char* glob : {"[", "web[0-9", "db-[!a"}) {
    auto unclosed = with_glob(glob);
    ASSERT_FALSE(unclosed.ok()) << glob;
    EXPECT_THAT(unclosed.status().message(), HasSubstr("without its ']'")) << glob;
  }
  for (const char* glob : {"web[0-9]*", "lab-\\[x", "db[]x]", "[!a]*"}) {
    EXPECT_TRUE(with_glob(glob).ok()) << glob;
  }
}

TEST(ConfigTest, HeartbeatFloodKeysReachTheTrackerAndBadOnesNameTheKey) {
  auto c = ParseConfig(R"(listen: [udp://127.0.0.1:1]
heartbeat:
  flood_min_messages: 5000
  flood_window_secs: 30
  flood_multiplier: 20
  flood_alert_interval_secs: 600
  sequence_gap: 1000
  sequence_alert_interval_secs: 60
)",
                       "hb.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const matchers::HeartbeatOptions& o = c->heartbeat.options;
  EXPECT_EQ(o.flood_min_messages, 5000);
  EXPECT_EQ(o.flood_window_secs, 30);
  EXPECT_EQ(o.flood_multiplier, 20);
  EXPECT_EQ(o.flood_alert_interval_secs, 600);
  EXPECT_EQ(o.sequence_gap, 1000);
  EXPECT_EQ(o.sequence_alert_interval_secs, 60);
  EXPECT_EQ(
      ParseConfig("listen: [udp://127.0.0.1:1]\nheartbeat: {flood_min_messages: 0}\n", "hb.yaml")
          ->heartbeat.options.flood_min_messages,
      0);
  for (const std::string bad :
       {"flood_window_secs: 0", "flood_multiplier: 0.5", "flood_min_messages: -1",
        "flood_alert_interval_secs: -5", "flood_multiplier: lots", "sequence_gap: -1",
        "sequence_gap: 3000000000"}) {
    auto r = ParseConfig("listen: [udp://127.0.0.1:1]\nheartbeat:\n  " + bad + "\n", "hb.yaml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("hb.yaml:3"));
    EXPECT_THAT(r.status().message(), HasSubstr("heartbeat." + bad.substr(0, bad.find(':'))))
        << r.status().message();
  }
}

// What start-up would reject, check-config (which binds nothing) must too.
TEST(ConfigTest, RejectsWhatStartUpWouldReject) {
  ExpectRejected(
      {
          {"listen: [udp://127.0.0.1:1]\nmetrics: {listen: localhost}\n", "metrics.listen"},
          {"listen:\n  - tcp://0.0.0.0:514\n  - relp://0.0.0.0:514\n", "bad.yaml:3"},
          {"listen:\n  - tcp://0.0.0.0:514\n  - tcp://0.0.0.0:514\n", "line 2"},
          {"listen: [udp://127.0.0.1:1]\narchive: {dir: /a}\narchive: {dir: /b}\n", "given twice"},
          {"listen: [udp://127.0.0.1:1]\narchive: {dir: /a, dir: /b}\n", "given twice"},
          {"listen: [udp://127.0.0.1:1]\narchive: {dir: \"/var/log/k\\0/../../etc\"}\n",
           "NUL byte"},
      },
      "bad.yaml");
  // The same port on UDP and TCP is two sockets: fine.
  EXPECT_TRUE(ParseConfig("listen: [udp://0.0.0.0:514, tcp://0.0.0.0:514]\n", "ok.yaml").ok());
}

// A wildcard address takes its port on every address it covers (konseki's
// IPv6 sockets are dual-stack), and metrics.listen is a TCP socket too: the
// daemon could not bind both, so neither does check-config accept them.
TEST(ConfigTest, OverlappingListenAddressesAndTheMetricsPortAreRefused) {
  ExpectRejected(
      {
          {"listen:\n  - tcp://127.0.0.1:47712\n  - tcp://0.0.0.0:47712\nmetrics: {listen: ''}\n",
           "bad.yaml:3: key 'listen': tcp://0.0.0.0:47712 and tcp://127.0.0.1:47712 (line 2) "
           "cannot both bind TCP port 47712"},
          {"listen:\n  - udp://0.0.0.0:514\n  - udp://127.0.0.1:514\n", "bad.yaml:3"},
          {"listen:\n  - tls://[::]:6514\n  - relp://127.0.0.1:6514\ntls: {cert_file: /c, "
           "key_file: /k}\n",
           "bad.yaml:3"},
          {"listen:\n  - udp://[::1]:514\n  - udp://[0:0::1]:514\n", "bad.yaml:3"},
          {"listen:\n  - tcp://127.0.0.1:47710\nmetrics:\n  listen: 127.0.0.1:47710\n",
           "bad.yaml:4: key 'metrics.listen': 127.0.0.1:47710 is the TCP port of listener "
           "tcp://127.0.0.1:47710 (line 2)"},
          {"listen: [tcp://127.0.0.1:5514]\nmetrics: {listen: '0.0.0.0:5514'}\n",
           "key 'metrics.listen'"},
          {"listen: [relp://0.0.0.0:5514]\nmetrics: {listen: 'localhost:5514'}\n",
           "key 'metrics.listen'"},
          // Not given: the default 127.0.0.1:9514.
          {"listen: [tcp://127.0.0.1:9514]\n",
           "key 'metrics.listen': (default) 127.0.0.1:9514 is the TCP port"},
      },
      "bad.yaml");
  for (const char* fine : {
           "listen: [udp://0.0.0.0:514, tcp://127.0.0.1:514]\n",
           "listen: [tcp://127.0.0.1:514, tcp://127.0.0.2:514]\n",
           "listen: [tcp://0.0.0.0:514, 'tcp://[::1]:514']\n",
           "listen: [udp://127.0.0.1:9514]\n",
           "listen: [tcp://127.0.0.1:5514]\nmetrics: {listen: '127.0.0.2:5514'}\n",
           "listen: [tcp://127.0.0.1:5514]\nmetrics: {listen: ''}\n",
       }) {
    auto c = ParseConfig(fine, "ok.yaml");
    EXPECT_TRUE(c.ok()) << fine << c.status().ToString();
  }
}

// Port 0 binds a port the kernel picks, which no sender can know: refused
// at start and by check-config (not by ParseConfig: in-process tests bind it).
TEST(ConfigTest, ListenPortZeroIsRefusedNamingItsLine) {
  auto c = ParseConfig("listen:\n  - udp://127.0.0.1:514\n  - uri: tcp://127.0.0.1:0\n", "k.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const Status s = CheckListenPorts(*c);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("k.yaml:3: key 'listen': tcp://127.0.0.1:0: port 0", 0), 0u)
      << s.message();
  auto fine = ParseConfig("listen: [udp://127.0.0.1:514, tcp://127.0.0.1:6514]\n", "k.yaml");
  ASSERT_TRUE(fine.ok());
  EXPECT_TRUE(CheckListenPorts(*fine).ok());
}

TEST(ConfigTest, ListenEntriesAreParsedOnceIntoListenerSpecs) {
  auto c = ParseConfig(
      "listen:\n"
      "  - udp://127.0.0.1:5514\n"
      "  - uri: tcp://[::1]:6514\n"
      "    allow: [10.0.0.0/8]\n"
      "    rate_limit: {messages_per_sec: 50, burst: 200}\n",
      "k.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->listen.size(), 2u);
  const receiver::ListenerSpec& udp = c->listen[0];
  EXPECT_EQ(udp.address.transport, receiver::Transport::kUdp);
  EXPECT_EQ(udp.address.port, 5514);
  EXPECT_TRUE(udp.allow.allows_all());
  EXPECT_EQ(udp.rate_limit.messages_per_sec, 0);
  const receiver::ListenerSpec& tcp = c->listen[1];
  EXPECT_EQ(tcp.uri, "tcp://[::1]:6514");
  EXPECT_EQ(tcp.address.ToString(), "tcp://[::1]:6514");
  EXPECT_EQ(tcp.line, 3);
  EXPECT_TRUE(tcp.allow.Allows(*receiver::SenderAddress::Parse("10.1.2.3")));
  EXPECT_FALSE(tcp.allow.Allows(*receiver::SenderAddress::Parse("192.0.2.1")));
  EXPECT_EQ(tcp.rate_limit.messages_per_sec, 50);
  EXPECT_EQ(tcp.rate_limit.burst, 200);
}

TEST(ConfigTest, KeyLinesLocateStartUpErrors) {
  auto c = ParseConfig("listen:\n  - udp://127.0.0.1:1\narchive:\n  dir: /x\n", "k.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->Where("archive.dir"), "k.yaml:4: key 'archive.dir'");
  ASSERT_EQ(c->listen.size(), 1u);
  EXPECT_EQ(c->listen[0].line, 2);
  EXPECT_EQ(c->Where("alerts.file"), "k.yaml: key 'alerts.file'");
}

TEST(ConfigTest, CorrelationKeysFillTheEngineOptions) {
  auto c = ParseConfig(R"(listen: [udp://127.0.0.1:1]
correlation:
  learning_days: 2
  session_min_observed_secs: 60
  system_accounts: [svc-app]
  host_addresses: {web1: [192.0.2.10, '2001:db8::10']}
  max_keys: 5000
  max_keys_per_rule: 100
  overrides: {ssh.bruteforce.host: {window_secs: 300, count: 10},
              login.first_seen.network: {established_count: 0}}
)",
                       "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const matchers::CorrelatorOptions& o = c->correlation.options;
  EXPECT_EQ(o.learning_secs, 2 * 86400);
  EXPECT_EQ(o.session_min_observed_secs, 60);
  EXPECT_EQ(o.system_accounts, std::vector<std::string>{"svc-app"});
  ASSERT_EQ(o.host_addresses.count("web1"), 1u);
  EXPECT_EQ(o.host_addresses.at("web1").size(), 2u);
  EXPECT_EQ(o.max_keys, 5000u);
  EXPECT_EQ(o.max_keys_per_rule, 100u);
  ASSERT_EQ(o.overrides.count("ssh.bruteforce.host"), 1u);
  EXPECT_EQ(o.overrides.at("ssh.bruteforce.host").window_secs, 300);
  EXPECT_EQ(o.overrides.at("ssh.bruteforce.host").count, 10);
  EXPECT_EQ(o.overrides.at("ssh.bruteforce.host").quiet_secs, -1);
  EXPECT_EQ(o.overrides.at("ssh.bruteforce.host").established_count, -1);
  EXPECT_EQ(o.overrides.at("login.first_seen.network").established_count, 0);
  // Defaults come from the engine itself.
  auto d = ParseConfig("listen: [udp://127.0.0.1:1]\n", "d.yaml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->correlation.options.learning_secs, 14 * 86400);
  EXPECT_TRUE(d->correlation.enabled);
}

TEST(ConfigTest, NetworkKeysFillTheSetsAndBeaconOptions) {
  auto c = ParseConfig(R"(listen: [udp://127.0.0.1:1]
network:
  internal: [10.0.0.0/8, 'fd00::/8', '*.corp.example']
  no_outbound: [db1, 'db-*', 10.0.5.0/24]
  drop_severity: {inbound: low, internal: none}
  beacon:
    allow: [192.0.2.123, '*.debian.org', '123']
    score: 0.9
    min_connections: 30
    window_secs: 43200
    max_pairs: 5000
    burst_secs: 1
    weights: {interval: 0.6, count: 0.2, size: 0.2}
)",
                       "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const matchers::CorrelatorOptions& o = c->correlation.options;
  EXPECT_EQ(o.set_values.at("internal"),
            (std::vector<std::string>{"10.0.0.0/8", "fd00::/8", "*.corp.example"}));
  EXPECT_EQ(o.set_values.at("no_outbound").size(), 3u);
  EXPECT_EQ(o.set_values.at("beacon_allow").size(), 3u);
  EXPECT_EQ(o.drop_severity.at("inbound"), "low");
  EXPECT_EQ(o.drop_severity.at("internal"), "none");
  EXPECT_DOUBLE_EQ(o.beacon_score, 0.9);
  EXPECT_DOUBLE_EQ(o.beacon_min_connections, 30);
  EXPECT_DOUBLE_EQ(o.beacon_window_secs, 43200);
  EXPECT_EQ(o.beacon_max_pairs, 5000u);
  EXPECT_DOUBLE_EQ(o.beacon_burst_secs, 1);
  EXPECT_DOUBLE_EQ(o.beacon_weights.interval, 0.6);
}

TEST(ConfigTest, BadNetworkValuesNameTheKey) {
  for (const char* yaml : {
           "listen: [udp://127.0.0.1:1]\nnetwork: {internl: [10.0.0.0/8]}\n",
           "listen: [udp://127.0.0.1:1]\nnetwork: {internal: [10.0.0.1/8]}\n",
           "listen: [udp://127.0.0.1:1]\nnetwork: {no_outbound: ['db 1']}\n",
           "listen: [udp://127.0.0.1:1]\nnetwork: {drop_severity: {outbound: loud}}\n",
           "listen: [udp://127.0.0.1:1]\nnetwork: {drop_severity: {sideways: high}}\n",
           "listen: [udp://127.0.0.1:1]\nnetwork: {beacon: {score: 1.5}}\n",
           "listen: [udp://127.0.0.1:1]\nnetwork: {beacon: {alow: [x]}}\n",
           "listen: [udp://127.0.0.1:1]\nnetwork: {beacon: {weights: {interval: 0, count: 0}}}\n",
       }) {
    auto c = ParseConfig(yaml, "bad.yaml");
    ASSERT_FALSE(c.ok()) << yaml;
    EXPECT_THAT(c.status().message(), HasSubstr("bad.yaml:2")) << yaml;
    EXPECT_THAT(c.status().message(), HasSubstr("network")) << yaml;
  }
}

// A site that works nights says so: its shifts, days and holidays replace
// the default Monday-to-Friday 07:00-21:00.
TEST(ConfigTest, WorkingHoursReplaceTheDefaultDaysShiftsAndHolidays) {
  auto d = ParseConfig("listen: [udp://127.0.0.1:1]\n", "d.yaml");
  ASSERT_TRUE(d.ok());
  const matchers::WorkHours& def = d->correlation.options.work_hours;
  EXPECT_EQ(def.days, 0b0111110);
  ASSERT_EQ(def.shifts.size(), 1u);
  EXPECT_EQ(def.shifts[0].start_min, 7 * 60);
  EXPECT_EQ(def.shifts[0].end_min, 21 * 60);
  EXPECT_TRUE(def.holidays.empty());
  auto c = ParseConfig(R"(listen: [udp://127.0.0.1:1]
correlation:
  working_hours:
    days: [mon, Tuesday, wed, thu, fri, sat]
    hours: ["08:30-17:15", "22:00-06:00"]
    holidays: [2027-01-01, 2026-12-31, 2027-01-01]
)",
                       "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const matchers::WorkHours& w = c->correlation.options.work_hours;
  EXPECT_EQ(w.days, 0b1111110);
  ASSERT_EQ(w.shifts.size(), 2u);
  EXPECT_EQ(w.shifts[0].start_min, 8 * 60 + 30);
  EXPECT_EQ(w.shifts[0].end_min, 17 * 60 + 15);
  EXPECT_EQ(w.shifts[1].start_min, 22 * 60);
  EXPECT_EQ(w.shifts[1].end_min, 6 * 60);
  EXPECT_EQ(w.holidays, (std::vector<int32_t>{20818, 20819}));  // sorted, once each
  auto always = ParseConfig(
      "listen: [udp://127.0.0.1:1]\ncorrelation: {working_hours: {days: [sun, mon, tue, wed, "
      "thu, fri, sat], hours: ['00:00-24:00']}}\n",
      "a.yaml");
  ASSERT_TRUE(always.ok()) << always.status().ToString();
  EXPECT_EQ(always->correlation.options.work_hours.days, 0b1111111);
  EXPECT_EQ(always->correlation.options.work_hours.shifts[0].end_min, 24 * 60);
}

TEST(ConfigTest, BadCorrelationValuesNameTheKey) {
  for (const char* yaml : {
           "listen: [udp://127.0.0.1:1]\ncorrelation: {learning_days: forever}\n",
           "listen: [udp://127.0.0.1:1]\ncorrelation: {host_addresses: {web1: [not-an-ip]}}\n",
           "listen: [udp://127.0.0.1:1]\ncorrelation: {overrides: {x: {count: 0}}}\n",
           "listen: [udp://127.0.0.1:1]\ncorrelation: {overrides: {x: {windo_secs: 1}}}\n",
           "listen: [udp://127.0.0.1:1]\ncorrelation: {max_key: 1}\n",
           "listen: [udp://127.0.0.1:1]\ncorrelation: {working_hours: {days: [mo]}}\n",
           "listen: [udp://127.0.0.1:1]\ncorrelation: {working_hours: {hours: ['7-21']}}\n",
           "listen: [udp://127.0.0.1:1]\ncorrelation: {working_hours: {hours: ['07:00-24:30']}}\n",
           "listen: [udp://127.0.0.1:1]\ncorrelation: {working_hours: {hours: []}}\n",
           "listen: [udp://127.0.0.1:1]\ncorrelation: {working_hours: {holidays: [2026-02-29]}}\n",
           "listen: [udp://127.0.0.1:1]\ncorrelation: {working_hours: {weekend: [sat]}}\n",
           "listen: [udp://127.0.0.1:1]\ncorrelation: {working_hours: nights}\n",
       }) {
    auto c = ParseConfig(yaml, "bad.yaml");
    ASSERT_FALSE(c.ok()) << yaml;
    EXPECT_THAT(c.status().message(), HasSubstr("bad.yaml:2")) << yaml;
    EXPECT_THAT(c.status().message(), HasSubstr("correlation")) << yaml;
  }
}

TEST(ConfigTest, MissingFileIsAClearError) {
  auto c = LoadConfigFile("/nonexistent/konseki.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/konseki.yaml"));
}

// A folder given as the config (`konseki check-config /etc/konseki`, or the
// file replaced by a folder before a SIGHUP) says so; it was read as an empty
// file: "key 'listen': at least one listener is needed".
TEST(ConfigTest, AFolderIsNotAnEmptyConfig) {
  const std::string dir = ::testing::TempDir();
  auto c = LoadConfigFile(dir);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("cannot read config file " + dir));
  EXPECT_THAT(c.status().message(), HasSubstr("directory"));
  std::string warning;
  auto console = LoadConsoleConfig(dir, &warning);
  ASSERT_FALSE(console.ok());
  EXPECT_THAT(console.status().message(), HasSubstr("directory"));
}

// The console needs three keys of the daemon's config: a typo elsewhere
// (an edit in progress while the daemon runs on what it loaded) is a
// warning, and the three keys are read as written; a typo that may be in
// one of them is still an error.
TEST(ConfigTest, TheConsoleReadsItsKeysPastAnErrorElsewhere) {
  testing::TempDir dir;
  const std::string head =
      "listen: [udp://127.0.0.1:5514]\narchive:\n  dir: /srv/archive\n"
      "alerts:\n  file: /srv/alerts.jsonl\nheartbeat:\n  state_dir: /srv/state\n";
  std::string warning;
  auto fine = LoadConsoleConfig(dir.Write("ok.yaml", head), &warning);
  ASSERT_TRUE(fine.ok()) << fine.status().ToString();
  EXPECT_EQ(warning, "");

  for (const std::string& text :
       {std::string("listen: [udp://127.0.0.1:5514]\narchive:\n  dir: /srv/archive\n"
                    "  sync: intervall\nalerts:\n  file: /srv/alerts.jsonl\n"
                    "heartbeat:\n  state_dir: /srv/state\n"),
        head + "udpp: {}\n", head + "workers: many\n",
        head + "metrics: {listen: 127.0.0.1:5514:1}\n"}) {
    const std::string path = dir.Write("typo.yaml", text);
    ASSERT_FALSE(LoadConfigFile(path).ok()) << text;
    auto c = LoadConsoleConfig(path, &warning);
    ASSERT_TRUE(c.ok()) << text << c.status().ToString();
    EXPECT_THAT(warning, HasSubstr(path + ":")) << text;
    EXPECT_EQ(c->archive.dir, "/srv/archive");
    EXPECT_EQ(c->alerts_file, "/srv/alerts.jsonl");
    EXPECT_EQ(HeartbeatStateDir(*c), "/srv/state");
    EXPECT_EQ(c->source, path);
  }
  EXPECT_THAT(warning, HasSubstr(":8: key 'metrics.listen'"));

  // Errors that touch the three keys, or may: still errors.
  for (const std::string& bad : {
           std::string("listen: [udp://127.0.0.1:1]\nalerts: {fiel: /srv/a.jsonl}\n"),
           std::string("listen: [udp://127.0.0.1:1]\nalert: {file: /srv/a.jsonl}\n"),
           std::string("listen: [udp://127.0.0.1:1]\narchive: {dir: [a, b]}\n"),
           std::string("listen: [udp://127.0.0.1:1]\narchive: {dir: /a}\narchive: {dir: /b}\n"),
           std::string("listen: [udp://127.0.0.1:1]\nheartbeat: {state_dri: /srv/s}\n"),
           std::string("listen: [udp://127.0.0.1:1]\narchive: {dir: /a\n"),
       }) {
    const std::string path = dir.Write("bad.yaml", bad);
    auto c = LoadConsoleConfig(path, &warning);
    EXPECT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().message(), LoadConfigFile(path).status().message());
  }
}

TEST(ConfigTest, TimezoneOffsets) {
  EXPECT_EQ(*ResolveUtcOffsetSecs("+09:00", 0), 9 * 3600);
  EXPECT_EQ(*ResolveUtcOffsetSecs("-05:30", 0), -(5 * 3600 + 30 * 60));
  EXPECT_EQ(*ResolveUtcOffsetSecs("UTC", 0), 0);
  EXPECT_FALSE(ResolveUtcOffsetSecs("+25:00", 0).ok());
}

constexpr char kListen[] = "listen: [udp://127.0.0.1:5514]\n";

TEST(ConfigTest, ArchiveSealRetentionKeys) {
  auto c = ParseConfig(R"(
listen: [udp://127.0.0.1:5514]
archive:
  dir: /var/log/konseki
  seal: true
  seal_epoch_secs: 300
  compress_after_days: 2
  retention_days: 90
  low_space: 10GiB
)",
                       "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->archive_seal.enabled);
  EXPECT_EQ(c->archive_seal.epoch_secs, 300);
  EXPECT_EQ(c->archive_retention.compress_after_days, 2);
  EXPECT_EQ(c->archive_retention.retention_days, 90);
  EXPECT_EQ(c->archive_retention.low_space_bytes, 10ull << 30);
  auto d = ParseConfig(kListen + std::string("archive: {dir: /a}\n"), "d.yaml");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->archive_seal.enabled);
  EXPECT_EQ(d->archive_retention.retention_days, 0);
}

TEST(ConfigTest, BadArchiveSealRetentionValuesAreErrors) {
  auto epoch =
      ParseConfig(kListen + std::string("archive: {dir: /a, seal_epoch_secs: 1000}\n"), "t.yaml");
  ASSERT_FALSE(epoch.ok());
  EXPECT_NE(epoch.status().message().find("archive.seal_epoch_secs"), std::string::npos);
  auto order = ParseConfig(
      kListen + std::string("archive: {dir: /a, compress_after_days: 9, retention_days: 9}\n"),
      "t.yaml");
  ASSERT_FALSE(order.ok());
  EXPECT_NE(order.status().message().find("retention_days"), std::string::npos);
  auto space =
      ParseConfig(kListen + std::string("archive: {dir: /a, low_space: lots}\n"), "t.yaml");
  ASSERT_FALSE(space.ok());
  EXPECT_NE(space.status().message().find("archive.low_space"), std::string::npos);
  EXPECT_FALSE(
      ParseConfig(kListen + std::string("archive: {dir: /a, low_space: 120%}\n"), "t.yaml").ok());
}

// SIGHUP applies rules: only: the other sections whose content changed
// in the file are named (listen added, heartbeat edited), rules: and
// formatting or comments are not.
TEST(ConfigTest, SectionsNeedingRestartNamesTheEditedSectionsButRules) {
  const std::string running =
      "listen: [tcp://127.0.0.1:5514]\n"
      "archive: {dir: /var/lib/konseki}\n"
      "rules:\n  disable: [a.b]\n";
  const std::string file =
      "# edited\n"
      "listen:\n  - tcp://127.0.0.1:5514\n  - udp://127.0.0.1:5514\n"
      "archive:\n  dir: /var/lib/konseki\n"
      "heartbeat: {silence_after_secs: 60}\n"
      "rules:\n  disable: [a.b, c.d]\n";
  EXPECT_THAT(SectionsNeedingRestart(running, file), ::testing::ElementsAre("heartbeat", "listen"));
  EXPECT_TRUE(SectionsNeedingRestart(running, running + "# a comment\n").empty());
  EXPECT_TRUE(SectionsNeedingRestart(running, "listen: [").empty());  // the parse says it
  auto c = ParseConfig(running, "t.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->text, running);
}

}  // namespace
}  // namespace konseki::app
