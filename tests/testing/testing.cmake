# konseki_testing: helpers shared by the tests of every folder (temp dirs,
# waiting on a condition, loopback sockets, reading JSON, stopping child
# processes, a recording alert sink, colliding host names). Every test links
# it (konseki_add_test).
add_library(konseki_testing STATIC
  ${CMAKE_CURRENT_LIST_DIR}/corpus_lines.cc
  ${CMAKE_CURRENT_LIST_DIR}/host_key_collisions.cc
  ${CMAKE_CURRENT_LIST_DIR}/json_fields.cc
  ${CMAKE_CURRENT_LIST_DIR}/loopback.cc
  ${CMAKE_CURRENT_LIST_DIR}/stop_child.cc
  ${CMAKE_CURRENT_LIST_DIR}/temp_dir.cc
  ${CMAKE_CURRENT_LIST_DIR}/wait_for.cc
)
target_link_libraries(konseki_testing PUBLIC konseki_common PRIVATE PkgConfig::FASTJSON)

# The worker path assembled as the server does (Router → BatchQueues →
# Worker with archive, bundled packs, correlations, heartbeat), for the
# allocation test of tests/app and bench/worker_bench.
add_library(konseki_worker_path STATIC ${CMAKE_CURRENT_LIST_DIR}/worker_path.cc)
target_link_libraries(konseki_worker_path PUBLIC konseki_app konseki_testing)

# Replaces the global operator new of the binary that links it, to count
# allocations (tests/testing/alloc_counter.h). An OBJECT library, so the
# replacement is linked whether or not the binary names AllocationCount().
add_library(konseki_alloc_counter OBJECT ${CMAKE_CURRENT_LIST_DIR}/alloc_counter.cc)
target_link_libraries(konseki_alloc_counter PUBLIC konseki_common)
