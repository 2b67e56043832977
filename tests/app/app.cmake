konseki_add_test(app_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/config_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/router_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/privileges_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/file_identity_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/fd_budget_test.cc
  LIBS konseki_app)
konseki_add_test(worker_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/worker_test.cc
  LIBS konseki_app)
