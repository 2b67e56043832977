konseki_add_bench(framer_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/framer_bench.cc
  LIBS konseki_net konseki_relp)
