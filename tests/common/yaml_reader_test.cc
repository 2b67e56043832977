#include "common/yaml_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace konseki::yaml {
namespace {

using ::testing::HasSubstr;

class YamlReaderTest : public ::testing::Test {
 protected:
  YAML::Node Load(const std::string& text) { return YAML::Load(text); }
  Reader reader_{"k.yaml"};
};

TEST_F(YamlReaderTest, ErrorsNameSourceLineAndKey) {
  YAML::Node n = Load("a: 1\nb: [x]\n");
  std::string s;
  Status st = reader_.GetString(n["b"], "top.b", &s);
  EXPECT_EQ(st.message(), "k.yaml:2: key 'top.b': expected a string, found a list");
  EXPECT_EQ(reader_.Where(0, ""), "k.yaml");
  EXPECT_EQ(Where("p.yaml", 7, "id"), "p.yaml:7: key 'id'");
}

TEST_F(YamlReaderTest, CheckKeysRejectsUnknownAndRepeatedKeysAndRecordsLines) {
  std::map<std::string, int> lines;
  reader_.set_key_recorder([&](const std::string& k, int line) { lines[k] = line; });
  EXPECT_TRUE(reader_.CheckKeys(Load("dir: a\nsync: b\n"), "archive", {"dir", "sync"}).ok());
  EXPECT_EQ(lines["archive.dir"], 1);
  EXPECT_EQ(lines["archive.sync"], 2);
  Status unknown = reader_.CheckKeys(Load("dir: a\ncolour: b\n"), "", {"dir", "sync"}, "rule");
  EXPECT_EQ(unknown.message(),
            "k.yaml:2: key 'colour': unknown key in rule (allowed here: dir, sync)");
  Status twice = reader_.CheckKeys(Load("dir: a\ndir: b\n"), "archive", {"dir"});
  EXPECT_THAT(twice.message(), HasSubstr("k.yaml:2: key 'archive.dir': given twice"));
  EXPECT_THAT(reader_.CheckKeys(Load("[a]"), "x", {"a"}).message(),
              HasSubstr("expected a mapping"));
}

TEST_F(YamlReaderTest, TypedGettersCheckTypeAndRange) {
  YAML::Node n = Load("n: 2.5\ni: 7\nb: yes\nbad: maybe\nnul: \"a\\0b\"\nnan: .nan\n");
  double d = 0;
  EXPECT_TRUE(reader_.GetNumber(n["n"], "n", 0, 3, &d).ok());
  EXPECT_EQ(d, 2.5);
  EXPECT_THAT(reader_.GetNumber(n["n"], "n", 0, 2, &d).message(), HasSubstr("out of range [0, 2]"));
  EXPECT_THAT(reader_.GetNumber(n["i"], "i", 480, 16777216, &d).message(),
              HasSubstr("value 7 out of range [480, 16777216]"));
  EXPECT_THAT(reader_.GetNumber(n["i"], "i", 0.25, 1.5, &d).message(),
              HasSubstr("out of range [0.25, 1.5]"));
  EXPECT_THAT(reader_.GetNumber(n["nan"], "nan", 0, 2, &d).message(),
              HasSubstr("expected a number"));
  int i = 0;
  EXPECT_TRUE(reader_.GetInt(n["i"], "i", 0, 10, &i).ok());
  EXPECT_EQ(i, 7);
  EXPECT_THAT(reader_.GetInt(n["n"], "n", 0, 10, &i).message(), HasSubstr("whole number"));
  bool b = false;
  EXPECT_TRUE(reader_.GetBool(n["b"], "b", &b).ok());
  EXPECT_TRUE(b);
  EXPECT_THAT(reader_.GetBool(n["bad"], "bad", &b).message(), HasSubstr("expected true or false"));
  std::string s;
  EXPECT_THAT(reader_.GetString(n["nul"], "nul", &s).message(), HasSubstr("NUL"));
}

TEST_F(YamlReaderTest, ListsAndMaps) {
  YAML::Node n = Load("one: a\nmany: [b, c]\nmap: {x: '1', y: '2'}\nnested: [[a]]\n");
  std::vector<std::string> list;
  std::vector<int> lines;
  EXPECT_TRUE(reader_.GetStringOrList(n["one"], "one", &list, &lines).ok());
  EXPECT_TRUE(reader_.GetStringOrList(n["many"], "many", &list, &lines).ok());
  EXPECT_EQ(list, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(lines, (std::vector<int>{1, 2, 2}));
  EXPECT_THAT(reader_.GetStringList(n["one"], "one", &list).message(),
              HasSubstr("expected a list"));
  EXPECT_THAT(reader_.GetStringOrList(n["nested"], "nested", &list, nullptr).message(),
              HasSubstr("list entries must be strings"));
  std::vector<std::pair<std::string, std::string>> map;
  EXPECT_TRUE(reader_.GetStringMap(n["map"], "map", &map).ok());
  ASSERT_EQ(map.size(), 2u);
  EXPECT_EQ(map[1].second, "2");
}

}  // namespace
}  // namespace konseki::yaml
