#include "common/yaml_reader.h"

#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <set>
#include <sstream>

namespace konseki::yaml {

int LineOf(const YAML::Node& node) {
  const int line = node.Mark().line;
  return line >= 0 ? line + 1 : 0;
}

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

std::string Where(std::string_view source, int line, std::string_view key) {
  std::string out(source);
  if (line > 0) out += ":" + std::to_string(line);
  if (!key.empty()) {
    out += ": key '";
    out += key;
    out += "'";
  }
  return out;
}

Status Reader::Error(int line, std::string_view key, std::string_view what) const {
  std::string m = Where(line, key);
  m += ": ";
  m += what;
  return Status::InvalidArgument(std::move(m));
}

Status Reader::CheckKeys(const YAML::Node& map, std::string_view prefix,
                         const std::vector<std::string_view>& allowed, std::string_view in) const {
  if (!map.IsMap()) return Error(map, prefix, "expected a mapping, found " + KindName(map));
  std::set<std::string, std::less<>> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) return Error(it->first, prefix, "keys must be strings");
    const std::string& key = it->first.Scalar();
    const std::string full = prefix.empty() ? key : std::string(prefix) + "." + key;
    // yaml-cpp keeps both entries of a repeated key; which one a lookup
    // sees is an accident, so a repeated key is an error.
    if (!seen.insert(key).second) {
      return Error(it->first, full, "given twice in the same mapping; keep one");
    }
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::vector<std::string_view> sorted = allowed;
      std::sort(sorted.begin(), sorted.end());
      std::string all;
      for (std::string_view a : sorted) {
        if (!all.empty()) all += ", ";
        all += a;
      }
      std::string what = "unknown key";
      if (!in.empty()) what += " in " + std::string(in);
      return Error(it->first, full, what + " (allowed here: " + all + ")");
    }
    if (record_) record_(full, LineOf(it->first));
  }
  return Status::Ok();
}

Status Reader::GetString(const YAML::Node& node, std::string_view key, std::string* out) const {
  if (!node.IsScalar()) return Error(node, key, "expected a string, found " + KindName(node));
  *out = node.Scalar();
  if (out->find('\0') != std::string::npos) return Error(node, key, "contains a NUL byte");
  return Status::Ok();
}

Status Reader::GetBool(const YAML::Node& node, std::string_view key, bool* out) const {
  if (!node.IsScalar()) return Error(node, key, "expected true or false");
  try {
    *out = node.as<bool>();
  } catch (const YAML::Exception&) {
    return Error(node, key, "expected true or false, got '" + node.Scalar() + "'");
  }
  return Status::Ok();
}

Status Reader::GetNumber(const YAML::Node& node, std::string_view key, double min, double max,
                         double* out) const {
  if (!node.IsScalar()) return Error(node, key, "expected a number, found " + KindName(node));
  const std::string& s = node.Scalar();
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) {
    return Error(node, key, "expected a number, got '" + s + "'");
  }
  if (v < min || v > max) {
    // Bounds are printed in full: ostream's default 6 digits made 16777216
    // "1.67772e+07", a bound no admin can copy into the config.
    std::ostringstream os;
    os << std::setprecision(17) << "value " << s << " out of range [" << min << ", " << max << "]";
    return Error(node, key, os.str());
  }
  *out = v;
  return Status::Ok();
}

Status Reader::GetStringList(const YAML::Node& node, std::string_view key,
                             std::vector<std::string>* out) const {
  if (!node.IsSequence()) return Error(node, key, "expected a list, found " + KindName(node));
  out->clear();
  for (const YAML::Node& item : node) {
    std::string s;
    if (Status st = GetString(item, key, &s); !st.ok()) return st;
    out->push_back(std::move(s));
  }
  return Status::Ok();
}

Status Reader::GetStringOrList(const YAML::Node& node, std::string_view key,
                               std::vector<std::string>* out, std::vector<int>* lines) const {
  if (!node.IsScalar() && !node.IsSequence()) {
    return Error(node, key, "expected a string or a list of strings, found " + KindName(node));
  }
  auto add = [&](const YAML::Node& item) -> Status {
    std::string s;
    if (!item.IsScalar()) {
      return Error(item, key, "list entries must be strings, found " + KindName(item));
    }
    RETURN_IF_ERROR(GetString(item, key, &s));
    out->push_back(std::move(s));
    if (lines) lines->push_back(LineOf(item));
    return Status::Ok();
  };
  if (node.IsScalar()) return add(node);
  for (const YAML::Node& item : node) RETURN_IF_ERROR(add(item));
  return Status::Ok();
}

Status Reader::GetStringMap(const YAML::Node& node, std::string_view key,
                            std::vector<std::pair<std::string, std::string>>* out) const {
  if (!node.IsMap()) return Error(node, key, "expected a mapping, found " + KindName(node));
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar() || !it->second.IsScalar()) {
      return Error(it->first, key, "names and values must be strings");
    }
    out->emplace_back(it->first.Scalar(), it->second.Scalar());
  }
  return Status::Ok();
}

}  // namespace konseki::yaml
