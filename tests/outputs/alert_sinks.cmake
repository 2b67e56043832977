# Tests of konseki_alert_sinks.
konseki_add_test(alert_forwarders_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/alert_forwarders_test.cc
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
