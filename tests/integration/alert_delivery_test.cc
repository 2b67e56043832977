// Alert delivery end to end: a brute-force storm reaches the alert file in
// full, while the notifying sink (a program run per alert, as a mail command
// would be) gets a throttled handful, and an SSH login gets through its
// filter.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/integration/konseki_process.h"

namespace konseki::testing {
namespace {

size_t CountLines(const std::string& text, const std::string& needle) {
  size_t n = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos;
  return n;
}

TEST(AlertDeliveryTest, StormIsThrottledForPeopleButKeptInTheFile) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string alerts = dir.File("alerts.jsonl");
  const std::string mailbox = dir.File("mailbox");
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tcp://127.0.0.1:0]\n"
                      "archive: {dir: " +
                          dir.File("archive") +
                          "}\n"
                          "metrics: {listen: ''}\nworkers: 2\n"
                          "alerts:\n"
                          "  file: " +
                          alerts +
                          "\n"
                          "  stdout: false\n"
                          "  throttle: {window_secs: 600, max_per_rule_host: 3, max_per_rule: 10}\n"
                          "  exec:\n"
                          "    - name: mail\n"
                          "      argv: ['/bin/sh', '-c', 'cat >> " +
                          mailbox +
                          "']\n"
                          "      signs: ['ssh.*', 'sudo.*']\n",
                      &err))
      << err;
  int fd = ConnectTcp(k.Port("tcp"));
  ASSERT_GE(fd, 0);
  // 200 alerts of one rule on one host. (SSH failures are inputs of
  // correlations only: a storm of them is one ssh.bruteforce.)
  std::string storm;
  for (int i = 0; i < 200; ++i) {
    storm +=
        "<86>Nov 23 08:00:00 bastion sudo:   mallory : user NOT in sudoers ; TTY=pts/1 ; "
        "PWD=/home/mallory ; USER=root ; COMMAND=/bin/cat /etc/shadow" +
        std::to_string(i) + "\n";
  }
  storm +=
      "<86>Nov 23 08:01:00 bastion sshd[78]: Accepted publickey for alice from 192.0.2.44 port "
      "51000 ssh2: ED25519 SHA256:AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg\n"
      "<38>Nov 23 08:01:01 bastion in.telnetd[9]: refused connect from 203.0.113.3\n";
  ASSERT_TRUE(SendAll(fd, storm));
  close(fd);

  // The rule's 200 (sudo.not_in_sudoers.repeated, the correlation of three
  // refusals, is one alert more, throttled as a rule of its own).
  ASSERT_TRUE(WaitFor([&] {
    return CountLines(ReadFile(alerts), "\"rule\":\"sudo.not_in_sudoers\"") == 200;
  })) << CountLines(ReadFile(alerts), "sudo.not_in_sudoers");
  ASSERT_TRUE(WaitFor([&] { return CountLines(ReadFile(mailbox), "\"sign\":\"ssh.login\"") == 1; }))
      << ReadFile(mailbox);
  const std::string mail = ReadFile(mailbox);
  // Up to 4 exec children append concurrently: the login's mail may land
  // before the last throttled-in storm mail.
  EXPECT_TRUE(WaitFor([&] {
    return CountLines(ReadFile(mailbox), "\"rule\":\"sudo.not_in_sudoers\"") == 3;
  })) << ReadFile(mailbox);
  EXPECT_EQ(CountLines(mail, "tcpd.refused"), 0u) << "filtered out by signs: ['ssh.*']";
  EXPECT_THAT(mail, ::testing::HasSubstr("alice"));
  // The last line of the storm: written after the mail above may have gone.
  EXPECT_TRUE(WaitFor([&] { return CountLines(ReadFile(alerts), "tcpd.refused") == 1; }))
      << ReadFile(alerts);
}

// A notifying sink that gives alerts up (a pager program that fails) is
// said: one alert.delivery_failed to the file and to the other sinks, a
// rate-limited line in konseki's log, the drops in the status's Drops; and
// alert.delivery_resumed once it delivers again.
TEST(AlertDeliveryTest, ASinkGivingAlertsUpIsAnAlertToTheOthersAndALogLine) {
  if (!HaveProgram(KonsekiBinary())) GTEST_SKIP() << "konseki binary not built";
  TempDir dir;
  const std::string alerts = dir.File("alerts.jsonl");
  const std::string mailbox = dir.File("mailbox");
  const std::string broken = dir.File("pager-broken");
  std::ofstream(broken) << "x";
  Konseki k;
  std::string err;
  ASSERT_TRUE(k.Start(dir,
                      "listen: [tcp://127.0.0.1:0]\n"
                      "archive: {dir: " +
                          dir.File("archive") +
                          "}\n"
                          "metrics: {listen: 127.0.0.1:0}\nworkers: 1\n"
                          "alerts:\n"
                          "  file: " +
                          alerts +
                          "\n"
                          "  stdout: false\n"
                          "  exec:\n"
                          "    - name: pager\n"
                          "      argv: ['/bin/sh', '-c', 'cat >/dev/null; test ! -e " +
                          broken +
                          "']\n"
                          "    - name: mail\n"
                          "      argv: ['/bin/sh', '-c', 'cat >> " +
                          mailbox + "']\n",
                      &err))
      << err;
  auto send = [&](const std::string& who) {
    int fd = ConnectTcp(k.Port("tcp"));
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, "<86>Nov 23 08:00:00 bastion sudo:   " + who +
                                " : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/" + who +
                                " ; USER=root ; COMMAND=/bin/cat /etc/shadow\n"));
    close(fd);
  };
  send("mallory");
  send("trudy");
  ASSERT_TRUE(WaitFor([&] {
    return CountLines(ReadFile(mailbox), "\"sign\":\"alert.delivery_failed\"") == 1 &&
           CountLines(ReadFile(mailbox), "\"sign\":\"sudo.violation\"") == 2;
  })) << ReadFile(mailbox)
      << k.process().Stderr();
  EXPECT_EQ(CountLines(ReadFile(alerts), "\"sign\":\"alert.delivery_failed\""), 1u)
      << ReadFile(alerts);
  EXPECT_THAT(ReadFile(alerts), ::testing::HasSubstr("\"sink\":\"pager\""));
  EXPECT_TRUE(WaitFor([&] {
    return k.process().Stderr().find("alert sink pager: delivery attempt failed (exit_status)") !=
           std::string::npos;
  })) << k.process().Stderr();

  ASSERT_TRUE(WaitFor([&] {
    return SumMetric(FetchMetrics(k.MetricsPort()), "konseki_alert_delivery_dropped_total",
                     "sink=\"pager\"") == 2;
  })) << FetchMetrics(k.MetricsPort());
  std::remove(broken.c_str());  // the pager works again
  send("eve");
  ASSERT_TRUE(WaitFor([&] {
    return CountLines(ReadFile(alerts), "\"sign\":\"alert.delivery_resumed\"") == 1;
  })) << ReadFile(alerts);
  // Both of the pager's alerts were given up (exit status: not retried).
  EXPECT_THAT(ReadFile(alerts), ::testing::HasSubstr("\"dropped\":2"));
  EXPECT_EQ(CountLines(ReadFile(alerts), "\"sign\":\"alert.delivery_failed\""), 1u);
}

}  // namespace
}  // namespace konseki::testing
