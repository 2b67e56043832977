# Heartbeat tracker: per-message cost with many hosts, timer cost, and the
# threshold simulation quoted in docs/heartbeat.md.
konseki_add_bench(heartbeat_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/heartbeat_bench.cc
  LIBS konseki_heartbeat)
add_executable(heartbeat_sim ${CMAKE_CURRENT_LIST_DIR}/heartbeat_sim.cc)
target_link_libraries(heartbeat_sim PRIVATE konseki_heartbeat)
