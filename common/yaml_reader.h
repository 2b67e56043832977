// The one YAML reader of the tree: key checking and typed getters over
// yaml-cpp nodes, used by the config (app/config.cc) and the rule and
// correlation pack loaders (matchers/). Every error reads
//   "<source>:<line>: key '<key>': <what>"
// so a startup error names the file, the line and the key (house style 10).
//
// Not thread-safe; a Reader is used by one loader at a time. It keeps no
// reference to the nodes it reads.
#ifndef KONSEKI_COMMON_YAML_READER_H_
#define KONSEKI_COMMON_YAML_READER_H_

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace konseki::yaml {

// 1-based line of a node (yaml-cpp counts from 0), or 0 when unknown.
int LineOf(const YAML::Node& node);
// "null", "a scalar", "a list", "a mapping".
std::string KindName(const YAML::Node& node);

// "<source>:<line>: key '<key>'" (without the line when it is 0, without the
// key when it is empty): for errors found after the YAML is read (duplicate
// ids across files, unknown references), in the same shape as Reader's.
std::string Where(std::string_view source, int line, std::string_view key);

class Reader {
 public:
  // source names the file in errors ("rules/ssh.yaml", "konseki.yaml").
  explicit Reader(std::string source) : source_(std::move(source)) {}

  // Called by CheckKeys with the dotted key and its line for every key it
  // accepts (the config keeps them to name lines in later errors).
  void set_key_recorder(std::function<void(const std::string& key, int line)> f) {
    record_ = std::move(f);
  }
  const std::string& source() const { return source_; }

  // "<source>:<line>: key '<key>'" (without the line when it is 0, without
  // the key when it is empty).
  std::string Where(int line, std::string_view key) const {
    return yaml::Where(source_, line, key);
  }
  std::string Where(const YAML::Node& node, std::string_view key) const {
    return Where(LineOf(node), key);
  }
  Status Error(int line, std::string_view key, std::string_view what) const;
  Status Error(const YAML::Node& node, std::string_view key, std::string_view what) const {
    return Error(LineOf(node), key, what);
  }

  // `map` is a mapping whose keys are all in `allowed` and given once each.
  // prefix is the dotted path of the mapping ("alerts.throttle"; "" at the
  // top or in a pack), `in` what the mapping is ("rule"; may be empty).
  Status CheckKeys(const YAML::Node& map, std::string_view prefix,
                   const std::vector<std::string_view>& allowed, std::string_view in = "") const;

  // A scalar without NUL bytes (a path with a NUL is cut short by every
  // system call).
  Status GetString(const YAML::Node& node, std::string_view key, std::string* out) const;
  // true or false (yaml-cpp's spellings: also yes/no, on/off).
  Status GetBool(const YAML::Node& node, std::string_view key, bool* out) const;
  // A finite number within [min, max].
  Status GetNumber(const YAML::Node& node, std::string_view key, double min, double max,
                   double* out) const;
  // A whole number within [min, max].
  template <typename Int>
  Status GetInt(const YAML::Node& node, std::string_view key, double min, double max,
                Int* out) const {
    double v = 0;
    if (Status s = GetNumber(node, key, min, max, &v); !s.ok()) return s;
    if (v != std::floor(v)) return Error(node, key, "expected a whole number");
    *out = static_cast<Int>(v);
    return Status::Ok();
  }
  // A list of strings (replaces *out).
  Status GetStringList(const YAML::Node& node, std::string_view key,
                       std::vector<std::string>* out) const;
  // A string or a list of strings, appended to *out; records each entry's
  // line in *lines when it is not null.
  Status GetStringOrList(const YAML::Node& node, std::string_view key,
                         std::vector<std::string>* out, std::vector<int>* lines) const;
  // A mapping of string to string, in file order, appended to *out.
  Status GetStringMap(const YAML::Node& node, std::string_view key,
                      std::vector<std::pair<std::string, std::string>>* out) const;

 private:
  std::string source_;
  std::function<void(const std::string&, int)> record_;
};

}  // namespace konseki::yaml

#endif  // KONSEKI_COMMON_YAML_READER_H_
