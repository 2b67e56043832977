konseki_add_test(outputs_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/alert_json_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/alert_writer_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/archive_file_cache_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/archive_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/archive_spool_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/host_path_test.cc
  LIBS konseki_outputs PkgConfig::FASTJSON)
