# The control socket, its status service and the console commands
# (konseki status / hosts / alerts / report): part of konseki_app.
target_sources(konseki_app PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/../alert_tally.cc
  ${CMAKE_CURRENT_LIST_DIR}/../control_socket.cc
  ${CMAKE_CURRENT_LIST_DIR}/../json_value.cc
  ${CMAKE_CURRENT_LIST_DIR}/../process_metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/../status_service.cc
  ${CMAKE_CURRENT_LIST_DIR}/alert_log.cc
  ${CMAKE_CURRENT_LIST_DIR}/alerts_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/console_commands.cc
  ${CMAKE_CURRENT_LIST_DIR}/console_env.cc
  ${CMAKE_CURRENT_LIST_DIR}/console_format.cc
  ${CMAKE_CURRENT_LIST_DIR}/hosts_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/report_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/status_command.cc)
target_link_libraries(konseki_app PRIVATE PkgConfig::FASTJSON)
