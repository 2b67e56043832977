konseki_add_test(metrics_server_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/metrics_server_test.cc
  LIBS konseki_metrics_http PkgConfig::HTTPLIB PkgConfig::FASTJSON)
