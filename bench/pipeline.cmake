# The listener -> worker hand-off: Router + BatchQueues against a
# mutex/condition_variable/deque<std::string> queue, with heap allocations
# per message (issue 7).
konseki_add_bench(queue_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/queue_bench.cc
  LIBS konseki_app konseki_alloc_counter)
# The worker path per message (issue 17): Router → Worker with archive,
# bundled packs, correlations and heartbeat; allocations per message.
konseki_add_bench(worker_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/worker_bench.cc
  LIBS konseki_worker_path konseki_alloc_counter)
