konseki_add_test(parse_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/parser_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/parser_robustness_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/timestamp_parse_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/local_zone_test.cc
  LIBS konseki_parse)
