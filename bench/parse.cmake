konseki_add_bench(parser_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/parser_bench.cc
  LIBS konseki_parse)
