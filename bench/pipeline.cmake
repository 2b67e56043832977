# The listener -> worker hand-off: Router + BatchQueues against a
# mutex/condition_variable/deque<std::string> queue, with heap allocations
# per message (issue 7).
konseki_add_bench(queue_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/queue_bench.cc
  LIBS konseki_app)
