konseki_add_test(heartbeat_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/cadence_estimator_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/clock_jump_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/deadline_queue_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/heartbeat_index_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/heartbeat_state_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/heartbeat_tracker_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/heartbeat_alloc_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/sequence_watch_test.cc
  LIBS konseki_heartbeat)
