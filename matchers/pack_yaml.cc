#include "matchers/pack_yaml.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

namespace konseki::matchers::pack_yaml {

// yaml-cpp reports 0-based lines; humans and editors count from 1.
int LineOf(const YAML::Node& node) { return node.Mark().line + 1; }

std::string KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "undefined";
  }
}

Status Reporter::Error(int line, std::string_view key, std::string_view what) const {
  std::ostringstream os;
  os << path_ << ":" << line << ": ";
  if (!key.empty()) os << key << ": ";
  os << what;
  return Status::InvalidArgument(os.str());
}

Status ReadString(const Reporter& r, const YAML::Node& node, std::string_view key,
                  std::string* out) {
  if (!node.IsScalar()) {
    return r.Error(LineOf(node), key, "expected a string, found " + KindName(node));
  }
  *out = node.Scalar();
  return Status::Ok();
}

// A string or a list of strings; records each entry's line when asked.
Status ReadStringList(const Reporter& r, const YAML::Node& node, std::string_view key,
                      std::vector<std::string>* out, std::vector<int>* lines) {
  if (node.IsScalar()) {
    out->push_back(node.Scalar());
    if (lines) lines->push_back(LineOf(node));
    return Status::Ok();
  }
  if (!node.IsSequence()) {
    return r.Error(LineOf(node), key,
                   "expected a string or a list of strings, found " + KindName(node));
  }
  for (const YAML::Node& item : node) {
    if (!item.IsScalar()) {
      return r.Error(LineOf(item), key, "list entries must be strings, found " + KindName(item));
    }
    out->push_back(item.Scalar());
    if (lines) lines->push_back(LineOf(item));
  }
  return Status::Ok();
}

// Checks that `node` is a mapping whose keys are all in `allowed` and appear
// once each.
Status CheckKeys(const Reporter& r, const YAML::Node& node, std::string_view what,
                 std::initializer_list<std::string_view> allowed) {
  if (!node.IsMap()) {
    return r.Error(LineOf(node), what, "expected a mapping, found " + KindName(node));
  }
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) return r.Error(LineOf(it->first), what, "keys must be strings");
    const std::string& key = it->first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (std::string_view a : allowed) {
        if (!list.empty()) list += ", ";
        list += a;
      }
      return r.Error(LineOf(it->first), key,
                     "unknown key in " + std::string(what) + " (allowed: " + list + ")");
    }
    if (!seen.insert(key).second) return r.Error(LineOf(it->first), key, "duplicate key");
  }
  return Status::Ok();
}

Status ReadNumber(const Reporter& r, const YAML::Node& node, std::string_view key, double min,
                  double max, double* out) {
  if (!node.IsScalar()) {
    return r.Error(LineOf(node), key, "expected a number, found " + KindName(node));
  }
  const std::string& s = node.Scalar();
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) {
    return r.Error(LineOf(node), key, "expected a number, got \"" + s + "\"");
  }
  if (v < min || v > max) {
    std::ostringstream os;
    os << "value " << s << " out of range [" << min << ", " << max << "]";
    return r.Error(LineOf(node), key, os.str());
  }
  *out = v;
  return Status::Ok();
}

Status ReadBool(const Reporter& r, const YAML::Node& node, std::string_view key, bool* out) {
  if (!node.IsScalar() || (node.Scalar() != "true" && node.Scalar() != "false")) {
    return r.Error(LineOf(node), key, "expected true or false");
  }
  *out = node.Scalar() == "true";
  return Status::Ok();
}

Status ReadStringMap(const Reporter& r, const YAML::Node& node, std::string_view key,
                     std::vector<std::pair<std::string, std::string>>* out) {
  if (!node.IsMap()) {
    return r.Error(LineOf(node), key, "expected a mapping, found " + KindName(node));
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar() || !it->second.IsScalar()) {
      return r.Error(LineOf(it->first), key, "names and values must be strings");
    }
    out->emplace_back(it->first.Scalar(), it->second.Scalar());
  }
  return Status::Ok();
}

}  // namespace konseki::matchers::pack_yaml
