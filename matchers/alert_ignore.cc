#include "matchers/alert_ignore.h"

#include <algorithm>

namespace konseki::matchers {

StatusOr<AlertIgnore> AlertIgnore::Create(const std::vector<std::string>& sources,
                                          const std::vector<std::string>& users) {
  AlertIgnore a;
  if (!sources.empty()) {
    auto list = receiver::SenderAllowlist::Parse(sources);
    if (!list.ok()) {
      // The allowlist names entries "allow[i]"; here they are sources[i].
      std::string msg = list.status().message();
      if (msg.rfind("allow[", 0) == 0) msg = "sources" + msg.substr(5);
      return Status::InvalidArgument(msg);
    }
    a.sources_ = std::move(list).value();
    a.has_sources_ = true;
  }
  for (size_t i = 0; i < users.size(); ++i) {
    const std::string& u = users[i];
    if (u.empty() || u.find_first_of(" \t\r\n") != std::string::npos) {
      return Status::InvalidArgument("user #" + std::to_string(i + 1) + " \"" + u +
                                     "\": expected an account name (no spaces)");
    }
    a.users_.push_back(u);
  }
  std::sort(a.users_.begin(), a.users_.end());
  return a;
}

bool AlertIgnore::Ignores(const std::vector<std::pair<std::string, std::string>>& fields) const {
  if (empty()) return false;
  for (const auto& [name, value] : fields) {
    if (has_sources_ && name == "src_ip") {
      // "::ffff:10.0.0.1" and "10.0.0.1" are one host (SenderAddress maps
      // both); a value that is no address (a host name) is not ignored.
      std::optional<receiver::SenderAddress> addr = receiver::SenderAddress::Parse(value);
      if (addr && sources_.Allows(*addr)) return true;
    } else if (name == "user" && std::binary_search(users_.begin(), users_.end(), value)) {
      return true;
    }
  }
  return false;
}

}  // namespace konseki::matchers
