// Reading the `correlations:` and `sets:` sections of a rule pack.
//
//   correlations:
//     - id: ssh.bruteforce.host        # unique over rules and correlations
//       sign: ssh.bruteforce
//       title: SSH brute force
//       severity: medium
//       description: what it means and what to check next
//       kind: threshold                # threshold | distinct | sequence |
//                                      # unpaired | membership | first_seen |
//                                      # beacon | direction
//       on: [sign:ssh.auth_failure]    # rule ids, correlation ids, sign:<name>
//       after: [accounts.user_added]   # sequence: A; unpaired: the open
//       where: {user: 'root|admin'}    # optional, RE2 full match per field
//       unless: {by: root}             # optional
//       key: [src_ip]                  # fields; host is implied for scope host
//       scope: host                    # host (default) | fleet
//       window_secs: 120               # threshold, distinct, sequence
//       count: 8                       # threshold, distinct, sequence (A hits)
//       quiet_secs: 120                # threshold, distinct: re-arm gap (default window);
//                                      # membership, direction: hold repeated alerts
//       summary_fields: [user]         # threshold: distinct values in the alert
//       weight_field: attempts         # threshold, sequence (A): a hit counts the
//                                      # number in this field (1 without; at most 100)
//       field: user                    # distinct, membership; sequence: A's distinct
//                                      # values, B's among them (or in their /24, /64)
//       values: [daemon, bin]          # membership
//       cidrs: [127.0.0.0/8]           # membership
//       set: system_accounts           # membership: a named set
//       host_addresses: true           # membership: the host's own addresses
//       min_observed_secs: 86400       # unpaired (default correlation.session_min_observed_secs)
//       reset_on_host_gap: true        # unpaired
//       ordered: false                 # unpaired: the key's last field is an increasing counter
//       first_seen: ['src_ip|net']     # first_seen: the tuple
//       learning_secs: 1209600         # first_seen (default correlation.learning_days)
//       max_values_per_key: 64         # first_seen
//       established_count: 5           # first_seen: a key seen this often over
//       established_secs: 43200        #   this span (stamps) is learned at once
//       where_in: {"host,src_ip": no_outbound}  # optional: any field's value in the set
//       unless_in: {dst: beacon_allow}         # optional
//       score: 0.8                     # beacon: alert threshold (0..1)
//       reservoir: 32                  # beacon: gaps and sizes kept per key
//       early_count: 12                # beacon: from this many calls, before count,
//       early_score: 0.95              #   alert at this score (near-perfect)
//       size_field: bytes              # beacon: connection size (optional)
//       burst_secs: 2                  # beacon: shorter gaps are one call
//       src: src_ip                    # direction: address fields
//       dst: dst_ip
//       in: in                         # direction: netfilter IN=/OUT= (optional)
//       out: out
//       set: internal                  # direction: the internal networks
//       severity_by_direction: {outbound: high, internal: medium, inbound: none}
//       metric: konseki_firewall_drops_total  # direction: counter {host, direction}
//       add_fields: {what: network}    # constant fields of every alert
//       carry_fields: [tunnel_ip, user]  # fields of the completing hit, copied
//       max_keys: 100000               # optional per-rule key cap
//       examples:                      # at least one case raising an alert
//         - lines: ["<full syslog line>", ...]
//           sender: 192.0.2.1          # optional
//           sets: {no_outbound: [db1]} # optional: set values as a config gives
//           alerts:                    # exactly these, in order; [] = none
//             - sign: ssh.bruteforce
//               fields: {src_ip: 192.0.2.9, count: "8"}
//
//   sets:
//     - id: system_accounts
//       values: [daemon, bin]
//       learn:                         # optional: values added per host by hits
//         - on: [accounts.user_added]
//           field: user
//           where: {shell: '.*/(nologin|false)'}
#ifndef KONSEKI_MATCHERS_CORRELATION_LOADER_H_
#define KONSEKI_MATCHERS_CORRELATION_LOADER_H_

#include <vector>

#include "common/status.h"
#include "common/yaml_reader.h"
#include "matchers/correlation.h"
#include "matchers/rule_loader.h"

namespace konseki::matchers {

// Parses one file's sections; checks keys, types, kinds, signs, each kind's
// required parameters, RE2 patterns and CIDRs.
Status ReadCorrelations(const yaml::Reader& r, const YAML::Node& node,
                        std::vector<Correlation>* out);
Status ReadSets(const yaml::Reader& r, const YAML::Node& node, std::vector<ValueSet>* out);

// Checks what spans files (see LoadPackDir).
Status CheckCorrelations(const RulePack& pack);

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_CORRELATION_LOADER_H_
