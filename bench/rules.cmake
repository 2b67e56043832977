# RuleSet (Hyperscan) against RE2::Set and a per-rule RE2 loop over the corpus.
konseki_add_bench(rule_set_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/rule_set_bench.cc
  LIBS konseki_rules konseki_parse PkgConfig::RE2)
