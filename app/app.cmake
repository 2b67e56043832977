add_library(konseki_app
  ${CMAKE_CURRENT_LIST_DIR}/alert_fanout.cc
  ${CMAKE_CURRENT_LIST_DIR}/batch_queues.cc
  ${CMAKE_CURRENT_LIST_DIR}/config.cc
  ${CMAKE_CURRENT_LIST_DIR}/fd_budget.cc
  ${CMAKE_CURRENT_LIST_DIR}/file_identity.cc
  ${CMAKE_CURRENT_LIST_DIR}/fleet_correlator.cc
  ${CMAKE_CURRENT_LIST_DIR}/privileges.cc
  ${CMAKE_CURRENT_LIST_DIR}/router.cc
  ${CMAKE_CURRENT_LIST_DIR}/server.cc
  ${CMAKE_CURRENT_LIST_DIR}/worker.cc
)
target_compile_definitions(konseki_app PRIVATE KONSEKI_VERSION="${PROJECT_VERSION}")
include(${CMAKE_CURRENT_LIST_DIR}/console/console.cmake)
target_sources(konseki_app PRIVATE ${CMAKE_CURRENT_LIST_DIR}/systemd_notify.cc)
if(SYSTEMD_FOUND)
  target_compile_definitions(konseki_app PRIVATE KONSEKI_HAVE_SYSTEMD=1)
  target_link_libraries(konseki_app PRIVATE PkgConfig::SYSTEMD)
endif()
target_link_libraries(konseki_app PUBLIC
  konseki_common konseki_parse konseki_net konseki_rules konseki_heartbeat konseki_outputs
  konseki_metrics_http konseki_tls konseki_relp concurrentqueue yaml-cpp)

add_executable(konseki ${CMAKE_CURRENT_LIST_DIR}/main.cc)
target_compile_definitions(konseki PRIVATE KONSEKI_VERSION="${PROJECT_VERSION}")
target_link_libraries(konseki PRIVATE konseki_app)
set_target_properties(konseki PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
