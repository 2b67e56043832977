konseki_add_bench(archive_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/archive_bench.cc
  LIBS konseki_outputs)

konseki_add_bench(seal_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/seal_bench.cc
  LIBS konseki_seal konseki_outputs)
