# konseki_alert_sinks: alert delivery to the outside world (syslog, webhook,
# exec) behind a delivery queue, and the filter and throttle wrappers.
add_library(konseki_alert_sinks
  ${CMAKE_CURRENT_LIST_DIR}/alert_delivery_queue.cc
  ${CMAKE_CURRENT_LIST_DIR}/exec_sink.cc
  ${CMAKE_CURRENT_LIST_DIR}/filtered_sink.cc
  ${CMAKE_CURRENT_LIST_DIR}/syslog_forwarder.cc
  ${CMAKE_CURRENT_LIST_DIR}/throttled_sink.cc
  ${CMAKE_CURRENT_LIST_DIR}/webhook_sink.cc
)
# AlertToJson (outputs/alert_json.h) lives in konseki_outputs.
target_link_libraries(konseki_alert_sinks
  PUBLIC konseki_common konseki_outputs
  PRIVATE PkgConfig::HTTPLIB Threads::Threads)
target_compile_definitions(konseki_alert_sinks PRIVATE KONSEKI_VERSION="${PROJECT_VERSION}")
