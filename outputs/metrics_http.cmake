# konseki_metrics_http: the Prometheus /metrics endpoint.
add_library(konseki_metrics_http ${CMAKE_CURRENT_LIST_DIR}/metrics_server.cc)
target_link_libraries(konseki_metrics_http
  PUBLIC konseki_common
  PRIVATE PkgConfig::HTTPLIB Threads::Threads)
target_compile_definitions(konseki_metrics_http PRIVATE KONSEKI_VERSION="${PROJECT_VERSION}")
