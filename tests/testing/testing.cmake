# konseki_testing: helpers shared by the tests of every folder (temp dirs,
# waiting on a condition, loopback sockets, reading JSON). Every test links
# it (konseki_add_test).
add_library(konseki_testing STATIC
  ${CMAKE_CURRENT_LIST_DIR}/json_fields.cc
  ${CMAKE_CURRENT_LIST_DIR}/loopback.cc
  ${CMAKE_CURRENT_LIST_DIR}/temp_dir.cc
  ${CMAKE_CURRENT_LIST_DIR}/wait_for.cc
)
target_link_libraries(konseki_testing PUBLIC konseki_common PRIVATE PkgConfig::FASTJSON)
