# Tests of konseki_alert_sinks.
konseki_add_test(alert_delivery_queue_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/alert_delivery_queue_test.cc
  LIBS konseki_alert_sinks)
konseki_add_test(filtered_sink_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/filtered_sink_test.cc
  LIBS konseki_alert_sinks)
konseki_add_test(syslog_forwarder_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/syslog_forwarder_test.cc
  LIBS konseki_alert_sinks PkgConfig::FASTJSON)
konseki_add_test(webhook_sink_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/webhook_sink_test.cc
  LIBS konseki_alert_sinks PkgConfig::HTTPLIB PkgConfig::FASTJSON)
konseki_add_test(exec_sink_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/exec_sink_test.cc
  LIBS konseki_alert_sinks PkgConfig::FASTJSON)
konseki_add_test(throttled_sink_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/throttled_sink_test.cc
  LIBS konseki_alert_sinks)
