# Tests of konseki_rules: loader, matcher, tools, the shipped packs and the corpus.
konseki_add_test(rules_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/rule_loader_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/rule_set_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/audit_hex_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/rule_set_reference_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/simple_regex_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/rule_corpus_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/rule_sign_eval_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/rule_packs_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/alert_ignore_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/alert_hold_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/field_carry_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/alert_pending_test.cc
  LIBS konseki_rules konseki_rule_tool konseki_parse konseki_common)
konseki_add_test(correlator_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/correlator_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/correlator_share_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/correlation_loader_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/correlator_net_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/public_suffix_list_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/geoip_country_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/correlator_time_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/work_hours_test.cc
  LIBS konseki_rules konseki_rule_tool konseki_parse konseki_common)
konseki_add_test(beacon_score_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/beacon_score_test.cc
  LIBS konseki_rules)
# Hyperscan's compiler in this process and in a child (the server's way).
konseki_add_test(hs_compile_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/hs_compile_test.cc
  LIBS konseki_rules PkgConfig::HS)
# RuleSet::Match allocates nothing once warm (its own binary: it counts every
# operator new of the process).
konseki_add_test(rule_set_alloc_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/rule_set_alloc_test.cc
  LIBS konseki_rules konseki_alloc_counter)
# Correlator::Process allocates nothing for hits that add no state.
konseki_add_test(correlator_alloc_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/correlator_alloc_test.cc
  LIBS konseki_rules konseki_alloc_counter)
