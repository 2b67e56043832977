# scripts/deps.sh against stub apt-get/systemctl (installs nothing).
add_test(NAME scripts_deps_test
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/deps_test.sh ${CMAKE_SOURCE_DIR}/scripts/deps.sh)
# dist/ and debian/ agree on owners and modes of the folders and files.
add_test(NAME scripts_dist_modes_test
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/dist_modes_test.sh ${CMAKE_SOURCE_DIR})
