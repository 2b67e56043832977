# konseki_rules: rule packs (YAML) -> one Hyperscan database + RE2 extraction,
# and the correlation engine over rule hits (the check-rules / test-rules
# tools that drive them are app/rule_tool).
add_library(konseki_rules
  ${CMAKE_CURRENT_LIST_DIR}/alert_hold.cc
  ${CMAKE_CURRENT_LIST_DIR}/alert_pending.cc
  ${CMAKE_CURRENT_LIST_DIR}/alert_ignore.cc
  ${CMAKE_CURRENT_LIST_DIR}/audit_hex.cc
  ${CMAKE_CURRENT_LIST_DIR}/field_carry.cc
  ${CMAKE_CURRENT_LIST_DIR}/rule_packs.cc
  ${CMAKE_CURRENT_LIST_DIR}/rule_loader.cc
  ${CMAKE_CURRENT_LIST_DIR}/lazy_re2.cc
  ${CMAKE_CURRENT_LIST_DIR}/rule_set.cc
  ${CMAKE_CURRENT_LIST_DIR}/simple_regex.cc
  ${CMAKE_CURRENT_LIST_DIR}/hs_compile.cc
  ${CMAKE_CURRENT_LIST_DIR}/beacon_score.cc
  ${CMAKE_CURRENT_LIST_DIR}/correlation_loader.cc
  ${CMAKE_CURRENT_LIST_DIR}/correlation_keys.cc
  ${CMAKE_CURRENT_LIST_DIR}/correlator.cc
  ${CMAKE_CURRENT_LIST_DIR}/correlator_kinds.cc
  ${CMAKE_CURRENT_LIST_DIR}/correlator_net.cc
  ${CMAKE_CURRENT_LIST_DIR}/correlator_state.cc
  ${CMAKE_CURRENT_LIST_DIR}/offline_analyzer.cc
  ${CMAKE_CURRENT_LIST_DIR}/geoip_country.cc
  ${CMAKE_CURRENT_LIST_DIR}/public_suffix_list.cc
  ${CMAKE_CURRENT_LIST_DIR}/work_hours.cc
)
target_link_libraries(konseki_rules
  PUBLIC konseki_common konseki_parse konseki_net
  PRIVATE PkgConfig::HS PkgConfig::RE2 PkgConfig::PSL PkgConfig::GEOIP konseki_yaml konseki_heartbeat)
# DefaultRulesDir() falls back to the source tree's packs (dev and test runs).
target_compile_definitions(konseki_rules PRIVATE
  KONSEKI_PATTERNS_SOURCE_DIR="${CMAKE_SOURCE_DIR}/patterns")
