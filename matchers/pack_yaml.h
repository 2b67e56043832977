// Small yaml-cpp readers shared by the rule and correlation loaders: every
// error names "<file>:<line>: <key>: <what>". Internal to konseki_rules.
#ifndef KONSEKI_MATCHERS_PACK_YAML_H_
#define KONSEKI_MATCHERS_PACK_YAML_H_

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace konseki::matchers::pack_yaml {

// yaml-cpp reports 0-based lines; humans and editors count from 1.
int LineOf(const YAML::Node& node);
// "null", "a scalar", "a list", "a mapping".
std::string KindName(const YAML::Node& node);

// Builds errors of the form "<file>:<line>: <key>: <what>". Keeps a reference
// to path: it must outlive the Reporter.
class Reporter {
 public:
  explicit Reporter(const std::string& path) : path_(path) {}
  Status Error(int line, std::string_view key, std::string_view what) const;
  const std::string& path() const { return path_; }

 private:
  const std::string& path_;
};

Status ReadString(const Reporter& r, const YAML::Node& node, std::string_view key,
                  std::string* out);
// A string or a list of strings; records each entry's line when asked.
Status ReadStringList(const Reporter& r, const YAML::Node& node, std::string_view key,
                      std::vector<std::string>* out, std::vector<int>* lines);
// A number within [min, max].
Status ReadNumber(const Reporter& r, const YAML::Node& node, std::string_view key, double min,
                  double max, double* out);
// true or false.
Status ReadBool(const Reporter& r, const YAML::Node& node, std::string_view key, bool* out);
// A mapping of string to string, in file order.
Status ReadStringMap(const Reporter& r, const YAML::Node& node, std::string_view key,
                     std::vector<std::pair<std::string, std::string>>* out);
// Checks that `node` is a mapping whose keys are all in `allowed` and appear
// once each.
Status CheckKeys(const Reporter& r, const YAML::Node& node, std::string_view what,
                 std::initializer_list<std::string_view> allowed);

}  // namespace konseki::matchers::pack_yaml

#endif  // KONSEKI_MATCHERS_PACK_YAML_H_
