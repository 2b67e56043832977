// rules.ignore: hits whose extracted source address or user is on the site's
// ignore list raise no alert (they are still counted), like fail2ban's
// `ignoreip` and Wazuh's local rules with level 0.
//
//   auto ignore = AlertIgnore::Create({"10.0.5.0/24"}, {"nagios"});
//   auto set = RuleSet::Compile(std::move(rules), *ignore);
//   ... set->Match(...) marks RuleHit::ignored ...
//
// What is compared: the hit's `src_ip` field (the remote address the packs
// extract: sshd's "from A", postfix's "[A]", ...) against the CIDRs, and its
// `user` field (the account acting or logging in) against the user names,
// exactly (Unix names are case-sensitive). A hit without those fields is
// never ignored: the list cannot silence what it cannot see.
#ifndef KONSEKI_MATCHERS_ALERT_IGNORE_H_
#define KONSEKI_MATCHERS_ALERT_IGNORE_H_

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "receiver/sender_allowlist.h"

namespace konseki::matchers {

// Immutable after Create; const methods are thread-safe. Copyable. A
// default-constructed AlertIgnore ignores nothing.
class AlertIgnore {
 public:
  AlertIgnore() = default;

  // `sources`: "A.B.C.D[/N]" or "IPV6[/N]" (receiver::SenderAllowlist
  // syntax); `users`: account names, non-empty. Errors name the bad entry.
  static StatusOr<AlertIgnore> Create(const std::vector<std::string>& sources,
                                      const std::vector<std::string>& users);

  bool empty() const { return !has_sources_ && users_.empty(); }
  // True when `fields` (a RuleHit's) carries an ignored src_ip or user.
  bool Ignores(const std::vector<std::pair<std::string, std::string>>& fields) const;

 private:
  bool has_sources_ = false;
  receiver::SenderAllowlist sources_;
  std::vector<std::string> users_;  // sorted
};

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_ALERT_IGNORE_H_
