konseki_add_test(app_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/alert_fanout_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/archive_lock_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/config_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/router_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/batch_queues_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/privileges_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/file_identity_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/fd_budget_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/rule_tool_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/loss_watch_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/truncation_watch_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/relay_silence_test.cc
  LIBS konseki_app)
konseki_add_test(worker_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/worker_test.cc
  LIBS konseki_app)

konseki_add_test(console_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/alert_tally_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/control_socket_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/json_value_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/status_service_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/console/alert_log_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/console/alerts_command_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/console/console_format_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/console/host_list_test.cc
  LIBS konseki_app ZLIB::ZLIB)
# No allocation per message on the worker path (issue 17): counted by a
# replaced operator new, so the test binary has its own.
konseki_add_test(worker_alloc_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/worker_alloc_test.cc
  LIBS konseki_worker_path konseki_alloc_counter)
# The server compiles its rules in a child (issue 17): hs_compile_multi is
# interposed by the test binary, which records who called it.
konseki_add_test(server_compile_child_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/server_compile_child_test.cc
  LIBS konseki_app PkgConfig::HS)
