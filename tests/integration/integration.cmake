add_library(konseki_test_process STATIC ${CMAKE_CURRENT_LIST_DIR}/konseki_process.cc)
target_compile_definitions(konseki_test_process PRIVATE KONSEKI_BINARY_DIR="${CMAKE_BINARY_DIR}")
# TempDir, WaitFor and the loopback helpers it re-exports (tests/testing/).
target_link_libraries(konseki_test_process PUBLIC konseki_testing)

konseki_add_test(ingest_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/ingest_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(ingest_integration_test konseki)

konseki_add_test(rsyslog_forward_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/rsyslog_forward_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(rsyslog_forward_integration_test konseki)

konseki_add_test(heartbeat_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/heartbeat_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(heartbeat_integration_test konseki)

include(${CMAKE_CURRENT_LIST_DIR}/relp.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/tls.cmake)

konseki_add_test(reload_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/reload_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(reload_integration_test konseki)

konseki_add_test(metrics_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/metrics_test.cc
  LIBS konseki_test_process PkgConfig::HTTPLIB
  LABELS integration)
add_dependencies(metrics_integration_test konseki)

konseki_add_test(alert_delivery_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/alert_delivery_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(alert_delivery_integration_test konseki)

konseki_add_test(tls_binary_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/tls_binary_test.cc
  LIBS konseki_tls konseki_test_process
  LABELS integration)
add_dependencies(tls_binary_integration_test konseki)

# A full tmpfs (private mount namespace) and RLIMIT_FSIZE under the archive,
# with TCP, rsyslogd omrelp and a raw RELP client sending meanwhile.
konseki_add_test(disk_full_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/disk_full_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(disk_full_integration_test konseki)

# Root with `user:` under the systemd unit's capability bounding set (skipped
# when not root).
konseki_add_test(service_setup_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/service_setup_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(service_setup_integration_test konseki)

# RLIMIT_NOFILE sizing and refusal, under prlimit.
konseki_add_test(fd_limit_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fd_limit_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(fd_limit_integration_test konseki)

# Start-up errors with file and line; check-config rejects what start-up would.
konseki_add_test(startup_errors_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/startup_errors_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(startup_errors_integration_test konseki)

konseki_add_test(stop_drain_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/stop_drain_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(stop_drain_integration_test konseki)

konseki_add_test(connection_limits_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/connection_limits_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(connection_limits_integration_test konseki)

konseki_add_test(seal_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/seal_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(seal_integration_test konseki)

konseki_add_test(console_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/console_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(console_integration_test konseki)

konseki_add_test(daemon_signals_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_signals_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(daemon_signals_integration_test konseki)
konseki_add_test(correlation_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/correlation_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(correlation_integration_test konseki)

konseki_add_test(network_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/network_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(network_integration_test konseki)

# rules.local_dir / disable / severity / ignore through the running server,
# with logger senders and a SIGHUP reload.
konseki_add_test(local_rules_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/local_rules_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(local_rules_integration_test konseki)

# A real syslog-ng's suppress() summary counted as the failures it stands
# for (fetches syslog-ng into ~/.cache/konseki first: a few seconds once).
add_test(NAME syslog_ng_suppress_integration_test
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/syslog_ng_suppress_test.sh $<TARGET_FILE:konseki>
    ${CMAKE_SOURCE_DIR})
set_tests_properties(syslog_ng_suppress_integration_test PROPERTIES
  LABELS integration TIMEOUT 300 SKIP_RETURN_CODE 77)

konseki_add_test(damaged_state_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/damaged_state_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(damaged_state_integration_test konseki)
