# Prometheus /metrics endpoint and alert delivery (syslog, webhook, exec, throttle).
add_library(konseki_metrics_http
  ${CMAKE_CURRENT_LIST_DIR}/metrics_server.cc
  ${CMAKE_CURRENT_LIST_DIR}/alert_forwarders.cc
  ${CMAKE_CURRENT_LIST_DIR}/syslog_forwarder.cc
  ${CMAKE_CURRENT_LIST_DIR}/webhook_sink.cc
  ${CMAKE_CURRENT_LIST_DIR}/exec_sink.cc
  ${CMAKE_CURRENT_LIST_DIR}/alert_throttle.cc
)
target_link_libraries(konseki_metrics_http
  PUBLIC konseki_common
  PRIVATE PkgConfig::HTTPLIB Threads::Threads)
# AlertToJson (outputs/alert_json.h) lives in konseki_outputs.
if(TARGET konseki_outputs)
  target_link_libraries(konseki_metrics_http PUBLIC konseki_outputs)
endif()
target_compile_definitions(konseki_metrics_http PRIVATE KONSEKI_VERSION="${PROJECT_VERSION}")
