konseki_add_test(search_command_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/search_command_test.cc
  LIBS konseki_seal_cli)
