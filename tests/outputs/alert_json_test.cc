#include "outputs/alert_json.h"

#include <gtest/gtest.h>
#include <libfastjson/json.h>

#include <memory>
#include <string>

namespace konseki::outputs {
namespace {

struct Put {
  void operator()(fjson_object* o) const { fjson_object_put(o); }
};
using Json = std::unique_ptr<fjson_object, Put>;

Json Parse(const std::string& text) { return Json(fjson_tokener_parse(text.c_str())); }

std::string Get(fjson_object* o, const char* key) {
  fjson_object* v = nullptr;
  if (!fjson_object_object_get_ex(o, key, &v)) return "<missing>";
  return std::string(fjson_object_get_string(v), fjson_object_get_string_len(v));
}

// Strict check that the bytes are UTF-8 (independent of the code under test).
bool IsValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      unsigned char d = s[i + k];
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

Alert Sample() {
  Alert a;
  a.time = TimePoint(std::chrono::seconds(1'700'000'000) + std::chrono::microseconds(42));
  a.received = TimePoint(std::chrono::seconds(1'700'000'001));
  a.host = "web01";
  a.sender = "192.0.2.7";
  a.rule = "ssh.auth_failure.password";
  a.sign = "ssh.auth_failure";
  a.severity = Severity::kHigh;
  a.title = "SSH password failure";
  a.program = "sshd";
  a.pid = "4242";
  a.fields = {{"user", "root"}, {"src_ip", "198.51.100.9"}};
  a.message = "<38>Nov 14 22:13:20 web01 sshd[4242]: Failed password for root";
  return a;
}

TEST(AlertJsonTest, AllFieldsRoundTrip) {
  Alert a = Sample();
  std::string text = AlertToJson(a);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(text.find("\": \""), std::string::npos) << "not plain: " << text;
  EXPECT_EQ(text.find("\", \""), std::string::npos) << "not plain: " << text;
  Json j = Parse(text);
  ASSERT_TRUE(j) << text;
  EXPECT_EQ(Get(j.get(), "time"), "2023-11-14T22:13:20.000042Z");
  EXPECT_EQ(Get(j.get(), "received"), "2023-11-14T22:13:21.000000Z");
  EXPECT_EQ(Get(j.get(), "host"), a.host);
  EXPECT_EQ(Get(j.get(), "sender"), a.sender);
  EXPECT_EQ(Get(j.get(), "rule"), a.rule);
  EXPECT_EQ(Get(j.get(), "sign"), a.sign);
  EXPECT_EQ(Get(j.get(), "severity"), "high");
  EXPECT_EQ(Get(j.get(), "title"), a.title);
  EXPECT_EQ(Get(j.get(), "program"), a.program);
  fjson_object* pid = nullptr;
  ASSERT_TRUE(fjson_object_object_get_ex(j.get(), "pid", &pid));
  EXPECT_TRUE(fjson_object_is_type(pid, fjson_type_int));  // "4242" is a number
  EXPECT_EQ(fjson_object_get_int64(pid), std::stoll(a.pid));
  EXPECT_EQ(Get(j.get(), "message"), a.message);
  fjson_object* fields = nullptr;
  ASSERT_TRUE(fjson_object_object_get_ex(j.get(), "fields", &fields));
  ASSERT_TRUE(fjson_object_is_type(fields, fjson_type_object));
  EXPECT_EQ(fjson_object_object_length(fields), 2);
  EXPECT_EQ(Get(fields, "user"), "root");
  EXPECT_EQ(Get(fields, "src_ip"), "198.51.100.9");
}

TEST(AlertJsonTest, MembersLocateEachLineInTheArchiveOnlyWhenPresent) {
  Alert a = Sample();
  EXPECT_EQ(AlertToJson(a).find("members"), std::string::npos);
  a.members = {{"web01", TimePoint(std::chrono::seconds(1'700'000'000))},
               {"Db/1", TimePoint(std::chrono::seconds(1'700'086'400))}};
  Json j = Parse(AlertToJson(a));
  ASSERT_TRUE(j);
  fjson_object* members = nullptr;
  ASSERT_TRUE(fjson_object_object_get_ex(j.get(), "members", &members));
  ASSERT_EQ(fjson_object_array_length(members), 2u);
  fjson_object* first = fjson_object_array_get_idx(members, 0);
  EXPECT_EQ(Get(first, "host"), "web01");
  EXPECT_EQ(Get(first, "file"), "web01/2023-11-14.log");
  EXPECT_EQ(Get(first, "received"), "2023-11-14T22:13:20.000000Z");
  // The folder is the archive's sanitized host name.
  EXPECT_EQ(Get(fjson_object_array_get_idx(members, 1), "file"), "db%2f1/2023-11-15.log");
}

// An alert raised when its wait for an answer ended names the line that
// caused it as its origin, and when the wait ended; one raised on its own
// line has neither key.
TEST(AlertJsonTest, AWaitedAlertNamesItsOriginLineAndWhenItWasDecided) {
  Alert a = Sample();
  std::string plain = AlertToJson(a);
  EXPECT_EQ(plain.find("\"origin\""), std::string::npos) << plain;
  EXPECT_EQ(plain.find("\"decided\""), std::string::npos) << plain;
  a.decided = TimePoint(std::chrono::seconds(1'700'000'061));
  a.origin_seq = 12;  // test-rules' own: not written
  const std::string text = AlertToJson(a);
  EXPECT_EQ(text.find("seq"), std::string::npos) << text;
  Json j = Parse(text);
  ASSERT_TRUE(j) << text;
  EXPECT_EQ(Get(j.get(), "decided"), "2023-11-14T22:14:21.000000Z");
  fjson_object* origin = nullptr;
  ASSERT_TRUE(fjson_object_object_get_ex(j.get(), "origin", &origin)) << text;
  ASSERT_TRUE(fjson_object_is_type(origin, fjson_type_object));
  EXPECT_EQ(Get(origin, "host"), "web01");
  EXPECT_EQ(Get(origin, "time"), "2023-11-14T22:13:20.000042Z");
  EXPECT_EQ(Get(origin, "received"), "2023-11-14T22:13:21.000000Z");
  EXPECT_EQ(Get(origin, "message"), a.message);
  // The alert's own keys stay the line's.
  EXPECT_EQ(Get(j.get(), "received"), "2023-11-14T22:13:21.000000Z");
}

// A host past archive.max_hosts has no folder: its line is in the overflow
// folder of the worker that wrote it, and that is the file named.
TEST(AlertJsonTest, AMemberInAnOverflowFolderNamesThatFile) {
  Alert a = Sample();
  a.members = {{"late1", TimePoint(std::chrono::seconds(1'700'000'000)), 3},
               {"web01", TimePoint(std::chrono::seconds(1'700'000'000))}};
  Json j = Parse(AlertToJson(a));
  ASSERT_TRUE(j);
  fjson_object* members = nullptr;
  ASSERT_TRUE(fjson_object_object_get_ex(j.get(), "members", &members));
  ASSERT_EQ(fjson_object_array_length(members), 2u);
  EXPECT_EQ(Get(fjson_object_array_get_idx(members, 0), "host"), "late1");
  EXPECT_EQ(Get(fjson_object_array_get_idx(members, 0), "file"), "%overflow-3/2023-11-14.log");
  EXPECT_EQ(Get(fjson_object_array_get_idx(members, 1), "file"), "web01/2023-11-14.log");
}

TEST(AlertJsonTest, RepeatedFieldNameKeepsTheLastValue) {
  Alert a = Sample();
  a.fields = {{"user", "first"}, {"port", "22"}, {"user", "second"}};
  Json j = Parse(AlertToJson(a));
  ASSERT_TRUE(j);
  fjson_object* fields = nullptr;
  ASSERT_TRUE(fjson_object_object_get_ex(j.get(), "fields", &fields));
  EXPECT_EQ(fjson_object_object_length(fields), 2);
  EXPECT_EQ(Get(fields, "user"), "second");
  fjson_object* port = nullptr;
  ASSERT_TRUE(fjson_object_object_get_ex(fields, "port", &port));
  EXPECT_EQ(fjson_object_get_int64(port), 22);
}

TEST(AlertJsonTest, EmptyAlertStillHasEveryField) {
  Json j = Parse(AlertToJson(Alert()));
  ASSERT_TRUE(j);
  for (const char* k : {"time", "received", "host", "sender", "rule", "sign", "severity", "title",
                        "program", "message"}) {
    EXPECT_NE(Get(j.get(), k), "<missing>") << k;
  }
  EXPECT_EQ(Get(j.get(), "severity"), "medium");
  // No process id: no pid key at all (never "pid":"").
  EXPECT_EQ(Get(j.get(), "pid"), "<missing>");
  EXPECT_EQ(Get(j.get(), "procid"), "<missing>");
}

// prod19 finding 3: "pid" was 811 for "sshd[811]:" but "" for "sshd:" and
// RFC 5424's "-": a SIEM that mapped it as a number from the first alert
// then rejects the others. Each key now has one type.
TEST(AlertJsonTest, PidIsAlwaysANumberOrAbsent) {
  Alert a = Sample();
  struct Case {
    const char* pid;
    fjson_type pid_type;  // fjson_type_null: no "pid" key
    const char* procid;   // nullptr: no "procid" key
  };
  for (const Case& c :
       {Case{"811", fjson_type_int, nullptr}, Case{"", fjson_type_null, nullptr},
        Case{"-", fjson_type_null, nullptr}, Case{"worker.1", fjson_type_null, "worker.1"},
        Case{"0022", fjson_type_null, "0022"}, Case{"-1", fjson_type_null, "-1"},
        Case{"1234567890123456789", fjson_type_null, "1234567890123456789"}}) {
    a.pid = c.pid;
    const std::string text = AlertToJson(a);
    Json j = Parse(text);
    ASSERT_TRUE(j) << text;
    fjson_object* pid = nullptr;
    const bool has_pid = fjson_object_object_get_ex(j.get(), "pid", &pid);
    EXPECT_EQ(has_pid, c.pid_type != fjson_type_null) << text;
    if (has_pid) {
      EXPECT_EQ(fjson_object_get_type(pid), c.pid_type) << text;
      EXPECT_EQ(fjson_object_get_int64(pid), std::stoll(c.pid)) << text;
    }
    EXPECT_EQ(Get(j.get(), "procid"), c.procid == nullptr ? "<missing>" : c.procid) << text;
  }
}

TEST(AlertJsonTest, ControlCharactersAreEscapedAndRoundTrip) {
  Alert a = Sample();
  a.message = "line1\nline2\r\t\x01\x1f\x7f \"quoted\" back\\slash /path";
  std::string text = AlertToJson(a);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text.find('\x01'), std::string::npos);
  Json j = Parse(text);
  ASSERT_TRUE(j) << text;
  EXPECT_EQ(Get(j.get(), "message"), a.message);
}

TEST(AlertJsonTest, Utf8PassesThrough) {
  Alert a = Sample();
  a.title =
      "\xe3\x83\xad\xe3\x82\xb0\xe3\x82\xa4\xe3\x83\xb3\xe5\xa4\xb1\xe6\x95\x97";  // ログイン失敗
  a.message = "emoji \xf0\x9f\x94\x91 ok";
  Json j = Parse(AlertToJson(a));
  ASSERT_TRUE(j);
  EXPECT_EQ(Get(j.get(), "title"), a.title);
  EXPECT_EQ(Get(j.get(), "message"), a.message);
}

TEST(AlertJsonTest, InvalidUtf8AndNulBecomeReplacementCharacters) {
  Alert a = Sample();
  static const char kBad[] =
      "a\xff"
      "b\xc0\xaf"
      "c\xed\xa0\x80"
      "d\xf4\x90\x80\x80"
      "e\0f\xe3\x83";
  a.message = std::string(kBad, sizeof(kBad) - 1);
  a.fields = {{"bad\xfekey", "v\x80"}};
  a.host = "\xc3";
  std::string text = AlertToJson(a);
  EXPECT_TRUE(IsValidUtf8(text)) << text;
  Json j = Parse(text);
  ASSERT_TRUE(j) << text;
  const std::string r = "\xef\xbf\xbd";
  // One U+FFFD per maximal invalid subpart: FF | C0 | AF | ED | A0 | 80 | F4 | 90 | 80 | 80 |
  // NUL | E3 83 (truncated sequence).
  EXPECT_EQ(Get(j.get(), "message"),
            "a" + r + "b" + r + r + "c" + r + r + r + "d" + r + r + r + r + "e" + r + "f" + r);
  EXPECT_EQ(Get(j.get(), "host"), r);
  fjson_object* fields = nullptr;
  ASSERT_TRUE(fjson_object_object_get_ex(j.get(), "fields", &fields));
  EXPECT_EQ(Get(fields, ("bad" + r + "key").c_str()), "v" + r);
}

TEST(AlertJsonTest, ArbitraryBytesAlwaysGiveValidUtf8Json) {
  uint32_t x = 7;
  for (int i = 0; i < 500; ++i) {
    Alert a;
    for (int k = 0; k < 64; ++k) {
      x = x * 1664525u + 1013904223u;
      a.message.push_back(static_cast<char>(x >> 24));
    }
    std::string text = AlertToJson(a);
    ASSERT_TRUE(IsValidUtf8(text));
    Json j = Parse(text);
    ASSERT_TRUE(j) << text;
    std::string back = Get(j.get(), "message");
    std::string expect;
    AppendValidUtf8(a.message, &expect);
    EXPECT_EQ(back, expect);
  }
}

TEST(AlertJsonTest, ValidUtf8IsUnchanged) {
  std::string s = "plain \xc2\xa9 \xe2\x82\xac \xf0\x90\x8d\x88 \xf4\x8f\xbf\xbf";
  std::string out;
  AppendValidUtf8(s, &out);
  EXPECT_EQ(out, s);
}

}  // namespace
}  // namespace konseki::outputs

namespace konseki::outputs {
namespace {

TEST(AlertJsonTest, NumbersAndBooleansAreTypedAndThereIsOneHost) {
  Alert a;
  a.host = "web1";
  a.pid = "4242";
  a.fields = {{"port", "22"},
              {"silence_secs", "301.5"},
              {"neg", "-1"},
              {"zeros", "0022"},
              {"big", "12345678901234567890"},
              {"flag", "true"},
              {"no", "false"},
              {"user", "root"},
              {"host", "mail.example"},
              {"exp", "1e3"},
              {"dot", "1."}};
  const std::string json = AlertToJson(a);
  EXPECT_NE(json.find("\"pid\":4242"), std::string::npos) << json;
  EXPECT_NE(json.find("\"port\":22"), std::string::npos) << json;
  EXPECT_NE(json.find("\"silence_secs\":301.5"), std::string::npos) << json;
  EXPECT_NE(json.find("\"neg\":-1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"zeros\":\"0022\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"big\":12345678901234567890"), std::string::npos) << json;
  EXPECT_NE(json.find("\"flag\":true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"no\":false"), std::string::npos) << json;
  EXPECT_NE(json.find("\"user\":\"root\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"exp\":1e3"), std::string::npos) << json;
  EXPECT_NE(json.find("\"dot\":\"1.\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"remote_host\":\"mail.example\""), std::string::npos) << json;
  // One host key in the whole object: the log host.
  EXPECT_EQ(json.find("\"host\""), json.rfind("\"host\"")) << json;
  a.pid = "abc";
  EXPECT_EQ(AlertToJson(a).find("\"pid\""), std::string::npos);
  EXPECT_NE(AlertToJson(a).find("\"procid\":\"abc\""), std::string::npos);
}

}  // namespace
}  // namespace konseki::outputs
