#include "app/json_value.h"

#include <gtest/gtest.h>

namespace konseki::app {
namespace {

TEST(JsonValueTest, BuildsNumbersBooleansStringsAndNestedValues) {
  JsonValue o = JsonValue::Object();
  JsonValue list = JsonValue::Array();
  list.Append("a").Append(JsonValue::Object().Set("n", 2));
  o.Set("int", 3).Set("big", int64_t{1} << 40).Set("d", 0.5).Set("yes", true);
  o.Set("s", "x\"y\n").Set("bad", std::string_view("\xff", 1)).Set("list", list);
  EXPECT_EQ(o.Dump(),
            "{\"int\":3,\"big\":1099511627776,\"d\":0.5,\"yes\":true,\"s\":\"x\\\"y\\n\","
            "\"bad\":\"\xEF\xBF\xBD\",\"list\":[\"a\",{\"n\":2}]}");
}

TEST(JsonValueTest, ParsesAndReadsWithFallbacks) {
  auto v = JsonValue::Parse(R"({"n": 12, "s": "7", "b": true, "o": {"k": "v"}, "a": [1, 2]} )");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->Int("n"), 12);
  EXPECT_EQ(v->Num("s"), 7);  // old alert files hold numbers as strings
  EXPECT_TRUE(v->Bool("b"));
  EXPECT_FALSE(v->Bool("n"));
  EXPECT_EQ(v->Get("o").Str("k"), "v");
  EXPECT_EQ(v->Get("a").size(), 2u);
  EXPECT_EQ(v->Get("a").At(1).AsString(), "2");
  EXPECT_EQ(v->Str("missing", "fb"), "fb");
  EXPECT_EQ(v->Keys(), (std::vector<std::string>{"n", "s", "b", "o", "a"}));
  EXPECT_TRUE(v->Get("nope").is_null());
}

TEST(JsonValueTest, MalformedTextIsAnError) {
  EXPECT_FALSE(JsonValue::Parse("{\"a\":").ok());
  EXPECT_FALSE(JsonValue::Parse("{} {}").ok());
  EXPECT_FALSE(JsonValue::Parse("").ok());
}

}  // namespace
}  // namespace konseki::app
