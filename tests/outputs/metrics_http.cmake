konseki_add_test(metrics_server_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/metrics_server_test.cc
  LIBS konseki_metrics_http PkgConfig::HTTPLIB)
konseki_add_test(alert_forwarders_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/alert_forwarders_test.cc
  LIBS konseki_metrics_http PkgConfig::FASTJSON)
