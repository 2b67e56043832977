#include "app/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
  EXPECT_EQ(c->archive_dir, "./var/archive");
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
  EXPECT_EQ(c->archive_dir, "/srv/konseki");
  EXPECT_EQ(c->archive_sync, "batch");
  EXPECT_EQ(c->alerts_file, "/var/log/konseki/alerts.jsonl");
  EXPECT_FALSE(c->alerts_stdout);
  EXPECT_EQ(c->workers, 3u);
  EXPECT_EQ(c->heartbeat.silence_after_secs, 90);
  EXPECT_EQ(c->heartbeat.expected_hosts, (std::vector<std::string>{"db1", "web1"}));
  ASSERT_EQ(c->heartbeat.overrides.size(), 1u);
  EXPECT_EQ(c->heartbeat.overrides[0].host_pattern, "batch-*");
  EXPECT_EQ(c->heartbeat.overrides[0].silence_after_secs, 7200);
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
  EXPECT_EQ(c->alerts_throttle.window_secs, 300);
  EXPECT_EQ(c->alerts_throttle.max_per_rule_host, 2);
  ASSERT_EQ(c->alerts_syslog.size(), 1u);
  EXPECT_EQ(c->alerts_syslog[0].port, 6514);
  EXPECT_EQ(c->alerts_syslog[0].transport, "tcp");
  EXPECT_EQ(c->alerts_syslog[0].filter.min_severity, "high");
  ASSERT_EQ(c->alerts_webhook.size(), 1u);
  EXPECT_EQ(c->alerts_webhook[0].headers[0].second, "Bearer x");
  ASSERT_EQ(c->alerts_exec.size(), 1u);
  EXPECT_EQ(c->alerts_exec[0].argv.size(), 4u);
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

TEST(ConfigTest, BadValuesAreErrorsNotDefaults) {
  struct Case {
    const char* yaml;
    const char* expect;
  } cases[] = {
      {"listen: [udp://127.0.0.1:1]\nworkers: many\n", "workers"},
      {"listen: [udp://127.0.0.1:1]\nworkers: -1\n", "out of range"},
      {"listen: [udp://127.0.0.1:1]\narchive: {sync: sometimes}\n", "none, interval, batch"},
      {"listen: [udp://127.0.0.1:1]\nalerts: {stdout: maybe}\n", "true or false"},
      {"listen: [ftp://127.0.0.1:1]\n", "listen"},
      {"listen: [tcp://localhost:514]\n", "listen"},
      {"listen: udp://127.0.0.1:1\n", "expected a list"},
      {"listen: [udp://127.0.0.1:1]\nparser: {timezone: Mars/Olympus}\n", "timezone"},
      {"listen: [udp://127.0.0.1:1]\nheartbeat: {overrides: [{host: a}]}\n", "silence_after_secs"},
      {"archive: {dir: x}\n", "at least one listener"},
      {"listen: [udp://127.0.0.1:1\n", "YAML syntax error"},
  };
  for (const Case& tc : cases) {
    auto c = ParseConfig(tc.yaml, "bad.yaml");
    ASSERT_FALSE(c.ok()) << tc.yaml;
    EXPECT_THAT(c.status().message(), HasSubstr(tc.expect)) << tc.yaml;
    EXPECT_THAT(c.status().message(), HasSubstr("bad.yaml")) << tc.yaml;
  }
}

TEST(ConfigTest, MissingFileIsAClearError) {
  auto c = LoadConfigFile("/nonexistent/konseki.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/konseki.yaml"));
}

TEST(ConfigTest, TimezoneOffsets) {
  EXPECT_EQ(*ResolveUtcOffsetSecs("+09:00", 0), 9 * 3600);
  EXPECT_EQ(*ResolveUtcOffsetSecs("-05:30", 0), -(5 * 3600 + 30 * 60));
  EXPECT_EQ(*ResolveUtcOffsetSecs("UTC", 0), 0);
  EXPECT_FALSE(ResolveUtcOffsetSecs("+25:00", 0).ok());
}

}  // namespace
}  // namespace konseki::app
