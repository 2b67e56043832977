konseki_add_test(parse_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/parser_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/parser_robustness_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/timestamp_parse_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/timestamp_cache_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/local_zone_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/zone_map_test.cc
  LIBS konseki_parse)

# The parser against rsyslog's own parser test vectors, through
# `test-rules --explain --json` (testdata/rsyslog_parser_vectors.tsv).
konseki_add_test(rsyslog_vectors_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/rsyslog_vectors_test.cc
  LIBS konseki_rules konseki_app)
