konseki_add_test(common_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/clock_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/clock_step_watch_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/host_key_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/json_string_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/log_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/make_dirs_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/metrics_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/packed_message_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/status_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/usable_cpus_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/utf8_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/yaml_reader_test.cc
  LIBS konseki_common konseki_yaml konseki_testing)
