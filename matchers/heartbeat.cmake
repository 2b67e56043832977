# Per-host heartbeat detector: konseki_heartbeat.
add_library(konseki_heartbeat
  ${CMAKE_CURRENT_LIST_DIR}/cadence_estimator.cc
  ${CMAKE_CURRENT_LIST_DIR}/clock_jump.cc
  ${CMAKE_CURRENT_LIST_DIR}/deadline_queue.cc
  ${CMAKE_CURRENT_LIST_DIR}/heartbeat_index.cc
  ${CMAKE_CURRENT_LIST_DIR}/heartbeat_state.cc
  ${CMAKE_CURRENT_LIST_DIR}/heartbeat_tracker.cc
  ${CMAKE_CURRENT_LIST_DIR}/sequence_watch.cc
)
target_link_libraries(konseki_heartbeat PUBLIC konseki_common)
