konseki_add_test(seal_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/archive_index_query_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/archive_index_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/archive_search_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/archive_verify_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/retention_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/seal_key_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/sealer_test.cc
  LIBS konseki_seal konseki_outputs PkgConfig::RE2 PkgConfig::ZSTD)
