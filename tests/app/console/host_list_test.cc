#include <gtest/gtest.h>

#include <string>

#include "app/console/console_env.h"
#include "app/status_service.h"

namespace konseki::app::console {
namespace {

matchers::HostRow Row(std::string name) {
  matchers::HostRow r;
  r.name = std::move(name);
  r.sender = "192.0.2.1";
  r.senders = {"192.0.2.1", "2001:db8::1"};
  r.first_seen_ns = 1764900000123456000;
  r.last_seen_ns = 1764986400500000000;
  r.cadence_secs = 61.25;
  r.threshold_secs = 300;
  r.seen = true;
  r.messages_today = 42;
  return r;
}

// The daemon's answer, written as text: any host name a sender chose is
// valid JSON that reads back, and the numbers read back exactly.
TEST(HostListTest, TheDaemonsTextReadsBackHostByHost) {
  const int64_t now = 1764986401000000000;
  std::string text = "{\"time\":1764986401,\"hosts\":[";
  AppendHostJson(Row("web\"1\\ ]},[{"), now, &text);
  text += ",";
  AppendHostJson(Row(std::string("bad\x01\xff", 5)), now, &text);
  text += "]}";
  auto list = HostList::FromText(text);
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list->time(), 1764986401);
  ASSERT_EQ(list->size(), 2u);
  JsonValue a = list->Host(0);
  EXPECT_EQ(a.Str("name"), "web\"1\\ ]},[{");
  EXPECT_EQ(a.Str("state"), "ok");
  EXPECT_EQ(a.Num("first_seen"), 1764900000.123456);
  EXPECT_EQ(a.Num("last_seen"), 1764986400.5);
  EXPECT_EQ(a.Num("cadence_secs"), 61.25);
  EXPECT_EQ(a.Int("messages_today"), 42);
  EXPECT_FALSE(a.Bool("expected", true));
  ASSERT_EQ(a.Get("senders").size(), 2u);
  EXPECT_EQ(a.Get("senders").At(1).AsString(), "2001:db8::1");
  EXPECT_EQ(list->Host(1).Str("name"), std::string("bad\x01\xef\xbf\xbd"));

  auto empty = HostList::FromText(" { \"time\" : 5 , \"hosts\" : [ ] } ");
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_EQ(empty->size(), 0u);
  EXPECT_EQ(empty->time(), 5);
}

TEST(HostListTest, AnErrorAnswerOrOtherTextIsAnError) {
  auto error = HostList::FromText("{\"error\":\"unknown request 'hosts'\"}");
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().message(), "konseki: unknown request 'hosts'");
  for (const char* bad : {"", "[]", "{\"time\":1}", "{\"time\":1,\"hosts\":[{\"name\":\"a\"}",
                          "{\"time\":1,\"hosts\":[{\"name\":\"a}]}", "{\"hosts\":[1 2]}"}) {
    auto r = HostList::FromText(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

}  // namespace
}  // namespace konseki::app::console
