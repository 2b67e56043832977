# The check-rules / test-rules command-line tools (app/rule_tool.h), apart
# from the server so the rule tests link them without the whole app.
add_library(konseki_rule_tool ${CMAKE_CURRENT_LIST_DIR}/rule_tool.cc
  ${CMAKE_CURRENT_LIST_DIR}/relay_silence.cc)
target_link_libraries(konseki_rule_tool PUBLIC konseki_rules konseki_heartbeat konseki_parse konseki_common)

add_library(konseki_app
  ${CMAKE_CURRENT_LIST_DIR}/alert_fanout.cc
  ${CMAKE_CURRENT_LIST_DIR}/archive_lock.cc
  ${CMAKE_CURRENT_LIST_DIR}/batch_queues.cc
  ${CMAKE_CURRENT_LIST_DIR}/config.cc
  ${CMAKE_CURRENT_LIST_DIR}/fd_budget.cc
  ${CMAKE_CURRENT_LIST_DIR}/file_identity.cc
  ${CMAKE_CURRENT_LIST_DIR}/fleet_correlator.cc
  ${CMAKE_CURRENT_LIST_DIR}/privileges.cc
  ${CMAKE_CURRENT_LIST_DIR}/router.cc
  ${CMAKE_CURRENT_LIST_DIR}/server.cc
  ${CMAKE_CURRENT_LIST_DIR}/systemd_notify.cc
  ${CMAKE_CURRENT_LIST_DIR}/loss_watch.cc
  ${CMAKE_CURRENT_LIST_DIR}/truncation_watch.cc
  ${CMAKE_CURRENT_LIST_DIR}/worker.cc
  # The control socket, its status service and the console commands
  # (konseki status / hosts / alerts / report).
  ${CMAKE_CURRENT_LIST_DIR}/alert_tally.cc
  ${CMAKE_CURRENT_LIST_DIR}/control_socket.cc
  ${CMAKE_CURRENT_LIST_DIR}/json_value.cc
  ${CMAKE_CURRENT_LIST_DIR}/process_metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/status_service.cc
  ${CMAKE_CURRENT_LIST_DIR}/console/alert_log.cc
  ${CMAKE_CURRENT_LIST_DIR}/console/alerts_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/console/console_commands.cc
  ${CMAKE_CURRENT_LIST_DIR}/console/console_env.cc
  ${CMAKE_CURRENT_LIST_DIR}/console/console_format.cc
  ${CMAKE_CURRENT_LIST_DIR}/console/hosts_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/console/report_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/console/status_command.cc
)
target_compile_definitions(konseki_app PRIVATE KONSEKI_VERSION="${PROJECT_VERSION}")
target_link_libraries(konseki_app PRIVATE PkgConfig::FASTJSON ZLIB::ZLIB)
if(SYSTEMD_FOUND)
  target_compile_definitions(konseki_app PRIVATE KONSEKI_HAVE_SYSTEMD=1)
  target_link_libraries(konseki_app PRIVATE PkgConfig::SYSTEMD)
endif()
target_link_libraries(konseki_app PUBLIC
  konseki_common konseki_parse konseki_net konseki_rules konseki_heartbeat konseki_outputs
  konseki_metrics_http konseki_alert_sinks konseki_tls konseki_relp konseki_seal concurrentqueue
  konseki_yaml konseki_rule_tool)

add_executable(konseki ${CMAKE_CURRENT_LIST_DIR}/main.cc)
target_compile_definitions(konseki PRIVATE KONSEKI_VERSION="${PROJECT_VERSION}")
# konseki_seal_cli (seal-setup, verify, search) is defined in seal.cmake.
target_link_libraries(konseki PRIVATE konseki_app konseki_seal_cli)
set_target_properties(konseki PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
