# RuleSet (Hyperscan) against RE2::Set and a per-rule RE2 loop over the corpus.
konseki_add_bench(rule_set_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/rule_set_bench.cc ${CMAKE_CURRENT_LIST_DIR}/extra_rules.cc
  LIBS konseki_rules konseki_parse konseki_testing PkgConfig::RE2 PkgConfig::HS)
# The correlation engine: cost per hit at 10k hosts and ~1M keys against a
# bare sliding-window map, per-message host watch, memory per key.
konseki_add_bench(correlator_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/correlator_bench.cc
  LIBS konseki_rules)
# Network traces: 1M connection events/minute across 100k pairs: CPU per
# event, scoring pass, memory per pair, beside the rule matcher per message.
konseki_add_bench(network_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/network_bench.cc
  LIBS konseki_rules konseki_parse)
# The Hyperscan scan of the rule set alone (callgrind instruction counts,
# min-of-N timings) on what `rule_set_bench --dump_fixture=DIR` writes.
add_executable(hs_probe ${CMAKE_CURRENT_LIST_DIR}/hs_probe.cc)
target_link_libraries(hs_probe PRIVATE PkgConfig::HS)
target_include_directories(hs_probe PRIVATE ${PROJECT_SOURCE_DIR})
# A literal-atom first stage (FilteredRE2's atoms) against the one database:
# candidates per line, instructions and time (bench/atom_probe.cc).
add_executable(atom_probe ${CMAKE_CURRENT_LIST_DIR}/atom_probe.cc)
target_link_libraries(atom_probe PRIVATE PkgConfig::HS PkgConfig::RE2)
target_include_directories(atom_probe PRIVATE ${PROJECT_SOURCE_DIR})
